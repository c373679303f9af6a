//! The card value: what a citizen's card says, decoded from the reader's 256 bytes of text.

mod check;
mod layout;
mod nation;

use std::fmt;

use chrono::NaiveDate;
use kiosk_hal::mask::{mask_id_number, mask_name};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::photo::Photo;

pub use check::{check_character, is_valid as id_number_is_valid};
pub use layout::{KIND_OFFSET, TEXT_LEN, decode_text, encode_text};
pub use nation::Nation;

/// Which document the card is, from the UCS-2 character at text offset 248.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardKind {
    /// 居民身份证: second-generation resident identity card (blank kind character).
    Resident,
    /// 港澳台居民居住证: Hong Kong/Macau/Taiwan residence permit (`J`).
    HkMoTwPermit,
    /// 外国人永久居留身份证, 2017 edition (`I`).
    ForeignPermanent,
    /// 外国人永久居留身份证, 2023 edition (`Y`).
    #[serde(rename = "foreign_permanent_2023")]
    ForeignPermanent2023,
}

impl CardKind {
    /// The kind for the character at text offset 248.
    pub fn from_marker(marker: char) -> Self {
        match marker {
            'I' => Self::ForeignPermanent,
            'Y' => Self::ForeignPermanent2023,
            'J' => Self::HkMoTwPermit,
            _ => Self::Resident,
        }
    }

    /// The character written at text offset 248 (a space for the resident card).
    pub fn marker(self) -> char {
        match self {
            Self::Resident => ' ',
            Self::HkMoTwPermit => 'J',
            Self::ForeignPermanent => 'I',
            Self::ForeignPermanent2023 => 'Y',
        }
    }

    /// The Chinese name of the document.
    pub fn label(self) -> &'static str {
        match self {
            Self::Resident => "居民身份证",
            Self::HkMoTwPermit => "港澳台居民居住证",
            Self::ForeignPermanent => "外国人永久居留身份证(2017版)",
            Self::ForeignPermanent2023 => "外国人永久居留身份证(2023版)",
        }
    }
}

/// Sex, by the GB/T 2261.1 code the card stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sex {
    /// `0`: 未知的性别.
    #[serde(rename = "未知")]
    Unknown,
    /// `1`: 男.
    #[serde(rename = "男")]
    Male,
    /// `2`: 女.
    #[serde(rename = "女")]
    Female,
    /// `9`: 未说明的性别.
    #[serde(rename = "未说明")]
    Unstated,
}

impl Sex {
    /// The sex for a GB/T 2261.1 code character.
    pub fn from_code(code: char) -> Option<Self> {
        match code {
            '0' => Some(Self::Unknown),
            '1' => Some(Self::Male),
            '2' => Some(Self::Female),
            '9' => Some(Self::Unstated),
            _ => None,
        }
    }

    /// The code character.
    pub fn code(self) -> char {
        match self {
            Self::Unknown => '0',
            Self::Male => '1',
            Self::Female => '2',
            Self::Unstated => '9',
        }
    }

    /// The name as printed on the card.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unknown => "未知",
            Self::Male => "男",
            Self::Female => "女",
            Self::Unstated => "未说明",
        }
    }
}

/// How long the card is valid: to a date, or 长期 (long-term, for people over 46).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Validity {
    /// Valid up to and including this date.
    Until(NaiveDate),
    /// 长期: valid without end.
    LongTerm,
}

impl fmt::Display for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Until(date) => write!(f, "{}", date.format("%Y-%m-%d")),
            Self::LongTerm => f.write_str("long-term"),
        }
    }
}

impl Serialize for Validity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Validity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text == "long-term" {
            return Ok(Self::LongTerm);
        }
        NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .map(Self::Until)
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "valid_until {text:?} is neither YYYY-MM-DD nor long-term"
                ))
            })
    }
}

