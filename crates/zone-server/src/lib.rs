//! zonetrack's HTTP service as a library: [`app`] builds the axum router over an [`AppState`]
//! that holds the current [`Snapshot`] (dataset + prepared layers + version) behind an atomic
//! swap, so a reload never blocks or breaks a request in flight.
//!
//! Surfaces: OGC API - Features Part 1 (Core, GeoJSON, OpenAPI 3.0) for QGIS and GDAL, exports
//! (GeoJSON, FlatGeobuf, CSV, QGIS styles) and the map page.

pub mod body;
mod error;
mod export;
mod map;
mod oapif;
mod openapi;
pub mod params;
mod query;
pub mod reload;
pub mod serve;
mod snapshot;
mod web;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ApiResult};
pub use query::{MAX_BATCH_ERRORS, MAX_BATCH_POINTS, MAX_BODY_BYTES};
pub use snapshot::{Layer, Snapshot};

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
        }
    }
}

/// What every handler shares: the current snapshot (swapped atomically on reload) and the
/// configuration.
pub struct AppState {
    current: ArcSwap<Snapshot>,
    status: ArcSwap<reload::LoadStatus>,
    /// Slots for requests being handled (see [`Config::max_concurrent_requests`]).
    request_slots: Arc<tokio::sync::Semaphore>,
    /// Slots for batches being parsed and answered (see [`Config::max_concurrent_batches`]).
    batch_slots: Arc<tokio::sync::Semaphore>,
    /// Batch body bytes, in KiB (see [`Config::batch_body_budget`]).
    body_budget: Arc<tokio::sync::Semaphore>,
    /// Settings.
    pub config: Config,
}

impl AppState {
    /// State serving `snapshot`.
    pub fn new(snapshot: Snapshot, config: Config) -> Arc<Self> {
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
        })
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
        self.current.store(Arc::new(snapshot));
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

/// The whole HTTP application.
pub fn app(state: Arc<AppState>) -> Router {
    let cors = match &state.config.cors {
        Cors::Any => Some(CorsLayer::new().allow_origin(AllowOrigin::any())),
        Cors::Origins(list) => Some(
            CorsLayer::new().allow_origin(
                list.iter()
                    .filter_map(|o| HeaderValue::from_str(o).ok())
                    .collect::<Vec<_>>(),
            ),
        ),
        Cors::Off => None,
    }
    .map(|c| {
        c.allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
            .allow_headers([header::CONTENT_TYPE, header::IF_NONE_MATCH])
            .expose_headers([header::ETAG])
    });
    let router = Router::new()
        .route("/", get(oapif::landing))
        .route("/health", get(health))
        .route("/status", get(health))
        .route("/conformance", get(oapif::conformance))
        .route("/api", get(openapi::document))
        .route("/api.html", get(openapi::page))
        .route("/collections", get(oapif::collections))
        .route("/collections/{collection}", get(oapif::collection))
        .route("/collections/{collection}/items", get(oapif::items))
        .route(
            "/collections/{collection}/items/{feature}",
            get(oapif::item),
        )
        .route("/export/{file}", get(export::export))
        .route("/map/{collection}", get(map::layer))
        .route("/actors", get(query::actors))
        .route("/query/point", get(query::point))
        .route(
            "/query/points",
            axum::routing::post(query::points)
                // A Content-Length over the limit is refused at once: without this, a client
                // announcing 1 GB and sending a few bytes held a request slot until the timeout.
                .layer(tower_http::limit::RequestBodyLimitLayer::new(
                    query::MAX_BODY_BYTES,
                )),
        )
        .route("/query/timeline", get(query::timeline))
        .route("/query/changes", get(query::changes))
        .route("/static/{*path}", get(web::asset))
        .fallback(not_found)
        .layer(middleware::from_fn(json_errors))
        .with_state(state.clone());
    let router = match cors {
        Some(c) => router.layer(c),
        None => router,
    };
    // Pages, exports and files are compressed once per data version (then kept, see `etag`):
    // the default level (gzip 6, brotli 4; ~6 ms per 130 KB page) makes them ~25% smaller than
    // the fastest. Query answers are compressed per request, so at the fastest level.
    let per_request = CompressionLayer::new()
        .quality(tower_http::CompressionLevel::Fastest)
        .compress_when(DefaultPredicate::new().and(PerRequest(true)));
    let kept = CompressionLayer::new()
        .quality(tower_http::CompressionLevel::Default)
        .compress_when(DefaultPredicate::new().and(PerRequest(false)));
    // Outermost first. Each layer is applied once to the whole router, after `with_state`
    // (layers added in other orders were rebuilt for every request: 17% more instructions).
    router
        .layer(middleware::from_fn_with_state(state.clone(), cap))
        .layer(middleware::from_fn(mark_per_request))
        .layer(per_request)
        .layer(kept)
        .layer(middleware::from_fn_with_state(state.clone(), etag))
        .layer(TraceLayer::new_for_http())
}

