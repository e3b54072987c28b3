//! `GET /map/{collection}`: what the Leaflet map draws: features in a box, valid on a date,
//! simplified for the zoom level so a small-scale view does not ship full-resolution rings.
//! (OGC API items stay exact; this endpoint is for display only and says so.)

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use geo::SimplifyVwPreserve;
use zone_index::Selection;

use crate::AppState;
use crate::error::ApiResult;
use crate::oapif::json_response;
use crate::params::{self, Params};

/// Tolerance in degrees for a zoom level: about half a screen pixel of a 256-pixel web
/// mercator tile, which is below what the eye can see.
fn tolerance(zoom: u64) -> f64 {
    360.0 / (256.0 * 2f64.powi(zoom as i32)) * 0.5
}

fn simplify(g: &geo::Geometry<f64>, eps: f64) -> geo::Geometry<f64> {
    // Visvalingam-Whyatt with topology preservation keeps rings valid; the threshold is an area.
    let area = eps * eps;
    match g {
        geo::Geometry::MultiPolygon(mp) => {
            geo::Geometry::MultiPolygon(mp.simplify_vw_preserve(area))
        }
        geo::Geometry::MultiLineString(ml) => {
            geo::Geometry::MultiLineString(ml.simplify_vw_preserve(area))
        }
        other => other.clone(),
    }
}

/// `GET /map/{collection}?bbox=&datetime=&zoom=`: a GeoJSON FeatureCollection for display.
pub async fn layer(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref(), &["bbox", "datetime", "zoom", "as_of"])?;
    let snap = state.snapshot_at(params.get("as_of")).await?;
    let layer = crate::oapif::find_layer(&snap, &name)?;
    let bbox = params.get("bbox").map(params::bbox).transpose()?;
    let datetime = params.get("datetime").map(params::datetime).transpose()?;
    let zoom = params
        .get("zoom")
        .map(|z| params::integer("zoom", z, 0, 22))
        .transpose()?;
    let simplified = zoom.map(|z| {
        let z = z as usize;
        layer.simplified[z.min(crate::snapshot::MAX_ZOOM)].get_or_init(|| {
            layer
                .features
                .iter()
                .map(|f| {
                    let mut v = f.to_json();
                    v["geometry"] =
                        geodata::geometry_json(&simplify(&f.geometry, tolerance(z as u64)));
                    v.to_string().into()
                })
                .collect()
        })
    });
    let texts = simplified.unwrap_or(&layer.json);
    let mut body = String::from("{\"type\":\"FeatureCollection\",\"features\":[");
    let when = datetime.map(|d| move |p: &geodata::Period| d.matches(p));
    // For display: a feature whose envelope meets the view is drawn (the exact test is the
    // items' business).
    let picked = layer.index.select(
        &layer.features,
        &Selection {
            bbox,
            exact: false,
            when: when
                .as_ref()
                .map(|w| w as &dyn Fn(&geodata::Period) -> bool),
            equals: &[],
            ..Default::default()
        },
    );
    let returned = picked.len();
    for (n, i) in picked.into_iter().enumerate() {
        if n > 0 {
            body.push(',');
        }
        body.push_str(&texts[i]);
    }
    body.push_str(&format!(
        "],\"numberReturned\":{returned},\"simplified\":{}}}",
        zoom.is_some()
    ));
    Ok(json_response("application/geo+json", body))
}
