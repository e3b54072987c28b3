//! Writes: OGC API - Features Part 4 (Create, Replace, Update, Delete) on
//! `/collections/{id}/items`, as QGIS (3.32 and later), OWSLib and scripts edit a layer, and the
//! history every write leaves (`/revisions`, a feature's `/history`).
//!
//! Each write is an editor's ([`crate::auth`]), validated by the loader's own code, and one
//! revision of the store: durable in its log before the answer, served by the next request.
//! Writes go one at a time; readers keep the snapshot they hold and never wait.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use geodata::edit::{ClientEdit, source_from_client};
use geodata::{EDITABLE_LAYERS, Edit, EditError, FeatureId, Revision};
use serde_json::{Value, json};

use crate::params::{self, Params};
use crate::snapshot::Layer;
use crate::{ApiError, AppState, Snapshot};

/// Largest feature a write takes (a zone of about half a million vertices).
pub const MAX_WRITE_BYTES: usize = 16 << 20;
/// How long after a write the store's files are brought up to date: writes in a burst (QGIS
/// saves an edit session feature by feature) are written out together.
const FLUSH_DELAY: Duration = Duration::from_millis(200);
/// The header a client gives a revision's message in.
pub const MESSAGE_HEADER: &str = "x-zonetrack-message";
/// Revisions in one page of `/revisions`.
const REVISIONS_PAGE: usize = 50;

/// CRS84 (longitude, latitude), the default of OGC API - Features.
const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
/// EPSG:4326 as OGC names it: the same datum, latitude first.
const EPSG_4326: &str = "http://www.opengis.net/def/crs/EPSG/0/4326";

/// Why a write was refused: a JSON error, with the problems found for a 422.
enum Refusal {
    Api(ApiError),
    Invalid(geodata::Problems),
    NotEditable(String),
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal::Api(e)
    }
}

impl From<EditError> for Refusal {
    fn from(e: EditError) -> Self {
        let api = |status: StatusCode, code: &'static str, e: &EditError| ApiError {
            status,
            code,
            description: e.to_string(),
        };
        match e {
            EditError::Invalid(problems) => Refusal::Invalid(problems),
            EditError::NotEditable(layer) => Refusal::NotEditable(layer),
            EditError::ReadOnly => Refusal::Api(read_only()),
            EditError::NotFound { .. } => Refusal::Api(api(StatusCode::NOT_FOUND, "NotFound", &e)),
            EditError::Exists { .. } => Refusal::Api(api(StatusCode::CONFLICT, "Conflict", &e)),
            EditError::Stale { .. } => Refusal::Api(api(
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailed",
                &e,
            )),
            EditError::Malformed(_) => {
                Refusal::Api(api(StatusCode::BAD_REQUEST, "InvalidParameterValue", &e))
            }
            EditError::Unavailable(_) => {
                tracing::warn!(error = %e, "a write was refused: the store is out of reach");
                Refusal::Api(api(StatusCode::SERVICE_UNAVAILABLE, "StoreUnavailable", &e))
            }
            other => {
                tracing::error!(error = ?other, "a write failed in the store");
                Refusal::Api(ApiError::internal(&other))
            }
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Api(e) => e.into_response(),
            Refusal::Invalid(problems) => {
                let list: Vec<Value> = problems
                    .0
                    .iter()
                    .map(|p| {
                        json!({
                            "file": p.file,
                            "feature": p.feature.as_ref().and_then(|f| f.id.clone()),
                            "field": p.field,
                            "reason": p.kind.to_string(),
                            "text": p.to_string(),
                        })
                    })
                    .collect();
                let body = json!({
                    "code": "InvalidFeature",
                    "description": format!(
                        "the feature was not written: {} problem(s), each listed in \"problems\" as `zonetrack validate` names them",
                        list.len()
                    ),
                    "problems": list,
                });
                json_answer(StatusCode::UNPROCESSABLE_ENTITY, &body)
            }
            Refusal::NotEditable(layer) => {
                let mut resp = ApiError {
                    status: StatusCode::METHOD_NOT_ALLOWED,
                    code: "MethodNotAllowed",
                    description: format!(
                        "the collection {layer:?} is read-only here: reference layers are edited as files; zones, locations and events take writes"
                    ),
                }
                .into_response();
                resp.headers_mut().insert(
                    header::ALLOW,
                    HeaderValue::from_static("GET, HEAD, OPTIONS"),
                );
                resp
            }
        }
    }
}

