//! Features as table rows and back: each editable layer's row holds the feature's readable id,
//! integer fid, position, `properties` exactly as the file has them and the geometry (EWKB
//! through geozero's PostGIS codec); typed columns for SQL are taken from `properties` by the
//! insert itself, so they never disagree with it.

use geozero::geojson::GeoJsonString;
use geozero::wkb;
use postgres::GenericClient;
use serde_json::{Value, json};

use geodata::{FeatureId, Revision};

use crate::PgError;

/// The zone columns, from `$1` id, `$2` fid, `$3` position (NULL: after the last), `$4` geometry
/// and `$5` properties. A replaced feature keeps its position.
const UPSERT_ZONE: &str = "
INSERT INTO zones (id, fid, position, name, actor, kind, validity, confidence, method, rule, geom, properties)
SELECT $1::text, $2, coalesce($3, (SELECT coalesce(max(position), 0) + 1 FROM zones)),
       p->>'name', p->>'actor', p->>'kind',
       daterange((p->>'valid_from')::date, (p->>'valid_to')::date, '[]'),
       p->>'confidence', p->>'method',
       CASE WHEN json_typeof(p->'rule') = 'object' THEN p->'rule' END,
       ST_Multi(ST_SetSRID($4::geometry, 4326)), p
FROM (SELECT $5::json AS p) AS s
ON CONFLICT (id) DO UPDATE SET fid = EXCLUDED.fid, name = EXCLUDED.name, actor = EXCLUDED.actor,
    kind = EXCLUDED.kind, validity = EXCLUDED.validity, confidence = EXCLUDED.confidence,
    method = EXCLUDED.method, rule = EXCLUDED.rule, geom = EXCLUDED.geom,
    properties = EXCLUDED.properties";

const UPSERT_LOCATION: &str = "
INSERT INTO locations (id, fid, position, name, kind, actor, validity, confidence, method, geom, properties)
SELECT $1::text, $2, coalesce($3, (SELECT coalesce(max(position), 0) + 1 FROM locations)),
       p->>'name', p->>'kind', p->>'actor',
       daterange((p->>'valid_from')::date, (p->>'valid_to')::date, '[]'),
       p->>'confidence', p->>'method', ST_SetSRID($4::geometry, 4326), p
FROM (SELECT $5::json AS p) AS s
ON CONFLICT (id) DO UPDATE SET fid = EXCLUDED.fid, name = EXCLUDED.name, kind = EXCLUDED.kind,
    actor = EXCLUDED.actor, validity = EXCLUDED.validity, confidence = EXCLUDED.confidence,
    method = EXCLUDED.method, geom = EXCLUDED.geom, properties = EXCLUDED.properties";

const UPSERT_EVENT: &str = "
INSERT INTO events (id, fid, position, name, kind, date, date_end, location, confidence, method, geom, properties)
SELECT $1::text, $2, coalesce($3, (SELECT coalesce(max(position), 0) + 1 FROM events)),
       p->>'name', p->>'kind', (p->>'date')::date, (p->>'date_end')::date, p->>'location',
       p->>'confidence', p->>'method', ST_SetSRID($4::geometry, 4326), p
FROM (SELECT $5::json AS p) AS s
ON CONFLICT (id) DO UPDATE SET fid = EXCLUDED.fid, name = EXCLUDED.name, kind = EXCLUDED.kind,
    date = EXCLUDED.date, date_end = EXCLUDED.date_end, location = EXCLUDED.location,
    confidence = EXCLUDED.confidence, method = EXCLUDED.method, geom = EXCLUDED.geom,
    properties = EXCLUDED.properties";

/// The feature's geometry as the codec takes it (`None`: a rule zone's `null`).
fn geometry(feature: &Value) -> Option<wkb::Encode<GeoJsonString>> {
    match &feature["geometry"] {
        Value::Null => None,
        g => Some(wkb::Encode(GeoJsonString(g.to_string()))),
    }
}

fn id_of(feature: &Value) -> Result<FeatureId, PgError> {
    let text = feature["id"].as_str().unwrap_or_default();
    FeatureId::parse(text).map_err(|e| PgError::Data(format!("feature id {text:?} {e}")))
}

fn upsert_sql(layer: &str) -> Result<&'static str, PgError> {
    match layer {
        "zones" => Ok(UPSERT_ZONE),
        "locations" => Ok(UPSERT_LOCATION),
        "events" => Ok(UPSERT_EVENT),
        other => Err(PgError::Data(format!("{other} is not an editable layer"))),
    }
}

/// Writes a feature of an editable layer (source form) with the layer's statement
/// ([`upsert_sql`], or the statement prepared from it once for a whole layer), creating or
/// replacing its row; `position` `None` puts a new feature after the last.
fn upsert_with<T: postgres::ToStatement + ?Sized>(
    c: &mut impl GenericClient,
    sql: &T,
    feature: &Value,
    position: Option<i64>,
) -> Result<(), PgError> {
    let id = id_of(feature)?;
    let fid = id.fid() as i32;
    let props = &feature["properties"];
    c.execute(
        sql,
        &[&id.as_str(), &fid, &position, &geometry(feature), props],
    )?;
    Ok(())
}

