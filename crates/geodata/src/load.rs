//! Reading a data directory (or the embedded default): parse every file, check every feature,
//! collect every problem, derive rule zones, and build a [`Dataset`] only when nothing is wrong.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt as _, HashSet};
use std::io::Read as _;
use std::path::Path;
use std::sync::Arc;

use geo::{Coord, LineString, MultiLineString, MultiPolygon, Orient, Point, Polygon, Validation};
use geojson::{GeometryValue, Position};
use rayon::prelude::*;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::fastjson::{self, DocGeometry, FastGeometry, FeatureDoc, LayerDoc, Props};

use crate::model::{
    Actor, ActorId, Confidence, Event, FeatureId, FeatureMeta, GeometryKind, Location, Method,
    Period, ReferenceFeature, ReferenceLayer, Rule, Side, Source, ZoneKind,
};
use crate::problem::{FeatureRef, Problem, ProblemKind, Problems};
use crate::{Dataset, Date, GeodataError, GeodataResult, LayerStyle, rules};

/// Decimal places kept in coordinates: 7 decimals is about 1 cm, far finer than any source.
pub const COORD_DECIMALS: i32 = 7;

/// The properties a layer's features may have: the common ones every feature has, then `$more`.
macro_rules! props {
    ($($more:literal),*) => {
        &["name", "description", "confidence", "method", "sources", $($more),*]
    };
}
const COMMON_PROPS: &[&str] = props![];
const ZONE_PROPS: &[&str] = props!["actor", "kind", "valid_from", "valid_to", "rule"];
const LOCATION_PROPS: &[&str] = props!["kind", "actor", "valid_from", "valid_to"];
const EVENT_PROPS: &[&str] = props!["kind", "date", "date_end", "actors", "location"];

/// The files a data directory must have.
pub const REQUIRED_FILES: [&str; 4] = [
    "actors.json",
    "zones.geojson",
    "locations.geojson",
    "events.geojson",
];

/// One file of a data directory: its name relative to the directory (`zones.geojson`,
/// `reference/syria.geojson`) and its text, or why it could not be read.
#[derive(Debug, Clone)]
pub struct DataFile {
    /// Name relative to the data directory, with `/` separators.
    pub name: String,
    /// The text, or the reason it could not be read.
    pub text: Result<String, String>,
}

/// Largest data file read: a zones file of the whole world at full detail is tens of MB, so
/// anything larger is a mistake (a wrong file, a runaway export) and is refused, not read.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// Loads a data directory: `actors.json`, `zones.geojson`, `locations.geojson`,
/// `events.geojson` and `reference/*.geojson`.
///
/// Problems name files as `DIR/zones.geojson`, with `DIR` as given. A file larger than
/// [`MAX_FILE_BYTES`], or a symbolic link that leads out of the directory, is a problem, not
/// read.
pub fn load_dir(dir: &Path) -> GeodataResult<Dataset> {
    load_dir_named(dir, &dir.display().to_string())
}

/// [`load_dir`], naming files in problems as `SHOWN/zones.geojson` (just `zones.geojson` when
/// `shown` is empty: what a server shows, without its own paths).
pub fn load_dir_named(dir: &Path, shown: &str) -> GeodataResult<Dataset> {
    load_files(shown, read_dir_files(dir)?).map_err(GeodataError::Invalid)
}

/// The data files of a folder (see [`load_dir`]), in name order.
pub(crate) fn read_dir_files(dir: &Path) -> GeodataResult<Vec<DataFile>> {
    let files = dir_files(dir, read_data_file)?;
    Ok(files
        .into_iter()
        .map(|(name, text)| DataFile { name, text })
        .collect())
}

/// What `read` makes of each data file of a folder (see [`load_dir`]), in name order, with the
/// file's name; `read` is given the file and whether a path is inside the folder.
pub(crate) fn dir_files<T>(
    dir: &Path,
    read: impl Fn(&Path, &dyn Fn(&Path) -> bool) -> Result<T, String>,
) -> GeodataResult<Vec<(String, Result<T, String>)>> {
    let read_dir = |d: &Path| -> GeodataResult<Vec<std::fs::DirEntry>> {
        let entries = std::fs::read_dir(d).map_err(|e| GeodataError::Io(e, d.to_path_buf()))?;
        let mut out = Vec::new();
        for e in entries {
            out.push(e.map_err(|e| GeodataError::Io(e, d.to_path_buf()))?);
        }
        out.sort_by_key(|e| e.file_name());
        Ok(out)
    };
    if !dir.is_dir() {
        return Err(GeodataError::NotADirectory(dir.to_path_buf()));
    }
    // Links are followed only while they stay inside the directory: a data folder is what a
    // team shares and the server publishes, so a link to /etc or a home folder must not be.
    let root = dir
        .canonicalize()
        .map_err(|e| GeodataError::Io(e, dir.to_path_buf()))?;
    let inside = |path: &Path| path.canonicalize().is_ok_and(|p| p.starts_with(&root));
    let data_file = |name: &str| name.ends_with(".json") || name.ends_with(".geojson");
    let mut files = Vec::new();
    let mut push = |name: String, path: &Path| files.push((name, read(path, &inside)));
    for entry in read_dir(dir)? {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_file() && data_file(&name) {
            push(name, &path);
        }
    }
    let reference = dir.join("reference");
    if reference.is_dir() {
        if !inside(&reference) {
            files.push(("reference".into(), Err(OUTSIDE.into())));
        } else {
            for entry in read_dir(&reference)? {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if path.is_file() && data_file(&name) {
                    push(format!("reference/{name}"), &path);
                }
            }
        }
    }
    Ok(files)
}

const OUTSIDE: &str = "it is a symbolic link that leads out of the data folder; copy what it points to into the folder";

/// Reads one data file, refusing one that is too large or a link out of the data directory.
fn read_data_file(path: &Path, inside: &dyn Fn(&Path) -> bool) -> Result<String, String> {
    let (file, len) = open_data_file(path, inside)?;
    // The size can change between the check and the read (a file being written): read no more
    // than the limit allows either way.
    let mut text = String::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(text.len() as u64));
    }
    Ok(text)
}

/// The 128-bit XXH3 hash of a data file's bytes (what [`read_data_file`] would read), read a
/// block at a time: nothing the size of the file is held.
pub(crate) fn hash_data_file(path: &Path, inside: &dyn Fn(&Path) -> bool) -> Result<u128, String> {
    let (file, _) = open_data_file(path, inside)?;
    let mut file = file.take(MAX_FILE_BYTES + 1);
    let mut hash = xxhash_rust::xxh3::Xxh3::new();
    let mut block = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut block).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hash.update(&block[..n]);
    }
    if total > MAX_FILE_BYTES {
        return Err(too_large(total));
    }
    Ok(hash.digest128())
}

/// A data file opened for reading, with its size; refused when it is too large or a link out of
/// the data directory.
fn open_data_file(
    path: &Path,
    inside: &dyn Fn(&Path) -> bool,
) -> Result<(std::fs::File, u64), String> {
    let is_link = path
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink());
    if is_link && !inside(path) {
        return Err(OUTSIDE.into());
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if len > MAX_FILE_BYTES {
        return Err(too_large(len));
    }
    Ok((file, len))
}

fn too_large(bytes: u64) -> String {
    format!(
        "the file is {} MiB, over the {} MiB limit for one data file",
        bytes.div_ceil(1 << 20),
        MAX_FILE_BYTES >> 20
    )
}

/// Loads a data set from its files (see [`DataFile`]). `prefix` is put before each file name in
/// problems (the directory as the user named it).
pub fn load_files(prefix: &str, files: Vec<DataFile>) -> Result<Dataset, Problems> {
    load_files_memo(prefix, files, None).0
}

/// What one load of a data folder found valid, kept so that the next load of the same folder
/// reads again only the zones whose text changed: a zone feature with the same text (by a
/// 128-bit digest), checked against the same actors, is taken as it was, and the whole-set
/// checks look only at pairs that involve a zone that is not exactly as it was. Made by
/// [`load_dir_memo`]; a [`DirectoryStore`](crate::DirectoryStore) keeps one between loads.
#[derive(Debug, Clone, Default)]
pub struct LoadMemo {
    inner: Option<std::sync::Arc<MemoInner>>,
}

#[derive(Debug)]
struct MemoInner {
    /// The valid data set the zones come from.
    data: std::sync::Arc<Dataset>,
    /// The actor ids the zones were checked against.
    actors: Vec<String>,
    /// A drawn zone's position in `data.zones`, by its feature's digest.
    zones: HashMap<u128, usize>,
}

