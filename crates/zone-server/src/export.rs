//! File downloads that open in QGIS with no fixing: `{layer}.geojson` (RFC 7946), `{layer}.fgb`
//! (FlatGeobuf with its spatial index, see [`flatgeobuf`]), `{layer}.qml` (a QGIS style with the
//! map's colours: saved beside the GeoJSON or FlatGeobuf file under the same name, QGIS applies it
//! on load) and `{layer}.csv` for point layers.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
use geodata::ExportFeature;
use geozero::{ColumnValue, FeatureProcessor as _, GeozeroGeometry as _, PropertyProcessor as _};
use serde_json::Value;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::params::{self, Params};
use crate::snapshot::{Layer, Snapshot};

fn attachment(
    content_type: &'static str,
    filename: &str,
    body: impl Into<axum::body::Body>,
) -> Response {
    let body: axum::body::Body = body.into();
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /export/{layer}.{geojson|fgb|qml|csv}[?datetime=]`.
pub async fn export(
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref(), &["datetime"])?;
    let snap = state.snapshot();
    let (name, ext) = file.rsplit_once('.').ok_or_else(|| {
        ApiError::not_found("name the file with its format: /export/zones.geojson, /export/zones.fgb, /export/zones.qml or /export/locations.csv")
    })?;
    let layer = crate::oapif::find_layer(&snap, name)?;
    let datetime = params.get("datetime").map(params::datetime).transpose()?;
    let selected = || -> Vec<usize> {
        (0..layer.features.len())
            .filter(|&i| datetime.is_none_or(|d| d.matches(&layer.features[i].period)))
            .collect()
    };
    match ext {
        "geojson" => {
            let mut body = String::from("{\"type\":\"FeatureCollection\",\"features\":[\n");
            for (n, i) in selected().into_iter().enumerate() {
                if n > 0 {
                    body.push_str(",\n");
                }
                body.push_str(&layer.json[i]);
            }
            body.push_str("\n]}\n");
            Ok(attachment(
                "application/geo+json",
                &format!("{name}.geojson"),
                body,
            ))
        }
        "fgb" => {
            // The writer spools features through a temporary file: keep that off the async
            // workers. (The answer is cached per data version, so this runs once per request
            // form.)
            let layer_name = layer.name.clone();
            let snap = snap.clone();
            let body = tokio::task::spawn_blocking(move || -> ApiResult<Vec<u8>> {
                let layer = crate::oapif::find_layer(&snap, &layer_name)?;
                flatgeobuf(
                    &FgbLayer {
                        name: &layer.name,
                        geometry_type: layer.geometry_type,
                        title: Some(&layer.title),
                        description: Some(&layer.description),
                    },
                    &layer.features,
                    |f| datetime.is_none_or(|d| d.matches(&f.period)),
                )
                .map_err(|e| ApiError::internal(&e))
            })
            .await
            .map_err(|e| ApiError::internal(&e))??;
            Ok(attachment(
                FLATGEOBUF_MEDIA_TYPE,
                &format!("{name}.fgb"),
                body,
            ))
        }
        "qml" => Ok(attachment(
            "application/xml",
            &format!("{name}.qml"),
            qml(&snap, layer),
        )),
        "csv" if layer.geometry_type == "Point" => Ok(attachment(
            "text/csv; charset=utf-8",
            &format!("{name}.csv"),
            csv(layer, &selected()),
        )),
        "csv" => Err(ApiError::not_found(format!(
            "{name} holds {}s; CSV export is for point layers (locations, events); use {name}.geojson",
            layer.geometry_type
        ))),
        other => Err(ApiError::not_found(format!(
            "no export format {:?}; use .geojson, .fgb (FlatGeobuf), .qml or (point layers) .csv",
            other.chars().take(20).collect::<String>()
        ))),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(";"),
        Value::Array(items) => items
            .iter()
            .map(|s| {
                // Sources as "Title (Publisher, date) <url>".
                let t = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("");
                let mut out = t("title").to_owned();
                let extra: Vec<&str> = [t("publisher"), t("date")]
                    .into_iter()
                    .filter(|x| !x.is_empty())
                    .collect();
                if !extra.is_empty() {
                    let _ = write!(out, " ({})", extra.join(", "));
                }
                if !t("url").is_empty() {
                    let _ = write!(out, " <{}>", t("url"));
                }
                out
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// Point layers as CSV: `lon,lat`, then every property, one row per feature.
fn csv(layer: &Layer, rows: &[usize]) -> String {
    let keys: Vec<String> = layer
        .features
        .first()
        .map(|f| f.properties.keys().cloned().collect())
        .unwrap_or_default();
    let mut out = String::from("id,lon,lat");
    for k in &keys {
        out.push(',');
        out.push_str(&csv_field(k));
    }
    out.push('\n');
    for &i in rows {
        let f = &layer.features[i];
        let (lon, lat) = match &f.geometry {
            geo::Geometry::Point(p) => (p.x(), p.y()),
            _ => continue,
        };
        let _ = write!(out, "{},{lon},{lat}", f.fid);
        for k in &keys {
            out.push(',');
            out.push_str(&csv_field(
                &f.properties.get(k).map(value_text).unwrap_or_default(),
            ));
        }
        out.push('\n');
    }
    out
}

fn rgba(hex: &str, alpha: u8) -> String {
    let c = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("80"), 16).unwrap_or(128);
    format!("{},{},{},{alpha}", c(1), c(3), c(5))
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn option(name: &str, value: &str) -> String {
    format!(
        "<Option name=\"{name}\" type=\"QString\" value=\"{}\"/>",
        xml(value)
    )
}

fn fill_symbol(index: usize, fill: &str, outline: &str, style: &str) -> String {
    format!(
        "<symbol name=\"{index}\" type=\"fill\" alpha=\"1\" clip_to_extent=\"1\" force_rhr=\"0\">\
         <layer class=\"SimpleFill\" enabled=\"1\" pass=\"0\" locked=\"0\"><Option type=\"Map\">{}{}{}{}{}</Option></layer></symbol>",
        option("color", fill),
        option("outline_color", outline),
        option("outline_style", "solid"),
        option("outline_width", "0.5"),
        option("style", style),
    )
}

fn line_symbol(index: usize, colour: &str, width: &str, dashed: bool) -> String {
    format!(
        "<symbol name=\"{index}\" type=\"line\" alpha=\"1\" clip_to_extent=\"1\" force_rhr=\"0\">\
         <layer class=\"SimpleLine\" enabled=\"1\" pass=\"0\" locked=\"0\"><Option type=\"Map\">{}{}{}</Option></layer></symbol>",
        option("line_color", colour),
        option("line_width", width),
        option("line_style", if dashed { "dash" } else { "solid" }),
    )
}

fn marker_symbol(index: usize, fill: &str, shape: &str) -> String {
    format!(
        "<symbol name=\"{index}\" type=\"marker\" alpha=\"1\" clip_to_extent=\"1\" force_rhr=\"0\">\
         <layer class=\"SimpleMarker\" enabled=\"1\" pass=\"0\" locked=\"0\"><Option type=\"Map\">{}{}{}{}</Option></layer></symbol>",
        option("color", fill),
        option("name", shape),
        option("outline_color", "35,35,35,255"),
        option("size", "2.6"),
    )
}

/// A QGIS style (`.qml`) for the layer: zones categorised by actor in the map's colours, the
/// other layers with one symbol each.
fn qml(snap: &Snapshot, layer: &Layer) -> String {
    let renderer = if layer.name == "zones" {
        let mut categories = String::new();
        let mut symbols = String::new();
        for (i, a) in snap.data.actors.iter().enumerate() {
            let _ = write!(
                categories,
                "<category value=\"{}\" label=\"{}\" symbol=\"{i}\" render=\"true\"/>",
                xml(a.id.as_str()),
                xml(&a.name)
            );
            symbols.push_str(&fill_symbol(
                i,
                &rgba(&a.colour, 90),
                &rgba(&a.colour, 255),
                "solid",
            ));
        }
        format!(
            "<renderer-v2 type=\"categorizedSymbol\" attr=\"actor\" symbollevels=\"0\" enableorderby=\"0\" forceraster=\"0\">\
             <categories>{categories}</categories><symbols>{symbols}</symbols></renderer-v2>"
        )
    } else {
        let symbol = match (layer.geometry_type, layer.name.as_str()) {
            ("Point", "events") => marker_symbol(0, "215,25,28,255", "star"),
            ("Point", _) => marker_symbol(0, "255,255,255,255", "circle"),
            ("MultiLineString", "rivers") => line_symbol(0, "31,120,180,255", "0.8", false),
            ("MultiLineString", _) => line_symbol(0, "60,60,60,255", "0.6", true),
            _ => fill_symbol(0, "0,0,0,0", "90,90,90,255", "no"),
        };
        format!(
            "<renderer-v2 type=\"singleSymbol\" symbollevels=\"0\" enableorderby=\"0\" forceraster=\"0\"><symbols>{symbol}</symbols></renderer-v2>"
        )
    };
    format!(
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n\
         <qgis version=\"3.22.0\" styleCategories=\"Symbology|Labeling\">\n{renderer}\n\
         <labeling type=\"simple\"><settings calloutType=\"simple\"><text-style fieldName=\"name\" fontSize=\"8\" textColor=\"30,30,30,255\"/>\
         <placement placement=\"1\"/><rendering scaleVisibility=\"1\" scaleMin=\"1\" scaleMax=\"2000000\"/></settings></labeling>\n\
         <layerGeometryType>{}</layerGeometryType>\n</qgis>\n",
        match layer.geometry_type {
            "Point" => 0,
            "MultiLineString" => 1,
            _ => 2,
        }
    )
}

/// Media type of a FlatGeobuf file (not registered with IANA; what FlatGeobuf's own tools use).
pub const FLATGEOBUF_MEDIA_TYPE: &str = "application/flatgeobuf";

/// What a FlatGeobuf file says about its layer besides the features.
#[derive(Debug, Clone, Copy)]
pub struct FgbLayer<'a> {
    /// Layer name (the file's layer in GDAL and QGIS).
    pub name: &'a str,
    /// The one GeoJSON geometry type of the layer (`MultiPolygon`, `Point` ...).
    pub geometry_type: &'a str,
    /// Human title, kept in the file's header.
    pub title: Option<&'a str>,
    /// What the layer holds, kept in the file's header.
    pub description: Option<&'a str>,
}

/// Why a FlatGeobuf file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FgbError {
    /// The writer failed (its temporary file, or the file's structure).
    #[error("writing FlatGeobuf: {0}")]
    Write(#[from] flatgeobuf::Error),
    /// A feature's geometry or properties could not be encoded.
    #[error("encoding a feature as FlatGeobuf: {0}")]
    Feature(#[from] geozero::error::GeozeroError),
    /// The layer's geometry type has no FlatGeobuf counterpart.
    #[error("no FlatGeobuf geometry type for {0:?}")]
    GeometryType(String),
}

/// The FlatGeobuf column type for a property, from its values over the whole layer: strings as
/// String, integers as Long, other numbers as Double, booleans as Bool, arrays and objects (and
/// columns that mix them with anything) as Json; a column of mixed scalars, or only nulls, as
/// String.
fn column_type<'v>(values: impl Iterator<Item = &'v Value>) -> ColumnType {
    let mut ty: Option<ColumnType> = None;
    for v in values {
        let this = match v {
            Value::Null => continue,
            Value::Bool(_) => ColumnType::Bool,
            Value::Number(n) if n.is_i64() => ColumnType::Long,
            Value::Number(_) => ColumnType::Double,
            Value::String(_) => ColumnType::String,
            Value::Array(_) | Value::Object(_) => return ColumnType::Json,
        };
        ty = Some(match (ty, this) {
            (None, t) => t,
            (Some(a), b) if a == b => a,
            (
                Some(ColumnType::Long | ColumnType::Double),
                ColumnType::Long | ColumnType::Double,
            ) => ColumnType::Double,
            _ => ColumnType::String,
        });
    }
    // A column of nulls only is text.
    ty.unwrap_or(ColumnType::String)
}

/// The `fid` column: the integer feature id of the GeoJSON export and the API.
const FID_COLUMN: &str = "fid";

/// One layer as a FlatGeobuf file: EPSG:4326, the layer's one geometry type, a packed Hilbert
/// R-tree index (features are stored in its order), a `fid` column (the integer id, Long), then
/// one column per property of the GeoJSON export, typed from its values over all of `features`
/// (see [`column_type`]; a null is an absent value), so every date's file has the same columns.
/// Only the features `keep` accepts are written.
///
/// The one writer behind `GET /export/{layer}.fgb` and `zonetrack export --out FILE.fgb`.
pub fn flatgeobuf(
    layer: &FgbLayer<'_>,
    features: &[ExportFeature],
    keep: impl Fn(&ExportFeature) -> bool,
) -> Result<Vec<u8>, FgbError> {
    let geometry_type = match layer.geometry_type {
        "Point" => GeometryType::Point,
        "MultiPoint" => GeometryType::MultiPoint,
        "LineString" => GeometryType::LineString,
        "MultiLineString" => GeometryType::MultiLineString,
        "Polygon" => GeometryType::Polygon,
        "MultiPolygon" => GeometryType::MultiPolygon,
        other => return Err(FgbError::GeometryType(other.to_owned())),
    };
    let kept: Vec<&ExportFeature> = features.iter().filter(|f| keep(f)).collect();
    let mut fgb = FgbWriter::create_with_options(
        layer.name,
        geometry_type,
        FgbWriterOptions {
            // An index over no feature is one GDAL refuses to open ("Number of items must be
            // greater than 0"): an empty file says it has none.
            write_index: !kept.is_empty(),
            // The type is known: never guess it, but a Polygon in a MultiPolygon layer is
            // written as a MultiPolygon of one.
            detect_type: false,
            promote_to_multi: true,
            crs: FgbCrs {
                org: Some("EPSG"),
                code: 4326,
                name: Some("WGS 84"),
                ..Default::default()
            },
            title: layer.title,
            description: layer.description,
            ..Default::default()
        },
    )?;
    let keys: Vec<&str> = features
        .first()
        .map(|f| f.properties.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let with_fid = !keys.contains(&FID_COLUMN);
    if with_fid {
        fgb.add_column(FID_COLUMN, ColumnType::Long, |_, col| {
            col.nullable = false;
            col.unique = true;
            col.primary_key = true;
        });
    }
    let mut columns = Vec::with_capacity(keys.len());
    for &k in &keys {
        let ty = column_type(features.iter().filter_map(|f| f.properties.get(k)));
        fgb.add_column(k, ty, |_, _| {});
        columns.push((k, ty));
    }
    for (n, f) in kept.into_iter().enumerate() {
        // Straight from the feature's geometry into the writer (no copy of it).
        f.geometry.process_geom(&mut fgb)?;
        if with_fid {
            fgb.property(0, FID_COLUMN, &ColumnValue::Long(i64::from(f.fid)))?;
        }
        let first = usize::from(with_fid);
        for (c, &(k, ty)) in columns.iter().enumerate() {
            let text;
            let value = match (f.properties.get(k), ty) {
                (None | Some(Value::Null), _) => None,
                (Some(v), ColumnType::Bool) => v.as_bool().map(ColumnValue::Bool),
                (Some(v), ColumnType::Long) => v.as_i64().map(ColumnValue::Long),
                (Some(v), ColumnType::Double) => v.as_f64().map(ColumnValue::Double),
                (Some(Value::String(s)), ColumnType::String) => Some(ColumnValue::String(s)),
                (Some(v), ColumnType::Json) => {
                    text = v.to_string();
                    Some(ColumnValue::Json(&text))
                }
                (Some(v), _) => {
                    text = v.to_string();
                    Some(ColumnValue::String(&text))
                }
            };
            if let Some(value) = value {
                fgb.property(first + c, k, &value)?;
            }
        }
        fgb.feature_end(n as u64)?;
    }
    let mut out = Vec::new();
    fgb.write(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn column_types_follow_the_values_of_the_whole_layer() {
        let ty = |values: Value| column_type(values.as_array().into_iter().flatten());
        assert_eq!(ty(json!(["a", null, "b"])), ColumnType::String);
        assert_eq!(ty(json!([1, null, -2])), ColumnType::Long);
        assert_eq!(ty(json!([1, 2.5])), ColumnType::Double);
        assert_eq!(ty(json!([true, false, null])), ColumnType::Bool);
        assert_eq!(ty(json!([[], ["x"]])), ColumnType::Json);
        assert_eq!(ty(json!(["a", {"title": "t"}])), ColumnType::Json);
        assert_eq!(ty(json!(["a", 1, true])), ColumnType::String);
        assert_eq!(ty(json!([null, null])), ColumnType::String);
        assert_eq!(ty(json!([])), ColumnType::String);
    }

    #[test]
    fn an_unknown_geometry_type_is_an_error_not_a_panic() {
        let layer = FgbLayer {
            name: "x",
            geometry_type: "GeometryCollection",
            title: None,
            description: None,
        };
        assert!(matches!(
            flatgeobuf(&layer, &[], |_| true),
            Err(FgbError::GeometryType(_))
        ));
    }
}
