#![allow(clippy::unwrap_used)]
//! Runs `sync-torture` at a size CI affords: every fault kind, a few kills, two central restarts.

use std::process::Command;

#[test]
fn three_hundred_events_survive_kills_restarts_and_a_faulty_network_exactly_once_in_order() {
    let out = Command::new(env!("CARGO_BIN_EXE_sync-torture"))
        .args([
            "--events",
            "300",
            "--kills",
            "3",
            "--proxy-faults",
            "--rate",
            "150",
        ])
        .args(["--timeout", "240"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "sync-torture failed:\n{stdout}\n{stderr}"
    );
    assert_eq!(
        stdout.trim(),
        "sent 300, stored 300, duplicates 0, missing 0, out-of-order 0",
        "{stderr}"
    );
}
