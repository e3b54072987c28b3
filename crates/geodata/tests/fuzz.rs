//! Fuzzing the loader: `load_files` on mutated copies of real data files (truncated, spliced,
//! numbers turned into NaN/1e999/-0/huge, values of the wrong type, deep nesting, very long and
//! odd Unicode strings) and on generated rule zones (buffers and splits anywhere on the globe,
//! at any allowed distance). It must never panic, and a refusal must list problems that each
//! name one of the files given.
//!
//! Bounded for CI: each property runs a fixed number of cases (seconds each in a debug build);
//! `ZONETRACK_FUZZ_CASES=N` runs N cases each for a longer local run. Failures found are kept in
//! `proptest-regressions/` and replayed first on every run.

use std::path::Path;

use geodata::{DataFile, load_files};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Value, json};

fn config(default: u32) -> Config {
    Config {
        cases: e2e::fuzz_cases(default),
        // Shrinking a slow load is slow; a failure is reported with its seed either way.
        max_shrink_iters: 512,
        ..Config::default()
    }
}

fn read_tree(root: &Path) -> Vec<DataFile> {
    let mut out = Vec::new();
    for sub in ["", "reference"] {
        let dir = root.join(sub);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .expect("read a data directory")
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path
                .file_name()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            if path.is_file() && (name.ends_with(".json") || name.ends_with(".geojson")) {
                out.push(DataFile {
                    name: if sub.is_empty() {
                        name
                    } else {
                        format!("{sub}/{name}")
                    },
                    text: Ok(std::fs::read_to_string(&path).expect("read a data file")),
                });
            }
        }
    }
    out
}

/// The small good fixture and the real data set: what mutations start from.
fn bases() -> &'static [Vec<DataFile>] {
    static BASES: std::sync::LazyLock<Vec<Vec<DataFile>>> = std::sync::LazyLock::new(|| {
        let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        vec![
            read_tree(&crate_dir.join("tests/fixtures/good-minimal")),
            read_tree(&crate_dir.join("../../geodata")),
        ]
    });
    &BASES
}

/// Loads `files` and checks the contract: no panic (proptest catches one), and a refusal lists
/// at least one problem, each naming one of the files (`data/<name>`), each displayable.
fn check(files: Vec<DataFile>) -> Result<(), TestCaseError> {
    let names: Vec<String> = files
        .iter()
        .map(|f| format!("data/{}", f.name))
        .chain(geodata::REQUIRED_FILES.iter().map(|f| format!("data/{f}")))
        .collect();
    let r = load_files("data", files);
    if std::env::var("FUZZ_STATS").is_ok() {
        match &r {
            Ok(_) => eprintln!("STAT ok"),
            Err(p) => eprintln!("STAT err {}", p.0[0]),
        }
    }
    match r {
        Ok(data) => {
            // A data set that loads is whole: every zone has a polygon with finite coordinates.
            for z in &data.zones {
                prop_assert!(
                    !z.geometry.0.is_empty(),
                    "zone {} has no polygon",
                    z.meta.id
                );
                for p in &z.geometry.0 {
                    for c in p.exterior().coords() {
                        prop_assert!(c.x.is_finite() && c.y.is_finite(), "zone {}", z.meta.id);
                    }
                }
            }
        }
        Err(problems) => {
            prop_assert!(!problems.0.is_empty(), "refused with no problem listed");
            for p in &problems.0 {
                prop_assert!(names.contains(&p.file), "problem names no given file: {p}");
                let shown = p.to_string();
                prop_assert!(shown.starts_with(&p.file), "{shown}");
            }
        }
    }
    Ok(())
}

/// Numbers no JSON parser should turn into a coordinate, in JSON and non-JSON spellings.
const HOSTILE_NUMBER_TOKENS: &[&str] = &[
    "NaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1e999",
    "-1e999",
    "1e309",
    "1e-999",
    "-0",
    "-0.0",
    "0.0000000000000000000000000000001",
    "1.7976931348623157e308",
    "-1.7976931348623157e308",
    "5e-324",
    "123456789012345678901234567890",
    "-9223372036854775809",
    "18446744073709551616",
    "00012",
    "1.",
    ".5",
    "0x10",
    "1e",
    "+1",
    "180.0000001",
    "-90.0000001",
    "1_000",
];

