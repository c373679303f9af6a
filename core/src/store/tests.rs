#![allow(clippy::unwrap_used)]
//! Store tests against real SQLite files in temporary folders.

use serde_json::json;

use std::path::PathBuf;

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
fn a_store_opened_with_another_key_is_refused_and_nothing_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path()).commit_record(application("赵六")).unwrap();
    let other = StoreKey::from_bytes(&[7u8; 32]).unwrap();
    let refused = Store::open(dir.path(), other, StoreOptions::default()).unwrap_err();
    assert!(
        matches!(refused, StoreError::KeyMismatch { .. }),
        "{refused}"
    );
    assert!(refused.to_string().contains(KEY_FILE), "{refused}");
    // With its own key the store is as it was: the record waits, nothing in quarantine.
    let store = open(dir.path());
    assert_eq!(store.next_batch(10, 1 << 20).unwrap().len(), 1);
    assert_eq!(store.quarantined().unwrap(), 0);
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
fn a_retryable_refusal_stays_and_is_deferred() {
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
    assert_eq!(store.quarantined().unwrap(), 0);
}

/// Overwrites one byte of an outbox row's stored payload, as a bad sector would.
fn damage_row(store: &Store, seq: u64) {
    let conn = store.conn();
    let mut payload: Vec<u8> = conn
        .query_row(
            "SELECT payload FROM outbox WHERE seq = ?1",
            [seq as i64],
            |r| r.get(0),
        )
        .unwrap();
    let at = payload.len() / 2;
    payload[at] ^= 0x20;
    conn.execute(
        "UPDATE outbox SET payload = ?1 WHERE seq = ?2",
        rusqlite::params![payload, seq as i64],
    )
    .unwrap();
}

fn stored_payload(store: &Store, table: &str, seq: u64) -> Vec<u8> {
    store
        .conn()
        .query_row(
            &format!("SELECT payload FROM {table} WHERE seq = ?1"),
            [seq as i64],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn a_row_that_no_longer_decrypts_goes_to_quarantine_as_stored_and_the_rest_still_flows() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let first = store.commit_record(application("甲")).unwrap();
    let bad = store.commit_record(application("乙")).unwrap();
    let third = store.commit_record(application("丙")).unwrap();
    damage_row(&store, bad.seq);
    let as_stored = stored_payload(&store, "outbox", bad.seq);

    let batch = store.next_batch(10, 1 << 20).unwrap();
    let seqs: Vec<u64> = batch.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![first.seq, third.seq]);

    let quarantine = store.quarantine().unwrap();
    assert_eq!(quarantine.len(), 1);
    let q = &quarantine[0];
    assert_eq!((q.seq, q.event_id), (bad.seq, Some(bad.event_id)));
    assert_eq!(q.reason, quarantine_reason::UNREADABLE);
    assert!(q.detail.contains("decrypt"), "{}", q.detail);
    assert!(q.personal);
    // Kept exactly as it was stored: still sealed, byte for byte.
    assert_eq!(stored_payload(&store, "quarantine", bad.seq), as_stored);
    assert_eq!(store.backlog().unwrap(), 2);
    assert_eq!(read_status(dir.path()).unwrap().quarantined, 1);
}

#[test]
fn a_backlog_of_nothing_but_bad_rows_up_front_still_yields_the_good_ones_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut bad = Vec::new();
    for n in 0..5 {
        let c = store.commit_record(application(&format!("坏{n}"))).unwrap();
        damage_row(&store, c.seq);
        bad.push(c.seq);
    }
    let good = store.commit_record(application("好")).unwrap();
    // A batch of 2 meets only bad rows at first; it must go on to the good one.
    let batch = store.next_batch(2, 1 << 20).unwrap();
    assert_eq!(
        batch.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![good.seq]
    );
    assert_eq!(store.quarantined().unwrap(), 5);
}

#[test]
fn a_final_refusal_goes_to_quarantine_with_centrals_reason_and_detail() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let refused = store.commit_record(application("钱")).unwrap();
    let busy = store.commit_record(application("孙")).unwrap();
    let summary = store
        .acknowledge(&[
            (
                refused.event_id,
                EventOutcome::rejected(
                    kiosk_api::reject_reason::NUMBER_TAKEN,
                    "application number 00120326120100075 is another record's",
                ),
            ),
            (
                busy.event_id,
                EventOutcome::Rejected {
                    reason: kiosk_api::reject_reason::CENTRAL_BUSY.into(),
                    detail: None,
                },
            ),
        ])
        .unwrap();
    assert_eq!((summary.quarantined, summary.rejected), (1, 1));
    let quarantine = store.quarantine().unwrap();
    assert_eq!(quarantine.len(), 1);
    assert_eq!(quarantine[0].seq, refused.seq);
    assert_eq!(quarantine[0].reason, "number_taken");
    assert!(quarantine[0].detail.contains("another record"));
    assert_eq!(quarantine[0].attempts, 1);
    // The busy one waits in the outbox for its retry; the refused one is out of the way.
    assert_eq!(store.backlog().unwrap(), 1);
    let summary = store.quarantine_summary().unwrap();
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0].kind, "application.submitted");
    assert_eq!(summary[0].reason, "number_taken");
}

