// Starts the map's first two requests while Leaflet and the page's modules are still downloading
// (a classic script in <head> runs at once; modules wait for the whole document). main.js picks
// the answers up from window.zonetrackBoot.
'use strict';
(function () {
  var accept = { headers: { Accept: 'application/json, application/geo+json' } };
  window.zonetrackBoot = {
    collections: fetch('collections', accept),
    // Every zone, all dates, simplified for zoom 6: the legend, the kinds and the date span come
    // from it, and so does the first paint until the view's own request (box, date, zoom) lands.
    zones: fetch('map/zones?zoom=6', accept),
  };
  // main.js handles failures; this keeps an early failure from also showing as "unhandled".
  window.zonetrackBoot.collections.catch(function () {});
  window.zonetrackBoot.zones.catch(function () {});
})();