/// One card as read: every field the card kind carries, typed.
///
/// The JSON form (serde) is what `kioskctl idcard read --json --reveal` prints and what the
/// simulator's card files hold; fields a kind does not carry are left out. `Debug` and
/// `Display` mask the personal fields, so a card can reach a log by accident without harm.
/// Its text fields, photo and fingerprint are wiped from memory when it is dropped.
#[derive(
    Clone, PartialEq, Eq, Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop,
)]
#[serde(deny_unknown_fields)]
pub struct IdCard {
    /// Which document this is.
    #[zeroize(skip)]
    pub card_type: CardKind,
    /// Name in Chinese characters (may be empty on a foreigner's card).
    pub name: String,
    /// Name in Latin letters (foreigner cards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub english_name: Option<String>,
    /// Sex.
    #[zeroize(skip)]
    pub sex: Sex,
    /// Nation (民族), resident cards only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[zeroize(skip)]
    pub nation: Option<Nation>,
    /// Nationality as the GB/T 2659 (ISO 3166-1 alpha-3) code, foreigner cards only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    /// Date of birth.
    #[zeroize(skip)]
    pub birth_date: NaiveDate,
    /// Address of household registration or residence (resident cards and permits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Identity number: 18 characters, or 15 on the 2017 foreigner card.
    pub id_number: String,
    /// Issuing authority (签发机关), as printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// First day of validity.
    #[zeroize(skip)]
    pub valid_from: NaiveDate,
    /// Last day of validity, or long-term.
    #[zeroize(skip)]
    pub valid_until: Validity,
    /// Number of the Hong Kong/Macau/Taiwan travel permit (通行证号码), permits only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_number: Option<String>,
    /// How many times the card was issued (签发次数 / 换证次数).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_count: Option<u8>,
    /// Card version (证件版本号), 2017 foreigner card only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_version: Option<String>,
    /// Code of the accepting authority (当次申请受理机关代码), 2017 foreigner card only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority_code: Option<String>,
    /// Link to an earlier card's number (既往版本证件号码关联项), 2023 foreigner card only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_card_link: Option<String>,
    /// The additional address written after issue (command 30 03), if the card has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_address: Option<String>,
    /// The WLT photo, opaque and vendor-encoded: see [`crate::photo`].
    #[serde(skip)]
    pub photo: Photo,
    /// The fingerprint block (command 30 10), opaque, if it was read.
    #[serde(skip)]
    pub fingerprint: Option<Vec<u8>>,
}

impl IdCard {
    /// The holder's name in its most useful form: Chinese if present, else English.
    pub fn display_name(&self) -> &str {
        match &self.english_name {
            Some(english) if self.name.is_empty() => english,
            _ => &self.name,
        }
    }
}

impl fmt::Debug for IdCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdCard")
            .field("card_type", &self.card_type)
            .field("name", &mask_name(&self.name))
            .field("english_name", &self.english_name.as_deref().map(mask_name))
            .field("sex", &self.sex)
            .field("nation", &self.nation)
            .field("nationality", &self.nationality)
            .field("birth_date", &"****-**-**")
            .field("address", &self.address.as_ref().map(|_| "***"))
            .field("id_number", &mask_id_number(&self.id_number))
            .field("valid_until", &self.valid_until)
            .field("photo", &self.photo)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for IdCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} (valid until {})",
            self.card_type.label(),
            mask_name(self.display_name()),
            mask_id_number(&self.id_number),
            self.valid_until
        )
    }
}

/// Why the card's text could not be turned into an [`IdCard`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// The reader gave fewer than 256 bytes of text.
    #[error("card text is {0} bytes, expected {TEXT_LEN}")]
    TextTooShort(usize),
    /// A field is not valid UCS-2.
    #[error("field {field} is not valid UCS-2 text")]
    BadText {
        /// Field name.
        field: &'static str,
    },
    /// The sex code is not one GB/T 2261.1 knows.
    #[error("sex code {0:?} is not 0, 1, 2 or 9")]
    BadSex(String),
    /// The nation code is not in GB/T 3304.
    #[error("nation code {0:?} is not in GB/T 3304")]
    UnknownNation(String),
    /// A date field is not YYYYMMDD (or 长期 where allowed).
    #[error("field {field} holds {text:?}, expected a date YYYYMMDD")]
    BadDate {
        /// Field name.
        field: &'static str,
        /// What it held (dates are not shown masked: validity dates are not personal, and
        /// birth dates reach this only when malformed).
        text: String,
    },
    /// A count field is not a number.
    #[error("field {field} holds {text:?}, expected a number")]
    BadNumber {
        /// Field name.
        field: &'static str,
        /// What it held.
        text: String,
    },
    /// The identity number has the wrong length or characters.
    #[error("identity number {masked} is malformed: expected {expected}")]
    BadIdNumber {
        /// The number, masked.
        masked: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The ISO 7064 MOD 11-2 check character is wrong: a misread or a forged card.
    #[error(
        "identity number {masked} has check character {found}, but its digits call for {expected}; the card may be damaged or forged"
    )]
    BadCheckCharacter {
        /// The number, masked.
        masked: String,
        /// What the first 17 digits call for.
        expected: char,
        /// What the card carries.
        found: char,
    },
    /// A field is too long for its slot (encoding, for the simulator).
    #[error("field {field} is {len} bytes in UCS-2, its slot holds {max}")]
    TooLong {
        /// Field name.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The slot's size.
        max: usize,
    },
    /// A field the card kind needs is missing (encoding, for the simulator).
    #[error("a {kind:?} card needs the field {field}")]
    Missing {
        /// The kind.
        kind: CardKind,
        /// Field name.
        field: &'static str,
    },
}
