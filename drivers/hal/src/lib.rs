//! Shared device vocabulary for the hall kiosk's drivers: what a device's health looks like,
//! how personal data is masked before it can reach a log, the serial ports the drivers open,
//! and the pseudo-terminal helper that the simulators and driver tests use to stand in for one.

pub mod backoff;
pub mod health;
pub mod mask;
pub mod pty;
pub mod serial;
pub mod usb_pick;

pub use backoff::Backoff;
pub use health::{DeviceHealth, DeviceKind, HealthState};
pub use mask::{mask_id_number, mask_name};
pub use pty::{LinkedPty, PtyError};
pub use serial::{SerialError, SerialPort};
pub use usb_pick::{UsbCandidate, UsbPickError, pick_usb_device};
