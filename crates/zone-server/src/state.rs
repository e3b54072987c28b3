//! What the server holds while it runs: its settings ([`Config`]) and the state every handler
//! shares ([`AppState`]): the current snapshot, swapped atomically on reload, the outcome of the
//! last load, and the semaphores that cap requests and batches.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::http::HeaderMap;

use geodata::{Dataset, Store};

use crate::auth::{Editor, Editors};
use crate::{ApiError, ApiResult, Snapshot, body, reload};

/// Who may read the API from a browser on another origin.
#[derive(Debug, Clone, Default)]
pub enum Cors {
    /// Any origin (the default: the data is public and read-only).
    #[default]
    Any,
    /// Only these origins.
    Origins(Vec<String>),
    /// No CORS headers.
    Off,
}

/// Server settings that do not change while it runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The base URL clients reach the server at (`https://example.org/zonetrack`), for absolute
    /// links behind a proxy. When unset, links follow `X-Forwarded-Proto/Host`, then `Host`.
    pub public_url: Option<String>,
    /// CORS policy for GET requests.
    pub cors: Cors,
    /// How long one request may take before it gets a 503.
    pub request_timeout: Duration,
    /// Requests handled at once; more get an immediate 503 rather than queueing without bound.
    /// `/health` and the map's static files are outside this cap.
    pub max_concurrent_requests: usize,
    /// Batches (`POST /query/points`) parsed and answered at once; more wait for a slot.
    pub max_concurrent_batches: usize,
    /// How long a batch waits for one of those slots before it gets a 503.
    pub batch_wait: Duration,
    /// Bytes of batch bodies being received or held at once (each charged its announced
    /// length, or the body limit when it announces none). A batch beyond it gets a 503 before
    /// its body is read: trickling bodies can hold only this much, never the slots point
    /// queries need, and memory for batches stays bounded.
    pub batch_body_budget: usize,
    /// How fast a request body must arrive.
    pub body_rate: body::BodyRate,
    /// Who may write (`--editors FILE`); `None` (the default) is a read-only server.
    pub editors: Option<Arc<Editors>>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            public_url: None,
            cors: Cors::Any,
            request_timeout: Duration::from_secs(30),
            max_concurrent_requests: 512,
            max_concurrent_batches: 2,
            batch_wait: Duration::from_secs(10),
            batch_body_budget: 64 << 20,
            body_rate: body::BodyRate::default(),
            editors: None,
        }
    }
}

/// What every handler shares: the current snapshot (swapped atomically on reload) and the
/// configuration.
pub struct AppState {
    current: ArcSwap<Snapshot>,
    status: ArcSwap<reload::LoadStatus>,
    /// Slots for requests being handled (see [`Config::max_concurrent_requests`]).
    pub(crate) request_slots: Arc<tokio::sync::Semaphore>,
    /// Slots for batches being parsed and answered (see [`Config::max_concurrent_batches`]).
    pub(crate) batch_slots: Arc<tokio::sync::Semaphore>,
    /// Batch body bytes, in KiB (see [`Config::batch_body_budget`]).
    pub(crate) body_budget: Arc<tokio::sync::Semaphore>,
    /// Settings.
    pub config: Config,
    /// Where the data comes from, and (when it takes edits) where edits go.
    pub store: Arc<dyn Store>,
    /// Held while a new snapshot is made and swapped in (an edit or a reload): they happen
    /// one at a time, in order. Readers never take it.
    pub(crate) writer: std::sync::Mutex<()>,
    /// Snapshots of earlier revisions (`as_of`), the few most recently asked for.
    as_of: std::sync::Mutex<Vec<(String, u64, Arc<Snapshot>)>>,
    /// Whether a flush of the store's files is already scheduled.
    pub(crate) flush_pending: std::sync::atomic::AtomicBool,
}

/// How many earlier revisions' snapshots are kept.
const AS_OF_SNAPSHOTS: usize = 4;

impl AppState {
    /// State serving `snapshot`, read-only (the store is the embedded data set).
    pub fn new(snapshot: Snapshot, config: Config) -> Arc<Self> {
        Self::with_store(snapshot, config, Arc::new(geodata::EmbeddedStore))
    }

