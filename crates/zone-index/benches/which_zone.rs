//! Criterion benchmarks of the which-zone index on the embedded Syria data set and on the
//! seeded zones-100k set (made here, not stored). `scripts/bench/which-zone` compares the same
//! index with shapely; these track the index alone over time.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use zone_index::{PolygonIndex, ZoneIndex, synthetic};

fn day(s: &str) -> geodata::Date {
    s.parse().expect("benchmark dates are valid")
}

/// The points in turn, round and round: each call of a benchmark gets the next one.
fn cycle(points: &[(f64, f64)]) -> impl FnMut() -> (f64, f64) + '_ {
    let mut i = 0;
    move || {
        i = (i + 1) % points.len();
        points[i]
    }
}

fn default_set(c: &mut Criterion) {
    let index = ZoneIndex::new(Arc::new(geodata::Dataset::embedded()));
    let points = synthetic::uniform_points(4096, synthetic::SYRIA_BOX, 7);
    let at = Some(day("2018-02-15"));
    let mut g = c.benchmark_group("default set");
    let mut next = cycle(&points);
    g.bench_function("one covering call at a random point on a date", |b| {
        b.iter(|| {
            let (lon, lat) = next();
            black_box(index.covering(black_box(lon), black_box(lat), at))
        })
    });
    g.bench_function("one covering call at Daraa city, every period", |b| {
        b.iter(|| black_box(index.covering(black_box(36.1), black_box(32.617), None)))
    });
    g.throughput(Throughput::Elements(points.len() as u64));
    g.bench_function("4096 points in one covering_many call", |b| {
        b.iter(|| black_box(index.covering_many(black_box(&points), at)))
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("the five nearest zones to Damascus", |b| {
        b.iter(|| black_box(index.nearest(black_box(36.2913), black_box(33.5102), 5, at)))
    });
    let mut j = 0;
    g.bench_function(
        "three nearest zones outside, random point (GET /query/point's work)",
        |b| {
            b.iter(|| {
                j = (j + 1) % points.len();
                let (lon, lat) = points[j];
                black_box(index.nearest_outside(black_box(lon), black_box(lat), 3, at))
            })
        },
    );
    g.bench_function("the timeline of Daraa city", |b| {
        b.iter(|| black_box(index.timeline(black_box(36.1), black_box(32.617))))
    });
    g.sample_size(10);
    g.bench_function("what changed from February to August 2018", |b| {
        b.iter(|| black_box(index.changes(day("2018-02-15"), day("2018-08-15"))))
    });
    g.finish();
}

fn zones_100k(c: &mut Criterion) {
    let items = synthetic::clustered_stars(100_000, synthetic::SYRIA_BOX, 1);
    let index = PolygonIndex::new(items.clone());
    let points = synthetic::uniform_points(100_000, synthetic::SYRIA_BOX, 2);
    let mut g = c.benchmark_group("zones-100k");
    let mut next = cycle(&points);
    g.bench_function("one covering call at a random point", |b| {
        b.iter(|| {
            let (lon, lat) = next();
            black_box(index.covering(black_box(lon), black_box(lat)))
        })
    });
    g.throughput(Throughput::Elements(points.len() as u64));
    for threads in [1, 2] {
        g.bench_function(
            format!("100,000 random points in one batch on {threads} thread(s)"),
            |b| b.iter(|| black_box(index.covering_many(black_box(&points), threads))),
        );
    }
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.bench_function("building the index, edge indexes and grid included", |b| {
        b.iter_batched(
            || items.clone(),
            |input| black_box(PolygonIndex::new(input)),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, default_set, zones_100k);
criterion_main!(benches);
