use std::path::Path;
use std::sync::Arc;

use zone_index::ZoneIndex;

use crate::support::day;

fn fixture() -> ZoneIndex {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../geodata/tests/fixtures/good-minimal");
    let data = geodata::load_dir(&dir).expect("the good-minimal fixture is valid");
    ZoneIndex::new(Arc::new(data))
}

fn ids(index: &ZoneIndex, zones: impl IntoIterator<Item = usize>) -> Vec<String> {
    zones
        .into_iter()
        .map(|z| index.dataset().zones[z].meta.id.to_string())
        .collect()
}

#[test]
fn the_blue_square_covers_its_centre_only_inside_its_period() {
    let index = fixture();
    let hits = |d: &str| {
        ids(
            &index,
            index
                .covering(36.1, 33.1, Some(day(d)))
                .iter()
                .map(|c| c.zone),
        )
    };
    assert_eq!(hits("2018-01-01"), ["blue_square"]);
    assert_eq!(hits("2018-06-30"), ["blue_square"]);
    assert!(hits("2017-12-31").is_empty());
    assert!(hits("2018-07-01").is_empty());
}

#[test]
fn the_blue_square_corner_is_on_its_boundary() {
    let index = fixture();
    let c = index.covering(36.0, 33.0, None);
    assert_eq!(ids(&index, c.iter().map(|c| c.zone)), ["blue_square"]);
    assert!(c[0].on_boundary);
}

#[test]
fn the_timeline_at_the_blue_square_opens_and_closes_with_its_period() {
    let index = fixture();
    let spans = index.timeline(36.1, 33.1);
    let blue = spans
        .iter()
        .find(|s| !s.zones.is_empty())
        .expect("one covered span");
    assert_eq!(blue.period.from(), Some(day("2018-01-01")));
    assert_eq!(spans.first().map(|s| s.zones.is_empty()), Some(true));
}

#[test]
fn changes_over_the_first_half_of_2018_show_the_blue_square_ending() {
    let index = fixture();
    let ch = index.changes(day("2018-03-01"), day("2018-07-15"));
    assert_eq!(ids(&index, ch.ended.iter().copied()), ["blue_square"]);
    assert_eq!(ids(&index, ch.began.iter().copied()), ["red_band_10km"]);
    let blue = ch
        .areas
        .iter()
        .find(|a| a.actor.as_str() == "blue")
        .expect("blue held an area");
    // 0.2 x 0.2 degrees at 33 N: about 22.2 km x 18.7 km.
    assert!((blue.from_km2 - 413.0).abs() < 10.0, "{}", blue.from_km2);
    assert_eq!(blue.to_km2, 0.0);
    assert!((blue.lost_km2 - blue.from_km2).abs() < 1e-6);
}

#[test]
fn the_nearest_zone_to_a_point_west_of_the_square_is_the_square_at_its_west_edge() {
    let index = fixture();
    let n = index.nearest(35.9, 33.1, 1, Some(day("2018-03-01")));
    assert_eq!(ids(&index, n.iter().map(|n| n.zone)), ["blue_square"]);
    // 0.1 degree of longitude at 33.1 N: about 9.34 km.
    assert!(
        (n[0].distance_km - 9.34).abs() < 0.05,
        "{}",
        n[0].distance_km
    );
    assert!((n[0].boundary_point.0 - 36.0).abs() < 1e-6);
}
