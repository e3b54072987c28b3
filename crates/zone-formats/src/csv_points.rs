//! Point layers as CSV: `id,lon,lat`, then every property (lists joined by `;`, sources as
//! "Title (Publisher, date) <url>"), one row per feature. Opens in a spreadsheet and in QGIS's
//! delimited-text provider.

use std::fmt::Write as _;

use geodata::{GeometryKind, LayerInfo};
use serde_json::Value;

use crate::{FormatError, LayerExport, LayerWriter};

/// CSV (point layers).
pub struct Csv;

impl LayerWriter for Csv {
    fn applies_to(info: &LayerInfo) -> bool {
        info.geometry == GeometryKind::Point
    }

    fn write(layer: &LayerExport<'_>) -> Result<Vec<u8>, FormatError> {
        let keys = crate::property_names(layer.features);
        let mut w = csv::Writer::from_writer(Vec::new());
        let header = ["id", "lon", "lat"].into_iter().chain(keys.iter().copied());
        w.write_record(header).map_err(csv_error)?;
        let mut row: Vec<String> = Vec::with_capacity(keys.len() + 3);
        for f in layer.rows() {
            let geo::Geometry::Point(p) = &*f.geometry else {
                continue;
            };
            row.clear();
            row.extend([f.fid.to_string(), p.x().to_string(), p.y().to_string()]);
            row.extend(
                keys.iter()
                    .map(|k| f.properties.get(*k).map(value_text).unwrap_or_default()),
            );
            w.write_record(&row).map_err(csv_error)?;
        }
        w.into_inner()
            .map_err(|e| FormatError::Io(e.into_error()))
    }
}

fn csv_error(e: csv::Error) -> FormatError {
    FormatError::Io(std::io::Error::other(e))
}

/// A property as one cell.
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
