-- pgbench script for scripts/bench/http: the whole default answer of GET /query/point in SQL,
-- one random point per transaction (the distribution of http_point.sql): the zones covering
-- it on 2018-02-07, and the 3 nearest zones not covering it with their geodesic distances
-- (geography, on the WGS84 spheroid, from a precomputed geography column with a GiST index).
-- Run with -M prepared and --random-seed.
\set x random(357000, 424000)
\set y random(323000, 373000)
\set lon :x / 10000.0
\set lat :y / 10000.0
SELECT key, 0.0::float8 AS km FROM zones WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) AND (valid_from IS NULL OR valid_from <= '2018-02-07') AND (valid_to IS NULL OR valid_to >= '2018-02-07')
UNION ALL
(SELECT key, ST_Distance(geog, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS km FROM zones WHERE NOT ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) AND (valid_from IS NULL OR valid_from <= '2018-02-07') AND (valid_to IS NULL OR valid_to >= '2018-02-07') ORDER BY km LIMIT 3);
