//! The directory store's history: commits are revisions in `history/log.jsonl`, the files follow
//! on flush, a crash between the two is repaired on load, and edits made to the files become
//! revisions of their own.

use std::path::{Path, PathBuf};

use geodata::edit::{ClientEdit, source_from_client};
use geodata::{Dataset, DirectoryStore, Edit, EditError, FILES_AUTHOR, History, LOG_FILE, Store};
use serde_json::{Value, json};

fn folder(name: &str) -> (e2e::TempDir, PathBuf) {
    let tmp = e2e::TempDir::new(name);
    let dir = tmp.0.join("data");
    Dataset::embedded()
        .write_dir(&dir)
        .expect("the embedded set writes");
    (tmp, dir)
}

fn rename(id: &str, name: &str) -> Edit {
    patched(id, json!({"properties": {"name": name}}))
}

/// Renames zone `id` through `store`, as alice.
fn commit_rename(store: &DirectoryStore, id: &str, name: &str) {
    let edits = vec![rename(id, name)];
    store
        .commit(edits, "alice", "")
        .expect("the rename commits");
}

/// A merge patch of zone `id`, as a client sends it.
fn patched(id: &str, patch: Value) -> Edit {
    Edit {
        layer: "zones".into(),
        id: Some(geodata::FeatureId::parse(id).expect("a valid id")),
        if_match: None,
        make: Box::new(move |current| {
            source_from_client("zones", current, &patch, ClientEdit::Patch, None).map(Some)
        }),
    }
}

fn drawn_zone(data: &Dataset) -> String {
    data.zones
        .iter()
        .find(|z| z.rule.is_none())
        .expect("a drawn zone")
        .meta
        .id
        .to_string()
}

/// A fresh folder, its store loaded, and a drawn zone of it.
fn opened(name: &str) -> (e2e::TempDir, PathBuf, DirectoryStore, String) {
    let (tmp, dir) = folder(name);
    let store = DirectoryStore::new(&dir);
    let data = store.load().expect("the folder loads");
    let id = drawn_zone(&data);
    (tmp, dir, store, id)
}

fn log_lines(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join(LOG_FILE))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("log lines are JSON"))
        .collect()
}

#[test]
fn a_commit_is_a_logged_revision_and_the_files_follow_on_flush() {
    let (_tmp, dir, store, id) = opened("history-commit");
    let done = store
        .commit(vec![rename(&id, "Renamed by alice")], "alice", "rename")
        .unwrap();
    let r = done.revision.expect("a revision");
    assert_eq!((r.number, r.author.as_str()), (1, "alice"));
    assert_eq!(done.state.feature_revision("zones", &id), 1);
    let lines = log_lines(&dir);
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0]["changes"][0]["after"]["properties"]["name"],
        "Renamed by alice"
    );
    assert!(store.flush().unwrap());
    let on_disk = geodata::load_dir(&dir).unwrap();
    assert_eq!(zone_name(&on_disk, &id), "Renamed by alice");
    // The same edit again changes nothing and writes no revision.
    let again = store
        .commit(vec![rename(&id, "Renamed by alice")], "alice", "again")
        .unwrap();
    assert!(again.revision.is_none());
    assert_eq!(log_lines(&dir).len(), 1);
}

#[test]
fn a_stale_if_match_and_an_invalid_feature_change_nothing() {
    let (_tmp, dir, store, id) = opened("history-refused");
    commit_rename(&store, &id, "first");
    let mut stale = rename(&id, "second");
    stale.if_match = Some(0);
    let err = store.commit(vec![stale], "bob", "").unwrap_err();
    assert!(
        matches!(
            err,
            EditError::Stale {
                current: 1,
                seen: 0,
                ..
            }
        ),
        "{err}"
    );
    let bad_patch = json!({"properties": {"confidence": "certain", "kind": 7}});
    let bad = patched(&id, bad_patch);
    let Err(EditError::Invalid(problems)) = store.commit(vec![bad], "bob", "") else {
        panic!("an invalid feature is refused");
    };
    let fields: Vec<_> = problems.0.iter().filter_map(|p| p.field.clone()).collect();
    assert!(
        fields.contains(&"confidence".to_string()) && fields.contains(&"kind".to_string()),
        "{fields:?}"
    );
    assert_eq!(log_lines(&dir).len(), 1);
    assert_eq!(store.state().unwrap().revision(), 1);
}

