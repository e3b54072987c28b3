//! The history commands: `init`, `history`, `diff`, `revert`. They work on a data folder's
//! revision log (`history/log.jsonl`), through the same directory store the server uses, so a
//! revert made here beside a running server is one more revision it picks up.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use geodata::{Dataset, Edit, FeatureChange, HistoryState, Revision, Store};

use crate::db::Source;
use serde_json::{Value, json};

/// `zonetrack init DIR`.
pub fn init(dir: &Path) -> Result<ExitCode> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!(
            "{} is not empty: init writes a new data folder",
            dir.display()
        );
    }
    Dataset::embedded()
        .write_dir(dir)
        .with_context(|| format!("writing {}", dir.display()))?;
    println!(
        "wrote the default data set to {}; serve it with `zonetrack serve --data {}`",
        dir.display(),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn open(data: &Source) -> Result<(Arc<dyn Store>, HistoryState)> {
    if matches!(data, Source::Embedded) {
        bail!(
            "the history lives in a data folder or a database: give --data DIR (make one with `zonetrack init DIR`) or --store URL"
        );
    }
    let store = data.store(false)?;
    store.load().map_err(|e| match e {
        geodata::GeodataError::Invalid(p) => {
            anyhow::anyhow!("{p}\n{} problem(s) in {}", p.0.len(), data.describe())
        }
        other => anyhow::Error::new(other),
    })?;
    let state = store
        .history()
        .and_then(|h| h.state())
        .context("the store keeps a history")?;
    Ok((store, state))
}

fn revision_json(r: &Revision) -> Value {
    json!({
        "revision": r.number,
        "time": r.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "author": r.author,
        "message": r.message,
        "changes": r.changes.iter().map(change_json).collect::<Vec<_>>(),
    })
}

fn change_json(c: &FeatureChange) -> Value {
    json!({"layer": c.layer, "id": c.id.as_str(), "change": c.kind(), "before": c.before, "after": c.after})
}

/// The properties (and `geometry`) a change touched, for a one-line summary.
fn touched(c: &FeatureChange) -> String {
    let (Some(b), Some(a)) = (&c.before, &c.after) else {
        return String::new();
    };
    let mut fields: Vec<String> = Vec::new();
    if b["geometry"] != a["geometry"] {
        fields.push("geometry".into());
    }
    let empty = serde_json::Map::new();
    let (bp, ap) = (
        b["properties"].as_object().unwrap_or(&empty),
        a["properties"].as_object().unwrap_or(&empty),
    );
    for k in bp.keys().chain(ap.keys().filter(|k| !bp.contains_key(*k))) {
        if bp.get(k) != ap.get(k) {
            fields.push(k.clone());
        }
    }
    format!(" ({})", fields.join(", "))
}

/// `zonetrack history`.
pub fn list(
    data: &Source,
    layer: Option<&str>,
    id: Option<&str>,
    limit: usize,
    json: bool,
) -> Result<ExitCode> {
    let (_, state) = open(data)?;
    let wanted = |r: &&Arc<Revision>| {
        r.changes
            .iter()
            .any(|c| layer.is_none_or(|l| c.layer == l) && id.is_none_or(|i| c.id.as_str() == i))
    };
    let shown: Vec<&Arc<Revision>> = state
        .revisions
        .iter()
        .rev()
        .filter(wanted)
        .take(limit)
        .collect();
    if json {
        let list: Vec<Value> = shown.iter().map(|r| revision_json(r)).collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    if shown.is_empty() {
        println!(
            "no revisions{}",
            if state.revisions.is_empty() {
                " yet: the data is as imported"
            } else {
                " match"
            }
        );
    }
    for r in shown {
        println!(
            "r{:<5} {}  {:<12} {}",
            r.number,
            r.time.format("%Y-%m-%d %H:%M:%S UTC"),
            r.author,
            r.message
        );
        for c in &r.changes {
            println!("         {} {}/{}{}", c.kind(), c.layer, c.id, touched(c));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `zonetrack diff A [B]`.
pub fn diff(data: &Source, from: u64, to: Option<u64>, json: bool) -> Result<ExitCode> {
    let (_, state) = open(data)?;
    let latest = state.revision();
    let to = to.unwrap_or(latest);
    for n in [from, to] {
        if n > latest {
            bail!("there is no revision {n}; the latest is {latest}");
        }
    }
    let at = |n: u64| -> Result<Dataset> {
        state
            .data
            .as_of(&state.revisions, n)
            .map_err(|p| anyhow::anyhow!("rebuilding revision {n}: {p}"))
    };
    let changes = at(from)?.diff(&at(to)?);
    if json {
        let list: Vec<Value> = changes.iter().map(change_json).collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else if changes.is_empty() {
        println!("revisions {from} and {to} hold the same data");
    } else {
        for c in &changes {
            println!("{} {}/{}{}", c.kind(), c.layer, c.id, touched(c));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `zonetrack revert N`.
pub fn revert(
    data: &Source,
    n: u64,
    message: Option<String>,
    author: Option<String>,
    force: bool,
) -> Result<ExitCode> {
    let (store, state) = open(data)?;
    let Some(r) = n
        .checked_sub(1)
        .and_then(|i| state.revisions.get(i as usize))
    else {
        bail!(
            "there is no revision {n}; the latest is {}",
            state.revision()
        );
    };
    let later: Vec<String> = r
        .changes
        .iter()
        .filter(|c| state.feature_revision(&c.layer, c.id.as_str()) > n)
        .map(|c| {
            format!(
                "{}/{} (revision {})",
                c.layer,
                c.id,
                state.feature_revision(&c.layer, c.id.as_str())
            )
        })
        .collect();
    if !later.is_empty() && !force {
        bail!(
            "revision {n} cannot be undone cleanly: later revisions changed {}; revert those first, or give --force",
            later.join(", ")
        );
    }
    let edits: Vec<Edit> = r
        .changes
        .iter()
        .map(|c| {
            let exists = state.data.source_feature(&c.layer, c.id.as_str()).is_some();
            let before = c.before.clone();
            Edit {
                layer: c.layer.clone(),
                // A feature the revision created (and that still exists) is deleted by id; one
                // it deleted is created again with its id.
                id: exists.then(|| c.id.clone()),
                if_match: None,
                make: Box::new(move |_| Ok(before)),
            }
        })
        .collect();
    let author = author
        .or_else(|| std::env::var("USER").ok())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "cli".into());
    let message = message.unwrap_or_else(|| format!("revert revision {n} ({})", r.message));
    let history = store.history().context("the store keeps a history")?;
    let done = history
        .commit(edits, &author, &message)
        .map_err(|e| match e {
            geodata::EditError::Invalid(p) => {
                anyhow::anyhow!("the revert would leave the data invalid:\n{p}")
            }
            other => anyhow::Error::new(other),
        })?;
    history.flush().context("writing the data files")?;
    match done.revision {
        Some(new) => println!("revision {} reverts revision {n}", new.number),
        None => println!("nothing to do: the data already is as before revision {n}"),
    }
    Ok(ExitCode::SUCCESS)
}
