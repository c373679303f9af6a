//! The ISO 7064 MOD 11-2 check character of 18-character identity numbers (GB 11643), used
//! by resident cards, Hong Kong/Macau/Taiwan residence permits and the 2023 foreigner card.

/// The check character the first 17 digits call for, or `None` if they are not 17 digits.
pub fn check_character(first17: &str) -> Option<char> {
    if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Weight of position i (1-based from the right, check character at 1) is 2^(i-1) mod 11.
    let sum: u32 = first17
        .bytes()
        .zip((2..=18).rev())
        .map(|(b, pos)| u32::from(b - b'0') * (1u32 << (pos - 1)) % 11)
        .sum();
    let value = (12 - sum % 11) % 11;
    Some(if value == 10 {
        'X'
    } else {
        char::from_digit(value, 10).expect("a value below 10 is a digit")
    })
}

/// Whether an 18-character number carries the right check character.
pub fn is_valid(number: &str) -> bool {
    number.len() == 18
        && number
            .char_indices()
            .last()
            .is_some_and(|(i, last)| check_character(&number[..i]) == Some(last))
}
