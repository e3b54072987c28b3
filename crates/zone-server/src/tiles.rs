//! `GET /tiles/{collection}/{z}/{x}/{y}.mvt`: a layer as Mapbox Vector Tiles (MVT 2.1), for the
//! map when a layer is too big to draw as GeoJSON (see [`TILE_ABOVE_FEATURES`]).
//!
//! A tile holds the features whose envelope meets it (found through the layer's R-tree, never
//! a scan), valid on the date asked for, as the data stood at `as_of`: each projected to Web
//! Mercator tile units (1024 a side: a quarter of a pixel of a 256-pixel tile), clipped to the
//! tile plus a margin, and simplified to what a screen pixel can show. A feature smaller than a
//! pixel becomes a speck, a point at the pixel's centre that the map fills as that pixel: one per
//! pixel, kind and colour (a thousand specks on one pixel draw as one), and all the specks of one
//! kind and colour in a tile are one MultiPoint feature, so dense areas stay visible at small
//! scales without shipping every vertex or a feature per zone. For display only, like `/map`;
//! OGC API items stay exact.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use geo::{Coord, CoordsIter, LineString, MultiLineString, MultiPoint, MultiPolygon, Polygon};
use geodata::Period;
use geozero::ToMvt as _;
use geozero::mvt::{Message as _, TagsBuilder, Tile, TileValue, tile};
use zone_index::{Bbox, Selection};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::params::{self, Params};
use crate::snapshot::Layer;

/// Tile units a side: a quarter of a pixel of a 256-pixel tile (MVT's usual 4096 would spend
/// bytes on sixteenths of a pixel).
pub const EXTENT: u32 = 1024;
/// One screen pixel in tile units, as the map draws a tile: 256 pixels a side.
const PIXEL: f64 = EXTENT as f64 / 256.0;
/// Margin kept round a tile, in tile units (4 pixels), so strokes at the tile's edge join up.
pub const BUFFER: f64 = 4.0 * PIXEL;
/// Douglas-Peucker tolerance: three quarters of a pixel.
const TOLERANCE: f64 = PIXEL * 0.75;
/// Largest zoom served (the map stops at 14 and draws deeper zooms from it).
pub const MAX_ZOOM: u8 = 22;
/// Media type of a tile.
pub const MEDIA_TYPE: &str = "application/vnd.mapbox-vector-tile";
/// The properties a tile carries, when the layer has them: what the map styles by. Everything
/// else, the key included, is a click away (`/query/point`); each feature's id is its `fid`.
pub const PROPERTIES: [&str; 4] = ["kind", "actor", "colour", "confidence"];

/// Above this many features a layer is drawn from tiles (`zonetrack:tiles` says so).
pub const TILE_ABOVE_FEATURES: usize = 5_000;
/// Above this many vertices a layer is drawn from tiles.
pub const TILE_ABOVE_VERTICES: usize = 500_000;

/// A tile address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileId {
    /// Zoom level.
    pub z: u8,
    /// Column, from the antimeridian eastwards.
    pub x: u32,
    /// Row, from the north.
    pub y: u32,
}

impl TileId {
    /// A tile address, checked: `x` and `y` below `2^z`, `z` at most [`MAX_ZOOM`].
    pub fn new(z: u8, x: u32, y: u32) -> Result<TileId, String> {
        if z > MAX_ZOOM {
            return Err(format!("zoom {z} is over the largest served, {MAX_ZOOM}"));
        }
        let n = 1u64 << z;
        if u64::from(x) >= n || u64::from(y) >= n {
            return Err(format!(
                "tile {z}/{x}/{y} does not exist: at zoom {z}, x and y run from 0 to {}",
                n - 1
            ));
        }
        Ok(TileId { z, x, y })
    }

    /// Tile units of a lon/lat (may lie outside `0..EXTENT`).
    fn project(&self, c: Coord<f64>) -> Coord<f64> {
        let n = f64::from(1u32 << self.z.min(31));
        let lat = c.y.clamp(-85.051_128_78, 85.051_128_78).to_radians();
        let wx = (c.x + 180.0) / 360.0 * n;
        let wy = (1.0 - lat.tan().asinh() / std::f64::consts::PI) / 2.0 * n;
        Coord {
            x: (wx - f64::from(self.x)) * f64::from(EXTENT),
            y: (wy - f64::from(self.y)) * f64::from(EXTENT),
        }
    }

