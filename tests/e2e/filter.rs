//! CQL2 filters as QGIS writes them: its OAPIF provider compiles a layer's filter expression
//! to CQL2 text (qgis/QGIS: src/providers/wfs/oapif/qgsoapifcql2textexpressioncompiler.cpp).
//! Each form that compiler emits is sent to the real server and must select what the same test
//! done on the exported file selects.

use e2e::{Server, query_escape};
use serde_json::Value;

/// The keys of the zones `filter` selects.
fn filtered(server: &Server, filter: &str) -> Vec<String> {
    let path = format!(
        "/collections/zones/items?limit=10000&filter={}",
        query_escape(filter)
    );
    let (status, _, body) = server.get(&path);
    assert_eq!(status, 200, "{filter}: {}", String::from_utf8_lossy(&body));
    let doc: Value = serde_json::from_slice(&body).expect("JSON");
    keys(&doc)
}

fn keys(doc: &Value) -> Vec<String> {
    doc["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| f["properties"]["key"].as_str().expect("key").to_owned())
        .collect()
}

#[test]
fn every_form_qgis_compiles_a_filter_to_selects_what_the_same_test_on_the_export_does() {
    let server = Server::start(&[]);
    let export = server.get_json("/export/zones.geojson");
    let features = export["features"].as_array().expect("features");
    let text = |f: &Value, k: &str| f["properties"][k].as_str().map(str::to_owned);
    let by_hand = |test: &dyn Fn(&Value) -> bool| -> Vec<String> {
        features
            .iter()
            .filter(|f| test(f))
            .map(|f| text(f, "key").expect("key"))
            .collect()
    };
    let actor = |f: &Value| text(f, "actor").unwrap_or_default();
    let from = |f: &Value| text(f, "valid_from");
    let box_keys =
        keys(&server.get_json("/collections/zones/items?limit=10000&bbox=35.6,32.2,36.6,33.2"));
    // (the compiler's output, the same test by hand)
    let cases: Vec<(&str, Vec<String>)> = vec![
        // Binary operators are parenthesised; literals quoted with ''.
        ("(actor = 'iran')", by_hand(&|f| actor(f) == "iran")),
        ("(actor <> 'iran')", by_hand(&|f| actor(f) != "iran")),
        // Identifiers with anything but letters and digits are double-quoted; a date field
        // compared with a date string becomes DATE(..), a date-time TIMESTAMP(..).
        (
            "(\"valid_from\" >= DATE('2018-01-01'))",
            by_hand(&|f| from(f).is_some_and(|d| d.as_str() >= "2018-01-01")),
        ),
        (
            "(\"valid_from\" < TIMESTAMP('2018-01-01T00:00:00.000Z'))",
            by_hand(&|f| from(f).is_some_and(|d| d.as_str() < "2018-01-01")),
        ),
        (
            "(\"valid_to\" IS NULL)",
            by_hand(&|f| f["properties"]["valid_to"].is_null()),
        ),
        (
            "(NOT ((\"valid_to\" IS NULL)))",
            by_hand(&|f| !f["properties"]["valid_to"].is_null()),
        ),
        (
            "(name LIKE '%Iran%')",
            by_hand(&|f| text(f, "name").is_some_and(|n| n.contains("Iran"))),
        ),
        (
            "(name NOT LIKE '%Iran%')",
            by_hand(&|f| text(f, "name").is_some_and(|n| !n.contains("Iran"))),
        ),
        (
            "actor IN ('iran','russia')",
            by_hand(&|f| matches!(actor(f).as_str(), "iran" | "russia")),
        ),
        (
            "actor NOT IN ('iran','russia')",
            by_hand(&|f| !matches!(actor(f).as_str(), "iran" | "russia")),
        ),
        (
            "confidence BETWEEN 'high' AND 'low'",
            by_hand(&|f| {
                text(f, "confidence").is_some_and(|c| ("high"..="low").contains(&c.as_str()))
            }),
        ),
        (
            "confidence NOT BETWEEN 'high' AND 'low'",
            by_hand(&|f| {
                text(f, "confidence").is_some_and(|c| !("high"..="low").contains(&c.as_str()))
            }),
        ),
        (
            "((actor = 'iran') AND (confidence = 'medium'))",
            by_hand(&|f| actor(f) == "iran" && text(f, "confidence").as_deref() == Some("medium")),
        ),
        (
            "((actor = 'iran') OR (actor = 'usa'))",
            by_hand(&|f| matches!(actor(f).as_str(), "iran" | "usa")),
        ),
        ("TRUE", by_hand(&|_| true)),
        // intersects_bbox($geometry, geom_from_wkt(..)) and intersects(.., POINT): no spaces.
        (
            "S_INTERSECTS(geometry,BBOX(35.6,32.2,36.6,33.2))",
            box_keys.clone(),
        ),
    ];
    for (filter, expected) in &cases {
        assert_eq!(&filtered(&server, filter), expected, "{filter}");
    }
    let point = filtered(&server, "S_INTERSECTS(geometry,POINT(36.1 32.6))");
    let covering = server.get_json("/query/point?lon=36.1&lat=32.6&nearest=0");
    let mut expected: Vec<String> = covering["covering"]
        .as_array()
        .expect("covering")
        .iter()
        .map(|z| z["key"].as_str().expect("key").to_owned())
        .collect();
    let mut point_sorted = point.clone();
    point_sorted.sort();
    expected.sort();
    // Without datetime /query/point answers over every date, as the filter does.
    assert_eq!(point_sorted, expected);
    assert!(!point.is_empty());
    // The filters that select something are not all the same: the cases tell apart.
    assert!(
        cases
            .iter()
            .any(|(_, e)| !e.is_empty() && e.len() < features.len())
    );
}
