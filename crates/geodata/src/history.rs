//! Revisions: the unit of change of a data set that takes edits.
//!
//! A revision has a number (1, 2, 3 ...: monotonic, no gaps), a UTC time, an author, a message
//! and, for each feature it changed, the feature's source form (as in the layer files) before
//! and after: a create has no before, a delete no after. Revisions are append-only; undoing one
//! is a new revision.
//!
//! The state at revision N is the data as imported with revisions 1..=N applied, and equally
//! the latest data with revisions after N undone ([`Dataset::as_of`]): the log alone answers
//! "what did the data say then", without copies of old files.
//!
//! In a data folder the log is `history/log.jsonl`: one revision per line, plain JSON a person
//! can read (`geodata/FORMAT.md`).

use std::borrow::Borrow;
use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::{Dataset, Event, FeatureId, Location, Problems, Zone};

/// The layers whose features can be edited one by one. Reference layers (outlines, lines) are
/// edited as files: rules and the map depend on them as whole layers.
pub const EDITABLE_LAYERS: [&str; 3] = ["zones", "locations", "events"];

/// One feature's change within a revision.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureChange {
    /// The layer (`zones`, `locations`, `events`).
    pub layer: String,
    /// The feature's readable id.
    pub id: FeatureId,
    /// Its source form before the change; `None` when the change created it.
    pub before: Option<Value>,
    /// Its source form after the change; `None` when the change deleted it.
    pub after: Option<Value>,
}

impl FeatureChange {
    /// The same change the other way round: what undoing it does.
    pub fn inverse(&self) -> FeatureChange {
        FeatureChange {
            layer: self.layer.clone(),
            id: self.id.clone(),
            before: self.after.clone(),
            after: self.before.clone(),
        }
    }

    /// `created`, `replaced` or `deleted`.
    pub fn kind(&self) -> &'static str {
        match (&self.before, &self.after) {
            (None, _) => "created",
            (Some(_), Some(_)) => "replaced",
            (Some(_), None) => "deleted",
        }
    }
}

/// One revision.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    /// 1 for the first edit after the import, then one more each time.
    pub number: u64,
    /// When it was written.
    pub time: DateTime<Utc>,
    /// Who wrote it: an editor's name, or `files` for edits made to the files themselves.
    pub author: String,
    /// Why.
    pub message: String,
    /// What it changed, feature by feature.
    pub changes: Vec<FeatureChange>,
}

impl Revision {
    /// The revision as one JSON object (one line of the log).
    pub fn to_json(&self) -> Value {
        let changes: Vec<Value> = self
            .changes
            .iter()
            .map(|c| {
                json!({
                    "layer": c.layer,
                    "id": c.id.as_str(),
                    "before": c.before,
                    "after": c.after,
                })
            })
            .collect();
        json!({
            "revision": self.number,
            "time": self.time.to_rfc3339_opts(SecondsFormat::Millis, true),
            "author": self.author,
            "message": self.message,
            "changes": changes,
        })
    }

    /// A revision from its JSON form; the reason names the member that is wrong.
    pub fn from_json(v: &Value) -> Result<Revision, String> {
        let o = v.as_object().ok_or("a revision must be a JSON object")?;
        let text = |o: &Map<String, Value>, k: &str| -> Result<String, String> {
            o.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(format!("\"{k}\" must be a string"))
        };
        let number = o
            .get("revision")
            .and_then(Value::as_u64)
            .ok_or("\"revision\" must be a whole number")?;
        let time = DateTime::parse_from_rfc3339(&text(o, "time")?)
            .map_err(|e| format!("\"time\" must be an RFC 3339 time: {e}"))?
            .with_timezone(&Utc);
        let mut changes = Vec::new();
        for (i, c) in o
            .get("changes")
            .and_then(Value::as_array)
            .ok_or("\"changes\" must be an array")?
            .iter()
            .enumerate()
        {
            let c = c
                .as_object()
                .ok_or(format!("changes[{i}] must be an object"))?;
            let state = |k: &str| match c.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
                Some(_) => Err(format!("changes[{i}].{k} must be a feature or null")),
            };
            let id =
                FeatureId::parse(&text(c, "id")?).map_err(|e| format!("changes[{i}].id {e}"))?;
            changes.push(FeatureChange {
                layer: text(c, "layer")?,
                id,
                before: state("before")?,
                after: state("after")?,
            });
        }
        Ok(Revision {
            number,
            time,
            author: text(o, "author")?,
            message: text(o, "message")?,
            changes,
        })
    }
}

