// Popup and panel content, built as DOM nodes with textContent so no text from the data is ever
// parsed as HTML.

import { period } from './dates.js';
import { kindLabel, safeColour } from './styles.js';

/** document.createElement with a class, text and children. */
export function el(tag, { cls, text, attrs } = {}, ...children) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (attrs) for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, v);
  for (const c of children) if (c) e.append(c);
  return e;
}

/** A coloured dot for an actor (colour set through the CSSOM, which the page's CSP allows). */
export function dot(colour) {
  const d = el('span', { cls: 'dot', attrs: { 'aria-hidden': 'true' } });
  d.style.backgroundColor = safeColour(colour);
  return d;
}

function safeUrl(u) {
  try {
    const url = new URL(u);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

/** The sources list: titles as links where a URL is given, then publisher and date. */
export function sourcesList(sources) {
  if (!Array.isArray(sources) || sources.length === 0) return el('p', { cls: 'muted', text: 'No sources given.' });
  const ul = el('ul', { cls: 'sources' });
  for (const s of sources) {
    const li = el('li');
    const href = safeUrl(s.url);
    li.append(
      href
        ? el('a', { text: s.title || href, attrs: { href, target: '_blank', rel: 'noopener noreferrer' } })
        : el('span', { text: s.title || 'untitled source' }),
    );
    const extra = [s.publisher, s.date].filter(Boolean).join(', ');
    if (extra) li.append(el('span', { cls: 'muted', text: ` (${extra})` }));
    ul.append(li);
  }
  return ul;
}

const METHODS = {
  hand_drawn: 'hand-drawn',
  natural_earth: 'from Natural Earth',
  rule: 'derived from a rule',
  sourced_coordinate: 'sourced coordinate',
};

function facts(rows) {
  const dl = el('dl', { cls: 'facts' });
  for (const [k, v] of rows) {
    if (v === undefined || v === null || v === '') continue;
    dl.append(el('dt', { text: k }), el('dd', {}, typeof v === 'string' ? document.createTextNode(v) : v));
  }
  return dl;
}

function confidence(c) {
  return el('span', { cls: `conf conf-${['high', 'medium', 'low'].includes(c) ? c : 'unknown'}`, text: c ?? 'unknown' });
}

/**
 * One zone as a <details> block: actor, kind and period in the summary; confidence, method, rule,
 * description and sources inside. `z` is a /query/point entry or a zone feature's properties;
 * `extra` (optional) adds fields the other one has (the description).
 */
export function zoneBlock(z, extra = {}, { open = false, boundary = false } = {}) {
  const d = el('details', { cls: 'zone' });
  if (open) d.open = true;
  const summary = el(
    'summary',
    {},
    dot(z.colour),
    el('strong', { text: z.actor_name || z.actor || 'unknown actor' }),
    document.createTextNode(` · ${kindLabel(z.kind)}`),
  );
  d.append(summary);
  d.append(el('div', { cls: 'zone-name', text: z.name || z.key }));
  d.append(
    facts([
      ['Period', period(z.valid_from, z.valid_to)],
      ['Confidence', confidence(z.confidence)],
      ['Method', METHODS[z.method] ?? z.method],
      ['Rule', z.rule ?? extra.rule],
      ['On boundary', boundary ? 'yes: the point lies on this zone\'s edge' : null],
      ['Id', z.key],
    ]),
  );
  const desc = z.description ?? extra.description;
  if (desc) d.append(el('p', { cls: 'desc', text: desc }));
  d.append(el('div', { cls: 'sources-h', text: 'Sources' }), sourcesList(z.sources ?? extra.sources));
  return d;
}

/** "32.6170° N, 36.1000° E" */
export function latLonText(lat, lon) {
  const ns = lat >= 0 ? 'N' : 'S';
  const ew = lon >= 0 ? 'E' : 'W';
  return `${Math.abs(lat).toFixed(4)}° ${ns}, ${Math.abs(lon).toFixed(4)}° ${ew}`;
}

/**
 * The answer to "what covers this point on this date" (GET /query/point): every covering zone
 * with its details and sources, then the nearest zones that do not cover it, with distances.
 * `asOf`: the revision the answer is as of (null: the latest data), named in the heading.
 */
export function pointAnswer(ans, { asOf = null } = {}) {
  const box = el('div', { cls: 'answer' });
  const known = asOf === null ? '' : `, as known at revision ${asOf}`;
  box.append(el('div', { cls: 'answer-h', text: `${latLonText(ans.lat, ans.lon)} on ${ans.datetime}${known}` }));
  const covering = Array.isArray(ans.covering) ? ans.covering : [];
  if (covering.length === 0) {
    box.append(el('p', { cls: 'none', text: 'No zone covers this point on this date.' }));
  } else {
    box.append(el('p', { cls: 'count', text: covering.length === 1 ? '1 zone covers this point:' : `${covering.length} zones cover this point:` }));
    const list = el('div', { cls: 'covering' });
    for (const z of covering) {
      const block = zoneBlock(z, {}, { boundary: z.on_boundary });
      block.dataset.key = z.key ?? '';
      if (z.on_boundary) block.classList.add('on-boundary');
      list.append(block);
    }
    box.append(list);
  }
  const nearest = Array.isArray(ans.nearest) ? ans.nearest : [];
  if (nearest.length > 0) {
    box.append(el('p', { cls: 'count', text: 'Nearest zones not covering it:' }));
    const ul = el('ul', { cls: 'nearest' });
    for (const n of nearest) {
      const li = el('li', { attrs: { 'data-key': n.key ?? '' } }, dot(n.colour));
      li.append(
        el('span', { cls: 'km', text: `${Number(n.distance_km).toFixed(1)} km` }),
        document.createTextNode(` ${n.actor_name || n.actor} · ${kindLabel(n.kind)}: `),
        el('span', { cls: 'muted', text: n.name || n.key }),
      );
      ul.append(li);
    }
    box.append(ul);
  }
  box.append(el('p', { cls: 'muted small', text: 'Geometry is approximate: read each zone\'s confidence and sources.' }));
  return box;
}

/** Details of a location (named point). */
export function locationBlock(p, actorName) {
  const box = el('div', { cls: 'answer' });
  box.append(el('div', { cls: 'answer-h', text: p.name || p.key }));
  box.append(
    facts([
      ['Kind', kindLabel(p.kind)],
      ['Actor', p.actor ? actorName(p.actor) : null],
      ['Period', p.valid_from || p.valid_to ? period(p.valid_from, p.valid_to) : null],
      ['Confidence', p.confidence ? confidence(p.confidence) : null],
      ['Method', METHODS[p.method] ?? p.method],
      ['Id', p.key],
    ]),
  );
  if (p.description) box.append(el('p', { cls: 'desc', text: p.description }));
  box.append(el('div', { cls: 'sources-h', text: 'Sources' }), sourcesList(p.sources));
  return box;
}

/** Details of an event. */
export function eventBlock(p, actorName, locationName) {
  const box = el('div', { cls: 'answer' });
  box.append(el('div', { cls: 'answer-h', text: p.name || p.key }));
  const when = p.date_end && p.date_end !== p.date ? `${p.date} – ${p.date_end}` : p.date;
  box.append(
    facts([
      ['Date', when],
      ['Kind', kindLabel(p.kind)],
      ['Actors', Array.isArray(p.actors) && p.actors.length ? p.actors.map(actorName).join(', ') : null],
      ['Place', p.location ? locationName(p.location) : null],
      ['Confidence', p.confidence ? confidence(p.confidence) : null],
      ['Method', METHODS[p.method] ?? p.method],
      ['Id', p.key],
    ]),
  );
  if (p.description) box.append(el('p', { cls: 'desc', text: p.description }));
  box.append(el('div', { cls: 'sources-h', text: 'Sources' }), sourcesList(p.sources));
  return box;
}

// ---------------------------------------------------------------------------------------------
// History: who changed a feature, when and why (GET /collections/{c}/items/{key}/history)

const CHANGES = { created: 'created', replaced: 'changed', deleted: 'deleted' };

/** Same JSON value (object keys in any order)? */
function sameValue(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && sameValue(a[k], b[k]));
}

/**
 * The fields a history entry changed: the properties whose values differ between its `before`
 * and `after` (a property absent on one side counts as changed), then "geometry" if that differs.
 * Empty for a creation or deletion, and for a write that changed nothing.
 */
export function changedFields(entry) {
  const before = entry?.before;
  const after = entry?.after;
  if (!before || !after) return [];
  const bp = before.properties ?? {};
  const ap = after.properties ?? {};
  const names = [...new Set([...Object.keys(bp), ...Object.keys(ap)])].sort();
  const out = names.filter((k) => !sameValue(bp[k] ?? null, ap[k] ?? null));
  if (!sameValue(before.geometry ?? null, after.geometry ?? null)) out.push('geometry');
  return out;
}

/** "2026-11-30T06:33:07.618Z" -> "2026-11-30 06:33 UTC" (the server's times are UTC). */
export function revisionTime(t) {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(String(t ?? ''));
  return m ? `${m[1]} ${m[2]} UTC` : String(t ?? '');
}

/**
 * A feature's history, newest first: revision, time, author, change, the fields changed and the
 * message. Author and message are whatever an editor sent, so they only ever become text.
 * `asOf` (a revision number or null): entries after it are left out, as the map shows the data
 * as it stood then. No entry: the feature is as imported.
 */
export function historyList(answer, asOf = null) {
  const entries = (Array.isArray(answer?.history) ? answer.history : [])
    .filter((h) => asOf === null || Number(h.revision) <= asOf)
    .sort((a, b) => Number(b.revision) - Number(a.revision));
  if (entries.length === 0) {
    const by = asOf === null ? '' : ` by revision ${asOf}`;
    return el('p', { cls: 'muted small history-none', text: `No edits${by}: as imported.` });
  }
  const ol = el('ol', { cls: 'history-list', attrs: { reversed: '' } });
  for (const h of entries) {
    const fields = changedFields(h);
    const kind = CHANGES[h.change] ?? String(h.change ?? 'changed');
    const what = h.change === 'replaced' ? (fields.length ? `${kind} ${fields.join(', ')}` : 'rewritten, no field changed') : kind;
    const li = el(
      'li',
      { attrs: { 'data-revision': String(h.revision), 'data-change': String(h.change ?? '') } },
      el('div', { cls: 'history-head' },
        el('span', { cls: 'rev', text: `r${h.revision}` }),
        el('time', { text: revisionTime(h.time), attrs: { datetime: String(h.time ?? '') } }),
        el('span', { cls: 'author', text: h.author || 'unknown editor' })),
      el('div', { cls: `history-what change-${String(h.change ?? '').replace(/[^a-z]/g, '')}`, text: what }),
    );
    if (fields.length) li.dataset.fields = fields.join(',');
    if (h.message) li.append(el('div', { cls: 'history-msg', text: h.message }));
    ol.append(li);
  }
  return ol;
}

/** The "History" part of a popup, with a placeholder until `fill` puts the list in. */
export function historySection() {
  const box = el('div', { cls: 'history' });
  box.append(el('div', { cls: 'sources-h', text: 'History (edits to this record)' }), el('p', { cls: 'muted small history-wait', text: 'Loading its history…' }));
  return box;
}
