//! Slint-free core of the kiosk appliance: configuration, identity, the durable store and the
//! store-and-forward sync.
//! Kept apart from `kiosk-app` so that `kioskctl`, the system tests and the benchmarks can use
//! it without building the UI.

pub mod config;
pub mod identity;
pub mod release;
pub mod state;
pub mod store;
pub mod sync;
pub mod trust;
