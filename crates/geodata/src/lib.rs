//! zonetrack's data: zones (polygons with an actor, a kind, a validity period, a confidence and
//! sources), locations (named points), dated events and reference layers; loading a data
//! directory or the embedded Syria 2017-2018 default, validating it (every problem at once, each
//! with its file, feature, field and reason), deriving rule zones, and writing RFC 7946 GeoJSON.
//!
//! No I/O beyond reading and writing data directories; no HTTP, no async.
//!
//! ```
//! let data = geodata::Dataset::embedded();
//! let daraa = data.locations.iter().find(|l| l.meta.id.as_str() == "daraa_city").unwrap();
//! assert!((daraa.point.y() - 32.6).abs() < 0.1);
//! ```

mod cache;
mod catalog;
mod checks;
pub mod edit;
mod embedded;
mod fastjson;
pub mod geodesy;
mod history;
mod load;
mod model;
mod problem;
mod rules;
mod store;
mod write;

use std::path::PathBuf;

pub use cache::{CacheUse, DEFAULT_MIN_BYTES, LoadCache, SideFile};
pub use catalog::{LayerInfo, LayerRole, LayerStyle};
pub use history::{EDITABLE_LAYERS, FeatureChange, Revision, last_changes, revision_at};
pub use load::{
    COORD_DECIMALS, DataFile, LoadMemo, MAX_FILE_BYTES, MemoKeys, REQUIRED_FILES, load_dir,
    load_dir_memo, load_dir_named, load_files, parse_date, round,
};
pub use model::{
    Actor, ActorId, Confidence, DerivedFrom, Event, FeatureId, FeatureMeta, GeometryKind, Location,
    MAX_ID_LEN, Method, Period, ReferenceFeature, ReferenceLayer, Rule, Side, Source, Zone,
    ZoneKind,
};
pub use problem::{FeatureRef, Problem, ProblemKind, Problems};
pub use rules::split;
pub use store::{
    CHECKPOINT_FILE, Changes, Committed, DirectoryStore, Edit, EditError, EmbeddedStore,
    FILES_AUTHOR, History, HistoryState, LOG_FILE, MakeFeature, Store, apply_edits,
    files_hold_every_revision,
};
pub use write::{ExportFeature, geometry_json, to_pretty, write_geometry_json};

/// A calendar day (no time, no zone): validity periods and event dates are whole days.
pub type Date = chrono::NaiveDate;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GeodataError {
    /// The data directory does not exist or is not a directory.
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// Reading or writing a file failed.
    #[error("cannot access {}", .1.display())]
    Io(#[source] std::io::Error, PathBuf),
    /// The data has problems; each names its file, feature and reason.
    #[error("the data has {} problem(s)", .0.0.len())]
    Invalid(#[source] Problems),
}

/// Result of this crate.
pub type GeodataResult<T> = Result<T, GeodataError>;

/// A whole, valid data set: what a data directory holds, with rule zones computed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Dataset {
    /// Who, with colours.
    pub actors: Vec<Actor>,
    /// Zones, drawn and derived, in file order.
    pub zones: Vec<Zone>,
    /// Named points.
    pub locations: Vec<Location>,
    /// Dated points.
    pub events: Vec<Event>,
    /// Reference layers in name order.
    pub reference: Vec<ReferenceLayer>,
}

impl Dataset {
    /// The embedded Syria 2017-2018 default data set (the repository's `geodata/` folder,
    /// compiled in). Its validity is checked by the test suite, so this cannot fail at run time.
    pub fn embedded() -> Dataset {
        embedded::load().expect("the embedded data set is validated by geodata's tests")
    }

    /// The embedded data set, or its problems (used by tests and `zonetrack validate`).
    pub fn try_embedded() -> Result<Dataset, Problems> {
        embedded::load()
    }

    /// The embedded data directory's files, as [`DataFile`]s.
    pub fn embedded_files() -> Vec<DataFile> {
        embedded::files()
    }

    /// Where a zone is in `zones`, by id.
    pub fn zone_position(&self, id: &str) -> Option<usize> {
        self.zones.iter().position(|z| z.meta.id.as_str() == id)
    }

    /// A location by id.
    pub fn location(&self, id: &str) -> Option<&Location> {
        self.locations.iter().find(|l| l.meta.id.as_str() == id)
    }

    /// An actor by id.
    pub fn actor(&self, id: &str) -> Option<&Actor> {
        self.actors.iter().find(|a| a.id.as_str() == id)
    }

    /// The first and last day any zone, location or event names: the span a date slider covers.
    pub fn date_span(&self) -> Option<(Date, Date)> {
        let days = self
            .zones
            .iter()
            .flat_map(|z| [z.period.from(), z.period.to()])
            .chain(
                self.locations
                    .iter()
                    .flat_map(|l| [l.period.from(), l.period.to()]),
            )
            .chain(self.events.iter().flat_map(|e| [Some(e.date), e.date_end]))
            .flatten();
        let (mut lo, mut hi): (Option<Date>, Option<Date>) = (None, None);
        for d in days {
            lo = Some(lo.map_or(d, |l| l.min(d)));
            hi = Some(hi.map_or(d, |h| h.max(d)));
        }
        Some((lo?, hi?))
    }
}
