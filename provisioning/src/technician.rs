//! The technician PIN that opens technician mode on the kiosk screen. Stored only as an
//! argon2id PHC string in `[technician] pin_hash` (the app verifies against it with the
//! `argon2` crate, so any PHC string argon2 accepts works).

use std::path::Path;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};

use crate::config_file::{self, ConfigFileError};

/// Fewest digits a PIN may have.
pub const MIN_PIN_DIGITS: usize = 6;
/// Most digits a PIN may have (the screen's keypad field).
pub const MAX_PIN_DIGITS: usize = 12;

/// Why the PIN was not set.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// The PIN is not 6–12 digits, or is trivially guessed.
    #[error("{0}")]
    Weak(String),
    /// Hashing failed (should not happen with valid parameters).
    #[error("hashing the PIN failed: {0}")]
    Hash(String),
    /// The configuration file could not be edited.
    #[error(transparent)]
    Config(#[from] ConfigFileError),
    /// The configuration file does not exist.
    #[error(
        "{0} does not exist: provision the kiosk first (`kioskctl provision`), then set the PIN"
    )]
    NoConfig(String),
}

/// Checks that `pin` is 6–12 digits and not one a bystander guesses first.
pub fn check_pin(pin: &str) -> Result<(), PinError> {
    let digits: Vec<u8> = pin.bytes().collect();
    if !(MIN_PIN_DIGITS..=MAX_PIN_DIGITS).contains(&digits.len())
        || !digits.iter().all(u8::is_ascii_digit)
    {
        return Err(PinError::Weak(format!(
            "a technician PIN is {MIN_PIN_DIGITS} to {MAX_PIN_DIGITS} digits (0-9), nothing else"
        )));
    }
    let steps: Vec<i16> = digits
        .windows(2)
        .map(|w| i16::from(w[1]) - i16::from(w[0]))
        .collect();
    let constant_step = steps.iter().all(|s| *s == steps[0]) && steps[0].abs() <= 1;
    if constant_step {
        return Err(PinError::Weak(
            "that PIN is guessed first (all one digit, or counting up or down): choose another"
                .into(),
        ));
    }
    Ok(())
}

/// The argon2id PHC string of `pin` (random salt, the argon2 crate's default parameters).
pub fn hash_pin(pin: &str) -> Result<String, PinError> {
    check_pin(pin)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PinError::Hash(e.to_string()))
}

/// Whether `pin` matches `pin_hash` (a PHC string; its own parameters are used).
pub fn verify_pin(pin_hash: &str, pin: &str) -> bool {
    PasswordHash::new(pin_hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(pin.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Hashes `pin` and writes it into `[technician] pin_hash` of the configuration at `path`,
/// keeping everything else in the file. Returns the hash.
pub fn set_pin(path: &Path, pin: &str) -> Result<String, PinError> {
    let hash = hash_pin(pin)?;
    let text =
        config_file::read(path)?.ok_or_else(|| PinError::NoConfig(path.display().to_string()))?;
    let edited = config_file::set_pin_hash(&text, &hash, path)?;
    config_file::check_writable(path)?;
    config_file::write_atomic(path, &edited)?;
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashed_pin_verifies_and_a_wrong_one_does_not() {
        let hash = hash_pin("470219").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(verify_pin(&hash, "470219"));
        assert!(!verify_pin(&hash, "470218"));
        assert!(!verify_pin("not a hash", "470219"));
        // Two hashes of the same PIN differ by their salt.
        assert_ne!(hash, hash_pin("470219").unwrap());
    }

    #[test]
    fn short_long_lettered_and_obvious_pins_are_refused() {
        for pin in [
            "12345",
            "1234567890123",
            "12a456",
            "000000",
            "123456",
            "987654",
        ] {
            assert!(check_pin(pin).is_err(), "{pin} was accepted");
        }
        check_pin("135790").unwrap();
    }
}
