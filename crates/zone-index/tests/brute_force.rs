use std::sync::Arc;

use geo::{Intersects, Rect, coord, polygon};
use zone_index::{BatchOrder, Bbox, PolygonIndex, ZoneIndex, synthetic};

use crate::support::{
    brute_covering, nearest_vertex_km, random_dataset, random_day, random_points,
};

fn pairs(c: &[zone_index::Covering]) -> Vec<(usize, bool)> {
    c.iter().map(|c| (c.zone, c.on_boundary)).collect()
}

/// What a scan of every polygon finds at a point: `(index, on the boundary)`, ascending.
fn scan(items: &[geo::MultiPolygon<f64>], lon: f64, lat: f64) -> Vec<(usize, bool)> {
    let found = |(i, mp)| match zone_index::position_by_scan(mp, lon, lat) {
        zone_index::Position::Outside => None,
        zone_index::Position::Inside => Some((i, false)),
        zone_index::Position::OnBoundary => Some((i, true)),
    };
    items.iter().enumerate().filter_map(found).collect()
}

/// Runs `case` on `cases` random data sets of `zones` zones each, drawn from `seed`, with the
/// random state for further draws.
fn each_random_case(
    seed: u64,
    cases: usize,
    zones: usize,
    mut case: impl FnMut(&mut u64, &Arc<geodata::Dataset>, &ZoneIndex),
) {
    let mut s = seed;
    for _ in 0..cases {
        let data = Arc::new(random_dataset(&mut s, zones));
        let index = ZoneIndex::new(data.clone());
        case(&mut s, &data, &index);
    }
}

#[test]
fn the_index_finds_exactly_the_zones_a_scan_of_every_zone_finds() {
    let (mut checked, mut on_boundary) = (0, 0);
    each_random_case(20_260_101, 150, 12, |s, data, index| {
        for (lon, lat) in random_points(s, data, 400) {
            for at in [None, Some(random_day(s))] {
                let want = brute_covering(data, lon, lat, at);
                let got = pairs(&index.covering(lon, lat, at));
                assert_eq!(got, want, "point ({lon}, {lat}) at {at:?}");
                checked += 1;
                on_boundary += want.iter().filter(|w| w.1).count();
            }
        }
    });
    // The generator must really exercise the boundary cases.
    assert!(
        on_boundary > checked / 20,
        "{on_boundary} boundary hits in {checked} queries"
    );
}

#[test]
fn points_on_the_first_and_last_day_of_a_period_are_covered_and_a_day_outside_is_not() {
    each_random_case(99, 40, 8, |s, data, index| {
        for (lon, lat) in random_points(s, data, 100) {
            for zone in data.zones.iter() {
                let p = zone.period;
                let days = [
                    p.from(),
                    p.to(),
                    p.from().and_then(|d| d.pred_opt()),
                    p.to().and_then(|d| d.succ_opt()),
                ];
                for at in days.into_iter().flatten() {
                    assert_eq!(
                        pairs(&index.covering(lon, lat, Some(at))),
                        brute_covering(data, lon, lat, Some(at))
                    );
                }
            }
        }
    });
}

#[test]
fn the_batch_path_answers_like_single_queries_on_one_and_two_threads() {
    each_random_case(5, 30, 15, |s, data, index| {
        let points = random_points(s, data, 5000);
        let at = Some(random_day(s));
        let many = index.covering_many(&points, at);
        assert_eq!(many.len(), points.len());
        let polygons = index.polygons();
        let batches: Vec<_> = [BatchOrder::Input, BatchOrder::Curve]
            .into_iter()
            .flat_map(|order| {
                [1, 2, 3].map(|threads| {
                    polygons.covering_many_ordered(&points, threads, order, &|_| true)
                })
            })
            .collect();
        for (i, &(lon, lat)) in points.iter().enumerate() {
            assert_eq!(many[i], index.covering(lon, lat, at), "point {i}");
            let single = polygons.covering(lon, lat);
            for batch in &batches {
                assert_eq!(batch.get(i).collect::<Vec<_>>(), single, "point {i}");
            }
        }
    });
}

