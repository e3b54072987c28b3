//! In-process tests of every endpoint on `app()`: OGC API - Features as QGIS and GDAL read it,
//! every error class, paging to the last page, datetime forms, ETag/304, exports.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::http::{StatusCode, header};
use geodata::Dataset;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use zone_server::{AppState, Config, Snapshot, app};

mod common;
use common::{Answer, answer, get_with, req, send};

static DATA: LazyLock<Dataset> = LazyLock::new(Dataset::embedded);

fn state_with(config: Config) -> Arc<AppState> {
    AppState::new(Snapshot::new(DATA.clone()), config)
}

/// A server that answers one request at a time.
fn state_at_cap_one() -> Arc<AppState> {
    state_with(Config {
        max_concurrent_requests: 1,
        ..Config::default()
    })
}

fn state() -> Arc<AppState> {
    state_with(Config::default())
}

async fn get(state: &Arc<AppState>, uri: &str) -> Answer {
    get_with(
        state,
        uri,
        &[("host", "zt.test:8080"), ("accept", "application/json")],
    )
    .await
}

fn link<'a>(doc: &'a Value, rel: &str) -> Option<&'a Value> {
    doc["links"].as_array()?.iter().find(|l| l["rel"] == rel)
}

#[tokio::test]
async fn the_landing_page_has_the_absolute_links_qgis_needs() {
    let s = state();
    let a = get(&s, "/").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header(header::CONTENT_TYPE), "application/json");
    let doc = a.json();
    let desc = link(&doc, "service-desc").unwrap();
    assert_eq!(desc["type"], "application/vnd.oai.openapi+json;version=3.0");
    assert_eq!(desc["href"], "http://zt.test:8080/api");
    assert_eq!(
        link(&doc, "data").unwrap()["href"],
        "http://zt.test:8080/collections"
    );
    assert_eq!(link(&doc, "data").unwrap()["type"], "application/json");
    assert!(link(&doc, "conformance").is_some());
    assert!(link(&doc, "service-doc").is_some());
}

#[tokio::test]
async fn a_browser_gets_the_map_and_any_other_client_gets_json() {
    let s = state();
    let browser = [("accept", "text/html,application/xhtml+xml,*/*;q=0.8")];
    let html = get_with(&s, "/", &browser).await;
    assert!(html.header(header::CONTENT_TYPE).starts_with("text/html"));
    assert!(
        html.header(header::CONTENT_SECURITY_POLICY)
            .contains("default-src 'self'")
    );
    assert_eq!(html.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    let any = get_with(&s, "/", &[("accept", "*/*")]).await;
    assert_eq!(any.header(header::CONTENT_TYPE), "application/json");
    let none = get_with(&s, "/", &[]).await;
    assert_eq!(none.header(header::CONTENT_TYPE), "application/json");
    let forced = get_with(&s, "/?f=json", &[("accept", "text/html")]).await;
    assert_eq!(forced.header(header::CONTENT_TYPE), "application/json");
    let forced = get(&s, "/?f=html").await;
    assert!(forced.header(header::CONTENT_TYPE).starts_with("text/html"));
    assert_eq!(get(&s, "/?f=xml").await.status, 400);
    // JSON-only resources say so rather than answer JSON to a client that asked otherwise.
    for uri in [
        "/conformance",
        "/collections",
        "/collections/zones",
        "/api",
        "/actors",
    ] {
        assert_eq!(get(&s, &format!("{uri}?f=json")).await.status, 200, "{uri}");
        let bad = get(&s, &format!("{uri}?f=xxxx")).await;
        assert_eq!(bad.status, 400, "{uri}");
        assert_eq!(bad.json()["code"], "InvalidParameterValue", "{uri}");
        assert!(
            bad.json()["description"]
                .as_str()
                .unwrap()
                .contains("JSON only")
        );
    }
}

#[tokio::test]
async fn links_follow_a_proxy_and_a_configured_public_url() {
    let s = state();
    let proxied = [
        ("host", "10.0.0.5:8080"),
        ("x-forwarded-host", "maps.example.org"),
        ("x-forwarded-proto", "https"),
    ];
    let a = get_with(&s, "/", &proxied).await;
    assert_eq!(
        link(&a.json(), "data").unwrap()["href"],
        "https://maps.example.org/collections"
    );
    let script = [("x-forwarded-host", "a\"><script>"), ("host", "ok.test")];
    let evil = get_with(&s, "/", &script).await;
    assert_eq!(
        link(&evil.json(), "data").unwrap()["href"],
        "http://ok.test/collections"
    );
    let s = state_with(Config {
        public_url: Some("https://example.org/zt/".into()),
        ..Config::default()
    });
    let a = get(&s, "/collections").await;
    let zones = &a.json()["collections"][0];
    assert_eq!(
        link(zones, "items").unwrap()["href"],
        "https://example.org/zt/collections/zones/items"
    );
}

#[tokio::test]
async fn conformance_lists_core_geojson_and_openapi() {
    let doc = get(&state(), "/conformance").await.json();
    let classes = common::conformance_classes(&doc);
    for c in ["conf/core", "conf/geojson", "conf/oas30"] {
        assert!(classes.iter().any(|x| x.ends_with(c)), "{c}");
    }
}

#[tokio::test]
async fn every_layer_is_a_collection_with_extent_crs_and_count() {
    let s = state();
    let doc = get(&s, "/collections").await.json();
    let ids: Vec<&str> = e2e::strs(&doc["collections"], "id");
    assert_eq!(
        ids,
        DATA.catalog().into_iter().map(|l| l.id).collect::<Vec<_>>()
    );
    let zones = get(&s, "/collections/zones").await.json();
    assert_eq!(zones["itemType"], "feature");
    assert_eq!(
        zones["crs"][0],
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    );
    assert_eq!(zones["itemCount"], DATA.zones.len());
    let bbox = zones["extent"]["spatial"]["bbox"][0].as_array().unwrap();
    assert_eq!(bbox.len(), 4);
    assert!(bbox[0].as_f64().unwrap() > 35.0 && bbox[2].as_f64().unwrap() < 43.0);
    assert!(zones["extent"]["temporal"]["interval"][0].is_array());
    for id in &ids {
        assert!(!id.contains('.'), "collection ids have no dots: {id}");
    }
}

#[tokio::test]
async fn paging_to_the_last_page_returns_every_feature_once() {
    let s = state();
    let mut url = "/collections/zones/items?limit=7&datetime=2018-02-07".to_string();
    let mut seen = Vec::new();
    let mut matched = None;
    let mut pages = 0;
    loop {
        let a = get(&s, &url).await;
        assert_eq!(a.status, 200, "{}", a.text());
        assert_eq!(a.header(header::CONTENT_TYPE), "application/geo+json");
        let doc = a.json();
        matched.get_or_insert(doc["numberMatched"].as_u64().unwrap());
        assert_eq!(
            doc["numberReturned"].as_u64().unwrap() as usize,
            doc["features"].as_array().unwrap().len()
        );
        // Pages are kept per data version, so a stamp would be stale (issue 16): none is sent.
        assert!(doc.get("timeStamp").is_none());
        seen.extend(features(&doc).map(|f| f["id"].as_u64().unwrap()));
        pages += 1;
        if pages > 1 {
            assert!(link(&doc, "prev").is_some());
        }
        match link(&doc, "next") {
            Some(next) => {
                let href = next["href"].as_str().unwrap();
                assert!(href.starts_with("http://zt.test:8080/collections/zones/items?"));
                assert!(
                    href.contains("datetime=2018-02-07"),
                    "next keeps other parameters: {href}"
                );
                url = href.trim_start_matches("http://zt.test:8080").to_string();
            }
            None => break,
        }
    }
    let expected = DATA
        .zones
        .iter()
        .filter(|z| z.period.contains("2018-02-07".parse().unwrap()))
        .count();
    assert_eq!(matched, Some(expected as u64));
    assert_eq!(seen.len(), expected);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), expected, "no feature twice");
    assert_eq!(pages, expected.div_ceil(7));
}

