//! Random data sets whose coordinates lie on a grid of 1/8 degree, so that vertices, points on
//! edges (at eighths of an edge) and horizontal edges are exact in floating point and the
//! boundary cases really happen.

use geo::{Coord, CoordinatePosition, LineString, MultiPolygon, Point, Polygon, Validation};
use geodata::{
    ActorId, Confidence, Dataset, Date, FeatureId, FeatureMeta, Method, Period, Zone, ZoneKind,
};
use zone_index::synthetic::{next_u64, uniform};

pub fn day(s: &str) -> Date {
    s.parse().expect("test dates are valid")
}

/// The days the random periods are drawn from: 2018-01-01 to 2018-01-10.
pub fn random_day(s: &mut u64) -> Date {
    day("2018-01-01") + chrono::Days::new(next_u64(s) % 10)
}

fn snap(v: f64) -> f64 {
    (v * 8.0).round() / 8.0
}

fn star(
    s: &mut u64,
    centre: (f64, f64),
    radius: f64,
    n: usize,
    clockwise: bool,
) -> LineString<f64> {
    let p = zone_index::synthetic::star_polygon(s, centre, radius, n);
    let mut pts: Vec<Coord<f64>> = p
        .exterior()
        .0
        .iter()
        .map(|c| Coord {
            x: snap(c.x),
            y: snap(c.y),
        })
        .collect();
    pts.dedup();
    if clockwise {
        pts.reverse();
    }
    LineString::new(pts)
}

/// A valid random polygon: a snapped star (or an axis-aligned rectangle, for horizontal and
/// vertical edges), sometimes with one or two holes.
fn random_polygon(s: &mut u64) -> Option<Polygon<f64>> {
    let centre = (snap(uniform(s, 0.0, 10.0)), snap(uniform(s, 0.0, 10.0)));
    let radius = uniform(s, 0.5, 4.0);
    let exterior = if next_u64(s).is_multiple_of(4) {
        let (w, h) = (
            snap(uniform(s, 0.25, radius)),
            snap(uniform(s, 0.25, radius)),
        );
        LineString::from(vec![
            (centre.0 - w, centre.1 - h),
            (centre.0 + w, centre.1 - h),
            (centre.0 + w, centre.1 + h),
            (centre.0 - w, centre.1 + h),
            (centre.0 - w, centre.1 - h),
        ])
    } else {
        let n = 3 + (next_u64(s) % 14) as usize;
        star(s, centre, radius, n, false)
    };
    let mut holes = Vec::new();
    for k in 0..(next_u64(s) % 3) {
        // Holes at the centre and beside it, small enough to stay inside a star's inner half.
        let off = if k == 0 { 0.0 } else { radius * 0.25 };
        let n = 3 + (next_u64(s) % 8) as usize;
        holes.push(star(s, (centre.0 + off, centre.1), radius * 0.2, n, true));
    }
    let with_holes = Polygon::new(exterior.clone(), holes);
    if with_holes.is_valid() {
        return Some(with_holes);
    }
    let plain = Polygon::new(exterior, vec![]);
    plain.is_valid().then_some(plain)
}

/// A valid multipolygon of one to three parts.
pub fn random_multipolygon(s: &mut u64) -> MultiPolygon<f64> {
    loop {
        let parts = 1 + (next_u64(s) % 3) as usize;
        let polys: Vec<Polygon<f64>> = (0..parts).filter_map(|_| random_polygon(s)).collect();
        if polys.is_empty() {
            continue;
        }
        let mp = MultiPolygon(polys);
        if mp.is_valid() {
            return mp;
        }
        // Overlapping parts: keep the first alone.
        return MultiPolygon(vec![mp.0[0].clone()]);
    }
}

fn meta(id: &str) -> FeatureMeta {
    FeatureMeta {
        id: FeatureId::parse(id).expect("test ids are valid"),
        name: id.to_owned(),
        description: String::new(),
        confidence: Confidence::Low,
        method: Method::HandDrawn,
        sources: vec![],
    }
}