#[test]
fn an_index_built_on_several_threads_answers_like_one_built_on_one() {
    use crate::support::random_multipolygon;
    let mut s = 77u64;
    // Random parts with holes, clustered stars and empty items (numbered, never found),
    // enough for every thread to take a run.
    let mut items = synthetic::clustered_stars(2500, synthetic::SYRIA_BOX, 5);
    for i in 0..1500 {
        items.insert(i * 2, random_multipolygon(&mut s));
    }
    items.insert(1234, geo::MultiPolygon(vec![]));
    items.push(geo::MultiPolygon(vec![]));
    let refs: Vec<&geo::MultiPolygon<f64>> = items.iter().collect();
    let one = PolygonIndex::from_items(&items);
    let mut points = synthetic::uniform_points(4000, synthetic::SYRIA_BOX, 6);
    points.extend((0..2000).map(|_| {
        let r = |s: &mut u64| (next(s) % 10_000) as f64 / 1000.0;
        (r(&mut s), r(&mut s))
    }));
    let (mut hits, mut boxed) = (0, 0);
    for threads in [2, 3, 4] {
        let many = PolygonIndex::from_slice(&refs, threads);
        assert_eq!(many.len(), one.len());
        assert_eq!(many.heap_bytes(), one.heap_bytes(), "{threads} threads");
        for &(lon, lat) in &points {
            let want = one.covering(lon, lat);
            hits += want.len();
            assert_eq!(
                many.covering(lon, lat),
                want,
                "({lon}, {lat}), {threads} threads"
            );
        }
        assert_eq!(
            many.covering_many(&points, 2),
            one.covering_many(&points, 2)
        );
        for w in points.windows(2).step_by(50) {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            let bbox = [x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1)];
            let want = one.items_meeting_box(bbox);
            boxed += want.len();
            assert_eq!(many.items_meeting_box(bbox), want, "{bbox:?}");
        }
    }
    assert!(hits > 1000 && boxed > 1000, "{hits} {boxed}");
}

#[test]
fn the_polygon_layer_agrees_with_a_scan_on_clustered_star_polygons() {
    let items = synthetic::clustered_stars(2000, synthetic::SYRIA_BOX, 3);
    let index = PolygonIndex::new(items.clone());
    let points = synthetic::uniform_points(3000, synthetic::SYRIA_BOX, 4);
    let mut hits = 0;
    for &(lon, lat) in &points {
        let want: Vec<(usize, bool)> = scan(&items, lon, lat);
        hits += want.len();
        assert_eq!(index.covering(lon, lat), want);
    }
    assert!(hits > 100, "{hits}");
    // Every vertex is on its polygon's boundary.
    for (i, mp) in items.iter().enumerate().step_by(37) {
        for c in &mp.0[0].exterior().0 {
            assert!(index.covering(c.x, c.y).contains(&(i, true)));
        }
    }
}

#[test]
fn a_point_timeline_agrees_with_covering_on_every_day() {
    each_random_case(11, 60, 10, |s, data, index| {
        for (lon, lat) in random_points(s, data, 50) {
            let spans = index.timeline(lon, lat);
            assert!(
                spans[0].period.from().is_none()
                    && spans.last().is_some_and(|l| l.period.to().is_none())
            );
            for w in spans.windows(2) {
                assert_eq!(
                    w[0].period.to().and_then(|d| d.succ_opt()),
                    w[1].period.from(),
                    "spans touch"
                );
                assert_ne!(w[0].zones, w[1].zones, "neighbouring spans differ");
            }
            let first = crate::support::day("2017-12-30");
            for k in 0..14 {
                let d = first + chrono::Days::new(k);
                let span = spans
                    .iter()
                    .find(|sp| sp.period.contains(d))
                    .expect("spans cover all days");
                let want: Vec<usize> = brute_covering(data, lon, lat, Some(d))
                    .iter()
                    .map(|w| w.0)
                    .collect();
                assert_eq!(span.zones, want, "({lon}, {lat}) on {d}");
            }
        }
    });
}

