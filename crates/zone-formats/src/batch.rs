//! Batches of points to query, as CSV (`lon,lat[,date][,id]`, a header allowed) or GeoJSON
//! (a FeatureCollection of Points, each with an optional `date` and `id`). A bad line or feature
//! is reported with its number and the rest are still answered. Shared by `POST /query/points`
//! and `zonetrack query --csv`.
//!
//! Memory for a batch is bounded by its input: answers are computed and written a chunk of
//! points at a time ([`write_answers`]), and only the first [`BatchLimits::max_errors`] bad
//! lines are kept (the rest are counted).

use std::io::Write;

use geodata::Date;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use zone_index::{Covering, ZoneIndex};

/// Points answered together: enough for the index's batch path to pay off, small enough that
/// a chunk's answer (up to a few MB at a point covered by many zones) is never much memory.
pub const ANSWER_CHUNK: usize = 4096;

/// What a batch may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// More points than this and the whole batch is refused.
    pub max_points: usize,
    /// Bad lines kept with their message; later ones are only counted.
    pub max_errors: usize,
}

impl BatchLimits {
    /// No limit (a file given to the command line, where every bad line is reported).
    pub const NONE: BatchLimits = BatchLimits {
        max_points: usize::MAX,
        max_errors: usize::MAX,
    };
}

/// One point of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchPoint {
    /// 1-based line (CSV) or 0-based feature index (GeoJSON) it came from.
    pub line: usize,
    /// The input row's fields as written (CSV), to echo in the output.
    pub fields: Vec<String>,
    /// Longitude.
    pub lon: f64,
    /// Latitude.
    pub lat: f64,
    /// The point's own date, overriding the batch's.
    pub date: Option<Date>,
    /// The caller's id for the point.
    pub id: Option<String>,
}

/// A line or feature that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchError {
    /// 1-based line (CSV) or 0-based feature index (GeoJSON).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// A parsed batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// The CSV header row, when there was one.
    pub header: Option<Vec<String>>,
    /// The points, in input order.
    pub points: Vec<BatchPoint>,
    /// The first lines that could not be read (up to [`BatchLimits::max_errors`]).
    pub errors: Vec<BatchError>,
    /// How many lines could not be read, kept or not.
    pub error_count: usize,
}

impl Batch {
    fn reject(&mut self, limits: BatchLimits, line: usize, message: impl FnOnce() -> String) {
        if self.errors.len() < limits.max_errors {
            self.errors.push(BatchError {
                line,
                message: message(),
            });
        }
        self.error_count += 1;
    }
}

/// Why a whole batch was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchRefused {
    /// More points than allowed.
    #[error("the batch has more than {0} points; split it")]
    TooMany(usize),
    /// Not CSV / not a GeoJSON FeatureCollection at all.
    #[error("{0}")]
    Unreadable(String),
}

/// Which coordinate a field is.
#[derive(Clone, Copy)]
enum Axis {
    Lon,
    Lat,
}

fn coordinate(s: &str, axis: Axis) -> Result<f64, String> {
    let what = match axis {
        Axis::Lon => "longitude",
        Axis::Lat => "latitude",
    };
    let v: f64 = s.trim().parse().map_err(|_| {
        format!(
            "{what} {:?} is not a number",
            s.chars().take(40).collect::<String>()
        )
    })?;
    // The index's one range check.
    let (checked, range) = match axis {
        Axis::Lon => (zone_index::LonLat::new(v, 0.0), 180),
        Axis::Lat => (zone_index::LonLat::new(0.0, v), 90),
    };
    checked
        .map(|_| v)
        .map_err(|_| format!("{what} {v} is out of range (-{range}..{range})"))
}

/// Which column holds what, from a header row (or the default order without one).
struct Columns {
    lon: usize,
    lat: usize,
    date: Option<usize>,
    id: Option<usize>,
}

fn columns_from_header(header: &[String]) -> Option<Columns> {
    let find = |names: &[&str]| {
        header
            .iter()
            .position(|h| names.contains(&h.trim().to_ascii_lowercase().as_str()))
    };
    Some(Columns {
        lon: find(&["lon", "longitude", "lng", "long"])?,
        lat: find(&["lat", "latitude"])?,
        date: find(&["date", "datetime", "day", "at"]),
        id: find(&["id", "name", "key"]),
    })
}

