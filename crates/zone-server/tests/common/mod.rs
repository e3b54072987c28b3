//! What the in-process HTTP tests share: a request builder, a whole answer with its body read,
//! and a blocking sender for property tests (proptest bodies are not async).

#![allow(
    dead_code,
    reason = "each test binary compiles this module and uses its own part of it"
)]

use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;
use zone_server::{AppState, app};

/// A whole answer: status, headers and body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON; a test failure naming the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The body as JSON, or `null` when it is empty (a 204).
    pub fn json_or_null(&self) -> Value {
        if self.body.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value; empty when it is missing or not text.
    pub fn header(&self, name: impl header::AsHeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Every value of a header, in order.
    pub fn header_all(&self, name: impl header::AsHeaderName) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }
}

/// The conformance classes a `/conformance` document lists.
pub fn conformance_classes(doc: &Value) -> Vec<&str> {
    let classes = doc["conformsTo"].as_array().expect("conformsTo is a list");
    classes.iter().filter_map(Value::as_str).collect()
}

/// A request with these headers (lower-case names) and body.
pub fn req(
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Request<Body> {
    let mut r = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        r = r.header(*name, *value);
    }
    r.body(body.into()).expect("a valid request")
}

/// A whole response, its body read.
pub async fn answer(resp: axum::response::Response) -> Answer {
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

/// What the router answers to `req`.
pub async fn send(state: &Arc<AppState>, req: Request<Body>) -> Answer {
    answer(
        app(state.clone())
            .oneshot(req)
            .await
            .expect("the router is infallible"),
    )
    .await
}

/// A GET request with these headers only.
pub async fn get_with(state: &Arc<AppState>, uri: &str, headers: &[(&str, &str)]) -> Answer {
    send(state, req("GET", uri, headers, Body::empty())).await
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
});

/// [`send`] from synchronous code (a property test's body).
pub fn send_blocking(state: &Arc<AppState>, req: Request<Body>) -> Answer {
    RUNTIME.block_on(send(state, req))
}

/// Runs a future to its end from synchronous code.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    RUNTIME.block_on(f)
}
