//! Batches of points to query, as CSV (`lon,lat[,date][,id]`, a header allowed) or GeoJSON
//! (a FeatureCollection of Points, each with an optional `date` and `id`). A bad line or feature
//! is reported with its number and the rest are still answered. Shared by `POST /query/points`
//! and `zonetrack query --csv`.
//!
//! Memory for a batch is bounded by its input: answers are computed and written a chunk of
//! points at a time ([`write_answers`], [`ZoneIndex::batch_chunk`] points), and only the first
//! [`BatchLimits::max_errors`] bad lines are kept (the rest are counted).

use std::borrow::Cow;
use std::io::Write;

use rayon::iter::{IntoParallelIterator as _, ParallelExtend as _, ParallelIterator as _};

use geodata::Date;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use zone_index::{BatchZones, Covering, ZoneIndex};

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
    /// Longitude.
    pub lon: f64,
    /// Latitude.
    pub lat: f64,
    /// The point's own date, overriding the batch's.
    pub date: Option<Date>,
    /// The input row as written (CSV), to echo in the output: `row_len` bytes of [`Batch`]'s
    /// text from `row_start`. Spans rather than a `String` per point, so a batch of millions of
    /// points is not millions of allocations; offsets and lengths within a row in 32 bits, so
    /// a point is 48 bytes rather than 72 (a million points are written to fresh memory, and
    /// half of them copied, while a batch is parsed).
    row_start: usize,
    row_len: u32,
    /// The caller's id for the point: `id_len` bytes from `row_start + id_from`; [`NO_ID`]:
    /// none.
    id_from: u32,
    id_len: u32,
}

/// [`BatchPoint::id_len`] of a point without an id.
const NO_ID: u32 = u32::MAX;

impl BatchPoint {
    /// A point whose row (and id, after the row's start) are the spans given of its batch's
    /// text; refused when the row or the id lies more than 4 GiB past the row's start.
    fn new(
        line: usize,
        (lon, lat, date): (f64, f64, Option<Date>),
        row: Span,
        id: Option<Span>,
    ) -> Result<BatchPoint, String> {
        let long = || "the row is longer than 4 GiB".to_owned();
        let row_len = u32::try_from(row.end - row.start).map_err(|_| long())?;
        let (id_from, id_len) = match id {
            Some(id) => (
                id.start
                    .checked_sub(row.start)
                    .and_then(|d| u32::try_from(d).ok())
                    .ok_or_else(long)?,
                u32::try_from(id.end - id.start)
                    .ok()
                    .filter(|&l| l != NO_ID)
                    .ok_or_else(long)?,
            ),
            None => (0, NO_ID),
        };
        Ok(BatchPoint {
            line,
            lon,
            lat,
            date,
            row_start: row.start,
            row_len,
            id_from,
            id_len,
        })
    }

    fn row(&self) -> Span {
        Span {
            start: self.row_start,
            end: self.row_start + self.row_len as usize,
        }
    }

    fn id(&self) -> Option<Span> {
        (self.id_len != NO_ID).then(|| {
            let start = self.row_start + self.id_from as usize;
            Span {
                start,
                end: start + self.id_len as usize,
            }
        })
    }
}

