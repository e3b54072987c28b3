//! Checks of a whole data set, once every layer is parsed and every rule derived: no two actors
//! controlling the same ground on the same day, one colour per actor, one feature per id across
//! layers. (Derived geometry is checked where it is derived, by the same OGC rules as drawn
//! geometry: `rules::make_valid`.)

use foldhash::{HashMap, HashMapExt as _};

use geo::{BooleanOps, BoundingRect, GeodesicArea, Intersects, MultiPolygon, Orient};
use rayon::prelude::*;
use rstar::{AABB, RTree, primitives::GeomWithData, primitives::Rectangle};

use crate::Dataset;
use crate::model::{Actor, Event, Location, Period, ReferenceLayer, Zone, ZoneKind};
use crate::problem::{FeatureRef, Problem, ProblemKind};

/// Overlaps of control zones smaller than this (km²) are left alone: zones drawn against the same
/// border or river at different vertex precision leave slivers no one drew, well under it.
pub const CONTROL_OVERLAP_KM2: f64 = 0.1;

/// Where the checks find each layer: the file names as shown, and each zone's index in its file
/// by the id written there.
pub(crate) struct Files<'a> {
    pub actors: &'a str,
    pub zones: &'a str,
    pub locations: &'a str,
    pub events: &'a str,
    /// The file of each reference layer, by layer name.
    pub reference: &'a HashMap<String, String>,
    /// Zone id as written in the file -> index in the file's `features`.
    pub zone_index: &'a ZonePositions,
}

/// Each zone's index in its file's `features`, by the id written there. Only a problem's report
/// reads it, so the map is made on first use: a valid load of 100,000 zones never makes it.
pub(crate) struct ZonePositions {
    ids: Vec<(crate::FeatureId, usize)>,
    map: std::sync::OnceLock<HashMap<crate::FeatureId, usize>>,
}

impl ZonePositions {
    /// From (id as written, index in the file) pairs.
    pub fn new(ids: Vec<(crate::FeatureId, usize)>) -> ZonePositions {
        ZonePositions {
            ids,
            map: std::sync::OnceLock::new(),
        }
    }

    /// The index in the file of the zone with this id.
    pub fn get(&self, id: &str) -> Option<usize> {
        self.map
            .get_or_init(|| self.ids.iter().cloned().collect())
            .get(id)
            .copied()
    }
}

/// Runs every whole-data-set check, adding what it finds to `problems`. `before` is a valid
/// data set these zones were changed from, if any: two zones both exactly as they were there
/// passed the checks between them already, so only pairs involving a changed zone are measured.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check(
    files: &Files<'_>,
    actors: &[Actor],
    zones: &[Zone],
    locations: &[Location],
    events: &[Event],
    reference: &[ReferenceLayer],
    before: Option<&Dataset>,
    problems: &mut Vec<Problem>,
) {
    control_overlaps(files, zones, before, problems);
    actor_colours(files, actors, problems);
    ids_across_layers(files, zones, locations, events, reference, problems);
}

/// Runs the whole-data-set checks that can involve changed features, for `zones` etc. made by
/// editing `before`, a data set that passed [`check`]: the same problems [`check`] would find,
/// at a cost that grows with the change more than with the data. `changed` says whether a
/// feature (layer, id) was edited. Actors are not edited feature by feature, so their colours
/// are not checked again.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_changed(
    files: &Files<'_>,
    zones: &[Zone],
    locations: &[Location],
    events: &[Event],
    reference: &[ReferenceLayer],
    before: &Dataset,
    changed: &dyn Fn(&str, &str) -> bool,
    problems: &mut Vec<Problem>,
) {
    control_overlaps(files, zones, Some(before), problems);
    // An id in two layers is rare: when a changed one is, the whole check says where, as it
    // would for the files.
    let mut layers: HashMap<&str, u8> = HashMap::new();
    let ids = zones
        .iter()
        .map(|z| (1, file_id(z)))
        .chain(locations.iter().map(|l| (2, l.meta.id.as_str())))
        .chain(events.iter().map(|e| (4, e.meta.id.as_str())))
        .chain(
            reference
                .iter()
                .flat_map(|r| r.features.iter().map(|f| (8, f.meta.id.as_str()))),
        );
    let edited = |id| changed("zones", id) || changed("locations", id) || changed("events", id);
    for (bit, id) in ids {
        let seen = layers.entry(id).or_default();
        if *seen & !bit != 0 && edited(id) {
            ids_across_layers(files, zones, locations, events, reference, problems);
            return;
        }
        *seen |= bit;
    }
}

/// The id a zone has in its file: a derived period's is the rule zone's.
fn file_id(z: &Zone) -> &str {
    z.derived_from
        .as_ref()
        .map_or(z.meta.id.as_str(), |d| d.id.as_str())
}

