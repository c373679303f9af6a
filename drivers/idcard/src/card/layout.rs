//! The four 256-byte text layouts (UCS-2LE, space padded) and the card kind marker at
//! byte 248.
//!
//! Sources, checked against each other (every layout also has to put the kind marker at
//! byte 248, which pins the sizes that the sources disagree on):
//! - Resident card: the layout every public SDK parses, e.g. `PersonInfo.Parse` in
//!   github.com/feiyu1127/AndroidDev (`eloan1/.../PersonInfo.java`) and `ID2Txt.decode` in
//!   github.com/lixd17820/readcard: name 0/30, sex 30/2, nation 32/4, birth 36/16,
//!   address 52/70, number 122/36, issuer 158/30, valid from 188/16, valid until 204/16.
//! - Hong Kong/Macau/Taiwan permit (`J`): 《港澳台居民居住证机读信息规范》 as republished by
//!   reader vendors (consesp.com/n2/465.html): the resident slots, with nation replaced by
//!   reserved bytes, then pass number 220/18, issue count 238/4, reserved 242/6, kind 248/2.
//! - Foreigner card 2017 (`I`): the machine-readable item table published by vendors when
//!   readers were upgraded (afzhan.com/st170652/news_212938.html) and the `PERSONINFO`
//!   struct comments in github.com/yechangpeng/Paperless (`Centerm/IDCardDef.h`): English
//!   name 120, sex 2, number 30, nationality 6, Chinese name 30, valid from 16, valid until
//!   16, birth 16, version 4, authority code 8, kind 2, reserved 6.
//! - Foreigner card 2023 (`Y`): 《新版外国人永久居留身份证机读信息规则(2023版)》 as published by
//!   reader vendors (eastcoms.com/service/pro/840.html): it follows the resident layout
//!   ("更趋近于居民身份证技术体系"): Chinese name 0/30, sex 30/2, re-issue count 32/4,
//!   birth 36/16, English name 52/70, number 122/36 (18 characters, MOD 11-2), issuer
//!   158/30, valid from 188/16, valid until 204/16, English name continued 220/18,
//!   nationality 238/6, link to the earlier card's number 244/4, kind 248/2, reserved 6.
//!   The public excerpts we could read did not show the table in full; the tail sizes are
//!   the ones that land the marker at 248 and were cross-checked with vendor SDK field
//!   lists (`getIssuesNum`, `getOldID`). Verify against a real card before relying on
//!   `previous_card_link`.

use chrono::NaiveDate;

use super::{CardError, CardKind, IdCard, Nation, Sex, Validity, check};

/// Bytes of text in a base-info reply.
pub const TEXT_LEN: usize = 256;
/// Byte offset of the card kind marker.
pub const KIND_OFFSET: usize = 248;

/// A field's place in the text: byte offset and byte length.
#[derive(Clone, Copy)]
struct Slot {
    name: &'static str,
    offset: usize,
    len: usize,
}

const fn slot(name: &'static str, offset: usize, len: usize) -> Slot {
    Slot { name, offset, len }
}

/// Slots of the resident card, shared by the `J` permit and (mostly) the `Y` card.
mod resident {
    use super::{Slot, slot};
    pub const NAME: Slot = slot("name", 0, 30);
    pub const SEX: Slot = slot("sex", 30, 2);
    pub const NATION: Slot = slot("nation", 32, 4);
    pub const BIRTH: Slot = slot("birth_date", 36, 16);
    pub const ADDRESS: Slot = slot("address", 52, 70);
    pub const ID_NUMBER: Slot = slot("id_number", 122, 36);
    pub const ISSUER: Slot = slot("issuer", 158, 30);
    pub const VALID_FROM: Slot = slot("valid_from", 188, 16);
    pub const VALID_UNTIL: Slot = slot("valid_until", 204, 16);
}

mod permit {
    use super::{Slot, slot};
    pub const PASS_NUMBER: Slot = slot("pass_number", 220, 18);
    pub const ISSUE_COUNT: Slot = slot("issue_count", 238, 4);
}

mod foreign_2017 {
    use super::{Slot, slot};
    pub const ENGLISH_NAME: Slot = slot("english_name", 0, 120);
    pub const SEX: Slot = slot("sex", 120, 2);
    pub const ID_NUMBER: Slot = slot("id_number", 122, 30);
    pub const NATIONALITY: Slot = slot("nationality", 152, 6);
    pub const NAME: Slot = slot("name", 158, 30);
    pub const VALID_FROM: Slot = slot("valid_from", 188, 16);
    pub const VALID_UNTIL: Slot = slot("valid_until", 204, 16);
    pub const BIRTH: Slot = slot("birth_date", 220, 16);
    pub const VERSION: Slot = slot("card_version", 236, 4);
    pub const AUTHORITY: Slot = slot("authority_code", 240, 8);
}

