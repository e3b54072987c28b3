//! The embedded default data set: what it must hold, that it round-trips through files, that
//! written GeoJSON follows RFC 7946, and that rule-derived buffers are geodesically accurate.

use geo::{Distance, Euclidean, LineString, MultiPolygon, Point, Winding};
use geodata::{Dataset, GeometryKind, Rule, ZoneKind, geodesy};

fn data() -> Dataset {
    Dataset::embedded()
}

#[test]
fn loading_writing_and_loading_again_gives_the_same_dataset() {
    let first = data();
    let dir = std::env::temp_dir().join(format!("zonetrack-roundtrip-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    first.write_dir(&dir).unwrap();
    let second = geodata::load_dir(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(first, second);
}

#[test]
fn the_default_set_holds_what_the_issue_asks_for() {
    let d = data();
    for actor in [
        "iran",
        "russia",
        "us_coalition",
        "sdf",
        "syrian_government",
        "turkey",
        "opposition",
        "isis",
        "israel",
        "un",
    ] {
        assert!(d.actor(actor).is_some(), "actor {actor}");
    }
    assert!(d.locations.len() >= 25);
    assert!(d.events.len() >= 15);
    for layer in [
        "syria",
        "governorates",
        "rivers",
        "golan_lines",
        "undof_aos",
    ] {
        assert!(
            d.reference_layer(layer).is_some(),
            "reference layer {layer}"
        );
    }
    assert_eq!(
        d.reference_layer("governorates").unwrap().features.len(),
        14
    );
    let rules = |pred: &dyn Fn(&Rule) -> bool| {
        d.zones
            .iter()
            .filter(|z| z.rule.as_ref().is_some_and(pred))
            .count()
    };
    assert!(
        rules(&|r| matches!(r, Rule::Split { .. })) >= 1,
        "a split rule east of the Euphrates"
    );
    let golan_bands = d
        .zones
        .iter()
        .filter(|z| z.kind == ZoneKind::DemandedExclusion)
        .filter(
            |z| matches!(&z.rule, Some(Rule::Buffer { of, .. }) if of.as_str() == "golan_line_a"),
        )
        .count();
    assert!(
        golan_bands >= 6,
        "Iran-free bands as buffer rules of Line A: {golan_bands}"
    );
    for id in [
        "shayrat_airbase",
        "khan_shaykhun",
        "al_tanf",
        "hmeimim",
        "tartus_naval_facility",
    ] {
        assert!(
            d.locations.iter().any(|l| l.meta.id.as_str() == id),
            "location {id}"
        );
    }
    for z in &d.zones {
        assert!(!z.meta.sources.is_empty(), "{} has sources", z.meta.id);
    }
}

#[test]
fn exported_layers_follow_rfc_7946() {
    let d = data();
    for name in d.catalog().into_iter().map(|l| l.id) {
        let fc = d.export_layer(&name, None).unwrap();
        assert!(fc.get("crs").is_none());
        let features = fc["features"].as_array().unwrap();
        let keys = |f: &serde_json::Value| -> Vec<String> {
            f["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        let first = keys(&features[0]);
        let ty = d.layer_info(&name).unwrap().geometry.geojson_type();
        for f in features {
            assert_eq!(
                keys(f),
                first,
                "same property set on every feature of {name}"
            );
            assert_eq!(f["geometry"]["type"], ty, "{name}: one geometry type");
            assert!(f["id"].is_u64(), "{name}: integer ids");
        }
        for f in features {
            let coords = f["geometry"]["coordinates"].to_string();
            for number in
                coords.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e'))
            {
                if let Some((_, decimals)) = number.split_once('.') {
                    assert!(
                        decimals.len() <= 7,
                        "{name}: {number} has more than 7 decimals"
                    );
                }
            }
        }
    }
    let polygons = d.zones.iter().map(|z| &*z.geometry).chain(
        d.reference
            .iter()
            .filter(|l| l.kind == GeometryKind::Polygon)
            .flat_map(|l| {
                l.features.iter().filter_map(|f| match &f.geometry {
                    geo::Geometry::MultiPolygon(mp) => Some(mp),
                    _ => None,
                })
            }),
    );
    for mp in polygons {
        for p in mp {
            assert!(
                p.exterior().is_ccw(),
                "exterior rings run counter-clockwise"
            );
            assert!(
                p.interiors().iter().all(|h| h.is_cw()),
                "holes run clockwise"
            );
        }
    }
}

/// Within about 5 m of a clip polygon's boundary: the clip sources (two Natural Earth editions)
/// differ by a metre or two where they should coincide, so an intersection vertex can sit
/// that far from either.
fn on_boundary_of(p: Point<f64>, mp: &MultiPolygon<f64>) -> bool {
    mp.iter()
        .flat_map(|poly| std::iter::once(poly.exterior()).chain(poly.interiors()))
        .any(|ring| Euclidean.distance(&p, ring) < 5e-5)
}

/// Every vertex of a derived buffer lies within 0.5 km of the stated geodesic distance from the
/// source, except where the clip area or a subtracted zone cuts it.
#[test]
fn buffer_rule_boundaries_lie_at_their_stated_geodesic_distance() {
    let d = data();
    let polygon_of = |id: &str| -> MultiPolygon<f64> {
        if let Some(z) = d.zones.iter().find(|z| z.meta.id.as_str() == id) {
            return (*z.geometry).clone();
        }
        d.reference
            .iter()
            .flat_map(|l| &l.features)
            .find(|f| f.meta.id.as_str() == id)
            .and_then(|f| match &f.geometry {
                geo::Geometry::MultiPolygon(mp) => Some(mp.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{id} is a polygon"))
    };
    let mut checked = 0;
    for z in &d.zones {
        let Some(Rule::Buffer {
            of,
            distance_km,
            clip_to,
            minus,
        }) = &z.rule
        else {
            continue;
        };
        let cutters: Vec<MultiPolygon<f64>> = clip_to
            .iter()
            .chain(minus)
            .map(|id| polygon_of(id.as_str()))
            .collect();
        let source: Box<dyn Fn(Point<f64>) -> f64> =
            if let Some(l) = d.locations.iter().find(|l| l.meta.id == *of) {
                let c = l.point;
                Box::new(move |p| geodesy::distance_km(p, c))
            } else {
                let f = d
                    .reference
                    .iter()
                    .flat_map(|l| &l.features)
                    .find(|f| f.meta.id == *of)
                    .unwrap();
                let lines: Vec<LineString<f64>> = match &f.geometry {
                    geo::Geometry::MultiLineString(ml) => ml.0.clone(),
                    other => panic!("{of} is {other:?}"),
                };
                Box::new(move |p| {
                    lines
                        .iter()
                        .map(|l| geodesy::distance_to_line_km(p, l).0)
                        .fold(f64::INFINITY, f64::min)
                })
            };
        for poly in z.geometry.iter() {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for p in ring.points() {
                    let km = source(p);
                    if (km - distance_km).abs() <= 0.5 {
                        checked += 1;
                        continue;
                    }
                    assert!(
                        km < distance_km + 0.5 && cutters.iter().any(|c| on_boundary_of(p, c)),
                        "{}: vertex {p:?} is {km:.3} km from {of}, not {distance_km} km, and not on a clip boundary",
                        z.meta.id
                    );
                }
            }
        }
    }
    assert!(checked > 1000, "checked {checked} buffer vertices");
}
