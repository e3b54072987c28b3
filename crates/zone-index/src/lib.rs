//! The which-zone index: answers spatial and temporal questions over an immutable
//! [`geodata::Dataset`] — which zones cover a point on a date, the nearest zones and locations
//! with geodesic distances, what lies in a lon/lat box, a point's timeline, and what changed
//! between two dates. It trusts its input (geodata validates it) and does no I/O.
//!
//! Semantics (see the project's DESIGN.md): coordinates are WGS84 lon/lat; a point on a zone's
//! boundary is covered by it and flagged (`ST_Covers`, not `ST_Contains`); a zone's period is a
//! closed interval of days and "at D" means every zone whose period holds D; distances are
//! geodesic on the WGS84 ellipsoid in km; areas are geodesic in km².
//!
//! ```
//! use std::sync::Arc;
//! use zone_index::ZoneIndex;
//!
//! # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../geodata/tests/fixtures/good-minimal");
//! let data = geodata::load_dir(&dir).unwrap();
//! let index = ZoneIndex::new(Arc::new(data));
//! let day = "2018-03-01".parse().unwrap();
//! let hits = index.covering(36.1, 33.1, Some(day));
//! assert_eq!(index.dataset().zones[hits[0].zone].meta.id.as_str(), "blue_square");
//! ```

mod batch;
mod changes;
mod distance;
pub mod hilbert;
mod keys;
mod polygon;
mod select;
pub mod synthetic;
mod timeline;

use std::sync::Arc;

use geo::{BoundingRect, Intersects, Rect, coord};
use geodata::{Dataset, Date};

pub use batch::{BatchIndex, BatchZones};
pub use changes::{AreaChange, Changes};
pub use distance::lower_bound_km;
pub use keys::ZoneKeys;
pub use polygon::{
    BATCH_CHUNK, BatchCovering, BatchOrder, LARGE_INDEX_BATCH_CHUNK, PolygonIndex, Position,
    geometry_key, position_by_scan, vertex_count,
};
pub use select::{FeatureIndex, Selection, meets_box};
pub use timeline::TimelineSpan;

/// Errors of this crate: inputs a caller should reject before querying.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ZoneIndexError {
    /// A longitude that is not a number in -180..=180.
    #[error("longitude {0} is not a number in -180..=180")]
    Longitude(f64),
    /// A latitude that is not a number in -90..=90.
    #[error("latitude {0} is not a number in -90..=90")]
    Latitude(f64),
    /// A bounding box whose south edge is north of its north edge.
    #[error("the box's south edge {south} is north of its north edge {north}")]
    SouthOfNorth {
        /// The south edge given.
        south: f64,
        /// The north edge given.
        north: f64,
    },
}

/// Result of this crate.
pub type ZoneIndexResult<T> = Result<T, ZoneIndexError>;

/// A checked WGS84 coordinate: finite, lon in -180..=180, lat in -90..=90.
///
/// The query methods take plain `f64`s and never panic: a coordinate that is not a number
/// covers nothing and is near nothing. Use `LonLat::new` where a bad coordinate should be an
/// error instead.
///
/// ```
/// use zone_index::{LonLat, ZoneIndexError};
/// assert!(LonLat::new(36.3, 33.5).is_ok());
/// assert_eq!(LonLat::new(200.0, 33.5), Err(ZoneIndexError::Longitude(200.0)));
/// assert!(LonLat::new(36.3, f64::NAN).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LonLat {
    /// Longitude, degrees east.
    pub lon: f64,
    /// Latitude, degrees north.
    pub lat: f64,
}

impl LonLat {
    /// Checks the ranges.
    pub fn new(lon: f64, lat: f64) -> ZoneIndexResult<LonLat> {
        if !(-180.0..=180.0).contains(&lon) {
            return Err(ZoneIndexError::Longitude(lon));
        }
        if !(-90.0..=90.0).contains(&lat) {
            return Err(ZoneIndexError::Latitude(lat));
        }
        Ok(LonLat { lon, lat })
    }
}

/// A lon/lat box, edges included. `west > east` means the box crosses the antimeridian (as in
/// OGC API bbox parameters).
///
/// ```
/// use zone_index::Bbox;
/// let b = Bbox::new(35.0, 32.0, 37.0, 34.0).unwrap();
/// assert!(b.contains(36.0, 33.0) && b.contains(37.0, 34.0) && !b.contains(38.0, 33.0));
/// let across = Bbox::new(170.0, -10.0, -170.0, 10.0).unwrap();
/// assert!(across.contains(179.0, 0.0) && across.contains(-179.0, 0.0) && !across.contains(0.0, 0.0));
/// assert!(Bbox::new(35.0, 34.0, 37.0, 32.0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    west: f64,
    south: f64,
    east: f64,
    north: f64,
}

impl Bbox {
    /// Checks that every edge is a coordinate in range and `south <= north`.
    pub fn new(west: f64, south: f64, east: f64, north: f64) -> ZoneIndexResult<Bbox> {
        LonLat::new(west, south)?;
        LonLat::new(east, north)?;
        if south > north {
            return Err(ZoneIndexError::SouthOfNorth { south, north });
        }
        Ok(Bbox {
            west,
            south,
            east,
            north,
        })
    }

