//! One way to pick a layer's features, for every reader of a layer (OGC API items, the map's
//! layers, exports): by box, through an R-tree over the features' envelopes, then by validity
//! date, property values and any further test (a CQL2 filter), answered in file order.

use geo::{CoordsIter as _, Intersects as _, Rect};
use geodata::{ExportFeature, Period};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::Bbox;

/// What to select.
#[derive(Default)]
pub struct Selection<'a> {
    /// Features meeting this box (edges included; across the antimeridian when west > east).
    pub bbox: Option<Bbox>,
    /// Whether the geometry itself must meet the box (items, exports), or its envelope is
    /// enough (the map, which draws what is near the view anyway).
    pub exact: bool,
    /// Features whose validity passes this test.
    pub when: Option<&'a dyn Fn(&Period) -> bool>,
    /// Features whose properties have these string values.
    pub equals: &'a [(&'a str, &'a str)],
    /// Features whose envelope meets one of these boxes, found through the R-tree: the only
    /// candidates a filter's spatial predicates leave (the filter then tests them exactly, in
    /// `keep`). An empty list selects nothing.
    pub envelopes: Option<&'a [Rect<f64>]>,
    /// Features (by index) this test keeps; run last, on the candidates the rest left.
    pub keep: Option<&'a dyn Fn(usize) -> bool>,
}

/// Whether a feature's geometry meets the box `r` (edges included). One whose envelope lies in
/// `r` does, and needs no exact test: for a box of a degree over small zones, most candidates
/// are such.
///
/// ```
/// use geo::{Rect, coord};
/// let data = geodata::Dataset::embedded();
/// let zones = data.export_features("zones").unwrap();
/// let world = Rect::new(coord! {x: -180.0, y: -90.0}, coord! {x: 180.0, y: 90.0});
/// assert!(zones.iter().all(|z| zone_index::meets_box(z, &world)));
/// let far = Rect::new(coord! {x: -10.0, y: -10.0}, coord! {x: -9.0, y: -9.0});
/// assert!(!zones.iter().any(|z| zone_index::meets_box(z, &far)));
/// ```
pub fn meets_box(f: &ExportFeature, r: &Rect<f64>) -> bool {
    f.bbox.is_some_and(|b| holds(r, &b)) || geometry_meets(&f.geometry, r)
}

/// The exact test: a vertex in the box settles it (most features straddling a box's edge have
/// one, and the scan is cheaper than geo's test, which computes the geometry's bounding box
/// first), else geo's `Intersects`.
fn geometry_meets(g: &geo::Geometry<f64>, r: &Rect<f64>) -> bool {
    let inside = |c: geo::Coord<f64>| {
        r.min().x <= c.x && c.x <= r.max().x && r.min().y <= c.y && c.y <= r.max().y
    };
    // The exterior rings of polygon layers as plain slices: geo's coordinate iterator over a
    // Geometry costs several times more per coordinate.
    let vertex_inside = match g {
        geo::Geometry::MultiPolygon(mp) => {
            mp.0.iter()
                .any(|p| p.exterior().0.iter().any(|c| inside(*c)))
        }
        geo::Geometry::Polygon(p) => p.exterior().0.iter().any(|c| inside(*c)),
        other => other.coords_iter().any(inside),
    };
    vertex_inside || g.intersects(r)
}

/// Whether `outer` holds all of `inner`, edges included.
fn holds(outer: &Rect<f64>, inner: &Rect<f64>) -> bool {
    outer.min().x <= inner.min().x
        && outer.min().y <= inner.min().y
        && inner.max().x <= outer.max().x
        && inner.max().y <= outer.max().y
}

/// An R-tree over a layer's feature envelopes.
pub struct FeatureIndex {
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
}

impl FeatureIndex {
    /// Indexes `features` (those without geometry are never in a box).
    pub fn new(features: &[ExportFeature]) -> FeatureIndex {
        let entries = features
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                let b = f.bbox?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]),
                    i,
                ))
            })
            .collect();
        FeatureIndex {
            tree: RTree::bulk_load(entries),
        }
    }

    /// The indices of the `features` (the same slice this index was built from) that the
    /// selection takes, in file order.
    ///
    /// ```
    /// use zone_index::{Bbox, FeatureIndex, Selection};
    /// let data = geodata::Dataset::embedded();
    /// let zones = data.export_features("zones").unwrap();
    /// let index = FeatureIndex::new(&zones);
    /// let daraa = Bbox::new(36.0, 32.5, 36.2, 32.7).unwrap();
    /// let near = index.select(&zones, &Selection { bbox: Some(daraa), exact: true, ..Default::default() });
    /// assert!(!near.is_empty() && near.len() < zones.len());
    /// let all = index.select(&zones, &Selection::default());
    /// assert_eq!(all.len(), zones.len());
    /// ```
    pub fn select(&self, features: &[ExportFeature], s: &Selection<'_>) -> Vec<usize> {
        // The R-tree answers for the boxes given: the bbox's (exact or not), else the filter's
        // envelopes; when both are given the first narrows and the second is checked on each
        // candidate's own envelope, which costs less than a second tree walk.
        let bbox_rects: Option<Vec<Rect<f64>>> =
            s.bbox.map(|b| b.rects().into_iter().flatten().collect());
        let mut picked: Vec<usize> = match (&bbox_rects, s.envelopes) {
            (None, None) => (0..features.len()).collect(),
            // An envelope inside the box needs no exact test, and is known from the tree entry
            // alone: most candidates of a box are such, and not reading their features saves
            // a cache miss each (a third of a 1-degree box's time over 100,000 zones).
            (Some(rects), _) => self.meeting(rects, |i, r, env| {
                !s.exact
                    || holds(r, env)
                    || features
                        .get(i)
                        .is_some_and(|f| geometry_meets(&f.geometry, r))
            }),
            (None, Some(rects)) => self.meeting(rects, |_, _, _| true),
        };
        if let (Some(_), Some(rects)) = (&bbox_rects, s.envelopes) {
            picked.retain(|&i| {
                features
                    .get(i)
                    .and_then(|f| f.bbox)
                    .is_some_and(|b| rects.iter().any(|r| r.intersects(&b)))
            });
        }
        picked.retain(|&i| {
            let Some(f) = features.get(i) else {
                return false;
            };
            s.when.is_none_or(|w| w(&f.period))
                && s.equals.iter().all(|(k, v)| {
                    f.properties.get(*k).and_then(serde_json::Value::as_str) == Some(*v)
                })
                && s.keep.is_none_or(|keep| keep(i))
        });
        picked
    }

    /// The features whose envelope meets one of `rects` and that pass `test` (given the index,
    /// the rect and the feature's envelope), sorted, once each.
    fn meeting(
        &self,
        rects: &[Rect<f64>],
        test: impl Fn(usize, &Rect<f64>, &Rect<f64>) -> bool,
    ) -> Vec<usize> {
        let mut v: Vec<usize> = Vec::new();
        for r in rects {
            let env = AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
            v.extend(
                self.tree
                    .locate_in_envelope_intersecting(&env)
                    .filter(|e| {
                        let (lo, hi) = (e.geom().lower(), e.geom().upper());
                        let envelope = Rect::new(
                            geo::coord! {x: lo[0], y: lo[1]},
                            geo::coord! {x: hi[0], y: hi[1]},
                        );
                        test(e.data, r, &envelope)
                    })
                    .map(|e| e.data),
            );
        }
        v.sort_unstable();
        v.dedup();
        v
    }
}
