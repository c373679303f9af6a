//! Pinyin for searching the guide: `sbk`, `shebaoka` and `shebk` all find 社保卡.
//!
//! Readings come from the `pinyin` crate (Mandarin readings of the whole CJK Unified
//! Ideographs block), so a catalog ops publish with characters the sample never had is
//! searched just as well. A character with several readings gets the crate's most common
//! one; the few words of matter names where that reading is wrong are in [`OVERRIDES`]
//! (银行 is yín háng, not yín xíng).
//!
//! A query in Latin letters matches a run of consecutive syllables, each typed in full or
//! by its first letters: initials (`shbzk`), full pinyin (`shebaoka`) and mixes (`shebzk`)
//! alike. Spaces in the query are ignored; ü is typed as `v` (or `u`).

use pinyin::ToPinyin;

/// Words whose reading in matter and category names is not each character's most common
/// reading, with the syllables they take there.
const OVERRIDES: &[(&str, &[&str])] = &[
    ("银行", &["yin", "hang"]),
    ("行业", &["hang", "ye"]),
    ("重新", &["chong", "xin"]),
    ("重复", &["chong", "fu"]),
    ("重办", &["chong", "ban"]),
    ("补发", &["bu", "fa"]),
    ("会计", &["kuai", "ji"]),
    ("调动", &["diao", "dong"]),
    ("调档", &["diao", "dang"]),
    ("还款", &["huan", "kuan"]),
    ("退还", &["tui", "huan"]),
    ("长期", &["chang", "qi"]),
    ("成长", &["cheng", "zhang"]),
    ("单位", &["dan", "wei"]),
    ("朝阳", &["chao", "yang"]),
    ("传记", &["zhuan", "ji"]),
    ("供养", &["gong", "yang"]),
    ("提供", &["ti", "gong"]),
    ("发行", &["fa", "xing"]),
    ("处理", &["chu", "li"]),
    ("处罚", &["chu", "fa"]),
    ("差额", &["cha", "e"]),
    ("出差", &["chu", "chai"]),
    ("着装", &["zhuo", "zhuang"]),
    ("给付", &["ji", "fu"]),
    ("供给", &["gong", "ji"]),
    ("参保", &["can", "bao"]),
    ("人参", &["ren", "shen"]),
    ("数据", &["shu", "ju"]),
    ("种植", &["zhong", "zhi"]),
    ("转让", &["zhuan", "rang"]),
    ("乐器", &["yue", "qi"]),
    ("音乐", &["yin", "yue"]),
    ("省", &["sheng"]),
];

/// The syllables of `text`, one per Chinese character (plain pinyin, ü as `v`) and one per
/// run of Latin letters or digits (lowercased); punctuation and spaces separate nothing.
pub fn syllables(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut latin = String::new();
    let mut i = 0;
    while i < chars.len() {
        if let Some((word, readings)) = OVERRIDES
            .iter()
            .filter(|(w, _)| starts_with(&chars[i..], w))
            .max_by_key(|(w, _)| w.chars().count())
        {
            flush(&mut latin, &mut out);
            out.extend(readings.iter().map(|r| (*r).to_string()));
            i += word.chars().count();
            continue;
        }
        let c = chars[i];
        if let Some(reading) = c.to_pinyin() {
            flush(&mut latin, &mut out);
            out.push(reading.plain().replace('ü', "v"));
        } else if c.is_ascii_alphanumeric() {
            latin.push(c.to_ascii_lowercase());
        } else {
            flush(&mut latin, &mut out);
        }
        i += 1;
    }
    flush(&mut latin, &mut out);
    out
}

fn starts_with(chars: &[char], word: &str) -> bool {
    let mut text = chars.iter();
    !word.is_empty() && word.chars().all(|w| text.next() == Some(&w))
}

fn flush(latin: &mut String, out: &mut Vec<String>) {
    if !latin.is_empty() {
        out.push(std::mem::take(latin));
    }
}

/// The initials of a Chinese name (`社会保障卡申领` → `shbzksl`).
pub fn initials(text: &str) -> String {
    syllables(text)
        .iter()
        .filter_map(|s| s.chars().next())
        .collect()
}

/// Whether the letters `query` (lowercase, no spaces) spell a run of consecutive
/// `syllables`, each given in full or by a prefix of it.
fn spells(query: &[u8], syllables: &[String]) -> bool {
    fn from(query: &[u8], syllables: &[String], at: usize) -> bool {
        if query.is_empty() {
            return true;
        }
        let Some(s) = syllables.get(at) else {
            return false;
        };
        let s = s.as_bytes();
        let mut k = 0;
        while k < s.len() && k < query.len() && same_letter(query[k], s[k]) {
            k += 1;
            if from(&query[k..], syllables, at + 1) {
                return true;
            }
        }
        false
    }
    (0..syllables.len()).any(|start| from(query, syllables, start))
}

