//! The OpenAPI 3.0 document, generated from the current snapshot so that every concrete
//! `/collections/<id>/items` path lists its parameters: `limit` by `$ref` to
//! `components.parameters.limit` (GDAL and QGIS read page sizes only from there) and the
//! equality filters, which QGIS then sends to the server.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use geodata::{Confidence, ZoneKind};
use serde_json::{Map, Value, json};

use crate::error::ApiResult;
use crate::oapif::{DEFAULT_LIMIT, MAX_LIMIT, OPENAPI_JSON, json_response};
use crate::snapshot::Snapshot;
use crate::state::JsonRead;
use crate::{AppState, extra_paths};

fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/parameters/{name}")})
}

fn ok(description: &str, media: &str) -> Value {
    json!({"200": {"description": description, "content": {media: {"schema": {"type": "object"}}}},
           "400": {"$ref": "#/components/responses/Error"},
           "404": {"$ref": "#/components/responses/Error"}})
}

fn filter_param(name: &str, values: Vec<String>, what: &str) -> Value {
    json!({
        "name": name, "in": "query", "required": false, "style": "form", "explode": false,
        "description": format!("Only features whose `{name}` equals this value ({what})."),
        "schema": {"type": "string", "enum": values}
    })
}

/// Builds the document for `snap`, with links rooted at `base`.
pub fn build(snap: &Snapshot, base: &str) -> Value {
    let mut paths = Map::new();
    paths.insert("/".into(), json!({"get": {"summary": "Landing page (JSON), or the map for browsers", "operationId": "getLandingPage",
        "parameters": [r("f")], "responses": ok("The landing page", "application/json")}}));
    paths.insert(
        "/conformance".into(),
        json!({"get": {"summary": "Conformance classes", "operationId": "getConformance",
        "responses": ok("The conformance classes", "application/json")}}),
    );
    paths.insert(
        "/collections".into(),
        json!({"get": {"summary": "The collections", "operationId": "getCollections",
        "responses": ok("The collections", "application/json")}}),
    );
    let actors: Vec<String> = snap.data.actors.iter().map(|a| a.id.to_string()).collect();
    let kinds: Vec<String> = ZoneKind::ALL
        .iter()
        .map(|k| k.as_str().to_owned())
        .collect();
    let confidences: Vec<String> = Confidence::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    for layer in &snap.layers {
        let id = &layer.name;
        paths.insert(
            format!("/collections/{id}"),
            json!({"get": {
            "summary": format!("The {id} collection"), "operationId": format!("describe_{id}"),
            "responses": ok("The collection", "application/json")}}),
        );
        let mut params = vec![
            r("limit"),
            r("offset"),
            r("bbox"),
            r("bbox-crs"),
            r("datetime"),
            r("crs"),
            r("filter"),
            r("filter-lang"),
            r("filter-crs"),
            r("as_of"),
        ];
        for &f in layer.filters {
            let values: Vec<String> = match (f, id.as_str()) {
                ("actor", _) => actors.clone(),
                ("kind", "zones") => kinds.clone(),
                ("kind", _) => {
                    let mut v: Vec<String> = layer
                        .features
                        .iter()
                        .filter_map(|x| {
                            x.properties
                                .get("kind")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        })
                        .collect();
                    v.sort();
                    v.dedup();
                    v
                }
                _ => confidences.clone(),
            };
            params.push(filter_param(f, values, "exact match"));
        }
        // Every other queryable with one simple value is a query parameter too (Part 3's
        // "Queryables as query parameters"); QGIS and GDAL send equality filters on them.
        for q in crate::filter::queryables(layer) {
            if q.is_simple() && !layer.filters.contains(&q.name.as_str()) {
                params.push(json!({
                    "name": q.name, "in": "query", "required": false, "style": "form", "explode": false,
                    "description": format!("Only features whose `{}` equals this value (a queryable).", q.name),
                    "schema": q.schema(layer.geometry_type)
                }));
            }
        }
        let mut items = json!({"get": {
            "summary": format!("Features of {id}"), "operationId": format!("getFeatures_{id}"),
            "description": format!("GeoJSON features of {id}, paged. A limit above {MAX_LIMIT} is clamped to {MAX_LIMIT}. `datetime` keeps features whose validity period shares a day with the instant or interval."),
            "parameters": params,
            "responses": ok("A page of features", "application/geo+json")}});
        let mut item = json!({"get": {
            "summary": format!("One feature of {id}"), "operationId": format!("getFeature_{id}"),
            "description": "Its `ETag` is the revision that last changed it (`\"r12\"`): send it back in `If-Match` to write only over what you read.",
            "parameters": [r("featureId"), r("crs"), r("as_of")],
            "responses": ok("The feature", "application/geo+json")}});
        if geodata::EDITABLE_LAYERS.contains(&id.as_str()) {
            crate::write::openapi_operations(id, &mut items, &mut item);
        }
        paths.insert(format!("/collections/{id}/items"), items);
        paths.insert(format!("/collections/{id}/items/{{featureId}}"), item);
        paths.insert(
            format!("/collections/{id}/queryables"),
            json!({"get": {
            "summary": format!("What filters on {id} can use"), "operationId": format!("getQueryables_{id}"),
            "description": "A JSON Schema of the properties a CQL2 `filter` can name (OGC API - Features Part 3).",
            "responses": ok("The queryables", crate::oapif::SCHEMA_JSON)}}),
        );
    }
    let mut export_responses = json!({"400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}});
    let mut content = serde_json::Map::new();
    for f in zone_formats::Format::ALL {
        let media = f.media_type().split(';').next().unwrap_or("").trim();
        content.insert(
            media.into(),
            json!({"schema": {"type": "string", "format": "binary"}}),
        );
    }
    export_responses["200"] = json!({"description": "The file", "content": content});
    let formats: Vec<String> = zone_formats::Format::ALL
        .iter()
        .map(|f| format!("{{collection}}.{} ({})", f.extension(), f.title()))
        .collect();
    paths.insert("/export/{file}".into(), json!({"get": {
        "summary": format!("Download a layer as a file: {}", formats.join(", ")),
        "description": "Every feature of the collection, or those valid on `datetime`, with exact geometry. \
            `.geojson`: RFC 7946, the integer id as `id`, the readable id as `key`. \
            `.fgb`: FlatGeobuf in EPSG:4326 with the layer's one geometry type and a packed Hilbert R-tree \
            spatial index (features stored in its order), an integer `fid` column, then one column per \
            GeoJSON property (text, integer, real or boolean; arrays and objects such as `sources` as JSON text). \
            `.gpkg`: GeoPackage 1.4 in EPSG:4326, the integer id as the `fid` primary key, typed columns \
            (dates as DATE). \
            `.parquet`: GeoParquet 1.1, the geometry as WKB with a `bbox` covering column, an integer `fid` column, \
            typed columns (dates such as `valid_from`/`valid_to` as dates), for DuckDB, SedonaDB, BigQuery or Apache Sedona. \
            `.qml`: a QGIS style in the map's colours (save it beside the data file under the same name). \
            `.csv`: point layers only, `id,lon,lat` then every property. \
            Each collection's links list the files it can be had as.",
        "operationId": "export",
        "parameters": [{"name": "file", "in": "path", "required": true, "schema": {"type": "string"}, "example": "zones.geojson"}, r("datetime"), r("filter"), r("filter-lang"), r("filter-crs")],
        "responses": export_responses}}));
    paths.insert(
        "/health".into(),
        json!({"get": {"summary": "Readiness and the loaded data version", "operationId": "health",
        "responses": ok("The server is ready", "application/json")}}),
    );
    for (path, item) in crate::write::openapi_paths() {
        paths.insert(path, item);
    }
    let crs_uris = crate::crs::Crs::ALL.map(crate::crs::Crs::uri);
    for (path, item) in extra_paths() {
        paths.insert(path, item);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "zonetrack",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Where armed forces are present and who controls what, over time: OGC API - Features, \
                a query API (zones covering a point, nearest zones, timelines, changes) and exports. \
                Coordinates are WGS84 lon/lat (CRS84). Geometry is approximate; every feature carries sources, confidence and method.",
            "license": {"name": "Data: see the data set's README; code: MIT OR Apache-2.0"}
        },
        "servers": [{"url": base}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An editor's token (`zonetrack editors add`)."},
                "basic": {"type": "http", "scheme": "basic", "description": "The editor's name and token (as QGIS's authentication manager sends them)."}
            },
            "parameters": {
                "limit": {"name": "limit", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": format!("Features per page (1..{MAX_LIMIT}; larger values are clamped)."),
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
                "offset": {"name": "offset", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "Features to skip.", "schema": {"type": "integer", "minimum": 0, "default": 0}},
                "bbox": {"name": "bbox", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "min_lon,min_lat,max_lon,max_lat (CRS84, or bbox-crs), or six numbers with the heights after each corner's latitude (ignored).",
                    "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}},
                "bbox-crs": {"name": "bbox-crs", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "The CRS of bbox (OGC API - Features Part 2); CRS84 when left out.",
                    "schema": {"type": "string", "format": "uri", "enum": crs_uris}},
                "crs": {"name": "crs", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "The CRS of the geometries answered (OGC API - Features Part 2): CRS84 (lon, lat; the default), EPSG:4326 (lat, lon) or EPSG:3857 (metres). The Content-Crs header names it.",
                    "schema": {"type": "string", "format": "uri", "enum": crs_uris}},
                "filter": {"name": "filter", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "A CQL2 filter (OGC API - Features Part 3) over the collection's queryables (/collections/{id}/queryables): comparisons, LIKE, BETWEEN, IN, IS NULL, the S_* spatial functions on `geometry` and the T_* temporal functions on the validity period `valid`, joined by AND, OR, NOT. Example: actor = 'iran' AND T_INTERSECTS(valid, INTERVAL('2018-02-01','2018-03-01')). A filter that cannot be read or names an unknown property is a 400 saying where.",
                    "schema": {"type": "string"}},
                "filter-lang": {"name": "filter-lang", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "The encoding of filter.",
                    "schema": {"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"}},
                "filter-crs": {"name": "filter-crs", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "The CRS of the geometries in filter; CRS84 when left out.",
                    "schema": {"type": "string", "format": "uri", "enum": crs_uris}},
                "datetime": {"name": "datetime", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "A day or date-time, or an interval `start/end` with `..` or an empty string for an open end.",
                    "schema": {"type": "string"}, "example": "2018-02-07"},
                "as_of": {"name": "as_of", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "Answer with the data as it stood at this revision (a number), or at this time (RFC 3339): what the data said then. `datetime` is when a zone held on the ground; `as_of` is what was known.",
                    "schema": {"type": "string"}, "example": "12"},
                "featureId": {"name": "featureId", "in": "path", "required": true,
                    "description": "Integer id, or the readable id (`key`).", "schema": {"type": "string"}},
                "f": {"name": "f", "in": "query", "required": false, "schema": {"type": "string", "enum": ["json", "html"]}}
            },
            "responses": {
                "Error": {"description": "An error", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["code", "description"],
                    "properties": {"code": {"type": "string"}, "description": {"type": "string"}}}}}}
            }
        }
    })
}

