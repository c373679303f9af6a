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

/// The version this build was compiled as.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The running software's version, as reported to central, to the update agent's health gate
/// and to technicians: the release folder the app runs from (`kiosk_core::release`), or the
/// build's version outside the agent's layout.
pub fn version() -> &'static str {
    static RUNNING: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    RUNNING.get_or_init(|| kiosk_core::release::running_version(VERSION))
}