/// Where a piece of a batch's text is: spans rather than a `String` per point, so a batch of
/// millions of points is not millions of allocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Span {
    start: usize,
    end: usize,
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
    /// The text the points' rows and ids are spans of.
    text: String,
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

    fn text(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or("")
    }

    /// A point's input row as written (CSV; empty for GeoJSON), without its line ending.
    pub fn row(&self, point: &BatchPoint) -> &str {
        self.text(point.row())
    }

    /// A point's id, when it has one.
    pub fn id(&self, point: &BatchPoint) -> Option<&str> {
        point.id().map(|s| self.text(s))
    }

    /// Appends `s` to the batch's text, for a point's id or row.
    fn keep_text(&mut self, s: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(s);
        Span {
            start,
            end: self.text.len(),
        }
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
    let v: f64 = trim(s).parse().map_err(|_| {
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

/// Below this many bytes a CSV batch is parsed on one thread: starting threads would cost
/// more than they save.
const PARALLEL_CSV_BYTES: usize = 1 << 20;

/// Parses a CSV batch. Without a header the columns are `lon,lat` then, optionally, a date
/// and/or an id in either order (a field that is a `YYYY-MM-DD` date is the date).
///
/// Plain CSV (no `"` quoting, `\n` or `\r\n` line ends: what programs write for numbers and
/// ids) is split at line ends into one chunk per core and the chunks are parsed in parallel,
/// each row kept as a span of the batch's text (the caller's, with [`parse_csv_owned`]);
/// quoted CSV goes through the `csv` crate on one thread. Both give the same points, lines and
/// messages.
pub fn parse_csv(text: &str, limits: BatchLimits) -> Result<Batch, BatchRefused> {
    parse_csv_text(Cow::Borrowed(text), limits)
}

/// [`parse_csv`] on text the caller gives up: plain CSV keeps it as the batch's text rather
/// than a copy (30 MB for a million points).
pub fn parse_csv_owned(text: String, limits: BatchLimits) -> Result<Batch, BatchRefused> {
    parse_csv_text(Cow::Owned(text), limits)
}

fn parse_csv_text(text: Cow<'_, str>, limits: BatchLimits) -> Result<Batch, BatchRefused> {
    // One pass over the text for the usual batch (no quotes, `\n` line ends).
    let bytes = text.as_bytes();
    let plain = memchr::memchr2(b'"', b'\r', bytes).is_none()
        || (memchr::memchr(b'"', bytes).is_none() && !has_bare_cr(&text));
    let batch = if plain {
        parse_plain_csv(text, limits)?
    } else {
        parse_quoted_csv(&text, limits)?
    };
    if batch.points.len() > limits.max_points {
        return Err(BatchRefused::TooMany(limits.max_points));
    }
    Ok(batch)
}

/// Whether a `\r` ends a line on its own (old Mac line ends), which the plain path does not read.
fn has_bare_cr(text: &str) -> bool {
    let b = text.as_bytes();
    memchr::memchr_iter(b'\r', b).any(|i| b.get(i + 1) != Some(&b'\n'))
}

/// The header, when the first record is one: the columns it names.
fn header_columns(fields: &[String], line: usize) -> Result<Option<Columns>, BatchRefused> {
    let looks_like_header = fields
        .first()
        .is_some_and(|f| f.trim().parse::<f64>().is_err());
    if !looks_like_header {
        return Ok(None);
    }
    match columns_from_header(fields) {
        Some(c) => Ok(Some(c)),
        None => Err(BatchRefused::Unreadable(format!(
            "line {line}: the header needs lon and lat columns (got {})",
            fields.join(",")
        ))),
    }
}

/// A line of plain CSV without its line end; `None` for a comment or a line of empty fields.
fn plain_record(line: &str) -> Option<&str> {
    // Byte tests, not `strip_suffix` / `starts_with`: with a `char` pattern those compare
    // through `memcmp`, a call per test that was a tenth of parsing a million lines.
    let line = match line.as_bytes().last() {
        Some(b'\r') => &line[..line.len() - 1],
        _ => line,
    };
    match line.as_bytes().first() {
        Some(b'#') => None,
        // A first field that starts with a visible ASCII character is not empty.
        Some(&b) if b > b' ' && b < 0x7f && b != b',' => Some(line),
        _ if fields(line).all(|f| f.trim().is_empty()) => None,
        _ => Some(line),
    }
}

/// The lines of `text`, each with its `\n` when it has one (as `split_inclusive('\n')`).
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest
            .bytes()
            .position(|b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let (line, after) = rest.split_at(end);
        rest = after;
        Some(line)
    })
}

/// The fields of a plain CSV line (as `split(',')`). A byte loop: lines of numbers are a few
/// dozen bytes, too short for `memchr`'s set-up to pay.
fn fields(line: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(line);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.bytes().position(|b| b == b',') {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// `s.trim()`, without looking further when `s` starts and ends with a visible ASCII
/// character (every number and most ids).
fn trim(s: &str) -> &str {
    let visible = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b < 0x7f);
    if visible(s.as_bytes().first()) && visible(s.as_bytes().last()) {
        s
    } else {
        s.trim()
    }
}

/// A line without its `\n`.
fn without_newline(line: &str) -> &str {
    match line.as_bytes().last() {
        Some(b'\n') => &line[..line.len() - 1],
        _ => line,
    }
}

fn parse_plain_csv(owned: Cow<'_, str>, limits: BatchLimits) -> Result<Batch, BatchRefused> {
    let text: &str = &owned;
    // The header, if any, is the first record.
    let mut body_start = 0;
    let mut body_line = 1;
    let mut columns = None;
    let mut header = None;
    for (i, line) in lines(text).enumerate() {
        let Some(record) = plain_record(without_newline(line)) else {
            body_start += line.len();
            continue;
        };
        let fields: Vec<String> = record.split(',').map(|f| f.trim().to_owned()).collect();
        if let Some(c) = header_columns(&fields, i + 1)? {
            columns = Some(c);
            header = Some(fields);
            body_start += line.len();
            body_line = i + 2;
        } else {
            body_line = i + 1;
        }
        break;
    }
    let body = &text[body_start..];
    let threads = if body.len() < PARALLEL_CSV_BYTES {
        1
    } else {
        std::thread::available_parallelism().map_or(1, usize::from)
    };
    // Chunks end at line ends.
    let mut bounds = vec![0];
    for t in 1..threads {
        let want = body.len() * t / threads;
        let from = want.max(*bounds.last().unwrap_or(&0));
        let cut = body.as_bytes()[from..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(body.len(), |p| from + p + 1);
        bounds.push(cut);
    }
    bounds.push(body.len());
    bounds.dedup();
    let columns = columns.as_ref();
    let parse = |range: std::ops::Range<usize>| {
        let mut part = Batch::default();
        let mut count = 0;
        for line in lines(&body[range.clone()]) {
            count += 1;
            let Some(record) = plain_record(without_newline(line)) else {
                continue;
            };
            // Lines are counted from the chunk's start here, and moved on when merged.
            let at = count;
            let point = match columns {
                Some(c) => point_from_fields(fields(record), c),
                None => point_positional(fields(record)),
            };
            match point {
                Ok((lon, lat, date, id)) => {
                    let start = body_start + (record.as_ptr() as usize - body.as_ptr() as usize);
                    let id = id.map(|f| {
                        let s = body_start + (f.as_ptr() as usize - body.as_ptr() as usize);
                        Span {
                            start: s,
                            end: s + f.len(),
                        }
                    });
                    let row = Span {
                        start,
                        end: start + record.len(),
                    };
                    match BatchPoint::new(at, (lon, lat, date), row, id) {
                        Ok(p) => part.points.push(p),
                        Err(message) => part.reject(limits, at, || message),
                    }
                }
                Err(message) => part.reject(limits, at, || message),
            }
        }
        (part, count)
    };
    let parts: Vec<(Batch, usize)> = if bounds.len() <= 2 {
        vec![parse(0..body.len())]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = bounds
                .windows(2)
                .map(|w| {
                    let range = w[0]..w[1];
                    s.spawn(move || parse(range))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    };
    let total: usize = parts.iter().map(|(p, _)| p.points.len()).sum();
    let mut batch = Batch {
        header,
        ..Batch::default()
    };
    let mut first_line = body_line - 1;
    for (part, lines) in parts {
        if batch.points.is_empty() {
            // The first chunk's points become the batch's and only the others are copied
            // after them, on every core (rayon writes straight into the reserved space): a
            // copy of half a million points on one thread was a fifth of parsing them.
            batch.points = part.points;
            batch.points.reserve_exact(total - batch.points.len());
            for p in &mut batch.points {
                p.line += first_line;
            }
        } else {
            let moved = first_line;
            batch
                .points
                .par_extend(part.points.into_par_iter().map(|mut p| {
                    p.line += moved;
                    p
                }));
        }
        let unlisted = part.error_count - part.errors.len();
        for e in part.errors {
            batch.reject(limits, e.line + first_line, || e.message);
        }
        batch.error_count += unlisted;
        first_line += lines;
    }
    batch.text = owned.into_owned();
    Ok(batch)
}

fn parse_quoted_csv(text: &str, limits: BatchLimits) -> Result<Batch, BatchRefused> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let mut batch = Batch::default();
    let mut columns: Option<Columns> = None;
    let mut record = csv::StringRecord::new();
    // The csv crate's line numbers leave out blank lines (and its record positions are where
    // the blank lines before a record start): a record's line is counted here, from where the
    // previous record ended, past blank and comment lines, as the plain reader counts.
    let mut lines = LineCounter::new(text);
    loop {
        let from = usize::try_from(reader.position().byte()).unwrap_or(usize::MAX);
        let read = reader.read_record(&mut record);
        let line = lines.record_line(from);
        match read {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                batch.reject(limits, line, || format!("not CSV: {e}"));
                continue;
            }
        }
        if record.iter().all(str::is_empty) {
            continue;
        }
        if batch.header.is_none() && batch.points.is_empty() && batch.error_count == 0 {
            let fields: Vec<String> = record.iter().map(str::to_owned).collect();
            if let Some(c) = header_columns(&fields, line)? {
                columns = Some(c);
                batch.header = Some(fields);
                continue;
            }
        }
        if batch.points.len() >= limits.max_points {
            return Err(BatchRefused::TooMany(limits.max_points));
        }
        let point = match &columns {
            Some(c) => point_from_fields(record.iter(), c),
            None => point_positional(record.iter()),
        };
        match point {
            Ok((lon, lat, date, id)) => {
                let id = id.map(str::to_owned);
                // The row is echoed as CSV, quoted where a field needs it.
                let start = batch.text.len();
                for (i, f) in record.iter().enumerate() {
                    if i > 0 {
                        batch.text.push(',');
                    }
                    push_csv_field(&mut batch.text, f);
                }
                let row = Span {
                    start,
                    end: batch.text.len(),
                };
                let id = id.map(|id| batch.keep_text(&id));
                match BatchPoint::new(line, (lon, lat, date), row, id) {
                    Ok(p) => batch.points.push(p),
                    Err(message) => batch.reject(limits, line, || message),
                }
            }
            Err(message) => batch.reject(limits, line, || message),
        }
    }
    Ok(batch)
}

/// Line numbers in a text read front to back, counting `\n`, `\r\n` and a lone `\r` as one
/// line end each (the csv crate's terminators).
struct LineCounter<'a> {
    text: &'a [u8],
    /// Bytes counted so far, and the line the next one is on.
    at: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        LineCounter {
            text: text.as_bytes(),
            at: 0,
            line: 1,
        }
    }

    /// The line of the record read from byte `from`: past the blank and `#` comment lines the
    /// csv crate skips there.
    fn record_line(&mut self, from: usize) -> usize {
        let mut start = from.min(self.text.len());
        loop {
            match self.text.get(start) {
                Some(b'\r' | b'\n') => start += 1,
                Some(b'#') => {
                    start = self.text[start..]
                        .iter()
                        .position(|&c| c == b'\n' || c == b'\r')
                        .map_or(self.text.len(), |i| start + i);
                }
                _ => break,
            }
        }
        self.advance(start);
        self.line
    }

    fn advance(&mut self, to: usize) {
        let to = to.max(self.at);
        for i in self.at..to {
            let c = self.text[i];
            if c == b'\n' || (c == b'\r' && self.text.get(i + 1) != Some(&b'\n')) {
                self.line += 1;
            }
        }
        self.at = to;
    }
}

/// Appends a CSV field, quoted when it holds a separator, a quote or a line end.
/// [`push_csv_field`] on bytes.
fn push_csv_field_bytes(out: &mut Vec<u8>, f: &[u8]) {
    if f.iter().any(|b| b",\"\n\r".contains(b)) {
        out.push(b'"');
        for &b in f {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(f);
    }
}

fn push_csv_field(out: &mut String, f: &str) {
    if f.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&f.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(f);
    }
}

type Parsed<'a> = (f64, f64, Option<Date>, Option<&'a str>);

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

