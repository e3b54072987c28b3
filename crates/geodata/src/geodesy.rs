//! Geodesic measures on the WGS84 ellipsoid (via geo's `Geodesic`, i.e. Karney's geographiclib):
//! distances from a point to lines, and buffers of points, lines and polygons by a distance in km.
//!
//! Segments between vertices are straight in lon/lat, as every GeoJSON consumer draws them; the
//! buffer follows that drawn line, not the geodesic between its vertices.

use geo::{
    Bearing, Coord, Destination, Distance, Geodesic, LineString, MultiLineString, MultiPolygon,
    Orient, Point, Polygon, Simplify, orient::Direction, unary_union,
};

/// Vertices of a buffer's round ends. 90 keeps the chord within 0.07% of the radius
/// (60 m at 100 km), far inside the 0.5 km the rules promise.
const CIRCLE_SEGMENTS: usize = 90;

/// Geodesic distance in km between two lon/lat points.
///
/// ```
/// use geo::Point;
/// // Damascus to Daraa: about 99 km.
/// let km = geodata::geodesy::distance_km(Point::new(36.2913, 33.5102), Point::new(36.1, 32.617));
/// assert!((km - 100.3).abs() < 1.0, "{km}");
/// ```
pub fn distance_km(a: Point<f64>, b: Point<f64>) -> f64 {
    Geodesic.distance(a, b) / 1000.0
}

/// The point `distance_km` from `origin` on the geodesic leaving it at `bearing_deg` (clockwise
/// from north).
pub fn destination(origin: Point<f64>, bearing_deg: f64, distance_km: f64) -> Point<f64> {
    Geodesic.destination(origin, bearing_deg, distance_km * 1000.0)
}

/// A geodesic circle: `segments` points at exactly `radius_km` from `center`, counter-clockwise.
///
/// ```
/// use geo::Point;
/// let c = Point::new(38.61778, 33.50583);
/// let ring = geodata::geodesy::circle(c, 55.0, 72);
/// for p in ring.exterior().points() {
///     assert!((geodata::geodesy::distance_km(c, p) - 55.0).abs() < 1e-6);
/// }
/// ```
pub fn circle(center: Point<f64>, radius_km: f64, segments: usize) -> Polygon<f64> {
    let step = 360.0 / segments as f64;
    // Bearings run clockwise, so walking them backwards gives a counter-clockwise ring.
    let ring: Vec<Coord<f64>> = (0..segments)
        .map(|i| destination(center, 360.0 - i as f64 * step, radius_km).0)
        .collect();
    Polygon::new(LineString::from(ring), vec![]).orient(Direction::Default)
}

/// The point at fraction `t` of the lon/lat-straight segment `a`-`b`.
fn lerp(a: Point<f64>, b: Point<f64>, t: f64) -> Point<f64> {
    Point::new(a.x() + (b.x() - a.x()) * t, a.y() + (b.y() - a.y()) * t)
}

/// WGS84 semi-major axis, km.
pub const A_KM: f64 = 6378.137;
/// WGS84 first eccentricity squared.
pub const E2: f64 = 0.006_694_379_990_141_317;

/// Earth-centred, Earth-fixed coordinates of a lon/lat point on the WGS84 ellipsoid, km.
pub fn ecef(lon: f64, lat: f64) -> [f64; 3] {
    let (phi, lam) = (lat.to_radians(), lon.to_radians());
    let (sp, cp) = phi.sin_cos();
    let (sl, cl) = lam.sin_cos();
    let n = A_KM / (1.0 - E2 * sp * sp).sqrt();
    [n * cp * cl, n * cp * sl, n * (1.0 - E2) * sp]
}

fn chord2(p: [f64; 3], q: [f64; 3]) -> f64 {
    (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)
}

