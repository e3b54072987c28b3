//! The files under `geodata/` are the default data set's source of truth, and they are kept
//! byte for byte in the form geodata's own writer gives them (`Dataset::write_dir`: the source
//! form of `Dataset::source_files`, pretty-printed by `geodata::to_pretty`, with a trailing
//! newline). Then a tool or the server that loads the folder and writes back one edit changes
//! only the lines of that edit.
//!
//! After editing the data by hand (text editor, QGIS), put it back in that form with
//!
//! ```sh
//! ZONETRACK_BLESS=1 cargo test -p geodata --test source_form
//! ```
//!
//! which rewrites the files whose text differs (it refuses data that does not load: run
//! `zonetrack validate geodata` first). See `geodata/README.md`.

use std::path::{Path, PathBuf};

/// The repository's data folder.
fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../geodata")
}

/// Every `.json` / `.geojson` file under `root`, as paths relative to it with `/` separators.
fn data_files(root: &Path, sub: &str, out: &mut Vec<String>) {
    let dir = root.join(sub);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if sub.is_empty() {
            name.clone()
        } else {
            format!("{sub}/{name}")
        };
        if entry.path().is_dir() {
            data_files(root, &rel, out);
        } else if name.ends_with(".json") || name.ends_with(".geojson") {
            out.push(rel);
        }
    }
}

/// Where two texts first differ, as `line N: on disk ... / written ...`.
fn first_difference(on_disk: &str, written: &str) -> String {
    let mut disk = on_disk.lines();
    let mut new = written.lines();
    let mut line = 1;
    loop {
        match (disk.next(), new.next()) {
            (Some(a), Some(b)) if a == b => line += 1,
            (None, None) => return "only in the line ends or the final newline".into(),
            (a, b) => {
                let shown = |s: Option<&str>| {
                    s.map_or("(end of file)".to_owned(), |s| {
                        let s = s.trim();
                        if s.chars().count() > 100 {
                            format!("{}...", s.chars().take(100).collect::<String>())
                        } else {
                            s.to_owned()
                        }
                    })
                };
                return format!(
                    "line {line}: on disk `{}`, the writer gives `{}`",
                    shown(a),
                    shown(b)
                );
            }
        }
    }
}

#[test]
fn the_default_data_files_are_what_geodatas_writer_writes() {
    let dir = data_dir();
    let data = match geodata::load_dir(&dir) {
        Ok(d) => d,
        Err(geodata::GeodataError::Invalid(problems)) => panic!(
            "geodata/ does not load, so it cannot be checked or reformatted; fix these first \
             (`cargo run -p zonetrack -- validate geodata` lists the same):\n{problems}"
        ),
        Err(e) => panic!("geodata/ cannot be read: {e}"),
    };

    // Write the folder as the writer does, then compare file by file.
    let written = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("geodata-source-form-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&written);
    data.write_dir(&written)
        .expect("the temporary folder is writable");
    let mut names = Vec::new();
    data_files(&written, "", &mut names);
    names.sort();
    let mut on_disk = Vec::new();
    data_files(&dir, "", &mut on_disk);
    let bless = std::env::var("ZONETRACK_BLESS").is_ok_and(|v| v == "1");

    let mut differ = Vec::new();
    for name in &names {
        let want = std::fs::read_to_string(written.join(name)).expect("just written");
        let have = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        if have == want {
            continue;
        }
        if bless {
            std::fs::write(dir.join(name), &want)
                .unwrap_or_else(|e| panic!("cannot rewrite geodata/{name}: {e}"));
            eprintln!("rewrote geodata/{name}");
        } else {
            differ.push(format!(
                "  geodata/{name}: {}",
                first_difference(&have, &want)
            ));
        }
    }
    // A data file the writer does not write would be lost by the next write-back. (The loader
    // refuses unknown files, so this guards against the writer forgetting a layer.)
    for name in on_disk.iter().filter(|n| !names.contains(n)) {
        differ.push(format!(
            "  geodata/{name}: loaded, but the writer does not write it"
        ));
    }
    std::fs::remove_dir_all(&written).expect("the temporary folder can be removed");

    assert!(
        differ.is_empty(),
        "{} file(s) under geodata/ are not in the form geodata's writer gives them:\n{}\n\
         The data loads; the writer gives it one layout (member order, indentation, number \
         form, ring orientation, 7 decimals; members the format does not define, such as a \
         feature's \"bbox\" or a third coordinate, are not kept). Rewrite the files in that \
         form with\n\
         \n    ZONETRACK_BLESS=1 cargo test -p geodata --test source_form\n\n\
         and check the result with `git diff geodata/`.",
        differ.len(),
        differ.join("\n")
    );
}

/// Features are served as text written straight from the coordinates; it must be the text of
/// the `Value` the exports and the tests read, byte for byte, in every layer (points, lines,
/// polygons, multi-polygons with holes) of the embedded set and of zones with odd numbers.
#[test]
fn feature_text_is_the_text_of_its_json_value() {
    let data = geodata::Dataset::embedded();
    let mut compared = 0;
    for info in data.catalog() {
        for f in data.export_features(&info.id).unwrap() {
            assert_eq!(
                f.json_text(),
                f.to_json().to_string(),
                "{}/{}",
                info.id,
                f.key
            );
            compared += 1;
        }
    }
    assert!(compared > 150, "{compared} features");
    let odd = geo::Geometry::MultiPolygon(geo::MultiPolygon(vec![geo::Polygon::new(
        geo::LineString::from(vec![
            (1e-7, -0.0),
            (1e21, 5.0),
            (-36.5, 1.0 / 3.0),
            (1e-7, -0.0),
        ]),
        vec![geo::LineString::from(vec![
            (0.1, 0.2),
            (0.3, 0.4),
            (0.1, 0.2),
        ])],
    )]));
    let mut text = Vec::new();
    geodata::write_geometry_json(&odd, &mut text);
    assert_eq!(
        String::from_utf8(text).unwrap(),
        geodata::geometry_json(&odd).to_string()
    );
}
