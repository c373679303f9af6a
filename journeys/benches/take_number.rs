#![allow(clippy::unwrap_used)]
//! Placeholder replaced by the take-number benchmark.
fn main() {}
