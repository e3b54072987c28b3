//! Edits as clients send them: turning a feature in export form (what OGC API clients read and
//! send back: an integer `id`, the readable id as `key`, derived `actor_name` and `colour`, a
//! rule as its one-line description) into the source form the layer files hold, and making ids
//! for new features.

use serde_json::{Map, Value, json};

use crate::store::EditError;
use crate::{Dataset, FeatureId, Problem, ProblemKind, Problems};

/// Properties the export form adds and a client may send back: never stored.
const DERIVED: [&str; 4] = ["key", "actor_name", "colour", "id"];
/// Properties holding days, which some clients send as midnight date-times.
const DAYS: [&str; 4] = ["valid_from", "valid_to", "date", "date_end"];

/// How a client's feature is applied to the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEdit {
    /// A new feature (`POST`).
    Create,
    /// The whole feature anew (`PUT`).
    Replace,
    /// A JSON merge patch (RFC 7396, `PATCH`): members given replace, `null` removes.
    Patch,
}

/// The source form of `incoming` as a client sent it, applied to the feature's current source
/// form (`None` when creating). `served` is the feature as clients are served it (export
/// form): a rule zone's geometry and the text of its rule may come back unchanged, meaning
/// "keep them"; any other geometry for a rule zone is refused.
///
/// ```
/// use geodata::edit::{ClientEdit, source_from_client};
/// use serde_json::json;
/// let data = geodata::Dataset::embedded();
/// let zone = data.zones.iter().find(|z| z.rule.is_none()).unwrap();
/// let current = zone.source_json();
/// let patch = json!({"properties": {"name": "Renamed", "colour": "#123456", "key": zone.meta.id.as_str()}});
/// let after = source_from_client("zones", Some(&current), &patch, ClientEdit::Patch, None).unwrap();
/// assert_eq!(after["properties"]["name"], "Renamed");
/// assert!(after["properties"].get("colour").is_none());
/// assert_eq!(after["geometry"], current["geometry"]);
/// ```
pub fn source_from_client(
    layer: &str,
    current: Option<&Value>,
    incoming: &Value,
    how: ClientEdit,
    served: Option<&Value>,
) -> Result<Value, EditError> {
    let file = format!("{layer}.geojson");
    let malformed = |m: &str| EditError::Malformed(m.to_owned());
    let incoming = incoming
        .as_object()
        .ok_or_else(|| malformed("the body must be a GeoJSON Feature (a JSON object)"))?;
    if let Some(t) = incoming.get("type")
        && t != "Feature"
        && how != ClientEdit::Patch
    {
        return Err(malformed(
            "the body must be a GeoJSON Feature: \"type\": \"Feature\"",
        ));
    }
    let mut out = match (how, current) {
        (ClientEdit::Patch, Some(c)) => c.clone(),
        (ClientEdit::Patch, None) => return Err(malformed("nothing to patch")),
        (_, c) => {
            let id = c.map(|c| c["id"].clone()).unwrap_or(Value::Null);
            json!({"type": "Feature", "id": id, "geometry": null, "properties": {}})
        }
    };
    // A new feature takes its readable id from a string `id`, else from `key`.
    if how == ClientEdit::Create {
        let given = incoming
            .get("id")
            .and_then(Value::as_str)
            .or_else(|| incoming.get("properties")?.get("key")?.as_str())
            .filter(|s| !s.is_empty());
        if let Some(id) = given {
            out["id"] = json!(id);
        }
    }
    let props = match incoming.get("properties") {
        None => None,
        Some(Value::Object(p)) => Some(p),
        Some(Value::Null) if how != ClientEdit::Patch => None,
        Some(_) => return Err(malformed("\"properties\" must be an object")),
    };
    let mut problems = Vec::new();
    let target = out["properties"]
        .as_object_mut()
        .ok_or_else(|| malformed("the current feature has no properties"))?;
    for (k, v) in props.into_iter().flatten() {
        if k == "key"
            && let (Some(key), Some(c)) = (v.as_str(), current)
            && !key.is_empty()
            && c["id"].as_str() != Some(key)
        {
            problems.push(refused(
                &file,
                current,
                "key",
                "a feature keeps its id; create a new feature for a new id",
            ));
            continue;
        }
        if DERIVED.contains(&k.as_str()) {
            continue;
        }
        let v = match (k.as_str(), v) {
            ("rule", Value::String(s)) => {
                // The export form shows a rule as its description: sent back unchanged, it
                // means "keep the rule".
                match served.and_then(|f| f["properties"]["rule"].as_str()) {
                    Some(r) if r == s => {
                        current.map_or(Value::Null, |c| c["properties"]["rule"].clone())
                    }
                    _ => {
                        problems.push(refused(
                            &file,
                            current,
                            "rule",
                            "send a rule as a JSON object in source form (geodata/FORMAT.md), not as text",
                        ));
                        continue;
                    }
                }
            }
            ("sources", Value::String(s)) => {
                // Clients that keep a list as a text field send it back as JSON text.
                serde_json::from_str::<Value>(s).unwrap_or(Value::String(s.clone()))
            }
            (d, Value::String(s)) if DAYS.contains(&d) => json!(midnight_to_day(s)),
            (_, v) => v.clone(),
        };
        if v.is_null() && how == ClientEdit::Patch {
            target.remove(k);
        } else {
            target.insert(k.clone(), v);
        }
    }
    if let Some(g) = incoming.get("geometry") {
        out["geometry"] = g.clone();
    }
    // A rule zone's geometry is derived: the one it was served with may come back, no other.
    if layer == "zones" && !out["properties"]["rule"].is_null() && !out["geometry"].is_null() {
        if served.is_some_and(|f| same_geometry(&f["geometry"], &out["geometry"])) {
            out["geometry"] = Value::Null;
        } else {
            problems.push(refused(
                &file,
                current,
                "geometry",
                "this zone's geometry is derived from its rule: change the rule, not the geometry (or remove the rule to draw it by hand)",
            ));
        }
    }
    if !problems.is_empty() {
        return Err(EditError::Invalid(Problems(problems)));
    }
    // Keep members in the order the files use, so a file diff shows only what changed.
    Ok(order_members(out))
}

