//! Rule-derived zones: resolve the features a rule names, compute its geometry (geodesic buffer,
//! split by a line, clip, subtract), and record problems in the rule's own words.

use std::collections::HashMap;

use geo::{
    BooleanOps, BoundingRect, Coord, LineString, MultiLineString, MultiPolygon, Point, Polygon,
};

use crate::geodesy;
use crate::load::{ParsedZone, normalize_polygons};
use crate::model::{FeatureId, GeometryKind, Location, ReferenceLayer, Rule, Side, Zone};
use crate::problem::{FeatureRef, Problem, ProblemKind};

/// Where an id points.
#[derive(Clone, Copy)]
enum Target {
    Zone(usize),
    Location(usize),
    Reference(usize, usize),
}

/// Geometry as a rule uses it.
enum Shape {
    Points(Point<f64>),
    Lines(MultiLineString<f64>),
    Polygons(MultiPolygon<f64>),
}

#[derive(Clone)]
enum State {
    Pending,
    InProgress,
    Done(Option<MultiPolygon<f64>>),
}

struct Resolver<'a> {
    file: &'a str,
    zones: &'a [ParsedZone],
    zone_index: &'a [usize],
    locations: &'a [Location],
    reference: &'a [ReferenceLayer],
    names: HashMap<&'a str, Vec<(String, Target)>>,
    state: Vec<State>,
    stack: Vec<usize>,
    problems: &'a mut Vec<Problem>,
}

/// Turns parsed zones into [`Zone`]s, computing the geometry of every rule zone. Problems go to
/// `problems` against `file` and the zone's index in it (`zone_index`).
pub(crate) fn derive_zones(
    file: &str,
    zones: Vec<ParsedZone>,
    zone_index: &[usize],
    locations: &[Location],
    reference: &[ReferenceLayer],
    problems: &mut Vec<Problem>,
) -> Vec<Zone> {
    let mut names: HashMap<&str, Vec<(String, Target)>> = HashMap::new();
    for (i, (meta, _)) in zones.iter().enumerate() {
        names
            .entry(meta.id.as_str())
            .or_default()
            .push(("zones".into(), Target::Zone(i)));
    }
    for (i, l) in locations.iter().enumerate() {
        names
            .entry(l.meta.id.as_str())
            .or_default()
            .push(("locations".into(), Target::Location(i)));
    }
    for (li, layer) in reference.iter().enumerate() {
        for (fi, f) in layer.features.iter().enumerate() {
            names.entry(f.meta.id.as_str()).or_default().push((
                format!("reference/{}", layer.name),
                Target::Reference(li, fi),
            ));
        }
    }
    let mut r = Resolver {
        file,
        zones: &zones,
        zone_index,
        locations,
        reference,
        names,
        state: vec![State::Pending; zones.len()],
        stack: Vec::new(),
        problems,
    };
    // Only rule zones are derived; drawn zones keep their geometry (moved, not copied: an edit
    // of a large data set derives its rules again, and copies of every drawn zone cost more
    // than the rest of the edit).
    let derived: Vec<Option<MultiPolygon<f64>>> = (0..zones.len())
        .map(|i| {
            if zones[i].1.geometry.is_some() {
                None
            } else {
                r.zone_geometry(i)
            }
        })
        .collect();
    zones
        .into_iter()
        .zip(derived)
        .filter_map(|((meta, rest), derived)| {
            Some(Zone {
                meta,
                actor: rest.actor,
                kind: rest.kind,
                period: rest.period,
                geometry: rest.geometry.or(derived)?,
                rule: rest.rule,
            })
        })
        .collect()
}

