//! The query API, for what OGC API - Features lacks: zones covering a point (one or a batch),
//! nearest zones with geodesic distances, a point's timeline, and changes between two dates.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use geodata::Date;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::oapif::json_response;
use crate::params::{self, Params};
use crate::snapshot::Snapshot;
use crate::state::JsonRead;
use zone_formats::batch::{self, Batch, BatchLimits, BatchRefused};
use zone_formats::points_parquet;

/// Most points one `POST /query/points` may carry.
pub const MAX_BATCH_POINTS: usize = 100_000;
/// Largest request body accepted (a 100,000-point GeoJSON batch is about 10 MB).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Most nearest zones one point query may ask for.
pub const MAX_NEAREST: u64 = 50;

/// Appends a zone as query answers describe it: `{"id", its export properties, extra...}`
/// from the members serialised once per snapshot (cloning and re-serialising the properties
/// per request was most of a point query's cost).
fn push_zone(out: &mut String, snap: &Snapshot, zone: usize, extra: &[(&str, String)]) {
    out.push('{');
    let members = snap
        .layer("zones")
        .and_then(|l| l.members.get(zone))
        .map_or("", |m| &**m);
    out.push_str(members);
    let mut empty = members.is_empty();
    for (name, value) in extra {
        if !empty {
            out.push(',');
        }
        empty = false;
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
        out.push_str(value);
    }
    out.push('}');
}

/// A JSON number or `null` (non-finite numbers have no JSON form).
fn number(v: f64) -> String {
    serde_json::to_string(&v).unwrap_or_else(|_| "null".into())
}

fn instant(params: &Params) -> ApiResult<Option<Date>> {
    match params.get("datetime") {
        None => Ok(None),
        Some(s) => {
            let d = params::datetime(s)?;
            d.instant().map(Some).ok_or_else(|| {
                ApiError::invalid("datetime: give one day (2018-02-07); intervals are for /collections/{id}/items")
            })
        }
    }
}

fn boolean(params: &Params, name: &str) -> ApiResult<bool> {
    match params.get(name) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") | Some("") => Ok(true),
        Some(other) => Err(ApiError::invalid(format!(
            "{name}: {:?} is not true or false",
            crate::error::clip(other, 20)
        ))),
    }
}

fn lon_lat(params: &Params) -> ApiResult<(f64, f64)> {
    let lon = params
        .get("lon")
        .ok_or_else(|| ApiError::invalid("lon is required (WGS84 longitude, -180..180)"))?;
    let lat = params
        .get("lat")
        .ok_or_else(|| ApiError::invalid("lat is required (WGS84 latitude, -90..90)"))?;
    Ok((params::lon("lon", lon)?, params::lat("lat", lat)?))
}

/// `GET /query/point?lon=&lat=[&datetime=][&nearest=3][&geometry=true]`.
pub async fn point(
    State(state): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(
        q.as_deref(),
        &["lon", "lat", "datetime", "nearest", "geometry", "as_of"],
    )?;
    let (lon, lat) = lon_lat(&params)?;
    let at = instant(&params)?;
    let k = match params.get("nearest") {
        Some(s) => params::integer("nearest", s, 0, MAX_NEAREST)?,
        None => 3,
    } as usize;
    let with_geometry = boolean(&params, "geometry")?;
    let snap = state.snapshot_at(params.get("as_of")).await?;
    let mut out = String::with_capacity(4096);
    out.push_str(&format!(
        "{{\"lon\":{},\"lat\":{},\"datetime\":{},\"covering\":[",
        number(lon),
        number(lat),
        at.map_or("null".into(), |d| format!("\"{d}\""))
    ));
    let zones = snap.layer("zones");
    let covering = snap.index.covering(lon, lat, at);
    for (i, c) in covering.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut extra = vec![("on_boundary", c.on_boundary.to_string())];
        if with_geometry && let Some(f) = zones.and_then(|l| l.features.get(c.zone)) {
            extra.push(("geometry", geodata::geometry_json(&f.geometry).to_string()));
        }
        push_zone(&mut out, &snap, c.zone, &extra);
    }
    out.push_str("],\"nearest\":[");
    for (i, n) in snap
        .index
        .nearest_outside_given(lon, lat, k, at, &covering)
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        let extra = [
            ("distance_km", number(round3(n.distance_km))),
            (
                "nearest_point",
                format!(
                    "[{},{}]",
                    number(n.boundary_point.0),
                    number(n.boundary_point.1)
                ),
            ),
        ];
        push_zone(&mut out, &snap, n.zone, &extra);
    }
    out.push_str("],\"data_version\":");
    out.push_str(&serde_json::Value::from(snap.version.as_str()).to_string());
    out.push('}');
    Ok(json_response("application/json", out))
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Bad lines or features reported with their message in a batch's answer; later ones are only
/// counted (`error_count`).
pub const MAX_BATCH_ERRORS: usize = 20;