impl LoadMemo {
    /// The memo of a load that gave `data`: `keys` are the digests and ids of its drawn zones'
    /// features, as [`load_dir_memo`] returned them.
    pub fn new(data: std::sync::Arc<Dataset>, keys: MemoKeys) -> LoadMemo {
        let drawn = || {
            data.zones
                .iter()
                .enumerate()
                .filter(|(_, z)| z.rule.is_none() && z.derived_from.is_none())
        };
        // Without rules the drawn zones are the keys, in the same order: no map of ids needed.
        let zones = if drawn().count() == keys.0.len()
            && drawn()
                .zip(&keys.0)
                .all(|((_, z), (_, id))| z.meta.id == *id)
        {
            drawn()
                .zip(&keys.0)
                .map(|((i, _), (d, _))| (*d, i))
                .collect()
        } else {
            let position: HashMap<&str, usize> =
                drawn().map(|(i, z)| (z.meta.id.as_str(), i)).collect();
            keys.0
                .iter()
                .filter_map(|(d, id)| Some((*d, *position.get(id.as_str())?)))
                .collect()
        };
        let actors = data.actors.iter().map(|a| a.id.to_string()).collect();
        LoadMemo {
            inner: Some(std::sync::Arc::new(MemoInner {
                data,
                actors,
                zones,
            })),
        }
    }

    /// The data set the memo was made from.
    pub fn data(&self) -> Option<&std::sync::Arc<Dataset>> {
        self.inner.as_ref().map(|m| &m.data)
    }
}

/// The digests and ids of the drawn zones a load read (see [`LoadMemo::new`]).
#[derive(Debug, Default)]
pub struct MemoKeys(pub(crate) Vec<(u128, FeatureId)>);

/// [`load_dir_named`], reusing what `memo` (the memo of an earlier load of the same folder) says
/// was valid, and returning the keys of a memo for this load.
pub fn load_dir_memo(
    dir: &Path,
    shown: &str,
    memo: Option<&LoadMemo>,
) -> (GeodataResult<Dataset>, MemoKeys) {
    match read_dir_files(dir) {
        Ok(files) => {
            let (result, keys) = load_files_memo(shown, files, memo);
            (result.map_err(GeodataError::Invalid), keys)
        }
        Err(e) => (Err(e), MemoKeys::default()),
    }
}

/// [`load_dir_named`] through `cache`: the data set comes from it when the folder's files are
/// those it was made from, and goes into it when loaded valid; with `want_keys`, with the keys
/// of its memo (see [`crate::LoadCache::load_keyed`]).
pub(crate) fn load_dir_cached(
    dir: &Path,
    shown: &str,
    cache: &crate::LoadCache,
    want_keys: bool,
) -> (GeodataResult<Dataset>, MemoKeys) {
    let (data, keys, _) = cache.load_keyed(
        dir,
        || read_dir_files(dir),
        |files, memo| load_files_memo(shown, files, memo),
        want_keys,
    );
    (data, keys)
}

/// A file as parsed: its top level (for a layer file read by the fast path, every member but
/// `features`), and a layer file's features as raw text when the fast path read them.
struct Doc<'t> {
    shown: String,
    value: Value,
    features: Option<Vec<&'t str>>,
}

pub(crate) fn load_files_memo(
    prefix: &str,
    files: Vec<DataFile>,
    memo: Option<&LoadMemo>,
) -> (Result<Dataset, Problems>, MemoKeys) {
    let label = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", prefix.trim_end_matches('/'))
        }
    };
    let mut problems = Vec::new();
    // Every file's problem or text, in file order; texts are parsed once all are here, since
    // the parsed files borrow from them.
    let entries: Vec<Result<(String, String, String), Box<Problem>>> = files
        .into_iter()
        .map(|file| {
            let shown = label(&file.name);
            let text = file.text.map_err(|reason| {
                Box::new(file_problem(&shown, ProblemKind::Unreadable { reason }))
            })?;
            let known = REQUIRED_FILES.contains(&file.name.as_str())
                || (file.name.starts_with("reference/") && file.name.ends_with(".geojson"));
            if !known {
                return Err(Box::new(file_problem(&shown, ProblemKind::UnknownFile)));
            }
            Ok((file.name, shown, text))
        })
        .collect();
    let mut by_name: BTreeMap<String, Doc<'_>> = BTreeMap::new();
    for entry in &entries {
        let (name, shown, text) = match entry {
            Ok(t) => t,
            Err(p) => {
                problems.push((**p).clone());
                continue;
            }
        };
        // A layer file's features are kept as text (parsed feature by feature, in parallel; a
        // large file is also cut into runs of features found on every core); anything the fast
        // read does not take is read whole, as before.
        let layer = name != "actors.json";
        let fast = layer
            .then(|| {
                fastjson::split_layer(text, rayon::current_num_threads())
                    .or_else(|| fastjson::parse_object::<LayerDoc<'_>>(text).ok())
            })
            .flatten();
        let doc = match fast {
            Some(d) => Ok(Doc {
                shown: shown.clone(),
                value: Value::Object(d.members),
                features: d.features,
            }),
            None => serde_json::from_str::<Value>(text).map(|value| Doc {
                shown: shown.clone(),
                value,
                features: None,
            }),
        };
        match doc {
            Ok(doc) => {
                by_name.insert(name.clone(), doc);
            }
            Err(e) => problems.push(file_problem(
                shown,
                ProblemKind::NotJson {
                    line: e.line(),
                    column: e.column(),
                    reason: json_reason(&e),
                },
            )),
        }
    }
    for required in REQUIRED_FILES {
        let unreadable = problems.iter().any(|p| p.file == label(required));
        if !by_name.contains_key(required) && !unreadable {
            problems.push(file_problem(&label(required), ProblemKind::MissingFile));
        }
    }

    let actors = match by_name.get("actors.json") {
        Some(doc) => parse_actors(&doc.shown, &doc.value, &mut problems),
        None => Vec::new(),
    };
    let actor_ids: Vec<String> = actors.iter().map(|a| a.id.as_str().to_owned()).collect();
    let checker = Refs {
        actors: &actor_ids,
        actors_loaded: by_name.contains_key("actors.json"),
    };

    // A memo made against other actors says nothing of these features.
    let memo = memo
        .and_then(|m| m.inner.as_deref())
        .filter(|m| m.actors == actor_ids);
    let mut layers = LayerFiles {
        by_name: &by_name,
        refs: &checker,
        problems: &mut problems,
    };
    // Digests of the zone features (for the next load's memo) and the zones this memo has.
    let zone_digests: Vec<u128> = by_name
        .get("zones.geojson")
        .and_then(|d| d.features.as_ref())
        .map(|list| list.par_iter().map(|f| fastjson::digest(f)).collect())
        .unwrap_or_default();
    let reuse = |index: usize| -> Option<ParsedZone> {
        let m = memo?;
        let z = &m.data.zones[*m.zones.get(zone_digests.get(index)?)?];
        Some((
            z.meta.clone(),
            ZoneRest {
                actor: z.actor.clone(),
                kind: z.kind,
                period: z.period,
                geometry: Some(z.geometry.clone()),
                rule: None,
            },
        ))
    };
    let (zones, zone_index) = layers.parse("zones.geojson", parse_zone, &reuse);
    let keys = MemoKeys(
        zones
            .iter()
            .zip(&zone_index)
            .filter(|((_, rest), _)| rest.rule.is_none())
            .filter_map(|((meta, _), &i)| Some((*zone_digests.get(i)?, meta.id.clone())))
            .collect(),
    );
    let (locations, _) = layers.parse("locations.geojson", parse_location, &|_| None);
    let (events, idx) = layers.parse("events.geojson", parse_event, &|_| None);
    if let Some(doc) = by_name.get("events.geojson") {
        check_event_locations(&doc.shown, &events, &idx, &locations, &mut problems);
    }
    let mut reference = Vec::new();
    let mut reference_files = Vec::new();
    for (name, doc) in &by_name {
        let shown = &doc.shown;
        let Some(stem) = name
            .strip_prefix("reference/")
            .and_then(|n| n.strip_suffix(".geojson"))
        else {
            continue;
        };
        if let Err(reason) = FeatureId::parse(stem) {
            problems.push(file_problem(
                shown,
                ProblemKind::InvalidId {
                    reason: format!("the layer name (file stem) {reason}"),
                },
            ));
            continue;
        }
        if let Some(layer) = parse_reference_layer(stem, doc, &mut problems) {
            reference.push(layer);
            reference_files.push(shown.clone());
        }
    }

    // Rules read features of every layer, so they are derived once all layers are parsed.
    let zone_files = by_name
        .get("zones.geojson")
        .map(|d| d.shown.clone())
        .unwrap_or_default();
    let zone_positions = crate::checks::ZonePositions::new(
        zones
            .iter()
            .zip(zone_index.iter())
            .map(|((meta, _), &i)| (meta.id.clone(), i))
            .collect(),
    );
    let zones = rules::derive_zones(
        &zone_files,
        zones,
        &zone_index,
        &locations,
        &reference,
        &mut problems,
    );
    // The whole-set checks read every layer by position, so they run on a clean parse only.
    if problems.is_empty() {
        let shown = |name: &str| {
            by_name
                .get(name)
                .map(|d| d.shown.clone())
                .unwrap_or_default()
        };
        let reference_shown = reference
            .iter()
            .zip(&reference_files)
            .map(|(l, f)| (l.name.clone(), f.clone()))
            .collect();
        let (actors_file, locations_file, events_file) = (
            shown("actors.json"),
            shown("locations.geojson"),
            shown("events.geojson"),
        );
        let files = crate::checks::Files {
            actors: &actors_file,
            zones: &zone_files,
            locations: &locations_file,
            events: &events_file,
            reference: &reference_shown,
            zone_index: &zone_positions,
        };
        crate::checks::check(
            &files,
            &actors,
            &zones,
            &locations,
            &events,
            &reference,
            memo.map(|m| &*m.data),
            &mut problems,
        );
    }

    let result = if problems.is_empty() {
        Ok(Dataset {
            actors,
            zones,
            locations,
            events,
            reference,
        })
    } else {
        Err(Problems(problems))
    };
    (result, keys)
}