    /// The lon/lat box of the tile and `margin` tile units round it (clamped to the world).
    fn lonlat_box(&self, margin: f64) -> [f64; 4] {
        let n = f64::from(1u32 << self.z.min(31));
        let m = margin / f64::from(EXTENT);
        let lon = |wx: f64| (wx / n * 360.0 - 180.0).clamp(-180.0, 180.0);
        let lat = |wy: f64| {
            let t = std::f64::consts::PI * (1.0 - 2.0 * wy / n);
            t.sinh().atan().to_degrees().clamp(-90.0, 90.0)
        };
        let (x, y) = (f64::from(self.x), f64::from(self.y));
        // Beyond Web Mercator's reach (85.05°), the tiles at the poles reach the pole.
        let north = if self.y == 0 { 90.0 } else { lat(y - m) };
        let south = if u64::from(self.y) + 1 == 1u64 << self.z {
            -90.0
        } else {
            lat(y + 1.0 + m)
        };
        [lon(x - m), south, lon(x + 1.0 + m), north]
    }
}

/// What a tile took: features written and vertices in them (for benches and tests).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TileStats {
    /// Features whose envelope met the tile and that the date kept.
    pub candidates: usize,
    /// Features written (the specks of one kind and colour are one feature).
    pub features: usize,
    /// Vertices written.
    pub vertices: usize,
}

/// The features of tile `id` of `layer` that `when` keeps, as drawn: (feature index, geometry in
/// tile units, clipped and simplified). The specks of one kind and colour come first, as one
/// MultiPoint (under the index of the first feature they stand for), one point per pixel.
/// [`render`] encodes them as MVT; the tiles bench also encodes them as GeoJSON, to compare.
pub fn tile_features(
    layer: &Layer,
    id: TileId,
    when: Option<&dyn Fn(&Period) -> bool>,
) -> (Vec<(usize, geo::Geometry<f64>)>, TileStats) {
    let [w, s, e, n] = id.lonlat_box(BUFFER);
    let mut stats = TileStats::default();
    let Ok(bbox) = Bbox::new(w, s, e, n) else {
        return (Vec::new(), stats);
    };
    let picked = layer.index.select(
        &layer.features,
        &Selection {
            bbox: Some(bbox),
            exact: false,
            when,
            ..Default::default()
        },
    );
    stats.candidates = picked.len();
    let mut out = Vec::new();
    // Specks by look (the first feature, the points), and the pixels each look has.
    let mut specks: Vec<(usize, Vec<geo::Point<f64>>)> = Vec::new();
    let mut look: HashMap<u64, usize> = HashMap::new();
    let mut taken: HashSet<(i32, i32, usize)> = HashSet::new();
    let lo = -BUFFER;
    let hi = f64::from(EXTENT) + BUFFER;
    for i in picked {
        let f = &layer.features[i];
        let Some(shape) = tile_geometry(&id, f, lo, hi) else {
            continue;
        };
        let geometry = match shape {
            Shape::Geometry(g) => g,
            Shape::Speck(c) => {
                let cell = ((c.x / PIXEL).floor() as i32, (c.y / PIXEL).floor() as i32);
                let n = *look.entry(style_hash(f)).or_insert_with(|| {
                    specks.push((i, Vec::new()));
                    specks.len() - 1
                });
                if taken.insert((cell.0, cell.1, n)) {
                    specks[n].1.push(speck(cell));
                }
                continue;
            }
        };
        stats.vertices += geometry.coords_count();
        out.push((i, geometry));
    }
    let merged: Vec<(usize, geo::Geometry<f64>)> = specks
        .into_iter()
        .map(|(i, points)| {
            stats.vertices += points.len();
            (i, geo::Geometry::MultiPoint(MultiPoint(points)))
        })
        .collect();
    let out: Vec<_> = merged.into_iter().chain(out).collect();
    stats.features = out.len();
    (out, stats)
}

