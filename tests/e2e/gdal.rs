//! GDAL as a real client: exported files and the live OGC API - Features service open in
//! `ogrinfo`/`ogr2ogr` with the right layers, counts and geometry types.

use std::process::Command;

use e2e::{Server, TempDir, check_output, ogr_summary, require_tool, run};

/// GDAL's names for our geometry types.
fn gdal_type(geojson: &str) -> &'static str {
    match geojson {
        "MultiPolygon" => "Multi Polygon",
        "MultiLineString" => "Multi Line String",
        "Point" => "Point",
        other => panic!("unexpected geometry type {other}"),
    }
}

#[test]
fn every_exported_layer_opens_in_ogrinfo_with_its_count_and_type() {
    let ogrinfo = require_tool("ogrinfo", "gdal-bin");
    let server = Server::start(&[]);
    let collections = server.get_json("/collections");
    let dir = TempDir::new("gdal-export");
    for c in collections["collections"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let expected = c["itemCount"].as_u64().unwrap();
        // The file's extension names the format.
        for ext in ["geojson", "fgb", "gpkg"] {
            let file = dir.0.join(format!("{id}.{ext}"));
            let out = run(&["export", "--layer", id, "--out", file.to_str().unwrap()]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = check_output(Command::new(&ogrinfo).args(["-al", "-so"]).arg(&file));
            let driver = match ext {
                "fgb" => "FlatGeobuf",
                "gpkg" => "GPKG",
                _ => "GeoJSON",
            };
            assert!(
                text.contains(&format!("driver `{driver}'")),
                "{id}.{ext}: {text}"
            );
            let layers = ogr_summary(&text);
            assert_eq!(layers.len(), 1, "{text}");
            assert_eq!(layers[0].2, expected, "{id}.{ext}: feature count");
            let items = server.get_json(&format!("/collections/{id}/items?limit=1"));
            let ty = items["features"][0]["geometry"]["type"].as_str().unwrap();
            assert_eq!(layers[0].1, gdal_type(ty), "{id}.{ext}: geometry type");
        }
    }
}

#[test]
fn ogrinfo_sees_every_collection_of_the_live_service() {
    let ogrinfo = require_tool("ogrinfo", "gdal-bin");
    let server = Server::start(&[]);
    let collections = server.get_json("/collections");
    let text = check_output(
        Command::new(&ogrinfo)
            .args(["-ro", "-al", "-so"])
            .arg(format!("OAPIF:{}", server.url)),
    );
    let layers = ogr_summary(&text);
    let list = collections["collections"].as_array().unwrap();
    assert_eq!(layers.len(), list.len(), "{text}");
    for c in list {
        let id = c["id"].as_str().unwrap();
        let (_, geom, count) = layers
            .iter()
            .find(|l| l.0 == id)
            .unwrap_or_else(|| panic!("{id} in {text}"));
        assert_eq!(
            *count,
            c["itemCount"].as_u64().unwrap(),
            "{id}: feature count"
        );
        let items = server.get_json(&format!("/collections/{id}/items?limit=1"));
        let ty = items["features"][0]["geometry"]["type"].as_str().unwrap();
        assert_eq!(geom, gdal_type(ty), "{id}: geometry type");
    }
}

#[test]
fn ogr2ogr_copies_zones_with_a_bbox_and_a_date_filter_to_a_geopackage() {
    let ogr2ogr = require_tool("ogr2ogr", "gdal-bin");
    let ogrinfo = require_tool("ogrinfo", "gdal-bin");
    let server = Server::start(&[]);
    let dir = TempDir::new("gdal-gpkg");
    let gpkg = dir.0.join("south.gpkg");
    // GDAL turns this -where into datetime=../2018-02-07 and datetime=2018-02-07/.. on the
    // server, which keeps zones valid on that day (an open end counts as still valid).
    check_output(
        Command::new(&ogr2ogr)
            .args(["-f", "GPKG"])
            .arg(&gpkg)
            .arg(format!("OAPIF:{}", server.url))
            .arg("zones")
            .args(["-spat", "35.9", "32.5", "36.3", "32.8"])
            .args([
                "-where",
                "valid_from <= '2018-02-07' AND valid_to >= '2018-02-07'",
            ]),
    );
    let text = check_output(
        Command::new(&ogrinfo)
            .args(["-ro", "-al", "-q"])
            .arg(&gpkg)
            .args(["-sql", "SELECT key FROM zones ORDER BY key"]),
    );
    let mut got: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("key (String) = ").map(str::to_owned))
        .collect();
    got.sort();
    let api = server.get_json(
        "/collections/zones/items?bbox=35.9,32.5,36.3,32.8&datetime=2018-02-07&limit=1000",
    );
    let mut expected: Vec<String> = api["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["key"].as_str().unwrap().to_owned())
        .collect();
    expected.sort();
    assert!(
        expected.iter().any(|k| k == "sw_deescalation_zone"),
        "{expected:?}"
    );
    assert_eq!(got, expected);
}

#[test]
fn ogrinfo_reads_every_export_download() {
    let ogrinfo = require_tool("ogrinfo", "gdal-bin");
    let server = Server::start(&[]);
    let collections = server.get_json("/collections");
    for c in collections["collections"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let url = format!("{}/export/{id}.geojson?datetime=2018-02-07", server.url);
        let text = check_output(Command::new(&ogrinfo).args(["-ro", "-al", "-so"]).arg(&url));
        let layers = ogr_summary(&text);
        assert_eq!(layers.len(), 1, "{id}: {text}");
        let api = server.get_json(&format!(
            "/collections/{id}/items?datetime=2018-02-07&limit=1"
        ));
        assert_eq!(layers[0].2, api["numberMatched"].as_u64().unwrap(), "{id}");
    }
}

/// `ogrinfo -so` on a downloaded FlatGeobuf file, with its CRS and fields checked.
fn ogrinfo_fgb(ogrinfo: &std::path::Path, file: &std::path::Path, extra: &[&str]) -> String {
    let text = check_output(
        Command::new(ogrinfo)
            .args(["-ro", "-al", "-so"])
            .args(extra)
            .arg(file),
    );
    assert!(
        text.contains("GEOGCRS[\"WGS 84\"") && text.contains("ID[\"EPSG\",4326]"),
        "{}: EPSG:4326 in {text}",
        file.display()
    );
    text
}

#[test]
fn every_flatgeobuf_download_opens_in_ogrinfo_with_its_count_type_and_crs() {
    let ogrinfo = require_tool("ogrinfo", "gdal-bin");
    let server = Server::start(&[]);
    let dir = TempDir::new("gdal-fgb");
    let collections = server.get_json("/collections");
    let download = |path: &str, name: &str| {
        let (status, head, body) = server.get(path);
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        let head = head.to_ascii_lowercase();
        assert!(
            head.contains("content-type: application/flatgeobuf"),
            "{path}: {head}"
        );
        assert!(
            head.contains(&format!("filename=\"{}\"", name.to_ascii_lowercase())),
            "{path}: {head}"
        );
        let file = dir.0.join(name);
        std::fs::write(&file, body).unwrap();
        file
    };
    for c in collections["collections"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let items = server.get_json(&format!("/collections/{id}/items?limit=1"));
        let ty = gdal_type(items["features"][0]["geometry"]["type"].as_str().unwrap());
        // A date that keeps some of the dated layers, one that keeps nothing of them, and none.
        for q in ["", "?datetime=2018-02-07", "?datetime=1900-01-01"] {
            let file = download(&format!("/export/{id}.fgb{q}"), &format!("{id}.fgb"));
            let text = ogrinfo_fgb(&ogrinfo, &file, &[]);
            let layers = ogr_summary(&text);
            assert_eq!(layers.len(), 1, "{id}{q}: {text}");
            let (name, geom, count) = &layers[0];
            assert_eq!(name, id);
            assert_eq!(geom, ty, "{id}{q}: geometry type");
            let sep = if q.is_empty() { "?" } else { "&" };
            let api = server.get_json(&format!("/collections/{id}/items{q}{sep}limit=1"));
            assert_eq!(
                *count,
                api["numberMatched"].as_u64().unwrap(),
                "{id}{q}: feature count"
            );
            assert!(text.contains("\nfid: Integer64"), "{id}: {text}");
            assert!(text.contains("\nkey: String"), "{id}: {text}");
            assert!(text.contains("\nsources: String"), "{id}: {text}");
        }
    }
    // The spatial index answers a bbox: GDAL's count in a box is the API's.
    let file = download("/export/zones.fgb", "zones.fgb");
    let all = ogr_summary(&ogrinfo_fgb(&ogrinfo, &file, &[]))[0].2;
    for bbox in [
        ["35.9", "32.5", "36.3", "32.8"],
        ["38.9", "35.9", "39.1", "36.1"],
        ["40.0", "34.0", "41.0", "35.0"],
    ] {
        let mut spat = vec!["-spat"];
        spat.extend(bbox);
        let got = ogr_summary(&ogrinfo_fgb(&ogrinfo, &file, &spat))[0].2;
        let api = server.get_json(&format!(
            "/collections/zones/items?bbox={}&limit=1",
            bbox.join(",")
        ));
        let expected = api["numberMatched"].as_u64().unwrap();
        assert!(
            0 < expected && expected < all,
            "{bbox:?}: {expected} of {all}"
        );
        assert_eq!(got, expected, "{bbox:?}");
    }
}

/// Issue 11: GeoPackage came through the format seam (`zone-formats`); GDAL reads every layer's
/// download with its count, type, CRS and typed columns (dates as dates), and answers a bbox
/// as the API does.
#[test]
fn every_geopackage_download_opens_in_ogrinfo_with_typed_columns() {
    let ogrinfo = require_tool("ogrinfo", "gdal-bin");
    let server = Server::start(&[]);
    let dir = TempDir::new("gdal-gpkg");
    let collections = server.get_json("/collections");
    for c in collections["collections"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let links = c["links"].as_array().unwrap();
        assert!(
            links.iter().any(|l| l["href"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/export/{id}.gpkg"))
                && l["type"] == "application/geopackage+sqlite3"),
            "{id}: a GeoPackage link"
        );
        let items = server.get_json(&format!("/collections/{id}/items?limit=1"));
        let ty = gdal_type(items["features"][0]["geometry"]["type"].as_str().unwrap());
        for q in ["", "?datetime=2018-02-07"] {
            let (status, head, body) = server.get(&format!("/export/{id}.gpkg{q}"));
            assert_eq!(status, 200, "{id}{q}");
            assert!(
                head.to_ascii_lowercase()
                    .contains("content-type: application/geopackage+sqlite3"),
                "{head}"
            );
            let file = dir.0.join(format!("{id}.gpkg"));
            std::fs::write(&file, body).unwrap();
            let text = check_output(
                Command::new(&ogrinfo)
                    .args(["-ro", "-al", "-so"])
                    .arg(&file),
            );
            assert!(text.contains("driver `GPKG'"), "{id}: {text}");
            assert!(
                text.contains("ID[\"EPSG\",4326]"),
                "{id}: EPSG:4326 in {text}"
            );
            let layers = ogr_summary(&text);
            assert_eq!(layers.len(), 1, "{id}{q}: {text}");
            assert_eq!(layers[0].0, id);
            assert_eq!(layers[0].1, ty, "{id}{q}: geometry type");
            let sep = if q.is_empty() { "?" } else { "&" };
            let api = server.get_json(&format!("/collections/{id}/items{q}{sep}limit=1"));
            assert_eq!(
                layers[0].2,
                api["numberMatched"].as_u64().unwrap(),
                "{id}{q}"
            );
            assert!(text.contains("FID Column = fid"), "{id}: {text}");
            assert!(text.contains("\nkey: String"), "{id}: {text}");
            if id == "zones" {
                assert!(text.contains("\nvalid_from: Date"), "{text}");
                assert!(text.contains("\nvalid_to: Date"), "{text}");
            }
        }
    }
    // A spatial filter over the file narrows it to what the API's bbox finds, and perhaps a few
    // more: GDAL filters a GeoPackage without a spatial index by the features' envelopes (the
    // API and the FlatGeobuf test above test exact geometry).
    let file = dir.0.join("zones.gpkg");
    let (_, _, body) = server.get("/export/zones.gpkg");
    std::fs::write(&file, body).unwrap();
    let bbox = ["35.9", "32.5", "36.3", "32.8"];
    let mut args = vec!["-ro", "-al", "-so", "-spat"];
    args.extend(bbox);
    let got = ogr_summary(&check_output(Command::new(&ogrinfo).args(&args).arg(&file)))[0].2;
    let api = server.get_json(&format!(
        "/collections/zones/items?bbox={}&limit=1",
        bbox.join(",")
    ));
    let exact = api["numberMatched"].as_u64().unwrap();
    let all = server.get_json("/collections/zones")["itemCount"]
        .as_u64()
        .unwrap();
    assert!(exact <= got && got < all, "{exact} <= {got} < {all}");
}

/// Issue 15: two exported zones had a ring touching itself, which GEOS, QGIS and RFC 7946
/// checkers flag. Every feature of every polygon layer, with no date filter (so every zone of
/// every day, each derived period included), must be valid for GEOS's `ST_IsValid`.
#[test]
fn every_exported_polygon_is_valid_for_geos_on_every_date() {
    let ogrinfo = require_tool("ogrinfo", "gdal-bin");
    let server = Server::start(&[]);
    let collections = server.get_json("/collections");
    let dir = TempDir::new("gdal-valid");
    let mut checked = 0;
    for c in collections["collections"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let items = server.get_json(&format!("/collections/{id}/items?limit=1"));
        if items["features"][0]["geometry"]["type"] != "MultiPolygon" {
            continue;
        }
        let file = dir.0.join(format!("{id}.geojson"));
        let out = run(&["export", "--layer", id, "--out", file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // GDAL's SQLite dialect runs GEOS's validity test; the layer is named after the file.
        let sql = format!(
            "SELECT key, ST_IsValidReason(geometry) AS reason FROM \"{id}\" WHERE NOT ST_IsValid(geometry)"
        );
        let text = check_output(
            Command::new(&ogrinfo)
                .args(["-ro", "-q", "-dialect", "SQLite", "-sql", &sql])
                .arg(&file),
        );
        assert!(
            !text.contains("OGRFeature"),
            "{id}: invalid for GEOS:\n{text}"
        );
        let count = check_output(
            Command::new(&ogrinfo)
                .args(["-ro", "-q", "-dialect", "SQLite", "-sql"])
                .arg(format!(
                    "SELECT count(*) AS n FROM \"{id}\" WHERE ST_IsValid(geometry)"
                ))
                .arg(&file),
        );
        let expected = c["itemCount"].as_u64().unwrap();
        assert!(
            count.contains(&format!("n (Integer) = {expected}")),
            "{id}: {count}"
        );
        checked += expected;
    }
    assert!(checked > 90, "{checked} polygons checked");
}

/// Issue 16: `ogr2ogr -where` against the live service gets the same features as the same
/// `-where` on the exported file. GDAL 3.6 (Debian 12) sends to the server only the equalities
/// on the query parameters the OpenAPI document lists (every simple queryable) and evaluates the
/// rest itself ("Only part of the filter will be evaluated on server side", or "Full filter will
/// be evaluated on client side"); later GDALs may send a CQL2 `filter=`. The debug log says
/// which happened, and the test checks it happened as said.
#[test]
fn ogr2ogr_where_on_the_service_counts_what_the_same_where_on_the_export_counts() {
    let ogr2ogr = require_tool("ogr2ogr", "gdal-bin");
    let ogrinfo = require_tool("ogrinfo", "gdal-bin");
    let server = Server::start(&[]);
    let dir = TempDir::new("gdal-where");
    let export = dir.0.join("zones.geojson");
    let out = run(&[
        "export",
        "--layer",
        "zones",
        "--out",
        export.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let count = |text: &str| -> u64 {
        ogr_summary(text)
            .first()
            .map_or_else(|| panic!("no layer in {text}"), |l| l.2)
    };
    // (the -where, its equalities GDAL can send as parameters, whether that is all of it)
    let cases = [
        ("actor = 'iran'", vec![("actor", "iran")], true),
        ("name LIKE '%Iran%'", vec![], false),
        (
            "method = 'rule' AND confidence <> 'low'",
            vec![("method", "rule")],
            false,
        ),
    ];
    for (n, (filter, equalities, whole)) in cases.into_iter().enumerate() {
        let copy = dir.0.join(format!("where-{n}.gpkg"));
        let served = Command::new(&ogr2ogr)
            .args(["-f", "GPKG", "--config", "CPL_DEBUG", "ON"])
            .arg(&copy)
            .arg(format!("OAPIF:{}", server.url))
            .arg("zones")
            .args(["-where", filter])
            .output()
            .expect("ogr2ogr runs");
        assert!(
            served.status.success(),
            "{}",
            String::from_utf8_lossy(&served.stderr)
        );
        let log = String::from_utf8_lossy(&served.stderr).into_owned();
        let remote = count(&check_output(
            Command::new(&ogrinfo)
                .args(["-ro", "-al", "-so"])
                .arg(&copy),
        ));
        let local = count(&check_output(
            Command::new(&ogrinfo)
                .args(["-ro", "-al", "-so", "-where", filter])
                .arg(&export),
        ));
        assert_eq!(remote, local, "{filter}: service vs export");
        let api = server.get_json(&format!(
            "/collections/zones/items?limit=1&filter={}",
            e2e::query_escape(filter)
        ));
        assert_eq!(
            api["numberMatched"].as_u64().unwrap(),
            local,
            "{filter}: CQL2"
        );
        // The parameters of GDAL's data requests, past the first page it reads the schema from.
        let mut sent: Vec<String> = log
            .lines()
            .filter_map(|l| l.trim().strip_prefix("HTTP: Fetch("))
            .filter_map(|u| u.strip_suffix(')')?.split_once("/collections/zones/items?"))
            .flat_map(|(_, q)| q.split('&').map(str::to_owned).collect::<Vec<_>>())
            .filter(|p| !p.starts_with("limit=") && !p.starts_with("offset="))
            .collect();
        sent.sort();
        sent.dedup();
        if sent.iter().any(|p| p.starts_with("filter=")) {
            assert!(
                sent.iter().any(|p| p == "filter-lang=cql2-text"),
                "{filter}: {sent:?}"
            );
            continue;
        }
        let expected: Vec<String> = equalities.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(sent, expected, "{filter}: {log}");
        let full = log.contains("Full filter will be evaluated on client side");
        let part = log.contains("Only part of the filter will be evaluated on server side");
        match (equalities.is_empty(), whole) {
            (true, _) => assert!(full, "{filter}: {log}"),
            (false, true) => assert!(!full && !part, "{filter}: {log}"),
            (false, false) => assert!(part, "{filter}: {log}"),
        }
    }
}
