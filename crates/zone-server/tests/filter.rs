//! OGC API - Features Parts 2 and 3 in-process (issue 16): queryables, CQL2 filters in both
//! encodings on items, exports and `/query/points`, their errors, the CRS parameters, and a
//! property test holding random filters built from the queryables to the same selection done
//! by hand on the exported file.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use geo::Intersects as _;
use geodata::Dataset;
use proptest::prelude::*;
use serde_json::Value;
use zone_server::{AppState, Config, Snapshot};

mod common;
use common::{Answer, send_blocking};

static STATE: LazyLock<Arc<AppState>> =
    LazyLock::new(|| AppState::new(Snapshot::new(Dataset::embedded()), Config::default()));

fn send(req: Request<Body>) -> Answer {
    send_blocking(&STATE, req)
}

fn post_csv(uri: &str, body: String) -> Answer {
    send(common::req(
        "POST",
        uri,
        &[("content-type", "text/csv")],
        body,
    ))
}

fn get(uri: &str) -> Answer {
    send(
        Request::get(uri)
            .header(header::HOST, "zt.test")
            .body(Body::empty())
            .unwrap(),
    )
}

/// `path?name=value&...`, each value percent-encoded.
fn url(path: &str, params: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    format!("{path}?{}", ser.finish())
}

/// The keys of the zones an items request with `params` returns (one page of all).
fn keys(params: &[(&str, &str)]) -> Vec<String> {
    let mut p = params.to_vec();
    p.push(("limit", "10000"));
    let a = get(&url("/collections/zones/items", &p));
    assert_eq!(
        a.status,
        200,
        "{params:?}: {}",
        String::from_utf8_lossy(&a.body)
    );
    let doc = a.json();
    assert_eq!(
        doc["numberMatched"].as_u64().unwrap() as usize,
        doc["features"].as_array().unwrap().len()
    );
    doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["key"].as_str().unwrap().to_owned())
        .collect()
}

fn filter(text: &str) -> Vec<String> {
    keys(&[("filter", text)])
}

fn error(uri: &str) -> String {
    let a = get(uri);
    assert_eq!(a.status, 400, "{uri}");
    assert_eq!(a.header("content-type"), "application/json");
    let doc = a.json();
    assert_eq!(doc["code"], "InvalidParameterValue", "{doc}");
    doc["description"].as_str().unwrap().to_owned()
}

#[test]
fn conformance_lists_the_crs_queryables_filter_and_cql2_classes() {
    let doc = get("/conformance").json();
    let classes = common::conformance_classes(&doc);
    for c in [
        "ogcapi-features-2/1.0/conf/crs",
        "ogcapi-features-3/1.0/conf/queryables",
        "ogcapi-features-3/1.0/conf/queryables-query-parameters",
        "ogcapi-features-3/1.0/conf/filter",
        "ogcapi-features-3/1.0/conf/features-filter",
        "cql2/1.0/conf/basic-cql2",
        "cql2/1.0/conf/advanced-comparison-operators",
        "cql2/1.0/conf/basic-spatial-functions",
        "cql2/1.0/conf/spatial-functions",
        "cql2/1.0/conf/temporal-functions",
        "cql2/1.0/conf/cql2-text",
        "cql2/1.0/conf/cql2-json",
    ] {
        assert!(classes.iter().any(|x| x.ends_with(c)), "{c}");
    }
}