/// Strings that stress ids, names, dates and enum fields.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".into()),
        Just("../../etc/passwd".into()),
        Just("%2e%2e%2f%2e%2e%2fetc%2fpasswd".into()),
        Just("a/b".into()),
        Just("\u{0}".into()),
        Just("\u{202e}reversed\u{202c}".into()),
        Just("e\u{301}\u{301}\u{301}".into()),
        Just("🏳️‍🌈👨‍👩‍👧‍👦".into()),
        Just("\u{feff}2018-02-07".into()),
        Just("+275760-09-13".into()),
        Just("0000-00-00".into()),
        Just("2018-02-07T99:99:99Z".into()),
        Just("9999-12-31".into()),
        Just("-0001-01-01".into()),
        Just("2018-02-29".into()),
        Just("２０１８-０２-０７".into()),
        Just("<script>alert(1)</script>".into()),
        (1usize..200_000).prop_map(|n| "a".repeat(n)),
        (1usize..5_000).prop_map(|n| "é".repeat(n)),
        "\\PC{0,64}",
        any::<String>(),
    ]
}

/// A JSON value of any type, hostile where possible.
fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![
            Just(-0.0),
            Just(1e308),
            Just(-1e308),
            Just(f64::MAX),
            Just(f64::MIN_POSITIVE),
            Just(5e-324),
            Just(180.0),
            Just(-180.0),
            Just(90.0),
            Just(-90.0),
            Just(180.0000001),
            Just(2000.0),
            Just(2000.000001),
            any::<f64>(),
        ]
        .prop_map(|v| serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)),
        any::<i64>().prop_map(|v| json!(v)),
        any::<u64>().prop_map(|v| json!(v)),
        hostile_string().prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
        Just(json!([[]])),
        Just(json!([0])),
        Just(json!([1, 2, 3])),
        Just(json!({"type": "Feature"})),
        Just(json!({"type": "Point", "coordinates": [36.1, 33.1]})),
        Just(json!({"type": "GeometryCollection", "geometries": []})),
        Just(json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]})),
        Just(json!({"op": "buffer", "of": "outline", "distance_km": 2000})),
        Just(json!({"op": "split", "area": "outline", "by": "test_line", "side": "left"})),
        // Deep nesting, within and beyond serde_json's recursion limit (128).
        (1usize..400).prop_map(|depth| {
            let mut v = json!(0);
            for _ in 0..depth {
                v = Value::Array(vec![v]);
            }
            v
        }),
        // Long arrays.
        (1usize..20_000).prop_map(|n| Value::Array(vec![json!(36.5); n])),
    ]
}

