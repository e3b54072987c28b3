//! Live data: watch a data directory and, after edits settle, load and validate it off the
//! request path; swap the new snapshot in only when the whole load succeeded. A half-saved file
//! or a broken edit leaves the last good snapshot serving, and every problem is logged and kept
//! for `/status` and `/health`.
//!
//! The folder itself may be deleted, replaced (`rm -rf data && cp -r backup data`) or renamed
//! over (`mv data.new data`), as editors and deploy scripts do: a watch follows an inode, so the
//! watcher also watches the parent and re-arms on the folder that now has the name. Problems name
//! files relative to the folder; full paths go to the log only.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use notify::{RecursiveMode, Watcher};
use serde_json::{Value, json};

use geodata::{Changes, Store};

use crate::{AppState, Snapshot};

/// How long the directory must stay quiet before a reload: editors write a file in several
/// steps (truncate, write, rename), and QGIS saves layers one after another.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// The quiet period when the last event was a file renamed into place: the atomic save of
/// editors and scripts (written beside, renamed over). The renamed file is whole, so only the
/// rest of the burst (a second file saved the same way) needs waiting for; any other event
/// after it brings back [`DEBOUNCE`].
pub const SETTLED: Duration = Duration::from_millis(60);

/// What the watcher saw, for the quiet period.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// The event is about the folder itself (made, removed, renamed): the watch must be set
    /// up again even if the new folder looks like the old one.
    folder: bool,
    /// A file was renamed into place: it is complete, see [`SETTLED`].
    settled: bool,
}

/// The outcome of the most recent load.
#[derive(Debug, Clone)]
pub struct LoadStatus {
    /// When it finished.
    pub at: DateTime<Utc>,
    /// Whether the new data is being served.
    pub ok: bool,
    /// The data version being served after this load.
    pub serving_version: String,
    /// Where the data came from.
    pub source: String,
    /// Every problem found (empty when `ok`).
    pub problems: Vec<String>,
}

impl LoadStatus {
    /// The status of the data the server started with.
    pub fn initial(snapshot: &Snapshot, source: &str) -> LoadStatus {
        LoadStatus {
            at: snapshot.loaded_at,
            ok: true,
            serving_version: snapshot.version.clone(),
            source: source.to_owned(),
            problems: Vec::new(),
        }
    }

    /// As JSON for `/status` and `/health`.
    pub fn to_json(&self) -> Value {
        json!({
            "at": self.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "ok": self.ok,
            "serving_version": self.serving_version,
            "source": self.source,
            "problems": self.problems,
        })
    }
}

/// Loads what `store` holds and, when it is valid, serves it. Runs on the calling thread: call
/// it from a blocking task, never from a request.
pub fn reload(state: &AppState, store: &dyn Store) -> LoadStatus {
    let source = store.label();
    // One new snapshot at a time: an edit's and a reload's must not overtake each other.
    let _writer = state.writer.lock().unwrap_or_else(|p| p.into_inner());
    let status = match store.load() {
        Ok(data) => {
            let history = store.history().and_then(|h| h.state());
            let current = state.snapshot();
            let unchanged = history
                .as_ref()
                .is_some_and(|h| Arc::ptr_eq(&h.data, &current.data));
            let version = if unchanged {
                // The store saw nothing new (the watcher saw its own writes).
                current.version.clone()
            } else {
                let snapshot = match &history {
                    // Edits made to the files, recorded as the one revision after the data
                    // served, and nothing else changed: prepare only what they changed, as
                    // for an edit through the API (a one-zone edit of 100,000 is served at
                    // once, not after the whole set is serialised and indexed again).
                    Some(h) if follows(&current, h) => {
                        current.after(h, &h.revisions[h.revisions.len() - 1].changes)
                    }
                    Some(h) => Snapshot::from_shared(h.data.clone()).with_history(h),
                    None => Snapshot::new(data),
                };
                let version = snapshot.version.clone();
                // Swapping in an identical snapshot would only churn memory.
                if version != current.version || snapshot.revision != current.revision {
                    state.replace(snapshot);
                    tracing::info!(%version, "data reloaded");
                } else {
                    tracing::info!(%version, "data unchanged");
                }
                version
            };
            LoadStatus {
                at: Utc::now(),
                ok: true,
                serving_version: version,
                source,
                problems: Vec::new(),
            }
        }
        Err(e) => {
            let problems: Vec<String> = match &e {
                geodata::GeodataError::Invalid(p) => p.0.iter().map(ToString::to_string).collect(),
                geodata::GeodataError::NotADirectory(_) => vec![
                    "the data folder is missing or not a folder (deleted, or being replaced); \
                     serving the last good data until it is back"
                        .into(),
                ],
                // The path is the server's own business: the log has it.
                geodata::GeodataError::Io(err, _) => {
                    vec![format!(
                        "a folder of the data could not be read: {}",
                        err.kind()
                    )]
                }
                other => vec![format!("{other}")],
            };
            tracing::warn!(source = %source, error = ?e, "reload refused; still serving the last good data");
            for p in &problems {
                tracing::warn!(problem = %p, "reload refused; still serving the last good data");
            }
            LoadStatus {
                at: Utc::now(),
                ok: false,
                serving_version: state.snapshot().version.clone(),
                source,
                problems,
            }
        }
    };
    state.set_status(status.clone());
    status
}

