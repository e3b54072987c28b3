//! Writing GeoJSON (RFC 7946): the source form of a data directory (rules as rules), and the
//! export form of a layer (every geometry computed, an integer `id`, the readable id as `key`).
//!
//! Both write exterior rings counter-clockwise and holes clockwise, no `crs` member, coordinates
//! rounded to at most 7 decimals, and the same property set on every feature of a layer.

use std::path::Path;

use geo::{BoundingRect, Rect};
use geojson::GeometryValue;
use serde_json::{Map, Value, json};

use crate::model::{
    Event, FeatureId, FeatureMeta, GeometryKind, Location, Period, ReferenceFeature,
    ReferenceLayer, Rule, Source, Zone,
};
use crate::{Dataset, Date, GeodataError, GeodataResult};

fn date(d: Option<Date>) -> Value {
    d.map_or(Value::Null, |d| Value::String(d.to_string()))
}

fn sources(list: &[Source]) -> Value {
    Value::Array(
        list.iter()
            .map(|s| {
                let mut o = Map::new();
                o.insert("title".into(), json!(s.title));
                if let Some(p) = &s.publisher {
                    o.insert("publisher".into(), json!(p));
                }
                if let Some(u) = &s.url {
                    o.insert("url".into(), json!(u));
                }
                if let Some(d) = s.date {
                    o.insert("date".into(), json!(d.to_string()));
                }
                Value::Object(o)
            })
            .collect(),
    )
}

fn rule_json(rule: &Rule) -> Value {
    let mut o = match rule {
        Rule::Buffer {
            of, distance_km, ..
        } => json!({"op": "buffer", "of": of.as_str(), "distance_km": distance_km}),
        Rule::Split { area, by, side, .. } => {
            json!({"op": "split", "area": area.as_str(), "by": by.as_str(), "side": side.as_str()})
        }
        Rule::Remainder { area } => json!({"op": "remainder", "area": area.as_str()}),
    };
    let o = o.as_object_mut().expect("a JSON object literal");
    if let Rule::Buffer {
        clip_to: Some(c), ..
    } = rule
    {
        o.insert("clip_to".into(), json!(c.as_str()));
    }
    if !rule.minus().is_empty() {
        let minus: Vec<&str> = rule.minus().iter().map(FeatureId::as_str).collect();
        o.insert("minus".into(), json!(minus));
    }
    Value::Object(o.clone())
}

/// GeoJSON geometry object for a geo geometry (coordinates are already rounded on load).
pub fn geometry_json(g: &geo::Geometry<f64>) -> Value {
    let value = GeometryValue::from(g);
    serde_json::to_value(geojson::Geometry::new(value)).unwrap_or(Value::Null)
}

/// Writes the text of [`geometry_json`] (the same bytes) straight from the coordinates: going
/// through a `Value` per position made serialising the features most of a large data set's
/// start-up.
pub fn write_geometry_json(g: &geo::Geometry<f64>, out: &mut Vec<u8>) {
    use geo::Geometry as G;
    let kind = match g {
        G::Point(_) => "Point",
        G::LineString(_) => "LineString",
        G::Polygon(_) => "Polygon",
        G::MultiPoint(_) => "MultiPoint",
        G::MultiLineString(_) => "MultiLineString",
        G::MultiPolygon(_) => "MultiPolygon",
        // Rare here (never loaded): through the Value.
        _ => {
            out.extend_from_slice(geometry_json(g).to_string().as_bytes());
            return;
        }
    };
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"coordinates\":");
    match g {
        G::Point(p) => write_position(p.0, out),
        G::LineString(l) => write_line(l, out),
        G::Polygon(p) => write_polygon(p, out),
        G::MultiPoint(m) => write_list(&m.0, out, |p, out| write_position(p.0, out)),
        G::MultiLineString(m) => write_list(&m.0, out, write_line),
        G::MultiPolygon(m) => write_list(&m.0, out, write_polygon),
        _ => {}
    }
    out.push(b'}');
}

