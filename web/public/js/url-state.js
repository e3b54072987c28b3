// The view a link reproduces: date, centre, zoom, layers, the events window and the revision the
// data is shown as of, kept in the URL fragment
// (#date=2018-02-15&lat=..&lon=..&zoom=..&layers=..&events=30&as_of=3; no as_of: the latest data).
// The fragment never reaches the server, so the page URL stays the same one a user pastes into QGIS.

import { isDay } from './dates.js';

/** How many days before the date events stay on the map; 0 = only events on that day. */
export const EVENT_WINDOWS = [0, 30, 90, 365];

function num(v, min, max) {
  if (v === null || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= min && n <= max ? n : undefined;
}

/**
 * Reads a fragment ("#a=b&c=d" or "a=b&c=d"). Anything missing or malformed is left undefined, so
 * the page falls back to its defaults for that part only.
 * `layers` is a Set of layer ids ("zones.control", "locations", "ref.<reference layer>", "osm").
 */
export function parseFragment(hash) {
  const p = new URLSearchParams(String(hash ?? '').replace(/^#/, ''));
  const out = {};
  const date = p.get('date');
  if (date !== null && isDay(date)) out.date = date;
  const lat = num(p.get('lat'), -85, 85);
  const lon = num(p.get('lon'), -180, 180);
  if (lat !== undefined && lon !== undefined) {
    out.lat = lat;
    out.lon = lon;
  }
  const zoom = num(p.get('zoom'), 0, 22);
  if (zoom !== undefined) out.zoom = Math.round(zoom);
  const layers = p.get('layers');
  if (layers !== null) out.layers = new Set(layers.split(',').map((s) => s.trim()).filter(Boolean));
  const ev = num(p.get('events'), 0, 100000);
  if (ev !== undefined && EVENT_WINDOWS.includes(ev)) out.events = ev;
  // A revision number only (the server also takes a time, but a link should name one revision).
  const asOf = p.get('as_of');
  if (asOf !== null && /^\d{1,15}$/.test(asOf)) out.asOf = Number(asOf);
  return out;
}

/**
 * Writes the fragment for a state; numbers are rounded to what a zoom level can show. `asOf` (a
 * revision number) is written only when set: a link without it follows the latest data.
 */
export function formatFragment({ date, lat, lon, zoom, layers, events, asOf }) {
  // 5 decimals (about 1 m) is more than any zoom level shows; fewer at small scales keeps links short.
  const digits = Math.max(2, Math.min(5, Math.ceil(zoom / 3) + 1));
  const parts = [
    `date=${date}`,
    `lat=${lat.toFixed(digits)}`,
    `lon=${lon.toFixed(digits)}`,
    `zoom=${zoom}`,
    `layers=${[...layers].map(encodeURIComponent).join(',')}`,
    `events=${events}`,
  ];
  if (asOf !== null && asOf !== undefined) parts.push(`as_of=${asOf}`);
  return `#${parts.join('&')}`;
}