#[test]
fn nearest_zones_are_the_nearest_by_a_scan_of_every_zone() {
    each_random_case(17, 15, 10, |s, data, index| {
        for (lon, lat) in synthetic::uniform_points(20, [-2.0, -2.0, 16.0, 16.0], next(s)) {
            let all = index.nearest(lon, lat, data.zones.len(), None);
            assert_eq!(all.len(), data.zones.len());
            let k3 = index.nearest(lon, lat, 3, None);
            assert_eq!(k3[..], all[..3]);
            // Every zone's distance by a scan of every ring with geodata's own measure.
            let covered: Vec<usize> = brute_covering(data, lon, lat, None)
                .iter()
                .map(|c| c.0)
                .collect();
            let mut want: Vec<(f64, usize)> = data
                .zones
                .iter()
                .enumerate()
                .map(|(z, zone)| {
                    let d = if covered.contains(&z) {
                        0.0
                    } else {
                        zone.geometry
                            .0
                            .iter()
                            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                            .map(|r| {
                                geodata::geodesy::distance_to_line_km(geo::Point::new(lon, lat), r)
                                    .0
                            })
                            .fold(f64::INFINITY, f64::min)
                    };
                    (d, z)
                })
                .collect();
            want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for (n, (d, z)) in all.iter().zip(&want) {
                assert!(
                    (n.distance_km - d).abs() < 1e-9,
                    "({lon}, {lat}): zone {} at {} km, want zone {z} at {d} km",
                    n.zone,
                    n.distance_km
                );
                assert_eq!(
                    n.distance_km == 0.0,
                    covered.contains(&n.zone),
                    "zone {} at ({lon}, {lat})",
                    n.zone
                );
                assert!(
                    n.boundary_distance_km
                        <= nearest_vertex_km(&data.zones[n.zone], lon, lat) + 1e-6
                );
            }
            for w in all.windows(2) {
                assert!(w[0].distance_km <= w[1].distance_km);
            }
        }
    });
}

fn next(s: &mut u64) -> u64 {
    synthetic::next_u64(s)
}

#[test]
fn in_bbox_finds_exactly_the_zones_a_scan_finds() {
    each_random_case(23, 40, 12, |s, data, index| {
        for _ in 0..30 {
            let (a, b) = (
                synthetic::uniform(s, -1.0, 15.0),
                synthetic::uniform(s, -1.0, 15.0),
            );
            let (c, d) = (
                synthetic::uniform(s, -1.0, 15.0),
                synthetic::uniform(s, -1.0, 15.0),
            );
            let bbox = Bbox::new(a.min(b), c.min(d), a.max(b), c.max(d)).expect("ordered box");
            let rect = Rect::new(
                coord! { x: a.min(b), y: c.min(d) },
                coord! { x: a.max(b), y: c.max(d) },
            );
            let want: Vec<usize> = (0..data.zones.len())
                .filter(|&z| rect.intersects(&*data.zones[z].geometry))
                .collect();
            assert_eq!(index.in_bbox(bbox, None).zones, want);
        }
    });
}

#[test]
fn coordinates_that_are_not_numbers_or_out_of_range_cover_nothing_and_never_panic() {
    let mut s = 1;
    let data = Arc::new(random_dataset(&mut s, 10));
    let index = ZoneIndex::new(data);
    let odd = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e308,
        -1e308,
        400.0,
        -0.0,
        f64::MIN_POSITIVE,
    ];
    for &lon in &odd {
        for &lat in &odd {
            let c = index.covering(lon, lat, None);
            if !(lon.is_finite() && lat.is_finite()) {
                assert!(c.is_empty());
                assert!(index.nearest(lon, lat, 3, None).is_empty());
            }
            let _ = index.timeline(lon, lat);
            let _ = index.covering_many(&[(lon, lat)], None);
        }
    }
}

#[test]
fn many_large_overlapping_zones_build_a_bounded_grid_and_answer_exactly() {
    // A thousand redrawings of one large area, plus small zones: the grid must coarsen rather
    // than file every large zone in every one of its cells.
    let mut s = 77;
    let mut items = Vec::new();
    for _ in 0..1000 {
        let centre = (
            synthetic::uniform(&mut s, 38.9, 39.1),
            synthetic::uniform(&mut s, 34.9, 35.1),
        );
        items.push(geo::MultiPolygon(vec![synthetic::star_polygon(
            &mut s, centre, 3.0, 40,
        )]));
    }
    items.extend(synthetic::clustered_stars(3000, synthetic::SYRIA_BOX, 5));
    let index = PolygonIndex::new(items.clone());
    assert!(
        index.heap_bytes() < 200 << 20,
        "{} bytes",
        index.heap_bytes()
    );
    for (lon, lat) in synthetic::uniform_points(300, synthetic::SYRIA_BOX, 6) {
        let want: Vec<(usize, bool)> = scan(&items, lon, lat);
        assert_eq!(index.covering(lon, lat), want);
    }
}