#[test]
fn queryables_are_a_json_schema_of_the_filterable_properties() {
    let a = get("/collections/zones/queryables");
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), "application/schema+json");
    let doc = a.json();
    assert_eq!(
        doc["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(doc["$id"], "http://zt.test/collections/zones/queryables");
    assert_eq!(doc["type"], "object");
    assert_eq!(doc["additionalProperties"], false);
    let props = doc["properties"].as_object().unwrap();
    for name in ["actor", "kind", "confidence", "method", "name"] {
        assert_eq!(props[name]["type"], "string", "{name}");
    }
    assert_eq!(props["valid_from"]["format"], "date");
    assert_eq!(props["valid"]["type"], "array");
    assert_eq!(props["geometry"]["format"], "geometry-multipolygon");
    // Lists are not comparable, so not queryable.
    assert!(!props.contains_key("sources"));
    // Found from the collection and from the items' Link header.
    let c = get("/collections/zones").json();
    let q = c["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/queryables")
        .unwrap();
    assert_eq!(q["href"], "http://zt.test/collections/zones/queryables");
    assert_eq!(q["type"], "application/schema+json");
    let items = get("/collections/zones/items?limit=1");
    assert!(
        items.header("link").contains(
            "<http://zt.test/collections/zones/queryables>; rel=\"http://www.opengis.net/def/rel/ogc/1.0/queryables\""
        ),
        "{}",
        items.header("link")
    );
    assert_eq!(
        get("/collections/nowhere/queryables").status,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn text_and_json_filters_select_what_the_equality_parameter_does() {
    let by_param = keys(&[("actor", "iran")]);
    assert!(!by_param.is_empty());
    assert_eq!(filter("actor = 'iran'"), by_param);
    assert_eq!(
        keys(&[
            ("filter-lang", "cql2-json"),
            (
                "filter",
                r#"{"op":"=","args":[{"property":"actor"},"iran"]}"#
            )
        ]),
        by_param
    );
    // Literal first, as CQL2 allows.
    assert_eq!(filter("'iran' = actor"), by_param);
    assert!(filter("actor = 'nobody'").is_empty());
    let all = keys(&[]);
    assert_eq!(filter("TRUE"), all);
    assert!(filter("FALSE").is_empty());
}

#[test]
fn every_simple_queryable_is_also_a_query_parameter() {
    let rule = keys(&[("method", "rule")]);
    assert!(!rule.is_empty());
    assert_eq!(rule, filter("method = 'rule'"));
    assert_eq!(
        keys(&[("valid_from", "2017-12-15"), ("confidence", "medium")]),
        filter("valid_from = DATE('2017-12-15') AND confidence = 'medium'")
    );
    assert_eq!(
        keys(&[("method", "rule"), ("filter", "actor = 'sdf'")]),
        filter("method = 'rule' AND actor = 'sdf'")
    );
    let e = error("/collections/zones/items?valid_from=2018-13-01");
    assert!(e.starts_with("valid_from:"), "{e}");
    // Not simple values: the period and the geometry are for filters only.
    assert_eq!(
        get("/collections/zones/items?valid=2018").json()["code"],
        "UnknownParameter"
    );
    let api = get("/api").json();
    let names: Vec<&str> = api["paths"]["/collections/zones/items"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for n in ["actor", "method", "name", "valid_from"] {
        assert!(names.contains(&n), "{n}: {names:?}");
    }
}

#[test]
fn advanced_comparisons_like_between_and_in() {
    let all = get("/export/zones.geojson").json();
    let features = all["features"].as_array().unwrap();
    let prop = |f: &Value, k: &str| f["properties"][k].as_str().map(str::to_owned);
    let by = |test: &dyn Fn(&Value) -> bool| -> Vec<String> {
        features
            .iter()
            .filter(|f| test(f))
            .map(|f| prop(f, "key").unwrap())
            .collect()
    };
    assert_eq!(
        filter("actor IN ('iran', 'russia')"),
        by(&|f| matches!(prop(f, "actor").as_deref(), Some("iran" | "russia")))
    );
    assert_eq!(
        filter("actor NOT IN ('iran', 'russia')"),
        by(&|f| !matches!(prop(f, "actor").as_deref(), Some("iran" | "russia")))
    );
    assert_eq!(
        filter("key LIKE '%pocket%'"),
        by(&|f| prop(f, "key").unwrap().contains("pocket"))
    );
    assert_eq!(
        filter("valid_from BETWEEN DATE('2018-01-01') AND DATE('2018-06-30')"),
        by(&|f| prop(f, "valid_from")
            .is_some_and(|d| ("2018-01-01"..="2018-06-30").contains(&d.as_str())))
    );
    // A text literal compared with a date property is read as a date.
    assert_eq!(
        filter("valid_from >= '2018-01-01'"),
        filter("valid_from >= DATE('2018-01-01')")
    );
    assert_eq!(
        filter("valid_to IS NULL"),
        by(&|f| f["properties"]["valid_to"].is_null())
    );
    // Three-valued logic: a null valid_to is neither after nor not after a date.
    let after = filter("valid_to > DATE('2018-06-01')");
    let not_after = filter("NOT (valid_to > DATE('2018-06-01'))");
    let open = filter("valid_to IS NULL");
    assert_eq!(after.len() + not_after.len() + open.len(), features.len());
}

#[test]
fn spatial_and_temporal_functions() {
    // A 1-degree box around Daraa.
    let boxed = filter("S_INTERSECTS(geometry, BBOX(35.6, 32.2, 36.6, 33.2))");
    assert!(!boxed.is_empty());
    assert_eq!(boxed, keys(&[("bbox", "35.6,32.2,36.6,33.2")]));
    let disjoint = filter("S_DISJOINT(geometry, BBOX(35.6, 32.2, 36.6, 33.2))");
    assert_eq!(boxed.len() + disjoint.len(), keys(&[]).len());
    assert!(boxed.iter().all(|k| !disjoint.contains(k)));
    // Within the whole of Syria's box: every zone that lies inside it, and a zone within
    // a box is one the box contains, whichever way round it is written.
    let within = filter("S_WITHIN(geometry, BBOX(35, 32, 43, 38))");
    assert!(!within.is_empty());
    assert_eq!(within, filter("S_CONTAINS(BBOX(35, 32, 43, 38), geometry)"));
    assert!(filter("S_WITHIN(geometry, BBOX(36, 33, 36.1, 33.1))").len() < within.len());
    let point = filter("S_INTERSECTS(geometry, POINT(36.1 32.6))");
    assert!(!point.is_empty() && point.iter().all(|k| boxed.contains(k)));
    // The validity period: the same as datetime's overlap.
    assert_eq!(
        filter("T_INTERSECTS(valid, INTERVAL('2018-02-01','2018-03-01'))"),
        keys(&[("datetime", "2018-02-01/2018-03-01")])
    );
    assert_eq!(
        filter("T_INTERSECTS(valid, DATE('2018-02-07'))"),
        keys(&[("datetime", "2018-02-07")])
    );
    assert_eq!(
        filter("T_INTERSECTS(valid, INTERVAL('..','2017-06-01'))"),
        keys(&[("datetime", "../2017-06-01")])
    );
    let before = filter("T_BEFORE(valid, DATE('2018-01-01'))");
    let rest = filter("NOT T_BEFORE(valid, DATE('2018-01-01'))");
    assert_eq!(before.len() + rest.len(), keys(&[]).len());
    // filter-crs: the same box with latitude first.
    assert_eq!(
        keys(&[
            (
                "filter",
                "S_INTERSECTS(geometry, BBOX(32.2, 35.6, 33.2, 36.6))"
            ),
            ("filter-crs", "http://www.opengis.net/def/crs/EPSG/0/4326")
        ]),
        boxed
    );
}

#[test]
fn a_bad_filter_is_a_400_that_says_what_and_where() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("filter", "actor = ")], "1:9"),
        (
            &[("filter", "colour_of_sky = 'blue'")],
            "\"colour_of_sky\" is not a queryable",
        ),
        (&[("filter", "actor > 5")], "compares text with a number"),
        (&[("filter", "actor")], "not true or false"),
        (
            &[(
                "filter",
                "S_INTERSECTS(geometry, BBOX(1000000,1000000,2000000,2000000))",
            )],
            "outside the world",
        ),
        (
            &[("filter", "valid_from > DATE('2018-02-30')")],
            "2018-02-30",
        ),
        (
            &[("filter", "actor = 'iran'"), ("filter-lang", "ecql")],
            "filter-lang:",
        ),
        (
            &[("filter-lang", "cql2-json"), ("filter", "actor = 'iran'")],
            "not valid CQL2 JSON",
        ),
        (&[("filter-lang", "cql2-text")], "give the filter too"),
        (&[("filter", "CASEI(actor) = 'iran'")], "cannot be compared"),
    ];
    for (params, says) in cases {
        let e = error(&url("/collections/zones/items", params));
        assert!(e.contains(says), "{params:?}: {e}");
    }
}