/// The number of the last revision at or before `time` (0: before the first).
pub fn revision_at<R: Borrow<Revision>>(revisions: &[R], time: DateTime<Utc>) -> u64 {
    revisions
        .iter()
        .map(Borrow::borrow)
        .take_while(|r| r.time <= time)
        .last()
        .map_or(0, |r| r.number)
}

/// For each feature (`layer`, `id`), the last revision that changed it.
pub fn last_changes<R: Borrow<Revision>>(revisions: &[R]) -> HashMap<(String, String), u64> {
    let mut out = HashMap::new();
    for r in revisions.iter().map(Borrow::borrow) {
        for c in &r.changes {
            out.insert((c.layer.clone(), c.id.as_str().to_owned()), r.number);
        }
    }
    out
}

impl Dataset {
    /// What the data said at revision `n`: the latest data (`self`, at the last of
    /// `revisions`) with every revision after `n` undone, newest first.
    pub fn as_of<R: Borrow<Revision>>(&self, revisions: &[R], n: u64) -> Result<Dataset, Problems> {
        let undo: Vec<FeatureChange> = revisions
            .iter()
            .map(Borrow::borrow)
            .rev()
            .take_while(|r| r.number > n)
            .flat_map(|r| r.changes.iter().rev().map(FeatureChange::inverse))
            .collect();
        if undo.is_empty() {
            return Ok(self.clone());
        }
        self.with_changes(&undo)
    }

    /// A feature's source form (as in its layer file) by layer and readable id.
    pub fn source_feature(&self, layer: &str, id: &str) -> Option<Value> {
        match layer {
            "zones" => self
                .zones
                .iter()
                .find(|z| {
                    let written = z.derived_from.as_ref().map_or(&z.meta.id, |d| &d.id);
                    written.as_str() == id
                })
                .map(|z| crate::rules::file_zone(z).source_json()),
            "locations" => self.location(id).map(|l| l.source_json()),
            "events" => self
                .events
                .iter()
                .find(|e| e.meta.id.as_str() == id)
                .map(|e| e.source_json()),
            _ => None,
        }
    }

    /// Every feature that differs between `self` and `other` in the editable layers, as the
    /// changes that turn `self` into `other`, in layer then file order.
    pub fn diff(&self, other: &Dataset) -> Vec<FeatureChange> {
        let mut out = Vec::new();
        // The zones as the files have them; without date-aware rules, the zones themselves
        // (not a copy of 100,000 of them).
        fn file_zones(zones: &[Zone]) -> std::borrow::Cow<'_, [Zone]> {
            if zones.iter().all(|z| z.derived_from.is_none()) {
                std::borrow::Cow::Borrowed(zones)
            } else {
                std::borrow::Cow::Owned(crate::rules::file_zones(zones))
            }
        }
        let (ours, theirs) = (file_zones(&self.zones), file_zones(&other.zones));
        diff_layer(
            "zones",
            &ours,
            &theirs,
            |z| &z.meta.id,
            Zone::source_json,
            &mut out,
        );
        diff_layer(
            "locations",
            &self.locations,
            &other.locations,
            |l| &l.meta.id,
            Location::source_json,
            &mut out,
        );
        diff_layer(
            "events",
            &self.events,
            &other.events,
            |e| &e.meta.id,
            Event::source_json,
            &mut out,
        );
        out
    }
}

/// The changes that turn `ours` into `theirs` (one layer's features): a feature's source forms
/// are made and compared only when the feature itself differs (a folder of 100,000 zones with
/// one changed makes two, not 200,000).
fn diff_layer<T: PartialEq>(
    layer: &str,
    ours: &[T],
    theirs: &[T],
    id: fn(&T) -> &FeatureId,
    source: fn(&T) -> Value,
    out: &mut Vec<FeatureChange>,
) {
    let changed = |key: &str, t: &T, after: &T, out: &mut Vec<FeatureChange>| {
        if after != t {
            let (before, after) = (source(t), source(after));
            if before != after {
                out.push(change(layer, key, Some(&before), Some(&after)));
            }
        }
    };
    // An edit in place leaves every feature where it was: compare them pairwise, with no map
    // of every id (most of a one-zone edit's diff of 100,000 zones was building two).
    if ours.len() == theirs.len() && ours.iter().zip(theirs).all(|(a, b)| id(a) == id(b)) {
        for (t, after) in ours.iter().zip(theirs) {
            changed(id(t).as_str(), t, after, out);
        }
        return;
    }
    let index: foldhash::HashMap<&str, &T> = theirs.iter().map(|t| (id(t).as_str(), t)).collect();
    let mine: foldhash::HashMap<&str, &T> = ours.iter().map(|t| (id(t).as_str(), t)).collect();
    for t in ours {
        let key = id(t).as_str();
        match index.get(key) {
            Some(after) => changed(key, t, after, out),
            None => out.push(change(layer, key, Some(&source(t)), None)),
        }
    }
    for t in theirs {
        let key = id(t).as_str();
        if !mine.contains_key(key) {
            out.push(change(layer, key, None, Some(&source(t))));
        }
    }
}

