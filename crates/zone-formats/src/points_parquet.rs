//! Batches of points as (Geo)Parquet: every input column kept, the covering zones' ids added as
//! a list column `zones`, and on request the nearest zones that do not cover the point with
//! their geodesic distances (`nearest`, a list of `{key, distance_km}`). Shared by
//! `zonetrack query --points FILE.parquet` and `POST /query/points` with
//! `Content-Type: application/vnd.apache.parquet`.
//!
//! Where the points are, in this order of preference:
//! - the GeoParquet `geo` metadata's primary column, encoded as `WKB` or as GeoArrow `point`
//!   (a struct of `x`, `y`, or an interleaved fixed-size list);
//! - a column whose Arrow field says it is `geoarrow.wkb` or `geoarrow.point`;
//! - `lon` / `lat` columns, named as a CSV batch's header may name them (`longitude`, `lng` ...);
//! - a binary column named `geometry`, `geom` or `wkb`, read as WKB.
//!
//! A column named as a CSV batch's date column (`date`, `datetime`, `day`, `at`; an Arrow date,
//! a timestamp, or `YYYY-MM-DD` text) gives each point its own day, as in CSV. A row that cannot
//! be read (no geometry, not a point, off the globe, a bad date) keeps its place with a null
//! `zones` and is reported by its 0-based row number; the rest are answered.
//!
//! Record batches are read, answered and written one at a time, so memory stays that of a batch
//! of rows plus the (compressed) row group being written.

use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, ListBuilder, StringBuilder, StructBuilder};
use arrow_array::cast::AsArray as _;
use arrow_array::types::{
    Date32Type, Date64Type, Float32Type, Float64Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};
use geodata::Date;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::ChunkReader;
use serde_json::Value;
use zone_index::ZoneIndex;

use crate::batch::{BatchError, BatchLimits, BatchRefused};

/// The media type of a Parquet file (IANA, 2024).
pub const MEDIA_TYPE: &str = "application/vnd.apache.parquet";

/// Rows read, answered and written together.
const ROWS_PER_BATCH: usize = 64 * 1024;

/// What to answer.
#[derive(Debug, Clone, Copy)]
pub struct PointsOptions {
    /// The day for points without their own; every period when `None`.
    pub at: Option<Date>,
    /// How many nearest zones that do not cover each point to add (0: no `nearest` column).
    pub nearest: usize,
    /// Most rows, and most bad rows reported with their message.
    pub limits: BatchLimits,
}

/// What a Parquet batch came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PointsAnswered {
    /// Rows written (every input row).
    pub rows: usize,
    /// The first rows that could not be read, by 0-based row number.
    pub errors: Vec<BatchError>,
    /// How many rows could not be read, kept or not.
    pub error_count: usize,
    /// Where the time went.
    pub times: PhaseTimes,
}

/// Time spent in each phase of a Parquet batch, summed over its record batches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseTimes {
    /// Decoding Parquet and reading points and dates.
    pub read: std::time::Duration,
    /// Asking the index (covering, and nearest when asked).
    pub answer: std::time::Duration,
    /// Building the answer columns, encoding and writing Parquet.
    pub write: std::time::Duration,
}

/// How many rows a Parquet file holds, from its footer.
pub fn row_count<R: ChunkReader + 'static>(input: R) -> Result<usize, BatchRefused> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(input)
        .map_err(|e| BatchRefused::Unreadable(format!("not a readable Parquet file: {e}")))?;
    Ok(usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0))
}

/// Why a Parquet batch was not answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PointsError {
    /// The input is not a batch of points (see [`BatchRefused`]).
    #[error(transparent)]
    Refused(#[from] BatchRefused),
    /// Writing the answer failed (the output is gone, or full).
    #[error("writing the Parquet answer")]
    Write(#[source] parquet::errors::ParquetError),
}

/// How the points are stored.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// Well-known binary in this column.
    Wkb(usize),
    /// GeoArrow `point`: a struct of `x`, `y` (or an interleaved list) in this column.
    Native(usize),
    /// Longitude and latitude columns.
    LonLat(usize, usize),
}

impl Source {
    fn describe(&self, schema: &Schema) -> String {
        let name = |i: usize| schema.field(i).name().clone();
        match self {
            Source::Wkb(i) => format!("WKB points in {:?}", name(*i)),
            Source::Native(i) => format!("GeoArrow points in {:?}", name(*i)),
            Source::LonLat(a, b) => format!("{:?} and {:?}", name(*a), name(*b)),
        }
    }
}

const LON_NAMES: &[&str] = &["lon", "longitude", "lng", "long"];
const LAT_NAMES: &[&str] = &["lat", "latitude"];
const DATE_NAMES: &[&str] = &["date", "datetime", "day", "at"];

fn find(schema: &Schema, names: &[&str]) -> Option<usize> {
    schema
        .fields()
        .iter()
        .position(|f| names.contains(&f.name().trim().to_ascii_lowercase().as_str()))
}

fn is_binary(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView
    )
}

/// Whether a GeoParquet `crs` is lon/lat on WGS84: absent or null (OGC:CRS84 by the spec),
/// or naming OGC:CRS84 or EPSG:4326 (whose coordinates GeoParquet still stores lon first).
fn crs_is_lon_lat(crs: Option<&Value>) -> bool {
    match crs {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => {
            let s = s.to_ascii_uppercase();
            s.contains("CRS84") || s.contains("4326")
        }
        Some(Value::Object(o)) => match o.get("id").and_then(|id| id.get("code")) {
            Some(Value::Number(n)) => n.as_i64() == Some(4326),
            Some(Value::String(s)) => s == "CRS84" || s == "4326",
            // A PROJJSON without an id: trust its name.
            _ => o
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.contains("WGS 84") && !n.contains('/') && !n.contains("UTM")),
        },
        Some(_) => false,
    }
}

