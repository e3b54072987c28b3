//! Geodesic distances from a point to zones, and a cheap, provable lower bound on the distance
//! to a lon/lat box, used to visit zones nearest-first and stop early.
//!
//! The bound: a geodesic on the ellipsoid is never shorter than the straight 3-D chord between
//! its ends, and the chord from the point to anything in the box is never shorter than the
//! distance to an axis-aligned box (in Earth-centred coordinates) enclosing the box's image; and
//! a path between two latitudes is never shorter than the meridian arc between them.

use geo::{Coord, MultiPolygon, Point, Rect};

use geodata::geodesy::{A_KM, E2, ecef};

/// Prime-vertical radius of curvature at latitude `phi` (radians), km.
fn n_km(phi: f64) -> f64 {
    A_KM / (1.0 - E2 * phi.sin().powi(2)).sqrt()
}

/// Range of a function over an interval of angles (degrees), given the angles inside where it
/// peaks or dips.
fn range_of(lo: f64, hi: f64, f: impl Fn(f64) -> f64, peaks: &[f64]) -> (f64, f64) {
    let (a, b) = (f(lo), f(hi));
    let mut r = (a.min(b), a.max(b));
    for &p in peaks {
        if lo <= p && p <= hi {
            let v = f(p);
            r = (r.0.min(v), r.1.max(v));
        }
    }
    r
}

/// Product of two intervals.
fn mul(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    let p = [a.0 * b.0, a.0 * b.1, a.1 * b.0, a.1 * b.1];
    p.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

/// A query point, with its Earth-centred coordinates worked out once.
#[derive(Debug, Clone, Copy)]
struct Probe {
    lon: f64,
    lat: f64,
    ecef: [f64; 3],
}

impl Probe {
    fn new(lon: f64, lat: f64) -> Probe {
        Probe {
            lon,
            lat,
            ecef: ecef(lon, lat),
        }
    }

    /// See [`lower_bound_km`]; `[west, south, east, north]`.
    fn bound(&self, [w, s, e, n]: [f64; 4]) -> f64 {
        let (lon, lat) = (self.lon, self.lat);
        if w <= lon && lon <= e && s <= lat && lat <= n {
            return 0.0;
        }
        // Radius of the parallel, N cos(phi), falls as |phi| grows: extremes at the ends or at 0.
        let r = range_of(
            s,
            n,
            |d| n_km(d.to_radians()) * d.to_radians().cos(),
            &[0.0],
        );
        let cos = range_of(w, e, |d| d.to_radians().cos(), &[-180.0, 0.0, 180.0]);
        let sin = range_of(w, e, |d| d.to_radians().sin(), &[-90.0, 90.0]);
        let zf = |d: f64| n_km(d.to_radians()) * (1.0 - E2) * d.to_radians().sin();
        let (x, y, z) = (mul(r, cos), mul(r, sin), (zf(s), zf(n)));
        let [px, py, pz] = self.ecef;
        let gap = |v: f64, (lo, hi): (f64, f64)| (lo - v).max(v - hi).max(0.0);
        let chord = (gap(px, x).powi(2) + gap(py, y).powi(2) + gap(pz, z).powi(2)).sqrt();
        // Any path between two latitudes is at least the meridian arc between them, and a
        // degree of meridian is nowhere shorter than at the equator: a(1 - e²) π/180 km.
        let lat_gap = (s - lat).max(lat - n).max(0.0);
        let meridian = lat_gap * A_KM * (1.0 - E2) * std::f64::consts::PI / 180.0;
        // Shave off far more than the rounding error of the trigonometry above.
        (chord.max(meridian) * (1.0 - 1e-9) - 1e-6).max(0.0)
    }
}

/// A lower bound, in km, on the geodesic distance from (lon, lat) to any point of `rect`
/// (lon/lat degrees); 0 when the point is in the rectangle.
///
/// ```
/// use geo::{Rect, coord};
/// let r = Rect::new(coord! { x: 36.0, y: 33.0 }, coord! { x: 37.0, y: 34.0 });
/// let lb = zone_index::lower_bound_km(35.0, 33.5, r);
/// // The true distance to the box's west edge is about 92.9 km.
/// assert!(lb > 60.0 && lb <= 92.9, "{lb}");
/// // South of the box the bound is the meridian arc: 1 degree of latitude, at least 110.5 km.
/// assert!(zone_index::lower_bound_km(36.5, 32.0, r) > 110.5);
/// assert_eq!(zone_index::lower_bound_km(36.5, 33.5, r), 0.0);
/// ```
pub fn lower_bound_km(lon: f64, lat: f64, rect: Rect<f64>) -> f64 {
    Probe::new(lon, lat).bound([rect.min().x, rect.min().y, rect.max().x, rect.max().y])
}

/// Segments per chunk when searching a ring: chunks are bounded first, then their segments.
const CHUNK: usize = 32;

fn bbox_of(pts: &[Coord<f64>]) -> [f64; 4] {
    pts.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |b, c| [b[0].min(c.x), b[1].min(c.y), b[2].max(c.x), b[3].max(c.y)],
    )
}

/// Geodesic distance in km from (lon, lat) to the nearest point of the multipolygon's boundary
/// (every ring), and that point as (lon, lat).
///
/// Branch and bound: runs of segments, then segments, are visited in order of a proven lower
/// bound on their distance (the chord to their box, then the chord to the segment itself), and
/// a geodesic is solved only while a bound is below the best distance found so far.
#[cfg(test)]
fn to_boundary_km(lon: f64, lat: f64, mp: &MultiPolygon<f64>) -> (f64, (f64, f64)) {
    to_boundary_within_km(lon, lat, mp, f64::INFINITY).unwrap_or((f64::INFINITY, (lon, lat)))
}

