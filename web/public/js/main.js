// The zonetrack map: zones by actor and date over an offline base map drawn from the reference
// layers; click anywhere to ask which zones cover a point; export; the view lives in the URL.
// Two time axes: the date slider says when zones held on the ground (`datetime`); the "as known
// on" control says which revision of the data to show (`as_of`, the latest when unset).
//
// Data flow: every layer is requested from /map/{collection} for the visible box (padded), the
// date and the zoom level, and replaced when the view or date leaves what was fetched. Before
// this module runs, boot.js has asked for /collections (layers, extents) and /actors (names,
// colours, date span), both small, and boot-view.js for the zones of the view the map will open
// at. The zones and the country outline are drawn first, the other layers asked for after, so
// the first render does not queue behind the base map.

import { addDays, addMonths, clampDay, daysBetween, longDay } from './dates.js';
import { ApiError, bboxParam, getJSON, query, readJSON } from './api.js';
import { EVENT_WINDOWS, formatFragment, parseFragment } from './url-state.js';
import { decorateZonePath, kindLabel, kindRank, safeColour, swatch, zoneStyle } from './styles.js';
import { dot, el, eventBlock, historyList, historySection, locationBlock, pointAnswer, revisionTime } from './popups.js';
import { TileLoader, loadTileLibrary, tiled } from './tiles.js';

const L = window.L;
const DATA = ['zones', 'locations', 'events'];
// Margin around the view a layer is asked for, as a fraction of the view (boot-view.js agrees).
const MARGIN = 0.5;
const $ = (id) => document.getElementById(id);

// Reference layers come from /collections (role "reference"), each with its title and style
// (`zonetrack:style`: stroke, width, opacity, dash, fill, fill_opacity, land, order), so the map
// knows no layer by name. The "land" layer (a country's outline) is the offline base map.

/** A reference layer's Leaflet style, from the style its collection declares. */
function leafletStyle(s) {
  const style = { color: safeColour(s?.stroke ?? '#666666'), weight: s?.width ?? 1, opacity: s?.opacity ?? 1 };
  if (s?.dash) style.dashArray = s.dash;
  if (s?.fill) Object.assign(style, { fill: true, fillColor: safeColour(s.fill), fillOpacity: s.fill_opacity ?? 0.2 });
  else style.fill = false;
  return style;
}

const state = {
  date: null,
  span: null, // { from, to }
  layers: new Set(),
  events: 30,
  refs: [], // [{ id, title, style, land, order }], in drawing order
  // Collections the server says to draw from vector tiles (big layers): id -> tile URL template.
  tiles: new Map(),
  files: new Map(), // collection id -> [{ ext, title, rel }]: the exports it links to
  kinds: [], // zone kinds in the data, drawing order
  // Whether the zone kinds shown were chosen (a link's layer list, a toggle): then a kind seen for
  // the first time stays off; otherwise every kind is shown.
  kindsChosen: false,
  actors: new Map(), // id -> { id, name, colour, description }
  placeNames: new Map(), // location key -> name
  osm: 'off', // off | trying | on | unreachable
  // The revision the data is shown as of (`as_of`), or null for the latest data.
  asOf: null,
  // From /revisions: the latest revision number (0: no edits yet) and the newest revisions.
  revisions: { latest: 0, list: [], known: false },
};

let map;
let firstZones = true;
let pending = 0;

function setPending(delta) {
  pending += delta;
  document.body.dataset.pending = String(pending);
  $('busy').hidden = pending === 0;
}

function say(text, { error = false } = {}) {
  const s = $('status');
  s.textContent = text;
  s.classList.toggle('error', error);
  s.hidden = !text;
}

// ---------------------------------------------------------------------------------------------
// Layers fetched by box, date and zoom

/**
 * One /map/{collection} layer: remembers what it last fetched (box, date, zoom) and refetches
 * only when the view leaves that box, the zoom changes or the date does. A newer request aborts
 * an older one, so a slider drag never draws a stale date.
 */
class Loader {
  constructor(id, collection, { dates, draw, versioned = false }) {
    this.id = id;
    this.collection = collection;
    this.dates = dates; // () => datetime parameter or null
    this.draw = draw; // (featureCollection) => Leaflet layer
    // Whether the layer is asked for as of the chosen revision (the editable collections).
    this.versioned = versioned;
    this.fetched = null; // { datetime, zoom, bounds, asOf }
    this.data = null;
    this.layer = null;
    this.ctrl = null;
    this.early = null; // { datetime, zoom, asOf, bbox, response } from boot-view.js
  }

  upToDate(datetime, zoom, bounds, asOf) {
    const f = this.fetched;
    return f && f.datetime === datetime && f.zoom === zoom && f.asOf === asOf && f.bounds.contains(bounds);
  }

