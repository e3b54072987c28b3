//! Fuzzing the HTTP surface: the parameter parsers (`Params`, `bbox`, `datetime`, `day`,
//! `integer`, `lon`, `lat`), the batch readers (`parse_csv`, `parse_geojson`), and the real
//! router with arbitrary paths, query strings, headers and `POST /query/points` bodies. Nothing
//! may panic, no answer may be a 5xx, and every 4xx is JSON `{"code", "description"}`.
//!
//! A hand-written corpus of hostile requests (`fixtures/hostile/requests.txt`) is replayed too.
//!
//! Bounded for CI: each property runs a fixed number of cases; `ZONETRACK_FUZZ_CASES=N` runs N
//! cases each for a longer local run. Failures found are kept in `proptest-regressions/` and
//! replayed first on every run.

use std::path::Path;
use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request, header};
use geodata::Dataset;
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::{Value, json};
use tower::ServiceExt;
use zone_formats::batch::{BatchLimits, BatchRefused, parse_csv, parse_geojson};
use zone_server::params::{self, MAX_QUERY_LEN, MAX_VALUE_LEN, Params};
use zone_server::{AppState, Config, Snapshot, app};

mod common;
use common::{Answer, answer, block_on, send_blocking};

fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: e2e::fuzz_cases(default),
        max_shrink_iters: 1024,
        ..ProptestConfig::default()
    }
}

static STATE: LazyLock<Arc<AppState>> =
    LazyLock::new(|| AppState::new(Snapshot::new(Dataset::embedded()), Config::default()));

fn send(req: Request<Body>) -> Answer {
    send_blocking(&STATE, req)
}

/// The contract for any answer: not a 5xx, and a 4xx is JSON with a code and a description.
fn contract(what: &str, a: &Answer) -> Result<(), String> {
    let (status, content_type) = (a.status.as_u16(), a.header(header::CONTENT_TYPE));
    let shown = || {
        let what: String = what.chars().take(300).collect();
        let body: String = String::from_utf8_lossy(&a.body).chars().take(300).collect();
        format!("{what} -> {} {:?} {body}", a.status, content_type)
    };
    if status >= 500 {
        return Err(format!("a server error: {}", shown()));
    }
    if (400..500).contains(&status) {
        if content_type != "application/json" {
            return Err(format!("a 4xx that is not JSON: {}", shown()));
        }
        let v: Value = serde_json::from_slice(&a.body)
            .map_err(|e| format!("a 4xx body that is not JSON ({e}): {}", shown()))?;
        let ok = v["code"].as_str().is_some_and(|c| !c.is_empty())
            && v["description"].as_str().is_some_and(|d| !d.is_empty());
        if !ok {
            return Err(format!("a 4xx without code and description: {}", shown()));
        }
    }
    Ok(())
}

fn check(what: &str, a: &Answer) -> Result<(), TestCaseError> {
    contract(what, a).map_err(TestCaseError::fail)
}

// ---------------------------------------------------------------------------------------------
// Building blocks: hostile values in the shapes clients send.

/// Number spellings: valid, out of range, not finite, not numbers at all.
fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(&[
            "36.1", "32.617", "0", "-0", "-0.0", "+36", " 36.1", "36.1 ", "180", "-180", "90",
            "-90", "180.0000001", "-90.0000001", "NaN", "nan", "-NaN", "inf", "-inf", "Infinity",
            "infinity", "1e309", "-1e309", "1e-400", "1e999", "4.9e-324", "1.7976931348623157e308",
            "0x24", "36,1", "1_0", "", " ", "٣٦", "３６", "1e", "e1", ".", "-", "--1", "1..2",
            "18446744073709551616", "9223372036854775807", "-9223372036854775808", "4294967296",
            "00000000000000000000000000000000000000036", "1.0000000000000000000000000000000001",
        ][..]).prop_map(str::to_owned),
        2 => any::<f64>().prop_map(|v| v.to_string()),
        1 => any::<i64>().prop_map(|v| v.to_string()),
        1 => (-200.0..200.0f64).prop_map(|v| v.to_string()),
        1 => (1usize..2000).prop_map(|n| "9".repeat(n)),
    ]
}