fn write_list<T>(items: &[T], out: &mut Vec<u8>, mut each: impl FnMut(&T, &mut Vec<u8>)) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        each(item, out);
    }
    out.push(b']');
}

fn write_polygon(p: &geo::Polygon<f64>, out: &mut Vec<u8>) {
    let rings: Vec<&geo::LineString<f64>> =
        std::iter::once(p.exterior()).chain(p.interiors()).collect();
    write_list(&rings, out, |r, out| write_line(r, out));
}

fn write_line(l: &geo::LineString<f64>, out: &mut Vec<u8>) {
    write_list(&l.0, out, |c, out| write_position(*c, out));
}

fn write_position(c: geo::Coord<f64>, out: &mut Vec<u8>) {
    use serde_json::ser::Formatter as _;
    let mut f = serde_json::ser::CompactFormatter;
    out.push(b'[');
    // Writing to a Vec cannot fail; numbers as serde_json writes them (shortest round trip).
    let _ = f.write_f64(out, c.x);
    out.push(b',');
    let _ = f.write_f64(out, c.y);
    out.push(b']');
}

fn meta_head(props: &mut Map<String, Value>, meta: &FeatureMeta) {
    props.insert("name".into(), json!(meta.name));
    props.insert("description".into(), json!(meta.description));
}

fn meta_tail(props: &mut Map<String, Value>, meta: &FeatureMeta) {
    props.insert("confidence".into(), json!(meta.confidence.as_str()));
    props.insert("method".into(), json!(meta.method.as_str()));
    props.insert("sources".into(), sources(&meta.sources));
}

fn period(props: &mut Map<String, Value>, p: &Period) {
    props.insert("valid_from".into(), date(p.from()));
    props.insert("valid_to".into(), date(p.to()));
}

fn zone_props(z: &Zone, source_form: bool) -> Map<String, Value> {
    let mut p = Map::new();
    meta_head(&mut p, &z.meta);
    p.insert("actor".into(), json!(z.actor.as_str()));
    p.insert("kind".into(), json!(z.kind.as_str()));
    period(&mut p, &z.period);
    meta_tail(&mut p, &z.meta);
    let rule = match (&z.rule, source_form) {
        (Some(r), true) => rule_json(r),
        (Some(r), false) => json!(r.to_string()),
        (None, _) => Value::Null,
    };
    p.insert("rule".into(), rule);
    p
}

fn location_props(l: &Location) -> Map<String, Value> {
    let mut p = Map::new();
    meta_head(&mut p, &l.meta);
    p.insert("kind".into(), json!(l.kind));
    p.insert(
        "actor".into(),
        l.actor.as_ref().map_or(Value::Null, |a| json!(a.as_str())),
    );
    period(&mut p, &l.period);
    meta_tail(&mut p, &l.meta);
    p
}

fn event_props(e: &Event) -> Map<String, Value> {
    let mut p = Map::new();
    meta_head(&mut p, &e.meta);
    p.insert("kind".into(), json!(e.kind));
    p.insert("date".into(), json!(e.date.to_string()));
    p.insert("date_end".into(), date(e.date_end));
    p.insert(
        "actors".into(),
        json!(e.actors.iter().map(|a| a.as_str()).collect::<Vec<_>>()),
    );
    p.insert(
        "location".into(),
        e.location
            .as_ref()
            .map_or(Value::Null, |l| json!(l.as_str())),
    );
    meta_tail(&mut p, &e.meta);
    p
}

fn reference_props(meta: &FeatureMeta) -> Map<String, Value> {
    let mut p = Map::new();
    meta_head(&mut p, meta);
    meta_tail(&mut p, meta);
    p
}

fn source_feature(id: &str, geometry: Value, properties: Map<String, Value>) -> Value {
    json!({"type": "Feature", "id": id, "geometry": geometry, "properties": properties})
}