/// Every node of a JSON tree, as a path from the root.
fn paths(v: &Value) -> Vec<Vec<PathSeg>> {
    let mut out = vec![Vec::new()];
    let mut i = 0;
    while i < out.len() {
        let path = out[i].clone();
        match get(v, &path) {
            Some(Value::Array(items)) => {
                for k in 0..items.len() {
                    let mut p = path.clone();
                    p.push(PathSeg::Index(k));
                    out.push(p);
                }
            }
            Some(Value::Object(map)) => {
                for k in map.keys() {
                    let mut p = path.clone();
                    p.push(PathSeg::Key(k.clone()));
                    out.push(p);
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

#[derive(Debug, Clone)]
enum PathSeg {
    Key(String),
    Index(usize),
}

fn get<'v>(v: &'v Value, path: &[PathSeg]) -> Option<&'v Value> {
    path.iter().try_fold(v, |v, seg| match seg {
        PathSeg::Key(k) => v.get(k),
        PathSeg::Index(i) => v.get(i),
    })
}

fn get_mut<'v>(v: &'v mut Value, path: &[PathSeg]) -> Option<&'v mut Value> {
    path.iter().try_fold(v, |v, seg| match seg {
        PathSeg::Key(k) => v.get_mut(k),
        PathSeg::Index(i) => v.get_mut(i),
    })
}

/// A change to one node of a JSON tree.
#[derive(Debug, Clone)]
enum ValueEdit {
    Replace(Value),
    Remove,
    /// Duplicate the node in its array (a repeated feature, position or ring).
    Duplicate,
    /// Rename an object member (a typo such as `valid_form`).
    RenameKey(String),
}

fn value_edit() -> impl Strategy<Value = ValueEdit> {
    prop_oneof![
        6 => hostile_value().prop_map(ValueEdit::Replace),
        1 => Just(ValueEdit::Remove),
        1 => Just(ValueEdit::Duplicate),
        1 => hostile_string().prop_map(ValueEdit::RenameKey),
    ]
}

fn apply_value_edit(root: &mut Value, path: &[PathSeg], edit: &ValueEdit) {
    let Some((last, parent_path)) = path.split_last() else {
        if let ValueEdit::Replace(v) = edit {
            *root = v.clone();
        }
        return;
    };
    let Some(parent) = get_mut(root, parent_path) else {
        return;
    };
    match (edit, parent, last) {
        (ValueEdit::Replace(v), parent, seg) => {
            let slot = match seg {
                PathSeg::Key(k) => parent.get_mut(k),
                PathSeg::Index(i) => parent.get_mut(i),
            };
            if let Some(slot) = slot {
                *slot = v.clone();
            }
        }
        (ValueEdit::Remove, Value::Object(map), PathSeg::Key(k)) => {
            map.remove(k);
        }
        (ValueEdit::Remove, Value::Array(items), PathSeg::Index(i)) => {
            items.remove(*i);
        }
        (ValueEdit::Duplicate, Value::Array(items), PathSeg::Index(i)) => {
            let copy = items[*i].clone();
            items.insert(*i, copy);
        }
        (ValueEdit::RenameKey(new), Value::Object(map), PathSeg::Key(k)) => {
            if let Some(v) = map.remove(k) {
                map.insert(new.clone(), v);
            }
        }
        _ => {}
    }
}

/// A change to a file's text.
#[derive(Debug, Clone)]
enum TextEdit {
    /// Keep only the first `at` (a fraction of the length) bytes: a file saved half-way.
    Truncate(f64),
    /// Remove a range.
    Delete(f64, f64),
    /// Insert a string.
    Insert(f64, String),
    /// Replace the n-th number token with a hostile spelling.
    Number(usize, &'static str),
    /// Replace the n-th string literal's content.
    StringLiteral(usize, String),
    /// The whole text replaced by nesting `depth` deep.
    Nest(usize),
    /// The text twice (trailing characters).
    Twice,
    /// A byte order mark before the text.
    Bom,
    /// The file could not be read at all (a permission error, invalid UTF-8 on disk).
    Unreadable,
}

fn text_edit() -> impl Strategy<Value = TextEdit> {
    prop_oneof![
        3 => (0.0..1.0f64).prop_map(TextEdit::Truncate),
        2 => (0.0..1.0f64, 0.0..0.05f64).prop_map(|(a, b)| TextEdit::Delete(a, b)),
        3 => (0.0..1.0f64, prop_oneof![
            "\\PC{0,16}",
            any::<String>(),
            Just(",".to_string()),
            Just("]".to_string()),
            Just("}".to_string()),
            Just("\"".to_string()),
            Just("\\".to_string()),
            Just("\\u0000".to_string()),
            Just("\\ud800".to_string()),
            Just("\u{0}".to_string()),
        ])
            .prop_map(|(a, s)| TextEdit::Insert(a, s)),
        6 => (any::<usize>(), proptest::sample::select(HOSTILE_NUMBER_TOKENS))
            .prop_map(|(n, t)| TextEdit::Number(n, t)),
        4 => (any::<usize>(), hostile_string()).prop_map(|(n, s)| TextEdit::StringLiteral(n, s)),
        1 => prop_oneof![1usize..200, Just(100_000usize)].prop_map(TextEdit::Nest),
        1 => Just(TextEdit::Twice),
        1 => Just(TextEdit::Bom),
        1 => Just(TextEdit::Unreadable),
    ]
}

/// The byte index at fraction `f` of `s`, moved back to a character boundary.
fn at(s: &str, f: f64) -> usize {
    let mut i = ((s.len() as f64) * f) as usize;
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Byte ranges in a text.
type Spans = Vec<(usize, usize)>;

/// Spans of number tokens and of string literal contents in JSON text (a rough lexer: good
/// enough to find targets; the result need not be valid JSON).
fn tokens(s: &str) -> (Spans, Spans) {
    let b = s.as_bytes();
    let (mut numbers, mut strings) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                strings.push((start, i.min(b.len())));
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < b.len() && matches!(b[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                numbers.push((start, i));
            }
            _ => i += 1,
        }
    }
    (numbers, strings)
}

fn json_escape(s: &str) -> String {
    let quoted = serde_json::to_string(s).expect("a string serialises");
    quoted[1..quoted.len() - 1].to_owned()
}

fn apply_text_edit(text: &str, edit: &TextEdit) -> Result<String, String> {
    let mut s = text.to_owned();
    match edit {
        TextEdit::Truncate(f) => s.truncate(at(&s, *f)),
        TextEdit::Delete(a, len) => {
            let start = at(&s, *a);
            let end = at(&s, (*a + *len).min(1.0)).max(start);
            s.replace_range(start..end, "");
        }
        TextEdit::Insert(a, ins) => s.insert_str(at(&s, *a), ins),
        TextEdit::Number(n, token) => {
            let (numbers, _) = tokens(&s);
            if !numbers.is_empty() {
                let (a, b) = numbers[n % numbers.len()];
                s.replace_range(a..b, token);
            }
        }
        TextEdit::StringLiteral(n, new) => {
            let (_, strings) = tokens(&s);
            if !strings.is_empty() {
                let (a, b) = strings[n % strings.len()];
                s.replace_range(a..b, &json_escape(new));
            }
        }
        TextEdit::Nest(depth) => {
            s = format!("{}{}", "[".repeat(*depth), "]".repeat(*depth));
        }
        TextEdit::Twice => s = s.repeat(2),
        TextEdit::Bom => s.insert(0, '\u{feff}'),
        TextEdit::Unreadable => return Err("stream did not contain valid UTF-8".into()),
    }
    Ok(s)
}

/// `files` with text edits applied to the one chosen by `file`.
fn damage_text(mut files: Vec<DataFile>, file: usize, edits: &[TextEdit]) -> Vec<DataFile> {
    let k = file % files.len();
    for edit in edits {
        let text = match &files[k].text {
            Ok(t) => t.clone(),
            Err(_) => break,
        };
        files[k].text = apply_text_edit(&text, edit);
    }
    files
}

/// `files` with JSON edits applied to the one chosen by `file`, at nodes chosen by index.
fn damage_structure(
    mut files: Vec<DataFile>,
    file: usize,
    edits: &[(usize, ValueEdit)],
) -> Vec<DataFile> {
    let k = file % files.len();
    let mut v: Value = serde_json::from_str(files[k].text.as_deref().expect("base text"))
        .expect("base files are JSON");
    for (node, edit) in edits {
        let all = paths(&v);
        let path = &all[node % all.len()];
        apply_value_edit(&mut v, path, edit);
    }
    // serde_json writes deeply nested values without a recursion limit, so the text may be
    // deeper than the parser accepts: that must be a problem, not a crash.
    files[k].text = Ok(v.to_string());
    files
}

proptest! {
    #![proptest_config(config(3000))]

    /// Text-level damage to one file of the good fixture.
    fn prop_damaged_file_text_is_refused_with_named_problems(
        file in any::<usize>(),
        edits in proptest::collection::vec(text_edit(), 1..4),
    ) {
        check(damage_text(bases()[0].clone(), file, &edits))?;
    }

    /// Structure-level damage to one file of the good fixture: a value of the wrong type or out
    /// of range, a removed, repeated or renamed member, anywhere.
    fn prop_damaged_file_structure_is_refused_with_named_problems(
        file in any::<usize>(),
        edits in proptest::collection::vec((any::<usize>(), value_edit()), 1..4),
    ) {
        check(damage_structure(bases()[0].clone(), file, &edits))?;
    }

    /// A file added, removed or renamed: unknown files, missing required ones, odd names.
    fn prop_odd_file_sets_are_refused_with_named_problems(
        drop in proptest::collection::vec(any::<bool>(), 6),
        extra in proptest::option::of(prop_oneof![
            Just("reference/Bad Name.geojson".to_string()),
            Just("reference/../zones.geojson".to_string()),
            Just("reference/.geojson".to_string()),
            Just("notes.json".to_string()),
            Just("zones.geojson".to_string()),
            "reference/\\PC{0,20}\\.geojson",
        ]),
    ) {
        let mut files: Vec<DataFile> = bases()[0]
            .iter()
            .zip(drop.iter().chain(std::iter::repeat(&false)))
            .filter(|(_, d)| !**d)
            .map(|(f, _)| f.clone())
            .collect();
        if let Some(name) = extra {
            files.push(DataFile {
                name,
                text: bases()[0][1].text.clone(),
            });
        }
        check(files)?;
    }
}

/// A longitude, with the edges and the antimeridian over-represented.
fn lon() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => -180.0..=180.0f64,
        1 => prop::sample::select(&[-180.0, 180.0, 0.0, -179.999_999_9, 179.999_999_9][..]),
    ]
}

