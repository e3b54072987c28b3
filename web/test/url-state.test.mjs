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

test('the revision a link shows the data as of round-trips, and only a revision number is read', () => {
  const state = { date: '2018-02-15', lat: 32.617, lon: 36.1, zoom: 9, layers: new Set(['zones.control']), events: 30, asOf: 0 };
  assert.match(formatFragment(state), /&as_of=0$/);
  assert.deepEqual(parseFragment(formatFragment(state)), state);
  assert.doesNotMatch(formatFragment({ ...state, asOf: null }), /as_of/, 'the latest data: no as_of');
  assert.equal(parseFragment('#as_of=12').asOf, 12);
  for (const bad of ['-1', '2.5', 'latest', '', '2018-03-01T00:00:00Z']) {
    assert.equal(parseFragment(`#as_of=${encodeURIComponent(bad)}`).asOf, undefined, `as_of=${bad} is dropped`);
  }
});