fn collection(features: Vec<Value>) -> Value {
    json!({"type": "FeatureCollection", "features": features})
}

impl Zone {
    /// The zone in source form: its rule instead of derived geometry (`null` then).
    pub fn source_json(&self) -> Value {
        let g = if self.rule.is_some() {
            Value::Null
        } else {
            geometry_json(&(*self.geometry).clone().into())
        };
        source_feature(self.meta.id.as_str(), g, zone_props(self, true))
    }
}

impl Location {
    /// The location in source form.
    pub fn source_json(&self) -> Value {
        let g = geometry_json(&self.point.into());
        source_feature(self.meta.id.as_str(), g, location_props(self))
    }
}

impl Event {
    /// The event in source form.
    pub fn source_json(&self) -> Value {
        let g = geometry_json(&self.point.into());
        source_feature(self.meta.id.as_str(), g, event_props(self))
    }
}

impl ReferenceFeature {
    /// The feature in source form, single-part geometries written as they are usually drawn.
    pub fn source_json(&self, kind: GeometryKind) -> Value {
        let g = match (&self.geometry, kind) {
            (geo::Geometry::MultiLineString(ml), GeometryKind::Line) if ml.0.len() == 1 => {
                geo::Geometry::LineString(ml.0[0].clone())
            }
            (geo::Geometry::MultiPolygon(mp), GeometryKind::Polygon) if mp.0.len() == 1 => {
                geo::Geometry::Polygon(mp.0[0].clone())
            }
            (g, _) => g.clone(),
        };
        source_feature(
            self.meta.id.as_str(),
            geometry_json(&g),
            reference_props(&self.meta),
        )
    }
}

/// One feature of a layer as zonetrack serves and exports it: integer `fid`, readable `key`, the
/// validity period used for date filters, its bounding box, geometry and properties.
#[derive(Debug, Clone)]
pub struct ExportFeature {
    /// Stable integer id (see [`crate::FeatureId::fid`]).
    pub fid: u32,
    /// The readable id.
    pub key: String,
    /// When the feature holds; events hold on their days, reference features always.
    pub period: Period,
    /// Bounding box (lon/lat).
    pub bbox: Option<Rect<f64>>,
    /// Geometry, in the layer's one geometry type. Shared: snapshots before and after an edit
    /// hold the features it did not change without copying them.
    pub geometry: std::sync::Arc<geo::Geometry<f64>>,
    /// Properties, starting with `key`; the same keys on every feature of the layer.
    pub properties: std::sync::Arc<Map<String, Value>>,
}

impl ExportFeature {
    fn new(
        meta: &FeatureMeta,
        period: Period,
        geometry: geo::Geometry<f64>,
        props: Map<String, Value>,
    ) -> Self {
        let mut properties = Map::new();
        properties.insert("key".into(), json!(meta.id.as_str()));
        properties.extend(props);
        Self {
            fid: meta.id.fid(),
            key: meta.id.to_string(),
            period,
            bbox: geometry.bounding_rect(),
            geometry: std::sync::Arc::new(geometry),
            properties: std::sync::Arc::new(properties),
        }
    }

    /// The feature as a GeoJSON object.
    pub fn to_json(&self) -> Value {
        json!({
            "type": "Feature",
            "id": self.fid,
            "geometry": geometry_json(&self.geometry),
            "properties": *self.properties,
        })
    }

    /// The text of [`ExportFeature::to_json`] (the same bytes), written without building it.
    pub fn json_text(&self) -> String {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"type\":\"Feature\",\"id\":");
        out.extend_from_slice(self.fid.to_string().as_bytes());
        out.extend_from_slice(b",\"geometry\":");
        write_geometry_json(&self.geometry, &mut out);
        out.extend_from_slice(b",\"properties\":");
        // A map of JSON values always serialises.
        let _ = serde_json::to_writer(&mut out, &*self.properties);
        out.push(b'}');
        // Only JSON text was written.
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Multi-geometries for polygon and line layers, so each layer has exactly one geometry type.
fn as_layer_geometry(g: &geo::Geometry<f64>) -> geo::Geometry<f64> {
    g.clone()
}

impl Dataset {
    /// A reference layer by name.
    pub fn reference_layer(&self, name: &str) -> Option<&ReferenceLayer> {
        self.reference.iter().find(|l| l.name == name)
    }