fn point_from_fields<'a>(
    fields: impl Iterator<Item = &'a str>,
    c: &Columns,
) -> Result<Parsed<'a>, String> {
    let (mut lon, mut lat, mut date, mut id) = ("", "", "", "");
    for (i, f) in fields.enumerate() {
        let f = trim(f);
        if i == c.lon {
            lon = f;
        }
        if i == c.lat {
            lat = f;
        }
        if Some(i) == c.date {
            date = f;
        }
        if Some(i) == c.id {
            id = f;
        }
    }
    let lon = coordinate(lon, Axis::Lon)?;
    let lat = coordinate(lat, Axis::Lat)?;
    let date = match c.date {
        Some(_) => date_field(date)?,
        None => None,
    };
    let id = Some(id).filter(|s| c.id.is_some() && !s.is_empty());
    Ok((lon, lat, date, id))
}

fn point_positional<'a>(fields: impl Iterator<Item = &'a str>) -> Result<Parsed<'a>, String> {
    let mut f = [""; 4];
    let mut count = 0;
    for field in fields {
        if count < 4 {
            f[count] = trim(field);
        }
        count += 1;
    }
    if count < 2 {
        return Err("expected at least lon,lat".into());
    }
    if count > 4 {
        return Err(format!("expected lon,lat[,date][,id]; got {count} fields"));
    }
    let lon = coordinate(f[0], Axis::Lon)?;
    let lat = coordinate(f[1], Axis::Lat)?;
    let mut date = None;
    let mut id = None;
    for &f in &f[2..count] {
        if date.is_none() && geodata::parse_date(f).is_some() {
            date = geodata::parse_date(f);
        } else if id.is_none() {
            if f.len() >= 8
                && f.as_bytes().get(4) == Some(&b'-')
                && f.chars().take(4).all(|c| c.is_ascii_digit())
            {
                // Looks like a date but is not a real day: say so rather than take it as an id.
                date_field(f)?;
            }
            id = Some(f).filter(|s| !s.is_empty());
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
            Ok((lon, lat, date, id)) => {
                let id = id.map(|id| batch.keep_text(&id));
                // No row to echo: an empty one where the id is, so the id is at its start.
                let at = id.map_or(0, |s| s.start);
                let row = Span { start: at, end: at };
                match BatchPoint::new(i, (lon, lat, date), row, id) {
                    Ok(p) => batch.points.push(p),
                    Err(message) => batch.reject(limits, i, || message),
                }
            }
            Err(message) => batch.reject(limits, i, || message),
        }
    }
    Ok(batch)
}

