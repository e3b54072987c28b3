//! The geometry-only layer: which of a list of (multi)polygons cover a point, exactly, with no
//! dates and no data set. [`ZoneIndex`](crate::ZoneIndex) is built on it; the benchmarks use it
//! directly.
//!
//! Layout, chosen for speed and memory:
//!
//! - every ring's vertices sit in one flat `Vec<[f64; 2]>` (each ring stored closed), so an edge
//!   is just the index of its first vertex;
//! - each polygon part (one polygon of a multipolygon) gets a *banded edge index*: its y-range is
//!   cut into equal horizontal bands and each band lists the edges whose y-range meets it. A point
//!   test looks only at the edges of the one band holding the point's latitude, a handful instead
//!   of every edge;
//! - an rstar R-tree over the parts' bounding boxes picks the candidate parts.
//!
//! The exact test is a crossing-number test whose every decision is either a comparison of input
//! coordinates or the sign of Shewchuk's adaptive-precision `orient2d`, so points on vertices and
//! edges are found exactly, with no epsilon.

use std::ops::ControlFlow;

use geo::{Coord, MultiPolygon};
use rstar::{AABB, RStarInsertionStrategy, RTree, RTreeObject, RTreeParams};

use crate::hilbert;

/// Edges per band, on average, for a part that has many: fewer bands cost less memory, more
/// bands fewer edge tests per query. 2 measured best on zones-100k and countries.
const EDGES_PER_BAND: usize = 2;

/// Where a point lies relative to a polygon (closed: the boundary is part of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Position {
    /// Not in the polygon.
    Outside,
    /// In the interior.
    Inside,
    /// On an edge or a vertex.
    OnBoundary,
}

/// R-tree node size. Wider nodes than rstar's default of 6 make the tree shallower, which
/// measured faster for point queries over 100,000 boxes.
struct Params;

impl RTreeParams for Params {
    const MIN_SIZE: usize = 4;
    const MAX_SIZE: usize = 12;
    const REINSERTION_COUNT: usize = 3;
    type DefaultInsertionStrategy = RStarInsertionStrategy;
}

/// What the R-tree holds: a part's bounding box and the part's number.
#[derive(Debug, Clone, Copy)]
struct PartBox {
    envelope: AABB<[f64; 2]>,
    part: u32,
}

impl RTreeObject for PartBox {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// One polygon of an item (a multipolygon), with its banded edge index.
#[derive(Debug, Clone, Copy)]
struct Part {
    /// The item (input multipolygon) this part belongs to.
    item: u32,
    /// Lowest latitude of the part: band 0 starts here.
    y0: f64,
    /// Bands per degree of latitude.
    inv_h: f64,
    /// Index into `band_offsets` of this part's first band.
    band_start: u32,
    /// Number of bands (at least 1).
    nbands: u32,
}

impl Part {
    /// The band holding latitude `y`. Monotone in `y` (a float subtraction and a multiplication
    /// by a positive number never reorder values), which is what makes the banding exact: an edge
    /// whose y-range holds `y` was filed under every band from `band(min y)` to `band(max y)`.
    #[inline]
    fn band(&self, y: f64) -> usize {
        let t = (y - self.y0) * self.inv_h;
        let last = self.nbands as usize - 1;
        if t >= last as f64 {
            last
        } else if t > 0.0 {
            // In 0..last, so the cast neither truncates nor saturates.
            t as usize
        } else {
            0
        }
    }
}

/// Which polygons cover a point, for a fixed list of multipolygons ("items").
///
/// Covering is closed (the PostGIS `ST_Covers` sense): a point on an edge or a vertex is
/// covered and reported as on the boundary. For a valid multipolygon (parts that meet at most in
/// points), a point is inside when it is inside any part, and on the boundary when it is on some
/// part's boundary and inside none.
///
/// Parts with a non-finite coordinate are left out (they would poison the R-tree).
///
/// ```
/// use geo::{MultiPolygon, polygon};
/// use zone_index::PolygonIndex;
///
/// let square = polygon![(x: 0.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 2.0), (x: 0.0, y: 2.0)];
/// let right = polygon![(x: 1.0, y: 0.0), (x: 3.0, y: 0.0), (x: 3.0, y: 2.0), (x: 1.0, y: 2.0)];
/// let index = PolygonIndex::new(vec![MultiPolygon(vec![square]), MultiPolygon(vec![right])]);
/// assert_eq!(index.covering(1.5, 1.0), vec![(0, false), (1, false)]);
/// assert_eq!(index.covering(1.0, 1.0), vec![(0, false), (1, true)]);
/// assert_eq!(index.covering(9.0, 9.0), vec![]);
/// assert_eq!(index.covering(f64::NAN, 1.0), vec![]);
/// ```
#[derive(Debug)]
pub struct PolygonIndex {
    coords: Vec<[f64; 2]>,
    parts: Vec<Part>,
    band_offsets: Vec<u32>,
    band_edges: Vec<u32>,
    tree: RTree<PartBox, Params>,
    items: usize,
    bbox: Option<[f64; 4]>,
}

/// The answers of a batch query, one list per input point, stored flat.
///
/// ```
/// use geo::{MultiPolygon, polygon};
/// use zone_index::PolygonIndex;
/// let square = polygon![(x: 0.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 2.0), (x: 0.0, y: 2.0)];
/// let index = PolygonIndex::new(vec![MultiPolygon(vec![square])]);
/// let hits = index.covering_many(&[(1.0, 1.0), (5.0, 5.0), (2.0, 1.0)], 2);
/// assert_eq!(hits.len(), 3);
/// assert_eq!(hits.get(0).collect::<Vec<_>>(), vec![(0, false)]);
/// assert_eq!(hits.get(1).count(), 0);
/// assert_eq!(hits.get(2).collect::<Vec<_>>(), vec![(0, true)]);
/// assert_eq!(hits.pairs().count(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchCovering {
    /// `offsets[i]..offsets[i + 1]` are point `i`'s entries in `hits`.
    offsets: Vec<u32>,
    /// Item number, with the top bit set when the point is on the item's boundary.
    hits: Vec<u32>,
}