fn refused(file: &str, current: Option<&Value>, field: &str, reason: &str) -> Problem {
    Problem {
        file: file.to_owned(),
        feature: current.map(|c| crate::FeatureRef {
            index: 0,
            id: c["id"].as_str().map(str::to_owned),
        }),
        field: Some(field.to_owned()),
        kind: ProblemKind::Refused {
            reason: reason.to_owned(),
        },
    }
}

/// `2018-02-07T00:00:00Z` (and with fractions or `+00:00`) as `2018-02-07`; anything else as
/// it is, for the loader to judge.
fn midnight_to_day(s: &str) -> String {
    match s.split_once('T') {
        Some((day, time))
            if time
                .trim_end_matches('Z')
                .trim_end_matches("+00:00")
                .trim_start_matches("00:00:00")
                .trim_start_matches('.')
                .chars()
                .all(|c| c == '0') =>
        {
            day.to_owned()
        }
        _ => s.to_owned(),
    }
}

/// Whether two GeoJSON geometries have the same type and coordinates to 1e-7 degrees.
fn same_geometry(a: &Value, b: &Value) -> bool {
    fn close(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| close(a, b))
            }
            (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => (x - y).abs() <= 1e-7,
                _ => false,
            },
            _ => a == b,
        }
    }
    a["type"] == b["type"] && close(&a["coordinates"], &b["coordinates"])
}

fn order_members(v: Value) -> Value {
    let Value::Object(mut o) = v else {
        return v;
    };
    let mut out = Map::new();
    for k in ["type", "id", "geometry", "properties"] {
        if let Some(x) = o.remove(k) {
            out.insert(k.into(), x);
        }
    }
    out.extend(o);
    Value::Object(out)
}