fn point_feature(f: &Value) -> Result<(f64, f64, Option<Date>, Option<String>), String> {
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
    let answers = Answers::new(index, points, default_date);
    (0..points.len())
        .map(|i| answers.get(i).collect())
        .collect()
}

/// The answers of a chunk of points, in flat lists (one per date present), not a `Vec` per
/// point.
pub(crate) struct Answers {
    /// One flat answer per date group.
    groups: Vec<zone_index::CoveringBatch>,
    /// Each point's (group, position in the group); [`NOT_ASKED`] for a point left out.
    place: Vec<(u32, u32)>,
}

/// The group of a point [`Answers::for_rows`] was not asked about (a row that could not be read).
const NOT_ASKED: u32 = u32::MAX;

impl Answers {
    fn new(index: &dyn BatchZones, points: &[BatchPoint], default_date: Option<Date>) -> Self {
        let coords: Vec<(f64, f64)> = points.iter().map(|p| (p.lon, p.lat)).collect();
        Answers::for_rows(index, &coords, |i| Some(points[i].date.or(default_date)))
    }

    /// The answers for rows `coords`, each on its own date: `date(i)` is row `i`'s date
    /// (`Some(None)`: any date), or `None` for a row not to be asked about (its answer is empty).
    /// Rows are grouped by date so each group goes through the index's batch path.
    pub(crate) fn for_rows(
        index: &dyn BatchZones,
        coords: &[(f64, f64)],
        date: impl Fn(usize) -> Option<Option<Date>>,
    ) -> Self {
        let n = coords.len();
        let first = if n == 0 { Some(None) } else { date(0) };
        if let Some(day) = first.filter(|_| (1..n).all(|i| date(i) == first)) {
            // One date for every row (the usual batch): no grouping, no copy.
            return Answers {
                groups: vec![index.covering_batch(coords, day)],
                place: (0..n as u32).map(|i| (0, i)).collect(),
            };
        }
        let mut by_date: std::collections::BTreeMap<Option<Date>, Vec<usize>> = Default::default();
        let mut place = vec![(NOT_ASKED, 0); n];
        for i in 0..n {
            if let Some(d) = date(i) {
                by_date.entry(d).or_default().push(i);
            }
        }
        let mut groups = Vec::with_capacity(by_date.len());
        for (g, (day, members)) in by_date.into_iter().enumerate() {
            let group_coords: Vec<(f64, f64)> = members.iter().map(|&i| coords[i]).collect();
            groups.push(index.covering_batch(&group_coords, day));
            for (k, i) in members.into_iter().enumerate() {
                place[i] = (g as u32, k as u32);
            }
        }
        Answers { groups, place }
    }

