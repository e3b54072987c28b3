//! `as_of` against the revision log: a seeded random history of edits made through the HTTP
//! API (creates, PATCHes of geometry and properties, PUTs, DELETEs of zones, locations and
//! events), then for every revision N, what `?as_of=N` and `?as_of=<time of N>` serve is
//! compared with the data rebuilt forward from the import with the log's first N revisions,
//! and `Dataset::as_of` + `diff` (what `zonetrack diff` prints) with the same rebuild.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::StatusCode;
use geodata::{Dataset, DirectoryStore, FeatureChange, LOG_FILE, Revision, Store};
use serde_json::{Value, json};
use zone_server::{AppState, Config, Editors, Snapshot};
use zone_store_pg::PgStore;

mod common;

const LAYERS: [&str; 3] = ["zones", "locations", "events"];
/// How many edits are sent; refused ones (an edit that would leave the data invalid) included.
const EDITS: usize = 40;

/// A seeded generator (splitmix64): the same history on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

async fn send(
    state: &Arc<AppState>,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let a = common::send(state, common::req(method, uri, headers, body)).await;
    (a.status, a.json_or_null())
}

/// A small geometry inside Syria for a layer; a zone's ring is sometimes clockwise, which the
/// store turns counter-clockwise.
fn geometry(rng: &mut Rng, layer: &str) -> Value {
    let (lon, lat) = (rng.uniform(36.6, 40.4), rng.uniform(33.6, 36.4));
    if layer != "zones" {
        return json!({"type": "Point", "coordinates": [lon, lat]});
    }
    let d = rng.uniform(0.02, 0.2);
    let mut ring = vec![
        [lon, lat],
        [lon + d, lat],
        [lon + d, lat + d],
        [lon, lat + d],
        [lon, lat],
    ];
    if rng.below(2) == 0 {
        ring.reverse();
    }
    json!({"type": "Polygon", "coordinates": [ring]})
}

fn ids(data: &Dataset, layer: &str, drawn_only: bool) -> Vec<String> {
    match layer {
        "zones" => data
            .zones
            .iter()
            // A period derived from a date-aware rule is not a feature of the file: the rule is.
            .filter(|z| z.derived_from.is_none() && (!drawn_only || z.rule.is_none()))
            .map(|z| z.meta.id.to_string())
            .collect(),
        "locations" => data
            .locations
            .iter()
            .map(|l| l.meta.id.to_string())
            .collect(),
        _ => data.events.iter().map(|e| e.meta.id.to_string()).collect(),
    }
}

/// One random edit against the data as it is: (method, uri, content type, body).
fn random_edit(rng: &mut Rng, data: &Dataset, i: usize) -> (&'static str, String, Value) {
    let layer = *rng.pick(&LAYERS);
    let items = format!("/collections/{layer}/items");
    let kind = rng.below(5);
    if kind == 0 {
        let template = ids(data, layer, true);
        let mut f = data.source_feature(layer, &template[0]).unwrap();
        f["id"] = json!(format!("history_test_{i}"));
        f["properties"]["name"] = json!(format!("Made by the history test, edit {i}"));
        f["geometry"] = geometry(rng, layer);
        return ("POST", items, f);
    }
    let drawn = ids(data, layer, true);
    let target = rng.pick(&drawn).clone();
    let uri = format!("{items}/{target}");
    match kind {
        1 => ("PATCH", uri, json!({"geometry": geometry(rng, layer)})),
        2 => {
            let any = ids(data, layer, false);
            let target = rng.pick(&any).clone();
            let props = json!({"properties": {
                "description": format!("Edit {i} of the history test"),
                "confidence": *rng.pick(&["high", "medium", "low"]),
            }});
            ("PATCH", format!("{items}/{target}"), props)
        }
        3 => {
            let mut f = data.source_feature(layer, &target).unwrap();
            f["properties"]["name"] = json!(format!("Replaced by edit {i}"));
            f["geometry"] = geometry(rng, layer);
            ("PUT", uri, f)
        }
        _ => ("DELETE", uri, Value::Null),
    }
}

/// The data as imported with `changes` applied forward, feature by feature in source form:
/// the log's meaning, folded without the store.
fn fold(
    mut layers: BTreeMap<String, BTreeMap<String, Value>>,
    revisions: &[Revision],
) -> BTreeMap<String, BTreeMap<String, Value>> {
    for r in revisions {
        for c in &r.changes {
            let layer = layers.get_mut(&c.layer).unwrap();
            assert_eq!(
                layer.get(c.id.as_str()),
                c.before.as_ref(),
                "revision {}: {}/{} before is the state the log left it in",
                r.number,
                c.layer,
                c.id
            );
            match &c.after {
                Some(after) => layer.insert(c.id.to_string(), after.clone()),
                None => layer.remove(c.id.as_str()),
            };
        }
    }
    layers
}

