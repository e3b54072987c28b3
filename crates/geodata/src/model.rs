//! The domain model: actors, zones, locations, events, reference layers and what every feature
//! carries (sources, confidence, how it was made, when it holds).

use std::fmt;
use std::sync::Arc;

use geo::{MultiPolygon, Point};

use crate::Date;

/// A readable, stable feature id such as `khasham_gov_strip_2018_02`: lower-case ASCII letters,
/// digits, `_` and `-`, starting with a letter or digit, at most 80 characters.
///
/// ```
/// use geodata::FeatureId;
/// assert!(FeatureId::parse("al_tanf").is_ok());
/// assert!(FeatureId::parse("Al Tanf").is_err());
/// assert_eq!(FeatureId::parse("al_tanf").unwrap().as_str(), "al_tanf");
/// ```
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct FeatureId(Arc<str>);

/// Longest id accepted, so that ids stay readable in URLs and tables.
pub const MAX_ID_LEN: usize = 80;

impl FeatureId {
    /// Checks the id pattern; the error says what is wrong in words.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("is empty".into());
        }
        if s.len() > MAX_ID_LEN {
            return Err(format!(
                "is {} characters long; the limit is {MAX_ID_LEN}",
                s.len()
            ));
        }
        let first_ok = s
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok = s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !first_ok || !rest_ok {
            return Err(format!(
                "{s:?} is not a valid id: use lower-case letters, digits, '_' and '-', starting with a letter or digit"
            ));
        }
        Ok(Self(s.into()))
    }

    /// The id as written in the data files.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A stable integer id for clients that need one (GDAL, GeoPackage): a 31-bit FNV-1a hash of
    /// the readable id, so it does not change when features are reordered or others are added.
    /// Collisions inside a layer are reported by validation.
    ///
    /// ```
    /// use geodata::FeatureId;
    /// let id = FeatureId::parse("al_tanf").unwrap();
    /// assert_eq!(id.fid(), FeatureId::parse("al_tanf").unwrap().fid());
    /// assert!(id.fid() > 0);
    /// ```
    pub fn fid(&self) -> u32 {
        let mut h: u32 = 0x811c_9dc5;
        for b in self.0.bytes() {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
        // Keep it positive in signed 32-bit fields and never 0 (some clients treat 0 as unset).
        (h & 0x7fff_ffff).max(1)
    }
}

// Hash and Eq are the text's (the derived ones hash the one field, an `Arc<str>`, as `str`), so
// maps keyed by ids can be looked up with a `&str`.
impl std::borrow::Borrow<str> for FeatureId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FeatureId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An actor id from `actors.json`, such as `iran` or `us_coalition`. Same pattern as [`FeatureId`].
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ActorId(Arc<str>);

impl ActorId {
    /// Checks the id pattern.
    ///
    /// ```
    /// assert!(geodata::ActorId::parse("us_coalition").is_ok());
    /// assert!(geodata::ActorId::parse("US").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, String> {
        FeatureId::parse(s).map(|id| Self(id.0))
    }

    /// The id as written in the data files.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who a zone, location or event belongs to, with the colour the map and QGIS styles use.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Actor {
    /// Stable id.
    pub id: ActorId,
    /// Display name.
    pub name: String,
    /// `#rrggbb`.
    pub colour: String,
    /// Who is meant, in a sentence.
    pub description: String,
}

/// How sure the data set is of a feature's geometry and attributes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Confidence {
    /// A published coordinate or a Natural Earth geometry used as-is.
    High,
    /// Simplified geometry, or a coordinate known to within a few km.
    Medium,
    /// Hand-drawn from anchor towns and public maps (±5-15 km): for display with an
    /// "approximate" label only.
    Low,
}

impl Confidence {
    /// Every value, in order.
    pub const ALL: [Confidence; 3] = [Confidence::High, Confidence::Medium, Confidence::Low];

    /// The word used in files and APIs.
    ///
    /// ```
    /// use geodata::Confidence;
    /// assert_eq!(Confidence::parse("low"), Some(Confidence::Low));
    /// assert_eq!(Confidence::Low.as_str(), "low");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::High => "high",
            Confidence::Medium => "medium",
            Confidence::Low => "low",
        }
    }

    /// Parses the word used in files and APIs.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// How a feature's geometry was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Method {
    /// A coordinate taken from a cited source.
    SourcedCoordinate,
    /// Natural Earth geometry, as-is or simplified.
    NaturalEarth,
    /// Drawn by hand from anchor points.
    HandDrawn,
    /// Computed by zonetrack from a rule (buffer, split).
    Rule,
}

