//! Checks of a whole data set, once every layer is parsed and every rule derived: no two actors
//! controlling the same ground on the same day, one colour per actor, one feature per id across
//! layers. (Derived geometry is checked where it is derived, by the same OGC rules as drawn
//! geometry: `rules::make_valid`.)

use std::collections::HashMap;

use geo::{BooleanOps, BoundingRect, GeodesicArea, Intersects, Orient};

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
    pub zone_index: &'a HashMap<String, usize>,
}

/// Runs every whole-data-set check, adding what it finds to `problems`.
pub(crate) fn check(
    files: &Files<'_>,
    actors: &[Actor],
    zones: &[Zone],
    locations: &[Location],
    events: &[Event],
    reference: &[ReferenceLayer],
    problems: &mut Vec<Problem>,
) {
    control_overlaps(files, zones, None, problems);
    actor_colours(files, actors, problems);
    ids_across_layers(files, zones, locations, events, reference, problems);
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
            index: files.zone_index.get(id).copied().unwrap_or(0),
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

/// Runs the whole-data-set checks that can involve the features `changed` says were changed,
/// for a data set whose other features passed [`check`] together already (an edit): the same
/// problems [`check`] would find, at a cost that grows with the change, not with the data.
/// Actors are not edited feature by feature, so their colours are not checked again.
pub(crate) fn check_changed(
    files: &Files<'_>,
    zones: &[Zone],
    locations: &[Location],
    events: &[Event],
    reference: &[ReferenceLayer],
    changed: &dyn Fn(&str, &str) -> bool,
    problems: &mut Vec<Problem>,
) {
    // A rule zone is derived again from whatever it names, so it may have changed with anything.
    let zone_changed =
        |z: &Zone| z.rule.is_some() || z.derived_from.is_some() || changed("zones", file_id(z));
    control_overlaps(files, zones, Some(&zone_changed), problems);
    // An id in two layers is rare: when a changed one is, the whole check says where, as it
    // would for the files.
    let mut layers: HashMap<&str, u8> = HashMap::new();
    let ids = zones
        .iter()
        .map(|z| ("zones", file_id(z)))
        .chain(locations.iter().map(|l| ("locations", l.meta.id.as_str())))
        .chain(events.iter().map(|e| ("events", e.meta.id.as_str())))
        .chain(
            reference
                .iter()
                .flat_map(|r| r.features.iter().map(|f| ("reference", f.meta.id.as_str()))),
        );
    let mut clash = false;
    for (layer, id) in ids {
        let bit = match layer {
            "zones" => 1,
            "locations" => 2,
            "events" => 4,
            _ => 8,
        };
        let seen = layers.entry(id).or_default();
        if *seen & !bit != 0
            && (changed("zones", id) || changed("locations", id) || changed("events", id))
        {
            clash = true;
            break;
        }
        *seen |= bit;
    }
    if clash {
        ids_across_layers(files, zones, locations, events, reference, problems);
    }
}

/// Two actors do not control the same ground on the same day: such an overlap is a drawing error
/// (or a change inside a period that the data does not model), and it makes a point answer two
/// controllers. With `changed`, only pairs with a changed zone are measured (the others were).
fn control_overlaps(
    files: &Files<'_>,
    zones: &[Zone],
    changed: Option<&dyn Fn(&Zone) -> bool>,
    problems: &mut Vec<Problem>,
) {
    let control: Vec<&Zone> = zones
        .iter()
        .filter(|z| z.kind == ZoneKind::Control)
        .collect();
    // Measured when first needed: most pairs are told apart by actor or period.
    let rects: Vec<std::cell::OnceCell<Option<geo::Rect<f64>>>> =
        control.iter().map(|_| std::cell::OnceCell::new()).collect();
    let rect = |i: usize| *rects[i].get_or_init(|| control[i].geometry.bounding_rect());
    // The pairs (i, j), i < j, to look at: all of them, or those with a changed zone in them,
    // in the same order, so a problem is reported at the same zone either way.
    let n = control.len();
    let pairs: Box<dyn Iterator<Item = (usize, usize)>> = match changed {
        None => Box::new((0..n).flat_map(move |i| (i + 1..n).map(move |j| (i, j)))),
        Some(changed) => {
            let is: Vec<bool> = control.iter().map(|z| changed(z)).collect();
            let mut pairs: Vec<(usize, usize)> = Vec::new();
            for c in (0..n).filter(|&c| is[c]) {
                // A pair of two changed zones is taken from the first of them.
                let others = (0..n).filter(|&o| o != c && !(is[o] && o < c));
                pairs.extend(others.map(|o| (c.min(o), c.max(o))));
            }
            pairs.sort_unstable();
            Box::new(pairs.into_iter())
        }
    };
    for (i, j) in pairs {
        let (a, b) = (control[i], control[j]);
        // A period of a remainder rule is its area minus exactly the other actors' control
        // zones of that period, so it cannot overlap them: no need to measure.
        let derived = a.derived_from.is_some() || b.derived_from.is_some();
        if derived || !a.period.overlaps(&b.period) || a.actor == b.actor {
            continue;
        }
        let (Some(ra), Some(rb)) = (rect(i), rect(j)) else {
            continue;
        };
        if !ra.intersects(&rb) {
            continue;
        }
        let km2 = area_km2(&a.geometry.intersection(&*b.geometry));
        if km2 < CONTROL_OVERLAP_KM2 {
            continue;
        }
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
    // (id, file, index, layer), in layer order: zones, locations, events, reference.
    let mut all: Vec<(&str, String, usize, String)> = Vec::new();
    let mut seen_zone = std::collections::HashSet::new();
    for z in zones {
        let id = file_id(z);
        if seen_zone.insert(id) {
            let index = files.zone_index.get(id).copied().unwrap_or(0);
            all.push((id, files.zones.to_owned(), index, "zones".into()));
        }
    }
    for (index, l) in locations.iter().enumerate() {
        all.push((
            l.meta.id.as_str(),
            files.locations.to_owned(),
            index,
            "locations".into(),
        ));
    }
    for (index, e) in events.iter().enumerate() {
        all.push((
            e.meta.id.as_str(),
            files.events.to_owned(),
            index,
            "events".into(),
        ));
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
                file.clone(),
                index,
                format!("reference/{}", layer.name),
            ));
        }
    }
    let mut first: HashMap<&str, &str> = HashMap::new();
    for (id, file, index, layer) in &all {
        match first.get(id) {
            Some(other) if other != layer => problems.push(Problem {
                file: file.clone(),
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
                first.insert(id, layer);
            }
        }
    }
}
