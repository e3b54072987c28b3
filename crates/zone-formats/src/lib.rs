//! zonetrack's file formats, outside the HTTP crate: a layer written as GeoJSON, FlatGeobuf,
//! GeoPackage, GeoParquet, CSV (point layers) or a QGIS style, and batches of points read and
//! answered ([`batch`], and [`points_parquet`] for Parquet). The server's `/export`, the collection links, the OpenAPI document, the map's
//! export list and `zonetrack export` all go through [`Format`], so they always agree on what
//! exists.
//!
//! Adding a format is one file (a type implementing [`LayerWriter`]) and one line in the
//! `formats!` list below.
//!
//! ```
//! use zone_formats::{Format, LayerExport};
//! let data = geodata::Dataset::embedded();
//! let info = data.layer_info("locations").unwrap();
//! let features = data.export_features("locations").unwrap();
//! let layer = LayerExport::all(&data, &info, &features);
//! let csv = Format::from_extension("csv").unwrap();
//! assert!(csv.applies_to(&info));
//! let text = String::from_utf8(csv.write(&layer).unwrap()).unwrap();
//! assert!(text.starts_with("id,lon,lat,key,"));
//! ```

pub mod batch;
pub mod points_parquet;

use geodata::{Dataset, ExportFeature, LayerInfo};
use serde_json::Value;

/// One layer to write: what it is, its features, and which of them, in order.
#[derive(Debug, Clone, Copy)]
pub struct LayerExport<'a> {
    /// The data set it belongs to (a style needs the actors' colours).
    pub data: &'a Dataset,
    /// What the catalogue says of the layer.
    pub info: &'a LayerInfo,
    /// Every feature of the layer: column types are read from all of them, so every date's
    /// file of a layer has the same columns.
    pub features: &'a [ExportFeature],
    /// The features to write (indices into `features`), in order; every feature when `None`.
    pub selected: Option<&'a [usize]>,
    /// Each feature's GeoJSON text when the caller has it already (the server serialises every
    /// feature once per data version); written as it is.
    pub geojson: Option<&'a [std::sync::Arc<str>]>,
}

impl<'a> LayerExport<'a> {
    /// Every feature of the layer, none serialised beforehand.
    pub fn all(data: &'a Dataset, info: &'a LayerInfo, features: &'a [ExportFeature]) -> Self {
        LayerExport {
            data,
            info,
            features,
            selected: None,
            geojson: None,
        }
    }

    /// The indices of the features to write, in order.
    pub fn indices(&self) -> Vec<usize> {
        match self.selected {
            Some(s) => s
                .iter()
                .copied()
                .filter(|&i| i < self.features.len())
                .collect(),
            None => (0..self.features.len()).collect(),
        }
    }