/// Parses a CSV batch. Without a header the columns are `lon,lat` then, optionally, a date
/// and/or an id in either order (a field that is a `YYYY-MM-DD` date is the date).
pub fn parse_csv(text: &str, limits: BatchLimits) -> Result<Batch, BatchRefused> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let mut batch = Batch::default();
    let mut columns: Option<Columns> = None;
    for (n, record) in reader.records().enumerate() {
        let line = record
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map_or(n + 1, |p| p.line() as usize);
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                batch.reject(limits, line, || format!("not CSV: {e}"));
                continue;
            }
        };
        if record.iter().all(str::is_empty) {
            continue;
        }
        if batch.header.is_none() && batch.points.is_empty() && batch.error_count == 0 {
            let fields: Vec<String> = record.iter().map(str::to_owned).collect();
            let looks_like_header = fields
                .first()
                .is_some_and(|f| f.trim().parse::<f64>().is_err());
            if looks_like_header {
                match columns_from_header(&fields) {
                    Some(c) => {
                        columns = Some(c);
                        batch.header = Some(fields);
                        continue;
                    }
                    None => {
                        return Err(BatchRefused::Unreadable(format!(
                            "line {line}: the header needs lon and lat columns (got {})",
                            fields.join(",")
                        )));
                    }
                }
            }
        }
        if batch.points.len() >= limits.max_points {
            return Err(BatchRefused::TooMany(limits.max_points));
        }
        let point = match &columns {
            Some(c) => point_from_columns(&record, c),
            None => point_positional(&record),
        };
        match point {
            Ok((lon, lat, date, id)) => batch.points.push(BatchPoint {
                line,
                fields: record.iter().map(str::to_owned).collect(),
                lon,
                lat,
                date,
                id,
            }),
            Err(message) => batch.reject(limits, line, || message),
        }
    }
    Ok(batch)
}

type Parsed = (f64, f64, Option<Date>, Option<String>);

fn date_field(s: &str) -> Result<Option<Date>, String> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    geodata::parse_date(s.trim()).map(Some).ok_or_else(|| {
        format!(
            "date {:?} is not YYYY-MM-DD",
            s.chars().take(40).collect::<String>()
        )
    })
}

fn point_from_columns(fields: &csv::StringRecord, c: &Columns) -> Result<Parsed, String> {
    let get = |i: usize| fields.get(i).unwrap_or("");
    let lon = coordinate(get(c.lon), Axis::Lon)?;
    let lat = coordinate(get(c.lat), Axis::Lat)?;
    let date = match c.date {
        Some(i) => date_field(get(i))?,
        None => None,
    };
    let id = c.id.map(|i| get(i).to_owned()).filter(|s| !s.is_empty());
    Ok((lon, lat, date, id))
}

fn point_positional(record: &csv::StringRecord) -> Result<Parsed, String> {
    let fields: Vec<&str> = record.iter().collect();
    if fields.len() < 2 {
        return Err("expected at least lon,lat".into());
    }
    if fields.len() > 4 {
        return Err(format!(
            "expected lon,lat[,date][,id]; got {} fields",
            fields.len()
        ));
    }
    let lon = coordinate(fields[0], Axis::Lon)?;
    let lat = coordinate(fields[1], Axis::Lat)?;
    let mut date = None;
    let mut id = None;
    for &f in &fields[2..] {
        if date.is_none() && geodata::parse_date(f.trim()).is_some() {
            date = geodata::parse_date(f.trim());
        } else if id.is_none() {
            if f.len() >= 8
                && f.as_bytes().get(4) == Some(&b'-')
                && f.chars().take(4).all(|c| c.is_ascii_digit())
            {
                // Looks like a date but is not a real day: say so rather than take it as an id.
                date_field(f)?;
            }
            id = Some(f.to_owned()).filter(|s| !s.is_empty());
        } else {
            return Err(format!(
                "unexpected field {:?}",
                f.chars().take(40).collect::<String>()
            ));
        }
    }
    Ok((lon, lat, date, id))
}

