//! File downloads that open in QGIS with no fixing: `{layer}.geojson` (RFC 7946), `{layer}.qml`
//! (a QGIS style with the map's colours: saved beside the GeoJSON under the same name, QGIS
//! applies it on load) and `{layer}.csv` for point layers.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::params::{self, Params};
use crate::snapshot::{Layer, Snapshot};

fn attachment(content_type: &'static str, filename: &str, body: String) -> Response {
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

/// `GET /export/{layer}.{geojson|qml|csv}[?datetime=]`.
pub async fn export(
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref(), &["datetime"])?;
    let snap = state.snapshot();
    let (name, ext) = file.rsplit_once('.').ok_or_else(|| {
        ApiError::not_found("name the file with its format: /export/zones.geojson, /export/zones.qml or /export/locations.csv")
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
            "no export format {:?}; use .geojson, .qml or (point layers) .csv",
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
