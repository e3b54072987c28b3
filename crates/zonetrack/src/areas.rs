//! `zonetrack areas`: the area each actor's zones cover, month by month, as CSV and as an SVG
//! line chart: a picture says more than a table here.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use chrono::{Datelike as _, Months};
use geodata::{Date, ZoneKind};
use zone_index::ZoneIndex;

/// The first day of every month from `from`'s month to `to`.
fn months(from: Date, to: Date) -> Vec<Date> {
    let mut d = from.with_day(1).unwrap_or(from);
    let mut out = Vec::new();
    while d <= to && out.len() < 1200 {
        out.push(d);
        match d.checked_add_months(Months::new(1)) {
            Some(n) => d = n,
            None => break,
        }
    }
    out
}

/// Series per actor: km² of the union of the actor's zones of `kind` on each day.
pub fn series(index: &ZoneIndex, kind: ZoneKind, days: &[Date]) -> BTreeMap<String, Vec<f64>> {
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (i, &day) in days.iter().enumerate() {
        // changes(day, day) measures the union held on that day for every actor and kind.
        for a in index.changes(day, day).areas {
            if a.kind == kind {
                out.entry(a.actor.to_string())
                    .or_insert_with(|| vec![0.0; days.len()])[i] = a.from_km2;
            }
        }
    }
    out
}

fn svg(
    title: &str,
    days: &[Date],
    series: &BTreeMap<String, Vec<f64>>,
    colours: &BTreeMap<String, String>,
) -> String {
    let (w, h) = (900.0, 480.0);
    let (left, right, top, bottom) = (80.0, 200.0, 40.0, 50.0);
    let max = series
        .values()
        .flatten()
        .copied()
        .fold(0.0f64, f64::max)
        .max(1.0);
    // A round upper bound for the axis.
    let step = 10f64.powf((max / 4.0).log10().floor());
    let top_value = (max / step).ceil() * step;
    let x = |i: usize| left + (w - left - right) * i as f64 / (days.len().max(2) - 1) as f64;
    let y = |v: f64| top + (h - top - bottom) * (1.0 - v / top_value);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = write!(
        s,
        "<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/><text x=\"{left}\" y=\"24\" font-size=\"15\">{title}</text>"
    );
    for k in 0..=4 {
        let v = top_value * k as f64 / 4.0;
        let _ = write!(
            s,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            w - right,
            left - 6.0,
            y(v) + 4.0,
            format_km2(v),
            y = y(v)
        );
    }
    for (i, d) in days.iter().enumerate() {
        // Label Januaries, and the first month unless a January follows too closely to fit.
        let first_fits = i == 0 && days.iter().take(4).skip(1).all(|d| d.month() != 1);
        if d.month() == 1 || first_fits {
            let _ = write!(
                s,
                "<line x1=\"{x}\" x2=\"{x}\" y1=\"{}\" y2=\"{}\" stroke=\"#bbb\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                top,
                h - bottom,
                h - bottom + 18.0,
                d.format("%Y-%m"),
                x = x(i)
            );
        }
    }
    for (n, (actor, values)) in series.iter().enumerate() {
        let colour = colours.get(actor).map_or("#444", String::as_str);
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2.5\" points=\"{}\"/>",
            points.join(" ")
        );
        let ly = top + 18.0 * n as f64 + 10.0;
        let _ = write!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"4\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            w - right + 12.0,
            ly - 4.0,
            w - right + 32.0,
            ly + 1.0,
            xml(actor)
        );
    }
    let _ = write!(
        s,
        "<text x=\"{left}\" y=\"{}\" fill=\"#666\">km² covered by each actor's zones in this data set (their union) on the first day of each month; approximate, and only what the data set holds</text></svg>",
        h - 10.0
    );
    s
}

fn format_km2(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.0}k", v / 1000.0)
    } else {
        format!("{v:.0}")
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;")
}

/// Prints CSV (`month,actor,km2`) and writes the SVG chart when asked.
pub fn run(
    index: &ZoneIndex,
    kind: ZoneKind,
    from: Option<Date>,
    to: Option<Date>,
    svg_out: Option<&Path>,
) -> Result<()> {
    let data = index.dataset();
    // The story the events tell, to the last day any zone names: zones dated back to 1974
    // (the Golan agreements) would otherwise stretch the chart over decades of nothing.
    let (_, hi) = data.date_span().context("the data set names no dates")?;
    let lo = data.events.iter().map(|e| e.date).min().unwrap_or(hi);
    let (from, to) = (from.unwrap_or(lo), to.unwrap_or(hi));
    if from > to {
        bail!("--from {from} is after --to {to}");
    }
    let days = months(from, to);
    let series = series(index, kind, &days);
    if let Some(path) = svg_out {
        let colours = data
            .actors
            .iter()
            .map(|a| (a.id.to_string(), a.colour.clone()))
            .collect();
        let title = format!(
            "Area of {} zones in the data set, by actor, {} to {}",
            kind.as_str(),
            days.first().map_or(from, |d| *d).format("%Y-%m"),
            to.format("%Y-%m")
        );
        std::fs::write(path, svg(&title, &days, &series, &colours))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "month,actor,km2")?;
    for (actor, values) in &series {
        for (d, v) in days.iter().zip(values) {
            writeln!(out, "{},{actor},{v:.0}", d.format("%Y-%m"))?;
        }
    }
    Ok(())
}