/// Finds the points, from the `geo` metadata, the fields' GeoArrow names, or column names.
fn locate(schema: &Schema, geo: Option<&str>) -> Result<Source, BatchRefused> {
    let column = |name: &str| schema.fields().iter().position(|f| f.name() == name);
    if let Some(text) = geo {
        let meta: Value = serde_json::from_str(text).map_err(|e| {
            BatchRefused::Unreadable(format!("the file's GeoParquet metadata is not JSON: {e}"))
        })?;
        if let Some(primary) = meta.get("primary_column").and_then(Value::as_str) {
            let spec = &meta["columns"][primary];
            let i = column(primary).ok_or_else(|| {
                BatchRefused::Unreadable(format!(
                    "the GeoParquet primary column {primary:?} is not in the file"
                ))
            })?;
            if !crs_is_lon_lat(spec.get("crs")) {
                return Err(BatchRefused::Unreadable(format!(
                    "the geometry column {primary:?} is not in lon/lat (OGC:CRS84 or EPSG:4326); \
                     reproject the points first"
                )));
            }
            let encoding = spec
                .get("encoding")
                .and_then(Value::as_str)
                .unwrap_or("WKB");
            return match encoding.to_ascii_lowercase().as_str() {
                "wkb" => Ok(Source::Wkb(i)),
                "point" => Ok(Source::Native(i)),
                other => Err(BatchRefused::Unreadable(format!(
                    "the geometry column {primary:?} holds {other} geometries; a batch needs points"
                ))),
            };
        }
    }
    for (i, f) in schema.fields().iter().enumerate() {
        match f.metadata().get("ARROW:extension:name").map(String::as_str) {
            Some("geoarrow.wkb") => return Ok(Source::Wkb(i)),
            Some("geoarrow.point") => return Ok(Source::Native(i)),
            _ => {}
        }
    }
    if let (Some(lon), Some(lat)) = (find(schema, LON_NAMES), find(schema, LAT_NAMES)) {
        return Ok(Source::LonLat(lon, lat));
    }
    if let Some(i) = find(schema, &["geometry", "geom", "wkb", "wkb_geometry"])
        && is_binary(schema.field(i).data_type())
    {
        return Ok(Source::Wkb(i));
    }
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    Err(BatchRefused::Unreadable(format!(
        "no points found: give GeoParquet (WKB or point encoding), or lon and lat columns \
         (the file has {})",
        names.join(", ")
    )))
}