/// A latitude, with the poles over-represented.
fn lat() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => -90.0..=90.0f64,
        1 => prop::sample::select(&[-90.0, 90.0, 0.0, -89.999_999_9, 89.999_999_9][..]),
    ]
}

/// A short polyline near a random place (spread up to `spread` degrees), clamped to the globe.
fn polyline(spread: f64) -> impl Strategy<Value = Vec<[f64; 2]>> {
    (
        lon(),
        lat(),
        proptest::collection::vec((-1.0..1.0f64, -1.0..1.0f64), 2..8),
    )
        .prop_map(move |(x, y, steps)| {
            steps
                .into_iter()
                .map(|(dx, dy)| {
                    [
                        (x + dx * spread).clamp(-180.0, 180.0),
                        (y + dy * spread).clamp(-90.0, 90.0),
                    ]
                })
                .collect()
        })
}

/// An axis-aligned box, possibly degenerate, possibly the whole globe.
fn bbox() -> impl Strategy<Value = [f64; 4]> {
    prop_oneof![
        3 => (lon(), lat(), lon(), lat()).prop_map(|(a, b, c, d)| [a.min(c), b.min(d), a.max(c), b.max(d)]),
        1 => Just([-180.0, -90.0, 180.0, 90.0]),
        1 => (lon(), lat(), 1e-9..1e-3f64).prop_map(|(x, y, e)| [x, y, (x + e).min(180.0), (y + e).min(90.0)]),
    ]
}

