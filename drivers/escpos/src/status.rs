//! Printer status: the real-time queries (`DLE EOT n`) and their one-byte answers, and the
//! four-byte automatic status back (`GS a`), decoded into typed states.
//!
//! Every answer of `DLE EOT 1..4` has the fixed bit pattern `0xx1xx10`; the automatic status's
//! first byte has `0xx1xx00`. A byte that breaks its pattern is not a status: it is a stray
//! byte of something else, and decoding says so instead of guessing.

use serde::Serialize;

/// The real-time status queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusQuery {
    /// `DLE EOT 1`: online/offline, feed button, drawer.
    Printer,
    /// `DLE EOT 2`: why offline: cover, paper end, error.
    OfflineCause,
    /// `DLE EOT 3`: which error: cutter, unrecoverable, auto-recoverable.
    ErrorCause,
    /// `DLE EOT 4`: roll paper sensors: near end, end.
    PaperSensor,
    /// `DLE EOT 8 3`: the presenter (peeler) sensor: a ticket waits in the mouth.
    Presenter,
    /// `GS r 1`: paper sensor status, answered in turn *after* the data before it has been
    /// processed (not in real time), so its answer says the job before it was printed.
    PaperAfterJob,
}

impl StatusQuery {
    /// The four standard queries, in the order a status check sends them.
    pub const STANDARD: [Self; 4] = [
        Self::Printer,
        Self::OfflineCause,
        Self::ErrorCause,
        Self::PaperSensor,
    ];

    /// The bytes that ask this question.
    pub fn request(self) -> &'static [u8] {
        match self {
            Self::Printer => &[0x10, 0x04, 0x01],
            Self::OfflineCause => &[0x10, 0x04, 0x02],
            Self::ErrorCause => &[0x10, 0x04, 0x03],
            Self::PaperSensor => &[0x10, 0x04, 0x04],
            Self::Presenter => &[0x10, 0x04, 0x08, 0x03],
            Self::PaperAfterJob => &[0x1D, 0x72, 0x01],
        }
    }

    /// How a technician would write the query.
    pub fn label(self) -> &'static str {
        match self {
            Self::Printer => "DLE EOT 1",
            Self::OfflineCause => "DLE EOT 2",
            Self::ErrorCause => "DLE EOT 3",
            Self::PaperSensor => "DLE EOT 4",
            Self::Presenter => "DLE EOT 8 3",
            Self::PaperAfterJob => "GS r 1",
        }
    }

    /// Whether `byte` has the fixed bits of an answer to this question.
    pub fn accepts(self, byte: u8) -> bool {
        match self {
            Self::PaperAfterJob => byte & 0x90 == 0,
            _ => is_realtime_status(byte),
        }
    }
}

/// A byte that is not a valid answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// The fixed bits of the answer are wrong.
    #[error("{query} answered 0x{byte:02X}, which is not a status byte (expected the pattern {pattern})", query = .query.label(), pattern = if *.query == StatusQuery::PaperAfterJob { "0xx0xxxx" } else { "0xx1xx10" })]
    BadPattern {
        /// The question asked.
        query: StatusQuery,
        /// What came back.
        byte: u8,
    },
    /// The automatic status block's fixed bits are wrong.
    #[error(
        "automatic status {bytes:02X?} is not a status block (expected 0xx1xx00 0xx0xxxx 0xx0xxxx 0xx0xxxx)"
    )]
    BadAutomatic {
        /// What came back.
        bytes: [u8; 4],
    },
}

/// The roll's paper level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PaperLevel {
    /// Enough paper.
    #[default]
    Ok,
    /// The near-end sensor sees the core coming: still prints, replace the roll soon.
    NearEnd,
    /// No paper: the printer does not print.
    Out,
}

/// The whole state a status check learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PrinterStatus {
    /// The printer accepts print data.
    pub online: bool,
    /// The paper cover is open.
    pub cover_open: bool,
    /// The paper level.
    pub paper: PaperLevel,
    /// The auto-cutter is jammed or failed.
    pub cutter_error: bool,
    /// An error that needs a power cycle or service.
    pub unrecoverable_error: bool,
    /// An error that clears itself (print head too hot).
    pub auto_recoverable_error: bool,
    /// A recoverable error (cleared with `DLE ENQ`).
    pub recoverable_error: bool,
    /// Paper is being fed by the feed button.
    pub feed_button: bool,
}

/// The one reason a printer cannot print now, the most actionable first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// No paper.
    PaperOut,
    /// Cover open.
    CoverOpen,
    /// Cutter error.
    CutterError,
    /// Unrecoverable error.
    UnrecoverableError,
    /// Recoverable or auto-recoverable error.
    RecoverableError,
    /// Offline for no reason the printer gave.
    Offline,
}