/// The straight-line (3-D chord) distance in km from the point whose [`ecef`] coordinates are
/// `p` to the nearest point of the lon/lat-straight segment `a`-`b`, and where that point lies
/// on the segment (0 at `a`, 1 at `b`).
///
/// A geodesic is never shorter than the chord between its ends, so this is a proven lower bound
/// on the geodesic distance to the segment, at a small fraction of its cost (no geodesic
/// solved); and because the two distances grow together, its minimum is where the geodesic
/// distance's is, to far under a metre for segments of a few hundred km.
pub fn chord_to_segment_km(p: [f64; 3], a: Point<f64>, b: Point<f64>) -> (f64, f64) {
    if a == b {
        return (chord2(p, ecef(a.x(), a.y())).sqrt(), 0.0);
    }
    newton_on_chord(p, a, b).unwrap_or_else(|| golden_on_chord(p, a, b))
}

/// The point at `t` of the segment in Earth-centred coordinates, and its derivative in `t`.
fn ecef_and_tangent(a: Point<f64>, b: Point<f64>, t: f64) -> ([f64; 3], [f64; 3]) {
    let (dphi, dlam) = ((b.y() - a.y()).to_radians(), (b.x() - a.x()).to_radians());
    let (phi, lam) = (a.y().to_radians() + t * dphi, a.x().to_radians() + t * dlam);
    let (sp, cp) = phi.sin_cos();
    let (sl, cl) = lam.sin_cos();
    let w = 1.0 - E2 * sp * sp;
    let n = A_KM / w.sqrt();
    let dn = n * E2 * sp * cp / w;
    let e = [n * cp * cl, n * cp * sl, n * (1.0 - E2) * sp];
    // d/dphi and d/dlam of the ECEF coordinates, chained with phi and lam linear in t.
    let rho = dn * cp - n * sp;
    let d_phi = [rho * cl, rho * sl, (1.0 - E2) * (dn * sp + n * cp)];
    let d_lam = [-n * cp * sl, n * cp * cl, 0.0];
    let tangent = [
        d_phi[0] * dphi + d_lam[0] * dlam,
        d_phi[1] * dphi + d_lam[1] * dlam,
        d_phi[2] * dphi + d_lam[2] * dlam,
    ];
    (e, tangent)
}

/// Gauss-Newton on the squared chord, from the nearest point of the straight 3-D chord between
/// the ends: the segment's image is nearly straight, so a few steps converge (each costs two
/// sin/cos pairs where the golden-section search took 40; far from a long, curved segment it
/// converges linearly, about a digit a step). `None` when it does not settle.
fn newton_on_chord(p: [f64; 3], a: Point<f64>, b: Point<f64>) -> Option<(f64, f64)> {
    let (ea, eb) = (ecef(a.x(), a.y()), ecef(b.x(), b.y()));
    let ab = [eb[0] - ea[0], eb[1] - ea[1], eb[2] - ea[2]];
    let ab2 = dot(ab, ab);
    if ab2 <= 0.0 || !ab2.is_finite() {
        return None;
    }
    let mut t = (dot([p[0] - ea[0], p[1] - ea[1], p[2] - ea[2]], ab) / ab2).clamp(0.0, 1.0);
    for _ in 0..20 {
        let (e, d) = ecef_and_tangent(a, b, t);
        let r = [e[0] - p[0], e[1] - p[1], e[2] - p[2]];
        let dd = dot(d, d);
        if dd <= 0.0 || !dd.is_finite() {
            return None;
        }
        let next = (t - dot(r, d) / dd).clamp(0.0, 1.0);
        // Settled to 0.1 mm along the segment (|d| is its length in km per unit t): at a minimum
        // the chord is then off by far less than the margin callers subtract.
        if (next - t).abs() * dd.sqrt() < 1e-7 {
            // Converged on an inner minimum or pinned at an end by a slope pointing out.
            let best = [
                (chord2(p, e), t),
                (chord2(p, ea), 0.0),
                (chord2(p, eb), 1.0),
            ]
            .into_iter()
            .min_by(|x, y| x.0.total_cmp(&y.0))?;
            return Some((best.0.sqrt(), best.1));
        }
        t = next;
    }
    None
}

fn dot(u: [f64; 3], v: [f64; 3]) -> f64 {
    u[0] * v[0] + u[1] * v[1] + u[2] * v[2]
}

