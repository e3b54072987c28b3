// How zones look: fill and outline by kind, colour by actor, and a hatched, paler fill with a
// dashed outline for low confidence, so the approximate nature of the data shows on the map.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Kinds the default data uses, in drawing order (first = bottom), with their legend wording.
 * Control areas are drawn first and filled; presence, agreed zones and demanded bands sit on top,
 * drawn mostly as outlines so the control underneath stays readable. A kind not listed here (a
 * user's own data) gets the `other` look and is drawn after these.
 */
const KINDS = {
  control: { label: 'Control', fill: 0.34, weight: 1.2, dash: null },
  presence: { label: 'Presence', fill: 0.3, weight: 2, dash: '1 4' },
  de_escalation: { label: 'De-escalation zone', fill: 0.08, weight: 2.5, dash: '10 5' },
  deconfliction: { label: 'Deconfliction zone', fill: 0.08, weight: 2.5, dash: '10 5' },
  buffer: { label: 'Buffer zone', fill: 0.25, weight: 1.5, dash: null },
  limitation: { label: 'Limitation zone', fill: 0, weight: 1.2, dash: '4 4' },
  demanded_exclusion: { label: 'Demanded exclusion band', fill: 0, weight: 1.6, dash: '8 6' },
};
const OTHER = { fill: 0.15, weight: 1.5, dash: '6 3' };

/** The drawing rank of a kind: lower is drawn first (underneath). */
export function kindRank(kind) {
  const i = Object.keys(KINDS).indexOf(kind);
  return i < 0 ? Object.keys(KINDS).length : i;
}

/** "demanded_exclusion" -> "Demanded exclusion band"; unknown kinds get their words back. */
export function kindLabel(kind) {
  if (KINDS[kind]) return KINDS[kind].label;
  const s = String(kind ?? 'other').replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Whether a zone of this kind is drawn with a fill (and so can carry the hatch). */
export function kindFilled(kind) {
  return (KINDS[kind] ?? OTHER).fill > 0;
}

/** A safe #rrggbb colour or a neutral grey. */
export function safeColour(c) {
  return typeof c === 'string' && /^#[0-9a-fA-F]{6}$/.test(c) ? c : '#777777';
}

/** Leaflet path options for a zone feature's properties. */
export function zoneStyle(p) {
  const k = KINDS[p.kind] ?? OTHER;
  const colour = safeColour(p.colour);
  const low = p.confidence === 'low';
  return {
    color: colour,
    weight: k.weight,
    opacity: low ? 0.75 : 0.95,
    // Low confidence: outline dashed (unless the kind already has a pattern), fill paler.
    dashArray: k.dash ?? (low ? '5 4' : null),
    fill: k.fill > 0,
    fillColor: colour,
    fillOpacity: low ? Math.min(1, k.fill * 2.2) : k.fill,
    lineJoin: 'round',
  };
}

let defs = null;
const patterns = new Map();

/**
 * The id of an SVG hatch pattern in `colour` (created once, in a zero-size SVG in the page):
 * thin diagonal stripes over a very pale wash. Used as the fill of low-confidence zones; the
 * path's own fill-opacity still applies on top.
 */
export function hatchPattern(colour) {
  colour = safeColour(colour);
  if (patterns.has(colour)) return patterns.get(colour);
  if (!defs) {
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('class', 'pattern-defs');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('width', '0');
    svg.setAttribute('height', '0');
    defs = document.createElementNS(SVG_NS, 'defs');
    svg.appendChild(defs);
    document.body.appendChild(svg);
  }
  const id = `hatch-${colour.slice(1).toLowerCase()}`;
  const pat = document.createElementNS(SVG_NS, 'pattern');
  pat.setAttribute('id', id);
  pat.setAttribute('patternUnits', 'userSpaceOnUse');
  pat.setAttribute('width', '7');
  pat.setAttribute('height', '7');
  pat.setAttribute('patternTransform', 'rotate(45)');
  const wash = document.createElementNS(SVG_NS, 'rect');
  wash.setAttribute('width', '7');
  wash.setAttribute('height', '7');
  wash.setAttribute('fill', colour);
  wash.setAttribute('fill-opacity', '0.22');
  const stripe = document.createElementNS(SVG_NS, 'rect');
  stripe.setAttribute('width', '2.5');
  stripe.setAttribute('height', '7');
  stripe.setAttribute('fill', colour);
  stripe.setAttribute('fill-opacity', '0.85');
  pat.append(wash, stripe);
  defs.appendChild(pat);
  patterns.set(colour, id);
  return id;
}

/**
 * Gives a drawn zone path its hatch (low confidence) and data attributes for styling and tests.
 * Leaflet writes fill as an attribute; a style property outranks it and survives setStyle.
 */
export function decorateZonePath(el, p) {
  if (!el) return;
  el.dataset.key = p.key ?? '';
  el.dataset.kind = p.kind ?? '';
  el.dataset.actor = p.actor ?? '';
  el.dataset.confidence = p.confidence ?? '';
  if (p.confidence === 'low' && kindFilled(p.kind)) {
    el.style.fill = `url(#${hatchPattern(p.colour)})`;
  }
}

/** A small SVG swatch showing a zone style, for the legend. */
export function swatch(props, { width = 28, height = 16 } = {}) {
  const st = zoneStyle(props);
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'swatch');
  const r = document.createElementNS(SVG_NS, 'rect');
  r.setAttribute('x', '1.5');
  r.setAttribute('y', '1.5');
  r.setAttribute('width', String(width - 3));
  r.setAttribute('height', String(height - 3));
  r.setAttribute('stroke', st.color);
  r.setAttribute('stroke-width', String(Math.min(st.weight, 2.5)));
  r.setAttribute('stroke-opacity', String(st.opacity));
  if (st.dashArray) r.setAttribute('stroke-dasharray', st.dashArray);
  if (st.fill) {
    const hatched = props.confidence === 'low' && kindFilled(props.kind);
    r.setAttribute('fill', hatched ? `url(#${hatchPattern(st.fillColor)})` : st.fillColor);
    r.setAttribute('fill-opacity', String(st.fillOpacity));
  } else {
    r.setAttribute('fill', 'none');
  }
  svg.appendChild(r);
  return svg;
}