impl Problem {
    /// What it is and what a technician does about it.
    pub fn advice(self) -> &'static str {
        match self {
            Self::PaperOut => "paper out; load a new roll",
            Self::CoverOpen => "cover open; close the paper cover",
            Self::CutterError => "cutter error; open the cover, clear the jam and close it",
            Self::UnrecoverableError => {
                "unrecoverable error; power the printer off and on, then call service if it stays"
            }
            Self::RecoverableError => {
                "temporary error (print head too hot?); wait a minute and retry"
            }
            Self::Offline => "offline with no cause given; check the printer's panel",
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.advice())
    }
}

impl PrinterStatus {
    /// Whether a job sent now would print.
    pub fn can_print(&self) -> bool {
        self.problem().is_none()
    }

    /// The first problem that stops printing, if any. Paper near end is not one.
    pub fn problem(&self) -> Option<Problem> {
        if self.paper == PaperLevel::Out {
            Some(Problem::PaperOut)
        } else if self.cover_open {
            Some(Problem::CoverOpen)
        } else if self.cutter_error {
            Some(Problem::CutterError)
        } else if self.unrecoverable_error {
            Some(Problem::UnrecoverableError)
        } else if self.recoverable_error || self.auto_recoverable_error {
            Some(Problem::RecoverableError)
        } else if !self.online {
            Some(Problem::Offline)
        } else {
            None
        }
    }

    /// Folds one decoded answer into the status.
    pub fn apply(&mut self, query: StatusQuery, byte: u8) -> Result<(), StatusError> {
        check_realtime(query, byte)?;
        let bit = |n: u8| byte & (1 << n) != 0;
        match query {
            StatusQuery::Printer => {
                self.online = !bit(3);
                self.feed_button = bit(6);
            }
            StatusQuery::OfflineCause => {
                self.cover_open = bit(2);
                self.feed_button |= bit(3);
                if bit(5) {
                    self.paper = PaperLevel::Out;
                }
            }
            StatusQuery::ErrorCause => {
                self.recoverable_error = bit(2);
                self.cutter_error = bit(3);
                self.unrecoverable_error = bit(5);
                self.auto_recoverable_error = bit(6);
            }
            StatusQuery::PaperSensor => {
                // Bits 2-3 are the near-end sensor, 5-6 the end sensor; printers set both
                // bits of a pair, some only one, so either counts.
                // A printer stopped by paper end (DLE EOT 2) stays out even if its end
                // sensor flickers back.
                if byte & 0x60 != 0 {
                    self.paper = PaperLevel::Out;
                } else if byte & 0x0C != 0 && self.paper != PaperLevel::Out {
                    self.paper = PaperLevel::NearEnd;
                }
            }
            StatusQuery::Presenter => {}
            StatusQuery::PaperAfterJob => {
                // Bits 0-1 near end, bits 2-3 paper end.
                if byte & 0x0C != 0 {
                    self.paper = PaperLevel::Out;
                } else if byte & 0x03 != 0 && self.paper != PaperLevel::Out {
                    self.paper = PaperLevel::NearEnd;
                }
            }
        }
        Ok(())
    }

    /// A status from the four answers of `DLE EOT 1..4`, in that order.
    pub fn from_replies(replies: [u8; 4]) -> Result<Self, StatusError> {
        let mut status = Self::default();
        for (query, byte) in StatusQuery::STANDARD.into_iter().zip(replies) {
            status.apply(query, byte)?;
        }
        Ok(status)
    }

    /// A status from an automatic status back block (`GS a` enabled), as Epson's ESC/POS
    /// reference lays it out:
    ///
    /// - byte 1 `0xx1xx00`: bit 2 drawer pin 3, bit 3 offline, bit 5 cover open, bit 6 paper
    ///   fed by the feed button;
    /// - byte 2 `0xx0xxxx`: bit 2 recoverable (mechanical) error, bit 3 autocutter error,
    ///   bit 5 unrecoverable error, bit 6 automatically recoverable error;
    /// - byte 3 `0xx0xxxx`: bits 0–1 roll paper near end, bits 2–3 roll paper end;
    /// - byte 4 `0xx0xxxx`: nothing this driver needs.
    pub fn from_automatic(bytes: [u8; 4]) -> Result<Self, StatusError> {
        if !is_automatic_status(bytes) {
            return Err(StatusError::BadAutomatic { bytes });
        }
        let [b1, b2, b3, _b4] = bytes;
        Ok(Self {
            online: b1 & 0x08 == 0,
            cover_open: b1 & 0x20 != 0,
            feed_button: b1 & 0x40 != 0,
            recoverable_error: b2 & 0x04 != 0,
            cutter_error: b2 & 0x08 != 0,
            unrecoverable_error: b2 & 0x20 != 0,
            auto_recoverable_error: b2 & 0x40 != 0,
            paper: if b3 & 0x0C != 0 {
                PaperLevel::Out
            } else if b3 & 0x03 != 0 {
                PaperLevel::NearEnd
            } else {
                PaperLevel::Ok
            },
        })
    }