/// The layer files as read, for parsing one layer after another.
struct LayerFiles<'a, 't> {
    by_name: &'a BTreeMap<String, Doc<'t>>,
    refs: &'a Refs<'a>,
    problems: &'a mut Vec<Problem>,
}

/// A feature that has an id, for the check that ids are used once.
trait Keyed {
    fn key(&self) -> &FeatureId;
}

impl Keyed for ParsedZone {
    fn key(&self) -> &FeatureId {
        &self.0.id
    }
}

impl Keyed for Location {
    fn key(&self) -> &FeatureId {
        &self.meta.id
    }
}

impl Keyed for Event {
    fn key(&self) -> &FeatureId {
        &self.meta.id
    }
}

impl LayerFiles<'_, '_> {
    /// Parses the features of one layer file (when it was read), keeping those that parse, with
    /// their index in the file, and reports ids used twice. `reuse` gives a feature (by index)
    /// known valid from an earlier load, which is then not read again. Features are parsed in
    /// parallel; their problems are reported in file order.
    fn parse<T: Keyed + Send>(
        &mut self,
        name: &str,
        parse: fn(&mut FeatureCx<'_>, &Refs<'_>) -> Option<T>,
        reuse: &(dyn Fn(usize) -> Option<T> + Sync),
    ) -> (Vec<T>, Vec<usize>) {
        let (mut parsed, mut indices) = (Vec::new(), Vec::new());
        let Some(doc) = self.by_name.get(name) else {
            return (parsed, indices);
        };
        let shown = doc.shown.as_str();
        let refs = self.refs;
        let list = features(doc, reuse, self.problems);
        let results: Vec<(usize, Option<T>, Vec<Problem>)> = list
            .into_par_iter()
            .map(|(index, f)| {
                let mut problems = Vec::new();
                let t = match f {
                    Feature::Reused(t) => Some(t),
                    Feature::Raw(mut doc) => parse(
                        &mut FeatureCx::from_doc(shown, index, &mut doc, &mut problems),
                        refs,
                    ),
                    Feature::Value(raw) => {
                        parse(&mut FeatureCx::new(shown, index, raw, &mut problems), refs)
                    }
                };
                (index, t, problems)
            })
            .collect();
        for (index, t, problems) in results {
            self.problems.extend(problems);
            if let Some(t) = t {
                indices.push(index);
                parsed.push(t);
            }
        }
        let ids = parsed.iter().map(Keyed::key);
        check_ids(shown, ids.zip(indices.iter().copied()), self.problems);
        (parsed, indices)
    }
}

/// A zone as parsed, before its rule (if any) is derived: meta, the rest, and the raw rule.
/// Meta and geometry are shared, not copied, between the data sets an edit makes.
pub(crate) type ParsedZone = (Arc<FeatureMeta>, ZoneRest);

/// The zone's fields other than its meta, with geometry `None` while a rule is pending.
pub(crate) struct ZoneRest {
    pub actor: ActorId,
    pub kind: ZoneKind,
    pub period: Period,
    pub geometry: Option<Arc<MultiPolygon<f64>>>,
    pub rule: Option<Rule>,
}

fn json_reason(e: &serde_json::Error) -> String {
    // serde_json appends " at line L column C"; the problem already says where.
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// Every event's `location` names a location of the data set.
fn check_event_locations(
    shown: &str,
    events: &[Event],
    indices: &[usize],
    locations: &[Location],
    problems: &mut Vec<Problem>,
) {
    let location_ids: Vec<&str> = locations.iter().map(|l| l.meta.id.as_str()).collect();
    for (event, &index) in events.iter().zip(indices) {
        if let Some(loc) = &event.location
            && !location_ids.contains(&loc.as_str())
        {
            problems.push(Problem {
                file: shown.to_owned(),
                feature: Some(FeatureRef {
                    index,
                    id: Some(event.meta.id.to_string()),
                }),
                field: Some("location".into()),
                kind: ProblemKind::UnknownLocation {
                    location: loc.to_string(),
                },
            });
        }
    }
}

fn not_geojson(file: &str, reason: impl Into<String>) -> Problem {
    file_problem(
        file,
        ProblemKind::NotGeoJson {
            reason: reason.into(),
        },
    )
}

fn file_problem(file: &str, kind: ProblemKind) -> Problem {
    Problem {
        file: file.to_owned(),
        feature: None,
        field: None,
        kind,
    }
}

struct Refs<'a> {
    actors: &'a [String],
    /// When actors.json itself is missing or broken, every actor would look unknown; that noise
    /// hides the real problem, so actor checks are skipped then.
    actors_loaded: bool,
}

/// One feature of a layer file, as the loader reads it.
enum Feature<'v, T> {
    /// From a file read whole.
    Value(&'v Map<String, Value>),
    /// From a file read by the fast path: its members, and its geometry as text.
    Raw(FeatureDoc<'v>),
    /// Known valid from an earlier load (see [`LoadMemo`]).
    Reused(T),
}

/// The features of a layer file with their index in it, reporting what is not a layer file or
/// not a feature.
fn features<'v, T: Send>(
    doc: &'v Doc<'_>,
    reuse: &(dyn Fn(usize) -> Option<T> + Sync),
    problems: &mut Vec<Problem>,
) -> Vec<(usize, Feature<'v, T>)> {
    let shown = doc.shown.as_str();
    let Some(obj) = doc.value.as_object() else {
        problems.push(not_geojson(
            shown,
            "the top level must be an object with \"type\": \"FeatureCollection\"",
        ));
        return Vec::new();
    };
    match obj.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => {}
        Some(other) => {
            problems.push(not_geojson(
                shown,
                format!("\"type\" is {other:?}; a layer file is a FeatureCollection"),
            ));
            return Vec::new();
        }
        None => {
            problems.push(not_geojson(
                shown,
                "no \"type\": \"FeatureCollection\" member",
            ));
            return Vec::new();
        }
    }
    if obj.contains_key("crs") {
        problems.push(not_geojson(shown, "has a \"crs\" member, which RFC 7946 removed; coordinates must be WGS84 lon/lat and \"crs\" must go"));
    }
    let read: Vec<Option<Feature<'v, T>>> = match &doc.features {
        Some(list) => list
            .par_iter()
            .enumerate()
            .map(|(index, raw)| match reuse(index) {
                Some(t) => Some(Feature::Reused(t)),
                None => fastjson::feature(raw)
                    .ok()
                    .filter(|f| f.members.get("type").and_then(Value::as_str) == Some("Feature"))
                    .map(Feature::Raw),
            })
            .collect(),
        None => {
            let Some(list) = obj.get("features").and_then(Value::as_array) else {
                problems.push(not_geojson(shown, "no \"features\" array"));
                return Vec::new();
            };
            list.iter()
                .map(|f| {
                    f.as_object()
                        .filter(|o| o.get("type").and_then(Value::as_str) == Some("Feature"))
                        .map(Feature::Value)
                })
                .collect()
        }
    };
    let mut out = Vec::new();
    for (index, f) in read.into_iter().enumerate() {
        match f {
            Some(f) => out.push((index, f)),
            None => problems.push(Problem {
                file: shown.to_owned(),
                feature: Some(FeatureRef { index, id: None }),
                field: None,
                kind: ProblemKind::NotGeoJson {
                    reason: "not an object with \"type\": \"Feature\"".into(),
                },
            }),
        }
    }
    out
}

/// The feature being parsed, and where its problems go.
struct FeatureCx<'a> {
    file: &'a str,
    index: usize,
    id: Option<String>,
    raw: &'a Map<String, Value>,
    /// The `geometry` member, as a value or (read by the fast path) as text.
    geometry: Option<GeometrySource<'a>>,
    props: Props,
    problems: &'a mut Vec<Problem>,
    /// Problems found for this feature so far; a feature with any is not built.
    count: usize,
}

