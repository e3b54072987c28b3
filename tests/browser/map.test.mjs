// The map page in a real browser (Debian's Chromium, driven by playwright-core), against the real
// zonetrack binary. tests/browser/run builds and starts two servers: one on the embedded data set
// (ZONETRACK_URL), one on the small synthetic folder tests/fixtures/elsewhere
// (ZONETRACK_ELSEWHERE_URL), whose layers are named unlike the default set's.
//
// What the page draws and answers is checked against the server's own API for the same date, so
// the test follows the data rather than copies of it; the few facts named here (Daraa, the
// south-west de-escalation zone ending in July 2018) are what the issue asks to check.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
// playwright-core is a dev dependency of web/ (pinned by web/package-lock.json).
const { chromium } = createRequire(join(root, 'web', 'package.json'))('playwright-core');

const BASE = (process.env.ZONETRACK_URL ?? '').replace(/\/$/, '');
const ELSEWHERE = (process.env.ZONETRACK_ELSEWHERE_URL ?? '').replace(/\/$/, '');
// The zones-100k set (the which-zone benchmark's 100,000 polygons as a data folder), served by a
// release build: the map draws it from vector tiles.
const BIG = (process.env.ZONETRACK_BIG_URL ?? '').replace(/\/$/, '');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.SCREENSHOT_DIR ?? join(root, 'target', 'screenshots');
const FIRST_RENDER_BUDGET_MS = 1000;
const TILE_HOST = 'tile.openstreetmap.org';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

// The example: Daraa city, in the south-west, before and after the summer 2018 offensive.
const DARAA = { lon: 36.1, lat: 32.617 };
const BEFORE = '2018-02-15';
const AFTER = '2018-08-15';
// A box around the south-west (Daraa, Quneitra, the Golan front).
const SOUTH_WEST = [35.6, 32.3, 36.8, 33.5];

let browser;

before(async () => {
  assert.ok(BASE, 'set ZONETRACK_URL to the server under test (tests/browser/run does)');
  mkdirSync(SHOTS, { recursive: true });
  // launch() gives the browser a fresh temporary --user-data-dir; each context below starts with
  // an empty cache, so every page load is a first visit.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
});

/** GETs JSON from the server under test (the expectation side of every comparison). */
async function api(path, base = BASE) {
  const resp = await fetch(`${base}${path}`, { headers: { Accept: 'application/json' } });
  assert.equal(resp.status, 200, `GET ${path}: ${resp.status} ${await resp.clone().text()}`);
  return resp.json();
}

/** Keys of the zones valid on `date` (inside `bbox` when given), from OGC API items. */
async function zoneKeys(date, bbox, base = BASE) {
  const q = new URLSearchParams({ datetime: date, limit: '1000' });
  if (bbox) q.set('bbox', bbox.join(','));
  const fc = await api(`/collections/zones/items?${q}`, base);
  assert.equal(fc.numberReturned, fc.numberMatched, 'one page holds every zone');
  return { count: fc.numberMatched, keys: new Set(fc.features.map((f) => f.properties.key)) };
}

/**
 * A new page in a fresh context. Records console errors, page errors, every request that
 * leaves the server under test and every answer with a 4xx/5xx status; `clean()` asserts there
 * were none (the tile host is allowed only where a test turns the online layer on). `base` is
 * the server whose map is opened.
 */
async function openPage(hash = '', { viewport = DESKTOP, mobile = false, allowTiles = false, base = BASE, init = null } = {}) {
  const context = await browser.newContext({ viewport, isMobile: mobile, hasTouch: mobile, deviceScaleFactor: 1 });
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  const errors = [];
  const outside = [];
  const refused = [];
  const zoneRequests = [];
  const origin = new URL(base).origin;
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const where = m.location()?.url ?? '';
    if (allowTiles && where.includes(TILE_HOST)) return;
    errors.push(`console: ${m.text()} (${where})`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) refused.push(`${r.status()} ${r.url()}`);
  });
  page.on('request', (r) => {
    const url = r.url();
    if (url.includes('/map/zones?') && !url.includes('zoom=0')) zoneRequests.push(url);
    if (url.startsWith(`${origin}/`) || url.startsWith('data:')) return;
    if (allowTiles && new URL(url).host === TILE_HOST) return;
    outside.push(url);
  });
  await page.goto(`${base}/${hash}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20000 });
  await settled(page);
  return {
    page,
    context,
    zoneRequests,
    clean() {
      assert.deepEqual(errors, [], 'no console errors');
      assert.deepEqual(outside, [], 'no request leaves the server under test');
      assert.deepEqual(refused, [], 'no request the page makes is answered with a 4xx or 5xx');
    },
  };
}

/** Waits until the page has no request in flight (and the zones for the date are drawn). */
async function settled(page, date) {
  if (date) await page.waitForSelector(`#map[data-zones-date="${date}"]`, { timeout: 15000 });
  await page.waitForFunction(() => document.body.dataset.pending === '0', null, { timeout: 15000 });
}

/** Keys of the zone paths drawn in the zones pane. */
function drawnKeys(page) {
  return page.$$eval('.leaflet-zones-pane path', (ps) => ps.map((p) => p.dataset.key));
}

