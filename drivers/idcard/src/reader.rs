//! The read flow over any transport: SAM status → find → select → read base info, with
//! typed errors that name the port, the command, the bytes sent and what came back.

use std::fmt::Write as _;
use std::time::Duration;

use crate::card::{CardError, IdCard, TEXT_LEN, decode_text};
use crate::frame::{self, Command, FrameError, HEADER_LEN, Reply};
use crate::photo::Photo;
use crate::status::Status;
use crate::transport::{AUTO_BAUD_RATES, SerialTransport, Transport, TransportError, UsbTransport};

/// How long a command may take by default. A base-info read is 1295 bytes, 113 ms on the
/// wire at 115200 baud and 1.35 s at 9600; readers take a few hundred ms more to talk to
/// the card.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long each speed is given to answer `11 FF` during baud auto-detection.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(250);
/// Bytes of a reply shown in messages: header and status words only, never card data.
const SHOWN_REPLY_BYTES: usize = HEADER_LEN + 3;

/// What to read besides text and photo.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Read the fingerprint block too (30 10 instead of 30 01).
    pub fingerprint: bool,
    /// Read the additional address (30 03).
    pub new_address: bool,
}

/// What went wrong talking to the reader. Each message names the port, the command, the
/// bytes sent and what came back, and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    /// Bytes could not be moved (unplugged, no answer).
    #[error("ID-card reader on {port}: {} (sent {}): {source}; {advice}", command.label(), hex(sent), advice = transport_advice(source))]
    Transport {
        /// Where the reader is.
        port: String,
        /// What we asked.
        command: Command,
        /// The request frame.
        sent: Vec<u8>,
        /// What failed.
        #[source]
        source: TransportError,
    },
    /// A reply came back but is not a valid frame.
    #[error("ID-card reader on {port}: {} (sent {}) got {}: {source}; check the cable and baud rate, then try again", command.label(), hex(sent), shown(received))]
    Frame {
        /// Where the reader is.
        port: String,
        /// What we asked.
        command: Command,
        /// The request frame.
        sent: Vec<u8>,
        /// What came back.
        received: Vec<u8>,
        /// What is wrong with it.
        #[source]
        source: FrameError,
    },
    /// The reader answered with a status other than the one the step needs.
    #[error("ID-card reader on {port}: {} (sent {}) answered {status}: {}", command.label(), hex(sent), status.advice())]
    Status {
        /// Where the reader is.
        port: String,
        /// What we asked.
        command: Command,
        /// The request frame.
        sent: Vec<u8>,
        /// What it answered.
        status: Status,
    },
    /// A valid frame whose data does not have the layout the command calls for.
    #[error("ID-card reader on {port}: {} (sent {}) returned malformed data: {problem}; try again, and replace the reader if it persists", command.label(), hex(sent))]
    Payload {
        /// Where the reader is.
        port: String,
        /// What we asked.
        command: Command,
        /// The request frame.
        sent: Vec<u8>,
        /// What is wrong.
        problem: String,
    },
    /// The card was read but its contents are invalid.
    #[error("ID-card reader on {port}: the card's data is invalid: {source}")]
    Card {
        /// Where the reader is.
        port: String,
        /// What is wrong.
        #[source]
        source: CardError,
    },
    /// Baud auto-detection found no speed at which the reader answers.
    #[error(
        "ID-card reader on {port}: no answer to SAM status (11 FF) at {tried:?} baud; check that the reader is powered and connected, and its speed"
    )]
    NoBaud {
        /// Where the reader should be.
        port: String,
        /// The speeds tried.
        tried: Vec<u32>,
    },
}

impl ReaderError {
    /// Whether the link itself is gone (unplugged, port closed, cannot open): the reader
    /// task reopens the port after this.
    pub fn is_link_lost(&self) -> bool {
        matches!(
            self,
            Self::Transport {
                source: TransportError::Io(_) | TransportError::Open { .. },
                ..
            } | Self::NoBaud { .. }
        )
    }
}

