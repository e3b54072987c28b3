//! The polygon index as bytes, so a one-shot command over a large data set can read the index
//! back instead of building it again: on zones-100k (100,000 zones, 3.7 M vertices) a build
//! takes a quarter of a second on two cores, reading it back about a tenth of a second.
//!
//! The form is the index's own flat arrays, little-endian, after a header of counts. Reading
//! checks every number a query will use as an index (part ranges, band offsets, edge numbers,
//! grid entries) against the arrays it points into, so bytes that do not hold together are
//! refused (`None`) and no bytes can make a query panic. A changed coordinate still reads as an
//! index, of other geometry: callers keep the bytes with a checksum (the load cache's side
//! files) and the key of the geometry they were made from ([`geometry_key`]); this module only
//! maps bytes to an index and back.

use std::io::{Read, Write};

use geo::MultiPolygon;
use xxhash_rust::xxh3::Xxh3;

use super::{Grid, INSIDE_BIT, Part, PolygonIndex, in_runs};

/// The first bytes of the stored form and its version: bump it when the layout changes.
const FORMAT: &[u8; 8] = b"ZTPIDX01";

/// Items hashed on one thread by [`geometry_key`]: a fixed split, so the key does not depend
/// on the number of cores.
const KEY_RUN: usize = 4096;

/// A 128-bit hash of the geometry of `items`, in order: their number, each item's polygons,
/// each polygon's rings and every coordinate's bits. An index stored with this key answers for
/// exactly these items ([`PolygonIndex::from_items`] of them), whatever the data set around
/// them. Hashed on up to `threads` threads.
///
/// ```
/// use geo::{MultiPolygon, polygon};
/// let a = MultiPolygon(vec![polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 0.0, y: 1.0)]]);
/// let b = MultiPolygon(vec![polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 0.0, y: 2.0)]]);
/// let key = |items: &[&MultiPolygon<f64>]| zone_index::geometry_key(items, 2);
/// assert_eq!(key(&[&a, &b]), key(&[&a, &b]));
/// assert_ne!(key(&[&a, &b]), key(&[&b, &a]));
/// assert_ne!(key(&[&a]), key(&[&a, &a]));
/// ```
pub fn geometry_key(items: &[&MultiPolygon<f64>], threads: usize) -> u128 {
    let runs = items.len().div_ceil(KEY_RUN);
    let hash_run = |run: usize| {
        let mut h = Xxh3::new();
        // Coordinates go through a buffer: one `update` per coordinate costs more than the hash.
        let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
        let end = ((run + 1) * KEY_RUN).min(items.len());
        for mp in &items[run * KEY_RUN..end] {
            buf.extend_from_slice(&(mp.0.len() as u64).to_le_bytes());
            for poly in &mp.0 {
                buf.extend_from_slice(&(poly.interiors().len() as u64 + 1).to_le_bytes());
                for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                    buf.extend_from_slice(&(ring.0.len() as u64).to_le_bytes());
                    for c in &ring.0 {
                        buf.extend_from_slice(&c.x.to_bits().to_le_bytes());
                        buf.extend_from_slice(&c.y.to_bits().to_le_bytes());
                        if buf.len() >= 60 * 1024 {
                            h.update(&buf);
                            buf.clear();
                        }
                    }
                }
            }
        }
        h.update(&buf);
        h.digest128()
    };
    let hashes = in_runs(runs, threads, |range| {
        range.map(hash_run).collect::<Vec<u128>>()
    });
    let mut h = Xxh3::new();
    h.update(FORMAT);
    h.update(&(items.len() as u64).to_le_bytes());
    for run in hashes.iter().flatten() {
        h.update(&run.to_le_bytes());
    }
    h.digest128()
}