/// A feature's `geometry` member as the file was read.
enum GeometrySource<'a> {
    Value(&'a Value),
    Text(&'a RawValue),
    /// Read with the feature by the fast path.
    Read(FastGeometry),
}

/// A feature's geometry as read: by the fast path (a point, or polygons straight into `geo`),
/// or by `geojson` (anything else, and whatever the fast path leaves).
enum Geometry {
    Point(f64, f64),
    Polygons { multi: bool, mp: MultiPolygon<f64> },
    Value(GeometryValue),
}

impl Geometry {
    fn type_name(&self) -> &'static str {
        match self {
            Geometry::Point(..) => "Point",
            Geometry::Polygons { multi: false, .. } => "Polygon",
            Geometry::Polygons { multi: true, .. } => "MultiPolygon",
            Geometry::Value(v) => v.type_name(),
        }
    }
}

impl<'a> FeatureCx<'a> {
    /// The context for a feature read by the fast path.
    fn from_doc(
        file: &'a str,
        index: usize,
        doc: &'a mut FeatureDoc<'_>,
        problems: &'a mut Vec<Problem>,
    ) -> Self {
        let geometry = doc.geometry.take();
        let props = doc.props();
        let mut cx = Self::with_properties(file, index, &doc.members, props, problems);
        cx.geometry = geometry.map(|g| match g {
            DocGeometry::Read(g) => GeometrySource::Read(g),
            DocGeometry::Null => GeometrySource::Value(&Value::Null),
            DocGeometry::Text(t) => GeometrySource::Text(t),
        });
        cx
    }

    fn new(
        file: &'a str,
        index: usize,
        raw: &'a Map<String, Value>,
        problems: &'a mut Vec<Problem>,
    ) -> Self {
        let properties = match raw.get("properties") {
            Some(Value::Object(o)) => Some(o.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            _ => None,
        };
        Self::with_properties(file, index, raw, properties, problems)
    }

    fn with_properties(
        file: &'a str,
        index: usize,
        raw: &'a Map<String, Value>,
        properties: Option<Props>,
        problems: &'a mut Vec<Problem>,
    ) -> Self {
        let id = match raw.get("id") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let is_object = properties.is_some();
        let props = properties.unwrap_or_default();
        let mut cx = Self {
            file,
            index,
            id,
            raw,
            geometry: raw.get("geometry").map(GeometrySource::Value),
            props,
            problems,
            count: 0,
        };
        if !is_object {
            cx.problem(
                Some("properties"),
                ProblemKind::WrongType {
                    expected: "an object",
                },
            );
        }
        cx
    }

    fn problem(&mut self, field: Option<&str>, kind: ProblemKind) {
        self.count += 1;
        self.problems.push(Problem {
            file: self.file.to_owned(),
            feature: Some(FeatureRef {
                index: self.index,
                id: self.id.clone(),
            }),
            field: field.map(str::to_owned),
            kind,
        });
    }

    fn check_known_props(&mut self, known: &'static [&'static str]) {
        let unknown: Vec<String> = self
            .props
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            self.problem(Some(&k), ProblemKind::UnknownProperty { known });
        }
    }

    fn feature_id(&mut self) -> Option<FeatureId> {
        match self.raw.get("id") {
            None | Some(Value::Null) => {
                self.problem(Some("id"), ProblemKind::Missing);
                None
            }
            Some(Value::String(s)) => match FeatureId::parse(s) {
                Ok(id) => Some(id),
                Err(reason) => {
                    self.problem(Some("id"), ProblemKind::InvalidId { reason });
                    None
                }
            },
            Some(_) => {
                self.problem(
                    Some("id"),
                    ProblemKind::WrongType {
                        expected: "a string such as \"khasham_strip_2018\"",
                    },
                );
                None
            }
        }
    }

    fn req_str(&mut self, key: &str) -> Option<String> {
        match self.props.get(key) {
            None | Some(Value::Null) => {
                self.problem(Some(key), ProblemKind::Missing);
                None
            }
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(_) => {
                self.problem(
                    Some(key),
                    ProblemKind::WrongType {
                        expected: "a non-empty string",
                    },
                );
                None
            }
        }
    }

    /// `Ok(None)` when absent or null; `Err(())` after reporting a problem.
    fn opt_str(&mut self, key: &str) -> Result<Option<String>, ()> {
        match self.props.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => {
                self.problem(
                    Some(key),
                    ProblemKind::WrongType {
                        expected: "a string",
                    },
                );
                Err(())
            }
        }
    }

    fn opt_date(&mut self, key: &str) -> Result<Option<Date>, ()> {
        match self.props.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => match parse_date(s) {
                Some(d) => Ok(Some(d)),
                None => {
                    self.problem(Some(key), ProblemKind::BadDate { value: s.clone() });
                    Err(())
                }
            },
            Some(other) => {
                self.problem(
                    Some(key),
                    ProblemKind::BadDate {
                        value: other.to_string(),
                    },
                );
                Err(())
            }
        }
    }

    fn enum_value<T>(
        &mut self,
        key: &str,
        parse: fn(&str) -> Option<T>,
        allowed: Vec<&'static str>,
    ) -> Option<T> {
        let s = self.req_str(key)?;
        match parse(&s) {
            Some(v) => Some(v),
            None => {
                self.problem(Some(key), ProblemKind::NotOneOf { value: s, allowed });
                None
            }
        }
    }

    /// An optional string field read through `parse`: `Some(None)` when absent, `None` when it
    /// has a problem (reported by `opt_str` or `parse`).
    fn opt_parsed<T>(
        &mut self,
        key: &str,
        parse: impl FnOnce(&mut Self, &str) -> Option<T>,
    ) -> Option<Option<T>> {
        match self.opt_str(key) {
            Ok(Some(s)) => parse(self, &s).map(Some),
            Ok(None) => Some(None),
            Err(()) => None,
        }
    }

    /// The feature's point, when its geometry is one and nothing else was wrong with it.
    fn point_last(&mut self) -> Option<Point<f64>> {
        let geometry = self.geometry().ok()?;
        let point = self.point(geometry);
        if self.count > 0 { None } else { point }
    }

    fn actor(&mut self, key: &str, value: &str, refs: &Refs<'_>) -> Option<ActorId> {
        let id = match ActorId::parse(value) {
            Ok(id) => id,
            Err(reason) => {
                self.problem(Some(key), ProblemKind::InvalidId { reason });
                return None;
            }
        };
        if refs.actors_loaded && !refs.actors.iter().any(|a| a == value) {
            self.problem(
                Some(key),
                ProblemKind::UnknownActor {
                    actor: value.to_owned(),
                    known: refs.actors.to_vec(),
                },
            );
            return None;
        }
        Some(id)
    }

    fn period(&mut self) -> Option<Period> {
        let from = self.opt_date("valid_from");
        let to = self.opt_date("valid_to");
        let (Ok(from), Ok(to)) = (from, to) else {
            return None;
        };
        match Period::new(from, to) {
            Some(p) => Some(p),
            None => {
                self.problem(
                    Some("valid_from"),
                    ProblemKind::PeriodInverted {
                        from: fmt_date(from),
                        to: fmt_date(to),
                    },
                );
                None
            }
        }
    }

    fn sources(&mut self) -> Option<Vec<Source>> {
        let list = match self.props.get("sources") {
            None | Some(Value::Null) => {
                self.problem(Some("sources"), ProblemKind::NoSources);
                return None;
            }
            Some(Value::Array(a)) if a.is_empty() => {
                self.problem(Some("sources"), ProblemKind::NoSources);
                return None;
            }
            Some(Value::Array(a)) => a.clone(),
            Some(_) => {
                self.problem(
                    Some("sources"),
                    ProblemKind::WrongType {
                        expected: "an array of {\"title\", \"publisher\", \"url\", \"date\"} objects",
                    },
                );
                return None;
            }
        };
        let before = self.count;
        let mut out = Vec::new();
        for (i, s) in list.iter().enumerate() {
            let field = format!("sources[{i}]");
            let Some(o) = s.as_object() else {
                self.problem(
                    Some(&field),
                    ProblemKind::WrongType {
                        expected: "an object with \"title\" and a \"publisher\" or \"url\"",
                    },
                );
                continue;
            };
            let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
            for k in o.keys() {
                if !["title", "publisher", "url", "date"].contains(&k.as_str()) {
                    self.problem(
                        Some(&format!("{field}.{k}")),
                        ProblemKind::UnknownProperty {
                            known: &["title", "publisher", "url", "date"],
                        },
                    );
                }
            }
            let title = text("title").filter(|t| !t.trim().is_empty());
            if title.is_none() {
                self.problem(Some(&format!("{field}.title")), ProblemKind::Missing);
            }
            let publisher = text("publisher").filter(|t| !t.trim().is_empty());
            let url = text("url").filter(|t| !t.trim().is_empty());
            if publisher.is_none() && url.is_none() {
                self.problem(Some(&field), ProblemKind::SourceUntraceable);
            }
            let date = match o.get("date") {
                None | Some(Value::Null) => None,
                Some(Value::String(d)) => match parse_date(d) {
                    Some(d) => Some(d),
                    None => {
                        self.problem(
                            Some(&format!("{field}.date")),
                            ProblemKind::BadDate { value: d.clone() },
                        );
                        None
                    }
                },
                Some(other) => {
                    self.problem(
                        Some(&format!("{field}.date")),
                        ProblemKind::BadDate {
                            value: other.to_string(),
                        },
                    );
                    None
                }
            };
            if let Some(title) = title {
                out.push(Source {
                    title,
                    publisher,
                    url,
                    date,
                });
            }
        }
        (self.count == before).then_some(out)
    }

    fn meta(&mut self, known: &'static [&'static str]) -> Option<FeatureMeta> {
        self.check_known_props(known);
        let id = self.feature_id();
        let name = self.req_str("name");
        let description = self.opt_str("description").ok().flatten();
        let confidence = self.enum_value(
            "confidence",
            Confidence::parse,
            Confidence::ALL.iter().map(|c| c.as_str()).collect(),
        );
        let method = self.enum_value(
            "method",
            Method::parse,
            Method::ALL.iter().map(|m| m.as_str()).collect(),
        );
        let sources = self.sources();
        Some(FeatureMeta {
            id: id?,
            name: name?,
            description: description.unwrap_or_default(),
            confidence: confidence?,
            method: method?,
            sources: sources?,
        })
    }

    /// The geometry member: `Ok(None)` when null or absent.
    fn geometry(&mut self) -> Result<Option<Geometry>, ()> {
        let g = match self.geometry.take() {
            None | Some(GeometrySource::Value(Value::Null)) => return Ok(None),
            Some(GeometrySource::Read(FastGeometry::Point(x, y))) => {
                return Ok(Some(Geometry::Point(x, y)));
            }
            Some(GeometrySource::Read(FastGeometry::Polygons { multi, mp })) => {
                return Ok(Some(Geometry::Polygons { multi, mp }));
            }
            Some(GeometrySource::Value(g)) => g.clone(),
            Some(GeometrySource::Text(text)) => {
                match fastjson::geometry(text.get()) {
                    Some(FastGeometry::Point(x, y)) => return Ok(Some(Geometry::Point(x, y))),
                    Some(FastGeometry::Polygons { multi, mp }) => {
                        return Ok(Some(Geometry::Polygons { multi, mp }));
                    }
                    None => {}
                }
                // Valid JSON (the file was read): the general path says what is wrong.
                match serde_json::from_str::<Value>(text.get()) {
                    Ok(Value::Null) | Err(_) => return Ok(None),
                    Ok(v) => v,
                }
            }
        };
        match serde_json::from_value::<geojson::Geometry>(g) {
            Ok(g) => {
                let before = self.count;
                check_positions(&g.value, &mut |kind| self.problem(Some("geometry"), kind));
                if self.count == before {
                    Ok(Some(Geometry::Value(g.value)))
                } else {
                    Err(())
                }
            }
            Err(e) => {
                self.problem(
                    Some("geometry"),
                    ProblemKind::BadGeometry {
                        reason: json_reason(&e),
                    },
                );
                Err(())
            }
        }
    }

    fn polygons(&mut self, g: Geometry) -> Option<MultiPolygon<f64>> {
        let mp = match g {
            Geometry::Polygons { mp, .. } => mp,
            Geometry::Value(GeometryValue::Polygon { coordinates }) => {
                MultiPolygon(vec![to_polygon(&coordinates)])
            }
            Geometry::Value(GeometryValue::MultiPolygon { coordinates }) => {
                MultiPolygon(coordinates.iter().map(|p| to_polygon(p)).collect())
            }
            other => {
                self.problem(
                    Some("geometry"),
                    ProblemKind::WrongGeometryType {
                        found: other.type_name().into(),
                        expected: "Polygon or MultiPolygon",
                    },
                );
                return None;
            }
        };
        // geo's check is quadratic in a ring's vertices (seconds for zones clipped to the
        // 590-vertex outline); the quick proof settles the usual valid case first.
        let errors = if crate::rules::proven_valid_drawn(&mp) {
            Vec::new()
        } else {
            mp.validation_errors()
        };
        if !errors.is_empty() {
            for e in errors {
                self.problem(
                    Some("geometry"),
                    ProblemKind::InvalidPolygon {
                        reason: e.to_string(),
                    },
                );
            }
            return None;
        }
        Some(normalize_owned(mp))
    }

    fn point(&mut self, g: Option<Geometry>) -> Option<Point<f64>> {
        match g {
            Some(Geometry::Point(x, y)) => Some(Point::new(round(x), round(y))),
            Some(Geometry::Value(GeometryValue::Point { coordinates })) => {
                Some(Point::new(round(coordinates[0]), round(coordinates[1])))
            }
            Some(other) => {
                self.problem(
                    Some("geometry"),
                    ProblemKind::WrongGeometryType {
                        found: other.type_name().into(),
                        expected: "Point",
                    },
                );
                None
            }
            None => {
                self.problem(Some("geometry"), ProblemKind::Missing);
                None
            }
        }
    }
}