#[test]
fn absurd_but_finite_polygon_coordinates_neither_panic_nor_answer_wrongly() {
    // Past about 1e150 the products inside orient2d overflow (for geo's reference too), so
    // exactness is checked at 1e100 and only the absence of panics beyond.
    let no_panic = PolygonIndex::new(vec![geo::MultiPolygon(vec![
        polygon![(x: -1e300, y: -1e300), (x: 1e300, y: -1e300), (x: 0.0, y: 1e300)],
    ])]);
    for v in [0.0, 1e300, -1e308, f64::MAX, f64::MIN_POSITIVE] {
        let _ = no_panic.covering(v, v);
        let _ = no_panic.covering_many(&[(v, -v)], 2);
    }
    let big = 1e100;
    let items = vec![
        geo::MultiPolygon(vec![
            polygon![(x: -big, y: -big), (x: big, y: -big), (x: big, y: big), (x: -big, y: big)],
        ]),
        geo::MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 1e-300, y: 0.0), (x: 0.0, y: 1e-300)],
        ]),
        geo::MultiPolygon(vec![
            polygon![(x: f64::NAN, y: 0.0), (x: 1.0, y: 0.0), (x: 0.0, y: 1.0)],
        ]),
        geo::MultiPolygon(vec![]),
    ];
    let index = PolygonIndex::new(items.clone());
    let odd = [
        0.0,
        -0.0,
        1e-301,
        5e-301,
        1.0,
        -1.0,
        1e99,
        -1e100,
        1e100,
        2e100,
        f64::NAN,
        f64::INFINITY,
    ];
    for &lon in &odd {
        for &lat in &odd {
            let want = scan(&items[..2], lon, lat);
            assert_eq!(index.covering(lon, lat), want, "({lon}, {lat})");
        }
    }
}

#[test]
fn an_index_updated_after_edits_answers_like_one_built_whole() {
    use crate::support::{random_multipolygon, zone};
    each_random_case(4242, 25, 12, |s, data, index| {
        let mut data = (**data).clone();
        let mut index = index.after(Arc::new(data.clone()), &[]);
        let mut next_id = data.zones.len();
        // A few rounds of edits, each applied to the index before: the overlay grows. Every
        // other round only redraws, so the zones keep their places (`after`'s path without id
        // maps), after and before rounds that move them.
        for round in 0..6 {
            let mut changed: Vec<String> = Vec::new();
            let kinds = if round % 2 == 0 { 1 } else { 3 };
            for _ in 0..3 {
                match next(s) % kinds {
                    // Redraw a zone.
                    0 if !data.zones.is_empty() => {
                        let i = (next(s) % data.zones.len() as u64) as usize;
                        data.zones[i].geometry = random_multipolygon(s).into();
                        changed.push(data.zones[i].meta.id.to_string());
                    }
                    // Delete one: the zones after it move up.
                    1 if !data.zones.is_empty() => {
                        let i = (next(s) % data.zones.len() as u64) as usize;
                        changed.push(data.zones.remove(i).meta.id.to_string());
                    }
                    _ => {
                        let period = data
                            .zones
                            .first()
                            .map_or(geodata::Period::ALWAYS, |z| z.period);
                        let z = zone(
                            &format!("new{next_id}"),
                            random_multipolygon(s),
                            period,
                            "red",
                            geodata::ZoneKind::Control,
                        );
                        next_id += 1;
                        changed.push(z.meta.id.to_string());
                        data.zones.push(z);
                    }
                }
            }
            let ids: Vec<&str> = changed.iter().map(String::as_str).collect();
            index = index.after(Arc::new(data.clone()), &ids);
            let whole = ZoneIndex::new(Arc::new(data.clone()));
            let points = random_points(s, &data, 60);
            for &(lon, lat) in &points {
                let at = Some(random_day(s));
                assert_eq!(
                    index.covering(lon, lat, at),
                    whole.covering(lon, lat, at),
                    "({lon}, {lat}) at {at:?}"
                );
                assert_eq!(
                    pairs(&index.covering(lon, lat, None)),
                    brute_covering(&data, lon, lat, None)
                );
            }
            assert_eq!(
                index.covering_many(&points, None),
                whole.covering_many(&points, None)
            );
            let bbox = Bbox::new(2.0, 2.0, 9.0, 9.0).expect("a box");
            assert_eq!(
                index.in_bbox(bbox, None).zones,
                whole.in_bbox(bbox, None).zones
            );
        }
    });
}