fn sources(data: &Dataset) -> BTreeMap<String, BTreeMap<String, Value>> {
    LAYERS
        .iter()
        .map(|layer| {
            let features = ids(data, layer, false)
                .into_iter()
                .map(|id| {
                    let f = data.source_feature(layer, &id).unwrap();
                    (id, f)
                })
                .collect();
            (layer.to_string(), features)
        })
        .collect()
}

/// The served features of a layer by integer id, as `/collections/{layer}/items` gives them.
fn by_fid(features: &Value) -> BTreeMap<u64, Value> {
    features
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["id"].as_u64().unwrap(), f.clone()))
        .collect()
}

fn read_log(dir: &Path) -> Vec<Revision> {
    std::fs::read_to_string(dir.join(LOG_FILE))
        .unwrap()
        .lines()
        .map(|l| Revision::from_json(&serde_json::from_str(l).unwrap()).unwrap())
        .collect()
}

/// The stores the test runs against: the same edits, the same answers.
#[derive(Debug, Clone, Copy)]
enum Backend {
    /// A data folder; its revisions are read back from `history/log.jsonl`.
    Directory,
    /// A PostgreSQL database (a throwaway cluster); its revisions are read back by a new store.
    Postgres,
}

/// The store to edit, the data as imported, and how to read the revisions back from where the
/// store keeps them (not from its memory).
struct Opened {
    store: Arc<dyn Store>,
    imported: Dataset,
    read_back: Box<dyn Fn() -> Vec<Revision> + Send>,
}

