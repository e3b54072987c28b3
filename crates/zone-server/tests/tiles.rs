//! `/tiles/{collection}/{z}/{x}/{y}.mvt` on the embedded data: tiles decode as MVT 2.1, hold
//! exactly the zones valid on the date whose envelope meets the tile, clipped to the tile and its
//! margin; errors are JSON 4xx; answers are ETagged and kept; collections say whether the map
//! should draw them from tiles.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::http::{Request, header};
use geodata::Dataset;
use geozero::mvt::{Message as _, Tile};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use zone_server::{AppState, Config, Snapshot, app};

static DATA: LazyLock<Dataset> = LazyLock::new(Dataset::embedded);

fn state() -> Arc<AppState> {
    AppState::new(Snapshot::new(DATA.clone()), Config::default())
}

async fn get(
    state: &Arc<AppState>,
    uri: &str,
    headers: &[(&str, &str)],
) -> (u16, axum::http::HeaderMap, Vec<u8>) {
    let mut r = Request::builder().uri(uri).header("host", "zt.test");
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let resp = app(state.clone())
        .oneshot(r.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let h = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, h, body)
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap()
}

/// The tile (x, y) at zoom z holding a lon/lat.
fn tile_of(lon: f64, lat: f64, z: u8) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let r = lat.to_radians();
    let y = ((1.0 - r.tan().asinh() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
    (x, y)
}

/// The lon/lat box of tile (z, x, y).
fn tile_box(z: u8, x: u32, y: u32) -> [f64; 4] {
    let n = f64::from(1u32 << z);
    let lon = |x: f64| x / n * 360.0 - 180.0;
    let lat = |y: f64| {
        (std::f64::consts::PI * (1.0 - 2.0 * y / n))
            .sinh()
            .atan()
            .to_degrees()
    };
    [
        lon(f64::from(x)),
        lat(f64::from(y + 1)),
        lon(f64::from(x + 1)),
        lat(f64::from(y)),
    ]
}

/// Each feature's id, and every coordinate of every feature (decoded from the commands).
fn decode(bytes: &[u8]) -> (Tile, BTreeSet<u64>, Vec<(i64, i64)>) {
    let tile = Tile::decode(bytes).unwrap();
    let mut keys = BTreeSet::new();
    let mut coords = Vec::new();
    for layer in &tile.layers {
        assert_eq!(layer.version, 2);
        assert_eq!(layer.extent, Some(1024));
        for f in &layer.features {
            // Merged specks (a MultiPoint in a polygon layer) carry no id.
            if let Some(id) = f.id {
                keys.insert(id);
            }
            // What the map styles by, and nothing more.
            let names: BTreeSet<&str> = f
                .tags
                .chunks(2)
                .map(|pair| layer.keys[pair[0] as usize].as_str())
                .collect();
            assert_eq!(
                names,
                BTreeSet::from(["kind", "actor", "colour", "confidence"])
            );
            // MoveTo/LineTo parameters are zigzag deltas; ClosePath has none.
            let (mut x, mut y, mut i) = (0i64, 0i64, 0usize);
            while i < f.geometry.len() {
                let (cmd, count) = (f.geometry[i] & 7, f.geometry[i] >> 3);
                i += 1;
                if cmd == 7 {
                    continue;
                }
                for _ in 0..count {
                    let dz = |v: u32| i64::from((v >> 1) as i32 ^ -((v & 1) as i32));
                    x += dz(f.geometry[i]);
                    y += dz(f.geometry[i + 1]);
                    i += 2;
                    coords.push((x, y));
                }
            }
        }
    }
    (tile, keys, coords)
}

#[tokio::test]
async fn a_tile_holds_the_zones_of_its_date_and_box_clipped_to_it() {
    let s = state();
    // Daraa at zoom 8: the south-west, where zones start and end in 2018.
    let z = 8;
    let (x, y) = tile_of(36.1, 32.617, z);
    for date in ["2018-02-15", "2018-08-15"] {
        let (status, h, body) = get(
            &s,
            &format!("/tiles/zones/{z}/{x}/{y}.mvt?datetime={date}"),
            &[],
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            h.get(header::CONTENT_TYPE).unwrap(),
            "application/vnd.mapbox-vector-tile"
        );
        let (tile, keys, coords) = decode(&body);
        assert_eq!(tile.layers.len(), 1);
        assert_eq!(tile.layers[0].name, "zones");
        // The same zones as the items whose envelope meets the tile and its 16-unit margin.
        let [w, so, e, n] = tile_box(z, x, y);
        let (mw, mh) = ((e - w) * 16.0 / 1024.0, (n - so) * 16.0 / 1024.0);
        let items = json(
            &get(
                &s,
                &format!(
                    "/collections/zones/items?datetime={date}&limit=10000&bbox={},{},{},{}",
                    w - mw,
                    so - mh,
                    e + mw,
                    n + mh
                ),
                &[],
            )
            .await
            .2,
        );
        let expected: BTreeSet<u64> = items["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_u64().unwrap())
            .collect();
        assert!(!expected.is_empty());
        // Items test the geometry exactly, the tile the envelope: the tile may hold more.
        assert!(
            keys.is_superset(&expected),
            "{date}: {keys:?} vs {expected:?}"
        );
        for k in &keys {
            let f = DATA.export_features("zones").unwrap();
            let f = f.iter().find(|f| u64::from(f.fid) == *k).unwrap();
            let d: geodata::Date = date.parse().unwrap();
            assert!(f.period.contains(d), "{k} is not valid on {date}");
        }
        assert!(
            coords
                .iter()
                .all(|&(x, y)| (-16..=1040).contains(&x) && (-16..=1040).contains(&y)),
            "every vertex within the tile and its margin"
        );
    }
    // The two dates differ (the Deraa offensive of June-July 2018).
    let a = get(
        &s,
        &format!("/tiles/zones/{z}/{x}/{y}.mvt?datetime=2018-02-15"),
        &[],
    )
    .await;
    let b = get(
        &s,
        &format!("/tiles/zones/{z}/{x}/{y}.mvt?datetime=2018-08-15"),
        &[],
    )
    .await;
    assert_ne!(decode(&a.2).1, decode(&b.2).1);
}

#[tokio::test]
async fn an_empty_tile_is_empty_and_bad_addresses_are_json_errors() {
    let s = state();
    // The middle of the Pacific at zoom 6.
    let (status, _, body) = get(&s, "/tiles/zones/6/0/31.mvt", &[]).await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    for (uri, want) in [
        ("/tiles/zones/3/8/0.mvt", 400),
        ("/tiles/zones/23/0/0.mvt", 400),
        ("/tiles/zones/x/0/0.mvt", 400),
        ("/tiles/zones/3/0/y.mvt", 400),
        ("/tiles/zones/3/0/0.png", 404),
        ("/tiles/nothing/3/0/0.mvt", 404),
        ("/tiles/zones/3/0/0.mvt?datetime=yesterday", 400),
        ("/tiles/zones/3/0/0.mvt?bbox=1,2,3,4", 400),
    ] {
        let (status, h, body) = get(&s, uri, &[]).await;
        assert_eq!(status, want, "{uri}");
        assert!(
            h.get(header::CONTENT_TYPE)
                .unwrap()
                .to_str()
                .unwrap()
                .contains("json"),
            "{uri}"
        );
        let v = json(&body);
        assert!(
            v["code"].is_string() && v["description"].is_string(),
            "{uri}: {v}"
        );
    }
}

#[tokio::test]
async fn tiles_are_etagged_and_kept() {
    let s = state();
    let uri = "/tiles/zones/6/38/25.mvt?datetime=2018-02-15";
    let (status, h, first) = get(&s, uri, &[]).await;
    assert_eq!(status, 200);
    let tag = h.get(header::ETAG).unwrap().to_str().unwrap().to_owned();
    let (status, h, again) = get(&s, uri, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(h.get("x-cache").unwrap(), "hit");
    assert_eq!(first, again);
    let (status, _, _) = get(&s, uri, &[("if-none-match", &tag)]).await;
    assert_eq!(status, 304);
    // Compressed when asked, like every other read.
    let (_, h, _) = get(&s, uri, &[("accept-encoding", "gzip")]).await;
    assert_eq!(h.get(header::CONTENT_ENCODING).unwrap(), "gzip");
}

#[tokio::test]
async fn collections_say_where_tiles_are_and_the_small_default_set_keeps_geojson() {
    let s = state();
    let doc = json(
        &get(&s, "/collections", &[("accept", "application/json")])
            .await
            .2,
    );
    for c in doc["collections"].as_array().unwrap() {
        let t = &c["zonetrack:tiles"];
        let id = c["id"].as_str().unwrap();
        assert_eq!(
            t["href"],
            format!("http://zt.test/tiles/{id}/{{z}}/{{x}}/{{y}}.mvt")
        );
        assert_eq!(t["type"], "application/vnd.mapbox-vector-tile");
        assert_eq!(t["features"], c["itemCount"]);
        // The embedded set is small: every layer stays GeoJSON on the map.
        assert_eq!(t["preferred"], false, "{id}: {t}");
        assert!(
            t["features"].as_u64().unwrap() <= t["threshold"]["features"].as_u64().unwrap()
                && t["vertices"].as_u64().unwrap() <= t["threshold"]["vertices"].as_u64().unwrap()
        );
    }
    let api = json(&get(&s, "/api", &[("accept", "application/json")]).await.2);
    assert!(api["paths"]["/tiles/{collection}/{z}/{x}/{y}.mvt"]["get"].is_object());
}