const BOUNDARY_BIT: u32 = 1 << 31;

impl BatchCovering {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether there were no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Point `i`'s covering items, in item order, each with its on-boundary flag; nothing when
    /// `i` is out of range.
    pub fn get(&self, i: usize) -> impl Iterator<Item = (usize, bool)> + '_ {
        let range = match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&s), Some(&e)) => s as usize..e as usize,
            _ => 0..0,
        };
        self.hits[range].iter().map(|&h| unpack(h))
    }

    /// Every (point, item, on boundary) triple, by point then item.
    pub fn pairs(&self) -> impl Iterator<Item = (usize, usize, bool)> + '_ {
        self.offsets.windows(2).enumerate().flat_map(move |(i, w)| {
            self.hits[w[0] as usize..w[1] as usize]
                .iter()
                .map(move |&h| {
                    let (item, b) = unpack(h);
                    (i, item, b)
                })
        })
    }
}

#[inline]
fn pack(item: u32, on_boundary: bool) -> u32 {
    if on_boundary {
        item | BOUNDARY_BIT
    } else {
        item
    }
}

#[inline]
fn unpack(h: u32) -> (usize, bool) {
    ((h & !BOUNDARY_BIT) as usize, h & BOUNDARY_BIT != 0)
}

/// Adds up the vertices of the multipolygons, closing vertex of each ring included: the count
/// the raw coordinate bytes (16 per vertex) are measured against.
///
/// ```
/// use geo::{MultiPolygon, polygon};
/// let square = polygon![(x: 0.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 2.0), (x: 0.0, y: 2.0)];
/// assert_eq!(zone_index::vertex_count(&[MultiPolygon(vec![square])]), 5);
/// ```
pub fn vertex_count(items: &[MultiPolygon<f64>]) -> usize {
    items
        .iter()
        .flat_map(|m| &m.0)
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .map(|r| r.0.len())
        .sum()
}

impl PolygonIndex {
    /// Builds the index over `items`; item `i` keeps number `i` in every answer.
    ///
    /// # Panics
    ///
    /// When there are 2^31 items or more, or more than `u32::MAX` vertices or band entries
    /// (about 64 GiB of coordinates: far past this machine class).
    pub fn new(items: Vec<MultiPolygon<f64>>) -> PolygonIndex {
        Self::from_items(items)
    }