/// Dates and date-times: valid, near-valid (fields out of range, odd separators and zones),
/// and far off.
fn date_text() -> impl Strategy<Value = String> {
    let year = prop::sample::select(
        &[
            "2018",
            "2017",
            "0000",
            "0001",
            "1969",
            "1970",
            "9999",
            "10000",
            "+275760",
            "-0001",
            "262143",
            "262144",
            "+002018",
            "18",
            "",
            "２０１８",
        ][..],
    );
    let two = prop_oneof![
        3 => (0u32..100).prop_map(|v| format!("{v:02}")),
        1 => prop::sample::select(&["0", "1", "00", "13", "32", "99", "", "1a", "-1", "+1"][..]).prop_map(str::to_owned),
    ];
    let zone = prop::sample::select(
        &[
            "", "Z", "z", "+00:00", "-00:00", "+02:00", "-02:00", "+14:00", "-23:59", "+24:00",
            "+99:99", "+0200", "+02", "UTC", " Z", "ZZ", "+-02:00",
        ][..],
    );
    let frac = prop::sample::select(&["", ".5", ".123456789", ".", ".1234567890123"][..]);
    let sep = prop::sample::select(&["T", "t", " ", "_", "TT", ""][..]);
    let dash = prop::sample::select(&["-", "-", "-", "/", ".", ""][..]);
    prop_oneof![
        // A day.
        (year.clone(), dash.clone(), two.clone(), two.clone())
            .prop_map(|(y, d, m, dd)| format!("{y}{d}{m}{d}{dd}")),
        // A date-time.
        (
            year,
            dash,
            two.clone(),
            two.clone(),
            sep,
            two.clone(),
            two.clone(),
            two,
            frac,
            zone
        )
            .prop_map(|(y, d, mo, dd, t, h, mi, s, f, z)| format!(
                "{y}{d}{mo}{d}{dd}{t}{h}:{mi}:{s}{f}{z}"
            )),
        // Just a trailing T (GDAL), and other fragments.
        prop::sample::select(
            &[
                "2018-02-07T",
                "2018-02-07T00",
                "2018-02-07T00:00",
                "T",
                "2018-02-07T24:00:00Z",
                "2016-12-31T23:59:60Z",
                "2018-02-07T00:00:00.Z",
                "0000-00-00",
                "+275760-09-13",
                "2018-02-07T99:99:99Z",
                "9999-12-31T23:59:59-23:59",
                "0000-01-01T00:00:00+14:00",
                "2018-W06-3",
                "2018-038",
                "20180207",
                "2018-02-07T00:00:00Z/",
                "now",
                "today",
                "..",
            ][..]
        )
        .prop_map(str::to_owned),
        // Valid instants anywhere in chrono's range, in RFC 3339 with an offset.
        (any::<i64>(), -86_399i32..86_400).prop_map(|(secs, off)| {
            let secs = secs % 253_402_300_799; // up to 9999-12-31
            let dt = chrono::DateTime::from_timestamp(secs.abs(), 0).unwrap_or_default();
            let off = chrono::FixedOffset::east_opt(off / 60 * 60).expect("an offset under a day");
            dt.with_timezone(&off).to_rfc3339()
        }),
    ]
}

/// A `datetime` parameter: an instant or an interval of near-valid ends.
fn datetime_text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => date_text(),
        2 => (date_text(), prop::sample::select(&["/", "/", "//", " / ", "\\"][..]), date_text())
            .prop_map(|(a, s, b)| format!("{a}{s}{b}")),
        1 => (prop::sample::select(&["..", "", "...", ". ."][..]), date_text())
            .prop_map(|(o, d)| format!("{o}/{d}")),
        1 => (date_text(), prop::sample::select(&["..", "", "...", ". ."][..]))
            .prop_map(|(d, o)| format!("{d}/{o}")),
        1 => prop::sample::select(&["../..", "/", "", "..", "a/b/c", "2018-01-01/2018-02-01/2018-03-01"][..]).prop_map(str::to_owned),
    ]
}

/// A `bbox`: 0 to 12 numbers (1000 sometimes), valid or not, in any order.
fn bbox_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::collection::vec(number_text(), 0..12).prop_map(|v| v.join(",")),
        2 => (-180.0..180.0f64, -90.0..90.0f64, 0.0..50.0f64, 0.0..50.0f64)
            .prop_map(|(x, y, w, h)| format!("{x},{y},{},{}", x + w, y + h)),
        1 => (1usize..1200).prop_map(|n| vec!["36.1"; n].join(",")),
        1 => prop::sample::select(&["35,32,37,34", "35,32,37,34,", ",,,", "35;32;37;34", "35 32 37 34", "-180,-90,180,90"][..]).prop_map(str::to_owned),
    ]
}

/// Strings that stress ids, names and free-text parameters.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(&[
            "", " ", "..", "../../etc/passwd", "..\\..\\windows\\win.ini", "%2e%2e%2f", "%252e%252e%252f",
            "/", "//", "\u{0}", "a\u{0}b", "\r\n", "\u{202e}", "e\u{301}", "🏳️‍🌈", "\u{feff}",
            "<script>alert(1)</script>", "\"", "'", "&", "=", "?", "#", "%", "%zz", "%C0%AE",
            "sw_deescalation_zone", "zones", "0", "4294967295", "4294967296", "-1", "+1", "1e3",
        ][..]).prop_map(str::to_owned),
        2 => "\\PC{0,40}",
        1 => any::<String>(),
        1 => (1usize..20_000).prop_map(|n| "x".repeat(n)),
    ]
}

/// A value for a parameter called `name`: of the kind it expects most of the time.
fn value_for(name: &'static str) -> BoxedStrategy<String> {
    let kind: BoxedStrategy<String> = match name {
        "lon" | "lat" => number_text().boxed(),
        "limit" | "offset" | "nearest" | "zoom" => prop_oneof![
            3 => (0u64..20_000).prop_map(|v| v.to_string()),
            2 => number_text(),
            1 => Just(u64::MAX.to_string()),
        ]
        .boxed(),
        "bbox" => bbox_text().boxed(),
        "datetime" | "from" | "to" => datetime_text().boxed(),
        "geometry" => prop::sample::select(&["true", "false", "1", "0", "", "yes", "TRUE"][..])
            .prop_map(str::to_owned)
            .boxed(),
        "f" => prop::sample::select(&["json", "html", "geojson", "xml", "", "JSON", "csv"][..])
            .prop_map(str::to_owned)
            .boxed(),
        _ => hostile_string().boxed(),
    };
    prop_oneof![6 => kind, 1 => hostile_string()].boxed()
}

const PARAM_NAMES: &[&str] = &[
    "lon",
    "lat",
    "datetime",
    "nearest",
    "geometry",
    "limit",
    "offset",
    "bbox",
    "f",
    "zoom",
    "from",
    "to",
    "actor",
    "kind",
    "confidence",
    "method",
    "name",
];

