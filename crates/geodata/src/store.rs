//! The store seam: where a data set lives and how its changes become known. Everything that
//! serves or queries data gets it through a [`Store`], never from a path, so another kind of
//! store is one more implementation:
//!
//! - [`EmbeddedStore`]: the data set compiled into the binary; never changes.
//! - [`DirectoryStore`]: a data folder (`geodata/FORMAT.md`); changes when its files do, which
//!   the server learns by watching the folder ([`Changes::Folder`]).
//!
//! A store that takes edits also has a [`History`]: it applies an edit as one [`Revision`],
//! durable before [`History::commit`] returns, keeps every revision, and answers what the data
//! said at any of them. The directory store keeps its revisions in `history/log.jsonl` in the
//! folder; a PostgreSQL store would keep them in a table and announce them over
//! `LISTEN`/`NOTIFY`. What every store shares is [`Store::load`]: the whole data set, validated
//! by the one loader, so every store means the same data by the same files.

use std::collections::{BTreeSet, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use serde_json::{Value, json};

use crate::history::{EDITABLE_LAYERS, FeatureChange, Revision, last_changes};
use crate::{Dataset, FeatureId, GeodataError, GeodataResult, Problems};

/// How a store's changes become known to whoever serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Changes {
    /// Never: the data is fixed for the life of the process.
    Never,
    /// When files in this folder change (or the folder itself is replaced): load again.
    Folder(PathBuf),
    /// The store announces its new revisions itself (a database's `NOTIFY`): whoever serves it
    /// follows them with [`History::state`] after the store says so, not by loading again.
    Announced,
}

/// Where a data set comes from.
pub trait Store: Send + Sync {
    /// What the store holds now: the whole data set, validated. Problems name files as the
    /// store shows them ([`Store::label`] never holds a path the server should not show).
    fn load(&self) -> GeodataResult<Dataset>;

    /// What [`Store::load`] gives, for a command that reads the data once and exits: the store
    /// keeps no copy of it to serve later edits and reloads from (on 100,000 zones, copying it,
    /// memoising it and freeing the copy cost a tenth of a `zonetrack query`).
    fn load_once(&self) -> GeodataResult<Dataset> {
        self.load()
    }

    /// How the store is named to clients (`/health`): no file system paths.
    fn label(&self) -> String;

    /// How its changes become known.
    fn changes(&self) -> Changes;

    /// Its history, when it takes edits; `None` for a read-only store.
    fn history(&self) -> Option<&dyn History> {
        None
    }

    /// Why the store cannot take edits or announce changes right now (its database is out of
    /// reach, say), while what was loaded can still be served; `None` when it can.
    fn unavailable(&self) -> Option<String> {
        None
    }
}

/// A store that takes edits: each is a revision, kept for good.
pub trait History: Send + Sync {
    /// Applies the edits, in order, as one revision by `author`, and returns the new state. The
    /// revision is durable when this returns; edits that change nothing write no revision.
    /// Edits are serialised: the state each one sees is the one the previous one left.
    fn commit(&self, edits: Vec<Edit>, author: &str, message: &str)
    -> Result<Committed, EditError>;

    /// The state after the last [`Store::load`] or commit; `None` before the first load.
    fn state(&self) -> Option<HistoryState>;

    /// Brings the store's files (if it has any besides its log) up to its latest revision.
    /// Returns whether it wrote anything.
    fn flush(&self) -> GeodataResult<bool>;
}

/// A data set with its history.
#[derive(Debug, Clone)]
pub struct HistoryState {
    /// The data at the latest revision.
    pub data: Arc<Dataset>,
    /// Every revision, oldest first.
    pub revisions: Vec<Arc<Revision>>,
    /// For each feature (`layer`, `id`), the last revision that changed it (absent: none did).
    pub feature_revisions: Arc<HashMap<(String, String), u64>>,
}

impl HistoryState {
    /// The number of the latest revision (0 when there has been none).
    pub fn revision(&self) -> u64 {
        self.revisions.last().map_or(0, |r| r.number)
    }

    /// The state after `revision`, which turned this state's data into `data`.
    pub fn followed_by(&self, revision: Arc<Revision>, data: Dataset) -> HistoryState {
        let mut feature_revisions = (*self.feature_revisions).clone();
        for c in &revision.changes {
            feature_revisions.insert((c.layer.clone(), c.id.to_string()), revision.number);
        }
        let mut revisions = self.revisions.clone();
        revisions.push(revision);
        HistoryState {
            data: Arc::new(data),
            revisions,
            feature_revisions: Arc::new(feature_revisions),
        }
    }

