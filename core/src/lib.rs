//! Slint-free core of the kiosk appliance: the durable store and the store-and-forward sync.
//! Kept apart from `kiosk-app` so that `kioskctl`, the system tests and the benchmarks can use
//! it without building the UI.

pub mod store;
pub mod sync;