impl Method {
    /// Every value, in order.
    pub const ALL: [Method; 4] = [
        Method::SourcedCoordinate,
        Method::NaturalEarth,
        Method::HandDrawn,
        Method::Rule,
    ];

    /// The word used in files and APIs.
    ///
    /// ```
    /// assert_eq!(geodata::Method::parse("hand_drawn"), Some(geodata::Method::HandDrawn));
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Method::SourcedCoordinate => "sourced_coordinate",
            Method::NaturalEarth => "natural_earth",
            Method::HandDrawn => "hand_drawn",
            Method::Rule => "rule",
        }
    }

    /// Parses the word used in files and APIs.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// What a zone describes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum ZoneKind {
    /// Territory an actor holds.
    Control,
    /// Where an actor's forces are present without holding the ground.
    Presence,
    /// An agreed area where another party's forces are kept out to avoid clashes.
    Deconfliction,
    /// An area an actor demanded, offered or claimed to be free of another's forces.
    DemandedExclusion,
    /// A de-escalation (ceasefire) zone.
    DeEscalation,
    /// A buffer or separation area.
    Buffer,
    /// An area where an agreement limits forces and weapons.
    Limitation,
}

impl ZoneKind {
    /// Every value, in order.
    pub const ALL: [ZoneKind; 7] = [
        ZoneKind::Control,
        ZoneKind::Presence,
        ZoneKind::Deconfliction,
        ZoneKind::DemandedExclusion,
        ZoneKind::DeEscalation,
        ZoneKind::Buffer,
        ZoneKind::Limitation,
    ];

    /// The word used in files and APIs.
    ///
    /// ```
    /// use geodata::ZoneKind;
    /// assert_eq!(ZoneKind::parse("demanded_exclusion"), Some(ZoneKind::DemandedExclusion));
    /// assert_eq!(ZoneKind::DeEscalation.as_str(), "de_escalation");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneKind::Control => "control",
            ZoneKind::Presence => "presence",
            ZoneKind::Deconfliction => "deconfliction",
            ZoneKind::DemandedExclusion => "demanded_exclusion",
            ZoneKind::DeEscalation => "de_escalation",
            ZoneKind::Buffer => "buffer",
            ZoneKind::Limitation => "limitation",
        }
    }

    /// Parses the word used in files and APIs.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a claim comes from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Source {
    /// Title of the page, article or document.
    pub title: String,
    /// Who published it (a newspaper, an agency, Wikipedia).
    pub publisher: Option<String>,
    /// Where to read it.
    pub url: Option<String>,
    /// Publication date, when known.
    #[serde(default, with = "day_number")]
    pub date: Option<Date>,
}

impl fmt::Display for Source {
    /// `Title (Publisher, 2018-02-07) <url>`, leaving out what is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title)?;
        match (&self.publisher, self.date) {
            (Some(p), Some(d)) => write!(f, " ({p}, {d})")?,
            (Some(p), None) => write!(f, " ({p})")?,
            (None, Some(d)) => write!(f, " ({d})")?,
            (None, None) => {}
        }
        if let Some(u) = &self.url {
            write!(f, " <{u}>")?;
        }
        Ok(())
    }
}

/// A closed interval of days, `from..=to`, either end open.
///
/// ```
/// use geodata::{Date, Period};
/// let d = |s: &str| s.parse::<Date>().unwrap();
/// let p = Period::new(Some(d("2017-07-09")), Some(d("2018-07-31"))).unwrap();
/// assert!(p.contains(d("2017-07-09")) && p.contains(d("2018-07-31")));
/// assert!(!p.contains(d("2018-08-01")));
/// assert!(Period::ALWAYS.contains(d("1900-01-01")));
/// assert!(Period::new(Some(d("2018-01-02")), Some(d("2018-01-01"))).is_none());
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct Period {
    #[serde(default, with = "day_number")]
    from: Option<Date>,
    #[serde(default, with = "day_number")]
    to: Option<Date>,
}

