//! Validation problems: each names the file, the feature, the field and the reason, in words a
//! person can act on.

use std::fmt;

/// Which feature of a file a problem is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureRef {
    /// Position in the file's `features` (or `actors`) array, from 0.
    pub index: usize,
    /// The feature's id, when it has a readable one.
    pub id: Option<String>,
}

/// One problem found while loading a data directory.
///
/// Displays as `file: features[3] "id": field: reason`:
///
/// ```
/// use geodata::{FeatureRef, Problem, ProblemKind};
/// let p = Problem {
///     file: "zones.geojson".into(),
///     feature: Some(FeatureRef { index: 3, id: Some("khasham".into()) }),
///     field: Some("actor".into()),
///     kind: ProblemKind::UnknownActor { actor: "wagner".into(), known: vec!["russia".into()] },
/// };
/// assert_eq!(
///     p.to_string(),
///     "zones.geojson: features[3] \"khasham\": actor: unknown actor \"wagner\"; actors.json defines: russia"
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The file, as the user named it (relative to the data directory's parent).
    pub file: String,
    /// The feature, when the problem is inside one.
    pub feature: Option<FeatureRef>,
    /// The property or member (`valid_from`, `geometry`, `rule.of`), when there is one.
    pub field: Option<String>,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(feature) = &self.feature {
            write!(f, ": features[{}]", feature.index)?;
            if let Some(id) = &feature.id {
                write!(f, " {id:?}")?;
            }
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.kind)
    }
}

