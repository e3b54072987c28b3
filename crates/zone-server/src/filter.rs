//! OGC API - Features Part 3 (Filtering) over a layer: its queryables, and CQL2 filters
//! (`filter=`, `filter-lang=cql2-text|cql2-json`, `filter-crs=`) checked against them and
//! evaluated on the layer's index.
//!
//! The `cql2` crate parses both encodings into one expression tree; this module checks that
//! tree against the layer's queryables once per request (an unknown property, a type mismatch or
//! an operator outside the conformance classes offered is a 400 that names it) and compiles it
//! into a [`Filter`] that tests features directly, without turning each into JSON. Spatial
//! predicates also give the boxes their matches must meet ([`Filter::envelopes`]), so the
//! R-tree finds the candidates and only those are tested: a filter on a small box does not scan
//! the layer.
//!
//! Semantics (CQL2 1.0): comparisons with a null property are unknown and a feature is kept only
//! when the whole filter is true (SQL's three-valued logic, so `NOT (valid_to > DATE(..))`
//! leaves out features with no `valid_to`). Temporal functions work in days, as the data does: a
//! timestamp is taken as its UTC day, and a validity period `valid` is the closed interval of
//! days `valid_from..=valid_to`, an open end reaching to the start or end of time.

use std::str::FromStr as _;

use cql2::Expr;
use geo::{BoundingRect as _, Intersects as _, Relate as _};
use geodata::{Date, ExportFeature};
use serde_json::{Map, Value, json};

use crate::crs::Crs;
use crate::error::{ApiError, ApiResult};
use crate::snapshot::Layer;

/// Conformance classes of Part 3 and CQL2 this module implements.
pub(crate) const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
];

/// The link relation of a collection's queryables.
pub(crate) const REL_QUERYABLES: &str = "http://www.opengis.net/def/rel/ogc/1.0/queryables";

/// The queryable holding a feature's validity period.
pub(crate) const VALID: &str = "valid";
/// The queryable holding a feature's geometry.
pub(crate) const GEOMETRY: &str = "geometry";

/// What a queryable holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Number,
    Bool,
    /// A day, stored as `YYYY-MM-DD` text.
    Date,
    /// The validity period (`valid`).
    Period,
    Geometry,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Number => "a number",
            Kind::Bool => "a boolean",
            Kind::Date => "a date",
            Kind::Period => "a period",
            Kind::Geometry => "a geometry",
        }
    }
}

/// One property a filter can use.
#[derive(Debug, Clone)]
pub(crate) struct Queryable {
    pub(crate) name: String,
    pub(crate) kind: Kind,
}

impl Queryable {
    /// Whether it holds one simple value, so it can be a query parameter (`actor=iran`).
    pub(crate) fn is_simple(&self) -> bool {
        !matches!(self.kind, Kind::Period | Kind::Geometry)
    }

    /// Its JSON Schema; queryables without one simple value give a description only.
    pub(crate) fn schema(&self, geometry_type: &str) -> Value {
        match self.kind {
            Kind::Text => json!({"type": "string"}),
            Kind::Number => json!({"type": "number"}),
            Kind::Bool => json!({"type": "boolean"}),
            Kind::Date => json!({"type": "string", "format": "date"}),
            Kind::Period => json!({
                "type": "array", "minItems": 2, "maxItems": 2,
                "items": {"type": ["string", "null"], "format": "date"},
                "description": "The days the feature holds, first and last included (null: open). \
                    Use it with the temporal functions: T_INTERSECTS(valid, INTERVAL('2018-02-01','2018-03-01')).",
            }),
            Kind::Geometry => json!({
                "format": format!("geometry-{}", geometry_type.to_ascii_lowercase()),
                "description": "The feature's geometry (CRS84 unless filter-crs says otherwise).",
            }),
        }
    }
}

/// The queryables of a layer: its scalar properties (text, numbers, booleans, dates), the
/// validity period `valid` and the `geometry`. Lists and objects (`sources`) are left out: CQL2's
/// comparisons do not apply to them. A property's kind is that of its first non-null value; every
/// feature of a layer has the same properties. Found once per snapshot: a property null in every
/// feature is a scan of the whole layer (100 ms over 100,000 zones), too much for each request.
pub(crate) fn queryables(layer: &Layer) -> &[Queryable] {
    layer.queryables.get_or_init(|| find_queryables(layer))
}

fn find_queryables(layer: &Layer) -> Vec<Queryable> {
    let mut out = Vec::new();
    if let Some(first) = layer.features.first() {
        for name in first.properties.keys() {
            let sample = layer
                .features
                .iter()
                .map(|f| f.properties.get(name).unwrap_or(&Value::Null))
                .find(|v| !v.is_null());
            let kind = match sample {
                Some(Value::String(s)) if geodata::parse_date(s).is_some() => Kind::Date,
                Some(Value::String(_)) => Kind::Text,
                Some(Value::Number(_)) => Kind::Number,
                Some(Value::Bool(_)) => Kind::Bool,
                // Null everywhere: nothing to compare but nulls; text is the honest guess.
                None => Kind::Text,
                Some(_) => continue,
            };
            out.push(Queryable {
                name: name.clone(),
                kind,
            });
        }
    }
    out.push(Queryable {
        name: VALID.into(),
        kind: Kind::Period,
    });
    out.push(Queryable {
        name: GEOMETRY.into(),
        kind: Kind::Geometry,
    });
    out
}

