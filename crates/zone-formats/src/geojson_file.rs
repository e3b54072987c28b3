//! A layer as an RFC 7946 GeoJSON file: integer ids, the readable id as `key`, no `crs`.

use crate::{FormatError, LayerExport, LayerWriter};

/// GeoJSON.
pub struct GeoJson;

impl LayerWriter for GeoJson {
    fn write(layer: &LayerExport<'_>) -> Result<Vec<u8>, FormatError> {
        let mut out = String::from("{\"type\":\"FeatureCollection\",\"features\":[\n");
        for (n, i) in layer.indices().into_iter().enumerate() {
            if n > 0 {
                out.push_str(",\n");
            }
            match layer.geojson.and_then(|j| j.get(i)) {
                Some(text) => out.push_str(text),
                None => out.push_str(&layer.features[i].to_json().to_string()),
            }
        }
        out.push_str("\n]}\n");
        Ok(out.into_bytes())
    }
}
