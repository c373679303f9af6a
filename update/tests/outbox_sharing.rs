//! The app and the agent write into the same outbox from two processes at once: the app's
//! store commits events while `kiosk-update` (another process) hands its queued reports in.
//! Every event must be there exactly once with its own sequence number, with no gap, and the
//! app's uplink must read the agent's rows like its own.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use kiosk_api::{Stream, UpdateOutcome, UpdateResult};
use kiosk_core::store::{NewEvent, Store, StoreKey, StoreOptions};
use kiosk_update::Reports;

const REPORTS: usize = 150;

#[test]
fn the_agents_reports_and_the_apps_events_share_the_outbox_from_two_processes() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let root = work.path().join("root");
    std::fs::create_dir_all(root.join("releases/0.1.0/bin")).unwrap();
    std::os::unix::fs::symlink("releases/0.1.0", root.join("current")).unwrap();
    let config = work.path().join("kiosk.toml");
    std::fs::write(
        &config,
        format!(
            "[kiosk]\ndata_dir = \"{}\"\n[hall]\nname_zh = \"东城\"\nname_en = \"Dongcheng\"\nhelp_window_zh = \"1号\"\nhelp_window_en = \"Desk 1\"\n",
            data.display()
        ),
    )
    .unwrap();
    // The app's store.
    std::fs::create_dir_all(&data).unwrap();
    let key = StoreKey::load_or_create(&data.join("store.key")).unwrap();
    let store = Store::open(&data, key, StoreOptions::default()).unwrap();

    let reports = Reports::new(&root.join("reports"), &data);
    let mut ids = Vec::new();
    for i in 0..REPORTS {
        ids.push(
            reports
                .queue(UpdateResult {
                    version: format!("0.2.{i}"),
                    from_version: "0.1.0".into(),
                    outcome: UpdateOutcome::Refused,
                    reason: "downgrade".into(),
                    detail: String::new(),
                })
                .unwrap(),
        );
    }

    // The agent hands its queue in at the start of every command.
    let mut agent = Command::new(env!("CARGO_BIN_EXE_kiosk-update"))
        .args(["confirm", "--json", "--config"])
        .arg(&config)
        .arg("--root")
        .arg(&root)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut app_events = 0;
    loop {
        store
            .enqueue(NewEvent {
                stream: Stream::Health,
                kind: "health_report".into(),
                payload: serde_json::json!({ "n": app_events }),
                personal: false,
                attachments: vec![],
            })
            .unwrap();
        app_events += 1;
        if let Some(status) = agent.try_wait().unwrap() {
            assert!(status.success());
            if app_events >= 50 {
                break;
            }
        }
    }
    assert!(
        std::fs::read_dir(root.join("reports"))
            .unwrap()
            .next()
            .is_none(),
        "every report was handed in"
    );

    let total = app_events + REPORTS;
    assert_eq!(store.backlog().unwrap(), total as u64);
    assert_eq!(
        store.last_seq().unwrap(),
        total as u64,
        "no seq lost or reused"
    );
    let batch = store.next_batch(total + 10, usize::MAX).unwrap();
    assert_eq!(batch.len(), total);
    let mut seqs: Vec<u64> = batch.iter().map(|e| e.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=total as u64).collect::<Vec<_>>());
    let mut agent_rows: Vec<_> = batch.iter().filter(|e| e.kind == "update_result").collect();
    assert_eq!(agent_rows.len(), REPORTS);
    agent_rows.sort_by_key(|e| e.event_id);
    for (row, id) in agent_rows.iter().zip(&ids) {
        assert_eq!(row.event_id, *id, "the report keeps its event id");
        assert_eq!(row.stream, Stream::Health);
        let result: UpdateResult = serde_json::from_value(row.payload.clone()).unwrap();
        assert_eq!(result.reason, "downgrade");
    }
}