/// Requests that do work per request, at most [`Config::max_concurrent_requests`] at once
/// (more get an immediate 503 rather than a queue without bound), each within
/// [`Config::request_timeout`] (503 after). `/health` and the map's files are outside the cap:
/// readiness must answer while the server is busy, which is when a load balancer asks, and a
/// file costs nothing to send. One semaphore for the whole server, taken here rather than by
/// tower's limit layers (four layers a request where one does).
async fn cap(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if matches!(path, "/health" | "/status") || path.starts_with("/static/") {
        return next.run(req).await;
    }
    let Ok(_slot) = state.request_slots.clone().try_acquire_owned() else {
        return ApiError::overloaded(
            "the server is answering as many requests as it can; retry shortly",
        )
        .into_response();
    };
    match tokio::time::timeout(state.config.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "Timeout",
            description:
                "the request took too long and was stopped; ask for less (a smaller batch or page)"
                    .into(),
        }
        .into_response(),
    }
}

/// Answers built per request and never kept (the query API: one per point or date), as opposed
/// to pages, exports and files, kept per data version by [`etag`].
fn is_per_request(path: &str) -> bool {
    path.starts_with("/query/")
}

/// A response extension marking a per-request answer, for the compression layers.
#[derive(Clone, Copy)]
struct PerRequestAnswer;

async fn mark_per_request(req: Request, next: Next) -> Response {
    let per_request = is_per_request(req.uri().path());
    let mut resp = next.run(req).await;
    if per_request {
        resp.extensions_mut().insert(PerRequestAnswer);
    }
    resp
}

/// Compress only answers that are (`true`) or are not (`false`) per request.
#[derive(Clone, Copy)]
struct PerRequest(bool);

impl Predicate for PerRequest {
    fn should_compress<B>(&self, response: &axum::http::Response<B>) -> bool
    where
        B: axum::body::HttpBody,
    {
        response.extensions().get::<PerRequestAnswer>().is_some() == self.0
    }
}

/// Errors axum answers itself come as plain text or nothing: a path segment that is not UTF-8
/// (400), a method a route does not have (405), a body over the limit (413). Every error is JSON
/// `{"code", "description"}`, so those are rewritten (headers such as `Allow` kept).
async fn json_errors(req: Request, next: Next) -> Response {
    if let Some(refused) = refuse_request_encoding(&req) {
        return refused;
    }
    let method = req.method().clone();
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .filter(|t| !t.is_empty());
    let code = match status {
        StatusCode::NOT_FOUND => "NotFound",
        StatusCode::METHOD_NOT_ALLOWED => "MethodNotAllowed",
        StatusCode::PAYLOAD_TOO_LARGE => "PayloadTooLarge",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UnsupportedMediaType",
        s if s.is_server_error() => "ServerError",
        _ => "InvalidParameterValue",
    };
    let description = match status {
        // axum adds the `Allow` header once this returns.
        StatusCode::METHOD_NOT_ALLOWED => format!(
            "{method} is not allowed here; the Allow header lists the methods this resource takes"
        ),
        StatusCode::PAYLOAD_TOO_LARGE => format!(
            "the request body is over the {} MiB limit; split the batch",
            query::MAX_BODY_BYTES >> 20
        ),
        _ => text.unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("the request was refused")
                .to_owned()
        }),
    };
    let mut out = ApiError {
        status,
        code,
        description,
    }
    .into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().append(name, value.clone());
        }
    }
    out
}