    /// Point `i`'s covering zones, in zone order (nothing for a point not asked about).
    pub(crate) fn get(&self, i: usize) -> impl Iterator<Item = Covering> + '_ {
        let asked = match self.place.get(i) {
            Some(&(g, k)) if g != NOT_ASKED => Some(self.groups[g as usize].get(k as usize)),
            _ => None,
        };
        asked.into_iter().flatten()
    }
}

/// Gives each of `items` to `consume`, in order, stopping at its first error, which is
/// returned. With `ahead`, the items are made on another thread while `consume` takes the one
/// before (a batch's writing is one thread's work, and on a large batch took as long as its
/// answers); at most two are made ahead, so memory stays bounded, and an error of `consume`
/// stops the making at its next item.
pub(crate) fn made_ahead<T: Send, E>(
    mut items: impl Iterator<Item = T> + Send,
    ahead: bool,
    consume: impl FnMut(T) -> Result<(), E>,
) -> Result<(), E> {
    if !ahead {
        return items.try_for_each(consume);
    }
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        s.spawn(move || {
            for item in items {
                // A closed channel: `consume` failed and `rx` is gone.
                if tx.send(item).is_err() {
                    break;
                }
            }
        });
        rx.into_iter().try_for_each(consume)
    })
}

/// Answers `points` a chunk at a time (`index.batch_chunk()` points) and gives each chunk with
/// its answers to `write`, in order; past one chunk, the next is answered while one is written.
fn answer_chunks(
    index: &dyn BatchZones,
    points: &[BatchPoint],
    at: Option<Date>,
    mut write: impl FnMut(&[BatchPoint], &Answers) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let size = index.batch_chunk();
    let answered = points
        .chunks(size)
        .map(|chunk| (chunk, Answers::new(index, chunk, at)));
    made_ahead(answered, points.len() > size, |(chunk, answers)| {
        write(chunk, &answers)
    })
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

/// Bytes of a CSV answer given to the writer at once.
const CSV_PIECE: usize = 64 << 10;

/// Rows of a chunk from which its CSV answer is formatted on two threads.
const PARALLEL_ROWS: usize = 1 << 15;

/// What formats a CSV answer's rows.
struct CsvRows<'a> {
    batch: &'a Batch,
    keys: &'a zone_index::ZoneKeys,
    keep: &'a (dyn Fn(usize) -> bool + Sync),
    quote_keys: bool,
}