/// The slow, sure way: golden-section search on the squared chord (the distance along a
/// segment is unimodal), 40 steps narrowing t to 1e-8 of the segment.
fn golden_on_chord(p: [f64; 3], a: Point<f64>, b: Point<f64>) -> (f64, f64) {
    let at = |t: f64| {
        let q = lerp(a, b, t);
        chord2(p, ecef(q.x(), q.y()))
    };
    let phi = 0.618_033_988_749_894_9;
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    let mut x1 = hi - phi * (hi - lo);
    let mut x2 = lo + phi * (hi - lo);
    let (mut f1, mut f2) = (at(x1), at(x2));
    for _ in 0..40 {
        if f1 < f2 {
            hi = x2;
            x2 = x1;
            f2 = f1;
            x1 = hi - phi * (hi - lo);
            f1 = at(x1);
        } else {
            lo = x1;
            x1 = x2;
            f1 = f2;
            x2 = lo + phi * (hi - lo);
            f2 = at(x2);
        }
    }
    // The search never evaluates exactly t = 0 or t = 1: the ends are candidates too.
    let mid = (lo + hi) / 2.0;
    [(at(mid), mid), (at(0.0), 0.0), (at(1.0), 1.0)]
        .into_iter()
        .min_by(|x, y| x.0.total_cmp(&y.0))
        .map_or((f64::INFINITY, 0.0), |(d2, t)| (d2.sqrt(), t))
}

/// Geodesic distance in km from `p` to the lon/lat-straight segment `a`-`b`, and the closest point.
///
/// The closest point is found on the 3-D chord distance ([`chord_to_segment_km`]), then one
/// geodesic is solved there ([`distance_to_segment_at_km`]); the search on geodesics themselves
/// solved 45.
pub fn distance_to_segment_km(p: Point<f64>, a: Point<f64>, b: Point<f64>) -> (f64, Point<f64>) {
    let (_, t) = chord_to_segment_km(ecef(p.x(), p.y()), a, b);
    distance_to_segment_at_km(p, a, b, t)
}

/// The geodesic distance from `p` to the segment `a`-`b` given where on it the chord distance is
/// least (`t` from [`chord_to_segment_km`]): one geodesic at an inner minimum (the distance
/// along the segment is unimodal, so the ends are farther), the nearer end otherwise.
pub fn distance_to_segment_at_km(
    p: Point<f64>,
    a: Point<f64>,
    b: Point<f64>,
    t: f64,
) -> (f64, Point<f64>) {
    if a == b || t <= 0.0 || t >= 1.0 {
        // At an end the chord and the geodesic may disagree on which end is nearer only when
        // both are equally near to far under a metre; ask the geodesics.
        let (da, db) = (distance_km(p, a), distance_km(p, b));
        return if da <= db { (da, a) } else { (db, b) };
    }
    let q = lerp(a, b, t);
    (distance_km(p, q), q)
}

/// Geodesic distance in km from `p` to the nearest point of a line, and that point.
///
/// ```
/// use geo::{LineString, Point};
/// let line = LineString::from(vec![(36.0, 33.0), (36.0, 34.0)]);
/// let (km, at) = geodata::geodesy::distance_to_line_km(Point::new(36.1, 33.5), &line);
/// assert!((km - 9.29).abs() < 0.05, "{km}");
/// assert!((at.y() - 33.5).abs() < 0.01);
/// ```
pub fn distance_to_line_km(p: Point<f64>, line: &LineString<f64>) -> (f64, Point<f64>) {
    let pts: Vec<Point<f64>> = line.points().collect();
    let Some(&first) = pts.first() else {
        return (f64::INFINITY, p);
    };
    if pts.len() == 1 {
        return (distance_km(p, first), first);
    }
    let to_vertex: Vec<f64> = pts.iter().map(|&v| distance_km(p, v)).collect();
    let mut best = (f64::INFINITY, first);
    for i in 0..pts.len() - 1 {
        // No point of the segment is closer than (distance to an end - segment length).
        let seg_len = distance_km(pts[i], pts[i + 1]);
        let lower = to_vertex[i].min(to_vertex[i + 1]) - seg_len;
        if lower >= best.0 {
            continue;
        }
        let d = distance_to_segment_km(p, pts[i], pts[i + 1]);
        if d.0 < best.0 {
            best = d;
        }
    }
    best
}

