//! GA 467 SAM frames: pure encoding and decoding, no port, clock or async.
//!
//! ```text
//! request:  AA AA AA 96 69 | LEN(2, BE) | CMD PARA [DATA]     | XOR
//! reply:    AA AA AA 96 69 | LEN(2, BE) | SW1 SW2 SW3 [DATA]  | XOR
//! ```
//! LEN counts everything after itself, checksum included; the XOR runs over LEN..DATA.

use crate::status::Status;

/// The five bytes every frame starts with.
pub const PREAMBLE: [u8; 5] = [0xAA, 0xAA, 0xAA, 0x96, 0x69];
/// Preamble plus the two length bytes.
pub const HEADER_LEN: usize = PREAMBLE.len() + 2;
/// The largest LEN a reader sends (30 10: base info with fingerprint is 0x090A); anything
/// far above it is line noise, and refusing it keeps a garbled length from stalling a read.
pub const MAX_LEN: usize = 0x1000;

/// The commands of the SAM protocol this driver uses, named as the spec names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// `10 FF`: reset the SAM.
    ResetSam,
    /// `11 FF`: SAM status (self-test); also the probe of baud auto-detection.
    SamStatus,
    /// `12 FF`: read the SAM's serial number.
    ReadSamId,
    /// `20 01`: find (activate) a card in the field.
    FindCard,
    /// `20 02`: select the found card.
    SelectCard,
    /// `30 01`: read text and photo.
    ReadBaseInfo,
    /// `30 10`: read text, photo and fingerprint.
    ReadBaseInfoWithFingerprint,
    /// `30 03`: read the additional (new) address.
    ReadNewAddress,
}

impl Command {
    /// The CMD and PARA bytes.
    pub fn code(self) -> [u8; 2] {
        match self {
            Self::ResetSam => [0x10, 0xFF],
            Self::SamStatus => [0x11, 0xFF],
            Self::ReadSamId => [0x12, 0xFF],
            Self::FindCard => [0x20, 0x01],
            Self::SelectCard => [0x20, 0x02],
            Self::ReadBaseInfo => [0x30, 0x01],
            Self::ReadBaseInfoWithFingerprint => [0x30, 0x10],
            Self::ReadNewAddress => [0x30, 0x03],
        }
    }

    /// The command with these CMD and PARA bytes, if this driver knows it.
    pub fn from_code(code: [u8; 2]) -> Option<Self> {
        [
            Self::ResetSam,
            Self::SamStatus,
            Self::ReadSamId,
            Self::FindCard,
            Self::SelectCard,
            Self::ReadBaseInfo,
            Self::ReadBaseInfoWithFingerprint,
            Self::ReadNewAddress,
        ]
        .into_iter()
        .find(|c| c.code() == code)
    }

    /// A name for technician messages, e.g. `find card (20 01)`.
    pub fn label(self) -> String {
        let name = match self {
            Self::ResetSam => "reset SAM",
            Self::SamStatus => "SAM status",
            Self::ReadSamId => "read SAM id",
            Self::FindCard => "find card",
            Self::SelectCard => "select card",
            Self::ReadBaseInfo => "read base info",
            Self::ReadBaseInfoWithFingerprint => "read base info with fingerprint",
            Self::ReadNewAddress => "read new address",
        };
        let [cmd, para] = self.code();
        format!("{name} ({cmd:02X} {para:02X})")
    }
}

/// Why bytes are not a valid frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The bytes do not start with `AA AA AA 96 69`.
    #[error("no frame preamble (expected AA AA AA 96 69)")]
    BadPreamble,
    /// LEN is too small to hold a status and checksum, or implausibly large.
    #[error("implausible length field {0:#06X}")]
    BadLength(usize),
    /// Fewer bytes than LEN announces.
    #[error("frame truncated: LEN announces {expected} bytes after it, {got} arrived")]
    Truncated {
        /// Bytes LEN announces after the length field.
        expected: usize,
        /// Bytes that arrived after the length field.
        got: usize,
    },
    /// The XOR over LEN..DATA does not match the last byte.
    #[error("checksum mismatch: computed {computed:#04X}, frame carries {carried:#04X}")]
    BadChecksum {
        /// What we computed.
        computed: u8,
        /// What the frame says.
        carried: u8,
    },
    /// Bytes follow the frame's checksum.
    #[error("{0} unexpected bytes after the frame")]
    TrailingBytes(usize),
}

