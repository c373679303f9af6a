#![allow(clippy::unwrap_used)]
//! `kioskctl sync status` against a real kiosk store written by kiosk-core, as the running app
//! would leave it.

use std::process::Command;

use kiosk_core::store::{NewEvent, NewRecord, Store, StoreKey, StoreOptions, Stream};
use serde_json::{Value, json};

fn kioskctl(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kioskctl"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap(),
    )
}

fn store_with_backlog(dir: &std::path::Path) -> Store {
    let key = StoreKey::load_or_create(&dir.join("store.key")).unwrap();
    let store = Store::open(dir, key, StoreOptions::default()).unwrap();
    for n in 0..3 {
        store
            .enqueue(NewEvent {
                stream: Stream::Telemetry,
                kind: "screen.view".into(),
                payload: json!({ "n": n }),
                personal: false,
                attachments: vec![],
            })
            .unwrap();
    }
    store
        .commit_record(NewRecord {
            stream: Stream::Tickets,
            kind: "ticket.issued".into(),
            summary: json!({ "number": "A001" }),
            personal: None,
            attachments: vec![],
        })
        .unwrap();
    store
}

#[test]
fn status_json_shows_the_backlog_per_stream_and_the_last_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_backlog(dir.path());
    store
        .note_sync_result(Err(
            "central at http://127.0.0.1:9/v1/events: connection refused",
        ))
        .unwrap();

    let data = dir.path().to_str().unwrap();
    let (code, out) = kioskctl(&["sync", "status", "--json", "--data", data]);
    assert_eq!(code, 2, "waiting events and a failing link exit 2: {out}");
    let status: Value = serde_json::from_str(&out).unwrap();
    let backlog: Vec<(String, u64)> = status["backlog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["stream"].as_str().unwrap().to_owned(),
                b["events"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        backlog,
        vec![("tickets".to_owned(), 1), ("telemetry".to_owned(), 3)]
    );
    assert!(
        status["last_error"]
            .as_str()
            .unwrap()
            .contains("connection refused")
    );
    assert!(status["oldest_pending_age_secs"].as_u64().is_some());
}

#[test]
fn status_text_reads_as_a_table_and_exits_0_when_the_link_works() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_backlog(dir.path());
    store.note_sync_result(Ok(())).unwrap();
    let (code, out) = kioskctl(&["sync", "status", "--data", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("tickets"), "{out}");
    assert!(out.contains("last error:     none"), "{out}");
}

#[test]
fn status_of_a_folder_without_a_store_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = kioskctl(&["sync", "status", "--data", dir.path().to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(out.contains("--data"), "{out}");
}

#[test]
fn quarantined_events_are_listed_exported_still_sealed_and_retried_by_seq_or_all() {
    use kiosk_core::store::{EventOutcome, RetryWhich};
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_backlog(dir.path());
    let refused = store
        .commit_record(NewRecord {
            stream: Stream::Records,
            kind: "application_submitted".into(),
            summary: json!({ "matter": "M-001" }),
            personal: Some(json!({ "id_number": "11010519491231002X" })),
            attachments: vec![],
        })
        .unwrap();
    store
        .acknowledge(&[(
            refused.event_id,
            EventOutcome::rejected(
                kiosk_api::reject_reason::NUMBER_TAKEN,
                "application number 00120326120100075 is another record's",
            ),
        )])
        .unwrap();
    store.note_sync_result(Ok(())).unwrap();
    let data = dir.path().to_str().unwrap();
    let seq = refused.seq.to_string();

    // Listed in the text status, with what to do about it, and in the JSON.
    let (code, out) = kioskctl(&["sync", "status", "--data", data]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("quarantine:     1 event(s)"), "{out}");
    let line = out.lines().find(|l| l.contains("number_taken")).unwrap();
    assert!(
        line.contains(&seq) && line.contains("another record"),
        "{line}"
    );
    assert!(out.contains("kioskctl sync retry"), "{out}");
    let (_, out) = kioskctl(&["sync", "status", "--json", "--data", data]);
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["quarantined"], 1);
    assert_eq!(status["quarantine"][0]["seq"], refused.seq);
    assert_eq!(status["quarantine"][0]["reason"], "number_taken");

    // Exported for ops: private file, sealed payload, never overwritten.
    let file = dir.path().join("event.json");
    let file_arg = file.to_str().unwrap();
    let (code, out) = kioskctl(&["sync", "export", &seq, "--out", file_arg, "--data", data]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("still sealed"), "{out}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("11010519491231002X"));
    let export: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(export["event_id"], refused.event_id.to_string());
    assert_eq!(export["reason"], "number_taken");
    assert!(!export["payload_base64"].as_str().unwrap().is_empty());
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0);
    let (code, _) = kioskctl(&["sync", "export", &seq, "--out", file_arg, "--data", data]);
    assert_ne!(code, 0, "an existing export must not be overwritten");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    let (code, out) = kioskctl(&["sync", "export", "999", "--out", "/tmp/x", "--data", data]);
    assert_eq!(code, 3, "{out}");

    // Retried while the app holds the store open: back in the outbox, same seq and id.
    let (code, out) = kioskctl(&["sync", "retry", "999", "--data", data]);
    assert_eq!(code, 3, "{out}");
    let (code, out) = kioskctl(&["sync", "retry", &seq, "--data", data]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("seq {seq}")), "{out}");
    assert_eq!(store.quarantined().unwrap(), 0);
    let batch = store.next_batch(50, usize::MAX).unwrap();
    let back = batch.iter().find(|e| e.seq == refused.seq).unwrap();
    assert_eq!(back.event_id, refused.event_id);
    assert_eq!(back.payload["personal"]["id_number"], "11010519491231002X");

    // --all takes every one; with none left it says so.
    for e in batch.iter().filter(|e| e.stream == Stream::Telemetry) {
        store.quarantine_event(e.seq, "unreadable", "test").unwrap();
    }
    let (code, out) = kioskctl(&["sync", "retry", "--all", "--data", data]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("put back in the outbox: 3"), "{out}");
    let (code, out) = kioskctl(&["sync", "retry", "--all", "--data", data]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing to retry"), "{out}");
    assert!(store.retry_quarantined(RetryWhich::All).unwrap().is_empty());
    let (code, out) = kioskctl(&["sync", "retry", "--data", data]);
    assert_ne!(code, 0, "a seq or --all is required: {out}");
}
