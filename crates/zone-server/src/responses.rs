//! The server's own small answers: readiness (`/health`, `/status`) and the 404 for any path
//! no route takes.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;

pub(crate) async fn not_found(req: Request) -> ApiError {
    let path: String = req.uri().path().chars().take(200).collect();
    ApiError::not_found(format!(
        "no such resource: {path}; start at / for the links"
    ))
}

/// `GET /health` (and `/status`): ready, which data is served, and the last load's outcome
/// (a refused reload still answers 200: the server is serving its last good data).
pub(crate) async fn health(State(state): State<Arc<AppState>>) -> Response {
    let snap = state.snapshot();
    // Reads are served from memory whatever the store does; writes need the store.
    let down = state.store.unavailable();
    let writes =
        state.config.editors.is_some() && state.store.history().is_some() && down.is_none();
    let body = serde_json::json!({
        "status": "ok",
        "ready": {"reads": true, "writes": writes},
        "store": {
            "source": state.store.label(),
            "available": down.is_none(),
            "problem": down,
            "revision": snap.revision,
        },
        "data_version": snap.version,
        "loaded_at": snap.loaded_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "zones": snap.data.zones.len(),
        "locations": snap.data.locations.len(),
        "events": snap.data.events.len(),
        "last_load": state.status().to_json(),
        "snapshots_alive": crate::snapshot::Snapshot::alive(),
        // The answers kept for this data version (bounded by CACHE_BYTES): what a memory
        // figure includes by design, so a soak can tell it from a leak.
        "answer_cache": {
            "entries": snap.responses.len(),
            "bytes": snap.responses.weight(),
            "limit_bytes": crate::snapshot::CACHE_BYTES,
        },
    });
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}