/// Removes a feature's row.
pub(crate) fn delete(c: &mut impl GenericClient, layer: &str, id: &str) -> Result<(), PgError> {
    let sql = match layer {
        "zones" => "DELETE FROM zones WHERE id = $1::text",
        "locations" => "DELETE FROM locations WHERE id = $1::text",
        "events" => "DELETE FROM events WHERE id = $1::text",
        other => return Err(PgError::Data(format!("{other} is not an editable layer"))),
    };
    c.execute(sql, &[&id])?;
    Ok(())
}

/// Writes a whole data set's files (source form, as [`geodata::Dataset::source_files`] gives
/// them) into empty tables.
pub(crate) fn insert_files(
    c: &mut impl GenericClient,
    files: &[(String, Value)],
    mut progress: impl FnMut(u64),
) -> Result<(), PgError> {
    for (name, file) in files {
        let features = file["features"].as_array().map_or(&[][..], Vec::as_slice);
        match name.as_str() {
            "actors.json" => {
                let actors = file["actors"].as_array().map_or(&[][..], Vec::as_slice);
                for (i, a) in actors.iter().enumerate() {
                    c.execute(
                        "INSERT INTO actors (id, position, name, colour, description, source)
                         VALUES ($1::text, $2, $3, $4, $5, $6::json)",
                        &[
                            &a["id"].as_str(),
                            &(i as i32),
                            &a["name"].as_str(),
                            &a["colour"].as_str(),
                            &a["description"].as_str(),
                            a,
                        ],
                    )?;
                }
            }
            "zones.geojson" | "locations.geojson" | "events.geojson" => {
                let layer = name.trim_end_matches(".geojson");
                // One prepared statement per layer: a round trip per row, no parse per row.
                let statement = c.prepare(upsert_sql(layer)?)?;
                for (i, f) in features.iter().enumerate() {
                    upsert_with(c, &statement, f, Some(i as i64))?;
                    progress(1);
                }
            }
            _ => {
                let Some(layer) = name
                    .strip_prefix("reference/")
                    .and_then(|n| n.strip_suffix(".geojson"))
                else {
                    return Err(PgError::Data(format!("unexpected data file {name}")));
                };
                let kind = reference_kind(features);
                c.execute(
                    "INSERT INTO reference_layers (name, geometry, title, description, style)
                     VALUES ($1, $2, $3, $4, $5::json)",
                    &[
                        &layer,
                        &kind,
                        &file["title"].as_str(),
                        &file["description"].as_str(),
                        &file.get("style"),
                    ],
                )?;
                for (i, f) in features.iter().enumerate() {
                    let id = id_of(f)?;
                    c.execute(
                        "INSERT INTO reference_features (layer, id, position, name, geom, properties)
                         VALUES ($1, $2::text, $3, $4, ST_SetSRID($5::geometry, 4326), $6::json)",
                        &[
                            &layer,
                            &id.as_str(),
                            &(i as i64),
                            &f["properties"]["name"].as_str(),
                            &geometry(f),
                            &f["properties"],
                        ],
                    )?;
                }
                progress(features.len() as u64);
            }
        }
    }
    Ok(())
}

/// The layer's geometry kind as the schema names it (the loader has checked there is one).
fn reference_kind(features: &[Value]) -> &'static str {
    match features
        .first()
        .and_then(|f| f["geometry"]["type"].as_str())
        .unwrap_or("MultiPolygon")
    {
        "Point" | "MultiPoint" => "Point",
        "LineString" | "MultiLineString" => "MultiLineString",
        _ => "MultiPolygon",
    }
}

/// A feature's text in source form from its row.
fn feature_text(id: &str, geom: Option<geo::Geometry<f64>>, properties: &str) -> String {
    let geometry = geom.map_or(Value::Null, |g| geodata::geometry_json(&g));
    format!(
        "{{\"type\":\"Feature\",\"id\":{},\"geometry\":{geometry},\"properties\":{properties}}}",
        json!(id)
    )
}