/// A readable id for a new feature: the one its source form gives, or one made from its name
/// (`Khan Sheikhoun` -> `khan_sheikhoun`, then `khan_sheikhoun_2` if that is taken). Also
/// refuses an id that is taken.
pub fn new_id(data: &Dataset, layer: &str, feature: &Value) -> Result<FeatureId, EditError> {
    let taken = |id: &str| data.source_feature(layer, id).is_some();
    if let Some(given) = feature["id"].as_str() {
        let id = FeatureId::parse(given).map_err(|reason| {
            EditError::Invalid(Problems(vec![Problem {
                file: format!("{layer}.geojson"),
                feature: None,
                field: Some("id".into()),
                kind: ProblemKind::InvalidId { reason },
            }]))
        })?;
        if taken(id.as_str()) {
            return Err(EditError::Exists {
                layer: layer.to_owned(),
                id: id.to_string(),
            });
        }
        return Ok(id);
    }
    let name = feature["properties"]["name"].as_str().unwrap_or("");
    let mut stem: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    while stem.contains("__") {
        stem = stem.replace("__", "_");
    }
    let mut stem = stem.trim_matches('_').to_owned();
    stem.truncate(48);
    let stem = if stem.is_empty() {
        format!("{}_feature", layer.trim_end_matches('s'))
    } else {
        stem.trim_end_matches('_').to_owned()
    };
    let fids: std::collections::HashSet<u32> = match layer {
        "zones" => data.zones.iter().map(|z| z.meta.id.fid()).collect(),
        "locations" => data.locations.iter().map(|l| l.meta.id.fid()).collect(),
        _ => data.events.iter().map(|e| e.meta.id.fid()).collect(),
    };
    for n in 1.. {
        let candidate = if n == 1 {
            stem.clone()
        } else {
            format!("{stem}_{n}")
        };
        if let Ok(id) = FeatureId::parse(&candidate)
            && !taken(id.as_str())
            && !fids.contains(&id.fid())
        {
            return Ok(id);
        }
    }
    unreachable!("some suffix is free")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_sent_as_midnight_become_days_and_other_times_stay_for_the_loader() {
        assert_eq!(midnight_to_day("2018-02-07T00:00:00Z"), "2018-02-07");
        assert_eq!(midnight_to_day("2018-02-07T00:00:00.000Z"), "2018-02-07");
        assert_eq!(midnight_to_day("2018-02-07"), "2018-02-07");
        assert_eq!(
            midnight_to_day("2018-02-07T12:00:00Z"),
            "2018-02-07T12:00:00Z"
        );
    }

    #[test]
    fn new_ids_come_from_names_and_never_collide() {
        let data = Dataset::embedded();
        let f = json!({"properties": {"name": "Khan Sheikhoun (town)!"}});
        assert_eq!(
            new_id(&data, "zones", &f).unwrap().as_str(),
            "khan_sheikhoun_town"
        );
        let taken = data.zones[0].meta.id.as_str();
        let again = json!({"properties": {"name": taken}});
        assert_eq!(
            new_id(&data, "zones", &again).unwrap().as_str(),
            format!("{taken}_2")
        );
        let named = json!({"id": taken});
        assert!(matches!(
            new_id(&data, "zones", &named),
            Err(EditError::Exists { .. })
        ));
        let bad = json!({"id": "Not Valid"});
        assert!(matches!(
            new_id(&data, "zones", &bad),
            Err(EditError::Invalid(_))
        ));
        let nameless = json!({"properties": {}});
        assert_eq!(
            new_id(&data, "events", &nameless).unwrap().as_str(),
            "event_feature"
        );
    }

    #[test]
    fn a_rule_zone_takes_its_served_geometry_back_but_no_other() {
        let data = Dataset::embedded();
        let zone = data.zones.iter().find(|z| z.rule.is_some()).unwrap();
        let current = zone.source_json();
        let served = data
            .export_features("zones")
            .unwrap()
            .into_iter()
            .find(|f| f.key == zone.meta.id.as_str())
            .unwrap()
            .to_json();
        let mut sent = current.clone();
        sent["geometry"] = served["geometry"].clone();
        sent["properties"]["rule"] = served["properties"]["rule"].clone();
        let kept = source_from_client(
            "zones",
            Some(&current),
            &sent,
            ClientEdit::Replace,
            Some(&served),
        )
        .unwrap();
        assert_eq!(kept, current);
        let moved = json!({"geometry": {"type": "MultiPolygon", "coordinates": [[[[36.0, 33.0], [36.1, 33.0], [36.1, 33.1], [36.0, 33.0]]]]}});
        let Err(EditError::Invalid(p)) = source_from_client(
            "zones",
            Some(&current),
            &moved,
            ClientEdit::Patch,
            Some(&served),
        ) else {
            panic!("a new geometry for a rule zone is refused");
        };
        assert_eq!(p.0[0].field.as_deref(), Some("geometry"));
        assert!(
            p.0[0].to_string().contains("derived from its rule"),
            "{}",
            p.0[0]
        );
        let text = json!({"properties": {"rule": "buffer of something else"}});
        assert!(
            source_from_client(
                "zones",
                Some(&current),
                &text,
                ClientEdit::Patch,
                Some(&served)
            )
            .is_err()
        );
    }
}
