//! PLACEHOLDER (owned by the central work): the reference central platform.
fn main() {}
