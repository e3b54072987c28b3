-- zonetrack's data set in PostgreSQL + PostGIS (see crates/zone-store-pg/README.md).
--
-- Each editable layer is a table with one row per feature as the layer file has it (a rule zone
-- once, with its rule and no geometry): the readable id, the integer fid clients use, the
-- feature's position in its layer, typed columns for SQL and QGIS, `properties` exactly as the
-- file holds them (json keeps their order) and the geometry in EPSG:4326. zonetrack writes these
-- tables, one transaction per revision; read them freely, edit through zonetrack (its checks
-- and its history see nothing written here by hand).

CREATE EXTENSION IF NOT EXISTS postgis;

CREATE DOMAIN zonetrack_id AS text
    CHECK (VALUE ~ '^[a-z0-9][a-z0-9_-]*$' AND length(VALUE) <= 80);

CREATE TABLE actors (
    id          zonetrack_id PRIMARY KEY,
    position    integer NOT NULL UNIQUE,
    name        text NOT NULL,
    colour      text NOT NULL CHECK (colour ~ '^#[0-9a-fA-F]{6}$'),
    description text,
    -- The actor as actors.json has it.
    source      json NOT NULL
);

CREATE TABLE zones (
    id          zonetrack_id PRIMARY KEY,
    fid         integer NOT NULL UNIQUE CHECK (fid > 0),
    position    bigint NOT NULL UNIQUE,
    name        text NOT NULL,
    actor       zonetrack_id NOT NULL REFERENCES actors (id) DEFERRABLE INITIALLY DEFERRED,
    kind        text NOT NULL CHECK (kind IN ('control', 'presence', 'deconfliction',
                    'demanded_exclusion', 'de_escalation', 'buffer', 'limitation')),
    -- The closed interval of days the zone holds; an open end is an unbounded range.
    validity    daterange NOT NULL CHECK (NOT isempty(validity)),
    confidence  text NOT NULL CHECK (confidence IN ('high', 'medium', 'low')),
    method      text NOT NULL CHECK (method IN ('sourced_coordinate', 'natural_earth',
                    'hand_drawn', 'rule')),
    -- How the geometry is derived (geodata/FORMAT.md); NULL for a drawn zone.
    rule        json,
    -- Drawn geometry; NULL for a rule zone (its geometry is derived in zonetrack).
    geom        geometry(MultiPolygon, 4326),
    properties  json NOT NULL,
    CHECK (rule IS NOT NULL OR geom IS NOT NULL)
);
CREATE INDEX zones_geom ON zones USING gist (geom);
CREATE INDEX zones_validity ON zones USING gist (validity);

CREATE TABLE locations (
    id          zonetrack_id PRIMARY KEY,
    fid         integer NOT NULL UNIQUE CHECK (fid > 0),
    position    bigint NOT NULL UNIQUE,
    name        text NOT NULL,
    kind        text NOT NULL,
    actor       zonetrack_id REFERENCES actors (id) DEFERRABLE INITIALLY DEFERRED,
    validity    daterange NOT NULL CHECK (NOT isempty(validity)),
    confidence  text NOT NULL CHECK (confidence IN ('high', 'medium', 'low')),
    method      text NOT NULL,
    geom        geometry(Point, 4326) NOT NULL,
    properties  json NOT NULL
);
CREATE INDEX locations_geom ON locations USING gist (geom);

CREATE TABLE events (
    id          zonetrack_id PRIMARY KEY,
    fid         integer NOT NULL UNIQUE CHECK (fid > 0),
    position    bigint NOT NULL UNIQUE,
    name        text NOT NULL,
    kind        text NOT NULL,
    date        date NOT NULL,
    date_end    date CHECK (date_end >= date),
    period      daterange GENERATED ALWAYS AS (daterange(date, coalesce(date_end, date), '[]')) STORED,
    location    zonetrack_id REFERENCES locations (id) DEFERRABLE INITIALLY DEFERRED,
    confidence  text NOT NULL CHECK (confidence IN ('high', 'medium', 'low')),
    method      text NOT NULL,
    geom        geometry(Point, 4326) NOT NULL,
    properties  json NOT NULL
);
CREATE INDEX events_geom ON events USING gist (geom);