    /// `[west, south, east, north]`.
    pub fn edges(&self) -> [f64; 4] {
        [self.west, self.south, self.east, self.north]
    }

    /// Whether the point lies in the box, edges included.
    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        self.rects()
            .iter()
            .flatten()
            .any(|r| r.min().x <= lon && lon <= r.max().x && r.min().y <= lat && lat <= r.max().y)
    }

    /// The one or two (across the antimeridian) plain rectangles the box covers.
    /// The box as one rectangle, or two when it crosses the antimeridian.
    pub fn rects(&self) -> [Option<Rect<f64>>; 2] {
        let rect = |w: f64, e: f64| {
            Rect::new(
                coord! { x: w, y: self.south },
                coord! { x: e, y: self.north },
            )
        };
        if self.west <= self.east {
            [Some(rect(self.west, self.east)), None]
        } else {
            [Some(rect(self.west, 180.0)), Some(rect(-180.0, self.east))]
        }
    }
}

/// A zone covering a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Covering {
    /// Index into `dataset.zones`.
    pub zone: usize,
    /// Whether the point lies on the zone's boundary (an edge or a vertex) rather than inside.
    pub on_boundary: bool,
}

/// The answers of [`ZoneIndex::covering_batch`]: each point's covering zones, in input order,
/// in one flat list. It is the polygon index's own answer (zones packed in 32 bits), not a copy
/// of it: widening 1.8 million hits to [`Covering`]s was a tenth of answering them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoveringBatch(BatchCovering);

impl CoveringBatch {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there were no points.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Point `i`'s covering zones, in zone order; nothing when `i` is out of range.
    pub fn get(&self, i: usize) -> impl ExactSizeIterator<Item = Covering> + Clone + '_ {
        self.0
            .get(i)
            .map(|(zone, on_boundary)| Covering { zone, on_boundary })
    }
}

/// A zone near a point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nearest {
    /// Index into `dataset.zones`.
    pub zone: usize,
    /// Geodesic distance in km from the point to the zone: 0 when the zone covers the point.
    pub distance_km: f64,
    /// The point of the zone's boundary nearest to the query point, as (lon, lat). For a point
    /// inside the zone, this is where the zone is nearest to being left.
    pub boundary_point: (f64, f64),
    /// Geodesic distance in km from the point to `boundary_point` (equal to `distance_km`
    /// outside the zone; how deep inside it is, for a covered point).
    pub boundary_distance_km: f64,
}

/// A location near a point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearestLocation {
    /// Index into `dataset.locations`.
    pub location: usize,
    /// Geodesic distance in km.
    pub distance_km: f64,
}

/// What meets a lon/lat box.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InBbox {
    /// Indexes into `dataset.zones` of zones whose geometry meets the box, ascending.
    pub zones: Vec<usize>,
    /// Indexes into `dataset.locations` of locations in the box, ascending.
    pub locations: Vec<usize>,
}

/// Spatial and temporal queries over one immutable data set. Cheap to share: `Send + Sync`,
/// and every query takes `&self`.
///
/// Building it copies every zone's coordinates once into the index's own flat layout (so zone
/// geometry is held twice: once in the data set for GeoJSON output, once here for speed).
#[derive(Debug)]
pub struct ZoneIndex {
    data: Arc<Dataset>,
    /// The zones as they were when the index was last built whole (shared by the snapshots
    /// edits make after it).
    polygons: Arc<PolygonIndex>,
    /// The readable id of each item of `polygons`.
    base_ids: Arc<Vec<geodata::FeatureId>>,
    /// The zones edited since `polygons` was built, when any were.
    overlay: Option<Box<Overlay>>,
    /// Each zone's bounding box, `None` for an empty geometry.
    zone_boxes: Vec<Option<Rect<f64>>>,
    /// Each zone's period, packed together so the date filter stays in cache.
    periods: Vec<geodata::Period>,
    /// The zones' keys, packed for batch answers; made by the first batch that asks, so a
    /// reload of a server that answers none pays nothing.
    keys: std::sync::OnceLock<ZoneKeys>,
}

/// Zones changed since the base index was built, indexed on their own: an edit re-indexes
/// the zones it touched, not all of them ([`ZoneIndex::after`]).
#[derive(Debug)]
struct Overlay {
    /// For each item of the base index, the zone it is now, or [`GONE`] when that zone was
    /// changed (it is in `changed` then) or deleted.
    base_zone: Vec<u32>,
    /// The changed zones' own index.
    changed: PolygonIndex,
    /// The zone each item of `changed` is.
    changed_zone: Vec<u32>,
    /// Readable ids of every zone changed since the base was built.
    dirty: std::collections::HashSet<String>,
}

