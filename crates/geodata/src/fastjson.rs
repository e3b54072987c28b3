//! Reading layer files without building a JSON tree of their coordinates: a file's top level is
//! read with each feature kept as its raw text, a feature's members without its geometry, and
//! the geometry straight into `geo` coordinates. This is the loader's fast path for what valid
//! files hold; anything it does not take (a syntax error, an odd shape, a position out of range)
//! is read again by the general path (`serde_json::Value` and `geojson`), which words the
//! problem exactly as before.

use std::borrow::Cow;

use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A layer file's top level: every member but `features` as JSON values, and `features`, when
/// it is an array, as each feature's raw text. (`features` that is not an array is kept as a
/// `null` member, so that the loader says there is no features array.)
pub(crate) struct LayerDoc<'t> {
    pub members: Map<String, Value>,
    pub features: Option<Vec<&'t str>>,
}

/// `features` as a list of raw texts, or `None` when it is not an array.
struct FeatureList<'t>(Option<Vec<&'t str>>);

impl<'de> Deserialize<'de> for FeatureList<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FeatureList<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(raw) = seq.next_element::<&'de RawValue>()? {
                    out.push(raw.get());
                }
                Ok(FeatureList(Some(out)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(FeatureList(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(FeatureList(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(FeatureList(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(FeatureList(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(FeatureList(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(FeatureList(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(FeatureList(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> FromObject<'de> for LayerDoc<'de> {
    fn from_object<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut members = Map::new();
        let mut features = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "features" {
                let list: FeatureList<'de> = map.next_value()?;
                features = list.0;
                members.insert(key, Value::Null);
            } else {
                let v: Value = map.next_value()?;
                members.insert(key, v);
            }
        }
        Ok(LayerDoc { members, features })
    }
}

/// Files smaller than this are read by [`parse_object`] alone: splitting costs more than it
/// saves.
const SPLIT_MIN_BYTES: usize = 4 << 20;

/// How far past a cut's target to look for a place between two features.
const CUT_SEARCH_BYTES: usize = 1 << 20;

/// [`parse_object::<LayerDoc>`] on up to `threads` threads: the same members and feature texts,
/// or `None` whenever the file is not plainly one whose answer is the same (then the caller
/// reads it whole, as before, which also words any syntax error).
///
/// Reading a layer whole is one thread scanning every byte (about 0.2 s for the 170 MB of
/// zones-100k, before any feature can be parsed). Here the `features` array is cut between
/// features at about equal distances (`}` `,` `{`, found by a byte search) and each run of
/// features is read by serde_json on its own thread. A cut that falls inside a string or a
/// nested value cannot pass: the run before it would end inside an unclosed string or value,
/// which serde_json refuses. Every byte is still read by serde_json, so what it refuses here
/// is refused there too. (One difference: serde_json's nesting limit of 128 counts from each
/// feature here, two levels deeper there; a feature nested 126 deep is not a zone either way.)
pub(crate) fn split_layer(text: &str, threads: usize) -> Option<LayerDoc<'_>> {
    split_layer_from(text, threads, SPLIT_MIN_BYTES)
}

/// [`split_layer`] for files of `min_bytes` or more (tests split small ones).
fn split_layer_from(text: &str, threads: usize, min_bytes: usize) -> Option<LayerDoc<'_>> {
    use rayon::prelude::*;
    if text.len() < min_bytes || threads < 2 {
        return None;
    }
    let bytes = text.as_bytes();
    let skip_ws = |mut at: usize| {
        while bytes.get(at).is_some_and(|b| b.is_ascii_whitespace()) {
            at += 1;
        }
        at
    };
    // The member `"features": [`: the first `"features"`, which may also be a nested object's
    // key or the end of an escaped one (`"x\"features"`); the check of the members below rules
    // both out.
    let key = text.find("\"features\"")?;
    let colon = skip_ws(key + "\"features\"".len());
    (bytes.get(colon) == Some(&b':')).then_some(())?;
    let open = skip_ws(colon + 1);
    (bytes.get(open) == Some(&b'[')).then_some(())?;
    // Cuts: the `{` opening a feature, just after a `,` that follows a `}`. Features hold
    // lists of objects too (sources): a cut is only made before `{"type": "Feature"`, which
    // GeoJSON writers put first. Where they do not, the file is read whole.
    let starts_feature = |bytes: &[u8], at: usize| {
        let mut at = at;
        for token in [&b"{"[..], b"\"type\"", b":", b"\"Feature\""] {
            at = skip_ws(at);
            if !bytes[at.min(bytes.len())..].starts_with(token) {
                return false;
            }
            at += token.len();
        }
        true
    };
    let mut cuts = vec![open + 1];
    for k in 1..threads {
        let target = open + 1 + (text.len() - open - 1) * k / threads;
        let from = target.max(cuts[cuts.len() - 1] + 1);
        let window = &bytes[from.min(bytes.len())..(from + CUT_SEARCH_BYTES).min(bytes.len())];
        let found = window.iter().enumerate().find_map(|(i, &b)| {
            if b != b',' {
                return None;
            }
            let comma = from + i;
            let before = bytes[..comma]
                .iter()
                .rposition(|b| !b.is_ascii_whitespace())?;
            let after = skip_ws(comma + 1);
            (bytes[before] == b'}' && starts_feature(bytes, after)).then_some(after)
        });
        match found {
            Some(cut) => cuts.push(cut),
            None => break,
        }
    }
    // Each run: features separated by commas up to the next cut's comma; the last run up to
    // the array's `]`. A run gives its features and where it stopped.
    let runs: Vec<(usize, usize)> = cuts
        .iter()
        .enumerate()
        .map(|(i, &start)| (start, cuts.get(i + 1).copied().unwrap_or(text.len())))
        .collect();
    let last = runs.len() - 1;
    let read: Vec<(Vec<&str>, usize)> = runs
        .par_iter()
        .enumerate()
        .map(|(i, &(start, end))| read_run(text, start, end, i == last))
        .collect::<Option<_>>()?;
    // A run other than the last stops on the comma before the next cut.
    for (i, (_, stop)) in read.iter().enumerate().take(last) {
        (skip_ws(*stop) < runs[i + 1].0 && bytes[skip_ws(*stop)] == b',').then_some(())?;
        (skip_ws(skip_ws(*stop) + 1) == runs[i + 1].0).then_some(())?;
    }
    let close = read[last].1; // just past the `]`
    // The member is the top level's `features`, and its only one: no other `"features"`
    // follows, and with the array spliced out the top level has `features`, our null. (Any
    // other top-level `features` would have to come after the first one.)
    let tail = &text[close..];
    if tail.contains("\"features\"") {
        return None;
    }
    let spliced = format!("{}null{tail}", &text[..open]);
    let members = parse_object::<LayerDoc<'_>>(&spliced).ok()?.members;
    if members.get("features") != Some(&Value::Null) {
        return None;
    }
    let features = read.into_iter().flat_map(|(f, _)| f).collect();
    Some(LayerDoc {
        members,
        features: Some(features),
    })
}

/// Reads features from `text[start..end]`: values separated by commas. The last run of an
/// array ends at its `]` (then `end` is the text's end), the others just before the comma
/// ahead of the next run. Gives the features' texts and where reading stopped: after the last
/// value, or past the `]`.
fn read_run(text: &str, start: usize, end: usize, last: bool) -> Option<(Vec<&str>, usize)> {
    let bytes = &text.as_bytes()[..end];
    let skip_ws = |mut at: usize| {
        while bytes.get(at).is_some_and(|b| b.is_ascii_whitespace()) {
            at += 1;
        }
        at
    };
    let mut out = Vec::new();
    let mut at = skip_ws(start);
    if last && bytes.get(at) == Some(&b']') {
        return Some((out, at + 1));
    }
    loop {
        let mut de = serde_json::Deserializer::from_str(&text[at..end]);
        let raw = <&RawValue>::deserialize(&mut de).ok()?.get();
        // Where the value ends in `text`: it is a slice of it.
        let stop = raw.as_ptr() as usize - text.as_ptr() as usize + raw.len();
        out.push(raw);
        let next = skip_ws(stop);
        match bytes.get(next) {
            Some(b',') if last || skip_ws(next + 1) < end => at = skip_ws(next + 1),
            Some(b']') if last => return Some((out, next + 1)),
            _ if !last => return Some((out, stop)),
            _ => return None,
        }
    }
}

/// A type read from a JSON object member by member: the part of a serde visitor that differs
/// between [`LayerDoc`] and [`FeatureDoc`].
pub(crate) trait FromObject<'de>: Sized {
    fn from_object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

/// The serde visitor of a [`FromObject`] type.
struct ObjectVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: FromObject<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::from_object(map)
    }
}

/// Reads `text`, which must be one JSON object, as a `T`.
pub(crate) fn parse_object<'t, T: FromObject<'t>>(text: &'t str) -> serde_json::Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = de.deserialize_map(ObjectVisitor(std::marker::PhantomData))?;
    de.end()?;
    Ok(value)
}

/// A feature's `properties` object: its members in file order, found by a linear search. A
/// feature has a dozen; a hashed map per feature (the `Value` form) was a tenth of a
/// 100,000-zone load, in hashing and growing it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Props(Vec<(String, Value)>);

impl Props {
    /// The member `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The members' names, in file order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    /// Sets member `key`; a key given twice keeps its first place and its last value, as a
    /// JSON object read into a `Value` does.
    fn insert(&mut self, key: String, value: Value) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key, value)),
        }
    }
}

impl FromIterator<(String, Value)> for Props {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Props {
        let mut props = Props::default();
        iter.into_iter().for_each(|(k, v)| props.insert(k, v));
        props
    }
}

impl<'de> FromObject<'de> for Props {
    fn from_object<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut props = Props(Vec::with_capacity(12));
        while let Some(key) = map.next_key::<String>()? {
            props.insert(key, map.next_value()?);
        }
        Ok(props)
    }
}

/// One feature: every member but `geometry` and `properties` as JSON values, `properties` apart
/// (the loader takes it over rather than copying it), and `geometry` read by the fast path or
/// kept as raw text (see [`feature`]).
pub(crate) struct FeatureDoc<'t> {
    pub members: Map<String, Value>,
    /// `properties` as text, read by [`FeatureDoc::props`].
    pub properties: Option<&'t RawValue>,
    pub geometry: Option<DocGeometry<'t>>,
}

/// A feature's `geometry` member as [`feature`] found it.
pub(crate) enum DocGeometry<'t> {
    /// Read in the same pass as the feature: a shape the fast path takes ([`geometry`]).
    Read(FastGeometry),
    /// `null`.
    Null,
    /// Anything else, as text for the general path.
    Text(&'t RawValue),
}

/// Reads a feature's text in one pass, the geometry straight into `geo` coordinates. When the
/// geometry is not one the fast path takes, the feature is read again with the geometry kept
/// as text (the general path says what is wrong with it, if anything): a second pass for odd
/// features only, where keeping every geometry as text first made every feature's coordinates
/// be scanned twice.
pub(crate) fn feature(text: &str) -> serde_json::Result<FeatureDoc<'_>> {
    parse_object::<OnePass<'_>>(text)
        .map(|d| d.0)
        .or_else(|_| parse_object::<FeatureDoc<'_>>(text))
}

/// [`FeatureDoc`] read with its geometry parsed, failing when that geometry is not a fast one.
struct OnePass<'t>(FeatureDoc<'t>);

/// A `geometry` member the fast path takes, or `null`; anything else is an error (to the
/// caller: "read it again as text").
struct FastMember(Option<FastGeometry>);

impl<'de> Deserialize<'de> for FastMember {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Option::<G<'de>>::deserialize(d)? {
            None => Ok(FastMember(None)),
            Some(g) => fast_geometry(g)
                .map(|g| FastMember(Some(g)))
                .ok_or_else(|| de::Error::custom("left to the general path")),
        }
    }
}

fn feature_doc<'de, A: MapAccess<'de>>(
    mut map: A,
    one_pass: bool,
) -> Result<FeatureDoc<'de>, A::Error> {
    let mut members = Map::new();
    let (mut properties, mut geometry) = (None, None);
    while let Some(key) = map.next_key::<Cow<'de, str>>()? {
        if key == "geometry" {
            geometry = Some(if one_pass {
                match map.next_value::<FastMember>()?.0 {
                    Some(g) => DocGeometry::Read(g),
                    None => DocGeometry::Null,
                }
            } else {
                DocGeometry::Text(map.next_value::<&'de RawValue>()?)
            });
        } else if key == "properties" {
            properties = Some(map.next_value::<&'de RawValue>()?);
        } else {
            let v: Value = map.next_value()?;
            members.insert(key.into_owned(), v);
        }
    }
    Ok(FeatureDoc {
        members,
        properties,
        geometry,
    })
}

impl<'de> FromObject<'de> for OnePass<'de> {
    fn from_object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        feature_doc(map, true).map(OnePass)
    }
}

