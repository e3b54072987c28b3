//! The `zonetrack` command line: validate and export data, query zones, serve the map and
//! OGC API - Features.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use geodata::{Dataset, Date, GeodataError};

#[derive(Parser)]
#[command(
    name = "zonetrack",
    version,
    about = "Track where armed forces are present and who controls what, over time.",
    long_about = "Track where armed forces are present and who controls what, over time.\n\n\
        Every command works on the embedded Syria 2017-2018 data set unless given --data DIR \
        (a directory in the format of geodata/FORMAT.md).",
    after_help = "Examples:\n  zonetrack validate\n  zonetrack layers\n  zonetrack export --layer zones --at 2018-02-07 --out zones-2018-02-07.geojson"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a data directory and list every problem (file, feature, field, reason).
    ///
    /// Exits 0 when the data is clean, 1 when it has problems.
    #[command(after_help = "Examples:\n  zonetrack validate            # the embedded data set\n  zonetrack validate mydata/")]
    Validate {
        /// The data directory; the embedded data set when left out.
        dir: Option<PathBuf>,
    },
    /// List the layers with their geometry type and feature count.
    #[command(after_help = "Example:\n  zonetrack layers --data mydata/")]
    Layers {
        /// Data directory (default: the embedded data set).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Write one layer as an RFC 7946 GeoJSON file (integer ids, readable id in `key`).
    #[command(after_help = "Examples:\n  zonetrack export --layer zones --at 2018-02-07 --out zones.geojson\n  zonetrack export --layer golan_lines > golan_lines.geojson")]
    Export {
        /// Layer name: zones, locations, events, or a reference layer (see `zonetrack layers`).
        #[arg(long)]
        layer: String,
        /// Keep only what is valid on this day (YYYY-MM-DD).
        #[arg(long, value_name = "DATE", value_parser = parse_day)]
        at: Option<Date>,
        /// Output file; standard output when left out.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Data directory (default: the embedded data set).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
}

/// Parses a day for clap; the message is what the user sees after "invalid value".
fn parse_day(s: &str) -> Result<Date, String> {
    geodata::parse_date(s).ok_or_else(|| format!("{s:?} is not a date: write YYYY-MM-DD"))
}

/// Loads `--data DIR` or the embedded set; validation problems come back one a line.
fn load(data: Option<&Path>) -> Result<Dataset> {
    match data {
        None => Ok(Dataset::embedded()),
        Some(dir) => geodata::load_dir(dir).map_err(|e| match e {
            GeodataError::Invalid(problems) => {
                anyhow::anyhow!("{problems}\n{} problem(s) in {}", problems.0.len(), dir.display())
            }
            other => anyhow::Error::new(other),
        }),
    }
}

fn validate(dir: Option<&Path>) -> Result<ExitCode> {
    let (label, result) = match dir {
        None => ("the embedded data set".to_owned(), Dataset::try_embedded().map_err(GeodataError::Invalid)),
        Some(d) => (d.display().to_string(), geodata::load_dir(d)),
    };
    match result {
        Ok(data) => {
            println!(
                "{label}: ok ({} actors, {} zones of which {} from rules, {} locations, {} events, {} reference layers)",
                data.actors.len(),
                data.zones.len(),
                data.zones.iter().filter(|z| z.rule.is_some()).count(),
                data.locations.len(),
                data.events.len(),
                data.reference.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(GeodataError::Invalid(problems)) => {
            for p in &problems.0 {
                eprintln!("{p}");
            }
            eprintln!("{label}: {} problem(s)", problems.0.len());
            Ok(ExitCode::FAILURE)
        }
        Err(other) => Err(other.into()),
    }
}

fn layers(data: &Dataset) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{:<22} {:<16} {:>8}", "layer", "geometry", "features")?;
    for name in data.layer_names() {
        let count = data.export_features(&name).map_or(0, |f| f.len());
        let ty = data.layer_geometry_type(&name).unwrap_or("?");
        writeln!(out, "{name:<22} {ty:<16} {count:>8}")?;
    }
    Ok(())
}

fn export(data: &Dataset, layer: &str, at: Option<Date>, out: Option<&Path>) -> Result<()> {
    let Some(fc) = data.export_layer(layer, at) else {
        bail!(
            "no layer named {layer:?}; layers are: {}",
            data.layer_names().join(", ")
        );
    };
    let mut text = serde_json::to_string(&fc).context("serialising the layer")?;
    text.push('\n');
    match out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("writing to standard output")?,
    }
    Ok(())
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Validate { dir } => validate(dir.as_deref()),
        Command::Layers { data } => layers(&load(data.as_deref())?).map(|()| ExitCode::SUCCESS),
        Command::Export {
            layer,
            at,
            out,
            data,
        } => export(&load(data.as_deref())?, &layer, at, out.as_deref()).map(|()| ExitCode::SUCCESS),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("zonetrack: {e:#}");
            ExitCode::FAILURE
        }
    }
}
