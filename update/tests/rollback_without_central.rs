//! systemd's failure path works with nothing but the disk: no central, and a restart command
//! that cannot even run. The switch is undone, and the result waits in the kiosk's outbox.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use kiosk_core::store::{Store, StoreKey, StoreOptions};

#[test]
fn a_pending_switch_is_rolled_back_and_reported_even_when_the_restart_command_fails() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let root = work.path().join("root");
    for v in ["0.1.0", "0.2.0"] {
        std::fs::create_dir_all(root.join("releases").join(v).join("bin")).unwrap();
    }
    std::os::unix::fs::symlink("releases/0.2.0", root.join("current")).unwrap();
    // What `apply` leaves on disk right after switching, before its gate ended (it died).
    let now = chrono::Utc::now();
    std::fs::write(
        root.join("agent.json"),
        serde_json::json!({
            "previous": null,
            "pending": {
                "version": "0.2.0",
                "from_version": "0.1.0",
                "sha256": "ab".repeat(32),
                "switched_at": now,
                "deadline_at": now + chrono::Duration::seconds(120),
                "event_id": uuid::Uuid::now_v7(),
            },
            "settled": {}
        })
        .to_string(),
    )
    .unwrap();
    std::fs::create_dir_all(&data).unwrap();
    let key = StoreKey::load_or_create(&data.join("store.key")).unwrap();
    let store = Store::open(&data, key, StoreOptions::default()).unwrap();
    let config = work.path().join("kiosk.toml");
    std::fs::write(
        &config,
        format!(
            "[kiosk]\ndata_dir = \"{}\"\n[hall]\nname_zh = \"东城\"\nname_en = \"Dongcheng\"\nhelp_window_zh = \"1号\"\nhelp_window_en = \"Desk 1\"\n[update]\nroot = \"{}\"\nrestart_command = [\"/nonexistent/restart-the-app\"]\n",
            data.display(),
            root.display()
        ),
    )
    .unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_kiosk-update"))
        .args([
            "rollback",
            "--reason",
            "start-limit-hit",
            "--json",
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(3), "{verdict}");
    assert_eq!(verdict["verdict"], "rolled_back");
    assert_eq!(verdict["reason"], "start_limit_hit");
    let detail = verdict["detail"].as_str().unwrap();
    assert!(detail.contains("start limit hit"), "{detail}");
    assert!(detail.contains("could not run"), "{detail}");
    assert_eq!(
        std::fs::read_link(root.join("current")).unwrap(),
        std::path::Path::new("releases/0.1.0")
    );

    let batch = store.next_batch(10, usize::MAX).unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].kind, "update_result");
    assert_eq!(batch[0].payload["outcome"], "rolled_back");
    assert_eq!(batch[0].payload["reason"], "start_limit_hit");
    assert_eq!(batch[0].payload["from_version"], "0.1.0");
}
