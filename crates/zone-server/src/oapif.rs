//! OGC API - Features Part 1 (Core, GeoJSON, OpenAPI 3.0): landing page, conformance,
//! collections, items and single features, shaped for what QGIS and GDAL read
//! (absolute links, `numberMatched`, `next` links keeping every parameter, integer ids, CRS84);
//! with Part 2's `crs`/`bbox-crs` (see `crs`) and Part 3's queryables and `filter` (see
//! `filter`) on items.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use zone_index::Selection;

use crate::error::{ApiError, ApiResult};
use crate::params::{self, Params};
use crate::snapshot::{Layer, Snapshot};
use crate::state::JsonRead;
use crate::{AppState, web};

use crate::crs::{CRS84, Crs};
use crate::filter::{self, Filter};

/// The OpenAPI media type QGIS looks for on the `service-desc` link.
pub const OPENAPI_JSON: &str = "application/vnd.oai.openapi+json;version=3.0";
/// Page size when the client gives none.
pub const DEFAULT_LIMIT: u64 = 100;
/// Largest page: bigger requests are clamped to it (OGC API - Features permits clamping).
pub const MAX_LIMIT: u64 = 10_000;

pub(crate) const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    // Part 4: creating, replacing, updating (merge patch) and deleting features.
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
];

pub(crate) fn json_response(content_type: &'static str, body: String) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Whether the client wants HTML: `f=html`, or a browser's Accept header; `*/*` and JSON
/// clients (QGIS, GDAL, OWSLib) get JSON.
fn wants_html(params: &Params, headers: &HeaderMap) -> ApiResult<bool> {
    match params.get("f") {
        Some("html") => return Ok(true),
        Some("json") => return Ok(false),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "f: {:?} is not a format here; use f=json or f=html",
                crate::error::clip(other, 20)
            )));
        }
        None => {}
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Ok(accept.contains("text/html"))
}

fn link(href: String, rel: &str, ty: &str, title: &str) -> Value {
    json!({"href": href, "rel": rel, "type": ty, "title": title})
}

/// `GET /`: the map for browsers, the OGC API landing page for everyone else.
pub async fn landing(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref(), &["f"])?;
    // One URL, two representations chosen by `Accept`: caches must key on it.
    let vary = |mut resp: Response| {
        resp.headers_mut()
            .append(header::VARY, HeaderValue::from_static("accept"));
        resp
    };
    if wants_html(&params, &headers)? {
        return Ok(vary(web::index()));
    }
    let base = state.base_url(&headers);
    let body = json!({
        "title": "zonetrack",
        "description": "Where armed forces are present and who controls what, over time. \
            Geometry is approximate: every feature carries sources, confidence and method.",
        "links": [
            link(format!("{base}/"), "self", "application/json", "This document"),
            link(format!("{base}/?f=html"), "alternate", "text/html", "The map"),
            link(format!("{base}/api"), "service-desc", OPENAPI_JSON, "The API definition (OpenAPI 3.0)"),
            link(format!("{base}/api.html"), "service-doc", "text/html", "The API documentation"),
            link(format!("{base}/conformance"), "conformance", "application/json", "Conformance classes"),
            link(format!("{base}/collections"), "data", "application/json", "The collections"),
        ],
    });
    Ok(vary(json_response("application/json", body.to_string())))
}

/// `GET /conformance`.
pub async fn conformance(RawQuery(q): RawQuery) -> ApiResult<Response> {
    crate::params::json_only(q.as_deref())?;
    Ok(json_response(
        "application/json",
        json!({ "conformsTo": CONFORMANCE.iter().chain(filter::CONFORMANCE).collect::<Vec<_>>() })
            .to_string(),
    ))
}

fn collection_json(layer: &Layer, base: &str) -> Value {
    let mut doc = collection_doc(layer, base);
    // The tracked layers are drawn by actor and kind; only reference layers carry a style.
    if layer.info.role == geodata::LayerRole::Reference {
        doc["zonetrack:style"] = layer.info.style.to_json();
    }
    // Where the layer's vector tiles are, and whether the map should draw it from them.
    doc["zonetrack:tiles"] = crate::tiles::advert(layer, base);
    doc
}

