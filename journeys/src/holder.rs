//! The card holder of a session: what a journey needs from an ID card, held so that it is
//! wiped from memory when the session ends.

use chrono::{Datelike, NaiveDate};
use kiosk_idcard::IdCard;
use zeroize::Zeroizing;

/// The person whose card was tapped. The plain name and number live only in zeroizing
/// buffers; [`std::fmt::Debug`] shows masked forms only.
#[derive(Clone)]
pub struct Holder {
    name: Zeroizing<String>,
    id_number: Zeroizing<String>,
    /// Birth date from the card (for the 60+ priority lane).
    pub birth_date: NaiveDate,
    /// `holder_hash` of CONTRACTS D.
    pub holder_hash: String,
    /// `张*`.
    pub masked_name: String,
}

impl std::fmt::Debug for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Holder")
            .field("name", &self.masked_name)
            .field("id_number", &kiosk_hal::mask_id_number(&self.id_number))
            .finish_non_exhaustive()
    }
}

impl Holder {
    /// From a card the reader delivered. The card's own fields are not kept.
    pub fn from_card(card: &IdCard) -> Holder {
        Holder::new(card.display_name(), &card.id_number, card.birth_date)
    }

    /// From the parts (tests, scripted citizens).
    pub fn new(name: &str, id_number: &str, birth_date: NaiveDate) -> Holder {
        Holder {
            name: Zeroizing::new(name.to_owned()),
            id_number: Zeroizing::new(id_number.to_owned()),
            birth_date,
            // Minimal compile fix (helper "ui"): keyed hashes are the journeys helper's.
            holder_hash: kiosk_api::citizen::HolderKey {
                id: String::new(),
                secret: [0; 32],
            }
            .hash(id_number),
            masked_name: kiosk_hal::mask_name(name),
        }
    }

    /// The full name, for the encrypted record only (never a log, never a screen).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The full ID number, for the encrypted record only.
    pub fn id_number(&self) -> &str {
        &self.id_number
    }

    /// Whole years of age on `today`.
    pub fn age_on(&self, today: NaiveDate) -> u32 {
        let b = self.birth_date;
        let mut age = today.year() - b.year();
        if (today.month(), today.day()) < (b.month(), b.day()) {
            age -= 1;
        }
        age.max(0) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_counts_whole_years_and_debug_is_masked() {
        let holder = Holder::new(
            "王建国",
            "11010519651127001X",
            NaiveDate::from_ymd_opt(1965, 11, 27).unwrap(),
        );
        let day = |m, d| NaiveDate::from_ymd_opt(2025, m, d).unwrap();
        assert_eq!(holder.age_on(day(11, 26)), 59);
        assert_eq!(holder.age_on(day(11, 27)), 60);
        let shown = format!("{holder:?}");
        assert!(
            !shown.contains("王建国") && !shown.contains("11010519651127001X"),
            "{shown}"
        );
    }
}