/// The MVT tile `id` of `layer` (one MVT layer named after it), with the features `when` keeps.
/// Empty bytes for a tile with nothing in it.
pub fn render(
    layer: &Layer,
    id: TileId,
    when: Option<&dyn Fn(&Period) -> bool>,
) -> (Vec<u8>, TileStats) {
    let (shapes, stats) = tile_features(layer, id, when);
    if shapes.is_empty() {
        return (Vec::new(), stats);
    }
    let mut tags = TagsBuilder::new();
    let mut features = Vec::with_capacity(shapes.len());
    for (i, geometry) in shapes {
        let f = &layer.features[i];
        let Ok(mut feature) = geometry.to_mvt_unscaled() else {
            continue;
        };
        // Merged specks stand for many features: no one id.
        if !matches!(geometry, geo::Geometry::MultiPoint(_)) || layer.geometry_type == "Point" {
            feature.id = Some(u64::from(f.fid));
        }
        for name in PROPERTIES {
            let value = match f.properties.get(name) {
                Some(serde_json::Value::String(s)) => TileValue::Str(s.clone()),
                Some(serde_json::Value::Number(x)) => match x.as_i64() {
                    Some(i) => TileValue::Sint(i),
                    None => TileValue::Double(x.as_f64().unwrap_or(0.0)),
                },
                Some(serde_json::Value::Bool(b)) => TileValue::Bool(*b),
                _ => continue,
            };
            let (k, v) = tags.insert_ref(name, value);
            feature.tags.extend([k, v]);
        }
        features.push(feature);
    }
    let (keys, values) = tags.into_tags();
    let tile = Tile {
        layers: vec![tile::Layer {
            version: 2,
            name: layer.name.clone(),
            features,
            keys,
            values: values.into_iter().map(Into::into).collect(),
            extent: Some(EXTENT),
        }],
    };
    (tile.encode_to_vec(), stats)
}

/// A hash of what a speck is drawn by (kind, colour): specks of different looks on one pixel
/// are kept apart.
fn style_hash(f: &geodata::ExportFeature) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    for name in ["kind", "colour"] {
        f.properties.get(name).and_then(|v| v.as_str()).hash(&mut h);
    }
    h.finish()
}

/// A speck: a point at the centre of a pixel cell, which the map fills as that pixel.
fn speck(cell: (i32, i32)) -> geo::Point<f64> {
    geo::Point::new(
        f64::from(cell.0) * PIXEL + PIXEL / 2.0,
        f64::from(cell.1) * PIXEL + PIXEL / 2.0,
    )
}

enum Shape {
    Geometry(geo::Geometry<f64>),
    /// Smaller than a pixel: a speck at this point (tile units).
    Speck(Coord<f64>),
}

/// A feature in tile units, clipped to `lo..hi` both ways and simplified; `None` when nothing
/// of it is left in the tile.
fn tile_geometry(id: &TileId, f: &geodata::ExportFeature, lo: f64, hi: f64) -> Option<Shape> {
    // The envelope alone says whether the feature is a speck: most features are, at small
    // scales, and are never read vertex by vertex.
    if let Some(b) = f.bbox {
        let (a, c) = (id.project(b.min()), id.project(b.max()));
        let (x0, x1) = (a.x.min(c.x), a.x.max(c.x));
        let (y0, y1) = (a.y.min(c.y), a.y.max(c.y));
        if x1 < lo || x0 > hi || y1 < lo || y0 > hi {
            return None;
        }
        let small = x1 - x0 < PIXEL && y1 - y0 < PIXEL;
        if small && !matches!(*f.geometry, geo::Geometry::Point(_)) {
            let centre = Coord {
                x: (x0 + x1) / 2.0,
                y: (y0 + y1) / 2.0,
            };
            let inside = (lo..=hi).contains(&centre.x) && (lo..=hi).contains(&centre.y);
            return inside.then_some(Shape::Speck(centre));
        }
    }
    // The tile and the square of it kept, in the form the clipping functions take.
    let w = (id, lo, hi);
    let g = match &*f.geometry {
        geo::Geometry::MultiPolygon(mp) => polygons(w, mp.0.iter()),
        geo::Geometry::Polygon(p) => polygons(w, std::iter::once(p)),
        geo::Geometry::MultiLineString(ml) => lines(w, ml.0.iter()),
        geo::Geometry::LineString(l) => lines(w, std::iter::once(l)),
        geo::Geometry::Point(p) => points(w, std::iter::once(p)),
        geo::Geometry::MultiPoint(mp) => points(w, mp.0.iter()),
        _ => None,
    };
    match g {
        Some(g) => Some(Shape::Geometry(g)),
        // A polygon whose every ring was thinner than a pixel: keep it as a speck.
        None if matches!(
            *f.geometry,
            geo::Geometry::MultiPolygon(_) | geo::Geometry::Polygon(_)
        ) =>
        {
            let b = f.bbox?;
            let c = id.project(b.center());
            ((lo..=hi).contains(&c.x) && (lo..=hi).contains(&c.y)).then_some(Shape::Speck(c))
        }
        None => None,
    }
}

