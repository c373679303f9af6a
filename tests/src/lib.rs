//! Whole-system tests: central, kiosk and simulators as separate processes.
//!
//! - [`binaries`]: finds (building if needed) the binaries a test runs as processes.
//! - [`clock`]: a process's clock moved to the next day (libfaketime).
//! - [`central`]: a `central serve` process that can be killed and restarted on its port.
//! - [`proxy`]: a TCP fault proxy (drops, resets, stalls, 500s, truncated answers).
//! - [`relay`]: a relay that can be switched off and on (a kiosk's network down).
//! - [`ledger`]: what central stored, read from its database, checked against what was sent.
//! - [`db`]: central's tables read on either backend (SQLite, PostgreSQL).
//! - [`sysfs`]: a kiosk's sysfs and `/dev` in a folder, for what reads them.
//! - [`vm`]: a kiosk appliance in a QEMU virtual machine (serial console, QMP).
//! - [`kiosk`]: kiosks as processes (`kioskctl provision`, `kiosk-app --headless`) and what
//!   their printer emulators printed.

pub mod binaries;
pub mod central;
pub mod clock;
pub mod db;
pub mod kiosk;
pub mod ledger;
pub mod proxy;
pub mod relay;
pub mod sysfs;
pub mod vm;
