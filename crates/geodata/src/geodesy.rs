//! Geodesic measures on the WGS84 ellipsoid (via geo's `Geodesic`, i.e. Karney's geographiclib):
//! distances from a point to lines, and buffers of points, lines and polygons by a distance in km.
//!
//! Segments between vertices are straight in lon/lat, as every GeoJSON consumer draws them; the
//! buffer follows that drawn line, not the geodesic between its vertices.

use geo::{
    Bearing, Coord, Destination, Distance, Geodesic, LineString, MultiLineString, MultiPolygon,
    Orient, Point, Polygon, orient::Direction, unary_union,
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

/// Geodesic distance in km from `p` to the lon/lat-straight segment `a`-`b`, and the closest point.
///
/// The distance along a short segment is unimodal, so a golden-section search finds its minimum
/// to well under a metre in 40 steps.
pub fn distance_to_segment_km(p: Point<f64>, a: Point<f64>, b: Point<f64>) -> (f64, Point<f64>) {
    if a == b {
        return (distance_km(p, a), a);
    }
    let phi = 0.618_033_988_749_894_9;
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    let mut x1 = hi - phi * (hi - lo);
    let mut x2 = lo + phi * (hi - lo);
    let mut f1 = distance_km(p, lerp(a, b, x1));
    let mut f2 = distance_km(p, lerp(a, b, x2));
    for _ in 0..40 {
        if f1 < f2 {
            hi = x2;
            x2 = x1;
            f2 = f1;
            x1 = hi - phi * (hi - lo);
            f1 = distance_km(p, lerp(a, b, x1));
        } else {
            lo = x1;
            x1 = x2;
            f1 = f2;
            x2 = lo + phi * (hi - lo);
            f2 = distance_km(p, lerp(a, b, x2));
        }
    }
    // The ends are candidates too: the search never evaluates exactly t = 0 or t = 1.
    let mid = lerp(a, b, (lo + hi) / 2.0);
    [
        (distance_km(p, mid), mid),
        (distance_km(p, a), a),
        (distance_km(p, b), b),
    ]
    .into_iter()
    .min_by(|x, y| x.0.total_cmp(&y.0))
    .unwrap_or((f64::INFINITY, a))
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

/// Every point within `distance_km` (geodesic) of the lines.
///
/// The union of a circle around each vertex of the densified line and, for each piece, the
/// quadrilateral swept by its two geodesic normals: its boundary is the offset curve with round
/// joins and ends. Pieces are at most a quarter of the distance long (and at most 2 km), so the
/// boundary stays within metres of the true geodesic distance.
pub fn buffer_lines(lines: &MultiLineString<f64>, distance_km: f64) -> MultiPolygon<f64> {
    let step = (distance_km / 4.0).clamp(0.25, 2.0);
    let mut pieces: Vec<Polygon<f64>> = Vec::new();
    for line in lines {
        let pts = densify(line, step);
        for &p in &pts {
            pieces.push(circle(p, distance_km, CIRCLE_SEGMENTS));
        }
        for w in pts.windows(2) {
            let (a, b) = (w[0], w[1]);
            if a == b {
                continue;
            }
            let az_a = Geodesic.bearing(a, b);
            // Forward azimuth on arrival at b is the back-bearing from b, turned round.
            let az_b = Geodesic.bearing(b, a) + 180.0;
            let quad = vec![
                destination(a, az_a - 90.0, distance_km).0,
                destination(b, az_b - 90.0, distance_km).0,
                destination(b, az_b + 90.0, distance_km).0,
                destination(a, az_a + 90.0, distance_km).0,
            ];
            pieces.push(Polygon::new(LineString::from(quad), vec![]).orient(Direction::Default));
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
    let all: Vec<Polygon<f64>> = all.into_iter().map(|p| p.orient(Direction::Default)).collect();
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

    #[test]
    fn the_closest_point_on_a_segment_may_be_inside_it() {
        let (km, at) =
            distance_to_segment_km(Point::new(1.0, 0.5), Point::new(0.0, 0.0), Point::new(0.0, 1.0));
        assert!((at.y() - 0.5).abs() < 1e-3, "{at:?}");
        assert!((km - 111.3).abs() < 0.2, "{km}");
    }
}
