-- pgbench script for scripts/bench/http: one random point per transaction, uniform on a
-- 0.0001-degree grid over lon 35.7..42.4, lat 32.3..37.3 (as http.lua draws them for wrk),
-- the zones covering it on 2018-02-07. Run with -M prepared and --random-seed.
\set x random(357000, 424000)
\set y random(323000, 373000)
\set lon :x / 10000.0
\set lat :y / 10000.0
SELECT key FROM zones WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) AND (valid_from IS NULL OR valid_from <= '2018-02-07') AND (valid_to IS NULL OR valid_to >= '2018-02-07');
