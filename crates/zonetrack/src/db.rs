//! Where the data comes from (`--data DIR`, `--store URL` or the embedded set) and the `db`
//! commands: `zonetrack db migrate`, `db import [DIR]`, `db export DIR`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use geodata::{DirectoryStore, EmbeddedStore, GeodataError, History as _, Store};
use zone_store_pg::PgStore;

/// The environment variables a store URL is read from, in order, when no `--data` or
/// `--store` is given.
pub const STORE_VARS: [&str; 2] = ["ZONETRACK_STORE", "DATABASE_URL"];

/// Where the data comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The data set compiled in.
    Embedded,
    /// A data folder.
    Dir(PathBuf),
    /// A PostgreSQL database (`postgres://...`).
    Postgres(String),
}

impl Source {
    /// `--data DIR`, else `--store URL`, else `ZONETRACK_STORE`, else `DATABASE_URL`, else the
    /// embedded set.
    pub fn resolve(data: Option<PathBuf>, store: Option<String>) -> Result<Source> {
        if let Some(dir) = data {
            return Ok(Source::Dir(dir));
        }
        let (url, from) = match store {
            Some(url) => (url, "--store".to_owned()),
            None => match STORE_VARS
                .iter()
                .find_map(|v| Some((std::env::var(v).ok().filter(|u| !u.is_empty())?, *v)))
            {
                Some((url, var)) => (url, var.to_owned()),
                None => return Ok(Source::Embedded),
            },
        };
        if zone_store_pg::is_url(&url) {
            Ok(Source::Postgres(url))
        } else {
            bail!(
                "{from} must be a PostgreSQL URL (postgres://user:password@host:5432/db); for a data folder give --data DIR"
            )
        }
    }

    /// How the source is named in messages (never a password).
    pub fn describe(&self) -> String {
        match self {
            Source::Embedded => "the embedded data set".into(),
            Source::Dir(d) => d.display().to_string(),
            Source::Postgres(url) => PgStore::new(url)
                .map(|s| s.label())
                .unwrap_or_else(|_| "the database".into()),
        }
    }

    /// The store. `relative`: a data folder names its files relative to itself, and its first
    /// load goes through the user's load cache (for a server: a large folder starts from its
    /// entry, and the entry gives the server's reload memo).
    pub fn store(&self, relative: bool) -> Result<Arc<dyn Store>> {
        Ok(match self {
            Source::Embedded => Arc::new(EmbeddedStore),
            Source::Dir(dir) if relative => Arc::new(
                DirectoryStore::new(dir)
                    .with_relative_names()
                    .with_cache(self.load_cache().map(|(cache, _)| cache)),
            ),
            Source::Dir(dir) => Arc::new(DirectoryStore::new(dir)),
            Source::Postgres(url) => Arc::new(pg(url)?),
        })
    }

    /// The store of a command that reads the data once: a data folder loads through the user's
    /// load cache ([`Source::load_cache`]).
    pub fn store_once(&self) -> Result<Arc<dyn Store>> {
        match self {
            Source::Dir(dir) => Ok(Arc::new(
                DirectoryStore::new(dir).with_cache(self.load_cache().map(|(cache, _)| cache)),
            )),
            _ => self.store(false),
        }
    }

    /// The user's load cache (see `geodata::LoadCache::from_env`) and the folder it keeps, for
    /// a data folder; `None` for the other sources or with the cache off.
    pub fn load_cache(&self) -> Option<(geodata::LoadCache, &Path)> {
        match self {
            Source::Dir(dir) => Some((geodata::LoadCache::from_env()?, dir)),
            _ => None,
        }
    }
}

fn pg(url: &str) -> Result<PgStore> {
    PgStore::new(url).context("reading the PostgreSQL URL")
}

