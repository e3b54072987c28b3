//! Query parameters: parsed strictly and bounded, each failure a 400 that says what to send.

use geodata::Date;

use zone_index::Bbox;

use crate::error::{ApiError, ApiResult};

/// Longest query string accepted; longer ones are not something a client legitimately sends.
pub const MAX_QUERY_LEN: usize = 8 * 1024;
/// Longest single parameter value.
pub const MAX_VALUE_LEN: usize = 1024;

/// The query string as ordered name/value pairs, with every name checked against `allowed`.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a raw query string; a name not in `allowed` or given twice is an error.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> ApiResult<Params> {
        Self::parse_repeatable(raw, allowed, &[])
    }

    /// As [`Params::parse`], but the names in `repeatable` may come more than once.
    pub fn parse_repeatable(
        raw: Option<&str>,
        allowed: &[&str],
        repeatable: &[&str],
    ) -> ApiResult<Params> {
        let raw = raw.unwrap_or("");
        if raw.len() > MAX_QUERY_LEN {
            return Err(ApiError::invalid(format!(
                "the query string is {} bytes; the limit is {MAX_QUERY_LEN}",
                raw.len()
            )));
        }
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
            if k.is_empty() {
                continue;
            }
            if !allowed.contains(&k.as_ref()) {
                let shown = crate::error::clip(&k, 64);
                return Err(ApiError::unknown_parameter(&shown, allowed));
            }
            if v.len() > MAX_VALUE_LEN {
                return Err(ApiError::invalid(format!(
                    "parameter {k:?} is {} bytes long; the limit is {MAX_VALUE_LEN}",
                    v.len()
                )));
            }
            if !repeatable.contains(&k.as_ref()) && out.iter().any(|(n, _)| n == k.as_ref()) {
                return Err(ApiError::invalid(format!(
                    "parameter {k:?} is given more than once"
                )));
            }
            out.push((k.into_owned(), v.into_owned()));
        }
        Ok(Params(out))
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a parameter, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every pair, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The query string with `name` set to `value` (added or replaced), other parameters kept.
    pub fn with(&self, name: &str, value: &str) -> String {
        self.with_all(&[(name, value)])
    }

    /// The query string with each `(name, value)` set (added or replaced), others kept in order.
    pub fn with_all(&self, set: &[(&str, &str)]) -> String {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            match set.iter().find(|(n, _)| n == k) {
                Some((_, new)) => ser.append_pair(k, new),
                None => ser.append_pair(k, v),
            };
        }
        for (n, v) in set {
            if !self.0.iter().any(|(k, _)| k == n) {
                ser.append_pair(n, v);
            }
        }
        ser.finish()
    }
}

/// Parses a finite number; the error names the parameter.
pub fn number(name: &str, s: &str) -> ApiResult<f64> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| ApiError::invalid(format!("{name}: {:?} is not a number", short(s))))?;
    if !v.is_finite() {
        return Err(ApiError::invalid(format!(
            "{name}: {:?} is not a finite number",
            short(s)
        )));
    }
    Ok(v)
}

/// A longitude in -180..=180.
pub fn lon(name: &str, s: &str) -> ApiResult<f64> {
    lon_value(name, number(name, s)?)
}

fn lon_value(name: &str, v: f64) -> ApiResult<f64> {
    zone_index::LonLat::new(v, 0.0)
        .map(|p| p.lon)
        .map_err(|_| ApiError::invalid(format!("{name}: {v} is not a longitude (-180..180)")))
}

/// A latitude in -90..=90.
pub fn lat(name: &str, s: &str) -> ApiResult<f64> {
    lat_value(name, number(name, s)?)
}

fn lat_value(name: &str, v: f64) -> ApiResult<f64> {
    zone_index::LonLat::new(0.0, v)
        .map(|p| p.lat)
        .map_err(|_| ApiError::invalid(format!("{name}: {v} is not a latitude (-90..90)")))
}

fn short(s: &str) -> String {
    crate::error::clip(s, 40)
}

/// An integer in `min..=max`.
pub fn integer(name: &str, s: &str, min: u64, max: u64) -> ApiResult<u64> {
    let v: u64 = s.trim().parse().map_err(|_| {
        ApiError::invalid(format!(
            "{name}: {:?} is not a whole number from {min} to {max}",
            short(s)
        ))
    })?;
    if v < min || v > max {
        return Err(ApiError::invalid(format!(
            "{name}: {v} is out of range: use {min} to {max}"
        )));
    }
    Ok(v)
}

/// Parses the OGC `bbox` parameter in CRS84: 4 numbers, or 6 for a 3-D box (OGC API - Features
/// Part 1 requires both; the heights are ignored, as every feature lies on the ground).
pub fn bbox(s: &str) -> ApiResult<Bbox> {
    bbox_in(s, crate::crs::Crs::Crs84)
}

