//! OGC API - Features Part 2 (CRS by reference): the coordinate reference systems answers can
//! be had in, and the conversions between them and the CRS84 lon/lat everything is stored in.
//!
//! Three are offered: CRS84 (the default; lon, lat), EPSG:4326 (the same datum, but latitude
//! first, as the EPSG definition orders its axes) and EPSG:3857 (Web Mercator, metres). Web
//! Mercator is the spherical formula of EPSG Guidance Note 7-2 §1.3.3.2 written out here rather
//! than a projection crate: it is two lines each way, and a test holds it to the guidance note's
//! worked example.

use geo::MapCoords as _;

use crate::error::{ApiError, ApiResult};

/// The OGC URI of CRS84.
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// A CRS answers and parameters can be given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crs {
    /// WGS 84 longitude, latitude (degrees): how everything is stored.
    Crs84,
    /// WGS 84 latitude, longitude (degrees): EPSG's axis order.
    Epsg4326,
    /// WGS 84 / Pseudo-Mercator easting, northing (metres).
    Epsg3857,
}

/// The sphere radius of Web Mercator: WGS 84's semi-major axis.
const MERCATOR_RADIUS: f64 = 6_378_137.0;
/// Web Mercator's latitude limit, where the map is square.
const MERCATOR_MAX_LAT: f64 = 85.051_128_779_806_59;

impl Crs {
    /// Every CRS offered, the default first (collections list them in this order).
    pub const ALL: [Crs; 3] = [Crs::Crs84, Crs::Epsg4326, Crs::Epsg3857];