fn collection_doc(layer: &Layer, base: &str) -> Value {
    let bbox = layer
        .bbox
        .map_or(json!([[-180.0, -90.0, 180.0, 90.0]]), |b| json!([b]));
    let day = |d: Option<geodata::Date>| d.map_or(Value::Null, |d| json!(format!("{d}T00:00:00Z")));
    let mut links = vec![
        link(
            format!("{base}/collections/{}", layer.name),
            "self",
            "application/json",
            "This collection",
        ),
        link(
            format!("{base}/collections/{}/items", layer.name),
            "items",
            "application/geo+json",
            "The features",
        ),
        link(
            format!("{base}/collections/{}/queryables", layer.name),
            filter::REL_QUERYABLES,
            SCHEMA_JSON,
            "What filters can use",
        ),
    ];
    // Every file the layer can be had as: the map's export list and QGIS read these.
    for f in zone_formats::Format::for_layer(&layer.info) {
        links.push(link(
            format!("{base}/export/{}.{}", layer.name, f.extension()),
            f.rel(),
            f.media_type(),
            &format!("Download as {}", f.title()),
        ));
    }
    json!({
        "id": layer.name,
        "title": layer.title,
        "description": layer.description,
        "itemType": "feature",
        // zonetrack's own: what the layer is for and how the map draws it, so a client (the
        // map among them) needs no list of layer names.
        "zonetrack:role": layer.info.role.as_str(),
        "zonetrack:geometry": layer.geometry_type,
        "crs": Crs::ALL.map(Crs::uri),
        "storageCrs": CRS84,
        "itemCount": layer.features.len(),
        "extent": {
            "spatial": {"bbox": bbox, "crs": CRS84},
            "temporal": {
                "interval": [[day(layer.interval.0), day(layer.interval.1)]],
                "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
            }
        },
        "links": links,
    })
}