#[test]
fn a_large_index_laid_out_along_the_curve_answers_like_a_scan() {
    // Past 8 MB the index lays its parts out along a Hilbert curve, so the parts of one item
    // end up far apart in memory: each must still be found, and merged into one answer.
    let mut items = synthetic::clustered_stars(20_000, synthetic::SYRIA_BOX, 9);
    for i in (0..items.len()).step_by(40) {
        // A second part 2 degrees east (stars are at most 0.05 degrees wide: no overlap).
        let far = geo::Translate::translate(&items[i].0[0], 2.0, 0.0);
        items[i].0.push(far);
    }
    items.insert(777, geo::MultiPolygon(vec![]));
    let index = PolygonIndex::new(items.clone());
    assert!(
        index.heap_bytes() >= 8 << 20,
        "the set must be large enough to be laid out along the curve: {} bytes",
        index.heap_bytes()
    );
    // Points near the stars (on both sides of their edges), on vertices, and anywhere.
    let mut s = 5u64;
    let mut points = synthetic::uniform_points(2000, synthetic::SYRIA_BOX, 8);
    for mp in items.iter().step_by(7) {
        for poly in &mp.0 {
            let ring = &poly.exterior().0;
            let c = ring[(next(&mut s) % ring.len() as u64) as usize];
            let centre = ring.iter().fold((0.0, 0.0), |a, p| (a.0 + p.x, a.1 + p.y));
            let centre = (centre.0 / ring.len() as f64, centre.1 / ring.len() as f64);
            let t = (next(&mut s) % 1000) as f64 / 800.0;
            points.push((c.x, c.y));
            points.push((c.x + (centre.0 - c.x) * t, c.y + (centre.1 - c.y) * t));
        }
    }
    let boxes: Vec<Option<Rect<f64>>> =
        items.iter().map(geo::BoundingRect::bounding_rect).collect();
    let mut hits = 0;
    let mut two_parts = 0;
    for &(lon, lat) in &points {
        let want: Vec<(usize, bool)> = items
            .iter()
            .enumerate()
            .filter(|(i, _)| boxes[*i].is_some_and(|b| b.intersects(&coord! {x: lon, y: lat})))
            .filter_map(|(i, mp)| match zone_index::position_by_scan(mp, lon, lat) {
                zone_index::Position::Outside => None,
                zone_index::Position::Inside => Some((i, false)),
                zone_index::Position::OnBoundary => Some((i, true)),
            })
            .collect();
        hits += want.len();
        two_parts += want.iter().filter(|(i, _)| items[*i].0.len() == 2).count();
        assert_eq!(index.covering(lon, lat), want, "({lon}, {lat})");
    }
    assert!(
        hits > 2000 && two_parts > 50,
        "{hits} hits, {two_parts} in two-part items"
    );
    // The batch path walks the same curve; boxes are the items' own.
    let batch = index.covering_many_ordered(&points, 2, BatchOrder::Curve, &|_| true);
    for (i, &(lon, lat)) in points.iter().enumerate() {
        assert_eq!(batch.get(i).collect::<Vec<_>>(), index.covering(lon, lat));
    }
    let got = index.item_boxes();
    for (i, b) in boxes.iter().enumerate() {
        let want = b.map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]);
        assert_eq!(got[i], want, "item {i}");
    }
}
