//! A point's timeline: the periods over which the set of zones covering it stays the same.

use geodata::{Dataset, Period};

use crate::Covering;

/// A stretch of days over which the same zones cover a point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineSpan {
    /// The days, both ends included; an open end reaches the unbounded past or future.
    pub period: Period,
    /// Indexes into `dataset.zones` of the zones covering the point on every day of the
    /// period, ascending (may be empty).
    pub zones: Vec<usize>,
}

/// Cuts time at every first day and every day after a last day of the covering zones, then
/// joins neighbouring spans that hold the same zones.
pub(crate) fn spans(data: &Dataset, covering: &[Covering]) -> Vec<TimelineSpan> {
    let periods: Vec<(usize, Period)> = covering
        .iter()
        .map(|c| (c.zone, data.zones[c.zone].period))
        .collect();
    let mut cuts: Vec<geodata::Date> = periods
        .iter()
        .flat_map(|(_, p)| [p.from(), p.to().and_then(|t| t.succ_opt())])
        .flatten()
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    // Span i runs from cut i-1 (open before the first) to the day before cut i (open after
    // the last).
    let mut bounds: Vec<(Option<geodata::Date>, Option<geodata::Date>)> = Vec::new();
    let mut start = None;
    for &cut in &cuts {
        if let Some(end) = cut.pred_opt() {
            bounds.push((start, Some(end)));
        }
        start = Some(cut);
    }
    bounds.push((start, None));
    let mut out: Vec<TimelineSpan> = Vec::new();
    for (from, to) in bounds {
        let Some(period) = Period::new(from, to) else {
            continue;
        };
        // No zone starts or ends strictly inside a span, so overlapping it means holding it.
        let zones: Vec<usize> = periods
            .iter()
            .filter(|(_, p)| p.overlaps(&period))
            .map(|&(z, _)| z)
            .collect();
        match out.last_mut() {
            Some(last) if last.zones == zones => {
                if let Some(joined) = Period::new(last.period.from(), period.to()) {
                    last.period = joined;
                }
            }
            _ => out.push(TimelineSpan { period, zones }),
        }
    }
    out
}
