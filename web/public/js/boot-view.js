// Runs at the end of <body>, once the page's styles apply: works out the view the map will open
// at (the link's, or the data's extent fitted the way Leaflet fits it) and asks for the zones of
// that view and date at once, so the answer is on its way while Leaflet is still downloading.
// main.js uses it if it matches the map's real view and date; otherwise it asks again, so a
// wrong guess here costs one request, never a wrong map.
'use strict';
(function () {
  var boot = window.zonetrackBoot;
  var el = document.getElementById('map');
  if (!boot || !el || typeof Promise === 'undefined') return;
  // Keep in step with main.js: the map's zoom limits, fitBounds padding and the box margin.
  var MIN_ZOOM = 3, MAX_ZOOM = 14, PADDING = 8, MARGIN = 0.5, DEFAULT_ZOOM = 7;

  function param(name) {
    var m = new RegExp('(?:^|[#&])' + name + '=([^&]*)').exec(location.hash);
    return m ? decodeURIComponent(m[1]) : null;
  }
  // Web Mercator pixels at zoom z, as Leaflet's EPSG:3857 projects them.
  function project(lat, lon, z) {
    var s = 256 * Math.pow(2, z), max = 85.0511287798, sin;
    lat = Math.max(Math.min(max, lat), -max);
    sin = Math.sin(lat * Math.PI / 180);
    return [(lon + 180) / 360 * s, (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * s];
  }
  function unproject(x, y, z) {
    var s = 256 * Math.pow(2, z), n = Math.PI - 2 * Math.PI * y / s;
    return [180 / Math.PI * Math.atan(0.5 * (Math.exp(n) - Math.exp(-n))), x / s * 360 - 180];
  }
  function json(p) {
    return p.then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.clone().json(); });
  }

  var layers = param('layers');
  if (layers !== null && !/(^|,)zones\./.test(layers)) return; // zones are off in this link
  var date = param('date');
  // The revision the link shows the data as of (url-state.js reads it the same way).
  var asOfText = param('as_of');
  var asOf = asOfText !== null && /^\d{1,15}$/.test(asOfText) ? Number(asOfText) : null;
  var lat = Number(param('lat')), lon = Number(param('lon')), zoom = param('zoom');
  var haveCentre = param('lat') !== null && param('lon') !== null && isFinite(lat) && isFinite(lon);
  var W = el.clientWidth, H = el.clientHeight;
  if (!W || !H) return;

  var ask = Promise.all([json(boot.actors), json(boot.collections)]).then(function (got) {
    var about = got[0], listing = got[1];
    // A big zone layer is drawn from vector tiles (tiles.js), not from /map/zones.
    for (var t = 0; t < listing.collections.length; t++) {
      var tc = listing.collections[t], tiles = tc['zonetrack:tiles'];
      if (tc['zonetrack:role'] === 'zones' && tiles && tiles.preferred) return null;
    }
    var day = date && /^\d{4}-\d{2}-\d{2}$/.test(date) ? date : about.date_span && about.date_span[1];
    if (!day) return null;
    var z = zoom !== null && zoom !== '' && isFinite(Number(zoom)) ? Math.round(Number(zoom)) : null;
    var centre;
    if (haveCentre) {
      centre = [lat, lon];
      if (z === null) z = DEFAULT_ZOOM;
    } else {
      // The zones' extent, else the land layer's (a reference layer whose style says land).
      var find = function (match) {
        for (var i = 0; i < listing.collections.length; i++) {
          var c = listing.collections[i];
          if (match(c) && c.extent && c.extent.spatial) return c.extent.spatial.bbox[0];
        }
        return null;
      };
      var b = find(function (c) { return c['zonetrack:role'] === 'zones'; }) ||
        find(function (c) { var s = c['zonetrack:style']; return c['zonetrack:role'] === 'reference' && s && s.land; });
      if (!b) return null;
      // Leaflet's getBoundsZoom with zoomSnap 1: the largest whole zoom at which the box fits.
      var nw = project(b[3], b[0], 0), se = project(b[1], b[2], 0);
      var scale = Math.min((W - 2 * PADDING) / (se[0] - nw[0]), (H - 2 * PADDING) / (se[1] - nw[1]));
      var fit = Math.floor(Math.round(Math.log(scale) / Math.LN2 / 0.01) * 0.01);
      fit = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, fit));
      var sw = project(b[1], b[0], fit), ne = project(b[3], b[2], fit);
      centre = unproject((sw[0] + ne[0]) / 2, (sw[1] + ne[1]) / 2, fit);
      if (z === null) z = fit;
    }
    z = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, z));
    var c = project(centre[0], centre[1], z);
    var topLeft = unproject(c[0] - W / 2, c[1] - H / 2, z), bottomRight = unproject(c[0] + W / 2, c[1] + H / 2, z);
    var dLat = (topLeft[0] - bottomRight[0]) * MARGIN, dLon = (bottomRight[1] - topLeft[1]) * MARGIN;
    var bbox = [
      Math.max(-180, topLeft[1] - dLon), Math.max(-90, bottomRight[0] - dLat),
      Math.min(180, bottomRight[1] + dLon), Math.min(90, topLeft[0] + dLat),
    ];
    var q = 'bbox=' + encodeURIComponent(bbox.map(function (v) { return v.toFixed(4); }).join(',')) +
      '&datetime=' + encodeURIComponent(day) + '&zoom=' + z + (asOf === null ? '' : '&as_of=' + asOf);
    return {
      datetime: day,
      zoom: z,
      asOf: asOf,
      bbox: bbox,
      response: fetch('map/zones?' + q, { headers: { Accept: 'application/geo+json' } }),
    };
  });
  boot.zones = ask.catch(function () { return null; });
})();