/// What is wrong, with the values that show it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The file could not be read.
    Unreadable {
        /// The operating system's reason.
        reason: String,
    },
    /// A file every data directory needs is absent.
    MissingFile,
    /// A `.geojson`/`.json` file the loader does not know what to do with.
    UnknownFile,
    /// An edit that the data cannot take as it is (a geometry written to a rule zone, an id
    /// changed, a layer that is not edited feature by feature).
    Refused {
        /// Why, and what to do instead.
        reason: String,
    },
    /// The file is not JSON.
    NotJson {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's words.
        reason: String,
    },
    /// JSON, but not the GeoJSON (or actors) structure expected.
    NotGeoJson {
        /// What was expected and not found.
        reason: String,
    },
    /// A required member is absent (or null).
    Missing,
    /// A member has the wrong JSON type or an empty value.
    WrongType {
        /// What it must be, e.g. "a non-empty string".
        expected: &'static str,
    },
    /// A property the format does not define (often a typo).
    UnknownProperty {
        /// The properties the layer allows.
        known: &'static [&'static str],
    },
    /// A value outside a fixed list.
    NotOneOf {
        /// The value found.
        value: String,
        /// The values allowed.
        allowed: Vec<&'static str>,
    },
    /// An id that breaks the id pattern.
    InvalidId {
        /// Why.
        reason: String,
    },
    /// Two features of a layer share an id.
    DuplicateId {
        /// The id.
        id: String,
        /// Where it was first used.
        first_index: usize,
    },
    /// Two ids of a layer hash to the same integer id.
    FidCollision {
        /// The integer id.
        fid: u32,
        /// The other feature's id.
        other: String,
    },
    /// A date that is not `YYYY-MM-DD`, or not a real day.
    BadDate {
        /// The text found.
        value: String,
    },
    /// `valid_from` after `valid_to` (or `date` after `date_end`).
    PeriodInverted {
        /// The start.
        from: String,
        /// The end.
        to: String,
    },
    /// An actor id that actors.json does not define.
    UnknownActor {
        /// The id found.
        actor: String,
        /// The ids actors.json defines.
        known: Vec<String>,
    },
    /// A location id that locations.geojson does not define.
    UnknownLocation {
        /// The id found.
        location: String,
    },
    /// A colour that is not `#rrggbb`.
    BadColour {
        /// The text found.
        value: String,
    },
    /// A feature without sources.
    NoSources,
    /// A source without a publisher or URL.
    SourceUntraceable,
    /// The geometry's type does not fit the layer.
    WrongGeometryType {
        /// The type found.
        found: String,
        /// What the layer holds.
        expected: &'static str,
    },
    /// A reference layer that mixes geometry kinds.
    MixedGeometry {
        /// The type found.
        found: String,
        /// The kind the first feature set.
        layer_kind: &'static str,
    },
    /// A zone with neither a geometry nor a rule.
    NoGeometry,
    /// A zone with both a geometry and a rule.
    GeometryAndRule,
    /// A malformed GeoJSON geometry object.
    BadGeometry {
        /// The parser's words.
        reason: String,
    },
    /// A ring whose last position differs from its first.
    RingNotClosed {
        /// Path of the ring, e.g. `polygon 0, ring 1`.
        ring: String,
    },
    /// A ring with fewer than 4 positions.
    RingTooShort {
        /// Path of the ring.
        ring: String,
        /// How many positions it has.
        positions: usize,
    },
    /// A line with fewer than 2 positions.
    LineTooShort {
        /// How many positions it has.
        positions: usize,
    },
    /// A longitude or latitude outside its range, or not a finite number.
    CoordinateOutOfRange {
        /// The position as written.
        position: String,
        /// Which axis is wrong.
        axis: &'static str,
    },
    /// A polygon that is self-intersecting or otherwise invalid (geo's validation words).
    InvalidPolygon {
        /// What geo found.
        reason: String,
    },
    /// A rule that names a feature no layer has.
    RuleMissingFeature {
        /// The id named.
        id: String,
    },
    /// A rule that names an id found in several layers.
    RuleAmbiguousFeature {
        /// The id named.
        id: String,
        /// The layers holding it.
        layers: Vec<String>,
    },
    /// A rule that names a feature of the wrong geometry (a point where a polygon is needed).
    RuleWrongGeometry {
        /// The id named.
        id: String,
        /// What the rule needs there.
        expected: &'static str,
    },
    /// Rules that depend on each other in a circle.
    RuleCycle {
        /// The ids in the circle.
        chain: Vec<String>,
    },
    /// A rule whose result is empty or could not be computed.
    RuleFailed {
        /// Why.
        reason: String,
    },
    /// Control zones of two actors that cover the same ground on the same days.
    ControlOverlap {
        /// The other zone.
        other: String,
        /// Its actor.
        other_actor: String,
        /// The area both cover, in km².
        km2: f64,
        /// The days both hold.
        days: String,
    },
    /// Two actors with one colour.
    DuplicateColour {
        /// The colour.
        colour: String,
        /// The actor that has it first.
        other: String,
    },
    /// An id that a feature of another layer already has.
    IdInOtherLayer {
        /// The layer holding it first.
        layer: String,
    },
    /// A number outside what makes sense.
    NumberOutOfRange {
        /// The value found.
        value: String,
        /// The allowed range, in words.
        range: &'static str,
    },
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ProblemKind as K;
        match self {
            K::Unreadable { reason } => write!(f, "cannot read the file: {reason}"),
            K::MissingFile => f.write_str("missing: every data directory needs this file"),
            K::Refused { reason } => f.write_str(reason),
            K::UnknownFile => f.write_str(
                "not a file zonetrack knows: expected actors.json, zones.geojson, locations.geojson, \
                 events.geojson, and reference layers under reference/",
            ),
            K::NotJson {
                line,
                column,
                reason,
            } => write!(f, "not valid JSON at line {line}, column {column}: {reason}"),
            K::NotGeoJson { reason } => write!(f, "not GeoJSON: {reason}"),
            K::Missing => f.write_str("is missing"),
            K::WrongType { expected } => write!(f, "must be {expected}"),
            K::UnknownProperty { known } => write!(
                f,
                "is not a known property (a typo?); known properties are: {}",
                known.join(", ")
            ),
            K::NotOneOf { value, allowed } => {
                write!(f, "{value:?} is not one of: {}", allowed.join(", "))
            }
            K::InvalidId { reason } => write!(f, "invalid id: {reason}"),
            K::DuplicateId { id, first_index } => write!(
                f,
                "duplicate id {id:?}: features[{first_index}] already uses it; ids must be unique in a layer"
            ),
            K::FidCollision { fid, other } => write!(
                f,
                "its integer id {fid} collides with that of {other:?}; rename one of the two"
            ),
            K::BadDate { value } => write!(
                f,
                "{value:?} is not a date: write YYYY-MM-DD (a real day), or null for an open end"
            ),
            K::PeriodInverted { from, to } => {
                write!(f, "starts on {from}, after it ends on {to}")
            }
            K::UnknownActor { actor, known } => write!(
                f,
                "unknown actor {actor:?}; actors.json defines: {}",
                known.join(", ")
            ),
            K::UnknownLocation { location } => write!(
                f,
                "unknown location {location:?}: no feature of locations.geojson has that id"
            ),
            K::BadColour { value } => write!(f, "{value:?} is not a colour: write #rrggbb"),
            K::NoSources => f.write_str(
                "needs at least one source ({\"title\": ..., \"publisher\" or \"url\": ...})",
            ),
            K::SourceUntraceable => {
                f.write_str("a source needs a publisher or a url, so a reader can find it")
            }
            K::WrongGeometryType { found, expected } => {
                write!(f, "is a {found}; this layer holds {expected}")
            }
            K::MixedGeometry { found, layer_kind } => write!(
                f,
                "is a {found}, but earlier features of this layer are {layer_kind}; one layer holds one geometry type"
            ),
            K::NoGeometry => {
                f.write_str("is null, and the zone has no rule: give it a polygon or a rule")
            }
            K::GeometryAndRule => f.write_str(
                "a zone has either a geometry or a rule, not both: set geometry to null or remove the rule",
            ),
            K::BadGeometry { reason } => write!(f, "not a valid GeoJSON geometry: {reason}"),
            K::RingNotClosed { ring } => write!(
                f,
                "{ring} is not closed: its last position must repeat its first"
            ),
            K::RingTooShort { ring, positions } => write!(
                f,
                "{ring} has {positions} positions; a closed ring needs at least 4"
            ),
            K::LineTooShort { positions } => {
                write!(f, "a line needs at least 2 positions; this one has {positions}")
            }
            K::CoordinateOutOfRange { position, axis } => match *axis {
                "longitude" => write!(
                    f,
                    "position {position} has a longitude outside -180..180 (is it [lat, lon]? GeoJSON is [lon, lat])"
                ),
                "latitude" => write!(
                    f,
                    "position {position} has a latitude outside -90..90 (is it [lat, lon]? GeoJSON is [lon, lat])"
                ),
                _ => write!(f, "position {position}: {axis}"),
            },
            K::InvalidPolygon { reason } => write!(f, "invalid polygon: {reason}"),
            K::RuleMissingFeature { id } => write!(
                f,
                "names {id:?}, which no zone, location or reference feature has as its id"
            ),
            K::RuleAmbiguousFeature { id, layers } => write!(
                f,
                "names {id:?}, which is an id in several layers ({}); rename one",
                layers.join(", ")
            ),
            K::RuleWrongGeometry { id, expected } => {
                write!(f, "names {id:?}, which is not {expected}")
            }
            K::RuleCycle { chain } => write!(
                f,
                "rules depend on each other in a circle: {}",
                chain.join(" -> ")
            ),
            K::RuleFailed { reason } => write!(f, "the rule cannot be computed: {reason}"),
            K::ControlOverlap {
                other,
                other_actor,
                km2,
                days,
            } => write!(
                f,
                "overlaps {other:?} ({other_actor}'s control) by {km2:.1} km² on {days}; two actors \
                 cannot control the same ground on the same day: move the edge or end one zone"
            ),
            K::DuplicateColour { colour, other } => write!(
                f,
                "{colour} is already {other:?}'s colour; the map tells actors apart by colour"
            ),
            K::IdInOtherLayer { layer } => write!(
                f,
                "a feature of {layer} already has this id; ids must be unique across layers, so \
                 that rules and links naming one are never ambiguous"
            ),
            K::NumberOutOfRange { value, range } => write!(f, "{value} is out of range: {range}"),
        }
    }
}

/// Every problem found in one load; a data directory with any problem is not loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    /// One problem a line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}