impl CsvRows<'_> {
    /// Appends to `buf` the answer rows of `rows`, whose answers are `answers`' rows `from..`:
    /// each input row as written, then the covering zones' keys joined by `;`. Straight into
    /// the buffer, nothing allocated per row (a row built in a `String` and handed to a
    /// writer, a million times, was a tenth of writing the answer).
    fn format(&self, buf: &mut Vec<u8>, rows: &[BatchPoint], from: usize, answers: &Answers) {
        let mut block_keys: Vec<&[u8]> = Vec::new();
        let mut block_ends: Vec<usize> = Vec::new();
        // The keys of a block of rows are looked up before the rows are written: the lookups
        // do not wait on each other, so their cache misses (zones come in no order, and
        // 100,000 keys outgrow the caches beside the index) overlap instead of each stalling
        // the writing of its row.
        for (block, rows) in rows.chunks(KEY_BLOCK).enumerate() {
            let first = from + block * KEY_BLOCK;
            block_keys.clear();
            block_ends.clear();
            for i in first..first + rows.len() {
                block_keys.extend(
                    answers
                        .get(i)
                        .filter(|c| (self.keep)(c.zone))
                        .map(|c| self.keys.get_bytes(c.zone)),
                );
                block_ends.push(block_keys.len());
            }
            let mut start = 0;
            for (p, &end) in rows.iter().zip(&block_ends) {
                buf.extend_from_slice(self.batch.row(p).as_bytes());
                buf.push(b',');
                let zones = buf.len();
                for (j, k) in block_keys[start..end].iter().enumerate() {
                    if j > 0 {
                        buf.push(b';');
                    }
                    buf.extend_from_slice(k);
                }
                start = end;
                // Feature ids are `[a-z0-9_-]`, so the joined keys are searched for what would
                // need quoting only when some key has it (a search per row was 3% of a
                // million-point batch).
                if self.quote_keys && buf[zones..].iter().any(|b| b",\"\n\r".contains(b)) {
                    let joined = buf.split_off(zones);
                    push_csv_field_bytes(buf, &joined);
                }
                buf.push(b'\n');
            }
        }
    }
}

/// Rows of a CSV answer whose zone keys are looked up together before they are written.
const KEY_BLOCK: usize = 256;

