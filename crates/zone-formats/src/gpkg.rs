//! A layer as a GeoPackage (OGC 12-128r19, version 1.4), QGIS's own format: one feature table
//! in EPSG:4326 whose primary key is the feature's integer id (the same `fid` as the API and the
//! other exports), the GeoJSON export's properties as typed columns (dates as `DATE`, lists and
//! sources as JSON text), the layer's title and description in `gpkg_contents`.
//!
//! No spatial index table: the spec's R-tree needs triggers to stay right when a user edits the
//! file in QGIS, and our layers are small; QGIS or `ogrinfo` add one on request.

use std::sync::atomic::{AtomicU64, Ordering};

use geodata::{ExportFeature, GeometryKind};
use geozero::CoordDimensions;
use geozero::ToWkb as _;
use rusqlite::{Connection, params_from_iter};
use serde_json::Value;

use crate::{ColumnKind, FormatError, LayerExport, LayerWriter};

/// GeoPackage.
pub struct GeoPackage;

impl LayerWriter for GeoPackage {
    fn write(layer: &LayerExport<'_>) -> Result<Vec<u8>, FormatError> {
        // SQLite writes to a file: a private temporary one, read back and removed.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "zonetrack-{}-{}.gpkg",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let written = write_file(layer, &path);
        let bytes = written.and_then(|()| std::fs::read(&path).map_err(FormatError::Io));
        let _ = std::fs::remove_file(&path);
        bytes
    }
}

/// EPSG:4326 as GeoPackage's `gpkg_spatial_ref_sys` must hold it (OGC WKT 1, as GDAL writes).
const WGS84_WKT: &str = "GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563,AUTHORITY[\"EPSG\",\"7030\"]],AUTHORITY[\"EPSG\",\"6326\"]],PRIMEM[\"Greenwich\",0,AUTHORITY[\"EPSG\",\"8901\"]],UNIT[\"degree\",0.0174532925199433,AUTHORITY[\"EPSG\",\"9122\"]],AXIS[\"Latitude\",NORTH],AXIS[\"Longitude\",EAST],AUTHORITY[\"EPSG\",\"4326\"]]";

/// The tables every GeoPackage has (spec §1.1.2, §1.1.3, §2.1.5), with the three required
/// spatial reference systems.
const CORE_TABLES: &str = "
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
INSERT INTO gpkg_spatial_ref_sys VALUES
  ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
  ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system');
";

/// A SQL identifier, quoted.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Whether every value of a text column is a day (`YYYY-MM-DD`): then it is a `DATE` column.
pub(crate) fn all_days<'v>(mut values: impl Iterator<Item = &'v Value>) -> bool {
    let mut any = false;
    let days = values.all(|v| match v {
        Value::Null => true,
        Value::String(s) => {
            any = true;
            s.len() == 10 && geodata::parse_date(s).is_some()
        }
        _ => false,
    });
    days && any
}

