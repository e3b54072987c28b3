//! What changed between two days: zones that began or ended, zones replaced by a successor,
//! and per actor and kind the area gained and lost.

use geo::{BooleanOps, GeodesicArea, Intersects, MultiPolygon, unary_union};
use geodata::{ActorId, Dataset, Date, ZoneKind};

/// The differences between the data set on day `from` and on day `to`.
#[derive(Debug, Clone, PartialEq)]
pub struct Changes {
    /// The earlier day.
    pub from: Date,
    /// The later day.
    pub to: Date,
    /// Zones whose first day is after `from` and on or before `to`, ascending.
    pub began: Vec<usize>,
    /// Zones whose last day is on or after `from` and before `to`, ascending.
    pub ended: Vec<usize>,
    /// `(ended, began)` pairs of an ended zone and a begun zone of the same actor and kind whose
    /// geometries meet: the same area redrawn (a front line moved, a strip changed hands).
    pub changed: Vec<(usize, usize)>,
    /// Per actor and kind present on either day, the area held on each day and the difference,
    /// sorted by actor id then kind.
    pub areas: Vec<AreaChange>,
}

/// How the area of one actor's zones of one kind changed between two days. Overlapping zones
/// are counted once (their union is measured).
#[derive(Debug, Clone, PartialEq)]
pub struct AreaChange {
    /// Whose zones.
    pub actor: ActorId,
    /// Which kind of zone.
    pub kind: ZoneKind,
    /// Geodesic area (WGS84) in km² of the union of the zones active on the earlier day.
    pub from_km2: f64,
    /// The same on the later day.
    pub to_km2: f64,
    /// Area in the later union and not in the earlier one, km².
    pub gained_km2: f64,
    /// Area in the earlier union and not in the later one, km².
    pub lost_km2: f64,
}

fn km2(mp: &MultiPolygon<f64>) -> f64 {
    mp.geodesic_area_unsigned() / 1e6
}

pub(crate) fn between(data: &Dataset, from: Date, to: Date) -> Changes {
    let zones = &data.zones;
    let began: Vec<usize> = (0..zones.len())
        .filter(|&z| zones[z].period.from().is_some_and(|d| from < d && d <= to))
        .collect();
    let ended: Vec<usize> = (0..zones.len())
        .filter(|&z| zones[z].period.to().is_some_and(|d| from <= d && d < to))
        .collect();
    let mut changed = Vec::new();
    for &e in &ended {
        for &b in &began {
            let (ze, zb) = (&zones[e], &zones[b]);
            if e != b
                && ze.actor == zb.actor
                && ze.kind == zb.kind
                && ze.geometry.intersects(&*zb.geometry)
            {
                changed.push((e, b));
            }
        }
    }
    let mut groups: Vec<(&ActorId, ZoneKind)> = zones
        .iter()
        .filter(|z| z.period.contains(from) || z.period.contains(to))
        .map(|z| (&z.actor, z.kind))
        .collect();
    groups.sort();
    groups.dedup();
    let union_at = |actor: &ActorId, kind: ZoneKind, day: Date| {
        let polys: Vec<geo::Polygon<f64>> = zones
            .iter()
            .filter(|z| &z.actor == actor && z.kind == kind && z.period.contains(day))
            .flat_map(|z| z.geometry.0.iter().cloned())
            .collect();
        unary_union(&polys)
    };
    let areas = groups
        .into_iter()
        .map(|(actor, kind)| {
            let a = union_at(actor, kind, from);
            let b = union_at(actor, kind, to);
            AreaChange {
                actor: actor.clone(),
                kind,
                from_km2: km2(&a),
                to_km2: km2(&b),
                gained_km2: km2(&b.difference(&a)),
                lost_km2: km2(&a.difference(&b)),
            }
        })
        .collect();
    Changes {
        from,
        to,
        began,
        ended,
        changed,
        areas,
    }
}
