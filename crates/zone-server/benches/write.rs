//! What acknowledging a write costs on a 10,000-zone data set: the store's commit (validation
//! of the changed feature, the revision appended and synced), and the new snapshot the next
//! request is answered from. Issue 12's target: under 50 ms for one changed feature.
//!
//! `cargo bench -p zone-server --bench write`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use geodata::edit::{ClientEdit, source_from_client};
use geodata::{Dataset, DirectoryStore, Edit, FeatureId, History, Store};
use serde_json::json;
use zone_server::Snapshot;

/// The default data set with its zones replaced by `n` synthetic star polygons (the
/// which-zone benchmark's), written as a data folder.
fn folder(n: usize) -> (std::path::PathBuf, Vec<String>) {
    let dir = std::env::temp_dir().join(format!("zonetrack-bench-write-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut data = Dataset::embedded();
    zone_index::synthetic::replace_zones_with_stars(&mut data, n, "zone_", |_, _| {});
    let ids = data.zones.iter().map(|z| z.meta.id.to_string()).collect();
    data.write_dir(&dir).expect("the bench folder writes");
    (dir, ids)
}

fn rename(id: &str, name: String) -> Edit {
    let patch = json!({"properties": {"name": name}});
    Edit {
        layer: "zones".into(),
        id: Some(FeatureId::parse(id).expect("a valid id")),
        if_match: None,
        make: Box::new(move |c| {
            source_from_client("zones", c, &patch, ClientEdit::Patch, None).map(Some)
        }),
    }
}

fn write_ack(c: &mut Criterion) {
    let (dir, ids) = folder(10_000);
    let store = DirectoryStore::new(&dir);
    store.load().expect("the bench folder loads");
    let state = store.state().expect("a history");
    let mut snap = Snapshot::from_shared(state.data.clone()).with_history(&state);
    let mut g = c.benchmark_group("write on 10,000 zones");
    g.sample_size(20).measurement_time(Duration::from_secs(20));
    let mut n = 0u64;
    g.bench_function("commit one changed feature (validate, log, sync)", |b| {
        b.iter(|| {
            n += 1;
            let id = &ids[(n as usize * 7919) % ids.len()];
            black_box(
                store
                    .commit(vec![rename(id, format!("renamed {n}"))], "bench", "")
                    .expect("commits"),
            )
        })
    });
    g.bench_function("commit and the next snapshot", |b| {
        b.iter(|| {
            n += 1;
            let id = &ids[(n as usize * 7919) % ids.len()];
            let done = store
                .commit(vec![rename(id, format!("renamed {n}"))], "bench", "")
                .expect("commits");
            let next = snap.after(&done.state, &done.revision.expect("a revision").changes);
            // As the server does: the old snapshot is freed off the write's path.
            let old = std::mem::replace(&mut snap, next);
            std::thread::spawn(move || drop(old));
            black_box(&snap);
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, write_ack);
criterion_main!(benches);
