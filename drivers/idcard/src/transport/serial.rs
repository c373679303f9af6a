//! Serial transport (RS-232 or USB-serial), 8N1, blocking: run it on a blocking thread.

use std::io::Write;
use std::time::{Duration, Instant};

use kiosk_hal::serial::SerialPort;

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
    port: SerialPort,
    pending: Vec<u8>,
}

impl SerialTransport {
    /// Opens the port at a fixed speed.
    pub fn open(path: &str, baud: u32) -> Result<Self, TransportError> {
        // The step that failed ("opening", "taking exclusive access") and the OS's reason;
        // the port is named by `port` already.
        let port = SerialPort::open(path, baud).map_err(|e| TransportError::Open {
            port: path.to_string(),
            reason: format!("{}: {}", e.what, e.source),
        })?;
        Ok(Self {
            path: path.to_string(),
            port,
            // Room for the largest frame and a chunk more: growing would leave copies of card
            // data behind in freed allocations that nothing wipes.
            pending: Vec::with_capacity(PENDING_CAPACITY),
        })
    }

    /// The speed the port is set to.
    pub fn baud(&self) -> u32 {
        self.port.baud()
    }

    /// Changes the speed.
    pub fn set_baud(&mut self, baud: u32) -> Result<(), TransportError> {
        self.port
            .set_baud(baud)
            .map_err(|e| TransportError::Io(e.to_string()))
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
            .discard_input()
            .map_err(|e| TransportError::Io(e.to_string()))?;
        (&self.port)
            .write_all(frame)
            .map_err(|e| TransportError::Io(format!("{}: writing: {e}", self.path)))?;
        // The request is on the wire before the reply's timeout starts counting.
        self.port
            .drain()
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
            // Short waits, so the deadline is checked often; a timeout here is not an error.
            let wait = deadline
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(20));
            match self.port.read_timeout(chunk.as_mut_slice(), wait) {
                Ok(Some(0)) => {
                    return Err(TransportError::Io(format!("{}: port closed", self.path)));
                }
                Ok(Some(n)) => self.pending.extend_from_slice(&chunk[..n]),
                Ok(None) => {}
                Err(e) => return Err(TransportError::Io(e.to_string())),
            }
        }
    }
}
