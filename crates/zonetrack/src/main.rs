//! The `zonetrack` command line: validate and export data, query zones, serve the map and
//! OGC API - Features.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use db::Source;
use geodata::{Dataset, Date, GeodataError, Store, ZoneKind};
use zone_formats::{Format, LayerExport};

mod areas;
mod db;
mod history;
mod query;

#[derive(Parser)]
#[command(
    name = "zonetrack",
    version,
    about = "Track where armed forces are present and who controls what, over time.",
    long_about = "Track where armed forces are present and who controls what, over time.\n\n\
        Every command works on the embedded Syria 2017-2018 data set unless given --data DIR \
        (a directory in the format of geodata/FORMAT.md) or --store postgres://... (a PostgreSQL \
        database, also from ZONETRACK_STORE or DATABASE_URL; see `zonetrack db`).\n\n\
        Commands that read a large data folder once (query, export, layers, timeline, changes, \
        areas) keep what they loaded in a cache (ZONETRACK_CACHE_DIR, else \
        $XDG_CACHE_HOME/zonetrack or ~/.cache/zonetrack): the next one on the same files, by \
        the same program, skips parsing and validating them; query, timeline, changes and \
        areas also keep the zones' index there and read it back instead of building it; a CSV \
        batch (query --csv) keeps the index with the zones' periods and ids, and the next CSV \
        batch on the same files answers from that alone, without loading the data set; serve \
        takes its first load and index from there too. An entry is used only for the exact \
        same file contents (an index, for the exact same geometry); after an edit, only the \
        zones whose text changed are read and checked again. `validate` always checks in full; \
        ZONETRACK_CACHE=off turns the cache off.",
    after_help = "Examples:\n  zonetrack validate\n  zonetrack layers\n  zonetrack export --layer zones --at 2018-02-07 --out zones-2018-02-07.geojson"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Data directory (default: the embedded data set).
    #[arg(long, value_name = "DIR", global = true)]
    data: Option<PathBuf>,
    /// A PostgreSQL database holding the data set (`postgres://user:password@host:5432/db`);
    /// read from ZONETRACK_STORE, then DATABASE_URL, when neither this nor --data is given.
    #[arg(long, value_name = "URL", global = true, conflicts_with = "data")]
    store: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the map, OGC API - Features (for QGIS and GDAL), the query API and exports.
    ///
    /// Binds 127.0.0.1:8080 unless told otherwise; GET /health answers 200 once ready.
    #[command(
        after_help = "Examples:\n  zonetrack serve\n  zonetrack serve --bind 0.0.0.0:8080 --public-url https://maps.example.org/zonetrack\n  zonetrack serve --data mydata/\n  zonetrack serve --data mydata/ --editors editors.txt --bind 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem"
    )]
    Serve {
        /// Address and port to listen on.
        #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
        bind: std::net::SocketAddr,
        /// The URL clients reach this server at, for absolute links behind a proxy.
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
        /// Origins allowed to read the API from a browser (repeatable); any origin by default,
        /// `none` for no CORS headers.
        #[arg(long = "cors-origin", value_name = "ORIGIN")]
        cors_origins: Vec<String>,
        /// Log as JSON lines instead of text.
        #[arg(long)]
        log_json: bool,
        /// Allow writes by the editors in this file (see `zonetrack editors add`); without it
        /// the server is read-only.
        #[arg(long, value_name = "FILE")]
        editors: Option<PathBuf>,
        /// Serve HTTPS with this PEM certificate chain (the server's certificate first); needs
        /// --tls-key.
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Manage who may write to a server started with `--editors FILE`.
    #[command(subcommand)]
    Editors(EditorsCommand),
    /// Keep the data set in PostgreSQL + PostGIS, shared by several servers: create the schema,
    /// import a data set, export it back to a folder.
    #[command(subcommand)]
    Db(DbCommand),
    /// Write the embedded data set as a data folder to edit (with `serve --data DIR`, QGIS or by
    /// hand).
    #[command(after_help = "Example:\n  zonetrack init mydata && zonetrack serve --data mydata")]
    Init {
        /// The folder to create (it must not exist, or be empty).
        dir: PathBuf,
    },
    /// List the revisions of a data folder, newest first: who changed what, when and why.
    #[command(
        after_help = "Examples:\n  zonetrack history --data mydata\n  zonetrack history --data mydata --layer zones --id golan_band_40km\n  zonetrack history --data mydata --json | jq '.[0]'"
    )]
    History {
        /// Only revisions that changed this layer.
        #[arg(long, value_name = "LAYER")]
        layer: Option<String>,
        /// Only revisions that changed this feature (readable id).
        #[arg(long, value_name = "ID")]
        id: Option<String>,
        /// At most this many revisions.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// JSON (one object per revision, changes with before and after) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// What changed between two revisions of a data folder, feature by feature (0 is the data
    /// as imported; B defaults to the latest).
    #[command(
        after_help = "Examples:\n  zonetrack diff 3 7 --data mydata\n  zonetrack diff 0 --data mydata --json"
    )]
    Diff {
        /// The earlier revision.
        from: u64,
        /// The later revision (the latest when left out).
        to: Option<u64>,
        /// JSON (changes with before and after) instead of a list.
        #[arg(long)]
        json: bool,
    },
    /// Undo a revision of a data folder, as a new revision (nothing is ever removed from the
    /// history). Refuses when a feature it changed has changed again since, unless --force.
    #[command(
        after_help = "Example:\n  zonetrack revert 12 --data mydata --message \"the front did not move after all\""
    )]
    Revert {
        /// The revision to undo.
        revision: u64,
        /// Why (the new revision's message).
        #[arg(long)]
        message: Option<String>,
        /// Who reverts (the new revision's author); the login name when left out.
        #[arg(long)]
        author: Option<String>,
        /// Undo it even where later revisions changed the same features (their changes to those
        /// features are undone too).
        #[arg(long)]
        force: bool,
    },
    /// Check a data directory and list every problem (file, feature, field, reason).
    ///
    /// Exits 0 when the data is clean, 1 when it has problems.
    #[command(
        after_help = "Examples:\n  zonetrack validate            # the embedded data set\n  zonetrack validate mydata/"
    )]
    Validate {
        /// The data directory; the embedded data set when left out.
        dir: Option<PathBuf>,
    },
    /// Which zones cover a point (or every point of a CSV or Parquet file) on a date, and the
    /// nearest others.
    ///
    /// One point: a table of the covering zones (actor, kind, period, confidence, on boundary)
    /// and the nearest zones that do not cover it, with geodesic distances. A CSV batch
    /// (`lon,lat[,date][,id]`, a header allowed) is answered as CSV: the input columns, then the
    /// covering zones' ids joined by `;`; bad lines are reported on stderr with their number.
    /// A Parquet batch (`--points FILE.parquet`: GeoParquet points in WKB or GeoArrow point
    /// encoding, or `lon`/`lat` columns; a `date` column gives each point its day) is answered
    /// as Parquet: every input column, then `zones` (a list of ids) and, with --nearest N,
    /// `nearest` (a list of {key, distance_km}); a row that cannot be read gets a null `zones`
    /// and is reported on stderr by its 0-based row number.
    #[command(
        after_help = "Examples:\n  zonetrack query --lon 36.1 --lat 32.617 --at 2018-02-15\n  zonetrack query --lon 40.3094 --lat 35.3361 --at 2018-02-07 --json\n  zonetrack query --csv points.csv --at 2018-02-07 > answers.csv\n  zonetrack query --points points.parquet --at 2018-02-07 --out answers.parquet\n  zonetrack query --points points.parquet --nearest 3 --out answers.parquet"
    )]
    Query {
        /// Longitude (WGS84).
        #[arg(long, allow_hyphen_values = true)]
        #[arg(required_unless_present_any = ["csv", "points"], requires = "lat")]
        lon: Option<f64>,
        /// Latitude (WGS84).
        #[arg(long, allow_hyphen_values = true)]
        #[arg(required_unless_present_any = ["csv", "points"], requires = "lon")]
        lat: Option<f64>,
        /// A CSV file of points (`-` for standard input) instead of --lon/--lat.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["lon", "lat", "json", "points"])]
        csv: Option<PathBuf>,
        /// A file of points, CSV or (Geo)Parquet (by its extension, `.parquet` or `.csv`, or by
        /// its content), instead of --lon/--lat.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["lon", "lat", "json"])]
        points: Option<PathBuf>,
        /// Only zones valid on this day (YYYY-MM-DD); every period when left out.
        #[arg(long, value_name = "DATE", value_parser = parse_day)]
        at: Option<Date>,
        /// How many nearest zones that do not cover the point to list (3 for one point; for a
        /// Parquet batch, none unless given).
        #[arg(long)]
        nearest: Option<usize>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Output file for a batch's answers; standard output when left out.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Print on stderr where a batch's time went (load, index, read, answer, write).
        #[arg(long)]
        timings: bool,
    },
    /// A point's history: the periods over which the set of zones covering it stays the same.
    #[command(after_help = "Example:\n  zonetrack timeline --lon 36.1 --lat 32.617")]
    Timeline {
        /// Longitude (WGS84).
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
        /// Latitude (WGS84).
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// What changed between two days: zones that began or ended, and area gained and lost per actor.
    #[command(after_help = "Example:\n  zonetrack changes --from 2018-02-15 --to 2018-08-15")]
    Changes {
        /// The earlier day (YYYY-MM-DD).
        #[arg(long, value_parser = parse_day)]
        from: Date,
        /// The later day (YYYY-MM-DD).
        #[arg(long, value_parser = parse_day)]
        to: Date,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Area per actor over time (first day of each month), as CSV and optionally an SVG chart.
    #[command(
        after_help = "Examples:\n  zonetrack areas --svg control-areas.svg > control-areas.csv\n  zonetrack areas --kind presence --from 2018-01-01 --to 2018-12-31"
    )]
    Areas {
        /// Which kind of zone to measure.
        #[arg(long, default_value = "control", value_parser = parse_kind)]
        kind: ZoneKind,
        /// First month (default: the data's first day).
        #[arg(long, value_parser = parse_day)]
        from: Option<Date>,
        /// Last day (default: the data's last day).
        #[arg(long, value_parser = parse_day)]
        to: Option<Date>,
        /// Also write a line chart here.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
    },
    /// List the layers with their geometry type and feature count.
    #[command(after_help = "Example:\n  zonetrack layers --data mydata/")]
    Layers,
    /// Write one layer as a file, in the format its name ends with: .geojson (RFC 7946, integer
    /// ids, readable id in `key`), .fgb (FlatGeobuf), .gpkg (GeoPackage), .csv (point layers),
    /// .qml (a QGIS style).
    ///
    /// The same writers as `GET /export/{layer}.{ext}`: EPSG:4326, the layer's one geometry
    /// type, the integer id (`fid` in FlatGeobuf and GeoPackage) and one column per property
    /// (arrays such as `sources` as JSON text; dates as dates in GeoPackage).
    #[command(
        after_help = "Examples:\n  zonetrack export --layer zones --at 2018-02-07 --out zones.geojson\n  zonetrack export --layer zones --at 2018-02-07 --out zones.gpkg\n  zonetrack export --layer zones --out zones.qml\n  zonetrack layers    # the layer names\n  zonetrack export --layer locations > locations.geojson"
    )]
    Export {
        /// Layer name: zones, locations, events, or a reference layer (see `zonetrack layers`).
        #[arg(long)]
        layer: String,
        /// Keep only what is valid on this day (YYYY-MM-DD).
        #[arg(long, value_name = "DATE", value_parser = parse_day)]
        at: Option<Date>,
        /// Output file; its extension names the format (.geojson or .json, .fgb, .gpkg, .csv,
        /// .qml). GeoJSON on standard output when left out.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DbCommand {
    /// Create or update the schema (versioned migrations; also applied by `db import`).
    #[command(
        after_help = "Examples:\n  zonetrack db migrate --store postgres://zonetrack@localhost/zonetrack\n  DATABASE_URL=postgres://zonetrack@db/zonetrack zonetrack db migrate"
    )]
    Migrate,
    /// Import a data folder (with its revision log, history/log.jsonl) or the embedded data
    /// set into the database, in one transaction.
    #[command(
        after_help = "Examples:\n  zonetrack db import --store postgres://zonetrack@localhost/zonetrack\n  zonetrack db import mydata --store postgres://zonetrack@localhost/zonetrack\n  zonetrack serve --store postgres://zonetrack@localhost/zonetrack --editors editors.txt"
    )]
    Import {
        /// The data folder; the embedded data set when left out.
        dir: Option<PathBuf>,
        /// Replace the data set and history the database holds.
        #[arg(long)]
        replace: bool,
    },
    /// Write the database's data set and revision log as a new data folder (which `zonetrack
    /// validate` and `serve --data` take, and `db import` takes back).
    #[command(
        after_help = "Example:\n  zonetrack db export backup-2018-02 --store postgres://zonetrack@localhost/zonetrack"
    )]
    Export {
        /// The folder to write (it must not exist, or be empty).
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum EditorsCommand {
    /// Add an editor with a new random token, and print the token.
    ///
    /// The token is printed once, as the last word on standard output; the file keeps only a
    /// hash of it. Give it to the editor: they send it as `Authorization: Bearer TOKEN`, or as
    /// the password of HTTP Basic with their name as user (QGIS). The file is created, readable
    /// by its owner only, when missing. To revoke a token, delete the editor's line.
    #[command(
        after_help = "Examples:\n  zonetrack editors add alice --file editors.txt\n  zonetrack serve --data mydata/ --editors editors.txt\n  TOKEN=$(zonetrack editors add bob --file editors.txt | awk '{print $NF}')"
    )]
    Add {
        /// The editor's name: 1 to 64 letters, digits, '_', '-' or '.'; it becomes the author
        /// of their revisions.
        name: String,
        /// The editors file.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
}

