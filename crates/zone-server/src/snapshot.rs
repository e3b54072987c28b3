//! A snapshot: one immutable version of the data, with every layer prepared for serving
//! (features serialised once, ids indexed, extents computed) and a version string for ETags.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use geo::BoundingRect;
use geodata::{Dataset, Date, ExportFeature};
use zone_index::ZoneIndex;

/// One collection, ready to serve.
pub struct Layer {
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
    /// The collections, in the order of [`Dataset::layer_names`].
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

/// A layer's human title and description (what `/collections` and file headers say).
pub fn title_and_description(name: &str, data: &Dataset) -> (String, String) {
    let approx = "Geometry is approximate: every feature carries its sources, its confidence \
                  (high/medium/low) and how it was made (method).";
    match name {
        "zones" => (
            "Zones".into(),
            format!(
                "Areas of control, presence, deconfliction, demanded exclusion, de-escalation, \
                 buffer and limitation, by actor, each valid over a period of days. {approx}"
            ),
        ),
        "locations" => ("Locations".into(), format!("Named places with sourced coordinates. {approx}")),
        "events" => ("Events".into(), format!("Dated events at a place. {approx}")),
        "syria" => (
            "Syria (de facto outline)".into(),
            "Syria's de facto outline (Natural Earth). Its Golan edge is a line of control \
             (Line A of the 1974 disengagement), not a border: the Israeli-held Golan lies outside it."
                .into(),
        ),
        "governorates" => ("Governorates".into(), format!("Syria's 14 governorates (Natural Earth admin-1). {approx}")),
        "undof_aos" => ("UNDOF area of separation".into(), format!("The 1974 area of separation between Golan Line A and Line B, patrolled by UNDOF. {approx}")),
        "golan_lines" => ("Golan Line A and Line B".into(), format!("The 1974 disengagement lines on the Golan (Natural Earth). {approx}")),
        "rivers" => ("Rivers".into(), format!("The Euphrates through Syria (Natural Earth 1:50m). {approx}")),
        "deconfliction_lines" => ("Deconfliction lines".into(), format!("The US-Russia Euphrates deconfliction line, 2017-2018 (never published; the river stands in). {approx}")),
        other => {
            let first = data
                .reference_layer(other)
                .and_then(|l| l.features.first())
                .map(|f| f.meta.name.clone())
                .unwrap_or_default();
            let mut title: String = other.replace('_', " ");
            if let Some(c) = title.get_mut(0..1) {
                c.make_ascii_uppercase();
            }
            (
                title,
                format!("Reference layer ({first}{}). {approx}", if data.reference_layer(other).is_some_and(|l| l.features.len() > 1) { ", ..." } else { "" }),
            )
        }
    }
}

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
            .layer_names()
            .into_iter()
            .filter_map(|name| {
                let features = data.export_features(&name)?;
                let geometry_type = data.layer_geometry_type(&name)?;
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
                let filters: &'static [&'static str] = match name.as_str() {
                    "zones" => &["actor", "kind", "confidence"],
                    "locations" => &["actor", "kind", "confidence"],
                    "events" => &["kind", "confidence"],
                    _ => &["confidence"],
                };
                let (title, description) = title_and_description(&name, &data);
                Some(Layer {
                    name,
                    title,
                    description,
                    geometry_type,
                    features,
                    json,
                    members,
                    by_fid,
                    by_key,
                    bbox,
                    interval,
                    filters,
                    simplified: (0..=MAX_ZOOM).map(|_| std::sync::OnceLock::new()).collect(),
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