    /// The last revision that changed a feature (0: none since the import).
    pub fn feature_revision(&self, layer: &str, id: &str) -> u64 {
        self.feature_revisions
            .get(&(layer.to_owned(), id.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

/// What a commit did.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The new revision; `None` when the edits changed nothing.
    pub revision: Option<Arc<Revision>>,
    /// The state after it.
    pub state: HistoryState,
}

/// Makes a feature's new source form from its current one (`None`: it does not exist yet);
/// returns `None` to delete it.
pub type MakeFeature = Box<dyn FnOnce(Option<&Value>) -> Result<Option<Value>, EditError> + Send>;

/// One feature's edit, applied under the store's lock to the feature as it is then.
pub struct Edit {
    /// The layer (`zones`, `locations`, `events`).
    pub layer: String,
    /// The feature to change; `None` to create one, with the id its new form gives (a string
    /// `id`), or else one made from its name.
    pub id: Option<FeatureId>,
    /// The revision of the feature the editor last saw (`If-Match`); `None` not to check.
    pub if_match: Option<u64>,
    /// The new form.
    pub make: MakeFeature,
}

impl std::fmt::Debug for Edit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edit")
            .field("layer", &self.layer)
            .field("id", &self.id)
            .field("if_match", &self.if_match)
            .finish_non_exhaustive()
    }
}

/// Why an edit was not applied. Nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// The store does not take edits.
    #[error("this data set is read-only")]
    ReadOnly,
    /// The layer is not edited feature by feature.
    #[error("the layer {0:?} cannot be edited feature by feature")]
    NotEditable(String),
    /// No such feature.
    #[error("no feature {id:?} in {layer}")]
    NotFound {
        /// The layer.
        layer: String,
        /// The id asked for.
        id: String,
    },
    /// A create named an id that is taken.
    #[error("{layer} already has a feature {id:?}")]
    Exists {
        /// The layer.
        layer: String,
        /// The id.
        id: String,
    },
    /// The feature changed since the revision the editor saw.
    #[error(
        "{layer}/{id} was changed by revision {current} since revision {seen}, which this edit was based on"
    )]
    Stale {
        /// The layer.
        layer: String,
        /// The feature.
        id: String,
        /// The revision the editor saw.
        seen: u64,
        /// The feature's current revision.
        current: u64,
    },
    /// The request itself is not a feature edit (not an object, a patch of the wrong shape ...).
    #[error("{0}")]
    Malformed(String),
    /// The data would not be valid: every problem, as `zonetrack validate` names them.
    #[error("the edit would leave {} problem(s) in the data", .0.0.len())]
    Invalid(Problems),
    /// Reading or writing the store failed; the edit is not applied.
    #[error(transparent)]
    Store(#[from] GeodataError),
    /// The store cannot be reached now (its database is down); the edit is not applied and may
    /// be sent again.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
}

/// The embedded default data set.
///
/// ```
/// use geodata::{Store, EmbeddedStore};
/// let data = EmbeddedStore.load().unwrap();
/// assert!(!data.zones.is_empty());
/// assert_eq!(EmbeddedStore.changes(), geodata::Changes::Never);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbeddedStore;

impl Store for EmbeddedStore {
    fn load(&self) -> GeodataResult<Dataset> {
        Dataset::try_embedded().map_err(GeodataError::Invalid)
    }

    fn label(&self) -> String {
        "embedded".into()
    }

    fn changes(&self) -> Changes {
        Changes::Never
    }
}

/// A data folder.
///
/// ```
/// use geodata::{Store, DirectoryStore};
/// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/good-minimal");
/// let store = DirectoryStore::new(&dir);
/// assert_eq!(store.load().unwrap().zones.len(), 2);
/// assert_eq!(store.label(), "directory good-minimal");
/// ```
#[derive(Debug, Clone)]
pub struct DirectoryStore {
    dir: PathBuf,
    shown: String,
    /// What the store knows of the folder between calls: one writer at a time.
    writer: Arc<Mutex<Writer>>,
    /// Held by the one flush writing the files (outside `writer`, see [`Store::flush`]).
    flushing: Arc<Mutex<()>>,
    /// Where [`Store::load_once`] keeps and finds the loaded data set, when anywhere.
    cache: Option<crate::LoadCache>,
    /// Tests only: what happens between a flush's writing its files and putting them in place,
    /// to stage another writer acting meanwhile.
    #[cfg(test)]
    in_flush: Arc<Mutex<Option<Meanwhile>>>,
}

/// What a test does while a flush is under way (see `DirectoryStore::in_flush`).
#[cfg(test)]
type Meanwhile = fn(&DirectoryStore);

