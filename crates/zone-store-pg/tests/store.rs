//! The PostgreSQL store against a real PostgreSQL + PostGIS (a throwaway cluster, see
//! `e2e::pg`): import and load give back the same data set, edits are revisions that another
//! store on the same database catches up with, and the schema holds what SQL can check.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::sync::OnceLock;

use geodata::{Dataset, Edit, EditError, History, Store};
use serde_json::json;
use zone_store_pg::PgStore;

/// One cluster for this test binary, with the default data set imported into `imported`
/// (each test copies it).
fn cluster() -> &'static e2e::pg::Cluster {
    static CLUSTER: OnceLock<e2e::pg::Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let c = e2e::pg::Cluster::start();
        let url = c.database("imported");
        let store = PgStore::new(&url).unwrap();
        store.migrate().unwrap();
        store
            .import(&Dataset::embedded(), &[], "embedded", false, |_| {})
            .unwrap();
        c
    })
}

fn fresh(name: &str) -> String {
    cluster().database_from(name, Some("imported"))
}

fn rename(layer: &str, id: &str, name: &str, if_match: Option<u64>) -> Edit {
    let name = name.to_owned();
    Edit {
        layer: layer.into(),
        id: Some(geodata::FeatureId::parse(id).unwrap()),
        if_match,
        make: Box::new(move |current| {
            let mut f = current.unwrap().clone();
            f["properties"]["name"] = json!(name);
            Ok(Some(f))
        }),
    }
}

#[test]
fn the_default_set_imported_loads_back_the_same_feature_for_feature() {
    let url = fresh("roundtrip");
    let store = PgStore::new(&url).unwrap();
    let loaded = store.load().unwrap();
    let embedded = Dataset::embedded();
    assert_eq!(loaded.source_files(), embedded.source_files());
    assert_eq!(loaded, embedded);
    // Importing again is refused without --replace, and replaces with it.
    let again = store.import(&embedded, &[], "embedded", false, |_| {});
    assert!(
        matches!(again, Err(zone_store_pg::PgError::NotEmpty(_))),
        "{again:?}"
    );
    store
        .import(&embedded, &[], "embedded", true, |_| {})
        .unwrap();
    assert_eq!(store.load().unwrap(), embedded);
    // The migrations are recorded: running them again applies nothing.
    assert!(store.migrate().unwrap().is_empty());
}

#[test]
fn an_edit_is_one_revision_that_another_store_catches_up_with() {
    let url = fresh("edits");
    let a = PgStore::new(&url).unwrap();
    let b = PgStore::new(&url).unwrap();
    a.load().unwrap();
    b.load().unwrap();
    let zone = a_drawn_zone();
    let done = a
        .commit(
            vec![rename("zones", &zone, "Renamed by A", None)],
            "alice",
            "rename",
        )
        .unwrap();
    let r = done.revision.unwrap();
    assert_eq!(r.number, 1);
    assert_eq!(r.author, "alice");
    // B has not heard yet; catching up brings the revision and the feature.
    assert_eq!(b.state().unwrap().revision(), 0);
    assert!(b.catch_up().unwrap());
    let state = b.state().unwrap();
    assert_eq!(state.revision(), 1);
    assert_eq!(state.revisions[0].changes, r.changes);
    assert_eq!(
        state.data.source_feature("zones", &zone).unwrap()["properties"]["name"],
        "Renamed by A"
    );
    assert_eq!(state.feature_revision("zones", &zone), 1);
    // B's edit based on revision 0 of the zone is stale now: refused, nothing written.
    let stale = b.commit(vec![rename("zones", &zone, "B", Some(0))], "bob", "x");
    assert!(
        matches!(stale, Err(EditError::Stale { current: 1, .. })),
        "{stale:?}"
    );
    // An edit from B without catching up first sees A's revision (the commit reads it).
    let c = PgStore::new(&url).unwrap();
    c.load().unwrap();
    a.commit(
        vec![rename("zones", &zone, "Again A", Some(1))],
        "alice",
        "again",
    )
    .unwrap();
    let by_c = c
        .commit(vec![rename("zones", &zone, "By C", Some(2))], "carol", "c")
        .unwrap();
    assert_eq!(by_c.revision.unwrap().number, 3);
    // An invalid edit is refused by the loader's checks and writes nothing.
    let bad = Edit {
        layer: "zones".into(),
        id: Some(geodata::FeatureId::parse(&zone).unwrap()),
        if_match: None,
        make: Box::new(|current| {
            let mut f = current.unwrap().clone();
            f["properties"]["kind"] = json!("occupation");
            Ok(Some(f))
        }),
    };
    assert!(matches!(
        a.commit(vec![bad], "alice", "bad"),
        Err(EditError::Invalid(_))
    ));
    // A fresh load reads the same data and history the committing stores hold.
    let fresh = PgStore::new(&url).unwrap();
    let loaded = fresh.load().unwrap();
    let held = c.state().unwrap();
    assert_eq!(loaded.source_files(), held.data.source_files());
    let revisions = fresh.state().unwrap().revisions;
    assert_eq!(revisions.len(), 3);
    for (x, y) in revisions.iter().zip(&held.revisions) {
        assert_eq!(**x, **y);
    }
}

#[test]
fn the_schema_refuses_what_the_loader_refuses_and_keeps_revisions_for_good() {
    let url = fresh("schema");
    let store = PgStore::new(&url).unwrap();
    store.load().unwrap();
    let zone = a_drawn_zone();
    store
        .commit(vec![rename("zones", &zone, "x", None)], "alice", "m")
        .unwrap();
    let c = cluster();
    let refused = [
        format!("UPDATE zones SET kind = 'occupation' WHERE id = '{zone}'"),
        format!("UPDATE zones SET actor = 'nobody' WHERE id = '{zone}'"),
        format!("UPDATE zones SET validity = 'empty' WHERE id = '{zone}'"),
        format!("UPDATE zones SET id = 'Not An Id' WHERE id = '{zone}'"),
        format!(
            "UPDATE zones SET geom = ST_SetSRID('POINT(36 33)'::geometry, 4326) WHERE id = '{zone}'"
        ),
        "UPDATE revisions SET author = 'mallory'".to_owned(),
        "DELETE FROM revision_changes".to_owned(),
    ];
    for sql in refused {
        let out = c.psql("schema", &sql);
        assert!(!out.status.success(), "{sql} was accepted");
    }
    // The views GIS clients list: one row per zone of the file, with geometry and validity.
    let out = c.psql(
        "schema",
        "SELECT count(*), count(geom), count(valid_from) FROM zones_map",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let counts: Vec<usize> = text.trim().split('|').map(|n| n.parse().unwrap()).collect();
    let data = Dataset::embedded();
    let file_zones = data.source_files()[1].1["features"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(counts[0], file_zones, "{text}");
    assert!(
        counts[1] > 0 && counts[1] < counts[0],
        "rule zones have no geometry: {text}"
    );
}

/// The id of a zone of the embedded set drawn by hand (not derived by a rule), which edits can
/// rename.
fn a_drawn_zone() -> String {
    let data = Dataset::embedded();
    let zone = data.zones.iter().find(|z| z.rule.is_none());
    zone.unwrap().meta.id.to_string()
}