/// A day as `YYYY-MM-DD` text where a person may read it (JSON), and as its number of days
/// since 0001-01-01 in the binary load cache (postcard, which says it is not human-readable):
/// reading 200,000 dates back from text was 4% of loading the zones-100k set from its cache.
mod day_number {
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

    use crate::Date;
    use chrono::Datelike;

    pub fn serialize<S: Serializer>(day: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            day.serialize(s)
        } else {
            day.map(|d| d.num_days_from_ce()).serialize(s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        if d.is_human_readable() {
            return Option::<Date>::deserialize(d);
        }
        match Option::<i32>::deserialize(d)? {
            None => Ok(None),
            Some(n) => Date::from_num_days_from_ce_opt(n)
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("day {n} is out of chrono's range"))),
        }
    }
}

impl Period {
    /// Open at both ends.
    pub const ALWAYS: Period = Period {
        from: None,
        to: None,
    };

    /// `None` when `from` is after `to`.
    pub fn new(from: Option<Date>, to: Option<Date>) -> Option<Self> {
        match (from, to) {
            (Some(f), Some(t)) if f > t => None,
            _ => Some(Self { from, to }),
        }
    }

    /// First day, or `None` when open.
    pub fn from(&self) -> Option<Date> {
        self.from
    }

    /// Last day (inclusive), or `None` when open.
    pub fn to(&self) -> Option<Date> {
        self.to
    }

    /// Whether the day lies in the interval (both ends included).
    pub fn contains(&self, day: Date) -> bool {
        self.from.is_none_or(|f| f <= day) && self.to.is_none_or(|t| day <= t)
    }

    /// Whether the two intervals share at least one day.
    ///
    /// ```
    /// use geodata::{Date, Period};
    /// let d = |s: &str| Some(s.parse::<Date>().unwrap());
    /// let a = Period::new(d("2018-01-01"), d("2018-01-31")).unwrap();
    /// let b = Period::new(d("2018-01-31"), None).unwrap();
    /// assert!(a.overlaps(&b));
    /// ```
    pub fn overlaps(&self, other: &Period) -> bool {
        let starts_before_other_ends = match (self.from, other.to) {
            (Some(f), Some(t)) => f <= t,
            _ => true,
        };
        let other_starts_before_self_ends = match (other.from, self.to) {
            (Some(f), Some(t)) => f <= t,
            _ => true,
        };
        starts_before_other_ends && other_starts_before_self_ends
    }
}

impl fmt::Display for Period {
    /// `2017-07-09..2018-07-31`, with `..` for an open end.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.from {
            Some(d) => write!(f, "{d}")?,
            None => f.write_str("..")?,
        }
        f.write_str("/")?;
        match self.to {
            Some(d) => write!(f, "{d}"),
            None => f.write_str(".."),
        }
    }
}

/// What every feature carries: who says so, how sure, how it was made.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeatureMeta {
    /// Stable readable id, unique in its layer.
    pub id: FeatureId,
    /// Display name.
    pub name: String,
    /// What the feature is and what about it is approximate.
    pub description: String,
    /// How sure the data set is.
    pub confidence: Confidence,
    /// How the geometry was made.
    pub method: Method,
    /// At least one source.
    pub sources: Vec<Source>,
}

/// Which side of a line a split rule keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Side {
    /// Left, walking along the line in the direction it is drawn.
    Left,
    /// Right, walking along the line in the direction it is drawn.
    Right,
}

impl Side {
    /// The word used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }
}

/// How a zone's geometry is defined when it is not drawn.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Rule {
    /// Every point within `distance_km` (geodesic) of feature `of`, clipped to `clip_to`, minus
    /// each of `minus`.
    Buffer {
        /// The point, line or polygon to buffer.
        of: FeatureId,
        /// Geodesic distance on the WGS84 ellipsoid, in kilometres.
        distance_km: f64,
        /// Optional polygon to intersect with.
        clip_to: Option<FeatureId>,
        /// Polygons to subtract.
        minus: Vec<FeatureId>,
    },
    /// The part of polygon `area` on one `side` of line `by`, minus each of `minus`.
    Split {
        /// The polygon to split.
        area: FeatureId,
        /// The line that splits it; its ends are extended straight out past the area.
        by: FeatureId,
        /// Which side to keep.
        side: Side,
        /// Polygons to subtract.
        minus: Vec<FeatureId>,
    },
    /// Polygon `area` minus every `control` zone of another actor valid on the day: a rule that
    /// changes with the date, so it is derived as one zone per period between changes of the
    /// zones it subtracts (see [`Zone::derived_from`]).
    Remainder {
        /// The polygon to start from (the outline, typically).
        area: FeatureId,
    },
}

