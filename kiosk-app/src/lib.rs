//! The hall kiosk appliance: the Slint touchscreen app that serves citizens, drives the
//! devices and keeps what they submit until the central platform has it.
//!
//! The binary (`main.rs`) wires these together; everything here can be tested on its own.

/// The configuration file; it lives in `kiosk-core` so that `kioskctl` and the update agent share it.
pub use kiosk_core::config;
pub mod bundles;
pub mod display;
pub mod logging;
pub mod state_file;
pub mod status;
pub mod systemd;
pub mod ui_bridge;

/// The running software's version, as reported to central and shown to technicians.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