    /// The automatic status block a printer in this state sends (used by the emulator, and
    /// the inverse of [`PrinterStatus::from_automatic`]). A printer out of paper also sees
    /// it at the near-end sensor.
    pub fn automatic(&self) -> [u8; 4] {
        let flag = |cond: bool, mask: u8| if cond { mask } else { 0 };
        [
            0x10 | flag(!self.online, 0x08)
                | flag(self.cover_open, 0x20)
                | flag(self.feed_button, 0x40),
            flag(self.recoverable_error, 0x04)
                | flag(self.cutter_error, 0x08)
                | flag(self.unrecoverable_error, 0x20)
                | flag(self.auto_recoverable_error, 0x40),
            flag(self.paper != PaperLevel::Ok, 0x03) | flag(self.paper == PaperLevel::Out, 0x0C),
            0x00,
        ]
    }

    /// The answers an ideal printer in this state gives to `DLE EOT 1..4` (used by the
    /// emulator, and the inverse of [`PrinterStatus::from_replies`]).
    pub fn replies(&self) -> [u8; 4] {
        let flag = |cond: bool, mask: u8| if cond { mask } else { 0 };
        [
            0x12 | flag(!self.online, 0x08) | flag(self.feed_button, 0x40),
            0x12 | flag(self.cover_open, 0x04)
                | flag(self.paper == PaperLevel::Out, 0x20)
                | flag(self.has_error(), 0x40),
            0x12 | flag(self.recoverable_error, 0x04)
                | flag(self.cutter_error, 0x08)
                | flag(self.unrecoverable_error, 0x20)
                | flag(self.auto_recoverable_error, 0x40),
            0x12 | flag(self.paper != PaperLevel::Ok, 0x0C)
                | flag(self.paper == PaperLevel::Out, 0x60),
        ]
    }

    fn has_error(&self) -> bool {
        self.cutter_error
            || self.unrecoverable_error
            || self.auto_recoverable_error
            || self.recoverable_error
    }
}

/// Whether `byte` has the fixed bits of a `DLE EOT` answer (`0xx1xx10`).
pub fn is_realtime_status(byte: u8) -> bool {
    byte & 0x93 == 0x12
}

/// Whether `bytes` has the fixed bits of an automatic status block.
pub fn is_automatic_status(bytes: [u8; 4]) -> bool {
    bytes[0] & 0x93 == 0x10 && bytes[1..].iter().all(|b| b & 0x90 == 0)
}

fn check_realtime(query: StatusQuery, byte: u8) -> Result<(), StatusError> {
    if query.accepts(byte) {
        Ok(())
    } else {
        Err(StatusError::BadPattern { query, byte })
    }
}

/// Whether the presenter answer says a ticket waits in the mouth (bit 2 of `DLE EOT 8 3`).
pub fn ticket_waiting(byte: u8) -> Result<bool, StatusError> {
    check_realtime(StatusQuery::Presenter, byte)?;
    Ok(byte & 0x04 != 0)
}

/// The enable bits of `GS a n` this driver asks for: drawer (bit 0), online/offline (bit 1),
/// errors (bit 2) and the roll paper sensors (bit 3).
pub const AUTOMATIC_STATUS_BITS: u8 = 0x0F;

/// `GS a n`: enable (`n` = [`AUTOMATIC_STATUS_BITS`]) or disable (`n` = 0) automatic status
/// back.
pub fn automatic_status_request(n: u8) -> [u8; 3] {
    [0x1D, 0x61, n]
}

/// One thing a printer sent back, sorted out of its byte stream by [`Inbound`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming {
    /// A single byte: the answer to a question (`DLE EOT`, `GS r`), or a stray byte; the
    /// question asked decides.
    Byte(u8),
    /// A whole automatic status block, sent by the printer on its own.
    Automatic([u8; 4]),
}

/// Sorts the bytes a printer sends into answers and automatic status blocks.
///
/// An automatic block starts with `0xx1xx00`, which no `DLE EOT` answer (`0xx1xx10`) and no
/// `GS r` answer (bit 4 clear) can be, and its other three bytes have bits 4 and 7 clear. A
/// block cut short by a byte that cannot continue it is given back as single bytes.
#[derive(Debug, Clone, Default)]
pub struct Inbound {
    partial: Vec<u8>,
}

impl Inbound {
    /// Takes one byte; returns what it completes, in order (usually nothing or one thing).
    pub fn push(&mut self, byte: u8) -> Vec<Incoming> {
        let mut out = Vec::new();
        if !self.partial.is_empty() && byte & 0x90 != 0 {
            // Not a continuation: what was held was not a block after all.
            out.extend(self.partial.drain(..).map(Incoming::Byte));
        }
        if self.partial.is_empty() {
            if byte & 0x93 == 0x10 {
                self.partial.push(byte);
            } else {
                out.push(Incoming::Byte(byte));
            }
            return out;
        }
        self.partial.push(byte);
        if let Ok(block) = <[u8; 4]>::try_from(self.partial.as_slice()) {
            self.partial.clear();
            out.push(Incoming::Automatic(block));
        }
        out
    }

    /// Whether part of a block is held, waiting for the rest.
    pub fn is_mid_block(&self) -> bool {
        !self.partial.is_empty()
    }
}
