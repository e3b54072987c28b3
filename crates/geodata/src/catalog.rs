//! The layer catalogue: one typed description per layer of a data set (its id, title,
//! description, geometry kind, role, the properties it can be filtered on, how it is drawn),
//! built from the data. The server, the OpenAPI document, the exports, the command line and the
//! map learn about layers here and nowhere else, so a data folder for another conflict, with
//! other reference layers, needs no code.
//!
//! A reference layer describes itself in its file: the FeatureCollection's `title`,
//! `description` and `style` members (see `geodata/FORMAT.md`); a layer without them gets a
//! title from its name and a plain grey style.

use serde_json::{Value, json};

use crate::{Dataset, GeometryKind};

/// What a layer is for: the three kinds of tracked data, and reference layers drawn under them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayerRole {
    /// Zones: polygons with an actor, a kind and a validity period.
    Zones,
    /// Named places.
    Locations,
    /// Dated events at a place.
    Events,
    /// Context drawn under the data: outlines, boundaries, lines, rivers.
    Reference,
}

impl LayerRole {
    /// The role's name in APIs (`zones`, `locations`, `events`, `reference`).
    pub fn as_str(self) -> &'static str {
        match self {
            LayerRole::Zones => "zones",
            LayerRole::Locations => "locations",
            LayerRole::Events => "events",
            LayerRole::Reference => "reference",
        }
    }
}

/// How a reference layer is drawn, on the map and in the QGIS style of its exports.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerStyle {
    /// Line colour, `#rrggbb`.
    pub stroke: String,
    /// Line width in pixels.
    pub width: f64,
    /// Line opacity, 0..1.
    pub opacity: f64,
    /// Dash pattern in pixels (`"6 3 2 3"`), or a solid line.
    pub dash: Option<String>,
    /// Fill colour of areas, `#rrggbb`, or no fill.
    pub fill: Option<String>,
    /// Fill opacity, 0..1.
    pub fill_opacity: f64,
    /// The land the data covers (a country's outline): drawn first, as the base map.
    pub land: bool,
    /// Drawing order among reference layers: lower is drawn first (further down).
    pub order: i64,
}

impl Default for LayerStyle {
    /// A thin grey line with a faint fill: visible, and not mistaken for data.
    fn default() -> Self {
        LayerStyle {
            stroke: "#666666".into(),
            width: 1.0,
            opacity: 1.0,
            dash: None,
            fill: Some("#666666".into()),
            fill_opacity: 0.1,
            land: false,
            order: 100,
        }
    }
}

impl LayerStyle {
    /// The names a `style` member may hold.
    pub const MEMBERS: &'static [&'static str] = &[
        "stroke",
        "width",
        "opacity",
        "dash",
        "fill",
        "fill_opacity",
        "land",
        "order",
    ];

    /// As written in a layer file and served in `/collections` (`zonetrack:style`).
    ///
    /// ```
    /// let style = geodata::LayerStyle::default();
    /// assert_eq!(style.to_json()["stroke"], "#666666");
    /// ```
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "stroke": self.stroke,
            "width": self.width,
            "opacity": self.opacity,
        });
        let o = v.as_object_mut().expect("a JSON object literal");
        if let Some(d) = &self.dash {
            o.insert("dash".into(), json!(d));
        }
        if let Some(f) = &self.fill {
            o.insert("fill".into(), json!(f));
            o.insert("fill_opacity".into(), json!(self.fill_opacity));
        }
        if self.land {
            o.insert("land".into(), json!(true));
        }
        o.insert("order".into(), json!(self.order));
        v
    }
}

/// One layer as every part of zonetrack sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerInfo {
    /// The layer's id: `zones`, `locations`, `events`, or a reference layer's file stem.
    pub id: String,
    /// A human title.
    pub title: String,
    /// What it holds, and how approximate it is.
    pub description: String,
    /// The one geometry kind of its features.
    pub geometry: GeometryKind,
    /// What it is for.
    pub role: LayerRole,
    /// Properties its features can be filtered on by equality.
    pub filters: &'static [&'static str],
    /// How it is drawn (reference layers; the tracked layers are drawn by actor and kind).
    pub style: LayerStyle,
}

/// Said of every layer: no geometry here is exact.
const APPROXIMATE: &str = "Geometry is approximate: every feature carries its sources, its \
    confidence (high/medium/low) and how it was made (method).";

impl Dataset {
    /// Every layer: `zones`, `locations`, `events`, then the reference layers in name order.
    ///
    /// ```
    /// let data = geodata::Dataset::embedded();
    /// let layers = data.catalog();
    /// assert_eq!(layers[0].id, "zones");
    /// assert_eq!(layers[0].role, geodata::LayerRole::Zones);
    /// assert!(layers.iter().any(|l| l.role == geodata::LayerRole::Reference && l.style.land));
    /// ```
    pub fn catalog(&self) -> Vec<LayerInfo> {
        let tracked = |id: &str, title: &str, what: &str, geometry, role, filters| LayerInfo {
            id: id.into(),
            title: title.into(),
            description: format!("{what} {APPROXIMATE}"),
            geometry,
            role,
            filters,
            style: LayerStyle::default(),
        };
        let mut out = vec![
            tracked(
                "zones",
                "Zones",
                "Areas of control, presence, deconfliction, demanded exclusion, de-escalation, \
                 buffer and limitation, by actor, each valid over a period of days.",
                GeometryKind::Polygon,
                LayerRole::Zones,
                &["actor", "kind", "confidence"][..],
            ),
            tracked(
                "locations",
                "Locations",
                "Named places with sourced coordinates.",
                GeometryKind::Point,
                LayerRole::Locations,
                &["actor", "kind", "confidence"][..],
            ),
            tracked(
                "events",
                "Events",
                "Dated events at a place.",
                GeometryKind::Point,
                LayerRole::Events,
                &["kind", "confidence"][..],
            ),
        ];
        for layer in &self.reference {
            let title = layer.title.clone().unwrap_or_else(|| {
                let mut t = layer.name.replace('_', " ");
                if let Some(c) = t.get_mut(0..1) {
                    c.make_ascii_uppercase();
                }
                t
            });
            let what = layer.description.clone().unwrap_or_else(|| {
                let first = layer.features.first().map_or("", |f| f.meta.name.as_str());
                let more = if layer.features.len() > 1 {
                    ", ..."
                } else {
                    ""
                };
                format!("Reference layer ({first}{more}).")
            });
            out.push(LayerInfo {
                id: layer.name.clone(),
                title,
                description: format!("{what} {APPROXIMATE}"),
                geometry: layer.kind,
                role: LayerRole::Reference,
                filters: &["confidence"],
                style: layer.style.clone().unwrap_or_default(),
            });
        }
        out
    }

    /// One layer of [`Dataset::catalog`] by id.
    ///
    /// ```
    /// let data = geodata::Dataset::embedded();
    /// assert_eq!(data.layer_info("events").unwrap().geometry, geodata::GeometryKind::Point);
    /// assert!(data.layer_info("no_such_layer").is_none());
    /// ```
    pub fn layer_info(&self, id: &str) -> Option<LayerInfo> {
        self.catalog().into_iter().find(|l| l.id == id)
    }
}