async fn not_found(req: Request) -> ApiError {
    let path: String = req.uri().path().chars().take(200).collect();
    ApiError::not_found(format!(
        "no such resource: {path}; start at / for the links"
    ))
}

/// `GET /health` (and `/status`): ready, which data is served, and the last load's outcome
/// (a refused reload still answers 200: the server is serving its last good data).
async fn health(State(state): State<Arc<AppState>>) -> Response {
    let snap = state.snapshot();
    let body = serde_json::json!({
        "status": "ok",
        "data_version": snap.version,
        "loaded_at": snap.loaded_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "zones": snap.data.zones.len(),
        "locations": snap.data.locations.len(),
        "events": snap.data.events.len(),
        "last_load": state.status().to_json(),
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

/// What an answer to a GET depends on besides the data version: the URI, the representation
/// asked for, the encoding accepted, and the host, origin and forwarding headers that go into
/// its links and CORS headers. Each part is length-prefixed, so no two requests share a key.
fn request_key(version: &str, req: &Request) -> Box<[u8]> {
    let mut key = Vec::with_capacity(256);
    let mut part = |bytes: Option<&[u8]>| match bytes {
        None => key.push(0),
        Some(b) => {
            key.push(1);
            key.extend_from_slice(&(b.len() as u64).to_le_bytes());
            key.extend_from_slice(b);
        }
    };
    part(Some(version.as_bytes()));
    part(Some(req.uri().path().as_bytes()));
    part(req.uri().query().map(str::as_bytes));
    for name in [
        header::ACCEPT,
        header::ACCEPT_ENCODING,
        header::HOST,
        header::ORIGIN,
    ] {
        part(req.headers().get(&name).map(HeaderValue::as_bytes));
    }
    for name in ["x-forwarded-host", "x-forwarded-proto"] {
        part(req.headers().get(name).map(HeaderValue::as_bytes));
    }
    key.into_boxed_slice()
}

/// A 304 carrying `tag`.
fn not_modified(tag: &str) -> Response {
    let mut resp = StatusCode::NOT_MODIFIED.into_response();
    if let Ok(v) = HeaderValue::from_str(tag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

/// Strong ETags and the answer cache. An answer is a function of the data version and the
/// request's key ([`request_key`]), so the tag is a hash of that, computed before the handler
/// runs: a matching `If-None-Match` gets a 304 without building the body, and a GET for a page,
/// an export, a map layer or a file is answered from the snapshot's cache when the same request
/// (the whole key compared, not its hash) was answered before, as sent: compressed, with its
/// headers. Point queries are not kept: there are as many as there are points, and answering
/// one costs less than keeping it.
///
/// `If-None-Match: *` matches only a resource that exists (RFC 9110 §13.1.2): the answer is
/// found first, and only a success becomes a 304.
///
/// Runs outside the compression layer, so a cached page is compressed once, not per request.
async fn etag(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD)
        || matches!(req.uri().path(), "/health" | "/status")
    {
        return not_acceptable_as_json(next.run(req).await);
    }
    let snap = state.snapshot();
    let key = request_key(&snap.version, &req);
    let hash = {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        key.hash(&mut h);
        h.finish()
    };
    // HEAD and GET share a tag (the same answer, with or without its body); only GETs are
    // kept in the cache.
    let tag = format!("\"{}-{:016x}\"", snap.version, hash);
    let (mut names_tag, mut any) = (false, false);
    if let Some(list) = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        for t in list.split(',').map(str::trim) {
            names_tag |= t == tag;
            any |= t == "*";
        }
    }
    // A tag we issued names an answer that exists for this very request.
    if names_tag {
        return not_modified(&tag);
    }
    let cacheable = req.method() == Method::GET && !is_per_request(req.uri().path());
    if cacheable && let Some(hit) = snap.responses.get(&key) {
        if any {
            return not_modified(&tag);
        }
        let mut resp = Response::new(axum::body::Body::from(hit.body.clone()));
        *resp.status_mut() = hit.status;
        *resp.headers_mut() = hit.headers.clone();
        resp.headers_mut()
            .insert("x-cache", HeaderValue::from_static("hit"));
        return resp;
    }
    let mut resp = not_acceptable_as_json(next.run(req).await);
    // The handler loaded the current snapshot itself, between the tag's and this line. Snapshots
    // are never stored twice, so if the current one is still the tag's, no reload came in
    // between and the body is the tag's version; otherwise it may not be: no tag, not kept.
    let same_version = Arc::ptr_eq(&snap, &state.snapshot());
    if !resp.status().is_success() || !same_version {
        return resp;
    }
    if any {
        return not_modified(&tag);
    }
    if let Ok(v) = HeaderValue::from_str(&tag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp.headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-cache"));
    if !(cacheable && resp.status() == StatusCode::OK) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // Every kept answer is built in memory, so collecting it costs a copy at most; the bound
    // only guards against a bug turning into an unbounded buffer.
    let bytes = match axum::body::to_bytes(body, 256 << 20).await {
        Ok(b) => b,
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    // The whole body is known now: say its length rather than stream it chunked.
    parts.headers.remove(header::TRANSFER_ENCODING);
    if bytes.len() <= snapshot::CACHE_MAX_BODY {
        snap.responses.insert(
            key,
            Arc::new(snapshot::CachedResponse {
                status: parts.status,
                headers: parts.headers.clone(),
                body: bytes.clone(),
            }),
        );
    }
    parts
        .headers
        .insert("x-cache", HeaderValue::from_static("miss"));
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// A request body we cannot read: every body here is plain (CSV, JSON), and a compressed one
/// was read as if it were, giving nonsense errors. RFC 9110 §15.5.16: 415, and `Accept-Encoding`
/// says what is taken.
fn refuse_request_encoding(req: &Request) -> Option<Response> {
    use http_body::Body as _;
    // A request without a body (a GET) has nothing encoded, whatever its headers say.
    let has_body = req.body().size_hint().exact() != Some(0);
    let encoded = has_body
        && req
            .headers()
            .get_all(header::CONTENT_ENCODING)
            .iter()
            .flat_map(|v| v.to_str().unwrap_or("?").split(','))
            .map(str::trim)
            .any(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"));
    if !encoded {
        return None;
    }
    let mut resp = ApiError {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        code: "UnsupportedMediaType",
        description:
            "request bodies are taken uncompressed; send the body without Content-Encoding".into(),
    }
    .into_response();
    resp.headers_mut().insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    Some(resp)
}

/// The compression layer answers 406 when a client refuses every encoding, identity included
/// (`Accept-Encoding: *;q=0`), but keeps the page it would have sent; errors are JSON.
fn not_acceptable_as_json(resp: Response) -> Response {
    if resp.status() != StatusCode::NOT_ACCEPTABLE
        || resp.extensions().get::<error::JsonError>().is_some()
    {
        return resp;
    }
    ApiError {
        status: StatusCode::NOT_ACCEPTABLE,
        code: "NotAcceptable",
        description: "no acceptable content coding: accept identity, gzip or br".into(),
    }
    .into_response()
}

/// OpenAPI path items of the query API, added to the document beside OGC API's.
fn extra_paths() -> Vec<(String, serde_json::Value)> {
    query::openapi_paths()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = axum::http::Request::get(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(axum::body::Body::empty()).expect("a request")
    }

    #[test]
    fn request_keys_tell_apart_what_plain_concatenation_would_not() {
        // Regression (issue 10): the cache was keyed by a 64-bit hash alone; the whole key is
        // compared now, and its parts are delimited so no two requests share one.
        let key = |uri: &str, headers: &[(&str, &str)]| request_key("v1", &req(uri, headers));
        let distinct = [
            key("/a?b", &[]),
            key("/a?", &[]),
            key("/a", &[]),
            key("/a?b", &[("accept", "")]),
            key("/a?b", &[("host", "x")]),
            key("/a?b", &[("x-forwarded-host", "x")]),
            key("/a?b", &[("origin", "x")]),
            key("/a?b", &[("accept-encoding", "gzip")]),
        ];
        for (i, a) in distinct.iter().enumerate() {
            for b in &distinct[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(key("/a?b", &[("host", "x")]), key("/a?b", &[("host", "x")]));
        assert_ne!(
            request_key("v1", &req("/a", &[])),
            request_key("v2", &req("/a", &[]))
        );
    }
}