impl Resolver<'_> {
    fn problem(&mut self, zone: usize, field: &str, kind: ProblemKind) {
        self.problems.push(Problem {
            file: self.file.to_owned(),
            feature: Some(FeatureRef {
                index: self.zone_index[zone],
                id: Some(self.zones[zone].0.id.to_string()),
            }),
            field: Some(field.to_owned()),
            kind,
        });
    }

    fn zone_geometry(&mut self, i: usize) -> Option<MultiPolygon<f64>> {
        match &self.state[i] {
            State::Done(g) => return g.clone(),
            State::InProgress => {
                let start = self.stack.iter().position(|&z| z == i).unwrap_or(0);
                let mut chain: Vec<String> = self.stack[start..]
                    .iter()
                    .map(|&z| self.zones[z].0.id.to_string())
                    .collect();
                chain.push(self.zones[i].0.id.to_string());
                self.problem(i, "rule", ProblemKind::RuleCycle { chain });
                return None;
            }
            State::Pending => {}
        }
        let result = match (&self.zones[i].1.geometry, &self.zones[i].1.rule) {
            (Some(g), _) => Some(g.clone()),
            (None, Some(rule)) => {
                let rule = rule.clone();
                self.state[i] = State::InProgress;
                self.stack.push(i);
                let g = self.apply(i, &rule);
                self.stack.pop();
                g
            }
            (None, None) => None,
        };
        self.state[i] = State::Done(result.clone());
        result
    }

    fn resolve(&mut self, zone: usize, field: &str, id: &FeatureId) -> Option<Shape> {
        let found = self.names.get(id.as_str()).cloned().unwrap_or_default();
        let target = match found.as_slice() {
            [] => {
                self.problem(
                    zone,
                    field,
                    ProblemKind::RuleMissingFeature { id: id.to_string() },
                );
                return None;
            }
            [(_, t)] => *t,
            many => {
                let layers = many.iter().map(|(l, _)| l.clone()).collect();
                self.problem(
                    zone,
                    field,
                    ProblemKind::RuleAmbiguousFeature {
                        id: id.to_string(),
                        layers,
                    },
                );
                return None;
            }
        };
        match target {
            Target::Zone(z) => self.zone_geometry(z).map(Shape::Polygons),
            Target::Location(l) => Some(Shape::Points(self.locations[l].point)),
            Target::Reference(li, fi) => {
                let layer = &self.reference[li];
                let g = &layer.features[fi].geometry;
                Some(match (layer.kind, g) {
                    (GeometryKind::Polygon, geo::Geometry::MultiPolygon(mp)) => {
                        Shape::Polygons(mp.clone())
                    }
                    (GeometryKind::Line, geo::Geometry::MultiLineString(ml)) => {
                        Shape::Lines(ml.clone())
                    }
                    (_, geo::Geometry::Point(p)) => Shape::Points(*p),
                    _ => return None,
                })
            }
        }
    }

    fn polygons(&mut self, zone: usize, field: &str, id: &FeatureId) -> Option<MultiPolygon<f64>> {
        match self.resolve(zone, field, id)? {
            Shape::Polygons(p) => Some(p),
            _ => {
                self.problem(
                    zone,
                    field,
                    ProblemKind::RuleWrongGeometry {
                        id: id.to_string(),
                        expected: "a polygon (a zone or a polygon reference feature)",
                    },
                );
                None
            }
        }
    }

    fn apply(&mut self, zone: usize, rule: &Rule) -> Option<MultiPolygon<f64>> {
        let (base, minus) = match rule {
            Rule::Buffer {
                of,
                distance_km,
                clip_to,
                minus,
            } => {
                let source = self.resolve(zone, "rule.of", of);
                let clip = clip_to
                    .as_ref()
                    .map(|c| self.polygons(zone, "rule.clip_to", c));
                let mut g = match source? {
                    Shape::Points(p) => geodesy::buffer_point(p, *distance_km),
                    Shape::Lines(l) => geodesy::buffer_lines(&l, *distance_km),
                    Shape::Polygons(p) => geodesy::buffer_polygons(&p, *distance_km),
                };
                if let Some(clip) = clip {
                    g = g.intersection(&clip?);
                }
                (g, minus)
            }
            Rule::Split {
                area,
                by,
                side,
                minus,
            } => {
                let area_g = self.polygons(zone, "rule.area", area);
                let line = match self.resolve(zone, "rule.by", by) {
                    Some(Shape::Lines(l)) if l.0.len() == 1 => Some(l.0[0].clone()),
                    Some(_) => {
                        self.problem(
                            zone,
                            "rule.by",
                            ProblemKind::RuleWrongGeometry {
                                id: by.to_string(),
                                expected: "a single line (one LineString)",
                            },
                        );
                        None
                    }
                    None => None,
                };
                (split(&area_g?, &line?, *side), minus)
            }
        };
        let mut g = base;
        for (i, m) in minus.iter().enumerate() {
            if let Some(m) = self.polygons(zone, &format!("rule.minus[{i}]"), m) {
                g = g.difference(&m);
            } else {
                return None;
            }
        }
        let g = normalize_polygons(&drop_slivers(g));
        if g.0.is_empty() {
            self.problem(
                zone,
                "rule",
                ProblemKind::RuleFailed {
                    reason: "the result is empty (does the area reach the clip or the line?)"
                        .into(),
                },
            );
            return None;
        }
        Some(g)
    }
}

