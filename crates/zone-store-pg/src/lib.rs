//! zonetrack's PostgreSQL + PostGIS store: the shared store of several replicas.
//!
//! The data set lives in tables (one row per feature as the layer file has it, typed columns
//! and PostGIS geometries for SQL and QGIS, see `migrations/`), its history in `revisions` and
//! `revision_changes`. Each replica loads the tables once, validated by the one loader
//! ([`geodata::load_files`]), and keeps the index in memory; an edit is one transaction that
//! writes the revision and the changed rows, serialised across replicas by an advisory lock,
//! and `NOTIFY`s its number to the others, which read the revisions they miss and apply them
//! ([`PgStore::catch_up`], [`PgStore::follow`]) instead of loading everything again.
//!
//! The traits of the store seam are synchronous, so this uses the synchronous `postgres`
//! client; migrations are `refinery`'s, geometries go through geozero's PostGIS codec.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, GenericClient, NoTls};

use geodata::{
    Changes, Committed, Dataset, Edit, EditError, GeodataError, History, HistoryState, Revision,
    Store,
};

mod rows;

/// The schema's versioned migrations, `migrations/V<n>__<name>.sql`, compiled in.
mod schema {
    refinery::embed_migrations!("migrations");
}

/// The channel revisions are announced on; the payload is the revision number.
pub const CHANNEL: &str = "zonetrack_revisions";

/// The advisory lock every writer holds for its transaction: revisions are numbered in order.
const WRITE_LOCK: i64 = 0x7a6f_6e65_7472_6163; // "zonetrac"

/// How long a connection attempt may take before the store counts the database as out of reach.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Errors of the PostgreSQL store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// The database said no, or could not be reached.
    #[error("PostgreSQL: {0}")]
    Db(#[from] postgres::Error),
    /// The migrations failed.
    #[error("migrating the schema: {0}")]
    Migrate(#[from] refinery::Error),
    /// What the tables hold is not a data set zonetrack wrote.
    #[error("the database holds unexpected data: {0}")]
    Data(String),
    /// The tables are not there yet.
    #[error("the database has no zonetrack schema yet: run `zonetrack db migrate`")]
    NoSchema,
    /// The tables hold no data set yet.
    #[error("the database holds no data set yet: run `zonetrack db import [DIR]`")]
    Empty,
    /// An import into a database that already holds a data set.
    #[error(
        "the database already holds a data set ({0}); give --replace to replace it and its history"
    )]
    NotEmpty(String),
    /// The data set is not valid.
    #[error("the data set has {} problem(s)", .0.0.len())]
    Invalid(geodata::Problems),
}

impl PgError {
    /// Whether the database could not be reached (as opposed to refusing something).
    pub fn is_unreachable(&self) -> bool {
        match self {
            PgError::Db(e) => {
                e.is_closed()
                    || e.as_db_error().is_none_or(|d| {
                        // Connection exceptions, and the server shutting down or starting up.
                        let code = d.code().code();
                        code.starts_with("08") || code.starts_with("57P")
                    })
            }
            _ => false,
        }
    }
}

impl From<PgError> for GeodataError {
    fn from(e: PgError) -> GeodataError {
        match e {
            PgError::Invalid(p) => GeodataError::Invalid(p),
            other => GeodataError::Io(std::io::Error::other(other.to_string()), "postgres".into()),
        }
    }
}

impl From<PgError> for EditError {
    fn from(e: PgError) -> EditError {
        if e.is_unreachable() {
            return EditError::Unavailable(e.to_string());
        }
        match e {
            PgError::Invalid(p) => EditError::Invalid(p),
            other => EditError::Store(other.into()),
        }
    }
}