/// Parses `bbox` given in `crs` (the `bbox-crs` parameter), as a lon/lat box.
pub fn bbox_in(s: &str, crs: crate::crs::Crs) -> ApiResult<Bbox> {
    let parts: Vec<&str> = s.split(',').collect();
    let corners = match parts.as_slice() {
        [w, s, e, n] => [*w, *s, *e, *n],
        [w, s, low, e, n, high] => {
            number("bbox min_height", low)?;
            number("bbox max_height", high)?;
            [*w, *s, *e, *n]
        }
        _ => {
            return Err(ApiError::invalid(format!(
                "bbox: expected 4 comma-separated numbers min_lon,min_lat,max_lon,max_lat \
                 (or 6, with heights, which are ignored); got {}",
                parts.len()
            )));
        }
    };
    let names = [
        "bbox min_lon",
        "bbox min_lat",
        "bbox max_lon",
        "bbox max_lat",
    ];
    let mut n = [0.0; 4];
    for (i, part) in corners.iter().enumerate() {
        n[i] = number(names[i], part)?;
    }
    let [w, s, e, n] = crs.bbox_to_lon_lat(n);
    let (west, south) = (lon_value(names[0], w)?, lat_value(names[1], s)?);
    let (east, north) = (lon_value(names[2], e)?, lat_value(names[3], n)?);
    // West east of east is a box across the antimeridian, as OGC API - Features says.
    Bbox::new(west, south, east, north).map_err(|_| {
        ApiError::invalid(format!(
            "bbox: min_lat {south} is north of max_lat {north}; the order is min_lon,min_lat,max_lon,max_lat"
        ))
    })
}

/// A `datetime` filter: an instant (a day) or a closed interval of days, either end open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateFilter {
    /// First day, or open.
    pub from: Option<Date>,
    /// Last day, or open.
    pub to: Option<Date>,
}

impl DateFilter {
    /// Whether a feature valid over `period` matches (shares a day with the filter).
    pub fn matches(&self, period: &geodata::Period) -> bool {
        match geodata::Period::new(self.from, self.to) {
            Some(p) => p.overlaps(period),
            None => false,
        }
    }

    /// The single day, when the filter is an instant.
    pub fn instant(&self) -> Option<Date> {
        match (self.from, self.to) {
            (Some(a), Some(b)) if a == b => Some(a),
            _ => None,
        }
    }
}

/// Parses one end of a datetime: `YYYY-MM-DD`, or a date-time (RFC 3339, its UTC day is used;
/// a time without an offset is taken as UTC). QGIS's open-end stand-ins `0000-01-01T00:00:00Z`
/// and `9999-12-31T00:00:00Z` are days like any other. GDAL turns a `-where` on a date field into
/// `2018-02-07T` (a bare `T`), which is read as that day.
pub fn day(s: &str) -> Option<Date> {
    if let Some(d) = geodata::parse_date(s) {
        return Some(d);
    }
    if s.len() > 40 {
        return None;
    }
    // Year 0000 is outside what RFC 3339 parsers accept, so read the date part ourselves and
    // parse the time against a stand-in day.
    let (date, time) = s.split_once(['T', 't'])?;
    let d = geodata::parse_date(date)?;
    if time.is_empty() {
        return Some(d);
    }
    let has_zone = time.ends_with(['Z', 'z'])
        || time
            .get(time.len().saturating_sub(6)..)
            .is_some_and(|t| t.starts_with(['+', '-']));
    let full = if has_zone {
        format!("2000-01-01T{time}")
    } else {
        format!("2000-01-01T{time}Z")
    };
    let dt = chrono::DateTime::parse_from_rfc3339(&full).ok()?;
    let shift =
        dt.with_timezone(&chrono::Utc).date_naive() - chrono::NaiveDate::from_ymd_opt(2000, 1, 1)?;
    d.checked_add_signed(shift)
}

/// Parses every `datetime` value and intersects them. GDAL sends a `-where` of the form
/// `valid_from <= D AND valid_to >= D` as two `datetime` parameters, `../D` and `D/..`, meaning
/// both; an empty intersection matches nothing.
pub fn datetimes<'a>(values: impl Iterator<Item = &'a str>) -> ApiResult<Option<DateFilter>> {
    let mut out: Option<DateFilter> = None;
    for v in values {
        let d = datetime(v)?;
        out = Some(match out {
            None => d,
            Some(o) => DateFilter {
                from: o.from.max(d.from),
                to: match (o.to, d.to) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                },
            },
        });
    }
    Ok(out)
}