/// Parses a zone kind for clap.
fn parse_kind(s: &str) -> Result<ZoneKind, String> {
    ZoneKind::parse(s).ok_or_else(|| {
        let all: Vec<&str> = ZoneKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("{s:?} is not a zone kind; kinds are: {}", all.join(", "))
    })
}

/// Parses a day for clap; the message is what the user sees after "invalid value".
fn parse_day(s: &str) -> Result<Date, String> {
    geodata::parse_date(s).ok_or_else(|| format!("{s:?} is not a date: write YYYY-MM-DD"))
}

/// Loads `--data DIR`, `--store URL` or the embedded set for a command that reads it once;
/// validation problems come back one a line.
fn load(data: &Source) -> Result<Dataset> {
    data.store_once()?
        .load_once()
        .map_err(|e| problems(e, data))
}

/// Loads from `store`, which keeps its copy to serve edits and reloads from.
fn load_from(store: &dyn Store, data: &Source) -> Result<Dataset> {
    store.load().map_err(|e| problems(e, data))
}

/// Validation problems one a line, then how many and where.
fn problems(e: GeodataError, data: &Source) -> anyhow::Error {
    match e {
        GeodataError::Invalid(problems) => anyhow::anyhow!(
            "{problems}\n{} problem(s) in {}",
            problems.0.len(),
            data.describe()
        ),
        other => anyhow::Error::new(other),
    }
}

