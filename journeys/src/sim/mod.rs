//! Simulated devices for `--simulate`, the headless runner and the system tests: kiosk-sim's
//! ID-card reader on a PTY, two ESC/POS emulators (ticket dispenser and receipt printer) on
//! local TCP ports writing each cut ticket as a PNG under `<data_dir>/printed/`, and SANE's
//! `test` backend as the scanner. The kiosk drives them through the real drivers.

//!
//! They are the `simulators` feature (on by default): the appliance's own build leaves them
//! out, and there [`SimDevices`] and [`SimControls`] are types without values, so the engine's
//! code for simulate mode compiles away and asking for it is refused
//! ([`SimStartError::NotBuilt`]).

#[cfg(feature = "simulators")]
mod running;
#[cfg(feature = "simulators")]
pub use running::*;

#[cfg(not(feature = "simulators"))]
mod absent;
#[cfg(not(feature = "simulators"))]
pub use absent::*;