    /// Builds the index from any sequence of items, consuming each as it goes, so the caller
    /// never needs every input geometry in memory at once. Same numbering and panics as
    /// [`PolygonIndex::new`].
    ///
    /// ```
    /// use geo::{MultiPolygon, polygon};
    /// let index = zone_index::PolygonIndex::from_items((0..3).map(|i| {
    ///     let x = f64::from(i);
    ///     MultiPolygon(vec![polygon![(x: x, y: 0.0), (x: x + 1.0, y: 0.0), (x: x, y: 1.0)]])
    /// }));
    /// assert_eq!(index.len(), 3);
    /// assert_eq!(index.covering(1.0, 0.0), vec![(0, true), (1, true)]);
    /// ```
    pub fn from_items<I: IntoIterator<Item = MultiPolygon<f64>>>(items: I) -> PolygonIndex {
        let mut coords: Vec<[f64; 2]> = Vec::new();
        let mut parts: Vec<Part> = Vec::new();
        let mut boxes: Vec<PartBox> = Vec::new();
        let mut band_offsets: Vec<u32> = Vec::new();
        let mut band_edges: Vec<u32> = Vec::new();
        let mut n_items = 0usize;
        let mut bbox: Option<[f64; 4]> = None;
        // Reused scratch: edges (first vertex, band range) of the current part.
        let mut edges: Vec<(u32, u32, u32)> = Vec::new();
        let mut counts: Vec<u32> = Vec::new();
        for (item, mp) in items.into_iter().enumerate() {
            n_items = item + 1;
            let item = u32::try_from(item)
                .ok()
                .filter(|&i| i < BOUNDARY_BIT)
                .expect("fewer than 2^31 items, as documented");
            for poly in &mp.0 {
                let rings = std::iter::once(poly.exterior()).chain(poly.interiors());
                let finite = rings
                    .clone()
                    .flat_map(|r| &r.0)
                    .all(|c| c.x.is_finite() && c.y.is_finite());
                if !finite || poly.exterior().0.is_empty() {
                    continue;
                }
                let (mut min, mut max) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
                edges.clear();
                for ring in rings {
                    if ring.0.is_empty() {
                        continue;
                    }
                    let ring_start = coords.len();
                    for c in &ring.0 {
                        coords.push([c.x, c.y]);
                        min = [min[0].min(c.x), min[1].min(c.y)];
                        max = [max[0].max(c.x), max[1].max(c.y)];
                    }
                    if ring.0.first() != ring.0.last() {
                        coords.push(coords[ring_start]);
                    }
                    for e in ring_start..coords.len() - 1 {
                        edges.push((to_u32(e), 0, 0));
                    }
                }
                let n_edges = edges.len().max(1);
                let height = max[1] - min[1];
                let nbands = if height > 0.0 {
                    (n_edges / EDGES_PER_BAND).max(1)
                } else {
                    1
                };
                let mut part = Part {
                    item,
                    y0: min[1],
                    inv_h: if height > 0.0 {
                        nbands as f64 / height
                    } else {
                        0.0
                    },
                    band_start: to_u32(band_offsets.len()),
                    nbands: to_u32(nbands),
                };
                if !part.inv_h.is_finite() {
                    // A part a few ulps tall with many edges: one band is as good as any.
                    part.inv_h = 0.0;
                    part.nbands = 1;
                }
                // Counting sort of the edges into bands: count, prefix-sum, fill.
                counts.clear();
                counts.resize(part.nbands as usize + 1, 0);
                for e in edges.iter_mut() {
                    let [_, ay] = coords[e.0 as usize];
                    let [_, by] = coords[e.0 as usize + 1];
                    let (b0, b1) = (part.band(ay.min(by)), part.band(ay.max(by)));
                    *e = (e.0, to_u32(b0), to_u32(b1));
                    for c in &mut counts[b0..=b1] {
                        *c += 1;
                    }
                }
                let base = band_edges.len();
                let mut acc = to_u32(base);
                for c in counts.iter_mut() {
                    let n = *c;
                    *c = acc;
                    band_offsets.push(acc);
                    acc = acc.checked_add(n).expect("fewer than 2^32 band entries");
                }
                band_edges.resize(acc as usize, 0);
                let mut cursor = counts;
                for &(e, b0, b1) in &edges {
                    for b in b0..=b1 {
                        band_edges[cursor[b as usize] as usize] = e;
                        cursor[b as usize] += 1;
                    }
                }
                counts = cursor;
                // `band_offsets` has nbands + 1 entries for this part; the last one is the end.
                debug_assert_eq!(
                    band_offsets.len(),
                    part.band_start as usize + part.nbands as usize + 1
                );
                bbox = Some(match bbox {
                    None => [min[0], min[1], max[0], max[1]],
                    Some(b) => [
                        b[0].min(min[0]),
                        b[1].min(min[1]),
                        b[2].max(max[0]),
                        b[3].max(max[1]),
                    ],
                });
                boxes.push(PartBox {
                    envelope: AABB::from_corners(min, max),
                    part: to_u32(parts.len()),
                });
                parts.push(part);
            }
        }
        coords.shrink_to_fit();
        band_edges.shrink_to_fit();
        band_offsets.shrink_to_fit();
        parts.shrink_to_fit();
        PolygonIndex {
            coords,
            parts,
            band_offsets,
            band_edges,
            tree: RTree::bulk_load_with_params(boxes),
            items: n_items,
            bbox,
        }
    }