/// Leaves `value` to the end of the process, which a one-shot command reaches next: the system
/// takes the memory back at once, where freeing 100,000 zones one by one takes 50 ms.
fn keep_until_exit<T>(value: T) {
    std::mem::forget(value);
}

fn validate(data: &Source) -> Result<ExitCode> {
    let label = data.describe();
    let result = data.store(false)?.load_once();
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
            keep_until_exit(data);
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
    writeln!(
        out,
        "{:<22} {:<10} {:<16} {:>8}  title",
        "layer", "role", "geometry", "features"
    )?;
    for layer in data.catalog() {
        let count = data.export_features(&layer.id).map_or(0, |f| f.len());
        writeln!(
            out,
            "{:<22} {:<10} {:<16} {count:>8}  {}",
            layer.id,
            layer.role.as_str(),
            layer.geometry.geojson_type(),
            layer.title
        )?;
    }
    Ok(())
}

fn export(data: &Dataset, layer: &str, at: Option<Date>, out: Option<&Path>) -> Result<()> {
    let info = data.layer_info(layer).ok_or_else(|| {
        anyhow::anyhow!(
            "no layer named {layer:?}; layers are: {}",
            data.catalog()
                .iter()
                .map(|l| l.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    // The format is the file's extension; GeoJSON on standard output.
    let format = match out {
        None => Format::GeoJson,
        Some(path)
            if path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json")) =>
        {
            Format::GeoJson
        }
        Some(path) => Format::from_path(path).ok_or_else(|| {
            let known: Vec<String> = Format::ALL
                .iter()
                .map(|f| format!(".{}", f.extension()))
                .collect();
            anyhow::anyhow!(
                "cannot tell the format of {}: name the file with one of {}",
                path.display(),
                known.join(", ")
            )
        })?,
    };
    let features = data
        .export_features(layer)
        .context("the catalogue lists the layer")?;
    let selected: Vec<usize> = (0..features.len())
        .filter(|&i| at.is_none_or(|d| features[i].period.contains(d)))
        .collect();
    let bytes = format
        .write(&LayerExport {
            data,
            info: &info,
            features: &features,
            selected: Some(&selected),
            geojson: None,
        })
        .with_context(|| format!("writing {layer} as {}", format.title()))?;
    match out {
        Some(path) => std::fs::write(path, bytes)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout()
            .lock()
            .write_all(&bytes)
            .context("writing to standard output")?,
    }
    Ok(())
}

/// What `zonetrack serve` was asked for, beyond the data.
struct ServeArgs {
    bind: std::net::SocketAddr,
    public_url: Option<String>,
    cors_origins: Vec<String>,
    log_json: bool,
    editors: Option<PathBuf>,
    /// `--tls-cert` and `--tls-key` (clap gives both or neither).
    tls: Option<(PathBuf, PathBuf)>,
}

fn serve(args: ServeArgs, data: &Source) -> Result<()> {
    let ServeArgs {
        bind,
        public_url,
        cors_origins,
        log_json,
        editors,
        tls,
    } = args;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if log_json {
        builder.json().init();
    } else {
        builder.init();
    }
    if let Some(u) = &public_url
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        bail!("--public-url must start with http:// or https://, got {u:?}");
    }
    let cors = match cors_origins.as_slice() {
        [] => zone_server::Cors::Any,
        [one] if one == "none" => zone_server::Cors::Off,
        list => zone_server::Cors::Origins(list.to_vec()),
    };
    let editors = editors
        .map(|file| zone_server::Editors::load(&file).map(std::sync::Arc::new))
        .transpose()?;
    match &editors {
        None => tracing::info!("read-only: no --editors file"),
        Some(e) if e.is_empty() => {
            tracing::warn!("the editors file names nobody: every write will be refused");
        }
        Some(e) => tracing::info!(editors = e.len(), "writes allowed to the editors' tokens"),
    }
    let tls = tls
        .map(|(cert, key)| zone_server::serve::Tls::from_pem_files(&cert, &key))
        .transpose()?;
    if editors.is_some() && tls.is_none() && !bind.ip().is_loopback() {
        tracing::warn!(
            "tokens will cross the network in clear: serve behind a TLS proxy, or give --tls-cert and --tls-key"
        );
    }
    // The server names files relative to the folder: where it lives is not its clients' business.
    let pg = match data {
        Source::Postgres(url) => Some(std::sync::Arc::new(
            zone_store_pg::PgStore::new(url).context("reading the PostgreSQL URL")?,
        )),
        _ => None,
    };
    let store: std::sync::Arc<dyn Store> = match &pg {
        Some(pg) => {
            // The schema comes with the binary: a new replica brings an older database up to it.
            pg.migrate()
                .with_context(|| format!("migrating {}", pg.label()))?;
            pg.clone()
        }
        None => data.store(true)?,
    };
    let started = std::time::Instant::now();
    let dataset = load_from(&*store, data)?;
    tracing::info!(source = %store.label(), zones = dataset.zones.len(), seconds = started.elapsed().as_secs_f64(), "data loaded");
    // The snapshot shares the store's copy of the data, so the store can tell when a reload
    // finds nothing new.
    let snapshot = match store.history().and_then(|h| h.state()) {
        Some(h) => query::snapshot(h.data, data),
        None => query::snapshot(std::sync::Arc::new(dataset), data),
    };
    let status = zone_server::reload::LoadStatus::initial(&snapshot, &store.label());
    let state = zone_server::AppState::with_store(
        snapshot,
        zone_server::Config {
            public_url,
            cors,
            editors,
            ..Default::default()
        },
        store.clone(),
    );
    state.set_status(status);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    if let Some(pg) = &pg {
        // Each revision another replica writes is applied here within about a second; a lost
        // database is reported in /health and followed again when it is back.
        let state = state.clone();
        pg.follow(move || zone_server::reload::follow(&state))
            .context("starting the database listener")?;
    }
    runtime.block_on(async move {
        {
            let state = state.clone();
            tokio::spawn(async move {
                if let Err(e) = zone_server::reload::watch(state, store).await {
                    tracing::error!(%e, "cannot watch the data directory; edits will not be picked up");
                }
            });
        }
        let listener = zone_server::serve::listen(bind)
            .with_context(|| format!("cannot listen on {bind}"))?;
        let local = listener.local_addr().context("reading the bound address")?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!("serving on {scheme}://{local}");
        eprintln!("zonetrack: serving on {scheme}://{local} (Ctrl-C stops)");
        zone_server::serve::serve_with_tls(
            listener,
            zone_server::app(state.clone()),
            zone_server::serve::ConnLimits::default(),
            tls,
            shutdown_signal(),
        )
        .await
        .context("serving HTTP")?;
        // Every write is in the revision log already; bring the files up to date too.
        if let Some(h) = state.store.history() {
            h.flush().context("writing the data files at shutdown")?;
        }
        Ok(())
    })
}

/// Resolves on Ctrl-C or SIGTERM, so requests in flight finish before the process exits.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: closing idle connections, finishing requests in flight");
}

fn run(cli: Cli) -> Result<ExitCode> {
    let source = Source::resolve(cli.data, cli.store)?;
    let data = &source;
    match cli.command {
        Command::Query {
            lon,
            lat,
            csv,
            points,
            at,
            nearest,
            json,
            out,
            timings,
        } => {
            // A CSV batch (--csv, or --points with a file that is not Parquet).
            let csv = csv.or_else(|| {
                points
                    .clone()
                    .filter(|f| f == Path::new("-") || !query::is_parquet(f))
            });
            if let Some(file) = &csv
                && nearest.is_some()
            {
                bail!(
                    "--nearest is answered for one point and for Parquet batches (--points FILE.parquet), not for CSV ({})",
                    file.display()
                );
            }
            // The points do not depend on the data: they are read and parsed on another
            // thread while it loads and is indexed (on zones-100k, 0.2 s of a 2.3 s job).
            let (indexed, input) = std::thread::scope(|s| {
                let reading = csv.as_deref().map(|f| s.spawn(move || query::read_csv(f)));
                let started = std::time::Instant::now();
                // A CSV batch needs only the zones' index, periods and keys: when those were
                // kept for the folder's files as they are, the data set is not loaded at all.
                let settled = query::settled(data);
                let kept = match (&csv, settled) {
                    (Some(_), true) => query::kept_batch_index(data),
                    _ => None,
                };
                let indexed = match kept {
                    Some(kept) => Ok((
                        query::Indexed::Kept(kept),
                        query::Clock::kept(timings, started.elapsed()),
                    )),
                    None => load(data).map(|loaded| {
                        let load = started.elapsed();
                        let index = query::index(loaded, data);
                        let clock = query::Clock {
                            on: timings,
                            load,
                            index: started.elapsed() - load,
                            kept: false,
                        };
                        (query::Indexed::Whole { index, settled }, clock)
                    }),
                };
                let input = reading.map(|r| {
                    r.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("reading the points failed")))
                });
                (indexed, input)
            });
            let (indexed, clock) = indexed?;
            let answered = match (csv, input, points, lon, lat) {
                (Some(file), Some(input), _, _, _) => {
                    let answered =
                        query::batch(indexed.batches(), &file, input?, at, out.as_deref(), &clock);
                    // Kept after the answer is out, for the next batch on the same files.
                    if let query::Indexed::Whole {
                        index,
                        settled: true,
                    } = &indexed
                    {
                        query::keep_batch_index(data, index);
                    }
                    answered
                }
                (None, _, Some(file), _, _) => query::points(
                    indexed.whole().context("the data set was not loaded")?,
                    &file,
                    at,
                    nearest,
                    out.as_deref(),
                    &clock,
                ),
                (None, _, None, Some(lon), Some(lat)) => {
                    if out.is_some() {
                        bail!("--out is for batches (--csv or --points)");
                    }
                    query::point(
                        indexed.whole().context("the data set was not loaded")?,
                        lon,
                        lat,
                        at,
                        nearest.unwrap_or(3),
                        json,
                    )
                    .map(|()| ExitCode::SUCCESS)
                }
                _ => bail!("give --lon and --lat, or --csv FILE, or --points FILE"),
            };
            keep_until_exit(indexed);
            answered
        }
        Command::Areas {
            kind,
            from,
            to,
            svg,
        } => areas::run(
            &query::index(load(data)?, data),
            kind,
            from,
            to,
            svg.as_deref(),
        )
        .map(|()| ExitCode::SUCCESS),
        Command::Timeline { lon, lat, json } => {
            query::timeline(&query::index(load(data)?, data), lon, lat, json)
                .map(|()| ExitCode::SUCCESS)
        }
        Command::Changes { from, to, json } => {
            query::changes(&query::index(load(data)?, data), from, to, json)
                .map(|()| ExitCode::SUCCESS)
        }
        Command::Serve {
            bind,
            public_url,
            cors_origins,
            log_json,
            editors,
            tls_cert,
            tls_key,
        } => serve(
            ServeArgs {
                bind,
                public_url,
                cors_origins,
                log_json,
                editors,
                tls: tls_cert.zip(tls_key),
            },
            data,
        )
        .map(|()| ExitCode::SUCCESS),
        Command::Init { dir } => history::init(&dir),
        Command::History {
            layer,
            id,
            limit,
            json,
        } => history::list(data, layer.as_deref(), id.as_deref(), limit, json),
        Command::Db(DbCommand::Migrate) => db::migrate(data),
        Command::Db(DbCommand::Import { dir, replace }) => {
            db::import(data, dir.as_deref(), replace)
        }
        Command::Db(DbCommand::Export { dir }) => db::export(data, &dir),
        Command::Diff { from, to, json } => history::diff(data, from, to, json),
        Command::Revert {
            revision,
            message,
            author,
            force,
        } => history::revert(data, revision, message, author, force),
        Command::Editors(EditorsCommand::Add { name, file }) => {
            let token = zone_server::Editors::add(&file, &name)?;
            eprintln!(
                "zonetrack: keep this token now: it is not shown again ({} holds only its hash)",
                file.display()
            );
            // The token is the last word, so a script can take it with `awk '{print $NF}'`.
            println!("added editor {name} to {}; token: {token}", file.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { dir } => match dir {
            Some(dir) => validate(&Source::Dir(dir)),
            None => validate(data),
        },
        Command::Layers => layers(&load(data)?).map(|()| ExitCode::SUCCESS),
        Command::Export { layer, at, out } => {
            export(&load(data)?, &layer, at, out.as_deref()).map(|()| ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // A reader that stops early (`| head`) is not an error.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zonetrack: {e:#}");
            ExitCode::FAILURE
        }
    }
}
