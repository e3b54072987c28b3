//! The map page and its static files, embedded from `web/public/` at build time.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// The map's policy: our own scripts and styles only, plus the optional tile host.
const MAP_POLICY: &str = "default-src 'self'; img-src 'self' data: https://tile.openstreetmap.org; \
     style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'self'; frame-ancestors 'none'";

/// A generated page with no script (`/api.html`): nothing may load or run; its one inline style
/// block is allowed.
const DOCUMENT_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Security headers for an HTML page under `policy`.
fn secure(resp: &mut Response, policy: &'static str) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn html_headers(resp: &mut Response) {
    secure(resp, MAP_POLICY);
}

/// Security headers for a generated page with no script (`/api.html`).
pub fn document_headers(resp: &mut Response) {
    secure(resp, DOCUMENT_POLICY);
}

/// The map page (`index.html`).
pub fn index() -> Response {
    let body = ASSETS
        .iter()
        .find(|(p, _)| *p == "index.html")
        .map(|(_, b)| *b)
        .unwrap_or(b"<!doctype html><title>zonetrack</title><p>The map page was not built into this binary.");
    let mut resp = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    html_headers(&mut resp);
    resp
}

/// `GET /static/{path}`: one embedded file. Only names in the embedded list are served, so no
/// path (`..`, encoded slashes) can reach anything else.
pub async fn asset(Path(path): Path<String>) -> Result<Response, ApiError> {
    let (name, bytes) = ASSETS
        .iter()
        .find(|(p, _)| *p == path)
        .ok_or_else(|| ApiError::not_found("no such static file"))?;
    let mut resp = ([(header::CONTENT_TYPE, content_type(name))], *bytes).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if name.ends_with(".html") {
        html_headers(&mut resp);
    }
    Ok(resp)
}
