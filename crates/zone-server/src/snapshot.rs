//! A snapshot: one immutable version of the data, with every layer prepared for serving
//! (features serialised once, ids indexed, extents computed) and a version string for ETags.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use geodata::{Dataset, Date, ExportFeature, HistoryState, LayerInfo, Revision};
use zone_index::ZoneIndex;

/// One collection, ready to serve.
pub struct Layer {
    /// What the catalogue says of it (role, geometry kind, style ...).
    pub info: LayerInfo,
    /// Collection id (the layer name).
    pub name: String,
    /// Human title.
    pub title: String,
    /// What it holds and how approximate it is.
    pub description: String,
    /// The one GeoJSON geometry type of its features.
    pub geometry_type: &'static str,
    /// Features in file order.
    pub features: Vec<ExportFeature>,
    /// An R-tree over the features' envelopes: every selection goes through it. Shared with
    /// the snapshot before an edit that moved no feature's envelope.
    pub index: Arc<zone_index::FeatureIndex>,
    /// Each feature's GeoJSON text, serialised once (and shared by the snapshots an edit of
    /// other features makes).
    pub json: Vec<Arc<str>>,
    /// Each feature's `"id":N` and properties as JSON object members without the braces,
    /// serialised once per snapshot: query answers describe zones by these.
    pub members: Vec<Arc<str>>,
    /// Feature index by integer id (shared with the snapshot before an edit that kept the
    /// features in their places, as the next one is).
    pub by_fid: Arc<HashMap<u32, usize>>,
    /// Feature index by readable id (shared as `by_fid` is).
    pub by_key: Arc<HashMap<String, usize>>,
    /// `[min_lon, min_lat, max_lon, max_lat]` of all features.
    pub bbox: Option<[f64; 4]>,
    /// Vertices in all its geometries: with the feature count, what decides whether the map
    /// draws the layer from vector tiles (see `tiles::advert`).
    pub vertices: usize,
    /// First and last day any feature holds (`None` = open or no dates).
    pub interval: (Option<Date>, Option<Date>),
    /// Properties that can be filtered on by equality (declared in the OpenAPI document).
    pub filters: &'static [&'static str],
    /// What CQL2 filters can name (see `filter`), found on first use.
    pub(crate) queryables: std::sync::OnceLock<Vec<crate::filter::Queryable>>,
    /// Each feature's GeoJSON simplified for a zoom level (index = zoom), made on first use:
    /// the map asks for the same few zoom levels over and over.
    pub simplified: Vec<std::sync::OnceLock<Vec<Arc<str>>>>,
}

/// A feature's GeoJSON text.
fn feature_json(f: &ExportFeature) -> Arc<str> {
    f.json_text().into()
}

/// A feature's `"id":N` and properties as JSON object members, without the braces.
fn feature_members(f: &ExportFeature) -> Arc<str> {
    let props = serde_json::to_string(&*f.properties).unwrap_or_else(|_| "{}".into());
    let inner = &props[1..props.len() - 1];
    let sep = if inner.is_empty() { "" } else { "," };
    format!("\"id\":{}{sep}{inner}", f.fid).into()
}

