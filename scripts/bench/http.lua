-- wrk script for scripts/bench/http.
--   wrk ... -s http.lua URL -- SEED MODE
-- MODE "point":  GET /query/point at a random point (default answer: covering + 3 nearest)
-- MODE "point0": the same with &nearest=0 (covering zones only: the work of the PostGIS query)
-- MODE "filter": GET /collections/zones/items?limit=100 with a CQL2 filter of a random 1-degree
--                box (S_INTERSECTS) over the zones-100k area, lon 35.5..42.5, lat 32.3..37.4
-- anything else: a fixed path, e.g. /collections/zones/items?limit=100
-- Random points are uniform on a 0.0001-degree grid over lon 35.7..42.4, lat 32.3..37.3, the
-- same distribution as http_point.sql draws for pgbench; each wrk thread seeds SEED*100 + its
-- number. done() prints one machine-readable RESULT line.

local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

local mode, fixed, suffix

function init(args)
  local seed = tonumber(args[1] or "42")
  mode = args[2] or "point"
  math.randomseed(seed * 100 + tid)
  if mode == "point" then
    suffix = ""
  elseif mode == "point0" then
    suffix = "&nearest=0"
  elseif mode == "filter" then
    suffix = nil
  else
    fixed = wrk.format("GET", mode)
  end
end

function request()
  if fixed then
    return fixed
  end
  if mode == "filter" then
    local w = math.random(355000, 415000) / 10000
    local s = math.random(323000, 364000) / 10000
    return wrk.format("GET", string.format(
      "/collections/zones/items?limit=100&filter=S_INTERSECTS(geometry,BBOX(%.4f,%.4f,%.4f,%.4f))",
      w, s, w + 1, s + 1))
  end
  local lon = math.random(357000, 424000) / 10000
  local lat = math.random(323000, 373000) / 10000
  return wrk.format("GET", string.format(
    "/query/point?lon=%.4f&lat=%.4f&datetime=2018-02-07%s", lon, lat, suffix))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d non2xx=%d bytes=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status, summary.bytes))
end