/// `GET /api`: the OpenAPI document as JSON.
pub async fn document(JsonRead { snap, base }: JsonRead) -> ApiResult<Response> {
    Ok(json_response(OPENAPI_JSON, build(&snap, &base).to_string()))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /api.html`: the same document as a plain page a person can read.
pub async fn page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let snap = state.snapshot();
    let base = state.base_url(&headers);
    let doc = build(&snap, &base);
    let mut rows = String::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for (method, op) in item.as_object().into_iter().flatten() {
                let summary = op["summary"].as_str().unwrap_or("");
                rows.push_str(&format!(
                    "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>\n",
                    method.to_uppercase(),
                    escape(path),
                    escape(summary)
                ));
            }
        }
    }
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>zonetrack API</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <style>body{{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}\
         td{{padding:.2rem .6rem;vertical-align:top}}tr:nth-child(odd){{background:#f4f4f4}}</style></head><body>\
         <h1>zonetrack API</h1><p>OGC API - Features (Part 1) plus a query API. The machine-readable \
         definition is <a href=\"{b}/api\">{b}/api</a> (OpenAPI 3.0). In QGIS, add a WFS / OGC API - Features \
         connection with the URL <code>{b}</code>.</p><table>{rows}</table></body></html>",
        b = escape(&base)
    );
    let mut resp = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    crate::web::document_headers(&mut resp);
    resp
}
