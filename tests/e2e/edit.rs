//! Editing over OGC API - Features Part 4 from real clients (issue 12): the requests QGIS's
//! OAPIF provider sends when a user adds, moves, edits and deletes a zone, replayed byte for
//! byte as the provider builds them; OWSLib's create/replace/delete; and what a server must
//! refuse (no token, a stale `If-Match`, an invalid feature), each checked through the API,
//! GDAL's OAPIF driver, the layer file and `/revisions`.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use e2e::{Reply, Server, TempDir, check_output, repo_root, require_tool, run};
use serde_json::{Value, json};

/// The User-Agent QGIS's network access manager sends (`Mozilla/5.0 QGIS/<version>`).
const QGIS_AGENT: &str = "Mozilla/5.0 QGIS/33400";
/// The Accept header of QGIS's items and single-item requests.
const QGIS_ACCEPT: &str = "application/geo+json, application/json";

/// The store a server edits: the editing tests run against each (see [`on_both_stores`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    /// A data folder made by `zonetrack init`.
    Directory,
    /// A PostgreSQL database (a throwaway cluster) with the default set from `zonetrack db import`.
    Postgres,
}

/// Runs an editing test once per store: `mod NAME { fn directory(); fn postgres(); }`, the same
/// body, so the two stores answer the same requests the same way.
macro_rules! on_both_stores {
    ($(#[$attr:meta])* fn $name:ident($backend:ident: Backend) $body:block) => {
        $(#[$attr])*
        mod $name {
            use super::*;
            #[test]
            fn directory() {
                body(Backend::Directory)
            }
            #[test]
            fn postgres() {
                body(Backend::Postgres)
            }
            fn body($backend: Backend) $body
        }
    };
}

/// A data folder made by `zonetrack init` (or a database with the same data set), its editors,
/// and `zonetrack serve` on it.
struct Editing {
    // Fields drop in order: the server stops before its folder (or database) is removed, so
    // its last flush does not find the folder gone.
    server: Server,
    cluster: Option<e2e::pg::Cluster>,
    /// The database's URL, for the PostgreSQL store.
    url: Option<String>,
    /// Folders exported from the database so far (each `data()` makes a new one).
    exports: std::cell::Cell<u32>,
    dir: TempDir,
    /// (name, token) of each editor, in the order asked for.
    editors: Vec<(String, String)>,
}

impl Editing {
    fn start(test: &str, names: &[&str], backend: Backend) -> Editing {
        let dir = TempDir::new(&format!("{test}-{backend:?}"));
        let data = dir.0.join("data");
        let editors_file = dir.0.join("editors.txt");
        let (data_arg, file_arg) = (file(&data), file(&editors_file));
        let (cluster, url) = match backend {
            Backend::Directory => {
                let out = run(&["init", &data_arg]);
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                (None, None)
            }
            Backend::Postgres => {
                let cluster = e2e::pg::Cluster::start();
                let url = cluster.database("edit");
                let out = run(&["db", "import", "--store", &url]);
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                (Some(cluster), Some(url))
            }
        };
        let editors = names
            .iter()
            .map(|name| {
                let out = run(&["editors", "add", name, "--file", &file_arg]);
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                // "added editor NAME to FILE; token: TOKEN": the token is the last word.
                let stdout = String::from_utf8_lossy(&out.stdout);
                let token = stdout
                    .split_whitespace()
                    .last()
                    .expect("a token")
                    .to_owned();
                ((*name).to_owned(), token)
            })
            .collect();
        let server = match &url {
            None => Server::start(&["--data", &data_arg, "--editors", &file_arg]),
            Some(url) => Server::start(&["--store", url, "--editors", &file_arg]),
        };
        Editing {
            server,
            cluster,
            url,
            exports: std::cell::Cell::new(0),
            dir,
            editors,
        }
    }

    /// The data folder; for the PostgreSQL store, what the database holds now, exported by
    /// `zonetrack db export` to a new folder.
    fn data(&self) -> PathBuf {
        let Some(url) = &self.url else {
            return self.dir.0.join("data");
        };
        let n = self.exports.get() + 1;
        self.exports.set(n);
        let out_dir = self.dir.0.join(format!("export-{n}"));
        let out = run(&["db", "export", &file(&out_dir), "--store", url]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out_dir
    }

    /// `Authorization: Basic` for editor `i`, as QGIS's `QgsAuthorizationSettings` (user name
    /// and password in the layer's URI or its auth configuration) sets it on every request.
    fn basic(&self, i: usize) -> String {
        let (name, token) = &self.editors[i];
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("{name}:{token}"));
        format!("Basic {pair}")
    }

    fn bearer(&self, i: usize) -> String {
        format!("Bearer {}", self.editors[i].1)
    }

    fn feature(&self, fid: &str) -> Reply {
        self.server.send(
            "GET",
            &format!("/collections/zones/items/{fid}"),
            &[("Accept", QGIS_ACCEPT)],
            b"",
        )
    }

    fn revisions(&self) -> Value {
        self.server.get_json("/revisions")
    }

    fn zone_count(&self) -> u64 {
        self.server.get_json("/collections/zones/items?limit=1")["numberMatched"]
            .as_u64()
            .expect("numberMatched")
    }

    /// Waits until the layer files hold revision `n` (they are written a moment after a write);
    /// a database holds it when the write is acknowledged.
    fn wait_for_flush(&self, n: u64) {
        if self.cluster.is_some() {
            return;
        }
        let checkpoint = self.data().join("history").join("checkpoint.json");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let held = std::fs::read(&checkpoint)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .and_then(|v| v["revision"].as_u64());
            if held == Some(n) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the layer files hold revision {held:?}, not {n}, 10 s after the write"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The fields `ogrinfo` prints for the zones whose readable id is `key`: one list of
/// `name (Type) = value` lines and geometry lines per feature. The service calls the readable
/// id `key` (its `id` is an integer); the layer file, in source form, calls it `id`.
fn ogr_zone(source: &str, key: &str) -> Vec<Vec<String>> {
    let ogrinfo = require_tool("ogrinfo", "gdal-bin");
    let field = if source.starts_with("OAPIF:") {
        "key"
    } else {
        "id"
    };
    let text = check_output(
        Command::new(ogrinfo)
            .args(["-ro", "-q", source, "zones", "-where"])
            .arg(format!("{field} = '{key}'")),
    );
    let mut features: Vec<Vec<String>> = Vec::new();
    for line in text.lines() {
        if line.starts_with("OGRFeature(") {
            features.push(Vec::new());
        } else if let Some(f) = features.last_mut() {
            f.push(line.trim().to_owned());
        }
    }
    features
}

fn live(server: &Server) -> String {
    format!("OAPIF:{}", server.url)
}

fn file(path: &Path) -> String {
    path.to_str().expect("a UTF-8 path").to_owned()
}

/// Asserts that a `ogrinfo` feature has this line (a field as `name (Type) = value`, or the
/// start of its WKT geometry).
fn has_line(feature: &[String], start: &str, whence: &str) {
    assert!(
        feature.iter().any(|l| l.starts_with(start)),
        "{whence}: no line starting {start:?} in {feature:#?}"
    );
}

/// The methods an OPTIONS answer allows, split as QGIS splits `Allow` (sendOPTIONS in
/// qgsbasenetworkrequest.cpp: on commas, trimmed).
fn allowed(options: &Reply) -> Vec<&str> {
    options
        .header("allow")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .collect()
}

on_both_stores! {
fn qgis_adds_moves_edits_and_deletes_a_zone_as_its_provider_does(backend: Backend) {
    let e = Editing::start("edit-qgis", &["alice"], backend);
    let auth = e.basic(0);
    let qgis = |method: &str, path: &str, extra: &[(&str, &str)], body: &[u8]| {
        let mut headers = vec![("User-Agent", QGIS_AGENT), ("Authorization", auth.as_str())];
        headers.extend_from_slice(extra);
        e.server.send(method, path, &headers, body)
    };
    let before = e.zone_count();

    // The layer's first page: QGIS infers the fields from it and keeps the first feature's id
    // for the OPTIONS probe (qgsoapifprovider.cpp, computeCapabilities).
    let page = qgis(
        "GET",
        "/collections/zones/items?limit=10",
        &[("Accept", QGIS_ACCEPT)],
        b"",
    );
    assert_eq!(page.status, 200, "{}", page.text());
    let page = page.json();
    let first_id = page["features"][0]["id"].to_string();
    let mut fields: Vec<String> = Vec::new();
    for f in page["features"].as_array().unwrap() {
        for k in f["properties"].as_object().unwrap().keys() {
            if !fields.contains(k) {
                fields.push(k.clone());
            }
        }
    }

    // computeCapabilities: OPTIONS on the items URL; "POST" in Allow enables adding. Then
    // OPTIONS on /items/{first id}: PUT enables attribute and geometry changes, DELETE
    // deletes, PATCH makes QGIS send merge patches instead of whole features. QGIS reads only
    // the Allow header (qgsbasenetworkrequest.cpp, sendOPTIONS), so that is what we check.
    let options = qgis("OPTIONS", "/collections/zones/items", &[], b"");
    assert!(options.status < 300, "{} {}", options.status, options.head);
    let allow = allowed(&options);
    assert!(allow.contains(&"POST"), "Allow on items: {allow:?}");
    let options = qgis(
        "OPTIONS",
        &format!("/collections/zones/items/{first_id}"),
        &[],
        b"",
    );
    assert!(options.status < 300, "{} {}", options.status, options.head);
    let allow = allowed(&options);
    for m in ["PUT", "PATCH", "DELETE"] {
        assert!(allow.contains(&m), "Allow on one item lacks {m}: {allow:?}");
    }

    // A new zone drawn in QGIS (qgsoapifcreatefeaturerequest.cpp, createFeature):
    // QgsJsonExporter::exportFeatureToJsonObject writes every field of the layer (null where
    // the user left it empty; dates as ISO text; the `sources` field, which GDAL's GeoJSON
    // reader types String(JSON) and QGIS holds as a JSON value, as an array) and coordinates
    // rounded to 6 decimals; QGIS then erases "id" and "bbox". nlohmann's json keeps keys
    // sorted, so they go out sorted here too. Content-Crs is sent only when the layer's CRS is not
    // CRS84 (QgsOapifProvider::addFeatures), and we advertise CRS84, so none is sent.
    fields.sort();
    let mut properties = serde_json::Map::new();
    for k in &fields {
        properties.insert(k.clone(), Value::Null);
    }
    let entered = json!({
        "name": "Test zone south of Raqqa",
        "description": "Drawn in QGIS for the end-to-end test of editing.",
        "actor": "sdf",
        "kind": "control",
        "valid_from": "2018-01-01",
        "valid_to": "2018-06-30",
        "confidence": "low",
        "method": "hand_drawn",
        "sources": [{"title": "Field report", "publisher": "zonetrack tests"}],
    });
    for (k, v) in entered.as_object().unwrap() {
        assert!(
            properties.contains_key(k),
            "the layer has no field {k}: {fields:?}"
        );
        properties.insert(k.clone(), v.clone());
    }
    // nlohmann's key order again: "coordinates" before "type".
    let drawn = json!({"coordinates": [[[
        [38.912345, 35.612345], [39.112345, 35.612345], [39.112345, 35.812345],
        [38.912345, 35.812345], [38.912345, 35.612345]
    ]]], "type": "MultiPolygon"});
    let posted = json!({"geometry": drawn, "properties": properties, "type": "Feature"});
    let created = qgis(
        "POST",
        "/collections/zones/items",
        &[("Content-Type", "application/geo+json")],
        posted.to_string().as_bytes(),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    // QGIS takes the new id from Location, after the last "/items/".
    let location = created
        .header("location")
        .expect("Location on 201")
        .to_owned();
    let id = location
        .rsplit_once("/items/")
        .map(|(_, id)| id.to_owned())
        .expect("Location ends in /items/{id}");
    assert!(
        id.parse::<u32>().is_ok(),
        "an integer feature id: {location}"
    );
    assert!(
        location.starts_with(&e.server.url),
        "an absolute Location: {location}"
    );

    // QgsOapifProvider::addFeatures then reads the feature back (QgsOapifSingleItemRequest).
    let got = e.feature(&id);
    assert_eq!(got.status, 200, "{}", got.text());
    let zone = got.json();
    let key = zone["properties"]["key"]
        .as_str()
        .expect("a key made from the name")
        .to_owned();
    assert_eq!(key, "test_zone_south_of_raqqa");
    assert_eq!(zone["geometry"], drawn);
    assert_eq!(zone["properties"]["sources"], entered["sources"]);
    // Derived fields are the server's, whatever QGIS sent (null here).
    assert_eq!(
        zone["properties"]["actor_name"],
        "Syrian Democratic Forces (SDF)"
    );
    // One more zone at least: a new control zone also splits the government's remainder (a
    // date-aware rule) into one more period.
    assert!(
        e.zone_count() > before,
        "{} zones after the create, {before} before",
        e.zone_count()
    );

    // Moving it: qgsoapifpatchfeaturerequest.cpp, patchFeature (geometry overload).
    let moved = json!({"coordinates": [[[
        [39.012345, 35.612345], [39.212345, 35.612345], [39.212345, 35.812345],
        [39.012345, 35.812345], [39.012345, 35.612345]
    ]]], "type": "MultiPolygon"});
    let patched = qgis(
        "PATCH",
        &format!("/collections/zones/items/{id}"),
        &[("Content-Type", "application/merge-patch+json")],
        json!({"geometry": moved}).to_string().as_bytes(),
    );
    assert_eq!(patched.status, 200, "{}", patched.text());
    assert_eq!(e.feature(&id).json()["geometry"], moved);

    // Editing two fields: patchFeature (attribute overload) sends only the changed ones.
    let patched = qgis(
        "PATCH",
        &format!("/collections/zones/items/{id}"),
        &[("Content-Type", "application/merge-patch+json")],
        json!({"properties": {"confidence": "medium", "valid_to": "2018-09-30"}})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(patched.status, 200, "{}", patched.text());
    let zone = e.feature(&id).json();
    assert_eq!(zone["properties"]["confidence"], "medium");
    assert_eq!(zone["properties"]["valid_to"], "2018-09-30");
    // The fields the patch left out are kept.
    assert_eq!(zone["properties"]["name"], "Test zone south of Raqqa");
    assert_eq!(zone["geometry"], moved);

    // GDAL's OAPIF driver against the live server, then on the layer file once written.
    for (source, whence) in [
        (live(&e.server), "ogrinfo on the live server"),
        (
            file(&e.data().join("zones.geojson")),
            "ogrinfo on zones.geojson",
        ),
    ] {
        if whence.contains("file") {
            e.wait_for_flush(3);
        }
        let found = ogr_zone(&source, &key);
        assert_eq!(found.len(), 1, "{whence}: {found:#?}");
        has_line(&found[0], "confidence (String) = medium", whence);
        has_line(&found[0], "valid_to (Date) = 2018/09/30", whence);
        has_line(&found[0], "MULTIPOLYGON (((39.012345 35.612345,", whence);
    }

    // Deleting it: QgsOapifProvider::deleteFeatures, sendDELETE with no body.
    let deleted = qgis(
        "DELETE",
        &format!("/collections/zones/items/{id}"),
        &[],
        b"",
    );
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    assert_eq!(e.feature(&id).status, 404);
    assert_eq!(e.zone_count(), before);
    e.wait_for_flush(4);
    // The folder the server wrote is still a valid data set.
    let validated = run(&["validate", &file(&e.data())]);
    assert!(
        validated.status.success(),
        "{}",
        String::from_utf8_lossy(&validated.stderr)
    );
    for source in [live(&e.server), file(&e.data().join("zones.geojson"))] {
        assert!(
            ogr_zone(&source, &key).is_empty(),
            "{source} still has {key}"
        );
    }

    // Four revisions, newest first, each the editor's, each named after the client.
    let revisions = e.revisions();
    assert_eq!(revisions["latest"], 4);
    let list = revisions["revisions"].as_array().unwrap();
    let seen: Vec<(u64, &str, &str, &str)> = list
        .iter()
        .map(|r| {
            assert_eq!(r["author"], "alice", "{r}");
            assert_eq!(r["changes"][0]["key"], key.as_str(), "{r}");
            (
                r["revision"].as_u64().unwrap(),
                r["changes"][0]["change"].as_str().unwrap(),
                r["message"].as_str().unwrap(),
                r["author"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(seen.len(), 4, "{seen:?}");
    let methods = ["DELETE", "PATCH", "PATCH", "POST"];
    for ((n, change, message, _), method) in seen.iter().zip(methods) {
        assert_eq!(
            *message,
            format!("{method} from {QGIS_AGENT}"),
            "revision {n}"
        );
        let expected = match method {
            "POST" => "created",
            "DELETE" => "deleted",
            _ => "replaced",
        };
        assert_eq!(*change, expected, "revision {n}");
    }
}
}

#[test]
fn a_write_without_an_editors_token_gets_401_with_www_authenticate_and_no_write_offer() {
    let e = Editing::start("edit-401", &["alice"], Backend::Directory);
    let before = e.zone_count();
    let body = e.server.get_json("/collections/zones/items?limit=1")["features"][0].clone();
    let wrong = format!("Bearer {}x", e.editors[0].1);
    for auth in [None, Some(wrong.as_str()), Some("Basic YWxpY2U6bm9wZQ==")] {
        let mut headers = vec![("Content-Type", "application/geo+json")];
        if let Some(a) = auth {
            headers.push(("Authorization", a));
        }
        let r = e.server.send(
            "POST",
            "/collections/zones/items",
            &headers,
            body.to_string().as_bytes(),
        );
        assert_eq!(r.status, 401, "{auth:?}: {}", r.text());
        assert_eq!(r.json()["code"], "Unauthorized");
        let challenges = r.header_all("www-authenticate").join(", ");
        assert!(challenges.contains("Bearer"), "{challenges}");
        assert!(
            challenges.contains("Basic"),
            "QGIS answers a Basic challenge: {challenges}"
        );
        // QGIS without credentials must not offer editing.
        let options = e
            .server
            .send("OPTIONS", "/collections/zones/items", &headers[1..], b"");
        let allow = allowed(&options);
        assert!(!allow.contains(&"POST"), "{auth:?}: Allow: {allow:?}");
        assert!(allow.contains(&"GET"), "{auth:?}: Allow: {allow:?}");
    }
    assert_eq!(e.zone_count(), before);
    assert_eq!(e.revisions()["latest"], 0);
}

on_both_stores! {
fn a_write_with_a_stale_if_match_gets_412_and_changes_nothing(backend: Backend) {
    let e = Editing::start("edit-412", &["alice"], backend);
    let auth = e.bearer(0);
    let fid =
        e.server.get_json("/collections/zones/items?limit=1")["features"][0]["id"].to_string();
    let first = e.feature(&fid);
    let etag = first.header("etag").expect("a feature ETag").to_owned();
    // Two values other than the zone's own: a write of the same value changes nothing and
    // makes no revision.
    let served = first.json()["properties"]["confidence"].clone();
    let others: Vec<&str> = ["low", "medium", "high"]
        .into_iter()
        .filter(|c| served != *c)
        .collect();
    let patch = |if_match: &str, confidence: &str| {
        e.server.send(
            "PATCH",
            &format!("/collections/zones/items/{fid}"),
            &[
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/merge-patch+json"),
                ("If-Match", if_match),
            ],
            json!({"properties": {"confidence": confidence}})
                .to_string()
                .as_bytes(),
        )
    };
    // The ETag just read is current: the write goes through and the tag moves on.
    let ok = patch(&etag, others[0]);
    assert_eq!(ok.status, 200, "{}", ok.text());
    let now = e.feature(&fid);
    assert_ne!(now.header("etag"), Some(etag.as_str()));
    // Someone else's edit came in between: the old tag is stale.
    let stale = patch(&etag, others[1]);
    assert_eq!(stale.status, 412, "{}", stale.text());
    assert_eq!(stale.json()["code"], "PreconditionFailed");
    let after = e.feature(&fid);
    assert_eq!(
        after.json(),
        now.json(),
        "a refused write changed the feature"
    );
    assert_eq!(after.header("etag"), now.header("etag"));
    assert_eq!(e.revisions()["latest"], 1);
    // A whole-feature replace and a delete are held to the same rule.
    let put = e.server.send(
        "PUT",
        &format!("/collections/zones/items/{fid}"),
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/geo+json"),
            ("If-Match", &etag),
        ],
        first.body.as_slice(),
    );
    assert_eq!(put.status, 412, "{}", put.text());
    let delete = e.server.send(
        "DELETE",
        &format!("/collections/zones/items/{fid}"),
        &[("Authorization", auth.as_str()), ("If-Match", &etag)],
        b"",
    );
    assert_eq!(delete.status, 412, "{}", delete.text());
    assert_eq!(e.feature(&fid).json(), now.json());
    assert_eq!(e.revisions()["latest"], 1);
}
}

on_both_stores! {
fn an_invalid_feature_gets_422_naming_the_field_and_changes_nothing(backend: Backend) {
    let e = Editing::start("edit-422", &["alice"], backend);
    let auth = e.basic(0);
    let before = e.zone_count();
    // A hand-drawn zone: a rule zone's export form shows its rule as text, which a create
    // refuses for its own reason.
    let page = e.server.get_json("/collections/zones/items?limit=20");
    let hand_drawn = page["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["rule"].is_null())
        .expect("a hand-drawn zone on the first page");
    let fid = hand_drawn["id"].to_string();
    let served = e.feature(&fid).json();

    // A new zone whose end date is not a day.
    let mut bad = served.clone();
    bad["properties"]["key"] = json!("bad_date_zone");
    bad["properties"]["valid_to"] = json!("2018-13-30");
    let refused = e.server.send(
        "POST",
        "/collections/zones/items",
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/geo+json"),
        ],
        bad.to_string().as_bytes(),
    );
    assert_eq!(refused.status, 422, "{}", refused.text());
    let answer = refused.json();
    assert_eq!(answer["code"], "InvalidFeature");
    let fields: Vec<&str> = e2e::strs(&answer["problems"], "field");
    assert!(fields.contains(&"valid_to"), "{answer}");

    // An edit that would leave a zone with an unknown confidence.
    let refused = e.server.send(
        "PATCH",
        &format!("/collections/zones/items/{fid}"),
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/merge-patch+json"),
        ],
        json!({"properties": {"confidence": "certain"}})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(refused.status, 422, "{}", refused.text());
    let answer = refused.json();
    assert!(
        e2e::strs(&answer["problems"], "field").contains(&"confidence"),
        "{answer}"
    );

    assert_eq!(e.feature(&fid).json(), served);
    assert_eq!(e.zone_count(), before);
    assert_eq!(e.revisions()["latest"], 0);
    let ogr = ogr_zone(&live(&e.server), "bad_date_zone");
    assert!(ogr.is_empty(), "{ogr:#?}");
}
}

on_both_stores! {
fn two_editors_are_each_credited_with_their_own_revisions(backend: Backend) {
    let e = Editing::start("edit-two", &["alice", "bob"], backend);
    let fid =
        e.server.get_json("/collections/zones/items?limit=1")["features"][0]["id"].to_string();
    let served = e.feature(&fid).json()["properties"]["confidence"].clone();
    // Two values that differ from the zone's and from each other, so each write is a change.
    let (first, second) = if served == "low" {
        ("medium", "high")
    } else {
        ("low", if served == "high" { "medium" } else { "high" })
    };
    for (i, confidence) in [(0, first), (1, second)] {
        let auth = if i == 0 { e.basic(i) } else { e.bearer(i) };
        let r = e.server.send(
            "PATCH",
            &format!("/collections/zones/items/{fid}"),
            &[
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/merge-patch+json"),
                (
                    "X-Zonetrack-Message",
                    &format!("confidence to {confidence}"),
                ),
            ],
            json!({"properties": {"confidence": confidence}})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let list = e.revisions()["revisions"].clone();
    let credits: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["author"].as_str().unwrap(),
                r["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        credits,
        [
            ("bob", format!("confidence to {second}").as_str()),
            ("alice", format!("confidence to {first}").as_str())
        ]
    );
    let history = e
        .server
        .get_json(&format!("/collections/zones/items/{fid}/history"));
    assert_eq!(e2e::strs(&history["history"], "author"), ["bob", "alice"]);
    assert_eq!(e.feature(&fid).json()["properties"]["confidence"], second);
}
}

/// The venv with OWSLib for `tests/owslib/edit.py`: made (and OWSLib installed from the
/// package index, at the version `tests/owslib/requirements.txt` pins) when missing.
fn owslib_python() -> PathBuf {
    let venv = repo_root().join("target").join("venv-owslib");
    let python = venv.join("bin").join("python");
    let requirements = repo_root().join("tests/owslib/requirements.txt");
    let ready = Command::new(&python)
        .args(["-c", "import owslib.ogcapi.features"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        let python3 = require_tool("python3", "python3 python3-venv");
        check_output(Command::new(python3).args(["-m", "venv"]).arg(&venv));
        check_output(
            Command::new(venv.join("bin").join("pip"))
                .args(["install", "-q", "-r"])
                .arg(&requirements),
        );
    }
    python
}

#[test]
fn owslib_creates_replaces_and_deletes_a_zone() {
    let python = owslib_python();
    let e = Editing::start("edit-owslib", &["alice"], Backend::Directory);
    let out = Command::new(python)
        .arg(repo_root().join("tests/owslib/edit.py"))
        .arg(&e.server.url)
        .args([&e.editors[0].0, &e.editors[0].1])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "tests/owslib/edit.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("owslib: created, replaced and deleted"),
        "{text}"
    );
    // Four revisions by the editor (a replace from JSON text, then create, replace, delete),
    // named after OWSLib's User-Agent.
    let revisions = e.revisions();
    assert_eq!(revisions["latest"], 4);
    let list = revisions["revisions"].as_array().unwrap();
    assert_eq!(e2e::strs(&revisions["revisions"], "author"), ["alice"; 4]);
    let changes: Vec<&str> = list
        .iter()
        .map(|r| r["changes"][0]["change"].as_str().unwrap())
        .collect();
    assert_eq!(changes, ["deleted", "replaced", "created", "replaced"]);
    assert!(
        list.iter()
            .all(|r| r["message"].as_str().unwrap().contains("OWSLib")),
        "{revisions}"
    );
}