impl Layer {
    /// A layer from its features and their serialised forms. `before` is the layer this one
    /// replaces, if any: what does not depend on the changed features is taken from it.
    fn build(
        info: LayerInfo,
        features: Vec<ExportFeature>,
        json: Vec<Arc<str>>,
        members: Vec<Arc<str>>,
        before: Option<&Layer>,
    ) -> Layer {
        // An edit of a feature's properties or shape leaves every feature where it was: the id
        // maps are then the same, and so is the R-tree when no envelope moved.
        let placed = before.filter(|b| {
            b.features.len() == features.len()
                && b.features
                    .iter()
                    .zip(&features)
                    .all(|(a, f)| a.fid == f.fid && a.key == f.key)
        });
        let (by_fid, by_key) = match placed {
            Some(b) => (b.by_fid.clone(), b.by_key.clone()),
            None => (
                Arc::new(
                    features
                        .iter()
                        .enumerate()
                        .map(|(i, f)| (f.fid, i))
                        .collect(),
                ),
                Arc::new(
                    features
                        .iter()
                        .enumerate()
                        .map(|(i, f)| (f.key.clone(), i))
                        .collect(),
                ),
            ),
        };
        let index = match placed {
            Some(b)
                if b.features
                    .iter()
                    .zip(&features)
                    .all(|(a, f)| a.bbox == f.bbox) =>
            {
                b.index.clone()
            }
            _ => Arc::new(zone_index::FeatureIndex::new(&features)),
        };
        let bbox = features
            .iter()
            .filter_map(|f| f.bbox)
            .reduce(|a, b| {
                geo::Rect::new(
                    geo::coord! {x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y)},
                    geo::coord! {x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y)},
                )
            })
            .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]);
        let vertices = features
            .iter()
            .map(|f| geo::CoordsIter::coords_count(&*f.geometry))
            .sum();
        let open_from = features.iter().any(|f| f.period.from().is_none());
        let open_to = features.iter().any(|f| f.period.to().is_none());
        let interval = (
            if open_from {
                None
            } else {
                features.iter().filter_map(|f| f.period.from()).min()
            },
            if open_to {
                None
            } else {
                features.iter().filter_map(|f| f.period.to()).max()
            },
        );
        Layer {
            name: info.id.clone(),
            title: info.title.clone(),
            description: info.description.clone(),
            geometry_type: info.geometry.geojson_type(),
            filters: info.filters,
            info,
            index,
            features,
            json,
            members,
            by_fid,
            by_key,
            bbox,
            vertices,
            interval,
            simplified: (0..=MAX_ZOOM).map(|_| std::sync::OnceLock::new()).collect(),
            queryables: std::sync::OnceLock::new(),
        }
    }
}

/// Zoom levels `/map` accepts (0 = the whole world in one tile).
pub const MAX_ZOOM: usize = 22;

/// One version of the data and everything derived from it.
pub struct Snapshot {
    /// The dataset.
    pub data: Arc<Dataset>,
    /// A short hex digest of the data's content: changes exactly when the data changes.
    pub version: String,
    /// When this version was loaded.
    pub loaded_at: DateTime<Utc>,
    /// The which-zone index over `data`.
    pub index: ZoneIndex,
    /// The collections, in the order of [`Dataset::catalog`] (shared with the snapshots
    /// before and after an edit that did not touch them).
    pub layers: Vec<Arc<Layer>>,
    /// The revision this snapshot is at (0: as imported, or a store without history).
    pub revision: u64,
    /// The revisions up to it, oldest first (empty for a store without history).
    pub revisions: Vec<Arc<Revision>>,
    /// For each feature (`layer`, `id`), the last revision that changed it.
    pub feature_revisions: Arc<HashMap<(String, String), u64>>,
    /// Whole answers (compressed as sent) to GET requests for pages, exports and files, by the
    /// whole request key their ETag is a hash of (a hash alone could collide): the same page is built and compressed once per version of the
    /// data, and a reload starts afresh with the new snapshot.
    pub responses: ResponseCache,
    /// Counts this snapshot among [`Snapshot::alive`] while it exists.
    _alive: Alive,
}

/// How many snapshots exist in this process (see [`Snapshot::alive`]).
static SNAPSHOTS_ALIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A token counted in [`SNAPSHOTS_ALIVE`] from its creation to its drop.
struct Alive;