#[test]
fn a_crash_between_log_and_files_is_repaired_on_load_and_a_torn_line_dropped() {
    let (_tmp, dir, store, id) = opened("history-crash");
    commit_rename(&store, &id, "acknowledged");
    // The process dies before flushing: the files still hold the old name.
    drop(store);
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(LOG_FILE))
        .unwrap();
    std::io::Write::write_all(&mut log, b"{\"revision\": 2, \"time\": \"20").unwrap();
    drop(log);
    assert_ne!(
        zone_name(&geodata::load_dir(&dir).unwrap(), &id),
        "acknowledged"
    );
    let again = DirectoryStore::new(&dir);
    let data = again.load().unwrap();
    assert_eq!(zone_name(&data, &id), "acknowledged");
    // The files were rewritten and the torn line is gone.
    let on_disk = geodata::load_dir(&dir).unwrap();
    assert_eq!(on_disk, data);
    assert_eq!(log_lines(&dir).len(), 1);
    assert_eq!(again.state().unwrap().revision(), 1);
}

/// What a reader that takes the files as they are (a batch index kept by their key) asks:
/// whether the files hold every revision of the log. Not between a commit and its flush, nor
/// when the log's last line cannot be read; yes again once a load wrote what they lacked.
#[test]
fn the_files_hold_every_revision_only_when_no_revision_is_pending() {
    let (_tmp, dir, store, id) = opened("history-settled");
    assert!(geodata::files_hold_every_revision(&dir), "no log");
    commit_rename(&store, &id, "logged, not flushed");
    drop(store);
    assert!(
        !geodata::files_hold_every_revision(&dir),
        "a pending revision"
    );
    DirectoryStore::new(&dir).load_once().unwrap();
    assert!(
        geodata::files_hold_every_revision(&dir),
        "replayed and written"
    );
    let log = dir.join(LOG_FILE);
    let complete = std::fs::read(&log).unwrap();
    // A torn last line (never acknowledged) does not count ...
    let mut torn = complete.clone();
    torn.extend_from_slice(b"{\"revision\": 2, \"time\": \"20");
    std::fs::write(&log, &torn).unwrap();
    assert!(geodata::files_hold_every_revision(&dir), "a torn line");
    // ... a whole line that is not a revision leaves it unknown, so no ...
    let mut garbled = complete.clone();
    garbled.extend_from_slice(b"not json\n");
    std::fs::write(&log, &garbled).unwrap();
    assert!(
        !geodata::files_hold_every_revision(&dir),
        "an unreadable line"
    );
    // ... and a revision past the checkpoint is pending, however long the line before it.
    let mut later = complete.clone();
    later.extend_from_slice(
        format!(
            "{{\"revision\": 2, \"pad\": \"{}\"}}\n",
            "x".repeat(200_000)
        )
        .as_bytes(),
    );
    std::fs::write(&log, &later).unwrap();
    assert!(
        !geodata::files_hold_every_revision(&dir),
        "revision 2 pending"
    );
    std::fs::write(&log, &complete).unwrap();
    assert!(geodata::files_hold_every_revision(&dir));
}

