#![allow(clippy::unwrap_used)]
//! The real uplink draining a real store with poison in its backlog, against a local server
//! that answers the events route like central (per-event outcomes, resumable attachments),
//! refuses big batches with 413 at first, and refuses one event for good. Everything else
//! must arrive; the poison must end up in quarantine, whole; the batch size must grow back.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kiosk_api::{BatchAck, EventAck, EventBatch, EventOutcome, UploadStatus, keys, reject_reason};
use kiosk_core::store::{
    DB_FILE, NewRecord, RetryWhich, SPOOL_DIR, Store, StoreKey, StoreOptions, Stream,
    quarantine_reason,
};
use kiosk_core::sync::{Backoff, CentralClient, Timeouts, Uplink};
use serde_json::json;
use support::{Answer, Server};
use uuid::Uuid;

#[derive(Default)]
struct Central {
    /// Every event stored: id -> seq.
    stored: BTreeMap<Uuid, u64>,
    /// Size of every batch posted, in order, refused ones too.
    batch_sizes: Vec<usize>,
    /// Attachments held, by sha256.
    attachments: BTreeMap<String, Vec<u8>>,
}

fn answer(central: &Mutex<Central>, request: &support::Request) -> Answer {
    let mut central = central.lock().unwrap();
    if request.method == "POST" && request.path == kiosk_api::routes::EVENTS {
        let batch: EventBatch = serde_json::from_slice(&request.body).unwrap();
        central.batch_sizes.push(batch.events.len());
        if central.batch_sizes.len() <= 2 && batch.events.len() > 4 {
            return Answer::error(413, "too_large", "at most 4 events per batch here");
        }
        let mut results = Vec::new();
        for event in batch.events {
            let outcome = if event.payload["summary"]["rated_twice"] == true {
                EventOutcome::rejected(
                    reject_reason::ALREADY_RATED,
                    "ticket A007 was rated already",
                )
            } else if event
                .attachments
                .iter()
                .any(|a| !central.attachments.contains_key(a))
            {
                EventOutcome::Rejected {
                    reason: reject_reason::MISSING_ATTACHMENT.into(),
                    detail: None,
                }
            } else {
                central.stored.insert(event.event_id, event.seq);
                EventOutcome::Stored
            };
            results.push(EventAck {
                event_id: event.event_id,
                outcome,
            });
        }
        return Answer::json(200, &BatchAck { results });
    }
    if let Some(sha) = request.path.strip_prefix("/v1/attachments/") {
        let held = central.attachments.get(sha).map(Vec::len);
        if request.method == "PUT" {
            central
                .attachments
                .insert(sha.to_owned(), request.body.clone());
            let len = request.body.len() as u64;
            return Answer::json(
                200,
                &UploadStatus {
                    received: len,
                    complete: true,
                },
            );
        }
        return Answer::json(
            200,
            &UploadStatus {
                received: held.unwrap_or(0) as u64,
                complete: held.is_some(),
            },
        );
    }
    Answer::error(404, "not_found", "no such route here")
}

fn record(n: usize) -> NewRecord {
    NewRecord {
        stream: Stream::Records,
        kind: "application_submitted".into(),
        summary: json!({ "n": n }),
        personal: Some(json!({ "name": "张*", "answers": { "n": n } })),
        attachments: vec![],
    }
}

