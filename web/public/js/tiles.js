// Big layers drawn from vector tiles. A collection whose `zonetrack:tiles` says `preferred` (the
// server's threshold: many features or vertices) is drawn from /tiles/{collection}/{z}/{x}/{y}.mvt
// on canvas by protomaps-leaflet (vendored, loaded only when a layer needs it), instead of as
// GeoJSON in SVG: 100,000 zones as SVG paths would block the page for seconds. The tiles honour
// the date and the revision shown (`datetime`, `as_of` in the tile URL), and zones keep their
// look (styles.js): fill and outline by kind, colour by actor, hatched when low confidence.

import { query } from './api.js';
import { kindFilled, kindRank, safeColour, zoneStyle } from './styles.js';

const SCRIPT = 'static/vendor/protomaps-leaflet/protomaps-leaflet.js';
let scriptLoad = null;

/** Loads protomaps-leaflet once (a classic script that defines `protomapsL`). */
export function loadTileLibrary() {
  if (window.protomapsL) return Promise.resolve(window.protomapsL);
  scriptLoad ??= new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = SCRIPT;
    s.onload = () => (window.protomapsL ? resolve(window.protomapsL) : reject(new Error('protomaps-leaflet did not load')));
    s.onerror = () => reject(new Error(`could not load ${SCRIPT}`));
    document.head.append(s);
  });
  return scriptLoad;
}

/** Whether a collection is to be drawn from tiles: what its `zonetrack:tiles` says. */
export function tiled(collection) {
  const t = collection?.['zonetrack:tiles'];
  return t && t.preferred && typeof t.href === 'string' ? t.href : null;
}

const patterns = new Map();

/** A canvas hatch like styles.js's SVG one: thin diagonal stripes over a pale wash. */
function hatch(ctx, colour) {
  let tileCanvas = patterns.get(colour);
  if (!tileCanvas) {
    tileCanvas = document.createElement('canvas');
    tileCanvas.width = 7;
    tileCanvas.height = 7;
    const c = tileCanvas.getContext('2d');
    c.fillStyle = colour;
    c.globalAlpha = 0.22;
    c.fillRect(0, 0, 7, 7);
    c.globalAlpha = 0.85;
    c.lineWidth = 2.5;
    c.strokeStyle = colour;
    c.beginPath();
    for (const o of [-7, 0, 7]) {
      c.moveTo(o, 7);
      c.lineTo(o + 7, 0);
    }
    c.stroke();
    patterns.set(colour, tileCanvas);
  }
  return ctx.createPattern(tileCanvas, 'repeat');
}

/**
 * A protomaps-leaflet symbolizer drawing a zone polygon as styles.js styles it. A zone smaller
 * than a pixel comes as a speck (a point: the server merges the specks of one pixel, kind and
 * colour), filled as that pixel; a polygon under two pixels is filled only (an outline would blot
 * it).
 */
class ZoneSymbolizer {
  draw(ctx, geom, _z, f) {
    const p = f.props;
    const st = zoneStyle(p);
    const colour = safeColour(p.colour);
    if (geom[0]?.length === 1) {
      ctx.globalAlpha = st.opacity;
      ctx.fillStyle = colour;
      for (const [pt] of geom) ctx.fillRect(pt.x - 0.5, pt.y - 0.5, 1, 1);
      return;
    }
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    ctx.beginPath();
    for (const ring of geom) {
      for (let i = 0; i < ring.length; i++) {
        const pt = ring[i];
        if (i === 0) ctx.moveTo(pt.x, pt.y);
        else ctx.lineTo(pt.x, pt.y);
        if (pt.x < minX) minX = pt.x;
        if (pt.x > maxX) maxX = pt.x;
        if (pt.y < minY) minY = pt.y;
        if (pt.y > maxY) maxY = pt.y;
      }
      ctx.closePath();
    }
    if (maxX - minX <= 2 && maxY - minY <= 2) {
      ctx.globalAlpha = st.opacity;
      ctx.fillStyle = colour;
      ctx.fill();
      return;
    }
    if (st.fill) {
      ctx.globalAlpha = st.fillOpacity;
      ctx.fillStyle = p.confidence === 'low' && kindFilled(p.kind) ? hatch(ctx, colour) : colour;
      ctx.fill();
    }
    ctx.globalAlpha = st.opacity;
    ctx.strokeStyle = colour;
    ctx.lineWidth = st.weight;
    ctx.lineJoin = 'round';
    ctx.setLineDash(st.dashArray ? st.dashArray.split(' ').map(Number) : []);
    ctx.stroke();
  }
}