/// Where [`ZoneIndex::new_stored`] keeps polygon indexes between runs, by the key of the
/// geometry they index ([`geometry_key`]), in their stored form ([`PolygonIndex::write_to`]).
/// Both calls may fail quietly: a store is only ever a shortcut.
pub trait IndexStore {
    /// A reader of what was kept with `key`, and its length in bytes; `None` when nothing is.
    /// A reader that finds its bytes damaged fails (an error) rather than ending.
    fn open(&self, key: u128) -> Option<(Box<dyn std::io::Read + '_>, u64)>;
    /// Keeps `index` with `key`, in place of what was kept before.
    fn keep(&self, key: u128, index: &PolygonIndex);
}

/// Zones of fewer vertices than this are indexed in a few milliseconds: no store is used.
pub const STORED_INDEX_MIN_VERTICES: usize = 250_000;

/// A base item whose zone is no longer the one indexed.
const GONE: u32 = u32::MAX;

/// Changed zones an overlay holds before the index is built whole again: past this, queries
/// would pay more for the overlay than a rebuild costs once.
const MAX_OVERLAY: usize = 256;

/// Whether a zone of period `period` counts on `at` (`None`: any day).
fn active_on(period: Option<&geodata::Period>, at: Option<Date>) -> bool {
    match at {
        None => true,
        Some(d) => period.is_some_and(|p| p.contains(d)),
    }
}

/// Threads for a batch of `n` points: one below a few thousand, as a thread costs tens of
/// microseconds to start.
fn batch_threads(n: usize) -> usize {
    if n < 4096 { 1 } else { parallelism() }
}

/// [`ZoneIndex::covering_batch`] over a base index with no edits on top, item `i` being zone
/// `i` of period `periods[i]`: shared with [`BatchIndex`], which answers without the data set.
fn covering_batch_base(
    polygons: &PolygonIndex,
    periods: &[geodata::Period],
    points: &[(f64, f64)],
    at: Option<Date>,
) -> CoveringBatch {
    CoveringBatch(
        polygons.covering_many_filtered(points, batch_threads(points.len()), &|zone| {
            active_on(periods.get(zone), at)
        }),
    )
}

impl ZoneIndex {
    /// Indexes the zones of `data`, on every core. No I/O; about a quarter of a second per
    /// 100,000 zones of 37 vertices on two cores.
    pub fn new(data: Arc<Dataset>) -> ZoneIndex {
        let geometries: Vec<&geo::MultiPolygon<f64>> =
            data.zones.iter().map(|z| &*z.geometry).collect();
        let polygons = PolygonIndex::from_slice(&geometries, parallelism());
        drop(geometries);
        ZoneIndex::with_polygons(data, polygons)
    }

    /// [`ZoneIndex::new`], reading the zones' polygon index from `store` when it holds one
    /// made from the same geometry ([`geometry_key`]), and keeping the one it builds there when
    /// it does not. For a command that indexes the same large data set run after run: on
    /// zones-100k, about 0.1 s instead of 0.25 s for a build on two cores. Below
    /// [`STORED_INDEX_MIN_VERTICES`] the store is not used.
    ///
    /// ```
    /// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../geodata/tests/fixtures/good-minimal");
    /// # let data = std::sync::Arc::new(geodata::load_dir(&dir).unwrap());
    /// use std::{cell::RefCell, collections::HashMap, io::Read};
    /// use zone_index::{IndexStore, PolygonIndex, ZoneIndex};
    /// #[derive(Default)]
    /// struct InMemory(RefCell<HashMap<u128, Vec<u8>>>);
    /// impl IndexStore for InMemory {
    ///     fn open(&self, key: u128) -> Option<(Box<dyn Read + '_>, u64)> {
    ///         let bytes = self.0.borrow().get(&key)?.clone();
    ///         let len = bytes.len() as u64;
    ///         Some((Box::new(std::io::Cursor::new(bytes)), len))
    ///     }
    ///     fn keep(&self, key: u128, index: &PolygonIndex) {
    ///         self.0.borrow_mut().insert(key, index.to_bytes());
    ///     }
    /// }
    /// let store = InMemory::default();
    /// let index = ZoneIndex::new_stored(data.clone(), &store);
    /// // The fixture is far below the threshold: nothing kept.
    /// assert!(store.0.borrow().is_empty());
    /// assert_eq!(index.covering(36.1, 33.1, None), ZoneIndex::new(data).covering(36.1, 33.1, None));
    /// ```
    pub fn new_stored(data: Arc<Dataset>, store: &dyn IndexStore) -> ZoneIndex {
        let geometries: Vec<&geo::MultiPolygon<f64>> =
            data.zones.iter().map(|z| &*z.geometry).collect();
        if vertex_count(&geometries) < STORED_INDEX_MIN_VERTICES {
            return ZoneIndex::new(data);
        }
        let key = geometry_key(&geometries, parallelism());
        let stored = store
            .open(key)
            .and_then(|(mut input, len)| PolygonIndex::read_from(&mut input, len))
            .filter(|p| p.len() == geometries.len());
        let polygons = stored.unwrap_or_else(|| {
            let built = PolygonIndex::from_slice(&geometries, parallelism());
            store.keep(key, &built);
            built
        });
        drop(geometries);
        ZoneIndex::with_polygons(data, polygons)
    }