    /// Number of items (input multipolygons), empty ones included.
    pub fn len(&self) -> usize {
        self.items
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// `[min lon, min lat, max lon, max lat]` of every indexed part, or `None` when there is none.
    pub fn bbox(&self) -> Option<[f64; 4]> {
        self.bbox
    }

    /// Bytes of heap memory the index holds (coordinates, bands, parts, R-tree), counted from
    /// the capacities of its allocations.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let tree_nodes = self.parts.len() as f64 * 1.25; // leaves plus parents, about
        self.coords.capacity() * size_of::<[f64; 2]>()
            + self.parts.capacity() * size_of::<Part>()
            + self.band_offsets.capacity() * size_of::<u32>()
            + self.band_edges.capacity() * size_of::<u32>()
            + (tree_nodes * (size_of::<PartBox>() + 8) as f64) as usize
    }

    /// Every item covering the point, in item order, each with whether the point is on the
    /// item's boundary. Non-finite coordinates cover nothing.
    pub fn covering(&self, lon: f64, lat: f64) -> Vec<(usize, bool)> {
        let mut out = Vec::new();
        self.covering_into(lon, lat, &|_| true, &mut |item, b| out.push((item, b)));
        out
    }

    /// [`PolygonIndex::covering`] restricted to the items `keep` accepts (checked before the
    /// exact test, so a cheap filter saves work). `emit` receives each covering item once, in
    /// item order.
    ///
    /// ```
    /// use geo::{MultiPolygon, polygon};
    /// let sq = polygon![(x: 0.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 2.0), (x: 0.0, y: 2.0)];
    /// let index = zone_index::PolygonIndex::new(vec![MultiPolygon(vec![sq.clone()]), MultiPolygon(vec![sq])]);
    /// let mut seen = Vec::new();
    /// index.covering_into(1.0, 1.0, &|item| item == 1, &mut |item, on_boundary| seen.push((item, on_boundary)));
    /// assert_eq!(seen, vec![(1, false)]);
    /// ```
    pub fn covering_into(
        &self,
        lon: f64,
        lat: f64,
        keep: &dyn Fn(usize) -> bool,
        emit: &mut dyn FnMut(usize, bool),
    ) {
        if !(lon.is_finite() && lat.is_finite()) {
            return;
        }
        // Most points meet few parts: collect on the stack, spill only when many.
        let mut found = Found::default();
        let query = AABB::from_point([lon, lat]);
        let _ = self
            .tree
            .locate_in_envelope_intersecting_int(&query, |b: &PartBox| {
                let part = &self.parts[b.part as usize];
                if keep(part.item as usize) {
                    match self.locate_in_part(part, lon, lat) {
                        Position::Outside => {}
                        Position::Inside => found.push(part.item, false),
                        Position::OnBoundary => found.push(part.item, true),
                    }
                }
                ControlFlow::<()>::Continue(())
            });
        found.emit(emit);
    }