/// The queryables document: a JSON Schema (2020-12) of the filterable properties, `$id` the
/// document's own URL. `additionalProperties: false` says other names are refused.
pub(crate) fn queryables_doc(layer: &Layer, id: &str) -> Value {
    let mut props = Map::new();
    for q in queryables(layer) {
        let title = describe(&q.name);
        let schema = q.schema(layer.geometry_type);
        let mut schema = schema;
        if let Some(t) = title {
            schema["title"] = json!(t);
        }
        props.insert(q.name.clone(), schema);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": id,
        "type": "object",
        "title": format!("Queryables of {}", layer.name),
        "properties": props,
        "additionalProperties": false,
    })
}

fn describe(name: &str) -> Option<&'static str> {
    Some(match name {
        "key" => "Readable id",
        "name" => "Name",
        "actor" => "Actor (see /actors)",
        "kind" => "Kind",
        "confidence" => "Confidence in the geometry: low, medium or high",
        "method" => "How the geometry was made (provenance)",
        "valid_from" => "First day it holds (null: open)",
        "valid_to" => "Last day it holds (null: open)",
        _ => return None,
    })
}

/// The filter language of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    Text,
    Json,
}

impl Lang {
    /// Reads `filter-lang` (default `cql2-text`).
    pub(crate) fn parse(s: Option<&str>) -> ApiResult<Lang> {
        match s {
            None | Some("cql2-text") => Ok(Lang::Text),
            Some("cql2-json") => Ok(Lang::Json),
            Some(other) => Err(ApiError::invalid(format!(
                "filter-lang: {:?} is not a filter language here; use cql2-text (the default) or cql2-json",
                crate::error::clip(other, 40)
            ))),
        }
    }
}

/// A compiled filter: what to test on each feature, and where its matches can be.
#[derive(Debug)]
pub(crate) struct Filter {
    root: Node,
}

/// A literal value or a property's value, as compared.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Null,
    Text(String),
    Number(f64),
    Bool(bool),
    Date(Date),
}

#[derive(Debug)]
enum Operand {
    Property { name: String, kind: Kind },
    Literal(Scalar),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spatial {
    Intersects,
    Disjoint,
    Within,
    Contains,
    Equals,
    Touches,
    Overlaps,
    Crosses,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Temporal {
    After,
    Before,
    Contains,
    Disjoint,
    During,
    Equals,
    FinishedBy,
    Finishes,
    Intersects,
    Meets,
    MetBy,
    OverlappedBy,
    Overlaps,
    StartedBy,
    Starts,
}

/// One side of a temporal function: a property (the period or a date) or a literal span of
/// days, `None` for an open end.
#[derive(Debug)]
enum Span {
    Period,
    DateProperty(String),
    Literal(Option<Date>, Option<Date>),
}

#[derive(Debug)]
enum Node {
    Const(bool),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Compare(Operand, Cmp, Operand),
    Like(Operand, String),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    IsNull(Operand),
    BoolProperty(String),
    /// The feature's geometry against a literal one (`feature_first` false: the literal came
    /// first, so `within` and `contains` swap).
    Spatial {
        op: Spatial,
        literal: geo::Geometry<f64>,
        envelope: Option<geo::Rect<f64>>,
        feature_first: bool,
    },
    Temporal(Temporal, Span, Span),
}

/// Where a compile error is: the filter parameter, then what is wrong.
fn bad(what: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("filter: {what}"))
}

impl Filter {
    /// Parses and checks `text` against `layer`'s queryables. Geometries in it are in `crs`.
    pub(crate) fn parse(layer: &Layer, text: &str, lang: Lang, crs: Crs) -> ApiResult<Filter> {
        let expr = match lang {
            Lang::Text => cql2::parse_text(text).map_err(|e| {
                bad(format!(
                    "not valid CQL2 text: {}",
                    e.to_string()
                        .replace('\n', " ")
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                ))
            })?,
            Lang::Json => {
                cql2::parse_json(text).map_err(|e| bad(format!("not valid CQL2 JSON: {e}")))?
            }
        };
        let compiler = Compiler {
            queryables: queryables(layer).to_vec(),
            crs,
        };
        Ok(Filter {
            root: compiler.boolean(&expr)?,
        })
    }

