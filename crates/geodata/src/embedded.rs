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

pub(crate) fn load() -> Result<Dataset, Problems> {
    load_files("geodata (embedded)", files())
}
