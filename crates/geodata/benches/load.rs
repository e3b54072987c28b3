//! How long loading takes: the embedded default data set (parse, validate every feature, derive
//! the 22 rule zones: geodesic buffers, a split, clips), and the two big data folders of issue
//! 14, read from disk, parsed and validated as `zonetrack validate DIR` does:
//!
//! - countries: npm `@geo-maps/countries-land-10km`, 220 zones, about 71,000 vertices;
//! - zones-100k: the which-zone benchmark's 100,000 star polygons, about 3.7 million vertices.
//!
//! The folders are built by `scripts/bench/datasets` (under `target/bench/folders`), which this
//! bench runs when they are missing (it needs python3, npm and cargo). Run:
//! `cargo bench -p geodata --bench load`, or one case with `-- countries`.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use geodata::{Dataset, DirectoryStore, Store, geodesy, load_files};

fn load(c: &mut Criterion) {
    let files = Dataset::embedded_files();
    c.bench_function("load, validate and derive the embedded data set", |b| {
        b.iter(|| load_files("geodata", files.clone()).expect("the embedded data is valid"))
    });
    let data = Dataset::embedded();
    let line_a = data
        .reference
        .iter()
        .flat_map(|l| &l.features)
        .find(|f| f.meta.id.as_str() == "golan_line_a")
        .and_then(|f| match &f.geometry {
            geo::Geometry::MultiLineString(ml) => Some(ml.clone()),
            _ => None,
        })
        .expect("the default data has Golan Line A");
    c.bench_function("geodesic 100 km buffer of Golan Line A", |b| {
        b.iter(|| geodesy::buffer_lines(&line_a, 100.0))
    });
}

/// The folder `scripts/bench/datasets` builds for `set`, built first when missing.
fn folder(set: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(|| root.join("target"), |t| root.join(t));
    let dir = target.join("bench/folders").join(set);
    if !dir.join("zones.geojson").exists() {
        let status = std::process::Command::new(root.join("scripts/bench/datasets"))
            .args(["--sets", set])
            .status()
            .expect("scripts/bench/datasets runs (it needs python3, npm and cargo)");
        assert!(
            status.success(),
            "scripts/bench/datasets --sets {set} failed"
        );
    }
    dir
}

/// `zonetrack validate DIR`: the directory store's first load of the folder.
fn folders(c: &mut Criterion) {
    let mut g = c.benchmark_group("folder");
    g.sample_size(10).warm_up_time(Duration::from_secs(1));
    for set in ["countries", "zones-100k"] {
        let dir = folder(set);
        g.bench_function(format!("load and validate {set}"), |b| {
            b.iter(|| {
                DirectoryStore::new(&dir)
                    .load()
                    .expect("the bench folder is valid")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, load, folders);
criterion_main!(benches);