/// Answers `batch` and writes the answer to `out` a chunk of points at a time, so memory stays
/// bounded by the input however many zones cover each point. `progress` is told how many points
/// each chunk answered. An error is the writer's (a closed pipe, a client gone).
pub fn write_answers<W: Write>(
    index: &dyn BatchZones,
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
    index: &dyn BatchZones,
    batch: &Batch,
    at: Option<Date>,
    format: &AnswerFormat,
    out: W,
    mut progress: impl FnMut(usize),
    keep: &(dyn Fn(usize) -> bool + Sync),
) -> std::io::Result<()> {
    let keys = index.keys();
    let key = |zone: usize| keys.get(zone);
    match format {
        AnswerFormat::Csv => {
            let mut out = out;
            let mut head: Vec<u8> = Vec::new();
            if let Some(h) = &batch.header {
                let mut w = csv::Writer::from_writer(&mut head);
                w.write_record(h.iter().map(String::as_str).chain(["zones"]))?;
                w.flush()?;
            }
            out.write_all(&head)?;
            let rows = CsvRows {
                batch,
                keys,
                keep,
                quote_keys: keys.any_need_quoting(),
            };
            // A large chunk's rows are formatted in two halves, each on its own thread: the
            // last chunk is written while nothing else is left to do, and one thread writing
            // it kept a core idle.
            let mut bufs = [Vec::new(), Vec::new()];
            answer_chunks(index, &batch.points, at, |chunk, answers| {
                let [first, second] = &mut bufs;
                if chunk.len() >= PARALLEL_ROWS {
                    let mid = (chunk.len() / 2)
                        .next_multiple_of(KEY_BLOCK)
                        .min(chunk.len());
                    std::thread::scope(|s| {
                        let (rows, later_buf) = (&rows, &mut *second);
                        let later =
                            s.spawn(move || rows.format(later_buf, &chunk[mid..], mid, answers));
                        rows.format(first, &chunk[..mid], 0, answers);
                        later
                            .join()
                            .unwrap_or_else(|e| std::panic::resume_unwind(e));
                    });
                } else {
                    rows.format(first, chunk, 0, answers);
                }
                for buf in [first, second] {
                    // In pieces, so a writer that sends what it is given (the server's) sends
                    // pieces of this size.
                    for piece in buf.chunks(CSV_PIECE) {
                        out.write_all(piece)?;
                    }
                    buf.clear();
                }
                progress(chunk.len());
                Ok(())
            })?;
            out.flush()
        }
        AnswerFormat::Json { data_version } => {
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
            write!(out, "{{\"count\":{},\"results\":[", batch.points.len())?;
            let mut first = true;
            answer_chunks(index, &batch.points, at, |chunk, answers| {
                for (i, p) in chunk.iter().enumerate() {
                    let cover = answers.get(i);
                    if !first {
                        out.write_all(b",")?;
                    }
                    first = false;
                    let answer = PointAnswer {
                        index: p.line,
                        id: batch.id(p),
                        lon: p.lon,
                        lat: p.lat,
                        datetime: p.date.or(at).map(|d| d.to_string()),
                        covering: cover
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
                Ok(())
            })?;
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
    fn a_plain_batch_parsed_in_chunks_keeps_every_line_number() {
        // Over `PARALLEL_CSV_BYTES`, with comments, blank and bad lines on both sides of the
        // chunk cuts: the chunks' line numbers must be moved on exactly when merged.
        let mut text = String::from("# made for a test\nlon,lat,id\n");
        let (mut points, mut bad) = (Vec::new(), Vec::new());
        let mut line = 2;
        while text.len() < 3 * PARALLEL_CSV_BYTES {
            line += 1;
            match line % 997 {
                13 => text.push('\n'),
                101 => text.push_str("# a comment\n"),
                500 => {
                    text.push_str(&format!("x{line},32.5,bad{line}\n"));
                    bad.push(line);
                }
                _ => {
                    let (lon, lat) = (36.0 + (line % 1000) as f64 / 1000.0, 32.5);
                    text.push_str(&format!("{lon},{lat},p{line}\n"));
                    points.push((line, lon, lat, format!("p{line}")));
                }
            }
        }
        let limits = BatchLimits {
            max_points: usize::MAX,
            max_errors: usize::MAX,
        };
        let chunked = parse_csv(&text, limits).unwrap();
        assert!(points.len() > 100_000 && bad.len() > 100);
        let got: Vec<_> = chunked
            .points
            .iter()
            .map(|p| (p.line, p.lon, p.lat, chunked.id(p).unwrap_or("").to_owned()))
            .collect();
        assert!(got == points, "the points or their lines differ");
        let lines: Vec<usize> = chunked.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, bad);
        assert_eq!(chunked.error_count, bad.len());
        let p = &chunked.points[points.len() / 2];
        assert_eq!(chunked.row(p), format!("{},{},p{}", p.lon, p.lat, p.line));
        assert_eq!(parse_csv_owned(text.clone(), limits).unwrap(), chunked);
    }

    #[test]
    fn quoted_csv_counts_blank_lines_and_every_kind_of_line_end() {
        // Regression: the csv crate's line numbers leave out blank lines, so the quoted reader
        // named the wrong line after one (2 and 4 here, where the plain reader says 3 and 6).
        let plain = "lon,lat\n\n36.1,32.6\n\n\n36.2,32.6\n";
        let lines = |b: &Batch| b.points.iter().map(|p| p.line).collect::<Vec<_>>();
        assert_eq!(lines(&parse_csv(plain, BatchLimits::NONE).unwrap()), [3, 6]);
        let quoted = "lon,lat\n\n36.1,32.6\n\n\n\"36.2\",32.6\n";
        assert_eq!(
            lines(&parse_csv(quoted, BatchLimits::NONE).unwrap()),
            [3, 6]
        );
        let mixed = "lon,lat\r\n\r36.1,32.6\r\n\n\"36.2\",32.6\rx,1\n";
        let b = parse_csv(mixed, BatchLimits::NONE).unwrap();
        assert_eq!(lines(&b), [3, 5]);
        assert_eq!(b.errors[0].line, 6);
        // A quoted field over two lines: the record is named by its first line.
        let multi = "lon,lat,id\n36.1,32.6,\"a\nb\"\n\n36.2,32.6,c\n";
        assert_eq!(lines(&parse_csv(multi, BatchLimits::NONE).unwrap()), [2, 5]);
    }

    #[test]
    fn a_zone_key_with_a_comma_is_quoted_in_the_csv_answer() {
        // Ids are checked by `FeatureId::parse`, but one read with serde is not: the answer
        // must still be CSV that reads back.
        let mut data = geodata::Dataset::embedded();
        let index = ZoneIndex::new(std::sync::Arc::new(data.clone()));
        let b = parse_csv("lon,lat\n36.1,32.617\n", BatchLimits::NONE).unwrap();
        let answer = |index: &ZoneIndex| {
            let mut out = Vec::new();
            let day = geodata::parse_date("2018-02-15");
            write_answers(index, &b, day, &AnswerFormat::Csv, &mut out, |_| {}).unwrap();
            String::from_utf8(out).unwrap()
        };
        let plain = answer(&index);
        let row = plain.lines().nth(1).unwrap();
        assert!(
            !row.contains('"') && row.len() > "36.1,32.617,".len(),
            "{plain}"
        );
        let first = row["36.1,32.617,".len()..].split(';').next().unwrap();
        let zone = data
            .zones
            .iter()
            .position(|z| z.meta.id.as_str() == first)
            .unwrap();
        std::sync::Arc::make_mut(&mut data.zones[zone].meta).id =
            serde_json::from_str("\"odd,id\"").unwrap();
        let odd = answer(&ZoneIndex::new(std::sync::Arc::new(data)));
        let mut reader = csv::Reader::from_reader(odd.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        assert_eq!(record.len(), 3, "{odd}");
        assert!(record[2].split(';').any(|k| k == "odd,id"), "{odd}");
    }

    /// An index answering as the embedded one, in chunks of a large index's size.
    struct LargeChunks(ZoneIndex);

    impl BatchZones for LargeChunks {
        fn covering_batch(
            &self,
            points: &[(f64, f64)],
            at: Option<Date>,
        ) -> zone_index::CoveringBatch {
            self.0.covering_batch(points, at)
        }
        fn keys(&self) -> &zone_index::ZoneKeys {
            self.0.keys()
        }
        fn batch_chunk(&self) -> usize {
            zone_index::LARGE_INDEX_BATCH_CHUNK / 4
        }
    }

    #[test]
    fn large_chunks_formatted_on_two_threads_give_the_rows_in_order() {
        let index = ZoneIndex::new(std::sync::Arc::new(geodata::Dataset::embedded()));
        let mut text = String::from("lon,lat,id\n");
        let n = 2 * (zone_index::LARGE_INDEX_BATCH_CHUNK / 4) + 777;
        for i in 0..n {
            let (lon, lat) = (35.0 + (i % 97) as f64 * 0.05, 32.0 + (i % 89) as f64 * 0.05);
            text.push_str(&format!("{lon},{lat},p{i}\n"));
        }
        let b = parse_csv(&text, BatchLimits::NONE).unwrap();
        let day = geodata::parse_date("2018-02-15");
        let (mut small, mut large) = (Vec::new(), Vec::new());
        write_answers(&index, &b, day, &AnswerFormat::Csv, &mut small, |_| {}).unwrap();
        let large_index = LargeChunks(index);
        write_answers(
            &large_index,
            &b,
            day,
            &AnswerFormat::Csv,
            &mut large,
            |_| {},
        )
        .unwrap();
        assert!(large.len() > n * 10);
        assert!(small == large, "the same rows, in the same order");
    }

    #[test]
    fn answers_are_written_in_input_order_across_chunks() {
        let index = ZoneIndex::new(std::sync::Arc::new(geodata::Dataset::embedded()));
        // Daraa, then a point in the sea, repeated over several chunks (answered on another
        // thread, ahead of the writing).
        let mut text = String::from("lon,lat,id\n");
        for i in 0..(3 * zone_index::BATCH_CHUNK + 10) {
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
            v["results"][zone_index::BATCH_CHUNK + 2]["id"],
            format!("d{}", zone_index::BATCH_CHUNK + 2)
        );
        assert_eq!(v["error_count"], 0);
        assert_eq!(v["data_version"], "v1");
    }

    #[test]
    fn a_writer_that_fails_stops_the_answering_and_its_error_comes_back() {
        /// Takes `left` bytes, then fails: a client gone mid-answer.
        struct Gone {
            left: usize,
        }
        impl Write for Gone {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if self.left == 0 {
                    return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
                }
                let n = buf.len().min(self.left);
                self.left -= n;
                Ok(n)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let index = ZoneIndex::new(std::sync::Arc::new(geodata::Dataset::embedded()));
        let mut text = String::from("lon,lat\n");
        for _ in 0..(8 * zone_index::BATCH_CHUNK) {
            text.push_str("36.1,32.617\n");
        }
        let b = parse_csv(&text, BatchLimits::NONE).unwrap();
        for format in [
            AnswerFormat::Csv,
            AnswerFormat::Json {
                data_version: "v1".into(),
            },
        ] {
            let mut seen = 0;
            let failed = write_answers(&index, &b, None, &format, Gone { left: 100_000 }, |n| {
                seen += n
            })
            .unwrap_err();
            assert_eq!(failed.kind(), std::io::ErrorKind::BrokenPipe);
            // Stopped at the chunk the writer failed in, not after answering the rest.
            assert!(seen < b.points.len(), "{format:?}: {seen} points written");
        }
    }

    #[test]
    fn a_point_keeps_its_row_and_id_in_48_bytes() {
        assert!(std::mem::size_of::<BatchPoint>() <= 48);
        let b = parse_csv("lon,lat,id\n36.5, 33.5 ,p-1\n37,34,\n", LIMITS).unwrap();
        assert_eq!(b.row(&b.points[0]), "36.5, 33.5 ,p-1");
        assert_eq!(b.id(&b.points[0]), Some("p-1"));
        assert_eq!(b.id(&b.points[1]), None);
        let far = Span {
            start: 0,
            end: 1 << 33,
        };
        assert!(BatchPoint::new(1, (0.0, 0.0, None), far, None).is_err());
    }

    #[test]
    fn a_csv_with_a_header_names_its_columns() {
        let b = parse_csv("id,lat,lon,date\nd,32.617,36.1,2018-02-15\n", LIMITS).unwrap();
        assert_eq!(b.points.len(), 1);
        assert_eq!(b.points[0].lon, 36.1);
        assert_eq!(b.id(&b.points[0]), Some("d"));
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
        assert_eq!(b.id(&b.points[1]), Some("x1"));
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
        assert_eq!(b.id(&b.points[0]), Some("a"));
        assert_eq!(b.errors[0].line, 1);
    }
}