mod foreign_2023 {
    use super::{Slot, slot};
    pub const ISSUE_COUNT: Slot = slot("issue_count", 32, 4);
    pub const ENGLISH_NAME: Slot = slot("english_name", 52, 70);
    pub const ENGLISH_NAME_MORE: Slot = slot("english_name", 220, 18);
    pub const NATIONALITY: Slot = slot("nationality", 238, 6);
    pub const PREVIOUS_LINK: Slot = slot("previous_card_link", 244, 4);
}

const KIND: Slot = slot("card_type", KIND_OFFSET, 2);

/// Reads a slot as text, dropping the space (and NUL) padding.
fn text(raw: &[u8], slot: Slot) -> Result<String, CardError> {
    Ok(untrimmed(raw, slot)?
        .trim_end_matches([' ', '\0', '\u{3000}'])
        .trim_start()
        .to_string())
}

/// Reads a slot as text, padding and all.
fn untrimmed(raw: &[u8], slot: Slot) -> Result<String, CardError> {
    let units = raw[slot.offset..slot.offset + slot.len]
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]));
    let decoded: String = char::decode_utf16(units)
        .collect::<Result<_, _>>()
        .map_err(|_| CardError::BadText { field: slot.name })?;
    Ok(decoded)
}

fn optional(raw: &[u8], slot: Slot) -> Result<Option<String>, CardError> {
    text(raw, slot).map(|t| (!t.is_empty()).then_some(t))
}

fn date(raw: &[u8], slot: Slot) -> Result<NaiveDate, CardError> {
    let t = text(raw, slot)?;
    if t.len() != 8 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CardError::BadDate {
            field: slot.name,
            text: t,
        });
    }
    NaiveDate::parse_from_str(&t, "%Y%m%d").map_err(|_| CardError::BadDate {
        field: slot.name,
        text: t,
    })
}

fn validity(raw: &[u8], slot: Slot) -> Result<Validity, CardError> {
    if text(raw, slot)? == "长期" {
        return Ok(Validity::LongTerm);
    }
    date(raw, slot).map(Validity::Until)
}

fn sex(raw: &[u8], slot: Slot) -> Result<Sex, CardError> {
    let t = text(raw, slot)?;
    let mut chars = t.chars();
    match (chars.next(), chars.next()) {
        (Some(code), None) => Sex::from_code(code).ok_or(CardError::BadSex(t)),
        _ => Err(CardError::BadSex(t)),
    }
}

fn nation(raw: &[u8], slot: Slot) -> Result<Nation, CardError> {
    let t = text(raw, slot)?;
    t.parse::<u8>()
        .ok()
        .filter(|_| t.len() == 2)
        .and_then(Nation::from_code)
        .ok_or(CardError::UnknownNation(t))
}

fn count(raw: &[u8], slot: Slot) -> Result<Option<u8>, CardError> {
    match optional(raw, slot)? {
        None => Ok(None),
        Some(t) => t.parse().map(Some).map_err(|_| CardError::BadNumber {
            field: slot.name,
            text: t,
        }),
    }
}

/// An 18-character number with its check character verified.
fn checked_number(raw: &[u8], slot: Slot) -> Result<String, CardError> {
    let number = text(raw, slot)?;
    let malformed = || CardError::BadIdNumber {
        masked: kiosk_hal::mask_id_number(&number),
        expected: "17 digits and a check character",
    };
    let (first17, last) = match number.char_indices().nth(17) {
        Some((i, last)) if number.len() == 18 => (&number[..i], last),
        _ => return Err(malformed()),
    };
    let expected = check::check_character(first17).ok_or_else(malformed)?;
    if expected != last {
        return Err(CardError::BadCheckCharacter {
            masked: kiosk_hal::mask_id_number(&number),
            expected,
            found: last,
        });
    }
    Ok(number)
}