    /// The index of `data` over `polygons`, which must index its zones' geometries in order.
    fn with_polygons(data: Arc<Dataset>, polygons: PolygonIndex) -> ZoneIndex {
        // Shared ids (a count each), not copies: 100,000 strings formatted cost a tenth of the
        // index build.
        let base_ids = data.zones.iter().map(|z| z.meta.id.clone()).collect();
        // From the parts' boxes, not the vertices: about 20 ms of CPU less on zones-100k (a
        // fifth of reading its stored index back). Holes count too, so a box is never smaller
        // than `bounding_rect`'s (the same for valid polygons): a lower bound stays one.
        let zone_boxes = polygons
            .item_boxes()
            .into_iter()
            .map(|b| {
                b.map(|[x0, y0, x1, y1]| {
                    Rect::new(coord! { x: x0, y: y0 }, coord! { x: x1, y: y1 })
                })
            })
            .collect();
        let periods = data.zones.iter().map(|z| z.period).collect();
        ZoneIndex {
            data,
            polygons: Arc::new(polygons),
            base_ids: Arc::new(base_ids),
            overlay: None,
            zone_boxes,
            periods,
            keys: Default::default(),
        }
    }

    /// The index of `data`, which is this index's data with the zones named in `changed`
    /// (readable ids) created, replaced or deleted. Only those zones (and rule zones whose
    /// derived geometry moved) are indexed again; the rest of the index is shared. After
    /// [`MAX_OVERLAY`] changed zones (or an eighth of them all) it is built whole again.
    ///
    /// ```
    /// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../geodata/tests/fixtures/good-minimal");
    /// # let data = geodata::load_dir(&dir).unwrap();
    /// use std::sync::Arc;
    /// let index = zone_index::ZoneIndex::new(Arc::new(data.clone()));
    /// let mut moved = data.clone();
    /// let square = moved.zones[0].geometry.clone();
    /// moved.zones[0].geometry = geo::Translate::translate(&*square, 1.0, 0.0).into();
    /// let after = index.after(Arc::new(moved.clone()), &[moved.zones[0].meta.id.as_str()]);
    /// assert_eq!(after.covering(36.1, 33.1, None), zone_index::ZoneIndex::new(Arc::new(moved)).covering(36.1, 33.1, None));
    /// assert!(after.covering(37.1, 33.1, None).iter().any(|c| c.zone == 0));
    /// ```
    pub fn after(&self, data: Arc<Dataset>, changed: &[&str]) -> ZoneIndex {
        let mut dirty = self
            .overlay
            .as_ref()
            .map(|o| o.dirty.clone())
            .unwrap_or_default();
        dirty.extend(changed.iter().map(|s| (*s).to_owned()));
        // An edit usually leaves every zone where it was: then a zone's position before is its
        // position now, and no map of 100,000 ids needs building (a one-zone edit of a large
        // set was mostly that).
        let old = &self.data.zones;
        let same_order = old.len() == data.zones.len()
            && old
                .iter()
                .zip(&data.zones)
                .all(|(a, b)| a.meta.id == b.meta.id);
        let before: foldhash::HashMap<&str, usize> = if same_order {
            Default::default()
        } else {
            old.iter()
                .enumerate()
                .map(|(i, z)| (z.meta.id.as_str(), i))
                .collect()
        };
        let was_at = |i: usize, z: &geodata::Zone| {
            if same_order {
                Some(i)
            } else {
                before.get(z.meta.id.as_str()).copied()
            }
        };
        // Rule zones are derived from other features: any whose geometry moved changed too.
        for (i, z) in data.zones.iter().enumerate() {
            if z.rule.is_some() && !was_at(i, z).is_some_and(|j| same_geometry(&old[j], z)) {
                dirty.insert(z.meta.id.to_string());
            }
        }
        if dirty.len() > MAX_OVERLAY.max(data.zones.len() / 8) {
            return ZoneIndex::new(data);
        }
        let changed_zone: Vec<u32> = data
            .zones
            .iter()
            .enumerate()
            .filter(|(_, z)| dirty.contains(z.meta.id.as_str()))
            .map(|(i, _)| i as u32)
            .collect();
        let base_zone = if same_order {
            // The base items keep the zones they had, less the ones changed now.
            let mut is_dirty = vec![false; data.zones.len()];
            for &z in &changed_zone {
                is_dirty[z as usize] = true;
            }
            (0..self.base_ids.len())
                .map(|b| {
                    let z = self.overlay.as_ref().map_or(b as u32, |o| o.base_zone[b]);
                    if z == GONE || is_dirty[z as usize] {
                        GONE
                    } else {
                        z
                    }
                })
                .collect()
        } else {
            let now: foldhash::HashMap<&str, usize> = data
                .zones
                .iter()
                .enumerate()
                .map(|(i, z)| (z.meta.id.as_str(), i))
                .collect();
            self.base_ids
                .iter()
                .map(|id| match now.get(id.as_str()) {
                    Some(&z) if !dirty.contains(id.as_str()) => z as u32,
                    _ => GONE,
                })
                .collect()
        };
        let changed = PolygonIndex::from_items(
            changed_zone
                .iter()
                .map(|&z| &*data.zones[z as usize].geometry),
        );
        // A zone's box is measured again only when its geometry is another one.
        let zone_boxes = data
            .zones
            .iter()
            .enumerate()
            .map(|(i, z)| match was_at(i, z) {
                Some(j) if Arc::ptr_eq(&old[j].geometry, &z.geometry) => self.zone_boxes[j],
                _ => z.geometry.bounding_rect(),
            })
            .collect();
        let periods = data.zones.iter().map(|z| z.period).collect();
        ZoneIndex {
            data,
            polygons: self.polygons.clone(),
            base_ids: self.base_ids.clone(),
            overlay: Some(Box::new(Overlay {
                base_zone,
                changed,
                changed_zone,
                dirty,
            })),
            zone_boxes,
            periods,
            keys: Default::default(),
        }
    }