    /// Every feature of a layer in export form, in file order; `None` for an unknown layer.
    ///
    /// ```
    /// let data = geodata::Dataset::embedded();
    /// let zones = data.export_features("zones").unwrap();
    /// assert_eq!(zones.len(), data.zones.len());
    /// assert!(zones.iter().all(|f| f.properties.contains_key("actor")));
    /// assert!(data.export_features("no_such_layer").is_none());
    /// ```
    pub fn export_features(&self, layer: &str) -> Option<Vec<ExportFeature>> {
        let n = self.export_features_len(layer)?;
        (0..n).map(|i| self.export_feature(layer, i)).collect()
    }

    /// How many features a layer has; `None` for an unknown layer.
    pub fn export_features_len(&self, layer: &str) -> Option<usize> {
        Some(match layer {
            "zones" => self.zones.len(),
            "locations" => self.locations.len(),
            "events" => self.events.len(),
            other => self.reference_layer(other)?.features.len(),
        })
    }

    /// The readable id of the `i`th feature of a layer.
    pub fn feature_key(&self, layer: &str, i: usize) -> Option<&str> {
        Some(match layer {
            "zones" => self.zones.get(i)?.meta.id.as_str(),
            "locations" => self.locations.get(i)?.meta.id.as_str(),
            "events" => self.events.get(i)?.meta.id.as_str(),
            other => self
                .reference_layer(other)?
                .features
                .get(i)?
                .meta
                .id
                .as_str(),
        })
    }

    /// The `i`th feature of a layer in export form; `None` past the end or for an unknown layer.
    pub fn export_feature(&self, layer: &str, i: usize) -> Option<ExportFeature> {
        Some(match layer {
            "zones" => {
                let z = self.zones.get(i)?;
                let mut props = zone_props(z, false);
                if let Some(a) = self.actor(z.actor.as_str()) {
                    props.insert("actor_name".into(), json!(a.name));
                    props.insert("colour".into(), json!(a.colour));
                }
                ExportFeature::new(&z.meta, z.period, (*z.geometry).clone().into(), props)
            }
            "locations" => {
                let l = self.locations.get(i)?;
                ExportFeature::new(&l.meta, l.period, l.point.into(), location_props(l))
            }
            "events" => {
                let e = self.events.get(i)?;
                ExportFeature::new(&e.meta, e.period(), e.point.into(), event_props(e))
            }
            other => {
                let f = self.reference_layer(other)?.features.get(i)?;
                ExportFeature::new(
                    &f.meta,
                    Period::ALWAYS,
                    as_layer_geometry(&f.geometry),
                    reference_props(&f.meta),
                )
            }
        })
    }

    /// A layer as an RFC 7946 FeatureCollection in export form, keeping only what holds on `at`
    /// when a date is given. `None` for an unknown layer.
    ///
    /// ```
    /// let data = geodata::Dataset::embedded();
    /// let at = "2018-02-07".parse().unwrap();
    /// let fc = data.export_layer("zones", Some(at)).unwrap();
    /// assert_eq!(fc["type"], "FeatureCollection");
    /// assert!(fc.get("crs").is_none());
    /// ```
    pub fn export_layer(&self, layer: &str, at: Option<Date>) -> Option<Value> {
        let features = self
            .export_features(layer)?
            .into_iter()
            .filter(|f| at.is_none_or(|d| f.period.contains(d)))
            .map(|f| f.to_json())
            .collect();
        Some(collection(features))
    }