/// `u` typed for ü (`v`) is accepted: many people do not know the `v` convention.
fn same_letter(typed: u8, reading: u8) -> bool {
    typed == reading || (typed == b'u' && reading == b'v')
}

/// Whether `query` finds a thing called `name_zh` / `name_en`: a part of the Chinese name,
/// a part of the English name (any case), or pinyin of consecutive characters of the
/// Chinese name (full, initials or mixed).
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
    let letters: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    !letters.is_empty()
        && letters.chars().all(|c| c.is_ascii_lowercase())
        && spells(letters.as_bytes(), &syllables(name_zh))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_character_of_the_sample_catalog_names_has_a_reading() {
        let catalog = crate::catalog::sample();
        let names = catalog
            .matters
            .iter()
            .map(|m| m.name_zh.as_str())
            .chain(catalog.categories.iter().map(|c| c.name_zh.as_str()));
        for name in names {
            let han: String = name
                .chars()
                .filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
                .collect();
            assert_eq!(
                syllables(&han).len(),
                han.chars().count(),
                "{name} lost a character's reading: {:?}",
                syllables(&han)
            );
        }
    }

    #[test]
    fn search_finds_by_chinese_initials_full_pinyin_and_english() {
        assert_eq!(initials("社会保障卡申领"), "shbzksl");
        assert!(matches(
            "bzk",
            "社会保障卡申领",
            "Application for a social security card"
        ));
        assert!(
            matches("shehuibaozhang", "社会保障卡申领", ""),
            "full pinyin"
        );
        assert!(matches("shebao", "社保卡补换", ""));
        assert!(
            !matches("shebao", "社会保障卡申领", ""),
            "she and bao are not next to each other there"
        );
        assert!(matches("baozhangka", "社会保障卡申领", ""));
        assert!(matches("bao zhang ka", "社会保障卡申领", ""));
        assert!(
            matches("baozk", "社会保障卡申领", ""),
            "mixed full and initials"
        );
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
        assert!(
            !matches("kabao", "社会保障卡申领", ""),
            "syllables in order"
        );
        assert!(matches("gjj", "购房提取住房公积金", ""));
        assert!(matches("gongjijin", "购房提取住房公积金", ""));
    }

    #[test]
    fn polyphones_in_matter_names_take_their_reading_there() {
        assert_eq!(syllables("银行卡"), ["yin", "hang", "ka"]);
        assert!(matches("yh", "银行账户变更", ""));
        assert!(matches("xingzheng", "行政许可", ""));
        assert!(matches("chongxin", "重新申领", ""));
        assert_eq!(syllables("绿色通道"), ["lv", "se", "tong", "dao"]);
        assert!(matches("lvse", "绿色通道", ""));
        assert!(matches("luse", "绿色通道", ""), "u for ü");
    }

    /// A catalog ops publish for another hall, none of whose characters the old hand-made
    /// table had: every matter is still found by initials and by full pinyin.
    #[test]
    fn a_catalog_with_characters_not_in_the_sample_is_searchable() {
        let sample = crate::catalog::sample();
        let sample_chars: std::collections::HashSet<char> = sample
            .matters
            .iter()
            .flat_map(|m| m.name_zh.chars())
            .chain(sample.categories.iter().flat_map(|c| c.name_zh.chars()))
            .collect();
        let mut catalog = sample.clone();
        let names = [
            ("婚姻登记", "hydj", "hunyindengji"),
            ("殡葬补贴", "bzbt", "binzangbutie"),
            ("渔船检验", "ycjy", "yuchuanjianyan"),
            ("犬只饲养", "qzsy", "quanzhisiyang"),
        ];
        for (matter, (zh, _, _)) in catalog.matters.iter_mut().zip(names) {
            matter.name_zh = zh.to_string();
            matter.name_en = String::new();
        }
        for (zh, initials_query, full_query) in names {
            assert!(
                zh.chars().any(|c| !sample_chars.contains(&c)),
                "{zh} must use characters the sample lacks"
            );
            for query in [initials_query, full_query] {
                let found: Vec<&str> = catalog
                    .matters
                    .iter()
                    .filter(|m| matches(query, &m.name_zh, &m.name_en))
                    .map(|m| m.name_zh.as_str())
                    .collect();
                assert_eq!(found, [zh], "{query} should find exactly {zh}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_query_is_answered_without_panicking(query in "\\PC{0,12}", name in "\\PC{0,12}") {
            let _ = matches(&query, &name, &name);
            proptest::prop_assert!(matches("", &name, &name));
        }
    }
}