/// One point read from a WKB value: (lon, lat), or why not.
fn wkb_point(b: &[u8]) -> Result<(f64, f64), String> {
    let (&order, rest) = b.split_first().ok_or("empty geometry")?;
    let u32_at = |s: &[u8]| -> Option<u32> {
        let a: [u8; 4] = s.get(..4)?.try_into().ok()?;
        Some(if order == 1 {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    };
    let f64_at = |s: &[u8], at: usize| -> Option<f64> {
        let a: [u8; 8] = s.get(at..at + 8)?.try_into().ok()?;
        Some(if order == 1 {
            f64::from_le_bytes(a)
        } else {
            f64::from_be_bytes(a)
        })
    };
    if order > 1 {
        return Err("not WKB (bad byte order mark)".into());
    }
    let raw = u32_at(rest).ok_or("not WKB (too short)")?;
    // EWKB keeps flags in the top bits (Z, M, SRID); ISO WKB adds 1000s for Z, M, ZM.
    let has_srid = raw & 0x2000_0000 != 0;
    let kind = (raw & 0x0FFF_FFFF) % 1000;
    if kind != 1 {
        let name = match kind {
            2 => "a LineString",
            3 => "a Polygon",
            4 => "a MultiPoint",
            5 => "a MultiLineString",
            6 => "a MultiPolygon",
            7 => "a GeometryCollection",
            _ => "not a known geometry",
        };
        return Err(format!("geometry is {name}, not a Point"));
    }
    let at = 4 + if has_srid { 4 } else { 0 };
    let x = f64_at(rest, at).ok_or("not WKB (point too short)")?;
    let y = f64_at(rest, at + 8).ok_or("not WKB (point too short)")?;
    Ok((x, y))
}

fn check(lon: f64, lat: f64) -> Result<(f64, f64), String> {
    if lon.is_nan() && lat.is_nan() {
        return Err("empty point".into());
    }
    match zone_index::LonLat::new(lon, lat) {
        Ok(_) => Ok((lon, lat)),
        Err(zone_index::ZoneIndexError::Latitude(v)) => {
            Err(format!("latitude {v} is out of range (-90..90)"))
        }
        Err(_) => Err(format!("longitude {lon} is out of range (-180..180)")),
    }
}

/// A numeric column's value as f64 (floats, integers, or numbers as text).
fn number(a: &dyn Array, row: usize) -> Option<Result<f64, String>> {
    if a.is_null(row) {
        return None;
    }
    Some(match a.data_type() {
        DataType::Float64 => Ok(a.as_primitive::<Float64Type>().value(row)),
        DataType::Float32 => Ok(f64::from(a.as_primitive::<Float32Type>().value(row))),
        DataType::Int64 => Ok(a.as_primitive::<Int64Type>().value(row) as f64),
        DataType::Int32 => Ok(f64::from(a.as_primitive::<Int32Type>().value(row))),
        DataType::Utf8 => text_number(a.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => text_number(a.as_string::<i64>().value(row)),
        other => Err(format!("a {other} column is not a coordinate")),
    })
}

/// A coordinate written as text.
fn text_number(s: &str) -> Result<f64, String> {
    s.trim().parse().map_err(|_| {
        let shown: String = s.chars().take(40).collect();
        format!("{shown:?} is not a number")
    })
}

/// Each row's (lon, lat), or why not.
fn coordinates(source: &Source, batch: &RecordBatch) -> Vec<Result<(f64, f64), String>> {
    let n = batch.num_rows();
    match source {
        Source::Wkb(i) => {
            let a = batch.column(*i);
            let get = |row: usize| -> Result<(f64, f64), String> {
                if a.is_null(row) {
                    return Err("no geometry".into());
                }
                let bytes = match a.data_type() {
                    DataType::Binary => a.as_binary::<i32>().value(row),
                    DataType::LargeBinary => a.as_binary::<i64>().value(row),
                    DataType::BinaryView => a.as_binary_view().value(row),
                    other => return Err(format!("a {other} column is not WKB")),
                };
                wkb_point(bytes).and_then(|(x, y)| check(x, y))
            };
            (0..n).map(get).collect()
        }
        Source::Native(i) => {
            let a = batch.column(*i);
            let (xs, ys): (ArrayRef, ArrayRef) = match a.data_type() {
                DataType::Struct(_) => {
                    let s = a.as_struct();
                    match (s.column_by_name("x"), s.column_by_name("y")) {
                        (Some(x), Some(y)) => (x.clone(), y.clone()),
                        _ => {
                            return vec![Err("a point struct needs x and y".into()); n];
                        }
                    }
                }
                DataType::FixedSizeList(_, size) if *size >= 2 => {
                    let l = a.as_fixed_size_list();
                    let values = l.values();
                    let size = *size as usize;
                    return (0..n)
                        .map(|row| {
                            if a.is_null(row) {
                                return Err("no geometry".into());
                            }
                            let at = (l.offset() + row) * size;
                            match (number(values, at), number(values, at + 1)) {
                                (Some(Ok(x)), Some(Ok(y))) => check(x, y),
                                _ => Err("a point without both coordinates".into()),
                            }
                        })
                        .collect();
                }
                other => return vec![Err(format!("a {other} column is not GeoArrow points")); n],
            };
            (0..n)
                .map(|row| {
                    if a.is_null(row) {
                        return Err("no geometry".into());
                    }
                    match (number(&*xs, row), number(&*ys, row)) {
                        (Some(Ok(x)), Some(Ok(y))) => check(x, y),
                        _ => Err("a point without both coordinates".into()),
                    }
                })
                .collect()
        }
        Source::LonLat(lon, lat) => {
            let (xs, ys) = (batch.column(*lon), batch.column(*lat));
            (0..n)
                .map(|row| match (number(&**xs, row), number(&**ys, row)) {
                    (None, _) => Err("no longitude".into()),
                    (_, None) => Err("no latitude".into()),
                    (Some(Err(e)), _) => Err(format!("longitude {e}")),
                    (_, Some(Err(e))) => Err(format!("latitude {e}")),
                    (Some(Ok(x)), Some(Ok(y))) => check(x, y),
                })
                .collect()
        }
    }
}

fn epoch() -> Date {
    Date::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a day")
}

/// Each row's own day (None when it has none), or why not.
fn dates(column: Option<&ArrayRef>, n: usize) -> Vec<Result<Option<Date>, String>> {
    let Some(a) = column else {
        return vec![Ok(None); n];
    };
    let from_days = |d: i64| {
        epoch()
            .checked_add_signed(chrono::TimeDelta::try_days(d).unwrap_or(chrono::TimeDelta::MAX))
            .ok_or_else(|| format!("date {d} days from 1970 is out of range"))
    };
    let from_seconds = |s: i64| from_days(s.div_euclid(86_400));
    (0..n)
        .map(|row| {
            if a.is_null(row) {
                return Ok(None);
            }
            let day = match a.data_type() {
                DataType::Date32 => from_days(i64::from(a.as_primitive::<Date32Type>().value(row))),
                DataType::Date64 => {
                    from_seconds(a.as_primitive::<Date64Type>().value(row).div_euclid(1000))
                }
                DataType::Timestamp(unit, _) => {
                    let (v, per_second) = match unit {
                        TimeUnit::Second => (a.as_primitive::<TimestampSecondType>().value(row), 1),
                        TimeUnit::Millisecond => (
                            a.as_primitive::<TimestampMillisecondType>().value(row),
                            1_000,
                        ),
                        TimeUnit::Microsecond => (
                            a.as_primitive::<TimestampMicrosecondType>().value(row),
                            1_000_000,
                        ),
                        TimeUnit::Nanosecond => (
                            a.as_primitive::<TimestampNanosecondType>().value(row),
                            1_000_000_000,
                        ),
                    };
                    from_seconds(v.div_euclid(per_second))
                }
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    let s = match a.data_type() {
                        DataType::Utf8 => a.as_string::<i32>().value(row),
                        DataType::LargeUtf8 => a.as_string::<i64>().value(row),
                        _ => a.as_string_view().value(row),
                    };
                    if s.trim().is_empty() {
                        return Ok(None);
                    }
                    geodata::parse_date(s.trim()).ok_or_else(|| {
                        format!(
                            "date {:?} is not YYYY-MM-DD",
                            s.chars().take(40).collect::<String>()
                        )
                    })
                }
                other => Err(format!("a {other} column is not a date")),
            };
            day.map(Some)
        })
        .collect()
}

/// The output schema: the input's fields, then `zones` and (when asked) `nearest`.
fn answer_schema(input: &Schema, nearest: bool) -> Result<Arc<Schema>, BatchRefused> {
    for name in ["zones", "nearest"] {
        if input.fields().iter().any(|f| f.name() == name) {
            return Err(BatchRefused::Unreadable(format!(
                "the input already has a column named {name:?}, which the answer adds; rename it"
            )));
        }
    }
    let mut fields: Vec<Arc<Field>> = input.fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(
        "zones",
        DataType::List(Arc::new(Field::new("item", DataType::Utf8, false))),
        true,
    )));
    if nearest {
        fields.push(Arc::new(Field::new(
            "nearest",
            DataType::List(Arc::new(Field::new(
                "item",
                DataType::Struct(nearest_fields()),
                false,
            ))),
            true,
        )));
    }
    Ok(Arc::new(Schema::new_with_metadata(
        fields,
        input.metadata().clone(),
    )))
}