/// The data set's files as the tables hold them now, in the order the loader reads them.
pub(crate) fn read_files(c: &mut impl GenericClient) -> Result<Vec<geodata::DataFile>, PgError> {
    let mut files = Vec::new();
    let actors: Vec<String> = c
        .query("SELECT source::text FROM actors ORDER BY position", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    files.push(geodata::DataFile {
        name: "actors.json".into(),
        text: Ok(format!("{{\"actors\":[{}]}}", actors.join(","))),
    });
    for layer in geodata::EDITABLE_LAYERS {
        let rows = c.query(
            &format!("SELECT id::text, geom, properties::text FROM {layer} ORDER BY position"),
            &[],
        )?;
        files.push(geodata::DataFile {
            name: format!("{layer}.geojson"),
            text: Ok(collection(&feature_texts(&rows), serde_json::Map::new())),
        });
    }
    let layers = c.query(
        "SELECT name, title, description, style::text FROM reference_layers ORDER BY name",
        &[],
    )?;
    for l in layers {
        let name: String = l.get(0);
        let mut head = serde_json::Map::new();
        if let Some(t) = l.get::<_, Option<String>>(1) {
            head.insert("title".into(), json!(t));
        }
        if let Some(d) = l.get::<_, Option<String>>(2) {
            head.insert("description".into(), json!(d));
        }
        if let Some(s) = l.get::<_, Option<String>>(3) {
            let style: Value = serde_json::from_str(&s)
                .map_err(|e| PgError::Data(format!("reference layer {name}: style: {e}")))?;
            head.insert("style".into(), style);
        }
        let rows = c.query(
            "SELECT id::text, geom, properties::text FROM reference_features
             WHERE layer = $1 ORDER BY position",
            &[&name],
        )?;
        files.push(geodata::DataFile {
            name: format!("reference/{name}.geojson"),
            text: Ok(collection(&feature_texts(&rows), head)),
        });
    }
    Ok(files)
}

/// Feature texts of rows selected as `id::text, geom, properties::text`.
fn feature_texts(rows: &[postgres::Row]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            let geom: wkb::Decode<geo::Geometry<f64>> = r.get(1);
            feature_text(r.get(0), geom.geometry, r.get(2))
        })
        .collect()
}

fn collection(features: &[String], head: serde_json::Map<String, Value>) -> String {
    let mut text = String::from("{\"type\":\"FeatureCollection\"");
    for (k, v) in head {
        text.push_str(&format!(",{}:{v}", json!(k)));
    }
    text.push_str(",\"features\":[");
    text.push_str(&features.join(","));
    text.push_str("]}");
    text
}

/// Every revision after `after`, oldest first.
pub(crate) fn read_revisions(
    c: &mut impl GenericClient,
    after: u64,
) -> Result<Vec<Revision>, PgError> {
    let rows = c.query(
        "SELECT r.number, r.time, r.author, r.message, c.layer, c.feature_id::text,
                c.before::text, c.after::text
         FROM revisions r LEFT JOIN revision_changes c ON c.revision = r.number
         WHERE r.number > $1 ORDER BY r.number, c.position",
        &[&(after as i64)],
    )?;
    let mut out: Vec<Revision> = Vec::new();
    for row in rows {
        let number = row.get::<_, i64>(0) as u64;
        if out.last().is_none_or(|r| r.number != number) {
            let expected = out.last().map_or(after + 1, |r| r.number + 1);
            if number != expected {
                return Err(PgError::Data(format!(
                    "revision {number} where {expected} was expected: revisions are numbered without gaps"
                )));
            }
            out.push(Revision {
                number,
                time: row.get(1),
                author: row.get(2),
                message: row.get(3),
                changes: Vec::new(),
            });
        }
        let Some(layer) = row.get::<_, Option<String>>(4) else {
            continue;
        };
        let state = |i: usize| -> Result<Option<Value>, PgError> {
            row.get::<_, Option<String>>(i)
                .map(|t| serde_json::from_str(&t))
                .transpose()
                .map_err(|e| PgError::Data(format!("revision {number}: {e}")))
        };
        let id: String = row.get(5);
        let change = geodata::FeatureChange {
            layer,
            id: FeatureId::parse(&id)
                .map_err(|e| PgError::Data(format!("revision {number}: feature id {e}")))?,
            before: state(6)?,
            after: state(7)?,
        };
        if let Some(r) = out.last_mut() {
            r.changes.push(change);
        }
    }
    Ok(out)
}

/// Appends a revision: its row, its changes, and each changed feature's row.
pub(crate) fn write_revision(c: &mut impl GenericClient, r: &Revision) -> Result<(), PgError> {
    c.execute(
        "INSERT INTO revisions (number, time, author, message) VALUES ($1, $2, $3, $4)",
        &[&(r.number as i64), &r.time, &r.author, &r.message],
    )?;
    for (i, ch) in r.changes.iter().enumerate() {
        c.execute(
            "INSERT INTO revision_changes (revision, position, layer, feature_id, before, after)
             VALUES ($1, $2, $3, $4::text, $5::json, $6::json)",
            &[
                &(r.number as i64),
                &(i as i32),
                &ch.layer,
                &ch.id.as_str(),
                &ch.before,
                &ch.after,
            ],
        )?;
    }
    Ok(())
}

/// Brings the feature rows to a revision's `after` states.
pub(crate) fn apply_revision(c: &mut impl GenericClient, r: &Revision) -> Result<(), PgError> {
    for ch in &r.changes {
        match &ch.after {
            Some(after) => upsert_with(c, upsert_sql(&ch.layer)?, after, None)?,
            None => delete(c, &ch.layer, ch.id.as_str())?,
        }
    }
    Ok(())
}
