// The URL fragment that makes a link reproduce a view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFragment, parseFragment } from '../public/js/url-state.js';

test('a fragment round-trips', () => {
  const state = { date: '2018-02-15', lat: 32.617, lon: 36.1, zoom: 9, layers: new Set(['zones.control', 'locations', 'ref.syria']), events: 30 };
  const back = parseFragment(formatFragment(state));
  assert.deepEqual(back, state);
});

test('malformed parts are dropped, the rest kept', () => {
  const s = parseFragment('#date=2018-02-30&lat=95&lon=36&zoom=abc&layers=zones.control&events=7');
  assert.equal(s.date, undefined);
  assert.equal(s.lat, undefined, 'latitude out of range drops the centre');
  assert.equal(s.lon, undefined);
  assert.equal(s.zoom, undefined);
  assert.equal(s.events, undefined, 'only the offered event windows');
  assert.deepEqual(s.layers, new Set(['zones.control']));
});

test('an empty layers list means no layers, a missing one means the defaults', () => {
  assert.deepEqual(parseFragment('#layers=').layers, new Set());
  assert.equal(parseFragment('#date=2018-02-15').layers, undefined);
  assert.deepEqual(parseFragment(''), {});
});

test('coordinates are rounded to what the zoom level shows', () => {
  const f = formatFragment({ date: '2018-02-15', lat: 32.6171234, lon: 36.1004567, zoom: 6, layers: new Set(), events: 0 });
  assert.match(f, /lat=32\.617&lon=36\.100&zoom=6/);
});