impl PolygonIndex {
    /// The index in its stored form, read back by [`PolygonIndex::from_bytes`].
    ///
    /// ```
    /// use geo::{MultiPolygon, polygon};
    /// use zone_index::PolygonIndex;
    /// let sq = polygon![(x: 0.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 2.0), (x: 0.0, y: 2.0)];
    /// let index = PolygonIndex::new(vec![MultiPolygon(vec![sq])]);
    /// let back = PolygonIndex::from_bytes(&index.to_bytes()).unwrap();
    /// assert_eq!(back.covering(1.0, 1.0), vec![(0, false)]);
    /// assert_eq!(back.items_meeting_box([1.5, 1.5, 3.0, 3.0]), vec![0]);
    /// assert!(PolygonIndex::from_bytes(b"not an index").is_none());
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Vec::with_capacity(self.heap_bytes() + 1024);
        self.write_to(&mut w)
            .unwrap_or_else(|_| unreachable!("writing to a Vec cannot fail"));
        w
    }

    /// The index whose stored form ([`PolygonIndex::to_bytes`]) `bytes` is; `None` when it is
    /// not one, or one whose numbers do not hold together (cut short, damaged, of another
    /// version). An index read back answers exactly as the one stored.
    pub fn from_bytes(bytes: &[u8]) -> Option<PolygonIndex> {
        PolygonIndex::read_from(&mut &bytes[..], bytes.len() as u64)
    }

    /// Writes the stored form to `out`, a block at a time.
    pub fn write_to(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut w: Vec<u8> = Vec::with_capacity(BLOCK + 64);
        w.extend_from_slice(FORMAT);
        let word = |w: &mut Vec<u8>, n: usize| w.extend_from_slice(&(n as u64).to_le_bytes());
        let float = |w: &mut Vec<u8>, f: f64| w.extend_from_slice(&f.to_le_bytes());
        word(&mut w, self.items);
        // The flag, then four floats either way: the header has one length.
        w.push(u8::from(self.bbox.is_some()));
        for f in self.bbox.unwrap_or_default() {
            float(&mut w, f);
        }
        let g = &self.grid;
        for f in [g.x0, g.y0, g.sx, g.sy] {
            float(&mut w, f);
        }
        for n in [
            g.nx,
            g.ny,
            self.coords.len(),
            self.parts.len(),
            self.blob16.len(),
            self.blob32.len(),
            g.offsets.len(),
            g.entries.len(),
        ] {
            word(&mut w, n);
        }
        let mut flush = |w: &mut Vec<u8>, force: bool| -> std::io::Result<()> {
            if force || w.len() >= BLOCK {
                out.write_all(w)?;
                w.clear();
            }
            Ok(())
        };
        for [x, y] in self.coords.iter() {
            float(&mut w, *x);
            float(&mut w, *y);
            flush(&mut w, false)?;
        }
        for p in &self.parts {
            w.extend_from_slice(&p.item.to_le_bytes());
            for f in [p.y0, p.max_y, p.min_x, p.max_x, p.inv_h] {
                float(&mut w, f);
            }
            for n in [p.blob_start, p.nbands, p.coord_start, p.coord_end] {
                w.extend_from_slice(&n.to_le_bytes());
            }
            w.push(u8::from(p.wide));
            flush(&mut w, false)?;
        }
        for v in self.blob16.iter() {
            w.extend_from_slice(&v.to_le_bytes());
            flush(&mut w, false)?;
        }
        for list in [&self.blob32, &g.offsets, &g.entries] {
            for v in list.iter() {
                w.extend_from_slice(&v.to_le_bytes());
                flush(&mut w, false)?;
            }
        }
        flush(&mut w, true)
    }

    /// Reads the stored form ([`PolygonIndex::write_to`]) of `len` bytes from `input`, a block
    /// at a time into the index's own arrays (no copy of the whole file is held). `None` as for
    /// [`PolygonIndex::from_bytes`], and when `input` fails or holds more or fewer than `len`
    /// bytes.
    pub fn read_from(input: &mut dyn Read, len: u64) -> Option<PolygonIndex> {
        let mut head = [0u8; HEAD_BYTES];
        input.read_exact(&mut head).ok()?;
        let mut r = Reader {
            bytes: &head,
            at: 0,
        };
        if r.take(FORMAT.len())? != FORMAT {
            return None;
        }
        let items = r.word()?;
        let flag = r.take(1)?[0];
        let corners = [r.float()?, r.float()?, r.float()?, r.float()?];
        let bbox = match flag {
            0 => None,
            1 => Some(corners),
            _ => return None,
        };
        let (x0, y0, sx, sy) = (r.float()?, r.float()?, r.float()?, r.float()?);
        let [
            nx,
            ny,
            n_coords,
            n_parts,
            n_blob16,
            n_blob32,
            n_offsets,
            n_entries,
        ] = [(); 8].map(|()| r.word());
        let counts = [
            n_coords?, n_parts?, n_blob16?, n_blob32?, n_offsets?, n_entries?,
        ];
        // The arrays must add up to the length given before anything is allocated for them.
        let sizes = [16, PART_BYTES, 2, 4, 4, 4];
        let body = counts
            .iter()
            .zip(sizes)
            .try_fold(0usize, |acc, (&n, size)| {
                acc.checked_add(n.checked_mul(size)?)
            })?;
        if (HEAD_BYTES as u64).checked_add(body as u64) != Some(len) {
            return None;
        }
        let [n_coords, n_parts, n_blob16, n_blob32, n_offsets, n_entries] = counts;
        let mut buf = vec![0u8; BLOCK];
        let coords = read_array(input, &mut buf, n_coords, 16, |c| {
            [f64_at(c, 0), f64_at(c, 8)]
        })?;
        let parts = read_array(input, &mut buf, n_parts, PART_BYTES, |p| Part {
            item: u32_at(p, 0),
            y0: f64_at(p, 4),
            max_y: f64_at(p, 12),
            min_x: f64_at(p, 20),
            max_x: f64_at(p, 28),
            inv_h: f64_at(p, 36),
            blob_start: u32_at(p, 44),
            nbands: u32_at(p, 48),
            coord_start: u32_at(p, 52),
            coord_end: u32_at(p, 56),
            wide: p[60] != 0,
        })?;
        let blob16 = read_array(input, &mut buf, n_blob16, 2, |c| {
            u16::from_le_bytes([c[0], c[1]])
        })?;
        let blob32 = read_array(input, &mut buf, n_blob32, 4, |c| u32_at(c, 0))?;
        let offsets = read_array(input, &mut buf, n_offsets, 4, |c| u32_at(c, 0))?;
        let entries = read_array(input, &mut buf, n_entries, 4, |c| u32_at(c, 0))?;
        // Nothing may follow, and the input must say so (a checking reader reports a damaged
        // file here, at its end).
        if input.read(&mut buf[..1]).ok()? != 0 {
            return None;
        }
        let index = PolygonIndex {
            coords,
            parts,
            blob16,
            blob32,
            tree: std::sync::OnceLock::new(),
            grid: Grid {
                x0,
                y0,
                sx,
                sy,
                nx: nx?,
                ny: ny?,
                offsets,
                entries,
            },
            items,
            bbox,
        };
        index.holds_together().then_some(index)
    }

    /// Whether every number a query uses to index an array is within it (see the module
    /// documentation): what makes an index read from bytes safe to query.
    fn holds_together(&self) -> bool {
        // The grid and each half of the parts are checked on threads of their own: on one
        // thread, these checks were a quarter of reading the index of zones-100k back.
        let half = self.parts.len() / 2;
        let (parts_ok, grid_ok) = std::thread::scope(|s| {
            let grid = s.spawn(|| self.grid_holds_together());
            let later = s.spawn(|| self.parts_hold_together(&self.parts[half..]));
            let parts_ok = self.parts_hold_together(&self.parts[..half]);
            let later_ok = later.join().unwrap_or(false);
            (parts_ok && later_ok, grid.join().unwrap_or(false))
        });
        parts_ok && grid_ok && self.items < INSIDE_BIT as usize
    }

    /// Whether every one of `parts` has its vertex range and band index within the arrays.
    fn parts_hold_together(&self, parts: &[Part]) -> bool {
        parts.iter().all(|p| {
            let (start, end) = (p.coord_start as usize, p.coord_end as usize);
            if (p.item as usize) >= self.items
                || p.item >= INSIDE_BIT
                || start >= end
                || end > self.coords.len()
                || p.nbands == 0
            {
                return false;
            }
            let vertices = end - start;
            if p.wide {
                band_index_ok(&self.blob32, p, vertices)
            } else {
                band_index_ok(&self.blob16, p, vertices)
            }
        })
    }

    /// Whether the grid's offsets and entries are within the arrays.
    fn grid_holds_together(&self) -> bool {
        let g = &self.grid;
        if g.offsets.is_empty() {
            g.entries.is_empty()
        } else {
            g.nx >= 1
                && g.ny >= 1
                && g.nx.checked_mul(g.ny).and_then(|n| n.checked_add(1)) == Some(g.offsets.len())
                && g.offsets[0] == 0
                && g.offsets.windows(2).all(|w| w[0] <= w[1])
                && g.offsets.last().map(|&l| l as usize) == Some(g.entries.len())
                && g.entries.iter().all(|&e| {
                    if e & INSIDE_BIT != 0 {
                        ((e & !INSIDE_BIT) as usize) < self.items
                    } else {
                        (e as usize) < self.parts.len()
                    }
                })
        }
    }
}