/// Decodes the 256 bytes of card text into a card (photo and fingerprint left empty).
pub fn decode_text(raw: &[u8]) -> Result<IdCard, CardError> {
    if raw.len() < TEXT_LEN {
        return Err(CardError::TextTooShort(raw.len()));
    }
    let marker = text(raw, KIND)?.chars().next().unwrap_or(' ');
    let kind = CardKind::from_marker(marker);
    let mut card = IdCard {
        card_type: kind,
        name: String::new(),
        english_name: None,
        sex: Sex::Unknown,
        nation: None,
        nationality: None,
        birth_date: NaiveDate::MIN,
        address: None,
        id_number: String::new(),
        issuer: None,
        valid_from: NaiveDate::MIN,
        valid_until: Validity::LongTerm,
        pass_number: None,
        issue_count: None,
        card_version: None,
        authority_code: None,
        previous_card_link: None,
        new_address: None,
        photo: Default::default(),
        fingerprint: None,
    };
    Ok(match kind {
        CardKind::Resident | CardKind::HkMoTwPermit => {
            let permit = kind == CardKind::HkMoTwPermit;
            card.name = text(raw, resident::NAME)?;
            card.sex = sex(raw, resident::SEX)?;
            card.nation = if permit {
                None
            } else {
                Some(nation(raw, resident::NATION)?)
            };
            card.birth_date = date(raw, resident::BIRTH)?;
            card.address = optional(raw, resident::ADDRESS)?;
            card.id_number = checked_number(raw, resident::ID_NUMBER)?;
            card.issuer = optional(raw, resident::ISSUER)?;
            card.valid_from = date(raw, resident::VALID_FROM)?;
            card.valid_until = validity(raw, resident::VALID_UNTIL)?;
            card.pass_number = if permit {
                optional(raw, permit::PASS_NUMBER)?
            } else {
                None
            };
            card.issue_count = if permit {
                count(raw, permit::ISSUE_COUNT)?
            } else {
                None
            };
            card
        }
        CardKind::ForeignPermanent => {
            let number = text(raw, foreign_2017::ID_NUMBER)?;
            if number.len() != 15 || !number.is_ascii() {
                return Err(CardError::BadIdNumber {
                    masked: kiosk_hal::mask_id_number(&number),
                    expected: "15 characters (3 letters and 12 digits)",
                });
            }
            card.english_name = optional(raw, foreign_2017::ENGLISH_NAME)?;
            card.sex = sex(raw, foreign_2017::SEX)?;
            card.id_number = number;
            card.nationality = optional(raw, foreign_2017::NATIONALITY)?;
            card.name = text(raw, foreign_2017::NAME)?;
            card.valid_from = date(raw, foreign_2017::VALID_FROM)?;
            card.valid_until = validity(raw, foreign_2017::VALID_UNTIL)?;
            card.birth_date = date(raw, foreign_2017::BIRTH)?;
            card.card_version = optional(raw, foreign_2017::VERSION)?;
            card.authority_code = optional(raw, foreign_2017::AUTHORITY)?;
            card
        }
        CardKind::ForeignPermanent2023 => {
            // One name in two slots: join them before trimming, so a space at the seam stays.
            let mut english = untrimmed(raw, foreign_2023::ENGLISH_NAME)?;
            english.push_str(&untrimmed(raw, foreign_2023::ENGLISH_NAME_MORE)?);
            let english = english.trim_end_matches([' ', '\0']).to_string();
            card.name = text(raw, resident::NAME)?;
            card.sex = sex(raw, resident::SEX)?;
            card.issue_count = count(raw, foreign_2023::ISSUE_COUNT)?;
            card.birth_date = date(raw, resident::BIRTH)?;
            card.english_name = (!english.is_empty()).then_some(english);
            card.id_number = checked_number(raw, resident::ID_NUMBER)?;
            card.issuer = optional(raw, resident::ISSUER)?;
            card.valid_from = date(raw, resident::VALID_FROM)?;
            card.valid_until = validity(raw, resident::VALID_UNTIL)?;
            card.nationality = optional(raw, foreign_2023::NATIONALITY)?;
            card.previous_card_link = optional(raw, foreign_2023::PREVIOUS_LINK)?;
            card
        }
    })
}

/// Writes text into a slot, padding with spaces.
fn put(out: &mut [u8; TEXT_LEN], slot: Slot, value: &str) -> Result<(), CardError> {
    let units: Vec<u16> = value.encode_utf16().collect();
    if units.len() * 2 > slot.len {
        return Err(CardError::TooLong {
            field: slot.name,
            len: units.len() * 2,
            max: slot.len,
        });
    }
    let padded = units.into_iter().chain(std::iter::repeat(u16::from(b' ')));
    for (pair, unit) in out[slot.offset..slot.offset + slot.len]
        .chunks_exact_mut(2)
        .zip(padded)
    {
        pair.copy_from_slice(&unit.to_le_bytes());
    }
    Ok(())
}

fn put_date(out: &mut [u8; TEXT_LEN], slot: Slot, value: NaiveDate) -> Result<(), CardError> {
    put(out, slot, &value.format("%Y%m%d").to_string())
}