fn write_file(layer: &LayerExport<'_>, path: &std::path::Path) -> Result<(), FormatError> {
    let sql = FormatError::GeoPackage;
    let mut db = Connection::open(path).map_err(sql)?;
    // 'GPKG' and version 1.4.0 (spec §1.1.1.1.1).
    db.execute_batch(
        "PRAGMA application_id = 1196444487; PRAGMA user_version = 10400; PRAGMA journal_mode = OFF;",
    )
    .map_err(sql)?;
    let tx = db.transaction().map_err(sql)?;
    tx.execute_batch(CORE_TABLES).map_err(sql)?;
    tx.execute(
        "INSERT INTO gpkg_spatial_ref_sys VALUES ('WGS 84 geodetic', 4326, 'EPSG', 4326, ?1, \
         'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid')",
        [WGS84_WKT],
    )
    .map_err(sql)?;

    let table = layer.info.id.as_str();
    let geometry_type = match layer.info.geometry {
        GeometryKind::Point => "POINT",
        GeometryKind::Line => "MULTILINESTRING",
        GeometryKind::Polygon => "MULTIPOLYGON",
    };
    let keys: Vec<&str> = crate::property_names(layer.features)
        .into_iter()
        // The primary key is the integer id; a property of that name would clash.
        .filter(|k| !k.eq_ignore_ascii_case("fid"))
        .collect();
    let kinds: Vec<(ColumnKind, bool)> = keys
        .iter()
        .map(|k| {
            let values = || layer.features.iter().filter_map(|f| f.properties.get(*k));
            let kind = crate::column_kind(values());
            (kind, kind == ColumnKind::Text && all_days(values()))
        })
        .collect();
    let mut columns = format!(
        "{} INTEGER PRIMARY KEY NOT NULL, geom {geometry_type}",
        ident("fid")
    );
    for (k, (kind, day)) in keys.iter().zip(&kinds) {
        let ty = match (kind, day) {
            (_, true) => "DATE",
            (ColumnKind::Integer, _) => "INTEGER",
            (ColumnKind::Real, _) => "DOUBLE",
            (ColumnKind::Boolean, _) => "BOOLEAN",
            (ColumnKind::Text | ColumnKind::Json, _) => "TEXT",
        };
        columns.push_str(&format!(", {} {ty}", ident(k)));
    }
    tx.execute_batch(&format!("CREATE TABLE {} ({columns});", ident(table)))
        .map_err(sql)?;

    let rows: Vec<&ExportFeature> = layer.rows().collect();
    let extent = rows
        .iter()
        .filter_map(|f| f.bbox)
        .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
        .reduce(|a, b| [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])]);
    tx.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, \
         max_x, max_y, srs_id) VALUES (?1, 'features', ?2, ?3, ?4, ?5, ?6, ?7, 4326)",
        rusqlite::params![
            table,
            layer.info.title,
            layer.info.description,
            extent.map(|e| e[0]),
            extent.map(|e| e[1]),
            extent.map(|e| e[2]),
            extent.map(|e| e[3]),
        ],
    )
    .map_err(sql)?;
    tx.execute(
        "INSERT INTO gpkg_geometry_columns VALUES (?1, 'geom', ?2, 4326, 0, 0)",
        rusqlite::params![table, geometry_type],
    )
    .map_err(sql)?;

    let placeholders: Vec<String> = (1..=keys.len() + 2).map(|i| format!("?{i}")).collect();
    let insert = format!(
        "INSERT INTO {} VALUES ({})",
        ident(table),
        placeholders.join(", ")
    );
    {
        let mut stmt = tx.prepare(&insert).map_err(sql)?;
        for f in rows {
            // GeoPackage's binary header (with the envelope, for all but points) before ISO WKB.
            let envelope = match (&*f.geometry, f.bbox) {
                (geo::Geometry::Point(_), _) | (_, None) => Vec::new(),
                (_, Some(r)) => vec![r.min().x, r.max().x, r.min().y, r.max().y],
            };
            let blob = f
                .geometry
                .to_gpkg_wkb(CoordDimensions::xy(), Some(4326), envelope)
                .map_err(FormatError::Encode)?;
            let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(keys.len() + 2);
            values.push(i64::from(f.fid).into());
            values.push(blob.into());
            for (k, (kind, _)) in keys.iter().zip(&kinds) {
                values.push(match (f.properties.get(*k), kind) {
                    (None | Some(Value::Null), _) => rusqlite::types::Value::Null,
                    (Some(Value::Bool(b)), ColumnKind::Boolean) => i64::from(*b).into(),
                    (Some(Value::Number(n)), ColumnKind::Integer) => {
                        n.as_i64().map_or(rusqlite::types::Value::Null, Into::into)
                    }
                    (Some(Value::Number(n)), ColumnKind::Real) => {
                        n.as_f64().map_or(rusqlite::types::Value::Null, Into::into)
                    }
                    (Some(Value::String(s)), _) => s.clone().into(),
                    (Some(v), _) => v.to_string().into(),
                });
            }
            stmt.execute(params_from_iter(values)).map_err(sql)?;
        }
    }
    tx.commit().map_err(sql)?;
    db.close().map_err(|(_, e)| sql(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_written_as_a_geopackage_sqlite_reads_back() {
        let (features, bytes) = crate::embedded_zones_as(crate::Format::GeoPackage);
        assert_eq!(&bytes[..16], b"SQLite format 3\0");
        // application_id 'GPKG' at offset 68 of the header.
        assert_eq!(&bytes[68..72], b"GPKG");
        let path = std::env::temp_dir().join(format!("zt-gpkg-test-{}.gpkg", std::process::id()));
        std::fs::write(&path, &bytes).expect("a temporary file");
        let db = Connection::open(&path).expect("opens");
        let count: i64 = db
            .query_row("SELECT count(*) FROM zones", [], |r| r.get(0))
            .expect("counts");
        assert_eq!(count as usize, features.len());
        let ty: String = db
            .query_row(
                "SELECT type FROM pragma_table_info('zones') WHERE name = 'valid_from'",
                [],
                |r| r.get(0),
            )
            .expect("a column");
        assert_eq!(ty, "DATE");
        // The primary key is the feature's integer id, as in the API and the other exports.
        let (key, geom): (String, Vec<u8>) = db
            .query_row(
                "SELECT key, geom FROM zones WHERE fid = ?1",
                [i64::from(features[0].fid)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("a row");
        assert_eq!(key, features[0].key);
        // "GP", version 0, flags: little-endian with an xy envelope; then SRS 4326.
        assert_eq!(&geom[..4], &[b'G', b'P', 0, 0b0000_0011]);
        assert_eq!(i32::from_le_bytes([geom[4], geom[5], geom[6], geom[7]]), 4326);
        drop(db);
        let _ = std::fs::remove_file(&path);
    }
}