/// A page of `/collections/zones/items` with this query.
async fn zone_items(s: &Arc<AppState>, query: &str) -> Answer {
    get(s, &format!("/collections/zones/items?{query}")).await
}

/// `numberMatched` of a page of `/collections/zones/items` with this query.
async fn matched(s: &Arc<AppState>, query: &str) -> u64 {
    zone_items(s, query).await.json()["numberMatched"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn datetime_accepts_instants_intervals_open_ends_and_qgis_bounds() {
    let s = state();
    let all = matched(&s, "").await;
    let feb = matched(&s, "datetime=2018-02-07").await;
    let feb_t = matched(&s, "datetime=2018-02-07T12:00:00Z").await;
    assert_eq!(feb, feb_t);
    assert!(feb < all);
    let open = matched(&s, "datetime=../..").await;
    assert_eq!(open, all);
    let qgis = matched(&s, "datetime=0000-01-01T00:00:00Z/2018-02-07T00:00:00Z").await;
    let dots = matched(&s, "datetime=../2018-02-07").await;
    assert_eq!(qgis, dots);
    let qgis_end = matched(&s, "datetime=2018-08-01T00:00:00Z/9999-12-31T00:00:00Z").await;
    let slash = matched(&s, "datetime=2018-08-01/").await;
    assert_eq!(qgis_end, slash);
    // The south-west de-escalation zone ends on 2018-07-31 (closed interval: that day counts).
    let ends = zone_items(&s, "datetime=2018-07-31&limit=1000")
        .await
        .text();
    assert!(ends.contains("sw_deescalation_zone"));
    let after = zone_items(&s, "datetime=2018-08-01&limit=1000")
        .await
        .text();
    assert!(!after.contains("sw_deescalation_zone"));
}

#[tokio::test]
async fn bbox_and_equality_filters_narrow_the_features() {
    let s = state();
    let south = get(
        &s,
        "/collections/locations/items?bbox=35.9,32.5,36.3,32.8&limit=100",
    )
    .await
    .json();
    let keys: Vec<&str> = features(&south)
        .filter_map(|f| f["properties"]["key"].as_str())
        .collect();
    assert!(keys.contains(&"daraa_city"), "{keys:?}");
    assert!(!keys.contains(&"aleppo_city"));
    let iran = get(&s, "/collections/zones/items?actor=iran&limit=1000")
        .await
        .json();
    let n = iran["numberMatched"].as_u64().unwrap() as usize;
    assert_eq!(
        n,
        DATA.zones
            .iter()
            .filter(|z| z.actor.as_str() == "iran")
            .count()
    );
    assert!(features(&iran).all(|f| f["properties"]["actor"] == "iran"));
    let low = get(&s, "/collections/zones/items?confidence=low&kind=presence")
        .await
        .json();
    assert!(
        low["features"].as_array().unwrap().iter().all(
            |f| f["properties"]["confidence"] == "low" && f["properties"]["kind"] == "presence"
        )
    );
}

#[tokio::test]
async fn a_limit_above_the_maximum_is_clamped() {
    let s = state();
    let a = get(&s, "/collections/zones/items?limit=20000").await.json();
    assert_eq!(a["numberReturned"].as_u64(), a["numberMatched"].as_u64());
    let a = get(&s, "/collections/governorates/items?limit=20000&offset=10")
        .await
        .json();
    let prev = link(&a, "prev").unwrap()["href"].as_str().unwrap();
    assert!(prev.contains("limit=10000"), "{prev}");
}

#[tokio::test]
async fn bad_requests_get_a_json_4xx_with_code_and_description() {
    let s = state();
    const INVALID: (u16, &str) = (400, "InvalidParameterValue");
    const UNKNOWN: (u16, &str) = (400, "UnknownParameter");
    const NOT_FOUND: (u16, &str) = (404, "NotFound");
    let cases = [
        ("/collections/zones/items?limit=0", INVALID),
        ("/collections/zones/items?limit=-5", INVALID),
        ("/collections/zones/items?limit=1e3", INVALID),
        ("/collections/zones/items?offset=x", INVALID),
        ("/collections/zones/items?bbox=36,34,35,33", INVALID),
        ("/collections/zones/items?bbox=35,33,36", INVALID),
        ("/collections/zones/items?bbox=NaN,33,36,34", INVALID),
        ("/collections/zones/items?bbox=35,33,36,95", INVALID),
        ("/collections/zones/items?datetime=2018-02-30", INVALID),
        (
            "/collections/zones/items?datetime=2018-03-01/2018-02-01",
            INVALID,
        ),
        ("/collections/zones/items?datetime=soon", INVALID),
        ("/collections/zones/items?colour_of_sky=red", UNKNOWN),
        ("/collections/zones/items?limit=1&limit=2", INVALID),
        ("/collections/nowhere", NOT_FOUND),
        ("/collections/nowhere/items", NOT_FOUND),
        ("/collections/zones/items/999", NOT_FOUND),
        ("/collections/zones/items/..%2F..%2Fetc%2Fpasswd", NOT_FOUND),
        ("/no/such/path", NOT_FOUND),
        ("/export/zones.shp", NOT_FOUND),
        ("/export/nowhere.fgb", NOT_FOUND),
        ("/export/zones.fgb?datetime=yesterday", INVALID),
        ("/export/zones.csv", NOT_FOUND),
        ("/export/zones", NOT_FOUND),
        ("/static/../Cargo.toml", NOT_FOUND),
    ];
    for (uri, (status, code)) in cases {
        let a = get(&s, uri).await;
        assert_eq!(a.status.as_u16(), status, "{uri}: {}", a.text());
        assert_eq!(a.header(header::CONTENT_TYPE), "application/json", "{uri}");
        let doc = a.json();
        assert_eq!(doc["code"], code, "{uri}");
        assert!(
            doc["description"].as_str().is_some_and(|d| d.len() > 10),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn a_feature_is_found_by_integer_id_and_by_readable_id() {
    let s = state();
    let zone = &DATA.zones[0];
    let fid = zone.meta.id.fid();
    let by_fid = get(&s, &format!("/collections/zones/items/{fid}")).await;
    assert_eq!(by_fid.status, 200);
    assert_eq!(by_fid.header(header::CONTENT_TYPE), "application/geo+json");
    let doc = by_fid.json();
    assert_eq!(doc["id"], fid);
    assert_eq!(doc["properties"]["key"], zone.meta.id.as_str());
    let by_key = get(&s, &format!("/collections/zones/items/{}", zone.meta.id))
        .await
        .json();
    assert_eq!(by_key["id"], fid);
}

#[tokio::test]
async fn the_openapi_document_declares_limit_once_and_the_filters_per_collection() {
    let s = state();
    let a = get(&s, "/api").await;
    assert_eq!(
        a.header(header::CONTENT_TYPE),
        "application/vnd.oai.openapi+json;version=3.0"
    );
    let doc = a.json();
    assert_eq!(doc["openapi"], "3.0.3");
    let limit = &doc["components"]["parameters"]["limit"];
    assert_eq!(limit["schema"]["maximum"], 10000);
    assert_eq!(limit["schema"]["default"], 100);
    for id in DATA.catalog().into_iter().map(|l| l.id) {
        let params = doc["paths"][format!("/collections/{id}/items")]["get"]["parameters"]
            .as_array()
            .unwrap();
        assert!(
            params
                .iter()
                .any(|p| p["$ref"] == "#/components/parameters/limit"),
            "{id}"
        );
        if id == "zones" {
            let actor = params.iter().find(|p| p["name"] == "actor").unwrap();
            assert!(
                actor["schema"]["enum"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|v| v == "iran")
            );
        }
    }
    let html = get(&s, "/api.html").await;
    assert!(html.text().contains("/collections/zones/items"));
}

/// The default set less its last zone of the files: not one period of a date-aware rule, since
/// the data version hashes the source form, from which every derived period follows.
fn without_a_zone_of_the_files() -> geodata::Dataset {
    let mut changed = DATA.clone();
    let drawn = changed
        .zones
        .iter()
        .rposition(|z| z.derived_from.is_none())
        .expect("the default set has zones of its own");
    changed.zones.remove(drawn);
    changed
}

#[tokio::test]
async fn an_etag_comes_back_as_304_and_changes_with_the_data() {
    let s = state();
    let a = get(&s, "/collections/zones/items?limit=5").await;
    let tag = a.header(header::ETAG).to_owned();
    assert!(tag.starts_with('"') && tag.len() > 10, "{tag}");
    let again = get_with(
        &s,
        "/collections/zones/items?limit=5",
        &[
            ("host", "zt.test:8080"),
            ("accept", "application/json"),
            ("if-none-match", &*tag),
        ],
    )
    .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let other = get(&s, "/collections/zones/items?limit=6").await;
    assert_ne!(other.header(header::ETAG), tag);
    // New data: the same request gets a new tag.
    let changed = without_a_zone_of_the_files();
    s.replace(Snapshot::new(changed));
    let after = get(&s, "/collections/zones/items?limit=5").await;
    assert_ne!(after.header(header::ETAG), tag);
    assert_eq!(
        after.json()["numberMatched"].as_u64().unwrap() as usize,
        DATA.zones.len() - 1
    );
}

#[tokio::test]
async fn responses_are_compressed_when_the_client_accepts_it() {
    let s = state();
    // Pages (compressed once, kept) and query answers (compressed per request) alike.
    for uri in [
        "/collections/zones/items?limit=50",
        "/query/point?lon=36.1&lat=32.6&nearest=10",
    ] {
        for enc in ["gzip", "br"] {
            let a = get_with(&s, uri, &[("accept-encoding", enc)]).await;
            assert_eq!(a.header(header::CONTENT_ENCODING), enc, "{uri}");
            assert!(a.body.len() > 20, "{uri}");
        }
    }
}

#[tokio::test]
async fn pages_are_built_and_compressed_once_per_data_version() {
    let s = state_with(Config {
        cors: zone_server::Cors::Origins(vec!["https://a.example".into()]),
        ..Config::default()
    });
    let ask = |enc: &'static str, origin: &'static str| {
        req(
            "GET",
            "/collections/zones/items?limit=50",
            &[("accept-encoding", enc), ("origin", origin)],
            Body::empty(),
        )
    };
    let first = send(&s, ask("gzip", "https://a.example")).await;
    assert_eq!(first.header("x-cache"), "miss");
    let second = send(&s, ask("gzip", "https://a.example")).await;
    assert_eq!(second.header("x-cache"), "hit");
    assert_eq!(second.header(header::CONTENT_ENCODING), "gzip");
    assert_eq!(second.body, first.body);
    assert_eq!(second.header(header::ETAG), first.header(header::ETAG));
    assert_eq!(
        second.header(header::CONTENT_LENGTH),
        first.body.len().to_string()
    );
    // Another encoding, or another origin, is another answer: never served from this one.
    let plain = send(&s, ask("identity", "https://a.example")).await;
    assert_eq!(plain.header("x-cache"), "miss");
    assert_eq!(plain.header(header::CONTENT_ENCODING), "");
    assert_eq!(plain.json()["numberReturned"], DATA.zones.len().min(50));
    let other = send(&s, ask("gzip", "https://b.example")).await;
    assert_eq!(other.header("x-cache"), "miss");
    assert_eq!(other.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), "");
    assert_eq!(
        second.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        "https://a.example"
    );
    // Point answers are not kept (one per point); new data starts an empty cache.
    for _ in 0..2 {
        let p = get(&s, "/query/point?lon=36.1&lat=32.6").await;
        assert_eq!(p.header("x-cache"), "");
    }
    let changed = without_a_zone_of_the_files();
    s.replace(Snapshot::new(changed));
    let after = send(&s, ask("identity", "https://a.example")).await;
    assert_eq!(after.header("x-cache"), "miss");
    assert_eq!(after.json()["numberMatched"], DATA.zones.len() - 1);
}

/// The status of a GET through one application (so its caps are shared).
async fn get_status(router: &axum::Router, uri: &str) -> StatusCode {
    router
        .clone()
        .oneshot(req("GET", uri, &[], Body::empty()))
        .await
        .unwrap()
        .status()
}

/// A CSV batch whose body is still arriving: its first bytes are sent, the rest waits on the
/// returned sender (dropping it ends the body). The answer comes from the returned task.
async fn hold_batch(
    router: &axum::Router,
    first: &'static [u8],
) -> (
    http_body_util::channel::Sender<axum::body::Bytes>,
    tokio::task::JoinHandle<Result<axum::response::Response, std::convert::Infallible>>,
) {
    let (mut sender, body) = http_body_util::channel::Channel::<axum::body::Bytes>::new(4);
    let held = tokio::spawn(router.clone().oneshot(req(
        "POST",
        "/query/points",
        &[("content-type", "text/csv")],
        Body::new(body),
    )));
    sender
        .send_data(axum::body::Bytes::from_static(first))
        .await
        .unwrap();
    (sender, held)
}

/// Found by the soak test: the cap was per route (`Router::layer` wraps each route alone), so a
/// server at its cap on one route still took requests on every other.
#[tokio::test]
async fn the_concurrency_cap_is_one_for_the_whole_server() {
    let s = state_at_cap_one();
    // One application, as the server builds it once (each `app()` has its own cap).
    let router = app(s.clone());
    let get = |uri: &'static str| {
        let router = router.clone();
        async move {
            router
                .oneshot(req("GET", uri, &[], Body::empty()))
                .await
                .unwrap()
        }
    };
    // A page answered once is kept: answering it again takes no slot.
    assert_eq!(get("/collections").await.status(), StatusCode::OK);
    // A batch whose body is still arriving holds the one slot.
    let (sender, held) = hold_batch(&router, b"lon,lat\n36.1,32.6\n").await;
    // Another route is refused while it is held...
    let point = "/query/point?lon=36.1&lat=32.6";
    let mut refused = None;
    for _ in 0..100 {
        let a = get(point).await;
        if a.status() == StatusCode::SERVICE_UNAVAILABLE {
            refused = Some(a);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(!held.is_finished(), "the batch is still being read");
    let refused = refused.expect("a second request is refused while the slot is held");
    let body = refused.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["code"], "Overloaded");
    let kept = get("/collections").await;
    assert_eq!(kept.status(), StatusCode::OK);
    assert_eq!(kept.headers()["x-cache"], "hit");
    // ...and served once the batch ends.
    drop(sender);
    let done = held.await.unwrap().unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(get(point).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn cors_allows_any_origin_by_default() {
    let origin = [("origin", "https://elsewhere.example")];
    let a = get_with(&state(), "/collections", &origin).await;
    assert_eq!(a.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), "*");
}

#[tokio::test]
async fn exports_download_geojson_qgis_styles_and_csv() {
    let s = state();
    let a = get(&s, "/export/zones.geojson?datetime=2018-02-07").await;
    assert_eq!(a.header(header::CONTENT_TYPE), "application/geo+json");
    assert_eq!(
        a.header(header::CONTENT_DISPOSITION),
        "attachment; filename=\"zones.geojson\""
    );
    let doc = a.json();
    assert!(doc.get("crs").is_none());
    let n = doc["features"].as_array().unwrap().len();
    assert_eq!(
        n,
        DATA.zones
            .iter()
            .filter(|z| z.period.contains("2018-02-07".parse().unwrap()))
            .count()
    );
    let qml = get(&s, "/export/zones.qml").await;
    let text = qml.text();
    assert!(text.starts_with("<!DOCTYPE qgis"));
    assert!(text.contains("attr=\"actor\""));
    assert!(text.contains("value=\"iran\""));
    let csv = get(&s, "/export/locations.csv").await;
    assert!(csv.header(header::CONTENT_TYPE).starts_with("text/csv"));
    let mut lines = csv
        .text()
        .lines()
        .map(str::to_owned)
        .collect::<Vec<_>>()
        .into_iter();
    assert!(lines.next().unwrap().starts_with("id,lon,lat,key,name"));
    assert_eq!(lines.count(), DATA.locations.len());
}

/// A FlatGeobuf body read back with the flatgeobuf crate's reader: the header, and each feature
/// (in file order) as its properties and geometry.
struct Fgb {
    geometry_type: flatgeobuf::GeometryType,
    crs_code: i32,
    index_node_size: u16,
    columns: Vec<(String, flatgeobuf::ColumnType)>,
    features: Vec<(
        std::collections::HashMap<String, String>,
        geo::Geometry<f64>,
    )>,
}

fn read_fgb(body: &[u8]) -> Fgb {
    use flatgeobuf::{FallibleStreamingIterator as _, FgbReader};
    use geozero::{FeatureProperties as _, ToGeo as _};
    let reader = FgbReader::open(std::io::Cursor::new(body)).unwrap();
    let header = reader.header();
    let geometry_type = header.geometry_type();
    let crs_code = header.crs().map_or(0, |c| c.code());
    let index_node_size = header.index_node_size();
    let columns = header
        .columns()
        .unwrap()
        .iter()
        .map(|c| (c.name().to_owned(), c.type_()))
        .collect();
    let mut iter = reader.select_all().unwrap();
    let mut features = Vec::new();
    while let Some(f) = iter.next().unwrap() {
        features.push((f.properties().unwrap(), f.to_geo().unwrap()));
    }
    Fgb {
        geometry_type,
        crs_code,
        index_node_size,
        columns,
        features,
    }
}

#[tokio::test]
async fn the_flatgeobuf_export_holds_the_geojson_exports_features_and_columns() {
    use flatgeobuf::{ColumnType, GeometryType};
    let s = state();
    let date = "2018-02-07";
    let a = get(&s, &format!("/export/zones.fgb?datetime={date}")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.header(header::CONTENT_TYPE), "application/flatgeobuf");
    assert_eq!(
        a.header(header::CONTENT_DISPOSITION),
        "attachment; filename=\"zones.fgb\""
    );
    let fgb = read_fgb(&a.body);
    let geojson = get(&s, &format!("/export/zones.geojson?datetime={date}"))
        .await
        .json();
    let expected = geojson["features"].as_array().unwrap();
    assert!(expected.len() > 10);
    assert_eq!(
        fgb.features.len(),
        expected.len(),
        "same features as the GeoJSON"
    );
    assert_eq!(fgb.geometry_type, GeometryType::MultiPolygon);
    assert_eq!(fgb.crs_code, 4326);
    assert!(fgb.index_node_size > 0, "the spatial index is written");
    // fid first, then exactly the GeoJSON properties, in their order.
    let names: Vec<&str> = fgb.columns.iter().map(|c| c.0.as_str()).collect();
    let props: Vec<&str> = expected[0]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(names[0], "fid");
    assert_eq!(&names[1..], &props[..]);
    let ty = |name: &str| fgb.columns.iter().find(|c| c.0 == name).unwrap().1;
    assert_eq!(ty("fid"), ColumnType::Long);
    assert_eq!(ty("key"), ColumnType::String);
    assert_eq!(ty("name"), ColumnType::String);
    assert_eq!(ty("sources"), ColumnType::Json);
    // Every feature round-trips: fid, key, name, the sources as JSON, and the geometry.
    let by_fid: std::collections::HashMap<u64, &Value> = expected
        .iter()
        .map(|f| (f["id"].as_u64().unwrap(), f))
        .collect();
    for (props, geometry) in &fgb.features {
        let fid: u64 = props["fid"].parse().unwrap();
        let want = by_fid[&fid];
        assert_eq!(props["key"], want["properties"]["key"].as_str().unwrap());
        assert_eq!(props["name"], want["properties"]["name"].as_str().unwrap());
        let sources: Value = serde_json::from_str(&props["sources"]).unwrap();
        assert_eq!(sources, want["properties"]["sources"]);
        assert!(
            !props.contains_key("valid_to") || !want["properties"]["valid_to"].is_null(),
            "a null stays null"
        );
        let f = DATA
            .zones
            .iter()
            .find(|z| z.meta.id.fid() as u64 == fid)
            .unwrap();
        assert_eq!(
            *geometry,
            geo::Geometry::from((*f.geometry).clone()),
            "{fid}"
        );
    }
    assert!(
        fgb.features
            .iter()
            .any(|(p, _)| p["key"] == "sw_deescalation_zone" && p["name"].contains("de-escalation")),
        "a known zone is in the file"
    );
    // Every layer, with and without a date: the same count and type as the GeoJSON export.
    for layer in s.snapshot().layers.iter() {
        for q in ["", "?datetime=2018-02-07"] {
            let fgb = read_fgb(
                &get(&s, &format!("/export/{}.fgb{q}", layer.name))
                    .await
                    .body,
            );
            let n = get(&s, &format!("/export/{}.geojson{q}", layer.name))
                .await
                .json()["features"]
                .as_array()
                .unwrap()
                .len();
            assert_eq!(fgb.features.len(), n, "{}{q}", layer.name);
            let want = match layer.geometry_type {
                "Point" => GeometryType::Point,
                "MultiLineString" => GeometryType::MultiLineString,
                "MultiPolygon" => GeometryType::MultiPolygon,
                other => panic!("{other}"),
            };
            assert_eq!(fgb.geometry_type, want, "{}", layer.name);
        }
    }
    // A date with nothing valid: a valid file with no features (and no index over none,
    // which GDAL refuses).
    let empty = read_fgb(&get(&s, "/export/zones.fgb?datetime=1900-01-01").await.body);
    assert_eq!(empty.features.len(), 0);
    assert_eq!(empty.index_node_size, 0);
    assert_eq!(empty.columns, fgb.columns, "the same columns on any date");
    // Documented: the collection links to it, the OpenAPI document and the 404 name it.
    let zones = get(&s, "/collections/zones").await.json();
    assert!(
        zones["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["href"] == "http://zt.test:8080/export/zones.fgb"
                && l["type"] == "application/flatgeobuf"),
        "{zones}"
    );
    let api = get(&s, "/api").await.json();
    let export = &api["paths"]["/export/{file}"]["get"];
    assert!(export["summary"].as_str().unwrap().contains(".fgb"));
    assert!(export["responses"]["200"]["content"]["application/flatgeobuf"].is_object());
    let unknown = get(&s, "/export/zones.shp").await.json();
    assert!(
        unknown["description"].as_str().unwrap().contains(".fgb"),
        "{unknown}"
    );
}

#[tokio::test]
async fn the_map_endpoint_simplifies_for_the_zoom_level() {
    let s = state();
    let full = get(&s, "/map/syria").await.text();
    let coarse = get(&s, "/map/syria?zoom=4").await.text();
    assert!(
        coarse.len() < full.len() / 2,
        "{} vs {}",
        coarse.len(),
        full.len()
    );
    let a = get(
        &s,
        "/map/zones?datetime=2018-02-15&bbox=35.5,32.3,36.8,33.5&zoom=8",
    )
    .await
    .json();
    assert!(features(&a).any(|f| f["properties"]["key"] == "sw_deescalation_zone"));
    assert_eq!(get(&s, "/map/zones?zoom=99").await.status, 400);
}

#[tokio::test]
async fn health_reports_the_data_version() {
    let a = get(&state(), "/health").await;
    assert_eq!(a.status, 200);
    let doc = a.json();
    assert_eq!(doc["status"], "ok");
    assert!(doc["data_version"].as_str().is_some_and(|v| !v.is_empty()));
}

/// The features of a GeoJSON FeatureCollection.
fn features(collection: &Value) -> std::slice::Iter<'_, Value> {
    collection["features"]
        .as_array()
        .expect("a features array")
        .iter()
}

fn keys(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|z| z["key"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_point_query_lists_every_covering_zone_and_the_nearest_others() {
    let s = state();
    // Daraa city, before and after the southern offensive.
    let feb = get(&s, "/query/point?lon=36.1&lat=32.617&datetime=2018-02-15")
        .await
        .json();
    let covering = keys(&feb["covering"]);
    assert!(
        covering.iter().any(|k| k == "sw_deescalation_zone"),
        "{covering:?}"
    );
    let first = &feb["covering"][0];
    for field in [
        "id",
        "name",
        "actor",
        "kind",
        "valid_from",
        "confidence",
        "sources",
        "on_boundary",
    ] {
        assert!(first.get(field).is_some(), "{field}");
    }
    assert!(first.get("geometry").is_none());
    assert_eq!(feb["lon"], 36.1);
    assert_eq!(feb["lat"], 32.617);
    assert_eq!(feb["datetime"], "2018-02-15");
    assert!(feb["data_version"].as_str().is_some_and(|v| !v.is_empty()));
    let nearest = feb["nearest"].as_array().unwrap();
    assert_eq!(nearest.len(), 3);
    for n in nearest {
        let at = n["nearest_point"].as_array().unwrap();
        assert!(
            at.len() == 2 && at.iter().all(serde_json::Value::is_f64),
            "{n}"
        );
        assert!(n.get("on_boundary").is_none() && n["id"].is_u64(), "{n}");
    }
    assert!(
        nearest
            .iter()
            .all(|n| n["distance_km"].as_f64().unwrap() > 0.0)
    );
    assert!(
        nearest
            .iter()
            .all(|n| !covering.contains(&n["key"].as_str().unwrap().to_owned()))
    );
    let aug = get(
        &s,
        "/query/point?lon=36.1&lat=32.617&datetime=2018-08-15&nearest=0&geometry=true",
    )
    .await
    .json();
    let after = keys(&aug["covering"]);
    assert!(
        after.contains(&"gov_south_west_from_2018_08".to_owned()),
        "{after:?}"
    );
    assert!(!after.contains(&"sw_deescalation_zone".to_owned()));
    assert!(aug["covering"][0]["geometry"]["type"] == "MultiPolygon");
    assert!(aug["nearest"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn point_queries_reject_bad_coordinates_and_dates() {
    let s = state();
    let bad = [
        "/query/point?lat=32",
        "/query/point?lon=36&lat=95",
        "/query/point?lon=NaN&lat=32",
        "/query/point?lon=inf&lat=32",
        "/query/point?lon=1e999&lat=32",
        "/query/point?lon=36&lat=32&datetime=2018-01-01/2018-02-01",
        "/query/point?lon=36&lat=32&nearest=51",
        "/query/point?lon=36&lat=32&geometry=maybe",
        "/query/timeline?lon=36",
        "/query/changes?from=2018-01-01",
        "/query/changes?from=2018-01-01&to=tomorrow",
    ];
    for uri in bad {
        let a = get(&s, uri).await;
        assert_eq!(a.status, 400, "{uri}: {}", a.text());
        assert_eq!(a.json()["code"], "InvalidParameterValue", "{uri}");
    }
}

async fn post(s: &Arc<AppState>, uri: &str, content_type: &str, body: String) -> Answer {
    send(
        s,
        req(
            "POST",
            uri,
            &[("content-type", content_type)],
            Body::from(body),
        ),
    )
    .await
}

#[tokio::test]
async fn a_csv_batch_is_answered_as_csv_with_bad_lines_reported() {
    let s = state();
    let body =
        "lon,lat,date,id\n36.1,32.617,2018-02-15,daraa\n36.1,32.617,2018-08-15,later\nx,1,,bad\n"
            .to_string();
    let a = post(&s, "/query/points", "text/csv", body).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let text = a.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "lon,lat,date,id,zones");
    assert!(
        lines[1].starts_with("36.1,32.617,2018-02-15,daraa,")
            && lines[1].contains("sw_deescalation_zone")
    );
    assert!(
        lines[2].contains("gov_south_west_from_2018_08")
            && !lines[2].contains("sw_deescalation_zone")
    );
    assert_eq!(lines.len(), 3);
    assert!(
        a.header(header::HeaderName::from_static("x-batch-errors"))
            .contains("line 4")
    );
}

#[tokio::test]
async fn a_geojson_batch_matches_single_point_queries() {
    let s = state();
    let mut features = Vec::new();
    let mut expected = Vec::new();
    for i in 0..200 {
        let lon = 35.8 + (i as f64 * 0.037) % 6.5;
        let lat = 32.4 + (i as f64 * 0.029) % 4.9;
        features.push(serde_json::json!({"type": "Feature", "id": i, "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": {}}));
        let one = get(
            &s,
            &format!("/query/point?lon={lon}&lat={lat}&datetime=2018-02-07&nearest=0"),
        )
        .await
        .json();
        expected.push(keys(&one["covering"]));
    }
    let body = serde_json::json!({"type": "FeatureCollection", "features": features}).to_string();
    let a = post(
        &s,
        "/query/points?datetime=2018-02-07",
        "application/geo+json",
        body,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    let doc = a.json();
    assert_eq!(doc["count"], 200);
    for (r, exp) in doc["results"].as_array().unwrap().iter().zip(&expected) {
        assert_eq!(&keys(&r["covering"]), exp);
    }
}

/// Every row's `zones` list of a Parquet answer (`None` for a null).
fn parquet_zones(body: &[u8]) -> (Vec<String>, Vec<Option<Vec<String>>>) {
    use arrow_array::Array as _;
    use arrow_array::cast::AsArray as _;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(body.to_vec()),
    )
    .unwrap();
    let names = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut rows = Vec::new();
    for b in reader.build().unwrap() {
        let b = b.unwrap();
        let list = b.column_by_name("zones").unwrap().as_list::<i32>();
        for i in 0..list.len() {
            rows.push((!list.is_null(i)).then(|| {
                let v = list.value(i);
                v.as_string::<i32>()
                    .iter()
                    .map(|k| k.unwrap().to_owned())
                    .collect()
            }));
        }
    }
    (names, rows)
}

#[tokio::test]
async fn a_parquet_batch_is_answered_as_parquet_with_every_column_kept() {
    let s = state();
    // The locations layer as GeoParquet is a file of WKB points: send it back as a batch.
    let points = get(&s, "/export/locations.parquet").await;
    assert_eq!(points.status, 200);
    assert_eq!(
        points.header(header::CONTENT_TYPE),
        "application/vnd.apache.parquet"
    );
    let a = send(
        &s,
        req(
            "POST",
            "/query/points?datetime=2018-02-07&nearest=2",
            &[("content-type", "application/vnd.apache.parquet")],
            Body::from(points.body.clone()),
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(
        a.header(header::CONTENT_TYPE),
        "application/vnd.apache.parquet"
    );
    let (names, zones) = parquet_zones(&a.body);
    let (input_names, _) = {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::from(points.body.clone()),
        )
        .unwrap();
        let names: Vec<String> = reader
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        (names, ())
    };
    assert_eq!(names[..input_names.len()], input_names[..]);
    assert_eq!(names[input_names.len()..], ["zones", "nearest"]);
    // The same zones as one point at a time.
    let fc = get(&s, "/export/locations.geojson").await.json();
    let features = fc["features"].as_array().unwrap();
    assert_eq!(zones.len(), features.len());
    let mut covered = 0;
    for (f, z) in features.iter().zip(&zones) {
        let c = &f["geometry"]["coordinates"];
        let one = get(
            &s,
            &format!(
                "/query/point?lon={}&lat={}&datetime=2018-02-07&nearest=0",
                c[0], c[1]
            ),
        )
        .await
        .json();
        let expected = keys(&one["covering"]);
        covered += usize::from(!expected.is_empty());
        assert_eq!(z.as_ref(), Some(&expected), "{}", f["properties"]["key"]);
    }
    assert!(covered > 0);
    // Not Parquet, and nearest for a CSV batch: a JSON 400.
    let bad = send(
        &s,
        req(
            "POST",
            "/query/points",
            &[("content-type", "application/vnd.apache.parquet")],
            Body::from("lon,lat\n36,33\n"),
        ),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["code"], "InvalidParameterValue");
    assert!(
        bad.json()["description"]
            .as_str()
            .unwrap()
            .contains("Parquet")
    );
    let csv = post(
        &s,
        "/query/points?nearest=2",
        "text/csv",
        "36.1,32.6\n".into(),
    )
    .await;
    assert_eq!(csv.status, 400);
    assert!(csv.text().contains("nearest"));
}

#[tokio::test]
async fn oversized_and_malformed_batches_get_4xx() {
    let s = state();
    let big = "36.1,32.6\n".repeat(100_001);
    assert_eq!(post(&s, "/query/points", "text/csv", big).await.status, 413);
    let huge = "x".repeat(17 * 1024 * 1024);
    assert_eq!(
        post(&s, "/query/points", "text/csv", huge).await.status,
        413
    );
    let geojson = "application/geo+json";
    let a = post(&s, "/query/points", geojson, "{not json".into()).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["code"], "InvalidParameterValue");
    let png = post(&s, "/query/points", "image/png", "x".into()).await;
    assert_eq!(png.status, 415);
}

#[tokio::test]
async fn timeline_and_changes_tell_the_story_of_the_south_west() {
    let s = state();
    let t = get(&s, "/query/timeline?lon=36.1&lat=32.617").await.json();
    let spans = t["spans"].as_array().unwrap();
    assert!(spans.first().unwrap()["from"].is_null() && spans.last().unwrap()["to"].is_null());
    let on = |day: &str| -> Vec<String> {
        spans
            .iter()
            .find(|sp| {
                sp["from"].as_str().is_none_or(|f| f <= day)
                    && sp["to"].as_str().is_none_or(|t| day <= t)
            })
            .map(|sp| keys(&sp["zones"]))
            .unwrap_or_default()
    };
    assert!(on("2018-02-15").contains(&"sw_deescalation_zone".to_owned()));
    assert!(on("2018-08-15").contains(&"gov_south_west_from_2018_08".to_owned()));
    let c = get(&s, "/query/changes?from=2018-02-15&to=2018-08-15")
        .await
        .json();
    assert!(keys(&c["began"]).contains(&"gov_south_west_from_2018_08".to_owned()));
    assert!(keys(&c["ended"]).contains(&"sw_deescalation_zone".to_owned()));
    let gov = c["areas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["actor"] == "syrian_government" && a["kind"] == "control")
        .unwrap();
    assert!(gov["gained_km2"].as_f64().unwrap() > 5000.0, "{gov}");
}

#[tokio::test]
async fn the_query_api_is_in_the_openapi_document() {
    let doc = get(&state(), "/api").await.json();
    for p in [
        "/query/point",
        "/query/timeline",
        "/query/changes",
        "/actors",
        "/map/{collection}",
    ] {
        assert!(doc["paths"][p]["get"].is_object(), "{p}");
    }
    assert!(doc["paths"]["/query/points"]["post"].is_object());
    let actors = get(&state(), "/actors").await.json();
    assert!(
        actors["actors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == "iran" && a["colour"].as_str().unwrap().starts_with('#'))
    );
}

/// Issue 10: batch bodies are charged to a byte budget before they are read, so bodies still
/// arriving can never take the slots point queries need.
#[tokio::test]
async fn batch_bodies_have_their_own_budget_and_point_queries_keep_their_slots() {
    let s = state_with(Config {
        // One body of unannounced length (charged the 16 MiB limit) fills it.
        batch_body_budget: zone_server::MAX_BODY_BYTES,
        ..Config::default()
    });
    let router = app(s.clone());
    let (sender, held) = hold_batch(&router, b"lon,lat\n36.1,32.6\n").await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let second = router
        .clone()
        .oneshot(req(
            "POST",
            "/query/points",
            &[("content-type", "text/csv")],
            Body::from("36.1,32.6\n"),
        ))
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.headers()[header::RETRY_AFTER], "1");
    // Its body was not read: the client is told the connection ends.
    assert_eq!(second.headers()[header::CONNECTION], "close");
    let v: Value =
        serde_json::from_slice(&second.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(v["code"], "Overloaded");
    assert_eq!(
        get_status(&router, "/query/point?lon=36.1&lat=32.6").await,
        StatusCode::OK
    );
    drop(sender);
    let done = held.await.unwrap().unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let text = done.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&text).starts_with("lon,lat,zones\n36.1,32.6,"));
    // The budget is free again.
    let again = post(&s, "/query/points", "text/csv", "36.1,32.6\n".into()).await;
    assert_eq!(again.status, 200);
}

/// Issue 10: parsing and answering take one of a few batch slots; a batch that finds none free
/// within the wait gets a 503, and point queries are not affected.
#[tokio::test]
async fn batches_wait_for_a_batch_slot_then_give_up_with_a_503() {
    let s = state_with(Config {
        max_concurrent_batches: 1,
        batch_wait: std::time::Duration::from_millis(200),
        ..Config::default()
    });
    let router = app(s.clone());
    let big = "36.1,32.617,p\n".repeat(50_000);
    let ask = |body: String| {
        router.clone().oneshot(req(
            "POST",
            "/query/points",
            &[("content-type", "text/csv")],
            Body::from(body),
        ))
    };
    // An answer nobody reads holds its slot (its writer waits on the full channel).
    let unread = ask(big.clone()).await.unwrap();
    assert_eq!(unread.status(), StatusCode::OK);
    let started = std::time::Instant::now();
    let second = ask("36.1,32.6\n".into()).await.unwrap();
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() >= std::time::Duration::from_millis(190));
    let point = get(&s, "/query/point?lon=36.1&lat=32.6").await;
    assert_eq!(point.status, 200);
    // The client goes away: the slot is released and the next batch is answered.
    drop(unread);
    let third = ask("36.1,32.6\n".into()).await.unwrap();
    assert_eq!(third.status(), StatusCode::OK);
}

/// Issue 10: a large answer was built whole in memory (86 MB of JSON for a 7 MB batch); it is
/// streamed in chunks now, and says the same as before.
#[tokio::test]
async fn a_large_batch_answer_is_streamed_in_chunks() {
    let s = state();
    let n = 20_000;
    let features: Vec<Value> = (0..n)
        .map(|i| serde_json::json!({"type": "Feature", "id": format!("p{i}"), "geometry": {"type": "Point", "coordinates": [36.1, 32.617]}, "properties": {}}))
        .collect();
    let body = serde_json::json!({"type": "FeatureCollection", "features": features}).to_string();
    let resp = app(s.clone())
        .oneshot(req(
            "POST",
            "/query/points",
            &[("content-type", "application/geo+json")],
            Body::from(body),
        ))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get(header::CONTENT_LENGTH).is_none());
    let mut body = resp.into_body();
    let (mut frames, mut bytes) = (0, Vec::new());
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            frames += 1;
            assert!(data.len() < 1 << 20, "a chunk of {} bytes", data.len());
            bytes.extend_from_slice(&data);
        }
    }
    assert!(frames > 10, "{frames} chunks");
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["count"], n);
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), n);
    let one = get(&s, "/query/point?lon=36.1&lat=32.617&nearest=0")
        .await
        .json();
    for r in [&results[0], &results[n / 2], &results[n - 1]] {
        assert_eq!(keys(&r["covering"]), keys(&one["covering"]));
    }
    assert_eq!(results[n - 1]["id"], format!("p{}", n - 1));
    assert_eq!(doc["error_count"], 0);
    assert_eq!(doc["data_version"], one["data_version"]);
}

#[tokio::test]
async fn a_batch_lists_its_first_bad_features_and_counts_them_all() {
    let s = state();
    let mut features = vec![
        serde_json::json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [36.1, 32.6]}, "properties": {}}),
    ];
    for _ in 0..100 {
        features.push(serde_json::json!({"type": "Feature", "geometry": null, "properties": {}}));
    }
    let body = serde_json::json!({"type": "FeatureCollection", "features": features}).to_string();
    let doc = post(&s, "/query/points", "application/geo+json", body)
        .await
        .json();
    assert_eq!(doc["count"], 1);
    assert_eq!(
        doc["errors"].as_array().unwrap().len(),
        zone_server::MAX_BATCH_ERRORS
    );
    assert_eq!(doc["error_count"], 100);
    let csv = format!("36.1,32.6\n{}", "x\n".repeat(50));
    let a = post(&s, "/query/points", "text/csv", csv).await;
    let summary = a.header(header::HeaderName::from_static("x-batch-errors"));
    assert!(
        summary.starts_with("line 2: ") && summary.ends_with("and 30 more"),
        "{summary}"
    );
}