impl Alive {
    fn new() -> Alive {
        SNAPSHOTS_ALIVE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Alive
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        SNAPSHOTS_ALIVE.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// An answer kept whole: status, headers and body as sent.
pub struct CachedResponse {
    /// Status (only 200s are kept).
    pub status: axum::http::StatusCode,
    /// Headers, `Content-Encoding` and `ETag` included.
    pub headers: axum::http::HeaderMap,
    /// The body as sent (compressed when the client asked for it).
    pub body: axum::body::Bytes,
}

/// Weighs an answer by its size, so the cache holds at most [`CACHE_BYTES`] of bodies.
#[derive(Clone)]
pub struct BodyWeighter;

impl quick_cache::Weighter<Box<[u8]>, Arc<CachedResponse>> for BodyWeighter {
    fn weight(&self, key: &Box<[u8]>, v: &Arc<CachedResponse>) -> u64 {
        // Headers and bookkeeping count for a little too.
        (v.body.len() + key.len()) as u64 + 512
    }
}

/// Answers kept per snapshot, by request key (see the server's `etag` middleware).
pub type ResponseCache = quick_cache::sync::Cache<Box<[u8]>, Arc<CachedResponse>, BodyWeighter>;

/// Bytes of answers a snapshot keeps (the whole default data set as pages, exports and map
/// layers in every encoding is a few MB).
pub const CACHE_BYTES: u64 = 64 << 20;
/// Largest answer kept.
pub const CACHE_MAX_BODY: usize = 8 << 20;

impl Snapshot {
    /// Prepares every layer of `data` for serving.
    pub fn new(data: Dataset) -> Snapshot {
        Self::from_shared(Arc::new(data))
    }

    /// Prepares every layer of `data` for serving, sharing it with whoever else holds it (the
    /// store keeps the same data set).
    pub fn from_shared(data: Arc<Dataset>) -> Snapshot {
        Self::with_index(data, ZoneIndex::new)
    }

    /// [`Snapshot::from_shared`], the zone index read from `store` when it holds one of the
    /// same geometry, and kept there when built (see [`ZoneIndex::new_stored`]): a server
    /// started again on a large folder does not build it again.
    pub fn from_shared_stored(data: Arc<Dataset>, store: &dyn zone_index::IndexStore) -> Snapshot {
        Self::with_index(data, |d| ZoneIndex::new_stored(d, store))
    }

    fn with_index(data: Arc<Dataset>, index: impl FnOnce(Arc<Dataset>) -> ZoneIndex) -> Snapshot {
        use rayon::prelude::*;
        let layers: Vec<Arc<Layer>> = data
            .catalog()
            .into_iter()
            .filter_map(|info| {
                let features = data.export_features(&info.id)?;
                // Serialising every feature is most of a large data set's start-up: on every core.
                let (json, members) = features
                    .par_iter()
                    .map(|f| (feature_json(f), feature_members(f)))
                    .unzip();
                Some(Arc::new(Layer::build(info, features, json, members, None)))
            })
            .collect();
        // The digest of what is served: every feature as sent, each layer's description and
        // the actors. (Hashing the data's source files instead wrote the whole set out once
        // more: 2.6 of the 8 s zones-100k took to start.)
        let version = {
            let mut h = std::hash::DefaultHasher::new();
            for a in &data.actors {
                (a.id.as_str(), &a.name, &a.colour, &a.description).hash(&mut h);
            }
            for l in &layers {
                (&l.name, &l.title, &l.description).hash(&mut h);
                format!("{:?}", l.info.style).hash(&mut h);
                l.json.iter().for_each(|j| j.hash(&mut h));
            }
            format!("{:012x}", h.finish() & 0xffff_ffff_ffff)
        };
        Self::assemble(index(data.clone()), data, version, layers)
    }

    /// A snapshot of these parts, without history, its answer cache empty.
    fn assemble(
        index: ZoneIndex,
        data: Arc<Dataset>,
        version: String,
        layers: Vec<Arc<Layer>>,
    ) -> Snapshot {
        Snapshot {
            index,
            data,
            version,
            loaded_at: Utc::now(),
            revision: 0,
            revisions: Vec::new(),
            feature_revisions: Arc::default(),
            layers,
            responses: ResponseCache::with_weighter(1024, CACHE_BYTES, BodyWeighter),
            _alive: Alive::new(),
        }
    }

    /// How many snapshots exist in this process: the one served, those requests in flight
    /// still answer from, the few kept for `as_of`, and any being built. More than that once
    /// requests are done means something keeps old data alive: a leak `/health` shows and the
    /// soak test checks.
    pub fn alive() -> usize {
        SNAPSHOTS_ALIVE.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The snapshot after a revision: `history` is the store's state after it and `changes`
    /// what it changed. Only what the changes touch is prepared again: layers they do not
    /// touch are shared with this snapshot, the features of a touched layer that did not change
    /// keep their serialised forms, and the index re-indexes the changed zones only. Rule zones
    /// are derived from other features, so they count as changed whenever anything is.
    pub fn after(&self, history: &HistoryState, changes: &[geodata::FeatureChange]) -> Snapshot {
        let data = history.data.clone();
        let version = {
            let mut h = std::hash::DefaultHasher::new();
            (&self.version, history.revision()).hash(&mut h);
            format!("{:012x}", h.finish() & 0xffff_ffff_ffff)
        };
        let mut changed: foldhash::HashSet<(&str, &str)> = changes
            .iter()
            .map(|c| (c.layer.as_str(), c.id.as_str()))
            .collect();
        if !changes.is_empty() {
            for z in data.zones.iter().filter(|z| z.rule.is_some()) {
                changed.insert(("zones", z.meta.id.as_str()));
            }
        }
        let catalog = data.catalog();
        let layers = catalog
            .into_iter()
            .filter_map(|info| {
                let touched = changed.iter().any(|(l, _)| *l == info.id);
                if !touched && let Some(old) = self.layer_arc(&info.id) {
                    return Some(old);
                }
                let old = self.layer(&info.id);
                let n = data.export_features_len(&info.id)?;
                let (mut features, mut json, mut members) = (
                    Vec::with_capacity(n),
                    Vec::with_capacity(n),
                    Vec::with_capacity(n),
                );
                for i in 0..n {
                    let key = data.feature_key(&info.id, i)?;
                    // Most features are where they were: look at the same place first.
                    let kept = old
                        .filter(|_| !changed.contains(&(info.id.as_str(), key)))
                        .and_then(|l| match l.features.get(i) {
                            Some(f) if f.key == key => Some((l, i)),
                            _ => l.by_key.get(key).map(|&j| (l, j)),
                        });
                    match kept {
                        Some((l, j)) => {
                            features.push(l.features[j].clone());
                            json.push(l.json[j].clone());
                            members.push(l.members[j].clone());
                        }
                        None => {
                            let f = data.export_feature(&info.id, i)?;
                            json.push(feature_json(&f));
                            members.push(feature_members(&f));
                            features.push(f);
                        }
                    }
                }
                Some(Arc::new(Layer::build(info, features, json, members, old)))
            })
            .collect();
        let zone_ids: Vec<&str> = changed
            .iter()
            .filter(|(l, _)| *l == "zones")
            .map(|(_, id)| *id)
            .collect();
        let index = self.index.after(data.clone(), &zone_ids);
        Self::assemble(index, data, version, layers).with_history(history)
    }

    fn layer_arc(&self, name: &str) -> Option<Arc<Layer>> {
        self.layers.iter().find(|l| l.name == name).cloned()
    }

    /// The snapshot with its store's history: revisions, and which revision last changed each
    /// feature (for ETags and `If-Match`).
    pub fn with_history(mut self, history: &HistoryState) -> Snapshot {
        self.revision = history.revision();
        self.revisions = history.revisions.clone();
        self.feature_revisions = history.feature_revisions.clone();
        self
    }

    /// The last revision that changed a feature (0: none since the import).
    pub fn feature_revision(&self, layer: &str, id: &str) -> u64 {
        self.feature_revisions
            .get(&(layer.to_owned(), id.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// A collection by id.
    pub fn layer(&self, name: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.name == name).map(|l| &**l)
    }
}