fn nearest_fields() -> Fields {
    Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("distance_km", DataType::Float64, false),
    ])
}

/// Answers the points of a Parquet file and writes them, with every input column, as Parquet
/// to `out` (the `geo` metadata kept, so GeoParquet stays GeoParquet). `keep` says which zones
/// (by index in the dataset's zones) count; `progress` is told how many rows each record batch
/// answered.
pub fn answer_parquet<R: ChunkReader + 'static, W: Write + Send>(
    index: &ZoneIndex,
    input: R,
    options: &PointsOptions,
    out: W,
    mut progress: impl FnMut(usize),
    keep: &(dyn Fn(usize) -> bool + Sync),
) -> Result<PointsAnswered, PointsError> {
    let unreadable = |e: parquet::errors::ParquetError| {
        BatchRefused::Unreadable(format!("not a readable Parquet file: {e}"))
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(input).map_err(unreadable)?;
    let rows = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    if rows > options.limits.max_points {
        return Err(BatchRefused::TooMany(options.limits.max_points).into());
    }
    let geo = crate::geoparquet::geo_metadata(builder.metadata()).map(str::to_owned);
    let schema = builder.schema().clone();
    let source = locate(&schema, geo.as_deref())?;
    let date_column = find(&schema, DATE_NAMES);
    let out_schema = answer_schema(&schema, options.nearest > 0)?;
    let batch_size = ROWS_PER_BATCH.max(index.batch_chunk());
    let reader = builder
        .with_batch_size(batch_size)
        .build()
        .map_err(unreadable)?;
    // Snappy: fast, and read by every Parquet reader there is.
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("zonetrack {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut writer =
        ArrowWriter::try_new(out, out_schema.clone(), Some(props)).map_err(PointsError::Write)?;
    if let Some(geo) = geo {
        writer.append_key_value_metadata(KeyValue::new("geo".to_owned(), geo));
    }
    let keys = index.keys();
    let key = |zone: usize| keys.get(zone);
    let mut answered = PointsAnswered::default();
    // Reading and answering a record batch, then writing it, are two stages: with more than one
    // record batch, the next is read and answered on another thread while this one is written
    // (writing Parquet is one thread's work, and took as long as answering on both cores).
    let write = |read: ReadBatch| -> Result<(), PointsError> {
        let clock = std::time::Instant::now();
        let read = read?;
        let (batch, ok, cover) = (read.batch, read.ok, read.cover);
        let n = batch.num_rows();
        for mut e in read.errors {
            if answered.errors.len() < options.limits.max_errors {
                e.line += answered.rows;
                answered.errors.push(e);
            }
        }
        answered.error_count += read.error_count;
        answered.times.read += read.times.read;
        answered.times.answer += read.times.answer;
        let mut zone_lists = ListBuilder::with_capacity(StringBuilder::new(), n)
            .with_field(Arc::new(Field::new("item", DataType::Utf8, false)));
        for (row, readable) in ok.iter().enumerate() {
            if !readable {
                zone_lists.append_null();
                continue;
            }
            for c in cover.get(row).filter(|c| keep(c.zone)) {
                zone_lists.values().append_value(key(c.zone));
            }
            zone_lists.append(true);
        }
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        columns.push(Arc::new(zone_lists.finish()));
        if let Some(found) = read.found {
            let mut lists = ListBuilder::new(StructBuilder::from_fields(nearest_fields(), 0))
                .with_field(Arc::new(Field::new(
                    "item",
                    DataType::Struct(nearest_fields()),
                    false,
                )));
            for (row, near) in found.iter().enumerate() {
                if !ok[row] {
                    lists.append_null();
                    continue;
                }
                for &(zone, km) in near {
                    let s = lists.values();
                    s.field_builder::<StringBuilder>(0)
                        .expect("field 0 is the key")
                        .append_value(key(zone));
                    s.field_builder::<Float64Builder>(1)
                        .expect("field 1 is the distance")
                        .append_value(km);
                    s.append(true);
                }
                lists.append(true);
            }
            columns.push(Arc::new(lists.finish()));
        }
        let answer = RecordBatch::try_new(out_schema.clone(), columns).map_err(|e| {
            PointsError::Write(parquet::errors::ParquetError::ArrowError(e.to_string()))
        })?;
        writer.write(&answer).map_err(PointsError::Write)?;
        answered.times.write += clock.elapsed();
        answered.rows += n;
        progress(n);
        Ok(())
    };
    let mut reading = BatchReader {
        index,
        options,
        keep,
        source: &source,
        schema: &schema,
        date_column,
        first_row: 0,
    };
    let batches = reader.map(move |batch| reading.answer(batch));
    crate::batch::made_ahead(batches, rows > batch_size, write)?;
    let clock = std::time::Instant::now();
    writer.close().map_err(PointsError::Write)?;
    answered.times.write += clock.elapsed();
    Ok(answered)
}

/// A record batch read and answered, or why it could not be read.
type ReadBatch = Result<AnsweredBatch, PointsError>;

/// A record batch read and answered, for the writer: which rows could be read, their zones (and
/// nearest zones when asked), and the first rows that could not (numbered from the batch's first
/// row).
struct AnsweredBatch {
    batch: RecordBatch,
    ok: Vec<bool>,
    cover: crate::batch::Answers,
    found: Option<Vec<Vec<(usize, f64)>>>,
    errors: Vec<BatchError>,
    error_count: usize,
    times: PhaseTimes,
}

/// What reading and answering record batches needs.
struct BatchReader<'a> {
    index: &'a ZoneIndex,
    options: &'a PointsOptions,
    keep: &'a (dyn Fn(usize) -> bool + Sync),
    source: &'a Source,
    schema: &'a Schema,
    date_column: Option<usize>,
    first_row: usize,
}

impl BatchReader<'_> {
    /// Reads and answers a record batch.
    fn answer(&mut self, batch: Result<RecordBatch, arrow_schema::ArrowError>) -> ReadBatch {
        let clock = std::time::Instant::now();
        let first_row = self.first_row;
        let batch = batch.map_err(|e| {
            BatchRefused::Unreadable(format!(
                "{}: reading rows from {first_row} on: {e}",
                self.source.describe(self.schema)
            ))
        })?;
        let n = batch.num_rows();
        self.first_row += n;
        let coords = coordinates(self.source, &batch);
        let days = dates(self.date_column.map(|i| batch.column(i)), n);
        // Rows grouped by day, so each group goes through the index's batch path.
        let mut point = vec![(0.0, 0.0); n];
        let mut ok = vec![false; n];
        let mut day_of = vec![None; n];
        let mut errors = Vec::new();
        let mut error_count = 0;
        for (row, (c, d)) in coords.into_iter().zip(days).enumerate() {
            match c.and_then(|p| d.map(|d| (p, d))) {
                Ok((p, d)) => {
                    point[row] = p;
                    ok[row] = true;
                    day_of[row] = d.or(self.options.at);
                }
                Err(message) => {
                    if errors.len() < self.options.limits.max_errors {
                        errors.push(BatchError { line: row, message });
                    }
                    error_count += 1;
                }
            }
        }
        let read = clock.elapsed();
        let clock = std::time::Instant::now();
        // Flat answers (one list per date), not a `Vec` per row: on a million rows the
        // allocations cost as much as the queries.
        let cover = crate::batch::Answers::for_rows(self.index, &point, |row| {
            ok[row].then_some(day_of[row])
        });
        let found = (self.options.nearest > 0).then(|| {
            nearest_rows(
                self.index,
                self.options.nearest,
                &point,
                &ok,
                &day_of,
                &cover,
                self.keep,
            )
        });
        Ok(AnsweredBatch {
            batch,
            ok,
            cover,
            found,
            errors,
            error_count,
            times: PhaseTimes {
                read,
                answer: clock.elapsed(),
                write: Default::default(),
            },
        })
    }
}