impl Rule {
    /// The features whose area is taken out of the result.
    pub fn minus(&self) -> &[FeatureId] {
        match self {
            Rule::Buffer { minus, .. } | Rule::Split { minus, .. } => minus,
            // A remainder takes out every other actor's control zone of the day, named nowhere.
            Rule::Remainder { .. } => &[],
        }
    }

    /// Every feature the rule reads, in the order written.
    pub fn references(&self) -> Vec<&FeatureId> {
        match self {
            Rule::Buffer {
                of, clip_to, minus, ..
            } => std::iter::once(of)
                .chain(clip_to.iter())
                .chain(minus.iter())
                .collect(),
            Rule::Split {
                area, by, minus, ..
            } => [area, by].into_iter().chain(minus).collect(),
            Rule::Remainder { area } => vec![area],
        }
    }
}

impl fmt::Display for Rule {
    /// A one-line human description, e.g. `buffer of golan_line_a by 85 km, clipped to syria`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let minus = |f: &mut fmt::Formatter<'_>, minus: &[FeatureId]| {
            if minus.is_empty() {
                return Ok(());
            }
            let names: Vec<&str> = minus.iter().map(FeatureId::as_str).collect();
            write!(f, ", minus {}", names.join(", "))
        };
        match self {
            Rule::Buffer {
                of,
                distance_km,
                clip_to,
                minus: m,
            } => {
                write!(f, "buffer of {of} by {distance_km} km")?;
                if let Some(c) = clip_to {
                    write!(f, ", clipped to {c}")?;
                }
                minus(f, m)
            }
            Rule::Split {
                area,
                by,
                side,
                minus: m,
            } => {
                write!(f, "{area} on the {} side of {by}", side.as_str())?;
                minus(f, m)
            }
            Rule::Remainder { area } => {
                write!(f, "{area} minus the other actors' control zones of the day")
            }
        }
    }
}

/// A polygon with an actor, a kind, a validity period, a confidence and sources.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Zone {
    /// Id, name, sources, confidence, method.
    pub meta: Arc<FeatureMeta>,
    /// Whose zone it is.
    pub actor: ActorId,
    /// What it describes.
    pub kind: ZoneKind,
    /// When it holds.
    pub period: Period,
    /// Drawn or derived geometry; exterior rings counter-clockwise, holes clockwise.
    pub geometry: Arc<MultiPolygon<f64>>,
    /// The rule the geometry was derived from, when it was not drawn.
    pub rule: Option<Rule>,
    /// For one period of a date-aware rule ([`Rule::Remainder`]): the feature of the data file
    /// it was derived from, whose id and period this zone's refine. `None` for every other zone.
    pub derived_from: Option<DerivedFrom>,
}

impl PartialEq for Zone {
    /// Field by field; the shared metadata and geometry are the same when they are the same
    /// allocation, which a reload's memo and an edit's untouched zones are: comparing 100,000
    /// zones to find the one a hand edit changed does not walk 3.7 M coordinates.
    fn eq(&self, other: &Zone) -> bool {
        // Destructured, so that a field added to `Zone` cannot be left out here.
        let Zone {
            meta,
            actor,
            kind,
            period,
            geometry,
            rule,
            derived_from,
        } = self;
        (Arc::ptr_eq(meta, &other.meta) || **meta == *other.meta)
            && *actor == other.actor
            && *kind == other.kind
            && *period == other.period
            && (Arc::ptr_eq(geometry, &other.geometry) || **geometry == *other.geometry)
            && *rule == other.rule
            && *derived_from == other.derived_from
    }
}

/// The data-file feature a zone is one period of: a [`Rule::Remainder`] zone is written once, with
/// this id and period, and derived as one zone per period between changes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DerivedFrom {
    /// The id written in the data file.
    pub id: FeatureId,
    /// The period written in the data file.
    pub period: Period,
}