#[tokio::test]
async fn a_batch_body_that_arrives_too_slowly_gets_a_408_and_the_connection_closes() {
    let s = state_with(Config {
        body_rate: zone_server::body::BodyRate {
            grace: std::time::Duration::from_millis(200),
            min_bytes_per_sec: 1024,
        },
        ..Config::default()
    });
    let (mut sender, body) = http_body_util::channel::Channel::<axum::body::Bytes>::new(4);
    sender
        .send_data(axum::body::Bytes::from_static(b"lon,lat\n"))
        .await
        .unwrap();
    let a = send(
        &s,
        req(
            "POST",
            "/query/points",
            &[("content-type", "text/csv")],
            Body::new(body),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(a.json()["code"], "RequestTimeout");
    assert_eq!(a.header(header::CONNECTION), "close");
    drop(sender);
}

#[tokio::test]
async fn if_none_match_star_matches_only_a_resource_that_exists() {
    // Regression (issue 10): `*` got a 304 on any path, existing or not.
    let s = state();
    let star = |uri: &'static str| req("GET", uri, &[("if-none-match", "*")], Body::empty());
    for _ in 0..2 {
        // Built, then from the cache: a 304 either way.
        let a = send(&s, star("/collections/zones")).await;
        assert_eq!(a.status, 304);
        assert!(a.header(header::ETAG).starts_with('"'));
    }
    assert_eq!(send(&s, star("/collections/nope")).await.status, 404);
    assert_eq!(send(&s, star("/nothing/here")).await.status, 404);
    let negative = send(&s, star("/collections/zones/items?limit=-1")).await;
    assert_eq!(negative.status, 400);
}

#[tokio::test]
async fn request_bodies_in_a_content_encoding_are_refused_with_a_415() {
    let s = state();
    let a = send(
        &s,
        req(
            "POST",
            "/query/points",
            &[("content-type", "text/csv"), ("content-encoding", "gzip")],
            Body::from("36.1,32.6\n"),
        ),
    )
    .await;
    assert_eq!(a.status, 415);
    assert_eq!(a.json()["code"], "UnsupportedMediaType");
    assert_eq!(a.header(header::ACCEPT_ENCODING), "identity");
}

#[tokio::test]
async fn refusing_every_content_coding_gets_a_json_406() {
    let refuse_all = [("accept-encoding", "*;q=0")];
    let a = get_with(&state(), "/collections/zones/items", &refuse_all).await;
    assert_eq!(a.status, 406);
    assert_eq!(a.json()["code"], "NotAcceptable");
    assert!(a.body.len() < 200, "{}", a.text());
}

#[tokio::test]
async fn the_landing_page_varies_on_accept_and_the_api_page_has_security_headers() {
    let s = state();
    for accept in ["text/html", "application/json"] {
        let a = get_with(&s, "/", &[("accept", accept)]).await;
        let vary = a.header_all(header::VARY);
        assert!(
            vary.iter().any(|v| v.eq_ignore_ascii_case("accept")),
            "{vary:?}"
        );
    }
    let page = get(&s, "/api.html").await;
    assert_eq!(page.status, 200);
    assert!(
        page.header(header::CONTENT_SECURITY_POLICY)
            .contains("default-src 'none'")
    );
    assert_eq!(page.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
}

#[tokio::test]
async fn health_names_files_relative_to_the_data_folder_and_says_when_it_is_missing() {
    let root = std::env::temp_dir().join(format!("zt-health-{}", std::process::id()));
    let dir = root.join("data");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("zones.geojson"), "{ not json").unwrap();
    let s = state();
    let store = geodata::DirectoryStore::new(&dir).with_relative_names();
    let status = zone_server::reload::reload(&s, &store);
    assert!(!status.ok);
    let health = get(&s, "/health").await;
    let text = health.text();
    assert!(text.contains("zones.geojson"), "{text}");
    assert!(!text.contains(&*root.to_string_lossy()), "{text}");
    std::fs::remove_dir_all(&root).unwrap();
    zone_server::reload::reload(&s, &store);
    let text = get(&s, "/health").await.text();
    assert!(text.contains("the data folder is missing"), "{text}");
    assert!(!text.contains(&*root.to_string_lossy()), "{text}");
    assert_eq!(get(&s, "/health").await.json()["status"], "ok");
}

#[tokio::test]
async fn health_answers_while_the_server_is_at_its_cap() {
    let s = state_at_cap_one();
    let router = app(s.clone());
    let (sender, held) = hold_batch(&router, b"36.1,32.6\n").await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    for uri in ["/health", "/static/index.html"] {
        let a = router
            .clone()
            .oneshot(req("GET", uri, &[], Body::empty()))
            .await
            .unwrap();
        assert_eq!(a.status(), StatusCode::OK, "{uri}");
    }
    assert_eq!(
        get_status(&router, "/query/point?lon=36.1&lat=32.6").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    drop(sender);
    assert_eq!(held.await.unwrap().unwrap().status(), StatusCode::OK);
}

/// Issue 11: items, the map and exports select through one path (the layer's R-tree over
/// feature envelopes), and a box across the antimeridian is a box, not an error.
#[tokio::test]
async fn items_the_map_and_exports_agree_on_what_a_box_and_a_date_select() {
    let s = state();
    for (bbox, day) in [
        ("35.9,32.5,36.3,32.8", "2018-02-07"),
        ("38.9,35.9,39.1,36.1", "2018-07-01"),
        ("40,34,41,35", "2018-06-01"),
    ] {
        let items = get(
            &s,
            &format!("/collections/zones/items?bbox={bbox}&datetime={day}&limit=10000"),
        )
        .await
        .json();
        let map = get(&s, &format!("/map/zones?bbox={bbox}&datetime={day}"))
            .await
            .json();
        let feature_keys = |doc: &Value| -> Vec<String> {
            let key = |f: &Value| f["properties"]["key"].as_str().unwrap().to_owned();
            features(doc).map(key).collect()
        };
        let (item_keys, map_keys) = (feature_keys(&items), feature_keys(&map));
        assert!(!item_keys.is_empty(), "{bbox} {day}");
        // The map draws what meets the view by envelope: every exact match, perhaps more.
        assert!(
            item_keys.iter().all(|k| map_keys.contains(k)),
            "{bbox} {day}"
        );
        let dated = get(
            &s,
            &format!("/collections/zones/items?datetime={day}&limit=1"),
        )
        .await
        .json();
        let export = get(&s, &format!("/export/zones.geojson?datetime={day}")).await;
        assert_eq!(
            export.json()["features"].as_array().unwrap().len() as u64,
            dated["numberMatched"].as_u64().unwrap(),
            "{day}"
        );
    }
    let across = get(&s, "/collections/zones/items?bbox=170,-10,-170,10").await;
    assert_eq!(across.status, 200);
    assert_eq!(across.json()["numberMatched"], 0);
}

/// The answer a write handler gives when `state.editor(headers)` refuses it.
async fn refusal(s: &Arc<AppState>, headers: &[(&str, &str)]) -> Answer {
    let mut map = axum::http::HeaderMap::new();
    for (name, value) in headers {
        map.append(
            header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    answer(axum::response::IntoResponse::into_response(
        s.editor(&map).unwrap_err(),
    ))
    .await
}

#[tokio::test]
async fn a_write_without_a_valid_token_gets_a_json_401_with_both_challenges() {
    let dir = std::env::temp_dir().join(format!("zonetrack-http-editors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("editors");
    let _ = std::fs::remove_file(&file);
    let token = zone_server::Editors::add(&file, "alice").unwrap();
    let editors = zone_server::Editors::load(&file).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let s = state_with(Config {
        editors: Some(Arc::new(editors)),
        ..Config::default()
    });
    let bearer = format!("Bearer {token}");
    assert_eq!(
        s.editor(
            &[(header::AUTHORIZATION, bearer.parse().unwrap())]
                .into_iter()
                .collect()
        )
        .unwrap()
        .name,
        "alice"
    );
    let mut refused = Vec::new();
    for headers in [
        &[][..],
        &[("authorization", "Bearer not-the-token")][..],
        &[("authorization", "Basic YWxpY2U6d3Jvbmc=")][..],
    ] {
        refused.push(refusal(&s, headers).await);
    }
    // The 401 a handler may build itself carries the challenges too.
    refused.push(answer(zone_server::auth::unauthorized("no token for this")).await);
    for a in refused {
        assert_eq!(a.status, 401);
        assert_eq!(a.header(header::CONTENT_TYPE), "application/json");
        let body = a.json();
        assert_eq!(body["code"], "Unauthorized");
        assert!(
            body["description"].as_str().unwrap().contains("token"),
            "{body}"
        );
        assert_eq!(
            a.header_all(header::WWW_AUTHENTICATE),
            ["Bearer realm=\"zonetrack\"", "Basic realm=\"zonetrack\""]
        );
    }
}

#[tokio::test]
async fn a_server_without_editors_refuses_writes_and_says_how_to_allow_them() {
    let a = refusal(&state(), &[("authorization", "Bearer anything")]).await;
    assert_eq!(a.status, 403);
    let body = a.json();
    assert_eq!(body["code"], "WritesDisabled");
    let description = body["description"].as_str().unwrap();
    assert!(description.contains("--editors FILE"), "{description}");
    assert!(a.headers.get(header::WWW_AUTHENTICATE).is_none());
}

/// Issue 14: a hand edit of one zone in a data folder is checked without reading the other zones
/// again (the loader's memo) and served by preparing only what changed (the untouched layers
/// are the same ones); a bad edit is still refused with its file, feature and reason, the
/// overlap check still finds a new overlap with an unchanged zone, and what is served after
/// the good edit is exactly what a fresh load of the folder gives.
#[tokio::test]
async fn a_hand_edit_of_one_zone_is_checked_and_served_without_redoing_the_rest() {
    use geodata::{DirectoryStore, History as _, Store as _, ZoneKind};
    let tmp = e2e::TempDir::new("zt-incremental");
    let dir = tmp.0.join("data");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, value) in DATA.source_files() {
        let path = dir.join(&name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_string(&value).unwrap()).unwrap();
    }
    let store = Arc::new(DirectoryStore::new(&dir).with_relative_names());
    store.load().unwrap();
    let h = store.state().unwrap();
    let s = AppState::with_store(
        Snapshot::from_shared(h.data),
        Config::default(),
        store.clone(),
    );
    let zones_path = dir.join("zones.geojson");
    let original: Value =
        serde_json::from_str(&std::fs::read_to_string(&zones_path).unwrap()).unwrap();
    let save = |v: &Value| {
        // As an editor saves: written beside, renamed over (a new modification time).
        let tmp = dir.join(".zones.geojson.tmp");
        std::fs::write(&tmp, serde_json::to_string(v).unwrap()).unwrap();
        std::fs::rename(&tmp, &zones_path).unwrap();
    };
    let features = original["features"].as_array().unwrap();
    // Two drawn control zones of different actors that no rule names, by index in the file.
    let rules: Vec<String> = features
        .iter()
        .map(|f| f["properties"]["rule"].to_string())
        .collect();
    let drawn_control = |i: &usize| {
        let p = &features[*i]["properties"];
        let named = format!("{}", features[*i]["id"]);
        p["kind"] == ZoneKind::Control.as_str()
            && p.get("rule").is_none_or(Value::is_null)
            && !rules.iter().any(|r| r.contains(&named))
    };
    let a = (0..features.len()).find(drawn_control).unwrap();
    let b = (0..features.len())
        .filter(drawn_control)
        .find(|&i| features[i]["properties"]["actor"] != features[a]["properties"]["actor"])
        .unwrap();
    let id = |i: usize| features[i]["id"].as_str().unwrap().to_owned();
    let served_version = s.snapshot().version.clone();

    // A bow tie: refused, naming the file, the feature and the reason.
    let mut bad = original.clone();
    bad["features"][b]["geometry"] = serde_json::json!({"type": "Polygon", "coordinates":
        [[[36.0, 33.0], [36.1, 33.1], [36.1, 33.0], [36.0, 33.1], [36.0, 33.0]]]});
    save(&bad);
    let status = zone_server::reload::reload(&s, &*store);
    assert!(!status.ok);
    let named = format!("zones.geojson: features[{b}] {:?}: geometry: ", id(b));
    assert!(
        status
            .problems
            .iter()
            .any(|p| p.starts_with(&named) && p.contains("self-intersect")),
        "{:?}",
        status.problems
    );
    assert_eq!(s.snapshot().version, served_version);

    // Zone b drawn over zone a, on a's days: the other zones are not measured again, but the
    // pair with the changed zone is.
    let mut overlap = original.clone();
    overlap["features"][b]["geometry"] = features[a]["geometry"].clone();
    for key in ["valid_from", "valid_to"] {
        overlap["features"][b]["properties"][key] = features[a]["properties"][key].clone();
    }
    save(&overlap);
    let status = zone_server::reload::reload(&s, &*store);
    assert!(!status.ok);
    assert!(
        status
            .problems
            .iter()
            .any(|p| p.starts_with(&named) && p.contains(&format!("overlaps {:?}", id(a)))),
        "{:?}",
        status.problems
    );
    assert_eq!(s.snapshot().version, served_version);

    // A good edit: served, with the untouched layers shared with the snapshot before.
    let before = s.snapshot();
    let mut good = original.clone();
    good["features"][b]["properties"]["name"] = "Renamed by hand".into();
    save(&good);
    let status = zone_server::reload::reload(&s, &*store);
    assert!(status.ok, "{:?}", status.problems);
    let after = s.snapshot();
    assert_eq!(after.revision, before.revision + 1);
    // Only the changed layer is built again: the others are the very same objects.
    let same = |name: &str| std::ptr::eq(before.layer(name).unwrap(), after.layer(name).unwrap());
    assert!(same("locations"));
    assert!(!same("zones"));
    let item = get(&s, &format!("/collections/zones/items/{}", id(b))).await;
    assert_eq!(item.json()["properties"]["name"], "Renamed by hand");
    let fresh = geodata::load_dir(&dir).unwrap();
    assert!(
        fresh == *after.data,
        "the incremental load differs from a fresh one"
    );
}
