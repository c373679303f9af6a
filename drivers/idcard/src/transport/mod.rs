//! Moving frames to and from a reader: serial ports and USB bulk endpoints.

mod serial;
mod usb;

use std::time::Duration;

pub use serial::{AUTO_BAUD_RATES, DEFAULT_BAUD, SerialTransport};
pub use usb::{EndpointInfo, EndpointLayout, ProbeError, TransferKind, UsbTransport, probe_layout};

/// Why bytes could not be moved.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The port could not be opened.
    #[error("cannot open {port}: {reason}")]
    Open {
        /// Where.
        port: String,
        /// What the system said.
        reason: String,
    },
    /// Nothing (or not a whole frame) came back in time.
    #[error("no complete reply within {timeout:?} ({got} bytes arrived)")]
    Timeout {
        /// How long we waited.
        timeout: Duration,
        /// The bytes that did arrive.
        got: usize,
        /// The bytes themselves, for the error message (header only is ever shown).
        received: Vec<u8>,
    },
    /// The device went away or the OS reported an I/O error.
    #[error("I/O error: {0}")]
    Io(String),
}

/// A link to a reader that moves whole frames.
pub trait Transport: Send {
    /// Where the reader is, for messages: `/dev/kiosk/idcard`, `usb 0400:c35a`.
    fn location(&self) -> String;

    /// Sends one request frame, dropping any stale input first.
    fn send(&mut self, frame: &[u8]) -> Result<(), TransportError>;

    /// Receives one reply frame, whole, by the length rule of [`crate::frame::boundary`].
    /// The checksum is not checked here: that is the codec's job.
    fn receive(&mut self, timeout: Duration) -> Result<Vec<u8>, TransportError>;
}

impl Transport for Box<dyn Transport> {
    fn location(&self) -> String {
        (**self).location()
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), TransportError> {
        (**self).send(frame)
    }

    fn receive(&mut self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        (**self).receive(timeout)
    }
}