function shot(page, name) {
  return page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

describe('the map page', () => {
  test('draws every zone valid on the date, coloured by actor, over the offline base map', async () => {
    const { page, context, clean } = await openPage(`#date=${BEFORE}`);
    await settled(page, BEFORE);
    const expected = await zoneKeys(BEFORE);
    const keys = await drawnKeys(page);
    assert.equal(keys.length, expected.count, 'one SVG path per zone valid on the date (full view)');
    assert.deepEqual(new Set(keys), expected.keys);

    // Colour by actor: each path's stroke is its actor's colour from the API.
    const fc = await api(`/map/zones?datetime=${BEFORE}`);
    const colour = Object.fromEntries(fc.features.map((f) => [f.properties.key, f.properties.colour.toLowerCase()]));
    const strokes = await page.$$eval('.leaflet-zones-pane path', (ps) => ps.map((p) => [p.dataset.key, p.getAttribute('stroke')]));
    for (const [key, stroke] of strokes) assert.equal(stroke.toLowerCase(), colour[key], `stroke of ${key}`);

    // Low confidence is visibly different: hatched fill on filled kinds.
    const low = fc.features.filter((f) => f.properties.confidence === 'low' && f.properties.kind === 'control').map((f) => f.properties.key);
    assert.ok(low.length > 0, 'the data has low-confidence control zones');
    const fills = await page.$$eval('.leaflet-zones-pane path[data-confidence="low"][data-kind="control"]', (ps) => ps.map((p) => getComputedStyle(p).fill));
    assert.ok(fills.length > 0 && fills.every((f) => f.includes('url(')), `low-confidence control zones are hatched: ${fills}`);

    // The legend names every actor; the base map comes from the reference layers.
    const actors = new Set(fc.features.map((f) => f.properties.actor));
    const legend = await page.$$eval('#legend-actors li', (lis) => lis.map((l) => l.dataset.actor));
    for (const a of actors) assert.ok(legend.includes(a), `legend lists ${a}`);
    for (const pane of ['syria', 'governorates', 'rivers', 'golan_lines', 'undof_aos']) {
      assert.ok((await page.$$(`.leaflet-ref-${pane}-pane path`)).length > 0, `base map layer ${pane} is drawn`);
    }
    assert.match(await page.textContent('.approx-note'), /approximate/i, 'the page says the geometry is approximate');
    clean();
    await context.close();
  });

  test(`first render of the default view is under ${FIRST_RENDER_BUDGET_MS} ms`, async (t) => {
    // Each attempt is a first visit in a fresh context (cold cache). The machine may be shared, so
    // the best of up to five attempts is compared with the budget; every attempt is reported.
    const marks = [];
    const parts = [];
    for (let i = 0; i < 5; i++) {
      const { page, context, clean, zoneRequests } = await openPage('');
      const [ms, leaflet, zones] = await page.evaluate(() => {
        const end = (part) => Math.round(performance.getEntriesByType('resource').find((e) => e.name.includes(part))?.responseEnd ?? NaN);
        return [performance.getEntriesByName('zones-drawn')[0]?.startTime, end('leaflet.js'), end('/map/zones?bbox')];
      });
      assert.equal(typeof ms, 'number', 'the page marks zones-drawn');
      marks.push(Math.round(ms));
      parts.push(`${Math.round(ms)} (leaflet.js in ${leaflet}, zones in ${zones})`);
      // boot-view.js guessed the view Leaflet opens at, so the zones were asked for once, early.
      assert.equal(zoneRequests.length, 1, `one request for the zones of the first view: ${zoneRequests.join(' ')}`);
      if (i === 0) {
        await settled(page);
        await shot(page, 'desktop');
      }
      clean();
      await context.close();
      if (marks.length >= 3 && Math.min(...marks) < FIRST_RENDER_BUDGET_MS) break;
    }
    const best = Math.min(...marks);
    const load = `load average ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs`;
    t.diagnostic(`first render (performance mark zones-drawn, ms after navigation start): ${parts.join(', ')}; best ${best}; ${load}`);
    console.log(`# first render, ms: ${parts.join(', ')}; best ${best} ms; ${load}`);
    assert.ok(best < FIRST_RENDER_BUDGET_MS, `first render took ${best} ms at best (${marks.join(', ')}; ${load})`);
  });

  test(`moving the date from ${BEFORE} to ${AFTER} changes the south-west as the data says`, async () => {
    const { page, context, clean } = await openPage(`#date=${BEFORE}`);
    await settled(page, BEFORE);
    const sw1 = (await zoneKeys(BEFORE, SOUTH_WEST)).keys;
    const sw2 = (await zoneKeys(AFTER, SOUTH_WEST)).keys;
    const removed = [...sw1].filter((k) => !sw2.has(k));
    const added = [...sw2].filter((k) => !sw1.has(k));
    // What the issue names: the de-escalation zone ends, the government holds the south-west.
    assert.ok(removed.includes('sw_deescalation_zone'), `ended by ${AFTER}: ${removed}`);
    assert.ok(added.includes('gov_south_west_from_2018_08'), `begun by ${AFTER}: ${added}`);

    let drawn = new Set(await drawnKeys(page));
    for (const k of sw1) assert.ok(drawn.has(k), `${k} is drawn on ${BEFORE}`);
    for (const k of added) assert.ok(!drawn.has(k), `${k} is not drawn yet on ${BEFORE}`);

    // Six steps of a month with the button; the slider follows.
    for (let i = 0; i < 6; i++) await page.click('#next-month');
    await settled(page, AFTER);
    assert.equal(await page.inputValue('#date-input'), AFTER);
    const sliderDate = await page.$eval('#date-slider', (s) => s.getAttribute('aria-valuetext'));
    assert.match(sliderDate, /15 August 2018/);
    drawn = new Set(await drawnKeys(page));
    for (const k of removed) assert.ok(!drawn.has(k), `${k} is gone on ${AFTER}`);
    for (const k of sw2) assert.ok(drawn.has(k), `${k} is drawn on ${AFTER}`);
    assert.deepEqual(drawn, (await zoneKeys(AFTER)).keys, `exactly the zones valid on ${AFTER}`);

    // Dragging the slider back (its value is days from the start of the span).
    const back = await page.$eval('#date-slider', (s, d) => {
      const from = Date.parse(`${document.getElementById('span-from').textContent}T00:00:00Z`);
      return String(Math.round((Date.parse(`${d}T00:00:00Z`) - from) / 86400000));
    }, BEFORE);
    await page.fill('#date-slider', back);
    await settled(page, BEFORE);
    assert.deepEqual(new Set(await drawnKeys(page)), (await zoneKeys(BEFORE)).keys, `back to the zones of ${BEFORE}`);
    assert.match(page.url(), new RegExp(`date=${BEFORE}`));

    // Play steps forward by itself until paused.
    await page.click('#play');
    assert.equal(await page.getAttribute('#play', 'aria-pressed'), 'true');
    await page.waitForFunction((d) => document.getElementById('date-input').value > d, BEFORE, { timeout: 15000 });
    await page.click('#play');
    assert.equal(await page.getAttribute('#play', 'aria-pressed'), 'false');
    await settled(page);
    clean();
    await context.close();
  });

  test(`asking about Daraa on ${BEFORE} lists the zones covering it, with sources and nearest zones`, async () => {
    const { page, context, clean } = await openPage(`#date=${BEFORE}&lat=${DARAA.lat}&lon=${DARAA.lon}&zoom=9`);
    await settled(page, BEFORE);
    const expected = await api(`/query/point?lon=${DARAA.lon}&lat=${DARAA.lat}&datetime=${BEFORE}&nearest=3`);
    const keys = expected.covering.map((z) => z.key);
    assert.ok(keys.includes('sw_deescalation_zone'), `the API puts Daraa in the south-west de-escalation zone: ${keys}`);

    // Keyboard: focus the map, Enter asks about its centre (Daraa). The popup is checked against
    // the API's answer for the point the page asked about (the map centre, to the zoom's
    // precision), not a copy of Daraa's coordinates.
    await page.focus('#map');
    const asked = page.waitForRequest((r) => r.url().includes('/query/point?'));
    await page.keyboard.press('Enter');
    const at = new URL((await asked).url()).searchParams;
    assert.ok(Math.abs(at.get('lon') - DARAA.lon) < 0.01 && Math.abs(at.get('lat') - DARAA.lat) < 0.01, `asked at the centre, Daraa: ${at}`);
    await page.waitForSelector('.query-popup .answer, .query-popup .error');
    await settled(page);
    const shown = await page.$$eval('.query-popup details.zone', (ds) => ds.map((d) => d.dataset.key));
    const askedAnswer = await api(`/query/point?lon=${at.get('lon')}&lat=${at.get('lat')}&datetime=${BEFORE}&nearest=3`);
    assert.deepEqual(new Set(shown), new Set(askedAnswer.covering.map((z) => z.key)), 'the popup lists every covering zone');
    assert.deepEqual(new Set(shown), new Set(keys), 'the centre lies in the zones Daraa lies in');
    const text = await page.textContent('.query-popup');
    for (const z of askedAnswer.covering) {
      assert.ok(text.includes(z.actor_name), `popup names ${z.actor_name}`);
      assert.ok(text.includes(z.valid_from ?? '…'), `popup gives the period of ${z.key}`);
    }
    assert.equal(await page.$$eval('.query-popup .nearest li', (l) => l.length), askedAnswer.nearest.length, 'nearest zones with distances');
    for (const n of askedAnswer.nearest) assert.ok(text.includes(`${n.distance_km.toFixed(1)} km`), `distance to ${n.key}`);
    const linked = askedAnswer.covering.flatMap((z) => z.sources).filter((s) => s.url).length;
    assert.equal(await page.$$eval('.query-popup .sources a[href^="http"]', (a) => a.length), linked, 'sources with a URL are links');
    await page.click('.query-popup details.zone summary');
    await page.waitForTimeout(400); // the popup grows and the map pans to fit it
    await shot(page, 'desktop-point-query');

    // With the answer open, moving the date asks again, about the same point.
    const askedLater = page.waitForRequest((r) => r.url().includes('/query/point?') && r.url().includes(`datetime=${AFTER}`));
    await page.fill('#date-input', AFTER);
    await page.dispatchEvent('#date-input', 'change');
    const atLater = new URL((await askedLater).url()).searchParams;
    assert.deepEqual([atLater.get('lon'), atLater.get('lat')], [at.get('lon'), at.get('lat')], 'the same point');
    await settled(page, AFTER);
    await page.waitForSelector(`#map[data-answer-date="${AFTER}"]`);
    const daraaLater = await api(`/query/point?lon=${DARAA.lon}&lat=${DARAA.lat}&datetime=${AFTER}&nearest=3`);
    assert.ok(daraaLater.covering.some((z) => z.key === 'gov_south_west_from_2018_08'), 'the API puts Daraa under the government in August 2018');
    const later = await api(`/query/point?lon=${at.get('lon')}&lat=${at.get('lat')}&datetime=${AFTER}&nearest=3`);
    const shownLater = await page.$$eval('.query-popup details.zone', (ds) => ds.map((d) => d.dataset.key));
    assert.deepEqual(new Set(shownLater), new Set(later.covering.map((z) => z.key)), `the popup answers for ${AFTER}`);
    clean();
    await context.close();
  });

  test('a mouse click anywhere asks about that point; a click on a place shows its details', async () => {
    const { page, context, clean } = await openPage(`#date=${BEFORE}&lat=${DARAA.lat}&lon=${DARAA.lon}&zoom=8`);
    await settled(page, BEFORE);
    const box = await page.$eval('#map', (m) => m.getBoundingClientRect().toJSON());
    const asked = page.waitForRequest((r) => r.url().includes('/query/point?'));
    // Off the centre so no marker is under the pointer.
    await page.mouse.click(box.x + box.width / 2 - 70, box.y + box.height / 2 + 45);
    const url = new URL((await asked).url());
    await page.waitForSelector('.query-popup .answer, .query-popup .error');
    await settled(page);
    const q = url.searchParams;
    assert.equal(q.get('datetime'), BEFORE);
    const expected = await api(`/query/point?lon=${q.get('lon')}&lat=${q.get('lat')}&datetime=${BEFORE}&nearest=3`);
    const shown = await page.$$eval('.query-popup details.zone', (ds) => ds.map((d) => d.dataset.key));
    assert.deepEqual(new Set(shown), new Set(expected.covering.map((z) => z.key)));

    // A place: its popup has its name, kind and sources.
    const places = await api(`/map/locations?datetime=${BEFORE}&bbox=35.9,32.4,36.3,32.8`);
    const place = places.features.find((f) => f.properties.kind === 'city') ?? places.features[0];
    assert.ok(place, 'a place near Daraa');
    await page.click('.query-popup .leaflet-popup-close-button');
    await page.click(`.leaflet-marker-icon[data-key="${place.properties.key}"]`);
    await page.waitForSelector('.leaflet-popup:not(.query-popup) .answer');
    const text = await page.textContent('.leaflet-popup:not(.query-popup)');
    assert.ok(text.includes(place.properties.name), `popup names ${place.properties.name}`);
    assert.ok(text.includes('Sources'), 'popup lists sources');
    clean();
    await context.close();
  });

  test('the URL holds date, view and layers, and a link reproduces them', async () => {
    const hash = '#date=2018-03-20&lat=33.5&lon=36.3&zoom=8&layers=zones.control,locations,ref.syria,ref.rivers&events=90';
    const { page, context, clean } = await openPage(hash);
    await settled(page, '2018-03-20');
    assert.equal(await page.inputValue('#date-input'), '2018-03-20');
    assert.equal(await page.inputValue('#events-window'), '90');
    const checked = await page.$$eval('input[data-layer]', (is) => Object.fromEntries(is.map((i) => [i.dataset.layer, i.checked])));
    assert.equal(checked['zones.control'], true);
    assert.equal(checked['zones.presence'], false);
    assert.equal(checked.events, false);
    assert.equal(checked['ref.governorates'], false);
    const kinds = new Set(await page.$$eval('.leaflet-zones-pane path', (ps) => ps.map((p) => p.dataset.kind)));
    assert.deepEqual(kinds, new Set(['control']), 'only the chosen zone kind is drawn');
    assert.equal((await page.$$('.leaflet-ref-governorates-pane path')).length, 0, 'governorates are off');
    assert.equal((await page.$$('.leaflet-marker-icon.evt')).length, 0, 'events are off');
    const state = new URLSearchParams(new URL(page.url()).hash.slice(1));
    assert.equal(state.get('layers'), 'zones.control,locations,ref.syria,ref.rivers', 'the link keeps its layers');
    assert.equal(state.get('date'), '2018-03-20');
    assert.equal(Number(state.get('lat')), 33.5);
    assert.equal(Number(state.get('lon')), 36.3);
    assert.equal(state.get('zoom'), '8');

    // A default view's link names every zone kind the data has, so it reproduces the zones too.
    const plain = await openPage(`#date=${BEFORE}`);
    await settled(plain.page, BEFORE);
    const listed = new URLSearchParams(new URL(plain.page.url()).hash.slice(1)).get('layers').split(',');
    const kindsInData = new Set((await api('/map/zones?zoom=0')).features.map((f) => `zones.${f.properties.kind}`));
    for (const k of kindsInData) assert.ok(listed.includes(k), `the default link lists ${k}: ${listed}`);
    plain.clean();
    await plain.context.close();

    // Change date, layers and zoom through the controls: the URL follows.
    await page.click('#next-month');
    await page.click('#t-locations');
    await page.click('#t-zones\\.presence');
    await page.click('.leaflet-control-zoom-in');
    await page.waitForFunction(() => new URLSearchParams(location.hash.slice(1)).get('zoom') === '9');
    await settled(page, '2018-04-20');
    const changed = new URL(page.url()).hash;
    const p = new URLSearchParams(changed.slice(1));
    assert.equal(p.get('date'), '2018-04-20');
    assert.deepEqual(new Set(p.get('layers').split(',')), new Set(['zones.control', 'zones.presence', 'ref.syria', 'ref.rivers']));
    assert.equal(p.get('events'), '90');

    // The link, opened afresh, gives the same view.
    const again = await openPage(changed);
    await settled(again.page, '2018-04-20');
    assert.equal(new URL(again.page.url()).hash, changed, 'the URL round-trips');
    const kinds2 = new Set(await again.page.$$eval('.leaflet-zones-pane path', (ps) => ps.map((p) => p.dataset.kind)));
    assert.ok([...kinds2].every((k) => k === 'control' || k === 'presence'));
    assert.equal((await again.page.$$('.leaflet-marker-icon.loc')).length, 0, 'places are off');
    again.clean();
    await again.context.close();
    clean();
    await context.close();
  });

  test('exports and the QGIS connection URL', async () => {
    const { page, context, clean } = await openPage(`#date=${BEFORE}`);
    const links = await page.$$eval('#exports a', (as) => as.map((a) => [a.getAttribute('href'), a.getAttribute('download')]));
    const zonesLink = links.find(([h]) => h.startsWith('export/zones.geojson'));
    assert.ok(zonesLink, `a zones GeoJSON link: ${JSON.stringify(links)}`);
    assert.match(zonesLink[0], new RegExp(`datetime=${BEFORE}`));
    const style = links.find(([h]) => h === 'export/zones.qml');
    assert.ok(style, 'a QGIS style link for zones');
    assert.equal(zonesLink[1].replace(/\.geojson$/, ''), style[1].replace(/\.qml$/, ''), 'style and data share a name, so QGIS applies the style');
    const fgbLink = links.find(([h]) => h.startsWith('export/zones.fgb'));
    assert.ok(fgbLink, `a zones FlatGeobuf link: ${JSON.stringify(links)}`);
    assert.match(fgbLink[0], new RegExp(`datetime=${BEFORE}`));
    assert.equal(fgbLink[1].replace(/\.fgb$/, ''), style[1].replace(/\.qml$/, ''), 'the style applies to the FlatGeobuf file too');
    const fgb = await page.request.get(`${BASE}/${fgbLink[0]}`);
    assert.equal(fgb.headers()['content-type'], 'application/flatgeobuf');
    assert.deepEqual([...(await fgb.body()).subarray(0, 3)], [0x66, 0x67, 0x62], 'FlatGeobuf magic bytes');
    for (const [href] of links) {
      const resp = await page.request.get(`${BASE}/${href}`);
      assert.equal(resp.status(), 200, href);
    }
    const exported = await (await page.request.get(`${BASE}/${zonesLink[0]}`)).json();
    assert.equal(exported.features.length, (await zoneKeys(BEFORE)).count, 'the export holds the zones of the date');
    assert.equal(await page.inputValue('#qgis-link'), BASE, 'QGIS gets the page origin');
    clean();
    await context.close();
  });

  test('the online tile layer is optional and off by default; offline it is dropped quietly', async () => {
    const { page, context, clean } = await openPage(`#date=${BEFORE}`, { allowTiles: true });
    assert.equal(await page.isChecked('#t-osm'), false, 'no third-party request without asking');
    await page.click('#t-osm');
    // Offline: the probe fails, the toggle goes back off with a note. Online: tiles appear.
    await page.waitForFunction(() => !document.getElementById('t-osm').checked || document.querySelector('.leaflet-tile-pane img'), null, { timeout: 30000 });
    const online = (await page.$$('.leaflet-tile-pane img')).length > 0;
    if (!online) assert.match(await page.textContent('#osm-note'), /unreachable/);
    clean();
    await context.close();
  });

  test('works on a phone-sized screen and by keyboard', async () => {
    const { page, context, clean, zoneRequests } = await openPage(`#date=${BEFORE}`, { viewport: PHONE, mobile: true });
    await settled(page, BEFORE);
    assert.equal(zoneRequests.length, 1, `the early zones request fits the phone's view too: ${zoneRequests.join(' ')}`);
    assert.equal((await drawnKeys(page)).length, (await zoneKeys(BEFORE)).count, 'every zone drawn on a phone too');
    const slider = await page.$eval('#date-slider', (s) => s.getBoundingClientRect().toJSON());
    assert.ok(slider.width > 200 && slider.right <= PHONE.width, 'the date slider fits the screen');
    assert.equal(await page.isVisible('#panel'), false, 'the panel starts closed on a phone');
    await shot(page, 'phone');
    await page.click('#panel-toggle');
    await page.waitForFunction(() => getComputedStyle(document.getElementById('panel')).visibility === 'visible');
    assert.equal(await page.getAttribute('#panel-toggle', 'aria-expanded'), 'true');
    await page.waitForTimeout(300); // the slide-in transition
    await shot(page, 'phone-panel');
    await page.click('#panel-close');
    await page.waitForFunction(() => getComputedStyle(document.getElementById('panel')).visibility === 'hidden');

    // Keyboard: the slider moves a day per arrow key; Tab reaches the controls.
    await page.focus('#date-slider');
    await page.keyboard.press('ArrowRight');
    await settled(page, '2018-02-16');
    const reached = new Set();
    await page.focus('#prev-month');
    for (let i = 0; i < 12; i++) {
      reached.add(await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName));
      await page.keyboard.press('Tab');
    }
    for (const id of ['prev-month', 'play', 'next-month', 'date-input', 'date-slider']) assert.ok(reached.has(id), `Tab reaches #${id}: ${[...reached]}`);
    // Places are focusable and Enter opens their details.
    await page.focus('.leaflet-marker-icon.loc[data-key="damascus_city"]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.leaflet-popup .answer');
    clean();
    await context.close();
  });
});