fn fmt_date(d: Option<Date>) -> String {
    d.map_or_else(|| "..".into(), |d| d.to_string())
}

/// Parses `YYYY-MM-DD` strictly (no time, no other forms).
///
/// ```
/// assert!(geodata::parse_date("2018-02-07").is_some());
/// assert!(geodata::parse_date("2018-02-30").is_none());
/// assert!(geodata::parse_date("7 Feb 2018").is_none());
/// ```
pub fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    Date::parse_from_str(s, "%Y-%m-%d").ok()
}

/// Rounds a coordinate to [`COORD_DECIMALS`] decimals; idempotent.
pub fn round(v: f64) -> f64 {
    let scale = 10f64.powi(COORD_DECIMALS);
    (v * scale).round() / scale
}

/// Rounds every coordinate and orients rings: exteriors counter-clockwise, holes clockwise
/// (RFC 7946 §3.1.6).
pub fn normalize_polygons(mp: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    use geo::MapCoords;
    mp.map_coords(|c| Coord {
        x: round(c.x),
        y: round(c.y),
    })
    .orient(geo::orient::Direction::Default)
}

/// [`normalize_polygons`] in place: the same rounding and orientation, without copying a
/// polygon that needs neither.
fn normalize_owned(mut mp: MultiPolygon<f64>) -> MultiPolygon<f64> {
    use geo::MapCoordsInPlace;
    mp.map_coords_in_place(|c| Coord {
        x: round(c.x),
        y: round(c.y),
    });
    // What `orient(Direction::Default)` does (exteriors counter-clockwise, holes clockwise),
    // in place: `orient` copies every ring.
    use geo::Winding as _;
    for p in &mut mp.0 {
        p.exterior_mut(|ring| ring.make_ccw_winding());
        p.interiors_mut(|rings| rings.iter_mut().for_each(|r| r.make_cw_winding()));
    }
    mp
}

fn to_ring(positions: &[Position]) -> LineString<f64> {
    LineString(
        positions
            .iter()
            .map(|p| Coord { x: p[0], y: p[1] })
            .collect(),
    )
}

fn to_polygon(rings: &[Vec<Position>]) -> Polygon<f64> {
    let mut it = rings.iter();
    let exterior = it
        .next()
        .map(|r| to_ring(r))
        .unwrap_or_else(|| LineString(Vec::new()));
    Polygon::new(exterior, it.map(|r| to_ring(r)).collect())
}

