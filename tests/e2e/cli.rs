//! The command line as a user meets it: validate, layers, export, help, and errors on bad input.

use std::path::Path;

use e2e::{TempDir, copy_dir, repo_root, run};

#[test]
fn validate_passes_on_the_embedded_data_set() {
    let out = run(&["validate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("the embedded data set: ok"), "{text}");
}

#[test]
fn validate_passes_on_the_geodata_directory_itself() {
    let out = run(&["validate", "geodata"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn validate_fails_on_every_bad_fixture_and_names_file_feature_and_reason() {
    let fixtures = repo_root().join("crates/geodata/tests/fixtures");
    let mut tried = 0;
    for entry in std::fs::read_dir(fixtures.join("bad")).unwrap() {
        let bad = entry.unwrap().path();
        let name = bad.file_name().unwrap().to_string_lossy().into_owned();
        let layer = format!("{}.geojson", name.split('-').next().unwrap());
        let dir = TempDir::new(&format!("bad-{name}"));
        copy_dir(&fixtures.join("good-minimal"), &dir.0, &[]);
        std::fs::copy(&bad, dir.0.join(&layer)).unwrap();
        let out = run(&["validate", dir.0.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name} must fail validation");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("/{layer}: ")),
            "{name}: names the file: {err}"
        );
        assert!(err.contains("problem(s)"), "{name}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{name}: {err}"
        );
        tried += 1;
    }
    assert!(tried >= 15, "{tried} fixtures");
}

#[test]
fn validate_reports_a_missing_directory_in_one_line() {
    let out = run(&["validate", "no/such/dir"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim(), "zonetrack: no/such/dir is not a directory");
}

#[test]
fn layers_lists_every_layer_with_its_count() {
    let out = run(&["layers"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for layer in [
        "zones",
        "locations",
        "events",
        "syria",
        "governorates",
        "golan_lines",
        "rivers",
        "undof_aos",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(layer)),
            "{layer} in {text}"
        );
    }
    // Each line: layer, role, geometry, feature count, title (from the layer's file).
    assert!(
        text.lines().any(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.starts_with(&[
                "governorates",
                "reference",
                "MultiPolygon",
                "14",
                "Governorates",
            ])
        }),
        "{text}"
    );
}

#[test]
fn export_writes_a_layer_filtered_by_date() {
    let dir = TempDir::new("export");
    let all = dir.0.join("all.geojson");
    let feb = dir.0.join("feb.geojson");
    assert!(
        run(&["export", "--layer", "zones", "--out", all.to_str().unwrap()])
            .status
            .success()
    );
    assert!(
        run(&[
            "export",
            "--layer",
            "zones",
            "--at",
            "2018-02-07",
            "--out",
            feb.to_str().unwrap()
        ])
        .status
        .success()
    );
    let count = |p: &Path| {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        v["features"].as_array().unwrap().len()
    };
    assert!(count(&feb) < count(&all));
    assert!(count(&feb) > 10);
}

#[test]
fn bad_input_gets_one_clear_line_and_no_backtrace() {
    let out = run(&["export", "--layer", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("zonetrack: no layer named \"nope\"; layers are: zones, locations, events"),
        "{err}"
    );
    let out = run(&["export", "--layer", "zones", "--at", "2018-02-30"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"2018-02-30\" is not a date"), "{err}");
    let out = run(&["serve", "--bind", "not-an-address"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_explains_every_command_with_an_example() {
    let out = run(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let commands = [
        "serve", "query", "timeline", "changes", "validate", "layers", "export",
    ];
    for c in commands {
        assert!(text.contains(c), "--help lists {c}");
        let sub = run(&[c, "--help"]);
        let sub_text = String::from_utf8_lossy(&sub.stdout);
        assert!(sub.status.success());
        assert!(
            sub_text.contains("Example"),
            "{c} --help has an example: {sub_text}"
        );
    }
}

#[test]
fn query_prints_the_covering_zones_as_a_table_and_as_json() {
    let out = run(&[
        "query",
        "--lon",
        "36.1",
        "--lat",
        "32.617",
        "--at",
        "2018-02-15",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("zone") && text.contains("on boundary"),
        "{text}"
    );
    assert!(text.contains("sw_deescalation_zone"), "{text}");
    assert!(text.contains("Nearest zones not covering it"), "{text}");
    let out = run(&[
        "query",
        "--lon",
        "40.3094",
        "--lat",
        "35.3361",
        "--at",
        "2018-02-07",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = e2e::strs(&v["covering"], "key");
    assert!(
        keys.contains(&"sdf_east_of_euphrates"),
        "the Khasham battle site on 2018-02-07: {keys:?}"
    );
    let out = run(&["query", "--lon", "200", "--lat", "32"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a longitude"));
}

#[test]
fn a_csv_batch_keeps_the_input_columns_and_reports_bad_lines_by_number() {
    let dir = TempDir::new("batch");
    let input = dir.0.join("points.csv");
    std::fs::write(
        &input,
        "id,lon,lat,date\ndaraa,36.1,32.617,2018-02-15\nbroken,36.1,north,2018-02-15\nafter,36.1,32.617,2018-08-15\n",
    )
    .unwrap();
    let out = run(&["query", "--csv", input.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a bad line makes the exit code 1"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "id,lon,lat,date,zones");
    assert!(
        lines[1].starts_with("daraa,36.1,32.617,2018-02-15,")
            && lines[1].contains("sw_deescalation_zone"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("after,") && lines[2].contains("gov_south_west_from_2018_08"),
        "{text}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3: latitude \"north\" is not a number"),
        "{err}"
    );
    // The ids written are the ids `zonetrack export` writes as `key`.
    let export = run(&["export", "--layer", "zones"]);
    let fc: serde_json::Value = serde_json::from_slice(&export.stdout).unwrap();
    for key in lines[1].rsplit(',').next().unwrap().split(';') {
        assert!(
            fc["features"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["properties"]["key"] == key),
            "{key}"
        );
    }
}

#[test]
fn timeline_and_changes_print_readable_tables() {
    let out = run(&["timeline", "--lon", "36.1", "--lat", "32.617"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("2018-08-01") && l.contains("gov_south_west_from_2018_08")),
        "{text}"
    );
    let out = run(&["changes", "--from", "2018-02-15", "--to", "2018-08-15"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Ended") && text.contains("sw_deescalation_zone"),
        "{text}"
    );
    assert!(text.contains("syrian_government"), "{text}");
}

#[test]
fn areas_prints_monthly_areas_and_draws_a_chart() {
    let dir = TempDir::new("areas");
    let svg = dir.0.join("areas.svg");
    let out = run(&[
        "areas",
        "--from",
        "2018-01-01",
        "--to",
        "2018-12-31",
        "--svg",
        svg.to_str().expect("utf-8 path"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("month,actor,km2\n"));
    let gov = |month: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(&format!("{month},syrian_government,")))
            .and_then(|l| l.rsplit(',').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{month} in {text}"))
    };
    // The southern offensive took the rebel-held Daraa and Quneitra zones and the ISIS Yarmouk
    // basin, about 3,500 km² (before issue 15 the chart showed 10,000: the government's south-west
    // zone appearing, most of it government-held before and simply not drawn).
    assert!(
        gov("2018-08") > gov("2018-06") + 3000.0,
        "the southern offensive shows as a gain"
    );
    // Every month adds up to the whole outline: no jump from missing data.
    let months: std::collections::BTreeMap<&str, f64> =
        text.lines().skip(1).fold(Default::default(), |mut m, l| {
            let mut it = l.split(',');
            let (month, km2) = (it.next().unwrap(), it.nth(1).unwrap());
            *m.entry(month).or_default() += km2.parse::<f64>().unwrap();
            m
        });
    assert_eq!(months.len(), 12);
    let (lo, hi) = months
        .values()
        .fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    assert!(hi - lo < 0.01 * hi, "monthly totals {lo:.0}..{hi:.0} km²");
    let chart = std::fs::read_to_string(&svg).expect("the chart is written");
    assert!(chart.starts_with("<svg") && chart.contains("<polyline") && chart.ends_with("</svg>"));
}

#[test]
fn editors_add_prints_the_token_last_and_keeps_only_its_hash() {
    let dir = TempDir::new("editors-add");
    let file = dir.0.join("editors.txt");
    let file_arg = file.to_str().unwrap();
    let out = run(&["editors", "add", "alice", "--file", file_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let token = stdout.split_whitespace().last().unwrap();
    assert!(stdout.starts_with("added editor alice"), "{stdout}");
    assert_eq!(token.len(), 43, "{stdout}");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{token}"
    );
    let kept = std::fs::read_to_string(&file).unwrap();
    assert!(!kept.contains(token), "the file holds the token: {kept}");
    assert!(
        kept.lines().any(|l| l.starts_with("alice sha256:")),
        "{kept}"
    );

    let again = run(&["editors", "add", "alice", "--file", file_arg]);
    assert_eq!(again.status.code(), Some(1));
    assert!(again.stdout.is_empty(), "no token for a refused add");
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(
        err.trim(),
        format!(
            "zonetrack: {file_arg} already has an editor named \"alice\"; choose another name, \
             or remove that line first to give them a new token"
        )
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), kept);

    // A second editor gets a token of their own.
    let bob = run(&["editors", "add", "bob", "--file", file_arg]);
    assert!(bob.status.success());
    let bob_stdout = String::from_utf8_lossy(&bob.stdout);
    assert_ne!(bob_stdout.split_whitespace().last().unwrap(), token);
}

#[test]
fn serve_names_a_missing_editors_file_and_how_to_make_one() {
    let out = run(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--editors",
        "no/such/editors.txt",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such/editors.txt"), "{err}");
    assert!(err.contains("zonetrack editors add"), "{err}");
}

#[test]
fn a_parquet_batch_is_answered_as_parquet_and_nearest_is_refused_for_csv() {
    let dir = TempDir::new("parquet-batch");
    let points = dir.0.join("locations.parquet");
    let answer = dir.0.join("answer.parquet");
    // The locations layer as GeoParquet is a file of WKB points.
    let out = run(&[
        "export",
        "--layer",
        "locations",
        "--out",
        points.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "query",
        "--points",
        points.to_str().unwrap(),
        "--at",
        "2018-02-07",
        "--nearest",
        "2",
        "--out",
        answer.to_str().unwrap(),
        "--timings",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("timings: load"), "{err}");
    let bytes = std::fs::read(&answer).unwrap();
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
    assert!(bytes.len() > std::fs::metadata(&points).unwrap().len() as usize / 2);
    // The answer is a (Geo)Parquet batch too: read back as input, its columns are kept.
    let again = run(&["query", "--points", answer.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success() && err.contains("already has a column named \"zones\""),
        "{err}"
    );
    // A CSV through --points is the CSV batch; nearest is for Parquet and single points.
    let csv = dir.0.join("points.csv");
    std::fs::write(&csv, "lon,lat\n36.1,32.617\n").unwrap();
    let out = run(&[
        "query",
        "--points",
        csv.to_str().unwrap(),
        "--at",
        "2018-02-15",
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("sw_deescalation_zone"));
    let out = run(&["query", "--csv", csv.to_str().unwrap(), "--nearest", "2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--nearest"));
    let out = run(&[
        "query",
        "--points",
        dir.0.join("nothing.parquet").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

/// A data folder of `n` round zones of 256 vertices each (about 6 KB of GeoJSON apiece), one
/// every 0.1 degree in rows of 40, on the fixture's actors and reference layers.
fn round_zones_folder(dir: &Path, n: usize) {
    let fixture = repo_root().join("crates/geodata/tests/fixtures/good-minimal");
    copy_dir(&fixture, dir, &["zones.geojson"]);
    let features: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let (cx, cy) = (36.0 + 0.1 * (i % 40) as f64, 33.0 + 0.1 * (i / 40) as f64);
            let mut ring: Vec<[f64; 2]> = (0..256)
                .map(|k| {
                    let a = std::f64::consts::TAU * k as f64 / 256.0;
                    let round = |v: f64| (v * 1e6).round() / 1e6;
                    [round(cx + 0.04 * a.cos()), round(cy + 0.04 * a.sin())]
                })
                .collect();
            ring.push(ring[0]);
            serde_json::json!({
                "type": "Feature", "id": format!("round_{i}"),
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"name": format!("Round {i}"), "actor": "blue", "kind": "presence",
                    "valid_from": "2018-01-01", "confidence": "low", "method": "hand_drawn",
                    "sources": [{"title": "Test source", "publisher": "zonetrack tests"}]}
            })
        })
        .collect();
    let text = serde_json::json!({"type": "FeatureCollection", "features": features}).to_string();
    std::fs::write(dir.join("zones.geojson"), text).expect("the zones file writes");
}

#[test]
fn a_server_on_a_large_folder_starts_from_the_cache_and_keeps_its_zone_index_there() {
    let dir = TempDir::new("cache-serve");
    let data = dir.0.join("data");
    round_zones_folder(&data, 1000);
    let cache = dir.0.join("cache");
    let files = || -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
        let mut f: Vec<_> = std::fs::read_dir(&cache)
            .map(|d| {
                d.map(|e| {
                    let e = e.unwrap();
                    (e.path(), e.metadata().unwrap().modified().unwrap())
                })
                .collect()
            })
            .unwrap_or_default();
        f.sort();
        f
    };
    let start = || {
        e2e::Server::start_env(
            e2e::zonetrack(),
            &["--data", data.to_str().unwrap()],
            &[("ZONETRACK_CACHE_DIR", &cache)],
        )
    };
    let covering = |server: &e2e::Server| {
        let v = server.get_json("/query/point?lon=36.1&lat=33.1&nearest=0");
        v["covering"].to_string()
    };
    // The first start loads the folder and keeps the data set and the zone index ...
    let server = start();
    let answer = covering(&server);
    assert!(answer.contains("round_41"), "{answer}");
    drop(server);
    let kept = files();
    let exts: Vec<_> = kept
        .iter()
        .filter_map(|(p, _)| p.extension().map(|e| e.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(exts, ["bin", "index"], "{kept:?}");
    // ... and the next starts from both, writing nothing, with the same answers.
    let server = start();
    assert_eq!(covering(&server), answer);
    assert_eq!(files(), kept);
}

#[test]
fn a_large_folder_is_loaded_once_into_the_cache_and_an_edit_to_it_is_seen() {
    let dir = TempDir::new("cache-data");
    let data = dir.0.join("data");
    round_zones_folder(&data, 1000);
    let size = std::fs::metadata(data.join("zones.geojson")).unwrap().len();
    assert!(
        size > 4 << 20,
        "{size} bytes: under the size the cache takes"
    );
    let cache = dir.0.join("cache");
    let points = dir.0.join("points.csv");
    // Round 0's centre, round 41's centre, and a point in none.
    std::fs::write(&points, "lon,lat\n36.0,33.0\n36.1,33.1\n35.0,30.0\n").unwrap();
    let query = |env: &[(&str, &Path)]| {
        let mut cmd = std::process::Command::new(e2e::zonetrack());
        cmd.args(["--data", data.to_str().unwrap(), "query", "--csv"])
            .arg(&points)
            .env("ZONETRACK_CACHE_DIR", &cache)
            .env_remove("ZONETRACK_CACHE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("zonetrack runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let entries = || -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
        std::fs::read_dir(&cache)
            .map(|d| {
                d.map(|e| {
                    let e = e.unwrap();
                    (e.path(), e.metadata().unwrap().modified().unwrap())
                })
                .collect()
            })
            .unwrap_or_default()
    };
    // What a run read its zones from, as `--timings` says.
    let read_from = || {
        let out = std::process::Command::new(e2e::zonetrack())
            .args([
                "--data",
                data.to_str().unwrap(),
                "query",
                "--timings",
                "--csv",
            ])
            .arg(&points)
            .env("ZONETRACK_CACHE_DIR", &cache)
            .env_remove("ZONETRACK_CACHE")
            .output()
            .expect("zonetrack runs");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        if stderr.contains("kept batch index") {
            "batch index"
        } else {
            assert!(stderr.contains("timings: load"), "{stderr}");
            "data set"
        }
    };
    let expected = "lon,lat,zones\n36.0,33.0,round_0\n36.1,33.1,round_41\n35.0,30.0,\n";

    assert_eq!(query(&[]), expected);
    let first = entries();
    let [entry, index, batch] = ["bin", "index", "batch"].map(|ext| {
        first
            .iter()
            .map(|(p, _)| p.clone())
            .find(|p| p.extension().is_some_and(|e| e == ext))
            .unwrap_or_else(|| panic!("a .{ext} file for the folder: {first:?}"))
    });
    assert_eq!(
        first.len(),
        3,
        "the entry, the zone index and the batch index: {first:?}"
    );
    // The next CSV batches answer from the batch index alone and write nothing.
    assert_eq!(query(&[]), expected);
    assert_eq!(entries(), first);
    assert_eq!(read_from(), "batch index");
    assert_eq!(entries(), first);

    // An edit to the folder is seen at once: the data set is loaded again, the entry and the
    // batch index are written again; the zones' geometry did not change, so their index is
    // still the one kept.
    let zones = data.join("zones.geojson");
    let text = std::fs::read_to_string(&zones).unwrap();
    let index_bytes = std::fs::read(&index).unwrap();
    let batch_bytes = std::fs::read(&batch).unwrap();
    std::fs::write(&zones, text.replace("\"round_41\"", "\"moved_41\"")).unwrap();
    assert_eq!(query(&[]), expected.replace("round_41", "moved_41"));
    let second = entries();
    assert_eq!(second.len(), 3);
    assert_ne!(second, first);
    assert_eq!(std::fs::read(&index).unwrap(), index_bytes);
    assert_ne!(std::fs::read(&batch).unwrap(), batch_bytes);
    assert_eq!(read_from(), "batch index");
    let batch_bytes = std::fs::read(&batch).unwrap();

    // A damaged batch index is not trusted: the data set is loaded, the answers are the same,
    // and it is kept again.
    let mut damaged = batch_bytes.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x40;
    std::fs::write(&batch, &damaged).unwrap();
    assert_eq!(read_from(), "data set");
    assert_eq!(query(&[]), expected.replace("round_41", "moved_41"));
    assert_eq!(std::fs::read(&batch).unwrap(), batch_bytes);

    // Nor is a damaged zone index (with no batch index to answer from): built and kept again.
    std::fs::remove_file(&batch).unwrap();
    let mut damaged = index_bytes.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x40;
    std::fs::write(&index, &damaged).unwrap();
    assert_eq!(query(&[]), expected.replace("round_41", "moved_41"));
    assert_eq!(std::fs::read(&index).unwrap(), index_bytes);
    assert_eq!(std::fs::read(&batch).unwrap(), batch_bytes);

    // A revision log whose files may lack a revision (here, one that cannot be read) is never
    // answered from the batch index kept for the files: the load reads the log and says why.
    let log = data.join("history/log.jsonl");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::fs::write(&log, "not a revision\n").unwrap();
    let out = std::process::Command::new(e2e::zonetrack())
        .args(["--data", data.to_str().unwrap(), "query", "--csv"])
        .arg(&points)
        .env("ZONETRACK_CACHE_DIR", &cache)
        .env_remove("ZONETRACK_CACHE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("log.jsonl"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(log.parent().unwrap()).unwrap();
    assert_eq!(read_from(), "batch index");

    // Moving one vertex of round 0 changes the geometry: a new index is kept.
    let moved = text.replace("\"round_41\"", "\"moved_41\"");
    assert_eq!(
        moved.matches("[36.04,33.0]").count(),
        2,
        "round 0's first and last vertex"
    );
    std::fs::write(&zones, moved.replace("[36.04,33.0]", "[36.05,33.0]")).unwrap();
    assert_eq!(query(&[]), expected.replace("round_41", "moved_41"));
    assert_ne!(std::fs::read(&index).unwrap(), index_bytes);
    assert!(entry.exists());
    std::fs::write(&zones, &moved).unwrap();

    // Turned off, nothing is read or written.
    let elsewhere = dir.0.join("unused-cache");
    let off = query(&[
        ("ZONETRACK_CACHE", Path::new("off")),
        ("ZONETRACK_CACHE_DIR", &elsewhere),
    ]);
    assert_eq!(off, expected.replace("round_41", "moved_41"));
    assert!(!elsewhere.exists());

    // `validate` checks in full: a broken zone is reported, not an entry's verdict taken.
    std::fs::write(&zones, text.replace("\"presence\"", "\"occupation\"")).unwrap();
    let out = std::process::Command::new(e2e::zonetrack())
        .args(["validate", data.to_str().unwrap()])
        .env("ZONETRACK_CACHE_DIR", &cache)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("occupation"));
}