/// Projects a ring or line to tile units, rounded to whole units, repeated points dropped.
fn project_line(id: &TileId, line: &LineString<f64>) -> Vec<Coord<f64>> {
    let mut out: Vec<Coord<f64>> = Vec::with_capacity(line.0.len());
    for c in &line.0 {
        let p = id.project(*c);
        let p = Coord {
            x: p.x.round(),
            y: p.y.round(),
        };
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    out
}

/// Twice the signed area of a closed ring in tile units: positive when clockwise on screen (y
/// down), which MVT requires of an exterior ring.
fn twice_area(ring: &[Coord<f64>]) -> f64 {
    ring.windows(2)
        .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
        .sum()
}

/// Clips a closed ring to the square `lo..hi` (Sutherland-Hodgman: a ring crossing the square
/// in several places keeps zero-width seams along its edge, which lie in the margin, out of
/// view). The result is closed, or empty.
fn clip_ring(ring: Vec<Coord<f64>>, lo: f64, hi: f64) -> Vec<Coord<f64>> {
    let inside_all = ring
        .iter()
        .all(|c| (lo..=hi).contains(&c.x) && (lo..=hi).contains(&c.y));
    if inside_all {
        return ring;
    }
    // Each edge of the square: (axis: 0 = x, 1 = y, bound, keep values >= bound?)
    let mut pts = ring;
    pts.pop(); // open it
    for (axis, bound, above) in [(0, lo, true), (0, hi, false), (1, lo, true), (1, hi, false)] {
        if pts.is_empty() {
            break;
        }
        let val = |c: &Coord<f64>| if axis == 0 { c.x } else { c.y };
        let keep = |c: &Coord<f64>| {
            if above {
                val(c) >= bound
            } else {
                val(c) <= bound
            }
        };
        let cross = |a: &Coord<f64>, b: &Coord<f64>| {
            let t = (bound - val(a)) / (val(b) - val(a));
            let p = Coord {
                x: a.x + t * (b.x - a.x),
                y: a.y + t * (b.y - a.y),
            };
            Coord {
                x: p.x.round(),
                y: p.y.round(),
            }
        };
        let mut out = Vec::with_capacity(pts.len() + 4);
        for i in 0..pts.len() {
            let cur = pts[i];
            let prev = pts[(i + pts.len() - 1) % pts.len()];
            match (keep(&prev), keep(&cur)) {
                (true, true) => out.push(cur),
                (true, false) => out.push(cross(&prev, &cur)),
                (false, true) => {
                    out.push(cross(&prev, &cur));
                    out.push(cur);
                }
                (false, false) => {}
            }
        }
        pts = out;
    }
    pts.dedup();
    if pts.len() < 3 {
        return Vec::new();
    }
    let first = pts[0];
    pts.push(first);
    pts
}

/// Douglas-Peucker at [`TOLERANCE`] on a closed ring or an open line.
fn simplify(pts: Vec<Coord<f64>>) -> Vec<Coord<f64>> {
    if pts.len() <= 4 {
        return pts;
    }
    use geo::Simplify as _;
    LineString(pts).simplify(TOLERANCE).0
}

fn polygons<'a>(
    (id, lo, hi): (&TileId, f64, f64),
    polys: impl Iterator<Item = &'a Polygon<f64>>,
) -> Option<geo::Geometry<f64>> {
    // Rings thinner than this (twice the area, in tile units squared) are dropped: a quarter
    // of a pixel.
    let min_area = PIXEL * PIXEL / 2.0;
    let ring = |line: &LineString<f64>, exterior: bool| -> Option<LineString<f64>> {
        let mut pts = simplify(clip_ring(project_line(id, line), lo, hi));
        if pts.len() < 4 {
            return None;
        }
        let a = twice_area(&pts);
        if a.abs() < min_area {
            return None;
        }
        // MVT: exterior rings clockwise on screen (positive area), holes the other way.
        if (a > 0.0) != exterior {
            pts.reverse();
        }
        Some(LineString(pts))
    };
    let out: Vec<Polygon<f64>> = polys
        .filter_map(|p| {
            let exterior = ring(p.exterior(), true)?;
            let holes = p
                .interiors()
                .iter()
                .filter_map(|h| ring(h, false))
                .collect();
            Some(Polygon::new(exterior, holes))
        })
        .collect();
    (!out.is_empty()).then_some(geo::Geometry::MultiPolygon(MultiPolygon(out)))
}