impl<'de> FromObject<'de> for FeatureDoc<'de> {
    fn from_object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        feature_doc(map, false)
    }
}

impl FeatureDoc<'_> {
    /// The `properties` member when it is an object (`None` when it is missing or anything
    /// else, which the loader reports).
    pub fn props(&self) -> Option<Props> {
        parse_object(self.properties?.get()).ok()
    }
}

/// A geometry read by the fast path: the two kinds a zone, location or event has.
pub(crate) enum FastGeometry {
    /// A `Point`'s longitude and latitude, as written.
    Point(f64, f64),
    /// A `Polygon` (`multi` false) or `MultiPolygon`, as written (not rounded or oriented).
    Polygons { multi: bool, mp: MultiPolygon<f64> },
}

/// Nested coordinate arrays as read: a number, a position, a ring (a list of positions), or a
/// list of those.
enum Nest {
    Num(f64),
    Pos(Coord<f64>),
    Ring(Vec<Coord<f64>>),
    List(Vec<Nest>),
}

thread_local! {
    /// The ring being read on this thread (see [`Nest`]'s reader); a ring holds no ring, so it
    /// is never borrowed twice.
    static RING: std::cell::RefCell<Vec<Coord<f64>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A position of exactly two numbers.
struct Pos(Coord<f64>);

impl<'de> Deserialize<'de> for Pos {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A pair refuses a third number (serde_json finds the array unfinished); the general
        // path words that problem.
        let (x, y) = <(f64, f64)>::deserialize(d)?;
        Ok(Pos(Coord { x, y }))
    }
}