pub(crate) fn find_layer<'a>(snap: &'a Snapshot, name: &str) -> ApiResult<&'a Layer> {
    snap.layer(name).ok_or_else(|| {
        let shown = crate::error::clip(name, 80);
        ApiError::not_found(format!(
            "no collection {shown:?}; collections are: {}",
            snap.layers
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// `GET /collections`.
pub async fn collections(JsonRead { snap, base }: JsonRead) -> ApiResult<Response> {
    let body = json!({
        "links": [link(format!("{base}/collections"), "self", "application/json", "The collections")],
        "collections": snap.layers.iter().map(|l| collection_json(l, &base)).collect::<Vec<_>>(),
    });
    Ok(json_response("application/json", body.to_string()))
}

/// `GET /collections/{id}`.
pub async fn collection(
    Path(name): Path<String>,
    JsonRead { snap, base }: JsonRead,
) -> ApiResult<Response> {
    let layer = find_layer(&snap, &name)?;
    Ok(json_response(
        "application/json",
        collection_json(layer, &base).to_string(),
    ))
}

/// The features of a layer that pass the request's filters, in file order: `bbox` (in
/// `bbox-crs`), `datetime`, the equality filters and a CQL2 `filter`, whose spatial predicates
/// narrow the R-tree's search.
pub(crate) fn matching(layer: &Layer, params: &Params) -> ApiResult<Vec<usize>> {
    let bbox_crs = params
        .get("bbox-crs")
        .map(|s| Crs::parse("bbox-crs", s))
        .transpose()?
        .unwrap_or(Crs::Crs84);
    let bbox = params
        .get("bbox")
        .map(|b| params::bbox_in(b, bbox_crs))
        .transpose()?;
    let datetime = params::datetimes(params.get_all("datetime"))?;
    let mut equals: Vec<(&str, &str)> = Vec::new();
    for &name in layer.filters {
        if let Some(v) = params.get(name) {
            equals.push((name, v));
        }
    }
    // Other queryables given as parameters become `name = value` conditions of the filter.
    let others: Vec<(&str, &str)> = params
        .pairs()
        .iter()
        .filter(|(k, _)| !is_standard_item_param(k) && !layer.filters.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let filter = match (
        request_filter(layer, params)?,
        Filter::equalities(layer, &others)?,
    ) {
        (Some(a), Some(b)) => Some(a.and(b)),
        (a, b) => a.or(b),
    };
    Ok(select(layer, bbox, datetime, &equals, filter))
}

/// Selects `layer`'s features through its index (file order): the R-tree answers for the bbox
/// and the filter's spatial bounds; the date, the equality filters and the filter test the
/// candidates.
pub(crate) fn select(
    layer: &Layer,
    bbox: Option<zone_index::Bbox>,
    datetime: Option<params::DateFilter>,
    equals: &[(&str, &str)],
    filter: Option<Filter>,
) -> Vec<usize> {
    let (bbox, filter) = match (bbox, filter) {
        (None, Some(f)) => f.take_box(),
        other => other,
    };
    let filter = filter.as_ref();
    let envelopes = filter.and_then(Filter::envelopes);
    let keep = filter.map(|f| move |i: usize| layer.features.get(i).is_some_and(|x| f.matches(x)));
    let when = datetime.map(|d| move |p: &geodata::Period| d.matches(p));
    layer.index.select(
        &layer.features,
        &Selection {
            bbox,
            exact: true,
            when: when
                .as_ref()
                .map(|w| w as &dyn Fn(&geodata::Period) -> bool),
            equals,
            envelopes: envelopes.as_deref(),
            keep: keep.as_ref().map(|k| k as &dyn Fn(usize) -> bool),
        },
    )
}

/// The request's CQL2 filter (`filter`, `filter-lang`, `filter-crs`) over `layer`, if any.
pub(crate) fn request_filter(layer: &Layer, params: &Params) -> ApiResult<Option<Filter>> {
    let lang = filter::Lang::parse(params.get("filter-lang"))?;
    let crs = params
        .get("filter-crs")
        .map(|s| Crs::parse("filter-crs", s))
        .transpose()?
        .unwrap_or(Crs::Crs84);
    match params.get("filter") {
        None => {
            if params.get("filter-lang").is_some() || params.get("filter-crs").is_some() {
                return Err(ApiError::invalid(
                    "filter-lang and filter-crs describe a filter; give the filter too",
                ));
            }
            Ok(None)
        }
        Some(text) => Filter::parse(layer, text, lang, crs).map(Some),
    }
}

/// The parameters of a CQL2 filter, taken wherever features are selected.
pub(crate) const FILTER_PARAMS: [&str; 3] = ["filter", "filter-lang", "filter-crs"];

/// The parameters `/collections/{id}/items` takes for every layer.
const STANDARD_ITEM_PARAMS: [&str; 8] = [
    "limit", "offset", "bbox", "bbox-crs", "datetime", "crs", "as_of", "f",
];

/// Whether `name` is one of the parameters every items request takes.
fn is_standard_item_param(name: &str) -> bool {
    STANDARD_ITEM_PARAMS.contains(&name) || FILTER_PARAMS.contains(&name)
}

/// The parameters `/collections/{id}/items` accepts for this layer: the standard ones and each
/// queryable with a simple value (the equality filters among them), as Part 3's "Queryables as
/// query parameters" asks.
pub(crate) fn item_params(layer: &Layer) -> Vec<String> {
    let mut allowed: Vec<String> = STANDARD_ITEM_PARAMS
        .iter()
        .chain(&FILTER_PARAMS)
        .map(|s| (*s).to_owned())
        .collect();
    for q in filter::queryables(layer) {
        if q.is_simple() && !allowed.contains(&q.name) {
            allowed.push(q.name.clone());
        }
    }
    allowed
}

/// The media type of JSON Schema documents (queryables).
pub(crate) const SCHEMA_JSON: &str = "application/schema+json";

/// `GET /collections/{id}/queryables`: a JSON Schema of what `filter` can use.
pub async fn queryables(
    Path(name): Path<String>,
    JsonRead { snap, base }: JsonRead,
) -> ApiResult<Response> {
    let layer = find_layer(&snap, &name)?;
    let id = format!("{base}/collections/{}/queryables", layer.name);
    let doc = filter::queryables_doc(layer, &id);
    Ok(json_response(SCHEMA_JSON, doc.to_string()))
}

/// The `crs` parameter: the CRS answers are given in (CRS84 when left out).
fn output_crs(params: &Params) -> ApiResult<Crs> {
    params
        .get("crs")
        .map(|s| Crs::parse("crs", s))
        .transpose()
        .map(|c| c.unwrap_or(Crs::Crs84))
}

/// A feature's GeoJSON in `crs`: the text made once per snapshot for CRS84, made anew otherwise.
fn feature_json(layer: &Layer, i: usize, crs: Crs) -> std::borrow::Cow<'_, str> {
    if crs == Crs::Crs84 {
        return std::borrow::Cow::Borrowed(&layer.json[i]);
    }
    let f = &layer.features[i];
    let mut v = f.to_json();
    v["geometry"] = geodata::geometry_json(&crs.project_geometry(&f.geometry));
    std::borrow::Cow::Owned(v.to_string())
}

/// Part 2's `Content-Crs` header, the CRS's URI in angle brackets.
fn content_crs(resp: &mut Response, crs: Crs) {
    if let Ok(v) = HeaderValue::from_str(&format!("<{}>", crs.uri())) {
        resp.headers_mut().insert("content-crs", v);
    }
}

/// `GET /collections/{id}/items`.
pub async fn items(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let current = state.snapshot();
    let allowed = item_params(find_layer(&current, &name)?);
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    let params = Params::parse_repeatable(q.as_deref(), &allowed, &["datetime"])?;
    let snap = state.snapshot_at(params.get("as_of")).await?;
    let layer = find_layer(&snap, &name)?;
    geojson_only(&params, "items")?;
    // Larger limits are clamped rather than refused, as OGC API - Features permits; the
    // OpenAPI document says so.
    let limit = match params.get("limit") {
        Some(s) => match s.trim().parse::<u64>() {
            Ok(n) if n >= 1 => n.min(MAX_LIMIT),
            _ => {
                return Err(ApiError::invalid(format!(
                    "limit: {:?} is not a whole number of at least 1 (values above {MAX_LIMIT} are clamped to {MAX_LIMIT})",
                    crate::error::clip(s, 40)
                )));
            }
        },
        None => DEFAULT_LIMIT,
    } as usize;
    let offset = match params.get("offset") {
        Some(s) => params::integer("offset", s, 0, u64::MAX)?,
        None => 0,
    };
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    let crs = output_crs(&params)?;
    let matched = matching(layer, &params)?;
    let page: Vec<usize> = matched.iter().copied().skip(offset).take(limit).collect();
    let base = state.base_url(&headers);
    let items_url = format!("{base}/collections/{}/items", layer.name);
    let mut links = vec![
        link(
            format!("{items_url}?{}", params.with("offset", &offset.to_string())),
            "self",
            "application/geo+json",
            "This page",
        ),
        link(
            format!("{base}/collections/{}", layer.name),
            "collection",
            "application/json",
            "The collection",
        ),
    ];
    if offset.saturating_add(limit) < matched.len() {
        let next = params.with_all(&[
            ("offset", &(offset + limit).to_string()),
            ("limit", &limit.to_string()),
        ]);
        links.push(link(
            format!("{items_url}?{next}"),
            "next",
            "application/geo+json",
            "Next page",
        ));
    }
    if offset > 0 {
        let prev = params.with_all(&[
            ("offset", &offset.saturating_sub(limit).to_string()),
            ("limit", &limit.to_string()),
        ]);
        links.push(link(
            format!("{items_url}?{prev}"),
            "prev",
            "application/geo+json",
            "Previous page",
        ));
    }
    // The Link header carries this page's and the queryables' links for clients that read
    // headers rather than bodies (ogctests finds the items' media types and the queryables so).
    let link_header = format!(
        "<{items_url}?{}>; rel=\"self\"; type=\"application/geo+json\", <{base}/collections/{}/queryables>; rel=\"{}\"; type=\"{SCHEMA_JSON}\"",
        params.with("offset", &offset.to_string()),
        layer.name,
        filter::REL_QUERYABLES
    );
    let mut body =
        String::with_capacity(256 + page.iter().map(|&i| layer.json[i].len() + 1).sum::<usize>());
    // No `timeStamp` (it is optional): a page is kept and sent again for as long as the data
    // version holds, so a stamp would be when it was first built, not when it was sent, and
    // stamping each answer would break the strong ETag that equal bytes give (issue 16).
    let _ = write!(
        body,
        "{{\"type\":\"FeatureCollection\",\"numberMatched\":{},\"numberReturned\":{},\"links\":{},\"features\":[",
        matched.len(),
        page.len(),
        Value::Array(links)
    );
    for (n, &i) in page.iter().enumerate() {
        if n > 0 {
            body.push(',');
        }
        body.push_str(&feature_json(layer, i, crs));
    }
    body.push_str("]}");
    let mut resp = json_response("application/geo+json", body);
    content_crs(&mut resp, crs);
    if let Ok(v) = HeaderValue::from_str(&link_header) {
        resp.headers_mut().insert(header::LINK, v);
    }
    Ok(resp)
}

/// Refuses an `f` other than JSON: features are served as GeoJSON only.
fn geojson_only(params: &Params, what: &str) -> ApiResult<()> {
    match params.get("f") {
        Some(f) if f != "json" && f != "geojson" => Err(ApiError::invalid(format!(
            "f: {what} are served as GeoJSON only (f=json); got {:?}",
            crate::error::clip(f, 20)
        ))),
        _ => Ok(()),
    }
}

/// `GET /collections/{id}/items/{featureId}`: by integer id, or by readable id (`key`).
pub async fn item(
    State(state): State<Arc<AppState>>,
    Path((name, feature)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref(), &["f", "crs", "as_of"])?;
    geojson_only(&params, "features")?;
    let crs = output_crs(&params)?;
    let snap = state.snapshot_at(params.get("as_of")).await?;
    let base = state.base_url(&headers);
    let layer = find_layer(&snap, &name)?;
    let index = feature
        .parse::<u32>()
        .ok()
        .and_then(|fid| layer.by_fid.get(&fid))
        .or_else(|| layer.by_key.get(&feature))
        .copied()
        .ok_or_else(|| {
            let shown = crate::error::clip(&feature, 80);
            ApiError::not_found(format!(
                "no feature {shown:?} in collection {:?}",
                layer.name
            ))
        })?;
    let f = &layer.features[index];
    let mut v = f.to_json();
    v["geometry"] = geodata::geometry_json(&crs.project_geometry(&f.geometry));
    v["links"] = json!([
        link(
            format!("{base}/collections/{}/items/{}", layer.name, f.fid),
            "self",
            "application/geo+json",
            "This feature"
        ),
        link(
            format!("{base}/collections/{}", layer.name),
            "collection",
            "application/json",
            "The collection"
        ),
    ]);
    let mut resp = json_response("application/geo+json", v.to_string());
    let tag = crate::write::feature_etag(snap.feature_revision(&layer.name, &f.key));
    if let Ok(v) = axum::http::HeaderValue::from_str(&tag) {
        resp.headers_mut().insert(axum::http::header::ETAG, v);
    }
    content_crs(&mut resp, crs);
    Ok(resp)
}