/// How a query component is written into the URI.
#[derive(Debug, Clone, Copy)]
enum Encoding {
    /// `form_urlencoded` (every reserved byte escaped).
    Form,
    /// Every byte `%XX`.
    Percent,
    /// As is, when the URI accepts it.
    Raw,
}

fn encode(s: &str, how: Encoding) -> String {
    match how {
        Encoding::Form => form_urlencoded::byte_serialize(s.as_bytes()).collect(),
        Encoding::Percent => s.bytes().map(|b| format!("%{b:02X}")).collect(),
        Encoding::Raw => s.to_owned(),
    }
}

fn encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![
        6 => Just(Encoding::Form),
        1 => Just(Encoding::Percent),
        2 => Just(Encoding::Raw),
    ]
}

/// A whole query string: known names with fitting values, unknown and repeated names, empty
/// pairs, odd separators, raw bytes that are not valid UTF-8 once decoded.
fn query_string() -> impl Strategy<Value = String> {
    query_string_with(PARAM_NAMES)
}

/// As [`query_string`], with names drawn mostly from `names` (a route's own parameters).
fn query_string_with(names: &'static [&'static str]) -> impl Strategy<Value = String> {
    let pair = prop_oneof![
        6 => (prop::sample::select(names), encoding())
            .prop_flat_map(|(n, e)| value_for(n).prop_map(move |v| format!("{n}={}", encode(&v, e)))),
        2 => (prop::sample::select(PARAM_NAMES), encoding())
            .prop_flat_map(|(n, e)| value_for(n).prop_map(move |v| format!("{n}={}", encode(&v, e)))),
        1 => (hostile_string(), hostile_string(), encoding())
            .prop_map(|(n, v, e)| format!("{}={}", encode(&n, e), encode(&v, e))),
        1 => prop::sample::select(&[
            "", "=", "&", "==", "lon", "lon=", "=36", "%FF=%FE", "lat=%80", "lon=%", "lon=%2",
            "LON=36", "lon[]=36", "lon=36&lon=37", "datetime=2018-01-01&datetime=..%2F2018-12-31",
        ][..]).prop_map(str::to_owned),
    ];
    (
        proptest::collection::vec(pair, 0..7),
        prop::sample::select(&["&", "&", "&", ";", "&&"][..]),
    )
        .prop_map(|(pairs, sep)| pairs.join(sep))
}

/// A path segment from a hostile string.
fn segment() -> impl Strategy<Value = String> {
    (hostile_string(), encoding()).prop_map(|(s, e)| match e {
        // Path segments must escape `/`, `?` and `#` to stay one segment.
        Encoding::Form | Encoding::Raw => s
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect(),
        Encoding::Percent => encode(&s, e),
    })
}

/// Any GET path the router knows, with real and hostile names in its variable parts, and the
/// query parameters it takes.
fn path() -> impl Strategy<Value = (String, &'static [&'static str])> {
    const ITEMS: &[&str] = &[
        "limit",
        "offset",
        "bbox",
        "datetime",
        "f",
        "actor",
        "kind",
        "confidence",
    ];
    const F: &[&str] = &["f"];
    const NONE: &[&str] = &["f"];
    let collection = prop_oneof![
        3 => prop::sample::select(&["zones", "locations", "events", "governorates", "syria", "rivers", "golan_lines"][..]).prop_map(str::to_owned),
        1 => segment(),
    ];
    let feature = prop_oneof![
        2 => (0u32..400).prop_map(|v| v.to_string()),
        1 => prop::sample::select(&["sw_deescalation_zone", "daraa_city", "4294967295", "4294967296", "-1", "00001", "1.0"][..]).prop_map(str::to_owned),
        2 => segment(),
    ];
    let file = prop_oneof![
        2 => prop::sample::select(&["zones.geojson", "zones.fgb", "events.fgb", "zones.qml", "locations.csv", "events.csv", "zones.csv", "syria.qml", "zones", ".geojson", "zones.", "zones.geojson.geojson"][..]).prop_map(str::to_owned),
        1 => segment(),
    ];
    let fixed = |p: &'static str, names: &'static [&'static str]| Just((p.to_owned(), names));
    prop_oneof![
        1 => prop_oneof![
            fixed("/", F), fixed("/health", NONE), fixed("/status", NONE), fixed("/conformance", F),
            fixed("/api", F), fixed("/api.html", F), fixed("/collections", F), fixed("/actors", F),
            fixed("/query/points", &["datetime"]),
        ],
        3 => fixed("/query/point", &["lon", "lat", "datetime", "nearest", "geometry"]),
        1 => fixed("/query/timeline", &["lon", "lat"]),
        1 => fixed("/query/changes", &["from", "to"]),
        1 => collection.clone().prop_map(|c| (format!("/collections/{c}"), F)),
        4 => collection.clone().prop_map(|c| (format!("/collections/{c}/items"), ITEMS)),
        2 => (collection.clone(), feature).prop_map(|(c, f)| (format!("/collections/{c}/items/{f}"), F)),
        2 => file.prop_map(|f| (format!("/export/{f}"), &["datetime"][..])),
        2 => collection.prop_map(|c| (format!("/map/{c}"), &["bbox", "datetime", "zoom"][..])),
        1 => proptest::collection::vec(segment(), 0..4).prop_map(|s| (format!("/static/{}", s.join("/")), F)),
        1 => proptest::collection::vec(segment(), 0..5).prop_map(|s| (format!("/{}", s.join("/")), F)),
        1 => prop::sample::select(&[
            "/static/../../etc/passwd", "/static/..%2F..%2Fetc%2Fpasswd", "/static/%2e%2e/%2e%2e/etc/passwd",
            "//", "/collections/", "/collections//items", "/collections/zones/items/", "/./health",
            "/health/", "/%2e%2e/%2e%2e/etc/passwd", "/collections/zones/items/..%2F..%2Fetc%2Fpasswd",
            "/collections/%FF/items", "/collections/zones/items/%C0%AE%C0%AE", "/static/%00",
            "/export/%2e%2e%2fCargo.toml", "/map/zones%00", "/static/app.js%00.html",
        ][..]).prop_map(|p| (p.to_owned(), F)),
    ]
}

/// Optional request headers that change what the handlers do.
fn headers() -> impl Strategy<Value = Vec<(&'static str, Vec<u8>)>> {
    let value = prop_oneof![
        3 => hostile_string().prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..64),
    ];
    proptest::collection::vec(
        (
            prop::sample::select(
                &[
                    "accept",
                    "host",
                    "x-forwarded-host",
                    "x-forwarded-proto",
                    "if-none-match",
                    "origin",
                    "content-type",
                ][..],
            ),
            prop_oneof![
                2 => prop::sample::select(&[
                    "text/html", "application/json", "*/*", "text/html;q=0", "application/geo+json",
                    "https", "*", "\"x\"", "zt.test:8080", "evil.example\"><script>", "[::1]:80",
                ][..]).prop_map(|s| s.as_bytes().to_vec()),
                1 => value,
            ],
        ),
        0..3,
    )
}