#[test]
fn an_event_larger_than_any_batch_is_quarantined_as_too_large() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let big = store
        .enqueue(NewEvent {
            stream: Stream::Health,
            kind: "health_report".into(),
            payload: json!({ "pad": "x".repeat(kiosk_api::routes::MAX_BATCH_BYTES) }),
            personal: false,
            attachments: vec![],
        })
        .unwrap()
        .unwrap();
    let small = store.enqueue(telemetry(1)).unwrap().unwrap();
    let batch = store.next_batch(10, 1 << 20).unwrap();
    assert_eq!(
        batch.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![small.seq]
    );
    let q = store.quarantine().unwrap();
    assert_eq!(
        (q[0].seq, q[0].reason.as_str()),
        (big.seq, quarantine_reason::TOO_LARGE)
    );
    assert!(!q[0].personal);
}

#[test]
fn a_retried_event_comes_back_under_its_own_seq_and_id_and_its_scan_was_kept_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let scan = store.spool_attachment(b"%PDF-1.7 one page").unwrap();
    let mut first = application("周");
    first.attachments = vec![scan.clone()];
    let first = store.commit_record(first).unwrap();
    let mut second = application("吴");
    second.attachments = vec![scan.clone()];
    let second = store.commit_record(second).unwrap();
    assert!(
        store
            .quarantine_event(first.seq, quarantine_reason::ATTACHMENT_LOST, "test")
            .unwrap()
    );
    assert!(!store.quarantine_event(first.seq, "again", "").unwrap());

    // The other event naming the same scan is acknowledged: the scan stays for the
    // quarantined one, across a reopen (and its sweep) too.
    store
        .acknowledge(&[(second.event_id, EventOutcome::Stored)])
        .unwrap();
    drop(store);
    let store = open(dir.path());
    let file = dir.path().join(SPOOL_DIR).join(scan.as_str());
    assert!(file.exists());

    let export = store.export_quarantined(first.seq).unwrap().unwrap();
    assert_eq!(export.entry.event_id, Some(first.event_id));
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(
        b64.decode(&export.payload_base64).unwrap(),
        stored_payload(&store, "quarantine", first.seq)
    );
    assert_eq!(export.attachment_files.len(), 1);
    assert_eq!(
        b64.decode(export.attachment_files[0].sealed_base64.as_ref().unwrap())
            .unwrap(),
        std::fs::read(&file).unwrap()
    );
    // The export holds nothing in the clear.
    let text = serde_json::to_string(&export).unwrap();
    assert!(!text.contains("11010519491231002X") && !text.contains("PDF"));
    assert!(store.export_quarantined(999).unwrap().is_none());

    assert_eq!(
        store.retry_quarantined(RetryWhich::All).unwrap(),
        vec![first.seq]
    );
    let batch = store.next_batch(10, 1 << 20).unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(
        (batch[0].seq, batch[0].event_id),
        (first.seq, first.event_id)
    );
    assert_eq!(batch[0].attachments, vec![scan]);
    assert_eq!(batch[0].payload["personal"]["name"], "周");
    assert_eq!(store.quarantined().unwrap(), 0);
    assert!(
        store
            .retry_quarantined(RetryWhich::One(first.seq))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn the_health_summary_lists_the_oldest_quarantined_events_up_to_the_reported_count() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let listed = kiosk_api::HealthReport::QUARANTINE_LISTED;
    let mut seqs = Vec::new();
    for n in 0..listed + 5 {
        let c = store.enqueue(telemetry(n as u64)).unwrap().unwrap();
        store
            .quarantine_event(c.seq, quarantine_reason::UNREADABLE, "test")
            .unwrap();
        seqs.push(c.seq);
    }
    let summary = store.quarantine_summary().unwrap();
    assert_eq!(summary.len(), listed);
    assert_eq!(
        summary.iter().map(|q| q.seq).collect::<Vec<_>>(),
        seqs[..listed].to_vec()
    );
    assert_eq!(store.quarantined().unwrap(), (listed + 5) as u64);
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
            min_free_bytes: 0,
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

#[test]
fn a_filesystem_under_its_reserve_stops_new_records_even_when_the_store_itself_is_small() {
    let dir = tempfile::tempdir().unwrap();
    let free = free_bytes(dir.path()).unwrap();
    let key = StoreKey::load_or_create(&dir.path().join(KEY_FILE)).unwrap();
    // A reserve just over what this disk has free: the store is tiny, the disk is "full".
    let options = StoreOptions {
        budget: Budget {
            min_free_bytes: free + 1024 * 1024 * 1024,
            ..Budget::default()
        },
        logs_dir: None,
    };
    let store = Store::open(dir.path(), key, options).unwrap();
    let capacity = store.capacity().unwrap();
    assert!(capacity.used_bytes < capacity.limit_bytes / 100);
    assert!(capacity.low_on_disk());
    assert!(!capacity.accepting_records, "{capacity:?}");
    // Telemetry does not eat into the reserve; a record under way is still written.
    assert_eq!(store.enqueue(telemetry(1)).unwrap(), None);
    store.commit_record(application("郑")).unwrap();
    let status = read_status(dir.path()).unwrap();
    assert!(!status.accepting_records);
    assert!(status.free_bytes.is_some());
    assert_eq!(status.min_free_bytes, free + 1024 * 1024 * 1024);

    // The same disk with the default reserve is fine (this machine has 64 MiB free).
    drop(store);
    let store = open(dir.path());
    if free > DEFAULT_MIN_FREE_BYTES * 2 {
        assert!(store.capacity().unwrap().accepting_records);
    }
}

/// A tmpfs of `size` mounted on a fresh folder, unmounted when dropped; `None` (with the
/// reason on stderr) where mounting is not permitted.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output();
        match out {
            Ok(out) if out.status.success() => Some(Tmpfs { dir }),
            Ok(out) => {
                eprintln!(
                    "SKIPPED: cannot mount a tmpfs (needs root): {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run mount: {e}");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the filesystem of `dir` with one file until the disk refuses more.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write as _;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0xa5u8; 16 * 1024];
    loop {
        match file.write(&block) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
            Err(e) => panic!("filling the disk: {e}"),
        }
    }
    // The last partial block may still be in the page cache: push it out.
    let _ = file.sync_all();
    path
}