// The same page on another data folder: tests/fixtures/elsewhere, a small invented island in the
// South Atlantic whose reference layers (coastline, provinces, roads) share no name with the
// default set's. The page must learn everything from that server's /collections and /actors: the
// view, the base map and its stacking, the layer list and the exports. Expectations come from the
// same server's API, so the checks hold for any folder; the fixture's style orders are chosen so
// that style order differs from name and title order.
describe('the map of another data folder (tests/fixtures/elsewhere)', () => {
  let collections;
  let refs; // reference collections in style order (ties by id, as the page breaks them)
  let about;

  const style = (c) => c['zonetrack:style'] ?? {};
  /** A CSS selector for the paths of reference layer `id` (each has its own pane). */
  const refPaths = (id) => `.leaflet-ref-${id}-pane path`;

  before(async () => {
    assert.ok(ELSEWHERE, 'set ZONETRACK_ELSEWHERE_URL to a server of tests/fixtures/elsewhere (tests/browser/run does)');
    collections = (await api('/collections', ELSEWHERE)).collections;
    about = await api('/actors', ELSEWHERE);
    refs = collections
      .filter((c) => c['zonetrack:role'] === 'reference')
      .sort((a, b) => (style(a).order ?? 100) - (style(b).order ?? 100) || a.id.localeCompare(b.id));
  });

  test('opens on its zones, over its own base map, with its layers listed by title in style order', async () => {
    // The fixture is what it claims: away from the default data, names unlike its layers'.
    const zonesAt = (cs) => cs.find((c) => c['zonetrack:role'] === 'zones').extent.spatial.bbox[0];
    const [w, s, e, n] = zonesAt(collections);
    const syria = zonesAt((await api('/collections')).collections);
    assert.ok(e < syria[0] || w > syria[2] || n < syria[1] || s > syria[3], `the fixture's zones ${[w, s, e, n]} lie away from the default data's ${syria}`);
    const defaultRefs = new Set((await api('/collections')).collections.filter((c) => c['zonetrack:role'] === 'reference').map((c) => c.id));
    assert.ok(refs.length >= 3 && refs.every((c) => !defaultRefs.has(c.id)), `reference layers named unlike the default set's: ${refs.map((c) => c.id)}`);
    const ids = refs.map((c) => c.id);
    assert.notDeepEqual(ids, [...ids].sort(), 'style order differs from name order (else the order check proves nothing)');
    const titles = refs.map((c) => c.title);
    assert.notDeepEqual(titles, [...titles].sort(), 'style order differs from title order');
    const land = refs.filter((c) => style(c).land);
    assert.equal(land.length, 1, 'one land layer');
    const dashed = refs.filter((c) => style(c).dash);
    assert.ok(dashed.length > 0, 'a dashed reference layer');

    const { page, context, clean } = await openPage('', { base: ELSEWHERE });
    const date = about.date_span[1];
    await settled(page, date);
    assert.equal(await page.inputValue('#date-input'), date, "the date is the last day of the data's span");

    // The view is fitted to this data's zones (not Syria's): its centre lies in their extent, no
    // zone is cut off, and they fill at least half the map one way (a whole-zoom fit does).
    const view = new URLSearchParams(new URL(page.url()).hash.slice(1));
    const [lat, lon] = [Number(view.get('lat')), Number(view.get('lon'))];
    assert.ok(w <= lon && lon <= e && s <= lat && lat <= n, `the view's centre ${lat},${lon} lies in the zones' extent ${[w, s, e, n]}`);
    const mapBox = await page.$eval('#map', (m) => m.getBoundingClientRect().toJSON());
    const drawn = await page.$$eval('.leaflet-zones-pane path', (ps) => {
      const rs = ps.map((p) => p.getBoundingClientRect());
      return {
        left: Math.min(...rs.map((r) => r.left)),
        top: Math.min(...rs.map((r) => r.top)),
        right: Math.max(...rs.map((r) => r.right)),
        bottom: Math.max(...rs.map((r) => r.bottom)),
      };
    });
    for (const side of ['left', 'top']) assert.ok(drawn[side] >= mapBox[side] - 1, `zones inside the map (${side}): ${JSON.stringify(drawn)} in ${JSON.stringify(mapBox)}`);
    for (const side of ['right', 'bottom']) assert.ok(drawn[side] <= mapBox[side] + 1, `zones inside the map (${side}): ${JSON.stringify(drawn)} in ${JSON.stringify(mapBox)}`);
    const fill = Math.max((drawn.right - drawn.left) / mapBox.width, (drawn.bottom - drawn.top) / mapBox.height);
    assert.ok(fill >= 0.45, `the zones fill ${Math.round(fill * 100)}% of the map at best: the view is fitted to them`);

    // Its zones: exactly those valid on the date, each in its actor's colour; its actors in the legend.
    const expected = await zoneKeys(date, null, ELSEWHERE);
    assert.ok(expected.count >= 3, `the fixture has zones on ${date}: ${[...expected.keys]}`);
    assert.deepEqual(new Set(await drawnKeys(page)), expected.keys, `the zones valid on ${date} are drawn`);
    assert.equal((await drawnKeys(page)).length, expected.count, 'one path per zone');
    const colour = Object.fromEntries(about.actors.map((a) => [a.id, a.colour.toLowerCase()]));
    const items = await api(`/collections/zones/items?datetime=${date}&limit=1000`, ELSEWHERE);
    const actorOf = Object.fromEntries(items.features.map((f) => [f.properties.key, f.properties.actor]));
    const strokes = await page.$$eval('.leaflet-zones-pane path', (ps) => ps.map((p) => [p.dataset.key, p.getAttribute('stroke')]));
    for (const [key, stroke] of strokes) assert.equal(stroke.toLowerCase(), colour[actorOf[key]], `stroke of ${key}`);
    const legend = await page.$$eval('#legend-actors li', (lis) => lis.map((l) => l.dataset.actor));
    assert.deepEqual(new Set(legend), new Set(about.actors.map((a) => a.id)), 'the legend lists its actors');
    const places = await api(`/map/locations?datetime=${date}`, ELSEWHERE);
    const markers = await page.$$eval('.leaflet-marker-icon.loc', (ms) => ms.map((m) => m.dataset.key));
    assert.deepEqual(new Set(markers), new Set(places.features.map((f) => f.properties.key)), 'its places are drawn');
    // Events of the default window (the 30 days to the date).
    const from = new Date(Date.parse(`${date}T00:00:00Z`) - 30 * 86400000).toISOString().slice(0, 10);
    const events = await api(`/map/events?datetime=${from}/${date}`, ELSEWHERE);
    assert.ok(events.features.length > 0, `the fixture has an event between ${from} and ${date}`);
    const eventMarkers = await page.$$eval('.leaflet-marker-icon.evt', (ms) => ms.map((m) => m.dataset.key));
    assert.deepEqual(new Set(eventMarkers), new Set(events.features.map((f) => f.properties.key)), 'its recent events are drawn');

    // The panel lists its reference layers by title, in style order (then the optional tiles).
    const listed = await page.$$eval('#ref-layers label', (ls) => ls.map((l) => [l.querySelector('input').dataset.layer, l.textContent.trim()]));
    assert.deepEqual(listed.filter(([id]) => id !== 'osm'), refs.map((c) => [`ref.${c.id}`, c.title]), 'base map layers by title, in style order');

    // Every reference layer is drawn in its own pane, in its style's colours.
    for (const c of refs) {
      const paths = await page.$$eval(refPaths(c.id), (ps) => ps.map((p) => ({
        stroke: p.getAttribute('stroke'),
        dash: p.getAttribute('stroke-dasharray'),
        fill: p.getAttribute('fill'),
        fillOpacity: p.getAttribute('fill-opacity'),
      })));
      assert.ok(paths.length > 0, `reference layer ${c.id} is drawn`);
      const st = style(c);
      for (const p of paths) {
        assert.equal(p.stroke.toLowerCase(), st.stroke, `${c.id}: stroke from its style`);
        // A dashed layer has its style's dash array; the others are solid.
        assert.equal(p.dash, st.dash ?? null, `${c.id}: dash array from its style`);
        if (st.fill) {
          assert.equal(p.fill.toLowerCase(), st.fill, `${c.id}: fill from its style`);
          assert.equal(Number(p.fillOpacity), st.fill_opacity, `${c.id}: fill opacity from its style`);
        } else {
          assert.equal(p.fill, 'none', `${c.id}: not filled`);
        }
      }
    }

    // The land layer is the filled base map, drawn first: its pane is below every other layer's.
    const landPane = await page.$eval(`.leaflet-ref-${land[0].id}-pane`, (p) => Number(getComputedStyle(p).zIndex));
    const landFill = await page.$$eval(refPaths(land[0].id), (ps) => ps.map((p) => [p.getAttribute('fill'), Number(p.getAttribute('fill-opacity'))]));
    assert.ok(landFill.length > 0 && landFill.every(([f, o]) => f !== 'none' && o > 0), `the land layer ${land[0].id} is filled: ${JSON.stringify(landFill)}`);
    const panes = await page.$$eval('.leaflet-map-pane > .leaflet-pane', (ps) => ps.map((p) => [p.className, Number(getComputedStyle(p).zIndex)]));
    for (const [cls, z] of panes) {
      if (cls.includes(`leaflet-ref-${land[0].id}-pane`) || cls.includes('leaflet-tile-pane')) continue;
      if (!/leaflet-(ref-[\w-]+|zones|overlay)-pane/.test(cls)) continue;
      assert.ok(landPane < z, `the land layer (z-index ${landPane}) is below ${cls} (${z})`);
    }
    await shot(page, 'elsewhere');
    clean();
    await context.close();
  });

  test('the export list links every file its collections list, for its own layers', async () => {
    const { page, context, clean } = await openPage('', { base: ELSEWHERE });
    const date = about.date_span[1];
    await settled(page, date);
    const links = await page.$$eval('#exports a', (as) => as.map((a) => [a.getAttribute('href'), a.getAttribute('download')]));
    const hrefs = links.map(([h]) => h.split('?')[0]);
    const rows = await page.$$eval('#exports li .what', (ws) => ws.map((w) => w.textContent));
    for (const c of refs) assert.ok(rows.includes(c.title), `the export list names ${c.title}: ${rows}`);
    for (const c of collections) {
      // The files this collection links to (data as `enclosure`, its QGIS style as `describedby`).
      const files = c.links.filter((l) => (l.rel === 'enclosure' || l.rel === 'describedby') && l.href.includes('/export/'));
      const exts = files.map((l) => l.href.split('?')[0].split('.').pop());
      for (const ext of ['geojson', 'fgb', 'gpkg', 'qml']) assert.ok(exts.includes(ext), `${c.id} lists a .${ext} file: ${exts}`);
      for (const f of files) {
        const ext = f.href.split('?')[0].split('.').pop();
        const href = `export/${c.id}.${ext}`;
        assert.ok(hrefs.includes(href), `the page links ${href}: ${JSON.stringify(hrefs)}`);
        const link = links.find(([h]) => h.split('?')[0] === href);
        if (c['zonetrack:role'] === 'zones' && f.rel === 'enclosure') assert.match(link[0], new RegExp(`datetime=${date}`), `${href} is for the date`);
        const resp = await page.request.get(`${ELSEWHERE}/${link[0]}`);
        assert.equal(resp.status(), 200, link[0]);
        const mediaType = (t) => String(t).split(';')[0].trim();
        assert.equal(mediaType(resp.headers()['content-type']), mediaType(f.type), `${link[0]}: the type its collection gives`);
      }
    }
    // A reference layer's GeoJSON export holds its features (the same as its items).
    const roads = refs.find((c) => style(c).dash) ?? refs[0];
    const exported = await (await page.request.get(`${ELSEWHERE}/export/${roads.id}.geojson`)).json();
    assert.equal(exported.features.length, roads.itemCount, `${roads.id}.geojson holds every feature`);
    assert.equal(await page.inputValue('#qgis-link'), ELSEWHERE, 'QGIS gets this server');
    clean();
    await context.close();
  });
});