/// Clips an open line to the square `lo..hi`: the pieces inside it.
fn clip_line(pts: &[Coord<f64>], lo: f64, hi: f64) -> Vec<Vec<Coord<f64>>> {
    let inside = |c: &Coord<f64>| (lo..=hi).contains(&c.x) && (lo..=hi).contains(&c.y);
    if pts.iter().all(inside) {
        return vec![pts.to_vec()];
    }
    let mut pieces = Vec::new();
    let mut cur: Vec<Coord<f64>> = Vec::new();
    for w in pts.windows(2) {
        if let Some((a, b)) = clip_segment(w[0], w[1], lo, hi) {
            if cur.last() != Some(&a) {
                if cur.len() >= 2 {
                    pieces.push(std::mem::take(&mut cur));
                }
                cur.clear();
                cur.push(a);
            }
            cur.push(b);
            if b != w[1] {
                pieces.push(std::mem::take(&mut cur));
            }
        }
    }
    if cur.len() >= 2 {
        pieces.push(cur);
    }
    pieces
}

/// Liang-Barsky: the part of segment `a`-`b` in the square `lo..hi`, rounded to whole units.
fn clip_segment(
    a: Coord<f64>,
    b: Coord<f64>,
    lo: f64,
    hi: f64,
) -> Option<(Coord<f64>, Coord<f64>)> {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.x - lo),
        (dx, hi - a.x),
        (-dy, a.y - lo),
        (dy, hi - a.y),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| Coord {
        x: (a.x + t * dx).round(),
        y: (a.y + t * dy).round(),
    };
    Some((
        if t0 > 0.0 { at(t0) } else { a },
        if t1 < 1.0 { at(t1) } else { b },
    ))
}

fn lines<'a>(
    (id, lo, hi): (&TileId, f64, f64),
    lines: impl Iterator<Item = &'a LineString<f64>>,
) -> Option<geo::Geometry<f64>> {
    let out: Vec<LineString<f64>> = lines
        .flat_map(|l| clip_line(&project_line(id, l), lo, hi))
        .map(simplify)
        .filter(|p| p.len() >= 2)
        .map(LineString)
        .collect();
    (!out.is_empty()).then_some(geo::Geometry::MultiLineString(MultiLineString(out)))
}

fn points<'a>(
    (id, lo, hi): (&TileId, f64, f64),
    pts: impl Iterator<Item = &'a geo::Point<f64>>,
) -> Option<geo::Geometry<f64>> {
    let out: Vec<geo::Point<f64>> = pts
        .map(|p| id.project(p.0))
        .filter(|c| (lo..=hi).contains(&c.x) && (lo..=hi).contains(&c.y))
        .map(|c| geo::Point::new(c.x.round(), c.y.round()))
        .collect();
    match out.len() {
        0 => None,
        1 => Some(geo::Geometry::Point(out[0])),
        _ => Some(geo::Geometry::MultiPoint(MultiPoint(out))),
    }
}

/// Parses `{y}.mvt`, the last segment of a tile's path.
fn tile_row(file: &str) -> ApiResult<u32> {
    let y = file.strip_suffix(".mvt").ok_or_else(|| {
        ApiError::not_found(format!(
            "no tile {:?}: tiles are named {{z}}/{{x}}/{{y}}.mvt",
            crate::error::clip(file, 40)
        ))
    })?;
    y.parse()
        .map_err(|_| ApiError::invalid(format!("y: {y:?} is not a tile row number")))
}