fn request(
    method: &str,
    uri: &str,
    headers: &[(&'static str, Vec<u8>)],
    body: Vec<u8>,
) -> Option<Request<Body>> {
    let mut b = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        // Bytes a header cannot carry never reach the server; skip them.
        if let Ok(v) = HeaderValue::from_bytes(value) {
            b = b.header(HeaderName::from_static(name), v);
        }
    }
    b.body(Body::from(body)).ok()
}

proptest! {
    #![proptest_config(config(3000))]

    /// Every GET route with arbitrary query strings, paths and headers.
    fn prop_any_get_request_gets_an_answer_and_4xx_are_json(
        (path, query) in path().prop_flat_map(|(p, names)| (Just(p), proptest::option::weighted(0.9, query_string_with(names)))),
        headers in headers(),
    ) {
        let uri = match &query {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        // A URI the HTTP layer would refuse never reaches the router.
        let Some(req) = request("GET", &uri, &headers, Vec::new()) else {
            return Ok(());
        };
        let a = send(req);
        check(&format!("GET {uri} {headers:?}"), &a)?;
    }
}

// ---------------------------------------------------------------------------------------------
// The parsers, directly.

proptest! {
    #![proptest_config(config(5000))]

    /// `Params` on any raw query string: names checked, values bounded, and the links it writes
    /// (`with`, `with_all`) read back to the same pairs.
    fn prop_params_parse_any_query_string(
        raw in prop_oneof![
            4 => query_string(),
            2 => any::<String>(),
            1 => (1usize..12_000).prop_map(|n| format!("lon={}", "1".repeat(n))),
        ],
        allowed in proptest::sample::subsequence(PARAM_NAMES, 0..PARAM_NAMES.len()),
        repeatable in any::<bool>(),
        set in proptest::option::of(hostile_string()),
    ) {
        let repeat: &[&str] = if repeatable { &["datetime"] } else { &[] };
        match Params::parse_repeatable(Some(&raw), &allowed, repeat) {
            Ok(p) => {
                prop_assert!(raw.len() <= MAX_QUERY_LEN);
                for (i, (k, v)) in p.pairs().iter().enumerate() {
                    prop_assert!(allowed.contains(&k.as_str()), "{k}");
                    prop_assert!(v.len() <= MAX_VALUE_LEN);
                    prop_assert!(
                        repeat.contains(&k.as_str()) || !p.pairs()[..i].iter().any(|(n, _)| n == k),
                        "{k} repeated"
                    );
                }
                let value = set.unwrap_or_default();
                let written = p.with("offset", &value);
                let mut allowed2 = allowed.clone();
                allowed2.push("offset");
                if written.len() <= MAX_QUERY_LEN && value.len() <= MAX_VALUE_LEN && !allowed.contains(&"offset") {
                    let back = Params::parse_repeatable(Some(&written), &allowed2, repeat)
                        .map_err(|e| TestCaseError::fail(format!("{written}: {e}")))?;
                    let mut expected = p.pairs().to_vec();
                    expected.push(("offset".into(), value));
                    prop_assert_eq!(back.pairs(), &expected[..]);
                }
            }
            Err(e) => {
                prop_assert_eq!(e.status.as_u16(), 400);
                prop_assert!(!e.description.is_empty());
            }
        }
    }

    /// Numbers: what is accepted is finite and in range, and every in-range number written by
    /// Rust reads back exactly.
    fn prop_coordinates_and_integers_parse_strictly(
        s in prop_oneof![number_text(), any::<String>()],
        v in any::<f64>(),
        min in any::<u64>(),
        span in any::<u64>(),
    ) {
        if let Ok(x) = params::number("n", &s) {
            prop_assert!(x.is_finite());
        }
        if let Ok(x) = params::lon("lon", &s) {
            prop_assert!(x.is_finite() && (-180.0..=180.0).contains(&x), "{s} -> {x}");
        }
        if let Ok(y) = params::lat("lat", &s) {
            prop_assert!(y.is_finite() && (-90.0..=90.0).contains(&y), "{s} -> {y}");
        }
        let max = min.saturating_add(span);
        if let Ok(n) = params::integer("n", &s, min, max) {
            prop_assert!((min..=max).contains(&n));
        }
        let text = v.to_string();
        match params::lon("lon", &text) {
            Ok(x) => prop_assert_eq!(x.to_bits(), v.to_bits()),
            Err(e) => {
                prop_assert!(!(v.is_finite() && (-180.0..=180.0).contains(&v)), "{text}: {e}");
                prop_assert_eq!(e.status.as_u16(), 400);
            }
        }
        let n = min.saturating_add(span / 2);
        prop_assert_eq!(params::integer("n", &n.to_string(), min, max).ok(), Some(n));
    }

    /// `bbox`: what is accepted is four finite numbers on the globe, south below north (west
    /// east of east is a box across the antimeridian), or six with the heights (issue 16).
    fn prop_bbox_parses_strictly(s in prop_oneof![4 => bbox_text(), 1 => any::<String>()]) {
        match params::bbox(&s) {
            Ok(b) => {
                let [west, south, east, north] = b.edges();
                for v in [west, east] {
                    prop_assert!(v.is_finite() && (-180.0..=180.0).contains(&v));
                }
                for v in [south, north] {
                    prop_assert!(v.is_finite() && (-90.0..=90.0).contains(&v));
                }
                prop_assert!(south <= north);
                prop_assert!(matches!(s.split(',').count(), 4 | 6));
            }
            Err(e) => prop_assert_eq!(e.status.as_u16(), 400),
        }
    }

    /// `datetime` and `day` on near-valid and arbitrary text: intervals are ordered, a plain day
    /// reads as itself, and an RFC 3339 date-time reads as its UTC day.
    fn prop_datetimes_parse_strictly_and_agree_with_rfc3339(
        s in prop_oneof![4 => datetime_text(), 1 => any::<String>(), 1 => "\\PC{0,30}"],
    ) {
        match params::datetime(&s) {
            Ok(d) => {
                if let (Some(f), Some(t)) = (d.from, d.to) {
                    prop_assert!(f <= t, "{s}: {f} after {t}");
                }
            }
            Err(e) => {
                prop_assert_eq!(e.status.as_u16(), 400);
                prop_assert_eq!(e.code, "InvalidParameterValue");
            }
        }
        let day = params::day(&s);
        if let Some(d) = geodata::parse_date(&s) {
            prop_assert_eq!(day, Some(d));
        }
        if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(&s) {
            prop_assert_eq!(day, Some(dt.with_timezone(&chrono::Utc).date_naive()), "{}", s);
        }
        if !s.contains('/') {
            prop_assert_eq!(params::datetime(&s).ok().and_then(|d| d.instant()), day);
        }
    }

    /// Intervals of two valid ends: accepted exactly when ordered, with those ends.
    fn prop_datetime_intervals_keep_their_ends(a in date_text(), b in date_text()) {
        let (da, db) = (params::day(&a), params::day(&b));
        if let (Some(da), Some(db)) = (da, db)
            && !a.contains('/') && !b.contains('/')
        {
            let r = params::datetime(&format!("{a}/{b}"));
            if da <= db {
                let d = r.map_err(|e| TestCaseError::fail(format!("{a}/{b}: {e}")))?;
                prop_assert_eq!((d.from, d.to), (Some(da), Some(db)));
            } else {
                prop_assert!(r.is_err());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Batches.

/// One CSV field: a coordinate, a date, an id, or something hostile, maybe quoted.
fn csv_field() -> impl Strategy<Value = String> {
    let raw = prop_oneof![
        4 => number_text(),
        2 => date_text(),
        2 => hostile_string(),
        1 => Just("lon".to_string()),
        1 => Just("lat".to_string()),
        1 => Just("date".to_string()),
        1 => Just("id".to_string()),
    ];
    (raw, 0u8..4).prop_map(|(s, q)| match q {
        0 => format!("\"{}\"", s.replace('"', "\"\"")),
        1 => format!("\"{s}"),
        _ => s,
    })
}

/// CSV batch text: rows of fields, a header sometimes, comments, odd line ends, BOM.
fn csv_text() -> impl Strategy<Value = String> {
    let row = proptest::collection::vec(csv_field(), 0..6).prop_map(|f| f.join(","));
    (
        proptest::option::of(prop::sample::select(
            &[
                "lon,lat",
                "lat,lon,date,id",
                "longitude,latitude",
                "id,name",
                "LON,LAT,DATE",
                "lon,lat,lon,lat",
                "#lon,lat",
                "\u{feff}lon,lat",
                "lon;lat",
                "",
            ][..],
        )),
        proptest::collection::vec(row, 0..40),
        prop::sample::select(&["\n", "\r\n", "\r", "\n\n"][..]),
    )
        .prop_map(|(header, rows, eol)| {
            let mut lines: Vec<String> = header.map(str::to_owned).into_iter().collect();
            lines.extend(rows);
            lines.join(eol)
        })
}

/// GeoJSON batch text: FeatureCollections of points with hostile members, and other JSON.
fn geojson_text() -> impl Strategy<Value = String> {
    let coord = prop_oneof![
        3 => (-180.0..180.0f64).prop_map(|v| json!(v)),
        1 => number_text().prop_map(|s| serde_json::from_str::<Value>(&s).unwrap_or(Value::String(s))),
        1 => Just(Value::Null),
    ];
    let feature = (
        proptest::collection::vec(coord, 0..4),
        prop::sample::select(&["Point", "point", "MultiPoint", "LineString", ""][..]),
        proptest::option::of(prop_oneof![
            date_text().prop_map(Value::String),
            Just(json!(20180207)),
            Just(json!(null)),
            Just(json!(["2018-02-07"])),
        ]),
        proptest::option::of(prop_oneof![
            hostile_string().prop_map(Value::String),
            any::<i64>().prop_map(|v| json!(v)),
            any::<f64>().prop_map(|v| json!(v)),
            Just(json!({"a": 1})),
        ]),
        any::<bool>(),
    )
        .prop_map(|(coords, ty, date, id, props_ok)| {
            let mut f = json!({"type": "Feature", "geometry": {"type": ty, "coordinates": coords}});
            f["properties"] = if props_ok { json!({}) } else { json!("nope") };
            if let Some(d) = date
                && props_ok
            {
                f["properties"]["date"] = d;
            }
            if let Some(id) = id {
                f["id"] = id;
            }
            f
        });
    prop_oneof![
        6 => proptest::collection::vec(feature, 0..30).prop_map(|fs| json!({"type": "FeatureCollection", "features": fs}).to_string()),
        1 => prop::sample::select(&[
            "", "null", "[]", "{}", "{\"type\":\"FeatureCollection\"}", "{\"type\":\"FeatureCollection\",\"features\":{}}",
            "{\"type\":\"FeatureCollection\",\"features\":[null,1,[],\"x\"]}",
            "{\"type\":\"FeatureCollection\",\"features\":[{\"geometry\":{\"type\":\"Point\",\"coordinates\":[NaN,1]}}]}",
            "{\"type\":\"FeatureCollection\",\"features\":[{\"geometry\":{\"type\":\"Point\",\"coordinates\":[1e999,1]}}]}",
            "{\"type\":\"FeatureCollection\",\"features\":[{\"geometry\":{\"type\":\"Point\",\"coordinates\":[-0,-0]}}]}",
        ][..]).prop_map(str::to_owned),
        1 => (1usize..5000).prop_map(|d| format!("{}{}", "[".repeat(d), "]".repeat(d))),
        1 => any::<String>(),
    ]
}

fn check_batch(b: &zone_formats::batch::Batch, max: usize) -> Result<(), TestCaseError> {
    prop_assert!(b.points.len() <= max);
    for p in &b.points {
        prop_assert!(p.lon.is_finite() && (-180.0..=180.0).contains(&p.lon));
        prop_assert!(p.lat.is_finite() && (-90.0..=90.0).contains(&p.lat));
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(3000))]

    /// `parse_csv` on generated and arbitrary text: points are on the globe, bad lines are
    /// reported with a line number, the limit holds.
    fn prop_csv_batches_parse_or_report_lines(
        text in prop_oneof![4 => csv_text(), 1 => any::<String>()],
        max in 0usize..30,
        max_errors in 0usize..5,
    ) {
        match parse_csv(&text, BatchLimits { max_points: max, max_errors }) {
            Ok(b) => {
                check_batch(&b, max)?;
                prop_assert!(b.errors.len() <= max_errors);
                prop_assert!(b.error_count >= b.errors.len());
                for e in &b.errors {
                    prop_assert!(e.line >= 1, "line {} in {:?}", e.line, e.message);
                    prop_assert!(!e.message.is_empty());
                }
            }
            Err(BatchRefused::TooMany(n)) => prop_assert_eq!(n, max),
            Err(BatchRefused::Unreadable(m)) => prop_assert!(!m.is_empty()),
        }
    }

    /// Every well-formed row of a header-less CSV is read back as written.
    fn prop_csv_batches_read_valid_rows_exactly(
        rows in proptest::collection::vec((-180.0..=180.0f64, -90.0..=90.0f64, proptest::option::of(0u32..3000), proptest::option::of("[a-z][a-z0-9_]{0,12}")), 0..50),
    ) {
        let text: String = rows
            .iter()
            .map(|(x, y, d, id)| {
                let mut line = format!("{x},{y}");
                if let Some(d) = d {
                    let day = chrono::NaiveDate::from_ymd_opt(2017, 1, 1).expect("a date") + chrono::Days::new(u64::from(*d));
                    line.push_str(&format!(",{day}"));
                }
                if let Some(id) = id {
                    line.push_str(&format!(",{id}"));
                }
                line + "\n"
            })
            .collect();
        let limits = BatchLimits { max_points: rows.len(), max_errors: 0 };
        let b = parse_csv(&text, limits).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        prop_assert_eq!(b.error_count, 0);
        prop_assert_eq!(b.points.len(), rows.len());
        for (p, (x, y, _, id)) in b.points.iter().zip(&rows) {
            prop_assert_eq!((p.lon, p.lat), (*x, *y));
            prop_assert_eq!(b.id(p), id.as_deref());
        }
    }

    /// `parse_geojson` on generated and arbitrary text.
    fn prop_geojson_batches_parse_or_report_features(text in geojson_text(), max in 0usize..30) {
        match parse_geojson(&text, BatchLimits { max_points: max, max_errors: 3 }) {
            Ok(b) => {
                check_batch(&b, max)?;
                prop_assert!(b.errors.len() <= 3 && b.error_count >= b.errors.len());
            }
            Err(BatchRefused::TooMany(n)) => prop_assert_eq!(n, max),
            Err(BatchRefused::Unreadable(m)) => prop_assert!(!m.is_empty()),
        }
    }
}

proptest! {
    #![proptest_config(config(1500))]

    /// `POST /query/points` with any body, content type and query.
    fn prop_any_batch_post_gets_an_answer_and_4xx_are_json(
        body in prop_oneof![
            3 => csv_text().prop_map(String::into_bytes),
            3 => geojson_text().prop_map(String::into_bytes),
            1 => proptest::collection::vec(any::<u8>(), 0..256),
        ],
        content_type in proptest::option::of(prop::sample::select(&[
            "text/csv", "text/plain", "application/json", "application/geo+json", "TEXT/CSV",
            "text/csv; charset=latin1", "application/json; charset=utf-16", "image/png",
            "multipart/form-data; boundary=x", "", "text/csv\u{0}",
        ][..])),
        query in proptest::option::of(prop_oneof![
            datetime_text().prop_map(|d| format!("datetime={}", encode(&d, Encoding::Form))),
            query_string(),
        ]),
    ) {
        let uri = match &query {
            Some(q) => format!("/query/points?{q}"),
            None => "/query/points".to_string(),
        };
        let headers: Vec<(&'static str, Vec<u8>)> = content_type
            .map(|c| ("content-type", c.as_bytes().to_vec()))
            .into_iter()
            .collect();
        let shown = format!("POST {uri} {content_type:?} {}", String::from_utf8_lossy(&body));
        let Some(req) = request("POST", &uri, &headers, body) else {
            return Ok(());
        };
        check(&shown, &send(req))?;
    }
}

// ---------------------------------------------------------------------------------------------
// The hand-written corpus.

fn hostile_dir() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/hostile"
    ))
}

/// Expands `{N*text}` to `text` repeated N times (for 10 KB ids and 1000-number boxes).
fn expand(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        let inner = &rest[open + 1..close];
        match inner
            .split_once('*')
            .and_then(|(n, t)| Some((n.parse::<usize>().ok()?, t)))
        {
            Some((n, t)) => {
                out.push_str(&rest[..open]);
                out.push_str(&t.repeat(n));
            }
            None => out.push_str(&rest[..=close]),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// `%XX` escapes decoded (for bodies with line ends or odd bytes); other text as is.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// One line of `requests.txt`: `EXPECT METHOD TARGET [type=..] [body=@file|body=text (%XX decoded)]
/// [header=Name:Value]`, where EXPECT is a status (`404`), a class (`4xx`) or `any`.
struct Case {
    line: usize,
    expect: String,
    method: String,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

fn corpus() -> Vec<Case> {
    let text =
        std::fs::read_to_string(hostile_dir().join("requests.txt")).expect("read requests.txt");
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(expect), Some(method), Some(target)) = (words.next(), words.next(), words.next())
        else {
            panic!("requests.txt line {}: need EXPECT METHOD TARGET", i + 1);
        };
        let mut case = Case {
            line: i + 1,
            expect: expect.to_owned(),
            method: method.to_owned(),
            target: expand(target),
            headers: Vec::new(),
            body: Vec::new(),
        };
        for w in words {
            if let Some(t) = w.strip_prefix("type=") {
                case.headers
                    .push(("content-type".into(), t.as_bytes().to_vec()));
            } else if let Some(h) = w.strip_prefix("header=") {
                let (n, v) = h.split_once(':').expect("header=Name:Value");
                case.headers
                    .push((n.to_ascii_lowercase(), expand(v).into_bytes()));
            } else if let Some(f) = w.strip_prefix("body=@") {
                case.body = std::fs::read(hostile_dir().join("bodies").join(f))
                    .unwrap_or_else(|e| panic!("requests.txt line {}: {f}: {e}", i + 1));
            } else if let Some(b) = w.strip_prefix("body=") {
                case.body = percent_decode(&expand(b));
            } else {
                panic!("requests.txt line {}: unknown word {w:?}", i + 1);
            }
        }
        out.push(case);
    }
    out
}

#[test]
fn the_hostile_corpus_gets_json_4xx_and_never_a_5xx() {
    let mut failures = Vec::new();
    let cases = corpus();
    assert!(cases.len() > 50, "the corpus has {} requests", cases.len());
    for c in &cases {
        let mut b = Request::builder()
            .method(c.method.as_str())
            .uri(c.target.as_str());
        for (n, v) in &c.headers {
            b = b.header(
                HeaderName::from_bytes(n.as_bytes()).expect("a header name"),
                HeaderValue::from_bytes(v).expect("a header value"),
            );
        }
        let req = b
            .body(Body::from(c.body.clone()))
            .unwrap_or_else(|e| panic!("requests.txt line {}: not a request: {e}", c.line));
        let a = send(req);
        let shown: String = c.target.chars().take(120).collect();
        let what = format!("line {}: {} {shown}", c.line, c.method);
        if let Err(e) = contract(&what, &a) {
            failures.push(e);
            continue;
        }
        let status_ok = match c.expect.as_str() {
            "any" => true,
            "2xx" => a.status.is_success(),
            "4xx" => a.status.is_client_error(),
            code => code.parse::<u16>().ok() == Some(a.status.as_u16()),
        };
        if !status_ok {
            failures.push(format!(
                "{what}: expected {}, got {} {}",
                c.expect,
                a.status,
                String::from_utf8_lossy(&a.body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} hostile requests failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Regressions: what fuzzing found, one test per input class.

/// Found by the corpus: `%FF` (or an overlong `%C0%AE`) in a path segment was answered by axum's
/// extractor as a plain-text 400.
#[test]
fn non_utf8_path_segments_get_a_json_400() {
    for uri in [
        "/collections/%FF",
        "/collections/%FF/items",
        "/collections/zones/items/%FF%FE%FD",
        "/export/%FF.geojson",
        "/map/%C0%AE%C0%AE",
        "/static/%C0%AE%C0%AE/%C0%AE%C0%AE/etc/passwd",
    ] {
        let a = send(request("GET", uri, &[], Vec::new()).expect("a request"));
        assert_eq!(a.status, 400, "{uri}");
        contract(uri, &a).unwrap_or_else(|e| panic!("{e}"));
        let v: Value = serde_json::from_slice(&a.body).expect("JSON");
        assert_eq!(v["code"], "InvalidParameterValue", "{uri}");
    }
}

/// Found by the corpus and the GET fuzzer: a method a route does not have got a 405 with an
/// empty body.
#[test]
fn wrong_methods_get_a_json_405_that_names_the_allowed_ones() {
    for (method, uri, allowed) in [
        ("GET", "/query/points", "POST"),
        ("POST", "/collections", "GET"),
        ("DELETE", "/health", "GET"),
        ("PUT", "/collections/zones/items", "GET"),
    ] {
        let a = send(request(method, uri, &[], Vec::new()).expect("a request"));
        assert_eq!(a.status, 405, "{method} {uri}");
        let allow = a.header(header::ALLOW);
        assert!(allow.contains(allowed), "{method} {uri}: Allow {allow:?}");
        contract(uri, &a).unwrap_or_else(|e| panic!("{e}"));
        let v: Value = serde_json::from_slice(&a.body).expect("JSON");
        assert_eq!(v["code"], "MethodNotAllowed");
        assert!(
            v["description"]
                .as_str()
                .is_some_and(|d| d.contains(method) && d.contains("Allow")),
            "{v}"
        );
    }
}

/// Found by the corpus: a batch body over the 16 MiB limit got axum's plain-text 413.
#[test]
fn bodies_over_the_limit_get_a_json_413() {
    for content_type in ["text/csv", "application/geo+json"] {
        let body = vec![b'1'; zone_server::MAX_BODY_BYTES + 1];
        let headers = [("content-type", content_type.as_bytes().to_vec())];
        let a = send(request("POST", "/query/points", &headers, body).expect("a request"));
        assert_eq!(a.status, 413, "{content_type}");
        contract(content_type, &a).unwrap_or_else(|e| panic!("{e}"));
        let v: Value = serde_json::from_slice(&a.body).expect("JSON");
        assert_eq!(v["code"], "PayloadTooLarge");
    }
}

/// Found by replaying the corpus over a socket: a Content-Length of 1 GB with a few bytes sent
/// held the request until the 30 s timeout, then got a 503. It is refused at once now.
#[test]
fn announced_oversized_bodies_are_refused_before_reading() {
    for length in ["1073741824", "16777217"] {
        // A body that never ends: answering must not wait for it.
        let (_sender, body) = http_body_util::channel::Channel::<axum::body::Bytes>::new(1);
        let req = Request::post("/query/points")
            .header(header::CONTENT_TYPE, "text/csv")
            .header(header::CONTENT_LENGTH, length)
            .body(Body::new(body))
            .expect("a request");
        let a = block_on(async {
            let resp = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                app(STATE.clone()).oneshot(req),
            )
            .await
            .expect("answered without waiting for the body")
            .expect("the router is infallible");
            answer(resp).await
        });
        assert_eq!(a.status, 413, "Content-Length {length}");
        contract(length, &a).unwrap_or_else(|e| panic!("{e}"));
    }
}

// ---------------------------------------------------------------------------------------------
// The properties, each on a thread with a large stack (see `e2e::on_big_stack`).

#[test]
fn any_get_request_gets_an_answer_and_4xx_are_json() {
    e2e::on_big_stack(prop_any_get_request_gets_an_answer_and_4xx_are_json);
}

#[test]
fn params_parse_any_query_string() {
    e2e::on_big_stack(prop_params_parse_any_query_string);
}

#[test]
fn coordinates_and_integers_parse_strictly() {
    e2e::on_big_stack(prop_coordinates_and_integers_parse_strictly);
}

#[test]
fn bbox_parses_strictly() {
    e2e::on_big_stack(prop_bbox_parses_strictly);
}

#[test]
fn datetimes_parse_strictly_and_agree_with_rfc3339() {
    e2e::on_big_stack(prop_datetimes_parse_strictly_and_agree_with_rfc3339);
}

#[test]
fn datetime_intervals_keep_their_ends() {
    e2e::on_big_stack(prop_datetime_intervals_keep_their_ends);
}

#[test]
fn csv_batches_parse_or_report_lines() {
    e2e::on_big_stack(prop_csv_batches_parse_or_report_lines);
}

#[test]
fn csv_batches_read_valid_rows_exactly() {
    e2e::on_big_stack(prop_csv_batches_read_valid_rows_exactly);
}

#[test]
fn geojson_batches_parse_or_report_features() {
    e2e::on_big_stack(prop_geojson_batches_parse_or_report_features);
}

#[test]
fn any_batch_post_gets_an_answer_and_4xx_are_json() {
    e2e::on_big_stack(prop_any_batch_post_gets_an_answer_and_4xx_are_json);
}
