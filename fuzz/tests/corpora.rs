//! Every input the fuzzers kept (their corpora, and each crash they found once fixed) runs
//! through its harness here, on stable, in CI: a parser change that brings a found defect
//! back fails this test before it reaches a kiosk.

use std::path::Path;

#[test]
fn every_kept_input_passes_its_harness() {
    let corpora = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut ran = Vec::new();
    for (name, harness) in kiosk_fuzz::TARGETS {
        let dir = corpora.join(name);
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("no corpus for {name} at {}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "the corpus of {name} is empty");
        for input in &inputs {
            let bytes = std::fs::read(input).unwrap();
            let outcome = std::panic::catch_unwind(|| harness(&bytes));
            assert!(outcome.is_ok(), "{name} fails on {}", input.display());
        }
        ran.push(format!("{name}: {}", inputs.len()));
    }
    kiosk_fuzz::remove_scratch();
    eprintln!("{}", ran.join(", "));
}

#[test]
fn every_harness_has_a_libfuzzer_target() {
    let targets = Path::new(env!("CARGO_MANIFEST_DIR")).join("libfuzzer/fuzz_targets");
    for (name, _) in kiosk_fuzz::TARGETS {
        let file = targets.join(format!("{name}.rs"));
        let source = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{name} has no target at {}: {e}", file.display()));
        assert!(
            source.contains(&format!("kiosk_fuzz::{name}")),
            "{} runs another harness",
            file.display()
        );
    }
}