/// `GET /tiles/{collection}/{z}/{x}/{y}.mvt?datetime=&as_of=`: one vector tile.
pub async fn tile(
    State(state): State<Arc<AppState>>,
    Path((name, z, x, file)): Path<(String, String, String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref(), &["datetime", "as_of"])?;
    let z = params::integer("z", &z, 0, u64::from(MAX_ZOOM))? as u8;
    let x = params::integer("x", &x, 0, u64::from(u32::MAX))? as u32;
    let y = tile_row(&file)?;
    let id = TileId::new(z, x, y).map_err(ApiError::invalid)?;
    let datetime = params.get("datetime").map(params::datetime).transpose()?;
    let snap = state.snapshot_at(params.get("as_of")).await?;
    crate::oapif::find_layer(&snap, &name)?;
    // Tiles of a big layer cost milliseconds of CPU each: off the async workers. Answers are
    // kept per data version (the `etag` layer), so each tile is made once per date.
    let body = tokio::task::spawn_blocking(move || {
        let layer = crate::oapif::find_layer(&snap, &name)?;
        let when = datetime.map(|d| move |p: &Period| d.matches(p));
        let (bytes, _) = render(
            layer,
            id,
            when.as_ref().map(|w| w as &dyn Fn(&Period) -> bool),
        );
        Ok::<_, ApiError>(bytes)
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    Ok(resp)
}

/// The `zonetrack:tiles` member of a collection: where its tiles are, how big the layer is,
/// and whether the map should draw it from tiles (over either threshold) or as GeoJSON.
pub fn advert(layer: &Layer, base: &str) -> serde_json::Value {
    let preferred =
        layer.features.len() > TILE_ABOVE_FEATURES || layer.vertices > TILE_ABOVE_VERTICES;
    serde_json::json!({
        "href": format!("{base}/tiles/{}/{{z}}/{{x}}/{{y}}.mvt", layer.name),
        "type": MEDIA_TYPE,
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "extent": EXTENT,
        "features": layer.features.len(),
        "vertices": layer.vertices,
        "threshold": {"features": TILE_ABOVE_FEATURES, "vertices": TILE_ABOVE_VERTICES},
        "preferred": preferred,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_boxes_and_projection_agree() {
        let id = TileId::new(7, 77, 51).unwrap();
        let [w, s, e, n] = id.lonlat_box(0.0);
        let sw = id.project(Coord { x: w, y: s });
        let ne = id.project(Coord { x: e, y: n });
        let full = f64::from(EXTENT);
        assert!(sw.x.abs() < 1e-6 && (sw.y - full).abs() < 1e-6, "{sw:?}");
        assert!((ne.x - full).abs() < 1e-6 && ne.y.abs() < 1e-6, "{ne:?}");
        assert!(TileId::new(2, 4, 0).is_err());
        assert!(TileId::new(23, 0, 0).is_err());
    }

    #[test]
    fn a_ring_crossing_the_tile_is_clipped_closed_and_clockwise() {
        let ring = vec![
            Coord {
                x: -500.0,
                y: -500.0,
            },
            Coord {
                x: 5000.0,
                y: -500.0,
            },
            Coord {
                x: 5000.0,
                y: 2000.0,
            },
            Coord {
                x: -500.0,
                y: 2000.0,
            },
            Coord {
                x: -500.0,
                y: -500.0,
            },
        ];
        let c = clip_ring(ring, -64.0, 4160.0);
        assert_eq!(c.first(), c.last());
        assert!(
            c.iter()
                .all(|p| (-64.0..=4160.0).contains(&p.x) && (-64.0..=4160.0).contains(&p.y))
        );
        assert_eq!(twice_area(&c), 2.0 * 4224.0 * 2064.0);
    }

    #[test]
    fn a_line_leaving_and_coming_back_is_two_pieces() {
        let pts = [
            Coord { x: 0.0, y: 0.0 },
            Coord { x: 0.0, y: 9000.0 },
            Coord {
                x: 100.0,
                y: 9000.0,
            },
            Coord { x: 100.0, y: 0.0 },
        ];
        let pieces = clip_line(&pts, -64.0, 4160.0);
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        assert_eq!(pieces[0].last(), Some(&Coord { x: 0.0, y: 4160.0 }));
        assert_eq!(
            pieces[1].first(),
            Some(&Coord {
                x: 100.0,
                y: 4160.0
            })
        );
    }
}
