//! `GET /export/{layer}.{ext}[?datetime=][&filter=]`: a layer as a file that opens in QGIS with no fixing,
//! in any format of [`zone_formats::Format`] (GeoJSON, FlatGeobuf, GeoPackage, GeoParquet, CSV for point
//! layers, a QGIS style). The writers live in `zone-formats`; this turns them into HTTP.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use zone_formats::{Format, LayerExport};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::params::{self, Params};

fn attachment(content_type: &'static str, filename: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// The formats as a person reads them: `.geojson, .fgb, ...`.
fn extensions() -> String {
    Format::ALL
        .iter()
        .map(|f| format!(".{}", f.extension()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `GET /export/{layer}.{ext}[?datetime=]`.
pub async fn export(
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let mut allowed = vec!["datetime", "as_of"];
    allowed.extend_from_slice(&crate::oapif::FILTER_PARAMS);
    let params = Params::parse(q.as_deref(), &allowed)?;
    let snap = state.snapshot_at(params.get("as_of")).await?;
    let (name, ext) = file.rsplit_once('.').ok_or_else(|| {
        ApiError::not_found(format!(
            "name the file with its format: /export/zones.geojson; formats are {}",
            extensions()
        ))
    })?;
    let layer = crate::oapif::find_layer(&snap, name)?;
    let format = Format::from_extension(ext).ok_or_else(|| {
        ApiError::not_found(format!(
            "no export format {:?}; formats are {}",
            crate::error::clip(ext, 20),
            extensions()
        ))
    })?;
    if !format.applies_to(&layer.info) {
        let can: Vec<String> = Format::for_layer(&layer.info)
            .map(|f| format!("{name}.{}", f.extension()))
            .collect();
        return Err(ApiError::not_found(format!(
            "{name} holds {}s, which {} does not hold; use {}",
            layer.geometry_type,
            format.title(),
            can.join(", ")
        )));
    }
    let datetime = params.get("datetime").map(params::datetime).transpose()?;
    let filter = crate::oapif::request_filter(layer, &params)?;
    let name = layer.name.clone();
    let filename = format!("{name}.{}", format.extension());
    let snap = snap.clone();
    // Writers are CPU work (and FlatGeobuf and GeoPackage spool through temporary files): off
    // the async workers. Answers are kept per data version, so this runs once per request form.
    let body = tokio::task::spawn_blocking(move || {
        let layer = crate::oapif::find_layer(&snap, &name)?;
        let selected = crate::oapif::select(layer, None, datetime, &[], filter);
        let export = LayerExport {
            data: &snap.data,
            info: &layer.info,
            features: &layer.features,
            selected: Some(&selected),
            geojson: Some(&layer.json),
        };
        format.write(&export).map_err(|e| ApiError::internal(&e))
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    Ok(attachment(format.media_type(), &filename, body))
}