/// `POST /query/points[?datetime=][&nearest=]`: a batch as CSV (`Content-Type: text/csv`),
/// GeoJSON or Parquet (`application/vnd.apache.parquet`: GeoParquet points or lon/lat columns);
/// answered in the same format. `nearest` (Parquet only) adds the nearest zones not covering
/// each point.
///
/// Guarded in two steps (see [`crate::Config`]): the body is charged to a byte budget before a
/// byte of it is read, and must arrive at the minimum rate; parsing and answering then wait for
/// one of a few batch slots and run on the blocking pool, and the answer is streamed a chunk of
/// points at a time (memory is bounded by the input, not the answer). Neither step can take the
/// slots point queries need.
pub async fn points(
    State(state): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    req: Request,
) -> Response {
    match answer_batch(state, q, req).await {
        Ok(resp) => resp,
        Err(Refused::Read(e)) => e.into_response(),
        // The body was never read: the connection cannot carry another request, so the client
        // is told (hyper closes it either way, and a client reusing it would fail).
        Err(Refused::Unread(e)) => {
            let mut resp = e.into_response();
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            resp
        }
    }
}

/// Why a batch was refused, and whether its body had been read.
enum Refused {
    Unread(ApiError),
    Read(ApiError),
}

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Self {
        Refused::Read(e)
    }
}

async fn answer_batch(
    state: Arc<AppState>,
    q: Option<String>,
    req: Request,
) -> Result<Response, Refused> {
    let params = Params::parse(
        q.as_deref(),
        &[
            "datetime",
            "as_of",
            "filter",
            "filter-lang",
            "filter-crs",
            "nearest",
        ],
    )
    .map_err(Refused::Unread)?;
    let at = instant(&params).map_err(Refused::Unread)?;
    let nearest = match params.get("nearest") {
        Some(s) => params::integer("nearest", s, 0, MAX_NEAREST).map_err(Refused::Unread)? as usize,
        None => 0,
    };
    // A filter over the zones collection: only the zones it keeps are reported. Checked before
    // the body is read, so a bad filter costs the client no upload.
    let filter = {
        let snap = state.snapshot();
        let zones = crate::oapif::find_layer(&snap, "zones").map_err(Refused::Unread)?;
        crate::oapif::request_filter(zones, &params).map_err(Refused::Unread)?
    };
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let is_csv = content_type.starts_with("text/csv") || content_type.starts_with("text/plain");
    let is_parquet = content_type.starts_with(points_parquet::MEDIA_TYPE)
        || content_type.starts_with("application/x-parquet");
    if !(is_csv || is_parquet || content_type.contains("json") || content_type.is_empty()) {
        return Err(Refused::Unread(ApiError {
            status: axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "UnsupportedMediaType",
            description: "send text/csv (lon,lat[,date][,id]), application/geo+json (a FeatureCollection of Points) or application/vnd.apache.parquet (GeoParquet points, or lon and lat columns)".into(),
        }));
    }
    if nearest > 0 && !is_parquet {
        return Err(Refused::Unread(ApiError::invalid(
            "nearest: nearest zones are answered for Parquet batches (application/vnd.apache.parquet); ask /query/point for one point",
        )));
    }
    let announced = {
        use http_body::Body as _;
        req.body().size_hint().exact()
    };
    let charge = announced
        .map_or(MAX_BODY_BYTES, |n| usize::try_from(n).unwrap_or(usize::MAX))
        .min(MAX_BODY_BYTES)
        .div_ceil(1024)
        .max(1);
    let budget = state
        .body_budget
        .clone()
        .try_acquire_many_owned(u32::try_from(charge).unwrap_or(u32::MAX))
        .map_err(|_| {
            Refused::Unread(ApiError::overloaded(
                "the server is receiving as many batches as it takes at once; retry shortly",
            ))
        })?;
    let body = crate::body::read(req.into_body(), MAX_BODY_BYTES, state.config.body_rate)
        .await
        .map_err(Refused::Unread)?;
    let slot = tokio::time::timeout(
        state.config.batch_wait,
        state.batch_slots.clone().acquire_owned(),
    )
    .await
    .ok()
    .and_then(Result::ok)
    .ok_or_else(|| {
        ApiError::overloaded("the server is answering as many batches as it can; retry shortly")
    })?;
    let limits = BatchLimits {
        max_points: MAX_BATCH_POINTS,
        max_errors: MAX_BATCH_ERRORS,
    };
    if is_parquet {
        let snap = state.snapshot_at(params.get("as_of")).await?;
        let options = points_parquet::PointsOptions {
            at,
            nearest,
            limits,
        };
        return Ok(answer_parquet(snap, body, options, filter, (slot, budget)).await?);
    }
    let parsed = tokio::task::spawn_blocking(move || {
        let text = std::str::from_utf8(&body)
            .map_err(|_| BatchRefused::Unreadable("the body is not UTF-8 text".into()))?;
        if is_csv {
            batch::parse_csv(text, limits)
        } else {
            batch::parse_geojson(text, limits)
        }
    })
    .await
    .map_err(|e| ApiError::internal(&e))?;
    let batch = parsed.map_err(|e| match e {
        BatchRefused::TooMany(n) => {
            ApiError::too_large(format!("the batch has more than {n} points; split it"))
        }
        BatchRefused::Unreadable(m) => ApiError::invalid(m),
    })?;
    let snap = state.snapshot_at(params.get("as_of")).await?;
    let (format, media) = if is_csv {
        (batch::AnswerFormat::Csv, "text/csv; charset=utf-8")
    } else {
        (
            batch::AnswerFormat::Json {
                data_version: snap.version.clone(),
            },
            "application/json",
        )
    };
    let errors = is_csv
        .then(|| batch_summary(&batch.errors, batch.error_count, "line"))
        .flatten();
    let chunks = stream_answers(snap, batch, at, format, filter, (slot, budget));
    let mut resp = Response::new(axum::body::Body::new(ChannelBody(chunks)));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    if let Some(v) = errors {
        resp.headers_mut().insert("x-batch-errors", v);
    }
    Ok(resp)
}