async fn drained(store: &Store) {
    let started = Instant::now();
    while store.backlog().unwrap() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "outbox did not drain: {:?}",
            store.status().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_with_a_corrupt_row_and_a_corrupt_spool_file_drains_everything_else() {
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::load_or_create(&dir.path().join("store.key")).unwrap();
    let store = Store::open(dir.path(), key, StoreOptions::default()).unwrap();

    let good_scan = store.spool_attachment(&b"page one ".repeat(500)).unwrap();
    let bad_scan = store.spool_attachment(&b"page two ".repeat(500)).unwrap();
    let mut committed = Vec::new();
    for n in 0..60 {
        let mut r = record(n);
        match n {
            5 => r.attachments = vec![good_scan.clone()],
            9 => r.attachments = vec![bad_scan.clone()],
            13 => r.summary = json!({ "n": n, "rated_twice": true }),
            _ => {}
        }
        committed.push(store.commit_record(r).unwrap());
    }
    // Poison: one row's sealed payload damaged in place, one spool file damaged on disk.
    let unreadable = committed[20];
    {
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        let mut payload: Vec<u8> = conn
            .query_row(
                "SELECT payload FROM outbox WHERE seq = ?1",
                [unreadable.seq as i64],
                |r| r.get(0),
            )
            .unwrap();
        let last = payload.len() - 1;
        payload[last] ^= 0x40;
        conn.execute(
            "UPDATE outbox SET payload = ?1 WHERE seq = ?2",
            rusqlite::params![payload, unreadable.seq as i64],
        )
        .unwrap();
    }
    let bad_file = dir.path().join(SPOOL_DIR).join(bad_scan.as_str());
    let original = std::fs::read(&bad_file).unwrap();
    let mut damaged = original.clone();
    damaged[100] ^= 0x01;
    std::fs::write(&bad_file, &damaged).unwrap();

    let central = Arc::new(Mutex::new(Central::default()));
    let state = central.clone();
    let server = Server::start(move |r| answer(&state, r)).await;
    let client = CentralClient::new(
        &server.base,
        Uuid::now_v7(),
        keys::generate(),
        Timeouts::default(),
    )
    .unwrap();
    let uplink = Uplink::builder(store.clone(), client)
        .max_batch_events(16)
        .backoff(Backoff {
            base: Duration::from_millis(20),
            cap: Duration::from_millis(200),
        })
        .idle_poll(Duration::from_millis(100))
        .spawn();
    drained(&store).await;

    // Everything but the three poisoned events arrived, each once, under its own seq.
    let poisoned = [unreadable, committed[9], committed[13]];
    {
        let central = central.lock().unwrap();
        for c in &committed {
            if poisoned.contains(c) {
                assert!(!central.stored.contains_key(&c.event_id), "seq {}", c.seq);
            } else {
                assert_eq!(central.stored.get(&c.event_id), Some(&c.seq));
            }
        }
        assert_eq!(central.stored.len(), 57);
        // The first batch (16 read, less the event whose scan is lost) and its half were
        // refused with 413; at most 4 at a time after that, until eight good rounds let it
        // grow back (doubled, at most 8).
        let sizes = &central.batch_sizes;
        assert!(sizes[0] > 4 && sizes[0] <= 16, "{sizes:?}");
        assert_eq!(sizes[1], sizes[0] / 2, "{sizes:?}");
        assert!(sizes[2..10].iter().all(|&n| n <= 4), "{sizes:?}");
        assert!(
            sizes[10..].iter().any(|&n| (5..=8).contains(&n)),
            "{sizes:?}"
        );
    }

    // The three are in quarantine, with why, oldest first, still sealed.
    let quarantine = store.quarantine().unwrap();
    let by_seq: BTreeMap<u64, (&str, &str)> = quarantine
        .iter()
        .map(|q| (q.seq, (q.reason.as_str(), q.detail.as_str())))
        .collect();
    assert_eq!(by_seq.len(), 3, "{quarantine:?}");
    assert_eq!(by_seq[&unreadable.seq].0, quarantine_reason::UNREADABLE);
    assert_eq!(
        by_seq[&committed[9].seq].0,
        quarantine_reason::ATTACHMENT_LOST
    );
    assert!(by_seq[&committed[9].seq].1.contains(bad_scan.as_str()));
    assert_eq!(
        by_seq[&committed[13].seq],
        (
            reject_reason::ALREADY_RATED,
            "ticket A007 was rated already"
        )
    );
    assert!(quarantine.iter().all(|q| q.personal));
    assert_eq!(store.status().unwrap().quarantined, 3);
    // The damaged scan is kept for ops, the good one is gone with its acknowledged event.
    assert_eq!(std::fs::read(&bad_file).unwrap(), damaged);
    assert!(!dir.path().join(SPOOL_DIR).join(good_scan.as_str()).exists());

    // A technician restores the scan and retries: the same event goes, same seq and id.
    std::fs::write(&bad_file, &original).unwrap();
    let retried = store
        .retry_quarantined(RetryWhich::One(committed[9].seq))
        .unwrap();
    assert_eq!(retried, vec![committed[9].seq]);
    drained(&store).await;
    assert_eq!(
        central.lock().unwrap().stored.get(&committed[9].event_id),
        Some(&committed[9].seq)
    );
    assert_eq!(store.quarantined().unwrap(), 2);
    uplink.stop().await;
}