/// Splits every segment of a line so that no piece is longer than `max_km` (lon/lat-straight).
fn densify(line: &LineString<f64>, max_km: f64) -> Vec<Point<f64>> {
    let pts: Vec<Point<f64>> = line.points().collect();
    let mut out = Vec::with_capacity(pts.len());
    for w in pts.windows(2) {
        let n = (distance_km(w[0], w[1]) / max_km).ceil().max(1.0) as usize;
        for i in 0..n {
            out.push(lerp(w[0], w[1], i as f64 / n as f64));
        }
    }
    if let Some(&last) = pts.last() {
        out.push(last);
    }
    out
}

/// Every point within `distance_km` of a point: a geodesic circle.
pub fn buffer_point(p: Point<f64>, distance_km: f64) -> MultiPolygon<f64> {
    MultiPolygon(vec![circle(p, distance_km, CIRCLE_SEGMENTS)])
}

/// Points `distance_km` from `center` at bearings from `from_deg` to `to_deg` (inclusive),
/// stepping at most [`ARC_STEP_DEG`]; `to_deg` may be below `from_deg` (counter-clockwise sweep).
fn arc(center: Point<f64>, from_deg: f64, to_deg: f64, distance_km: f64) -> Vec<Coord<f64>> {
    let n = ((to_deg - from_deg).abs() / ARC_STEP_DEG).ceil().max(1.0) as usize;
    (0..=n)
        .map(|i| {
            let b = from_deg + (to_deg - from_deg) * i as f64 / n as f64;
            destination(center, b, distance_km).0
        })
        .collect()
}

/// Sets an arc's first and last points to exactly the given coordinates (those of the
/// neighbouring quads), which the arc computes only up to rounding.
fn pin_ends(arc: &mut [Coord<f64>], first: Coord<f64>, last: Coord<f64>) {
    if let Some(f) = arc.first_mut() {
        *f = first;
    }
    if let Some(l) = arc.last_mut() {
        *l = last;
    }
}

/// Largest angle between neighbouring points of a round join or end (as in [`circle`]).
const ARC_STEP_DEG: f64 = 360.0 / CIRCLE_SEGMENTS as f64;

