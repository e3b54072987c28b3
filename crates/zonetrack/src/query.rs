//! `zonetrack query`, `timeline` and `changes`: the index's answers as tables a person reads,
//! JSON for scripts, and CSV for batches.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use geodata::{Dataset, Date, Zone};
use serde_json::json;
use zone_formats::batch;
use zone_index::{BatchIndex, BatchZones, ZoneIndex};

use crate::db::Source;

/// The zone index of `data`, loaded from `source`. For a data folder with the load cache on,
/// the polygon index is kept beside the folder's entry ([`geodata::LoadCache::write_side`]) and
/// read back by the next command on the same zones, rather than built again (on zones-100k a
/// quarter of a second on two cores).
pub fn index(data: Dataset, source: &Source) -> ZoneIndex {
    let data = Arc::new(data);
    match source.load_cache() {
        Some((cache, folder)) => ZoneIndex::new_stored(data, &KeptIndex { cache, folder }),
        None => ZoneIndex::new(data),
    }
}

/// A server's first snapshot of `data`, its zone index kept in the load cache as [`index`]
/// keeps it.
pub fn snapshot(data: Arc<Dataset>, source: &Source) -> zone_server::Snapshot {
    match source.load_cache() {
        Some((cache, folder)) => {
            zone_server::Snapshot::from_shared_stored(data, &KeptIndex { cache, folder })
        }
        None => zone_server::Snapshot::from_shared(data),
    }
}

/// The name of the side file that keeps a folder's [`BatchIndex`] in the load cache.
const BATCH_SIDE: &str = "batch";

/// What `zonetrack query` answers from: the whole zone index of a loaded data set, or only what
/// a CSV batch needs, kept for the folder's files as they are ([`kept_batch_index`]).
pub enum Indexed {
    /// The data set was loaded and indexed.
    Whole {
        /// Its index.
        index: ZoneIndex,
        /// Whether the folder's files held every revision of its log before they were loaded
        /// ([`settled`]): only then may what was derived from them be kept by their key.
        settled: bool,
    },
    /// The batch index kept for the folder's files; the data set was not loaded.
    Kept(BatchIndex),
}

impl Indexed {
    /// What batches are answered from.
    pub fn batches(&self) -> &dyn BatchZones {
        match self {
            Indexed::Whole { index, .. } => index,
            Indexed::Kept(kept) => kept,
        }
    }

    /// The whole index, when the data set was loaded.
    pub fn whole(&self) -> Option<&ZoneIndex> {
        match self {
            Indexed::Whole { index, .. } => Some(index),
            Indexed::Kept(_) => None,
        }
    }
}

/// Whether `source` is a data folder whose files hold every revision of its log
/// ([`geodata::files_hold_every_revision`]), with the load cache on: what a batch index kept by
/// the key of its files needs, to be kept or used.
pub fn settled(source: &Source) -> bool {
    source
        .load_cache()
        .is_some_and(|(_, folder)| geodata::files_hold_every_revision(folder))
}

/// The batch index kept for the data folder's files as they are now, if there is one (see
/// [`zone_index::BatchIndex`]): a CSV batch then needs nothing else of the data set, which is
/// not loaded. The files are still hashed (every byte, as a load from the cache does), so an
/// edit made any way at any time is never missed; the caller checks [`settled`] first.
pub fn kept_batch_index(source: &Source) -> Option<BatchIndex> {
    let (cache, folder) = source.load_cache()?;
    cache.read_side_of_files(folder, BATCH_SIDE, |mut side| {
        let len = side.len();
        BatchIndex::read_from(&mut side, len)
    })
}

/// Keeps what a CSV batch needs of `index`, which was just loaded from `source`'s folder
/// through the load cache, by the key of the files that load read ([`kept_batch_index`]
/// reads it back). Nothing for a small folder (not cached) or another source; a cache that
/// cannot be written only costs the next batch a load.
pub fn keep_batch_index(source: &Source, index: &ZoneIndex) {
    let Some((cache, folder)) = source.load_cache() else {
        return;
    };
    let Some(key) = cache.files_key(folder) else {
        return;
    };
    let _ = cache.write_side(folder, BATCH_SIDE, key, |out| {
        BatchIndex::write_from(index, out)
    });
}

