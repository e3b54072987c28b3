//! A layer as GeoParquet 1.1 (<https://geoparquet.org/releases/v1.1.0/>): one row group, an
//! integer `fid` column (the same id as the API and the other exports), the GeoJSON export's
//! properties as typed columns (dates such as `valid_from` / `valid_to` as Arrow `Date32`,
//! lists and sources as JSON text), the geometry as WKB in `geometry`, and a `bbox` covering
//! column (`xmin`, `ymin`, `xmax`, `ymax`) that DuckDB, SedonaDB and GDAL use to skip row
//! groups. The `geo` file metadata names the encoding, the geometry types present, the layer's
//! bbox and the covering; no `crs`, which GeoParquet reads as OGC:CRS84 (lon/lat on WGS84).
//!
//! So the zones go straight into DuckDB, SedonaDB, BigQuery or Apache Sedona on Spark for joins
//! beyond one machine.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
};
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StructArray};
use arrow_schema::{DataType, Field, Fields, Schema};
use geodata::ExportFeature;
use geozero::{CoordDimensions, ToWkb as _};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde_json::{Value, json};

use crate::{ColumnKind, FormatError, LayerExport, LayerWriter};

/// GeoParquet.
pub struct GeoParquet;

impl LayerWriter for GeoParquet {
    fn write(layer: &LayerExport<'_>) -> Result<Vec<u8>, FormatError> {
        let rows: Vec<&ExportFeature> = layer.rows().collect();
        let keys: Vec<&str> = crate::property_names(layer.features)
            .into_iter()
            .filter(|k| !matches!(*k, "fid" | "geometry" | "bbox"))
            .collect();
        let mut fields = vec![Field::new("fid", DataType::Int64, false)];
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(keys.len() + 3);
        columns.push(Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|f| i64::from(f.fid)),
        )));
        for key in &keys {
            // Types come from every feature of the layer, so every date's file has the same
            // schema (as in the other typed formats).
            let all = || layer.features.iter().filter_map(|f| f.properties.get(*key));
            let kind = crate::column_kind(all());
            let values = rows.iter().map(|f| f.properties.get(*key));
            let (ty, array) = if kind == ColumnKind::Text && crate::gpkg::all_days(all()) {
                (DataType::Date32, date_column(values))
            } else {
                typed_column(kind, values)
            };
            fields.push(Field::new(*key, ty, true));
            columns.push(array);
        }

        let mut wkb = BinaryBuilder::with_capacity(rows.len(), rows.len() * 64);
        let mut types: Vec<&'static str> = Vec::new();
        let mut extent: Option<[f64; 4]> = None;
        let mut bbox = [
            Float64Builder::with_capacity(rows.len()),
            Float64Builder::with_capacity(rows.len()),
            Float64Builder::with_capacity(rows.len()),
            Float64Builder::with_capacity(rows.len()),
        ];
        for f in &rows {
            let bytes = f
                .geometry
                .to_wkb(CoordDimensions::xy())
                .map_err(FormatError::Encode)?;
            wkb.append_value(bytes);
            let name = geometry_type(&f.geometry);
            if !types.contains(&name) {
                types.push(name);
            }
            let b = f.bbox.map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]);
            for (i, builder) in bbox.iter_mut().enumerate() {
                builder.append_option(b.map(|b| b[i]));
            }
            if let Some(b) = b {
                extent = Some(match extent {
                    None => b,
                    Some(e) => [e[0].min(b[0]), e[1].min(b[1]), e[2].max(b[2]), e[3].max(b[3])],
                });
            }
        }
        types.sort_unstable();
        // GeoArrow's extension name on the field lets Arrow-native readers (SedonaDB, GDAL's
        // Arrow driver) see a geometry even without reading the `geo` metadata.
        fields.push(
            Field::new("geometry", DataType::Binary, false).with_metadata(
                [
                    ("ARROW:extension:name", "geoarrow.wkb"),
                    ("ARROW:extension:metadata", "{}"),
                ]
                .into_iter()
                .collect::<arrow_schema::Metadata>(),
            ),
        );
        columns.push(Arc::new(wkb.finish()));
        let bbox_fields: Fields = ["xmin", "ymin", "xmax", "ymax"]
            .into_iter()
            .map(|n| Field::new(n, DataType::Float64, true))
            .collect();
        let bbox_arrays: Vec<ArrayRef> = bbox
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        fields.push(Field::new(
            "bbox",
            DataType::Struct(bbox_fields.clone()),
            true,
        ));
        columns.push(Arc::new(StructArray::new(bbox_fields, bbox_arrays, None)));

        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(arrow_error)?;
        let mut column = json!({
            "encoding": "WKB",
            "geometry_types": types,
            "covering": {"bbox": {
                "xmin": ["bbox", "xmin"], "ymin": ["bbox", "ymin"],
                "xmax": ["bbox", "xmax"], "ymax": ["bbox", "ymax"],
            }},
        });
        if let Some(e) = extent {
            column["bbox"] = json!(e);
        }
        let geo = json!({
            "version": "1.1.0",
            "primary_column": "geometry",
            "columns": {"geometry": column},
        });
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_created_by(format!("zonetrack {}", env!("CARGO_PKG_VERSION")))
            .build();
        let mut out = Vec::new();
        let mut writer =
            ArrowWriter::try_new(&mut out, schema, Some(props)).map_err(FormatError::Parquet)?;
        writer.write(&batch).map_err(FormatError::Parquet)?;
        writer.append_key_value_metadata(KeyValue::new("geo".to_owned(), geo.to_string()));
        writer.close().map_err(FormatError::Parquet)?;
        Ok(out)
    }
}