/// `load_once` (the one-shot commands' load) gives what `load` gives, writes the revisions the
/// files lack as `load` does, and keeps nothing: a later edit through the store reads the folder
/// again.
#[test]
fn a_one_shot_load_repairs_like_a_load_and_keeps_no_copy() {
    let (_tmp, dir, store, id) = opened("history-once");
    commit_rename(&store, &id, "logged, not flushed");
    drop(store);
    let once = DirectoryStore::new(&dir);
    let data = once.load_once().unwrap();
    assert_eq!(zone_name(&data, &id), "logged, not flushed");
    assert_eq!(geodata::load_dir(&dir).unwrap(), data, "the files follow");
    assert!(once.state().is_none(), "no copy kept");
    assert_eq!(DirectoryStore::new(&dir).load().unwrap(), data);
    commit_rename(&once, &id, "renamed after");
    assert_eq!(once.state().unwrap().revision(), 2);
    assert_eq!(log_lines(&dir).len(), 2);
}

/// Through a load cache, a one-shot load still replays the revisions the files lack over them,
/// and the cache follows the files: an entry made before the files were brought up to date is
/// not taken after.
#[test]
fn a_one_shot_load_through_a_cache_replays_the_log_and_follows_the_files() {
    let (tmp, dir, store, id) = opened("history-cache");
    commit_rename(&store, &id, "logged, not flushed");
    drop(store);
    let cache = tmp.0.join("cache");
    let once = || {
        DirectoryStore::new(&dir)
            .with_cache(Some(geodata::LoadCache::new(&cache, 0)))
            .load_once()
            .unwrap()
    };
    let entry = || {
        let mut entries: Vec<_> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(entries.len(), 1, "one entry: {entries:?}");
        std::fs::read(entries.pop().unwrap()).unwrap()
    };
    // The files as they were (the revision then replayed over them) are cached, then written.
    let first = once();
    assert_eq!(zone_name(&first, &id), "logged, not flushed");
    let before_flush = entry();
    // The files hold the revision now: a miss, and the entry follows them.
    let second = once();
    let after_flush = entry();
    assert_ne!(before_flush, after_flush);
    // Unchanged files: the entry is taken as it is.
    let third = once();
    assert_eq!(entry(), after_flush);
    assert_eq!(first, second);
    assert_eq!(second, third);
    assert_eq!(DirectoryStore::new(&dir).load().unwrap(), third);
}

#[test]
fn files_edited_by_hand_while_the_store_runs_become_a_revision() {
    let (_tmp, dir) = folder("history-by-hand");
    let store = DirectoryStore::new(&dir);
    let data = store.load().unwrap();
    let mut edited = data.clone();
    let removed = edited.events.pop().unwrap();
    // Another tool writes the file (a second later, so its modification time differs).
    std::thread::sleep(std::time::Duration::from_millis(20));
    edited.write_dir(&dir).unwrap();
    let reloaded = store.load().unwrap();
    assert_eq!(reloaded.events.len(), data.events.len() - 1);
    let state = store.state().unwrap();
    let r = state.revisions.last().unwrap();
    assert_eq!(r.author, FILES_AUTHOR);
    assert_eq!(r.changes.len(), 1);
    assert_eq!(r.changes[0].id, removed.meta.id);
    assert!(r.changes[0].after.is_none());
    // And what the data said before is still known.
    assert_eq!(
        reloaded.as_of(&[(**r).clone()], 0).unwrap().events.len(),
        data.events.len()
    );
}

#[test]
fn a_file_edited_twice_by_hand_ends_as_the_second_edit() {
    // Regression: the revision recording the first edit was replayed over the second.
    let (_tmp, dir) = folder("history-by-hand-twice");
    let store = DirectoryStore::new(&dir);
    let data = store.load().unwrap();
    let zones = dir.join("zones.geojson");
    let original = std::fs::read_to_string(&zones).unwrap();
    let id = drawn_zone(&data);
    let name = zone_name(&data, &id);
    let renamed = original.replacen(
        &format!("\"name\": {}", json!(name)),
        "\"name\": \"by hand\"",
        1,
    );
    assert_ne!(renamed, original);
    std::fs::write(&zones, &renamed).unwrap();
    assert!(
        store
            .load()
            .unwrap()
            .zones
            .iter()
            .any(|z| z.meta.name == "by hand")
    );
    std::fs::write(&zones, &original).unwrap();
    let back = store.load().unwrap();
    assert!(back.zones.iter().all(|z| z.meta.name != "by hand"));
    assert_eq!(store.state().unwrap().revision(), 2);
}