/// A folder's polygon index in the load cache.
struct KeptIndex<'a> {
    cache: geodata::LoadCache,
    folder: &'a Path,
}

impl zone_index::IndexStore for KeptIndex<'_> {
    fn open(&self, key: u128) -> Option<(Box<dyn std::io::Read + '_>, u64)> {
        let side = self.cache.open_side(self.folder, "index", key)?;
        let len = side.len();
        Some((Box::new(side), len))
    }

    fn keep(&self, key: u128, index: &zone_index::PolygonIndex) {
        // A cache that cannot be written only costs the next command a build.
        let _ = self
            .cache
            .write_side(self.folder, "index", key, |out| index.write_to(out));
    }
}

fn period(z: &Zone) -> String {
    let d = |d: Option<Date>| d.map_or_else(|| "..".to_owned(), |d| d.to_string());
    format!("{} to {}", d(z.period.from()), d(z.period.to()))
}

/// Prints rows as aligned columns.
fn table(
    out: &mut impl std::io::Write,
    header: &[&str],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |out: &mut dyn std::io::Write, cells: &[String]| -> std::io::Result<()> {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(
        out,
        &header.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
    )?;
    for r in rows {
        line(out, r)?;
    }
    Ok(())
}

fn check_point(lon: f64, lat: f64) -> Result<()> {
    match zone_index::LonLat::new(lon, lat) {
        Ok(_) => Ok(()),
        Err(zone_index::ZoneIndexError::Latitude(v)) => {
            bail!("--lat {v} is not a latitude (-90..90)")
        }
        Err(_) => bail!("--lon {lon} is not a longitude (-180..180)"),
    }
}

/// One point: covering zones and the nearest others.
pub fn point(
    index: &ZoneIndex,
    lon: f64,
    lat: f64,
    at: Option<Date>,
    k: usize,
    as_json: bool,
) -> Result<()> {
    check_point(lon, lat)?;
    let data = index.dataset();
    let covering = index.covering(lon, lat, at);
    let nearest = index.nearest_outside(lon, lat, k, at);
    let mut out = std::io::stdout().lock();
    if as_json {
        let body = json!({
            "lon": lon, "lat": lat, "datetime": at.map(|d| d.to_string()),
            "covering": covering.iter().map(|c| {
                let z = &data.zones[c.zone];
                json!({"key": z.meta.id.as_str(), "name": z.meta.name, "actor": z.actor.as_str(), "kind": z.kind.as_str(),
                       "valid_from": z.period.from().map(|d| d.to_string()), "valid_to": z.period.to().map(|d| d.to_string()),
                       "confidence": z.meta.confidence.as_str(), "on_boundary": c.on_boundary,
                       "sources": z.meta.sources.iter().map(ToString::to_string).collect::<Vec<_>>()})
            }).collect::<Vec<_>>(),
            "nearest": nearest.iter().map(|n| {
                let z = &data.zones[n.zone];
                json!({"key": z.meta.id.as_str(), "actor": z.actor.as_str(), "kind": z.kind.as_str(),
                       "distance_km": (n.distance_km * 1000.0).round() / 1000.0,
                       "nearest_point": [n.boundary_point.0, n.boundary_point.1]})
            }).collect::<Vec<_>>(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&body)?)?;
        return Ok(());
    }
    let when = at.map_or_else(|| "any date".to_owned(), |d| d.to_string());
    writeln!(out, "Zones covering {lon}, {lat} on {when}:")?;
    if covering.is_empty() {
        writeln!(out, "  none")?;
    } else {
        let rows: Vec<Vec<String>> = covering
            .iter()
            .map(|c| {
                let z = &data.zones[c.zone];
                let actor = data
                    .actor(z.actor.as_str())
                    .map_or(z.actor.to_string(), |a| a.name.clone());
                vec![
                    z.meta.id.to_string(),
                    actor,
                    z.kind.as_str().to_owned(),
                    period(z),
                    z.meta.confidence.as_str().to_owned(),
                    if c.on_boundary { "yes" } else { "no" }.to_owned(),
                ]
            })
            .collect();
        table(
            &mut out,
            &[
                "zone",
                "actor",
                "kind",
                "period",
                "confidence",
                "on boundary",
            ],
            &rows,
        )?;
    }
    if !nearest.is_empty() {
        writeln!(out, "\nNearest zones not covering it:")?;
        let rows: Vec<Vec<String>> = nearest
            .iter()
            .map(|n| {
                let z = &data.zones[n.zone];
                vec![
                    z.meta.id.to_string(),
                    z.actor.to_string(),
                    z.kind.as_str().to_owned(),
                    format!("{:.1} km", n.distance_km),
                ]
            })
            .collect();
        table(&mut out, &["zone", "actor", "kind", "distance"], &rows)?;
    }
    writeln!(
        out,
        "\nGeometry is approximate: see each zone's sources and confidence (zonetrack export --layer zones)."
    )?;
    Ok(())
}

/// Where a batch's time went, printed on stderr with `--timings`.
pub struct Clock {
    /// Whether to print.
    pub on: bool,
    /// Loading and validating the data.
    pub load: std::time::Duration,
    /// Building the index.
    pub index: std::time::Duration,
    /// Whether `load` was reading a kept batch index (the data set was not loaded).
    pub kept: bool,
}

impl Clock {
    /// The clock of a batch answered from a kept batch index, read (files hashed) in `read`.
    pub fn kept(on: bool, read: std::time::Duration) -> Clock {
        Clock {
            on,
            load: read,
            index: std::time::Duration::ZERO,
            kept: true,
        }
    }

    fn report(&self, phases: &[(&str, std::time::Duration)]) {
        if !self.on {
            return;
        }
        let ms = |d: std::time::Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
        let mut parts = if self.kept {
            vec![format!("kept batch index {}", ms(self.load))]
        } else {
            vec![
                format!("load {}", ms(self.load)),
                format!("index {}", ms(self.index)),
            ]
        };
        parts.extend(phases.iter().map(|(name, d)| format!("{name} {}", ms(*d))));
        eprintln!("zonetrack: timings: {}", parts.join(", "));
    }
}

/// A progress bar on a terminal for a batch of `len` points; nothing in a pipe or for a small
/// batch.
fn progress_bar(len: usize) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() || len < 10_000 {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} points {per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}

/// Where a batch's answer goes: `--out FILE`, or standard output.
fn output(out_path: Option<&Path>) -> Result<Box<dyn std::io::Write + Send>> {
    Ok(match out_path {
        Some(p) => Box::new(
            std::fs::File::create(p).with_context(|| format!("cannot write {}", p.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    })
}

/// A CSV batch read and parsed, with how long each took.
pub struct CsvBatch {
    parsed: batch::Batch,
    read: std::time::Duration,
    parse: std::time::Duration,
}

/// Reads and parses a CSV batch (`-`: standard input). It does not depend on the data, so
/// `zonetrack query` runs it on another thread while the data loads.
pub fn read_csv(file: &Path) -> Result<CsvBatch> {
    let started = std::time::Instant::now();
    let mut text = String::new();
    if file == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
    } else {
        text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
    }
    let read = started.elapsed();
    let parsed = batch::parse_csv_owned(text, batch::BatchLimits::NONE)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    Ok(CsvBatch {
        parsed,
        read,
        parse: started.elapsed() - read,
    })
}

/// A CSV batch (read by [`read_csv`] from `file`): the input columns, then the covering zones'
/// ids joined by `;`.
pub fn batch(
    index: &dyn BatchZones,
    file: &Path,
    input: CsvBatch,
    at: Option<Date>,
    out_path: Option<&Path>,
    clock: &Clock,
) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let CsvBatch {
        parsed,
        read,
        parse,
    } = input;
    let progress = progress_bar(parsed.points.len());
    let out = output(out_path)?;
    // Answered and written a chunk at a time: memory stays that of the input.
    let written = batch::write_answers(
        index,
        &parsed,
        at,
        &batch::AnswerFormat::Csv,
        std::io::BufWriter::with_capacity(1 << 20, out),
        |n| {
            if let Some(bar) = &progress {
                bar.inc(n as u64);
            }
        },
    );
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    written.with_context(|| match out_path {
        Some(p) => format!("cannot write {}", p.display()),
        None => "writing to standard output".into(),
    })?;
    clock.report(&[
        ("read (while loading)", read),
        ("parse (while loading)", parse),
        ("answer and write", started.elapsed()),
    ]);
    for e in &parsed.errors {
        eprintln!("{}: line {}: {}", file.display(), e.line, e.message);
    }
    if parsed.errors.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{}: {} line(s) could not be read; the other {} were answered",
            file.display(),
            parsed.errors.len(),
            parsed.points.len()
        );
        Ok(ExitCode::from(1))
    }
}

/// Whether a file is Parquet: by its extension, else by its first bytes (`PAR1`).
pub fn is_parquet(file: &Path) -> bool {
    if let Some(ext) = file.extension().and_then(|e| e.to_str()) {
        if ext.eq_ignore_ascii_case("parquet") || ext.eq_ignore_ascii_case("geoparquet") {
            return true;
        }
        if ext.eq_ignore_ascii_case("csv") || ext.eq_ignore_ascii_case("txt") {
            return false;
        }
    }
    let mut magic = [0u8; 4];
    std::fs::File::open(file)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok_and(|()| &magic == b"PAR1")
}

/// `--points FILE.parquet`: a Parquet batch answered as Parquet (every input column, then
/// `zones` and, with `--nearest N`, `nearest`). A CSV batch goes to [`batch`].
pub fn points(
    index: &ZoneIndex,
    file: &Path,
    at: Option<Date>,
    nearest: Option<usize>,
    out_path: Option<&Path>,
    clock: &Clock,
) -> Result<ExitCode> {
    if out_path.is_none() && std::io::stdout().is_terminal() {
        bail!(
            "the answer to a Parquet batch is a Parquet file: give --out FILE.parquet, or pipe it"
        );
    }
    let open =
        || std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()));
    let rows = zone_formats::points_parquet::row_count(open()?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let progress = progress_bar(rows);
    let options = zone_formats::points_parquet::PointsOptions {
        at,
        nearest: nearest.unwrap_or(0),
        limits: batch::BatchLimits::NONE,
    };
    let started = std::time::Instant::now();
    let answered = zone_formats::points_parquet::answer_parquet(
        index,
        open()?,
        &options,
        std::io::BufWriter::with_capacity(1 << 20, output(out_path)?),
        |n| {
            if let Some(bar) = &progress {
                bar.inc(n as u64);
            }
        },
        &|_| true,
    );
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let answered = answered.map_err(|e| match e {
        zone_formats::points_parquet::PointsError::Refused(e) => {
            anyhow::anyhow!("{}: {e}", file.display())
        }
        other => anyhow::Error::new(other).context(match out_path {
            Some(p) => format!("cannot write {}", p.display()),
            None => "writing to standard output".into(),
        }),
    })?;
    // Past one record batch, reading and answering go on beside the writing: the three overlap.
    clock.report(&[
        ("read", answered.times.read),
        ("answer", answered.times.answer),
        ("write", answered.times.write),
        ("read to written", started.elapsed()),
    ]);
    for e in &answered.errors {
        eprintln!("{}: row {}: {}", file.display(), e.line, e.message);
    }
    if answered.error_count == 0 {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{}: {} row(s) could not be read (their zones are null); the other {} were answered",
            file.display(),
            answered.error_count,
            answered.rows - answered.error_count
        );
        Ok(ExitCode::from(1))
    }
}