fn check_position(p: &Position, report: &mut dyn FnMut(ProblemKind)) {
    let shown = format!(
        "[{}]",
        p.as_slice()
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if p.len() < 2 {
        report(ProblemKind::CoordinateOutOfRange {
            position: shown,
            axis: "a position needs a longitude and a latitude",
        });
        return;
    }
    if !p[0].is_finite() || !(-180.0..=180.0).contains(&p[0]) {
        report(ProblemKind::CoordinateOutOfRange {
            position: shown.clone(),
            axis: "longitude",
        });
    }
    if !p[1].is_finite() || !(-90.0..=90.0).contains(&p[1]) {
        report(ProblemKind::CoordinateOutOfRange {
            position: shown,
            axis: "latitude",
        });
    }
}

fn check_ring(ring: &[Position], name: String, report: &mut dyn FnMut(ProblemKind)) {
    for p in ring {
        check_position(p, report);
    }
    if ring.len() < 4 {
        report(ProblemKind::RingTooShort {
            ring: name,
            positions: ring.len(),
        });
    } else if ring.first().map(Position::as_slice) != ring.last().map(Position::as_slice) {
        report(ProblemKind::RingNotClosed { ring: name });
    }
}

fn ring_name(polygon: Option<usize>, ring: usize) -> String {
    let ring = if ring == 0 {
        "the exterior ring".to_owned()
    } else {
        format!("hole {ring}")
    };
    match polygon {
        Some(p) => format!("polygon {p}, {ring}"),
        None => ring,
    }
}

fn check_positions(g: &GeometryValue, report: &mut dyn FnMut(ProblemKind)) {
    match g {
        GeometryValue::Point { coordinates } => check_position(coordinates, report),
        GeometryValue::MultiPoint { coordinates } => {
            coordinates.iter().for_each(|p| check_position(p, report))
        }
        GeometryValue::LineString { coordinates } => {
            coordinates.iter().for_each(|p| check_position(p, report));
            if coordinates.len() < 2 {
                report(ProblemKind::LineTooShort {
                    positions: coordinates.len(),
                });
            }
        }
        GeometryValue::MultiLineString { coordinates } => {
            for line in coordinates {
                line.iter().for_each(|p| check_position(p, report));
                if line.len() < 2 {
                    report(ProblemKind::LineTooShort {
                        positions: line.len(),
                    });
                }
            }
        }
        GeometryValue::Polygon { coordinates } => {
            if coordinates.is_empty() {
                report(ProblemKind::RingTooShort {
                    ring: ring_name(None, 0),
                    positions: 0,
                });
            }
            for (i, r) in coordinates.iter().enumerate() {
                check_ring(r, ring_name(None, i), report);
            }
        }
        GeometryValue::MultiPolygon { coordinates } => {
            // No polygon at all is a zone with no area, as a polygon with no ring is (fuzzing
            // found `"coordinates": []` loaded as an empty zone).
            if coordinates.is_empty() {
                report(ProblemKind::RingTooShort {
                    ring: ring_name(Some(0), 0),
                    positions: 0,
                });
            }
            for (pi, poly) in coordinates.iter().enumerate() {
                if poly.is_empty() {
                    report(ProblemKind::RingTooShort {
                        ring: ring_name(Some(pi), 0),
                        positions: 0,
                    });
                }
                for (i, r) in poly.iter().enumerate() {
                    check_ring(r, ring_name(Some(pi), i), report);
                }
            }
        }
        GeometryValue::GeometryCollection { .. } => report(ProblemKind::WrongGeometryType {
            found: "GeometryCollection".into(),
            expected: "a single geometry type",
        }),
    }
}

fn check_ids<'a>(
    shown: &str,
    ids: impl Iterator<Item = (&'a FeatureId, usize)>,
    problems: &mut Vec<Problem>,
) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut fids: HashMap<u32, &str> = HashMap::new();
    for (id, index) in ids {
        let feature = Some(FeatureRef {
            index,
            id: Some(id.to_string()),
        });
        if let Some(&first_index) = seen.get(id.as_str()) {
            problems.push(Problem {
                file: shown.to_owned(),
                feature,
                field: Some("id".into()),
                kind: ProblemKind::DuplicateId {
                    id: id.to_string(),
                    first_index,
                },
            });
            continue;
        }
        seen.insert(id.as_str(), index);
        if let Some(other) = fids.insert(id.fid(), id.as_str()) {
            problems.push(Problem {
                file: shown.to_owned(),
                feature,
                field: Some("id".into()),
                kind: ProblemKind::FidCollision {
                    fid: id.fid(),
                    other: other.to_owned(),
                },
            });
        }
    }
}

fn parse_actors(shown: &str, v: &Value, problems: &mut Vec<Problem>) -> Vec<Actor> {
    let Some(list) = v.get("actors").and_then(Value::as_array) else {
        problems.push(not_geojson(
            shown,
            "actors.json must be an object with an \"actors\" array",
        ));
        return Vec::new();
    };
    let mut out: Vec<Actor> = Vec::new();
    let mut first: HashMap<String, usize> = HashMap::new();
    for (index, a) in list.iter().enumerate() {
        let id_text = a.get("id").and_then(Value::as_str).map(str::to_owned);
        let mut report = |field: &str, kind: ProblemKind| {
            problems.push(Problem {
                file: shown.to_owned(),
                feature: Some(FeatureRef {
                    index,
                    id: id_text.clone(),
                }),
                field: Some(field.to_owned()),
                kind,
            })
        };
        let Some(o) = a.as_object() else {
            report(
                "actors",
                ProblemKind::WrongType {
                    expected: "an object with id, name and colour",
                },
            );
            continue;
        };
        let text = |k: &str| {
            o.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
        };
        for k in o.keys() {
            if !["id", "name", "colour", "description"].contains(&k.as_str()) {
                report(
                    k,
                    ProblemKind::UnknownProperty {
                        known: &["id", "name", "colour", "description"],
                    },
                );
            }
        }
        let id = match text("id").map(ActorId::parse) {
            None => {
                report("id", ProblemKind::Missing);
                None
            }
            Some(Err(reason)) => {
                report("id", ProblemKind::InvalidId { reason });
                None
            }
            Some(Ok(id)) => {
                if let Some(&first_index) = first.get(id.as_str()) {
                    report(
                        "id",
                        ProblemKind::DuplicateId {
                            id: id.to_string(),
                            first_index,
                        },
                    );
                    None
                } else {
                    first.insert(id.to_string(), index);
                    Some(id)
                }
            }
        };
        let name = text("name");
        if name.is_none() {
            report("name", ProblemKind::Missing);
        }
        let colour = text("colour");
        match colour {
            None => report("colour", ProblemKind::Missing),
            Some(c) if !is_colour(c) => report(
                "colour",
                ProblemKind::BadColour {
                    value: c.to_owned(),
                },
            ),
            Some(_) => {}
        }
        if let (Some(id), Some(name), Some(colour)) = (id, name, colour.filter(|c| is_colour(c))) {
            out.push(Actor {
                id,
                name: name.to_owned(),
                colour: colour.to_ascii_lowercase(),
                description: text("description").unwrap_or_default().to_owned(),
            });
        }
    }
    out
}

fn is_colour(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit())
}

fn parse_zone(cx: &mut FeatureCx<'_>, refs: &Refs<'_>) -> Option<ParsedZone> {
    let meta = cx.meta(ZONE_PROPS);
    let actor = cx
        .req_str("actor")
        .and_then(|a| cx.actor("actor", &a, refs));
    let kind = cx.enum_value(
        "kind",
        ZoneKind::parse,
        ZoneKind::ALL.iter().map(|k| k.as_str()).collect(),
    );
    let period = cx.period();
    let rule = match cx.props.get("rule").cloned() {
        None | Some(Value::Null) => Ok(None),
        Some(v) => parse_rule(cx, &v).map(Some),
    };
    let geometry = cx.geometry();
    let geometry = match (geometry, &rule) {
        (Ok(Some(_)), Ok(Some(_))) => {
            cx.problem(Some("geometry"), ProblemKind::GeometryAndRule);
            None
        }
        (Ok(None), Ok(None)) => {
            cx.problem(Some("geometry"), ProblemKind::NoGeometry);
            None
        }
        (Ok(Some(g)), Ok(None)) => cx.polygons(g).map(Some),
        (Ok(None), Ok(Some(_))) => Some(None),
        _ => None,
    };
    if let (Some(m), Ok(Some(_))) = (&meta, &rule)
        && m.method != Method::Rule
    {
        cx.problem(
            Some("method"),
            ProblemKind::NotOneOf {
                value: m.method.as_str().into(),
                allowed: vec!["rule (the zone has a rule)"],
            },
        );
        return None;
    }
    let rule = rule.ok()?;
    if cx.count > 0 {
        return None;
    }
    Some((
        Arc::new(meta?),
        ZoneRest {
            actor: actor?,
            kind: kind?,
            period: period?,
            geometry: geometry?.map(Arc::new),
            rule,
        },
    ))
}

