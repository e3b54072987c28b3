//! A snapshot: one immutable version of the data, with every layer prepared for serving
//! (features serialised once, ids indexed, extents computed) and a version string for ETags.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use geo::BoundingRect;
use geodata::{Dataset, Date, ExportFeature, LayerInfo};
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
    /// An R-tree over the features' envelopes: every selection goes through it.
    pub index: zone_index::FeatureIndex,
    /// Each feature's GeoJSON text, serialised once per snapshot.
    pub json: Vec<String>,
    /// Each feature's `"id":N` and properties as JSON object members without the braces,
    /// serialised once per snapshot: query answers describe zones by these.
    pub members: Vec<String>,
    /// Feature index by integer id.
    pub by_fid: HashMap<u32, usize>,
    /// Feature index by readable id.
    pub by_key: HashMap<String, usize>,
    /// `[min_lon, min_lat, max_lon, max_lat]` of all features.
    pub bbox: Option<[f64; 4]>,
    /// First and last day any feature holds (`None` = open or no dates).
    pub interval: (Option<Date>, Option<Date>),
    /// Properties that can be filtered on by equality (declared in the OpenAPI document).
    pub filters: &'static [&'static str],
    /// What CQL2 filters can name (see `filter`), found on first use.
    pub(crate) queryables: std::sync::OnceLock<Vec<crate::filter::Queryable>>,
    /// Each feature's GeoJSON simplified for a zoom level (index = zoom), made on first use:
    /// the map asks for the same few zoom levels over and over.
    pub simplified: Vec<std::sync::OnceLock<Vec<String>>>,
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
    /// The collections, in the order of [`Dataset::catalog`].
    pub layers: Vec<Layer>,
    /// Whole answers (compressed as sent) to GET requests for pages, exports and files, by the
    /// whole request key their ETag is a hash of (a hash alone could collide): the same page is built and compressed once per version of the
    /// data, and a reload starts afresh with the new snapshot.
    pub responses: ResponseCache,
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
        let version = {
            let mut h = std::hash::DefaultHasher::new();
            for (name, value) in data.source_files() {
                name.hash(&mut h);
                value.to_string().hash(&mut h);
            }
            format!("{:012x}", h.finish() & 0xffff_ffff_ffff)
        };
        let layers = data
            .catalog()
            .into_iter()
            .filter_map(|info| {
                let features = data.export_features(&info.id)?;
                let json = features.iter().map(|f| f.to_json().to_string()).collect();
                let members = features
                    .iter()
                    .map(|f| {
                        let props = serde_json::Value::Object(f.properties.clone()).to_string();
                        let inner = &props[1..props.len() - 1];
                        let sep = if inner.is_empty() { "" } else { "," };
                        format!("\"id\":{}{sep}{inner}", f.fid)
                    })
                    .collect();
                let by_fid = features
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.fid, i))
                    .collect();
                let by_key = features
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.key.clone(), i))
                    .collect();
                let bbox = features
                    .iter()
                    .filter_map(|f| f.geometry.bounding_rect())
                    .reduce(|a, b| {
                        geo::Rect::new(
                            geo::coord! {x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y)},
                            geo::coord! {x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y)},
                        )
                    })
                    .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]);
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
                Some(Layer {
                    name: info.id.clone(),
                    title: info.title.clone(),
                    description: info.description.clone(),
                    geometry_type: info.geometry.geojson_type(),
                    filters: info.filters,
                    info,
                    index: zone_index::FeatureIndex::new(&features),
                    features,
                    json,
                    members,
                    by_fid,
                    by_key,
                    bbox,
                    interval,
                    simplified: (0..=MAX_ZOOM).map(|_| std::sync::OnceLock::new()).collect(),
                    queryables: std::sync::OnceLock::new(),
                })
            })
            .collect();
        let data = Arc::new(data);
        Snapshot {
            index: ZoneIndex::new(data.clone()),
            data,
            version,
            loaded_at: Utc::now(),
            layers,
            responses: ResponseCache::with_weighter(1024, CACHE_BYTES, BodyWeighter),
        }
    }

    /// A collection by id.
    pub fn layer(&self, name: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.name == name)
    }
}