fn meta(id: &str) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("name".into(), json!(id));
    m.insert("confidence".into(), json!("low"));
    m.insert("method".into(), json!("hand_drawn"));
    m.insert(
        "sources".into(),
        json!([{"title": "fuzz", "publisher": "fuzz"}]),
    );
    m
}

fn feature(id: &str, geometry: Value, extra: Value) -> Value {
    let mut props = meta(id);
    if let Value::Object(o) = extra {
        props.extend(o);
    }
    json!({"type": "Feature", "id": id, "geometry": geometry, "properties": props})
}

fn collection(features: Vec<Value>) -> String {
    json!({"type": "FeatureCollection", "features": features}).to_string()
}

fn ring(b: [f64; 4]) -> Value {
    json!([[
        [b[0], b[1]],
        [b[2], b[1]],
        [b[2], b[3]],
        [b[0], b[3]],
        [b[0], b[1]]
    ]])
}

/// Which feature a generated rule reads.
#[derive(Debug, Clone, Copy)]
enum Of {
    Point,
    Line,
    Area,
    Zone,
}

#[derive(Debug, Clone)]
struct RuleCase {
    point: [f64; 2],
    line: Vec<[f64; 2]>,
    area: [f64; 4],
    zone: [f64; 4],
    of: Of,
    distance_km: f64,
    clip: bool,
    minus: bool,
    split: Option<bool>,
}

