//! Every validation rule has a bad fixture (`fixtures/bad/<layer>-<case>.geojson`, which replaces
//! that layer's file in the small good data set `fixtures/good-minimal/`) and the exact messages
//! it must produce.

use std::path::Path;

use geodata::{DataFile, Dataset, load_dir, load_files};

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

/// The good data set's files, with `replace` (e.g. `zones.geojson`) read from `bad_file` instead.
fn files_with(replace: &str, bad_file: &str) -> Vec<DataFile> {
    let good = fixtures().join("good-minimal");
    let mut names = vec![
        "actors.json".to_string(),
        "zones.geojson".into(),
        "locations.geojson".into(),
        "events.geojson".into(),
        "reference/outline.geojson".into(),
        "reference/lines.geojson".into(),
    ];
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let path = if name == replace {
                fixtures().join("bad").join(bad_file)
            } else {
                good.join(&name)
            };
            DataFile {
                text: std::fs::read_to_string(path).map_err(|e| e.to_string()),
                name,
            }
        })
        .collect()
}

fn messages(replace: &str, bad_file: &str) -> Vec<String> {
    match load_files("data", files_with(replace, bad_file)) {
        Ok(_) => vec![],
        Err(problems) => problems.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn the_good_minimal_fixture_loads_with_its_rule_derived() {
    let data = load_dir(&fixtures().join("good-minimal")).unwrap();
    assert_eq!(data.zones.len(), 2);
    let band = &data.zones[1];
    assert!(band.rule.is_some());
    assert!(!band.geometry.0.is_empty());
    assert_eq!(data.reference.len(), 2);
}

macro_rules! bad_fixture {
    ($($test:ident: $layer:literal, $file:literal => [$($msg:literal),+ $(,)?];)+) => {
        $(
            #[test]
            fn $test() {
                let expected: Vec<String> = vec![$($msg.to_string()),+];
                assert_eq!(messages($layer, $file), expected);
            }
        )+
        /// Every fixture file the tests above use.
        const TESTED: &[&str] = &[$($file),+];
    };
}

bad_fixture! {
    a_file_that_is_not_json_is_named_with_line_and_column: "zones.geojson", "zones-not-json.geojson" => [
        "data/zones.geojson: not valid JSON at line 3, column 0: EOF while parsing a value",
    ];
    // The fast path keeps each feature as text and reads it later, in parallel: a feature
    // that is not JSON still makes the file "not valid JSON", at the right place.
    a_feature_that_is_not_json_is_named_with_line_and_column: "zones.geojson", "zones-feature-not-json.geojson" => [
        "data/zones.geojson: not valid JSON at line 6, column 10: expected value",
    ];
    json_that_is_not_a_feature_collection_is_rejected: "zones.geojson", "zones-not-geojson.geojson" => [
        "data/zones.geojson: not GeoJSON: \"type\" is \"Topology\"; a layer file is a FeatureCollection",
    ];
    a_point_in_the_zones_layer_is_the_wrong_geometry_type: "zones.geojson", "zones-wrong-geometry-type.geojson" => [
        "data/zones.geojson: features[0] \"blue_square\": geometry: is a Point; this layer holds Polygon or MultiPolygon",
    ];
    a_ring_that_is_not_closed_is_reported: "zones.geojson", "zones-ring-not-closed.geojson" => [
        "data/zones.geojson: features[0] \"blue_square\": geometry: the exterior ring is not closed: its last position must repeat its first",
    ];
    a_ring_under_four_positions_is_reported: "zones.geojson", "zones-ring-too-short.geojson" => [
        "data/zones.geojson: features[0] \"blue_square\": geometry: the exterior ring has 3 positions; a closed ring needs at least 4",
    ];
    a_self_intersecting_ring_is_an_invalid_polygon: "zones.geojson", "zones-self-intersecting-ring.geojson" => [
        "data/zones.geojson: features[0] \"blue_square\": geometry: invalid polygon: polygon at index 0 is invalid: exterior ring has a self-intersection",
    ];
    a_longitude_out_of_range_is_reported_with_its_position: "zones.geojson", "zones-longitude-out-of-range.geojson" => [
        "data/zones.geojson: features[0] \"blue_square\": geometry: position [236.2, 33] has a longitude outside -180..180 (is it [lat, lon]? GeoJSON is [lon, lat])",
    ];
    a_latitude_out_of_range_hints_at_swapped_axes: "zones.geojson", "zones-latitude-out-of-range.geojson" => [
        "data/zones.geojson: features[0] \"blue_square\": geometry: position [33, 136.2] has a latitude outside -90..90 (is it [lat, lon]? GeoJSON is [lon, lat])",
    ];
    a_duplicate_id_names_the_first_use: "zones.geojson", "zones-duplicate-id.geojson" => [
        "data/zones.geojson: features[1] \"blue_square\": id: duplicate id \"blue_square\": features[0] already uses it; ids must be unique in a layer",
    ];
    an_unknown_actor_lists_the_known_ones: "zones.geojson", "zones-unknown-actor.geojson" => [
        "data/zones.geojson: features[0] \"blue_square\": actor: unknown actor \"green\"; actors.json defines: blue, red",
    ];
    an_unparseable_date_is_reported: "zones.geojson", "zones-unparseable-date.geojson" => [
        "data/zones.geojson: features[0] \"blue_square\": valid_from: \"2018-02-30\" is not a date: write YYYY-MM-DD (a real day), or null for an open end",
    ];
    valid_from_after_valid_to_is_reported: "zones.geojson", "zones-valid-from-after-valid-to.geojson" => [
        "data/zones.geojson: features[0] \"blue_square\": valid_from: starts on 2018-07-01, after it ends on 2018-06-30",
    ];
    missing_sources_are_reported: "zones.geojson", "zones-missing-sources.geojson" => [
        "data/zones.geojson: features[0] \"blue_square\": sources: needs at least one source ({\"title\": ..., \"publisher\" or \"url\": ...})",
    ];
    a_missing_confidence_is_reported: "zones.geojson", "zones-missing-confidence.geojson" => [
        "data/zones.geojson: features[0] \"blue_square\": confidence: is missing",
    ];
    a_misspelt_property_is_not_silently_ignored: "zones.geojson", "zones-unknown-property.geojson" => [
        "data/zones.geojson: features[0] \"blue_square\": valid_form: is not a known property (a typo?); known properties are: name, description, confidence, method, sources, actor, kind, valid_from, valid_to, rule",
    ];
    a_rule_that_names_a_missing_feature_is_reported: "zones.geojson", "zones-rule-names-a-missing-feature.geojson" => [
        "data/zones.geojson: features[1] \"red_band_10km\": rule.of: names \"golan_line_x\", which no zone, location or reference feature has as its id",
    ];
    rules_that_depend_on_each_other_in_a_circle_are_reported: "zones.geojson", "zones-rule-cycle.geojson" => [
        "data/zones.geojson: features[0] \"a\": rule: rules depend on each other in a circle: a -> b -> a",
    ];
    // Issue 15: opposing control zones overlapped unnoticed. Presence overlapping control, and
    // one actor's zones of days that do not meet, are fine.
    control_zones_of_two_actors_on_the_same_day_must_not_overlap: "zones.geojson", "zones-control-overlap.geojson" => [
        "data/zones.geojson: features[1] \"red_square\": geometry: overlaps \"blue_square\" (blue's control) by 103.5 km² on 2018-03-01/2018-06-30; two actors cannot control the same ground on the same day: move the edge or end one zone",
    ];
    two_actors_with_one_colour_are_reported: "actors.json", "actors-duplicate-colour.json" => [
        "data/actors.json: features[1] \"red\": colour: #1f77b4 is already \"blue\"'s colour; the map tells actors apart by colour",
    ];
    an_id_used_in_two_layers_is_reported: "locations.geojson", "locations-id-in-other-layer.geojson" => [
        "data/locations.geojson: features[1] \"blue_square\": id: a feature of zones already has this id; ids must be unique across layers, so that rules and links naming one are never ambiguous",
    ];
    a_date_aware_remainder_rule_cannot_be_read_by_another_rule: "zones.geojson", "zones-remainder-named-by-a-rule.geojson" => [
        "data/zones.geojson: features[1] \"red_band_10km\": rule.minus[0]: names \"blue_rest\", which is not a zone of one geometry (a remainder rule changes with the date)",
    ];
    // The fast path reads `properties` apart from the rest of a feature: when it is not an
    // object, the feature is still read and the problem named, as the general path names it.
    properties_that_are_not_an_object_are_named: "zones.geojson", "zones-properties-not-an-object.geojson" => [
        "data/zones.geojson: features[0] \"blue_square\": properties: must be an object",
        "data/zones.geojson: features[0] \"blue_square\": name: is missing",
        "data/zones.geojson: features[0] \"blue_square\": confidence: is missing",
        "data/zones.geojson: features[0] \"blue_square\": method: is missing",
        "data/zones.geojson: features[0] \"blue_square\": sources: needs at least one source ({\"title\": ..., \"publisher\" or \"url\": ...})",
        "data/zones.geojson: features[0] \"blue_square\": actor: is missing",
        "data/zones.geojson: features[0] \"blue_square\": kind: is missing",
    ];
    a_zone_with_both_geometry_and_rule_is_reported: "zones.geojson", "zones-geometry-and-rule.geojson" => [
        "data/zones.geojson: features[0] \"blue_square\": geometry: a zone has either a geometry or a rule, not both: set geometry to null or remove the rule",
    ];
}

#[test]
fn every_bad_fixture_has_a_test() {
    for entry in std::fs::read_dir(fixtures().join("bad")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            TESTED.contains(&name.as_str()),
            "fixtures/bad/{name} has no test"
        );
    }
}

#[test]
fn problems_in_several_files_are_all_reported_at_once() {
    let mut files = files_with("zones.geojson", "zones-unknown-actor.geojson");
    for f in &mut files {
        if f.name == "events.geojson" {
            f.text = Ok(f.text.as_ref().unwrap().replace("\"town\"", "\"village\""));
        }
    }
    let problems = load_files("data", files).unwrap_err();
    let text = problems.to_string();
    assert_eq!(problems.0.len(), 2, "{text}");
    assert!(text.contains("unknown actor"), "{text}");
    assert!(
        text.contains(
            "events.geojson: features[0] \"clash\": location: unknown location \"village\""
        ),
        "{text}"
    );
}

#[test]
fn the_embedded_data_set_is_valid() {
    if let Err(problems) = Dataset::try_embedded() {
        panic!("{problems}");
    }
}

/// A copy of the good fixture in a fresh temporary folder, removed on drop.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let root = std::env::temp_dir().join(format!("zt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join("data");
        std::fs::create_dir_all(dir.join("reference")).expect("a scratch folder");
        let good = fixtures().join("good-minimal");
        for name in [
            "actors.json",
            "zones.geojson",
            "locations.geojson",
            "events.geojson",
            "reference/outline.geojson",
            "reference/lines.geojson",
        ] {
            std::fs::copy(good.join(name), dir.join(name)).expect("the fixture copies");
        }
        Scratch(root)
    }
    fn data(&self) -> std::path::PathBuf {
        self.0.join("data")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn problems_of(dir: &Path) -> Vec<String> {
    match geodata::load_dir_named(dir, "") {
        Ok(_) => vec![],
        Err(geodata::GeodataError::Invalid(p)) => p.0.iter().map(ToString::to_string).collect(),
        Err(other) => panic!("{other}"),
    }
}

#[test]
fn a_data_file_over_the_size_limit_is_refused_unread() {
    // Regression (issue 10): the loader read a file of any size.
    let scratch = Scratch::new("size");
    let big = std::fs::File::create(scratch.data().join("events.geojson")).unwrap();
    // Sparse: no disk is used, and nothing is read.
    big.set_len(geodata::MAX_FILE_BYTES + 1).unwrap();
    assert_eq!(
        problems_of(&scratch.data()),
        [
            "events.geojson: cannot read the file: the file is 257 MiB, over the 256 MiB limit for one data file"
        ]
    );
}

#[test]
fn symbolic_links_out_of_the_data_folder_are_not_followed() {
    // Regression (issue 10): a link to a file elsewhere was read and published.
    let scratch = Scratch::new("links");
    let outside = scratch.0.join("outside.geojson");
    std::fs::rename(scratch.data().join("events.geojson"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, scratch.data().join("events.geojson")).unwrap();
    let shown = problems_of(&scratch.data());
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(
        shown[0].starts_with("events.geojson: cannot read the file: it is a symbolic link that leads out of the data folder"),
        "{shown:?}"
    );
    assert!(
        !shown[0].contains(&*scratch.0.to_string_lossy()),
        "{shown:?}"
    );
    // A link that stays inside is fine.
    std::fs::remove_file(scratch.data().join("events.geojson")).unwrap();
    std::fs::rename(&outside, scratch.data().join("events.real")).unwrap();
    std::os::unix::fs::symlink("events.real", scratch.data().join("events.geojson")).unwrap();
    assert_eq!(problems_of(&scratch.data()), Vec::<String>::new());
    // A reference folder that is a link out of the data folder is refused whole.
    let elsewhere = scratch.0.join("ref-elsewhere");
    std::fs::rename(scratch.data().join("reference"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, scratch.data().join("reference")).unwrap();
    let shown = problems_of(&scratch.data());
    assert!(
        shown
            .iter()
            .any(|p| p.starts_with("reference: cannot read the file: it is a symbolic link")),
        "{shown:?}"
    );
}
