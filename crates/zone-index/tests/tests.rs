//! zone-index's integration tests, in one binary (see STYLE.md §1).

/// Seeded random data sets and the brute-force reference answers.
mod support;

/// The index against a scan of every zone, on seeded random polygons and points.
mod brute_force;

/// Named points of the embedded Syria 2017-2018 data set with known answers.
mod syria;

/// The small fixture data set geodata's tests use.
mod fixture;