/// Arrow errors here are schema mismatches between our own builders: a bug, reported as one.
fn arrow_error(e: arrow_schema::ArrowError) -> FormatError {
    FormatError::Parquet(parquet::errors::ParquetError::ArrowError(e.to_string()))
}

/// The GeoParquet (OGC simple features) name of a geometry's type.
fn geometry_type(g: &geo::Geometry<f64>) -> &'static str {
    match g {
        geo::Geometry::Point(_) => "Point",
        geo::Geometry::Line(_) | geo::Geometry::LineString(_) => "LineString",
        geo::Geometry::Polygon(_) | geo::Geometry::Rect(_) | geo::Geometry::Triangle(_) => {
            "Polygon"
        }
        geo::Geometry::MultiPoint(_) => "MultiPoint",
        geo::Geometry::MultiLineString(_) => "MultiLineString",
        geo::Geometry::MultiPolygon(_) => "MultiPolygon",
        geo::Geometry::GeometryCollection(_) => "GeometryCollection",
    }
}

/// Days since 1970-01-01, Arrow's `Date32`.
pub(crate) fn date32(d: geodata::Date) -> i32 {
    let epoch = geodata::Date::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a day");
    i32::try_from(d.signed_duration_since(epoch).num_days()).unwrap_or(i32::MAX)
}

fn date_column<'v>(values: impl Iterator<Item = Option<&'v Value>>) -> ArrayRef {
    let mut b = Date32Builder::new();
    for v in values {
        b.append_option(
            v.and_then(Value::as_str)
                .and_then(geodata::parse_date)
                .map(date32),
        );
    }
    Arc::new(b.finish())
}

fn typed_column<'v>(
    kind: ColumnKind,
    values: impl Iterator<Item = Option<&'v Value>>,
) -> (DataType, ArrayRef) {
    match kind {
        ColumnKind::Integer => {
            let mut b = Int64Builder::new();
            values.for_each(|v| b.append_option(v.and_then(Value::as_i64)));
            (DataType::Int64, Arc::new(b.finish()))
        }
        ColumnKind::Real => {
            let mut b = Float64Builder::new();
            values.for_each(|v| b.append_option(v.and_then(Value::as_f64)));
            (DataType::Float64, Arc::new(b.finish()))
        }
        ColumnKind::Boolean => {
            let mut b = BooleanBuilder::new();
            values.for_each(|v| b.append_option(v.and_then(Value::as_bool)));
            (DataType::Boolean, Arc::new(b.finish()))
        }
        ColumnKind::Text | ColumnKind::Json => {
            let mut b = StringBuilder::new();
            for v in values {
                match v {
                    None | Some(Value::Null) => b.append_null(),
                    Some(Value::String(s)) => b.append_value(s),
                    Some(other) => b.append_value(other.to_string()),
                }
            }
            (DataType::Utf8, Arc::new(b.finish()))
        }
    }
}

