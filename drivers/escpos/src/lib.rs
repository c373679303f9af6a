//! ESC/POS thermal printer driver: the commands that build a ticket or receipt, the status
//! answers decoded into typed states, and the transports (serial, `/dev/usb/lp*`, USB bulk,
//! TCP 9100) with a timeout on every status question.

mod commands;
mod device;
pub mod status;
pub mod stream;
pub mod transport;
pub mod usb;

pub use commands::{Align, Bitmap, CommandError, Job, QrLevel, QrStyle, raster};
pub use device::{DEFAULT_STATUS_TIMEOUT, Printer, PrinterError, health};
pub use status::{PaperLevel, PrinterStatus, Problem, StatusError, StatusQuery};
pub use transport::{Endpoint, Link, OpenError};

#[cfg(test)]
mod tests;