fn read_only() -> ApiError {
    ApiError {
        status: StatusCode::FORBIDDEN,
        code: "ReadOnlyData",
        description: "this data set cannot be edited: it is the embedded default. Serve a data \
                      folder to edit it: `zonetrack init mydata && zonetrack serve --data mydata`"
            .into(),
    }
}

fn json_answer(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A feature's entity tag: the revision that last changed it.
pub fn feature_etag(revision: u64) -> String {
    format!("\"r{revision}\"")
}

/// The revision an `If-Match` names: `None` for `*` (any current version); a tag that is not
/// one of ours names no revision and fails the precondition.
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, Refusal> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    text.trim_start_matches("W/")
        .trim_matches('"')
        .strip_prefix('r')
        .and_then(|n| n.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            Refusal::Api(ApiError {
                status: StatusCode::PRECONDITION_FAILED,
                code: "PreconditionFailed",
                description: format!(
                    "If-Match: {:?} is not an entity tag of this server's features (they look like \"r12\"); GET the feature for its ETag",
                    crate::error::clip(text, 60)
                ),
            })
        })
}

/// The revision message: `X-Zonetrack-Message`, or one naming the client.
fn message(method: &Method, headers: &HeaderMap) -> Result<String, Refusal> {
    if let Some(v) = headers.get(MESSAGE_HEADER) {
        let text = std::str::from_utf8(v.as_bytes())
            .map_err(|_| ApiError::invalid("X-Zonetrack-Message must be UTF-8 text"))?;
        if text.chars().count() > 2000 {
            return Err(ApiError::invalid("X-Zonetrack-Message is over 2,000 characters").into());
        }
        return Ok(text.to_owned());
    }
    let client = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| crate::error::clip(s, 80))
        .unwrap_or_else(|| "an unnamed client".into());
    Ok(format!("{method} from {client}"))
}

/// Checks the body's media type. A body without one is read as JSON, as `/query/points` reads
/// it: OWSLib's `collection_item_update` sends a feature given as JSON text with no
/// Content-Type at all.
fn content_type(headers: &HeaderMap, how: ClientEdit) -> Result<(), Refusal> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let ok = ct.is_empty()
        || match how {
            ClientEdit::Patch => {
                ct.starts_with("application/merge-patch+json") || ct.starts_with("application/json")
            }
            _ => ct.starts_with("application/geo+json") || ct.starts_with("application/json"),
        };
    if ok {
        return Ok(());
    }
    let wanted = match how {
        ClientEdit::Patch => "application/merge-patch+json",
        _ => "application/geo+json",
    };
    // Name what came: OWSLib's collection_item_create labels a feature given as JSON text
    // "text/xml" (its POST default); given as a dict, it is sent as JSON.
    Err(ApiError {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        code: "UnsupportedMediaType",
        description: format!(
            "send the feature as {wanted}, not {:?} (OWSLib: pass the feature as a dict, not as JSON text)",
            crate::error::clip(&ct, 60)
        ),
    }
    .into())
}

/// The body as JSON in CRS84: a body in EPSG:4326 (`Content-Crs`) has its axes swapped.
fn body_json(headers: &HeaderMap, body: &Bytes) -> Result<Value, Refusal> {
    let mut v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("the body is not JSON: {e}")))?;
    let crs = headers
        .get("content-crs")
        .and_then(|v| v.to_str().ok())
        .map(|s| {
            s.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        });
    match crs.as_deref() {
        None | Some(CRS84) => {}
        Some(EPSG_4326) => {
            if let Some(coords) = v.get_mut("geometry").and_then(|g| g.get_mut("coordinates")) {
                swap_axes(coords);
            }
        }
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Content-Crs: {:?} is not taken; send CRS84 (<{CRS84}>, the default) or EPSG:4326 (<{EPSG_4326}>)",
                crate::error::clip(other, 80)
            ))
            .into());
        }
    }
    Ok(v)
}

fn swap_axes(v: &mut Value) {
    if let Value::Array(a) = v {
        if a.len() >= 2 && a[0].is_number() && a[1].is_number() {
            a.swap(0, 1);
        } else {
            a.iter_mut().for_each(swap_axes);
        }
    }
}

