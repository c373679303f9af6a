#![allow(clippy::unwrap_used)]
//! `kioskctl technician set-pin`: the PIN goes into the configuration only as an argon2id
//! hash that the app's loader accepts and that verifies against the PIN.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use kiosk_core::config::Config;

const CONFIG: &str = r#"# Kiosk 2 beside window 12.
[kiosk]
data_dir = "/var/lib/kiosk"

[hall]
name_zh = "东城区政务服务中心"
name_en = "Dongcheng District Government Service Center"
help_window_zh = "1号综合咨询台"   # by the entrance
help_window_en = "Information desk 1"
"#;

fn set_pin(config: &Path, stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kioskctl"));
    command
        .args(["technician", "set-pin", "--config"])
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if stdin.is_some() {
        command.arg("--pin-stdin");
    }
    let mut child = command.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

#[test]
fn a_pin_is_stored_as_an_argon2id_hash_the_app_accepts_and_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiosk.toml");
    std::fs::write(&path, CONFIG).unwrap();

    let out = set_pin(&path, Some("470219\n"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("470219"), "the PIN itself is never written");
    assert!(text.contains("# by the entrance"), "{text}");
    let config = Config::load(&path).unwrap();
    let hash = config.technician.pin_hash.unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(kioskctl::technician::verify_pin(&hash, "470219"));
    assert!(!kioskctl::technician::verify_pin(&hash, "470218"));

    // A guessable PIN is refused and the file keeps the old hash.
    let out = set_pin(&path, Some("123456\n"));
    assert_eq!(out.status.code(), Some(1));
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(message.contains("guessed first"), "{message}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn without_a_terminal_the_pin_must_come_on_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiosk.toml");
    std::fs::write(&path, CONFIG).unwrap();
    let out = set_pin(&path, None);
    assert!(!out.status.success());
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(message.contains("--pin-stdin"), "{message}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), CONFIG);
}