/// A point's timeline.
pub fn timeline(index: &ZoneIndex, lon: f64, lat: f64, as_json: bool) -> Result<()> {
    check_point(lon, lat)?;
    let data = index.dataset();
    let spans = index.timeline(lon, lat);
    let d = |d: Option<Date>| d.map_or_else(|| "..".to_owned(), |d| d.to_string());
    let mut out = std::io::stdout().lock();
    if as_json {
        let body = json!({"lon": lon, "lat": lat, "spans": spans.iter().map(|s| json!({
            "from": s.period.from().map(|d| d.to_string()), "to": s.period.to().map(|d| d.to_string()),
            "zones": s.zones.iter().map(|&z| data.zones[z].meta.id.as_str()).collect::<Vec<_>>()})).collect::<Vec<_>>()});
        writeln!(out, "{}", serde_json::to_string_pretty(&body)?)?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = spans
        .iter()
        .map(|s| {
            let zones: Vec<&str> = s
                .zones
                .iter()
                .map(|&z| data.zones[z].meta.id.as_str())
                .collect();
            vec![
                d(s.period.from()),
                d(s.period.to()),
                if zones.is_empty() {
                    "(no zone)".to_owned()
                } else {
                    zones.join(", ")
                },
            ]
        })
        .collect();
    table(&mut out, &["from", "to", "zones"], &rows)?;
    Ok(())
}

/// Changes between two days.
pub fn changes(index: &ZoneIndex, from: Date, to: Date, as_json: bool) -> Result<()> {
    let data = index.dataset();
    let c = index.changes(from, to);
    let key = |z: usize| data.zones[z].meta.id.as_str();
    let mut out = std::io::stdout().lock();
    if as_json {
        let body = json!({
            "from": c.from.to_string(), "to": c.to.to_string(),
            "began": c.began.iter().map(|&z| key(z)).collect::<Vec<_>>(),
            "ended": c.ended.iter().map(|&z| key(z)).collect::<Vec<_>>(),
            "changed": c.changed.iter().map(|&(a, b)| json!({"ended": key(a), "began": key(b)})).collect::<Vec<_>>(),
            "areas": c.areas.iter().map(|a| json!({"actor": a.actor.as_str(), "kind": a.kind.as_str(),
                "from_km2": a.from_km2.round(), "to_km2": a.to_km2.round(), "gained_km2": a.gained_km2.round(), "lost_km2": a.lost_km2.round()})).collect::<Vec<_>>(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&body)?)?;
        return Ok(());
    }
    writeln!(out, "From {} to {}:", c.from, c.to)?;
    let list =
        |out: &mut dyn std::io::Write, title: &str, zones: &[usize]| -> std::io::Result<()> {
            writeln!(out, "\n{title} ({}):", zones.len())?;
            for &z in zones {
                writeln!(
                    out,
                    "  {} ({}, {})",
                    key(z),
                    data.zones[z].actor,
                    period(&data.zones[z])
                )?;
            }
            Ok(())
        };
    list(&mut out, "Began", &c.began)?;
    list(&mut out, "Ended", &c.ended)?;
    writeln!(
        out,
        "\nArea by actor and kind (geodesic km², overlapping zones counted once):"
    )?;
    let rows: Vec<Vec<String>> = c
        .areas
        .iter()
        .map(|a| {
            vec![
                a.actor.to_string(),
                a.kind.as_str().to_owned(),
                format!("{:.0}", a.from_km2),
                format!("{:.0}", a.to_km2),
                format!("+{:.0}", a.gained_km2),
                format!("-{:.0}", a.lost_km2),
            ]
        })
        .collect();
    table(
        &mut out,
        &["actor", "kind", "from km²", "to km²", "gained", "lost"],
        &rows,
    )?;
    Ok(())
}
