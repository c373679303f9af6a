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
