//! Rule-derived zones: resolve the features a rule names, compute its geometry (geodesic buffer,
//! split by a line, clip, subtract), and record problems in the rule's own words.

use foldhash::{HashMap, HashMapExt as _};
use std::borrow::Cow;
use std::sync::Arc;

use geo::{
    BooleanOps, BoundingRect, Coord, LineString, MultiLineString, MultiPolygon, Point, Polygon,
};

use crate::Date;
use crate::geodesy;
use crate::load::{ParsedZone, normalize_polygons};
use crate::model::{
    DerivedFrom, FeatureId, GeometryKind, Location, Period, ReferenceLayer, Rule, Side, Zone,
    ZoneKind,
};
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
    Done(Option<Arc<MultiPolygon<f64>>>),
}

struct Resolver<'a> {
    file: &'a str,
    zones: &'a [ParsedZone],
    zone_index: &'a [usize],
    locations: &'a [Location],
    reference: &'a [ReferenceLayer],
    names: HashMap<&'a str, Vec<(Cow<'a, str>, Target)>>,
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
    let mut names: HashMap<&str, Vec<(Cow<'_, str>, Target)>> = HashMap::new();
    // Only rules look features up by name: a set without them (a large hand-drawn one) does
    // not pay for a map of all its ids.
    let rules = zones.iter().any(|(_, rest)| rest.rule.is_some());
    for (i, (meta, _)) in zones.iter().enumerate().filter(|_| rules) {
        names
            .entry(meta.id.as_str())
            .or_default()
            .push((Cow::Borrowed("zones"), Target::Zone(i)));
    }
    for (i, l) in locations.iter().enumerate().filter(|_| rules) {
        names
            .entry(l.meta.id.as_str())
            .or_default()
            .push((Cow::Borrowed("locations"), Target::Location(i)));
    }
    for (li, layer) in reference.iter().enumerate().filter(|_| rules) {
        for (fi, f) in layer.features.iter().enumerate() {
            names.entry(f.meta.id.as_str()).or_default().push((
                Cow::Owned(format!("reference/{}", layer.name)),
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
    let geometries: Vec<Option<Arc<MultiPolygon<f64>>>> =
        (0..zones.len()).map(|i| r.zone_geometry(i)).collect();
    let mut out: Vec<Zone> = Vec::with_capacity(zones.len());
    let mut remainders = Vec::new();
    for (i, ((meta, rest), geometry)) in zones.iter().zip(geometries).enumerate() {
        if let Some(Rule::Remainder { area }) = &rest.rule {
            remainders.push((i, area.clone()));
            continue;
        }
        if let Some(geometry) = geometry {
            out.push(Zone {
                meta: meta.clone(),
                actor: rest.actor.clone(),
                kind: rest.kind,
                period: rest.period,
                geometry,
                rule: rest.rule.clone(),
                derived_from: None,
            });
        }
    }
    // Remainder rules read every other zone of their days, so they are derived once the others
    // are; their parts go where the file has the rule, so layer order stays the file's.
    let mut parts_at: Vec<(usize, Vec<Zone>)> = Vec::new();
    for (i, area) in remainders {
        let area_g = r.polygons(i, "rule.area", &area);
        let parts = area_g.map_or_else(Vec::new, |a| remainder_parts(&mut r, i, &a, &out));
        parts_at.push((i, parts));
    }
    for (i, parts) in parts_at.into_iter().rev() {
        // Position among the kept zones: the number of non-remainder zones before file index i.
        let at = out
            .iter()
            .position(|z| r.file_position(z.meta.id.as_str()) > i)
            .unwrap_or(out.len());
        out.splice(at..at, parts);
    }
    out
}

/// The zones of a data set as the data file has them: each date-aware rule once, with the id and
/// period written in the file, instead of once per derived period.
pub(crate) fn file_zones(zones: &[Zone]) -> Vec<Zone> {
    let mut out: Vec<Zone> = Vec::with_capacity(zones.len());
    for z in zones {
        if let Some(d) = &z.derived_from
            && out.iter().any(|o| o.meta.id == d.id)
        {
            continue;
        }
        out.push(file_zone(z).into_owned());
    }
    out
}

/// A zone as the data file has it: a derived period as its date-aware rule zone, with the id
/// and period written in the file; any other zone as it is.
pub(crate) fn file_zone(z: &Zone) -> Cow<'_, Zone> {
    let Some(d) = &z.derived_from else {
        return Cow::Borrowed(z);
    };
    let mut whole = z.clone();
    Arc::make_mut(&mut whole.meta).id = d.id.clone();
    whole.period = d.period;
    whole.derived_from = None;
    Cow::Owned(whole)
}

/// One zone per period between changes of the zones a remainder rule subtracts: `area` minus
/// every control zone of another actor valid in that period, inside the rule zone's own period.
fn remainder_parts(
    r: &mut Resolver<'_>,
    i: usize,
    area: &MultiPolygon<f64>,
    others: &[Zone],
) -> Vec<Zone> {
    let (meta, rest) = &r.zones[i];
    let subtracted: Vec<&Zone> = others
        .iter()
        .filter(|z| {
            z.kind == ZoneKind::Control && z.actor != rest.actor && z.period.overlaps(&rest.period)
        })
        .collect();
    // Days on which the set of subtracted zones changes, inside the rule's period.
    let mut starts: Vec<Option<Date>> = vec![rest.period.from()];
    for z in &subtracted {
        let next_day = z.period.to().and_then(|d| d.succ_opt());
        for day in [z.period.from(), next_day].into_iter().flatten() {
            if rest.period.contains(day) && rest.period.from() != Some(day) {
                starts.push(Some(day));
            }
        }
    }
    starts.sort();
    starts.dedup();
    let mut parts = Vec::new();
    for (k, start) in starts.iter().enumerate() {
        let end = match starts.get(k + 1) {
            Some(next) => next.and_then(|d| d.pred_opt()),
            None => rest.period.to(),
        };
        let Some(period) = Period::new(*start, end) else {
            continue;
        };
        let probe = start.or(end);
        // One difference from the union of the day's zones: fewer boolean operations on the
        // outline's 590 vertices, and fewer places for a ring to touch itself.
        let others: Vec<Polygon<f64>> = subtracted
            .iter()
            .filter(|z| probe.is_none_or(|d| z.period.contains(d)))
            .flat_map(|z| z.geometry.0.iter().cloned())
            .collect();
        let taken = geo::unary_union(&others);
        let g = area.difference(&taken);
        let Some(g) = r.finish(i, g) else {
            continue;
        };
        let id = match start {
            Some(d) => format!("{}_{}", meta.id, d.format("%Y_%m_%d")),
            None => meta.id.to_string(),
        };
        let Ok(id) = FeatureId::parse(&id) else {
            r.problem(
                i,
                "id",
                ProblemKind::RuleFailed {
                    reason: format!(
                        "the id of a derived period, {id:?}, is too long: shorten the zone's id"
                    ),
                },
            );
            return Vec::new();
        };
        let mut part_meta = (**meta).clone();
        part_meta.id = id;
        parts.push(Zone {
            meta: Arc::new(part_meta),
            actor: rest.actor.clone(),
            kind: rest.kind,
            period,
            geometry: Arc::new(g),
            rule: rest.rule.clone(),
            derived_from: Some(DerivedFrom {
                id: meta.id.clone(),
                period: rest.period,
            }),
        });
    }
    if parts.is_empty() {
        r.problem(
            i,
            "rule",
            ProblemKind::RuleFailed {
                reason: "the result is empty on every day of the zone's period".into(),
            },
        );
    }
    parts
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

    fn zone_geometry(&mut self, i: usize) -> Option<Arc<MultiPolygon<f64>>> {
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
            // Drawn: nothing to compute, so nothing to keep (a copy less per zone).
            (Some(g), _) => return Some(g.clone()),
            // Derived after every other zone, per period, and never read by another rule
            // (`resolve` refuses it), so there is nothing to compute here.
            (None, Some(Rule::Remainder { .. })) => None,
            (None, Some(rule)) => {
                let rule = rule.clone();
                self.state[i] = State::InProgress;
                self.stack.push(i);
                let g = self.apply(i, &rule).map(Arc::new);
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
                let layers = many.iter().map(|(l, _)| l.to_string()).collect();
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
            Target::Zone(z) if matches!(self.zones[z].1.rule, Some(Rule::Remainder { .. })) => {
                self.problem(
                    zone,
                    field,
                    ProblemKind::RuleWrongGeometry {
                        id: id.to_string(),
                        expected: "a zone of one geometry (a remainder rule changes with the date)",
                    },
                );
                None
            }
            Target::Zone(z) => self.zone_geometry(z).map(|g| Shape::Polygons((*g).clone())),
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
            Rule::Remainder { .. } => return None,
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
        let g = self.finish(zone, g)?;
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

    /// Where a zone id stands in the file (for putting derived periods in file order).
    fn file_position(&self, id: &str) -> usize {
        self.zones
            .iter()
            .position(|(m, _)| m.id.as_str() == id)
            .unwrap_or(usize::MAX)
    }

    /// A rule's result as it is kept: slivers dropped, rounded, oriented and valid by the OGC
    /// rules. Boolean operations can leave a ring that touches itself at a point where a
    /// subtracted zone meets the boundary (GEOS: "Ring Self-intersection"); such a result is
    /// rebuilt with geo's `MakeValid` (a self-touching ring becomes a hole or two polygons) and
    /// checked again after rounding. `None`, with a problem, when it cannot be made valid.
    fn finish(&mut self, zone: usize, g: MultiPolygon<f64>) -> Option<MultiPolygon<f64>> {
        match make_valid(g) {
            Ok(g) => Some(g),
            Err(reason) => {
                self.problem(zone, "rule", ProblemKind::InvalidPolygon { reason });
                None
            }
        }
    }
}

/// Drops slivers, rounds and orients `g`, repairing it when that leaves it invalid by the OGC
/// rules; the error is geo's reason when even the repaired, rounded result is invalid.
pub(crate) fn make_valid(g: MultiPolygon<f64>) -> Result<MultiPolygon<f64>, String> {
    use geo::{MakeValid, Validation};
    let g = normalize_polygons(&drop_slivers(g));
    // Not proven valid: rebuilt rather than checked, since geo's full check costs seconds on the
    // remainder zones and rebuilding a valid shape gives the same shape.
    if proven_valid(&g) {
        return Ok(g);
    }
    let repaired = g
        .make_valid()
        .map_err(|e| format!("the result is invalid and cannot be repaired: {e:?}"))?;
    let repaired = canonical(normalize_polygons(&drop_slivers(repaired)));
    if proven_valid(&repaired) {
        return Ok(repaired);
    }
    match repaired.validation_errors().first() {
        None => Ok(repaired),
        Some(e) => Err(format!("the result is invalid even after repair: {e}")),
    }
}

/// Whether `mp` is proven valid by the OGC rules in O(n log n): geo's own check compares every
/// pair of a ring's segments, seconds for the 1,000-vertex remainder zones. `false` means "not
/// proven" (the caller repairs, or runs geo's full check, which names the fault); it is
/// conservative, never the other way round.
///
/// The proof: every ring is closed, finite and has 4 positions; two segments of one ring meet
/// only where consecutive ones share a vertex (geo's own test for a self-intersecting ring); two
/// rings meet only at points that are vertices of both, and the rings of a polygon touching at
/// such points form no cycle (a cycle would cut the polygon's interior in two). Then each hole is
/// wholly inside its exterior if one of its vertices off the exterior is inside, and each part is
/// apart from the others if one of its vertices off another part's exterior is outside it.
pub(crate) fn proven_valid(mp: &MultiPolygon<f64>) -> bool {
    proof(mp, false)
}

/// [`proven_valid`], also proving a part that lies in a hole of another (an island in a lake,
/// as Canada, Russia, Kazakhstan and Nicaragua have) apart from it: each part's exterior is
/// then judged against the other parts with their holes. The loader's check of drawn geometry
/// uses it (geo's full check, run when the proof fails, takes seconds on a country); rule
/// results keep the narrower proof, so that what they repair stays what it was.
pub(crate) fn proven_valid_drawn(mp: &MultiPolygon<f64>) -> bool {
    proof(mp, true)
}

fn proof(mp: &MultiPolygon<f64>, parts_in_holes: bool) -> bool {
    use geo::LineIntersection;
    use geo::coordinate_position::{CoordPos, CoordinatePosition};
    use geo::line_intersection::line_intersection;
    struct Segment {
        line: geo::Line<f64>,
        ring: usize,
        part: usize,
        /// `[min x, min y, max x, max y]`.
        bbox: [f64; 4],
    }
    let mut segments = Vec::with_capacity(mp.0.iter().map(ring_segments).sum());
    let mut ring = 0;
    for (part, p) in mp.0.iter().enumerate() {
        for r in std::iter::once(p.exterior()).chain(p.interiors()) {
            let finite = r.0.iter().all(|c| c.x.is_finite() && c.y.is_finite());
            if r.0.len() < 4 || !r.is_closed() || !finite {
                return false;
            }
            segments.extend(r.lines().map(|line| Segment {
                line,
                ring,
                part,
                bbox: line_bbox(&line),
            }));
            ring += 1;
        }
    }
    // Touches between two rings of one part: (ring, ring, the point's bits).
    let mut touches = Vec::new();
    // Every pair of segments that meet, found by a sweep over x: segments sorted by their least
    // x, each compared with those still open (whose x range reaches it) whose y range overlaps
    // its own. Linear in the segments for drawn shapes (a vertical line meets a few of them),
    // where geo's `Intersections` sweep costs several times more per segment.
    let mut meets = true;
    sweep_pairs(
        &segments,
        |s| s.bbox,
        |a, b| {
            // Neighbours on a ring share a vertex and pass however they meet: asked first, so
            // that most pairs a sweep finds (two per segment) skip the exact intersection.
            let neighbours =
                a.ring == b.ring && (a.line.start == b.line.end || a.line.end == b.line.start);
            if neighbours {
                return true;
            }
            let Some(meet) = line_intersection(a.line, b.line) else {
                return true;
            };
            if a.ring == b.ring {
                meets = false;
                return false;
            }
            let LineIntersection::SinglePoint {
                intersection: c,
                is_proper: false,
            } = meet
            else {
                meets = false;
                return false;
            };
            let vertex_of = |l: geo::Line<f64>| c == l.start || c == l.end;
            if !(vertex_of(a.line) && vertex_of(b.line)) {
                meets = false;
                return false;
            }
            if a.part == b.part {
                let (r1, r2) = (a.ring.min(b.ring), a.ring.max(b.ring));
                touches.push((r1, r2, c.x.to_bits(), c.y.to_bits()));
            }
            true
        },
    );
    if !meets {
        return false;
    }
    touches.sort_unstable();
    touches.dedup();
    let mut parent: Vec<usize> = (0..ring).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for &(r1, r2, _, _) in &touches {
        let (x, y) = (root(&mut parent, r1), root(&mut parent, r2));
        if x == y {
            return false;
        }
        parent[x] = y;
    }
    // Where a ring lies against a polygon, judged at one of its vertices off that polygon's edge.
    let side = |ring: &LineString<f64>, of: &Polygon<f64>| {
        ring.0
            .iter()
            .map(|c| of.coordinate_position(c))
            .find(|pos| *pos != CoordPos::OnBoundary)
    };
    let holes_inside = mp.0.iter().all(|p| {
        let exterior = Polygon::new(p.exterior().clone(), vec![]);
        p.interiors()
            .iter()
            .all(|h| side(h, &exterior) == Some(CoordPos::Inside))
    });
    if !holes_inside {
        return false;
    }
    // Each part's exterior is outside every other part. A part whose box does not meet
    // another's has its first vertex outside that part's box, so outside it: only parts whose
    // boxes meet are looked at (countries have hundreds of islands).
    let boxes: Vec<[f64; 4]> = mp.0.iter().map(|p| ring_bbox(p.exterior())).collect();
    let mut apart = true;
    sweep_pairs(
        &(0..mp.0.len()).collect::<Vec<_>>(),
        |&i| boxes[i],
        |&i, &j| {
            let (p, q) = (&mp.0[i], &mp.0[j]);
            let outside = |p: &Polygon<f64>, q: &Polygon<f64>| {
                let side = if parts_in_holes {
                    side(p.exterior(), q)
                } else {
                    side(p.exterior(), &Polygon::new(q.exterior().clone(), vec![]))
                };
                side == Some(CoordPos::Outside)
            };
            apart = outside(p, q) && outside(q, p);
            apart
        },
    );
    apart
}

fn ring_segments(p: &Polygon<f64>) -> usize {
    std::iter::once(p.exterior())
        .chain(p.interiors())
        .map(|r| r.0.len().saturating_sub(1))
        .sum()
}

fn line_bbox(l: &geo::Line<f64>) -> [f64; 4] {
    [
        l.start.x.min(l.end.x),
        l.start.y.min(l.end.y),
        l.start.x.max(l.end.x),
        l.start.y.max(l.end.y),
    ]
}

fn ring_bbox(r: &LineString<f64>) -> [f64; 4] {
    r.0.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |[a, b, c, d], p| [a.min(p.x), b.min(p.y), c.max(p.x), d.max(p.y)],
    )
}

/// Calls `pair` for every two items whose boxes (`[min x, min y, max x, max y]`, closed) meet,
/// each pair once, until it returns `false`. A sweep over x: items sorted by their least x, each
/// compared with the ones before it whose x range still reaches it. (Finite boxes only.)
pub(crate) fn sweep_pairs<T>(
    items: &[T],
    bbox: impl Fn(&T) -> [f64; 4],
    mut pair: impl FnMut(&T, &T) -> bool,
) {
    let boxes: Vec<[f64; 4]> = items.iter().map(&bbox).collect();
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_unstable_by(|&a, &b| boxes[a][0].total_cmp(&boxes[b][0]));
    let mut open: Vec<usize> = Vec::new();
    for &i in &order {
        let b = boxes[i];
        open.retain(|&j| boxes[j][2] >= b[0]);
        for &j in &open {
            let o = boxes[j];
            if o[1] <= b[3] && b[1] <= o[3] && !pair(&items[j], &items[i]) {
                return;
            }
        }
        open.push(i);
    }
}

/// The same shape in one order: `MakeValid` triangulates, and the order of the parts and the
/// first vertex of each ring it gives back vary from run to run. Each ring starts at its least
/// vertex (orientation kept), holes and parts are sorted by their first vertex, so that a rule
/// derives the same value at every load.
fn canonical(mp: MultiPolygon<f64>) -> MultiPolygon<f64> {
    fn least(c: &[Coord<f64>]) -> usize {
        (0..c.len())
            .min_by(|&a, &b| {
                (c[a].x, c[a].y)
                    .partial_cmp(&(c[b].x, c[b].y))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .unwrap_or(0)
    }
    fn ring(l: &LineString<f64>) -> LineString<f64> {
        let open = &l.0[..l.0.len().saturating_sub(1)];
        if open.is_empty() {
            return l.clone();
        }
        let k = least(open);
        let mut c: Vec<Coord<f64>> = open[k..].iter().chain(&open[..k]).copied().collect();
        c.push(c[0]);
        LineString(c)
    }
    let key = |l: &LineString<f64>| l.0.first().map_or((0.0, 0.0), |c| (c.x, c.y));
    let mut parts: Vec<Polygon<f64>> =
        mp.0.iter()
            .map(|p| {
                let mut holes: Vec<LineString<f64>> = p.interiors().iter().map(ring).collect();
                holes.sort_by(|a, b| {
                    key(a)
                        .partial_cmp(&key(b))
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
                Polygon::new(ring(p.exterior()), holes)
            })
            .collect();
    parts.sort_by(|a, b| {
        key(a.exterior())
            .partial_cmp(&key(b.exterior()))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    MultiPolygon(parts)
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

    /// A square with a notch cut from its north edge to a point touching the south edge: the
    /// ring touches itself at (2, 0), as `sdf_east_of_euphrates` did where the Hajin pocket met
    /// the river (issue 15).
    fn touching_itself() -> MultiPolygon<f64> {
        MultiPolygon(vec![polygon![
            (x: 0., y: 0.), (x: 2., y: 0.), (x: 1., y: 2.), (x: 3., y: 2.), (x: 2., y: 0.),
            (x: 4., y: 0.), (x: 4., y: 4.), (x: 0., y: 4.)
        ]])
    }

    #[test]
    fn a_rule_result_whose_ring_touches_itself_is_rebuilt_valid_with_its_area() {
        use geo::Validation;
        let bad = touching_itself();
        assert!(!bad.is_valid(), "the case must be one geo calls invalid");
        let fixed = make_valid(bad.clone()).unwrap();
        assert!(fixed.is_valid(), "{:?}", fixed.validation_errors());
        assert!((fixed.unsigned_area() - bad.unsigned_area()).abs() < 1e-9);
        // The same shape in one order, whatever order MakeValid returned it in.
        assert_eq!(make_valid(bad).unwrap(), fixed);
    }

    #[test]
    fn the_quick_validity_proof_never_accepts_what_geo_rejects() {
        use geo::Validation;
        // One polygon, its exterior and one hole.
        let with_hole = |exterior: &[(f64, f64)], hole: &[(f64, f64)]| {
            let ring = |pts: &[(f64, f64)]| LineString::from(pts.to_vec());
            MultiPolygon(vec![Polygon::new(ring(exterior), vec![ring(hole)])])
        };
        let four = [(0., 0.), (4., 0.), (4., 4.), (0., 4.), (0., 0.)];
        let unit_at = |x: f64, y: f64| [(x, y), (x, y + 1.), (x + 1., y + 1.), (x + 1., y), (x, y)];
        let hole_inside = with_hole(&four, &unit_at(1., 1.));
        let hole_outside = with_hole(&four, &unit_at(5., 5.));
        let nested = MultiPolygon(vec![
            square().0[0].clone(),
            polygon![
                (x: 1., y: 1.), (x: 2., y: 1.), (x: 2., y: 2.), (x: 1., y: 2.)
            ],
        ]);
        let bowtie = MultiPolygon(vec![
            polygon![(x: 0., y: 0.), (x: 2., y: 2.), (x: 2., y: 0.), (x: 0., y: 2.)],
        ]);
        // A hole touching the exterior at one shared vertex is valid; at two, it cuts the
        // interior in two.
        let touching_once = with_hole(
            &[(0., 0.), (2., 0.), (4., 0.), (4., 4.), (0., 4.), (0., 0.)],
            &[(2., 0.), (1., 2.), (3., 2.), (2., 0.)],
        );
        let touching_twice = with_hole(
            &[
                (0., 0.),
                (2., 0.),
                (4., 0.),
                (4., 4.),
                (2., 4.),
                (0., 4.),
                (0., 0.),
            ],
            &[(2., 0.), (1., 2.), (2., 4.), (3., 2.), (2., 0.)],
        );
        assert!(proven_valid(&touching_once) && touching_once.is_valid());
        // GEOS calls it invalid (disconnected interior); geo's check does not look at that, so
        // the proof is the stricter of the two here, as GDAL's `ST_IsValid` needs.
        assert!(!proven_valid(&touching_twice));
        assert!(proven_valid(&square()) && square().is_valid());
        assert!(proven_valid(&hole_inside) && hole_inside.is_valid());
        for (name, mp) in [
            ("hole outside", hole_outside),
            ("nested parts", nested),
            ("bow tie", bowtie),
            ("touching itself", touching_itself()),
        ] {
            assert!(!mp.is_valid(), "{name}: geo calls it invalid");
            assert!(!proven_valid(&mp), "{name}: the proof must not accept it");
            assert!(!proven_valid_drawn(&mp), "{name}: nor the drawn one");
        }
        // An island in a lake: valid; the loader's proof says so without geo's full check.
        let lake = LineString::from(vec![(1., 1.), (1., 3.), (3., 3.), (3., 1.), (1., 1.)]);
        let island = Polygon::new(
            LineString::from(vec![
                (1.5, 1.5),
                (2.5, 1.5),
                (2.5, 2.5),
                (1.5, 2.5),
                (1.5, 1.5),
            ]),
            vec![],
        );
        let country = Polygon::new(
            LineString::from(vec![(0., 0.), (4., 0.), (4., 4.), (0., 4.), (0., 0.)]),
            vec![lake],
        );
        let islands = MultiPolygon(vec![country.clone(), island.clone()]);
        assert!(islands.is_valid() && proven_valid_drawn(&islands) && !proven_valid(&islands));
        let nested = MultiPolygon(vec![
            Polygon::new(country.exterior().clone(), vec![]),
            island,
        ]);
        assert!(!nested.is_valid() && !proven_valid_drawn(&nested));
    }

    #[test]
    fn a_line_drawn_the_other_way_swaps_the_sides() {
        let line = LineString::from(vec![(2., 3.), (2., 1.)]);
        let left = split(&square(), &line, Side::Left);
        use geo::Contains;
        assert!(left.contains(&Point::new(3.0, 2.0)));
    }
}
