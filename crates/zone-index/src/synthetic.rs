//! Seeded synthetic data for tests and benchmarks: random star-shaped polygons and uniform
//! points, from a tiny deterministic generator (SplitMix64), so every run and every machine
//! makes the same sets without any data files.

use geo::{Coord, LineString, MultiPolygon, Polygon};

/// The lon/lat box of the zones-100k benchmark set, `[min lon, min lat, max lon, max lat]`:
/// Syria and its surroundings.
pub const SYRIA_BOX: [f64; 4] = [35.5, 32.3, 42.5, 37.4];

/// The next number of a SplitMix64 sequence whose state is `state`.
///
/// ```
/// let (mut a, mut b) = (42, 42);
/// assert_eq!(zone_index::synthetic::next_u64(&mut a), zone_index::synthetic::next_u64(&mut b));
/// ```
pub fn next_u64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform number in `lo..hi`.
///
/// ```
/// let mut s = 1;
/// let x = zone_index::synthetic::uniform(&mut s, 2.0, 3.0);
/// assert!((2.0..3.0).contains(&x));
/// ```
pub fn uniform(state: &mut u64, lo: f64, hi: f64) -> f64 {
    // 53 random bits give every double in [0, 1) on a 2^-53 grid.
    let unit = (next_u64(state) >> 11) as f64 / (1u64 << 53) as f64;
    lo + (hi - lo) * unit
}

/// A standard normal number (Box-Muller).
///
/// ```
/// let mut s = 9;
/// let xs: Vec<f64> = (0..10_000).map(|_| zone_index::synthetic::normal(&mut s)).collect();
/// let mean = xs.iter().sum::<f64>() / xs.len() as f64;
/// assert!(mean.abs() < 0.05);
/// ```
pub fn normal(state: &mut u64) -> f64 {
    let u1 = uniform(state, f64::MIN_POSITIVE, 1.0);
    let u2 = uniform(state, 0.0, std::f64::consts::TAU);
    (-2.0 * u1.ln()).sqrt() * u2.cos()
}

/// A star-shaped polygon around `center` with `vertices` vertices (ring closed, counter-clockwise)
/// at radii between half and all of `radius` degrees: simple by construction, since the angles
/// strictly increase.
///
/// ```
/// use geo::{Area, Validation};
/// let mut s = 3;
/// let p = zone_index::synthetic::star_polygon(&mut s, (36.0, 33.0), 0.1, 12);
/// assert_eq!(p.exterior().0.len(), 13);
/// assert!(p.is_valid() && p.signed_area() > 0.0);
/// ```
pub fn star_polygon(
    state: &mut u64,
    center: (f64, f64),
    radius: f64,
    vertices: usize,
) -> Polygon<f64> {
    let steps: Vec<f64> = (0..vertices).map(|_| uniform(state, 0.5, 1.5)).collect();
    let total: f64 = steps.iter().sum();
    let mut angle = uniform(state, 0.0, std::f64::consts::TAU);
    let mut ring: Vec<Coord<f64>> = Vec::with_capacity(vertices + 1);
    for step in steps {
        let r = radius * uniform(state, 0.5, 1.0);
        ring.push(Coord {
            x: center.0 + r * angle.cos(),
            y: center.1 + r * angle.sin(),
        });
        angle += step / total * std::f64::consts::TAU;
    }
    Polygon::new(LineString::new(ring), vec![])
}

/// `n` seeded random star-shaped polygons of 8-64 vertices over `bbox`, clustered round 300
/// centres and overlapping: with `n = 100_000` and [`SYRIA_BOX`], the zones-100k benchmark set
/// (about 3.7 million vertices, each point of the box in about two polygons on average, many
/// more in the clusters).
///
/// ```
/// let set = zone_index::synthetic::clustered_stars(50, zone_index::synthetic::SYRIA_BOX, 1);
/// assert_eq!(set.len(), 50);
/// assert!(set.iter().all(|m| (9..=65).contains(&m.0[0].exterior().0.len())));
/// ```
pub fn clustered_stars(n: usize, bbox: [f64; 4], seed: u64) -> Vec<MultiPolygon<f64>> {
    let mut s = seed;
    let [w, so, e, no] = bbox;
    let centres: Vec<(f64, f64)> = (0..300)
        .map(|_| (uniform(&mut s, w, e), uniform(&mut s, so, no)))
        .collect();
    (0..n)
        .map(|_| {
            let c = centres[(next_u64(&mut s) % centres.len() as u64) as usize];
            let spread = 0.25;
            let centre = (
                (c.0 + spread * normal(&mut s)).clamp(w, e),
                (c.1 + spread * normal(&mut s)).clamp(so, no),
            );
            // Log-uniform radius from 0.002 to 0.05 degrees (about 0.2 to 5.5 km).
            let radius = (uniform(&mut s, 0.002f64.ln(), 0.05f64.ln())).exp();
            let vertices = 8 + (next_u64(&mut s) % 57) as usize;
            MultiPolygon(vec![star_polygon(&mut s, centre, radius, vertices)])
        })
        .collect()
}

/// `n` seeded uniform random points (lon, lat) in `bbox`.
///
/// ```
/// let pts = zone_index::synthetic::uniform_points(10, [0.0, 0.0, 1.0, 2.0], 5);
/// assert!(pts.iter().all(|&(x, y)| (0.0..1.0).contains(&x) && (0.0..2.0).contains(&y)));
/// ```
pub fn uniform_points(n: usize, bbox: [f64; 4], seed: u64) -> Vec<(f64, f64)> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            (
                uniform(&mut s, bbox[0], bbox[2]),
                uniform(&mut s, bbox[1], bbox[3]),
            )
        })
        .collect()
}

/// Replaces the zones of `data` with `n` clustered star polygons of [`SYRIA_BOX`] (the
/// which-zone benchmark's set), each a copy of the first hand-drawn zone with id `{prefix}{i}`,
/// then given its own actor, kind or period by `dress`. The benches that need the zones-100k
/// set inside a whole data set (tiles, writes) build it here, the same way.
///
/// ```
/// let mut data = geodata::Dataset::embedded();
/// zone_index::synthetic::replace_zones_with_stars(&mut data, 20, "z", |_, _| {});
/// assert_eq!(data.zones.len(), 20);
/// assert_eq!(data.zones[3].meta.id.to_string(), "z3");
/// ```
pub fn replace_zones_with_stars(
    data: &mut geodata::Dataset,
    n: usize,
    prefix: &str,
    mut dress: impl FnMut(usize, &mut geodata::Zone),
) {
    let proto = data.zones.iter().find(|z| z.rule.is_none());
    let proto = proto.expect("the data set has a hand-drawn zone").clone();
    data.zones = clustered_stars(n, SYRIA_BOX, 1)
        .into_iter()
        .enumerate()
        .map(|(i, g)| {
            let mut z = proto.clone();
            let id = geodata::FeatureId::parse(&format!("{prefix}{i}"));
            std::sync::Arc::make_mut(&mut z.meta).id = id.expect("a valid id");
            z.geometry = g.into();
            dress(i, &mut z);
            z
        })
        .collect();
}