impl<'de> Deserialize<'de> for Nest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Nest;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("nested coordinate arrays")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Nest, E> {
                Ok(Nest::Num(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Nest, E> {
                Ok(Nest::Num(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Nest, E> {
                Ok(Nest::Num(v as f64))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Nest, A::Error> {
                match seq.next_element::<Nest>()? {
                    None => Ok(Nest::List(Vec::new())),
                    Some(Nest::Num(x)) => {
                        let y = seq.next_element::<f64>()?;
                        match (y, seq.next_element::<IgnoredAny>()?) {
                            (Some(y), None) => Ok(Nest::Pos(Coord { x, y })),
                            _ => Err(de::Error::custom("not a 2-D position")),
                        }
                    }
                    Some(Nest::Pos(first)) => RING.with_borrow_mut(|ring| {
                        // Gathered in the thread's buffer, then copied once at its size: a
                        // ring grown in place took three allocations for a 37-vertex star and
                        // kept up to twice the memory it needs for the whole load.
                        ring.clear();
                        ring.push(first);
                        while let Some(Pos(c)) = seq.next_element::<Pos>()? {
                            ring.push(c);
                        }
                        Ok(Nest::Ring(ring.as_slice().to_vec()))
                    }),
                    Some(first) => {
                        let mut list = vec![first];
                        while let Some(n) = seq.next_element::<Nest>()? {
                            list.push(n);
                        }
                        Ok(Nest::List(list))
                    }
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A ring the general path would take without a problem: at least 4 positions, closed, every
/// one in range.
fn good_ring(ring: &[Coord<f64>]) -> bool {
    ring.len() >= 4
        && ring.first() == ring.last()
        && ring
            .iter()
            .all(|c| (-180.0..=180.0).contains(&c.x) && (-90.0..=90.0).contains(&c.y))
}

/// A polygon's rings as read, when each is good (see [`good_ring`]).
fn polygon(rings: Vec<Nest>) -> Option<Polygon<f64>> {
    let mut rings = rings.into_iter().map(|r| match r {
        Nest::Ring(r) if good_ring(&r) => Some(LineString(r)),
        _ => None,
    });
    let exterior = rings.next()??;
    let holes = rings.collect::<Option<Vec<_>>>()?;
    Some(Polygon::new(exterior, holes))
}

/// Reads a `Point`, `Polygon` or `MultiPolygon` geometry object whose only members are `type`
/// and `coordinates`, with 2-D positions in range and rings of 4 positions or more, closed.
/// `None` for anything else: the general path reads it and says what is wrong, if anything.
pub(crate) fn geometry(text: &str) -> Option<FastGeometry> {
    fast_geometry(serde_json::from_str(text).ok()?)
}

/// A geometry object as the fast path reads it: `type` and `coordinates`, nothing else.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct G<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    coordinates: Nest,
}

/// The geometry `g` holds, when it is one the fast path takes (see [`geometry`]).
fn fast_geometry(g: G<'_>) -> Option<FastGeometry> {
    match (&*g.kind, g.coordinates) {
        ("Point", Nest::Pos(c)) => ((-180.0..=180.0).contains(&c.x)
            && (-90.0..=90.0).contains(&c.y))
        .then_some(FastGeometry::Point(c.x, c.y)),
        ("Polygon", Nest::List(rings)) => Some(FastGeometry::Polygons {
            multi: false,
            mp: MultiPolygon(vec![polygon(rings)?]),
        }),
        ("MultiPolygon", Nest::List(parts)) if !parts.is_empty() => {
            let parts = parts
                .into_iter()
                .map(|p| match p {
                    Nest::List(rings) => polygon(rings),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?;
            Some(FastGeometry::Polygons {
                multi: true,
                mp: MultiPolygon(parts),
            })
        }
        _ => None,
    }
}

/// A 128-bit digest of a feature's text (two 64-bit lanes of multiply-and-rotate mixing over
/// 8-byte words, with the length): the loader reuses what it found for a feature whose text
/// has the same digest. Several times faster than SipHash over the 170 MB of a large zones
/// file; not meant to resist crafted collisions (whoever can write the data folder can write
/// any data anyway).
pub(crate) fn digest(text: &str) -> u128 {
    const K1: u64 = 0x9e37_79b9_7f4a_7c15;
    const K2: u64 = 0xc2b2_ae3d_27d4_eb4f;
    let bytes = text.as_bytes();
    let (mut a, mut b) = (
        K2 ^ bytes.len() as u64,
        K1.rotate_left(17) ^ bytes.len() as u64,
    );
    let mut mix = |w: u64| {
        a = (a ^ w).wrapping_mul(K1).rotate_left(31);
        b = (b ^ w.rotate_left(29)).wrapping_mul(K2).rotate_left(27);
    };
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        mix(u64::from_le_bytes(w));
    }
    let rest = chunks.remainder();
    let mut w = [0u8; 8];
    w[..rest.len()].copy_from_slice(rest);
    mix(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
    let fin = |mut x: u64| {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    };
    (u128::from(fin(a ^ b.rotate_left(13))) << 64) | u128::from(fin(b ^ a.rotate_left(41)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_path_takes_valid_shapes_and_leaves_the_rest() {
        let square = r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}"#;
        let Some(FastGeometry::Polygons { multi: false, mp }) = geometry(square) else {
            panic!("a plain square is read by the fast path");
        };
        assert_eq!(mp.0[0].exterior().0.len(), 5);
        let multi = r#"{"coordinates":[[[[0,0],[1,0],[1,1],[0,0]]]],"type":"MultiPolygon"}"#;
        assert!(matches!(
            geometry(multi),
            Some(FastGeometry::Polygons { multi: true, .. })
        ));
        assert!(matches!(
            geometry(r#"{"type":"Point","coordinates":[36.5,33]}"#),
            Some(FastGeometry::Point(36.5, 33.0))
        ));
        for other in [
            // Not closed, too short, out of range, 3-D, a foreign member, an empty list, a
            // GeometryCollection, nesting of the wrong depth, a number where an array goes.
            r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}"#,
            r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}"#,
            r#"{"type":"Polygon","coordinates":[[[0,0],[181,0],[1,1],[0,0]]]}"#,
            r#"{"type":"Polygon","coordinates":[[[0,0,1],[1,0,1],[1,1,1],[0,0,1]]]}"#,
            r#"{"type":"Polygon","bbox":[0,0,1,1],"coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}"#,
            r#"{"type":"MultiPolygon","coordinates":[]}"#,
            r#"{"type":"Polygon","coordinates":[]}"#,
            r#"{"type":"GeometryCollection","geometries":[]}"#,
            r#"{"type":"MultiPolygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}"#,
            r#"{"type":"Point","coordinates":[36.5]}"#,
            r#"{"type":"Point","coordinates":[36.5,91]}"#,
            r#"{"type":"LineString","coordinates":[[0,0],[1,1]]}"#,
            r#"{"type":"Polygon","coordinates":7}"#,
        ] {
            assert!(
                geometry(other).is_none(),
                "{other} is left to the general path"
            );
        }
        // A position after the first is read as a pair, which refuses a third number or a
        // missing second one.
        let later_3d = r#"{"type":"Polygon","coordinates":[[[0,0],[1,0,1],[1,1],[0,0]]]}"#;
        assert!(geometry(later_3d).is_none());
        assert!(geometry(&later_3d.replace("[1,0,1]", "[1]")).is_none());
    }

    #[test]
    fn a_layer_file_keeps_its_members_and_features_as_text() {
        let text = r#"{"type":"FeatureCollection","title":"t","features":[{"a":1}, 7 ]}"#;
        let doc: LayerDoc<'_> = parse_object(text).expect("an object");
        let features = doc.features.expect("an array");
        assert_eq!(features.len(), 2);
        assert_eq!(features[1], "7");
        assert_eq!(doc.members["title"], "t");
        let doc: LayerDoc<'_> =
            parse_object(r#"{"type":"FeatureCollection","features":{"a":[1]}}"#)
                .expect("an object");
        assert!(doc.features.is_none() && doc.members["features"].is_null());
        assert!(parse_object::<LayerDoc<'_>>("[1]").is_err());
        let f: FeatureDoc<'_> =
            parse_object(r#"{"type":"Feature","geometry":null,"id":"a"}"#).expect("an object");
        assert!(matches!(f.geometry, Some(DocGeometry::Text(t)) if t.get() == "null"));
        assert_eq!(f.members.len(), 2);
    }

    #[test]
    fn a_feature_is_read_in_one_pass_unless_its_geometry_is_odd() {
        let with = |g: &str| {
            format!(r#"{{"type":"Feature","id":"a","geometry":{g},"properties":{{"n":1}}}}"#)
        };
        let square = r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}"#;
        let text = with(square);
        let f = feature(&text).expect("a feature");
        assert_eq!(f.members.len(), 2);
        assert!(f.props().is_some());
        match f.geometry {
            Some(DocGeometry::Read(FastGeometry::Polygons { multi: false, mp })) => {
                assert_eq!(mp.0[0].exterior().0.len(), 4);
            }
            _ => panic!("read in one pass"),
        }
        let null = with("null");
        assert!(matches!(
            feature(&null).expect("a feature").geometry,
            Some(DocGeometry::Null)
        ));
        // Odd geometries come back as text, for the general path to judge.
        for odd in [
            r#"{"type":"LineString","coordinates":[[0,0],[1,1]]}"#,
            r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]],"bbox":[0,0,1,1]}"#,
            r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}"#,
            r#"{"type":"Point","coordinates":[200,0]}"#,
            "7",
        ] {
            let text = with(odd);
            let f = feature(&text).expect("a feature");
            assert!(
                matches!(f.geometry, Some(DocGeometry::Text(t)) if t.get() == odd),
                "{odd}"
            );
            assert_eq!(f.members.len(), 2);
        }
        assert!(
            feature(r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},}"#)
                .is_err()
        );
    }

    /// Layer texts with tricky features: strings holding `},{` and quotes, nested arrays of
    /// objects, numbers, odd whitespace; sometimes damaged by a byte, or given a second
    /// `features` member or one nested in another member.
    fn layer_texts() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let feature = prop_oneof![
            4 => Just(r#"{"type":"Feature","properties":{"n":"a},{b"},"geometry":null}"#.to_owned()),
            4 => Just(r#"{"type":"Feature","properties":{"q":"x\"},{\"y"},"geometry":{"type":"Point","coordinates":[1,2]}}"#.to_owned()),
            4 => Just(r#"{ "type" : "Feature" , "parts" : [ {"a":1} , {"b":[{},{}]} ] }"#.to_owned()),
            1 => Just(r#"{"features":[{"x":1},{"y":2}]}"#.to_owned()),
            // A cut inside it fails, and the file is read whole.
            1 => Just(r#"{"type":"Feature","sources":[{"type":"Feature"},{"type" : "Feature","s":"},{"}]}"#.to_owned()),
            1 => Just("7".to_owned()),
            1 => Just("[{},{}]".to_owned()),
            1 => Just(r#""},{""#.to_owned()),
        ];
        let ws = prop_oneof![Just(""), Just(" "), Just("\n  "), Just("\t")];
        let head = prop_oneof![
            3 => Just(r#"{"type":"FeatureCollection","features":"#.to_owned()),
            3 => Just(r#"{ "name" : "n", "features" : "#.to_owned()),
            1 => Just(r#"{"meta":{"features":[]},"features":"#.to_owned()),
            1 => Just(r#"{"type":"FeatureCollection","crs":{"features":"#.to_owned()),
            1 => Just(r#"{"type":"FeatureCollection","x\"features":"#.to_owned()),
        ];
        let tail = prop_oneof![
            3 => Just("}".to_owned()),
            3 => Just(r#","title":"t"}"#.to_owned()),
            1 => Just(r#","features":{"a":1}}"#.to_owned()),
            1 => Just(r#","features":[]}"#.to_owned()),
            1 => Just("}}".to_owned()),
            1 => Just("} x".to_owned()),
        ];
        let damage = prop_oneof![
            3 => Just(None),
            1 => (any::<proptest::sample::Index>(), prop_oneof![Just(""), Just(","), Just("\""), Just("}"), Just("]")])
                .prop_map(Some),
        ];
        (
            head,
            proptest::collection::vec((feature, ws.clone()), 0..40),
            ws,
            tail,
            damage,
        )
            .prop_map(|(head, features, ws, tail, damage)| {
                let list: Vec<String> = features
                    .into_iter()
                    .map(|(f, w)| format!("{w}{f}{w}"))
                    .collect();
                let mut text = format!("{head}{ws}[{}]{tail}", list.join(","));
                if let Some((at, with)) = damage {
                    let mut i = at.index(text.len());
                    while !text.is_char_boundary(i) {
                        i -= 1;
                    }
                    text.replace_range(i..(i + 1).min(text.len()), with);
                }
                text
            })
    }

    proptest::proptest! {
        #[test]
        fn a_split_layer_is_the_whole_read_or_nothing(text in layer_texts(), threads in 2usize..12) {
            let whole = parse_object::<LayerDoc<'_>>(&text).ok();
            match (split_layer_from(&text, threads, 0), whole) {
                (None, _) => {}
                (Some(split), Some(whole)) => {
                    proptest::prop_assert_eq!(split.members, whole.members);
                    proptest::prop_assert_eq!(split.features, whole.features);
                }
                (Some(_), None) => proptest::prop_assert!(false, "split a text serde_json refuses: {text}"),
            }
        }
    }

    #[test]
    fn a_plain_layer_is_split_into_runs_on_threads() {
        let feature = r#"{"type":"Feature","properties":{"id":"z"},"geometry":{"type":"Point","coordinates":[1,2]}}"#;
        let text = format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            vec![feature; 1000].join(",\n")
        );
        for threads in [2, 3, 8] {
            let doc = split_layer_from(&text, threads, 0).expect("split");
            assert_eq!(doc.features, Some(vec![feature; 1000]));
            assert_eq!(doc.members["type"], "FeatureCollection");
            assert!(doc.members["features"].is_null());
        }
        // Below the size it is left to the whole read.
        assert!(split_layer(&text, 2).is_none());
        // An empty array, and one whose cuts can only fall after it.
        let empty = r#"{"features":[ ],"x":[{},{},{}]}"#;
        let doc = split_layer_from(empty, 4, 0);
        assert!(doc.is_none_or(|d| d.features == Some(vec![])));
    }

    #[test]
    fn properties_keep_file_order_and_a_repeated_key_its_last_value() {
        let text = r#"{"type":"Feature","properties":{"b":1,"a":2,"b":3},"geometry":null}"#;
        let f: FeatureDoc<'_> = parse_object(text).expect("an object");
        let props = f.props().expect("an object");
        assert_eq!(props.keys().collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(props.get("b"), Some(&Value::from(3)));
        // The same as the general path reads them.
        let v: Value = serde_json::from_str(text).expect("JSON");
        let map = v["properties"].as_object().expect("an object");
        let general: Props = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(general, props);
        let null = r#"{"type":"Feature","properties":null,"geometry":null}"#;
        let f: FeatureDoc<'_> = parse_object(null).expect("an object");
        assert!(
            f.properties.is_some() && f.props().is_none(),
            "read, then reported"
        );
    }

    #[test]
    fn digests_differ_with_the_text() {
        assert_eq!(digest("abc"), digest("abc"));
        assert_ne!(digest("abc"), digest("abd"));
        assert_ne!(digest(""), digest(" "));
        assert_ne!(digest("\0"), digest(""));
        assert_ne!(digest("12345678a"), digest("12345678b"));
        // Every one-byte change of a feature's text changes its digest.
        let text = r#"{"type":"Feature","id":"z1","geometry":null}"#;
        let mut seen = std::collections::HashSet::new();
        for i in 0..text.len() {
            let mut b = text.as_bytes().to_vec();
            b[i] ^= 1;
            assert!(seen.insert(digest(std::str::from_utf8(&b).unwrap())));
        }
        assert!(!seen.contains(&digest(text)));
    }
}