  async sync() {
    const zoom = Math.round(map.getZoom());
    const datetime = this.dates();
    const asOf = this.versioned ? state.asOf : null;
    const view = map.getBounds();
    if (this.upToDate(datetime, zoom, view, asOf)) {
      // Back where the last answer holds (a date moved away and back): drop what is under way.
      this.ctrl?.abort();
      if (this.layer && !map.hasLayer(this.layer)) this.redraw();
      return;
    }
    this.ctrl?.abort();
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    // Half a screen of margin each way: small pans need no request.
    let bounds = view.pad(MARGIN);
    const url = `map/${encodeURIComponent(this.collection)}${query({ bbox: bboxParam(bounds), datetime, zoom, as_of: asOf })}`;
    // The request boot-view.js made before Leaflet loaded, if it asked for this view and date.
    const early = this.early;
    this.early = null;
    const earlyBounds = early && L.latLngBounds([early.bbox[1], early.bbox[0]], [early.bbox[3], early.bbox[2]]);
    const useEarly = early && early.datetime === datetime && early.zoom === zoom && (early.asOf ?? null) === asOf && earlyBounds.contains(view);
    if (useEarly) bounds = earlyBounds;
    setPending(+1);
    try {
      const fc = await (useEarly ? readJSON(early.response) : getJSON(url, ctrl.signal));
      if (ctrl !== this.ctrl) return;
      this.fetched = { datetime, zoom, bounds, asOf };
      this.data = fc;
      this.onData?.(fc);
      this.redraw();
      if ($('status').textContent.startsWith(`Could not load ${this.collection}`)) say('');
    } catch (e) {
      if (e.name === 'AbortError') return;
      say(`Could not load ${this.collection}: ${e.message}`, { error: true });
    } finally {
      if (this.ctrl === ctrl) this.ctrl = null;
      setPending(-1);
    }
  }

  redraw() {
    if (!this.data) return;
    const next = this.draw(this.data);
    if (this.layer) this.layer.remove();
    this.layer = next;
    if (next) next.addTo(map);
    this.afterDraw?.(next);
  }

  hide() {
    this.ctrl?.abort();
    if (this.layer) this.layer.remove();
  }
}

const loaders = new Map();

function drawZones(fc) {
  const features = fc.features
    .filter((f) => state.layers.has(`zones.${f.properties.kind}`) || (!state.kindsChosen && !state.kinds.includes(f.properties.kind)))
    .map((f, i) => [f, i])
    .sort((a, b) => kindRank(a[0].properties.kind) - kindRank(b[0].properties.kind) || a[1] - b[1])
    .map(([f]) => f);
  return L.geoJSON(
    { type: 'FeatureCollection', features },
    { pane: 'zones', interactive: false, style: (f) => zoneStyle(f.properties) },
  );
}

function afterZones(layer) {
  layer.eachLayer((l) => decorateZonePath(l.getElement(), l.feature.properties));
  if (firstZones && layer.getLayers().length > 0) {
    firstZones = false;
    performance.mark('zones-drawn');
  }
  zonesShown(layer.getLayers().length);
}

/** Marks on the map element what the zones drawn are (date, revision, count), for tests. */
function zonesShown(count) {
  const fetched = loaders.get('zones').fetched;
  if (!fetched) return;
  const m = $('map');
  m.dataset.zonesDate = fetched.datetime;
  m.dataset.zonesAsOf = fetched.asOf === null ? 'latest' : String(fetched.asOf);
  m.dataset.zonesCount = String(count);
}

/** After a tiled zone layer has drawn the tiles in view. */
function afterZoneTiles() {
  if (firstZones) {
    firstZones = false;
    performance.mark('zones-drawn');
  }
  $('map').dataset.zonesTiles = 'true';
  zonesShown('tiles');
  updateLegend();
}

function actorName(id) {
  return state.actors.get(id)?.name ?? id;
}

function markerIcon(cls, size) {
  return L.divIcon({ className: cls, iconSize: [size, size], html: '' });
}

function kindClass(kind) {
  return String(kind ?? 'other').replace(/[^a-z0-9_-]/gi, '');
}

const BIG_PLACES = new Set(['capital', 'city']);
const BASES = new Set(['airbase', 'naval_base', 'military_base']);

function drawLocations(fc) {
  const group = L.layerGroup();
  for (const f of fc.features) {
    if (f.geometry?.type !== 'Point') continue;
    const p = f.properties;
    const [lon, lat] = f.geometry.coordinates;
    const base = BASES.has(p.kind);
    const size = base ? 11 : p.kind === 'capital' ? 11 : BIG_PLACES.has(p.kind) ? 8 : 6;
    const m = L.marker([lat, lon], {
      icon: markerIcon(`loc loc-${kindClass(p.kind)}${base ? ' base' : ''}`, size),
      title: `${p.name} (${kindLabel(p.kind)})`,
      alt: p.name,
      keyboard: true,
      riseOnHover: true,
    });
    bindHistoryPopup(m, () => locationBlock(p, actorName), 'locations', p.key);
    if (BIG_PLACES.has(p.kind) || base) {
      m.bindTooltip(shortName(p.name), {
        permanent: true,
        direction: 'right',
        offset: [5, 0],
        className: `place-label${base ? ' base-label' : ''}`,
        interactive: false,
      });
    }
    m.on('add', () => {
      const e = m.getElement();
      if (e && p.actor) e.style.setProperty('--actor', safeColour(state.actors.get(p.actor)?.colour));
      e?.setAttribute('data-key', p.key ?? '');
    });
    group.addLayer(m);
  }
  return group;
}

/** "Some Airbase (other spellings)" -> "Some Airbase": labels stay short. */
function shortName(name) {
  return String(name ?? '').replace(/\s*\(.*\)\s*$/, '');
}

function drawEvents(fc) {
  const group = L.layerGroup();
  for (const f of fc.features) {
    if (f.geometry?.type !== 'Point') continue;
    const p = f.properties;
    const [lon, lat] = f.geometry.coordinates;
    const m = L.marker([lat, lon], {
      icon: markerIcon(`evt evt-${kindClass(p.kind)}`, 14),
      title: `${p.date}: ${p.name}`,
      alt: p.name,
      keyboard: true,
      riseOnHover: true,
      zIndexOffset: 1000,
    });
    bindHistoryPopup(m, () => eventBlock(p, actorName, (k) => state.placeNames.get(k) ?? k), 'events', p.key);
    m.on('add', () => m.getElement()?.setAttribute('data-key', p.key ?? ''));
    group.addLayer(m);
  }
  return group;
}