    /// The features to write, in order.
    pub fn rows(&self) -> impl Iterator<Item = &'a ExportFeature> + '_ {
        let features = self.features;
        self.indices().into_iter().map(move |i| &features[i])
    }
}

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// This format does not hold this layer (CSV of polygons).
    #[error("{format} does not hold {geometry} layers")]
    NotForLayer {
        /// The format's title.
        format: &'static str,
        /// The layer's geometry type.
        geometry: &'static str,
    },
    /// FlatGeobuf's writer failed.
    #[error("writing FlatGeobuf")]
    FlatGeobuf(#[source] flatgeobuf::Error),
    /// A geometry or property could not be encoded.
    #[error("encoding a feature")]
    Encode(#[source] geozero::error::GeozeroError),
    /// SQLite failed while writing a GeoPackage.
    #[error("writing GeoPackage")]
    GeoPackage(#[source] rusqlite::Error),
    /// A temporary file could not be written or read.
    #[error("a temporary file")]
    Io(#[source] std::io::Error),
    /// Parquet's writer failed.
    #[error("writing Parquet")]
    Parquet(#[source] parquet::errors::ParquetError),
}

/// A way to write a layer to a file. Implemented once per format; registered, with its file
/// extension, media type and title, in `formats!`.
pub trait LayerWriter {
    /// How a collection links to it: `enclosure` for data, `describedby` for a style.
    const REL: &'static str = "enclosure";

    /// Whether the format can hold this layer (all layers unless said otherwise).
    fn applies_to(_info: &LayerInfo) -> bool {
        true
    }

    /// The file's bytes.
    fn write(layer: &LayerExport<'_>) -> Result<Vec<u8>, FormatError>;
}

/// Declares the formats: the modules holding their writers, and [`Format`] over them.
macro_rules! formats {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident => $module:ident :: $writer:ident ($ext:literal, $media:literal, $title:literal),
    )+) => {
        $(mod $module;)+

        /// Every file format a layer can be written in.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Format {
            $($(#[doc = $doc])* $variant,)+
        }

        impl Format {
            /// Every format, in the order lists show them.
            pub const ALL: &'static [Format] = &[$(Format::$variant,)+];

            /// File name extension, without the dot.
            pub fn extension(self) -> &'static str {
                match self { $(Format::$variant => $ext,)+ }
            }

            /// Media type of the file.
            pub fn media_type(self) -> &'static str {
                match self { $(Format::$variant => $media,)+ }
            }

            /// A human title.
            pub fn title(self) -> &'static str {
                match self { $(Format::$variant => $title,)+ }
            }

            /// How a collection links to the file (`enclosure`, `describedby`).
            pub fn rel(self) -> &'static str {
                match self { $(Format::$variant => <$module::$writer as LayerWriter>::REL,)+ }
            }

            /// Whether the format can hold this layer.
            pub fn applies_to(self, info: &LayerInfo) -> bool {
                match self { $(Format::$variant => <$module::$writer as LayerWriter>::applies_to(info),)+ }
            }

            /// Writes the layer; a layer the format cannot hold is an error.
            pub fn write(self, layer: &LayerExport<'_>) -> Result<Vec<u8>, FormatError> {
                if !self.applies_to(layer.info) {
                    return Err(FormatError::NotForLayer {
                        format: self.title(),
                        geometry: layer.info.geometry.geojson_type(),
                    });
                }
                match self { $(Format::$variant => <$module::$writer as LayerWriter>::write(layer),)+ }
            }
        }
    };
}

formats! {
    /// RFC 7946 GeoJSON: integer ids, the readable id as `key`.
    GeoJson => geojson_file::GeoJson("geojson", "application/geo+json", "GeoJSON"),
    /// FlatGeobuf with its packed Hilbert R-tree.
    /// (Its media type is not registered with IANA; it is what FlatGeobuf's own tools use.)
    FlatGeobuf => fgb::FlatGeobuf("fgb", "application/flatgeobuf", "FlatGeobuf"),
    /// GeoPackage (OGC), QGIS's own format: typed columns, dates as dates.
    GeoPackage => gpkg::GeoPackage("gpkg", "application/geopackage+sqlite3", "GeoPackage"),
    /// GeoParquet 1.1: WKB geometry, a bbox covering column, dates as dates.
    /// (`application/vnd.apache.parquet` is the media type registered with IANA in 2024.)
    GeoParquet => geoparquet::GeoParquet("parquet", "application/vnd.apache.parquet", "GeoParquet"),
    /// CSV of point layers: `id,lon,lat`, then every property.
    Csv => csv_points::Csv("csv", "text/csv; charset=utf-8", "CSV"),
    /// A QGIS style (`.qml`) with the map's colours.
    Qml => qml::Qml("qml", "application/xml", "QGIS style"),
}

impl Format {
    /// The format a file name extension names (case-insensitive).
    ///
    /// ```
    /// use zone_formats::Format;
    /// assert_eq!(Format::from_extension("FGB"), Some(Format::FlatGeobuf));
    /// assert_eq!(Format::from_extension("shp"), None);
    /// ```
    pub fn from_extension(ext: &str) -> Option<Format> {
        Format::ALL
            .iter()
            .copied()
            .find(|f| f.extension().eq_ignore_ascii_case(ext))
    }

    /// The format of a file path, by its extension.
    pub fn from_path(path: &std::path::Path) -> Option<Format> {
        path.extension()
            .and_then(|e| e.to_str())
            .and_then(Format::from_extension)
    }