    /// Where the point lies relative to one item (all its parts), by scanning the item's parts
    /// with the banded edge index; `None` when `item` is out of range.
    pub fn position(&self, item: usize, lon: f64, lat: f64) -> Option<Position> {
        if item >= self.items {
            return None;
        }
        if !(lon.is_finite() && lat.is_finite()) {
            return Some(Position::Outside);
        }
        let mut boundary = false;
        for part in self.parts.iter().filter(|p| p.item as usize == item) {
            match self.locate_in_part(part, lon, lat) {
                Position::Inside => return Some(Position::Inside),
                Position::OnBoundary => boundary = true,
                Position::Outside => {}
            }
        }
        Some(if boundary {
            Position::OnBoundary
        } else {
            Position::Outside
        })
    }

    /// The exact test against one part, using its band.
    #[inline]
    fn locate_in_part(&self, part: &Part, x: f64, y: f64) -> Position {
        let b = part.band_start as usize + part.band(y);
        let (s, e) = (
            self.band_offsets[b] as usize,
            self.band_offsets[b + 1] as usize,
        );
        let mut inside = false;
        for &ei in &self.band_edges[s..e] {
            let [ax, ay] = self.coords[ei as usize];
            let [bx, by] = self.coords[ei as usize + 1];
            let a_above = ay > y;
            let b_above = by > y;
            if a_above != b_above {
                // The edge crosses the horizontal line through the point (half-open in y, so
                // a vertex on the line is counted once). Cheap cases first.
                if ax < x && bx < x {
                    continue;
                }
                if ax > x && bx > x {
                    inside = !inside;
                    continue;
                }
                let o = orient(ax, ay, bx, by, x, y);
                if o == 0.0 {
                    return Position::OnBoundary;
                }
                // Upward edge with the point on its left, or downward edge with the point on
                // its right: the edge passes east of the point, so the eastward ray crosses it.
                if (o > 0.0) == b_above {
                    inside = !inside;
                }
            } else if (ay == y || by == y) && on_segment(ax, ay, bx, by, x, y) {
                // Both ends on one side: the point can only be on the edge at an end's latitude
                // (a vertex, or along a horizontal edge).
                return Position::OnBoundary;
            }
        }
        if inside {
            Position::Inside
        } else {
            Position::Outside
        }
    }

    /// Every item covering each point, in the input order, using `threads` threads (0 or 1:
    /// the calling thread only). Points are visited in Hilbert-curve order so that neighbours
    /// in the walk share R-tree nodes and edges in cache.
    pub fn covering_many(&self, points: &[(f64, f64)], threads: usize) -> BatchCovering {
        self.covering_many_filtered(points, threads, &|_| true)
    }

    /// [`PolygonIndex::covering_many`] restricted to the items `keep` accepts.
    pub fn covering_many_filtered(
        &self,
        points: &[(f64, f64)],
        threads: usize,
        keep: &(dyn Fn(usize) -> bool + Sync),
    ) -> BatchCovering {
        let n = points.len();
        let order = hilbert::order(points, self.bbox.unwrap_or([0.0, 0.0, 1.0, 1.0]));
        let threads = threads.clamp(1, n.max(1));
        let chunk = n.div_ceil(threads).max(1);
        // Each worker walks a contiguous run of the curve and returns, per visited point, its
        // hit count, plus the hits themselves in the same order.
        let work = |slice: &[u32]| {
            let mut counts = Vec::with_capacity(slice.len());
            let mut hits = Vec::with_capacity(slice.len());
            for &i in slice {
                let (lon, lat) = points[i as usize];
                let before = hits.len();
                self.covering_into(lon, lat, keep, &mut |item, b| {
                    hits.push(pack(to_u32(item), b));
                });
                counts.push(to_u32(hits.len() - before));
            }
            (counts, hits)
        };
        let results: Vec<(Vec<u32>, Vec<u32>)> = if threads == 1 {
            vec![work(&order)]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = order
                    .chunks(chunk)
                    .map(|c| s.spawn(move || work(c)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| match h.join() {
                        Ok(r) => r,
                        Err(panic) => std::panic::resume_unwind(panic),
                    })
                    .collect()
            })
        };
        // Scatter back to input order.
        let mut per_point = vec![0u32; n];
        for (c, (counts, _)) in order.chunks(chunk).zip(&results) {
            for (&i, &k) in c.iter().zip(counts) {
                per_point[i as usize] = k;
            }
        }
        let mut offsets = Vec::with_capacity(n + 1);
        let mut acc = 0u32;
        offsets.push(0);
        for k in &per_point {
            acc += k;
            offsets.push(acc);
        }
        let mut hits = vec![0u32; acc as usize];
        for (c, (counts, h)) in order.chunks(chunk).zip(&results) {
            let mut at = 0usize;
            for (&i, &k) in c.iter().zip(counts) {
                let k = k as usize;
                let dst = offsets[i as usize] as usize;
                hits[dst..dst + k].copy_from_slice(&h[at..at + k]);
                at += k;
            }
        }
        BatchCovering { offsets, hits }
    }
}

