//! The store seam: where a data set lives and how its changes become known. Everything that
//! serves or queries data gets it through a [`Store`], never from a path, so another kind of
//! store is one more implementation:
//!
//! - [`EmbeddedStore`]: the data set compiled into the binary; never changes.
//! - [`DirectoryStore`]: a data folder (`geodata/FORMAT.md`); changes when its files do, which
//!   the server learns by watching the folder ([`Changes::Folder`]).
//!
//! The stores still to come extend it without changing its callers: a store that takes edits
//! keeps an append-only history of revisions and announces each one (a `Changes` variant of its
//! own, alongside `Folder`), and a PostgreSQL store does the same over `LISTEN`/`NOTIFY`. What
//! every store shares is [`Store::load`]: the whole data set, validated by the one loader, so
//! every store means the same data by the same files.

use std::path::{Path, PathBuf};

use crate::{Dataset, GeodataError, GeodataResult};

/// How a store's changes become known to whoever serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Changes {
    /// Never: the data is fixed for the life of the process.
    Never,
    /// When files in this folder change (or the folder itself is replaced): load again.
    Folder(PathBuf),
}

/// Where a data set comes from.
pub trait Store: Send + Sync {
    /// What the store holds now: the whole data set, validated. Problems name files as the
    /// store shows them ([`Store::label`] never holds a path the server should not show).
    fn load(&self) -> GeodataResult<Dataset>;

    /// How the store is named to clients (`/health`): no file system paths.
    fn label(&self) -> String;

    /// How its changes become known.
    fn changes(&self) -> Changes;
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
}

impl DirectoryStore {
    /// The folder `dir`; problems name files as `DIR/zones.geojson`, with `DIR` as given (what a
    /// person at a terminal wants).
    pub fn new(dir: &Path) -> DirectoryStore {
        DirectoryStore {
            dir: dir.to_path_buf(),
            shown: dir.display().to_string(),
        }
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
    fn load(&self) -> GeodataResult<Dataset> {
        crate::load_dir_named(&self.dir, &self.shown)
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
}
