//! Pinyin initials for searching the guide (`sbk` finds 社保卡, `jm` finds 居民...).
//!
//! A small table of the characters in the hall catalogs' matter and category names, made
//! for the sample catalog (`data/catalog.sample.json`; the test below fails when a catalog
//! word is missing). Characters outside it are skipped in the initials, so a matter whose
//! name uses a new character is still found by its Chinese and English names. Polyphonic
//! characters take their reading in these names (行 xíng as in 通行证).

/// `(character, initial)`, sorted by character for binary search.
const INITIALS: &[(char, char)] = &[
    ('不', 'b'),
    ('与', 'y'),
    ('业', 'y'),
    ('个', 'g'),
    ('乡', 'x'),
    ('买', 'm'),
    ('产', 'c'),
    ('人', 'r'),
    ('份', 'f'),
    ('企', 'q'),
    ('优', 'y'),
    ('会', 'h'),
    ('住', 'z'),
    ('体', 't'),
    ('保', 'b'),
    ('入', 'r'),
    ('公', 'g'),
    ('具', 'j'),
    ('出', 'c'),
    ('办', 'b'),
    ('务', 'w'),
    ('动', 'd'),
    ('医', 'y'),
    ('卖', 'm'),
    ('卡', 'k'),
    ('印', 'y'),
    ('参', 'c'),
    ('取', 'q'),
    ('受', 's'),
    ('合', 'h'),
    ('商', 's'),
    ('城', 'c'),
    ('基', 'j'),
    ('境', 'j'),
    ('存', 'c'),
    ('居', 'j'),
    ('工', 'g'),
    ('年', 'n'),
    ('开', 'k'),
    ('录', 'l'),
    ('往', 'w'),
    ('待', 'd'),
    ('得', 'd'),
    ('户', 'h'),
    ('房', 'f'),
    ('所', 's'),
    ('打', 'd'),
    ('换', 'h'),
    ('提', 't'),
    ('料', 'l'),
    ('新', 'x'),
    ('明', 'm'),
    ('本', 'b'),
    ('来', 'l'),
    ('查', 'c'),
    ('残', 'c'),
    ('民', 'm'),
    ('注', 'z'),
    ('港', 'g'),
    ('澳', 'a'),
    ('理', 'l'),
    ('申', 's'),
    ('疗', 'l'),
    ('疾', 'j'),
    ('登', 'd'),
    ('社', 's'),
    ('积', 'j'),
    ('移', 'y'),
    ('税', 's'),
    ('立', 'l'),
    ('签', 'q'),
    ('籍', 'j'),
    ('纳', 'n'),
    ('综', 'z'),
    ('老', 'l'),
    ('行', 'x'),
    ('记', 'j'),
    ('设', 's'),
    ('证', 'z'),
    ('询', 'x'),
    ('购', 'g'),
    ('资', 'z'),
    ('身', 's'),
    ('转', 'z'),
    ('通', 't'),
    ('量', 'l'),
    ('金', 'j'),
    ('险', 'x'),
    ('障', 'z'),
    ('领', 'l'),
];

/// The initial of one character, if it is in the table.
pub fn initial(ch: char) -> Option<char> {
    static SORTED: std::sync::OnceLock<Vec<(char, char)>> = std::sync::OnceLock::new();
    let table = SORTED.get_or_init(|| {
        let mut t = INITIALS.to_vec();
        t.sort_unstable();
        t
    });
    table
        .binary_search_by_key(&ch, |(c, _)| *c)
        .ok()
        .map(|i| table[i].1)
}

/// The initials of a Chinese name (`社会保障卡申领` → `shbzksl`); unknown characters and
/// anything not Chinese are left out.
pub fn initials(text: &str) -> String {
    text.chars().filter_map(initial).collect()
}

/// Whether `query` finds a thing called `name_zh` / `name_en`: a part of the Chinese name,
/// a part of the English name (any case), or a part of the Chinese name's initials.
pub fn matches(query: &str, name_zh: &str, name_en: &str) -> bool {
    let query = query.trim();
    if query.is_empty() {
        return true;
    }
    if name_zh.contains(query) {
        return true;
    }
    let lower = query.to_lowercase();
    if name_en.to_lowercase().contains(&lower) {
        return true;
    }
    lower.chars().all(|c| c.is_ascii_lowercase()) && initials(name_zh).contains(&lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_character_of_the_sample_catalog_names_has_an_initial() {
        let catalog = crate::catalog::sample();
        let names = catalog
            .matters
            .iter()
            .map(|m| m.name_zh.as_str())
            .chain(catalog.categories.iter().map(|c| c.name_zh.as_str()));
        for name in names {
            for ch in name
                .chars()
                .filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
            {
                assert!(initial(ch).is_some(), "{ch} of {name} has no initial");
            }
        }
    }

    #[test]
    fn search_finds_by_chinese_initials_and_english() {
        assert_eq!(initials("社会保障卡申领"), "shbzksl");
        assert!(matches(
            "bzk",
            "社会保障卡申领",
            "Application for a social security card"
        ));
        assert!(matches("保障卡", "社会保障卡申领", ""));
        assert!(matches(
            "Social SEC",
            "社会保障卡申领",
            "Application for a social security card"
        ));
        assert!(!matches(
            "gjj",
            "社会保障卡申领",
            "Application for a social security card"
        ));
        assert!(matches("gjj", "购房提取住房公积金", ""));
    }

    proptest::proptest! {
        #[test]
        fn any_query_is_answered_without_panicking(query in "\\PC{0,12}", name in "\\PC{0,12}") {
            let _ = matches(&query, &name, &name);
            proptest::prop_assert!(matches("", &name, &name));
        }
    }
}
