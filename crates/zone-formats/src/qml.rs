//! A QGIS style (`.qml`) for a layer, with the map's colours: saved beside the GeoJSON,
//! FlatGeobuf or GeoPackage file under the same name, QGIS applies it on load.

use std::fmt::Write as _;

use geodata::{Dataset, GeometryKind, LayerInfo, LayerRole};

use crate::{FormatError, LayerExport, LayerWriter};

/// QGIS style.
pub struct Qml;

impl LayerWriter for Qml {
    const REL: &'static str = "describedby";

    fn write(layer: &LayerExport<'_>) -> Result<Vec<u8>, FormatError> {
        Ok(qml(layer.data, layer.info).into_bytes())
    }
}

fn rgba(hex: &str, alpha: u8) -> String {
    let c = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("80"), 16).unwrap_or(128);
    format!("{},{},{},{alpha}", c(1), c(3), c(5))
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn option(name: &str, value: &str) -> String {
    format!(
        "<Option name=\"{name}\" type=\"QString\" value=\"{}\"/>",
        xml(value)
    )
}

/// A symbol of one simple layer (`SimpleFill`, `SimpleLine`, `SimpleMarker`) with these options.
fn symbol(index: usize, kind: &str, class: &str, options: &[(&str, &str)]) -> String {
    let options: String = options.iter().map(|(n, v)| option(n, v)).collect();
    format!(
        "<symbol name=\"{index}\" type=\"{kind}\" alpha=\"1\" clip_to_extent=\"1\" force_rhr=\"0\">\
         <layer class=\"{class}\" enabled=\"1\" pass=\"0\" locked=\"0\"><Option type=\"Map\">{options}</Option></layer></symbol>"
    )
}

fn fill_symbol(index: usize, fill: &str, outline: &str, style: &str) -> String {
    let options = [
        ("color", fill),
        ("outline_color", outline),
        ("outline_style", "solid"),
        ("outline_width", "0.5"),
        ("style", style),
    ];
    symbol(index, "fill", "SimpleFill", &options)
}

fn line_symbol(index: usize, colour: &str, width: &str, dashed: bool) -> String {
    let style = if dashed { "dash" } else { "solid" };
    let options = [("line_color", colour), ("line_width", width), ("line_style", style)];
    symbol(index, "line", "SimpleLine", &options)
}

fn marker_symbol(index: usize, fill: &str, shape: &str) -> String {
    let options = [
        ("color", fill),
        ("name", shape),
        ("outline_color", "35,35,35,255"),
        ("size", "2.6"),
    ];
    symbol(index, "marker", "SimpleMarker", &options)
}

/// A QGIS style (`.qml`) for the layer: zones categorised by actor in the map's colours,
/// reference layers in the style their file declares, the others with one symbol each.
fn qml(data: &Dataset, info: &LayerInfo) -> String {
    let renderer = if info.role == LayerRole::Zones {
        let mut categories = String::new();
        let mut symbols = String::new();
        for (i, a) in data.actors.iter().enumerate() {
            let _ = write!(
                categories,
                "<category value=\"{}\" label=\"{}\" symbol=\"{i}\" render=\"true\"/>",
                xml(a.id.as_str()),
                xml(&a.name)
            );
            symbols.push_str(&fill_symbol(
                i,
                &rgba(&a.colour, 90),
                &rgba(&a.colour, 255),
                "solid",
            ));
        }
        format!(
            "<renderer-v2 type=\"categorizedSymbol\" attr=\"actor\" symbollevels=\"0\" enableorderby=\"0\" forceraster=\"0\">\
             <categories>{categories}</categories><symbols>{symbols}</symbols></renderer-v2>"
        )
    } else {
        let style = &info.style;
        let alpha = |opacity: f64| (opacity.clamp(0.0, 1.0) * 255.0).round() as u8;
        // The map's widths are screen pixels; QGIS's are millimetres (0.26 mm a pixel at 96 dpi).
        let width = format!("{:.2}", style.width * 0.26);
        let symbol = match (info.role, info.geometry) {
            (LayerRole::Events, _) => marker_symbol(0, "215,25,28,255", "star"),
            (_, GeometryKind::Point) => marker_symbol(0, "255,255,255,255", "circle"),
            (_, GeometryKind::Line) => line_symbol(
                0,
                &rgba(&style.stroke, alpha(style.opacity)),
                &width,
                style.dash.is_some(),
            ),
            (_, GeometryKind::Polygon) => match &style.fill {
                Some(fill) => fill_symbol(
                    0,
                    &rgba(fill, alpha(style.fill_opacity)),
                    &rgba(&style.stroke, alpha(style.opacity)),
                    "solid",
                ),
                None => fill_symbol(0, "0,0,0,0", &rgba(&style.stroke, alpha(style.opacity)), "no"),
            },
        };
        format!(
            "<renderer-v2 type=\"singleSymbol\" symbollevels=\"0\" enableorderby=\"0\" forceraster=\"0\"><symbols>{symbol}</symbols></renderer-v2>"
        )
    };
    format!(
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n\
         <qgis version=\"3.22.0\" styleCategories=\"Symbology|Labeling\">\n{renderer}\n\
         <labeling type=\"simple\"><settings calloutType=\"simple\"><text-style fieldName=\"name\" fontSize=\"8\" textColor=\"30,30,30,255\"/>\
         <placement placement=\"1\"/><rendering scaleVisibility=\"1\" scaleMin=\"1\" scaleMax=\"2000000\"/></settings></labeling>\n\
         <layerGeometryType>{}</layerGeometryType>\n</qgis>\n",
        match info.geometry {
            GeometryKind::Point => 0,
            GeometryKind::Line => 1,
            GeometryKind::Polygon => 2,
        }
    )
}

