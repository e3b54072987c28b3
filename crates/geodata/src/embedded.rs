//! The default data set, compiled in from the repository's `geodata/` folder by `build.rs`.

use crate::{DataFile, Dataset, Problems, load_files};

include!(concat!(env!("OUT_DIR"), "/embedded_files.rs"));

pub(crate) fn files() -> Vec<DataFile> {
    FILES
        .iter()
        .map(|(name, text)| DataFile {
            name: (*name).to_owned(),
            text: Ok((*text).to_owned()),
        })
        .collect()
}

/// Loaded once per process and cloned: the embedded files never change, and deriving the
/// date-aware rule zones (one per period, each repaired and checked) takes seconds in a debug
/// build, which every test and every server start would otherwise pay again.
pub(crate) fn load() -> Result<Dataset, Problems> {
    static LOADED: std::sync::OnceLock<Result<Dataset, Problems>> = std::sync::OnceLock::new();
    LOADED
        .get_or_init(|| load_files("geodata (embedded)", files()))
        .clone()
}
