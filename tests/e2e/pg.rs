//! The PostgreSQL store end to end: `zonetrack db` import and export, GDAL reading the tables,
//! two `zonetrack serve` replicas on one database, and the database killed and started again
//! under them. A real PostgreSQL + PostGIS cluster, started by the test (`e2e::pg`).

use std::path::Path;
use std::time::{Duration, Instant};

use e2e::pg::Cluster;
use e2e::{Server, TempDir, check_output, require_tool, run};
use serde_json::{Value, json};

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "zonetrack {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn path(p: &Path) -> String {
    p.to_str().expect("UTF-8 path").to_owned()
}

fn json_file(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).expect("the file is there")).expect("JSON")
}

/// The data files of a folder (no history), parsed.
fn data_files(dir: &Path) -> Vec<(String, Value)> {
    let mut names = vec![
        "actors.json".to_owned(),
        "zones.geojson".into(),
        "locations.geojson".into(),
        "events.geojson".into(),
    ];
    let mut refs: Vec<String> = std::fs::read_dir(dir.join("reference"))
        .expect("a reference folder")
        .map(|e| {
            format!(
                "reference/{}",
                e.expect("entry").file_name().to_string_lossy()
            )
        })
        .collect();
    refs.sort();
    names.extend(refs);
    names
        .into_iter()
        .map(|n| {
            let v = json_file(&dir.join(&n));
            (n, v)
        })
        .collect()
}

/// A database of `cluster` with the default data set imported by `zonetrack db import`.
fn imported(cluster: &Cluster, name: &str) -> String {
    let url = cluster.database(name);
    let out = ok(&["db", "import", "--store", &url]);
    assert!(out.contains("imported the embedded data set"), "{out}");
    url
}

/// An editors file with one editor; (file, token).
fn editor(tmp: &TempDir) -> (String, String) {
    let file = path(&tmp.0.join("editors.txt"));
    let out = ok(&["editors", "add", "alice", "--file", &file]);
    let token = out.split_whitespace().last().expect("a token").to_owned();
    (file, token)
}