/// The store: a connection string, the data set as last loaded or committed, and whether the
/// database is within reach.
pub struct PgStore {
    config: postgres::Config,
    label: String,
    inner: Mutex<Inner>,
    /// Why the database is out of reach, when it is.
    down: Mutex<Option<String>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Inner {
    client: Option<Client>,
    state: Option<HistoryState>,
}

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl PgStore {
    /// A store on the database `url` (`postgres://user:password@host:port/db`); nothing is
    /// connected yet. Only plain connections (no TLS): run it beside the database or over a
    /// private network.
    pub fn new(url: &str) -> Result<PgStore, PgError> {
        let mut config: postgres::Config = url.parse()?;
        config.connect_timeout(CONNECT_TIMEOUT);
        if config.get_application_name().is_none() {
            config.application_name("zonetrack");
        }
        let host = config
            .get_hosts()
            .first()
            .map(|h| match h {
                postgres::config::Host::Tcp(h) => h.clone(),
                #[cfg(unix)]
                postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .unwrap_or_default();
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let db = config.get_dbname().unwrap_or("").to_owned();
        Ok(PgStore {
            label: format!("postgres {host}:{port}/{db}"),
            config,
            inner: Mutex::default(),
            down: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_down(&self, why: Option<String>) {
        let mut d = self.down.lock().unwrap_or_else(|p| p.into_inner());
        if d.is_none() != why.is_none() {
            match &why {
                Some(w) => {
                    tracing::warn!(reason = %w, "the database is out of reach; serving the last data loaded")
                }
                None => tracing::info!("the database is back"),
            }
        }
        *d = why;
    }

    /// A new connection.
    pub fn connect(&self) -> Result<Client, PgError> {
        Ok(self.config.connect(NoTls)?)
    }

    /// The writer's connection, made again when the last one broke.
    fn client<'a>(&self, inner: &'a mut Inner) -> Result<&'a mut Client, PgError> {
        if inner.client.as_ref().is_none_or(Client::is_closed) {
            inner.client = None;
            match self.connect() {
                Ok(c) => inner.client = Some(c),
                Err(e) => {
                    self.set_down(Some(e.to_string()));
                    return Err(e);
                }
            }
        }
        Ok(inner.client.as_mut().expect("connected above"))
    }

    /// Runs `f` on the writer's connection; a broken connection is dropped (and the database
    /// marked out of reach) so the next call connects again.
    fn with_client<T>(
        &self,
        inner: &mut Inner,
        f: impl FnOnce(&mut Client, &mut Option<HistoryState>) -> Result<T, PgError>,
    ) -> Result<T, PgError> {
        let Inner { client, state } = inner;
        let mut holder = Inner {
            client: client.take(),
            state: None,
        };
        let c = self.client(&mut holder)?;
        let out = f(c, state);
        match &out {
            Err(e) if e.is_unreachable() => {
                self.set_down(Some(e.to_string()));
            }
            _ => *client = holder.client,
        }
        out
    }

    /// Applies the versioned migrations (`migrations/` in this crate) the database lacks.
    /// Returns the names of those applied.
    pub fn migrate(&self) -> Result<Vec<String>, PgError> {
        let mut c = self.connect()?;
        let report = schema::migrations::runner().run(&mut c)?;
        Ok(report
            .applied_migrations()
            .iter()
            .map(|m| format!("V{}__{}", m.version(), m.name()))
            .collect())
    }

    /// Writes a data set and its history into the (migrated) database, in one transaction:
    /// refused when the database holds one already unless `replace`. `progress` is told of
    /// each feature written.
    pub fn import(
        &self,
        data: &Dataset,
        revisions: &[Arc<Revision>],
        source: &str,
        replace: bool,
        progress: impl FnMut(u64),
    ) -> Result<(), PgError> {
        let mut c = self.connect()?;
        let mut tx = c.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
        if let Some(row) = tx.query_opt("SELECT source FROM dataset", &[])? {
            if !replace {
                return Err(PgError::NotEmpty(row.get(0)));
            }
            // TRUNCATE: the append-only triggers guard revisions against UPDATE and DELETE.
            tx.batch_execute(
                "TRUNCATE dataset, revision_changes, revisions, events, locations, zones,
                          reference_features, reference_layers, actors",
            )?;
        }
        rows::insert_files(&mut tx, &data.source_files(), progress)?;
        for r in revisions {
            rows::write_revision(&mut tx, r)?;
        }
        tx.execute(
            "INSERT INTO dataset (imported_at, source) VALUES (now(), $1)",
            &[&source],
        )?;
        let latest = revisions.last().map_or(0, |r| r.number) as i64;
        tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &latest.to_string()])?;
        tx.commit()?;
        Ok(())
    }

    /// Reads everything in one consistent view: the data set and every revision.
    fn read_all(c: &mut impl GenericClient) -> Result<HistoryState, PgError> {
        let schema: Option<String> = c
            .query_one("SELECT to_regclass('public.revisions')::text", &[])?
            .get(0);
        if schema.is_none() {
            return Err(PgError::NoSchema);
        }
        if c.query_opt("SELECT 1 FROM dataset", &[])?.is_none() {
            return Err(PgError::Empty);
        }
        let files = rows::read_files(c)?;
        let data = geodata::load_files("", files).map_err(PgError::Invalid)?;
        let revisions: Vec<Arc<Revision>> = rows::read_revisions(c, 0)?
            .into_iter()
            .map(Arc::new)
            .collect();
        Ok(HistoryState {
            data: Arc::new(data),
            feature_revisions: Arc::new(geodata::last_changes(&revisions)),
            revisions,
        })
    }

    /// Brings `state` up to the revisions after it that `c` sees.
    fn advance(
        c: &mut impl GenericClient,
        state: &HistoryState,
    ) -> Result<Option<HistoryState>, PgError> {
        let new = rows::read_revisions(c, state.revision())?;
        if new.is_empty() {
            return Ok(None);
        }
        let changes: Vec<geodata::FeatureChange> =
            new.iter().flat_map(|r| r.changes.iter().cloned()).collect();
        let data = state
            .data
            .with_changes(&changes)
            .map_err(PgError::Invalid)?;
        let mut revisions = state.revisions.clone();
        let mut feature_revisions = (*state.feature_revisions).clone();
        for r in new {
            for c in &r.changes {
                feature_revisions.insert((c.layer.clone(), c.id.to_string()), r.number);
            }
            revisions.push(Arc::new(r));
        }
        let next = HistoryState {
            data: Arc::new(data),
            revisions,
            feature_revisions: Arc::new(feature_revisions),
        };
        Ok(Some(next))
    }

    /// Reads the revisions other replicas wrote since this store last looked and applies them
    /// to its data. Returns whether there were any. A failure to reach the database marks the
    /// store out of reach (see [`Store::unavailable`]).
    pub fn catch_up(&self) -> Result<bool, PgError> {
        let mut inner = self.lock();
        let out = self.with_client(&mut inner, |c, state| {
            let Some(current) = state.as_ref() else {
                *state = Some(Self::read_all(c)?);
                return Ok(true);
            };
            match Self::advance(c, current) {
                Ok(Some(next)) => {
                    tracing::info!(
                        from = current.revision(),
                        to = next.revision(),
                        "caught up with revisions written elsewhere"
                    );
                    *state = Some(next);
                    Ok(true)
                }
                Ok(None) => Ok(false),
                Err(PgError::Invalid(p)) => {
                    // The revisions do not apply to what this replica holds: read it all again.
                    tracing::warn!(problems = %p, "revisions did not apply; loading the whole data set again");
                    *state = Some(Self::read_all(c)?);
                    Ok(true)
                }
                Err(e) => Err(e),
            }
        });
        if out.is_ok() {
            self.set_down(None);
        }
        out
    }

    /// Follows the database from a thread of its own: `LISTEN`s for revisions, catches up
    /// ([`PgStore::catch_up`]) on each and calls `changed` when the data moved on. When the
    /// connection is lost it says so ([`Store::unavailable`]), connects again with backoff
    /// (0.1 s doubling to 5 s) and catches up with whatever it missed.
    pub fn follow(
        self: &Arc<Self>,
        changed: impl Fn() + Send + 'static,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let store = self.clone();
        std::thread::Builder::new()
            .name("zonetrack-listen".into())
            .spawn(move || store.listen_forever(&changed))
    }

    fn listen_forever(&self, changed: &dyn Fn()) {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.listen(changed) {
                Ok(()) => return,
                Err(e) => {
                    self.set_down(Some(e.to_string()));
                    tracing::debug!(error = %e, ?backoff, "listening for revisions failed; trying again");
                }
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(5));
            // A connection that worked resets the backoff (see `listen`).
            if self.unavailable().is_none() {
                backoff = Duration::from_millis(100);
            }
        }
    }

    /// One connection's worth of listening; returns when it breaks.
    fn listen(&self, changed: &dyn Fn()) -> Result<(), PgError> {
        let mut c = self.connect()?;
        c.batch_execute(&format!("LISTEN {CHANNEL}"))?;
        // Listening before catching up: a revision written in between is announced, not lost.
        self.catch_up()?;
        // Always: a commit that was refused may have caught the store up without the server
        // hearing of it; `changed` compares and does nothing when there is nothing new.
        changed();
        self.set_down(None);
        loop {
            let mut heard = false;
            {
                let mut n = c.notifications();
                if let Some(note) =
                    FallibleIterator::next(&mut n.timeout_iter(Duration::from_secs(1)))?
                {
                    tracing::debug!(revision = %note.payload(), "revision announced");
                    heard = true;
                }
                // Take every announcement already here: one catch-up covers them all.
                let mut rest = n.iter();
                while FallibleIterator::next(&mut rest)?.is_some() {}
            }
            if heard {
                self.catch_up()?;
                changed();
            } else {
                // Quiet: make sure the connection still works (a dead one would stay quiet).
                c.is_valid(Duration::from_secs(2))?;
                self.set_down(None);
            }
        }
    }
}

impl Store for PgStore {
    /// Reads the whole data set and its revisions, in one consistent view.
    fn load(&self) -> geodata::GeodataResult<Dataset> {
        let mut inner = self.lock();
        let state = self
            .with_client(&mut inner, |c, state| {
                let mut tx = c
                    .build_transaction()
                    .isolation_level(postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()?;
                let read = Self::read_all(&mut tx)?;
                tx.commit()?;
                *state = Some(read.clone());
                Ok(read)
            })
            .map_err(GeodataError::from)?;
        self.set_down(None);
        Ok(Dataset::clone(&state.data))
    }

    fn label(&self) -> String {
        self.label.clone()
    }

    fn changes(&self) -> Changes {
        Changes::Announced
    }

    fn history(&self) -> Option<&dyn History> {
        Some(self)
    }

    fn unavailable(&self) -> Option<String> {
        self.down.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl History for PgStore {
    /// One transaction: the advisory write lock, the revisions other replicas wrote since this
    /// one looked (applied first, so an edit never overwrites one it has not seen and `If-Match`
    /// sees the latest), the edits through [`geodata::apply_edits`], the revision and the rows
    /// it changed, and a `NOTIFY` delivered at commit.
    fn commit(&self, edits: Vec<Edit>, author: &str, msg: &str) -> Result<Committed, EditError> {
        let mut inner = self.lock();
        let out = self.with_client(&mut inner, |c, state| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
            let current = match state.as_ref() {
                None => Self::read_all(&mut tx)?,
                Some(s) => match Self::advance(&mut tx, s)? {
                    Some(next) => next,
                    None => s.clone(),
                },
            };
            let applied = geodata::apply_edits(&current, edits);
            let (data, changes) = match applied {
                Ok(Some(done)) => done,
                Ok(None) => {
                    tx.commit()?;
                    *state = Some(current.clone());
                    return Ok(Ok(Committed {
                        revision: None,
                        state: current,
                    }));
                }
                Err(e) => {
                    tx.commit()?;
                    *state = Some(current);
                    return Ok(Err(e));
                }
            };
            // The database's clock, to the millisecond, never before the last revision's:
            // replicas' clocks may differ, and `as_of=<time>` needs times in revision order.
            let time: chrono::DateTime<chrono::Utc> = tx
                .query_one(
                    "SELECT greatest(date_trunc('milliseconds', clock_timestamp()),
                                     (SELECT max(time) FROM revisions))",
                    &[],
                )?
                .get(0);
            let revision = Revision {
                number: current.revision() + 1,
                time,
                author: author.to_owned(),
                message: msg.to_owned(),
                changes,
            };
            rows::write_revision(&mut tx, &revision)?;
            rows::apply_revision(&mut tx, &revision)?;
            tx.execute(
                "SELECT pg_notify($1, $2)",
                &[&CHANNEL, &revision.number.to_string()],
            )?;
            tx.commit()?;
            let revision = Arc::new(revision);
            let next = current.followed_by(revision.clone(), data);
            *state = Some(next.clone());
            Ok(Ok(Committed {
                revision: Some(revision),
                state: next,
            }))
        });
        match out {
            Ok(result) => {
                self.set_down(None);
                result
            }
            Err(e) => Err(e.into()),
        }
    }

    fn state(&self) -> Option<HistoryState> {
        self.lock().state.clone()
    }

    /// Nothing to do: the tables are written with each revision.
    fn flush(&self) -> geodata::GeodataResult<bool> {
        Ok(false)
    }
}