fn transport_advice(e: &TransportError) -> &'static str {
    match e {
        TransportError::Timeout { .. } => {
            "check that the reader is powered, connected and set to this baud rate"
        }
        TransportError::Open { .. } | TransportError::Io(_) => {
            "check the cable and that the device path exists"
        }
    }
}

/// Bytes as spaced hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{b:02X}");
    }
    out
}

/// A reply for a message: header and status words only, since the rest can be card data.
fn shown(received: &[u8]) -> String {
    if received.is_empty() {
        return "nothing".into();
    }
    if received.len() <= SHOWN_REPLY_BYTES {
        return hex(received);
    }
    format!(
        "{} … ({} bytes in all)",
        hex(&received[..SHOWN_REPLY_BYTES]),
        received.len()
    )
}

/// A GA 467 SAM reader on some transport.
pub struct Reader<T: Transport> {
    transport: T,
    timeout: Duration,
}

impl<T: Transport> Reader<T> {
    /// Wraps a transport, with the default per-command timeout.
    pub fn new(transport: T) -> Self {
        Self {
            transport,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets the per-command timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The transport, e.g. to learn the detected baud rate.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Gives the transport back.
    pub fn into_transport(self) -> T {
        self.transport
    }

    /// Sends one command and returns its decoded reply, whatever its status.
    pub fn exchange(&mut self, command: Command) -> Result<Reply, ReaderError> {
        self.exchange_within(command, self.timeout)
    }

    fn exchange_within(
        &mut self,
        command: Command,
        timeout: Duration,
    ) -> Result<Reply, ReaderError> {
        let sent = frame::encode(command);
        let port = self.transport.location();
        let transport_err = |source| ReaderError::Transport {
            port: port.clone(),
            command,
            sent: sent.clone(),
            source,
        };
        self.transport.send(&sent).map_err(transport_err)?;
        let mut received = match self.transport.receive(timeout) {
            Ok(bytes) => bytes,
            // A partial frame is a truncated reply, not silence: say so.
            Err(TransportError::Timeout { received, .. })
                if received.len() >= frame::PREAMBLE.len() =>
            {
                let source = frame::decode(&received)
                    .err()
                    .unwrap_or(FrameError::BadLength(received.len()));
                return Err(ReaderError::Frame {
                    port,
                    command,
                    sent,
                    received,
                    source,
                });
            }
            Err(e) => return Err(transport_err(e)),
        };
        match frame::decode(&received) {
            Ok(reply) => {
                // The raw frame holds the same card data as the reply: wipe this copy now.
                zeroize::Zeroize::zeroize(&mut received);
                Ok(reply)
            }
            Err(source) => Err(ReaderError::Frame {
                port: port.clone(),
                command,
                sent: sent.clone(),
                received,
                source,
            }),
        }
    }

    fn status_error(&self, command: Command, status: Status) -> ReaderError {
        ReaderError::Status {
            port: self.transport.location(),
            command,
            sent: frame::encode(command),
            status,
        }
    }

    fn expect(&mut self, command: Command, wanted: Status) -> Result<Reply, ReaderError> {
        let reply = self.exchange(command)?;
        if reply.status() == wanted {
            Ok(reply)
        } else {
            Err(self.status_error(command, reply.status()))
        }
    }

    /// `11 FF`: checks that the SAM passed its self-test.
    pub fn sam_status(&mut self) -> Result<(), ReaderError> {
        self.expect(Command::SamStatus, Status::Success).map(drop)
    }

    /// `20 01`: whether a card is in the field.
    pub fn find_card(&mut self) -> Result<bool, ReaderError> {
        let reply = self.exchange(Command::FindCard)?;
        match reply.status() {
            Status::CardFound => Ok(true),
            Status::NoCard => Ok(false),
            other => Err(self.status_error(Command::FindCard, other)),
        }
    }

    /// `20 02`: selects the card found.
    pub fn select_card(&mut self) -> Result<(), ReaderError> {
        self.expect(Command::SelectCard, Status::Success).map(drop)
    }

    /// `20 02` as a presence check: `true` if a card (already read) is still selectable.
    pub fn card_still_present(&mut self) -> Result<bool, ReaderError> {
        let reply = self.exchange(Command::SelectCard)?;
        match reply.status() {
            Status::Success => Ok(true),
            Status::SelectFailed | Status::NoCard => Ok(false),
            other => Err(self.status_error(Command::SelectCard, other)),
        }
    }

    /// `30 01` or `30 10`: reads text, photo (and fingerprint) and decodes the card.
    pub fn read_base_info(&mut self, fingerprint: bool) -> Result<IdCard, ReaderError> {
        let command = if fingerprint {
            Command::ReadBaseInfoWithFingerprint
        } else {
            Command::ReadBaseInfo
        };
        let reply = self.expect(command, Status::Success)?;
        decode_base_info(&reply.data, fingerprint).map_err(|problem| match problem {
            ReplyProblem::Layout(problem) => ReaderError::Payload {
                port: self.transport.location(),
                command,
                sent: frame::encode(command),
                problem,
            },
            ReplyProblem::Card(source) => ReaderError::Card {
                port: self.transport.location(),
                source,
            },
        })
    }

    /// `30 03`: the additional address, if the card has one.
    pub fn read_new_address(&mut self) -> Result<Option<String>, ReaderError> {
        let command = Command::ReadNewAddress;
        let reply = self.exchange(command)?;
        match reply.status() {
            Status::Success => {}
            Status::NoContent => return Ok(None),
            other => return Err(self.status_error(command, other)),
        }
        decode_new_address(&reply.data).map_err(|problem| ReaderError::Payload {
            port: self.transport.location(),
            command,
            sent: frame::encode(command),
            problem,
        })
    }

    /// The whole flow: SAM status, find, select, read. `Ok(None)` when no card is there.
    pub fn read_card(&mut self, options: ReadOptions) -> Result<Option<IdCard>, ReaderError> {
        self.sam_status()?;
        if !self.find_card()? {
            return Ok(None);
        }
        self.select_card()?;
        self.read_selected(options).map(Some)
    }

    /// Reads a card already found and selected.
    pub fn read_selected(&mut self, options: ReadOptions) -> Result<IdCard, ReaderError> {
        let mut card = self.read_base_info(options.fingerprint)?;
        if options.new_address {
            card.new_address = self.read_new_address()?;
        }
        Ok(card)
    }
}

impl Reader<UsbTransport> {
    /// Opens a USB bulk reader by its ids, claims it and checks that its SAM answers.
    /// libusb blocks: call it from a blocking thread.
    pub fn open_usb(
        vendor_id: u16,
        product_id: u16,
        serial: Option<&str>,
    ) -> Result<Self, ReaderError> {
        let transport = UsbTransport::open(vendor_id, product_id, serial).map_err(|source| {
            ReaderError::Transport {
                port: format!("usb {vendor_id:04x}:{product_id:04x}"),
                command: Command::SamStatus,
                sent: frame::encode(Command::SamStatus),
                source,
            }
        })?;
        let mut reader = Self::new(transport);
        reader.sam_status()?;
        Ok(reader)
    }
}

impl Reader<SerialTransport> {
    /// Opens a serial reader at a fixed speed and checks that its SAM answers.
    pub fn open_serial(path: &str, baud: u32) -> Result<Self, ReaderError> {
        let transport =
            SerialTransport::open(path, baud).map_err(|source| ReaderError::Transport {
                port: path.to_string(),
                command: Command::SamStatus,
                sent: frame::encode(Command::SamStatus),
                source,
            })?;
        let mut reader = Self::new(transport);
        reader.sam_status()?;
        Ok(reader)
    }

    /// Opens a serial reader, finding its speed among `rates` by sending SAM status at
    /// each until one brings a valid reply.
    pub fn open_serial_auto(path: &str, rates: &[u32]) -> Result<Self, ReaderError> {
        let first = rates.first().copied().unwrap_or(AUTO_BAUD_RATES[0]);
        let transport =
            SerialTransport::open(path, first).map_err(|source| ReaderError::Transport {
                port: path.to_string(),
                command: Command::SamStatus,
                sent: frame::encode(Command::SamStatus),
                source,
            })?;
        let mut reader = Self::new(transport);
        for &rate in rates {
            reader
                .transport
                .set_baud(rate)
                .map_err(|source| ReaderError::Transport {
                    port: path.to_string(),
                    command: Command::SamStatus,
                    sent: frame::encode(Command::SamStatus),
                    source,
                })?;
            match reader.exchange_within(Command::SamStatus, PROBE_TIMEOUT) {
                Ok(reply) if reply.status() == Status::Success => return Ok(reader),
                // A SAM that answers with a failure is at the right speed: report it.
                Ok(reply) => return Err(reader.status_error(Command::SamStatus, reply.status())),
                Err(e) if e.is_link_lost() => return Err(e),
                Err(_) => continue,
            }
        }
        Err(ReaderError::NoBaud {
            port: path.to_string(),
            tried: rates.to_vec(),
        })
    }
}

/// What is wrong with a reply's data.
#[derive(Debug, thiserror::Error)]
pub enum ReplyProblem {
    /// The lengths or framing of the data do not add up.
    #[error("{0}")]
    Layout(String),
    /// The card text does not decode.
    #[error(transparent)]
    Card(#[from] CardError),
}

/// Decodes a base-info reply's data (`30 01`, or `30 10` with `fingerprint`) into the card,
/// its photo and its fingerprint.
pub fn decode_base_info(data: &[u8], fingerprint: bool) -> Result<IdCard, ReplyProblem> {
    let payload = split_base_info(data, fingerprint).map_err(ReplyProblem::Layout)?;
    let mut card = decode_text(payload.text)?;
    card.photo = Photo(payload.photo.to_vec());
    card.fingerprint = payload.fingerprint.map(<[u8]>::to_vec);
    Ok(card)
}

/// Decodes a `30 03` reply's data: the additional address in UCS-2, or `None` when blank.
pub fn decode_new_address(data: &[u8]) -> Result<Option<String>, String> {
    let units = data
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]));
    let text: String = char::decode_utf16(units)
        .collect::<Result<_, _>>()
        .map_err(|_| "new address is not valid UCS-2".to_string())?;
    let text = text.trim_end_matches([' ', '\0']).trim().to_string();
    Ok((!text.is_empty()).then_some(text))
}

