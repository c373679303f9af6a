//! GA 467 SAM ID-card reader driver: the pure frame codec, field decoding for the four card
//! kinds, serial and USB transports, the blocking read flow and the tokio reader task.
//!
//! The app uses [`task::spawn`] with a [`ReaderConfig`] and reads [`ReaderEvent`]s; the
//! technician tool uses [`Reader`] directly. See README.md.

pub mod card;
pub mod frame;
pub mod photo;
pub mod reader;
pub mod status;
pub mod task;
pub mod transport;

pub use card::{CardError, CardKind, IdCard, Nation, Sex, Validity};
pub use frame::{Command, FrameError, Reply};
pub use photo::{Photo, PhotoDecoder, PlaceholderDecoder};
pub use reader::{ReadOptions, Reader, ReaderError};
pub use status::Status;
pub use task::{
    FaultKind, MAX_REOPEN_FACTOR, MIN_POLL_INTERVAL, PortConfig, ReaderConfig, ReaderEvent,
    ReaderFault, ReaderHandle, spawn,
};
pub use transport::{SerialTransport, Transport, TransportError, UsbTransport};

#[cfg(test)]
mod tests;