fn open(backend: Backend, tmp: &e2e::TempDir) -> Opened {
    match backend {
        Backend::Directory => {
            let dir = tmp.0.join("data");
            Dataset::embedded().write_dir(&dir).unwrap();
            let imported = geodata::load_dir(&dir).unwrap();
            let store = Arc::new(DirectoryStore::new(&dir).with_relative_names());
            Opened {
                store,
                imported,
                read_back: Box::new(move || read_log(&dir)),
            }
        }
        Backend::Postgres => {
            static CLUSTER: std::sync::OnceLock<e2e::pg::Cluster> = std::sync::OnceLock::new();
            let cluster = CLUSTER.get_or_init(e2e::pg::Cluster::start);
            // One database per store opened: the tests of this file share the cluster.
            static OPENED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = OPENED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let url = cluster.database(&format!("t{}_{n}", std::process::id()));
            let store = Arc::new(PgStore::new(&url).unwrap());
            store.migrate().unwrap();
            store
                .import(&Dataset::embedded(), &[], "embedded", false, |_| {})
                .unwrap();
            let imported = PgStore::new(&url).unwrap().load().unwrap();
            Opened {
                store,
                imported,
                read_back: Box::new(move || {
                    let fresh = PgStore::new(&url).unwrap();
                    fresh.load().unwrap();
                    let revisions = geodata::History::state(&fresh).unwrap().revisions;
                    revisions.iter().map(|r| Revision::clone(r)).collect()
                }),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_revision_as_of_number_and_time_serves_the_log_folded_forward() {
    as_of_history(Backend::Directory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_revision_as_of_number_and_time_serves_the_log_folded_forward_from_postgres() {
    as_of_history(Backend::Postgres).await;
}

async fn as_of_history(backend: Backend) {
    let tmp = e2e::TempDir::new(&format!("as-of-history-{backend:?}"));
    let editors_file = tmp.0.join("editors");
    let token = Editors::add(&editors_file, "alice").unwrap();
    // The PostgreSQL client blocks: off the async threads, as the server calls it.
    let (opened, data, _tmp) = tokio::task::spawn_blocking(move || {
        let opened = open(backend, &tmp);
        let data = opened.store.load().unwrap();
        (opened, data, tmp)
    })
    .await
    .unwrap();
    let Opened {
        store,
        imported,
        read_back,
    } = opened;
    let revision_of = |store: &Arc<dyn Store>| store.history().unwrap().state().unwrap().revision();
    let state = AppState::with_store(
        Snapshot::new(data),
        Config {
            editors: Some(Arc::new(Editors::load(&editors_file).unwrap())),
            ..Config::default()
        },
        store.clone(),
    );
    let bearer = format!("Bearer {token}");

    let mut rng = Rng(12);
    let mut refused = 0;
    for i in 0..EDITS {
        let latest = state.snapshot().data.clone();
        let (method, uri, body) = random_edit(&mut rng, &latest, i);
        let mut headers = vec![("authorization", bearer.as_str())];
        let ctype = if method == "PATCH" {
            "application/merge-patch+json"
        } else {
            "application/geo+json"
        };
        if method != "DELETE" {
            headers.push(("content-type", ctype));
        }
        let before = revision_of(&store);
        let body = (method != "DELETE").then_some(&body);
        let (status, answer) = send(&state, method, &uri, &headers, body).await;
        let after = revision_of(&store);
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            // A delete of a feature a rule or an event names: refused, nothing written.
            refused += 1;
            assert_eq!(
                before, after,
                "{method} {uri} refused but written: {answer}"
            );
        } else {
            assert!(status.is_success(), "{method} {uri}: {status} {answer}");
        }
        // Revisions a millisecond or more apart, so each has its own time.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let revisions = tokio::task::spawn_blocking(read_back).await.unwrap();
    let latest = revisions.len() as u64;
    assert!(
        latest >= 30,
        "{latest} revisions of {EDITS} edits ({refused} refused)"
    );
    assert_eq!(
        revisions.iter().map(|r| r.number).collect::<Vec<_>>(),
        (1..=latest).collect::<Vec<_>>(),
        "revisions are numbered without gaps"
    );
    let latest_data = state.snapshot().data.clone();

    let (status, beyond) = send(
        &state,
        "GET",
        &format!("/collections/zones/items?as_of={}", latest + 1),
        &[],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{beyond}");

    // Each revision's data rebuilt forward from the import, and undone back from the latest.
    let mut rebuilt: Vec<Dataset> = Vec::new();
    let mut undone: Vec<Dataset> = Vec::new();
    for n in 0..=latest {
        let upto = &revisions[..n as usize];
        let changes: Vec<FeatureChange> = upto
            .iter()
            .flat_map(|r| r.changes.iter().cloned())
            .collect();
        let forward = imported.with_changes(&changes).unwrap();
        assert_eq!(
            sources(&forward),
            fold(sources(&imported), upto),
            "revision {n}: the loader's fold is the plain fold of the log"
        );
        let backward = latest_data.as_of(&revisions, n).unwrap();
        assert!(
            backward.diff(&forward).is_empty(),
            "revision {n}: as_of undoing from the latest differs from the fold: {:?}",
            backward.diff(&forward)
        );
        // The time of revision N as `/revisions` shows it.
        let time = n
            .checked_sub(1)
            .and_then(|i| revisions.get(i as usize))
            .map(|r| r.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        for layer in LAYERS {
            let want: Vec<Value> = forward
                .export_features(layer)
                .unwrap()
                .iter()
                .map(|f| f.to_json())
                .collect();
            let want = by_fid(&Value::Array(want));
            let mut asked = vec![format!("as_of={n}")];
            asked.extend(time.iter().map(|t| format!("as_of={t}")));
            for q in asked {
                let uri = format!("/collections/{layer}/items?{q}&limit=10000");
                let (status, page) = send(&state, "GET", &uri, &[], None).await;
                assert_eq!(status, StatusCode::OK, "{uri}: {page}");
                let got = by_fid(&page["features"]);
                assert_eq!(
                    got.keys().collect::<Vec<_>>(),
                    want.keys().collect::<Vec<_>>(),
                    "{uri}: the features"
                );
                for (fid, f) in &want {
                    assert_eq!(&got[fid], f, "{uri}: feature {fid}");
                }
            }
        }
        rebuilt.push(forward);
        undone.push(backward);
    }
    // `zonetrack diff A B`: the difference of the two rebuilt states, for pairs across the
    // history (each state against the import, the latest, and the one before).
    for a in 0..=latest {
        for b in [0, a.saturating_sub(1), latest] {
            let mut shown = undone[a as usize].diff(&undone[b as usize]);
            let mut expected = rebuilt[a as usize].diff(&rebuilt[b as usize]);
            // In file order, and undoing a delete puts the feature back last: compare as sets.
            for changes in [&mut shown, &mut expected] {
                changes.sort_by(|x, y| (&x.layer, x.id.as_str()).cmp(&(&y.layer, y.id.as_str())));
            }
            assert_eq!(shown, expected, "diff {a} {b}");
        }
    }
    assert!(
        !rebuilt[0].diff(&rebuilt[latest as usize]).is_empty(),
        "the history changed something"
    );
    // A PostgreSQL client owns a runtime of its own, which may not be dropped on an async
    // thread: the store goes on a blocking one.
    tokio::task::spawn_blocking(move || drop((state, store)))
        .await
        .unwrap();
}

/// A date-aware rule zone is served as its periods (`gov_remainder_YYYY_MM_DD`); a write to a
/// period is refused with a 409 naming the rule zone, and a write to that stored id is taken
/// and reaches every period. (The crash test once PATCHed `gov_remainder` and got a 404 that
/// the 409 had sent it to.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_aware_rule_zone_is_written_by_its_stored_id() {
    let tmp = e2e::TempDir::new("rule-zone-write");
    let editors_file = tmp.0.join("editors");
    let token = Editors::add(&editors_file, "alice").unwrap();
    let opened = open(Backend::Directory, &tmp);
    let state = AppState::with_store(
        Snapshot::new(opened.store.load().unwrap()),
        Config {
            editors: Some(Arc::new(Editors::load(&editors_file).unwrap())),
            ..Config::default()
        },
        opened.store.clone(),
    );
    let bearer = format!("Bearer {token}");
    let headers = [
        ("authorization", bearer.as_str()),
        ("content-type", "application/merge-patch+json"),
    ];
    let periods = |snap: &Snapshot| -> Vec<(String, String)> {
        snap.data
            .zones
            .iter()
            .filter(|z| {
                z.derived_from
                    .as_ref()
                    .is_some_and(|d| d.id.as_str() == "gov_remainder")
            })
            .map(|z| (z.meta.id.to_string(), z.meta.description.clone()))
            .collect()
    };
    let before = periods(&state.snapshot());
    assert!(before.len() > 1, "gov_remainder has periods: {before:?}");

    let patch = json!({"properties": {"description": "Edited through the rule zone"}});
    let period = format!("/collections/zones/items/{}", before[0].0);
    let (status, answer) = send(&state, "PATCH", &period, &headers, Some(&patch)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["code"], "DerivedFeature");
    assert!(
        answer["description"]
            .as_str()
            .unwrap()
            .contains("\"gov_remainder\"")
    );

    let uri = "/collections/zones/items/gov_remainder";
    let (status, answer) = send(&state, "PATCH", uri, &headers, Some(&patch)).await;
    assert!(status.is_success(), "{status} {answer}");
    let after = periods(&state.snapshot());
    assert_eq!(after.len(), before.len());
    assert!(
        after
            .iter()
            .all(|(_, d)| d == "Edited through the rule zone"),
        "{after:?}"
    );
    let (status, _) = send(
        &state,
        "PATCH",
        "/collections/zones/items/no_such_zone",
        &headers,
        Some(&patch),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The same data set served from a data folder and from PostgreSQL answers every read the same,
/// byte for byte: the landing page, the collections, every layer's items, queryables and
/// exports, the OpenAPI document, the revisions, and point queries at seeded random places and
/// days (with and without nearest zones). Only `/health`, which names the store, differs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_answers_the_same_from_a_folder_and_from_postgres() {
    let mut states = Vec::new();
    for backend in [Backend::Directory, Backend::Postgres] {
        let tmp = e2e::TempDir::new(&format!("same-reads-{backend:?}"));
        let (store, data, tmp) = tokio::task::spawn_blocking(move || {
            let opened = open(backend, &tmp);
            let data = opened.store.load().unwrap();
            (opened.store, data, tmp)
        })
        .await
        .unwrap();
        let state = AppState::with_store(Snapshot::new(data), Config::default(), store);
        states.push((state, tmp));
    }
    let (folder, pg) = (&states[0].0, &states[1].0);

    let mut uris: Vec<String> = ["/", "/conformance", "/collections", "/api", "/revisions"]
        .map(String::from)
        .to_vec();
    let collections = common::get_with(folder, "/collections", &[]).await.json();
    for c in collections["collections"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        uris.push(format!("/collections/{id}"));
        uris.push(format!("/collections/{id}/items?limit=10000"));
        uris.push(format!(
            "/collections/{id}/items?limit=7&offset=3&datetime=2018-02-07"
        ));
        uris.push(format!("/collections/{id}/queryables"));
        for ext in ["geojson", "fgb", "csv"] {
            uris.push(format!("/export/{id}.{ext}"));
        }
    }
    let mut rng = Rng(7);
    for i in 0..40 {
        let (lon, lat) = (rng.uniform(35.5, 42.5), rng.uniform(32.0, 37.5));
        let day = if i % 2 == 0 {
            "2018-02-07"
        } else {
            "2017-04-07"
        };
        let nearest = if i % 4 == 0 { "&nearest=0" } else { "" };
        uris.push(format!(
            "/query/point?lon={lon:.5}&lat={lat:.5}&datetime={day}{nearest}"
        ));
    }
    let mut compared = 0;
    for uri in &uris {
        let (a, b) = (
            common::get_with(folder, uri, &[]).await,
            common::get_with(pg, uri, &[]).await,
        );
        assert_eq!(a.status, b.status, "{uri}");
        // CSV holds point layers only; the other layers' 404 says which formats they take.
        assert!(
            a.status.is_success() || uri.ends_with(".csv"),
            "{uri}: {} {}",
            a.status,
            a.text()
        );
        assert!(a.body == b.body, "{uri}: the two stores answer differently");
        compared += 1;
    }
    assert!(compared > 80, "{compared} reads compared");
    // The PostgreSQL client blocks when it closes: off the async threads.
    tokio::task::spawn_blocking(move || drop(states))
        .await
        .unwrap();
}
