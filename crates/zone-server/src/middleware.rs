//! The middleware every answer passes: the request cap and timeout ([`cap`]), JSON errors for
//! what axum answers itself ([`json_errors`]), strong ETags and the per-version answer cache
//! ([`etag`]), and the marker that keeps per-request answers out of the cache and compresses them
//! at the fastest level ([`per_request`]).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::compression::predicate::Predicate;

use crate::error::{self, ApiError};
use crate::{AppState, query, snapshot};

/// Requests that do work per request, at most [`Config::max_concurrent_requests`] at once
/// (more get an immediate 503 rather than a queue without bound), each within
/// [`Config::request_timeout`] (503 after). `/health` and the map's files are outside the cap:
/// readiness must answer while the server is busy, which is when a load balancer asks, and a
/// file costs nothing to send. One semaphore for the whole server, taken here rather than by
/// tower's limit layers (four layers a request where one does).
pub(crate) async fn cap(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
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

/// A response extension marking an answer built per request and never kept (the query API: one
/// per point or date), as opposed to pages, exports and files, kept per data version by
/// [`etag`]. Routes say so where they are declared ([`per_request`]).
#[derive(Clone, Copy)]
pub(crate) struct PerRequestAnswer;

/// The layer a route declares itself per request with.
pub(crate) fn per_request() -> tower::util::MapResponseLayer<fn(Response) -> Response> {
    fn mark(mut resp: Response) -> Response {
        resp.extensions_mut().insert(PerRequestAnswer);
        resp
    }
    tower::util::MapResponseLayer::new(mark as fn(Response) -> Response)
}

/// Compress only answers that are (`true`) or are not (`false`) per request.
#[derive(Clone, Copy)]
pub(crate) struct PerRequest(pub(crate) bool);

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
pub(crate) async fn json_errors(req: Request, next: Next) -> Response {
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

/// What an answer to a GET depends on besides the data version: the URI, the representation
/// asked for, the encoding accepted, and the host, origin and forwarding headers that go into
/// its links and CORS headers. Each part is length-prefixed, so no two requests share a key.
pub(crate) fn request_key(version: &str, req: &Request) -> Box<[u8]> {
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
pub(crate) async fn etag(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
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
    let asked: Vec<String> = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|list| list.split(',').map(|t| t.trim().to_owned()).collect())
        .unwrap_or_default();
    for t in &asked {
        names_tag |= *t == tag;
        any |= t == "*";
    }
    // A tag we issued names an answer that exists for this very request.
    if names_tag {
        return not_modified(&tag);
    }
    let is_get = req.method() == Method::GET;
    // Per-request answers are never stored, so a lookup for one finds nothing.
    if is_get && let Some(hit) = snap.responses.get(&key) {
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
    let cacheable = is_get && resp.extensions().get::<PerRequestAnswer>().is_none();
    // The handler loaded the current snapshot itself, between the tag's and this line. Snapshots
    // are never stored twice, so if the current one is still the tag's, no reload came in
    // between and the body is the tag's version; otherwise it may not be: no tag, not kept.
    let same_version = Arc::ptr_eq(&snap, &state.snapshot());
    if !resp.status().is_success() || !same_version {
        return resp;
    }
    // A handler may tag its answer itself (a feature's tag is its revision, what `If-Match`
    // on a write compares with): that tag stands, and answers `If-None-Match`.
    let own = resp
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let tag = own.unwrap_or(tag);
    if any || asked.contains(&tag) {
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
