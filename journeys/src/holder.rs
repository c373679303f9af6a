//! The card holder of a session: what a journey needs from an ID card, held so that it is
//! wiped from memory when the session ends.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{Datelike, NaiveDate};
use kiosk_api::citizen::HolderKeys;
use kiosk_idcard::IdCard;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The person whose card was tapped. Every field is wiped when the holder is dropped (the
/// journey holding it is dropped at the end of the session); [`std::fmt::Debug`] shows
/// masked forms only.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Holder {
    name: String,
    id_number: String,
    /// Birth date as days from the common era (a plain number, so it is wiped too).
    birth_days: i32,
    /// [`kiosk_api::citizen::HolderKey::hash`] of the number under every holder key the
    /// kiosk has, the current key's first; empty when the kiosk has no key.
    hashes: Vec<String>,
    /// `张*`.
    pub masked_name: String,
    #[zeroize(skip)]
    _alive: Alive,
}

/// Holders alive in this process (a session's card, the copies its steps hand around).
static ALIVE: AtomicUsize = AtomicUsize::new(0);

/// Counts itself among the living holders while it exists.
struct Alive;

impl Alive {
    fn new() -> Alive {
        ALIVE.fetch_add(1, Ordering::SeqCst);
        Alive
    }
}

impl Clone for Alive {
    fn clone(&self) -> Alive {
        Alive::new()
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        ALIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How many card holders are in this process's memory now: 0 between sessions. For the
/// technician's diagnostics and the tests that prove a session's card data is dropped (and
/// so wiped) when the session ends.
pub fn holders_in_memory() -> usize {
    ALIVE.load(Ordering::SeqCst)
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
    /// From a card the reader delivered, hashed under `keys` (none: the kiosk has no holder
    /// key yet, and nothing can be looked up by card). The card's own fields are not kept.
    pub fn from_card(card: &IdCard, keys: Option<&HolderKeys>) -> Holder {
        Holder::new(card.display_name(), &card.id_number, card.birth_date, keys)
    }

    /// From the parts (tests, scripted citizens).
    pub fn new(
        name: &str,
        id_number: &str,
        birth_date: NaiveDate,
        keys: Option<&HolderKeys>,
    ) -> Holder {
        Holder {
            name: name.to_owned(),
            id_number: id_number.to_owned(),
            birth_days: birth_date.num_days_from_ce(),
            hashes: keys.map(|k| k.all_hashes(id_number)).unwrap_or_default(),
            masked_name: kiosk_hal::mask_name(name),
            _alive: Alive::new(),
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

    /// Birth date from the card (for the 60+ priority lane).
    pub fn birth_date(&self) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(self.birth_days).unwrap_or_default()
    }

    /// The hash new records carry (under the current holder key); `None` without a key.
    pub fn holder_hash(&self) -> Option<&str> {
        self.hashes.first().map(String::as_str)
    }

    /// The hashes a lookup by card tries (every key, current first); empty without a key.
    pub fn lookup_hashes(&self) -> &[String] {
        &self.hashes
    }

    /// Whether `hash` is this holder's under any of the kiosk's keys.
    pub fn matches(&self, hash: &str) -> bool {
        self.hashes.iter().any(|h| h == hash)
    }

    /// Whole years of age on `today`.
    pub fn age_on(&self, today: NaiveDate) -> u32 {
        let b = self.birth_date();
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
    use kiosk_api::citizen::HolderKey;

    fn keys() -> HolderKeys {
        HolderKeys {
            keys: vec![
                HolderKey {
                    id: "new".into(),
                    secret: [2; 32],
                },
                HolderKey {
                    id: "old".into(),
                    secret: [1; 32],
                },
            ],
        }
    }

    #[test]
    fn age_counts_whole_years_and_debug_is_masked() {
        let holder = Holder::new(
            "王建国",
            "11010519651127001X",
            NaiveDate::from_ymd_opt(1965, 11, 27).unwrap(),
            None,
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

    #[test]
    fn a_holder_is_hashed_under_every_key_current_first_and_not_at_all_without_keys() {
        let born = NaiveDate::from_ymd_opt(1965, 11, 27).unwrap();
        let keys = keys();
        let holder = Holder::new("王建国", "11010519651127001X", born, Some(&keys));
        assert_eq!(
            holder.holder_hash(),
            Some(keys.keys[0].hash("11010519651127001X").as_str())
        );
        assert!(holder.matches(&keys.keys[1].hash("11010519651127001X")));
        assert_eq!(holder.lookup_hashes().len(), 2);
        let keyless = Holder::new("王建国", "11010519651127001X", born, None);
        assert_eq!(keyless.holder_hash(), None);
        assert!(keyless.lookup_hashes().is_empty());
    }

    #[test]
    fn a_holder_is_wiped_on_drop_and_wiping_leaves_nothing_of_the_card() {
        fn wiped_on_drop<T: ZeroizeOnDrop>() {}
        wiped_on_drop::<Holder>();
        wiped_on_drop::<IdCard>();
        let born = NaiveDate::from_ymd_opt(1965, 11, 27).unwrap();
        let mut holder = Holder::new("王建国", "11010519651127001X", born, Some(&keys()));
        // What the drop does, done by hand so the result can be looked at.
        holder.zeroize();
        assert_eq!(holder.name(), "");
        assert_eq!(holder.id_number(), "");
        assert_eq!(holder.masked_name, "");
        assert!(holder.lookup_hashes().is_empty());
        assert_ne!(holder.birth_date(), born);
    }
}
