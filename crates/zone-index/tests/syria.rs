use std::sync::{Arc, LazyLock};

use geo::{Contains, Point};
use geodata::{Dataset, GeometryKind};
use zone_index::ZoneIndex;

use crate::support::day;

static INDEX: LazyLock<ZoneIndex> = LazyLock::new(|| ZoneIndex::new(Arc::new(Dataset::embedded())));

/// A named location of the embedded data set.
fn location(id: &str) -> Point<f64> {
    INDEX
        .dataset()
        .location(id)
        .unwrap_or_else(|| panic!("the default data set has location {id}"))
        .point
}

fn daraa_city() -> Point<f64> {
    location("daraa_city")
}
fn khasham() -> Point<f64> {
    location("khasham")
}
fn damascus() -> Point<f64> {
    location("damascus_city")
}
fn al_tanf() -> Point<f64> {
    location("al_tanf")
}
/// West of the 1974 Line A, in the Israeli-held Golan.
fn israeli_held_golan() -> Point<f64> {
    Point::new(35.75, 33.0)
}

/// Ids of the zones covering `p` on `date` (every period when `None`), with `*` after a zone
/// whose boundary the point is on.
fn covering(p: Point<f64>, date: Option<&str>) -> Vec<String> {
    let data = INDEX.dataset();
    INDEX
        .covering(p.x(), p.y(), date.map(day))
        .iter()
        .map(|c| {
            let star = if c.on_boundary { "*" } else { "" };
            format!("{}{star}", data.zones[c.zone].meta.id)
        })
        .collect()
}

fn zone(id: &str) -> usize {
    INDEX
        .dataset()
        .zone_position(id)
        .unwrap_or_else(|| panic!("the default data set has zone {id}"))
}

#[test]
fn daraa_city_in_february_2018_is_opposition_held_in_the_de_escalation_zone() {
    assert_eq!(
        covering(daraa_city(), Some("2018-02-15")),
        // The 60 km band holds from Haaretz's report of 2017-09-15 (issue 15).
        [
            "sw_deescalation_zone",
            "opposition_daraa_until_2018_06",
            "golan_band_40km_israel_demand",
            "golan_band_60km_israel_demand"
        ]
    );
}

#[test]
fn daraa_city_in_august_2018_is_government_held_inside_the_85_km_band() {
    assert_eq!(
        covering(daraa_city(), Some("2018-08-15")),
        // Israel's demand that Iran leave all of Syria is a zone since issue 15, and the
        // government's remainder covers what no other actor controls.
        [
            "gov_south_west_from_2018_08",
            "golan_band_85km_2018_08_01",
            "israel_demand_iran_out_of_all_syria",
            "gov_remainder_2018_08_01"
        ]
    );
}

#[test]
fn the_khasham_battle_site_was_in_the_government_east_bank_strip_on_7_february_2018() {
    assert_eq!(
        covering(khasham(), Some("2018-02-07")),
        [
            "gov_eastbank_deir_ez_zor_2018_02",
            "gov_remainder_2018_01_01"
        ]
    );
    // The Conoco plant the pro-government force advanced on lay in SDF and US-held ground.
    assert_eq!(
        covering(location("conoco_gas_plant_area"), Some("2018-02-07")),
        ["sdf_east_of_euphrates", "us_coalition_east_of_euphrates"]
    );
}

#[test]
fn damascus_is_outside_every_iran_free_band_narrower_than_60_km_and_inside_the_wider_ones() {
    let d = damascus();
    let inside = |id: &str| {
        INDEX
            .covering(d.x(), d.y(), None)
            .iter()
            .any(|c| c.zone == zone(id))
    };
    for narrow in [
        "golan_band_5km_2017_11",
        "golan_band_15km_2017_10",
        "golan_band_24km_2018_05",
        "golan_band_40km_israel_demand",
    ] {
        assert!(!inside(narrow), "Damascus is not in {narrow}");
    }
    for wide in [
        "golan_band_60km_israel_demand",
        "golan_band_80km_russia_proposal",
        "golan_band_85km_2018_08_01",
        "golan_band_100km_2018_07_23",
    ] {
        assert!(inside(wide), "Damascus is in {wide}");
    }
}

