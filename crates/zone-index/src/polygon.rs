//! The geometry-only layer: which of a list of (multi)polygons cover a point, exactly, with no
//! dates and no data set. [`ZoneIndex`](crate::ZoneIndex) is built on it; the benchmarks use it
//! directly.
//!
//! Layout, chosen for speed and memory:
//!
//! - every ring's vertices sit in one flat `Vec<[f64; 2]>` (each ring stored closed), so an edge
//!   is just the index of its first vertex; in an index larger than the CPU caches the parts
//!   are laid out along a Hilbert curve over their boxes, as batches walk their points;
//! - each polygon part (one polygon of a multipolygon) gets a *banded edge index*: its y-range is
//!   cut into equal horizontal bands and each band lists the edges whose y-range meets it. A point
//!   test looks only at the edges of the one band holding the point's latitude, a handful instead
//!   of every edge;
//! - a uniform grid over the whole index picks the candidates for a point: each cell lists the
//!   parts whose bounding box meets it, except that a part none of whose edges comes near the
//!   cell is filed as "the cell is wholly inside this item" (answered with no edge test) or,
//!   when the cell is wholly outside, not filed at all. One cell lookup replaces a descent
//!   through an R-tree, which measured about 4x slower on zones-100k (each tree level a cache miss);
//! - an rstar R-tree over the parts' bounding boxes answers box queries
//!   ([`PolygonIndex::items_meeting_box`]).
//!
//! The exact test is a crossing-number test whose every decision is either a comparison of input
//! coordinates or the sign of Shewchuk's adaptive-precision `orient2d`, so points on vertices and
//! edges are found exactly, with no epsilon.

mod stored;

pub use stored::geometry_key;

use std::ops::ControlFlow;

use geo::{Coord, MultiPolygon};
use rstar::{AABB, RStarInsertionStrategy, RTree, RTreeObject, RTreeParams};

use crate::hilbert;

/// Edges per band, on average, for a part that has many: fewer bands cost less memory, more
/// bands fewer edge tests per query. 2 measured best on zones-100k and countries.
const EDGES_PER_BAND: usize = 2;

/// Grid cells per polygon part (at least one per 8 vertices, at most 4 M): more cells mean
/// fewer candidates per cell and more cells answered without an edge test, at 4 bytes each.
const GRID_CELLS_PER_PART: usize = 4;

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

/// R-tree node size: wider nodes than rstar's default of 6 make a shallower tree. Chosen, not
/// tuned: only box queries use the tree.
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
    /// Highest latitude of the part.
    max_y: f64,
    /// Westernmost longitude of the part.
    min_x: f64,
    /// Easternmost longitude of the part.
    max_x: f64,
    /// Bands per degree of latitude.
    inv_h: f64,
    /// Where the part's band index starts in `blob16` (or `blob32` when `wide`): `nbands + 1`
    /// offsets relative to that start, then the edge lists, each edge as the index of its first
    /// vertex relative to `coord_start`.
    blob_start: u32,
    /// Whether the band index needed 32-bit numbers (a part of over 65,535 vertices or entries).
    wide: bool,
    /// Number of bands (at least 1).
    nbands: u32,
    /// The part's vertices are `coords[coord_start..coord_end]`, ring after ring.
    coord_start: u32,
    /// See `coord_start`.
    coord_end: u32,
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
/// Parts with a non-finite coordinate are left out (they would poison the R-tree). Answers are
/// exact for coordinates up to about 1e150 in size (past that the products inside `orient2d`
/// overflow); lon/lat never come near.
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
    /// Band indexes of parts small enough for 16-bit numbers: nearly all, at half the memory,
    /// with a part's offsets and edge lists side by side in cache.
    blob16: Vec<u16>,
    /// Band indexes of the other parts.
    blob32: Vec<u32>,
    /// The parts' boxes, for box queries; made from `parts` when first asked for, so an index
    /// read back from its stored form ([`PolygonIndex::from_bytes`]) that only answers points
    /// never makes it.
    tree: std::sync::OnceLock<RTree<PartBox, Params>>,
    grid: Grid,
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

/// The order a batch query visits its points in (answers always come back in input order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchOrder {
    /// Along a Hilbert curve when the index is too big for the CPU caches, else as given.
    #[default]
    Auto,
    /// As given.
    Input,
    /// Along a Hilbert curve over the index's bounding box.
    Curve,
}

/// Below this many bytes the index is taken to fit in the CPU caches, and batch queries skip
/// the space-filling-curve sort.
const CACHE_SIZED_INDEX: usize = 8 << 20;

/// Points a caller should query at once over an index that fits in the CPU caches: enough for
/// the batch path to pay off, and a small answer.
pub const BATCH_CHUNK: usize = 4096;

/// Points a caller should query at once over a larger index: the curve order finds a zone's
/// edges still in cache only when the batch holds many points near each zone. zones-100k
/// (100,000 zones, 3.7 M vertices) x 1 M points: answered and written in chunks of 4,096 in
/// 1.2 s, in chunks of 262,144 in 0.65 s. Such a chunk's answer is 4 MB per zone covering
/// each point.
pub const LARGE_INDEX_BATCH_CHUNK: usize = 1 << 18;

