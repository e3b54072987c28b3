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

    // 3. The fix: back to the original text, so back to the first version.
    std::fs::write(&zones, &original).expect("write");
    wait_for(&server, "the fix", |s| {
        s["last_load"]["ok"] == true && s["data_version"] == v0.as_str()
    });
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
    assert_eq!(
        names(&v0),
        vec!["South-west de-escalation zone (US-Russia-Jordan)".to_owned()]
    );
    let renamed_names = names(&v1);
    assert!(
        renamed_names.is_empty()
            || renamed_names == vec!["South-west de-escalation zone (renamed)".to_owned()],
        "{renamed_names:?}"
    );
}