    /// The filter `name = value AND ...` for queryables given as query parameters (Part 3's
    /// "Queryables as query parameters"): each value is read as its queryable's kind, so a
    /// number or date that does not parse is a 400 naming the parameter. `None` for no pairs.
    pub(crate) fn equalities(layer: &Layer, pairs: &[(&str, &str)]) -> ApiResult<Option<Filter>> {
        if pairs.is_empty() {
            return Ok(None);
        }
        let queryables = queryables(layer);
        let mut nodes = Vec::with_capacity(pairs.len());
        for (name, raw) in pairs {
            let Some(q) = queryables.iter().find(|q| q.name == *name) else {
                continue;
            };
            let bad_value = |what: &str| {
                ApiError::invalid(format!(
                    "{name}: {:?} is not {what}",
                    crate::error::clip(raw, 40)
                ))
            };
            let value = match q.kind {
                Kind::Text => Scalar::Text((*raw).to_owned()),
                Kind::Number => crate::params::number(name, raw).map(Scalar::Number)?,
                Kind::Bool => match *raw {
                    "true" => Scalar::Bool(true),
                    "false" => Scalar::Bool(false),
                    _ => return Err(bad_value("true or false")),
                },
                Kind::Date => geodata::parse_date(raw)
                    .map(Scalar::Date)
                    .ok_or_else(|| bad_value("a date (YYYY-MM-DD)"))?,
                Kind::Period | Kind::Geometry => continue,
            };
            nodes.push(Node::Compare(
                Operand::Property {
                    name: q.name.clone(),
                    kind: q.kind,
                },
                Cmp::Eq,
                Operand::Literal(value),
            ));
        }
        Ok(Some(Filter {
            root: Node::And(nodes),
        }))
    }

    /// Takes out a box the whole filter requires (`S_INTERSECTS(geometry, BBOX(..))` as the
    /// filter, or as one condition of its top-level AND: QGIS's and the map's form), so the index
    /// selects by it as it selects by the `bbox` parameter, and returns what is left to test.
    /// A box is never unknown, so keeping a feature where both hold is what the filter does.
    pub(crate) fn take_box(self) -> (Option<zone_index::Bbox>, Option<Filter>) {
        let as_box = |n: &Node| match n {
            Node::Spatial {
                op: Spatial::Intersects,
                literal: geo::Geometry::Rect(r),
                ..
            } => zone_index::Bbox::new(r.min().x, r.min().y, r.max().x, r.max().y).ok(),
            _ => None,
        };
        match self.root {
            n @ Node::Spatial { .. } => match as_box(&n) {
                Some(b) => (Some(b), None),
                None => (None, Some(Filter { root: n })),
            },
            Node::And(mut cs) => match cs
                .iter()
                .enumerate()
                .find_map(|(i, c)| as_box(c).map(|b| (i, b)))
            {
                Some((i, b)) => {
                    cs.remove(i);
                    let rest = (!cs.is_empty()).then_some(Filter {
                        root: Node::And(cs),
                    });
                    (Some(b), rest)
                }
                None => (
                    None,
                    Some(Filter {
                        root: Node::And(cs),
                    }),
                ),
            },
            root => (None, Some(Filter { root })),
        }
    }

    /// Both filters.
    pub(crate) fn and(self, other: Filter) -> Filter {
        Filter {
            root: Node::And(vec![self.root, other.root]),
        }
    }

    /// Whether `feature` passes (the filter is true for it; false or unknown leave it out).
    pub(crate) fn matches(&self, feature: &ExportFeature) -> bool {
        self.root.eval(feature) == Some(true)
    }

    /// Boxes (lon/lat) that every matching feature's envelope meets, when the spatial
    /// predicates say so: the R-tree's query. `None`: no such bound, every feature is a
    /// candidate.
    pub(crate) fn envelopes(&self) -> Option<Vec<geo::Rect<f64>>> {
        self.root.envelopes()
    }
}

struct Compiler {
    queryables: Vec<Queryable>,
    crs: Crs,
}

fn args_n<'e>(op: &str, args: &'e [Box<Expr>], n: usize) -> ApiResult<&'e [Box<Expr>]> {
    if args.len() == n {
        Ok(args)
    } else {
        Err(bad(format!("{op} takes {n} arguments; got {}", args.len())))
    }
}