fn put_validity(out: &mut [u8; TEXT_LEN], slot: Slot, value: Validity) -> Result<(), CardError> {
    match value {
        Validity::LongTerm => put(out, slot, "长期"),
        Validity::Until(date) => put_date(out, slot, date),
    }
}

fn put_count(out: &mut [u8; TEXT_LEN], slot: Slot, value: Option<u8>) -> Result<(), CardError> {
    put(
        out,
        slot,
        &value.map(|n| format!("{n:02}")).unwrap_or_default(),
    )
}

/// Encodes a card into the 256 bytes of text a SAM reader returns: the simulator's half of
/// [`decode_text`]. It does not verify check characters, so a simulator can serve a card
/// with a wrong one.
pub fn encode_text(card: &IdCard) -> Result<[u8; TEXT_LEN], CardError> {
    let mut out = [0u8; TEXT_LEN];
    put(&mut out, slot("all", 0, TEXT_LEN), "")?;
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let kind = card.card_type;
    match kind {
        CardKind::Resident | CardKind::HkMoTwPermit => {
            put(&mut out, resident::NAME, &card.name)?;
            put(&mut out, resident::SEX, &card.sex.code().to_string())?;
            if kind == CardKind::Resident {
                let nation = card.nation.ok_or(CardError::Missing {
                    kind,
                    field: "nation",
                })?;
                put(&mut out, resident::NATION, &format!("{:02}", nation.code()))?;
            }
            put_date(&mut out, resident::BIRTH, card.birth_date)?;
            put(&mut out, resident::ADDRESS, &opt(&card.address))?;
            put(&mut out, resident::ID_NUMBER, &card.id_number)?;
            put(&mut out, resident::ISSUER, &opt(&card.issuer))?;
            put_date(&mut out, resident::VALID_FROM, card.valid_from)?;
            put_validity(&mut out, resident::VALID_UNTIL, card.valid_until)?;
            if kind == CardKind::HkMoTwPermit {
                put(&mut out, permit::PASS_NUMBER, &opt(&card.pass_number))?;
                put_count(&mut out, permit::ISSUE_COUNT, card.issue_count)?;
            }
        }
        CardKind::ForeignPermanent => {
            put(
                &mut out,
                foreign_2017::ENGLISH_NAME,
                &opt(&card.english_name),
            )?;
            put(&mut out, foreign_2017::SEX, &card.sex.code().to_string())?;
            put(&mut out, foreign_2017::ID_NUMBER, &card.id_number)?;
            put(&mut out, foreign_2017::NATIONALITY, &opt(&card.nationality))?;
            put(&mut out, foreign_2017::NAME, &card.name)?;
            put_date(&mut out, foreign_2017::VALID_FROM, card.valid_from)?;
            put_validity(&mut out, foreign_2017::VALID_UNTIL, card.valid_until)?;
            put_date(&mut out, foreign_2017::BIRTH, card.birth_date)?;
            put(&mut out, foreign_2017::VERSION, &opt(&card.card_version))?;
            put(
                &mut out,
                foreign_2017::AUTHORITY,
                &opt(&card.authority_code),
            )?;
        }
        CardKind::ForeignPermanent2023 => {
            put(&mut out, resident::NAME, &card.name)?;
            put(&mut out, resident::SEX, &card.sex.code().to_string())?;
            put_count(&mut out, foreign_2023::ISSUE_COUNT, card.issue_count)?;
            put_date(&mut out, resident::BIRTH, card.birth_date)?;
            // The English name fills its 35 characters, then runs on at byte 220.
            let english = opt(&card.english_name);
            let split = english
                .char_indices()
                .nth(foreign_2023::ENGLISH_NAME.len / 2)
                .map_or(english.len(), |(i, _)| i);
            put(&mut out, foreign_2023::ENGLISH_NAME, &english[..split])?;
            put(&mut out, foreign_2023::ENGLISH_NAME_MORE, &english[split..])?;
            put(&mut out, resident::ID_NUMBER, &card.id_number)?;
            put(&mut out, resident::ISSUER, &opt(&card.issuer))?;
            put_date(&mut out, resident::VALID_FROM, card.valid_from)?;
            put_validity(&mut out, resident::VALID_UNTIL, card.valid_until)?;
            put(&mut out, foreign_2023::NATIONALITY, &opt(&card.nationality))?;
            put(
                &mut out,
                foreign_2023::PREVIOUS_LINK,
                &opt(&card.previous_card_link),
            )?;
        }
    }
    put(&mut out, KIND, &kind.marker().to_string())?;
    Ok(out)
}