/// The `k` nearest zones not covering each readable row (those `keep` keeps), with distances
/// rounded to metres, computed on every core: a geodesic search costs tens of microseconds.
fn nearest_rows(
    index: &ZoneIndex,
    k: usize,
    point: &[(f64, f64)],
    ok: &[bool],
    day: &[Option<Date>],
    cover: &crate::batch::Answers,
    keep: &(dyn Fn(usize) -> bool + Sync),
) -> Vec<Vec<(usize, f64)>> {
    let n = point.len();
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(n.div_ceil(256))
        .max(1);
    let per = n.div_ceil(threads);
    let mut out: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    std::thread::scope(|s| {
        for (t, slot) in out.chunks_mut(per.max(1)).enumerate() {
            s.spawn(move || {
                for (j, answer) in slot.iter_mut().enumerate() {
                    let row = t * per + j;
                    if !ok[row] {
                        continue;
                    }
                    let (lon, lat) = point[row];
                    // Zones a filter drops are left out (the nearest list may come out shorter).
                    let mut found: Vec<(usize, f64)> = index
                        .nearest_outside_given(
                            lon,
                            lat,
                            k,
                            day[row],
                            &cover.get(row).collect::<Vec<_>>(),
                        )
                        .into_iter()
                        .filter(|n| keep(n.zone))
                        .map(|n| (n.zone, (n.distance_km * 1000.0).round() / 1000.0))
                        .collect();
                    found.truncate(k);
                    *answer = found;
                }
            });
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wkb_points_are_read_in_either_byte_order_and_other_types_refused() {
        // A WKB header (byte order, type) then little- or big-endian numbers.
        let wkb = |le: bool, ty: u32, words: &[u32], xyz: &[f64]| {
            let mut out = vec![u8::from(le)];
            for w in std::iter::once(&ty).chain(words) {
                out.extend_from_slice(&if le { w.to_le_bytes() } else { w.to_be_bytes() });
            }
            for v in xyz {
                out.extend_from_slice(&if le { v.to_le_bytes() } else { v.to_be_bytes() });
            }
            out
        };
        assert_eq!(
            wkb_point(&wkb(true, 1, &[], &[36.1, 32.6])),
            Ok((36.1, 32.6))
        );
        assert_eq!(
            wkb_point(&wkb(false, 1, &[], &[36.1, 32.6])),
            Ok((36.1, 32.6))
        );
        // ISO WKB Point Z (1001) and EWKB with an SRID.
        let z = wkb(true, 1001, &[], &[1.0, 2.0, 3.0]);
        assert_eq!(wkb_point(&z), Ok((1.0, 2.0)));
        let srid = wkb(true, 0x2000_0001, &[4326], &[5.0, 6.0]);
        assert_eq!(wkb_point(&srid), Ok((5.0, 6.0)));
        let mut poly = vec![1u8];
        poly.extend_from_slice(&3u32.to_le_bytes());
        assert!(wkb_point(&poly).unwrap_err().contains("Polygon"));
        assert!(wkb_point(&[]).is_err());
        assert!(wkb_point(&[1, 1, 0]).is_err());
    }

    use arrow_array::builder::{BinaryBuilder, FixedSizeListBuilder};
    use arrow_array::{Date32Array, Float64Array, Int64Array, StringArray, StructArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder as Reader;

    fn index() -> ZoneIndex {
        ZoneIndex::new(Arc::new(geodata::Dataset::embedded()))
    }

    fn day(s: &str) -> Date {
        geodata::parse_date(s).expect("a day")
    }

    fn wkb(x: f64, y: f64) -> Vec<u8> {
        let mut b = vec![1u8];
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&x.to_le_bytes());
        b.extend_from_slice(&y.to_le_bytes());
        b
    }

    /// A Parquet file in memory, with `geo` metadata when given.
    fn parquet(batch: &RecordBatch, geo: Option<&str>) -> bytes::Bytes {
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
        w.write(batch).unwrap();
        if let Some(g) = geo {
            w.append_key_value_metadata(KeyValue::new("geo".into(), g.to_owned()));
        }
        w.close().unwrap();
        bytes::Bytes::from(out)
    }

    fn answer(
        input: bytes::Bytes,
        options: PointsOptions,
    ) -> (PointsAnswered, RecordBatch, Option<String>) {
        let mut out = Vec::new();
        let answered =
            answer_parquet(&index(), input, &options, &mut out, |_| {}, &|_| true).unwrap();
        let reader = Reader::try_new(bytes::Bytes::from(out)).unwrap();
        let geo = crate::geoparquet::geo_metadata(reader.metadata()).map(str::to_owned);
        let batches: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
        // The answers here are small: one record batch.
        assert_eq!(batches.len(), 1);
        (answered, batches[0].clone(), geo)
    }

    /// Each row's zones, `None` for a null list.
    fn zones(batch: &RecordBatch) -> Vec<Option<Vec<String>>> {
        let list = batch.column_by_name("zones").unwrap().as_list::<i32>();
        (0..list.len())
            .map(|i| {
                (!list.is_null(i)).then(|| {
                    let v = list.value(i);
                    let s = v.as_any().downcast_ref::<StringArray>().unwrap();
                    s.iter().map(|k| k.unwrap().to_owned()).collect()
                })
            })
            .collect()
    }

    fn keys(index: &ZoneIndex, lon: f64, lat: f64, at: Option<Date>) -> Vec<String> {
        index
            .covering(lon, lat, at)
            .iter()
            .map(|c| index.dataset().zones[c.zone].meta.id.to_string())
            .collect()
    }

    const WKB_GEO: &str = r#"{"version":"1.1.0","primary_column":"geometry","columns":{"geometry":{"encoding":"WKB","geometry_types":["Point"]}}}"#;

    #[test]
    fn wkb_points_with_days_are_answered_like_single_queries_and_bad_rows_kept() {
        let mut geometry = BinaryBuilder::new();
        geometry.append_value(wkb(36.1, 32.617));
        geometry.append_value(wkb(36.1, 32.617));
        geometry.append_null();
        let mut polygon = vec![1u8];
        polygon.extend_from_slice(&3u32.to_le_bytes());
        geometry.append_value(polygon);
        geometry.append_value(wkb(36.1, 95.0));
        geometry.append_value(wkb(34.0, 34.0));
        let ids = Int64Array::from(vec![1, 2, 3, 4, 5, 6]);
        let dates = Date32Array::from(vec![
            Some(crate::geoparquet::date32(day("2018-02-15"))),
            Some(crate::geoparquet::date32(day("2018-08-15"))),
            None,
            None,
            None,
            None,
        ]);
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("date", DataType::Date32, true),
            Field::new("geometry", DataType::Binary, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(ids), Arc::new(dates), Arc::new(geometry.finish())],
        )
        .unwrap();
        let options = PointsOptions {
            at: Some(day("2018-02-07")),
            nearest: 2,
            limits: BatchLimits::NONE,
        };
        let (answered, out, geo) = answer(parquet(&batch, Some(WKB_GEO)), options);
        assert_eq!(answered.rows, 6);
        assert_eq!(answered.error_count, 3);
        let lines: Vec<usize> = answered.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4]);
        assert!(answered.errors[0].message.contains("no geometry"));
        assert!(
            answered.errors[1].message.contains("Polygon"),
            "{:?}",
            answered.errors
        );
        assert!(answered.errors[2].message.contains("latitude 95"));
        // The input's columns, then the answer's; the GeoParquet metadata kept.
        let schema = out.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["id", "date", "geometry", "zones", "nearest"]);
        assert_eq!(geo.as_deref(), Some(WKB_GEO));
        let index = index();
        let z = zones(&out);
        // Each point on its own day; the batch's day for the point without one.
        assert_eq!(
            z[0].as_ref().unwrap(),
            &keys(&index, 36.1, 32.617, Some(day("2018-02-15")))
        );
        assert_eq!(
            z[1].as_ref().unwrap(),
            &keys(&index, 36.1, 32.617, Some(day("2018-08-15")))
        );
        assert!(
            z[0].as_ref()
                .unwrap()
                .iter()
                .any(|k| k == "sw_deescalation_zone")
        );
        assert_ne!(z[0], z[1]);
        assert_eq!(z[2..5], [None, None, None]);
        assert_eq!(
            z[5].as_ref().unwrap(),
            &keys(&index, 34.0, 34.0, Some(day("2018-02-07")))
        );
        let near = out.column_by_name("nearest").unwrap().as_list::<i32>();
        let first = near.value(0);
        let first = first.as_any().downcast_ref::<StructArray>().unwrap();
        let expected = index.nearest_outside(36.1, 32.617, 2, Some(day("2018-02-15")));
        assert_eq!(first.len(), 2);
        let got_keys = first
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let got_km = first
            .column(1)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        for (i, n) in expected.iter().enumerate() {
            assert_eq!(
                got_keys.value(i),
                index.dataset().zones[n.zone].meta.id.as_str()
            );
            assert!((got_km.value(i) - n.distance_km).abs() < 0.001);
        }
        assert!(near.is_null(2));
    }

    #[test]
    fn a_file_of_several_record_batches_is_answered_in_order_with_bad_rows_numbered() {
        // Past two record batches: the next is read and answered while one is written.
        let n = 2 * ROWS_PER_BATCH + 1000;
        let places = [(36.1, 32.617), (34.0, 34.0), (40.15, 35.33), (36.1, 95.0)];
        let bad = |row: usize| row % 50_000 == 49_999;
        let mut geometry = BinaryBuilder::new();
        for row in 0..n {
            let (x, y) = if bad(row) { places[3] } else { places[row % 3] };
            geometry.append_value(wkb(x, y));
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("geometry", DataType::Binary, false),
        ]));
        let ids = Int64Array::from_iter_values(0..n as i64);
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(ids), Arc::new(geometry.finish())]).unwrap();
        let at = Some(day("2018-02-07"));
        let options = PointsOptions {
            at,
            nearest: 0,
            limits: BatchLimits::NONE,
        };
        let mut out = Vec::new();
        let mut told = Vec::new();
        let answered = answer_parquet(
            &index(),
            parquet(&batch, Some(WKB_GEO)),
            &options,
            &mut out,
            |rows| told.push(rows),
            &|_| true,
        )
        .unwrap();
        assert_eq!(answered.rows, n);
        assert_eq!(told.iter().sum::<usize>(), n);
        assert!(told.len() > 2, "{told:?}");
        let lines: Vec<usize> = answered.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![49_999, 99_999]);
        assert_eq!(answered.error_count, 2);
        let index = index();
        let expected: Vec<Vec<String>> = places[..3]
            .iter()
            .map(|&(x, y)| keys(&index, x, y, at))
            .collect();
        assert!(!expected[0].is_empty() && expected[1].is_empty());
        let reader = Reader::try_new(bytes::Bytes::from(out)).unwrap();
        let mut row = 0;
        for batch in reader.build().unwrap() {
            let batch = batch.unwrap();
            let ids = batch
                .column_by_name("id")
                .unwrap()
                .as_primitive::<Int64Type>();
            for (i, got) in zones(&batch).into_iter().enumerate() {
                assert_eq!(ids.value(i), row as i64);
                let want = (!bad(row)).then(|| expected[row % 3].clone());
                assert_eq!(got, want, "row {row}");
                row += 1;
            }
        }
        assert_eq!(row, n);
    }

    #[test]
    fn native_points_and_lon_lat_columns_give_the_answers_wkb_gives() {
        let pts: Vec<(f64, f64)> = (0..300)
            .map(|i| {
                (
                    35.8 + (i as f64 * 0.037) % 6.5,
                    32.4 + (i as f64 * 0.029) % 4.9,
                )
            })
            .collect();
        let options = PointsOptions {
            at: Some(day("2018-02-07")),
            nearest: 0,
            limits: BatchLimits::NONE,
        };
        // WKB.
        let mut geometry = BinaryBuilder::new();
        for &(x, y) in &pts {
            geometry.append_value(wkb(x, y));
        }
        let schema = Arc::new(Schema::new(vec![Field::new(
            "geometry",
            DataType::Binary,
            true,
        )]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(geometry.finish())]).unwrap();
        let (_, from_wkb, _) = answer(parquet(&batch, Some(WKB_GEO)), options);
        // GeoArrow point, separated (a struct of x and y), named by the geo metadata.
        let xy = Fields::from(vec![
            Field::new("x", DataType::Float64, false),
            Field::new("y", DataType::Float64, false),
        ]);
        let structs = StructArray::new(
            xy.clone(),
            vec![
                Arc::new(Float64Array::from_iter_values(pts.iter().map(|p| p.0))),
                Arc::new(Float64Array::from_iter_values(pts.iter().map(|p| p.1))),
            ],
            None,
        );
        let schema = Arc::new(Schema::new(vec![Field::new(
            "geom",
            DataType::Struct(xy),
            true,
        )]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(structs)]).unwrap();
        let geo = r#"{"version":"1.1.0","primary_column":"geom","columns":{"geom":{"encoding":"point","geometry_types":["Point"]}}}"#;
        let (_, from_struct, _) = answer(parquet(&batch, Some(geo)), options);
        // GeoArrow point, interleaved, named by the field's extension type only.
        let mut list = FixedSizeListBuilder::new(Float64Builder::new(), 2);
        for &(x, y) in &pts {
            list.values().append_value(x);
            list.values().append_value(y);
            list.append(true);
        }
        let list = list.finish();
        let field = Field::new("point", list.data_type().clone(), true).with_metadata(
            [("ARROW:extension:name", "geoarrow.point")]
                .into_iter()
                .collect::<arrow_schema::Metadata>(),
        );
        let batch =
            RecordBatch::try_new(Arc::new(Schema::new(vec![field])), vec![Arc::new(list)]).unwrap();
        let (_, from_list, _) = answer(parquet(&batch, None), options);
        // Plain columns, named as a CSV header names them, and a day as text.
        let column = |values: Vec<f64>| Arc::new(Float64Array::from(values)) as ArrayRef;
        let batch = RecordBatch::try_from_iter([
            ("Longitude", column(pts.iter().map(|p| p.0).collect())),
            ("lat", column(pts.iter().map(|p| p.1).collect())),
            (
                "day",
                Arc::new(StringArray::from(vec!["2018-02-07"; pts.len()])),
            ),
        ])
        .unwrap();
        let (_, from_columns, _) = answer(
            parquet(&batch, None),
            PointsOptions {
                at: None,
                ..options
            },
        );
        let index = index();
        let expected: Vec<Option<Vec<String>>> = pts
            .iter()
            .map(|&(x, y)| Some(keys(&index, x, y, Some(day("2018-02-07")))))
            .collect();
        assert!(expected.iter().flatten().any(|k| !k.is_empty()));
        assert_eq!(zones(&from_wkb), expected);
        assert_eq!(zones(&from_struct), expected);
        assert_eq!(zones(&from_list), expected);
        assert_eq!(zones(&from_columns), expected);
    }

    #[test]
    fn files_without_lon_lat_points_are_refused_with_a_reason() {
        let options = PointsOptions {
            at: None,
            nearest: 0,
            limits: BatchLimits {
                max_points: 2,
                max_errors: 10,
            },
        };
        let refused = |input: bytes::Bytes| {
            let mut out = Vec::new();
            match answer_parquet(&index(), input, &options, &mut out, |_| {}, &|_| true) {
                Err(PointsError::Refused(r)) => r,
                other => panic!("{other:?}"),
            }
        };
        assert!(
            matches!(refused(bytes::Bytes::from_static(b"lon,lat\n1,2\n")),
            BatchRefused::Unreadable(m) if m.contains("not a readable Parquet file"))
        );
        let schema = Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, false)]));
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(vec!["a"]))]).unwrap();
        assert!(matches!(refused(parquet(&batch, None)),
            BatchRefused::Unreadable(m) if m.contains("no points found") && m.contains("name")));
        let mut geometry = BinaryBuilder::new();
        geometry.append_value(wkb(4_000_000.0, 3_800_000.0));
        let schema = Arc::new(Schema::new(vec![Field::new(
            "geometry",
            DataType::Binary,
            true,
        )]));
        let batch =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(geometry.finish())]).unwrap();
        let mercator = r#"{"version":"1.1.0","primary_column":"geometry","columns":{"geometry":{"encoding":"WKB","geometry_types":["Point"],"crs":{"id":{"authority":"EPSG","code":3857}}}}}"#;
        assert!(matches!(refused(parquet(&batch, Some(mercator))),
            BatchRefused::Unreadable(m) if m.contains("lon/lat")));
        let polygons = r#"{"version":"1.1.0","primary_column":"geometry","columns":{"geometry":{"encoding":"polygon","geometry_types":["Polygon"]}}}"#;
        assert!(matches!(refused(parquet(&batch, Some(polygons))),
            BatchRefused::Unreadable(m) if m.contains("polygon")));
        let mut geometry = BinaryBuilder::new();
        for _ in 0..3 {
            geometry.append_value(wkb(36.0, 33.0));
        }
        let batch = RecordBatch::try_new(schema, vec![Arc::new(geometry.finish())]).unwrap();
        assert_eq!(
            refused(parquet(&batch, Some(WKB_GEO))),
            BatchRefused::TooMany(2)
        );
    }

    #[test]
    fn a_crs_other_than_lon_lat_is_refused() {
        assert!(crs_is_lon_lat(None));
        assert!(crs_is_lon_lat(Some(&Value::Null)));
        assert!(crs_is_lon_lat(Some(
            &serde_json::json!({"id": {"authority": "EPSG", "code": 4326}})
        )));
        assert!(crs_is_lon_lat(Some(
            &serde_json::json!({"id": {"authority": "OGC", "code": "CRS84"}})
        )));
        assert!(!crs_is_lon_lat(Some(
            &serde_json::json!({"id": {"authority": "EPSG", "code": 3857}})
        )));
    }
}
