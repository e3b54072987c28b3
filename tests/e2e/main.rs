//! End-to-end tests: the real `zonetrack` binary, run as a user runs it, against real clients.
//!
//! One test binary (see Cargo.toml); each module is one area.

mod cli;
mod edit;
mod filter;
mod gdal;
mod pg;
mod reload;