/// The folder as the store last read or wrote it.
#[derive(Debug, Default)]
struct Writer {
    state: Option<HistoryState>,
    /// The revision the layer files hold (the log may be ahead: it is written first).
    flushed: u64,
    /// Layers changed by revisions the files do not hold yet.
    dirty: BTreeSet<String>,
    /// Size and modification time of each data file as the store last saw it: a difference
    /// means someone else changed the folder.
    stamps: Vec<(PathBuf, Option<(u64, SystemTime)>)>,
    /// The log's length as the store last saw it: longer means another process wrote a
    /// revision (`zonetrack revert` beside a running server).
    log_len: u64,
    /// What the last load of the files found valid: the next load reads again only the zones
    /// whose text changed (a hand edit of one zone in a large folder is served at once).
    memo: Option<crate::LoadMemo>,
}

/// Where the revision log lives in a data folder.
pub const LOG_FILE: &str = "history/log.jsonl";
/// Which revision the layer files hold.
pub const CHECKPOINT_FILE: &str = "history/checkpoint.json";

/// Whether the layer files of the data folder `dir` hold every revision of its log, as far as
/// its log and checkpoint tell without loading anything: there is no log, or the last complete
/// revision in it is at most the checkpoint's. A load would apply the revisions they lack (a
/// process stopped between writing the log and the files); a reader that takes the files as
/// they are, such as a batch index kept by the key of their bytes, must not use them then.
/// `false` when the log or the checkpoint cannot be read: the load will say why.
pub fn files_hold_every_revision(dir: &Path) -> bool {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut log = match std::fs::File::open(dir.join(LOG_FILE)) {
        Ok(f) => f,
        Err(e) => return e.kind() == std::io::ErrorKind::NotFound,
    };
    let Ok(len) = log.metadata().map(|m| m.len()) else {
        return false;
    };
    // The last complete line, from a tail that grows until it holds one whole: a log holds
    // every edit ever made, and one revision is a line.
    let mut tail_len = 64 * 1024u64;
    let last = loop {
        let from = len.saturating_sub(tail_len);
        let mut tail = Vec::new();
        if log.seek(SeekFrom::Start(from)).is_err() || log.read_to_end(&mut tail).is_err() {
            return false;
        }
        let complete = tail.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let body = &tail[..complete];
        let trimmed = body.trim_ascii_end();
        match trimmed.iter().rposition(|&b| b == b'\n') {
            Some(i) => break trimmed[i + 1..].to_vec(),
            None if from == 0 => break trimmed.to_vec(),
            None => tail_len = tail_len.saturating_mul(4),
        }
    };
    if last.trim_ascii().is_empty() {
        return true;
    }
    let Some(number) = serde_json::from_slice::<Value>(&last)
        .ok()
        .and_then(|v| v["revision"].as_u64())
    else {
        return false;
    };
    let checkpoint = match std::fs::read(dir.join(CHECKPOINT_FILE)) {
        Ok(t) => serde_json::from_slice::<Value>(&t)
            .ok()
            .and_then(|v| v["revision"].as_u64()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(0),
        Err(_) => None,
    };
    checkpoint.is_some_and(|c| number <= c)
}
/// Held (an advisory lock) by the one process writing to the folder at a time.
pub const LOCK_FILE: &str = "history/lock";
/// Who a revision recording edits made to the files themselves is by.
pub const FILES_AUTHOR: &str = "files";

impl DirectoryStore {
    /// The folder `dir`; problems name files as `DIR/zones.geojson`, with `DIR` as given (what a
    /// person at a terminal wants).
    pub fn new(dir: &Path) -> DirectoryStore {
        DirectoryStore {
            dir: dir.to_path_buf(),
            shown: dir.display().to_string(),
            writer: Arc::default(),
            flushing: Arc::default(),
            cache: None,
            #[cfg(test)]
            in_flush: Arc::default(),
        }
    }

    /// Keeps what [`Store::load_once`] loads in `cache`, and takes it from there when the
    /// files are the same (see [`LoadCache`](crate::LoadCache)). [`Store::load`], which a
    /// server uses, does so for its first load (taking the keys of its reload memo from the
    /// entry); later loads use the memo it keeps.
    pub fn with_cache(mut self, cache: Option<crate::LoadCache>) -> DirectoryStore {
        self.cache = cache;
        self
    }

    /// Names files relative to the folder (`zones.geojson`): what a server shows its clients.
    pub fn with_relative_names(mut self) -> DirectoryStore {
        self.shown.clear();
        self
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Store for DirectoryStore {
    /// Reads the folder and its revision log. Revisions the files do not hold yet (the process
    /// stopped between writing the log and the files) are applied and the files rewritten; a
    /// final log line cut short (never acknowledged) is dropped. While the store runs, changes
    /// made to the files by someone else become a revision by [`FILES_AUTHOR`].
    fn load(&self) -> GeodataResult<Dataset> {
        let mut w = self.lock();
        let _folder = self.lock_folder()?;
        self.load_kept(&mut w, true)?;
        Ok((*w.state.as_ref().expect("a load leaves a state").data).clone())
    }

    fn load_once(&self) -> GeodataResult<Dataset> {
        let mut w = self.lock();
        let _folder = self.lock_folder()?;
        self.load_kept(&mut w, false)?;
        // The revisions the files lacked are written now: what was loaded can be given away.
        let state = w.state.take().expect("a load leaves a state");
        Ok(Arc::try_unwrap(state.data).unwrap_or_else(|shared| (*shared).clone()))
    }

    fn label(&self) -> String {
        let name = self
            .dir
            .file_name()
            .map_or_else(|| ".".into(), |n| n.to_string_lossy().into_owned());
        format!("directory {name}")
    }

    fn changes(&self) -> Changes {
        Changes::Folder(self.dir.clone())
    }

    fn history(&self) -> Option<&dyn History> {
        Some(self)
    }
}

impl DirectoryStore {
    fn lock(&self) -> MutexGuard<'_, Writer> {
        // A panic while holding the lock leaves the last consistent state: carry on with it.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Locks the folder against other processes' writes (a server and `zonetrack revert`),
    /// while the guard lives. A folder without a `history/` yet is locked once it has one.
    fn lock_folder(&self) -> GeodataResult<Option<std::fs::File>> {
        let path = self.dir.join(LOCK_FILE);
        if !self.dir.join("history").is_dir() {
            return Ok(None);
        }
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(self.io(&path))?;
        f.lock().map_err(self.io(&path))?;
        Ok(Some(f))
    }

    fn log_len(&self) -> u64 {
        std::fs::metadata(self.dir.join(LOG_FILE)).map_or(0, |m| m.len())
    }

    fn io(&self, path: &Path) -> impl Fn(std::io::Error) -> GeodataError + '_ {
        let path = path.to_path_buf();
        move |e| GeodataError::Io(e, path.clone())
    }

    fn stamps(&self) -> Vec<(PathBuf, Option<(u64, SystemTime)>)> {
        let mut names: Vec<PathBuf> = EDITABLE_LAYERS
            .iter()
            .map(|l| self.dir.join(format!("{l}.geojson")))
            .collect();
        names.push(self.dir.join("actors.json"));
        if let Ok(entries) = std::fs::read_dir(self.dir.join("reference")) {
            let mut refs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            refs.sort();
            names.extend(refs);
        }
        names
            .into_iter()
            .map(|p| {
                let stamp = std::fs::metadata(&p)
                    .ok()
                    .and_then(|m| Some((m.len(), m.modified().ok()?)));
                (p, stamp)
            })
            .collect()
    }

    /// Loads the folder into `w.state` (the files, with the revisions they lack replayed and
    /// then written to them); with `memo`, also what the next load can reuse.
    fn load_kept(&self, w: &mut Writer, memo: bool) -> GeodataResult<()> {
        if w.state.is_some() && w.stamps == self.stamps() && w.log_len == self.log_len() {
            // Nothing changed since this store last wrote or read the folder (the watcher saw
            // our own writes).
            return Ok(());
        }
        // Taken before the files are read: a file written while they are read must look changed
        // at the next load, not be taken as read.
        let stamps = self.stamps();
        let revisions = self.read_log()?;
        let checkpoint = self.read_checkpoint()?;
        let (files, keys) = match (&self.cache, memo) {
            // A one-shot load makes no memo, so it needs no keys.
            (Some(cache), false) => {
                crate::load::load_dir_cached(&self.dir, &self.shown, cache, false)
            }
            // A server's first load (or one after revisions were replayed, which leaves no
            // memo): through the cache, the memo's keys from the entry.
            (Some(cache), true) if w.memo.is_none() => {
                crate::load::load_dir_cached(&self.dir, &self.shown, cache, true)
            }
            _ => crate::load_dir_memo(&self.dir, &self.shown, w.memo.as_ref()),
        };
        let files = files?;
        let pending: Vec<FeatureChange> = revisions
            .iter()
            .filter(|r| r.number > checkpoint)
            .flat_map(|r| r.changes.iter().cloned())
            .collect();
        let dirty: BTreeSet<String> = pending.iter().map(|c| c.layer.clone()).collect();
        let data = if pending.is_empty() {
            files
        } else {
            files
                .with_changes(&pending)
                .map_err(GeodataError::Invalid)?
        };
        let mut revisions: Vec<Arc<Revision>> = revisions.into_iter().map(Arc::new).collect();
        if let Some(prev) = &w.state
            && prev.revisions.len() == revisions.len()
        {
            // The files changed under a running store: record it, so history stays whole.
            let changes = prev.data.diff(&data);
            if !changes.is_empty() {
                let r = Revision {
                    number: revisions.last().map_or(0, |r| r.number) + 1,
                    time: revision_time(),
                    author: FILES_AUTHOR.into(),
                    message: "edited in the data folder".into(),
                    changes,
                };
                self.append(&r)?;
                // The files hold this revision already: say so, or the next load would replay
                // it over them (and undo a later edit to the same features).
                self.write_checkpoint(r.number)?;
                revisions.push(Arc::new(r));
            }
        }
        let shared = Arc::new(data);
        // The memo describes the files; with revisions replayed over them it would not.
        w.memo = (memo && pending.is_empty()).then(|| crate::LoadMemo::new(shared.clone(), keys));
        w.state = Some(HistoryState {
            data: shared,
            feature_revisions: Arc::new(last_changes(&revisions)),
            revisions,
        });
        w.flushed = if dirty.is_empty() {
            w.state.as_ref().map_or(0, HistoryState::revision)
        } else {
            checkpoint
        };
        w.dirty = dirty;
        let wrote = self.flush_locked(w)?;
        if !wrote {
            w.stamps = stamps;
        }
        w.log_len = self.log_len();
        Ok(())
    }

    /// Every revision in the log. A last line without its newline was cut short by a crash
    /// before it was acknowledged: it is removed from the file.
    fn read_log(&self) -> GeodataResult<Vec<Revision>> {
        let path = self.dir.join(LOG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(GeodataError::Io(e, path)),
        };
        let complete = text.rfind('\n').map_or(0, |i| i + 1);
        if complete < text.len() {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(self.io(&path))?;
            f.set_len(complete as u64).map_err(self.io(&path))?;
            f.sync_all().map_err(self.io(&path))?;
        }
        let mut out: Vec<Revision> = Vec::new();
        for (n, line) in text[..complete].lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let problem = |reason: String| {
                GeodataError::Invalid(Problems(vec![crate::Problem {
                    file: LOG_FILE.into(),
                    feature: None,
                    field: None,
                    kind: crate::ProblemKind::NotGeoJson {
                        reason: format!("line {}: {reason}", n + 1),
                    },
                }]))
            };
            let v: Value = serde_json::from_str(line).map_err(|e| problem(e.to_string()))?;
            let r = Revision::from_json(&v).map_err(problem)?;
            let expected = out.last().map_or(1, |p| p.number + 1);
            if r.number != expected {
                return Err(problem(format!(
                    "revision {} where {expected} was expected: revisions are numbered without gaps",
                    r.number
                )));
            }
            out.push(r);
        }
        Ok(out)
    }

    fn read_checkpoint(&self) -> GeodataResult<u64> {
        let path = self.dir.join(CHECKPOINT_FILE);
        match std::fs::read_to_string(&path) {
            Ok(t) => Ok(serde_json::from_str::<Value>(&t)
                .ok()
                .and_then(|v| v["revision"].as_u64())
                .unwrap_or(0)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(GeodataError::Io(e, path)),
        }
    }

    /// Appends a revision to the log and waits until it is on disk.
    fn append(&self, r: &Revision) -> GeodataResult<()> {
        let path = self.dir.join(LOG_FILE);
        let folder = path.parent().expect("the log is in a folder");
        let new = !folder.exists();
        std::fs::create_dir_all(folder).map_err(self.io(folder))?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(self.io(&path))?;
        let mut line = r.to_json().to_string();
        line.push('\n');
        f.write_all(line.as_bytes()).map_err(self.io(&path))?;
        f.sync_data().map_err(self.io(&path))?;
        if new {
            sync_dir(folder).map_err(self.io(folder))?;
            sync_dir(&self.dir).map_err(self.io(&self.dir))?;
        }
        Ok(())
    }

    /// Writes `text` to `path` so that a reader (or a crash) sees the old file or the new one,
    /// never a mix: a temporary file beside it, synced, renamed over it.
    fn replace_file(&self, path: &Path, text: &[u8]) -> GeodataResult<()> {
        let tmp = self.write_temporary(path, "tmp", text)?;
        std::fs::rename(&tmp, path).map_err(self.io(path))?;
        Ok(())
    }

    /// Writes `text` (synced) to the temporary file that will replace `path`, and returns it.
    /// Writers that may run at once (a flush outside the lock, a load under it) use different
    /// `suffix`es.
    fn write_temporary(&self, path: &Path, suffix: &str, text: &[u8]) -> GeodataResult<PathBuf> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Not ending in .json/.geojson: the loader never reads a half-written temporary file.
        let tmp = path.with_file_name(format!(".{name}.{suffix}"));
        let mut f = std::fs::File::create(&tmp).map_err(self.io(&tmp))?;
        f.write_all(text).map_err(self.io(&tmp))?;
        f.sync_all().map_err(self.io(&tmp))?;
        Ok(tmp)
    }

    /// Records that the layer files hold every revision up to `revision`.
    fn write_checkpoint(&self, revision: u64) -> GeodataResult<()> {
        let path = self.dir.join(CHECKPOINT_FILE);
        std::fs::create_dir_all(path.parent().expect("in a folder")).map_err(self.io(&path))?;
        let text = json!({ "revision": revision }).to_string();
        self.replace_file(&path, text.as_bytes())
    }

    fn flush_locked(&self, w: &mut Writer) -> GeodataResult<bool> {
        let Some(state) = &w.state else {
            return Ok(false);
        };
        let latest = state.revision();
        if w.flushed == latest && w.dirty.is_empty() {
            return Ok(false);
        }
        let dirty = std::mem::take(&mut w.dirty);
        let state = state.clone();
        for (tmp, path) in self.prepare_files(&state, &dirty, "tmp")? {
            std::fs::rename(&tmp, &path).map_err(self.io(&path))?;
        }
        self.files_in_place(w, latest)?;
        Ok(true)
    }

    /// Writes the files of the `dirty` layers as `state` has them, each to a temporary file
    /// beside it, synced; returns each temporary file with the file it replaces.
    fn prepare_files(
        &self,
        state: &HistoryState,
        dirty: &BTreeSet<String>,
        suffix: &str,
    ) -> GeodataResult<Vec<(PathBuf, PathBuf)>> {
        let names: Vec<String> = dirty.iter().map(|l| format!("{l}.geojson")).collect();
        let mut prepared = Vec::new();
        // Every file's source form at once: asking for them one by one made each again.
        for (name, v) in state.data.source_files() {
            if !names.contains(&name) {
                continue;
            }
            let mut text = crate::to_pretty(&v);
            text.push('\n');
            let path = self.dir.join(&name);
            prepared.push((self.write_temporary(&path, suffix, text.as_bytes())?, path));
        }
        Ok(prepared)
    }

    /// After the files of revision `revision` were renamed into place: makes that durable,
    /// says so in the checkpoint and notes the files as the store's own.
    fn files_in_place(&self, w: &mut Writer, revision: u64) -> GeodataResult<()> {
        sync_dir(&self.dir).map_err(self.io(&self.dir))?;
        if revision > 0 {
            self.write_checkpoint(revision)?;
        }
        w.flushed = revision;
        w.stamps = self.stamps();
        Ok(())
    }
}

/// The time of a revision made now, to the millisecond: what its log line and `/revisions` say.
/// Kept finer, the revision in memory would come after the time shown for it until the log is
/// read again, and `as_of=<that time>` would miss it.
fn revision_time() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound as _;
    chrono::Utc::now().trunc_subsecs(3)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Applies `edits`, in order, to the data of `state` as one revision would: each edit sees the
/// data the previous one left, is validated by [`Dataset::with_changes`], and is recorded as the
/// feature's source form as stored. Returns the new data and the changes, or `None` when the
/// edits change nothing. Every store that takes edits commits through this, so they refuse and
/// record the same edits the same way.
pub fn apply_edits(
    state: &HistoryState,
    edits: Vec<Edit>,
) -> Result<Option<(Dataset, Vec<FeatureChange>)>, EditError> {
    let mut changes: Vec<FeatureChange> = Vec::new();
    // The data after the edits so far (`None`: none yet, it is the state's).
    let mut working: Option<Dataset> = None;
    for edit in edits {
        let current = working.as_ref().unwrap_or(&state.data);
        if !EDITABLE_LAYERS.contains(&edit.layer.as_str()) {
            return Err(EditError::NotEditable(edit.layer));
        }
        let before = match &edit.id {
            Some(id) => Some(
                current
                    .source_feature(&edit.layer, id.as_str())
                    .ok_or_else(|| EditError::NotFound {
                        layer: edit.layer.clone(),
                        id: id.to_string(),
                    })?,
            ),
            None => None,
        };
        if let (Some(seen), Some(id)) = (edit.if_match, &edit.id) {
            let last = state.feature_revision(&edit.layer, id.as_str());
            if seen != last {
                return Err(EditError::Stale {
                    layer: edit.layer,
                    id: id.to_string(),
                    seen,
                    current: last,
                });
            }
        }
        let mut after = (edit.make)(before.as_ref())?;
        let id = match (&edit.id, &mut after) {
            (Some(id), _) => id.clone(),
            (None, Some(feature)) => {
                let id = crate::edit::new_id(current, &edit.layer, feature)?;
                feature["id"] = json!(id.as_str());
                id
            }
            (None, None) => continue,
        };
        let mut change = FeatureChange {
            layer: edit.layer,
            id,
            before,
            after,
        };
        let next = current
            .with_changes(std::slice::from_ref(&change))
            .map_err(EditError::Invalid)?;
        // The log keeps the feature as stored (rings oriented, coordinates rounded,
        // a Polygon read as a MultiPolygon), not as the client sent it: each change's
        // `after` is then the next change's `before` and what the files hold, so the log
        // folded forward from the import is the data. It also makes an edit that only
        // restates the stored feature in another form a no-op rather than a revision.

        change.after = next.source_feature(&change.layer, change.id.as_str());
        if change.before == change.after {
            continue;
        }
        working = Some(next);
        changes.push(change);
    }
    Ok(working
        .filter(|_| !changes.is_empty())
        .map(|working| (working, changes)))
}

impl History for DirectoryStore {
    fn commit(&self, edits: Vec<Edit>, author: &str, msg: &str) -> Result<Committed, EditError> {
        let mut w = self.lock();
        std::fs::create_dir_all(self.dir.join("history")).map_err(self.io(&self.dir))?;
        let _folder = self.lock_folder()?;
        if w.state.is_none() || w.stamps != self.stamps() || w.log_len != self.log_len() {
            // First use, or the files changed and the watcher has not caught up: read them
            // first, so an edit never overwrites one it has not seen.
            self.load_kept(&mut w, true)?;
        }
        let state = w.state.clone().expect("loaded above");
        let Some((working, changes)) = apply_edits(&state, edits)? else {
            return Ok(Committed {
                revision: None,
                state,
            });
        };
        let revision = Revision {
            number: state.revision() + 1,
            time: revision_time(),
            author: author.to_owned(),
            message: msg.to_owned(),
            changes,
        };
        self.append(&revision)?;
        w.log_len = self.log_len();
        for c in &revision.changes {
            w.dirty.insert(c.layer.clone());
        }
        let revision = Arc::new(revision);
        let state = state.followed_by(revision.clone(), working);
        let old = w.state.replace(state.clone());
        // The files will be rewritten from the new state: the memo of the old ones would only
        // keep their data alive. The next load of hand edits reads every zone again.
        let old_memo = w.memo.take();
        // Freeing the data before the edit can take longer than the edit: not on its path.
        let _ = std::thread::Builder::new()
            .name("drop-state".into())
            .spawn(move || drop((old, old_memo)));
        Ok(Committed {
            revision: Some(revision),
            state,
        })
    }

    fn state(&self) -> Option<HistoryState> {
        self.lock().state.clone()
    }

    fn flush(&self) -> GeodataResult<bool> {
        // The files of a large data set take a few hundred milliseconds to write: done under
        // the store's lock, a write arriving meanwhile waited for them (a PATCH on 10,000 zones
        // acknowledged in 395 ms instead of 32). So the lock is held only to see what to write
        // and to put the written files in place.
        let _one_at_a_time = self.flushing.lock().unwrap_or_else(|p| p.into_inner());
        let (state, dirty, flushed) = {
            let w = self.lock();
            let Some(state) = &w.state else {
                return Ok(false);
            };
            if w.flushed == state.revision() && w.dirty.is_empty() {
                return Ok(false);
            }
            (state.clone(), w.dirty.clone(), w.flushed)
        };
        let prepared = self.prepare_files(&state, &dirty, "flush.tmp")?;
        #[cfg(test)]
        if let Some(meanwhile) = self.in_flush.lock().expect("not poisoned").take() {
            meanwhile(self);
        }
        let mut w = self.lock();
        let _folder = self.lock_folder()?;
        if w.stamps != self.stamps() || w.flushed != flushed {
            // Someone changed the files meanwhile (by hand: their edit is read and recorded
            // first; or a load under the lock wrote newer ones): this flush's older files
            // would overwrite them.
            for (tmp, _) in &prepared {
                let _ = std::fs::remove_file(tmp);
            }
            return Ok(false);
        }
        for (tmp, path) in &prepared {
            std::fs::rename(tmp, path).map_err(self.io(path))?;
        }
        self.files_in_place(&mut w, state.revision())?;
        // Revisions written meanwhile may have changed the same layers again: they stay dirty
        // for the next flush.
        if w.state.as_ref().map(HistoryState::revision) == Some(state.revision()) {
            w.dirty.clear();
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first zone of `data` drawn by hand, and its source form renamed `name`.
    fn renamed(data: &Dataset, name: &str) -> (FeatureId, Value, Value) {
        let zone = data
            .zones
            .iter()
            .find(|z| z.rule.is_none() && z.derived_from.is_none());
        let id = zone.expect("a drawn zone").meta.id.clone();
        let before = data
            .source_feature("zones", id.as_str())
            .expect("its source");
        let mut after = before.clone();
        after["properties"]["name"] = json!(name);
        (id, before, after)
    }

    fn revision(number: u64, (id, before, after): (FeatureId, Value, Value)) -> Revision {
        Revision {
            number,
            time: revision_time(),
            author: "alice".into(),
            message: String::new(),
            changes: vec![FeatureChange {
                layer: "zones".into(),
                id,
                before: Some(before),
                after: Some(after),
            }],
        }
    }

    #[test]
    fn a_servers_first_load_comes_from_the_cache_and_its_reloads_from_the_memo() {
        let dir = e2e::fresh_temp_dir("zonetrack-store-cache");
        let folder = dir.join("data");
        Dataset::embedded()
            .write_dir(&folder)
            .expect("the folder writes");
        let cache = crate::LoadCache::new(dir.join("cache"), 0);
        let entry_time = || {
            let mut entries: Vec<_> = std::fs::read_dir(dir.join("cache"))
                .expect("the cache is written")
                .filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "bin"))
                .map(|e| e.metadata().and_then(|m| m.modified()).expect("a time"))
                .collect();
            assert_eq!(entries.len(), 1);
            entries.pop()
        };
        // A server's first load goes through the cache: it writes the entry ...
        let first = DirectoryStore::new(&folder)
            .with_cache(Some(cache.clone()))
            .load()
            .expect("the folder loads");
        let written = entry_time();
        assert_eq!(first, crate::load_dir(&folder).expect("a fresh load"));
        // ... and the next server's first load is the entry's (a hit writes nothing) ...
        let server = DirectoryStore::new(&folder).with_cache(Some(cache));
        assert_eq!(server.load().expect("the folder loads"), first);
        assert_eq!(entry_time(), written, "a hit writes nothing");
        // ... and a hand edit is read through the memo the entry gave: as a fresh load.
        let zones = folder.join("zones.geojson");
        let text = std::fs::read_to_string(&zones).expect("the zones");
        std::fs::write(
            &zones,
            text.replacen("\"name\": \"", "\"name\": \"Edited ", 1),
        )
        .expect("written");
        let reloaded = server.load().expect("the edit loads");
        assert_eq!(reloaded, crate::load_dir(&folder).expect("a fresh load"));
        assert!(
            reloaded
                .zones
                .iter()
                .any(|z| z.meta.name.starts_with("Edited "))
        );
        assert_eq!(entry_time(), written, "reloads use the memo, not the cache");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Regression: a flush writes its files outside the store's lock. When a load under the
    /// lock put newer files in place meanwhile (another process had logged a revision), the
    /// flush renamed its older files over them and set the checkpoint back.
    #[test]
    fn a_flush_gives_way_to_newer_files_put_in_place_while_it_wrote() {
        let dir = e2e::fresh_temp_dir("zonetrack-flush-race");
        Dataset::embedded()
            .write_dir(&dir)
            .expect("the folder writes");
        let store = DirectoryStore::new(&dir);
        let data = store.load().expect("the folder loads");
        // Revision 1, committed: logged, its files not written yet.
        let (id, _, after) = renamed(&data, "one");
        let edit = Edit {
            layer: "zones".into(),
            id: Some(id.clone()),
            if_match: None,
            make: Box::new(move |_| Ok(Some(after))),
        };
        store.commit(vec![edit], "alice", "one").expect("committed");
        *store.in_flush.lock().unwrap() = Some(|store: &DirectoryStore| {
            // Meanwhile another process logs revision 2, and the store reads the folder again:
            // it replays revision 2 and puts its files in place.
            let now = store.state().expect("loaded").data;
            store
                .append(&revision(2, renamed(&now, "two")))
                .expect("logged");
            store.load().expect("revision 2 read");
        });
        assert!(
            !store.flush().expect("the flush runs"),
            "the flush gives way"
        );
        let on_disk = crate::load_dir(&dir).expect("the files load");
        let zone = on_disk
            .zones
            .iter()
            .find(|z| z.meta.id == id)
            .expect("the zone");
        assert_eq!(zone.meta.name, "two", "the newer files stay");
        assert_eq!(store.read_checkpoint().expect("a checkpoint"), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