/// Whether `history` is the served snapshot's data plus exactly one revision (which then says
/// every feature that changed): the revisions before it are the snapshot's own, and the layers
/// no revision records (actors, reference layers) are unchanged.
fn follows(current: &Snapshot, history: &geodata::HistoryState) -> bool {
    let n = current.revisions.len();
    history.revisions.len() == n + 1
        && history.revision() == current.revision + 1
        // The log is only appended to: the same last revision means the same ones before.
        && n.checked_sub(1).map(|i| &history.revisions[i]) == current.revisions.last()
        && history.data.actors == current.data.actors
        && history.data.reference == current.data.reference
}

/// Serves what a store that announces its changes ([`Changes::Announced`]) holds now: the
/// revisions its history has beyond the snapshot are applied to it feature by feature
/// ([`crate::write`]'s `next_snapshot`, as for an edit made here), not loaded again. Call it
/// (off the async threads) whenever the store says it moved on; it does nothing when the
/// snapshot is already there.
pub fn follow(state: &AppState) {
    let _writer = state.writer.lock().unwrap_or_else(|p| p.into_inner());
    let Some(history) = state.store.history().and_then(|h| h.state()) else {
        return;
    };
    let current = state.snapshot();
    if Arc::ptr_eq(&history.data, &current.data) || history.revision() <= current.revision {
        return;
    }
    let next = crate::write::next_snapshot(&current, &history);
    let version = next.version.clone();
    tracing::info!(
        from = current.revision,
        to = history.revision(),
        %version,
        "applied revisions written elsewhere"
    );
    state.replace(next);
    state.set_status(LoadStatus {
        at: Utc::now(),
        ok: true,
        serving_version: version,
        source: state.store.label(),
        problems: Vec::new(),
    });
}

/// How often the watcher checks that the folder it watches is still the one with the name,
/// in case an event was missed (a watch on the parent may be impossible, or events overflow).
pub const RECHECK: Duration = Duration::from_secs(2);

/// Which folder a path names now, or `None` when nothing is there. The inode alone is not
/// enough: a folder deleted and made again at once often gets its inode number back, so the
/// creation time (where the file system keeps one) is part of it.
type FolderId = (u64, u64, Option<std::time::SystemTime>);

fn folder_identity(dir: &Path) -> Option<FolderId> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(dir)
        .ok()
        .filter(std::fs::Metadata::is_dir)
        .map(|m| (m.dev(), m.ino(), m.created().ok()))
}

/// A watcher on `dir`'s parent (its entries only: it sees the folder deleted, created or
/// renamed) and, when `inside`, on `dir` itself, recursively, without following links (a link
/// to /usr in the folder put tens of thousands of watches on it).
fn folder_watcher(
    dir: &Path,
    tx: tokio::sync::mpsc::UnboundedSender<Seen>,
    inside: bool,
) -> notify::Result<notify::RecommendedWatcher> {
    let events_for = dir.to_path_buf();
    // The revision log and the temporary files the store writes are not data: a write is
    // already served when they change.
    let history = dir.join("history");
    let ours = move |p: &Path| {
        p.starts_with(&history)
            || p.file_name().is_some_and(|n| {
                n.to_string_lossy().starts_with('.') && n.to_string_lossy().ends_with(".tmp")
            })
    };
    let mut watcher = notify::RecommendedWatcher::new(
        move |event: notify::Result<notify::Event>| match event {
            Ok(e) if matches!(e.kind, notify::EventKind::Access(_)) => {}
            // The parent's watch reports its other entries too: only the folder matters.
            Ok(e) if !e.paths.iter().any(|p| p.starts_with(&events_for)) => {}
            Ok(e) if e.paths.iter().all(|p| ours(p)) => {}
            Ok(e) => {
                use notify::event::{EventKind, ModifyKind, RenameMode};
                let folder = e.paths.contains(&events_for);
                let settled = !folder
                    && matches!(
                        e.kind,
                        EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
                    );
                let _ = tx.send(Seen { folder, settled });
            }
            Err(err) => tracing::warn!(%err, "file watch error"),
        },
        notify::Config::default().with_follow_symlinks(false),
    )?;
    if let Some(parent) = dir.parent()
        && let Err(e) = watcher.watch(parent, RecursiveMode::NonRecursive)
    {
        tracing::warn!(error = %e, parent = %parent.display(), "cannot watch the data folder's parent; a replaced folder is noticed within {RECHECK:?}");
    }
    if inside {
        watcher.watch(dir, RecursiveMode::Recursive)?;
    }
    Ok(watcher)
}

