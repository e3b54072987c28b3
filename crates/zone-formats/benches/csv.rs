//! How long a CSV batch of points takes to parse: 1 M rows of `id,lon,lat` with six decimals,
//! as `scripts/bench/join` gives `zonetrack query --csv` (the part of the whole job that runs
//! beside the data's load). Run: `cargo bench -p zone-formats --bench csv`.

use std::fmt::Write as _;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use zone_formats::batch::{BatchLimits, parse_csv, parse_csv_owned};

/// `n` rows of seeded pseudo-random points (a linear congruential generator: no dependency, the
/// same text on every run).
fn points(n: usize) -> String {
    let mut text = String::with_capacity(n * 28 + 16);
    text.push_str("id,lon,lat\n");
    let mut state: u64 = 0x5eed;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for i in 0..n {
        let (lon, lat) = (35.0 + 7.0 * next(), 32.0 + 5.5 * next());
        let _ = writeln!(text, "{i},{lon:.6},{lat:.6}");
    }
    text
}

fn parse(c: &mut Criterion) {
    let text = points(1_000_000);
    let mut g = c.benchmark_group("csv");
    g.throughput(Throughput::Elements(1_000_000))
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    g.bench_function("parse 1 M points (id,lon,lat)", |b| {
        b.iter(|| {
            let batch = parse_csv(&text, BatchLimits::NONE).expect("the text is CSV");
            assert_eq!(batch.points.len(), 1_000_000);
            batch
        })
    });
    // What `zonetrack query --csv` does: the text read from the file is kept, not copied.
    g.bench_function("parse 1 M points (id,lon,lat), owned text", |b| {
        b.iter_batched(
            || text.clone(),
            |text| {
                let batch = parse_csv_owned(text, BatchLimits::NONE).expect("the text is CSV");
                assert_eq!(batch.points.len(), 1_000_000);
                batch
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