/**
 * Each reference layer gets its own pane, stacked in the order its style declares: areas under
 * the zones, lines over them, whatever order the requests finish in.
 */
function refPane(id, line) {
  const name = `ref-${id.replace(/[^a-z0-9_-]/gi, '')}`;
  // The land layer is the base map: below every other area, whatever its declared order (its
  // fill is opaque). Other areas stack in style order above it, lines above the zones.
  const land = state.refs.find((r) => r.id === id)?.land;
  const z = land ? 240 : (line ? 450 : 250) + refRank(`ref.${id}`);
  if (!map.getPane(name)) map.createPane(name).style.zIndex = String(z);
  return name;
}

function drawRef(ref) {
  const id = ref.id;
  return (fc) => {
    const line = fc.features.some((f) => /LineString$/.test(f.geometry?.type ?? ''));
    const style = ref.style;
    // Over OpenStreetMap tiles the land layer is an outline only.
    const landFill = ref.land && state.osm === 'on' ? { fillOpacity: 0 } : {};
    return L.geoJSON(fc, {
      pane: refPane(id, line),
      interactive: false,
      style: () => ({ ...style, ...landFill }),
    });
  };
}

function eventsWindow() {
  return state.events === 0 ? state.date : `${addDays(state.date, -state.events)}/${state.date}`;
}

function setupLoaders() {
  const zoneTiles = state.tiles.get('zones');
  let zones;
  if (zoneTiles) {
    // A big zone layer: drawn from vector tiles on canvas (tiles.js), not as SVG paths.
    zones = new TileLoader({
      map: () => map,
      collection: 'zones',
      href: zoneTiles,
      dates: () => state.date,
      asOf: () => state.asOf,
      shown: (kind) => state.layers.has(`zones.${kind}`) || (!state.kindsChosen && !state.kinds.includes(kind)),
      pending: setPending,
      pane: 'zones',
    });
    zones.afterDraw = afterZoneTiles;
  } else {
    zones = new Loader('zones', 'zones', { dates: () => state.date, draw: drawZones, versioned: true });
    zones.afterDraw = afterZones;
    zones.onData = (fc) => {
      noteKinds(fc.features.map((f) => f.properties.kind));
      noteActors(fc.features.map((f) => f.properties));
      updateLegend();
    };
  }
  loaders.set('zones', zones);
  loaders.set('locations', new Loader('locations', 'locations', { dates: () => state.date, draw: drawLocations, versioned: true }));
  loaders.set('events', new Loader('events', 'events', { dates: eventsWindow, draw: drawEvents, versioned: true }));
  // Reference layers (the base map) are read-only: no revision changes them, so they are not
  // asked for again when the revision changes.
  for (const r of state.refs) {
    loaders.set(`ref.${r.id}`, new Loader(`ref.${r.id}`, r.id, { dates: () => null, draw: drawRef(r) }));
  }
}

function layerOn(loaderId) {
  if (loaderId === 'zones') return !state.kindsChosen || [...state.layers].some((l) => l.startsWith('zones.'));
  return state.layers.has(loaderId);
}

/** Adds zone kinds not seen before (to the toggles, and shown unless kinds were chosen). */
function noteKinds(kinds) {
  const fresh = [...new Set(kinds)].filter((k) => k && !state.kinds.includes(k));
  if (fresh.length === 0) return;
  state.kinds = [...state.kinds, ...fresh].sort((a, b) => kindRank(a) - kindRank(b));
  if (!state.kindsChosen) {
    for (const k of fresh) state.layers.add(`zones.${k}`);
    if (map && state.date) writeUrl();
  }
  if ($('zone-kinds').dataset.built) {
    buildZoneToggles();
    updateExports();
  }
}

/** Actors named by zone features, for a server without /actors. */
function noteActors(props) {
  for (const p of props) {
    if (p.actor && !state.actors.has(p.actor)) state.actors.set(p.actor, { id: p.actor, name: p.actor_name ?? p.actor, colour: p.colour });
  }
}

/** Brings every shown layer up to date with the view and date; resolves when all are drawn. */
function refresh() {
  if (!state.date) return Promise.resolve();
  const jobs = [];
  for (const id of loaders.keys()) {
    const l = loaders.get(id);
    if (layerOn(id)) jobs.push(l.sync());
    else l.hide();
  }
  return Promise.all(jobs);
}

function refRank(id) {
  if (!id.startsWith('ref.')) return -1;
  const i = state.refs.findIndex((r) => r.id === id.slice(4));
  return i < 0 ? state.refs.length : i;
}

