//! One way to pick a layer's features, for every reader of a layer (OGC API items, the map's
//! layers, exports): by box, through an R-tree over the features' envelopes, then by validity
//! date, property values and any further test (a CQL2 filter), answered in file order.

use geo::{Intersects as _, Rect};
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
    let inside = f.bbox.is_some_and(|b| {
        r.min().x <= b.min().x
            && r.min().y <= b.min().y
            && b.max().x <= r.max().x
            && b.max().y <= r.max().y
    });
    inside || f.geometry.intersects(r)
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
            (Some(rects), _) => self.meeting(rects, |i| {
                !s.exact
                    || features
                        .get(i)
                        .is_some_and(|f| rects.iter().any(|r| meets_box(f, r)))
            }),
            (None, Some(rects)) => self.meeting(rects, |_| true),
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

    /// The features whose envelope meets one of `rects` and that pass `test`, sorted, once each.
    fn meeting(&self, rects: &[Rect<f64>], test: impl Fn(usize) -> bool) -> Vec<usize> {
        let mut v: Vec<usize> = Vec::new();
        for r in rects {
            let env = AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
            v.extend(
                self.tree
                    .locate_in_envelope_intersecting(&env)
                    .map(|e| e.data)
                    .filter(|&i| test(i)),
            );
        }
        v.sort_unstable();
        v.dedup();
        v
    }
}