    /// The OGC URI naming it, as `crs`, `storageCrs` and `Content-Crs` give it.
    pub fn uri(self) -> &'static str {
        match self {
            Crs::Crs84 => CRS84,
            Crs::Epsg4326 => "http://www.opengis.net/def/crs/EPSG/0/4326",
            Crs::Epsg3857 => "http://www.opengis.net/def/crs/EPSG/0/3857",
        }
    }

    /// Reads a CRS parameter (`crs`, `bbox-crs`, `filter-crs`): an OGC URI, or the safe CURIE
    /// and short forms clients also send (`[EPSG:4326]`, `EPSG:4326`, `OGC:CRS84`).
    pub fn parse(name: &str, s: &str) -> ApiResult<Crs> {
        let t = s.trim();
        let t = t
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(t);
        let found = Crs::ALL.into_iter().find(|c| {
            let uri = c.uri();
            let short = match c {
                Crs::Crs84 => "OGC:CRS84",
                Crs::Epsg4326 => "EPSG:4326",
                Crs::Epsg3857 => "EPSG:3857",
            };
            t == uri
                || t.eq_ignore_ascii_case(short)
                // http and https name the same OGC definition.
                || t.strip_prefix("https://").is_some_and(|r| Some(r) == uri.strip_prefix("http://"))
        });
        found.ok_or_else(|| {
            ApiError::invalid(format!(
                "{name}: {:?} is not a CRS offered here; use one of {}",
                crate::error::clip(t, 80),
                Crs::ALL.map(Crs::uri).join(", ")
            ))
        })
    }

    /// Converts one position given in this CRS (in its axis order) to `(lon, lat)`.
    pub fn to_lon_lat(self, a: f64, b: f64) -> (f64, f64) {
        match self {
            Crs::Crs84 => (a, b),
            Crs::Epsg4326 => (b, a),
            Crs::Epsg3857 => (
                (a / MERCATOR_RADIUS).to_degrees(),
                (2.0 * (b / MERCATOR_RADIUS).exp().atan() - std::f64::consts::FRAC_PI_2)
                    .to_degrees(),
            ),
        }
    }

    /// Converts `(lon, lat)` to this CRS, in its axis order. Web Mercator clamps latitudes to
    /// its ±85.05° limit, where the poles would be infinitely far.
    pub fn project(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Crs::Crs84 => (lon, lat),
            Crs::Epsg4326 => (lat, lon),
            Crs::Epsg3857 => {
                let lat = lat.clamp(-MERCATOR_MAX_LAT, MERCATOR_MAX_LAT).to_radians();
                (
                    MERCATOR_RADIUS * lon.to_radians(),
                    MERCATOR_RADIUS * (std::f64::consts::FRAC_PI_4 + lat / 2.0).tan().ln(),
                )
            }
        }
    }

    /// A stored (lon/lat) geometry in this CRS. Vertices are converted; an edge between them
    /// stays straight in the target CRS, as every client draws it.
    pub fn project_geometry(self, g: &geo::Geometry<f64>) -> geo::Geometry<f64> {
        if self == Crs::Crs84 {
            return g.clone();
        }
        g.map_coords(|c| {
            let (x, y) = self.project(c.x, c.y);
            geo::coord! {x: x, y: y}
        })
    }

    /// A geometry given in this CRS as stored (lon/lat).
    pub fn to_crs84(self, g: geo::Geometry<f64>) -> geo::Geometry<f64> {
        if self == Crs::Crs84 {
            return g;
        }
        g.map_coords(|c| {
            let (lon, lat) = self.to_lon_lat(c.x, c.y);
            geo::coord! {x: lon, y: lat}
        })
    }

    /// Reads a `bbox` given in this CRS as `[min_lon, min_lat, max_lon, max_lat]`. Both
    /// conversions keep the order along each axis, so the corners map to corners.
    pub fn bbox_to_lon_lat(self, b: [f64; 4]) -> [f64; 4] {
        let (w, s) = self.to_lon_lat(b[0], b[1]);
        let (e, n) = self.to_lon_lat(b[2], b[3]);
        [w, s, e, n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_mercator_matches_the_epsg_guidance_note_example() {
        // EPSG Guidance Note 7-2, Popular Visualisation Pseudo-Mercator: 24°22'54.433"N,
        // 100°20'00"W is E = -11 169 055.58 m, N = 2 800 000.00 m.
        let lat = 24.0 + 22.0 / 60.0 + 54.433 / 3600.0;
        let lon = -(100.0 + 20.0 / 60.0);
        let (e, n) = Crs::Epsg3857.project(lon, lat);
        assert!((e - -11_169_055.58).abs() < 0.01, "{e}");
        assert!((n - 2_800_000.00).abs() < 0.01, "{n}");
        let (lon2, lat2) = Crs::Epsg3857.to_lon_lat(e, n);
        assert!((lon2 - lon).abs() < 1e-9 && (lat2 - lat).abs() < 1e-9);
        // The edge of the square world.
        let (x, y) = Crs::Epsg3857.project(180.0, MERCATOR_MAX_LAT);
        assert!((x - 20_037_508.342_789_244).abs() < 1e-6);
        assert!((y - 20_037_508.342_789_244).abs() < 1e-3, "{y}");
    }

    #[test]
    fn epsg_4326_puts_latitude_first() {
        assert_eq!(Crs::Epsg4326.project(36.5, 33.5), (33.5, 36.5));
        assert_eq!(Crs::Epsg4326.to_lon_lat(33.5, 36.5), (36.5, 33.5));
        assert_eq!(
            Crs::Epsg4326.bbox_to_lon_lat([32.0, 35.0, 34.0, 37.0]),
            [35.0, 32.0, 37.0, 34.0]
        );
    }

    #[test]
    fn crs_parameters_take_uris_and_short_forms() {
        for (s, c) in [
            (CRS84, Crs::Crs84),
            ("OGC:CRS84", Crs::Crs84),
            ("[EPSG:4326]", Crs::Epsg4326),
            ("http://www.opengis.net/def/crs/EPSG/0/3857", Crs::Epsg3857),
            ("https://www.opengis.net/def/crs/EPSG/0/4326", Crs::Epsg4326),
        ] {
            assert_eq!(Crs::parse("crs", s).unwrap(), c, "{s}");
        }
        let e = Crs::parse("crs", "EPSG:2154").unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        assert!(e.description.starts_with("crs:"), "{}", e.description);
    }
}