/// A geometry sent as a clockwise `Polygon` is stored as a counter-clockwise `MultiPolygon`
/// (`geodata/FORMAT.md`): the log must say what was stored, so its `after` is the next
/// change's `before`, the layer file's feature, and what folding the log forward gives.
#[test]
fn the_log_records_a_feature_as_stored_not_as_sent() {
    let (_tmp, dir, store, id) = opened("history-stored-form");
    let clockwise = json!({"geometry": {"type": "Polygon",
        "coordinates": [[[33.0, 34.0], [33.0, 34.1], [33.1, 34.1], [33.1, 34.0], [33.0, 34.0]]]}});
    let edit = |patch: Value| patched(&id, patch);
    store
        .commit(vec![edit(clockwise.clone())], "alice", "")
        .unwrap();
    commit_rename(&store, &id, "after the move");
    store.flush().unwrap();
    let lines = log_lines(&dir);
    assert_eq!(lines.len(), 2);
    let stored = &lines[0]["changes"][0]["after"];
    assert_eq!(stored["geometry"]["type"], "MultiPolygon");
    assert_eq!(
        stored["geometry"]["coordinates"][0][0][1],
        json!([33.1, 34.0]),
        "the outer ring is counter-clockwise"
    );
    assert_eq!(&lines[1]["changes"][0]["before"], stored);
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("zones.geojson")).unwrap()).unwrap();
    let in_file = file["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == json!(id))
        .unwrap();
    assert_eq!(in_file, &lines[1]["changes"][0]["after"]);
    // The same shape sent again in its first form changes nothing.
    let again = store.commit(vec![edit(clockwise)], "alice", "").unwrap();
    assert!(
        again.revision.is_none(),
        "a restated geometry is no revision"
    );
}

/// An edit is checked against the zones it did not change: a control zone redrawn onto another
/// actor's control zone of the same days is refused, as the loader refuses it in the files
/// (the write path measures only pairs with a changed zone; this pair has one).
#[test]
fn an_edit_that_makes_two_actors_control_the_same_ground_is_refused() {
    let (_tmp, dir, store, _) = opened("history-overlap");
    let data = store.state().unwrap().data;
    let drawn_control = || {
        data.zones
            .iter()
            .filter(|z| z.rule.is_none() && z.derived_from.is_none())
            .filter(|z| z.kind == geodata::ZoneKind::Control)
    };
    let (a, b) = drawn_control()
        .flat_map(|a| drawn_control().map(move |b| (a, b)))
        .find(|(a, b)| a.actor != b.actor && a.period.overlaps(&b.period))
        .expect("two actors' control zones of shared days");
    let geometry = b.source_json()["geometry"].clone();
    let edit = patched(a.meta.id.as_str(), json!({ "geometry": geometry }));
    let Err(EditError::Invalid(problems)) = store.commit(vec![edit], "alice", "") else {
        panic!("the overlap is refused");
    };
    assert!(
        problems
            .0
            .iter()
            .any(|p| matches!(p.kind, geodata::ProblemKind::ControlOverlap { .. })),
        "{problems:?}"
    );
    assert!(log_lines(&dir).is_empty());
}

/// The name of zone `id` in `data`.
fn zone_name<'a>(data: &'a geodata::Dataset, id: &str) -> &'a str {
    let zone = data.zones.iter().find(|z| z.meta.id.as_str() == id);
    &zone.unwrap_or_else(|| panic!("no zone {id}")).meta.name
}