fn zone_problem(files: &Files<'_>, z: &Zone, field: &str, kind: ProblemKind) -> Problem {
    let id = file_id(z);
    Problem {
        file: files.zones.to_owned(),
        feature: Some(FeatureRef {
            index: files.zone_index.get(id).unwrap_or(0),
            id: Some(id.to_owned()),
        }),
        field: Some(field.to_owned()),
        kind,
    }
}

/// The days two periods share.
fn shared(a: &Period, b: &Period) -> Option<Period> {
    let from = match (a.from(), b.from()) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
    let to = match (a.to(), b.to()) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    Period::new(from, to)
}

/// Two actors do not control the same ground on the same day: such an overlap is a drawing error
/// (or a change inside a period that the data does not model), and it makes a point answer two
/// controllers.
///
/// Candidate pairs come from an R-tree of the control zones' boxes, not from every pair; pairs
/// of zones exactly as they were in `before` are left out, and the rest are measured in
/// parallel. Problems come in the order every pair would give them: by the first zone, then
/// the second, in file order.
fn control_overlaps(
    files: &Files<'_>,
    zones: &[Zone],
    before: Option<&Dataset>,
    problems: &mut Vec<Problem>,
) {
    // A period of a remainder rule is its area minus exactly the other actors' control zones of
    // that period, so it cannot overlap them: no need to measure.
    let control: Vec<(&Zone, geo::Rect<f64>)> = zones
        .iter()
        .filter(|z| z.kind == ZoneKind::Control && z.derived_from.is_none())
        .filter_map(|z| Some((z, z.geometry.bounding_rect()?)))
        .collect();
    let settled: Vec<bool> = match before {
        Some(before) => {
            let was: HashMap<&str, &Zone> = before
                .zones
                .iter()
                .filter(|z| z.derived_from.is_none())
                .map(|z| (z.meta.id.as_str(), z))
                .collect();
            control
                .par_iter()
                .map(|(z, _)| was.get(z.meta.id.as_str()).is_some_and(|w| same_zone(w, z)))
                .collect()
        }
        None => vec![false; control.len()],
    };
    let envelope =
        |r: &geo::Rect<f64>| AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
    let tree = RTree::bulk_load(
        control
            .iter()
            .enumerate()
            .map(|(i, (_, r))| {
                let e = envelope(r);
                GeomWithData::new(Rectangle::from_corners(e.lower(), e.upper()), i)
            })
            .collect(),
    );
    // Each pair (first, second) in file order once, when its boxes meet and one of the two
    // changed.
    let mut pairs: Vec<(usize, usize)> = (0..control.len())
        .into_par_iter()
        .filter(|&i| !settled[i])
        .flat_map_iter(|i| {
            let (a, ra) = control[i];
            let (settled, control) = (&settled, &control);
            tree.locate_in_envelope_intersecting(&envelope(&ra))
                .map(|e| e.data)
                .filter(move |&j| j != i && (settled[j] || j > i))
                .filter(move |&j| {
                    let b = control[j].0;
                    a.actor != b.actor && a.period.overlaps(&b.period)
                })
                .map(move |j| (i.min(j), i.max(j)))
                .collect::<Vec<_>>()
        })
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let found: Vec<Option<(usize, usize, f64)>> = pairs
        .par_iter()
        .map(|&(i, j)| {
            let (a, b) = (control[i].0, control[j].0);
            if !interiors_may_meet(&a.geometry, &b.geometry) {
                return None;
            }
            let km2 = area_km2(&a.geometry.intersection(&*b.geometry));
            (km2 >= CONTROL_OVERLAP_KM2).then_some((i, j, km2))
        })
        .collect();
    for (i, j, km2) in found.into_iter().flatten() {
        let (a, b) = (control[i].0, control[j].0);
        let days = shared(&a.period, &b.period).unwrap_or(a.period);
        problems.push(zone_problem(
            files,
            b,
            "geometry",
            ProblemKind::ControlOverlap {
                other: a.meta.id.to_string(),
                other_actor: a.actor.to_string(),
                km2,
                days: days.to_string(),
            },
        ));
    }
}

/// Whether two zones are the same: shared parts (an edit keeps what it does not change) are
/// not compared value by value.
fn same_zone(a: &Zone, b: &Zone) -> bool {
    let shared = std::sync::Arc::ptr_eq(&a.meta, &b.meta)
        && std::sync::Arc::ptr_eq(&a.geometry, &b.geometry)
        && a.actor == b.actor
        && a.kind == b.kind
        && a.period == b.period
        && a.rule == b.rule
        && a.derived_from == b.derived_from;
    shared || a == b
}