    /// The data set the index answers for.
    ///
    /// ```
    /// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../geodata/tests/fixtures/good-minimal");
    /// # let index = zone_index::ZoneIndex::new(std::sync::Arc::new(geodata::load_dir(&dir).unwrap()));
    /// # let day = |s: &str| -> geodata::Date { s.parse().unwrap() };
    /// assert_eq!(index.dataset().zones.len(), 2);
    /// ```
    pub fn dataset(&self) -> &Dataset {
        &self.data
    }

    /// Every zone's key, packed: what a batch answer looks its keys up in.
    ///
    /// ```
    /// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../geodata/tests/fixtures/good-minimal");
    /// # let index = zone_index::ZoneIndex::new(std::sync::Arc::new(geodata::load_dir(&dir).unwrap()));
    /// let zone = index.covering(36.1, 33.1, None)[0].zone;
    /// assert_eq!(index.keys().get(zone), index.dataset().zones[zone].meta.id.as_str());
    /// ```
    pub fn keys(&self) -> &ZoneKeys {
        self.keys.get_or_init(|| ZoneKeys::new(&self.data))
    }

    /// The geometry layer, for callers that want batch answers without dates.
    ///
    /// ```
    /// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../geodata/tests/fixtures/good-minimal");
    /// # let index = zone_index::ZoneIndex::new(std::sync::Arc::new(geodata::load_dir(&dir).unwrap()));
    /// # let day = |s: &str| -> geodata::Date { s.parse().unwrap() };
    /// // The same answer without dates: the blue square is item 0.
    /// assert_eq!(index.polygons().covering(36.1, 33.1), vec![(0, false)]);
    /// ```
    ///
    /// After edits ([`ZoneIndex::after`]) this is the index as last built whole: its items are
    /// the zones as they were then.
    pub fn polygons(&self) -> &PolygonIndex {
        &self.polygons
    }

    fn active(&self, zone: usize, at: Option<Date>) -> bool {
        active_on(self.periods.get(zone), at)
    }

    /// Every zone covering the point whose period holds `at` (`None`: any period), in zone
    /// order. A point on a zone's boundary is covered and flagged. A non-finite coordinate
    /// covers nothing.
    ///
    /// ```
    /// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../geodata/tests/fixtures/good-minimal");
    /// # let index = zone_index::ZoneIndex::new(std::sync::Arc::new(geodata::load_dir(&dir).unwrap()));
    /// # let day = |s: &str| -> geodata::Date { s.parse().unwrap() };
    /// use zone_index::Covering;
    /// // The fixture's blue square spans 36.0-36.2 E, 33.0-33.2 N from 2018-01-01 to 2018-06-30.
    /// assert_eq!(index.covering(36.1, 33.1, Some(day("2018-06-30"))), vec![Covering { zone: 0, on_boundary: false }]);
    /// assert_eq!(index.covering(36.2, 33.1, None), vec![Covering { zone: 0, on_boundary: true }]);
    /// assert!(index.covering(36.1, 33.1, Some(day("2018-07-01"))).is_empty());
    /// ```
    pub fn covering(&self, lon: f64, lat: f64, at: Option<Date>) -> Vec<Covering> {
        let mut out = Vec::new();
        let Some(o) = &self.overlay else {
            self.polygons.covering_into(
                lon,
                lat,
                &|zone| self.active(zone, at),
                &mut |zone, on_boundary| out.push(Covering { zone, on_boundary }),
            );
            return out;
        };
        self.overlay_covering(o, lon, lat, at, &mut out, true);
        out
    }

    /// Adds the zones of the changed part of the index covering the point (and, with `base`,
    /// those of the base), then puts them in zone order.
    fn overlay_covering(
        &self,
        o: &Overlay,
        lon: f64,
        lat: f64,
        at: Option<Date>,
        out: &mut Vec<Covering>,
        base: bool,
    ) {
        let live = |z: u32| z != GONE && self.active(z as usize, at);
        let mut add = |polygons: &PolygonIndex, zones: &[u32]| {
            polygons.covering_into(
                lon,
                lat,
                &|item| live(zones[item]),
                &mut |item, on_boundary| {
                    out.push(Covering {
                        zone: zones[item] as usize,
                        on_boundary,
                    })
                },
            );
        };
        if base {
            add(&self.polygons, &o.base_zone);
        }
        add(&o.changed, &o.changed_zone);
        out.sort_unstable_by_key(|c| c.zone);
    }