fn parse_rule(cx: &mut FeatureCx<'_>, v: &Value) -> Result<Rule, ()> {
    let Some(o) = v.as_object() else {
        cx.problem(
            Some("rule"),
            ProblemKind::WrongType {
                expected: "an object such as {\"op\": \"buffer\", \"of\": ..., \"distance_km\": ...}",
            },
        );
        return Err(());
    };
    let before = cx.count;
    let op = o.get("op").and_then(Value::as_str);
    const BUFFER_KEYS: &[&str] = &["op", "of", "distance_km", "clip_to", "minus"];
    const SPLIT_KEYS: &[&str] = &["op", "area", "by", "side", "minus"];
    const REMAINDER_KEYS: &[&str] = &["op", "area"];
    let known = match op {
        Some("buffer") => BUFFER_KEYS,
        Some("split") => SPLIT_KEYS,
        Some("remainder") => REMAINDER_KEYS,
        Some(other) => {
            cx.problem(
                Some("rule.op"),
                ProblemKind::NotOneOf {
                    value: other.into(),
                    allowed: vec!["buffer", "split", "remainder"],
                },
            );
            return Err(());
        }
        None => {
            cx.problem(Some("rule.op"), ProblemKind::Missing);
            return Err(());
        }
    };
    for k in o.keys() {
        if !known.contains(&k.as_str()) {
            cx.problem(
                Some(&format!("rule.{k}")),
                ProblemKind::UnknownProperty { known },
            );
        }
    }
    let id = |cx: &mut FeatureCx<'_>, key: &str, required: bool| -> Option<FeatureId> {
        let field = format!("rule.{key}");
        match o.get(key) {
            None | Some(Value::Null) => {
                if required {
                    cx.problem(Some(&field), ProblemKind::Missing);
                }
                None
            }
            Some(Value::String(s)) => match FeatureId::parse(s) {
                Ok(id) => Some(id),
                Err(reason) => {
                    cx.problem(Some(&field), ProblemKind::InvalidId { reason });
                    None
                }
            },
            Some(_) => {
                cx.problem(
                    Some(&field),
                    ProblemKind::WrongType {
                        expected: "a feature id (string)",
                    },
                );
                None
            }
        }
    };
    let minus = match o.get("minus") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item.as_str().map(FeatureId::parse) {
                    Some(Ok(id)) => out.push(id),
                    Some(Err(reason)) => {
                        cx.problem(
                            Some(&format!("rule.minus[{i}]")),
                            ProblemKind::InvalidId { reason },
                        );
                    }
                    None => cx.problem(
                        Some(&format!("rule.minus[{i}]")),
                        ProblemKind::WrongType {
                            expected: "a feature id (string)",
                        },
                    ),
                }
            }
            out
        }
        Some(_) => {
            cx.problem(
                Some("rule.minus"),
                ProblemKind::WrongType {
                    expected: "an array of feature ids",
                },
            );
            Vec::new()
        }
    };
    let rule = if op == Some("buffer") {
        let of = id(cx, "of", true);
        let clip_to = id(cx, "clip_to", false);
        let distance_km = match o.get("distance_km") {
            None | Some(Value::Null) => {
                cx.problem(Some("rule.distance_km"), ProblemKind::Missing);
                None
            }
            Some(Value::Number(n)) => match n.as_f64() {
                Some(d) if d > 0.0 && d <= 2000.0 => Some(d),
                _ => {
                    cx.problem(
                        Some("rule.distance_km"),
                        ProblemKind::NumberOutOfRange {
                            value: n.to_string(),
                            range: "a distance in km, more than 0 and at most 2000",
                        },
                    );
                    None
                }
            },
            Some(_) => {
                cx.problem(
                    Some("rule.distance_km"),
                    ProblemKind::WrongType {
                        expected: "a number of kilometres",
                    },
                );
                None
            }
        };
        match (of, distance_km) {
            (Some(of), Some(distance_km)) => Some(Rule::Buffer {
                of,
                distance_km,
                clip_to,
                minus,
            }),
            _ => None,
        }
    } else if op == Some("remainder") {
        id(cx, "area", true).map(|area| Rule::Remainder { area })
    } else {
        let area = id(cx, "area", true);
        let by = id(cx, "by", true);
        let side = match o.get("side").and_then(Value::as_str) {
            Some("left") => Some(Side::Left),
            Some("right") => Some(Side::Right),
            Some(other) => {
                cx.problem(
                    Some("rule.side"),
                    ProblemKind::NotOneOf {
                        value: other.into(),
                        allowed: vec!["left", "right"],
                    },
                );
                None
            }
            None => {
                cx.problem(Some("rule.side"), ProblemKind::Missing);
                None
            }
        };
        match (area, by, side) {
            (Some(area), Some(by), Some(side)) => Some(Rule::Split {
                area,
                by,
                side,
                minus,
            }),
            _ => None,
        }
    };
    match rule {
        Some(r) if cx.count == before => Ok(r),
        _ => Err(()),
    }
}

fn parse_location(cx: &mut FeatureCx<'_>, refs: &Refs<'_>) -> Option<Location> {
    let meta = cx.meta(LOCATION_PROPS);
    let kind = cx.req_str("kind");
    let actor = cx.opt_parsed("actor", |cx, a| cx.actor("actor", a, refs));
    let period = cx.period();
    let point = cx.point_last()?;
    Some(Location {
        meta: meta?,
        kind: kind?,
        actor: actor?,
        period: period?,
        point,
    })
}

fn parse_event(cx: &mut FeatureCx<'_>, refs: &Refs<'_>) -> Option<Event> {
    let meta = cx.meta(EVENT_PROPS);
    let kind = cx.req_str("kind");
    let date = match cx.opt_date("date") {
        Ok(Some(d)) => Some(d),
        Ok(None) => {
            cx.problem(Some("date"), ProblemKind::Missing);
            None
        }
        Err(()) => None,
    };
    let date_end = cx.opt_date("date_end");
    if let (Some(d), Ok(Some(e))) = (date, date_end)
        && e < d
    {
        cx.problem(
            Some("date_end"),
            ProblemKind::PeriodInverted {
                from: d.to_string(),
                to: e.to_string(),
            },
        );
    }
    let actors = match cx.props.get("actors").cloned() {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let field = format!("actors[{i}]");
                match item.as_str() {
                    Some(a) => {
                        if let Some(id) = cx.actor(&field, a, refs) {
                            out.push(id);
                        }
                    }
                    None => cx.problem(
                        Some(&field),
                        ProblemKind::WrongType {
                            expected: "an actor id (string)",
                        },
                    ),
                }
            }
            Some(out)
        }
        Some(_) => {
            cx.problem(
                Some("actors"),
                ProblemKind::WrongType {
                    expected: "an array of actor ids",
                },
            );
            None
        }
    };
    let location = cx.opt_parsed("location", |cx, l| {
        FeatureId::parse(l)
            .map_err(|reason| cx.problem(Some("location"), ProblemKind::InvalidId { reason }))
            .ok()
    });
    let point = cx.point_last()?;
    Some(Event {
        meta: meta?,
        kind: kind?,
        date: date?,
        date_end: date_end.ok()?,
        actors: actors?,
        location: location?,
        point,
    })
}

fn parse_reference_layer(
    name: &str,
    doc: &Doc<'_>,
    problems: &mut Vec<Problem>,
) -> Option<ReferenceLayer> {
    let (shown, v) = (doc.shown.as_str(), &doc.value);
    let mut kind: Option<GeometryKind> = None;
    let mut out = Vec::new();
    let mut idx = Vec::new();
    let before = problems.len();
    for (index, mut f) in features::<()>(doc, &|_| None, problems) {
        let mut cx = match &mut f {
            Feature::Raw(doc) => FeatureCx::from_doc(shown, index, doc, problems),
            Feature::Value(raw) => FeatureCx::new(shown, index, raw, problems),
            Feature::Reused(()) => continue,
        };
        let meta = cx.meta(COMMON_PROPS);
        let geometry = match cx.geometry() {
            Ok(Some(g)) => g,
            Ok(None) => {
                cx.problem(Some("geometry"), ProblemKind::Missing);
                continue;
            }
            Err(()) => continue,
        };
        let this_kind = match &geometry {
            Geometry::Point(..) | Geometry::Value(GeometryValue::Point { .. }) => {
                GeometryKind::Point
            }
            Geometry::Value(GeometryValue::LineString { .. })
            | Geometry::Value(GeometryValue::MultiLineString { .. }) => GeometryKind::Line,
            Geometry::Polygons { .. }
            | Geometry::Value(GeometryValue::Polygon { .. })
            | Geometry::Value(GeometryValue::MultiPolygon { .. }) => GeometryKind::Polygon,
            other => {
                cx.problem(
                    Some("geometry"),
                    ProblemKind::WrongGeometryType {
                        found: other.type_name().into(),
                        expected: "Point, LineString/MultiLineString or Polygon/MultiPolygon",
                    },
                );
                continue;
            }
        };
        match kind {
            None => kind = Some(this_kind),
            Some(k) if k != this_kind => {
                cx.problem(
                    Some("geometry"),
                    ProblemKind::MixedGeometry {
                        found: geometry.type_name().into(),
                        layer_kind: k.geojson_type(),
                    },
                );
                continue;
            }
            Some(_) => {}
        }
        let geom: Option<geo::Geometry<f64>> = match geometry {
            Geometry::Point(x, y) => Some(Point::new(round(x), round(y)).into()),
            Geometry::Value(GeometryValue::Point { coordinates }) => {
                Some(Point::new(round(coordinates[0]), round(coordinates[1])).into())
            }
            Geometry::Value(GeometryValue::LineString { coordinates }) => {
                Some(round_lines(MultiLineString(vec![to_ring(&coordinates)])).into())
            }
            Geometry::Value(GeometryValue::MultiLineString { coordinates }) => Some(
                round_lines(MultiLineString(
                    coordinates.iter().map(|l| to_ring(l)).collect(),
                ))
                .into(),
            ),
            other => cx.polygons(other).map(Into::into),
        };
        if cx.count > 0 {
            continue;
        }
        if let (Some(meta), Some(geometry)) = (meta, geom) {
            idx.push(index);
            out.push(ReferenceFeature { meta, geometry });
        }
    }
    check_ids(shown, out.iter().map(|f| &f.meta.id).zip(idx), problems);
    let (title, description, style) = layer_members(shown, v, problems);
    if problems.len() > before {
        return None;
    }
    Some(ReferenceLayer {
        name: name.to_owned(),
        kind: kind.unwrap_or(GeometryKind::Polygon),
        title,
        description,
        style,
        features: out,
    })
}