/// A Parquet batch: read, answered and written whole on the blocking pool (at most
/// [`MAX_BATCH_POINTS`] rows; the answer is column-encoded and compressed, a few bytes a row),
/// so the bad rows can go in the `X-Batch-Errors` header as for CSV.
async fn answer_parquet(
    snap: Arc<Snapshot>,
    body: Bytes,
    options: points_parquet::PointsOptions,
    filter: Option<crate::filter::Filter>,
    permits: (
        tokio::sync::OwnedSemaphorePermit,
        tokio::sync::OwnedSemaphorePermit,
    ),
) -> ApiResult<Response> {
    let answered = tokio::task::spawn_blocking(move || {
        let _permits = permits;
        let zones = snap.layer("zones");
        let keep = |zone: usize| match (&filter, zones) {
            (None, _) => true,
            (Some(f), Some(l)) => l.features.get(zone).is_some_and(|x| f.matches(x)),
            (Some(_), None) => false,
        };
        let mut out = Vec::new();
        points_parquet::answer_parquet(&snap.index, body, &options, &mut out, |_| {}, &keep)
            .map(|a| (a, out))
    })
    .await
    .map_err(|e| ApiError::internal(&e))?;
    let (answered, out) = answered.map_err(|e| match e {
        points_parquet::PointsError::Refused(BatchRefused::TooMany(n)) => {
            ApiError::too_large(format!("the batch has more than {n} rows; split it"))
        }
        points_parquet::PointsError::Refused(BatchRefused::Unreadable(m)) => ApiError::invalid(m),
        other => ApiError::internal(&other),
    })?;
    let mut resp = Response::new(axum::body::Body::from(out));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(points_parquet::MEDIA_TYPE),
    );
    if let Some(v) = batch_summary(&answered.errors, answered.error_count, "row") {
        resp.headers_mut().insert("x-batch-errors", v);
    }
    Ok(resp)
}