    /// [`ZoneIndex::covering`] for many points, answers in input order. Faster than a loop:
    /// the points are walked along a Hilbert curve and split across the machine's cores.
    ///
    /// ```
    /// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../geodata/tests/fixtures/good-minimal");
    /// # let index = zone_index::ZoneIndex::new(std::sync::Arc::new(geodata::load_dir(&dir).unwrap()));
    /// # let day = |s: &str| -> geodata::Date { s.parse().unwrap() };
    /// let answers = index.covering_many(&[(36.1, 33.1), (40.0, 40.0)], Some(day("2018-03-01")));
    /// assert_eq!(answers.len(), 2);
    /// assert_eq!(answers[0], index.covering(36.1, 33.1, Some(day("2018-03-01"))));
    /// assert!(answers[1].is_empty());
    /// ```
    pub fn covering_many(&self, points: &[(f64, f64)], at: Option<Date>) -> Vec<Vec<Covering>> {
        let threads = batch_threads(points.len());
        let Some(o) = &self.overlay else {
            let batch = self
                .polygons
                .covering_many_filtered(points, threads, &|zone| self.active(zone, at));
            return (0..batch.len())
                .map(|i| {
                    batch
                        .get(i)
                        .map(|(zone, on_boundary)| Covering { zone, on_boundary })
                        .collect()
                })
                .collect();
        };
        let batch = self
            .polygons
            .covering_many_filtered(points, threads, &|item| {
                o.base_zone[item] != GONE && self.active(o.base_zone[item] as usize, at)
            });
        (0..batch.len())
            .map(|i| {
                let mut v: Vec<Covering> = batch
                    .get(i)
                    .map(|(item, on_boundary)| Covering {
                        zone: o.base_zone[item] as usize,
                        on_boundary,
                    })
                    .collect();
                let (lon, lat) = points[i];
                self.overlay_covering(o, lon, lat, at, &mut v, false);
                v
            })
            .collect()
    }

    /// How many points to give [`ZoneIndex::covering_batch`] at once: more over an index
    /// larger than the CPU caches (see [`polygon::LARGE_INDEX_BATCH_CHUNK`]).
    pub fn batch_chunk(&self) -> usize {
        self.polygons.batch_chunk()
    }

    /// [`ZoneIndex::covering_many`] with the answers in one flat list rather than a `Vec` per
    /// point: for batches of millions of points, where an allocation per point costs as much as
    /// the query.
    ///
    /// ```
    /// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../geodata/tests/fixtures/good-minimal");
    /// # let index = zone_index::ZoneIndex::new(std::sync::Arc::new(geodata::load_dir(&dir).unwrap()));
    /// # let day = |s: &str| -> geodata::Date { s.parse().unwrap() };
    /// let pts = [(36.1, 33.1), (40.0, 40.0)];
    /// let flat = index.covering_batch(&pts, Some(day("2018-03-01")));
    /// let nested = index.covering_many(&pts, Some(day("2018-03-01")));
    /// assert_eq!(flat.len(), 2);
    /// assert_eq!(flat.get(0).collect::<Vec<_>>(), nested[0]);
    /// assert_eq!(flat.get(1).len(), 0);
    /// ```
    pub fn covering_batch(&self, points: &[(f64, f64)], at: Option<Date>) -> CoveringBatch {
        let Some(o) = &self.overlay else {
            return covering_batch_base(&self.polygons, &self.periods, points, at);
        };
        let batch =
            self.polygons
                .covering_many_filtered(points, batch_threads(points.len()), &|item| {
                    o.base_zone[item] != GONE && self.active(o.base_zone[item] as usize, at)
                });
        let mut out = BatchCovering::with_capacity(points.len());
        let mut v = Vec::new();
        for (i, &(lon, lat)) in points.iter().enumerate().take(batch.len()) {
            v.clear();
            v.extend(batch.get(i).map(|(item, on_boundary)| Covering {
                zone: o.base_zone[item] as usize,
                on_boundary,
            }));
            self.overlay_covering(o, lon, lat, at, &mut v, false);
            out.push_point(v.iter().map(|c| (c.zone, c.on_boundary)));
        }
        CoveringBatch(out)
    }

    /// The `k` zones nearest the point whose period holds `at`, nearest first (ties by zone
    /// order), with geodesic distances. Zones covering the point come first at distance 0.
    /// Nothing for a non-finite coordinate.
    ///
    /// ```
    /// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../geodata/tests/fixtures/good-minimal");
    /// # let index = zone_index::ZoneIndex::new(std::sync::Arc::new(geodata::load_dir(&dir).unwrap()));
    /// # let day = |s: &str| -> geodata::Date { s.parse().unwrap() };
    /// let near = index.nearest(36.1, 33.1, 1, Some(day("2018-03-01")));
    /// assert_eq!(near[0].zone, 0);
    /// assert_eq!(near[0].distance_km, 0.0);
    /// // 0.1 degree from the nearest edge: about 9.3 km (east-west) or 11.1 km (north-south).
    /// assert!((near[0].boundary_distance_km - 9.33).abs() < 0.05, "{}", near[0].boundary_distance_km);
    /// ```
    pub fn nearest(&self, lon: f64, lat: f64, k: usize, at: Option<Date>) -> Vec<Nearest> {
        self.nearest_where(lon, lat, k, at, true, None)
    }

    /// The `k` zones nearest the point that do **not** cover it, as [`ZoneIndex::nearest`]
    /// lists them. Cheaper than asking `nearest` for more and dropping the covering zones: their
    /// boundary distances are never computed.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let index = zone_index::ZoneIndex::new(Arc::new(geodata::Dataset::embedded()));
    /// let day = geodata::parse_date("2018-02-15");
    /// let covering = index.covering(36.1, 32.617, day);
    /// let near = index.nearest_outside(36.1, 32.617, 3, day);
    /// assert_eq!(near.len(), 3);
    /// assert!(near.iter().all(|n| n.distance_km > 0.0 && !covering.iter().any(|c| c.zone == n.zone)));
    /// ```
    pub fn nearest_outside(&self, lon: f64, lat: f64, k: usize, at: Option<Date>) -> Vec<Nearest> {
        self.nearest_where(lon, lat, k, at, false, None)
    }