    /// The source form of every file of the data directory: `(relative name, JSON)`.
    pub fn source_files(&self) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        let actors: Vec<Value> = self
            .actors
            .iter()
            .map(|a| {
                json!({"id": a.id.as_str(), "name": a.name, "colour": a.colour, "description": a.description})
            })
            .collect();
        out.push(("actors.json".into(), json!({ "actors": actors })));
        let layers: [(&str, Vec<Value>); 3] = [
            (
                "zones",
                crate::rules::file_zones(&self.zones)
                    .iter()
                    .map(Zone::source_json)
                    .collect(),
            ),
            (
                "locations",
                self.locations.iter().map(Location::source_json).collect(),
            ),
            (
                "events",
                self.events.iter().map(Event::source_json).collect(),
            ),
        ];
        for (name, features) in layers {
            out.push((format!("{name}.geojson"), collection(features)));
        }
        for layer in &self.reference {
            let features = layer
                .features
                .iter()
                .map(|f| f.source_json(layer.kind))
                .collect();
            let mut file = json!({"type": "FeatureCollection"});
            let o = file.as_object_mut().expect("a JSON object literal");
            if let Some(t) = &layer.title {
                o.insert("title".into(), json!(t));
            }
            if let Some(d) = &layer.description {
                o.insert("description".into(), json!(d));
            }
            if let Some(s) = &layer.style {
                o.insert("style".into(), s.to_json());
            }
            o.insert("features".into(), Value::Array(features));
            out.push((format!("reference/{}.geojson", layer.name), file));
        }
        out
    }

    /// Writes the data set as a data directory (source form: rules stay rules), creating `dir`.
    pub fn write_dir(&self, dir: &Path) -> GeodataResult<()> {
        for (name, value) in self.source_files() {
            let path = dir.join(&name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| GeodataError::Io(e, parent.to_path_buf()))?;
            }
            let mut text = to_pretty(&value);
            text.push('\n');
            std::fs::write(&path, text).map_err(|e| GeodataError::Io(e, path.clone()))?;
        }
        Ok(())
    }
}

/// JSON text with two-space indents, but each coordinate array on one line, so files stay
/// readable and diffable.
pub fn to_pretty(v: &Value) -> String {
    let mut out = String::new();
    write_value(v, 0, &mut out);
    out
}

fn is_coords(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.iter().all(|x| x.is_number() || is_coords(x)) && !a.is_empty(),
        _ => false,
    }
}

fn write_value(v: &Value, indent: usize, out: &mut String) {
    let pad = |n: usize| "  ".repeat(n);
    match v {
        Value::Object(o) if !o.is_empty() => {
            out.push_str("{\n");
            for (i, (k, val)) in o.iter().enumerate() {
                out.push_str(&pad(indent + 1));
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(": ");
                if k == "coordinates" && is_coords(val) {
                    write_coords(val, indent + 1, out);
                } else {
                    write_value(val, indent + 1, out);
                }
                if i + 1 < o.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(indent));
            out.push('}');
        }
        Value::Array(a) if !a.is_empty() && !a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            write_lines(a, indent, out, write_value);
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Positions one per line inside their ring, rings and polygons on their own lines.
fn write_coords(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Array(a) if a.first().is_some_and(Value::is_number) => out.push_str(&v.to_string()),
        Value::Array(a) => write_lines(a, indent, out, write_coords),
        other => out.push_str(&other.to_string()),
    }
}

/// An array with one item a line, each written by `item` one level deeper.
fn write_lines(a: &[Value], indent: usize, out: &mut String, item: fn(&Value, usize, &mut String)) {
    out.push_str("[\n");
    for (i, x) in a.iter().enumerate() {
        out.push_str(&"  ".repeat(indent + 1));
        item(x, indent + 1, out);
        if i + 1 < a.len() {
            out.push(',');
        }
        out.push('\n');
    }
    out.push_str(&"  ".repeat(indent));
    out.push(']');
}
