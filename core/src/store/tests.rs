#![allow(clippy::unwrap_used)]
//! Store tests against real SQLite files in temporary folders.

use serde_json::json;

use super::*;

fn open(dir: &Path) -> Store {
    let key = StoreKey::load_or_create(&dir.join("store.key")).unwrap();
    Store::open(dir, key, StoreOptions::default()).unwrap()
}

fn telemetry(n: u64) -> NewEvent {
    NewEvent {
        stream: Stream::Telemetry,
        kind: "screen.view".into(),
        payload: json!({ "n": n, "pad": "x".repeat(200) }),
        personal: false,
        attachments: vec![],
    }
}

fn application(name: &str) -> NewRecord {
    NewRecord {
        stream: Stream::Records,
        kind: "application.submitted".into(),
        summary: json!({ "matter": "M-001" }),
        personal: Some(json!({ "name": name, "id_number": "11010519491231002X" })),
        attachments: vec![],
    }
}

#[test]
fn sequence_numbers_are_never_reused_after_acknowledgement() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let first = store.enqueue(telemetry(1)).unwrap().unwrap();
    store
        .acknowledge(&[(first.event_id, EventOutcome::Stored)])
        .unwrap();
    drop(store);
    let store = open(dir.path());
    let second = store.enqueue(telemetry(2)).unwrap().unwrap();
    assert_eq!((first.seq, second.seq), (1, 2));
    assert_ne!(first.event_id, second.event_id);
}

#[test]
fn batches_come_most_urgent_stream_first_then_in_sequence_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.enqueue(telemetry(1)).unwrap();
    store.commit_record(application("张三")).unwrap();
    store.enqueue(telemetry(2)).unwrap();
    store.commit_record(application("李四")).unwrap();
    let batch = store.next_batch(10, 1 << 20).unwrap();
    let order: Vec<(Stream, u64)> = batch.iter().map(|e| (e.stream, e.seq)).collect();
    assert_eq!(
        order,
        vec![
            (Stream::Records, 2),
            (Stream::Records, 4),
            (Stream::Telemetry, 1),
            (Stream::Telemetry, 3)
        ]
    );
}

#[test]
fn personal_data_is_encrypted_on_disk_and_purged_once_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let committed = store.commit_record(application("王小明")).unwrap();
    store
        .conn()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let raw = std::fs::read(dir.path().join(DB_FILE)).unwrap();
    let needle = "11010519491231002X".as_bytes();
    assert!(!raw.windows(needle.len()).any(|w| w == needle));

    let (_, personal) = store.record(committed.event_id).unwrap().unwrap();
    assert_eq!(personal.unwrap()["name"], "王小明");
    let batch = store.next_batch(10, 1 << 20).unwrap();
    assert_eq!(batch[0].payload["personal"]["name"], "王小明");

    store
        .acknowledge(&[(committed.event_id, EventOutcome::Duplicate)])
        .unwrap();
    let (summary, personal) = store.record(committed.event_id).unwrap().unwrap();
    assert_eq!(summary["matter"], "M-001");
    assert_eq!(personal, None);
    assert_eq!(store.backlog().unwrap(), 0);
}

#[test]
fn a_store_opened_with_another_key_cannot_read_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path()).commit_record(application("赵六")).unwrap();
    let other = StoreKey::from_bytes(&[7u8; 32]).unwrap();
    let store = Store::open(dir.path(), other, StoreOptions::default()).unwrap();
    assert!(matches!(
        store.next_batch(10, 1 << 20),
        Err(StoreError::Crypto { .. })
    ));
}

#[test]
fn the_key_file_is_created_private_and_refused_when_readable_by_others() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.key");
    StoreKey::load_or_create(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        StoreKey::load_or_create(&path),
        Err(StoreError::Key { .. })
    ));
}

#[test]
fn a_rejected_event_stays_and_is_deferred() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let c = store.enqueue(telemetry(1)).unwrap().unwrap();
    let summary = store
        .acknowledge(&[(
            c.event_id,
            EventOutcome::Rejected {
                reason: "missing_attachment".into(),
                detail: None,
            },
        )])
        .unwrap();
    assert_eq!(summary.rejected, 1);
    assert_eq!(store.backlog().unwrap(), 1);
    assert!(store.next_batch(10, 1 << 20).unwrap().is_empty());
}

#[test]
fn spooled_attachments_are_sealed_and_removed_when_their_event_is_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let scan = b"%PDF-1.7 scanned household register page".repeat(100);
    let id = store.spool_attachment(&scan).unwrap();
    let file = dir.path().join(SPOOL_DIR).join(id.as_str());
    assert_ne!(std::fs::read(&file).unwrap(), scan);
    assert_eq!(store.read_attachment(&id).unwrap(), scan);

    let mut record = application("钱七");
    record.attachments = vec![id.clone()];
    let c = store.commit_record(record).unwrap();
    assert_eq!(
        store.next_batch(1, 1 << 20).unwrap()[0].attachments,
        vec![id]
    );
    store
        .acknowledge(&[(c.event_id, EventOutcome::Stored)])
        .unwrap();
    assert!(!file.exists());
}

#[test]
fn an_event_naming_an_unspooled_attachment_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut record = application("孙八");
    record.attachments = vec![AttachmentId::of(b"never spooled")];
    assert!(matches!(
        store.commit_record(record),
        Err(StoreError::UnknownAttachment(_))
    ));
    assert_eq!(store.backlog().unwrap(), 0);
    assert_eq!(store.last_seq().unwrap(), 0);
}

#[test]
fn under_disk_pressure_telemetry_goes_first_and_records_are_kept_but_no_longer_offered() {
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::load_or_create(&dir.path().join("store.key")).unwrap();
    let options = StoreOptions {
        budget: Budget {
            limit_bytes: 512 * 1024,
            near_limit_percent: 90,
        },
        logs_dir: None,
    };
    let store = Store::open(dir.path(), key, options).unwrap();
    let mut dropped = 0;
    for n in 0..3000 {
        if store.enqueue(telemetry(n)).unwrap().is_none() {
            dropped += 1;
        }
    }
    let status = store.status().unwrap();
    assert!(status.downsampled_telemetry > 0, "{status:?}");
    assert!(store.capacity().unwrap().used_bytes <= 512 * 1024);
    let telemetry_left = store.backlog().unwrap();
    assert!(telemetry_left < 3000 - dropped);

    // Records keep being written, telemetry makes way, until records alone reach the line.
    let mut records = 0;
    while store.capacity().unwrap().accepting_records {
        store.commit_record(application("周九")).unwrap();
        records += 1;
        assert!(records < 100_000, "never reached the near-limit line");
    }
    let remaining_records: i64 = store
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE stream = 'records'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(remaining_records, records);
    let status = read_status(dir.path()).unwrap();
    assert!(!status.accepting_records);
}

#[test]
fn status_shows_backlog_per_stream_and_the_last_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.commit_record(application("吴十")).unwrap();
    store.enqueue(telemetry(1)).unwrap();
    store.enqueue(telemetry(2)).unwrap();
    store
        .note_sync_result(Err("central at https://c.example: connection refused"))
        .unwrap();
    let status = read_status(dir.path()).unwrap();
    let backlog: Vec<(&str, u64)> = status
        .backlog
        .iter()
        .map(|b| (b.stream.as_str(), b.events))
        .collect();
    assert_eq!(backlog, vec![("records", 1), ("telemetry", 2)]);
    assert_eq!(status.total_backlog, 3);
    assert!(status.last_error.unwrap().contains("connection refused"));
    assert!(status.last_success_at.is_none());
}
