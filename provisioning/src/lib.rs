//! `kioskctl` as a library: what the technician's commands do, for the kiosk app's
//! technician screen and for tests. The command-line front end is `main.rs`.
//!
//! - [`provision`]: enrol with central and write the configuration.
//! - [`devices`]: serial ports and USB devices, matched to [`known`] kinds, with udev links.
//! - [`selftest`]: every device, disk, identity, central, clock, outbox; [`selftest::run`].
//! - [`technician`]: the technician PIN (argon2id in `[technician] pin_hash`).
//! - [`config_file`]: comment-preserving, validated, atomic edits of the configuration.

pub mod config_file;
pub mod devices;
pub mod known;
pub mod provision;
pub mod selftest;
pub mod technician;

pub use selftest::{Check, DeviceProbe, Options as SelftestOptions, Outcome, Report};