#[test]
fn al_tanf_lies_in_its_55_km_deconfliction_zone_and_is_its_own_nearest_location() {
    assert_eq!(
        covering(al_tanf(), Some("2018-02-15")),
        // Held by the coalition, so the government's remainder leaves it out (issue 15).
        ["tanf_deconfliction_55km", "tanf_zone_coalition_control"]
    );
    let near = INDEX.nearest_locations(al_tanf().x(), al_tanf().y(), 1, None);
    assert_eq!(
        INDEX.dataset().locations[near[0].location].meta.id.as_str(),
        "al_tanf"
    );
    assert_eq!(near[0].distance_km, 0.0);
    // The zone's edge is about 55 km away (the circle is clipped to Syria on the south side).
    let n = INDEX.nearest(al_tanf().x(), al_tanf().y(), 1, Some(day("2018-02-15")));
    assert_eq!(n[0].zone, zone("tanf_deconfliction_55km"));
    assert_eq!(n[0].distance_km, 0.0);
    assert!(
        n[0].boundary_distance_km > 5.0 && n[0].boundary_distance_km <= 55.1,
        "{}",
        n[0].boundary_distance_km
    );
}

#[test]
fn a_point_in_the_israeli_held_golan_is_outside_syria_and_in_no_zone() {
    let p = israeli_held_golan();
    let syria = INDEX
        .dataset()
        .reference
        .iter()
        .filter(|l| l.kind == GeometryKind::Polygon)
        .flat_map(|l| &l.features)
        .find(|f| f.meta.id.as_str() == "syria")
        .expect("the default data set has the syria outline");
    assert!(!syria.geometry.contains(&p));
    assert!(syria.geometry.contains(&damascus()));
    assert!(covering(p, None).is_empty());
}

#[test]
fn the_timeline_of_daraa_city_runs_from_the_de_escalation_zone_to_government_control() {
    let spans = INDEX.timeline(daraa_city().x(), daraa_city().y());
    let on = |d: &str| {
        let span = spans
            .iter()
            .find(|s| s.period.contains(day(d)))
            .expect("spans cover every day");
        span.zones
            .iter()
            .map(|&z| INDEX.dataset().zones[z].meta.id.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(on("2018-02-15"), covering(daraa_city(), Some("2018-02-15")));
    assert_eq!(on("2018-08-15"), covering(daraa_city(), Some("2018-08-15")));
    assert!(on("2016-01-01").is_empty());
    assert!(on("2019-06-01").is_empty());
}

#[test]
fn between_february_and_august_2018_the_government_gained_and_the_opposition_lost_ground() {
    let ch = INDEX.changes(day("2018-02-15"), day("2018-08-15"));
    let area = |actor: &str| {
        ch.areas
            .iter()
            .find(|a| a.actor.as_str() == actor && a.kind == geodata::ZoneKind::Control)
            .unwrap_or_else(|| panic!("{actor} held ground on one of the days"))
    };
    assert!(
        area("syrian_government").gained_km2 > 1000.0,
        "{:?}",
        area("syrian_government")
    );
    assert!(
        area("opposition").lost_km2 > 1000.0,
        "{:?}",
        area("opposition")
    );
    assert!(ch.ended.contains(&zone("opposition_daraa_until_2018_06")));
    assert!(ch.began.contains(&zone("gov_south_west_from_2018_08")));
}

#[test]
fn a_single_covering_query_on_the_default_set_agrees_with_the_batch_path() {
    let pts: Vec<(f64, f64)> =
        zone_index::synthetic::uniform_points(20_000, [35.5, 32.3, 42.5, 37.4], 8);
    let at = Some(day("2018-07-23"));
    let many = INDEX.covering_many(&pts, at);
    for (i, &(lon, lat)) in pts.iter().enumerate() {
        assert_eq!(many[i], INDEX.covering(lon, lat, at));
    }
}

#[test]
fn nearest_outside_is_nearest_without_the_covering_zones() {
    for (lon, lat, at) in [
        (36.1, 32.617, "2018-02-15"),
        (40.3094, 35.3361, "2018-02-07"),
        (36.2913, 33.5102, "2018-07-23"),
        (38.61778, 33.50583, "2017-06-01"),
    ] {
        let at = Some(day(at));
        let covering = INDEX.covering(lon, lat, at);
        let expected: Vec<usize> = INDEX
            .nearest(lon, lat, 4 + covering.len(), at)
            .into_iter()
            .filter(|n| !covering.iter().any(|c| c.zone == n.zone))
            .take(4)
            .map(|n| n.zone)
            .collect();
        let got: Vec<usize> = INDEX
            .nearest_outside(lon, lat, 4, at)
            .into_iter()
            .map(|n| n.zone)
            .collect();
        assert_eq!(got, expected, "{lon}, {lat}");
    }
}