/// [`to_boundary_km`], when the boundary comes closer than `limit` km; `None` otherwise, found
/// without solving the geodesics a caller that only wants closer zones would throw away.
pub(crate) fn to_boundary_within_km(
    lon: f64,
    lat: f64,
    mp: &MultiPolygon<f64>,
    limit: f64,
) -> Option<(f64, (f64, f64))> {
    let probe = Probe::new(lon, lat);
    let p = Point::new(lon, lat);
    // (bound, ring, first segment) for every chunk of every ring.
    let rings: Vec<&[Coord<f64>]> = mp
        .iter()
        .flat_map(|poly| std::iter::once(poly.exterior()).chain(poly.interiors()))
        .map(|r| r.0.as_slice())
        .filter(|r| !r.is_empty())
        .collect();
    let mut chunks: Vec<(f64, usize, usize)> = Vec::new();
    for (ri, ring) in rings.iter().enumerate() {
        let segments = ring.len().saturating_sub(1).max(1);
        for start in (0..segments).step_by(CHUNK) {
            let end = (start + CHUNK + 1).min(ring.len());
            chunks.push((probe.bound(bbox_of(&ring[start..end])), ri, start));
        }
    }
    chunks.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut best: Option<(f64, (f64, f64))> = None;
    let best_km = |b: &Option<(f64, (f64, f64))>| b.map_or(limit, |(d, _)| d);
    let mut segs: Vec<(f64, Coord<f64>, Coord<f64>)> = Vec::new();
    for (bound, ri, start) in chunks {
        if bound >= best_km(&best) {
            break;
        }
        let ring = rings[ri];
        segs.clear();
        if ring.len() == 1 {
            segs.push((0.0, ring[0], ring[0]));
        }
        for w in ring[start..(start + CHUNK + 1).min(ring.len())].windows(2) {
            segs.push((probe.bound(bbox_of(w)), w[0], w[1]));
        }
        segs.sort_by(|a, b| a.0.total_cmp(&b.0));
        for &(b, a, c) in &segs {
            if b >= best_km(&best) {
                break;
            }
            // The chord to the segment is a tighter bound than the chord to its box, and costs
            // no geodesic.
            let (chord, t) = geodata::geodesy::chord_to_segment_km(probe.ecef, Point(a), Point(c));
            if chord * (1.0 - 1e-9) >= best_km(&best) {
                continue;
            }
            let (d, at) = geodata::geodesy::distance_to_segment_at_km(p, Point(a), Point(c), t);
            if d < best_km(&best) {
                best = Some((d, (at.x(), at.y())));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::coord;

    #[test]
    fn branch_and_bound_finds_the_same_boundary_distance_as_a_scan_of_every_segment() {
        let mut s = 31u64;
        for _ in 0..40 {
            let centre = (
                crate::synthetic::uniform(&mut s, 35.0, 42.0),
                crate::synthetic::uniform(&mut s, 32.0, 37.0),
            );
            let n = 8 + (crate::synthetic::next_u64(&mut s) % 200) as usize;
            let poly = crate::synthetic::star_polygon(&mut s, centre, 0.8, n);
            let mp = MultiPolygon(vec![poly.clone()]);
            for _ in 0..5 {
                let (lon, lat) = (
                    crate::synthetic::uniform(&mut s, 33.0, 44.0),
                    crate::synthetic::uniform(&mut s, 30.0, 39.0),
                );
                let (want, _) =
                    geodata::geodesy::distance_to_line_km(Point::new(lon, lat), poly.exterior());
                let (got, at) = to_boundary_km(lon, lat, &mp);
                assert!((got - want).abs() < 1e-9, "({lon}, {lat}): {got} != {want}");
                let back =
                    geodata::geodesy::distance_km(Point::new(lon, lat), Point::new(at.0, at.1));
                assert!((back - got).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn the_lower_bound_never_exceeds_the_geodesic_distance_to_the_box() {
        let boxes = [
            (36.0, 33.0, 37.0, 34.0),
            (-10.0, -60.0, 50.0, 10.0),
            (170.0, 60.0, 179.9, 89.0),
            (-179.0, -89.0, 179.0, -80.0),
        ];
        let mut seed = 7u64;
        for &(w, s, e, n) in &boxes {
            let r = Rect::new(coord! { x: w, y: s }, coord! { x: e, y: n });
            for _ in 0..300 {
                let (lon, lat) = (
                    crate::synthetic::uniform(&mut seed, -180.0, 180.0),
                    crate::synthetic::uniform(&mut seed, -90.0, 90.0),
                );
                let lb = lower_bound_km(lon, lat, r);
                // Sample the box densely; the bound must be below every sample.
                for i in 0..=20 {
                    for j in 0..=20 {
                        let q = Point::new(
                            w + (e - w) * f64::from(i) / 20.0,
                            s + (n - s) * f64::from(j) / 20.0,
                        );
                        let d = geodata::geodesy::distance_km(Point::new(lon, lat), q);
                        assert!(
                            lb <= d + 1e-9,
                            "box {r:?}, point ({lon}, {lat}): bound {lb} > {d}"
                        );
                    }
                }
            }
        }
    }
}