    /// State serving `snapshot`, loaded from `store`; edits go to the store when it takes them.
    pub fn with_store(snapshot: Snapshot, config: Config, store: Arc<dyn Store>) -> Arc<Self> {
        let snapshot = match store.history().and_then(|h| h.state()) {
            Some(h) => snapshot.with_history(&h),
            None => snapshot,
        };
        let status = reload::LoadStatus::initial(&snapshot, "startup");
        Arc::new(Self {
            current: ArcSwap::from_pointee(snapshot),
            status: ArcSwap::from_pointee(status),
            request_slots: Arc::new(tokio::sync::Semaphore::new(
                config.max_concurrent_requests.max(1),
            )),
            batch_slots: Arc::new(tokio::sync::Semaphore::new(
                config.max_concurrent_batches.max(1),
            )),
            body_budget: Arc::new(tokio::sync::Semaphore::new(
                config
                    .batch_body_budget
                    .div_ceil(1024)
                    .clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
            )),
            config,
            store,
            writer: std::sync::Mutex::new(()),
            as_of: std::sync::Mutex::new(Vec::new()),
            flush_pending: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The snapshot a request with `as_of` (a revision number or an RFC 3339 time) answers
    /// from: the current one without it, else the data as it stood at that revision. Earlier
    /// revisions are rebuilt from the history (off the async threads) and the last few kept.
    pub async fn snapshot_at(self: &Arc<Self>, as_of: Option<&str>) -> ApiResult<Arc<Snapshot>> {
        let current = self.snapshot();
        let Some(text) = as_of else {
            return Ok(current);
        };
        let n = match text.parse::<u64>() {
            Ok(n) if n > current.revision => {
                return Err(ApiError::not_found(format!(
                    "as_of: there is no revision {n}; the latest is {}",
                    current.revision
                )));
            }
            Ok(n) => n,
            Err(_) => {
                let time = chrono::DateTime::parse_from_rfc3339(text).map_err(|_| {
                    ApiError::invalid(format!(
                        "as_of: {:?} is neither a revision number nor an RFC 3339 time (2018-03-01T00:00:00Z)",
                        crate::error::clip(text, 40)
                    ))
                })?;
                geodata::revision_at(&current.revisions, time.with_timezone(&chrono::Utc))
            }
        };
        if n == current.revision {
            return Ok(current);
        }
        let lock = |m: &std::sync::Mutex<Vec<(String, u64, Arc<Snapshot>)>>| {
            m.lock().unwrap_or_else(|p| p.into_inner()).clone()
        };
        if let Some((_, _, s)) = lock(&self.as_of)
            .into_iter()
            .find(|(v, r, _)| *v == current.version && *r == n)
        {
            return Ok(s);
        }
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let data = current
                .data
                .as_of(&current.revisions, n)
                .map_err(|e| ApiError::internal(&e))?;
            let revisions = current.revisions[..n as usize].to_vec();
            let history = geodata::HistoryState {
                data: Arc::new(Dataset::clone(&data)),
                feature_revisions: Arc::new(geodata::last_changes(&revisions)),
                revisions,
            };
            let snap = Arc::new(Snapshot::new(data).with_history(&history));
            let mut kept = state.as_of.lock().unwrap_or_else(|p| p.into_inner());
            kept.retain(|(v, _, _)| *v == current.version);
            kept.push((current.version.clone(), n, snap.clone()));
            if kept.len() > AS_OF_SNAPSHOTS {
                kept.remove(0);
            }
            Ok::<_, ApiError>(snap)
        })
        .await
        .map_err(|e| ApiError::internal(&e))?
    }

    /// The outcome of the last load (the initial one, or the last reload).
    pub fn status(&self) -> Arc<reload::LoadStatus> {
        self.status.load_full()
    }

    /// Records the outcome of a load.
    pub fn set_status(&self, status: reload::LoadStatus) {
        self.status.store(Arc::new(status));
    }

    /// The snapshot to answer one request from: a request holds it to the end, so it sees one
    /// whole version of the data even if a reload happens meanwhile.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Serves `snapshot` from now on; requests in flight finish on the old one.
    pub fn replace(&self, snapshot: Snapshot) {
        let old = self.current.swap(Arc::new(snapshot));
        // Freeing a large snapshot takes tens of milliseconds: not on the path of the write
        // that replaced it. (When a reader still holds it, this only lets go of one reference.)
        let _ = std::thread::Builder::new()
            .name("drop-snapshot".into())
            .spawn(move || drop(old));
    }

    /// The editor a write request comes from; every write handler asks this first.
    ///
    /// A 403 (`WritesDisabled`, saying how to enable writes) when the server has no editors; a
    /// 401 with `WWW-Authenticate` when the request has no credentials or wrong ones.
    pub fn editor(&self, headers: &HeaderMap) -> Result<Editor, ApiError> {
        let Some(editors) = &self.config.editors else {
            return Err(ApiError::writes_disabled());
        };
        editors.authenticate(headers)?.ok_or_else(|| {
            ApiError::unauthorized(
                "writing needs an editor's token: send `Authorization: Bearer TOKEN`, or HTTP \
                 Basic with the editor's name as user and the token as password",
            )
        })
    }

    /// The absolute base URL for links in an answer to a request with these headers.
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(u) = &self.config.public_url {
            return u.trim_end_matches('/').to_owned();
        }
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.split(',').next().unwrap_or("").trim().to_owned())
        };
        // Only plain host[:port] values go into links; anything else would let a client inject
        // markup or another site into our answers.
        let safe_host = |h: &String| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.:[]_".contains(c))
        };
        let proto = match text("x-forwarded-proto").as_deref() {
            Some("https") => "https",
            _ => "http",
        };
        let host = text("x-forwarded-host")
            .filter(safe_host)
            .or_else(|| text("host").filter(safe_host))
            .unwrap_or_else(|| "127.0.0.1".into());
        format!("{proto}://{host}")
    }
}

/// What a JSON document handler reads: the query checked to hold at most `f=json` and
/// `as_of`, the snapshot of the moment (or of `as_of`), and the base URL links start with.
pub(crate) struct JsonRead {
    pub snap: Arc<Snapshot>,
    pub base: String,
}

impl axum::extract::FromRequestParts<Arc<AppState>> for JsonRead {
    type Rejection = crate::error::ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let params = crate::params::json_only(parts.uri.query())?;
        Ok(Self {
            snap: state.snapshot_at(params.get("as_of")).await?,
            base: state.base_url(&parts.headers),
        })
    }
}