/// The bad lines of a CSV or Parquet batch, for the `X-Batch-Errors` header (JSON answers list
/// them).
fn batch_summary(
    errors: &[batch::BatchError],
    error_count: usize,
    what: &str,
) -> Option<HeaderValue> {
    if error_count == 0 {
        return None;
    }
    let mut summary: Vec<String> = errors
        .iter()
        .map(|e| format!("{what} {}: {}", e.line, e.message))
        .collect();
    let more = error_count - errors.len();
    if more > 0 {
        summary.push(format!("and {more} more"));
    }
    HeaderValue::from_str(&summary.join(" | ").replace(['\r', '\n'], " ")).ok()
}

/// Answers a batch on the blocking pool, sending the answer in chunks of about 64 KiB; the
/// channel holds a few, so a slow reader slows the answering rather than growing a buffer. The
/// batch slot is held until the last chunk is sent or the client is gone.
fn stream_answers(
    snap: Arc<Snapshot>,
    batch: Batch,
    at: Option<Date>,
    format: batch::AnswerFormat,
    filter: Option<crate::filter::Filter>,
    permits: (
        tokio::sync::OwnedSemaphorePermit,
        tokio::sync::OwnedSemaphorePermit,
    ),
) -> tokio::sync::mpsc::Receiver<Bytes> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let out = ChunkWriter {
            _slot: permits,
            tx,
            buf: Vec::with_capacity(CHUNK_BYTES),
        };
        // The zones layer lists the dataset's zones in the same order as the index, so a zone's
        // index is its feature's there.
        let zones = snap.layer("zones");
        let keep = |zone: usize| match (&filter, zones) {
            (None, _) => true,
            (Some(f), Some(l)) => l.features.get(zone).is_some_and(|x| f.matches(x)),
            (Some(_), None) => false,
        };
        if let Err(e) =
            batch::write_answers_kept(&snap.index, &batch, at, &format, out, |_| {}, &keep)
        {
            tracing::debug!(error = %e, "batch answer not finished: the client went away");
        }
    });
    rx
}
/// Bytes written per message of a streamed answer.
const CHUNK_BYTES: usize = 64 * 1024;

/// An `io::Write` that sends what is written as chunks over a channel, blocking while the
/// channel is full; fails once the receiving body is dropped (the client went away).
struct ChunkWriter {
    /// The batch slot and body budget. Declared first, so they are released before `tx` closes
    /// the answer: a client that has read the whole answer can send its next batch at once.
    _slot: (
        tokio::sync::OwnedSemaphorePermit,
        tokio::sync::OwnedSemaphorePermit,
    ),
    tx: tokio::sync::mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// A response body fed by a channel of chunks; it ends when the sender is dropped.
struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(http_body::Frame::data(c))))
    }
}