/// Bytes a part takes in the stored form: the item, five floats, four numbers and `wide`.
const PART_BYTES: usize = 4 + 5 * 8 + 4 * 4 + 1;

/// Bytes of the stored form before the arrays: the format, the item count, the box (a flag and
/// four floats), the grid's four floats and eight counts.
const HEAD_BYTES: usize = 8 + 8 + 1 + 32 + 32 + 64;

/// Bytes written or read at once.
const BLOCK: usize = 1 << 20;

/// `n` values of `size` bytes each read from `input` through `buf` and decoded by `decode`.
fn read_array<T>(
    input: &mut dyn Read,
    buf: &mut [u8],
    n: usize,
    size: usize,
    decode: impl Fn(&[u8]) -> T,
) -> Option<Vec<T>> {
    let mut out = Vec::with_capacity(n);
    let per_block = buf.len() / size;
    let mut left = n;
    while left > 0 {
        let take = left.min(per_block);
        let block = &mut buf[..take * size];
        input.read_exact(block).ok()?;
        out.extend(block.chunks_exact(size).map(&decode));
        left -= take;
    }
    Some(out)
}

fn f64_at(b: &[u8], at: usize) -> f64 {
    f64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default())
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or_default())
}

/// Whether a part's band index in `blob` is whole: `nbands + 1` ascending offsets, the last
/// within the blob, and every edge's first vertex followed by another of the part.
fn band_index_ok<T: Copy + Into<u32>>(blob: &[T], p: &Part, vertices: usize) -> bool {
    let start = p.blob_start as usize;
    let header = p.nbands as usize + 1;
    let Some(offsets) = blob.get(start..start.saturating_add(header)) else {
        return false;
    };
    let at = |i: usize| offsets[i].into() as usize;
    let (first, last) = (at(0), at(header - 1));
    if first < header || offsets.windows(2).any(|w| w[0].into() > w[1].into()) {
        return false;
    }
    let Some(edges) = blob.get(start + first..start.saturating_add(last)) else {
        return false;
    };
    edges.iter().all(|&e| (e.into() as usize) + 1 < vertices)
}