    /// [`ZoneIndex::nearest_outside`] for a point whose covering zones the caller has already
    /// found (`covering`, as [`ZoneIndex::covering`] gave them for the same point and date): the
    /// point-in-polygon tests are not run twice.
    pub fn nearest_outside_given(
        &self,
        lon: f64,
        lat: f64,
        k: usize,
        at: Option<Date>,
        covering: &[Covering],
    ) -> Vec<Nearest> {
        self.nearest_where(lon, lat, k, at, false, Some(covering))
    }

    fn nearest_where(
        &self,
        lon: f64,
        lat: f64,
        k: usize,
        at: Option<Date>,
        with_covering: bool,
        covering: Option<&[Covering]>,
    ) -> Vec<Nearest> {
        if k == 0 || !(lon.is_finite() && lat.is_finite()) {
            return Vec::new();
        }
        let mut covered: Vec<usize> = match covering {
            Some(c) => c.iter().map(|c| c.zone).collect(),
            None => self.covering(lon, lat, at).iter().map(|c| c.zone).collect(),
        };
        // Searched by binary search below.
        covered.sort_unstable();
        let mut candidates: Vec<(f64, usize)> = self
            .zone_boxes
            .iter()
            .enumerate()
            .filter(|&(z, b)| b.is_some() && self.active(z, at))
            .filter(|&(z, _)| with_covering || covered.binary_search(&z).is_err())
            .map(|(z, b)| {
                let lb = if covered.binary_search(&z).is_ok() {
                    0.0
                } else {
                    b.map_or(f64::INFINITY, |r| lower_bound_km(lon, lat, r))
                };
                (lb, z)
            })
            .collect();
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut best: Vec<Nearest> = Vec::new();
        for (lb, z) in candidates {
            if best.len() >= k && best.last().is_some_and(|w| lb > w.distance_km) {
                break;
            }
            let inside = covered.binary_search(&z).is_ok();
            // Once k zones are found, a zone's boundary search stops at the k-th distance: it
            // could only be dropped below that.
            let limit = match best.get(k.saturating_sub(1)) {
                // Inclusive: a zone as far as the k-th may still win its place on the tie-break.
                Some(w) if !inside && best.len() >= k => w.distance_km.next_up(),
                _ => f64::INFINITY,
            };
            let geometry = &self.data.zones[z].geometry;
            let Some((d, at_point)) = distance::to_boundary_within_km(lon, lat, geometry, limit)
            else {
                continue;
            };
            best.push(Nearest {
                zone: z,
                distance_km: if inside { 0.0 } else { d },
                boundary_point: at_point,
                boundary_distance_km: d,
            });
            sort_nearest_first(&mut best, |n| (n.distance_km, n.zone));
            best.truncate(k);
        }
        best
    }

    /// The `k` locations nearest the point whose period holds `at`, nearest first (ties by
    /// location order), by geodesic distance. Nothing for a non-finite coordinate.
    ///
    /// ```
    /// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../geodata/tests/fixtures/good-minimal");
    /// # let index = zone_index::ZoneIndex::new(std::sync::Arc::new(geodata::load_dir(&dir).unwrap()));
    /// # let day = |s: &str| -> geodata::Date { s.parse().unwrap() };
    /// let near = index.nearest_locations(36.1, 33.2, 1, None);
    /// assert_eq!(index.dataset().locations[near[0].location].meta.id.as_str(), "town");
    /// assert!((near[0].distance_km - 11.09).abs() < 0.05);
    /// ```
    pub fn nearest_locations(
        &self,
        lon: f64,
        lat: f64,
        k: usize,
        at: Option<Date>,
    ) -> Vec<NearestLocation> {
        if k == 0 || !(lon.is_finite() && lat.is_finite()) {
            return Vec::new();
        }
        let here = geo::Point::new(lon, lat);
        let mut all: Vec<NearestLocation> = self
            .data
            .locations
            .iter()
            .enumerate()
            .filter(|(_, l)| at.is_none_or(|d| l.period.contains(d)))
            .map(|(i, l)| NearestLocation {
                location: i,
                distance_km: geodata::geodesy::distance_km(here, l.point),
            })
            .collect();
        sort_nearest_first(&mut all, |n| (n.distance_km, n.location));
        all.truncate(k);
        all
    }

