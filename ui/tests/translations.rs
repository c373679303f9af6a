//! Every string the UI shows must exist in every bundled language: a citizen who chose
//! Chinese must never meet an English sentence.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;

fn slint_sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            slint_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "slint") {
            out.push(path);
        }
    }
}

/// The first argument of each `@tr("…")`, unescaped enough for our strings.
fn tr_strings(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("@tr(\"") {
        rest = &rest[at + 5..];
        let end = rest.find('"').unwrap();
        found.push(rest[..end].to_string());
        rest = &rest[end..];
    }
    found
}

fn po_translations(po: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut msgid = None;
    for line in po.lines() {
        if let Some(id) = line.strip_prefix("msgid \"") {
            msgid = Some(id.trim_end_matches('"').to_string());
        } else if let Some(s) = line.strip_prefix("msgstr \"")
            && let Some(id) = msgid.take()
        {
            pairs.push((id, s.trim_end_matches('"').to_string()));
        }
    }
    pairs
}

#[test]
fn every_ui_string_has_a_chinese_translation_with_the_same_placeholders() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    slint_sources(root, &mut files);
    let used: BTreeSet<String> = files
        .iter()
        .flat_map(|f| tr_strings(&std::fs::read_to_string(f).unwrap()))
        .collect();
    assert!(used.len() > 20, "the scan found the UI's strings");

    let po = std::fs::read_to_string(root.join("lang/zh_CN/LC_MESSAGES/kiosk-ui.po")).unwrap();
    let translations = po_translations(&po);
    let missing: Vec<&String> = used
        .iter()
        .filter(|s| !translations.iter().any(|(id, t)| id == *s && !t.is_empty()))
        .collect();
    assert!(missing.is_empty(), "untranslated UI strings: {missing:#?}");

    for (id, t) in &translations {
        assert_eq!(
            id.matches("{}").count(),
            t.matches("{}").count(),
            "placeholders differ in the translation of {id:?}"
        );
    }
}