/// A named point.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Location {
    /// Id, name, sources, confidence, method.
    pub meta: FeatureMeta,
    /// Free text: `city`, `airbase`, `military_base` ...
    pub kind: String,
    /// Whose site it is, when it is someone's.
    pub actor: Option<ActorId>,
    /// When it holds (open when the files say nothing).
    pub period: Period,
    /// Where.
    pub point: Point<f64>,
}

/// A dated point.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    /// Id, name, sources, confidence, method.
    pub meta: FeatureMeta,
    /// Free text: `strike`, `battle`, `agreement` ...
    pub kind: String,
    /// The day it happened (or began).
    pub date: Date,
    /// The last day, for events that lasted.
    pub date_end: Option<Date>,
    /// Who took part.
    pub actors: Vec<ActorId>,
    /// The location it happened at, when it is one of the locations.
    pub location: Option<FeatureId>,
    /// Where.
    pub point: Point<f64>,
}

impl Event {
    /// The days the event covers, as a period (one day unless `date_end` is set).
    pub fn period(&self) -> Period {
        Period {
            from: Some(self.date),
            to: Some(self.date_end.unwrap_or(self.date)),
        }
    }
}

/// A feature of a reference layer (outline, governorates, lines).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReferenceFeature {
    /// Id, name, sources, confidence, method.
    pub meta: FeatureMeta,
    /// Polygons come as MultiPolygon, lines as MultiLineString, points as Point.
    pub geometry: geo::Geometry<f64>,
}

/// The single geometry kind of a reference layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum GeometryKind {
    /// `Point`.
    Point,
    /// `LineString` / `MultiLineString`, read as MultiLineString.
    Line,
    /// `Polygon` / `MultiPolygon`, read as MultiPolygon.
    Polygon,
}

impl GeometryKind {
    /// The GeoJSON geometry type features of this kind are written as.
    pub fn geojson_type(self) -> &'static str {
        match self {
            GeometryKind::Point => "Point",
            GeometryKind::Line => "MultiLineString",
            GeometryKind::Polygon => "MultiPolygon",
        }
    }
}

/// A named layer of reference features, one geometry kind.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReferenceLayer {
    /// The layer name (the file stem): `syria`, `governorates` ...
    pub name: String,
    /// What geometry its features have.
    pub kind: GeometryKind,
    /// The layer's title (the file's `title` member).
    pub title: Option<String>,
    /// What it shows and where it comes from (the file's `description` member).
    pub description: Option<String>,
    /// How it is drawn (the file's `style` member).
    pub style: Option<crate::LayerStyle>,
    /// Its features, in file order.
    pub features: Vec<ReferenceFeature>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn dates_are_text_in_json_and_day_numbers_in_the_cache() {
        let period = Period::new(Some(day("2017-07-09")), None).unwrap();
        let source = Source {
            title: "t".into(),
            publisher: None,
            url: None,
            date: Some(day("2018-02-07")),
        };
        let json = serde_json::to_string(&(period, &source)).unwrap();
        assert!(
            json.contains("\"2017-07-09\"") && json.contains("\"2018-02-07\""),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<(Period, Source)>(&json).unwrap(),
            (period, source.clone())
        );
        // Text would be 11 bytes a date; a day number is a 3-byte varint.
        let bytes = postcard::to_allocvec(&period).unwrap();
        assert!(bytes.len() <= 5, "{bytes:?}");
        let back: (Period, Source) =
            postcard::from_bytes(&postcard::to_allocvec(&(period, &source)).unwrap()).unwrap();
        assert_eq!(back, (period, source));
        // The ends of chrono's range survive too.
        let wide = Period::new(Some(Date::MIN), Some(Date::MAX)).unwrap();
        let back: Period = postcard::from_bytes(&postcard::to_allocvec(&wide).unwrap()).unwrap();
        assert_eq!(back, wide);
    }

    #[test]
    fn a_source_without_a_date_still_reads_from_json() {
        let s: Source =
            serde_json::from_str(r#"{"title":"t","publisher":null,"url":null}"#).unwrap();
        assert_eq!(s.date, None);
    }
}