/// Every point within `distance_km` (geodesic) of the lines.
///
/// The classic round-join decomposition, built from geodesic normals: along each segment,
/// quadrilaterals swept by normals of length `distance_km` (segments cut into pieces of at most
/// 5 km so the quads' straight sides follow the offset curve; neighbouring pieces share one
/// normal, so they meet edge to edge); at each vertex, a pie slice filling the wedge on the
/// outer side of the turn; at each end, a half disc. Their union is the buffer. The pieces barely
/// overlap, which keeps the union fast even for buffers a hundred times wider than the segments.
pub fn buffer_lines(lines: &MultiLineString<f64>, distance_km: f64) -> MultiPolygon<f64> {
    const MAX_PIECE_KM: f64 = 5.0;
    // The buffer of a line simplified within t km lies within t km of the buffer of the line
    // itself, so a wide buffer can drop vertices no one would see. 0.2 km keeps well inside the
    // 0.5 km the rules promise.
    let tolerance_km = (distance_km * 0.02).min(0.2);
    // A degree of latitude is the longest degree here, so this tolerance is conservative in km.
    let tolerance_deg = tolerance_km / 111.32;
    let mut pieces: Vec<Polygon<f64>> = Vec::new();
    let mut push = |ring: Vec<Coord<f64>>| {
        pieces.push(Polygon::new(LineString::from(ring), vec![]).orient(Direction::Default));
    };
    for line in lines {
        let mut vertices: Vec<Point<f64>> = line.simplify(tolerance_deg).points().collect();
        vertices.dedup();
        match vertices.as_slice() {
            [] => continue,
            [p] => {
                push(
                    circle(*p, distance_km, CIRCLE_SEGMENTS)
                        .exterior()
                        .0
                        .clone(),
                );
                continue;
            }
            _ => {}
        }
        // Azimuth leaving each vertex along the next segment, and arriving along the previous.
        let mut az_out = Vec::new();
        let mut az_in = Vec::new();
        // Each segment's offset points at its start and its end, (left, right): the joins and
        // caps reuse these exact coordinates so the pieces share edges with no sliver between.
        let mut starts: Vec<(Coord<f64>, Coord<f64>)> = Vec::new();
        let mut ends: Vec<(Coord<f64>, Coord<f64>)> = Vec::new();
        for w in vertices.windows(2) {
            let (a, b) = (w[0], w[1]);
            let pts = densify(&LineString::from(vec![a, b]), MAX_PIECE_KM);
            // One azimuth per point along the segment, shared by the two pieces that meet there.
            let azimuths: Vec<f64> = pts
                .iter()
                .enumerate()
                .map(|(i, &p)| {
                    if i + 1 < pts.len() {
                        Geodesic.bearing(p, pts[i + 1])
                    } else {
                        Geodesic.bearing(p, pts[i - 1]) + 180.0
                    }
                })
                .collect();
            az_out.push(azimuths[0]);
            az_in.push(azimuths[azimuths.len() - 1]);
            let side = |sign: f64| -> Vec<Coord<f64>> {
                pts.iter()
                    .zip(&azimuths)
                    .map(|(&p, az)| destination(p, az + sign * 90.0, distance_km).0)
                    .collect()
            };
            let (left, right) = (side(-1.0), side(1.0));
            starts.push((left[0], right[0]));
            ends.push((left[left.len() - 1], right[right.len() - 1]));
            // Each piece runs through the two points on the line: the straight chord between the
            // two normals' ends misses the line by metres, and the joins meet the line exactly.
            for i in 0..pts.len() - 1 {
                push(vec![
                    left[i],
                    left[i + 1],
                    pts[i + 1].0,
                    right[i + 1],
                    right[i],
                    pts[i].0,
                    left[i],
                ]);
            }
        }
        let last = vertices.len() - 1;
        // Start cap: from the right normal, round behind the start, to the left normal.
        let mut cap = arc(
            vertices[0],
            az_out[0] + 90.0,
            az_out[0] + 270.0,
            distance_km,
        );
        pin_ends(&mut cap, starts[0].1, starts[0].0);
        cap.push(vertices[0].0);
        cap.push(cap[0]);
        push(cap);
        // End cap: from the left normal, round ahead of the end, to the right normal.
        let end_az = az_in[last - 1];
        let mut cap = arc(vertices[last], end_az - 90.0, end_az + 90.0, distance_km);
        pin_ends(&mut cap, ends[last - 1].0, ends[last - 1].1);
        cap.push(vertices[last].0);
        cap.push(cap[0]);
        push(cap);
        // Joins: the wedge between the two normals on the outer side of each turn.
        for i in 1..last {
            let (a_in, a_out) = (az_in[i - 1], az_out[i]);
            let turn = (a_out - a_in + 540.0).rem_euclid(360.0) - 180.0;
            if turn.abs() < 1e-9 {
                continue;
            }
            // Turning right (clockwise) opens the left side, and the other way round.
            let (from, to, first, last_pt) = if turn > 0.0 {
                (a_in - 90.0, a_in - 90.0 + turn, ends[i - 1].0, starts[i].0)
            } else {
                (a_in + 90.0, a_in + 90.0 + turn, ends[i - 1].1, starts[i].1)
            };
            let mut wedge = arc(vertices[i], from, to, distance_km);
            pin_ends(&mut wedge, first, last_pt);
            let mut slice = vec![vertices[i].0];
            slice.extend(wedge);
            slice.push(vertices[i].0);
            push(slice);
        }
    }
    unary_union(&pieces)
}

