// Starts the map's first requests while Leaflet and the page's modules are still downloading (a
// classic script in <head> runs at once; modules wait for the whole document). Both answers are
// small and carry no geometry: the layers and their extents, the actors and the date span.
// main.js picks them up from window.zonetrackBoot.
'use strict';
(function () {
  var accept = { headers: { Accept: 'application/json' } };
  var boot = {
    collections: fetch('collections', accept),
    actors: fetch('actors', accept),
  };
  // main.js handles failures; this keeps an early one from also showing as "unhandled".
  boot.collections.catch(function () {});
  boot.actors.catch(function () {});
  window.zonetrackBoot = boot;
})();