/// In a grid entry: the cell lies wholly inside the item whose number is in the other bits.
const INSIDE_BIT: u32 = 1 << 31;

/// A uniform grid over the index's bounding box; each cell lists what a point in it may be in.
/// Point queries go through it rather than the R-tree: one cell lookup replaces a descent
/// through several tree levels (and their cache misses), and cells wholly inside a part answer
/// without any edge test.
#[derive(Debug, Default)]
struct Grid {
    x0: f64,
    y0: f64,
    /// Cells per degree of longitude and latitude.
    sx: f64,
    sy: f64,
    nx: usize,
    ny: usize,
    /// `offsets[c]..offsets[c + 1]` are cell `c`'s entries (cells row by row from the south-west).
    offsets: Vec<u32>,
    /// A part number to test exactly, or an item number with [`INSIDE_BIT`] set.
    entries: Vec<u32>,
}

impl Grid {
    /// The column holding longitude `x`, clamped to the grid; monotone in `x`.
    #[inline]
    fn col(&self, x: f64) -> usize {
        let t = (x - self.x0) * self.sx;
        // `as` saturates and maps NaN to 0; the min keeps the last column for the east edge.
        (t.max(0.0) as usize).min(self.nx.saturating_sub(1))
    }

    /// The row holding latitude `y`, clamped to the grid; monotone in `y`.
    #[inline]
    fn row(&self, y: f64) -> usize {
        let t = (y - self.y0) * self.sy;
        (t.max(0.0) as usize).min(self.ny.saturating_sub(1))
    }

