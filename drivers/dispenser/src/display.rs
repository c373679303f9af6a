//! The optional queue-number display, behind a trait; one implementation writes holding
//! registers of an LED controller over Modbus RTU on RS-485.
//!
//! Register map (from `base`): register 0 is the window number, registers 1..=4 the number
//! text as eight ASCII characters, two per register, high byte first, space padded. That is
//! the map of the common RS-485 LED queue displays; another controller only needs another
//! `base` or its own implementation of [`NumberDisplay`].

use std::time::Duration;

use kiosk_escpos::Link;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A number called to a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The queue number, e.g. `A042`.
    pub number: String,
    /// The window, e.g. 7.
    pub window: u16,
}

/// Why the display did not show a call.
#[derive(Debug, thiserror::Error)]
pub enum DisplayError {
    /// No answer in time.
    #[error("number display (Modbus unit {unit}) on {location}: no answer within {} ms; check the RS-485 wiring (A/B), the unit address and the baud rate", timeout.as_millis())]
    NoAnswer {
        /// Where.
        location: String,
        /// Modbus unit address.
        unit: u8,
        /// How long we waited.
        timeout: Duration,
    },
    /// The controller refused the write.
    #[error(
        "number display (Modbus unit {unit}) on {location}: exception code {code:#04x}; check the register map"
    )]
    Exception {
        /// Where.
        location: String,
        /// Modbus unit address.
        unit: u8,
        /// Modbus exception code.
        code: u8,
    },
    /// An answer that is not the echo of our write.
    #[error("number display on {location}: unexpected answer {bytes:02X?}")]
    BadAnswer {
        /// Where.
        location: String,
        /// What came.
        bytes: Vec<u8>,
    },
    /// The link failed.
    #[error("number display on {location}: {source}")]
    Io {
        /// Where.
        location: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Something that shows the called number.
pub trait NumberDisplay {
    /// Shows `call`.
    fn show(&mut self, call: &Call) -> impl Future<Output = Result<(), DisplayError>> + Send;
}

/// Modbus RTU CRC-16 (polynomial 0xA001 reflected, initial 0xFFFF), sent low byte first.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc = 0xFFFFu16;
    for &b in bytes {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// The Modbus RTU frame "write multiple registers" (function 0x10).
pub fn write_registers_frame(unit: u8, address: u16, values: &[u16]) -> Vec<u8> {
    let count = values.len().min(123) as u16;
    let mut frame = vec![unit, 0x10];
    frame.extend_from_slice(&address.to_be_bytes());
    frame.extend_from_slice(&count.to_be_bytes());
    frame.push((count * 2) as u8);
    for value in values.iter().take(usize::from(count)) {
        frame.extend_from_slice(&value.to_be_bytes());
    }
    let crc = crc16(&frame);
    frame.extend_from_slice(&crc.to_le_bytes());
    frame
}

/// The registers that show `call`.
pub fn call_registers(call: &Call) -> [u16; 5] {
    let mut text = [b' '; 8];
    for (slot, byte) in text
        .iter_mut()
        .zip(call.number.bytes().filter(u8::is_ascii))
    {
        *slot = byte;
    }
    let mut regs = [call.window, 0, 0, 0, 0];
    for (i, pair) in text.chunks(2).enumerate() {
        regs[i + 1] = u16::from_be_bytes([pair[0], pair[1]]);
    }
    regs
}

/// An LED number display on Modbus RTU.
pub struct ModbusDisplay {
    link: Box<dyn Link>,
    location: String,
    unit: u8,
    base: u16,
    timeout: Duration,
}

impl ModbusDisplay {
    /// A display at Modbus `unit`, registers from `base`, on an open link (RS-485 adapter).
    pub fn new(link: Box<dyn Link>, location: impl Into<String>, unit: u8, base: u16) -> Self {
        Self {
            link,
            location: location.into(),
            unit,
            base,
            timeout: Duration::from_millis(500),
        }
    }

    async fn transact(&mut self, frame: &[u8]) -> Result<(), DisplayError> {
        let io = |location: &str| {
            let location = location.to_owned();
            move |source| DisplayError::Io { location, source }
        };
        self.link
            .write_all(frame)
            .await
            .map_err(io(&self.location))?;
        self.link.flush().await.map_err(io(&self.location))?;
        // The echo of a write is 8 bytes; an exception is 5.
        let mut answer = Vec::with_capacity(8);
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut buf = [0u8; 16];
        while answer.len() < 8 {
            if answer.len() >= 5 && answer[1] & 0x80 != 0 {
                break;
            }
            match tokio::time::timeout_at(deadline, self.link.read(&mut buf)).await {
                Err(_) | Ok(Ok(0)) => {
                    return Err(DisplayError::NoAnswer {
                        location: self.location.clone(),
                        unit: self.unit,
                        timeout: self.timeout,
                    });
                }
                Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
                Ok(Err(source)) => return Err(io(&self.location)(source)),
            }
        }
        let bad = |bytes: &[u8]| DisplayError::BadAnswer {
            location: self.location.clone(),
            bytes: bytes.to_vec(),
        };
        let len = if answer[1] & 0x80 != 0 { 5 } else { 8 };
        let answer = &answer[..len];
        let (body, crc) = answer.split_at(len - 2);
        if crc16(body).to_le_bytes() != crc || body[0] != self.unit {
            return Err(bad(answer));
        }
        if body[1] == 0x90 {
            return Err(DisplayError::Exception {
                location: self.location.clone(),
                unit: self.unit,
                code: body[2],
            });
        }
        if body[..6] != frame[..6] {
            return Err(bad(answer));
        }
        Ok(())
    }
}

impl NumberDisplay for ModbusDisplay {
    async fn show(&mut self, call: &Call) -> Result<(), DisplayError> {
        let frame = write_registers_frame(self.unit, self.base, &call_registers(call));
        self.transact(&frame).await
    }
}