/** The land layer's loader (the base map), if the data has one. */
function landLoader() {
  const land = state.refs.find((r) => r.land);
  return land ? loaders.get(`ref.${land.id}`) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Asking about a point

let queryCtrl = null;
let queryAt = null;
const queryLayer = () => (queryLayer.g ??= L.layerGroup().addTo(map));
const queryPopup = () =>
  (queryPopup.p ??= L.popup({ ...popupOptions(), className: 'query-popup', autoPanPadding: [20, 20] }).on('remove', () => {
    queryAt = null;
    queryCtrl?.abort();
    queryLayer().clearLayers();
  }));

function popupOptions() {
  const h = $('map').clientHeight;
  return { maxWidth: 340, minWidth: 220, maxHeight: Math.max(180, Math.round(h * 0.62)) };
}

async function ask(latlng) {
  const ll = latlng.wrap();
  queryAt = ll;
  queryCtrl?.abort();
  const ctrl = new AbortController();
  queryCtrl = ctrl;
  const g = queryLayer();
  g.clearLayers();
  L.circleMarker(ll, { pane: 'query', radius: 5, color: '#111', weight: 2, fillColor: '#fff', fillOpacity: 1, interactive: false }).addTo(g);
  const popup = queryPopup();
  popup.setLatLng(ll).setContent(el('p', { cls: 'muted', text: `Asking which zones cover this point on ${state.date}…` }));
  if (!map.hasLayer(popup)) popup.openOn(map);
  const date = state.date;
  setPending(+1);
  try {
    const ans = await getJSON(
      `query/point${query({ lon: ll.lng.toFixed(5), lat: ll.lat.toFixed(5), datetime: date, nearest: 3, as_of: state.asOf })}`,
      ctrl.signal,
    );
    if (ctrl !== queryCtrl) return;
    for (const n of ans.nearest ?? []) {
      if (!Array.isArray(n.nearest_point)) continue;
      const [lon, lat] = n.nearest_point;
      L.polyline([ll, [lat, lon]], { pane: 'query', color: safeColour(n.colour), weight: 2, dashArray: '3 5', interactive: false }).addTo(g);
      L.circleMarker([lat, lon], { pane: 'query', radius: 3, color: safeColour(n.colour), weight: 2, fillOpacity: 1, interactive: false }).addTo(g);
    }
    const answer = pointAnswer(ans, { asOf: state.asOf });
    // A zone's history is asked for when its details are first opened (not for every zone of
    // every answer).
    for (const d of answer.querySelectorAll('details.zone')) {
      const box = historySection();
      d.append(box);
      d.addEventListener('toggle', () => {
        if (d.open) loadHistory('zones', d.dataset.key, box, () => popup.update());
      });
    }
    // Opening a zone's details makes the popup taller: let Leaflet re-fit and re-pan it.
    answer.addEventListener('toggle', () => popup.update(), true);
    popup.setContent(answer);
    $('map').dataset.answerDate = date;
  } catch (e) {
    if (e.name === 'AbortError') return;
    const msg = e instanceof ApiError ? e.message : `the server could not be reached (${e.message})`;
    popup.setContent(el('p', { cls: 'error', text: `Could not ask about this point: ${msg}` }));
  } finally {
    if (queryCtrl === ctrl) queryCtrl = null;
    setPending(-1);
  }
}

// ---------------------------------------------------------------------------------------------
// History of a feature and the "as known on" control

/**
 * Fills `box` (a historySection) with the history of feature `key` in `collection`, once, as of
 * the revision shown. `done` runs when the list is in (the popup re-fits).
 */
async function loadHistory(collection, key, box, done) {
  if (!key || box.dataset.loading) return;
  box.dataset.loading = 'true';
  const asOf = state.asOf;
  const path = `collections/${encodeURIComponent(collection)}/items/${encodeURIComponent(key)}/history${query({ as_of: asOf })}`;
  let content;
  try {
    content = historyList(await getJSON(path), asOf);
  } catch (e) {
    const msg = e instanceof ApiError ? e.message : `the server could not be reached (${e.message})`;
    content = el('p', { cls: 'error small', text: `Could not load its history: ${msg}` });
  }
  box.querySelector('.history-wait')?.replaceWith(content);
  box.dataset.loaded = 'true';
  done?.();
}

/**
 * A place's or event's popup: `build()`'s content with the feature's history under it, asked for
 * as the popup opens. The content is built once per opening: Leaflet calls a content function
 * again on every update(), which would ask again and never show the answer.
 */
function bindHistoryPopup(marker, build, collection, key) {
  let content = null;
  marker.bindPopup(() => {
    if (content) return content;
    content = build();
    const box = historySection();
    content.append(box);
    loadHistory(collection, key, box, () => marker.getPopup()?.update());
    return content;
  }, popupOptions());
  marker.on('popupclose', () => {
    content = null;
  });
}

/** One revision as the control lists it: number, time, author and message. */
function revisionLabel(r) {
  const msg = String(r.message ?? '');
  const short = msg.length > 60 ? `${msg.slice(0, 59)}…` : msg;
  return `r${r.revision} · ${revisionTime(r.time)} · ${r.author ?? 'unknown'}${short ? `: ${short}` : ''}`;
}

/** Asks for the newest revisions (the control's list); without /revisions the control stays off. */
async function loadRevisions() {
  try {
    const ans = await getJSON(`revisions${query({ limit: 100 })}`);
    state.revisions = { latest: Number(ans.latest) || 0, list: Array.isArray(ans.revisions) ? ans.revisions : [], known: true };
  } catch {
    state.revisions = { latest: 0, list: [], known: false };
  }
}

/** Rebuilds the "as known on" list: the latest data, each revision newest first, then as imported. */
function buildAsOf() {
  const sel = $('as-of');
  const { latest, list, known } = state.revisions;
  sel.replaceChildren(el('option', { attrs: { value: '' }, text: latest > 0 ? `latest data (r${latest})` : 'latest data' }));
  const listed = new Set();
  for (const r of list) {
    sel.append(el('option', { attrs: { value: String(r.revision) }, text: revisionLabel(r) }));
    listed.add(Number(r.revision));
  }
  // A link may name a revision older than the list holds.
  if (state.asOf !== null && state.asOf > 0 && !listed.has(state.asOf)) {
    sel.append(el('option', { attrs: { value: String(state.asOf) }, text: `r${state.asOf}` }));
  }
  if (latest > 0) sel.append(el('option', { attrs: { value: '0' }, text: 'r0 · as imported, before any edit' }));
  sel.disabled = latest === 0;
  sel.value = state.asOf === null ? '' : String(state.asOf);
  showAsOf();
  if (!known) $('as-of-hint').textContent = 'this server keeps no revisions';
}

/** The hint beside the control, and the page's mark that it shows past data. */
function showAsOf() {
  const hint = $('as-of-hint');
  const { latest } = state.revisions;
  if (latest === 0) hint.textContent = 'no edits yet';
  else if (state.asOf === null) hint.textContent = 'every edit shown';
  else if (state.asOf === 0) hint.textContent = 'the data as imported: every edit hidden';
  else hint.textContent = `edits after r${state.asOf} hidden`;
  document.body.classList.toggle('as-of-past', state.asOf !== null);
  $('as-of').value = state.asOf === null ? '' : String(state.asOf);
}

/** Shows the data as of revision `n` (null: the latest), everywhere the map asks for data. */
function setAsOf(n) {
  state.asOf = n;
  showAsOf();
  writeUrl();
  updateExports();
  loadPlaceNames();
  const done = refresh();
  if (queryAt && map.hasLayer(queryPopup())) ask(queryAt);
  return done;
}

/** A link's revision, if the data has it; otherwise the latest data, and the page says why. */
function checkedAsOf(n) {
  if (n === undefined || n === null) return null;
  if (n > state.revisions.latest) {
    say(`This link shows the data as of revision ${n}, but the data has ${state.revisions.latest ? `revisions up to ${state.revisions.latest}` : 'no edits'}: showing the latest data.`);
    return null;
  }
  return n;
}

function setupAsOf() {
  buildAsOf();
  $('as-of').addEventListener('change', (e) => {
    const v = e.target.value;
    setAsOf(v === '' ? null : Number(v));
  });
}

/** Place names for event popups, as of the revision shown. */
function loadPlaceNames() {
  getJSON(`map/locations${query({ as_of: state.asOf })}`).then(
    (fc) => {
      state.placeNames.clear();
      fc.features.forEach((f) => state.placeNames.set(f.properties.key, f.properties.name));
    },
    () => {},
  );
}

// ---------------------------------------------------------------------------------------------
// Date

let playing = false;
let dateTimer = null;

function setDate(d, { now = true } = {}) {
  const next = clampDay(d, state.span.from, state.span.to);
  state.date = next;
  showDate();
  writeUrl();
  updateLegend();
  updateExports();
  clearTimeout(dateTimer);
  const go = () => {
    const done = refresh();
    if (queryAt && map.hasLayer(queryPopup())) ask(queryAt);
    return done;
  };
  if (now) return go();
  // While a slider is dragged, wait for it to rest a moment before asking the server.
  return new Promise((resolve) => {
    dateTimer = setTimeout(() => go().then(resolve), 120);
  });
}

function showDate() {
  const s = $('date-slider');
  s.value = String(daysBetween(state.span.from, state.date));
  s.setAttribute('aria-valuetext', longDay(state.date));
  $('date-input').value = state.date;
  $('date-label').textContent = longDay(state.date);
  $('prev-month').disabled = state.date <= state.span.from;
  $('next-month').disabled = state.date >= state.span.to;
}

/** Sets the slider and the date field to the span; wires the controls the first time. */
function setupTime() {
  const s = $('date-slider');
  s.min = '0';
  s.max = String(daysBetween(state.span.from, state.span.to));
  s.step = '1';
  $('date-input').min = state.span.from;
  $('date-input').max = state.span.to;
  $('span-from').textContent = state.span.from;
  $('span-to').textContent = state.span.to;
  for (const id of ['date-slider', 'date-input', 'prev-month', 'next-month', 'play']) $(id).disabled = false;
  if (s.dataset.wired) return;
  s.dataset.wired = 'true';
  s.addEventListener('input', () => {
    stopPlay();
    setDate(addDays(state.span.from, Number(s.value)), { now: false });
  });
  $('date-input').addEventListener('change', (e) => {
    stopPlay();
    if (e.target.value) setDate(e.target.value);
  });
  $('prev-month').addEventListener('click', () => {
    stopPlay();
    setDate(addMonths(state.date, -1));
  });
  $('next-month').addEventListener('click', () => {
    stopPlay();
    setDate(addMonths(state.date, 1));
  });
  $('play').addEventListener('click', () => (playing ? stopPlay() : play()));
}

async function play() {
  playing = true;
  const b = $('play');
  b.setAttribute('aria-pressed', 'true');
  b.textContent = 'Pause';
  if (state.date >= state.span.to) await setDate(state.span.from);
  while (playing) {
    await new Promise((r) => setTimeout(r, 450));
    if (!playing) break;
    if (state.date >= state.span.to) break;
    // A week a step: the data changes on exact days, which month steps would skip.
    await setDate(addDays(state.date, 7));
  }
  stopPlay();
}

function stopPlay() {
  if (!playing) return;
  playing = false;
  const b = $('play');
  b.setAttribute('aria-pressed', 'false');
  b.textContent = 'Play';
}

// ---------------------------------------------------------------------------------------------
// URL

/** Layer ids in a fixed order (zone kinds, places, events, base map), so links compare equal. */
function orderedLayers() {
  const rank = (id) => {
    if (id.startsWith('zones.')) return kindRank(id.slice(6));
    if (id === 'locations') return 100;
    if (id === 'events') return 101;
    if (id.startsWith('ref.')) return 200 + refRank(id);
    return 300;
  };
  return [...state.layers].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

function writeUrl() {
  if (!state.date) return;
  const c = map.getCenter().wrap();
  const frag = formatFragment({ date: state.date, lat: c.lat, lon: c.lng, zoom: Math.round(map.getZoom()), layers: orderedLayers(), events: state.events, asOf: state.asOf });
  if (location.hash !== frag) history.replaceState(null, '', frag);
  $('qgis-link').value = serviceUrl();
}

function defaultLayers() {
  const s = new Set(['locations', 'events']);
  for (const k of state.kinds) s.add(`zones.${k}`);
  for (const r of state.refs) s.add(`ref.${r.id}`);
  return s;
}

/** Applies a fragment (a pasted link): date, view, layers, events window, revision. */
function applyFragment(frag) {
  if (frag.layers) {
    state.layers = new Set(frag.layers);
    state.kindsChosen = true;
  }
  if (frag.events !== undefined) state.events = frag.events;
  if (frag.lat !== undefined) map.setView([frag.lat, frag.lon], frag.zoom ?? map.getZoom(), { animate: false });
  else if (frag.zoom !== undefined) map.setZoom(frag.zoom, { animate: false });
  syncToggles();
  if (state.osm !== 'on' && state.layers.has('osm')) tryOsm();
  if (!state.layers.has('osm') && osmLayer) dropOsm();
  const asOf = checkedAsOf(frag.asOf);
  if (asOf !== state.asOf) {
    state.asOf = asOf;
    showAsOf();
    loadPlaceNames();
  }
  setDate(frag.date ?? state.date);
}

// ---------------------------------------------------------------------------------------------
// Panel: layers, legend, exports, QGIS

function checkbox(id, label, extra) {
  const input = el('input', { attrs: { type: 'checkbox', id: `t-${id}`, 'data-layer': id } });
  input.checked = state.layers.has(id);
  input.addEventListener('change', () => {
    if (input.checked) state.layers.add(id);
    else state.layers.delete(id);
    if (id === 'osm') {
      if (input.checked) tryOsm();
      else dropOsm();
    }
    if (id.startsWith('zones.')) {
      state.kindsChosen = true;
      loaders.get('zones').redraw();
    }
    writeUrl();
    updateExports();
    refresh();
  });
  return el('label', { cls: 'toggle', attrs: { for: `t-${id}` } }, input, extra ?? null, el('span', { text: label }));
}

function syncToggles() {
  for (const i of document.querySelectorAll('input[data-layer]')) i.checked = state.layers.has(i.dataset.layer);
  $('events-window').value = String(state.events);
}

function buildZoneToggles() {
  const zones = $('zone-kinds');
  zones.replaceChildren();
  for (const k of state.kinds) zones.append(checkbox(`zones.${k}`, kindLabel(k), swatch({ kind: k, colour: '#5a5a5a', confidence: 'medium' })));
  zones.dataset.built = 'true';
}

function buildToggles() {
  buildZoneToggles();
  const places = $('place-layers');
  places.replaceChildren(
    checkbox('locations', 'Places and bases', el('span', { cls: 'key-loc', attrs: { 'aria-hidden': 'true' } })),
    checkbox('events', 'Events', el('span', { cls: 'key-evt', attrs: { 'aria-hidden': 'true' } })),
  );
  const win = $('events-window');
  win.replaceChildren(
    ...EVENT_WINDOWS.map((d) => el('option', { attrs: { value: String(d) }, text: d === 0 ? 'on the date only' : `in the ${d} days to the date` })),
  );
  win.value = String(state.events);
  win.addEventListener('change', () => {
    state.events = Number(win.value);
    writeUrl();
    updateExports();
    refresh();
  });
  const refs = $('ref-layers');
  refs.replaceChildren();
  for (const r of state.refs) refs.append(checkbox(`ref.${r.id}`, r.title));
  refs.append(checkbox('osm', 'OpenStreetMap tiles (online)'));
}

/** The actors, those with no zone on the map on this date greyed. */
function updateLegend() {
  const ul = $('legend-actors');
  const zones = loaders.get('zones');
  // Tiled zones are not held as features: every actor stays listed as present.
  const current = zones?.fetched?.datetime === state.date && zones.data ? zones.data.features : null;
  const present = current ? new Set(current.map((f) => f.properties.actor)) : null;
  ul.replaceChildren();
  for (const a of state.actors.values()) {
    const on = !present || present.has(a.id);
    const li = el('li', { cls: on ? '' : 'absent', attrs: { 'data-actor': a.id, title: a.description ?? '' } }, dot(a.colour), el('span', { text: a.name }));
    if (!on) li.append(el('span', { cls: 'muted', text: ' (none here on this date)' }));
    ul.append(li);
  }
}

function buildConfidenceKey() {
  const ul = $('legend-confidence');
  ul.replaceChildren(
    el('li', {}, swatch({ kind: 'control', colour: '#5a5a5a', confidence: 'medium' }), el('span', { text: 'High or medium confidence' })),
    el('li', {}, swatch({ kind: 'control', colour: '#5a5a5a', confidence: 'low' }), el('span', { text: 'Low confidence: hatched, dashed edge' })),
  );
}

function download(href, name, text) {
  return el('a', { cls: 'dl', text, attrs: { href, download: name } });
}

function updateExports() {
  const ul = $('exports');
  ul.replaceChildren();
  const rows = [];
  const d = state.date;
  // The editable layers' files as of the revision shown (named for it), like the map.
  const v = state.asOf === null ? '' : `&as_of=${state.asOf}`;
  const sv = state.asOf === null ? '' : `-r${state.asOf}`;
  const known = state.asOf === null ? '' : `, as known at r${state.asOf}`;
  if (layerOn('zones')) rows.push(['zones', `Zones on ${d} (all kinds)${known}`, `datetime=${d}${v}`, `zones-${d}${sv}`]);
  if (layerOn('locations')) rows.push(['locations', `Places on ${d}${known}`, `datetime=${d}${v}`, `locations-${d}${sv}`]);
  if (layerOn('events')) {
    const w = eventsWindow();
    rows.push(['events', `${state.events === 0 ? `Events on ${d}` : `Events ${w.replace('/', ' to ')}`}${known}`, `datetime=${encodeURIComponent(w)}${v}`, `events-${w.replace('/', '_')}${sv}`]);
  }
  for (const r of state.refs) if (layerOn(`ref.${r.id}`)) rows.push([r.id, r.title, null, r.id]);
  for (const [coll, label, q, stem] of rows) {
    const li = el('li', {}, el('span', { cls: 'what', text: label }));
    const links = el('span', { cls: 'links' });
    // The files each collection lists (`enclosure` data, `describedby` its QGIS style).
    for (const f of state.files.get(coll) ?? []) {
      const qs = q && f.rel === 'enclosure' ? `?${q}` : '';
      links.append(download(`export/${coll}.${f.ext}${qs}`, `${stem}.${f.ext}`, f.title));
    }
    li.append(links);
    ul.append(li);
  }
  if (rows.length === 0) ul.append(el('li', { cls: 'muted', text: 'No layer is shown.' }));
}

/** The URL a QGIS or GDAL user pastes: the service root, which is this page's address. */
function serviceUrl() {
  return `${location.origin}${location.pathname}`.replace(/\/$/, '');
}

function setupPanel() {
  const toggle = $('panel-toggle');
  const setOpen = (open) => {
    document.body.classList.toggle('panel-open', open);
    toggle.setAttribute('aria-expanded', String(open));
    setTimeout(() => map.invalidateSize(), 0);
  };
  toggle.addEventListener('click', () => setOpen(!document.body.classList.contains('panel-open')));
  $('panel-close').addEventListener('click', () => {
    setOpen(false);
    toggle.focus();
  });
  $('qgis-copy').addEventListener('click', async () => {
    const input = $('qgis-link');
    try {
      await navigator.clipboard.writeText(input.value);
      $('qgis-copied').textContent = 'Copied.';
    } catch {
      input.select();
      $('qgis-copied').textContent = 'Selected: press Ctrl+C to copy.';
    }
  });
  $('qgis-link').value = serviceUrl();
}

// ---------------------------------------------------------------------------------------------
// Optional OpenStreetMap tiles

let osmLayer = null;

/**
 * Tries the OpenStreetMap tile server with one probe image and adds the tile layer only if it
 * loads. It is off by default: offline (the usual case for this tool) the probe's failure is a
 * network error in the browser console, and without a click the page contacts no third party.
 */
function tryOsm() {
  if (state.osm === 'trying' || state.osm === 'on') return;
  state.osm = 'trying';
  $('osm-note').textContent = 'Trying tile.openstreetmap.org…';
  const img = new Image();
  img.onload = () => {
    if (!state.layers.has('osm')) return;
    state.osm = 'on';
    osmLayer = L.tileLayer('https://tile.openstreetmap.org/{z}/{x}/{y}.png', {
      maxZoom: 19,
      attribution: '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
    }).addTo(map);
    $('osm-note').textContent = '';
    landLoader()?.redraw();
  };
  img.onerror = () => {
    state.osm = 'unreachable';
    state.layers.delete('osm');
    syncToggles();
    writeUrl();
    $('osm-note').textContent = 'OpenStreetMap is unreachable; the offline base map stays.';
  };
  img.src = 'https://tile.openstreetmap.org/0/0/0.png';
}

function dropOsm() {
  osmLayer?.remove();
  osmLayer = null;
  state.osm = 'off';
  $('osm-note').textContent = '';
  landLoader()?.redraw();
}

// ---------------------------------------------------------------------------------------------
// Start

/**
 * The span the slider covers, from zones' validity intervals: first to last day of the zones
 * bounded at both ends. Open-ended background zones (an agreement line in force for decades)
 * would otherwise stretch a slider of a year or two back by decades.
 */
function boundedSpan(props) {
  const bounded = props.filter((p) => p.valid_from && p.valid_to);
  if (bounded.length === 0) return null;
  return {
    from: bounded.map((p) => p.valid_from).sort()[0],
    to: bounded.map((p) => p.valid_to).sort().at(-1),
  };
}

/**
 * The zone kinds and the slider's span when /actors does not give them: every zone of every date
 * without geometry to speak of (simplified for zoom 0), asked for after the first render.
 */
async function learnFromAllZones() {
  const fc = await getJSON(`map/zones${query({ zoom: 0 })}`);
  const props = fc.features.map((f) => f.properties);
  noteKinds(props.map((p) => p.kind));
  noteActors(props);
  const span = boundedSpan(props);
  if (span) setSpan(span);
}

function setSpan(span) {
  state.span = span;
  setupTime();
  if (state.date) {
    const d = clampDay(state.date, span.from, span.to);
    if (d !== state.date) setDate(d);
    else showDate();
  }
}

function viewFrom(collections) {
  const bb = (c) => c?.extent?.spatial?.bbox?.[0];
  const land = collections.find((c) => c['zonetrack:role'] === 'reference' && c['zonetrack:style']?.land);
  const b = bb(collections.find((c) => c['zonetrack:role'] === 'zones')) ?? bb(land);
  // No zones and no land layer: the whole world.
  return b ? L.latLngBounds([b[1], b[0]], [b[3], b[2]]) : L.latLngBounds([-60, -170], [75, 170]);
}

async function start() {
  const frag = parseFragment(location.hash);
  map = L.map('map', { zoomSnap: 1, minZoom: 3, maxZoom: 14, worldCopyJump: false, keyboard: true });
  map.attributionControl.addAttribution('Zones: <a href="collections">zonetrack</a>, approximate');
  for (const [name, z] of [['zones', 400], ['query', 640]]) map.createPane(name).style.zIndex = String(z);
  map.getContainer().setAttribute('aria-describedby', 'map-help');

  const boot = window.zonetrackBoot ?? { collections: fetch('collections'), actors: fetch('actors') };
  // The layer list, the actors and the date span are the latest data's, whatever revision is
  // shown: the slider and the legend stay put while the revision changes.
  const [listing, about] = await Promise.all([
    readJSON(boot.collections),
    // An older server has no /actors: the actors then come from the zones themselves.
    readJSON(boot.actors).catch(() => null),
    loadRevisions(),
  ]);
  state.asOf = checkedAsOf(frag.asOf);
  const collections = listing.collections ?? [];
  for (const c of collections) {
    const href = tiled(c);
    if (href) state.tiles.set(c.id, href);
  }
  // The tile renderer is only fetched when a layer needs it; start now, while the rest sets up.
  if (state.tiles.size > 0) loadTileLibrary().catch(() => {});
  for (const c of collections) {
    const files = (c.links ?? [])
      .filter((l) => (l.rel === 'enclosure' || l.rel === 'describedby') && /\/export\/[^/]+$/.test(l.href.split('?')[0]))
      .map((l) => ({ ext: l.href.split('?')[0].split('.').pop(), title: String(l.title ?? '').replace(/^Download as /, ''), rel: l.rel }));
    state.files.set(c.id, files);
  }
  state.refs = collections
    .filter((c) => c['zonetrack:role'] === 'reference' || (!c['zonetrack:role'] && !DATA.includes(c.id)))
    .map((c) => {
      const s = c['zonetrack:style'] ?? {};
      return { id: c.id, title: c.title ?? c.id, style: leafletStyle(s), land: Boolean(s.land), order: s.order ?? 100 };
    })
    .sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
  if (frag.lat !== undefined) map.setView([frag.lat, frag.lon], frag.zoom ?? 7, { animate: false });
  else {
    map.fitBounds(viewFrom(collections), { animate: false, padding: [8, 8] });
    if (frag.zoom !== undefined) map.setZoom(frag.zoom, { animate: false });
  }

  for (const a of about?.actors ?? []) state.actors.set(a.id, a);
  if (Array.isArray(about?.zone_kinds)) noteKinds(about.zone_kinds);
  state.kindsChosen = Boolean(frag.layers);
  state.layers = frag.layers ? new Set(frag.layers) : defaultLayers();
  if (frag.events !== undefined) state.events = frag.events;
  const span = Array.isArray(about?.date_span) ? { from: about.date_span[0], to: about.date_span[1] } : null;
  // Without kinds from /actors (or without /actors) the full zone list fills in the rest; it
  // is needed before the first render only when there is no date span at all.
  const needAll = !Array.isArray(about?.zone_kinds) || !span;
  if (span) state.span = span;
  else await learnFromAllZones();
  state.date = clampDay(frag.date ?? state.span.to, state.span.from, state.span.to);

  setupLoaders();
  buildToggles();
  buildConfidenceKey();
  setupPanel();
  setupTime();
  setupAsOf();
  showDate();
  writeUrl();
  updateExports();
  if (state.layers.has('osm')) tryOsm();

  // Base names crowd the country-wide view; they appear from zoom 8 (the squares stay).
  const zoomClass = () => map.getContainer().classList.toggle('few-labels', map.getZoom() < 8);
  zoomClass();
  map.on('zoomend', zoomClass);
  map.on('moveend', () => {
    writeUrl();
    refresh();
  });
  map.on('click', (e) => ask(e.latlng));
  map.getContainer().addEventListener('keydown', (e) => {
    if (e.target === map.getContainer() && (e.key === 'Enter' || e.key === ' ')) {
      e.preventDefault();
      ask(map.getCenter());
    }
  });
  window.addEventListener('hashchange', () => applyFragment(parseFragment(location.hash)));

  // The zones and the outline first: the first render should not queue behind the base map.
  loaders.get('zones').early = await (boot.zones ?? null);
  const land = state.refs.find((r) => r.land);
  const first = ['zones', land && `ref.${land.id}`].filter((id) => id && loaders.has(id) && layerOn(id));
  await Promise.all(first.map((id) => loaders.get(id).sync()));
  await refresh();
  if (needAll && span) await learnFromAllZones().catch(() => {});
  // Place names for event popups.
  loadPlaceNames();
  document.body.dataset.ready = 'true';
}

start().catch((e) => {
  say(`The map could not start: ${e.message}`, { error: true });
  document.body.dataset.ready = 'error';
});