/// A zone with the given geometry, period, actor and kind.
pub fn zone(
    id: &str,
    geometry: MultiPolygon<f64>,
    period: Period,
    actor: &str,
    kind: ZoneKind,
) -> Zone {
    Zone {
        meta: meta(id).into(),
        actor: ActorId::parse(actor).expect("test actors are valid"),
        kind,
        period,
        geometry: geometry.into(),
        rule: None,
        derived_from: None,
    }
}

/// A data set of `n` random overlapping zones with random (sometimes open) periods.
pub fn random_dataset(s: &mut u64, n: usize) -> Dataset {
    let zones = (0..n)
        .map(|i| {
            let a = random_day(s);
            let b = random_day(s);
            let (lo, hi) = (a.min(b), a.max(b));
            let from = (!next_u64(s).is_multiple_of(5)).then_some(lo);
            let to = (!next_u64(s).is_multiple_of(5)).then_some(hi);
            let period = Period::new(from, to).expect("lo <= hi");
            let actor = ["red", "blue", "green"][i % 3];
            zone(
                &format!("z{i}"),
                random_multipolygon(s),
                period,
                actor,
                ZoneKind::Control,
            )
        })
        .collect();
    Dataset {
        actors: vec![],
        zones,
        locations: vec![],
        events: vec![],
        reference: vec![],
    }
}

/// Query points: vertices, points at eighths of edges, grid points and plain random points.
pub fn random_points(s: &mut u64, data: &Dataset, n: usize) -> Vec<(f64, f64)> {
    let rings: Vec<&LineString<f64>> = data
        .zones
        .iter()
        .flat_map(|z| &z.geometry.0)
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .collect();
    (0..n)
        .map(|_| {
            let ring = rings[(next_u64(s) % rings.len() as u64) as usize];
            let i = (next_u64(s) % (ring.0.len() as u64 - 1)) as usize;
            let (a, b) = (ring.0[i], ring.0[i + 1]);
            match next_u64(s) % 4 {
                0 => (a.x, a.y),
                1 => {
                    let t = (next_u64(s) % 9) as f64 / 8.0;
                    (a.x + t * (b.x - a.x), a.y + t * (b.y - a.y))
                }
                2 => (snap(uniform(s, -1.0, 15.0)), snap(uniform(s, -1.0, 15.0))),
                _ => (uniform(s, -1.0, 15.0), uniform(s, -1.0, 15.0)),
            }
        })
        .collect()
}

/// The reference answer: every zone, every polygon, every edge, with geo's exact
/// `CoordinatePosition` per polygon. Inside any polygon wins; otherwise on the boundary of one.
pub fn brute_covering(data: &Dataset, lon: f64, lat: f64, at: Option<Date>) -> Vec<(usize, bool)> {
    use geo::coordinate_position::CoordPos;
    let c = Coord { x: lon, y: lat };
    data.zones
        .iter()
        .enumerate()
        .filter(|(_, z)| at.is_none_or(|d| z.period.contains(d)))
        .filter_map(|(i, z)| {
            let pos: Vec<CoordPos> = z
                .geometry
                .0
                .iter()
                .map(|p| p.coordinate_position(&c))
                .collect();
            if pos.contains(&CoordPos::Inside) {
                Some((i, false))
            } else if pos.contains(&CoordPos::OnBoundary) {
                Some((i, true))
            } else {
                None
            }
        })
        .collect()
}

/// Geodesic distance to the nearest vertex of a zone, an upper bound on the distance to its
/// boundary used to check nearest answers.
pub fn nearest_vertex_km(z: &Zone, lon: f64, lat: f64) -> f64 {
    z.geometry
        .0
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .flat_map(|r| r.points())
        .map(|v| geodata::geodesy::distance_km(Point::new(lon, lat), v))
        .fold(f64::INFINITY, f64::min)
}
