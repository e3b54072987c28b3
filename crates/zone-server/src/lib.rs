//! zonetrack's HTTP service as a library: [`app`] builds the axum router over an [`AppState`]
//! that holds the current [`Snapshot`] (dataset + prepared layers + version) behind an atomic
//! swap, so a reload never blocks or breaks a request in flight.
//!
//! Surfaces: OGC API - Features Parts 1, 2 and 3 (Core, GeoJSON, OpenAPI 3.0; CRS; CQL2
//! filters) for QGIS and GDAL, exports
//! in every format of `zone-formats`, the query API and the map page. The routes are declared
//! here, each with what it needs (the request cap, a per-request mark); the middleware is in
//! `middleware`, the state and settings in `state`, the connection limits in [`serve`].

pub mod auth;
pub mod body;
mod crs;
mod error;
mod export;
mod filter;
mod map;
mod middleware;
mod oapif;
mod openapi;
pub mod params;
mod query;
pub mod reload;
mod responses;
pub mod serve;
mod snapshot;
mod state;
pub mod tiles;
mod web;
pub(crate) mod write;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate as _};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

pub use auth::{Editor, Editors};
pub use error::{ApiError, ApiResult};
pub use query::{MAX_BATCH_ERRORS, MAX_BATCH_POINTS, MAX_BODY_BYTES};
pub use snapshot::{Layer, Snapshot};
pub use state::{AppState, Config, Cors};

use crate::middleware::{PerRequest, per_request};

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
        c.allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
            header::IF_MATCH,
            header::AUTHORIZATION,
            header::HeaderName::from_static("content-crs"),
            header::HeaderName::from_static(write::MESSAGE_HEADER),
        ])
        .expose_headers([header::ETAG, header::LOCATION])
    });
    let router = Router::new()
        .route("/", get(oapif::landing))
        .route("/health", get(responses::health))
        .route("/status", get(responses::health))
        .route("/conformance", get(oapif::conformance))
        .route("/api", get(openapi::document))
        .route("/api.html", get(openapi::page))
        .route("/collections", get(oapif::collections))
        .route("/collections/{collection}", get(oapif::collection))
        .route(
            "/collections/{collection}/items",
            get(oapif::items).post(write::create),
        )
        .route(
            "/collections/{collection}/queryables",
            get(oapif::queryables),
        )
        .route(
            "/collections/{collection}/items/{feature}",
            get(oapif::item)
                .put(write::change)
                .patch(write::change)
                .delete(write::change),
        )
        .route(
            "/collections/{collection}/items/{feature}/history",
            get(write::feature_history).layer(per_request()),
        )
        .route("/revisions", get(write::revisions).layer(per_request()))
        .route("/revisions/{n}", get(write::revision))
        .route("/export/{file}", get(export::export))
        .route("/map/{collection}", get(map::layer))
        .route("/tiles/{collection}/{z}/{x}/{y}", get(tiles::tile))
        .route("/actors", get(query::actors))
        .route("/query/point", get(query::point).layer(per_request()))
        .route(
            "/query/points",
            axum::routing::post(query::points)
                // A Content-Length over the limit is refused at once: without this, a client
                // announcing 1 GB and sending a few bytes held a request slot until the timeout.
                .layer::<_, std::convert::Infallible>(
                    tower_http::limit::RequestBodyLimitLayer::new(query::MAX_BODY_BYTES),
                )
                .layer(per_request()),
        )
        .route("/query/timeline", get(query::timeline).layer(per_request()))
        .route("/query/changes", get(query::changes).layer(per_request()))
        .route("/static/{*path}", get(web::asset))
        .fallback(responses::not_found)
        // Writes take whole features; batches have their own limit (set on their route).
        .layer(axum::extract::DefaultBodyLimit::max(write::MAX_WRITE_BYTES))
        .layer(axum::middleware::from_fn(middleware::json_errors))
        .with_state(state.clone());
    let router = match cors {
        Some(c) => router.layer(c),
        None => router,
    };
    // OPTIONS says which methods a client may use (QGIS enables editing from it). The CORS
    // layer answers every OPTIONS as a preflight, so `Allow` is added around it.
    let router = router.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        write::allow,
    ));
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
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::cap,
        ))
        .layer(per_request)
        .layer(kept)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::etag,
        ))
        .layer(TraceLayer::new_for_http())
}

/// OpenAPI path items of the query API, added to the document beside OGC API's.
fn extra_paths() -> Vec<(String, serde_json::Value)> {
    query::openapi_paths()
}
