//! Serial transport (RS-232 or USB-serial), 8N1, blocking: run it on a blocking thread.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use serialport::{ClearBuffer, DataBits, FlowControl, Parity, SerialPort, StopBits};

use super::{Transport, TransportError};
use crate::frame::{self, Boundary};

/// The largest frame and one read chunk.
const PENDING_CAPACITY: usize = frame::HEADER_LEN + frame::MAX_LEN + 2048;

/// The speed GA 467 readers ship with.
pub const DEFAULT_BAUD: u32 = 115_200;
/// The speeds auto-detection tries, fastest (and most common) first.
pub const AUTO_BAUD_RATES: [u32; 5] = [115_200, 57_600, 38_400, 19_200, 9_600];

/// A reader on a serial port.
pub struct SerialTransport {
    path: String,
    port: Box<dyn SerialPort>,
    baud: u32,
    pending: Vec<u8>,
}

impl SerialTransport {
    /// Opens the port at a fixed speed.
    pub fn open(path: &str, baud: u32) -> Result<Self, TransportError> {
        let port = serialport::new(path, baud)
            .data_bits(DataBits::Eight)
            .parity(Parity::None)
            .stop_bits(StopBits::One)
            .flow_control(FlowControl::None)
            .timeout(Duration::from_millis(20))
            .open()
            .map_err(|e| TransportError::Open {
                port: path.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            path: path.to_string(),
            port,
            baud,
            // Room for the largest frame and a chunk more: growing would leave copies of card
            // data behind in freed allocations that nothing wipes.
            pending: Vec::with_capacity(PENDING_CAPACITY),
        })
    }

    /// The speed the port is set to.
    pub fn baud(&self) -> u32 {
        self.baud
    }

    /// Changes the speed.
    pub fn set_baud(&mut self, baud: u32) -> Result<(), TransportError> {
        self.port
            .set_baud_rate(baud)
            .map_err(|e| TransportError::Io(e.to_string()))?;
        self.baud = baud;
        Ok(())
    }
}

impl Transport for SerialTransport {
    fn location(&self) -> String {
        self.path.clone()
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), TransportError> {
        // A late answer to an earlier, timed-out request must not be taken for this one's.
        self.pending.clear();
        self.port
            .clear(ClearBuffer::Input)
            .map_err(|e| TransportError::Io(e.to_string()))?;
        self.port
            .write_all(frame)
            .and_then(|()| self.port.flush())
            .map_err(|e| TransportError::Io(e.to_string()))
    }

    fn receive(&mut self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        let deadline = Instant::now() + timeout;
        // Card data passes through here: the read buffer is wiped when this returns, and a
        // complete frame leaves in the very allocation it was read into (no stale copy
        // stays behind in `pending`'s spare capacity).
        let mut chunk = zeroize::Zeroizing::new([0u8; 2048]);
        loop {
            match frame::boundary(&self.pending) {
                Boundary::Complete(n) => {
                    let mut rest = self.pending.split_off(n);
                    // Usually empty (no allocation yet), so this is the one allocation the
                    // next frame is read into.
                    rest.reserve(PENDING_CAPACITY);
                    return Ok(std::mem::replace(&mut self.pending, rest));
                }
                Boundary::Garbage(n) => {
                    self.pending.drain(..n);
                    continue;
                }
                Boundary::Incomplete(_) => {}
            }
            if Instant::now() >= deadline {
                return Err(TransportError::Timeout {
                    timeout,
                    got: self.pending.len(),
                    received: std::mem::take(&mut self.pending),
                });
            }
            match self.port.read(chunk.as_mut_slice()) {
                Ok(0) => return Err(TransportError::Io("port closed".into())),
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::Interrupted => {
                }
                Err(e) => return Err(TransportError::Io(e.to_string())),
            }
        }
    }
}