/// The `geo` key of a Parquet file's metadata: the GeoParquet document, when it is one.
pub(crate) fn geo_metadata(meta: &parquet::file::metadata::ParquetMetaData) -> Option<&str> {
    let pairs = meta.file_metadata().key_value_metadata()?;
    pairs.iter().find(|kv| kv.key == "geo")?.value.as_deref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray as _;
    use arrow_array::types::{Date32Type, Float64Type, Int64Type};
    use arrow_array::{Array, BinaryArray};
    use geozero::ToGeo as _;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    #[test]
    fn days_count_from_1970() {
        let d = |s| geodata::parse_date(s).expect("a day");
        assert_eq!(date32(d("1970-01-01")), 0);
        assert_eq!(date32(d("1969-12-31")), -1);
        assert_eq!(date32(d("2018-02-07")), 17_569);
    }

    #[test]
    fn zones_are_written_as_geoparquet_with_wkb_dates_and_a_bbox_covering() {
        let (features, bytes) = crate::embedded_zones_as(crate::Format::GeoParquet);
        assert_eq!(&bytes[..4], b"PAR1");
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).expect("Parquet");
        let geo = geo_metadata(reader.metadata()).expect("geo metadata");
        let geo: Value = serde_json::from_str(geo).expect("JSON");
        assert_eq!(geo["version"], "1.1.0");
        assert_eq!(geo["primary_column"], "geometry");
        let column = &geo["columns"]["geometry"];
        assert_eq!(column["encoding"], "WKB");
        assert_eq!(column["covering"]["bbox"]["xmin"], json!(["bbox", "xmin"]));
        // Syria's zones: the layer's bbox is around it.
        let bbox: Vec<f64> = serde_json::from_value(column["bbox"].clone()).expect("a bbox");
        assert!(bbox[0] > 30.0 && bbox[2] < 50.0 && bbox[1] > 25.0 && bbox[3] < 45.0, "{bbox:?}");
        let schema = reader.schema().clone();
        let ty = |name: &str| schema.field_with_name(name).expect(name).data_type().clone();
        assert_eq!(ty("fid"), DataType::Int64);
        assert_eq!(ty("valid_from"), DataType::Date32);
        assert_eq!(ty("valid_to"), DataType::Date32);
        assert_eq!(ty("key"), DataType::Utf8);
        assert_eq!(ty("geometry"), DataType::Binary);
        assert!(matches!(ty("bbox"), DataType::Struct(_)));
        let batches: Vec<RecordBatch> = reader
            .build()
            .expect("a reader")
            .map(|b| b.expect("a batch"))
            .collect();
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        assert_eq!(rows, features.len());
        let b = &batches[0];
        let fid = b.column_by_name("fid").expect("fid").as_primitive::<Int64Type>();
        let from = b
            .column_by_name("valid_from")
            .expect("valid_from")
            .as_primitive::<Date32Type>();
        let wkb = b
            .column_by_name("geometry")
            .expect("geometry")
            .as_any()
            .downcast_ref::<BinaryArray>()
            .expect("binary");
        let xmin = b.column_by_name("bbox").expect("bbox").as_struct().column(0).clone();
        let xmin = xmin.as_primitive::<Float64Type>();
        for (i, f) in features.iter().enumerate().take(b.num_rows()) {
            assert_eq!(fid.value(i), i64::from(f.fid));
            match f.period.from() {
                Some(d) => assert_eq!(from.value(i), date32(d)),
                None => assert!(from.is_null(i)),
            }
            let g = geozero::wkb::Wkb(wkb.value(i).to_vec())
                .to_geo()
                .expect("WKB reads back");
            assert_eq!(&g, &*f.geometry, "feature {i}");
            assert_eq!(Some(xmin.value(i)), f.bbox.map(|r| r.min().x));
        }
    }
}