    /// Zones whose geometry meets the box (edges included) and locations in it, both filtered
    /// to `at` when given.
    ///
    /// ```
    /// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../geodata/tests/fixtures/good-minimal");
    /// # let index = zone_index::ZoneIndex::new(std::sync::Arc::new(geodata::load_dir(&dir).unwrap()));
    /// # let day = |s: &str| -> geodata::Date { s.parse().unwrap() };
    /// use zone_index::Bbox;
    /// let found = index.in_bbox(Bbox::new(36.05, 33.05, 36.5, 33.5).unwrap(), Some(day("2018-03-01")));
    /// assert_eq!(found.zones, vec![0]);
    /// assert_eq!(found.locations, vec![0]);
    /// ```
    pub fn in_bbox(&self, bbox: Bbox, at: Option<Date>) -> InBbox {
        let rects: Vec<Rect<f64>> = bbox.rects().into_iter().flatten().collect();
        let mut zones: Vec<usize> = rects
            .iter()
            .flat_map(|r| {
                let b = [r.min().x, r.min().y, r.max().x, r.max().y];
                let zones: Vec<usize> = match &self.overlay {
                    None => self.polygons.items_meeting_box(b),
                    Some(o) => {
                        let base = self
                            .polygons
                            .items_meeting_box(b)
                            .into_iter()
                            .map(|i| o.base_zone[i]);
                        let changed = o
                            .changed
                            .items_meeting_box(b)
                            .into_iter()
                            .map(|i| o.changed_zone[i]);
                        base.chain(changed)
                            .filter(|&z| z != GONE)
                            .map(|z| z as usize)
                            .collect()
                    }
                };
                zones
                    .into_iter()
                    .filter(|&z| self.active(z, at) && r.intersects(&*self.data.zones[z].geometry))
            })
            .collect();
        zones.sort_unstable();
        zones.dedup();
        let locations = self
            .data
            .locations
            .iter()
            .enumerate()
            .filter(|(_, l)| at.is_none_or(|d| l.period.contains(d)))
            .filter(|(_, l)| bbox.contains(l.point.x(), l.point.y()))
            .map(|(i, _)| i)
            .collect();
        InBbox { zones, locations }
    }

    /// The point's history: consecutive periods over which the set of zones covering it stays
    /// the same, from the open past to the open future, including spans covered by no zone.
    ///
    /// ```
    /// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../geodata/tests/fixtures/good-minimal");
    /// # let index = zone_index::ZoneIndex::new(std::sync::Arc::new(geodata::load_dir(&dir).unwrap()));
    /// # let day = |s: &str| -> geodata::Date { s.parse().unwrap() };
    /// let spans = index.timeline(36.1, 33.1);
    /// let periods: Vec<String> = spans.iter().map(|s| s.period.to_string()).collect();
    /// assert_eq!(periods, ["../2017-12-31", "2018-01-01/2018-06-30", "2018-07-01/.."]);
    /// assert_eq!(spans[1].zones, vec![0]);
    /// assert!(spans[0].zones.is_empty() && spans[2].zones.is_empty());
    /// ```
    pub fn timeline(&self, lon: f64, lat: f64) -> Vec<TimelineSpan> {
        let covering = self.covering(lon, lat, None);
        timeline::spans(&self.data, &covering)
    }

    /// What changed from day `from` to day `to`: zones that began or ended in between, and per
    /// actor and kind the area (geodesic km²) gained and lost between the two days. When `to`
    /// is before `from` the days are swapped.
    ///
    /// ```
    /// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../geodata/tests/fixtures/good-minimal");
    /// # let index = zone_index::ZoneIndex::new(std::sync::Arc::new(geodata::load_dir(&dir).unwrap()));
    /// # let day = |s: &str| -> geodata::Date { s.parse().unwrap() };
    /// let ch = index.changes(day("2018-03-01"), day("2018-07-15"));
    /// assert_eq!(ch.ended, vec![0]);
    /// assert_eq!(ch.began, vec![1]);
    /// let blue = ch.areas.iter().find(|a| a.actor.as_str() == "blue").unwrap();
    /// assert!(blue.lost_km2 > 400.0 && blue.gained_km2 == 0.0);
    /// ```
    pub fn changes(&self, from: Date, to: Date) -> Changes {
        changes::between(&self.data, from.min(to), from.max(to))
    }
}

/// The cores this process may use, asked once: `available_parallelism` reads the cgroup quota
/// files on every call (a statx and several opens), which made a 1,000-point batch with a date
/// per point spend most of its 600 ms there under load.
fn parallelism() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Whether two zones have the same geometry: the same shared one, or an equal one.
fn same_geometry(a: &geodata::Zone, b: &geodata::Zone) -> bool {
    Arc::ptr_eq(&a.geometry, &b.geometry) || a.geometry == b.geometry
}

/// Sorts by distance, ties by position in the data set, so answers do not depend on the
/// index's internal order.
fn sort_nearest_first<T>(items: &mut [T], key: impl Fn(&T) -> (f64, usize)) {
    items.sort_by(|a, b| {
        let ((da, ia), (db, ib)) = (key(a), key(b));
        da.total_cmp(&db).then(ia.cmp(&ib))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_boxes_from_the_index_are_the_geometry_boxes() {
        // The boxes come from the index's parts; for valid polygons they are `bounding_rect`'s.
        let data = Arc::new(Dataset::embedded());
        let index = ZoneIndex::new(data.clone());
        assert_eq!(index.zone_boxes.len(), data.zones.len());
        for (b, z) in index.zone_boxes.iter().zip(&data.zones) {
            assert_eq!(*b, z.geometry.bounding_rect(), "{}", z.meta.id);
        }
    }

    #[test]
    fn the_index_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ZoneIndex>();
        assert_send_sync::<PolygonIndex>();
    }
}