/// The items one point query found, merged per item: inside any part wins over on a boundary.
#[derive(Default)]
struct Found {
    small: [(u32, bool); 16],
    n: usize,
    spill: Vec<(u32, bool)>,
}

impl Found {
    #[inline]
    fn push(&mut self, item: u32, on_boundary: bool) {
        if self.n < self.small.len() {
            self.small[self.n] = (item, on_boundary);
            self.n += 1;
        } else {
            self.spill.push((item, on_boundary));
        }
    }

    fn emit(mut self, emit: &mut dyn FnMut(usize, bool)) {
        let mut all: Vec<(u32, bool)>;
        let list: &mut [(u32, bool)] = if self.spill.is_empty() {
            &mut self.small[..self.n]
        } else {
            all = self.small[..self.n].to_vec();
            all.append(&mut self.spill);
            &mut all
        };
        // (item, false) sorts before (item, true): the first entry per item says whether any
        // part has the point inside.
        list.sort_unstable();
        let mut last = None;
        for &(item, b) in list.iter() {
            if last != Some(item) {
                emit(item as usize, b);
                last = Some(item);
            }
        }
    }
}

/// The sign of the area of triangle a, b, p: positive when p is left of a->b, exactly zero
/// when the three are collinear (Shewchuk's adaptive predicate via the `robust` crate).
#[inline]
fn orient(ax: f64, ay: f64, bx: f64, by: f64, x: f64, y: f64) -> f64 {
    robust::orient2d(
        robust::Coord { x: ax, y: ay },
        robust::Coord { x: bx, y: by },
        robust::Coord { x, y },
    )
}

/// Whether p lies on the closed segment a-b, exactly.
#[inline]
fn on_segment(ax: f64, ay: f64, bx: f64, by: f64, x: f64, y: f64) -> bool {
    ax.min(bx) <= x
        && x <= ax.max(bx)
        && ay.min(by) <= y
        && y <= ay.max(by)
        && orient(ax, ay, bx, by, x, y) == 0.0
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).expect("index sizes stay below 2^32, as documented on PolygonIndex::new")
}

/// The exact position of a coordinate relative to a multipolygon, by a plain scan of every
/// edge: the reference the tests hold the index to, and what [`crate::ZoneIndex`] uses for
/// one-off checks.
///
/// ```
/// use geo::{MultiPolygon, polygon};
/// use zone_index::{Position, position_by_scan};
/// let sq = MultiPolygon(vec![polygon![(x: 0.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 2.0), (x: 0.0, y: 2.0)]]);
/// assert_eq!(position_by_scan(&sq, 1.0, 1.0), Position::Inside);
/// assert_eq!(position_by_scan(&sq, 2.0, 2.0), Position::OnBoundary);
/// assert_eq!(position_by_scan(&sq, 3.0, 1.0), Position::Outside);
/// ```
pub fn position_by_scan(mp: &MultiPolygon<f64>, lon: f64, lat: f64) -> Position {
    use geo::CoordinatePosition;
    use geo::coordinate_position::CoordPos;
    if !(lon.is_finite() && lat.is_finite()) {
        return Position::Outside;
    }
    let c = Coord { x: lon, y: lat };
    let mut boundary = false;
    for p in &mp.0 {
        match p.coordinate_position(&c) {
            CoordPos::Inside => return Position::Inside,
            CoordPos::OnBoundary => boundary = true,
            CoordPos::Outside => {}
        }
    }
    if boundary {
        Position::OnBoundary
    } else {
        Position::Outside
    }
}
