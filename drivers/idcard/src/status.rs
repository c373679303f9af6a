//! SW3, the outcome byte of every reply, typed (GA 467 status word table).

/// What a reader says about the command it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `90`: success.
    Success,
    /// `9F`: find card: a card is in the field.
    CardFound,
    /// `91`: success, but the card holds nothing of this kind (no fingerprint, no new address).
    NoContent,
    /// `80`: find card: no card in the field.
    NoCard,
    /// `81`: select card failed.
    SelectFailed,
    /// `41`: reading the card failed (moved away mid-read, or unreadable).
    ReadFailed,
    /// `40`: the card is of a kind the SAM does not know.
    UnknownCardType,
    /// `10`: the reader got our frame with a bad checksum.
    ChecksumError,
    /// `11`: the reader got our frame with a bad length.
    LengthError,
    /// `21`: the reader does not know the command.
    CommandError,
    /// `23`: operation not permitted in the current state.
    NotAuthorised,
    /// `24`: error the reader cannot classify.
    Unrecognised,
    /// `31`: the card failed to authenticate the SAM.
    CardAuthFailed,
    /// `32`: the SAM failed to authenticate the card.
    SamAuthFailed,
    /// `33`: information check failed.
    VerifyFailed,
    /// `47`: the card would not give a random number.
    RandomFailed,
    /// `60`: the SAM's self-test failed.
    SelfTestFailed,
    /// `66`: the SAM is not authorised.
    SamNotAuthorised,
    /// Any other SW3.
    Other(u8),
}

impl Status {
    /// Types an SW3 byte.
    pub fn from_sw3(sw3: u8) -> Self {
        match sw3 {
            0x90 => Self::Success,
            0x9F => Self::CardFound,
            0x91 => Self::NoContent,
            0x80 => Self::NoCard,
            0x81 => Self::SelectFailed,
            0x41 => Self::ReadFailed,
            0x40 => Self::UnknownCardType,
            0x10 => Self::ChecksumError,
            0x11 => Self::LengthError,
            0x21 => Self::CommandError,
            0x23 => Self::NotAuthorised,
            0x24 => Self::Unrecognised,
            0x31 => Self::CardAuthFailed,
            0x32 => Self::SamAuthFailed,
            0x33 => Self::VerifyFailed,
            0x47 => Self::RandomFailed,
            0x60 => Self::SelfTestFailed,
            0x66 => Self::SamNotAuthorised,
            other => Self::Other(other),
        }
    }

    /// The SW3 byte.
    pub fn sw3(self) -> u8 {
        match self {
            Self::Success => 0x90,
            Self::CardFound => 0x9F,
            Self::NoContent => 0x91,
            Self::NoCard => 0x80,
            Self::SelectFailed => 0x81,
            Self::ReadFailed => 0x41,
            Self::UnknownCardType => 0x40,
            Self::ChecksumError => 0x10,
            Self::LengthError => 0x11,
            Self::CommandError => 0x21,
            Self::NotAuthorised => 0x23,
            Self::Unrecognised => 0x24,
            Self::CardAuthFailed => 0x31,
            Self::SamAuthFailed => 0x32,
            Self::VerifyFailed => 0x33,
            Self::RandomFailed => 0x47,
            Self::SelfTestFailed => 0x60,
            Self::SamNotAuthorised => 0x66,
            Self::Other(b) => b,
        }
    }

    /// What it means and what a technician (or the citizen) should do.
    pub fn advice(self) -> &'static str {
        match self {
            Self::Success | Self::CardFound | Self::NoContent => "no action needed",
            Self::NoCard => "no card on the reader; place the card flat on the reader",
            Self::SelectFailed | Self::ReadFailed => {
                "the card was not read; keep the card still on the reader and try again"
            }
            Self::UnknownCardType => "this card is not an ID card or residence permit",
            Self::ChecksumError | Self::LengthError => {
                "the reader received a garbled frame; check the cable and the baud rate"
            }
            Self::CommandError | Self::NotAuthorised | Self::Unrecognised => {
                "the reader refused the command; power-cycle the reader"
            }
            Self::CardAuthFailed
            | Self::SamAuthFailed
            | Self::VerifyFailed
            | Self::RandomFailed => {
                "the card failed authentication; try again, and if it persists the card may be damaged or forged"
            }
            Self::SelfTestFailed | Self::SamNotAuthorised => {
                "the reader's security module (SAM) failed; replace the reader"
            }
            Self::Other(_) => "unexpected status; power-cycle the reader and report the code",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self {
            Self::Success => "success",
            Self::CardFound => "card found",
            Self::NoContent => "no content",
            Self::NoCard => "no card",
            Self::SelectFailed => "select failed",
            Self::ReadFailed => "read failed",
            Self::UnknownCardType => "unknown card type",
            Self::ChecksumError => "reader saw a checksum error",
            Self::LengthError => "reader saw a length error",
            Self::CommandError => "command error",
            Self::NotAuthorised => "operation not authorised",
            Self::Unrecognised => "unrecognised error",
            Self::CardAuthFailed => "card authentication of SAM failed",
            Self::SamAuthFailed => "SAM authentication of card failed",
            Self::VerifyFailed => "information verification failed",
            Self::RandomFailed => "card random number failed",
            Self::SelfTestFailed => "SAM self-test failed",
            Self::SamNotAuthorised => "SAM not authorised",
            Self::Other(_) => "unknown status",
        };
        write!(f, "{what} (SW3 {:02X})", self.sw3())
    }
}