/// Whether two polygon sets can share area: `false` only when no edge of one meets an edge of
/// the other (found by a sweep over the edges' boxes) and no part of either starts inside the
/// other, so that each part lies wholly outside the other set. A cheap way to skip the boolean
/// operation for the many neighbours whose boxes meet but whose shapes do not.
fn interiors_may_meet(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> bool {
    use geo::line_intersection::line_intersection;
    let edges = |mp: &MultiPolygon<f64>, side: bool| -> Vec<(geo::Line<f64>, bool)> {
        mp.0.iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .flat_map(|r| r.lines())
            .map(|l| (l, side))
            .collect()
    };
    let mut all = edges(a, false);
    all.extend(edges(b, true));
    if all.iter().any(|(l, _)| {
        !(l.start.x.is_finite()
            && l.start.y.is_finite()
            && l.end.x.is_finite()
            && l.end.y.is_finite())
    }) {
        return true;
    }
    let mut meet = false;
    crate::rules::sweep_pairs(
        &all,
        |(l, _)| {
            [
                l.start.x.min(l.end.x),
                l.start.y.min(l.end.y),
                l.start.x.max(l.end.x),
                l.start.y.max(l.end.y),
            ]
        },
        |(la, sa), (lb, sb)| {
            meet = sa != sb && line_intersection(*la, *lb).is_some();
            !meet
        },
    );
    if meet {
        return true;
    }
    let starts_inside = |mp: &MultiPolygon<f64>, other: &MultiPolygon<f64>| {
        mp.0.iter()
            .any(|p| p.exterior().0.first().is_none_or(|c| other.intersects(c)))
    };
    starts_inside(a, b) || starts_inside(b, a)
}

/// Geodesic area of a boolean-operation result. Zero-width parts (two zones that share an edge
/// leave one) are dropped first, and the rest oriented: geo's geodesic area of a degenerate or
/// clockwise ring is the rest of the globe.
fn area_km2(mp: &geo::MultiPolygon<f64>) -> f64 {
    use geo::Area;
    mp.0.iter()
        .filter(|p| p.unsigned_area() >= crate::rules::SLIVER_DEG2)
        .map(|p| {
            p.orient(geo::orient::Direction::Default)
                .geodesic_area_unsigned()
        })
        .sum::<f64>()
        / 1e6
}

/// The map, the charts and the QGIS styles tell actors apart by colour alone.
fn actor_colours(files: &Files<'_>, actors: &[Actor], problems: &mut Vec<Problem>) {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for (index, a) in actors.iter().enumerate() {
        let colour = a.colour.to_ascii_lowercase();
        if let Some(other) = seen.get(&colour) {
            problems.push(Problem {
                file: files.actors.to_owned(),
                feature: Some(FeatureRef {
                    index,
                    id: Some(a.id.to_string()),
                }),
                field: Some("colour".into()),
                kind: ProblemKind::DuplicateColour {
                    colour: a.colour.clone(),
                    other: (*other).to_owned(),
                },
            });
        } else {
            seen.insert(colour, a.id.as_str());
        }
    }
}

/// An id names one feature in the whole data set, so that a rule, a URL or a report naming it is
/// never ambiguous (the rules already refuse an ambiguous name; this says so at the feature).
fn ids_across_layers(
    files: &Files<'_>,
    zones: &[Zone],
    locations: &[Location],
    events: &[Event],
    reference: &[ReferenceLayer],
    problems: &mut Vec<Problem>,
) {
    // (id, file, index, layer), in layer order: zones, locations, events, reference. Zones come
    // first, so none is ever reported: their index in the file is not needed.
    use std::borrow::Cow;
    let mut all: Vec<(&str, Cow<'_, str>, usize, Cow<'_, str>)> = Vec::new();
    let mut seen_zone = foldhash::HashSet::default();
    for z in zones {
        let id = file_id(z);
        if seen_zone.insert(id) {
            all.push((id, files.zones.into(), 0, "zones".into()));
        }
    }
    let point_layers = [
        (
            locations.iter().map(|l| &l.meta).collect::<Vec<_>>(),
            files.locations,
            "locations",
        ),
        (
            events.iter().map(|e| &e.meta).collect(),
            files.events,
            "events",
        ),
    ];
    for (metas, file, layer) in point_layers {
        for (index, meta) in metas.into_iter().enumerate() {
            all.push((meta.id.as_str(), file.into(), index, layer.into()));
        }
    }
    for layer in reference {
        let file = files
            .reference
            .get(&layer.name)
            .cloned()
            .unwrap_or_default();
        for (index, f) in layer.features.iter().enumerate() {
            all.push((
                f.meta.id.as_str(),
                file.clone().into(),
                index,
                format!("reference/{}", layer.name).into(),
            ));
        }
    }
    let mut first: HashMap<&str, &str> = HashMap::new();
    for (id, file, index, layer) in &all {
        match first.get(id) {
            Some(other) if *other != layer.as_ref() => problems.push(Problem {
                file: file.to_string(),
                feature: Some(FeatureRef {
                    index: *index,
                    id: Some((*id).to_owned()),
                }),
                field: Some("id".into()),
                kind: ProblemKind::IdInOtherLayer {
                    layer: (*other).to_owned(),
                },
            }),
            Some(_) => {}
            None => {
                first.insert(id, layer.as_ref());
            }
        }
    }
}