/// Parses the OGC `datetime` parameter: `D`, `D1/D2`, `../D2`, `D1/..`, `/D2`, `D1/`.
pub fn datetime(s: &str) -> ApiResult<DateFilter> {
    let bad = || {
        ApiError::invalid(format!(
            "datetime: {:?} is not a date or interval; use 2018-02-07, 2018-02-07T00:00:00Z, \
             2018-01-01/2018-12-31, ../2018-12-31 or 2018-01-01/..",
            short(s)
        ))
    };
    let end = |p: &str| -> ApiResult<Option<Date>> {
        if p.is_empty() || p == ".." {
            Ok(None)
        } else {
            day(p).map(Some).ok_or_else(bad)
        }
    };
    match s.split_once('/') {
        None => {
            let d = day(s).ok_or_else(bad)?;
            Ok(DateFilter {
                from: Some(d),
                to: Some(d),
            })
        }
        Some((a, b)) => {
            if b.contains('/') {
                return Err(bad());
            }
            let (from, to) = (end(a)?, end(b)?);
            if let (Some(f), Some(t)) = (from, to)
                && f > t
            {
                return Err(ApiError::invalid(format!(
                    "datetime: the interval starts on {f}, after it ends on {t}"
                )));
            }
            Ok(DateFilter { from, to })
        }
    }
}

/// Parses the query of a resource served as JSON only, whose parameters are `as_of` (see
/// [`crate::AppState::snapshot_at`]) and `f`: `f=json`
/// (or `geojson`) or nothing; any other format is a 400 rather than a JSON answer to a client
/// that asked for something else.
pub fn json_only(query: Option<&str>) -> ApiResult<Params> {
    let params = Params::parse(query, &["f", "as_of"])?;
    match params.get("f") {
        None | Some("json" | "geojson") => Ok(params),
        Some(other) => Err(ApiError::invalid(format!(
            "f: {:?} is not served here; this resource is JSON only (f=json)",
            short(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<Date> {
        geodata::parse_date(s)
    }

    #[test]
    fn datetime_accepts_the_forms_clients_send() {
        assert_eq!(datetime("2018-02-07").unwrap().instant(), d("2018-02-07"));
        assert_eq!(
            datetime("2018-02-07T23:00:00Z").unwrap().instant(),
            d("2018-02-07")
        );
        assert_eq!(
            datetime("2018-02-07T23:00:00-02:00").unwrap().instant(),
            d("2018-02-08")
        );
        let qgis = datetime("0000-01-01T00:00:00Z/2018-03-01T00:00:00Z").unwrap();
        assert_eq!(qgis.to, d("2018-03-01"));
        let qgis = datetime("2018-01-01T00:00:00Z/9999-12-31T00:00:00Z").unwrap();
        assert_eq!(qgis.from, d("2018-01-01"));
        assert_eq!(datetime("../2018-01-01").unwrap().from, None);
        assert_eq!(datetime("2018-01-01/").unwrap().to, None);
        assert_eq!(
            datetime("../..").unwrap(),
            DateFilter {
                from: None,
                to: None
            }
        );
        assert_eq!(datetime("../2018-02-07T").unwrap().to, d("2018-02-07"));
        assert_eq!(
            datetime("2018-02-07T10:00:00").unwrap().instant(),
            d("2018-02-07")
        );
    }

    #[test]
    fn datetime_rejects_what_is_not_a_date() {
        for bad in [
            "",
            "yesterday",
            "2018-02-30",
            "2018-1-1",
            "2018-02-07T25:00:00Z",
            "a/b/c",
            "2018-03-01/2018-02-01",
            "+002018-01-01",
        ] {
            assert!(datetime(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bbox_is_checked_for_order_range_and_count() {
        assert!(bbox("35,32,37,34").is_ok());
        assert!(bbox("35,34,37,32").is_err());
        // West east of east: across the antimeridian.
        assert!(bbox("37,32,35,34").is_ok());
        assert!(bbox("35,32,37").is_err());
        // A 3-D box: the heights are ignored (issue 16).
        assert_eq!(
            bbox("35,32,0,37,34,10").unwrap().edges(),
            bbox("35,32,37,34").unwrap().edges()
        );
        assert!(bbox("35,32,0,37,34").is_err());
        assert!(bbox("35,32,0,37,34,x").is_err());
        assert!(bbox("35,32,NaN,34").is_err());
        assert!(bbox("35,32,inf,34").is_err());
        assert!(bbox("35,-91,37,34").is_err());
        assert!(bbox("1e400,32,37,34").is_err());
    }

    #[test]
    fn params_reject_unknown_and_repeated_names() {
        assert!(Params::parse(Some("limit=1&offset=2"), &["limit", "offset"]).is_ok());
        assert_eq!(
            Params::parse(Some("limt=1"), &["limit"]).unwrap_err().code,
            "UnknownParameter"
        );
        assert!(Params::parse(Some("limit=1&limit=2"), &["limit"]).is_err());
        let p = Params::parse(Some("bbox=1%2C2%2C3%2C4&limit=5"), &["bbox", "limit"]).unwrap();
        assert_eq!(
            p.with("offset", "10"),
            "bbox=1%2C2%2C3%2C4&limit=5&offset=10"
        );
        assert_eq!(p.with("limit", "7"), "bbox=1%2C2%2C3%2C4&limit=7");
    }
}
