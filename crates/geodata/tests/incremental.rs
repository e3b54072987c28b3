//! Issue 14: a load that reuses what an earlier load of the same folder found valid (the
//! [`LoadMemo`] a directory store keeps) finds exactly what a fresh load finds: the same data
//! when the folder is valid, the same problems (file, feature, field, reason, in the same order)
//! when it is not, whichever way the folder changed.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::path::Path;
use std::sync::Arc;

use geodata::{Dataset, LoadMemo, load_dir_memo, load_dir_named};
use serde_json::{Value, json};

fn write_folder(dir: &Path, data: &Dataset) {
    for (name, value) in data.source_files() {
        let path = dir.join(&name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_string(&value).unwrap()).unwrap();
    }
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string(v).unwrap()).unwrap();
}

#[test]
fn a_load_with_a_memo_finds_what_a_fresh_load_finds() {
    let tmp = e2e::TempDir::new("zt-memo");
    let dir = tmp.0.join("data");
    std::fs::create_dir_all(&dir).unwrap();
    write_folder(&dir, &Dataset::embedded());
    let (first, keys) = load_dir_memo(&dir, "data", None);
    let first = Arc::new(first.unwrap());
    let memo = LoadMemo::new(first.clone(), keys);
    let (again, _) = load_dir_memo(&dir, "data", Some(&memo));
    assert!(
        again.unwrap() == *first,
        "an unchanged folder loads the same"
    );

    let zones_path = dir.join("zones.geojson");
    let actors_path = dir.join("actors.json");
    let (zones, actors) = (read(&zones_path), read(&actors_path));
    let features = zones["features"].as_array().unwrap();
    let control: Vec<usize> = (0..features.len())
        .filter(|&i| {
            let p = &features[i]["properties"];
            p["kind"] == "control" && p.get("rule").is_none_or(Value::is_null)
        })
        .collect();
    let (a, b) = (
        control[0],
        *control
            .iter()
            .find(|&&i| {
                features[i]["properties"]["actor"] != features[control[0]]["properties"]["actor"]
            })
            .unwrap(),
    );
    let mut edits: Vec<(&str, Value, Value)> = Vec::new();
    let mut renamed = zones.clone();
    renamed["features"][b]["properties"]["name"] = "Renamed".into();
    edits.push(("a zone renamed", renamed, actors.clone()));
    let mut bowtie = zones.clone();
    bowtie["features"][b]["geometry"] = json!({"type": "Polygon", "coordinates":
        [[[36.0, 33.0], [36.1, 33.1], [36.1, 33.0], [36.0, 33.1], [36.0, 33.0]]]});
    edits.push(("a bow tie", bowtie, actors.clone()));
    let mut overlap = zones.clone();
    overlap["features"][b]["geometry"] = features[a]["geometry"].clone();
    for key in ["valid_from", "valid_to"] {
        overlap["features"][b]["properties"][key] = features[a]["properties"][key].clone();
    }
    edits.push(("a zone drawn over another actor's", overlap, actors.clone()));
    let mut twice = zones.clone();
    let copy = features[a].clone();
    twice["features"].as_array_mut().unwrap().push(copy);
    edits.push(("a zone twice", twice, actors.clone()));
    let mut fewer = actors.clone();
    let gone = features[a]["properties"]["actor"].clone();
    fewer["actors"]
        .as_array_mut()
        .unwrap()
        .retain(|x| x["id"] != gone);
    edits.push((
        "an actor removed, its zones unchanged",
        zones.clone(),
        fewer,
    ));
    let mut moved = zones.clone();
    moved["features"].as_array_mut().unwrap().swap(a, b);
    edits.push(("two zones swapped", moved, actors.clone()));

    for (what, zones_now, actors_now) in &edits {
        write(&zones_path, zones_now);
        write(&actors_path, actors_now);
        let with_memo = load_dir_memo(&dir, "data", Some(&memo)).0.map_err(listed);
        let fresh = load_dir_named(&dir, "data").map_err(listed);
        let valid = what.starts_with("a zone renamed") || what.starts_with("two zones");
        match (with_memo, fresh) {
            (Ok(m), Ok(f)) => assert!(valid && m == f, "{what}: the data differs"),
            (Err(m), Err(f)) => {
                assert!(!valid && !f.is_empty(), "{what}: {f:?}");
                assert_eq!(m, f, "{what}");
            }
            (m, f) => panic!("{what}: with the memo {:?}, fresh {:?}", m.err(), f.err()),
        }
    }
}

fn listed(e: geodata::GeodataError) -> Vec<String> {
    match e {
        geodata::GeodataError::Invalid(p) => p.0.iter().map(ToString::to_string).collect(),
        other => vec![other.to_string()],
    }
}