-- Reference layers (outline, governorates, lines): whole layers, edited as files.
CREATE TABLE reference_layers (
    name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_-]*$'),
    geometry    text NOT NULL CHECK (geometry IN ('Point', 'MultiLineString', 'MultiPolygon')),
    title       text,
    description text,
    style       json
);

CREATE TABLE reference_features (
    layer       text NOT NULL REFERENCES reference_layers (name) ON DELETE CASCADE,
    id          zonetrack_id NOT NULL,
    position    bigint NOT NULL,
    name        text NOT NULL,
    -- As the file draws it: a single part stays a Polygon or LineString.
    geom        geometry(Geometry, 4326) NOT NULL,
    properties  json NOT NULL,
    PRIMARY KEY (layer, id),
    UNIQUE (layer, position)
);
CREATE INDEX reference_features_geom ON reference_features USING gist (geom);

-- The history: revision 1, 2, 3 ... (no gaps), each with every feature it changed, in source
-- form before and after (NULL before: created; NULL after: deleted).
CREATE TABLE revisions (
    number      bigint PRIMARY KEY CHECK (number > 0),
    time        timestamptz NOT NULL,
    author      text NOT NULL,
    message     text NOT NULL
);

CREATE TABLE revision_changes (
    revision    bigint NOT NULL REFERENCES revisions (number),
    position    integer NOT NULL,
    layer       text NOT NULL CHECK (layer IN ('zones', 'locations', 'events')),
    feature_id  zonetrack_id NOT NULL,
    before      json,
    after       json,
    PRIMARY KEY (revision, position),
    CHECK (before IS NOT NULL OR after IS NOT NULL)
);
CREATE INDEX revision_changes_feature ON revision_changes (layer, feature_id);

-- Revisions are kept for good: no update or delete, whoever asks.
CREATE FUNCTION zonetrack_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'zonetrack revisions are append-only: undo a revision with a new one (zonetrack revert)';
END $$;
CREATE TRIGGER revisions_append_only BEFORE UPDATE OR DELETE ON revisions
    FOR EACH ROW EXECUTE FUNCTION zonetrack_append_only();
CREATE TRIGGER revision_changes_append_only BEFORE UPDATE OR DELETE ON revision_changes
    FOR EACH ROW EXECUTE FUNCTION zonetrack_append_only();

-- What was imported, and from where.
CREATE TABLE dataset (
    one         boolean PRIMARY KEY DEFAULT true CHECK (one),
    imported_at timestamptz NOT NULL,
    source      text NOT NULL
);

-- Views for GIS clients (QGIS's PostgreSQL provider lists each with its geometry column):
-- the validity as a range and as first/last day, the actor's name and colour beside its id.
CREATE VIEW zones_map AS
SELECT z.fid, z.id, z.name, z.actor, a.name AS actor_name, a.colour, z.kind,
       lower(z.validity) AS valid_from, upper(z.validity) - 1 AS valid_to, z.validity,
       z.confidence, z.method, z.rule::text AS rule,
       (z.properties -> 'sources')::text AS sources, z.geom
FROM zones z JOIN actors a ON a.id = z.actor;

CREATE VIEW locations_map AS
SELECT l.fid, l.id, l.name, l.kind, l.actor, a.name AS actor_name,
       lower(l.validity) AS valid_from, upper(l.validity) - 1 AS valid_to, l.validity,
       l.confidence, l.method, (l.properties -> 'sources')::text AS sources, l.geom
FROM locations l LEFT JOIN actors a ON a.id = l.actor;

CREATE VIEW events_map AS
SELECT e.fid, e.id, e.name, e.kind, e.date, e.date_end, e.period, e.location,
       (e.properties -> 'actors')::text AS actors,
       e.confidence, e.method, (e.properties -> 'sources')::text AS sources, e.geom
FROM events e;
