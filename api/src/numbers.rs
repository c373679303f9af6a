//! Numbers a citizen reads aloud and types on a digit keypad.
//!
//! An application number is 17 digits, unique on the platform by construction:
//!
//! ```text
//! HHHH KK YYMMDD SSSS C
//! │    │  │      │    └ Damm check digit over the 16 digits before it
//! │    │  │      └ the kiosk's sequence of that day, 0001..=9999
//! │    │  └ the hall's business date
//! │    └ the kiosk's number in its hall, 01..=99, given by central at enrolment
//! └ the hall's code on the platform, 0001..=9999, given by central
//! ```
//!
//! Central hands out hall codes and kiosk numbers, so two kiosks can never make the same
//! number, however close together they were enrolled; and central can tell from the number
//! alone whether the kiosk that sends a record may have made it. The Damm check digit catches
//! every single wrong digit and every swap of two neighbouring digits, the two mistakes people
//! make on a keypad.

use std::fmt;

use chrono::{Datelike as _, NaiveDate};
use serde::{Deserialize, Serialize};

/// A hall's code on the platform, `1..=9999`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct HallCode(u16);

/// A kiosk's number in its hall, `1..=99`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct KioskNo(u8);

/// Why a hall code, kiosk number or application number is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Hall codes are 1..=9999.
    #[error("hall code {0} is not in 1..=9999")]
    HallCode(u32),
    /// Kiosk numbers are 1..=99.
    #[error("kiosk number {0} is not in 1..=99")]
    KioskNo(u32),
    /// The daily sequence is 1..=9999.
    #[error("sequence {0} is not in 1..=9999")]
    Sequence(u32),
    /// Dates before 2000 or after 2099 have no two-digit year here.
    #[error("date {0} is outside 2000..=2099")]
    Date(NaiveDate),
    /// Not 17 digits (spaces and hyphens between groups are allowed and ignored).
    #[error("an application number is 17 digits")]
    Shape,
    /// The date digits are not a calendar date.
    #[error("the date part of the application number is not a date")]
    BadDate,
    /// A digit was mistyped or two were swapped.
    #[error("the check digit does not match: a digit is wrong or two are swapped")]
    CheckDigit,
}

impl HallCode {
    /// The largest hall code.
    pub const MAX: u16 = 9999;

    /// A hall code, if in range.
    pub fn new(code: u16) -> Result<HallCode, NumberError> {
        if (1..=Self::MAX).contains(&code) {
            Ok(HallCode(code))
        } else {
            Err(NumberError::HallCode(u32::from(code)))
        }
    }

    /// The code as a number.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for HallCode {
    type Error = NumberError;
    fn try_from(code: u16) -> Result<Self, Self::Error> {
        HallCode::new(code)
    }
}

impl From<HallCode> for u16 {
    fn from(code: HallCode) -> u16 {
        code.0
    }
}

impl fmt::Display for HallCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.0)
    }
}

impl KioskNo {
    /// The largest kiosk number in a hall.
    pub const MAX: u8 = 99;

    /// A kiosk number, if in range.
    pub fn new(no: u8) -> Result<KioskNo, NumberError> {
        if (1..=Self::MAX).contains(&no) {
            Ok(KioskNo(no))
        } else {
            Err(NumberError::KioskNo(u32::from(no)))
        }
    }

    /// The number.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for KioskNo {
    type Error = NumberError;
    fn try_from(no: u8) -> Result<Self, Self::Error> {
        KioskNo::new(no)
    }
}

impl From<KioskNo> for u8 {
    fn from(no: KioskNo) -> u8 {
        no.0
    }
}

impl fmt::Display for KioskNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}

/// An application number; see the module documentation for its digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApplicationNo {
    hall: HallCode,
    kiosk: KioskNo,
    date: NaiveDate,
    seq: u16,
}

impl ApplicationNo {
    /// Number of digits, check digit included.
    pub const DIGITS: usize = 17;
    /// The largest daily sequence of one kiosk.
    pub const MAX_SEQ: u16 = 9999;

    /// The number of the `seq`-th application of kiosk `kiosk` of hall `hall` on `date`.
    pub fn new(
        hall: HallCode,
        kiosk: KioskNo,
        date: NaiveDate,
        seq: u16,
    ) -> Result<ApplicationNo, NumberError> {
        if !(2000..=2099).contains(&date.year()) {
            return Err(NumberError::Date(date));
        }
        if !(1..=Self::MAX_SEQ).contains(&seq) {
            return Err(NumberError::Sequence(u32::from(seq)));
        }
        Ok(ApplicationNo {
            hall,
            kiosk,
            date,
            seq,
        })
    }

    /// Reads a number as typed or printed: 17 digits, optionally grouped with spaces or
    /// hyphens. Anything else, and any number whose check digit fails, is refused.
    pub fn parse(text: &str) -> Result<ApplicationNo, NumberError> {
        let mut digits = [0u8; Self::DIGITS];
        let mut n = 0;
        for b in text.trim().bytes() {
            match b {
                b'0'..=b'9' => {
                    if n == Self::DIGITS {
                        return Err(NumberError::Shape);
                    }
                    digits[n] = b - b'0';
                    n += 1;
                }
                b' ' | b'-' => {}
                _ => return Err(NumberError::Shape),
            }
        }
        if n != Self::DIGITS {
            return Err(NumberError::Shape);
        }
        if damm(&digits[..16]) != digits[16] {
            return Err(NumberError::CheckDigit);
        }
        let num = |range: std::ops::Range<usize>| {
            digits[range]
                .iter()
                .fold(0u32, |acc, d| acc * 10 + u32::from(*d))
        };
        let hall = HallCode::new(num(0..4) as u16)?;
        let kiosk = KioskNo::new(num(4..6) as u8)?;
        let date = NaiveDate::from_ymd_opt(2000 + num(6..8) as i32, num(8..10), num(10..12))
            .ok_or(NumberError::BadDate)?;
        ApplicationNo::new(hall, kiosk, date, num(12..16) as u16)
    }