    /// The cell of a point inside `bbox`; `None` outside it (where no part can be).
    #[inline]
    fn cell(&self, x: f64, y: f64, bbox: Option<[f64; 4]>) -> Option<usize> {
        let b = bbox?;
        if !(b[0] <= x && x <= b[2] && b[1] <= y && y <= b[3]) || self.offsets.is_empty() {
            return None;
        }
        Some(self.row(y) * self.nx + self.col(x))
    }
}

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
    pub fn get(&self, i: usize) -> impl ExactSizeIterator<Item = (usize, bool)> + Clone + '_ {
        let range = match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&s), Some(&e)) => s as usize..e as usize,
            _ => 0..0,
        };
        self.hits[range].iter().map(|&h| unpack(h))
    }

    /// An empty batch, to which [`BatchCovering::push_point`] adds points: for answers made
    /// point by point (an index with edits over its base).
    pub(crate) fn with_capacity(points: usize) -> BatchCovering {
        let mut offsets = Vec::with_capacity(points + 1);
        offsets.push(0);
        BatchCovering {
            offsets,
            hits: Vec::new(),
        }
    }

    /// Adds a point covered by `hits` (item, on boundary), in item order.
    pub(crate) fn push_point(&mut self, hits: impl Iterator<Item = (usize, bool)>) {
        self.hits
            .extend(hits.map(|(item, on_boundary)| pack(to_u32(item), on_boundary)));
        self.offsets.push(to_u32(self.hits.len()));
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
pub fn vertex_count<M: std::borrow::Borrow<MultiPolygon<f64>>>(items: &[M]) -> usize {
    items
        .iter()
        .flat_map(|m| &m.borrow().0)
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
    pub fn from_items<I, M>(items: I) -> PolygonIndex
    where
        I: IntoIterator<Item = M>,
        M: std::borrow::Borrow<MultiPolygon<f64>>,
    {
        let mut b = Builder::default();
        for (item, mp) in items.into_iter().enumerate() {
            b.push(item, mp.borrow());
        }
        b.finish(1)
    }

    /// [`PolygonIndex::from_items`] on up to `threads` threads: each indexes a run of the
    /// items, and the runs are joined in order, into the same index.
    ///
    /// ```
    /// use geo::{MultiPolygon, polygon};
    /// let items: Vec<MultiPolygon<f64>> = (0..3000).map(|i| {
    ///     let x = f64::from(i);
    ///     MultiPolygon(vec![polygon![(x: x, y: 0.0), (x: x + 1.0, y: 0.0), (x: x, y: 1.0)]])
    /// }).collect();
    /// let refs: Vec<&MultiPolygon<f64>> = items.iter().collect();
    /// let index = zone_index::PolygonIndex::from_slice(&refs, 2);
    /// assert_eq!(index.len(), 3000);
    /// assert_eq!(index.covering(1500.0, 0.0), vec![(1499, true), (1500, true)]);
    /// ```
    pub fn from_slice(items: &[&MultiPolygon<f64>], threads: usize) -> PolygonIndex {
        let threads = threads.min(items.len() / MIN_PER_THREAD).max(1);
        if threads == 1 {
            return Self::from_items(items.iter().copied());
        }
        let runs = in_runs(items.len(), threads, |run| {
            let mut b = Builder::default();
            for (i, mp) in items[run.clone()].iter().enumerate() {
                b.push(run.start + i, mp);
            }
            b
        });
        let mut runs = runs.into_iter();
        let mut all = runs.next().unwrap_or_default();
        for run in runs {
            all.append(run);
        }
        all.finish(threads)
    }

    /// Lays the parts out along a Hilbert curve over their boxes' centres: their vertices and
    /// band indexes in that order too, so that a batch walking its points along the same curve
    /// reads memory mostly forwards and near what it read last, not 60 MB in the items' order
    /// (zones-100k: 2.6 -> 3.4 M points a second on one thread). Item numbers do not change;
    /// only where a part's bytes sit does. Left as they are while everything fits in the
    /// caches ([`CACHE_SIZED_INDEX`], as batches decide whether to walk the curve). Before the
    /// grid and the tree, which name parts by their place.
    fn in_curve_order(&mut self) {
        let Some(bbox) = self.bbox else {
            return;
        };
        if self.heap_bytes() < CACHE_SIZED_INDEX {
            return;
        }
        let centres: Vec<(f64, f64)> = self
            .parts
            .iter()
            .map(|p| ((p.min_x + p.max_x) / 2.0, (p.y0 + p.max_y) / 2.0))
            .collect();
        let order = hilbert::order(&centres, bbox);
        drop(centres);
        let mut coords = Vec::with_capacity(self.coords.len());
        let mut blob16 = Vec::with_capacity(self.blob16.len());
        let mut blob32 = Vec::with_capacity(self.blob32.len());
        let mut parts = Vec::with_capacity(self.parts.len());
        for &i in &order {
            let mut p = self.parts[i as usize];
            let (start, end) = (p.coord_start as usize, p.coord_end as usize);
            p.coord_start = to_u32(coords.len());
            coords.extend_from_slice(&self.coords[start..end]);
            p.coord_end = to_u32(coords.len());
            // A band index is its `nbands + 1` offsets then its edge lists; the last offset
            // (relative to its start) is where it ends.
            let at = p.blob_start as usize;
            if p.wide {
                let len = self.blob32[at + p.nbands as usize] as usize;
                p.blob_start = to_u32(blob32.len());
                blob32.extend_from_slice(&self.blob32[at..at + len]);
            } else {
                let len = usize::from(self.blob16[at + p.nbands as usize]);
                p.blob_start = to_u32(blob16.len());
                blob16.extend_from_slice(&self.blob16[at..at + len]);
            }
            parts.push(p);
        }
        self.coords = coords;
        self.blob16 = blob16;
        self.blob32 = blob32;
        self.parts = parts;
    }

    /// Files every part under the grid cells its bounding box meets: as "inside" (by item) where
    /// no edge comes near the cell and the cell's centre is inside, as a part to test exactly
    /// where an edge comes near, and not at all where the cell is outside.
    fn build_grid(&self, threads: usize) -> Grid {
        let Some(bbox) = self.bbox else {
            return Grid::default();
        };
        let target = (GRID_CELLS_PER_PART * self.parts.len())
            .max(self.coords.len() / 8)
            .clamp(1024, 1 << 22) as f64;
        let (w, h) = (bbox[2] - bbox[0], bbox[3] - bbox[1]);
        // Square cells where the box allows; a flat or thin box gets one row or column.
        let side = match (w > 0.0, h > 0.0) {
            (true, true) => (w * h / target).sqrt(),
            (true, false) => w / target,
            (false, true) => h / target,
            (false, false) => 1.0,
        };
        // Many large overlapping parts (say, a thousand versions of one country) would each be
        // filed in most cells: coarsen the grid until the entries fit a budget.
        let budget = (32 * self.parts.len() + (4 << 20)) as f64;
        let mut side = side;
        for _ in 0..64 {
            let entries: f64 = self
                .parts
                .iter()
                .map(|p| {
                    ((p.max_x - p.min_x) / side + 2.0).min(target)
                        * ((p.max_y - p.y0) / side + 2.0).min(target)
                })
                .sum();
            if entries <= budget {
                break;
            }
            side *= std::f64::consts::SQRT_2;
        }
        let cells = |len: f64| ((len / side).ceil() as usize).clamp(1, 1 << 22);
        let (nx, ny) = (cells(w), cells(h));
        let mut grid = Grid {
            x0: bbox[0],
            y0: bbox[1],
            sx: if w > 0.0 { nx as f64 / w } else { 0.0 },
            sy: if h > 0.0 { ny as f64 / h } else { 0.0 },
            nx,
            ny,
            offsets: Vec::new(),
            entries: Vec::new(),
        };
        // A cell stands for itself widened by `margin` on every side, far more than the
        // rounding error of `Grid::cell`, so a query point is always inside the (widened) cell
        // it is looked up in. Edges are filed with twice the margin for the same reason.
        let margin_x = if grid.sx > 0.0 { 1e-6 / grid.sx } else { 0.0 } + 1e-9;
        let margin_y = if grid.sy > 0.0 { 1e-6 / grid.sy } else { 0.0 } + 1e-9;
        // Each part's cells, parts in order (on several threads, each a run of parts; the
        // counting sort below is stable, so the grid is the same).
        let file = |run: std::ops::Range<usize>| {
            let mut pairs: Vec<(u32, u32)> = Vec::new();
            let mut marks: Vec<bool> = Vec::new();
            for (pi, part) in run.clone().zip(&self.parts[run]) {
                let (cx0, cx1) = (
                    grid.col(part.min_x - 2.0 * margin_x),
                    grid.col(part.max_x + 2.0 * margin_x),
                );
                let (cy0, cy1) = (
                    grid.row(part.y0 - 2.0 * margin_y),
                    grid.row(part.max_y + 2.0 * margin_y),
                );
                let pw = cx1 - cx0 + 1;
                marks.clear();
                marks.resize(pw * (cy1 - cy0 + 1), false);
                // Consecutive vertices, ring after ring: this also walks one made-up edge from each
                // ring's last vertex to the next ring's first, which can only mark more cells
                // (costing a little speed, never exactness).
                let vertices = &self.coords[part.coord_start as usize..part.coord_end as usize];
                for w in vertices.windows(2) {
                    let ([ax, ay], [bx, by]) = (w[0], w[1]);
                    let (ex0, ex1) = (
                        grid.col(ax.min(bx) - 2.0 * margin_x),
                        grid.col(ax.max(bx) + 2.0 * margin_x),
                    );
                    let (ey0, ey1) = (
                        grid.row(ay.min(by) - 2.0 * margin_y),
                        grid.row(ay.max(by) + 2.0 * margin_y),
                    );
                    for cy in ey0.max(cy0)..=ey1.min(cy1) {
                        for cx in ex0.max(cx0)..=ex1.min(cx1) {
                            marks[(cy - cy0) * pw + (cx - cx0)] = true;
                        }
                    }
                }
                for cy in cy0..=cy1 {
                    for cx in cx0..=cx1 {
                        let cell = to_u32(cy * nx + cx);
                        if marks[(cy - cy0) * pw + (cx - cx0)] {
                            pairs.push((cell, to_u32(pi)));
                            continue;
                        }
                        // No edge near the cell: all of it is inside, or all outside, like
                        // its centre.
                        let centre_x = grid.x0 + (cx as f64 + 0.5) / grid.sx.max(f64::MIN_POSITIVE);
                        let centre_y = grid.y0 + (cy as f64 + 0.5) / grid.sy.max(f64::MIN_POSITIVE);
                        match self.locate_in_part(part, centre_x, centre_y) {
                            Position::Inside => pairs.push((cell, part.item | INSIDE_BIT)),
                            Position::Outside => {}
                            // Cannot happen with no edge near; filing the part keeps it
                            // exact anyway.
                            Position::OnBoundary => pairs.push((cell, to_u32(pi))),
                        }
                    }
                }
            }
            pairs
        };
        let n = self.parts.len();
        let threads = threads.min(n / MIN_PER_THREAD).max(1);
        let pairs: Vec<(u32, u32)> = in_runs(n, threads, file).concat();
        // Counting sort of the (cell, entry) pairs by cell.
        let mut offsets = vec![0u32; nx * ny + 1];
        for &(c, _) in &pairs {
            offsets[c as usize + 1] += 1;
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        let mut cursor = offsets.clone();
        let mut entries = vec![0u32; pairs.len()];
        for &(c, entry) in &pairs {
            entries[cursor[c as usize] as usize] = entry;
            cursor[c as usize] += 1;
        }
        grid.offsets = offsets;
        grid.entries = entries;
        grid
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
    ///
    /// ```
    /// use geo::{MultiPolygon, polygon};
    /// let tri = polygon![(x: 1.0, y: 2.0), (x: 3.0, y: 2.0), (x: 1.0, y: 5.0)];
    /// let index = zone_index::PolygonIndex::new(vec![MultiPolygon(vec![tri])]);
    /// assert_eq!(index.bbox(), Some([1.0, 2.0, 3.0, 5.0]));
    /// assert_eq!((index.len(), index.is_empty()), (1, false));
    /// assert!(index.heap_bytes() >= 4 * 16);
    /// assert_eq!(zone_index::PolygonIndex::new(vec![]).bbox(), None);
    /// ```
    pub fn bbox(&self) -> Option<[f64; 4]> {
        self.bbox
    }

    /// Each item's bounding box `[min lon, min lat, max lon, max lat]` over its indexed parts
    /// (holes included), `None` for an item with none (empty, or every part left out for a
    /// non-finite coordinate). One pass over the parts: no vertex is read again.
    ///
    /// ```
    /// use geo::{MultiPolygon, polygon};
    /// let tri = |x: f64| polygon![(x: x, y: 2.0), (x: x + 2.0, y: 2.0), (x: x, y: 5.0)];
    /// let index = zone_index::PolygonIndex::new(vec![
    ///     MultiPolygon(vec![tri(1.0), tri(10.0)]),
    ///     MultiPolygon(vec![]),
    /// ]);
    /// assert_eq!(index.item_boxes(), vec![Some([1.0, 2.0, 12.0, 5.0]), None]);
    /// ```
    pub fn item_boxes(&self) -> Vec<Option<[f64; 4]>> {
        let mut boxes: Vec<Option<[f64; 4]>> = vec![None; self.items];
        for p in &self.parts {
            let b = &mut boxes[p.item as usize];
            *b = Some(match *b {
                None => [p.min_x, p.y0, p.max_x, p.max_y],
                Some([x0, y0, x1, y1]) => [
                    x0.min(p.min_x),
                    y0.min(p.y0),
                    x1.max(p.max_x),
                    y1.max(p.max_y),
                ],
            });
        }
        boxes
    }

    /// How many points to query at once ([`PolygonIndex::covering_many_filtered`]) for the
    /// batch path to pay off: [`BATCH_CHUNK`], or [`LARGE_INDEX_BATCH_CHUNK`] over an index
    /// larger than the CPU caches.
    pub fn batch_chunk(&self) -> usize {
        if self.heap_bytes() >= CACHE_SIZED_INDEX {
            LARGE_INDEX_BATCH_CHUNK
        } else {
            BATCH_CHUNK
        }
    }

    /// Bytes of heap memory the index holds (coordinates, bands, parts, grid, R-tree), counted
    /// from the capacities of its allocations (the R-tree's nodes estimated).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let tree_nodes = self.parts.len() as f64 * 1.25; // leaves plus parents, about
        self.coords.capacity() * size_of::<[f64; 2]>()
            + self.parts.capacity() * size_of::<Part>()
            + self.blob16.capacity() * size_of::<u16>()
            + self.blob32.capacity() * size_of::<u32>()
            + (self.grid.offsets.capacity() + self.grid.entries.capacity()) * size_of::<u32>()
            + (tree_nodes * (size_of::<PartBox>() + 8) as f64) as usize
    }

    /// The R-tree over the parts' boxes, made on first use.
    fn tree(&self) -> &RTree<PartBox, Params> {
        self.tree.get_or_init(|| {
            let boxes = self
                .parts
                .iter()
                .enumerate()
                .map(|(i, p)| PartBox {
                    envelope: AABB::from_corners([p.min_x, p.y0], [p.max_x, p.max_y]),
                    part: to_u32(i),
                })
                .collect();
            RTree::bulk_load_with_params(boxes)
        })
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
        let Some(cell) = self.grid.cell(lon, lat, self.bbox) else {
            return;
        };
        // Most points meet few parts: collect on the stack, spill only when many.
        let mut found = Found::default();
        let (s, e) = (
            self.grid.offsets[cell] as usize,
            self.grid.offsets[cell + 1] as usize,
        );
        for &entry in &self.grid.entries[s..e] {
            if entry & INSIDE_BIT != 0 {
                let item = entry & !INSIDE_BIT;
                if keep(item as usize) {
                    found.push(item, false);
                }
                continue;
            }
            let part = &self.parts[entry as usize];
            if lon < part.min_x || lon > part.max_x || lat < part.y0 || lat > part.max_y {
                continue;
            }
            if keep(part.item as usize) {
                match self.locate_in_part(part, lon, lat) {
                    Position::Outside => {}
                    Position::Inside => found.push(part.item, false),
                    Position::OnBoundary => found.push(part.item, true),
                }
            }
        }
        found.emit(emit);
    }

    /// Items with a part whose bounding box meets the closed box `[min lon, min lat, max lon,
    /// max lat]`, ascending: candidates for an exact box test, found with the R-tree.
    ///
    /// ```
    /// use geo::{MultiPolygon, polygon};
    /// let sq = |x: f64| MultiPolygon(vec![polygon![(x: x, y: 0.0), (x: x + 1.0, y: 0.0), (x: x + 1.0, y: 1.0), (x: x, y: 1.0)]]);
    /// let index = zone_index::PolygonIndex::new(vec![sq(0.0), sq(5.0), sq(10.0)]);
    /// assert_eq!(index.items_meeting_box([0.5, 0.5, 6.0, 2.0]), vec![0, 1]);
    /// assert_eq!(index.items_meeting_box([2.0, 0.0, 4.0, 1.0]), Vec::<usize>::new());
    /// ```
    pub fn items_meeting_box(&self, bbox: [f64; 4]) -> Vec<usize> {
        if bbox.iter().any(|v| v.is_nan()) || bbox[0] > bbox[2] || bbox[1] > bbox[3] {
            return Vec::new();
        }
        let query = AABB::from_corners([bbox[0], bbox[1]], [bbox[2], bbox[3]]);
        let mut out = Vec::new();
        let _ = self
            .tree()
            .locate_in_envelope_intersecting_int(&query, |b: &PartBox| {
                out.push(self.parts[b.part as usize].item as usize);
                ControlFlow::<()>::Continue(())
            });
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Where the point lies relative to one item (all its parts), by scanning the item's parts
    /// with the banded edge index; `None` when `item` is out of range.
    ///
    /// ```
    /// use geo::{MultiPolygon, polygon};
    /// use zone_index::Position;
    /// let sq = polygon![(x: 0.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 2.0), (x: 0.0, y: 2.0)];
    /// let index = zone_index::PolygonIndex::new(vec![MultiPolygon(vec![sq])]);
    /// assert_eq!(index.position(0, 1.0, 0.0), Some(Position::OnBoundary));
    /// assert_eq!(index.position(0, 1.0, 1.0), Some(Position::Inside));
    /// assert_eq!(index.position(1, 1.0, 1.0), None);
    /// ```
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
        let coords = &self.coords[part.coord_start as usize..part.coord_end as usize];
        let band = part.band(y);
        if part.wide {
            scan_band(&self.blob32[part.blob_start as usize..], coords, band, x, y)
        } else {
            scan_band(&self.blob16[part.blob_start as usize..], coords, band, x, y)
        }
    }

    /// Every item covering each point, in the input order, using `threads` threads (0 or 1:
    /// the calling thread only). Points are visited in Hilbert-curve order so that neighbours
    /// in the walk share grid cells and edges in cache (when the index is too big for the caches:
    /// see [`BatchOrder`]).
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
        self.covering_many_ordered(points, threads, BatchOrder::Auto, keep)
    }

    /// [`PolygonIndex::covering_many_filtered`] with the visiting order chosen by the caller.
    ///
    /// ```
    /// use geo::{MultiPolygon, polygon};
    /// use zone_index::{BatchOrder, PolygonIndex};
    /// let sq = polygon![(x: 0.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 2.0), (x: 0.0, y: 2.0)];
    /// let index = PolygonIndex::new(vec![MultiPolygon(vec![sq])]);
    /// let pts = [(1.0, 1.0), (3.0, 3.0)];
    /// let a = index.covering_many_ordered(&pts, 2, BatchOrder::Curve, &|_| true);
    /// let b = index.covering_many_ordered(&pts, 1, BatchOrder::Input, &|_| true);
    /// assert_eq!(a, b);
    /// ```
    pub fn covering_many_ordered(
        &self,
        points: &[(f64, f64)],
        threads: usize,
        order: BatchOrder,
        keep: &(dyn Fn(usize) -> bool + Sync),
    ) -> BatchCovering {
        let n = points.len();
        let by_curve = match order {
            BatchOrder::Auto => self.heap_bytes() >= CACHE_SIZED_INDEX,
            BatchOrder::Input => false,
            BatchOrder::Curve => true,
        };
        if !by_curve {
            // The whole index stays in cache whatever the order: sorting would cost more than
            // it saves. Split the points as given; the answers come back in input order.
            let results = self.covering_chunks(points, threads, keep);
            let mut offsets = Vec::with_capacity(n + 1);
            offsets.push(0u32);
            let mut acc = 0u32;
            let mut hits = Vec::with_capacity(results.iter().map(|r| r.1.len()).sum());
            for (counts, h) in results {
                for k in counts {
                    acc += k;
                    offsets.push(acc);
                }
                hits.extend_from_slice(&h);
            }
            return BatchCovering { offsets, hits };
        }
        let order = hilbert::order(points, self.bbox.unwrap_or([0.0, 0.0, 1.0, 1.0]));
        // Gathering the points in curve order first lets the CPU overlap these cache misses,
        // which inside the query loop would each stall a query.
        let sorted: Vec<(f64, f64)> = order.iter().map(|&i| points[i as usize]).collect();
        let results = self.covering_chunks(&sorted, threads, keep);
        drop(sorted);
        // Scatter back to input order.
        let mut per_point = vec![0u32; n];
        let mut curve = order.iter();
        for (counts, _) in &results {
            for (&k, &i) in counts.iter().zip(curve.by_ref()) {
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
        let mut curve = order.iter();
        for (counts, h) in &results {
            let mut at = 0usize;
            for (&k, &i) in counts.iter().zip(curve.by_ref()) {
                // `counts` first: zip then stops without taking a point from `curve`.
                let k = k as usize;
                let dst = offsets[i as usize] as usize;
                hits[dst..dst + k].copy_from_slice(&h[at..at + k]);
                at += k;
            }
        }
        BatchCovering { offsets, hits }
    }

    /// Answers `points` in `threads` contiguous chunks, each on its own thread (the first on
    /// the calling thread's scope): per chunk, each point's hit count and the hits in order.
    fn covering_chunks(
        &self,
        points: &[(f64, f64)],
        threads: usize,
        keep: &(dyn Fn(usize) -> bool + Sync),
    ) -> Vec<(Vec<u32>, Vec<u32>)> {
        in_shared_runs(points.len(), threads, |run| {
            let slice = &points[run];
            let mut counts = Vec::with_capacity(slice.len());
            let mut hits = Vec::with_capacity(slice.len());
            for &(lon, lat) in slice {
                let before = hits.len();
                self.covering_into(lon, lat, keep, &mut |item, b| {
                    hits.push(pack(to_u32(item), b));
                });
                counts.push(to_u32(hits.len() - before));
            }
            (counts, hits)
        })
    }
}

/// Items (or parts) a thread of the index build takes at least: below this, a thread costs
/// more than it saves.
const MIN_PER_THREAD: usize = 1024;

/// `work` over `0..n` split into up to `threads` runs, each on its own thread (the calling one
/// alone for one run), the results in run order. A panic in a run is resumed here.
pub(crate) fn in_runs<T: Send>(
    n: usize,
    threads: usize,
    work: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    runs_taken_in_turn(n, threads, 1, work)
}

/// Runs each thread of [`in_shared_runs`] takes, on average.
const RUNS_PER_THREAD: usize = 16;

/// [`in_runs`] with the work split into [`RUNS_PER_THREAD`] runs per thread, taken in turn as
/// threads finish their last. Where [`in_runs`] gives each thread one fixed share, here a
/// thread slowed down (another thread of the program on its core: a batch's writer) leaves its
/// runs to the others instead of making all of them wait for its share.
pub(crate) fn in_shared_runs<T: Send>(
    n: usize,
    threads: usize,
    work: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    runs_taken_in_turn(n, threads, RUNS_PER_THREAD, work)
}

/// `work` over `0..n` split into runs of equal length, about `per_thread` for each of up to
/// `threads` threads, taken in turn (the calling thread alone for one thread), the results in
/// run order. A panic in a run is resumed here.
fn runs_taken_in_turn<T: Send>(
    n: usize,
    threads: usize,
    per_thread: usize,
    work: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    let threads = threads.clamp(1, n.max(1));
    if threads == 1 {
        return vec![work(0..n)];
    }
    let per = n.div_ceil(threads * per_thread.max(1)).max(1);
    let runs = n.div_ceil(per);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let take = || {
        let mut done = Vec::new();
        loop {
            let run = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if run >= runs {
                return done;
            }
            done.push((run, work(run * per..((run + 1) * per).min(n))));
        }
    };
    let take = &take;
    let mut done: Vec<(usize, T)> = std::thread::scope(|s| {
        let handles: Vec<_> = (1..threads).map(|_| s.spawn(take)).collect();
        let mut done = take();
        for h in handles {
            done.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        done
    });
    done.sort_unstable_by_key(|&(run, _)| run);
    done.into_iter().map(|(_, t)| t).collect()
}

/// A band index entry: 16 or 32 bits.
trait Entry: Copy {
    fn at(self) -> usize;
}

impl Entry for u16 {
    #[inline]
    fn at(self) -> usize {
        usize::from(self)
    }
}

impl Entry for u32 {
    #[inline]
    fn at(self) -> usize {
        self as usize
    }
}

/// The crossing-number test over the edges of one band of a part (`blob` starts at the part's
/// band index, `coords` are the part's vertices).
#[inline]
fn scan_band<T: Entry>(blob: &[T], coords: &[[f64; 2]], band: usize, x: f64, y: f64) -> Position {
    let (s, e) = (blob[band].at(), blob[band + 1].at());
    let mut inside = false;
    for &ei in &blob[s..e] {
        let [ax, ay] = coords[ei.at()];
        let [bx, by] = coords[ei.at() + 1];
        let a_above = ay > y;
        let b_above = by > y;
        if a_above != b_above {
            // The edge crosses the horizontal line through the point (half-open in y, so a
            // vertex on the line is counted once). Cheap cases first.
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
            // Upward edge with the point on its left, or downward edge with the point on its
            // right: the edge passes east of the point, so the eastward ray crosses it.
            if (o > 0.0) == b_above {
                inside = !inside;
            }
        } else if (ay == y || by == y) && on_segment(ax, ay, bx, by, x, y) {
            // Both ends on one side: the point can only be on the edge at an end's latitude (a
            // vertex, or along a horizontal edge).
            return Position::OnBoundary;
        }
    }
    if inside {
        Position::Inside
    } else {
        Position::Outside
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

/// An index being built: the items' parts, vertices and band indexes so far.
#[derive(Default)]
struct Builder {
    coords: Vec<[f64; 2]>,
    parts: Vec<Part>,
    blob16: Vec<u16>,
    blob32: Vec<u32>,
    n_items: usize,
    bbox: Option<[f64; 4]>,
    /// Scratch: edges (first vertex, band range) of the current part.
    edges: Vec<(u32, u32, u32)>,
    counts: Vec<u32>,
}

impl Builder {
    /// Adds item number `item`.
    fn push(&mut self, item: usize, mp: &MultiPolygon<f64>) {
        self.n_items = self.n_items.max(item + 1);
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
            let coord_start = to_u32(self.coords.len());
            let (mut min, mut max) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
            self.edges.clear();
            for ring in rings {
                if ring.0.is_empty() {
                    continue;
                }
                let ring_start = self.coords.len();
                for c in &ring.0 {
                    self.coords.push([c.x, c.y]);
                    min = [min[0].min(c.x), min[1].min(c.y)];
                    max = [max[0].max(c.x), max[1].max(c.y)];
                }
                if ring.0.first() != ring.0.last() {
                    self.coords.push(self.coords[ring_start]);
                }
                for e in ring_start..self.coords.len() - 1 {
                    self.edges.push((to_u32(e), 0, 0));
                }
            }
            let n_edges = self.edges.len().max(1);
            let height = max[1] - min[1];
            let nbands = if height > 0.0 {
                (n_edges / EDGES_PER_BAND).max(1)
            } else {
                1
            };
            let mut part = Part {
                item,
                y0: min[1],
                max_y: max[1],
                min_x: min[0],
                max_x: max[0],
                inv_h: if height > 0.0 {
                    nbands as f64 / height
                } else {
                    0.0
                },
                blob_start: 0,
                wide: false,
                nbands: to_u32(nbands),
                coord_start,
                coord_end: to_u32(self.coords.len()),
            };
            if !part.inv_h.is_finite() {
                // A part a few ulps tall with many edges: one band is as good as any.
                part.inv_h = 0.0;
                part.nbands = 1;
            }
            // Counting sort of the edges into bands: count, prefix-sum, fill.
            self.counts.clear();
            self.counts.resize(part.nbands as usize + 1, 0);
            for e in self.edges.iter_mut() {
                let [_, ay] = self.coords[e.0 as usize];
                let [_, by] = self.coords[e.0 as usize + 1];
                let (b0, b1) = (part.band(ay.min(by)), part.band(ay.max(by)));
                *e = (e.0, to_u32(b0), to_u32(b1));
                for c in &mut self.counts[b0..=b1] {
                    *c += 1;
                }
            }
            // Offsets are relative to the part's blob start; edges relative to its first vertex.
            let header = part.nbands as usize + 1;
            let mut acc = header;
            for c in self.counts.iter_mut() {
                let n = *c as usize;
                *c = to_u32(acc);
                acc += n;
            }
            let vertices = self.coords.len() - coord_start as usize;
            part.wide = acc > usize::from(u16::MAX) || vertices > usize::from(u16::MAX);
            let mut local = vec![0u32; acc];
            local[..header].copy_from_slice(&self.counts);
            let mut cursor = std::mem::take(&mut self.counts);
            for &(e, b0, b1) in &self.edges {
                for b in b0..=b1 {
                    local[cursor[b as usize] as usize] = e - coord_start;
                    cursor[b as usize] += 1;
                }
            }
            self.counts = cursor;
            if part.wide {
                part.blob_start = to_u32(self.blob32.len());
                self.blob32.extend_from_slice(&local);
            } else {
                part.blob_start = to_u32(self.blob16.len());
                // Every value is at most `acc` or `vertices`, both checked to fit.
                self.blob16.extend(local.iter().map(|&v| v as u16));
            }
            self.widen(Some([min[0], min[1], max[0], max[1]]));
            self.parts.push(part);
        }
    }

    /// Adds the items `other` holds after those this one holds: its parts' vertices and band
    /// indexes move by what is here already (edges inside a band index count from their part's
    /// first vertex, so they stay as they are).
    fn append(&mut self, other: Builder) {
        let (coords, blob16, blob32) = (self.coords.len(), self.blob16.len(), self.blob32.len());
        // Sums past u32 panic as a sequential build does (see `PolygonIndex::new`).
        let moved = |at: u32, by: usize| to_u32(at as usize + by);
        self.parts.extend(other.parts.into_iter().map(|mut p| {
            p.coord_start = moved(p.coord_start, coords);
            p.coord_end = moved(p.coord_end, coords);
            p.blob_start = moved(p.blob_start, if p.wide { blob32 } else { blob16 });
            p
        }));
        self.coords.extend_from_slice(&other.coords);
        self.blob16.extend_from_slice(&other.blob16);
        self.blob32.extend_from_slice(&other.blob32);
        self.n_items = self.n_items.max(other.n_items);
        self.widen(other.bbox);
    }

    /// Widens the box of everything added to take in `bbox`.
    fn widen(&mut self, bbox: Option<[f64; 4]>) {
        self.bbox = match (self.bbox, bbox) {
            (Some(a), Some(b)) => Some([
                a[0].min(b[0]),
                a[1].min(b[1]),
                a[2].max(b[2]),
                a[3].max(b[3]),
            ]),
            (a, b) => a.or(b),
        };
    }

    /// The index of the items added, its grid filed on `threads` threads.
    fn finish(mut self, threads: usize) -> PolygonIndex {
        self.coords.shrink_to_fit();
        self.blob16.shrink_to_fit();
        self.blob32.shrink_to_fit();
        self.parts.shrink_to_fit();
        let mut index = PolygonIndex {
            coords: self.coords,
            parts: self.parts,
            blob16: self.blob16,
            blob32: self.blob32,
            tree: std::sync::OnceLock::new(),
            grid: Grid::default(),
            items: self.n_items,
            bbox: self.bbox,
        };
        index.in_curve_order();
        index.grid = index.build_grid(threads);
        // A built index is a server's: its first box query should not pay for the tree.
        index.tree();
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_runs_cover_every_position_once_and_come_back_in_order() {
        for n in [0, 1, 5, 31, 32, 33, 1000, 4097] {
            for threads in [0, 1, 2, 3, 8] {
                let shared = in_shared_runs(n, threads, |r| r.collect::<Vec<usize>>());
                let fixed = in_runs(n, threads, |r| r.collect::<Vec<usize>>());
                assert!(fixed.len() <= threads.max(1), "n {n}, threads {threads}");
                for runs in [shared, fixed] {
                    let flat: Vec<usize> = runs.concat();
                    assert_eq!(flat, (0..n).collect::<Vec<_>>(), "n {n}, threads {threads}");
                    assert!(runs.iter().all(|r| !r.is_empty()) || n == 0, "n {n}");
                }
            }
        }
    }
}