/// Parts and holes smaller than this (in square degrees, about 1 ha at these latitudes) are
/// dropped from rule results: boolean operations between sources that do not share every
/// vertex (two Natural Earth editions, say) leave zero-width slivers no one drew.
pub const SLIVER_DEG2: f64 = 1e-6;

fn drop_slivers(mp: MultiPolygon<f64>) -> MultiPolygon<f64> {
    use geo::Area;
    MultiPolygon(
        mp.0.into_iter()
            .filter(|p| p.unsigned_area() >= SLIVER_DEG2)
            .map(|p| {
                let (ext, holes) = p.into_inner();
                let holes = holes
                    .into_iter()
                    .filter(|h| Polygon::new(h.clone(), vec![]).unsigned_area() >= SLIVER_DEG2)
                    .collect();
                Polygon::new(ext, holes)
            })
            .collect(),
    )
}

/// The part of `area` on `side` of `line`, the line's ends extended straight out past the area.
///
/// ```
/// use geo::{polygon, LineString, Area};
/// use geodata::Side;
/// let square = geo::MultiPolygon(vec![polygon![(x: 0., y: 0.), (x: 4., y: 0.), (x: 4., y: 4.), (x: 0., y: 4.)]]);
/// // A line drawn northwards up the middle: its left is the west half.
/// let line = LineString::from(vec![(2., 1.), (2., 3.)]);
/// let west = geodata::split(&square, &line, Side::Left);
/// assert!((west.unsigned_area() - 8.0).abs() < 1e-9);
/// assert!(west.0[0].exterior().points().all(|p| p.x() <= 2.0));
/// ```
pub fn split(area: &MultiPolygon<f64>, line: &LineString<f64>, side: Side) -> MultiPolygon<f64> {
    let (Some(a), Some(l)) = (area.bounding_rect(), line.bounding_rect()) else {
        return MultiPolygon(vec![]);
    };
    let margin = 1.0;
    let min = Coord {
        x: a.min().x.min(l.min().x) - margin,
        y: a.min().y.min(l.min().y) - margin,
    };
    let max = Coord {
        x: a.max().x.max(l.max().x) + margin,
        y: a.max().y.max(l.max().y) + margin,
    };
    let pts = &line.0;
    if pts.len() < 2 {
        return MultiPolygon(vec![]);
    }
    let start = ray_to_box(pts[0], pts[0] - pts[1], min, max);
    let end = ray_to_box(
        pts[pts.len() - 1],
        pts[pts.len() - 1] - pts[pts.len() - 2],
        min,
        max,
    );
    let mut ring: Vec<Coord<f64>> = Vec::with_capacity(pts.len() + 8);
    ring.push(start);
    ring.extend_from_slice(pts);
    ring.push(end);
    // Walking the box counter-clockwise from the end back to the start closes the region on the
    // line's left; clockwise closes the one on its right.
    let (t_end, t_start) = (perimeter_t(end, min, max), perimeter_t(start, min, max));
    let corners = [
        Coord { x: max.x, y: min.y },
        Coord { x: max.x, y: max.y },
        Coord { x: min.x, y: max.y },
        Coord { x: min.x, y: min.y },
    ];
    match side {
        Side::Left => {
            let mut t = t_end;
            let stop = if t_start > t_end {
                t_start
            } else {
                t_start + 4.0
            };
            loop {
                let next_corner = t.floor() + 1.0;
                if next_corner >= stop {
                    break;
                }
                ring.push(corners[(next_corner as usize - 1) % 4]);
                t = next_corner;
            }
        }
        Side::Right => {
            let mut t = t_end;
            let stop = if t_start < t_end {
                t_start
            } else {
                t_start - 4.0
            };
            loop {
                let prev_corner = if t.fract() == 0.0 { t - 1.0 } else { t.floor() };
                if prev_corner <= stop {
                    break;
                }
                // Corner k (perimeter value k) is corners[k - 1] for k in 1..=4, and 0 == 4.
                ring.push(corners[((prev_corner.rem_euclid(4.0) as usize) + 3) % 4]);
                t = prev_corner;
            }
        }
    }
    ring.push(start);
    let half = Polygon::new(LineString::from(ring), vec![]);
    area.intersection(&MultiPolygon(vec![half]))
}