    /// The formats that can hold a layer.
    pub fn for_layer(info: &LayerInfo) -> impl Iterator<Item = Format> + '_ {
        Format::ALL.iter().copied().filter(|f| f.applies_to(info))
    }
}

/// The column type of a property over a whole layer, shared by the formats with typed columns:
/// strings, integers, other numbers, booleans, and JSON for arrays and objects (and for a column
/// that mixes them with anything); a column of mixed scalars, or only nulls, is text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnKind {
    Text,
    Integer,
    Real,
    Boolean,
    Json,
}

pub(crate) fn column_kind<'v>(values: impl Iterator<Item = &'v Value>) -> ColumnKind {
    let mut kind: Option<ColumnKind> = None;
    for v in values {
        let this = match v {
            Value::Null => continue,
            Value::Bool(_) => ColumnKind::Boolean,
            Value::Number(n) if n.is_i64() => ColumnKind::Integer,
            Value::Number(_) => ColumnKind::Real,
            Value::String(_) => ColumnKind::Text,
            Value::Array(_) | Value::Object(_) => return ColumnKind::Json,
        };
        kind = Some(match (kind, this) {
            (None, t) => t,
            (Some(a), b) if a == b => a,
            (
                Some(ColumnKind::Integer | ColumnKind::Real),
                ColumnKind::Integer | ColumnKind::Real,
            ) => ColumnKind::Real,
            _ => ColumnKind::Text,
        });
    }
    kind.unwrap_or(ColumnKind::Text)
}

/// The property names of a layer (the same on every feature), in order.
pub(crate) fn property_names(features: &[ExportFeature]) -> Vec<&str> {
    features
        .first()
        .map(|f| f.properties.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// The embedded data set's zones, and the zones written as `format`: what the format modules'
/// tests read back and compare.
#[cfg(test)]
fn embedded_zones_as(format: Format) -> (Vec<geodata::ExportFeature>, Vec<u8>) {
    let data = Dataset::embedded();
    let info = data.layer_info("zones").expect("zones");
    let features = data.export_features("zones").expect("zones");
    let bytes = format.write(&LayerExport::all(&data, &info, &features));
    (features.to_vec(), bytes.expect("written"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn column_kinds_follow_the_values_of_the_whole_layer() {
        let kind = |values: Value| column_kind(values.as_array().into_iter().flatten());
        assert_eq!(kind(json!(["a", null, "b"])), ColumnKind::Text);
        assert_eq!(kind(json!([1, null, -2])), ColumnKind::Integer);
        assert_eq!(kind(json!([1, 2.5])), ColumnKind::Real);
        assert_eq!(kind(json!([true, false, null])), ColumnKind::Boolean);
        assert_eq!(kind(json!([[], ["x"]])), ColumnKind::Json);
        assert_eq!(kind(json!(["a", {"title": "t"}])), ColumnKind::Json);
        assert_eq!(kind(json!(["a", 1, true])), ColumnKind::Text);
        assert_eq!(kind(json!([null, null])), ColumnKind::Text);
        assert_eq!(kind(json!([])), ColumnKind::Text);
    }

    #[test]
    fn every_format_has_its_own_extension_and_a_media_type() {
        let mut seen = std::collections::HashSet::new();
        for f in Format::ALL {
            assert!(seen.insert(f.extension()), "{f:?}");
            assert!(f.media_type().contains('/'), "{f:?}");
            assert_eq!(Format::from_extension(f.extension()), Some(*f));
        }
    }

    #[test]
    fn csv_is_for_point_layers_only() {
        let data = Dataset::embedded();
        let zones = data.layer_info("zones").expect("zones");
        let features = data.export_features("zones").expect("zones");
        let layer = LayerExport::all(&data, &zones, &features);
        assert!(matches!(
            Format::Csv.write(&layer),
            Err(FormatError::NotForLayer { .. })
        ));
        assert!(!Format::for_layer(&zones).any(|f| f == Format::Csv));
    }
}
