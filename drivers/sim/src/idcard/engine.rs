//! The SAM reader's behaviour, pure: a request frame in, the reply frame a GA 467 reader
//! would send out. Faults are injected here so they look on the wire exactly as real ones.

use std::time::Duration;

use kiosk_idcard::card::encode_text;
use kiosk_idcard::frame::{self, Command};
use kiosk_idcard::{CardError, IdCard, Status};

/// Bytes of the WLT photo and of the fingerprint block.
pub const PHOTO_LEN: usize = 1024;
/// Bytes of the fingerprint block (two templates of 512).
pub const FINGERPRINT_LEN: usize = 1024;
/// Bytes of the new-address reply (35 UCS-2 characters).
pub const NEW_ADDRESS_LEN: usize = 70;

/// Faults the simulated reader can show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Find card answers "no card" (80) even with a card loaded.
    pub no_card: bool,
    /// Select card answers "select failed" (81).
    pub select_fails: bool,
    /// The base-info reply carries a wrong checksum.
    pub bad_checksum: bool,
    /// The base-info reply stops halfway.
    pub truncated: bool,
    /// Every reply is held back this long.
    pub slow: Option<Duration>,
    /// SAM status answers "self-test failed" (60).
    pub sam_self_test_fails: bool,
}

/// A card on the simulated reader, pre-encoded.
#[derive(Clone)]
struct LoadedCard {
    text: [u8; 256],
    photo: Vec<u8>,
    new_address: Option<String>,
}

/// The simulated reader's state.
pub struct SamEngine {
    card: Option<LoadedCard>,
    faults: Faults,
    selected: bool,
}

impl SamEngine {
    /// A reader with this card (or none) and these faults.
    pub fn new(card: Option<&IdCard>, faults: Faults) -> Result<Self, CardError> {
        let mut engine = Self {
            card: None,
            faults,
            selected: false,
        };
        engine.set_card(card)?;
        Ok(engine)
    }

    /// Places a card on the reader, or takes it away.
    pub fn set_card(&mut self, card: Option<&IdCard>) -> Result<(), CardError> {
        self.card = card
            .map(|c| -> Result<LoadedCard, CardError> {
                Ok(LoadedCard {
                    text: encode_text(c)?,
                    photo: fake_wlt(&c.id_number),
                    new_address: c.new_address.clone(),
                })
            })
            .transpose()?;
        self.selected = false;
        Ok(())
    }

    /// Changes the faults.
    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    /// The faults in force.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The reply to one request frame.
    pub fn answer(&mut self, request: &[u8]) -> Vec<u8> {
        let code = match frame::decode_request(request) {
            Ok((code, _)) => code,
            Err(frame::FrameError::BadChecksum { .. }) => {
                return frame::encode_reply(Status::ChecksumError.sw3(), &[]);
            }
            Err(_) => return frame::encode_reply(Status::LengthError.sw3(), &[]),
        };
        let Some(command) = Command::from_code(code) else {
            return frame::encode_reply(Status::CommandError.sw3(), &[]);
        };
        let present = self.card.is_some() && !self.faults.no_card;
        match command {
            Command::SamStatus if self.faults.sam_self_test_fails => {
                frame::encode_reply(Status::SelfTestFailed.sw3(), &[])
            }
            Command::SamStatus | Command::ResetSam => frame::encode_reply(0x90, &[]),
            Command::ReadSamId => frame::encode_reply(0x90, b"SIM-SAM-00000001"),
            Command::FindCard if present => frame::encode_reply(0x9F, &[0; 4]),
            Command::FindCard => frame::encode_reply(Status::NoCard.sw3(), &[]),
            Command::SelectCard if present && !self.faults.select_fails => {
                self.selected = true;
                frame::encode_reply(0x90, &[0; 8])
            }
            Command::SelectCard => frame::encode_reply(Status::SelectFailed.sw3(), &[]),
            Command::ReadBaseInfo | Command::ReadBaseInfoWithFingerprint => {
                self.base_info(command == Command::ReadBaseInfoWithFingerprint)
            }
            Command::ReadNewAddress => match self.card.as_ref().filter(|_| self.selected) {
                None => frame::encode_reply(Status::ReadFailed.sw3(), &[]),
                Some(LoadedCard {
                    new_address: None, ..
                }) => frame::encode_reply(Status::NoContent.sw3(), &[]),
                Some(LoadedCard {
                    new_address: Some(address),
                    ..
                }) => frame::encode_reply(0x90, &ucs2_padded(address, NEW_ADDRESS_LEN)),
            },
        }
    }

    fn base_info(&self, fingerprint: bool) -> Vec<u8> {
        let Some(card) = self.card.as_ref().filter(|_| self.selected) else {
            return frame::encode_reply(Status::ReadFailed.sw3(), &[]);
        };
        let mut data = Vec::with_capacity(6 + 256 + PHOTO_LEN + FINGERPRINT_LEN);
        data.extend_from_slice(&256u16.to_be_bytes()); // text length
        data.extend_from_slice(&(PHOTO_LEN as u16).to_be_bytes()); // photo length
        if fingerprint {
            data.extend_from_slice(&(FINGERPRINT_LEN as u16).to_be_bytes());
        }
        data.extend_from_slice(&card.text);
        data.extend_from_slice(&card.photo);
        if fingerprint {
            data.extend((0..FINGERPRINT_LEN).map(|i| (i * 7 % 251) as u8));
        }
        let mut reply = frame::encode_reply(0x90, &data);
        if self.faults.bad_checksum
            && let Some(last) = reply.last_mut()
        {
            *last ^= 0x5A;
        }
        if self.faults.truncated {
            reply.truncate(reply.len() / 2);
        }
        reply
    }
}

/// UCS-2LE, space padded to `len` bytes (cut if longer).
fn ucs2_padded(text: &str, len: usize) -> Vec<u8> {
    let mut out: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    out.truncate(len);
    while out.len() < len {
        out.extend_from_slice(&[0x20, 0x00]);
    }
    out
}

/// A stand-in for the WLT photo: real WLT is vendor-encrypted, so the simulator sends
/// 1024 bytes that are deterministic per card and obviously not a face.
fn fake_wlt(seed: &str) -> Vec<u8> {
    let mut state = seed.bytes().fold(0x811C_9DC5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let mut out = b"WLTSIM".to_vec();
    while out.len() < PHOTO_LEN {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        out.push(state as u8);
    }
    out
}