/// The collection and, when named, one of its features (by integer id or readable id).
fn find<'a>(
    snap: &'a Snapshot,
    collection: &str,
    feature: Option<&str>,
) -> Result<(&'a Layer, Option<usize>), Refusal> {
    let layer = snap.layer(collection).ok_or_else(|| {
        ApiError::not_found(format!(
            "no collection {:?}",
            crate::error::clip(collection, 80)
        ))
    })?;
    let Some(feature) = feature else {
        return Ok((layer, None));
    };
    let index = feature
        .parse::<u32>()
        .ok()
        .and_then(|fid| layer.by_fid.get(&fid))
        .or_else(|| layer.by_key.get(feature))
        .copied()
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no feature {:?} in collection {:?}",
                crate::error::clip(feature, 80),
                layer.name
            ))
        })?;
    Ok((layer, Some(index)))
}

/// Runs one edit as a revision and serves its result; the answer's feature from the new
/// snapshot.
async fn commit(
    state: &Arc<AppState>,
    edit: Edit,
    author: String,
    message: String,
) -> Result<Arc<Snapshot>, Refusal> {
    let s = state.clone();
    let snap = tokio::task::spawn_blocking(move || -> Result<Arc<Snapshot>, Refusal> {
        let history = s.store.history().ok_or(EditError::ReadOnly)?;
        // Edits and reloads swap snapshots one at a time, in the order the store applied them.
        let _writer = s.writer.lock().unwrap_or_else(|p| p.into_inner());
        let committed = history.commit(vec![edit], &author, &message)?;
        if let Some(r) = &committed.revision {
            s.replace(next_snapshot(&s.snapshot(), &committed.state));
            tracing::info!(revision = r.number, author = %r.author, changes = r.changes.len(), "revision written");
        }
        Ok(s.snapshot())
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    schedule_flush(state.clone());
    Ok(snap)
}

/// The snapshot after `current` once the store is at `state`: made from the revisions since
/// (usually the one just written; also edits to the files the store recorded before it) by
/// [`Snapshot::after`], or whole when the two do not line up.
pub(crate) fn next_snapshot(current: &Snapshot, state: &geodata::HistoryState) -> Snapshot {
    let new: Vec<&Arc<Revision>> = state
        .revisions
        .iter()
        .filter(|r| r.number > current.revision)
        .collect();
    let follows = Arc::ptr_eq(&current.data, &state.data)
        || current.revision + new.len() as u64 == state.revision();
    if !follows || new.is_empty() {
        return Snapshot::from_shared(state.data.clone()).with_history(state);
    }
    let changes: Vec<geodata::FeatureChange> =
        new.iter().flat_map(|r| r.changes.iter().cloned()).collect();
    current.after(state, &changes)
}

/// Brings the store's files up to date a little after a write (see [`FLUSH_DELAY`]); the log
/// already holds every write, so this is for people and tools reading the files.
pub fn schedule_flush(state: Arc<AppState>) {
    if state.flush_pending.swap(true, Ordering::AcqRel) {
        return;
    }
    tokio::spawn(async move {
        tokio::time::sleep(FLUSH_DELAY).await;
        state.flush_pending.store(false, Ordering::Release);
        let s = state.clone();
        let done = tokio::task::spawn_blocking(move || s.store.history().map(|h| h.flush())).await;
        match done {
            Ok(Some(Err(e))) => {
                tracing::error!(error = ?e, "writing the data files failed; the revision log has every edit")
            }
            Err(e) => tracing::error!(error = %e, "writing the data files failed"),
            _ => {}
        }
    });
}

/// A feature as the answer to a write: its export form with its ETag.
fn feature_answer(
    snap: &Snapshot,
    collection: &str,
    key: &str,
    status: StatusCode,
    base: &str,
) -> Response {
    let Some(layer) = snap.layer(collection) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let Some(&i) = layer.by_key.get(key) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let f = &layer.features[i];
    let mut resp = (status, layer.json[i].to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    if let Ok(v) = HeaderValue::from_str(&feature_etag(snap.feature_revision(collection, key))) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) =
        HeaderValue::from_str(&format!("{base}/collections/{collection}/items/{}", f.fid))
    {
        h.insert(header::LOCATION, v);
    }
    resp
}

fn editable(collection: &str) -> Result<(), Refusal> {
    if EDITABLE_LAYERS.contains(&collection) {
        Ok(())
    } else {
        Err(Refusal::NotEditable(collection.to_owned()))
    }
}

/// A write: the collection, the feature (none for a create), the headers, the body (none for a
/// delete) and how the body applies.
type WriteRequest = (
    String,
    Option<String>,
    HeaderMap,
    Option<Bytes>,
    Option<ClientEdit>,
);

async fn write(
    state: Arc<AppState>,
    method: Method,
    (collection, feature, headers, body, how): WriteRequest,
) -> Result<Response, Refusal> {
    let editor = state.editor(&headers)?;
    let snap = state.snapshot();
    let (layer, index) = match find(&snap, &collection, feature.as_deref()) {
        // A date-aware rule zone is served as its periods, not under its own id, but it is
        // the feature to write to (the periods' 409 says so): found in the stored form.
        Err(_) if stored_rule_zone(&snap, &collection, feature.as_deref()) => {
            find(&snap, &collection, None)?
        }
        found => found?,
    };
    editable(&layer.name)?;
    if state.store.history().is_none() {
        return Err(read_only().into());
    }
    let message = message(&method, &headers)?;
    let seen = if_match(&headers)?;
    let incoming = match (&body, how) {
        (Some(b), Some(how)) => {
            content_type(&headers, how)?;
            Some(body_json(&headers, b)?)
        }
        _ => None,
    };
    // A period derived from a date-aware rule is written through its rule zone.
    if let Some(i) = index
        && let Some(d) = snap
            .data
            .zones
            .iter()
            .find(|z| z.meta.id.as_str() == layer.features[i].key)
            .and_then(|z| z.derived_from.as_ref())
    {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            code: "DerivedFeature",
            description: format!(
                "this zone is one period derived from the rule zone {:?}: edit that zone (its rule or properties) instead",
                d.id.as_str()
            ),
        }
        .into());
    }
    let served = index.map(|i| layer.features[i].to_json());
    let id = match (index, &feature) {
        (Some(i), _) => Some(FeatureId::parse(&layer.features[i].key)),
        (None, Some(stored)) => Some(FeatureId::parse(stored)),
        (None, None) => None,
    }
    .transpose()
    .map_err(|e| ApiError::internal(&e))?;
    let name = layer.name.clone();
    let make: geodata::MakeFeature = match (incoming, how) {
        (Some(incoming), Some(how)) => {
            let name = name.clone();
            Box::new(move |current| {
                source_from_client(&name, current, &incoming, how, served.as_ref()).map(Some)
            })
        }
        _ => Box::new(|_| Ok(None)),
    };
    let edit = Edit {
        layer: name.clone(),
        id,
        if_match: seen,
        make,
    };
    let after = commit(&state, edit, editor.name, message).await?;
    let base = state.base_url(&headers);
    Ok(match (how, index) {
        (None, _) => StatusCode::NO_CONTENT.into_response(),
        (Some(ClientEdit::Create), _) => {
            // The new feature is the one the latest revision created in this layer.
            let key = after
                .revisions
                .last()
                .and_then(|r| {
                    r.changes
                        .iter()
                        .find(|c| c.layer == name && c.before.is_none())
                })
                .map(|c| c.id.to_string())
                .unwrap_or_default();
            feature_answer(&after, &name, &key, StatusCode::CREATED, &base)
        }
        (Some(_), Some(i)) => {
            feature_answer(&after, &name, &layer.features[i].key, StatusCode::OK, &base)
        }
        (Some(_), None) => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Whether `feature` names a zone stored with a date-aware rule, which is served as one zone
/// per period under other ids.
fn stored_rule_zone(snap: &Snapshot, collection: &str, feature: Option<&str>) -> bool {
    let Some(id) = feature else {
        return false;
    };
    collection == "zones"
        && snap
            .data
            .zones
            .iter()
            .any(|z| z.derived_from.as_ref().is_some_and(|d| d.id.as_str() == id))
}

fn done(r: Result<Response, Refusal>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

/// `POST /collections/{id}/items`: a new feature; `201` with its `Location`.
pub async fn create(
    State(state): State<Arc<AppState>>,
    Path(collection): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = (
        collection,
        None,
        headers,
        Some(body),
        Some(ClientEdit::Create),
    );
    done(write(state, Method::POST, request).await)
}

/// `PUT` (the feature anew), `PATCH` (a JSON merge patch: geometry only or properties only, as
/// QGIS sends them) and `DELETE` on `/collections/{id}/items/{featureId}`. Ending a zone on the
/// ground is an edit of its `valid_to`, not a delete: a delete says the feature should never
/// have been there.
pub async fn change(
    State(state): State<Arc<AppState>>,
    Path((collection, feature)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (body, how) = match method {
        Method::PUT => (Some(body), Some(ClientEdit::Replace)),
        Method::PATCH => (Some(body), Some(ClientEdit::Patch)),
        _ => (None, None),
    };
    let request = (collection, Some(feature), headers, body, how);
    done(write(state, method, request).await)
}

/// `OPTIONS` on `/collections/{id}/items` and `/items/{featureId}`: `Allow` lists the methods
/// this client may use. QGIS enables editing from it, sending its credentials: an editor sees
/// the writes, anyone else only the reads. Other OPTIONS requests pass through (CORS preflight).
pub async fn allow(
    State(state): State<Arc<AppState>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if req.method() != Method::OPTIONS {
        return next.run(req).await;
    }
    let path = req.uri().path().to_owned();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (collection, one) = match parts.as_slice() {
        ["collections", c, "items"] => ((*c).to_owned(), false),
        ["collections", c, "items", _] => ((*c).to_owned(), true),
        _ => return next.run(req).await,
    };
    let writes = state.snapshot().layer(&collection).is_some()
        && EDITABLE_LAYERS.contains(&collection.as_str())
        && state.store.history().is_some()
        && state.editor(req.headers()).is_ok();
    let allow = match (writes, one) {
        (true, false) => "GET, HEAD, POST, OPTIONS",
        (true, true) => "GET, HEAD, PUT, PATCH, DELETE, OPTIONS",
        (false, _) => "GET, HEAD, OPTIONS",
    };
    let mut resp = next.run(req).await;
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED || resp.status().is_success() {
        *resp.status_mut() = StatusCode::NO_CONTENT;
        *resp.body_mut() = axum::body::Body::empty();
        resp.headers_mut().remove(header::CONTENT_LENGTH);
        resp.headers_mut().remove(header::CONTENT_TYPE);
    }
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

fn revision_summary(r: &Revision, base: &str) -> Value {
    json!({
        "revision": r.number,
        "time": r.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "author": r.author,
        "message": r.message,
        "changes": r.changes.iter().map(|c| json!({
            "collection": c.layer,
            "key": c.id.as_str(),
            "id": c.id.fid(),
            "change": c.kind(),
        })).collect::<Vec<_>>(),
        "links": [{"href": format!("{base}/revisions/{}", r.number), "rel": "self", "type": "application/json"}],
    })
}

/// `GET /revisions`: newest first, `limit` (1..=1000, 50) a page, `before` a revision number to
/// continue from; optionally only those of one `collection`, and of one feature (`key`).
pub async fn revisions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(q.as_deref(), &["limit", "before", "collection", "key", "f"])?;
    let limit = match params.get("limit") {
        Some(s) => params::integer("limit", s, 1, 1000)? as usize,
        None => REVISIONS_PAGE,
    };
    let before = match params.get("before") {
        Some(s) => Some(params::integer("before", s, 1, u64::MAX)?),
        None => None,
    };
    let snap = state.snapshot();
    let base = state.base_url(&headers);
    let wanted = |r: &Revision| {
        r.changes.iter().any(|c| {
            params.get("collection").is_none_or(|l| c.layer == l)
                && params.get("key").is_none_or(|k| c.id.as_str() == k)
        })
    };
    let page: Vec<&Arc<Revision>> = snap
        .revisions
        .iter()
        .rev()
        .filter(|r| before.is_none_or(|b| r.number < b))
        .filter(|r| wanted(r))
        .take(limit + 1)
        .collect();
    let more = page.len() > limit;
    let list: Vec<Value> = page
        .iter()
        .take(limit)
        .map(|r| revision_summary(r, &base))
        .collect();
    let mut links = vec![
        json!({"href": format!("{base}/revisions"), "rel": "self", "type": "application/json"}),
    ];
    if more && let Some(last) = page.get(limit - 1) {
        let mut next = format!("{base}/revisions?limit={limit}&before={}", last.number);
        for k in ["collection", "key"] {
            if let Some(v) = params.get(k) {
                next.push_str(&format!("&{k}={}", urlencoding(v)));
            }
        }
        links.push(json!({"href": next, "rel": "next", "type": "application/json"}));
    }
    let body = json!({
        "latest": snap.revision,
        "revisions": list,
        "links": links,
    });
    Ok(json_answer(StatusCode::OK, &body))
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /revisions/{n}`: the revision with every changed feature before and after, as GeoJSON
/// in source form (rule zones carry their rule, not derived geometry).
pub async fn revision(
    State(state): State<Arc<AppState>>,
    Path(n): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    params::json_only(q.as_deref())?;
    let snap = state.snapshot();
    let r = n
        .parse::<u64>()
        .ok()
        .filter(|&n| n >= 1)
        .and_then(|n| snap.revisions.get(n as usize - 1))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no revision {:?}; the latest is {}",
                crate::error::clip(&n, 20),
                snap.revision
            ))
        })?;
    let base = state.base_url(&headers);
    let mut body = revision_summary(r, &base);
    body["changes"] = r
        .changes
        .iter()
        .map(|c| {
            json!({
                "collection": c.layer,
                "key": c.id.as_str(),
                "id": c.id.fid(),
                "change": c.kind(),
                "before": c.before,
                "after": c.after,
            })
        })
        .collect();
    Ok(json_answer(StatusCode::OK, &body))
}

/// `GET /collections/{id}/items/{featureId}/history`: every revision that changed the feature,
/// newest first, with its state after each.
pub async fn feature_history(
    State(state): State<Arc<AppState>>,
    Path((collection, feature)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let answer = || -> Result<Response, Refusal> {
        let params = params::json_only(q.as_deref())?;
        let snap = state.snapshot();
        // `as_of`: the history as it was known then.
        let upto = match params.get("as_of") {
            None => u64::MAX,
            Some(t) => t
                .parse::<u64>()
                .ok()
                .or_else(|| {
                    chrono::DateTime::parse_from_rfc3339(t).ok().map(|t| {
                        geodata::revision_at(&snap.revisions, t.with_timezone(&chrono::Utc))
                    })
                })
                .ok_or_else(|| ApiError::invalid("as_of: a revision number or an RFC 3339 time"))?,
        };
        // A deleted feature has a history too: look it up by readable id in the revisions.
        let key = match find(&snap, &collection, Some(&feature)) {
            Ok((layer, Some(i))) => layer.features[i].key.clone(),
            Ok(_) => unreachable!("a feature was named"),
            Err(e) => {
                let known = snap.revisions.iter().any(|r| {
                    r.changes
                        .iter()
                        .any(|c| c.layer == collection && c.id.as_str() == feature)
                });
                if !known {
                    return Err(e);
                }
                feature.clone()
            }
        };
        let base = state.base_url(&headers);
        let entries: Vec<Value> = snap
            .revisions
            .iter()
            .rev()
            .filter(|r| r.number <= upto)
            .filter_map(|r| {
                let c = r.changes.iter().find(|c| c.layer == collection && c.id.as_str() == key)?;
                Some(json!({
                    "revision": r.number,
                    "time": r.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "author": r.author,
                    "message": r.message,
                    "change": c.kind(),
                    "before": c.before,
                    "after": c.after,
                    "links": [{"href": format!("{base}/revisions/{}", r.number), "rel": "describedby", "type": "application/json"}],
                }))
            })
            .collect();
        let body = json!({
            "collection": collection,
            "key": key,
            "revision": snap.feature_revision(&collection, &key),
            "history": entries,
        });
        Ok(json_answer(StatusCode::OK, &body))
    };
    done(answer())
}

/// The write operations of an editable collection, added to its OpenAPI path items.
pub(crate) fn openapi_operations(id: &str, items: &mut Value, item: &mut Value) {
    let security = json!([{"bearer": []}, {"basic": []}]);
    let errors = |codes: &[&str]| -> serde_json::Map<String, Value> {
        codes
            .iter()
            .map(|c| {
                (
                    (*c).to_owned(),
                    json!({"$ref": "#/components/responses/Error"}),
                )
            })
            .collect()
    };
    let feature_body =
        |media: &str| json!({"required": true, "content": {media: {"schema": {"type": "object"}}}});
    let headers = json!([
        {"name": "If-Match", "in": "header", "required": false, "schema": {"type": "string"},
         "description": "The feature's ETag as read: a write over a newer revision is refused with 412."},
        {"name": MESSAGE_HEADER, "in": "header", "required": false, "schema": {"type": "string"},
         "description": "Why: the revision's message."},
        {"name": "Content-Crs", "in": "header", "required": false, "schema": {"type": "string"},
         "description": format!("<{CRS84}> (the default) or <{EPSG_4326}> (latitude first).")}
    ]);
    let with = |status: &str, what: &str, codes: &[&str]| {
        let mut r = errors(codes);
        r.insert(status.into(), json!({"description": what}));
        Value::Object(r)
    };
    items["post"] = json!({
        "summary": format!("Add a feature to {id} (an editor's token needed)"),
        "operationId": format!("createFeature_{id}"),
        "description": "A GeoJSON Feature, as read from this server or in source form (geodata/FORMAT.md). It is validated as the loader validates a data file; `201` with `Location`, or `422` listing every problem.",
        "security": security,
        "parameters": headers,
        "requestBody": feature_body("application/geo+json"),
        "responses": with("201", "Created: `Location` names the new feature", &["400", "401", "403", "409", "415", "422"]),
    });
    // PUT and PATCH differ only in their words and the body's media type.
    let change = |operation: &str, summary: String, media: &str, done: &str| {
        json!({
            "summary": summary,
            "operationId": format!("{operation}_{id}"),
            "security": security,
            "parameters": [{"$ref": "#/components/parameters/featureId"}, headers[0], headers[1], headers[2]],
            "requestBody": feature_body(media),
            "responses": with("200", done, &["400", "401", "403", "404", "412", "415", "422"]),
        })
    };
    item["put"] = change(
        "replaceFeature",
        format!("Replace a feature of {id}"),
        "application/geo+json",
        "Replaced",
    );
    item["patch"] = change(
        "updateFeature",
        format!("Change part of a feature of {id} (JSON merge patch, RFC 7396)"),
        "application/merge-patch+json",
        "Updated",
    );
    item["delete"] = json!({
        "summary": format!("Delete a feature of {id} (to end a zone on the ground, set its valid_to instead)"),
        "operationId": format!("deleteFeature_{id}"),
        "security": security,
        "parameters": [{"$ref": "#/components/parameters/featureId"}, headers[0], headers[1]],
        "responses": with("204", "Deleted", &["401", "403", "404", "412"]),
    });
}

/// The history's paths in the OpenAPI document.
pub(crate) fn openapi_paths() -> Vec<(String, Value)> {
    let ok = |what: &str| json!({"200": {"description": what, "content": {"application/json": {"schema": {"type": "object"}}}}, "404": {"$ref": "#/components/responses/Error"}});
    vec![
        (
            "/revisions".into(),
            json!({"get": {
            "summary": "Revisions, newest first: who changed what, when and why",
            "operationId": "getRevisions",
            "parameters": [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": REVISIONS_PAGE}},
                {"name": "before", "in": "query", "description": "Continue below this revision number.", "schema": {"type": "integer", "minimum": 1}},
                {"name": "collection", "in": "query", "schema": {"type": "string"}},
                {"name": "key", "in": "query", "description": "Only revisions that changed this feature (readable id).", "schema": {"type": "string"}}
            ],
            "responses": ok("A page of revisions")}}),
        ),
        (
            "/revisions/{n}".into(),
            json!({"get": {
            "summary": "One revision, each changed feature before and after (GeoJSON, source form)",
            "operationId": "getRevision",
            "parameters": [{"name": "n", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}}],
            "responses": ok("The revision")}}),
        ),
        (
            "/collections/{collectionId}/items/{featureId}/history".into(),
            json!({"get": {
            "summary": "Every revision that changed a feature, newest first",
            "operationId": "getFeatureHistory",
            "parameters": [
                {"name": "collectionId", "in": "path", "required": true, "schema": {"type": "string"}},
                {"$ref": "#/components/parameters/featureId"}
            ],
            "responses": ok("The feature's history")}}),
        ),
    ]
}
