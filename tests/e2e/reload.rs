//! Live reloads under load: a good edit, a broken edit and a fix, made to files under a running
//! server while a client queries without pause. No request may fail, and every answer must come
//! from one whole snapshot.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use e2e::{Server, TempDir, copy_dir, repo_root};

fn wait_for(
    server: &Server,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = server.get_json("/status");
        if pred(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn edits_under_a_running_server_never_break_a_request() {
    let dir = TempDir::new("reload");
    copy_dir(
        &repo_root().join("geodata"),
        &dir.0,
        &["README.md", "FORMAT.md"],
    );
    let server = Arc::new(Server::start(&[
        "--data",
        dir.0.to_str().expect("utf-8 path"),
    ]));
    let v0 = server.get_json("/health")["data_version"]
        .as_str()
        .expect("version")
        .to_owned();

    // A client that asks, without pause, about a point inside the south-west de-escalation zone,
    // and records which zone name each data version gave.
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (server, stop) = (server.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut seen: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
            let mut requests = 0;
            while !stop.load(Ordering::Relaxed) {
                let (status, _, body) =
                    server.get("/query/point?lon=36.1&lat=32.617&datetime=2018-02-15");
                assert_eq!(
                    status,
                    200,
                    "a request failed during reloads: {}",
                    String::from_utf8_lossy(&body)
                );
                let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
                let name = v["covering"]
                    .as_array()
                    .expect("covering")
                    .iter()
                    .find(|z| z["key"] == "sw_deescalation_zone")
                    .map(|z| z["name"].as_str().expect("name").to_owned())
                    .expect("the zone is found in every version");
                seen.entry(v["data_version"].as_str().expect("version").to_owned())
                    .or_default()
                    .insert(name);
                let (status, _, _) = server.get("/collections/zones/items?limit=1000");
                assert_eq!(status, 200);
                requests += 2;
            }
            (seen, requests)
        })
    };

    let zones = dir.0.join("zones.geojson");
    let original = std::fs::read_to_string(&zones).expect("read zones");
    let renamed = original.replacen(
        "\"name\": \"South-west de-escalation zone (US-Russia-Jordan)\"",
        "\"name\": \"South-west de-escalation zone (renamed)\"",
        1,
    );
    assert_ne!(renamed, original, "the edit must change the file");

    // 1. A good edit: served after the debounce, under a new version.
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(&zones, &renamed).expect("write");
    let s1 = wait_for(&server, "the good edit", |s| {
        s["last_load"]["ok"] == true && s["data_version"] != v0.as_str()
    });
    let v1 = s1["data_version"].as_str().expect("version").to_owned();

    // 2. A broken edit (a file saved half-way): refused, the last good data keeps serving.
    std::fs::write(&zones, &renamed[..renamed.len() / 2]).expect("write");
    let s2 = wait_for(&server, "the broken edit to be refused", |s| {
        s["last_load"]["ok"] == false
    });
    assert_eq!(s2["data_version"], v1.as_str());
    let problems = s2["last_load"]["problems"].as_array().expect("problems");
    assert!(
        problems.iter().any(|p| p
            .as_str()
            .is_some_and(|p| p.contains("zones.geojson: not valid JSON"))),
        "{s2}"
    );
    std::thread::sleep(Duration::from_millis(700));

    // 3. The fix: back to the original text. It is one more revision (by `files`), served as
    // the changes since the last one are (not loaded whole), so under a version of its own.
    std::fs::write(&zones, &original).expect("write");
    let s3 = wait_for(&server, "the fix", |s| {
        s["last_load"]["ok"] == true && s["data_version"] != v1.as_str()
    });
    let v3 = s3["data_version"].as_str().expect("version").to_owned();
    std::thread::sleep(Duration::from_millis(500));

    stop.store(true, Ordering::Relaxed);
    let (seen, requests) = client.join().expect("the client thread did not fail");
    assert!(requests > 20, "the client kept asking: {requests}");
    // Each version gave exactly one name: no answer mixed two snapshots.
    for (version, names) in &seen {
        assert_eq!(names.len(), 1, "version {version} gave {names:?}");
    }
    let names = |v: &str| {
        seen.get(v)
            .map(|n| n.iter().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    for v in [&v0, &v3] {
        assert_eq!(
            names(v),
            vec!["South-west de-escalation zone (US-Russia-Jordan)".to_owned()],
            "version {v}"
        );
    }
    let renamed_names = names(&v1);
    assert!(
        renamed_names.is_empty()
            || renamed_names == vec!["South-west de-escalation zone (renamed)".to_owned()],
        "{renamed_names:?}"
    );
}

/// The name `GET /collections/zones/items/sw_deescalation_zone` gives now.
fn zone_name(server: &Server) -> String {
    let (status, _, body) = server.get("/collections/zones/items/sw_deescalation_zone");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    v["properties"]["name"].as_str().expect("a name").to_owned()
}

fn rename_zone(dir: &std::path::Path, to: &str) {
    let zones = dir.join("zones.geojson");
    let text = std::fs::read_to_string(&zones).expect("read zones");
    let edited = text.replacen(
        "\"name\": \"South-west de-escalation zone (US-Russia-Jordan)\"",
        &format!("\"name\": \"{to}\""),
        1,
    );
    assert_ne!(edited, text, "the edit must change the file");
    std::fs::write(&zones, edited).expect("write");
}

/// Waits up to `limit` for the zone to be served under `name`; returns how long it took.
fn served_within(server: &Server, name: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if zone_name(server) == name {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "the edit was not served within {limit:?}: {}",
            server.get_json("/status")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn edits_are_served_after_the_data_folder_is_replaced_whole() {
    // Regression (issue 10): after `rm -rf data && cp -r backup data` (or `mv data.new data`)
    // the watch stayed on the deleted folder; later edits were never served.
    let root = TempDir::new("replaced");
    let data = root.0.join("data");
    let backup = root.0.join("backup");
    copy_dir(
        &repo_root().join("geodata"),
        &data,
        &["README.md", "FORMAT.md"],
    );
    copy_dir(&data, &backup, &[]);
    let server = Server::start(&["--data", data.to_str().expect("utf-8 path")]);

    // rm -rf data && cp -r backup data, then an edit.
    std::fs::remove_dir_all(&data).expect("remove");
    copy_dir(&backup, &data, &[]);
    std::thread::sleep(Duration::from_secs(1));
    rename_zone(&data, "After a copy over");
    served_within(&server, "After a copy over", Duration::from_secs(10));

    // The folder gone: said in /health without the server's paths; the last data still served.
    std::fs::remove_dir_all(&data).expect("remove");
    let status = wait_for(&server, "the folder to be missed", |s| {
        s["last_load"]["ok"] == false
    });
    let text = status.to_string();
    assert!(text.contains("the data folder is missing"), "{text}");
    let root_text = root.0.to_string_lossy().into_owned();
    let (_, _, health) = server.get("/health");
    assert!(
        !String::from_utf8_lossy(&health).contains(&root_text),
        "{text}"
    );
    assert_eq!(zone_name(&server), "After a copy over");

    // mv data.new data, then an edit.
    let fresh = root.0.join("data.new");
    copy_dir(&backup, &fresh, &[]);
    std::fs::rename(&fresh, &data).expect("rename");
    served_within(
        &server,
        "South-west de-escalation zone (US-Russia-Jordan)",
        Duration::from_secs(10),
    );
    std::thread::sleep(Duration::from_millis(500));
    rename_zone(&data, "After a rename over");
    served_within(&server, "After a rename over", Duration::from_secs(10));
}

#[test]
fn the_watcher_does_not_follow_symbolic_links_to_other_folders() {
    // Regression (issue 10): a link to /usr in the data folder put 21,555 inotify watches on it.
    let root = TempDir::new("linked");
    let data = root.0.join("data");
    copy_dir(
        &repo_root().join("geodata"),
        &data,
        &["README.md", "FORMAT.md"],
    );
    std::os::unix::fs::symlink("/usr", data.join("usr")).expect("symlink");
    let server = Server::start(&["--data", data.to_str().expect("utf-8 path")]);
    std::thread::sleep(Duration::from_millis(500));
    // Each inotify watch is a `inotify wd:` line in the fdinfo of the watcher's descriptor.
    let mut watches = 0;
    let fdinfo = format!("/proc/{}/fdinfo", server.pid());
    for entry in std::fs::read_dir(&fdinfo).expect("fdinfo") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).unwrap_or_default();
        watches += text
            .lines()
            .filter(|l| l.starts_with("inotify wd:"))
            .count();
    }
    assert!(
        watches >= 2,
        "the folder and its parent are watched: {watches}"
    );
    assert!(watches < 20, "{watches} inotify watches");
}