// Edits and revisions (issue 12): a copy of tests/fixtures/elsewhere served with one editor
// (ZONETRACK_EDITED_URL, ZONETRACK_EDITOR_TOKEN), edited here through the API: revision 1 creates
// a zone over part of an imported one, revision 2 raises its confidence. The popup lists a zone's
// history; the "as known on" control shows the data as of a revision, in the link too.
describe('edits and revisions (an edited copy of tests/fixtures/elsewhere)', () => {
  const EDITED = (process.env.ZONETRACK_EDITED_URL ?? '').replace(/\/$/, '');
  const TOKEN = process.env.ZONETRACK_EDITOR_TOKEN ?? '';
  const KEY = 'east_camp_2021';
  const DATE = '2021-12-31';
  // Inside the new zone and the imported hills_west_2021 zone both.
  const AT = { lat: -41.2, lon: -24.2 };
  const VIEW = `#date=${DATE}&lat=${AT.lat}&lon=${AT.lon}&zoom=10`;
  // Messages and the author are user input: they must show as text, never as HTML.
  const MSG1 = 'Camp reported <img src=x onerror="window.__pwned=1">';
  const MSG2 = 'Confidence raised: <b>two</b> sources';

  async function write(method, path, body, message, type = 'application/geo+json') {
    const resp = await fetch(`${EDITED}${path}`, {
      method,
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': type, 'X-Zonetrack-Message': message },
      body: JSON.stringify(body),
    });
    assert.ok(resp.ok, `${method} ${path}: ${resp.status} ${await resp.clone().text()}`);
    return resp;
  }

  /** Every request the page makes from now on. */
  function record(page) {
    const urls = [];
    page.on('request', (r) => urls.push(r.url()));
    return urls;
  }

  /** Opens the covering zone `key`'s details in the point popup and waits for its history. */
  async function openHistory(page, key) {
    const block = `.query-popup details.zone[data-key="${key}"]`;
    await page.click(`${block} summary`);
    // The popup re-pans the map as it grows, so a click sent as it starts to move can land beside
    // the summary. A user clicks again; so does the test, and says so in its log. (One CI run
    // timed out waiting for a history here; not reproduced locally, even with Chromium's CPU
    // throttled 8x, hence the account of the popup below if it happens again.)
    if (!(await page.waitForSelector(`${block}[open]`, { timeout: 3000 }).catch(() => null))) {
      console.log(`# ${key}: the first click did not open its details; clicking again`);
      await page.click(`${block} summary`);
    }
    try {
      await page.waitForSelector(`${block} .history[data-loaded]`, { timeout: 15000 });
    } catch (e) {
      // Say what the popup held, so a failure in CI can be understood from its log alone.
      const seen = await page.evaluate((b) => {
        const d = document.querySelector(b);
        const popup = document.querySelector('.query-popup');
        return {
          popups: document.querySelectorAll('.query-popup').length,
          block: d ? { open: d.open, history: d.querySelector('.history')?.outerHTML.slice(0, 300) } : null,
          popup: popup?.textContent.slice(0, 300) ?? null,
          pending: document.body.dataset.pending,
        };
      }, block);
      throw new Error(`the history of ${key} did not load: ${JSON.stringify(seen)}`, { cause: e });
    }
    return page.$$eval(`${block} .history li`, (lis) => lis.map((li) => ({
      revision: Number(li.dataset.revision),
      change: li.dataset.change,
      fields: li.dataset.fields ?? '',
      author: li.querySelector('.author').textContent,
      message: li.querySelector('.history-msg')?.textContent ?? '',
    })));
  }

  /**
   * Changes the page's link as a user editing it would, and returns once the page has handled the
   * change. `hashchange` is dispatched as a task of its own: a test that went on straight away
   * could ask about the centre before the map had moved, then lose that popup to the page's own
   * re-asking when the new link's date is applied.
   */
  function followLink(page, hash) {
    return page.evaluate((h) => new Promise((resolve) => {
      if (location.hash === h) return resolve();
      // The page's own listener was added first, so it has run when this one does.
      window.addEventListener('hashchange', () => resolve(), { once: true });
      location.hash = h;
    }), hash);
  }

  async function askCentre(page) {
    await page.focus('#map');
    const asked = page.waitForRequest((r) => r.url().includes('/query/point?'));
    await page.keyboard.press('Enter');
    const url = (await asked).url();
    await page.waitForSelector('.query-popup .answer');
    await settled(page);
    return new URL(url);
  }

  before(async () => {
    assert.ok(EDITED && TOKEN, 'set ZONETRACK_EDITED_URL and ZONETRACK_EDITOR_TOKEN (tests/browser/run does)');
    assert.equal((await api('/revisions', EDITED)).latest, 0, 'the copy starts unedited');
    const ring = [[-24.3, -41.3], [-24.1, -41.3], [-24.1, -41.1], [-24.3, -41.1], [-24.3, -41.3]];
    await write('POST', '/collections/zones/items', {
      type: 'Feature',
      geometry: { type: 'Polygon', coordinates: [ring] },
      properties: {
        key: KEY,
        name: 'Harbour Guard camp in the east',
        actor: 'harbour_guard',
        kind: 'presence',
        valid_from: '2021-06-01',
        valid_to: DATE,
        confidence: 'medium',
        method: 'hand_drawn',
        sources: [{ title: 'Synthetic test report', publisher: 'zonetrack tests', date: '2021-06-01' }],
      },
    }, MSG1);
    await write('PATCH', `/collections/zones/items/${KEY}`, { properties: { confidence: 'high' } }, MSG2, 'application/merge-patch+json');
    assert.equal((await api('/revisions', EDITED)).latest, 2);
  });

  test("a zone's popup lists its edits newest first (who, when, what, why), only once opened", async () => {
    const { page, context, clean } = await openPage(VIEW, { base: EDITED });
    await settled(page, DATE);
    assert.ok((await drawnKeys(page)).includes(KEY), 'the zone made by revision 1 is drawn');
    const urls = record(page);
    await askCentre(page);
    assert.deepEqual(urls.filter((u) => u.includes('/history')), [], 'no history is asked for before a zone is opened');

    const shown = await openHistory(page, KEY);
    const expected = (await api(`/collections/zones/items/${KEY}/history`, EDITED)).history;
    assert.deepEqual(shown.map((h) => h.revision), [2, 1], 'newest first');
    assert.deepEqual(shown.map((h) => [h.author, h.message]), expected.map((h) => [h.author, h.message]), 'authors and messages as the API gives them');
    assert.equal(shown[0].author, 'map-test');
    assert.equal(shown[0].message, MSG2, 'the message is shown as written, markup and all');
    assert.equal(shown[0].change, 'replaced');
    assert.equal(shown[0].fields, 'confidence', 'revision 2 changed the confidence only');
    assert.equal(shown[1].change, 'created');
    assert.equal(shown[1].message, MSG1);
    const block = `.query-popup details.zone[data-key="${KEY}"]`;
    assert.match(await page.textContent(`${block} .history li[data-revision="2"]`), /\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/, 'with its time');
    assert.match(await page.textContent(`${block} .history li[data-revision="2"]`), /changed confidence/);
    assert.equal(await page.$$eval('.query-popup .history img, .query-popup .history b', (e) => e.length), 0, 'no markup from a message becomes an element');
    assert.equal(await page.evaluate(() => window.__pwned), undefined, 'no script from a message runs');
    assert.equal(urls.filter((u) => u.includes('/history')).length, 1, 'one history request, for the zone opened');
    await page.$eval(`${block} .history`, (h) => h.scrollIntoView({ block: 'end' }));
    await page.waitForTimeout(250); // the popup re-fits to its new height
    await shot(page, 'popup-history');

    // An imported zone that nobody edited.
    await openHistory(page, 'hills_west_2021');
    assert.match(await page.textContent('.query-popup details.zone[data-key="hills_west_2021"] .history'), /as imported/);
    clean();
    await context.close();
  });

  test('"as known on" lists the revisions; an earlier one changes the map, its requests and the link', async () => {
    const { page, context, clean } = await openPage(VIEW, { base: EDITED });
    await settled(page, DATE);
    const revs = (await api('/revisions', EDITED)).revisions;
    assert.equal(await page.isDisabled('#as-of'), false, 'the control is on: the data has revisions');
    const options = await page.$$eval('#as-of option', (os) => os.map((o) => [o.value, o.textContent]));
    assert.deepEqual(options.map(([v]) => v), ['', '2', '1', '0'], 'latest, each revision newest first, as imported');
    for (const r of revs) {
      const text = options.find(([v]) => v === String(r.revision))[1];
      assert.ok(text.includes(r.author) && text.includes(r.message.slice(0, 40)) && text.includes(r.time.slice(0, 10)), `r${r.revision} with time, author and message: ${text}`);
    }
    assert.doesNotMatch(page.url(), /as_of/, 'the latest data: no as_of in the link');
    assert.match(await page.textContent('#ground-label'), /on the ground/i, 'the date slider is the time on the ground');
    assert.match(await page.textContent('label[for="as-of"]'), /as known on/i);

    // As imported (revision 0): the zone made by revision 1 is gone, as the API says.
    const urls = record(page);
    await page.selectOption('#as-of', '0');
    await page.waitForSelector('#map[data-zones-as-of="0"]');
    await settled(page);
    const at0 = await zoneKeys(DATE, null, EDITED);
    const q0 = await api(`/collections/zones/items?datetime=${DATE}&limit=1000&as_of=0`, EDITED);
    const keys0 = new Set(q0.features.map((f) => f.properties.key));
    assert.ok(at0.keys.has(KEY) && !keys0.has(KEY), 'the API has the zone now but not as of revision 0');
    assert.deepEqual(new Set(await drawnKeys(page)), keys0, 'the map draws the zones as of revision 0');
    assert.match(new URL(page.url()).hash, /[#&]as_of=0(&|$)/, 'the link says as_of=0');
    const layerAsks = urls.filter((u) => /\/map\/(zones|locations|events)\?/.test(u));
    assert.ok(layerAsks.length >= 3, `the editable layers are asked for again: ${layerAsks}`);
    for (const u of layerAsks) assert.equal(new URL(u).searchParams.get('as_of'), '0', `as_of on ${u}`);
    const zonesExport = await page.$eval('#exports a[href^="export/zones.geojson"]', (a) => a.getAttribute('href'));
    assert.equal(new URL(zonesExport, EDITED).searchParams.get('as_of'), '0', `the zones export is as of revision 0: ${zonesExport}`);
    const exported = await (await page.request.get(`${EDITED}/${zonesExport}`)).json();
    assert.ok(!exported.features.some((f) => f.properties.key === KEY), 'and holds no zone of revision 1');
    assert.match(await page.textContent('#as-of-hint'), /as imported/);
    const point = await askCentre(page);
    assert.equal(point.searchParams.get('as_of'), '0', 'the point query is as of revision 0');
    const covering = await page.$$eval('.query-popup details.zone', (ds) => ds.map((d) => d.dataset.key));
    assert.ok(!covering.includes(KEY) && covering.includes('hills_west_2021'), `as of revision 0 only the imported zone covers it: ${covering}`);
    await openHistory(page, 'hills_west_2021');
    assert.ok(urls.some((u) => u.includes('/history') && new URL(u).searchParams.get('as_of') === '0'), 'the history request is as of revision 0');
    await page.screenshot({ path: join(SHOTS, 'as-of-control.png'), clip: await page.$eval('#timebar', (t) => t.getBoundingClientRect().toJSON()) });
    await shot(page, 'as-of-0');

    // Revision 1: the zone is back, its history stops at its creation.
    await page.keyboard.press('Escape');
    await page.selectOption('#as-of', '1');
    await page.waitForSelector('#map[data-zones-as-of="1"]');
    await settled(page);
    assert.ok((await drawnKeys(page)).includes(KEY), 'as of revision 1 the zone is drawn');
    assert.match(new URL(page.url()).hash, /[#&]as_of=1(&|$)/);
    // The popup panned the map: back to the zone through the link (a hash change), as of revision 1.
    await followLink(page, `${VIEW}&as_of=1`);
    await settled(page);
    assert.equal(await page.inputValue('#as-of'), '1', 'a changed link keeps the revision');
    await askCentre(page);
    const shown = await openHistory(page, KEY);
    assert.deepEqual(shown.map((h) => h.revision), [1], 'as of revision 1, its history is its creation only');
    assert.match(await page.textContent('.query-popup .answer-h'), /as known at revision 1/);

    // Back to the latest data: no as_of anywhere.
    await page.selectOption('#as-of', '');
    await page.waitForSelector('#map[data-zones-as-of="latest"]');
    await settled(page);
    assert.ok((await drawnKeys(page)).includes(KEY));
    assert.doesNotMatch(page.url(), /as_of/);
    clean();
    await context.close();
  });

  test('a link with as_of opens the map as of that revision', async () => {
    const { page, context, clean, zoneRequests } = await openPage(`${VIEW}&as_of=0`, { base: EDITED });
    await settled(page, DATE);
    assert.equal(await page.inputValue('#as-of'), '0', 'the control is restored from the link');
    assert.equal(await page.getAttribute('#map', 'data-zones-as-of'), '0');
    assert.ok(!(await drawnKeys(page)).includes(KEY), 'the zone made by revision 1 is not drawn');
    assert.ok(zoneRequests.length > 0 && zoneRequests.every((u) => new URL(u).searchParams.get('as_of') === '0'), `every zones request is as of revision 0: ${zoneRequests}`);
    assert.match(new URL(page.url()).hash, /[#&]as_of=0(&|$)/, 'the link keeps as_of');
    assert.equal(await page.evaluate(() => document.body.classList.contains('as-of-past')), true, 'the page marks that it shows past data');
    clean();
    await context.close();
  });

  test('on data without edits the control is off and says why', async () => {
    const { page, context, clean } = await openPage('', { base: ELSEWHERE });
    assert.equal((await api('/revisions', ELSEWHERE)).latest, 0);
    assert.equal(await page.isDisabled('#as-of'), true);
    assert.match(await page.textContent('#as-of-hint'), /no edits yet/);
    assert.doesNotMatch(page.url(), /as_of/);
    await page.screenshot({ path: join(SHOTS, 'as-of-no-edits.png'), clip: await page.$eval('#timebar', (t) => t.getBoundingClientRect().toJSON()) });
    // A place's popup asks for its history as it opens: as imported here.
    const place = await page.$eval('.leaflet-marker-icon.loc', (m) => m.dataset.key);
    const asked = page.waitForRequest((r) => r.url().includes(`/collections/locations/items/${place}/history`));
    await page.focus(`.leaflet-marker-icon.loc[data-key="${place}"]`);
    await page.keyboard.press('Enter');
    await asked;
    const urls = record(page);
    await page.waitForSelector('.leaflet-popup .history[data-loaded]');
    assert.match(await page.textContent('.leaflet-popup .history'), /No edits: as imported/);
    await page.waitForTimeout(300);
    assert.deepEqual(urls.filter((u) => u.includes('/history')), [], 'the history is asked for once per opening (the popup re-fitting does not ask again)');
    clean();
    await context.close();
  });
});

describe('a big layer: the zones-100k set (100,000 zones, 3.7 M vertices) drawn from vector tiles', () => {
  // The limits: the first view drawn within 2 s of navigation, and no task blocking the
  // page for 200 ms or more while panning and zooming (long tasks, from PerformanceObserver).
  const FIRST_VIEW_BUDGET_MS = 2000;
  const LONG_TASK_BUDGET_MS = 200;
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  // Before any of the page's scripts: every long task, with its start (ms after navigation).
  const watchLongTasks = () => {
    window.longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.longTasks.push({ start: Math.round(e.startTime), ms: Math.round(e.duration) });
    }).observe({ type: 'longtask', buffered: true });
  };
  /** Waits for a map move to end and its tiles to be drawn. */
  async function tilesDrawn(page) {
    await page.waitForTimeout(350); // Leaflet's zoom/pan animation, before tiles are asked for
    await settled(page);
  }

  before(() => {
    assert.ok(BIG, 'set ZONETRACK_BIG_URL to a server on the zones-100k folder (tests/browser/run does)');
  });

  test('the server advertises tiles for the big zone layer only', async () => {
    const big = await api('/collections', BIG);
    const zones = big.collections.find((c) => c.id === 'zones');
    assert.equal(zones.itemCount, 100000);
    assert.equal(zones['zonetrack:tiles'].preferred, true, JSON.stringify(zones['zonetrack:tiles']));
    assert.ok(zones['zonetrack:tiles'].vertices > 3000000);
    for (const c of big.collections.filter((c) => c.id !== 'zones')) assert.equal(c['zonetrack:tiles'].preferred, false, c.id);
    const small = await api('/collections');
    for (const c of small.collections) assert.equal(c['zonetrack:tiles'].preferred, false, `default set: ${c.id}`);
  });

  test(`the first view is drawn from tiles in under ${FIRST_VIEW_BUDGET_MS} ms (median of 3 cold visits)`, async (t) => {
    const marks = [];
    const notes = [];
    for (let i = 0; i < 3; i++) {
      const tiles = [];
      const { page, context, clean, zoneRequests } = await openPage('', { base: BIG, init: watchLongTasks });
      page.on('request', (r) => r.url().includes('/tiles/zones/') && tiles.push(r.url()));
      const [ms, longest, count] = await page.evaluate(() => [
        performance.getEntriesByName('zones-drawn')[0]?.startTime,
        Math.max(0, ...window.longTasks.map((e) => e.ms)),
        document.querySelectorAll('.leaflet-zones-pane canvas.leaflet-tile-loaded').length,
      ]);
      assert.equal(typeof ms, 'number', 'the page marks zones-drawn');
      marks.push(Math.round(ms));
      notes.push(`${Math.round(ms)} ms (${count} tiles, longest task ${longest} ms)`);
      // No GeoJSON of the zones: not early (boot-view.js), not for the view.
      assert.deepEqual(zoneRequests, [], 'the big zone layer is never asked for as GeoJSON');
      assert.ok(count > 0, 'tiles are drawn in the zones pane');
      assert.equal(await page.getAttribute('#map', 'data-zones-tiles'), 'true');
      // The tiles are not blank: a good share of the view's pixels are painted.
      const painted = await page.$$eval('.leaflet-zones-pane canvas.leaflet-tile-loaded', (cs) => {
        let on = 0, all = 0;
        for (const c of cs) {
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          for (let k = 3; k < d.length; k += 4) {
            all++;
            if (d[k] > 0) on++;
          }
        }
        return on / all;
      });
      assert.ok(painted > 0.05, `the tiles show zones (${(painted * 100).toFixed(1)}% of pixels painted)`);
      if (i === 0) await shot(page, 'zones-100k');
      clean();
      await context.close();
    }
    const mid = median(marks);
    const load = `load average ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs`;
    t.diagnostic(`zones-100k first view: ${notes.join(', ')}; median ${mid} ms; ${load}`);
    console.log(`# zones-100k first view, ms: ${notes.join(', ')}; median ${mid} ms; ${load}`);
    assert.ok(mid < FIRST_VIEW_BUDGET_MS, `first view took ${mid} ms (median of ${marks.join(', ')}; ${load})`);
  });

  test(`panning, zooming and a new date never block the page for ${LONG_TASK_BUDGET_MS} ms`, async (t) => {
    const { page, context, clean } = await openPage('', { base: BIG, init: watchLongTasks });
    const tileUrls = [];
    page.on('request', (r) => r.url().includes('/tiles/zones/') && tileUrls.push(r.url()));
    const date = await page.inputValue('#date-input');
    const start = await page.evaluate(() => performance.now());
    const box = await page.$eval('#map', (m) => m.getBoundingClientRect().toJSON());
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    const drag = async (dx, dy) => {
      await page.mouse.move(cx, cy);
      await page.mouse.down();
      await page.mouse.move(cx + dx, cy + dy, { steps: 12 });
      await page.mouse.up();
      await tilesDrawn(page);
    };
    const steps = [];
    const step = async (name, action) => {
      const t0 = await page.evaluate(() => performance.now());
      await action();
      const tasks = await page.evaluate((from) => window.longTasks.filter((e) => e.start >= from), t0);
      steps.push(`${name}: ${tasks.length ? Math.max(...tasks.map((e) => e.ms)) : 0}`);
    };
    for (let i = 0; i < 2; i++) {
      await step(`zoom in ${i + 1}`, async () => {
        await page.click('.leaflet-control-zoom-in');
        await tilesDrawn(page);
      });
    }
    await shot(page, 'zones-100k-zoomed');
    await step('pan east', () => drag(-350, 0));
    await step('pan south', () => drag(0, -250));
    await step('pan north-west', () => drag(400, 300));
    await step('wheel zoom in', async () => {
      await page.mouse.move(cx, cy);
      await page.mouse.wheel(0, -300);
      await tilesDrawn(page);
    });
    for (let i = 0; i < 4; i++) {
      await step(`zoom out ${i + 1}`, async () => {
        await page.click('.leaflet-control-zoom-out');
        await tilesDrawn(page);
      });
    }
    // A new date: new tiles, asked for with that date.
    const before = tileUrls.length;
    await step('a month earlier', async () => {
      await page.click('#prev-month');
      const next = await page.inputValue('#date-input');
      await settled(page, next);
    });
    const next = await page.inputValue('#date-input');
    assert.notEqual(next, date);
    const fresh = tileUrls.slice(before);
    assert.ok(fresh.length > 0 && fresh.every((u) => new URL(u).searchParams.get('datetime') === next), `tiles asked for with datetime=${next}: ${fresh.slice(0, 3)}`);
    assert.ok(tileUrls.slice(0, before).every((u) => new URL(u).searchParams.get('datetime') === date), `tiles before asked for with datetime=${date}`);

    const tasks = await page.evaluate((from) => window.longTasks.filter((e) => e.start >= from), start);
    const longest = Math.max(0, ...tasks.map((e) => e.ms));
    const load = `load average ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs`;
    t.diagnostic(`zones-100k long tasks while moving (ms, longest per step): ${steps.join(', ')}; ${tasks.length} long tasks, longest ${longest} ms; ${load}`);
    console.log(`# zones-100k while moving, longest task per step (ms): ${steps.join(', ')}; longest ${longest} ms; ${load}`);
    assert.ok(longest < LONG_TASK_BUDGET_MS, `a task blocked the page for ${longest} ms: ${JSON.stringify(tasks)}`);
    clean();
    await context.close();
  });
});