/// Reloads `store` whenever it changes: for a data folder, after each burst of file changes,
/// including the folder being deleted, replaced or renamed over. Runs until the process ends
/// (at once for a store that never changes). Returns an error only when no watch can be set up
/// at all.
pub async fn watch(state: Arc<AppState>, store: Arc<dyn Store>) -> notify::Result<()> {
    let dir = match store.changes() {
        Changes::Folder(dir) => std::path::absolute(&dir).map_err(notify::Error::io)?,
        _ => return Ok(()),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Seen>();
    // Which folder is watched, and the watcher on it. When another folder takes the name, a
    // new watcher replaces the old one whole: re-arming one watcher on the same path raced with
    // the deleted folder's last events, which could drop the new watch.
    let mut armed = folder_identity(&dir);
    let mut watcher = Some(folder_watcher(&dir, tx.clone(), armed.is_some())?);
    let arm = |watcher: &mut Option<notify::RecommendedWatcher>,
               armed: &mut Option<FolderId>,
               force: bool| {
        let now = folder_identity(&dir);
        if now == *armed && !force {
            return false;
        }
        *watcher = None;
        match folder_watcher(&dir, tx.clone(), now.is_some()) {
            Ok(w) => {
                *watcher = Some(w);
                *armed = now;
            }
            Err(e) => {
                tracing::warn!(error = %e, dir = %dir.display(), "cannot watch the data folder; retrying");
                *armed = None;
            }
        }
        true
    };
    // Every reload runs on this one thread, so each new snapshot is built in the memory the
    // previous ones were freed into. On a fresh blocking-pool thread each time, glibc's malloc
    // built it in another thread's arena and kept the old one's pages: the server grew by about
    // a snapshot per reload, up to one per arena (a soak run went from 11 to 55 MiB).
    let (reload_tx, reload_rx) =
        std::sync::mpsc::channel::<tokio::sync::oneshot::Sender<LoadStatus>>();
    {
        let state = state.clone();
        std::thread::Builder::new()
            .name("zonetrack-reload".into())
            .spawn(move || {
                for done in reload_rx {
                    let _ = done.send(reload(&state, store.as_ref()));
                }
            })
            .map_err(notify::Error::io)?;
    }
    tracing::info!(dir = %dir.display(), "watching the data directory for changes");
    loop {
        let (event, mut folder) = match tokio::time::timeout(RECHECK, rx.recv()).await {
            Ok(Some(seen)) => (Some(seen), seen.folder),
            Ok(None) => break,
            Err(_) => (None, false),
        };
        if let Some(mut last) = event {
            // Wait for the burst to end: every new event restarts the quiet period, whose
            // length the latest event sets.
            loop {
                let quiet = if last.settled { SETTLED } else { DEBOUNCE };
                match tokio::time::timeout(quiet, rx.recv()).await {
                    Ok(Some(seen)) => {
                        folder |= seen.folder;
                        last = seen;
                    }
                    Ok(None) => return Ok(()),
                    Err(_) => break,
                }
            }
        }
        let replaced = arm(&mut watcher, &mut armed, folder);
        if replaced {
            tracing::info!(
                present = armed.is_some(),
                "the data folder was replaced or removed"
            );
        }
        if !(event.is_some() || replaced) {
            continue;
        }
        let (done, finished) = tokio::sync::oneshot::channel();
        if reload_tx.send(done).is_err() {
            break;
        }
        let _ = finished.await;
    }
    drop(watcher);
    Ok(())
}
