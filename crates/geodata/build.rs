//! Embeds the repository's `geodata/` folder (the default data set) into the library: lists its
//! `.json`/`.geojson` files, and the reference layers under `reference/`, as `include_str!`s, so a
//! new reference layer needs no code change.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let data = Path::new(&manifest).join("../../geodata");
    println!("cargo:rerun-if-changed={}", data.display());
    println!(
        "cargo:rerun-if-changed={}",
        data.join("reference").display()
    );
    let mut names = Vec::new();
    for (sub, prefix) in [("", ""), ("reference", "reference/")] {
        let dir = data.join(sub);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_file() && (name.ends_with(".json") || name.ends_with(".geojson")) {
                println!("cargo:rerun-if-changed={}", entry.path().display());
                names.push(format!("{prefix}{name}"));
            }
        }
    }
    names.sort();
    let mut out = String::from(
        "/// The embedded data directory's files: (relative name, text).\npub(crate) const FILES: &[(&str, &str)] = &[\n",
    );
    for name in &names {
        let path = data.join(name).canonicalize().expect("listed files exist");
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .expect("writing to a String cannot fail");
    }
    out.push_str("];\n");
    let dest =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded_files.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