    /// The hall that made it.
    pub fn hall(&self) -> HallCode {
        self.hall
    }

    /// The kiosk of that hall that made it.
    pub fn kiosk(&self) -> KioskNo {
        self.kiosk
    }

    /// The business date it was made on.
    pub fn date(&self) -> NaiveDate {
        self.date
    }

    /// Its place in the kiosk's day.
    pub fn seq(&self) -> u16 {
        self.seq
    }

    /// The number in groups for reading aloud and printing: `0012 03 261201 0007 5`.
    pub fn grouped(&self) -> String {
        let s = self.to_string();
        format!(
            "{} {} {} {} {}",
            &s[0..4],
            &s[4..6],
            &s[6..12],
            &s[12..16],
            &s[16..17]
        )
    }
}

impl fmt::Display for ApplicationNo {
    /// The 17 digits with nothing between them: the form stored and sent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = format!(
            "{:04}{:02}{:02}{:02}{:02}{:04}",
            self.hall.get(),
            self.kiosk.get(),
            self.date.year() - 2000,
            self.date.month(),
            self.date.day(),
            self.seq
        );
        let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
        write!(f, "{body}{}", damm(&digits))
    }
}

impl std::str::FromStr for ApplicationNo {
    type Err = NumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApplicationNo::parse(s)
    }
}

impl Serialize for ApplicationNo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ApplicationNo {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ApplicationNo::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The Damm quasigroup of order 10 (Damm 2004), whose check digit detects all single-digit
/// errors and all adjacent transpositions.
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/// The Damm check digit of `digits` (each 0..=9).
pub fn damm(digits: &[u8]) -> u8 {
    digits
        .iter()
        .fold(0u8, |interim, d| DAMM[interim as usize][*d as usize % 10])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ApplicationNo {
        ApplicationNo::new(
            HallCode::new(12).unwrap(),
            KioskNo::new(3).unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            7,
        )
        .unwrap()
    }

    #[test]
    fn the_damm_digit_matches_the_published_example() {
        // Damm's worked example: 572 has check digit 4.
        assert_eq!(damm(&[5, 7, 2]), 4);
        assert_eq!(damm(&[5, 7, 2, 4]), 0);
    }

    #[test]
    fn an_application_number_is_hall_kiosk_date_sequence_and_check() {
        let no = sample();
        let text = no.to_string();
        assert_eq!(&text[..16], "0012032612010007");
        assert_eq!(text.len(), 17);
        assert!(text.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(ApplicationNo::parse(&text), Ok(no));
        assert_eq!(ApplicationNo::parse(&no.grouped()), Ok(no));
        assert_eq!(no.grouped().replace(' ', ""), text);
        assert_eq!(no.hall().get(), 12);
        assert_eq!(no.kiosk().get(), 3);
        assert_eq!(no.seq(), 7);
    }

    #[test]
    fn numbers_that_are_not_application_numbers_are_refused() {
        assert_eq!(ApplicationNo::parse(""), Err(NumberError::Shape));
        assert_eq!(
            ApplicationNo::parse("0193A1B2-20261126-0007"),
            Err(NumberError::Shape)
        );
        assert_eq!(
            ApplicationNo::parse("../etc/passwd"),
            Err(NumberError::Shape)
        );
        let text = sample().to_string();
        assert_eq!(
            ApplicationNo::parse(&format!("{text}0")),
            Err(NumberError::Shape)
        );
        // Hall 0000 and kiosk 00 do not exist, whatever the check digit says.
        let body = "0000032612010007";
        let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
        assert_eq!(
            ApplicationNo::parse(&format!("{body}{}", damm(&digits))),
            Err(NumberError::HallCode(0))
        );
        let body = "0012032613010007";
        let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
        assert_eq!(
            ApplicationNo::parse(&format!("{body}{}", damm(&digits))),
            Err(NumberError::BadDate)
        );
    }

    proptest::proptest! {
        #[test]
        fn every_single_wrong_digit_and_every_neighbour_swap_is_caught(
            hall in 1u16..=9999, kiosk in 1u8..=99, day in 0i64..36_500, seq in 1u16..=9999,
            at in 0usize..17, by in 1u8..=9,
        ) {
            let date = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + chrono::Days::new(day as u64);
            let no = ApplicationNo::new(HallCode::new(hall).unwrap(), KioskNo::new(kiosk).unwrap(), date, seq).unwrap();
            let text = no.to_string();
            proptest::prop_assert_eq!(ApplicationNo::parse(&text), Ok(no));
            let mut wrong: Vec<u8> = text.bytes().collect();
            wrong[at] = b'0' + (wrong[at] - b'0' + by) % 10;
            let wrong = String::from_utf8(wrong).unwrap();
            proptest::prop_assert!(ApplicationNo::parse(&wrong).is_err());
            if at < 16 {
                let mut swapped: Vec<u8> = text.bytes().collect();
                if swapped[at] != swapped[at + 1] {
                    swapped.swap(at, at + 1);
                    let swapped = String::from_utf8(swapped).unwrap();
                    proptest::prop_assert!(ApplicationNo::parse(&swapped).is_err());
                }
            }
        }

        #[test]
        fn parsing_any_text_never_panics(text in "\\PC{0,40}") {
            let _ = ApplicationNo::parse(&text);
        }
    }
}