/// A reference layer's own members: `title`, `description` and `style` (see FORMAT.md).
fn layer_members(
    shown: &str,
    v: &Value,
    problems: &mut Vec<Problem>,
) -> (Option<String>, Option<String>, Option<LayerStyle>) {
    let mut report = |field: &str, kind: ProblemKind| {
        problems.push(Problem {
            file: shown.to_owned(),
            feature: None,
            field: Some(field.to_owned()),
            kind,
        });
    };
    let mut text = |name: &str| match v.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(_) => {
            report(
                name,
                ProblemKind::WrongType {
                    expected: "a non-empty string",
                },
            );
            None
        }
    };
    let title = text("title");
    let description = text("description");
    let style = match v.get("style") {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => {
            // A style names only what differs from a plain line: no fill unless asked for.
            let mut style = LayerStyle {
                fill: None,
                ..LayerStyle::default()
            };
            for (key, value) in o {
                let field = format!("style.{key}");
                let colour = |value: &Value| {
                    value
                        .as_str()
                        .filter(|c| is_colour(c))
                        .map(|c| c.to_ascii_lowercase())
                };
                let number = |value: &Value, lo: f64, hi: f64| {
                    value.as_f64().filter(|n| (lo..=hi).contains(n))
                };
                let ok = match key.as_str() {
                    "stroke" => colour(value).map(|c| style.stroke = c).is_some(),
                    "fill" => colour(value).map(|c| style.fill = Some(c)).is_some(),
                    "width" => number(value, 0.0, 20.0).map(|n| style.width = n).is_some(),
                    "opacity" => number(value, 0.0, 1.0).map(|n| style.opacity = n).is_some(),
                    "fill_opacity" => number(value, 0.0, 1.0)
                        .map(|n| style.fill_opacity = n)
                        .is_some(),
                    "dash" => value
                        .as_str()
                        .filter(|d| {
                            !d.is_empty()
                                && d.split(' ')
                                    .all(|n| n.parse::<f64>().is_ok_and(|n| n >= 0.0))
                        })
                        .map(|d| style.dash = Some(d.to_owned()))
                        .is_some(),
                    "land" => value.as_bool().map(|b| style.land = b).is_some(),
                    "order" => value.as_i64().map(|n| style.order = n).is_some(),
                    _ => {
                        report(
                            &field,
                            ProblemKind::UnknownProperty {
                                known: LayerStyle::MEMBERS,
                            },
                        );
                        continue;
                    }
                };
                if !ok {
                    let expected = match key.as_str() {
                        "stroke" | "fill" => "a colour #rrggbb",
                        "width" => "a number of pixels, 0 to 20",
                        "opacity" | "fill_opacity" => "a number from 0 to 1",
                        "dash" => "pixel lengths separated by spaces, such as \"6 3\"",
                        "land" => "true or false",
                        _ => "an integer",
                    };
                    report(&field, ProblemKind::WrongType { expected });
                }
            }
            Some(style)
        }
        Some(_) => {
            report(
                "style",
                ProblemKind::WrongType {
                    expected: "an object (stroke, width, opacity, dash, fill, fill_opacity, land, order)",
                },
            );
            None
        }
    };
    (title, description, style)
}

fn round_lines(ml: MultiLineString<f64>) -> MultiLineString<f64> {
    use geo::MapCoords;
    ml.map_coords(|c| Coord {
        x: round(c.x),
        y: round(c.y),
    })
}

impl Dataset {
    /// The data set with these features changed (each set to its `after` state, or removed),
    /// validated by the loader's own code: every feature it changes is parsed as a line of its
    /// layer file would be, ids are checked for uniqueness, and every rule zone is derived
    /// again (a rule may read a changed feature). Nothing else is parsed again.
    ///
    /// A change whose `after` equals the current state, or that removes an absent feature, is
    /// a no-op: applying the same changes twice gives the same data (a log is replayed safely).
    pub fn with_changes(&self, changes: &[crate::FeatureChange]) -> Result<Dataset, Problems> {
        let mut problems = Vec::new();
        let actor_ids: Vec<String> = self
            .actors
            .iter()
            .map(|a| a.id.as_str().to_owned())
            .collect();
        let refs = Refs {
            actors: &actor_ids,
            actors_loaded: true,
        };
        // The zones as the file has them: a date-aware rule once, not once per derived period.
        let mut zones: Vec<ParsedZone> = crate::rules::file_zones(&self.zones)
            .into_iter()
            .map(|z| {
                let geometry = z.rule.is_none().then_some(z.geometry);
                let rest = ZoneRest {
                    actor: z.actor,
                    kind: z.kind,
                    period: z.period,
                    geometry,
                    rule: z.rule,
                };
                (z.meta, rest)
            })
            .collect();
        let mut locations = self.locations.clone();
        let mut events = self.events.clone();
        for change in changes {
            let file = format!("{}.geojson", change.layer);
            let mut edit = LayerEdit {
                file: &file,
                change,
                refs: &refs,
                problems: &mut problems,
            };
            match change.layer.as_str() {
                "zones" => edit.apply(&mut zones, parse_zone),
                "locations" => edit.apply(&mut locations, parse_location),
                "events" => edit.apply(&mut events, parse_event),
                _ => problems.push(file_problem(
                    &file,
                    ProblemKind::Refused {
                        reason: format!(
                            "the layer {:?} is not edited feature by feature; edit its file",
                            change.layer
                        ),
                    },
                )),
            }
        }
        check_ids(
            "zones.geojson",
            zones.iter().map(Keyed::key).zip(0..),
            &mut problems,
        );
        check_ids(
            "locations.geojson",
            locations.iter().map(Keyed::key).zip(0..),
            &mut problems,
        );
        check_ids(
            "events.geojson",
            events.iter().map(Keyed::key).zip(0..),
            &mut problems,
        );
        check_event_locations(
            "events.geojson",
            &events,
            &(0..events.len()).collect::<Vec<_>>(),
            &locations,
            &mut problems,
        );
        let zone_index: Vec<usize> = (0..zones.len()).collect();
        let zone_positions = crate::checks::ZonePositions::new(
            zones
                .iter()
                .enumerate()
                .map(|(i, z)| (z.0.id.clone(), i))
                .collect(),
        );
        let zones = rules::derive_zones(
            "zones.geojson",
            zones,
            &zone_index,
            &locations,
            &self.reference,
            &mut problems,
        );
        if problems.is_empty() {
            // The whole-set checks the loader runs, on the data as it would be.
            let reference_files: HashMap<String, String> = self
                .reference
                .iter()
                .map(|l| (l.name.clone(), format!("reference/{}.geojson", l.name)))
                .collect();
            let files = crate::checks::Files {
                actors: "actors.json",
                zones: "zones.geojson",
                locations: "locations.geojson",
                events: "events.geojson",
                reference: &reference_files,
                zone_index: &zone_positions,
            };
            // This data set passed them as a whole: what can fail now involves the changes.
            let changed: HashSet<(&str, &str)> = changes
                .iter()
                .map(|c| (c.layer.as_str(), c.id.as_str()))
                .collect();
            crate::checks::check_changed(
                &files,
                &zones,
                &locations,
                &events,
                &self.reference,
                self,
                &|layer, id| changed.contains(&(layer, id)),
                &mut problems,
            );
        }
        if problems.is_empty() {
            Ok(Dataset {
                actors: self.actors.clone(),
                zones,
                locations,
                events,
                reference: self.reference.clone(),
            })
        } else {
            Err(Problems(problems))
        }
    }
}

/// One change applied to one layer's features.
struct LayerEdit<'a> {
    file: &'a str,
    change: &'a crate::FeatureChange,
    refs: &'a Refs<'a>,
    problems: &'a mut Vec<Problem>,
}

impl LayerEdit<'_> {
    fn apply<T: Keyed>(
        &mut self,
        items: &mut Vec<T>,
        parse: fn(&mut FeatureCx<'_>, &Refs<'_>) -> Option<T>,
    ) {
        let id = &self.change.id;
        let at = items.iter().position(|t| t.key() == id);
        let Some(after) = &self.change.after else {
            if let Some(i) = at {
                items.remove(i);
            }
            return;
        };
        let Some(raw) = after.as_object() else {
            self.problems
                .push(not_geojson(self.file, "a feature must be a JSON object"));
            return;
        };
        let index = at.unwrap_or(items.len());
        let mut cx = FeatureCx::new(self.file, index, raw, self.problems);
        let Some(parsed) = parse(&mut cx, self.refs) else {
            return;
        };
        if parsed.key() != id {
            cx.problem(
                Some("id"),
                ProblemKind::Refused {
                    reason: format!("a feature keeps its id: this one is {id:?}"),
                },
            );
            return;
        }
        match at {
            Some(i) => items[i] = parsed,
            None => items.push(parsed),
        }
    }
}
