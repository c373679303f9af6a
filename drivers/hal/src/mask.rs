//! Masking of personal data. ID-card fields must never reach a log, a screen that others can
//! see, or a ticket in full; these are the only forms in which they may.

/// Masks a person's name: the first character stays, the rest become `*`
/// (`张三` → `张*`, `欧阳娜娜` → `欧***`, `ZHANG SAN` → `Z********`).
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let rest = chars.count();
            let mut out = String::with_capacity(first.len_utf8() + rest);
            out.push(first);
            out.extend(std::iter::repeat_n('*', rest.max(1)));
            out
        }
    }
}

/// Masks an identity number: the first four and last four characters stay
/// (`110101199003071234` → `1101**********1234`). Numbers of eight characters or fewer are
/// masked whole, because four and four would reveal all of them.
pub fn mask_id_number(number: &str) -> String {
    let chars: Vec<char> = number.trim().chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let mut out = String::with_capacity(chars.len());
    out.extend(&chars[..4]);
    out.extend(std::iter::repeat_n('*', chars.len() - 8));
    out.extend(&chars[chars.len() - 4..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn masks_names_as_the_hall_expects() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("李"), "李*");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn masks_id_numbers_keeping_four_and_four() {
        assert_eq!(mask_id_number("110101199003071234"), "1101**********1234");
        assert_eq!(mask_id_number("11010119900307123X"), "1101**********123X");
        assert_eq!(mask_id_number("12345678"), "********");
    }

    proptest! {
        #[test]
        fn a_masked_id_number_never_shows_its_middle(s in "[0-9X]{9,20}") {
            let masked = mask_id_number(&s);
            prop_assert_eq!(masked.chars().count(), s.chars().count());
            let middle: String = masked.chars().skip(4).take(s.len() - 8).collect();
            prop_assert!(middle.chars().all(|c| c == '*'));
        }

        #[test]
        fn a_masked_name_keeps_only_its_first_character(s in "\\PC{1,12}") {
            let masked = mask_name(&s);
            prop_assert!(masked.chars().skip(1).all(|c| c == '*'));
        }
    }
}