/// A decoded reply: the three status words and the data after them (card data: wiped from
/// memory when dropped).
#[derive(Debug, Clone, PartialEq, Eq, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct Reply {
    /// SW1, SW2 (0x00 0x00 on every reader seen) and SW3 (the outcome).
    pub sw: [u8; 3],
    /// Everything between SW3 and the checksum.
    pub data: Vec<u8>,
}

impl Reply {
    /// SW3, typed.
    pub fn status(&self) -> Status {
        Status::from_sw3(self.sw[2])
    }
}

/// XOR of all bytes: the frame checksum.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |acc, b| acc ^ b)
}

/// Wraps a body (CMD PARA DATA, or SW1 SW2 SW3 DATA) in preamble, length and checksum.
pub fn wrap(body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(body.len() + 1).expect("a frame body fits the 16-bit LEN field");
    let mut out = Vec::with_capacity(HEADER_LEN + body.len() + 1);
    out.extend_from_slice(&PREAMBLE);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    out.push(checksum(&out[PREAMBLE.len()..]));
    out
}

/// Encodes a request frame.
pub fn encode(command: Command) -> Vec<u8> {
    wrap(&command.code())
}

/// Encodes a reply frame (what a reader, or the simulator, sends).
pub fn encode_reply(sw3: u8, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(3 + data.len());
    body.extend_from_slice(&[0x00, 0x00, sw3]);
    body.extend_from_slice(data);
    wrap(&body)
}

/// Where the next frame in a receive buffer ends, without validating its checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    /// More bytes are needed; at least this many in total.
    Incomplete(usize),
    /// A frame occupies `buf[..n]`.
    Complete(usize),
    /// `buf[..n]` cannot start a frame and should be dropped (noise before a preamble, or a
    /// preamble followed by an impossible length).
    Garbage(usize),
}

/// Finds the boundary of the frame at the start of `buf`: the transport's framing rule.
pub fn boundary(buf: &[u8]) -> Boundary {
    let head = buf.len().min(PREAMBLE.len());
    if buf[..head] != PREAMBLE[..head] {
        // Drop up to the next byte that could start a preamble.
        let skip = buf
            .iter()
            .skip(1)
            .position(|&b| b == PREAMBLE[0])
            .map_or(buf.len(), |p| p + 1);
        return Boundary::Garbage(skip);
    }
    if buf.len() < HEADER_LEN {
        return Boundary::Incomplete(HEADER_LEN);
    }
    let len = usize::from(u16::from_be_bytes([buf[5], buf[6]]));
    if !(2..=MAX_LEN).contains(&len) {
        return Boundary::Garbage(1);
    }
    let total = HEADER_LEN + len;
    if buf.len() < total {
        Boundary::Incomplete(total)
    } else {
        Boundary::Complete(total)
    }
}

/// Checks preamble, length and checksum and returns the body between LEN and the checksum.
fn body(frame: &[u8]) -> Result<&[u8], FrameError> {
    let head = frame.len().min(PREAMBLE.len());
    if frame[..head] != PREAMBLE[..head] {
        return Err(FrameError::BadPreamble);
    }
    if frame.len() < HEADER_LEN {
        return Err(FrameError::Truncated {
            expected: 2,
            got: frame.len().saturating_sub(PREAMBLE.len()),
        });
    }
    let len = usize::from(u16::from_be_bytes([frame[5], frame[6]]));
    if !(2..=MAX_LEN).contains(&len) {
        return Err(FrameError::BadLength(len));
    }
    let got = frame.len() - HEADER_LEN;
    if got < len {
        return Err(FrameError::Truncated { expected: len, got });
    }
    if got > len {
        return Err(FrameError::TrailingBytes(got - len));
    }
    let end = frame.len() - 1;
    let computed = checksum(&frame[PREAMBLE.len()..end]);
    let carried = frame[end];
    if computed != carried {
        return Err(FrameError::BadChecksum { computed, carried });
    }
    Ok(&frame[HEADER_LEN..end])
}

/// Decodes one complete reply frame.
pub fn decode(frame: &[u8]) -> Result<Reply, FrameError> {
    let body = body(frame)?;
    match body {
        [sw1, sw2, sw3, data @ ..] => Ok(Reply {
            sw: [*sw1, *sw2, *sw3],
            data: data.to_vec(),
        }),
        _ => Err(FrameError::BadLength(body.len() + 1)),
    }
}

/// Decodes one complete request frame into its CMD, PARA and data (the simulator's side).
pub fn decode_request(frame: &[u8]) -> Result<([u8; 2], Vec<u8>), FrameError> {
    match body(frame)? {
        [cmd, para, data @ ..] => Ok(([*cmd, *para], data.to_vec())),
        short => Err(FrameError::BadLength(short.len() + 1)),
    }
}
