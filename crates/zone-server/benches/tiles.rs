//! What a map tile costs on the zones-100k set (the which-zone benchmark's 100,000 star polygons,
//! 3.7 M vertices, with actors, kinds and one-year periods drawn like `scripts/bench/zones_dir.py`
//! draws them): making it (R-tree, clip, simplify) and encoding it as MVT, against encoding the same
//! clipped, simplified features as per-tile GeoJSON (the other way the issue allows). Before the
//! timings it prints, per tile, the features and vertices written and the bytes of both
//! encodings, raw and gzipped (level 6, as the server keeps answers).
//!
//! `cargo bench -p zone-server --bench tiles`

use std::hint::black_box;
use std::io::Write as _;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use geodata::{Dataset, Period, ZoneKind};
use zone_index::synthetic::{next_u64, replace_zones_with_stars};
use zone_server::Snapshot;
use zone_server::tiles::{TileId, render, tile_features};

/// The embedded data set with its zones replaced by the zones-100k polygons.
fn zones_100k() -> Snapshot {
    let mut data = Dataset::embedded();
    let actors: Vec<_> = data.actors.iter().map(|a| a.id.clone()).collect();
    let kinds = [
        ZoneKind::Control,
        ZoneKind::Presence,
        ZoneKind::DemandedExclusion,
    ];
    let mut s = 16u64;
    let day0 = chrono::NaiveDate::from_ymd_opt(2016, 1, 1).expect("a date");
    replace_zones_with_stars(&mut data, 100_000, "z", |_, z| {
        z.actor = actors[(next_u64(&mut s) % actors.len() as u64) as usize].clone();
        z.kind = kinds[(next_u64(&mut s) % 3) as usize];
        let from = day0 + chrono::Days::new(next_u64(&mut s) % (365 * 3));
        let to = (!next_u64(&mut s).is_multiple_of(5)).then(|| from + chrono::Days::new(365));
        z.period = Period::new(Some(from), to).expect("from before to");
    });
    Snapshot::new(data)
}

/// The tile holding a lon/lat at zoom z.
fn tile_at(lon: f64, lat: f64, z: u8) -> TileId {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let r = lat.to_radians();
    let y = ((1.0 - r.tan().asinh() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
    TileId::new(z, x, y).expect("a tile")
}

/// The same features as per-tile GeoJSON: tile-unit integer coordinates (as geojson-vt gives
/// them) and the same properties.
fn geojson(snap: &Snapshot, id: TileId, when: &dyn Fn(&Period) -> bool) -> Vec<u8> {
    let layer = snap.layer("zones").expect("zones");
    let (shapes, _) = tile_features(layer, id, Some(when));
    let mut out = String::from("{\"type\":\"FeatureCollection\",\"features\":[");
    for (n, (i, g)) in shapes.iter().enumerate() {
        let f = &layer.features[*i];
        let props: serde_json::Map<String, serde_json::Value> = zone_server::tiles::PROPERTIES
            .iter()
            .filter_map(|k| Some(((*k).to_owned(), f.properties.get(*k)?.clone())))
            .collect();
        if n > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            "{{\"type\":\"Feature\",\"id\":{},\"geometry\":{},\"properties\":{}}}",
            f.fid,
            geodata::geometry_json(g),
            serde_json::Value::Object(props)
        ));
    }
    out.push_str("]}");
    out.into_bytes()
}

fn gzip(bytes: &[u8]) -> usize {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip").len()
}

fn tiles(c: &mut Criterion) {
    let snap = zones_100k();
    let layer = snap.layer("zones").expect("zones");
    let day = chrono::NaiveDate::from_ymd_opt(2018, 6, 1).expect("a date");
    let when = move |p: &Period| p.contains(day);
    // The whole box at zoom 3 (all specks), then deeper over a dense part of it (the map's
    // first view of this set is at zoom 7, 16 tiles of 256 pixels).
    let (lon, lat) = (39.0, 35.0);
    let cases = [
        ("z3 (whole set)", tile_at(lon, lat, 3)),
        ("z6", tile_at(lon, lat, 6)),
        ("z8", tile_at(lon, lat, 8)),
        ("z10", tile_at(lon, lat, 10)),
        ("z12", tile_at(lon, lat, 12)),
    ];
    println!(
        "zones-100k tiles on {day} (features, vertices written; MVT and GeoJSON bytes, raw / gzip):"
    );
    for (name, id) in cases {
        let (mvt, stats) = render(layer, id, Some(&when));
        let json = geojson(&snap, id, &when);
        println!(
            "  {name:16} {}/{}/{}: {} candidates, {} features, {} vertices; MVT {} / {} B, GeoJSON {} / {} B",
            id.z,
            id.x,
            id.y,
            stats.candidates,
            stats.features,
            stats.vertices,
            mvt.len(),
            gzip(&mvt),
            json.len(),
            gzip(&json)
        );
    }
    let mut g = c.benchmark_group("zones-100k tile");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    for (name, id) in cases {
        g.bench_function(format!("{name} MVT"), |b| {
            b.iter(|| black_box(render(layer, id, Some(&when))))
        });
        g.bench_function(format!("{name} GeoJSON"), |b| {
            b.iter(|| black_box(geojson(&snap, id, &when)))
        });
    }
    g.finish();
}

criterion_group!(benches, tiles);
criterion_main!(benches);