/// A GeoJSON batch as first read: each feature stays unparsed text, so a 100,000-point body
/// costs a few bytes per feature here rather than a tree of values (a `Value` per feature made
/// a 7 MB batch take hundreds of MB).
#[derive(serde::Deserialize)]
struct RawCollection<'a> {
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    #[serde(borrow)]
    features: Option<Vec<&'a RawValue>>,
}

/// Parses a GeoJSON batch: a FeatureCollection of Point features, with optional
/// `properties.date` (`YYYY-MM-DD`) and an `id` (top-level or in properties).
pub fn parse_geojson(text: &str, limits: BatchLimits) -> Result<Batch, BatchRefused> {
    let collection: RawCollection<'_> = serde_json::from_str(text)
        .map_err(|e| BatchRefused::Unreadable(format!("not JSON: {e}")))?;
    let features = collection
        .features
        .filter(|_| collection.kind == Some("FeatureCollection"))
        .ok_or_else(|| {
            BatchRefused::Unreadable("expected a GeoJSON FeatureCollection of Points".into())
        })?;
    if features.len() > limits.max_points {
        return Err(BatchRefused::TooMany(limits.max_points));
    }
    let mut batch = Batch::default();
    for (i, raw) in features.iter().enumerate() {
        let parsed = serde_json::from_str::<Value>(raw.get())
            .map_err(|e| format!("not a feature: {e}"))
            .and_then(|f| point_feature(&f));
        match parsed {
            Ok((lon, lat, date, id)) => batch.points.push(BatchPoint {
                line: i,
                fields: Vec::new(),
                lon,
                lat,
                date,
                id,
            }),
            Err(message) => batch.reject(limits, i, || message),
        }
    }
    Ok(batch)
}

fn point_feature(f: &Value) -> Result<Parsed, String> {
    let g = &f["geometry"];
    if g["type"] != "Point" {
        return Err("geometry must be a Point".into());
    }
    let c = g["coordinates"]
        .as_array()
        .ok_or("Point without coordinates")?;
    let num = |j: usize| {
        c.get(j)
            .and_then(Value::as_f64)
            .ok_or("coordinates must be numbers")
    };
    let lon = coordinate(&num(0)?.to_string(), Axis::Lon)?;
    let lat = coordinate(&num(1)?.to_string(), Axis::Lat)?;
    let date = match f["properties"]
        .get("date")
        .or_else(|| f["properties"].get("datetime"))
    {
        Some(Value::String(s)) => date_field(s)?,
        None | Some(Value::Null) => None,
        Some(other) => return Err(format!("date {other} is not YYYY-MM-DD")),
    };
    let id = match f.get("id").or_else(|| f["properties"].get("id")) {
        Some(Value::String(s)) => Some(s.chars().take(200).collect()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Ok((lon, lat, date, id))
}

/// Answers every point: the zones covering it on its own date, else on `default_date`, else
/// on any date. Points are grouped by date so each group goes through the index's batch path
/// (space-filling-curve order, both cores).
pub fn answer(
    index: &ZoneIndex,
    points: &[BatchPoint],
    default_date: Option<Date>,
) -> Vec<Vec<Covering>> {
    let mut by_date: std::collections::BTreeMap<Option<Date>, Vec<usize>> = Default::default();
    for (i, p) in points.iter().enumerate() {
        by_date.entry(p.date.or(default_date)).or_default().push(i);
    }
    let mut out = vec![Vec::new(); points.len()];
    for (date, members) in by_date {
        let coords: Vec<(f64, f64)> = members
            .iter()
            .map(|&i| (points[i].lon, points[i].lat))
            .collect();
        for (i, answer) in members.into_iter().zip(index.covering_many(&coords, date)) {
            out[i] = answer;
        }
    }
    out
}

/// How a batch's answer is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerFormat {
    /// The input columns (header included), then `zones`: the covering zones' keys joined by `;`.
    Csv,
    /// `{"count", "results": [{"index", "id", "lon", "lat", "datetime", "covering": [{"key",
    /// "on_boundary"}]}], "errors", "error_count", "data_version"}`.
    Json {
        /// The data version the answers come from.
        data_version: String,
    },
}

#[derive(Serialize)]
struct PointAnswer<'a> {
    index: usize,
    id: Option<&'a str>,
    lon: f64,
    lat: f64,
    datetime: Option<String>,
    covering: Vec<CoverAnswer<'a>>,
}