fn change(layer: &str, id: &str, before: Option<&Value>, after: Option<&Value>) -> FeatureChange {
    FeatureChange {
        layer: layer.to_owned(),
        id: FeatureId::parse(id).expect("ids of a loaded data set are valid"),
        before: before.cloned(),
        after: after.cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revision(number: u64, changes: Vec<FeatureChange>) -> Revision {
        Revision {
            number,
            time: DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc)
                + chrono::Duration::minutes(number as i64),
            author: "alice".into(),
            message: format!("edit {number}"),
            changes,
        }
    }

    /// Revision `number`, renaming zone `z` to "renamed".
    fn renaming(number: u64, z: &Zone) -> Revision {
        let mut after = z.source_json();
        after["properties"]["name"] = json!("renamed");
        let id = z.meta.id.as_str();
        let changes = vec![change("zones", id, Some(&z.source_json()), Some(&after))];
        revision(number, changes)
    }

    fn by_id(mut d: Dataset) -> Dataset {
        d.zones.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
        d.locations.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
        d.events.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
        d
    }

    #[test]
    fn a_revision_round_trips_through_its_log_line() {
        let data = Dataset::embedded();
        let r = renaming(1, &data.zones[0]);
        let line = r.to_json().to_string();
        assert!(!line.contains('\n'));
        let back = Revision::from_json(&serde_json::from_str(&line).unwrap()).unwrap();
        assert_eq!(back, r);
        assert!(Revision::from_json(&json!({"revision": 1})).is_err());
    }

    #[test]
    fn as_of_undoes_later_revisions_and_diff_finds_them() {
        let base = Dataset::embedded();
        let z = &base.zones[0];
        let r1 = renaming(1, z);
        // A location no event or rule refers to.
        let l = base
            .locations
            .iter()
            .find(|l| {
                let id = Some(&l.meta.id);
                base.events.iter().all(|e| e.location.as_ref() != id)
                    && base.zones.iter().all(|z| {
                        z.rule
                            .as_ref()
                            .is_none_or(|r| !r.references().contains(&&l.meta.id))
                    })
            })
            .unwrap();
        let r2 = revision(
            2,
            vec![FeatureChange {
                layer: "locations".into(),
                id: l.meta.id.clone(),
                before: Some(l.source_json()),
                after: None,
            }],
        );
        let at1 = base.with_changes(&r1.changes).unwrap();
        let at2 = at1.with_changes(&r2.changes).unwrap();
        assert_eq!(at2.zones[0].meta.name, "renamed");
        assert_eq!(at2.locations.len(), base.locations.len() - 1);
        // Deleting a location an event names is refused, naming the event.
        let used = base.events.iter().find_map(|e| e.location.clone()).unwrap();
        let refused = base
            .with_changes(&[FeatureChange {
                layer: "locations".into(),
                id: used.clone(),
                before: base.source_feature("locations", used.as_str()),
                after: None,
            }])
            .unwrap_err();
        assert!(matches!(
            refused.0[0].kind,
            crate::ProblemKind::UnknownLocation { .. }
        ));
        let history = [r1.clone(), r2.clone()];
        assert_eq!(at2.as_of(&history, 2).unwrap(), at2);
        // A feature brought back by undoing its delete comes back at the end of its layer:
        // the same data, in another file order.
        assert_eq!(by_id(at2.as_of(&history, 1).unwrap()), by_id(at1.clone()));
        assert_eq!(by_id(at2.as_of(&history, 0).unwrap()), by_id(base.clone()));
        assert!(at2.as_of(&history, 1).unwrap().diff(&at1).is_empty());
        assert_eq!(base.diff(&at1), r1.changes);
        assert_eq!(at1.diff(&at2), r2.changes);
        assert_eq!(revision_at(&history, r1.time), 1);
        assert_eq!(
            revision_at(&history, r1.time - chrono::Duration::seconds(1)),
            0
        );
        let last = last_changes(&history);
        assert_eq!(last[&("zones".into(), z.meta.id.to_string())], 1);
    }
}