#[test]
fn exports_and_batches_take_the_same_filter() {
    let iran = filter("actor = 'iran'");
    let file = get(&url(
        "/export/zones.geojson",
        &[("filter", "actor = 'iran'")],
    ));
    assert_eq!(file.status, 200);
    let got: Vec<String> = file.json()["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, iran);
    assert_eq!(
        get(&url("/export/zones.fgb", &[("filter", "nope = 1")])).status,
        400
    );
    // A point some Iranian zone covers: the filter keeps only the zones it names.
    let features = get(&url(
        "/collections/zones/items",
        &[("filter", "actor = 'iran'"), ("limit", "1")],
    ))
    .json();
    let zone = &features["features"][0];
    let key = zone["properties"]["key"].as_str().unwrap();
    let day = zone["properties"]["valid_from"]
        .as_str()
        .unwrap_or("2018-01-01");
    let point = geo::InteriorPoint::interior_point(
        &geo::Geometry::<f64>::try_from(
            serde_json::from_value::<geojson::Geometry>(zone["geometry"].clone()).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let body = format!("lon,lat\n{},{}\n", point.x(), point.y());
    let batch = |f: &str| -> Value {
        let a = post_csv(
            &url("/query/points", &[("datetime", day), ("filter", f)]),
            body.clone(),
        );
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        Value::String(String::from_utf8(a.body).unwrap())
    };
    let kept = batch("actor = 'iran'");
    assert!(kept.as_str().unwrap().contains(key), "{kept}");
    let dropped = batch("actor <> 'iran'");
    assert!(!dropped.as_str().unwrap().contains(key), "{dropped}");
    let bad = post_csv("/query/points?filter=nope%3D1", body);
    assert_eq!(bad.status, 400);
}

#[test]
fn answers_come_in_the_crs_asked_for_and_say_which() {
    let first = |crs: Option<&str>| -> (Value, String) {
        let mut p = vec![("limit", "1")];
        if let Some(c) = crs {
            p.push(("crs", c));
        }
        let a = get(&url("/collections/locations/items", &p));
        assert_eq!(a.status, 200);
        let crs = a.header("content-crs").to_owned();
        (
            a.json()["features"][0]["geometry"]["coordinates"].clone(),
            crs,
        )
    };
    let (lonlat, crs) = first(None);
    assert_eq!(crs, "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>");
    let (latlon, crs) = first(Some("http://www.opengis.net/def/crs/EPSG/0/4326"));
    assert_eq!(crs, "<http://www.opengis.net/def/crs/EPSG/0/4326>");
    assert_eq!(latlon[0], lonlat[1]);
    assert_eq!(latlon[1], lonlat[0]);
    let (metres, crs) = first(Some("http://www.opengis.net/def/crs/EPSG/0/3857"));
    assert_eq!(crs, "<http://www.opengis.net/def/crs/EPSG/0/3857>");
    let x = metres[0].as_f64().unwrap();
    let lon = lonlat[0].as_f64().unwrap();
    assert!((x - lon.to_radians() * 6_378_137.0).abs() < 1e-3, "{x}");
    let id = get("/collections/locations/items?limit=1").json()["features"][0]["id"].clone();
    let one = get(&format!("/collections/locations/items/{id}?crs=EPSG:4326"));
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["geometry"]["coordinates"], latlon);
    assert_eq!(
        one.header("content-crs"),
        "<http://www.opengis.net/def/crs/EPSG/0/4326>"
    );
    let e = error("/collections/zones/items?crs=EPSG:2154");
    assert!(e.starts_with("crs:"), "{e}");
    // bbox-crs: the same box, latitude first, finds the same zones.
    assert_eq!(
        keys(&[
            ("bbox", "32.2,35.6,33.2,36.6"),
            ("bbox-crs", "http://www.opengis.net/def/crs/EPSG/0/4326")
        ]),
        keys(&[("bbox", "35.6,32.2,36.6,33.2")])
    );
    // A 3-D box: the heights are ignored (issue 16).
    assert_eq!(
        keys(&[("bbox", "35.6,32.2,-100,36.6,33.2,9000")]),
        keys(&[("bbox", "35.6,32.2,36.6,33.2")])
    );
    let c = get("/collections/zones").json();
    assert_eq!(
        c["storageCrs"],
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    );
    assert_eq!(c["crs"].as_array().unwrap().len(), 3);
}

// --- random filters against the same selection done by hand ----------------------------------

/// One condition of a random filter, as CQL2 text and as a test done by hand on the exported
/// feature: `None` where CQL2 says unknown (a null compared).
#[derive(Debug, Clone)]
enum Atom {
    Equals(&'static str, String),
    In(&'static str, Vec<String>),
    Like(&'static str, String),
    FromOnOrAfter(String),
    ToIsNull,
    Box([f64; 4]),
    During(String, String),
}

const ACTORS: &[&str] = &[
    "iran",
    "russia",
    "usa",
    "sdf",
    "syrian_government",
    "israel",
    "nobody",
];
const KINDS: &[&str] = &["control", "presence", "demanded_exclusion", "none"];
const CONFIDENCES: &[&str] = &["low", "medium", "high"];
const METHODS: &[&str] = &["rule", "hand_drawn", "sourced_coordinate", "none"];

fn day() -> impl Strategy<Value = String> {
    (2016i32..2020, 1u32..13, 1u32..29).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
}

fn atom() -> impl Strategy<Value = Atom> {
    let pick =
        |list: &'static [&'static str]| proptest::sample::select(list).prop_map(str::to_owned);
    prop_oneof![
        (
            proptest::sample::select(&["actor", "kind", "confidence", "method"][..]),
            0usize..7
        )
            .prop_map(|(k, i)| {
                let list = match k {
                    "actor" => ACTORS,
                    "kind" => KINDS,
                    "confidence" => CONFIDENCES,
                    _ => METHODS,
                };
                Atom::Equals(k, list[i % list.len()].to_owned())
            }),
        proptest::collection::vec(pick(ACTORS), 1..4).prop_map(|v| Atom::In("actor", v)),
        proptest::sample::select(&["%a%", "i%", "%pocket%", "%_20%", "s%t%"][..])
            .prop_map(|p| Atom::Like("key", p.to_owned())),
        day().prop_map(Atom::FromOnOrAfter),
        Just(Atom::ToIsNull),
        (35.0f64..42.0, 32.0f64..37.0, 0.05f64..3.0, 0.05f64..3.0)
            .prop_map(|(w, s, dw, dh)| Atom::Box([w, s, w + dw, s + dh])),
        (day(), day()).prop_map(|(a, b)| if a <= b {
            Atom::During(a, b)
        } else {
            Atom::During(b, a)
        }),
    ]
}

impl Atom {
    fn cql2(&self) -> String {
        match self {
            Atom::Equals(k, v) => format!("{k} = '{v}'"),
            Atom::In(k, v) => format!(
                "{k} IN ({})",
                v.iter()
                    .map(|x| format!("'{x}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Atom::Like(k, p) => format!("{k} LIKE '{p}'"),
            Atom::FromOnOrAfter(d) => format!("valid_from >= DATE('{d}')"),
            Atom::ToIsNull => "valid_to IS NULL".into(),
            Atom::Box([w, s, e, n]) => format!("S_INTERSECTS(geometry, BBOX({w}, {s}, {e}, {n}))"),
            Atom::During(a, b) => format!("T_INTERSECTS(valid, INTERVAL('{a}', '{b}'))"),
        }
    }

    fn by_hand(&self, f: &Value, geometry: &geo::Geometry<f64>) -> Option<bool> {
        let p = &f["properties"];
        let text = |k: &str| p[k].as_str();
        match self {
            Atom::Equals(k, v) => text(k).map(|x| x == v),
            Atom::In(k, v) => text(k).map(|x| v.iter().any(|y| y == x)),
            Atom::Like(k, pat) => text(k).map(|x| like_by_hand(x, pat)),
            // ISO dates order as text.
            Atom::FromOnOrAfter(d) => text("valid_from").map(|x| x >= d.as_str()),
            Atom::ToIsNull => Some(p["valid_to"].is_null()),
            Atom::Box([w, s, e, n]) => Some(geometry.intersects(&geo::Rect::new(
                geo::coord! {x: *w, y: *s},
                geo::coord! {x: *e, y: *n},
            ))),
            Atom::During(a, b) => Some(
                text("valid_from").is_none_or(|x| x <= b.as_str())
                    && text("valid_to").is_none_or(|x| x >= a.as_str()),
            ),
        }
    }
}

/// LIKE by regular recursion (the server's matcher is iterative).
fn like_by_hand(text: &str, pat: &str) -> bool {
    match pat.chars().next() {
        None => text.is_empty(),
        Some('%') => (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .any(|i| like_by_hand(&text[i..], &pat[1..])),
        Some('_') => {
            let mut c = text.chars();
            c.next().is_some() && like_by_hand(c.as_str(), &pat[1..])
        }
        Some(ch) => {
            text.starts_with(ch) && like_by_hand(&text[ch.len_utf8()..], &pat[ch.len_utf8()..])
        }
    }
}

/// A random filter: atoms joined by AND and OR, some negated.
#[derive(Debug, Clone)]
enum Tree {
    Atom(Atom),
    Not(Box<Tree>),
    And(Box<Tree>, Box<Tree>),
    Or(Box<Tree>, Box<Tree>),
}

fn tree() -> impl Strategy<Value = Tree> {
    atom()
        .prop_map(Tree::Atom)
        .prop_recursive(3, 8, 2, |inner| {
            prop_oneof![
                inner.clone().prop_map(|t| Tree::Not(Box::new(t))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Tree::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner).prop_map(|(a, b)| Tree::Or(Box::new(a), Box::new(b))),
            ]
        })
}

impl Tree {
    fn cql2(&self) -> String {
        match self {
            Tree::Atom(a) => a.cql2(),
            Tree::Not(t) => format!("NOT ({})", t.cql2()),
            Tree::And(a, b) => format!("({}) AND ({})", a.cql2(), b.cql2()),
            Tree::Or(a, b) => format!("({}) OR ({})", a.cql2(), b.cql2()),
        }
    }

    fn by_hand(&self, f: &Value, g: &geo::Geometry<f64>) -> Option<bool> {
        match self {
            Tree::Atom(a) => a.by_hand(f, g),
            Tree::Not(t) => t.by_hand(f, g).map(|b| !b),
            Tree::And(a, b) => match (a.by_hand(f, g), b.by_hand(f, g)) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            Tree::Or(a, b) => match (a.by_hand(f, g), b.by_hand(f, g)) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
        }
    }
}

/// The exported zones with their geometries, read once.
static EXPORT: LazyLock<Vec<(Value, geo::Geometry<f64>)>> = LazyLock::new(|| {
    let doc = get("/export/zones.geojson").json();
    doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let g = serde_json::from_value::<geojson::Geometry>(f["geometry"].clone()).unwrap();
            (f.clone(), geo::Geometry::try_from(g).unwrap())
        })
        .collect()
});

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn a_random_filter_selects_what_the_same_test_by_hand_selects_on_the_export(t in tree()) {
        let text = t.cql2();
        let expected: Vec<String> = EXPORT
            .iter()
            .filter(|(f, g)| t.by_hand(f, g) == Some(true))
            .map(|(f, _)| f["properties"]["key"].as_str().unwrap().to_owned())
            .collect();
        prop_assert_eq!(filter(&text), expected, "{}", text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Nothing a client writes in `filter` makes the server fail: a filter cut short, with a
    /// character put in, or any text at all, in either language, is answered 200 or a JSON 400.
    #[test]
    fn any_filter_text_gets_a_200_or_a_json_400(
        t in tree(),
        cut in 0usize..200,
        insert in proptest::option::of((0usize..200, proptest::char::any())),
        noise in "\\PC{0,60}",
        pick in 0u8..4,
    ) {
        let mut text = t.cql2();
        if let Some((at, c)) = insert {
            let at = text.char_indices().map(|(i, _)| i).nth(at).unwrap_or(text.len());
            text.insert(at, c);
        }
        let text = match pick {
            0 => text.chars().take(cut).collect(),
            1 => noise,
            2 => format!("{{\"op\":\"and\",\"args\":[{noise}]}}"),
            _ => text,
        };
        let lang = if pick == 2 { "cql2-json" } else { "cql2-text" };
        let a = get(&url(
            "/collections/zones/items",
            &[("filter", text.as_str()), ("filter-lang", lang), ("limit", "1")],
        ));
        prop_assert!(a.status == 200 || a.status == 400, "{}: {}", text, a.status);
        if a.status == 400 {
            let doc = a.json();
            prop_assert_eq!(doc["code"].as_str(), Some("InvalidParameterValue"));
        }
    }
}