#[test]
fn db_import_then_export_gives_the_same_folder_and_gdal_reads_the_tables() {
    let ogrinfo = require_tool("ogrinfo", "gdal-bin");
    let cluster = Cluster::start();
    let tmp = TempDir::new("pg-roundtrip");
    let url = imported(&cluster, "roundtrip");
    // Migrating again applies nothing.
    assert!(ok(&["db", "migrate", "--store", &url]).contains("up to date"));
    // Importing again is refused: it would replace the data set and its history.
    let again = run(&["db", "import", "--store", &url]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--replace"));

    let reference = tmp.0.join("reference-set");
    ok(&["init", &path(&reference)]);
    let exported = tmp.0.join("exported");
    ok(&["db", "export", &path(&exported), "--store", &url]);
    assert_eq!(data_files(&exported), data_files(&reference));
    let validated = ok(&["validate", &path(&exported)]);
    assert!(validated.contains(": ok"), "{validated}");
    // Every command that reads data takes the database too, from --store or the environment.
    let layers = String::from_utf8_lossy(
        &std::process::Command::new(e2e::zonetrack())
            .arg("layers")
            .env("DATABASE_URL", &url)
            .output()
            .expect("zonetrack runs")
            .stdout,
    )
    .into_owned();
    assert_eq!(layers, ok(&["layers"]), "layers from DATABASE_URL");

    // GDAL's PostgreSQL driver: the zones table and the view QGIS lists, the same count.
    let zones_in_file = json_file(&reference.join("zones.geojson"))["features"]
        .as_array()
        .expect("features")
        .len();
    let pg = format!(
        "PG:host=127.0.0.1 port={} user=postgres dbname=roundtrip",
        cluster.port
    );
    for table in ["zones", "zones_map"] {
        let info =
            check_output(std::process::Command::new(&ogrinfo).args(["-ro", "-so", &pg, table]));
        let count = info
            .lines()
            .find_map(|l| l.strip_prefix("Feature Count: "))
            .unwrap_or_else(|| panic!("no feature count for {table}: {info}"));
        assert_eq!(count.trim(), zones_in_file.to_string(), "{table}: {info}");
        assert!(info.contains("EPSG") || info.contains("WGS 84"), "{info}");
    }
    // ogr2ogr copies the view out: every zone, with its validity columns.
    let out = tmp.0.join("zones.gpkg");
    check_output(
        std::process::Command::new(require_tool("ogr2ogr", "gdal-bin")).args([
            "-f",
            "GPKG",
            &path(&out),
            &pg,
            "zones_map",
        ]),
    );
    let info = check_output(std::process::Command::new(&ogrinfo).args([
        "-ro",
        "-so",
        &path(&out),
        "zones_map",
    ]));
    assert!(
        info.contains(&format!("Feature Count: {zones_in_file}")),
        "{info}"
    );
    assert!(info.contains("valid_from: Date"), "{info}");
}

/// Sends a PATCH renaming a zone through `server`; the status.
fn rename(server: &Server, token: &str, fid: u64, name: &str, message: &str) -> u16 {
    let auth = format!("Bearer {token}");
    let body = json!({"properties": {"name": name}}).to_string();
    server
        .try_send(
            "PATCH",
            &format!("/collections/zones/items/{fid}"),
            &[
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/merge-patch+json"),
                ("X-Zonetrack-Message", message),
            ],
            body.as_bytes(),
        )
        .map_or(0, |r| r.status)
}

fn zone_name(server: &Server, fid: u64) -> String {
    server.get_json(&format!("/collections/zones/items/{fid}"))["properties"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The fid of a drawn zone (its name can change freely).
fn drawn_zone(server: &Server) -> u64 {
    let items = server.get_json("/collections/zones/items?limit=1000");
    items["features"]
        .as_array()
        .expect("features")
        .iter()
        .find(|f| f["properties"]["rule"].is_null() && f["properties"]["method"] != "rule")
        .and_then(|f| f["id"].as_u64())
        .expect("a drawn zone")
}

/// Waits until `check` holds, up to `limit`; how long it took.
fn within(limit: Duration, what: &str, check: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if check() {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn an_edit_through_one_replica_is_served_by_the_other_within_a_second() {
    let cluster = Cluster::start();
    let tmp = TempDir::new("pg-replicas");
    let url = imported(&cluster, "replicas");
    let (file, token) = editor(&tmp);
    // Optimised: the figure is the one a deployment sees (a debug build takes seconds to
    // derive the rule zones again after an edit, on either replica).
    let release = e2e::zonetrack_release();
    let a = Server::start_binary(release, &["--store", &url, "--editors", &file]);
    let b = Server::start_binary(release, &["--store", &url, "--editors", &file]);
    let fid = drawn_zone(&a);
    let mut slowest = Duration::ZERO;
    for i in 0..6 {
        let (writer, reader) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let name = format!("edited {i}");
        assert_eq!(
            rename(writer, &token, fid, &name, &format!("edit {i}")),
            200
        );
        let took = within(
            Duration::from_secs(1),
            "the other replica serves the edit",
            || zone_name(reader, fid) == name,
        );
        slowest = slowest.max(took);
        // Both at the same revision, with the same history.
        let history = |server: &Server| -> Vec<Value> {
            // Links name each replica's own address: compare the rest.
            server.get_json("/revisions")["revisions"]
                .as_array()
                .expect("revisions")
                .iter()
                .map(|r| json!([r["revision"], r["time"], r["author"], r["message"]]))
                .collect()
        };
        assert_eq!(a.get_json("/revisions")["latest"], i + 1);
        assert_eq!(history(&a), history(&b));
    }
    eprintln!("slowest edit seen by the other replica: {slowest:?}");
    let health = b.get_json("/health");
    assert_eq!(
        health["ready"],
        json!({"reads": true, "writes": true}),
        "{health}"
    );
    assert_eq!(health["store"]["available"], true);
}

#[test]
fn replicas_keep_serving_through_a_database_restart_and_lose_no_acknowledged_edit() {
    let cluster = Cluster::start();
    let tmp = TempDir::new("pg-restart");
    let url = imported(&cluster, "restart");
    let (file, token) = editor(&tmp);
    // Optimised: the figure is the one a deployment sees (a debug build takes seconds to
    // derive the rule zones again after an edit, on either replica).
    let release = e2e::zonetrack_release();
    let a = Server::start_binary(release, &["--store", &url, "--editors", &file]);
    let b = Server::start_binary(release, &["--store", &url, "--editors", &file]);
    let fid = drawn_zone(&a);

    // Edits through both replicas, one every 20 ms, while the database is killed and started
    // again; every acknowledged (200) edit must survive.
    let stop = std::sync::atomic::AtomicBool::new(false);
    // The first and the last edit refused while the database was away.
    let refused_from = std::sync::atomic::AtomicUsize::new(usize::MAX);
    let refused_to = std::sync::atomic::AtomicUsize::new(0);
    let acknowledged = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut acked = Vec::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let server = if i % 2 == 0 { &a } else { &b };
                let status = rename(server, &token, fid, &format!("n{i}"), &format!("edit {i}"));
                match status {
                    200 => acked.push(i),
                    // Refused while the database is away: not acknowledged, may be sent again.
                    503 => {
                        refused_from.fetch_min(i, std::sync::atomic::Ordering::Relaxed);
                        refused_to.fetch_max(i, std::sync::atomic::Ordering::Relaxed);
                    }
                    other => panic!("edit {i}: status {other}"),
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            acked
        });
        std::thread::sleep(Duration::from_millis(1500));
        cluster.kill();
        // Both replicas notice, keep serving reads from memory and say writes are not ready.
        for (name, r) in [("a", &a), ("b", &b)] {
            within(
                Duration::from_secs(10),
                &format!("replica {name} reports the database lost"),
                || {
                    let h = r.get_json("/health");
                    h["ready"]["writes"] == false && h["store"]["available"] == false
                },
            );
            assert!(!zone_name(r, fid).is_empty(), "reads go on");
        }
        std::thread::sleep(Duration::from_millis(500));
        cluster.start_server();
        for (name, r) in [("a", &a), ("b", &b)] {
            within(
                Duration::from_secs(15),
                &format!("replica {name} reconnects"),
                || r.get_json("/health")["ready"]["writes"] == true,
            );
        }
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().expect("the writer finishes")
    });
    // Edits were acknowledged before the kill and after the restart (each takes a few hundred
    // milliseconds on a loaded machine: the rule zones are derived again).
    assert!(
        acknowledged
            .first()
            .is_some_and(|&i| i < refused_from.load(std::sync::atomic::Ordering::Relaxed))
            && acknowledged
                .last()
                .is_some_and(|&i| i > refused_to.load(std::sync::atomic::Ordering::Relaxed)),
        "acknowledged {acknowledged:?}; refused from {refused_from:?} to {refused_to:?}"
    );
    // Everyone agrees on the history, and it holds every acknowledged edit.
    let last = *acknowledged.last().expect("some");
    for (name, r) in [("a", &a), ("b", &b)] {
        within(
            Duration::from_secs(5),
            &format!("replica {name} catches up"),
            || zone_name(r, fid) == format!("n{last}"),
        );
    }
    let messages = |server: &Server| -> Vec<String> {
        let page = server.get_json("/revisions?limit=1000");
        page["revisions"]
            .as_array()
            .expect("revisions")
            .iter()
            .map(|r| r["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let (ma, mb) = (messages(&a), messages(&b));
    assert_eq!(ma, mb, "both replicas hold the same history");
    for i in &acknowledged {
        assert!(
            ma.contains(&format!("edit {i}")),
            "acknowledged edit {i} was lost"
        );
    }
    // And the database itself, read fresh.
    let exported = tmp.0.join("after");
    ok(&["db", "export", &path(&exported), "--store", &url]);
    let log = std::fs::read_to_string(exported.join("history/log.jsonl")).expect("a log");
    assert_eq!(log.lines().count(), ma.len());
    ok(&["validate", &path(&exported)]);
}

#[test]
fn a_data_folder_with_history_imports_with_its_revisions() {
    let cluster = Cluster::start();
    let tmp = TempDir::new("pg-history-import");
    let data = tmp.0.join("data");
    ok(&["init", &path(&data)]);
    let (file, token) = editor(&tmp);
    {
        let server = Server::start(&["--data", &path(&data), "--editors", &file]);
        let fid = drawn_zone(&server);
        assert_eq!(rename(&server, &token, fid, "one", "first"), 200);
        assert_eq!(rename(&server, &token, fid, "two", "second"), 200);
    }
    let url = cluster.database("history");
    ok(&["db", "import", &path(&data), "--store", &url]);
    let listed = ok(&["history", "--store", &url, "--json"]);
    assert!(
        listed.contains("\"first\"") && listed.contains("\"second\""),
        "{listed}"
    );
    // Exported back, the folder is the one that was imported: files and log.
    let exported = tmp.0.join("exported");
    ok(&["db", "export", &path(&exported), "--store", &url]);
    assert_eq!(data_files(&exported), data_files(&data));
    let log = |d: &Path| -> Vec<Value> {
        std::fs::read_to_string(d.join("history/log.jsonl"))
            .expect("a log")
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect()
    };
    assert_eq!(log(&exported), log(&data));
}