/// `GET /query/timeline?lon=&lat=`.
pub async fn timeline(
    State(state): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref(), &["lon", "lat", "as_of"])?;
    let (lon, lat) = lon_lat(&params)?;
    let snap = state.snapshot_at(params.get("as_of")).await?;
    let spans: Vec<Value> = snap
        .index
        .timeline(lon, lat)
        .into_iter()
        .map(|s| {
            json!({
                "from": s.period.from().map(|d| d.to_string()),
                "to": s.period.to().map(|d| d.to_string()),
                "zones": s.zones.iter().map(|&z| brief(&snap, z)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let body = json!({"lon": lon, "lat": lat, "spans": spans, "data_version": snap.version});
    Ok(json_response("application/json", body.to_string()))
}

/// A zone in a list: enough to name it.
fn brief(snap: &Snapshot, zone: usize) -> Value {
    let z = &snap.data.zones[zone];
    json!({
        "id": z.meta.id.fid(),
        "key": z.meta.id.as_str(),
        "name": z.meta.name,
        "actor": z.actor.as_str(),
        "kind": z.kind.as_str(),
        "valid_from": z.period.from().map(|d| d.to_string()),
        "valid_to": z.period.to().map(|d| d.to_string()),
        "confidence": z.meta.confidence.as_str(),
    })
}

/// `GET /query/changes?from=&to=`.
pub async fn changes(
    State(state): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref(), &["from", "to", "as_of"])?;
    let day = |name: &str| -> ApiResult<Date> {
        let s = params
            .get(name)
            .ok_or_else(|| ApiError::invalid(format!("{name} is required (YYYY-MM-DD)")))?;
        geodata::parse_date(s).ok_or_else(|| {
            ApiError::invalid(format!(
                "{name}: {:?} is not a date (YYYY-MM-DD)",
                crate::error::clip(s, 40)
            ))
        })
    };
    let (from, to) = (day("from")?, day("to")?);
    let snap = state.snapshot_at(params.get("as_of")).await?;
    let c = snap.index.changes(from, to);
    let body = json!({
        "from": c.from.to_string(),
        "to": c.to.to_string(),
        "began": c.began.iter().map(|&z| brief(&snap, z)).collect::<Vec<_>>(),
        "ended": c.ended.iter().map(|&z| brief(&snap, z)).collect::<Vec<_>>(),
        "changed": c.changed.iter().map(|&(a, b)| json!({"ended": brief(&snap, a), "began": brief(&snap, b)})).collect::<Vec<_>>(),
        "areas": c.areas.iter().map(|a| json!({
            "actor": a.actor.as_str(),
            "kind": a.kind.as_str(),
            "from_km2": a.from_km2.round(),
            "to_km2": a.to_km2.round(),
            "gained_km2": a.gained_km2.round(),
            "lost_km2": a.lost_km2.round(),
        })).collect::<Vec<_>>(),
        "data_version": snap.version,
    });
    Ok(json_response("application/json", body.to_string()))
}

/// `GET /actors`: who the zones belong to, with the map's colours.
pub async fn actors(JsonRead { snap, .. }: JsonRead) -> ApiResult<Response> {
    let list: Vec<Value> = snap
        .data
        .actors
        .iter()
        .map(|a| json!({"id": a.id.as_str(), "name": a.name, "colour": a.colour, "description": a.description}))
        .collect();
    // The slider's span: the zones with both ends dated (an open-ended 1974 agreement would
    // stretch it over decades), widened by the events.
    let days = snap
        .data
        .zones
        .iter()
        .filter_map(|z| z.period.from().zip(z.period.to()))
        .flat_map(|(a, b)| [a, b])
        .chain(snap.data.events.iter().map(|e| e.date));
    let span = days.fold(None, |acc: Option<(Date, Date)>, d| {
        Some(acc.map_or((d, d), |(lo, hi)| (lo.min(d), hi.max(d))))
    });
    let mut kinds: Vec<&str> = snap.data.zones.iter().map(|z| z.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let body = json!({
        "actors": list,
        "zone_kinds": kinds,
        "date_span": span.map(|(a, b)| json!([a.to_string(), b.to_string()])),
    });
    Ok(json_response("application/json", body.to_string()))
}

fn q(name: &str, required: bool, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": required, "description": description, "schema": schema})
}

/// An OpenAPI path item of one GET operation.
fn get_op(id: &str, summary: &str, parameters: Value, responses: Value) -> Value {
    json!({"get": {"summary": summary, "operationId": id, "parameters": parameters, "responses": responses}})
}

/// OpenAPI path items for the query API.
pub fn openapi_paths() -> Vec<(String, Value)> {
    let lon = q(
        "lon",
        true,
        "WGS84 longitude",
        json!({"type": "number", "minimum": -180, "maximum": 180}),
    );
    let lat = q(
        "lat",
        true,
        "WGS84 latitude",
        json!({"type": "number", "minimum": -90, "maximum": 90}),
    );
    let day = q(
        "datetime",
        false,
        "One day (YYYY-MM-DD): only zones valid that day",
        json!({"type": "string", "format": "date"}),
    );
    let ok = |d: &str, media: &str| {
        json!({"200": {"description": d, "content": {media: {"schema": {"type": "object"}}}},
        "400": {"$ref": "#/components/responses/Error"}})
    };
    vec![
        (
            "/query/point".into(),
            get_op(
                "queryPoint",
                "Zones covering a point (boundary counts, and is flagged), and the nearest zones not covering it, with geodesic distances in km",
                json!([
                    lon,
                    lat,
                    day,
                    q(
                        "nearest",
                        false,
                        "How many nearest zones to list (0..50)",
                        json!({"type": "integer", "minimum": 0, "maximum": MAX_NEAREST, "default": 3})
                    ),
                    q(
                        "geometry",
                        false,
                        "Include each covering zone's geometry",
                        json!({"type": "boolean", "default": false})
                    )
                ]),
                ok("Covering and nearest zones", "application/json"),
            ),
        ),
        (
            "/query/points".into(),
            json!({"post": {
            "summary": format!("A batch of up to {MAX_BATCH_POINTS} points, as CSV (lon,lat[,date][,id], header allowed), a GeoJSON FeatureCollection of Points or (Geo)Parquet; answered in the same format. Bad lines are reported, the rest answered."),
            "operationId": "queryPoints",
            "description": "`filter` (with `filter-lang` and `filter-crs`) is a CQL2 filter over the zones collection's queryables, as on /collections/zones/items: only the zones it keeps are reported as covering. \
                A Parquet body (GeoParquet points in WKB or GeoArrow point encoding, or `lon`/`lat` columns; a `date` column gives each point its day) is answered as Parquet: every input column, then `zones` (a list of the covering zones' ids; null for a row that could not be read, listed in `X-Batch-Errors`) and, with `nearest=N`, `nearest` (a list of `{key, distance_km}`).",
            "parameters": [day,
                q("nearest", false, "Parquet batches: how many nearest zones not covering each point to add (0..50)", json!({"type": "integer", "minimum": 0, "maximum": MAX_NEAREST, "default": 0})),
                {"$ref": "#/components/parameters/filter"},
                {"$ref": "#/components/parameters/filter-lang"},
                {"$ref": "#/components/parameters/filter-crs"}],
            "requestBody": {"required": true, "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/geo+json": {"schema": {"type": "object"}},
                "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}}}},
            "responses": {"200": {"description": "One answer per point", "content": {
                "application/json": {"schema": {"type": "object"}}, "text/csv": {"schema": {"type": "string"}},
                "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}}}},
                "400": {"$ref": "#/components/responses/Error"}, "413": {"$ref": "#/components/responses/Error"}}}}),
        ),
        (
            "/query/timeline".into(),
            get_op(
                "queryTimeline",
                "A point's history: the periods over which the set of zones covering it stays the same",
                json!([
                    q("lon", true, "WGS84 longitude", json!({"type": "number"})),
                    q("lat", true, "WGS84 latitude", json!({"type": "number"}))
                ]),
                ok("The spans", "application/json"),
            ),
        ),
        (
            "/query/changes".into(),
            get_op(
                "queryChanges",
                "Zones that began, ended or changed between two days, and per actor and kind the area gained and lost (geodesic km²)",
                json!([
                    q(
                        "from",
                        true,
                        "The earlier day",
                        json!({"type": "string", "format": "date"})
                    ),
                    q(
                        "to",
                        true,
                        "The later day",
                        json!({"type": "string", "format": "date"})
                    )
                ]),
                ok("What changed", "application/json"),
            ),
        ),
        (
            "/actors".into(),
            json!({"get": {"summary": "The actors with their colours, and the data's date span", "operationId": "actors",
            "responses": ok("The actors", "application/json")}}),
        ),
        (
            "/map/{collection}".into(),
            get_op(
                "mapLayer",
                "Features for display: in a box, valid on a date, simplified for a zoom level (not for analysis: use /collections/{id}/items)",
                json!([{"name": "collection", "in": "path", "required": true, "schema": {"type": "string"}},
                {"$ref": "#/components/parameters/bbox"}, {"$ref": "#/components/parameters/datetime"},
                q("zoom", false, "Web map zoom level (0..22)", json!({"type": "integer", "minimum": 0, "maximum": 22}))]),
                ok("A FeatureCollection", "application/geo+json"),
            ),
        ),
        (
            "/tiles/{collection}/{z}/{x}/{y}.mvt".into(),
            json!({"get": {
            "summary": "A layer as a Mapbox Vector Tile (Web Mercator z/x/y, extent 4096), for display: features whose envelope meets the tile, valid on a date, clipped and simplified to a pixel (smaller ones as one-pixel squares); properties key, kind, actor, colour, confidence. A collection's `zonetrack:tiles` says whether the map draws it from tiles.",
            "operationId": "mapTile",
            "parameters": [{"name": "collection", "in": "path", "required": true, "schema": {"type": "string"}},
                {"name": "z", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 0, "maximum": crate::tiles::MAX_ZOOM}},
                {"name": "x", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 0}},
                {"name": "y", "in": "path", "required": true, "description": "The row (0 at the north); the path segment is `{y}.mvt`", "schema": {"type": "integer", "minimum": 0}},
                {"$ref": "#/components/parameters/datetime"},
                {"$ref": "#/components/parameters/as_of"}],
            "responses": {"200": {"description": "The tile (empty when nothing is in it)",
                "content": {crate::tiles::MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}},
                "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}}}),
        ),
    ]
}