/// The database URL of a `db` command.
fn url_of(source: &Source) -> Result<&str> {
    match source {
        Source::Postgres(url) => Ok(url),
        _ => bail!(
            "name the database: --store postgres://user:password@host:5432/db, or set ZONETRACK_STORE or DATABASE_URL"
        ),
    }
}

/// `zonetrack db migrate`.
pub fn migrate(source: &Source) -> Result<ExitCode> {
    let store = pg(url_of(source)?)?;
    let applied = store
        .migrate()
        .with_context(|| format!("migrating {}", store.label()))?;
    if applied.is_empty() {
        println!("{}: the schema is up to date", store.label());
    } else {
        println!("{}: applied {}", store.label(), applied.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

/// `zonetrack db import [DIR]`: the folder (with its revision log) or the embedded set.
pub fn import(source: &Source, dir: Option<&Path>, replace: bool) -> Result<ExitCode> {
    let store = pg(url_of(source)?)?;
    let (data, revisions, from) = match dir {
        Some(dir) => {
            let folder = DirectoryStore::new(dir);
            let data = folder
                .load()
                .map_err(|e| problems(e, &dir.display().to_string()))?;
            let revisions = folder.state().map(|s| s.revisions).unwrap_or_default();
            (data, revisions, dir.display().to_string())
        }
        None => (
            EmbeddedStore
                .load()
                .map_err(|e| problems(e, "the embedded data set"))?,
            Vec::new(),
            "the embedded data set".to_owned(),
        ),
    };
    store
        .migrate()
        .with_context(|| format!("migrating {}", store.label()))?;
    let features = (data.zones.len()
        + data.locations.len()
        + data.events.len()
        + data
            .reference
            .iter()
            .map(|l| l.features.len())
            .sum::<usize>()) as u64;
    let bar = progress_bar(features);
    store
        .import(&data, &revisions, &from, replace, |n| bar.inc(n))
        .with_context(|| format!("importing into {}", store.label()))?;
    bar.finish_and_clear();
    println!(
        "imported {from} into {}: {} zones, {} locations, {} events, {} reference layers, {} revision(s)",
        store.label(),
        data.zones.len(),
        data.locations.len(),
        data.events.len(),
        data.reference.len(),
        revisions.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `zonetrack db export DIR`: a data folder with the revision log, which `zonetrack validate`
/// accepts and `db import` takes back.
pub fn export(source: &Source, dir: &Path) -> Result<ExitCode> {
    let store = pg(url_of(source)?)?;
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!(
            "{} is not empty: export writes a new data folder",
            dir.display()
        );
    }
    store.load().map_err(|e| problems(e, &store.label()))?;
    let state = store.state().context("the store keeps a history")?;
    state
        .data
        .write_dir(dir)
        .with_context(|| format!("writing {}", dir.display()))?;
    if !state.revisions.is_empty() {
        let history = dir.join("history");
        std::fs::create_dir_all(&history)
            .with_context(|| format!("creating {}", history.display()))?;
        let mut log = String::new();
        for r in &state.revisions {
            log.push_str(&r.to_json().to_string());
            log.push('\n');
        }
        std::fs::write(dir.join(geodata::LOG_FILE), log).context("writing the revision log")?;
        // The files hold every revision: nothing to replay.
        std::fs::write(
            dir.join(geodata::CHECKPOINT_FILE),
            serde_json::json!({"revision": state.revision()}).to_string(),
        )
        .context("writing the checkpoint")?;
    }
    println!(
        "exported {} to {}: {} zones, {} revision(s)",
        store.label(),
        dir.display(),
        state.data.zones.len(),
        state.revisions.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn problems(e: GeodataError, label: &str) -> anyhow::Error {
    match e {
        GeodataError::Invalid(p) => anyhow::anyhow!("{p}\n{} problem(s) in {label}", p.0.len()),
        other => anyhow::Error::new(other),
    }
}

/// A bar on a terminal; nothing in a pipe.
fn progress_bar(len: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal as _;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "importing {bar:40} {pos}/{len} features {per_sec}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