/// Reads the stored form front to back.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    fn word(&mut self) -> Option<usize> {
        usize::try_from(u64::from_le_bytes(self.take(8)?.try_into().ok()?)).ok()
    }

    fn float(&mut self) -> Option<f64> {
        Some(f64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic;

    /// A few thousand seeded stars, and every other kind of part: one with a hole, an item of
    /// two parts, an empty item and a circle of 70,000 vertices (its band index 32-bit).
    fn index() -> (Vec<MultiPolygon<f64>>, PolygonIndex) {
        let mut zones = synthetic::clustered_stars(3000, synthetic::SYRIA_BOX, 7);
        let mut s = 11;
        let outer = synthetic::star_polygon(&mut s, (38.0, 35.0), 0.5, 40);
        let hole = synthetic::star_polygon(&mut s, (38.0, 35.0), 0.1, 12);
        zones.push(MultiPolygon(vec![geo::Polygon::new(
            outer.exterior().clone(),
            vec![hole.exterior().clone()],
        )]));
        zones.push(MultiPolygon(vec![
            synthetic::star_polygon(&mut s, (37.0, 34.0), 0.2, 20),
            synthetic::star_polygon(&mut s, (40.0, 36.0), 0.2, 20),
        ]));
        zones.push(MultiPolygon(vec![]));
        let circle = (0..70_000).map(|i| {
            let a = f64::from(i) / 70_000.0 * std::f64::consts::TAU;
            (39.0 + a.cos(), 35.5 + a.sin())
        });
        zones.push(MultiPolygon(vec![geo::Polygon::new(
            circle.collect::<Vec<_>>().into(),
            vec![],
        )]));
        let refs: Vec<&MultiPolygon<f64>> = zones.iter().collect();
        let index = PolygonIndex::from_slice(&refs, 2);
        assert!(index.parts.iter().any(|p| p.wide) && !index.blob32.is_empty());
        (zones, index)
    }

    #[test]
    fn an_index_read_back_answers_as_the_one_stored() {
        let (_, index) = index();
        let bytes = index.to_bytes();
        let back = PolygonIndex::from_bytes(&bytes).expect("its own bytes");
        assert_eq!(back.to_bytes(), bytes);
        assert_eq!(back.len(), index.len());
        assert_eq!(back.bbox(), index.bbox());
        let points = synthetic::uniform_points(20_000, index.bbox().unwrap(), 3);
        assert_eq!(
            back.covering_many(&points, 2),
            index.covering_many(&points, 2)
        );
        let hits = index.covering_many(&points, 2).pairs().count();
        assert!(hits > 1000, "the points must meet zones: {hits}");
        let b = index.bbox().unwrap();
        let mid = [b[0], b[1], (b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0];
        assert_eq!(back.items_meeting_box(mid), index.items_meeting_box(mid));
    }

    #[test]
    fn an_empty_index_and_one_of_empty_items_come_back() {
        for items in [vec![], vec![MultiPolygon(vec![]), MultiPolygon(vec![])]] {
            let index = PolygonIndex::new(items.clone());
            let back = PolygonIndex::from_bytes(&index.to_bytes()).expect("an empty index");
            assert_eq!((back.len(), back.bbox()), (items.len(), None));
            assert!(back.covering(0.0, 0.0).is_empty());
            assert!(back.items_meeting_box([-1.0, -1.0, 1.0, 1.0]).is_empty());
        }
    }

    #[test]
    fn cut_or_damaged_bytes_are_refused_not_trusted() {
        let (_, index) = index();
        let bytes = index.to_bytes();
        for cut in [0, 7, 8, 100, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                PolygonIndex::from_bytes(&bytes[..cut]).is_none(),
                "cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(PolygonIndex::from_bytes(&longer).is_none());
        // Every part's first edge number set past its vertices, one part at a time in turn,
        // and a grid entry pointing past the parts: each is refused.
        let header = HEAD_BYTES;
        let n_coords = index.coords.len();
        let parts_at = header + n_coords * 16;
        for (i, p) in index.parts.iter().enumerate().step_by(97) {
            let mut bad = bytes.clone();
            let at = parts_at + i * PART_BYTES + 56; // coord_end
            bad[at..at + 4].copy_from_slice(&(n_coords as u32 + 1).to_le_bytes());
            assert!(PolygonIndex::from_bytes(&bad).is_none(), "part {i}");
            let mut bad = bytes.clone();
            let at = parts_at + i * PART_BYTES + 48; // nbands
            bad[at..at + 4].copy_from_slice(&(p.nbands + 1_000_000).to_le_bytes());
            assert!(PolygonIndex::from_bytes(&bad).is_none(), "part {i} bands");
        }
        let mut bad = bytes.clone();
        let last = bad.len() - 4;
        bad[last..].copy_from_slice(&(index.parts.len() as u32).to_le_bytes());
        assert!(PolygonIndex::from_bytes(&bad).is_none(), "grid entry");
        let mut bad = bytes;
        bad[0] = b'X';
        assert!(PolygonIndex::from_bytes(&bad).is_none(), "format");
    }

    #[test]
    fn the_geometry_key_follows_every_coordinate_and_not_the_threads() {
        let (zones, _) = index();
        let refs: Vec<&MultiPolygon<f64>> = zones.iter().collect();
        let key = geometry_key(&refs, 1);
        assert_eq!(geometry_key(&refs, 2), key);
        assert_eq!(geometry_key(&refs, 7), key);
        let mut moved = zones.clone();
        let old = moved[2990].0[0].clone();
        let mut ring = old.exterior().0.clone();
        ring[3].x = f64::from_bits(ring[3].x.to_bits() + 1);
        moved[2990].0[0] = geo::Polygon::new(geo::LineString(ring), old.interiors().to_vec());
        let refs: Vec<&MultiPolygon<f64>> = moved.iter().collect();
        assert_ne!(geometry_key(&refs, 2), key);
        assert_ne!(geometry_key(&refs[..3003], 2), key);
    }
}
