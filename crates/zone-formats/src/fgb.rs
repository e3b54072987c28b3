//! A layer as a FlatGeobuf file: EPSG:4326, the layer's one geometry type, a packed Hilbert
//! R-tree (features stored in its order, so GDAL and QGIS read only what a bbox needs), an
//! integer `fid` column, then the GeoJSON export's properties as typed columns.

use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
use geodata::{ExportFeature, GeometryKind};
use geozero::{ColumnValue, FeatureProcessor as _, GeozeroGeometry as _, PropertyProcessor as _};
use serde_json::Value;

use crate::{ColumnKind, FormatError, LayerExport, LayerWriter};

/// FlatGeobuf.
pub struct FlatGeobuf;

impl LayerWriter for FlatGeobuf {
    fn write(layer: &LayerExport<'_>) -> Result<Vec<u8>, FormatError> {
        let kept: Vec<&ExportFeature> = layer.rows().collect();
        flatgeobuf(
            &layer.info.id,
            layer.info.geometry,
            Some(&layer.info.title),
            Some(&layer.info.description),
            layer.features,
            &kept,
        )
    }
}

fn column_type(kind: ColumnKind) -> ColumnType {
    match kind {
        ColumnKind::Text => ColumnType::String,
        ColumnKind::Integer => ColumnType::Long,
        ColumnKind::Real => ColumnType::Double,
        ColumnKind::Boolean => ColumnType::Bool,
        ColumnKind::Json => ColumnType::Json,
    }
}

/// The `fid` column: the integer feature id of the GeoJSON export and the API.
const FID_COLUMN: &str = "fid";

/// One layer as a FlatGeobuf file: EPSG:4326, the layer's one geometry type, a packed Hilbert
/// R-tree index (features are stored in its order), a `fid` column (the integer id, Long), then
/// one column per property of the GeoJSON export, typed from its values over all of `features`
/// (see [`crate::column_kind`]; a null is an absent value), so every date's file has the same
/// columns. Only the `kept` features are written, in their order.
fn flatgeobuf(
    name: &str,
    kind: GeometryKind,
    title: Option<&str>,
    description: Option<&str>,
    features: &[ExportFeature],
    kept: &[&ExportFeature],
) -> Result<Vec<u8>, FormatError> {
    let geometry_type = match kind {
        GeometryKind::Point => GeometryType::Point,
        GeometryKind::Line => GeometryType::MultiLineString,
        GeometryKind::Polygon => GeometryType::MultiPolygon,
    };
    let mut fgb = FgbWriter::create_with_options(
        name,
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
            title,
            description,
            ..Default::default()
        },
    )
    .map_err(FormatError::FlatGeobuf)?;
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
        let ty = column_type(crate::column_kind(
            features.iter().filter_map(|f| f.properties.get(k)),
        ));
        fgb.add_column(k, ty, |_, _| {});
        columns.push((k, ty));
    }
    for (n, f) in kept.iter().enumerate() {
        // Straight from the feature's geometry into the writer (no copy of it).
        f.geometry
            .process_geom(&mut fgb)
            .map_err(FormatError::Encode)?;
        if with_fid {
            fgb.property(0, FID_COLUMN, &ColumnValue::Long(i64::from(f.fid)))
                .map_err(FormatError::Encode)?;
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
                fgb.property(first + c, k, &value)
                    .map_err(FormatError::Encode)?;
            }
        }
        fgb.feature_end(n as u64).map_err(FormatError::Encode)?;
    }
    let mut out = Vec::new();
    fgb.write(&mut out).map_err(FormatError::FlatGeobuf)?;
    Ok(out)
}