/// The parts of a base-info reply's data.
struct BaseInfo<'a> {
    text: &'a [u8],
    photo: &'a [u8],
    fingerprint: Option<&'a [u8]>,
}

/// Splits `textlen(2) photolen(2) [fplen(2)] text photo [fingerprint]` (lengths big-endian).
fn split_base_info(data: &[u8], fingerprint: bool) -> Result<BaseInfo<'_>, String> {
    let fields = if fingerprint { 3 } else { 2 };
    if data.len() < fields * 2 {
        return Err(format!(
            "{} bytes, too short for the length fields",
            data.len()
        ));
    }
    let len_at = |i: usize| usize::from(u16::from_be_bytes([data[2 * i], data[2 * i + 1]]));
    let (text_len, photo_len) = (len_at(0), len_at(1));
    let fp_len = if fingerprint { len_at(2) } else { 0 };
    if text_len < TEXT_LEN {
        return Err(format!("text length {text_len}, expected {TEXT_LEN}"));
    }
    let body = &data[fields * 2..];
    if body.len() != text_len + photo_len + fp_len {
        return Err(format!(
            "lengths announce {} bytes of text, photo and fingerprint, {} arrived",
            text_len + photo_len + fp_len,
            body.len()
        ));
    }
    let (text, rest) = body.split_at(text_len);
    let (photo, fp) = rest.split_at(photo_len);
    Ok(BaseInfo {
        text,
        photo,
        fingerprint: fingerprint.then_some(fp),
    })
}