#[derive(Serialize)]
struct CoverAnswer<'a> {
    key: &'a str,
    on_boundary: bool,
}

#[derive(Serialize)]
struct ErrorAnswer<'a> {
    index: usize,
    description: &'a str,
}

/// Answers `batch` and writes the answer to `out` a chunk of points at a time, so memory stays
/// bounded by the input however many zones cover each point. `progress` is told how many points
/// each chunk answered. An error is the writer's (a closed pipe, a client gone).
pub fn write_answers<W: Write>(
    index: &ZoneIndex,
    batch: &Batch,
    at: Option<Date>,
    format: &AnswerFormat,
    out: W,
    progress: impl FnMut(usize),
) -> std::io::Result<()> {
    write_answers_kept(index, batch, at, format, out, progress, &|_| true)
}

/// As [`write_answers`], reporting only the covering zones (by index in the dataset's zones)
/// that `keep` keeps: a filter on which zones count (the server's CQL2 `filter=`).
pub fn write_answers_kept<W: Write>(
    index: &ZoneIndex,
    batch: &Batch,
    at: Option<Date>,
    format: &AnswerFormat,
    out: W,
    mut progress: impl FnMut(usize),
    keep: &dyn Fn(usize) -> bool,
) -> std::io::Result<()> {
    let zones = &index.dataset().zones;
    let key = |zone: usize| zones.get(zone).map_or("", |z| z.meta.id.as_str());
    match format {
        AnswerFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            if let Some(h) = &batch.header {
                w.write_record(h.iter().map(String::as_str).chain(["zones"]))?;
            }
            let mut joined = String::new();
            for chunk in batch.points.chunks(ANSWER_CHUNK) {
                for (p, cover) in chunk.iter().zip(answer(index, chunk, at)) {
                    joined.clear();
                    for (i, c) in cover.iter().filter(|c| keep(c.zone)).enumerate() {
                        if i > 0 {
                            joined.push(';');
                        }
                        joined.push_str(key(c.zone));
                    }
                    w.write_record(p.fields.iter().map(String::as_str).chain([joined.as_str()]))?;
                }
                progress(chunk.len());
            }
            w.flush()
        }
        AnswerFormat::Json { data_version } => {
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
            write!(out, "{{\"count\":{},\"results\":[", batch.points.len())?;
            let mut first = true;
            for chunk in batch.points.chunks(ANSWER_CHUNK) {
                for (p, cover) in chunk.iter().zip(answer(index, chunk, at)) {
                    if !first {
                        out.write_all(b",")?;
                    }
                    first = false;
                    let answer = PointAnswer {
                        index: p.line,
                        id: p.id.as_deref(),
                        lon: p.lon,
                        lat: p.lat,
                        datetime: p.date.or(at).map(|d| d.to_string()),
                        covering: cover
                            .iter()
                            .filter(|c| keep(c.zone))
                            .map(|c| CoverAnswer {
                                key: key(c.zone),
                                on_boundary: c.on_boundary,
                            })
                            .collect(),
                    };
                    serde_json::to_writer(&mut out, &answer)?;
                }
                progress(chunk.len());
            }
            out.write_all(b"],\"errors\":")?;
            let errors: Vec<ErrorAnswer<'_>> = batch
                .errors
                .iter()
                .map(|e| ErrorAnswer {
                    index: e.line,
                    description: &e.message,
                })
                .collect();
            serde_json::to_writer(&mut out, &errors)?;
            write!(
                out,
                ",\"error_count\":{},\"data_version\":",
                batch.error_count
            )?;
            serde_json::to_writer(&mut out, data_version)?;
            out.write_all(b"}")?;
            out.flush()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: BatchLimits = BatchLimits {
        max_points: 10,
        max_errors: 10,
    };

    #[test]
    fn only_the_first_bad_lines_are_kept_and_the_rest_counted() {
        // Regression (issue 10): 16 MiB of bad lines kept every message, ~680 MB for 20 shown.
        let text = format!("36.1,32.6\n{}", "x\n".repeat(10_000));
        let limits = BatchLimits {
            max_points: 10,
            max_errors: 20,
        };
        let b = parse_csv(&text, limits).unwrap();
        assert_eq!(b.points.len(), 1);
        assert_eq!(b.errors.len(), 20);
        assert_eq!(b.error_count, 10_000);
        assert_eq!(b.errors[0].line, 2);
    }

    #[test]
    fn answers_are_written_in_input_order_across_chunks() {
        let index = ZoneIndex::new(std::sync::Arc::new(geodata::Dataset::embedded()));
        // Daraa, then a point in the sea, repeated past one chunk.
        let mut text = String::from("lon,lat,id\n");
        for i in 0..(ANSWER_CHUNK + 10) {
            if i % 2 == 0 {
                text.push_str(&format!("36.1,32.617,d{i}\n"));
            } else {
                text.push_str(&format!("34.0,34.0,s{i}\n"));
            }
        }
        let b = parse_csv(&text, BatchLimits::NONE).unwrap();
        let mut seen = 0;
        let mut out = Vec::new();
        write_answers(
            &index,
            &b,
            geodata::parse_date("2018-02-15"),
            &AnswerFormat::Csv,
            &mut out,
            |n| seen += n,
        )
        .unwrap();
        assert_eq!(seen, b.points.len());
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows[0], "lon,lat,id,zones");
        assert_eq!(rows.len(), b.points.len() + 1);
        for (i, row) in rows[1..].iter().enumerate() {
            let zones = row.rsplit(',').next().unwrap();
            assert!(
                row.contains(&format!(",d{i},")) || row.contains(&format!(",s{i},")),
                "{row}"
            );
            assert_eq!(zones.is_empty(), i % 2 == 1, "row {i}: {row}");
        }
        let mut json = Vec::new();
        let format = AnswerFormat::Json {
            data_version: "v1".into(),
        };
        write_answers(&index, &b, None, &format, &mut json, |_| {}).unwrap();
        let v: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["count"], b.points.len());
        assert_eq!(
            v["results"][ANSWER_CHUNK + 2]["id"],
            format!("d{}", ANSWER_CHUNK + 2)
        );
        assert_eq!(v["error_count"], 0);
        assert_eq!(v["data_version"], "v1");
    }

    #[test]
    fn a_csv_with_a_header_names_its_columns() {
        let b = parse_csv("id,lat,lon,date\nd,32.617,36.1,2018-02-15\n", LIMITS).unwrap();
        assert_eq!(b.points.len(), 1);
        assert_eq!(b.points[0].lon, 36.1);
        assert_eq!(b.points[0].id.as_deref(), Some("d"));
        assert_eq!(b.points[0].date, geodata::parse_date("2018-02-15"));
    }

    #[test]
    fn bad_lines_are_reported_with_their_number_and_the_rest_kept() {
        let b = parse_csv(
            "36.1,32.6\nabc,32\n36.2,95\n36.3,32.7,2018-02-30\n36.4,32.8,x1\n",
            LIMITS,
        )
        .unwrap();
        assert_eq!(b.points.len(), 2);
        let lines: Vec<usize> = b.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4]);
        assert!(
            b.errors[0]
                .message
                .contains("longitude \"abc\" is not a number")
        );
        assert!(b.errors[1].message.contains("latitude 95 is out of range"));
        assert!(b.errors[2].message.contains("date \"2018-02-30\""));
        assert_eq!(b.points[1].id.as_deref(), Some("x1"));
    }

    #[test]
    fn a_batch_over_the_limit_is_refused() {
        assert_eq!(
            parse_csv(
                "1,1\n2,2\n3,3\n",
                BatchLimits {
                    max_points: 2,
                    max_errors: 10
                }
            ),
            Err(BatchRefused::TooMany(2))
        );
    }

    #[test]
    fn geojson_points_carry_dates_and_ids() {
        let b = parse_geojson(
            r#"{"type":"FeatureCollection","features":[
              {"type":"Feature","id":"a","geometry":{"type":"Point","coordinates":[36.1,32.6]},"properties":{"date":"2018-02-15"}},
              {"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,2],[3,4]]},"properties":{}}]}"#,
            LIMITS,
        )
        .unwrap();
        assert_eq!(b.points.len(), 1);
        assert_eq!(b.points[0].id.as_deref(), Some("a"));
        assert_eq!(b.errors[0].line, 1);
    }
}