/// Where the ray from `p` in direction `d` leaves the box.
fn ray_to_box(p: Coord<f64>, d: Coord<f64>, min: Coord<f64>, max: Coord<f64>) -> Coord<f64> {
    let mut t = f64::INFINITY;
    if d.x > 0.0 {
        t = t.min((max.x - p.x) / d.x);
    } else if d.x < 0.0 {
        t = t.min((min.x - p.x) / d.x);
    }
    if d.y > 0.0 {
        t = t.min((max.y - p.y) / d.y);
    } else if d.y < 0.0 {
        t = t.min((min.y - p.y) / d.y);
    }
    if !t.is_finite() {
        return p;
    }
    Coord {
        x: (p.x + d.x * t).clamp(min.x, max.x),
        y: (p.y + d.y * t).clamp(min.y, max.y),
    }
}

/// Position of a point on the box boundary, counter-clockwise from the south-west corner:
/// south edge 0..1, east edge 1..2, north edge 2..3, west edge 3..4.
fn perimeter_t(c: Coord<f64>, min: Coord<f64>, max: Coord<f64>) -> f64 {
    let w = max.x - min.x;
    let h = max.y - min.y;
    let eps = 1e-9;
    if (c.y - min.y).abs() < eps && c.x < max.x {
        (c.x - min.x) / w
    } else if (c.x - max.x).abs() < eps && c.y < max.y {
        1.0 + (c.y - min.y) / h
    } else if (c.y - max.y).abs() < eps && c.x > min.x {
        2.0 + (max.x - c.x) / w
    } else {
        3.0 + (max.y - c.y) / h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, polygon};

    fn square() -> MultiPolygon<f64> {
        MultiPolygon(vec![
            polygon![(x: 0., y: 0.), (x: 4., y: 0.), (x: 4., y: 4.), (x: 0., y: 4.)],
        ])
    }

    #[test]
    fn the_two_sides_of_a_split_make_up_the_area() {
        // A bent line that enters from the south and leaves through the east.
        let line = LineString::from(vec![(1., 0.5), (1.5, 2.0), (3.5, 3.0)]);
        let left = split(&square(), &line, Side::Left);
        let right = split(&square(), &line, Side::Right);
        let total = left.unsigned_area() + right.unsigned_area();
        assert!((total - 16.0).abs() < 1e-6, "{total}");
        assert!(left.unsigned_area() > 1.0 && right.unsigned_area() > 1.0);
        // The north-west corner is on the left of a line heading north then east.
        use geo::Contains;
        assert!(left.contains(&Point::new(0.5, 3.5)));
        assert!(right.contains(&Point::new(3.5, 0.5)));
    }

    #[test]
    fn a_line_drawn_the_other_way_swaps_the_sides() {
        let line = LineString::from(vec![(2., 3.), (2., 1.)]);
        let left = split(&square(), &line, Side::Left);
        use geo::Contains;
        assert!(left.contains(&Point::new(3.0, 2.0)));
    }
}