impl Compiler {
    fn property(&self, name: &str) -> ApiResult<&Queryable> {
        self.queryables
            .iter()
            .find(|q| q.name == name)
            .ok_or_else(|| {
                bad(format!(
                    "{:?} is not a queryable of this collection; its queryables are {}",
                    crate::error::clip(name, 64),
                    self.queryables
                        .iter()
                        .map(|q| q.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    /// An expression that must be true or false.
    fn boolean(&self, e: &Expr) -> ApiResult<Node> {
        match e {
            Expr::Bool(b) => Ok(Node::Const(*b)),
            Expr::Property { property } => {
                let q = self.property(property)?;
                if q.kind == Kind::Bool {
                    Ok(Node::BoolProperty(q.name.clone()))
                } else {
                    Err(bad(format!(
                        "{property:?} holds {}, not true or false; compare it with something",
                        q.kind.word()
                    )))
                }
            }
            Expr::Operation { op, args } => self.operation(op, args),
            other => Err(bad(format!(
                "{} is not a condition; a filter is a comparison, a spatial or temporal function, or conditions joined by AND, OR, NOT",
                shown(other)
            ))),
        }
    }

    fn operation(&self, op: &str, args: &[Box<Expr>]) -> ApiResult<Node> {
        let cmp = |c: Cmp| -> ApiResult<Node> {
            let a = args_n(op, args, 2)?;
            let (l, r) = (self.operand(&a[0])?, self.operand(&a[1])?);
            let (l, r) = self.comparable(op, l, r)?;
            Ok(Node::Compare(l, c, r))
        };
        match op {
            "and" => Ok(Node::And(
                args.iter()
                    .map(|a| self.boolean(a))
                    .collect::<ApiResult<_>>()?,
            )),
            "or" => Ok(Node::Or(
                args.iter()
                    .map(|a| self.boolean(a))
                    .collect::<ApiResult<_>>()?,
            )),
            "not" => Ok(Node::Not(Box::new(self.boolean(&args_n(op, args, 1)?[0])?))),
            "=" => cmp(Cmp::Eq),
            "<>" => cmp(Cmp::Ne),
            "<" => cmp(Cmp::Lt),
            "<=" => cmp(Cmp::Le),
            ">" => cmp(Cmp::Gt),
            ">=" => cmp(Cmp::Ge),
            "like" => {
                let a = args_n(op, args, 2)?;
                let subject = self.operand(&a[0])?;
                if !matches!(
                    subject,
                    Operand::Property {
                        kind: Kind::Text,
                        ..
                    }
                ) {
                    return Err(bad("LIKE takes a text property on its left"));
                }
                match self.operand(&a[1])? {
                    Operand::Literal(Scalar::Text(p)) => Ok(Node::Like(subject, p)),
                    _ => Err(bad("LIKE takes a text pattern on its right ('al-%')")),
                }
            }
            "between" => {
                let a = args_n(op, args, 3)?;
                let v = self.operand(&a[0])?;
                let (v, lo) = self.comparable(op, v, self.operand(&a[1])?)?;
                let (v, hi) = self.comparable(op, v, self.operand(&a[2])?)?;
                Ok(Node::Between(v, lo, hi))
            }
            "in" => {
                let a = args_n(op, args, 2)?;
                let Expr::Array(items) = &*a[1] else {
                    return Err(bad(
                        "IN takes a list on its right: actor IN ('iran','russia')",
                    ));
                };
                let mut v = self.operand(&a[0])?;
                let mut list = Vec::with_capacity(items.len());
                for item in items {
                    let (v2, item) = self.comparable(op, v, self.operand(item)?)?;
                    v = v2;
                    list.push(item);
                }
                Ok(Node::In(v, list))
            }
            "isNull" => Ok(Node::IsNull(self.operand(&args_n(op, args, 1)?[0])?)),
            _ => {
                if let Some(s) = spatial_op(op) {
                    return self.spatial(op, s, args);
                }
                if let Some(t) = temporal_op(op) {
                    let a = args_n(op, args, 2)?;
                    return Ok(Node::Temporal(t, self.span(&a[0])?, self.span(&a[1])?));
                }
                Err(bad(format!(
                    "{op:?} is not supported here; use comparisons (= <> < <= > >=), LIKE, BETWEEN, IN, \
                     IS NULL, the S_* spatial and T_* temporal functions, AND, OR and NOT"
                )))
            }
        }
    }

    fn operand(&self, e: &Expr) -> ApiResult<Operand> {
        Ok(match e {
            Expr::Property { property } => {
                let q = self.property(property)?;
                Operand::Property {
                    name: q.name.clone(),
                    kind: q.kind,
                }
            }
            Expr::Literal(s) => Operand::Literal(Scalar::Text(s.clone())),
            Expr::Float(n) => Operand::Literal(Scalar::Number(*n)),
            Expr::Bool(b) => Operand::Literal(Scalar::Bool(*b)),
            Expr::Null => Operand::Literal(Scalar::Null),
            Expr::Date { date } | Expr::Timestamp { timestamp: date } => {
                Operand::Literal(Scalar::Date(instant(date)?))
            }
            // A negative number is parsed as the negation of a positive one.
            Expr::Operation { op, args } if op == "-" && args.len() == 1 => {
                match self.operand(&args[0])? {
                    Operand::Literal(Scalar::Number(n)) => Operand::Literal(Scalar::Number(-n)),
                    _ => return Err(bad("arithmetic is not supported here")),
                }
            }
            other => {
                return Err(bad(format!(
                    "{} cannot be compared here; compare a property with a text, number, boolean or DATE('YYYY-MM-DD')",
                    shown(other)
                )));
            }
        })
    }

    /// Checks that two operands can be compared, and reads a text literal compared with a date
    /// property as the date it spells.
    fn comparable(&self, op: &str, l: Operand, r: Operand) -> ApiResult<(Operand, Operand)> {
        let kind = |o: &Operand| match o {
            Operand::Property { kind, .. } => Some(*kind),
            Operand::Literal(Scalar::Null) => None,
            Operand::Literal(Scalar::Text(_)) => Some(Kind::Text),
            Operand::Literal(Scalar::Number(_)) => Some(Kind::Number),
            Operand::Literal(Scalar::Bool(_)) => Some(Kind::Bool),
            Operand::Literal(Scalar::Date(_)) => Some(Kind::Date),
        };
        let as_date = |o: Operand| -> ApiResult<Operand> {
            match o {
                Operand::Literal(Scalar::Text(s)) => crate::params::day(&s)
                    .map(|d| Operand::Literal(Scalar::Date(d)))
                    .ok_or_else(|| bad(format!("{op}: {s:?} is not a date (YYYY-MM-DD)"))),
                o => Ok(o),
            }
        };
        match (kind(&l), kind(&r)) {
            (Some(k @ (Kind::Period | Kind::Geometry)), _)
            | (_, Some(k @ (Kind::Period | Kind::Geometry))) => Err(bad(format!(
                "{op} cannot compare {}; use the {} functions",
                k.word(),
                if k == Kind::Period { "T_*" } else { "S_*" }
            ))),
            (Some(Kind::Date), Some(Kind::Text)) => Ok((l, as_date(r)?)),
            (Some(Kind::Text), Some(Kind::Date)) => Ok((as_date(l)?, r)),
            (Some(a), Some(b)) if a != b => Err(bad(format!(
                "{op} compares {} with {}: {} and {}",
                a.word(),
                b.word(),
                operand_shown(&l),
                operand_shown(&r)
            ))),
            _ => Ok((l, r)),
        }
    }

    fn spatial(&self, name: &str, op: Spatial, args: &[Box<Expr>]) -> ApiResult<Node> {
        let a = args_n(name, args, 2)?;
        let is_geometry = |e: &Expr| matches!(e, Expr::Property { property } if self.property(property).is_ok_and(|q| q.kind == Kind::Geometry));
        let (literal, feature_first) = match (is_geometry(&a[0]), is_geometry(&a[1])) {
            (true, false) => (&a[1], true),
            (false, true) => (&a[0], false),
            _ => {
                for e in a.iter() {
                    if let Expr::Property { property } = &**e {
                        self.property(property)?;
                    }
                }
                return Err(bad(format!(
                    "{name} compares the property {GEOMETRY:?} with a literal geometry or BBOX(...)"
                )));
            }
        };
        let literal = self.geometry(literal)?;
        let envelope = literal.bounding_rect();
        Ok(Node::Spatial {
            op,
            literal,
            envelope,
            feature_first,
        })
    }

    /// A literal geometry or box, in `filter-crs`, as lon/lat; positions outside that CRS's
    /// range are refused (the ogctests check that far-off boxes are).
    fn geometry(&self, e: &Expr) -> ApiResult<geo::Geometry<f64>> {
        let g: geo::Geometry<f64> = match e {
            Expr::BBox { bbox } => {
                let n: Vec<f64> = bbox
                    .iter()
                    .map(|v| match &**v {
                        Expr::Float(f) => Ok(*f),
                        Expr::Operation { op, args } if op == "-" && args.len() == 1 => {
                            match &*args[0] {
                                Expr::Float(f) => Ok(-f),
                                _ => Err(bad("BBOX takes numbers")),
                            }
                        }
                        _ => Err(bad("BBOX takes numbers")),
                    })
                    .collect::<ApiResult<_>>()?;
                // A 3-D box: the heights are ignored, as for the bbox parameter.
                let [w, s, e, n] = match n.as_slice() {
                    [w, s, e, n] | [w, s, _, e, n, _] => [*w, *s, *e, *n],
                    _ => {
                        return Err(bad(format!("BBOX takes 4 or 6 numbers; got {}", n.len())));
                    }
                };
                // Corners in filter-crs, read as lon/lat before west and east are compared.
                let [w, s, e, n] = self.crs.bbox_to_lon_lat([w, s, e, n]);
                let rect = |w: f64, e: f64| {
                    geo::Rect::new(geo::coord! {x: w, y: s}, geo::coord! {x: e, y: n})
                };
                if w <= e {
                    // A Rect, not its polygon: geo's tests against a Rect are the bbox
                    // parameter's, several times faster than polygon against polygon.
                    geo::Geometry::Rect(rect(w, e))
                } else {
                    // West east of east: across the antimeridian, as CQL2 says.
                    geo::Geometry::MultiPolygon(geo::MultiPolygon(vec![
                        rect(w, 180.0).to_polygon(),
                        rect(-180.0, e).to_polygon(),
                    ]))
                }
            }
            Expr::Geometry(g) => {
                let text = g
                    .to_wkt()
                    .map_err(|e| bad(format!("unreadable geometry: {e}")))?;
                let w = wkt::Wkt::<f64>::from_str(&text)
                    .map_err(|e| bad(format!("unreadable geometry {}: {e}", cut(&text))))?;
                let g = geo::Geometry::try_from(w)
                    .map_err(|e| bad(format!("unreadable geometry {}: {e}", cut(&text))))?;
                self.crs.to_crs84(g)
            }
            other => {
                return Err(bad(format!(
                    "{} is not a geometry; give a WKT geometry (POINT(36.5 33.5)) or BBOX(w,s,e,n)",
                    shown(other)
                )));
            }
        };
        let mut out_of_range = None;
        geo::CoordsIter::coords_iter(&g).for_each(|c| {
            if out_of_range.is_none()
                && !(c.x.is_finite()
                    && c.y.is_finite()
                    && (-180.0..=180.0).contains(&c.x)
                    && (-90.0..=90.0).contains(&c.y))
            {
                out_of_range = Some(c);
            }
        });
        if let Some(c) = out_of_range {
            let (a, b) = self.crs.project(c.x, c.y);
            return Err(bad(format!(
                "the position ({a}, {b}) is outside the world in {}; geometries are in filter-crs (CRS84 lon/lat unless given)",
                self.crs.uri()
            )));
        }
        Ok(g)
    }

    fn span(&self, e: &Expr) -> ApiResult<Span> {
        match e {
            Expr::Property { property } => {
                let q = self.property(property)?;
                match q.kind {
                    Kind::Period => Ok(Span::Period),
                    Kind::Date => Ok(Span::DateProperty(q.name.clone())),
                    k => Err(bad(format!(
                        "{property:?} holds {}; the temporal functions take {VALID:?} or a date property",
                        k.word()
                    ))),
                }
            }
            Expr::Date { date } | Expr::Timestamp { timestamp: date } => {
                let d = instant(date)?;
                Ok(Span::Literal(Some(d), Some(d)))
            }
            Expr::Interval { interval } => {
                let [a, b] = interval.as_slice() else {
                    return Err(bad("INTERVAL takes a start and an end"));
                };
                let end = |e: &Expr| -> ApiResult<Option<Date>> {
                    match e {
                        Expr::Literal(s) if s == ".." => Ok(None),
                        Expr::Date { date: d } | Expr::Timestamp { timestamp: d } => {
                            instant(d).map(Some)
                        }
                        lit @ Expr::Literal(_) => instant(lit).map(Some),
                        other => Err(bad(format!(
                            "{} is not an end of an interval",
                            shown(other)
                        ))),
                    }
                };
                let (from, to) = (end(a)?, end(b)?);
                if let (Some(f), Some(t)) = (from, to)
                    && f > t
                {
                    return Err(bad(format!("INTERVAL('{f}','{t}') ends before it starts")));
                }
                Ok(Span::Literal(from, to))
            }
            other => Err(bad(format!(
                "{} is not a time; give DATE('2018-02-07'), TIMESTAMP(..), INTERVAL('2018-02-01','2018-03-01') or a temporal property",
                shown(other)
            ))),
        }
    }
}

/// A date or timestamp literal as its (UTC) day.
fn instant(e: &Expr) -> ApiResult<Date> {
    match e {
        Expr::Literal(s) => crate::params::day(s)
            .ok_or_else(|| bad(format!("{:?} is not a date or timestamp", cut(s)))),
        other => Err(bad(format!("{} is not a date", shown(other)))),
    }
}

fn cut(s: &str) -> String {
    crate::error::clip(s, 60)
}

/// An expression as the person wrote it, roughly, for an error message.
fn shown(e: &Expr) -> String {
    e.to_text().map_or_else(|_| format!("{e:?}"), |t| cut(&t))
}

fn operand_shown(o: &Operand) -> String {
    match o {
        Operand::Property { name, .. } => name.clone(),
        Operand::Literal(s) => format!("{s:?}"),
    }
}

fn spatial_op(op: &str) -> Option<Spatial> {
    Some(match op {
        "s_intersects" => Spatial::Intersects,
        "s_disjoint" => Spatial::Disjoint,
        "s_within" => Spatial::Within,
        "s_contains" => Spatial::Contains,
        "s_equals" => Spatial::Equals,
        "s_touches" => Spatial::Touches,
        "s_overlaps" => Spatial::Overlaps,
        "s_crosses" => Spatial::Crosses,
        _ => return None,
    })
}

fn temporal_op(op: &str) -> Option<Temporal> {
    Some(match op {
        "t_after" => Temporal::After,
        "t_before" => Temporal::Before,
        "t_contains" => Temporal::Contains,
        "t_disjoint" => Temporal::Disjoint,
        "t_during" => Temporal::During,
        "t_equals" => Temporal::Equals,
        "t_finishedBy" => Temporal::FinishedBy,
        "t_finishes" => Temporal::Finishes,
        "t_intersects" => Temporal::Intersects,
        "t_meets" => Temporal::Meets,
        "t_metBy" => Temporal::MetBy,
        "t_overlappedBy" => Temporal::OverlappedBy,
        "t_overlaps" => Temporal::Overlaps,
        "t_startedBy" => Temporal::StartedBy,
        "t_starts" => Temporal::Starts,
        _ => return None,
    })
}

/// A property's value on a feature; a date property's text is read as its day.
fn value(f: &ExportFeature, name: &str, kind: Kind) -> Scalar {
    match (f.properties.get(name), kind) {
        (Some(Value::String(s)), Kind::Date) => {
            geodata::parse_date(s).map_or(Scalar::Null, Scalar::Date)
        }
        (Some(Value::String(s)), _) => Scalar::Text(s.clone()),
        (Some(Value::Number(n)), _) => n.as_f64().map_or(Scalar::Null, Scalar::Number),
        (Some(Value::Bool(b)), _) => Scalar::Bool(*b),
        _ => Scalar::Null,
    }
}

fn resolve(o: &Operand, f: &ExportFeature) -> Scalar {
    match o {
        Operand::Property { name, kind } => value(f, name, *kind),
        Operand::Literal(s) => s.clone(),
    }
}

/// Orders two values of the same kind; `None` when either is null (or they differ in kind).
fn order(a: &Scalar, b: &Scalar) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Scalar::Text(a), Scalar::Text(b)) => Some(a.cmp(b)),
        (Scalar::Number(a), Scalar::Number(b)) => a.partial_cmp(b),
        (Scalar::Bool(a), Scalar::Bool(b)) => Some(a.cmp(b)),
        (Scalar::Date(a), Scalar::Date(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// CQL2 `LIKE`: `%` any run of characters, `_` any one, `\` takes the next literally.
fn like(text: &str, pattern: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum P {
        Any,
        One,
        Char(char),
    }
    let mut pat = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        pat.push(match c {
            '%' => P::Any,
            '_' => P::One,
            '\\' => P::Char(chars.next().unwrap_or('\\')),
            c => P::Char(c),
        });
    }
    let text: Vec<char> = text.chars().collect();
    // Greedy match with one backtrack point: the last `%` seen.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pat.get(p) {
            Some(P::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(P::One) => {
                t += 1;
                p += 1;
            }
            Some(P::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|x| *x == P::Any)
}

/// Days as numbers, open ends at the ends of time.
fn days(from: Option<Date>, to: Option<Date>) -> (i64, i64) {
    (
        from.map_or(i64::MIN, |d| {
            i64::from(chrono::Datelike::num_days_from_ce(&d))
        }),
        to.map_or(i64::MAX, |d| {
            i64::from(chrono::Datelike::num_days_from_ce(&d))
        }),
    )
}

impl Span {
    fn on(&self, f: &ExportFeature) -> Option<(i64, i64)> {
        match self {
            Span::Period => Some(days(f.period.from(), f.period.to())),
            Span::DateProperty(name) => match value(f, name, Kind::Date) {
                Scalar::Date(d) => Some(days(Some(d), Some(d))),
                _ => None,
            },
            Span::Literal(a, b) => Some(days(*a, *b)),
        }
    }
}

impl Temporal {
    /// The relation of CQL2 1.0 §A.11 between spans of days `a` and `b`.
    fn holds(self, (a0, a1): (i64, i64), (b0, b1): (i64, i64)) -> bool {
        match self {
            Temporal::After => a0 > b1,
            Temporal::Before => a1 < b0,
            Temporal::Contains => a0 < b0 && a1 > b1,
            Temporal::Disjoint => a1 < b0 || a0 > b1,
            Temporal::During => a0 > b0 && a1 < b1,
            Temporal::Equals => a0 == b0 && a1 == b1,
            Temporal::FinishedBy => a0 < b0 && a1 == b1,
            Temporal::Finishes => a0 > b0 && a1 == b1,
            Temporal::Intersects => a0 <= b1 && a1 >= b0,
            Temporal::Meets => a1 == b0,
            Temporal::MetBy => a0 == b1,
            Temporal::OverlappedBy => a0 > b0 && a0 < b1 && a1 > b1,
            Temporal::Overlaps => a0 < b0 && a1 > b0 && a1 < b1,
            Temporal::StartedBy => a0 == b0 && a1 > b1,
            Temporal::Starts => a0 == b0 && a1 < b1,
        }
    }
}

/// AND (`decisive` false) or OR (`decisive` true) in three-valued logic: the decisive value
/// if any child has it, else unknown if any child is, else the other value.
fn decide(children: &[Node], f: &ExportFeature, decisive: bool) -> Option<bool> {
    let mut unknown = false;
    for c in children {
        match c.eval(f) {
            Some(b) if b == decisive => return Some(decisive),
            None => unknown = true,
            Some(_) => {}
        }
    }
    if unknown { None } else { Some(!decisive) }
}

impl Node {
    /// True, false, or unknown (`None`: a null was compared).
    fn eval(&self, f: &ExportFeature) -> Option<bool> {
        use std::cmp::Ordering::*;
        match self {
            Node::Const(b) => Some(*b),
            Node::And(cs) => decide(cs, f, false),
            Node::Or(cs) => decide(cs, f, true),
            Node::Not(c) => c.eval(f).map(|b| !b),
            Node::Compare(l, op, r) => {
                let o = order(&resolve(l, f), &resolve(r, f))?;
                Some(match op {
                    Cmp::Eq => o == Equal,
                    Cmp::Ne => o != Equal,
                    Cmp::Lt => o == Less,
                    Cmp::Le => o != Greater,
                    Cmp::Gt => o == Greater,
                    Cmp::Ge => o != Less,
                })
            }
            Node::Like(o, pattern) => match resolve(o, f) {
                Scalar::Text(t) => Some(like(&t, pattern)),
                _ => None,
            },
            Node::Between(v, lo, hi) => {
                let v = resolve(v, f);
                let above = order(&v, &resolve(lo, f))? != Less;
                let below = order(&v, &resolve(hi, f))? != Greater;
                Some(above && below)
            }
            Node::In(v, list) => {
                let v = resolve(v, f);
                if v == Scalar::Null {
                    return None;
                }
                let mut unknown = false;
                for item in list {
                    match order(&v, &resolve(item, f)) {
                        Some(Equal) => return Some(true),
                        None => unknown = true,
                        Some(_) => {}
                    }
                }
                if unknown { None } else { Some(false) }
            }
            Node::IsNull(o) => Some(resolve(o, f) == Scalar::Null),
            Node::BoolProperty(name) => match value(f, name, Kind::Bool) {
                Scalar::Bool(b) => Some(b),
                _ => None,
            },
            Node::Spatial {
                op,
                literal,
                feature_first,
                ..
            } => {
                let g = &f.geometry;
                // A box is tested as the bbox parameter's is (an envelope inside it needs no
                // exact test: most candidates of a box filter are such).
                let meets = || match literal {
                    geo::Geometry::Rect(r) => zone_index::meets_box(f, r),
                    _ => g.intersects(literal),
                };
                Some(match op {
                    Spatial::Intersects => meets(),
                    Spatial::Disjoint => !meets(),
                    _ => {
                        let m = g.relate(literal);
                        match (op, feature_first) {
                            (Spatial::Within, true) | (Spatial::Contains, false) => m.is_within(),
                            (Spatial::Contains, true) | (Spatial::Within, false) => m.is_contains(),
                            (Spatial::Equals, _) => m.is_equal_topo(),
                            (Spatial::Touches, _) => m.is_touches(),
                            (Spatial::Overlaps, _) => m.is_overlaps(),
                            _ => m.is_crosses(),
                        }
                    }
                })
            }
            Node::Temporal(op, a, b) => Some(op.holds(a.on(f)?, b.on(f)?)),
        }
    }

    fn envelopes(&self) -> Option<Vec<geo::Rect<f64>>> {
        match self {
            Node::Const(false) => Some(Vec::new()),
            Node::Spatial { op, envelope, .. } if *op != Spatial::Disjoint => {
                Some(envelope.iter().copied().collect())
            }
            // Any one bound holds for the whole: take the one with the least area.
            Node::And(cs) => cs.iter().filter_map(Node::envelopes).min_by(|a, b| {
                let area =
                    |v: &Vec<geo::Rect<f64>>| v.iter().map(|r| r.width() * r.height()).sum::<f64>();
                area(a).total_cmp(&area(b))
            }),
            // Each branch must be bounded for the whole to be.
            Node::Or(cs) => cs
                .iter()
                .map(Node::envelopes)
                .collect::<Option<Vec<_>>>()
                .map(|v| v.into_iter().flatten().collect()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_follows_cql2_wildcards() {
        assert!(like("al-Tanf", "al-%"));
        assert!(like("al-Tanf", "%Tanf"));
        assert!(like("al-Tanf", "al_Tanf"));
        assert!(like("al-Tanf", "%"));
        assert!(like("", "%"));
        assert!(!like("al-Tanf", "al"));
        assert!(!like("al-Tanf", "_l-Tan"));
        assert!(like("100%", "100\\%"));
        assert!(!like("1000", "100\\%"));
        assert!(like("abcabd", "%ab_"));
        assert!(like("Deir ez-Zor", "%ez%Zor"));
    }

    #[test]
    fn temporal_relations_hold_on_days() {
        let d = |a: i64, b: i64| (a, b);
        assert!(Temporal::Intersects.holds(d(1, 5), d(5, 9)));
        assert!(!Temporal::Intersects.holds(d(1, 4), d(5, 9)));
        assert!(Temporal::Before.holds(d(1, 4), d(5, 9)));
        assert!(Temporal::After.holds(d(10, 12), d(5, 9)));
        assert!(Temporal::During.holds(d(6, 7), d(5, 9)));
        assert!(Temporal::Contains.holds(d(5, 9), d(6, 7)));
        assert!(Temporal::Meets.holds(d(1, 5), d(5, 9)));
        assert!(Temporal::Overlaps.holds(d(1, 6), d(5, 9)));
        assert!(Temporal::Disjoint.holds(d(i64::MIN, 4), d(5, i64::MAX)));
    }
}