fn rule_case() -> impl Strategy<Value = RuleCase> {
    (
        (lon(), lat()),
        prop_oneof![polyline(0.5), polyline(20.0), polyline(360.0)],
        bbox(),
        bbox(),
        prop_oneof![
            Just(Of::Point),
            Just(Of::Line),
            Just(Of::Area),
            Just(Of::Zone)
        ],
        prop_oneof![
            3 => 1e-6..50.0f64,
            1 => 50.0..=2000.0f64,
            1 => prop::sample::select(&[f64::MIN_POSITIVE, 1e-12, 2000.0][..]),
        ],
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(
            |((x, y), line, area, zone, of, distance_km, clip, minus, split)| {
                // A buffer's cost grows with the length of what it buffers (5 km pieces): keep
                // buffered lines and boxes within 10 degrees so each case takes milliseconds,
                // not the minutes a globe-wide buffer takes in a debug build. Clips, splits and
                // subtractions still get boxes of any size.
                let buffered = |o: Of| {
                    split.is_none() && std::mem::discriminant(&of) == std::mem::discriminant(&o)
                };
                let within =
                    |b: [f64; 4]| [b[0], b[1], b[2].min(b[0] + 10.0), b[3].min(b[1] + 10.0)];
                let line = if buffered(Of::Line) {
                    let [x0, y0] = line[0];
                    line.iter()
                        .map(|[x, y]| {
                            [x.clamp(x0 - 10.0, x0 + 10.0), y.clamp(y0 - 10.0, y0 + 10.0)]
                        })
                        .collect()
                } else {
                    line
                };
                RuleCase {
                    point: [x, y],
                    line,
                    area: if buffered(Of::Area) {
                        within(area)
                    } else {
                        area
                    },
                    zone: if buffered(Of::Zone) {
                        within(zone)
                    } else {
                        zone
                    },
                    of,
                    distance_km,
                    clip,
                    minus,
                    split,
                }
            },
        )
}

/// A whole data set around one generated rule zone.
fn rule_files(c: &RuleCase) -> Vec<DataFile> {
    let file = |name: &str, text: String| DataFile {
        name: name.into(),
        text: Ok(text),
    };
    let drawn = feature(
        "drawn",
        json!({"type": "Polygon", "coordinates": ring(c.zone)}),
        json!({"actor": "blue", "kind": "control"}),
    );
    let rule = match c.split {
        Some(left) => json!({
            "op": "split", "area": "area", "by": "line",
            "side": if left { "left" } else { "right" },
            "minus": if c.minus { json!(["drawn"]) } else { json!([]) },
        }),
        None => {
            let mut r = json!({
                "op": "buffer",
                "of": match c.of { Of::Point => "spot", Of::Line => "line", Of::Area => "area", Of::Zone => "drawn" },
                "distance_km": c.distance_km,
            });
            if c.clip {
                r["clip_to"] = json!("area");
            }
            if c.minus {
                r["minus"] = json!(["drawn"]);
            }
            r
        }
    };
    let mut ruled = feature(
        "ruled",
        Value::Null,
        json!({"actor": "red", "kind": "buffer", "rule": rule}),
    );
    ruled["properties"]["method"] = json!("rule");
    vec![
        file(
            "actors.json",
            json!({"actors": [
                {"id": "blue", "name": "Blue", "colour": "#1f77b4"},
                {"id": "red", "name": "Red", "colour": "#d62728"}]})
            .to_string(),
        ),
        file("zones.geojson", collection(vec![drawn, ruled])),
        file(
            "locations.geojson",
            collection(vec![feature(
                "spot",
                json!({"type": "Point", "coordinates": c.point}),
                json!({"kind": "town"}),
            )]),
        ),
        file("events.geojson", collection(vec![])),
        file(
            "reference/lines.geojson",
            collection(vec![feature(
                "line",
                json!({"type": "LineString", "coordinates": c.line}),
                json!({}),
            )]),
        ),
        file(
            "reference/areas.geojson",
            collection(vec![feature(
                "area",
                json!({"type": "Polygon", "coordinates": ring(c.area)}),
                json!({}),
            )]),
        ),
    ]
}

proptest! {
    // The real data set takes seconds to load in a debug build (its rule zones are geodesic
    // buffers): a few cases here, the volume on the small fixture above.
    #![proptest_config(config(12))]

    /// Text or structure damage to one file of the real data set (geodata/).
    fn prop_damaged_real_data_is_refused_with_named_problems(
        file in any::<usize>(),
        edits in prop_oneof![
            proptest::collection::vec(text_edit(), 1..3).prop_map(Ok),
            proptest::collection::vec((any::<usize>(), value_edit()), 1..3).prop_map(Err),
        ],
    ) {
        let files = bases()[1].clone();
        check(match &edits {
            Ok(text) => damage_text(files, file, text),
            Err(structure) => damage_structure(files, file, structure),
        })?;
    }
}

proptest! {
    #![proptest_config(config(1000))]

    /// Rule zones anywhere: buffers of points, lines and polygons at the poles and across the
    /// antimeridian, at every allowed distance, clipped and subtracted; splits of any box by any
    /// line. Geodesy and polygon clipping must not panic, and a result must be whole.
    fn prop_rule_zones_anywhere_on_the_globe_load_or_are_refused(c in rule_case()) {
        check(rule_files(&c))?;
    }
}

#[test]
fn hostile_whole_files_are_refused_with_named_problems() {
    let good = &bases()[0];
    let texts = [
        String::new(),
        "\u{feff}".into(),
        "null".into(),
        "[]".into(),
        "{}".into(),
        "{\"type\":\"FeatureCollection\"}".into(),
        "{\"type\":\"FeatureCollection\",\"features\":{}}".into(),
        "{\"type\":\"FeatureCollection\",\"features\":[null,1,\"x\",[]]}".into(),
        format!(
            "{{\"type\":\"FeatureCollection\",\"features\":{}{}}}",
            "[".repeat(1_000_000),
            "]".repeat(1_000_000)
        ),
        format!("{{\"a\":\"{}\"}}", "x".repeat(10_000_000)),
    ];
    for name in ["actors.json", "zones.geojson", "reference/outline.geojson"] {
        for text in &texts {
            let files: Vec<DataFile> = good
                .iter()
                .map(|f| {
                    if f.name == name {
                        DataFile {
                            name: f.name.clone(),
                            text: Ok(text.clone()),
                        }
                    } else {
                        f.clone()
                    }
                })
                .collect();
            let problems = load_files("data", files).expect_err("a hostile file is refused");
            assert!(
                problems.0.iter().any(|p| p.file == format!("data/{name}")),
                "{name}: {problems}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The properties, each on a thread with a large stack (see `e2e::on_big_stack`).

#[test]
fn damaged_file_text_is_refused_with_named_problems() {
    e2e::on_big_stack(prop_damaged_file_text_is_refused_with_named_problems);
}

#[test]
fn damaged_file_structure_is_refused_with_named_problems() {
    e2e::on_big_stack(prop_damaged_file_structure_is_refused_with_named_problems);
}

#[test]
fn damaged_real_data_is_refused_with_named_problems() {
    e2e::on_big_stack(prop_damaged_real_data_is_refused_with_named_problems);
}

#[test]
fn odd_file_sets_are_refused_with_named_problems() {
    e2e::on_big_stack(prop_odd_file_sets_are_refused_with_named_problems);
}

#[test]
fn rule_zones_anywhere_on_the_globe_load_or_are_refused() {
    e2e::on_big_stack(prop_rule_zones_anywhere_on_the_globe_load_or_are_refused);
}
