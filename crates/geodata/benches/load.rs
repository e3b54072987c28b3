//! How long loading the embedded default data set takes: parse, validate every feature, and
//! derive the 22 rule zones (geodesic buffers, a split, clips). Run:
//! `cargo bench -p geodata --bench load`.

use criterion::{Criterion, criterion_group, criterion_main};
use geodata::{Dataset, geodesy, load_files};

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

criterion_group!(benches, load);
criterion_main!(benches);