#[test]
fn on_a_full_disk_every_commit_is_whole_or_refused_as_disk_full_and_nothing_is_half_written() {
    let Some(tmpfs) = Tmpfs::mount("4m") else {
        return;
    };
    let dir = tmpfs.dir.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    let key = StoreKey::load_or_create(&dir.join(KEY_FILE)).unwrap();
    let options = StoreOptions {
        budget: Budget {
            min_free_bytes: 1024 * 1024,
            ..Budget::default()
        },
        logs_dir: None,
    };
    let store = Store::open(&dir, key, options).unwrap();
    store.commit_record(application("冯")).unwrap();
    assert!(store.capacity().unwrap().accepting_records);

    let filler = fill(tmpfs.dir.path());
    let capacity = store.capacity().unwrap();
    assert!(!capacity.accepting_records, "{capacity:?}");
    assert!(capacity.low_on_disk());

    // A scan on a full disk: refused, and no temporary file is left behind.
    let scan = vec![0x42u8; 256 * 1024];
    let refused = store.spool_attachment(&scan).unwrap_err();
    assert!(refused.is_disk_full(), "{refused}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.join(SPOOL_DIR))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Records with a big form: each commit either completes whole or says DiskFull and
    // leaves nothing, not even a used sequence number.
    let big = |n: usize| NewRecord {
        personal: Some(json!({ "name": "陈", "form": "表".repeat(20_000), "n": n })),
        ..application("陈")
    };
    let mut written = vec![];
    let mut refusals = 0;
    for n in 0..200 {
        let seq_before = store.last_seq().unwrap();
        let backlog_before = store.backlog().unwrap();
        match store.commit_record(big(n)) {
            Ok(c) => written.push(c),
            Err(e) => {
                assert!(e.is_disk_full(), "commit {n}: {e}");
                assert!(e.to_string().contains("nothing of this step was written"));
                assert_eq!(store.last_seq().unwrap(), seq_before);
                assert_eq!(store.backlog().unwrap(), backlog_before);
                refusals += 1;
                if refusals >= 3 {
                    break;
                }
            }
        }
    }
    assert!(refusals >= 3, "the full disk never refused a commit");
    let integrity: String = store
        .conn()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let records: i64 = store
        .conn()
        .query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))
        .unwrap();
    assert_eq!(records as usize, 1 + written.len());
    for c in &written {
        let (_, personal) = store.record(c.event_id).unwrap().unwrap();
        assert_eq!(personal.unwrap()["name"], "陈");
    }

    // Space is freed: records are offered again and the next ones are written.
    std::fs::remove_file(filler).unwrap();
    assert!(store.capacity().unwrap().accepting_records);
    let after = store.commit_record(big(999)).unwrap();
    assert_eq!(after.seq, store.last_seq().unwrap());
    store.spool_attachment(&scan).unwrap();
    assert_eq!(
        store.next_batch(500, usize::MAX).unwrap().len(),
        2 + written.len()
    );
    drop(store);
}