/**
 * Draws one collection from its tiles, with the interface of main.js's Loader (sync, redraw,
 * hide, fetched). A new date or revision makes a new tile layer, which replaces the old one once
 * its tiles are drawn, so the map never shows an empty frame between dates. Panning and zooming
 * are Leaflet's own (tiles are asked for as they come into view).
 */
export class TileLoader {
  /**
   * @param {object} o
   * @param {() => L.Map} o.map
   * @param {string} o.collection
   * @param {string} o.href the tile URL template from `zonetrack:tiles`
   * @param {() => string|null} o.dates the `datetime` parameter
   * @param {() => number|null} o.asOf the `as_of` parameter
   * @param {(kind: string) => boolean} o.shown whether a zone kind is shown
   * @param {(delta: number) => void} o.pending counts tiles under way (the page's busy mark)
   * @param {string} o.pane
   */
  constructor(o) {
    Object.assign(this, o);
    this.id = o.collection;
    this.fetched = null; // { datetime, asOf } of the layer on the map
    this.data = null; // no features in memory: tiles only
    this.layer = null;
    this.next = null; // { layer, datetime, asOf } being loaded
    this.busy = 0;
  }

  /** Paint rules: one per kind rank, bottom first, so control areas lie under the rest. */
  rules(layerName) {
    const symbolizer = new ZoneSymbolizer();
    const ranks = new Map();
    return {
      rules: [...Array(12).keys()].map((rank) => ({
        dataLayer: layerName,
        symbolizer,
        filter: (_z, f) => {
          const k = f.props.kind;
          let r = ranks.get(k);
          if (r === undefined) ranks.set(k, (r = Math.min(11, kindRank(k))));
          return r === rank && this.shown(k);
        },
      })),
    };
  }

  async sync() {
    const datetime = this.dates();
    const asOf = this.asOf();
    const map = this.map();
    const want = (l) => l && l.datetime === datetime && l.asOf === asOf;
    if (want(this.next)) return this.next.done;
    if (want(this.fetched) && this.layer) {
      this.dropNext();
      if (!map.hasLayer(this.layer)) this.layer.addTo(map);
      return undefined;
    }
    this.dropNext();
    const P = await loadTileLibrary();
    const url = `${this.href}${query({ datetime, as_of: asOf })}`;
    const { rules } = this.rules(this.collection);
    const layer = P.leafletLayer({
      url,
      paintRules: rules,
      labelRules: [],
      // One 256-pixel data tile per tile on screen (the server simplifies for that size), up to
      // zoom 14, drawn larger beyond.
      levelDiff: 0,
      maxDataZoom: 14,
      pane: this.pane,
      attribution: '',
      tileDelay: 0,
    });
    const next = { layer, datetime, asOf };
    next.done = new Promise((resolve) => {
      next.resolve = resolve;
    });
    this.next = next;
    this.track(layer);
    layer.once('load', () => {
      if (this.next !== next) return;
      this.next = null;
      if (this.layer) this.layer.remove();
      this.layer = layer;
      this.fetched = { datetime, asOf };
      this.afterDraw?.(layer);
      next.resolve();
    });
    layer.addTo(map);
    return next.done;
  }

  /** Counts the layer's tile loading in the page's busy mark. */
  track(layer) {
    let loading = false;
    const on = () => {
      if (!loading) {
        loading = true;
        this.pending(+1);
      }
    };
    const off = () => {
      if (loading) {
        loading = false;
        this.pending(-1);
      }
    };
    layer.on('loading', on);
    layer.on('load', off);
    layer.on('remove', off);
  }

  dropNext() {
    if (!this.next) return;
    this.next.layer.remove();
    this.next.resolve();
    this.next = null;
  }

  /** Redraws the tiles on the map (a zone kind was toggled). */
  redraw() {
    this.layer?.rerenderTiles();
  }

  hide() {
    this.dropNext();
    this.layer?.remove();
  }
}