/// Every point within `distance_km` of the polygons: the polygons themselves and a buffer of
/// their rings.
pub fn buffer_polygons(polys: &MultiPolygon<f64>, distance_km: f64) -> MultiPolygon<f64> {
    let rings = MultiLineString(
        polys
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .cloned()
            .collect(),
    );
    let ring_buffer = buffer_lines(&rings, distance_km);
    let mut all: Vec<Polygon<f64>> = polys.0.clone();
    all.extend(ring_buffer.0);
    let all: Vec<Polygon<f64>> = all
        .into_iter()
        .map(|p| p.orient(Direction::Default))
        .collect();
    unary_union(&all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_buffer_boundary_lies_at_the_buffer_distance() {
        let line = MultiLineString(vec![LineString::from(vec![
            (35.8, 32.8),
            (35.85, 33.0),
            (35.82, 33.3),
        ])]);
        for d in [5.0, 40.0] {
            let buf = buffer_lines(&line, d);
            assert_eq!(buf.0.len(), 1);
            for p in buf.0[0].exterior().points() {
                let (km, _) = distance_to_line_km(p, &line.0[0]);
                assert!((km - d).abs() < 0.1, "vertex {p:?} at {km} km, want {d}");
            }
        }
    }

    /// The closest point searched on geodesics themselves (45 of them per segment): what
    /// `distance_to_segment_km` did before it searched on chords.
    fn golden_on_geodesics(p: Point<f64>, a: Point<f64>, b: Point<f64>) -> f64 {
        let f = |t: f64| distance_km(p, lerp(a, b, t));
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..200 {
            let (m1, m2) = (lo + (hi - lo) / 3.0, hi - (hi - lo) / 3.0);
            if f(m1) < f(m2) {
                hi = m2;
            } else {
                lo = m1;
            }
        }
        f((lo + hi) / 2.0).min(f(0.0)).min(f(1.0))
    }

    #[test]
    fn the_chord_search_finds_the_geodesic_minimum_and_bounds_it_from_below() {
        let mut seed = 0x5eed_u64;
        let mut next = |lo: f64, hi: f64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            lo + (hi - lo) * (seed % 1_000_000) as f64 / 1_000_000.0
        };
        for _ in 0..400 {
            // Segments up to ~4 degrees long, points up to ~6 degrees away, anywhere from the
            // equator to 80 degrees north: the shapes the data and the queries have.
            let (lon, lat) = (next(-170.0, 170.0), next(-5.0, 75.0));
            let a = Point::new(lon + next(-2.0, 2.0), lat + next(-2.0, 2.0));
            let b = Point::new(lon + next(-2.0, 2.0), lat + next(-2.0, 2.0));
            let p = Point::new(lon + next(-3.0, 3.0), lat + next(-3.0, 3.0));
            let want = golden_on_geodesics(p, a, b);
            let (got, at) = distance_to_segment_km(p, a, b);
            assert!(
                (got - want).abs() < 1e-5,
                "{p:?} to {a:?}-{b:?}: {got} km, the search on geodesics gives {want} km"
            );
            assert!((distance_km(p, at) - got).abs() < 1e-9);
            let (chord, t) = chord_to_segment_km(ecef(p.x(), p.y()), a, b);
            assert!(chord <= got + 1e-9, "chord {chord} > geodesic {got}");
            // Newton's answer is the golden-section search's, to a micrometre.
            let (sure, sure_t) = golden_on_chord(ecef(p.x(), p.y()), a, b);
            assert!(chord <= sure + 1e-9, "{chord} > {sure} at t {t} / {sure_t}");
            assert!(newton_on_chord(ecef(p.x(), p.y()), a, b).is_some());
        }
    }

    #[test]
    fn the_closest_point_on_a_segment_may_be_inside_it() {
        let (km, at) = distance_to_segment_km(
            Point::new(1.0, 0.5),
            Point::new(0.0, 0.0),
            Point::new(0.0, 1.0),
        );
        assert!((at.y() - 0.5).abs() < 1e-3, "{at:?}");
        assert!((km - 111.3).abs() < 0.2, "{km}");
    }
}
