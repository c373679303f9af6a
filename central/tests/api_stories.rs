//! The kiosk API of central told as stories, each run against SQLite and PostgreSQL over
//! real HTTP.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Central, Kiosk, databases, event, sample_catalog};
use kiosk_api::{
    ApiError, BatchAck, DesiredState, EventOutcome, SignedBundle, Stream, UploadStatus, keys,
    reject_reason, routes,
};
use reqwest::Method;
use sha2::{Digest as _, Sha256};

async fn outcomes(response: reqwest::Response) -> Vec<EventOutcome> {
    assert_eq!(response.status(), 200);
    let ack: BatchAck = response.json().await.unwrap();
    ack.results.into_iter().map(|r| r.outcome).collect()
}

async fn error_of(response: reqwest::Response, status: u16) -> ApiError {
    assert_eq!(response.status(), status);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_token_enrols_one_kiosk_once_binds_it_to_its_hall_and_expires() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let first = central.kiosk().await;
        assert_eq!(first.enrolment.hall_id, "dongcheng-main", "{}", db.name);
        assert_eq!(first.enrolment.hall_name, "东城区政务服务中心");
        assert_eq!(
            first.enrolment.ops_public_key,
            keys::public_key_to_base64(&central.ops.verifying_key())
        );
        let second = central.kiosk().await;
        assert_ne!(first.id(), second.id());
        assert!(
            second.enrolment.number_band.last < first.enrolment.number_band.first,
            "bands must not overlap"
        );
        // One hall, one code; each kiosk its own number in it.
        assert_eq!(first.enrolment.hall_code, second.enrolment.hall_code);
        assert_eq!(
            (
                first.enrolment.kiosk_no.get(),
                second.enrolment.kiosk_no.get()
            ),
            (1, 2)
        );

        let token = central.token("dongcheng-main").await;
        let key = keys::generate();
        assert_eq!(central.enrol_raw(&token, &key).await.status(), 201);
        let again = error_of(central.enrol_raw(&token, &keys::generate()).await, 403).await;
        assert_eq!(again.error, "token_refused");
        error_of(
            central.enrol_raw("no-such-token", &keys::generate()).await,
            403,
        )
        .await;
        let expired = central
            .store
            .create_token("dongcheng-main", None, chrono::Duration::seconds(1))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        error_of(
            central.enrol_raw(&expired.token, &keys::generate()).await,
            403,
        )
        .await;
        // A key enrols once; the second token stays unspent.
        let token = central.token("dongcheng-main").await;
        error_of(central.enrol_raw(&token, &key).await, 409).await;
        assert_eq!(
            central.enrol_raw(&token, &keys::generate()).await.status(),
            201
        );
        central.stop().await;
    }
}

#[tokio::test]
async fn a_batch_is_stored_once_and_sending_it_again_reports_duplicates() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let batch = vec![
            event(1, Stream::Tickets, "ticket_called"),
            event(2, Stream::Ratings, "rating_prompted"),
            event(3, Stream::Tickets, "ticket_called"),
        ];
        assert_eq!(
            outcomes(kiosk.post_events(&batch).await).await,
            vec![EventOutcome::Stored; 3],
            "{}",
            db.name
        );
        // The kiosk lost its acknowledgement (power cut) and sends the same rows again.
        assert_eq!(
            outcomes(kiosk.post_events(&batch).await).await,
            vec![EventOutcome::Duplicate; 3]
        );
        // A new event reusing seq 3 is a kiosk bug: rejected, the stored one untouched.
        let clash = event(3, Stream::Help, "help_shown");
        assert_eq!(
            outcomes(kiosk.post_events(std::slice::from_ref(&clash)).await).await,
            vec![EventOutcome::rejected(
                reject_reason::SEQ_REUSED,
                "seq 3 is held by another event of this kiosk"
            )]
        );
        // Seq 4 and 5 are still queued on the kiosk; 6 arrives first.
        assert_eq!(
            outcomes(
                kiosk
                    .post_events(&[event(6, Stream::Health, "printer_paper_low")])
                    .await
            )
            .await,
            vec![EventOutcome::Stored]
        );

        let stats = central.store.stats().await.unwrap();
        assert_eq!(stats.total_events, 4);
        let k = &stats
            .kiosks
            .iter()
            .find(|k| k.kiosk_id == kiosk.id().to_string())
            .unwrap();
        assert_eq!((k.events, k.max_seq, k.missing), (4, 6, 2));
        assert_eq!(k.per_kind.get("tickets/ticket_called"), Some(&2));
        assert_eq!(stats.gaps.len(), 1);
        assert_eq!((stats.gaps[0].first, stats.gaps[0].last), (4, 5));
        assert!(
            stats
                .kinds
                .iter()
                .any(|c| c.stream == "ratings" && c.kind == "rating_prompted" && c.count == 1)
        );
        central.stop().await;
    }
}

#[tokio::test]
async fn forged_stale_replayed_and_unknown_requests_are_refused_and_store_nothing() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let body = serde_json::to_vec(&kiosk_api::EventBatch {
            events: vec![event(1, Stream::Tickets, "ticket_called")],
        })
        .unwrap();
        let url = format!("{}{}", central.base, routes::EVENTS);
        let now = chrono::Utc::now().timestamp();

        // Unsigned.
        let e = error_of(
            central
                .http
                .post(&url)
                .body(body.clone())
                .send()
                .await
                .unwrap(),
            401,
        )
        .await;
        assert_eq!(e.error, "unauthorized", "{}", db.name);
        // Signed by a key that is not the kiosk's.
        let forged = kiosk_api::sign_request(
            &keys::generate(),
            kiosk.id(),
            "POST",
            routes::EVENTS,
            &body,
            now,
        );
        let mut r = central.http.post(&url).body(body.clone());
        for (n, v) in forged.pairs() {
            r = r.header(n, v);
        }
        error_of(r.send().await.unwrap(), 401).await;
        // Signed for another body.
        let other = kiosk_api::sign_request(
            &kiosk.key,
            kiosk.id(),
            "POST",
            routes::EVENTS,
            b"{\"events\":[]}",
            now,
        );
        let mut r = central.http.post(&url).body(body.clone());
        for (n, v) in other.pairs() {
            r = r.header(n, v);
        }
        error_of(r.send().await.unwrap(), 401).await;
        // Unknown kiosk.
        let stranger = kiosk_api::sign_request(
            &kiosk.key,
            uuid::Uuid::now_v7(),
            "POST",
            routes::EVENTS,
            &body,
            now,
        );
        let mut r = central.http.post(&url).body(body.clone());
        for (n, v) in stranger.pairs() {
            r = r.header(n, v);
        }
        assert!(
            error_of(r.send().await.unwrap(), 401)
                .await
                .message
                .contains("not enrolled")
        );
        // Clock 10 minutes behind: refused; 4 minutes ahead: within the window.
        let stale = Kiosk {
            clock_skew: -600,
            ..kiosk_clone(&kiosk)
        };
        assert!(
            error_of(
                stale.post_events(&[event(1, Stream::Tickets, "x")]).await,
                401
            )
            .await
            .message
            .contains("clock")
        );
        assert_eq!(central.store.stats().await.unwrap().total_events, 0);
        let ahead = Kiosk {
            clock_skew: 240,
            ..kiosk_clone(&kiosk)
        };
        assert_eq!(
            outcomes(ahead.post_events(&[event(1, Stream::Tickets, "x")]).await).await,
            vec![EventOutcome::Stored]
        );

        // A replayed request (same nonce) is refused even though the events would be new.
        let nonce = [7u8; 16];
        let batch2 = serde_json::to_vec(&kiosk_api::EventBatch {
            events: vec![event(2, Stream::Tickets, "x")],
        })
        .unwrap();
        let signed = kiosk_api::auth::sign_request_with_nonce(
            &kiosk.key,
            kiosk.id(),
            "POST",
            routes::EVENTS,
            &batch2,
            now,
            nonce,
        );
        let send = || {
            let mut r = central.http.post(&url).body(batch2.clone());
            for (n, v) in signed.pairs() {
                r = r.header(n, v);
            }
            r.send()
        };
        assert_eq!(send().await.unwrap().status(), 200);
        assert!(
            error_of(send().await.unwrap(), 401)
                .await
                .message
                .contains("nonce")
        );
        assert_eq!(central.store.stats().await.unwrap().total_events, 2);
        central.stop().await;
    }
}

fn kiosk_clone(k: &Kiosk) -> Kiosk {
    Kiosk {
        key: k.key.clone(),
        enrolment: k.enrolment.clone(),
        base: k.base.clone(),
        http: k.http.clone(),
        clock_skew: k.clock_skew,
    }
}

#[tokio::test]
async fn a_bad_batch_is_refused_whole_with_a_json_error_and_nothing_half_written() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let mut bad = event(2, Stream::Tickets, "ticket_called");
        bad.seq = 0;
        let e = error_of(
            kiosk
                .post_events(&[event(1, Stream::Tickets, "ticket_called"), bad])
                .await,
            422,
        )
        .await;
        assert_eq!(e.error, "invalid", "{}", db.name);
        let twice = event(3, Stream::Tickets, "ticket_called");
        error_of(kiosk.post_events(&[twice.clone(), twice]).await, 422).await;
        let mut bad_attachment = event(4, Stream::Records, "scan_stored");
        bad_attachment.attachments = vec!["not-a-digest".into()];
        error_of(kiosk.post_events(&[bad_attachment]).await, 422).await;

        let broken = kiosk
            .request(Method::POST, routes::EVENTS, b"{\"events\": [".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(broken, 400).await.error, "bad_request");
        let unknown_stream = br#"{"events":[{"event_id":"0190b1c2-0000-7000-8000-000000000001","seq":1,"stream":"gossip","kind":"x","priority":0,"occurred_at":"2026-11-26T09:00:00+08:00","payload":{}}]}"#;
        let r = kiosk
            .request(Method::POST, routes::EVENTS, unknown_stream.to_vec())
            .send()
            .await
            .unwrap();
        error_of(r, 422).await;

        let many: Vec<_> = (1..=501)
            .map(|s| event(s, Stream::Telemetry, "screen_touched"))
            .collect();
        assert_eq!(
            error_of(kiosk.post_events(&many).await, 413).await.error,
            "too_large"
        );
        let mut huge = event(1, Stream::Telemetry, "blob");
        huge.payload = serde_json::json!({"text": "x".repeat(routes::MAX_BATCH_BYTES)});
        error_of(kiosk.post_events(&[huge]).await, 413).await;

        assert_eq!(central.store.stats().await.unwrap().total_events, 0);
        let e = error_of(
            central
                .http
                .get(format!("{}/v2/nothing", central.base))
                .send()
                .await
                .unwrap(),
            404,
        )
        .await;
        assert_eq!(e.error, "not_found");
        central.stop().await;
    }
}

async fn put_chunk(
    kiosk: &Kiosk,
    sha: &str,
    offset: u64,
    total: u64,
    data: &[u8],
) -> reqwest::Response {
    kiosk
        .request(Method::PUT, &routes::attachment(sha), data.to_vec())
        .header(routes::HEADER_UPLOAD_OFFSET, offset.to_string())
        .header(routes::HEADER_UPLOAD_LENGTH, total.to_string())
        .send()
        .await
        .unwrap()
}

async fn upload_status(kiosk: &Kiosk, sha: &str) -> UploadStatus {
    let r = kiosk
        .request(Method::GET, &routes::attachment(sha), vec![])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn an_interrupted_scan_upload_resumes_and_its_event_waits_for_it() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        // A 2.5 MiB "scan" in three chunks.
        let scan: Vec<u8> = (0..(5 * 512 * 1024))
            .map(|i: u32| (i % 251) as u8)
            .collect();
        let sha = hex::encode(Sha256::digest(&scan));
        let total = scan.len() as u64;
        let mut record = event(1, Stream::Records, "scan_stored");
        record.attachments = vec![sha.clone()];

        assert_eq!(
            upload_status(&kiosk, &sha).await,
            UploadStatus {
                received: 0,
                complete: false
            },
            "{}",
            db.name
        );
        assert_eq!(
            outcomes(kiosk.post_events(std::slice::from_ref(&record)).await).await,
            vec![EventOutcome::Rejected {
                reason: reject_reason::MISSING_ATTACHMENT.into(),
                detail: None,
            }]
        );
        let first = put_chunk(&kiosk, &sha, 0, total, &scan[..1 << 20]).await;
        assert_eq!(first.status(), 200);
        // The connection dropped; the kiosk wrongly retries from 0 and is told where to resume.
        let wrong = put_chunk(&kiosk, &sha, 0, total, &scan[..1 << 20]).await;
        assert_eq!(wrong.status(), 409);
        let resume: UploadStatus = wrong.json().await.unwrap();
        assert_eq!(
            resume,
            UploadStatus {
                received: 1 << 20,
                complete: false
            }
        );
        let second = put_chunk(&kiosk, &sha, 1 << 20, total, &scan[1 << 20..2 << 20]).await;
        assert_eq!(
            second.json::<UploadStatus>().await.unwrap().received,
            2 << 20
        );
        let last = put_chunk(&kiosk, &sha, 2 << 20, total, &scan[2 << 20..]).await;
        assert_eq!(
            last.json::<UploadStatus>().await.unwrap(),
            UploadStatus {
                received: total,
                complete: true
            }
        );
        assert_eq!(
            upload_status(&kiosk, &sha).await,
            UploadStatus {
                received: total,
                complete: true
            }
        );
        assert_eq!(
            central
                .store
                .attachment_bytes(kiosk.id(), &sha)
                .await
                .unwrap(),
            Some(scan.clone())
        );
        assert_eq!(
            outcomes(kiosk.post_events(&[record]).await).await,
            vec![EventOutcome::Stored]
        );

        // Another kiosk cannot see this kiosk's scan.
        let other = central.kiosk().await;
        assert_eq!(upload_status(&other, &sha).await.received, 0);

        // Bytes that do not hash to their name are discarded whole.
        let liar = hex::encode(Sha256::digest(b"something else"));
        let r = put_chunk(&kiosk, &liar, 0, 5, b"hello").await;
        assert_eq!(error_of(r, 422).await.error, "digest_mismatch");
        assert_eq!(
            upload_status(&kiosk, &liar).await,
            UploadStatus {
                received: 0,
                complete: false
            }
        );
        // A chunk over 1 MiB is refused.
        let big = vec![0u8; routes::MAX_CHUNK_BYTES + 1];
        let big_sha = hex::encode(Sha256::digest(&big));
        error_of(
            put_chunk(&kiosk, &big_sha, 0, big.len() as u64, &big).await,
            413,
        )
        .await;
        central.stop().await;
    }
}

#[tokio::test]
async fn a_published_catalog_reaches_the_kiosk_with_an_etag_and_a_signature_it_verifies() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let get_state = |etag: Option<String>| {
            let mut r = kiosk.request(Method::GET, routes::DESIRED_STATE, vec![]);
            if let Some(tag) = etag {
                r = r.header("if-none-match", tag);
            }
            r.send()
        };
        let empty = get_state(None).await.unwrap();
        assert_eq!(empty.status(), 200, "{}", db.name);
        let empty_tag = empty.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(
            empty.json::<DesiredState>().await.unwrap(),
            DesiredState::default()
        );

        let catalog = sample_catalog();
        let bundle = kiosk_api::sign_bundle(&central.ops, "catalog", "2026-11-26.1", &catalog);
        central
            .store
            .publish("dongcheng-main", &bundle)
            .await
            .unwrap();

        let changed = get_state(Some(empty_tag.clone())).await.unwrap();
        assert_eq!(changed.status(), 200);
        let tag = changed.headers()["etag"].to_str().unwrap().to_owned();
        assert_ne!(tag, empty_tag);
        let state: DesiredState = changed.json().await.unwrap();
        let wanted = state.catalog.unwrap();
        assert_eq!(wanted.version, "2026-11-26.1");
        assert_eq!(wanted.sha256, hex::encode(Sha256::digest(&catalog)));
        assert_eq!(get_state(Some(tag)).await.unwrap().status(), 304);

        let r = kiosk
            .request(
                Method::GET,
                &routes::bundle("catalog", &wanted.version),
                vec![],
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let signed: SignedBundle = r.json().await.unwrap();
        let ops = keys::public_key_from_base64(&kiosk.enrolment.ops_public_key).unwrap();
        let payload = kiosk_api::verify_bundle(&ops, &signed).unwrap();
        let parsed = kiosk_api::Catalog::from_json(&payload).unwrap();
        assert_eq!(parsed.hall.id, "dongcheng-main");

        let missing = kiosk
            .request(Method::GET, &routes::bundle("catalog", "1999"), vec![])
            .send()
            .await
            .unwrap();
        error_of(missing, 404).await;
        // Other halls do not get this hall's catalog.
        let token = central
            .store
            .create_token("chaoyang", None, chrono::Duration::hours(1))
            .await
            .unwrap();
        let key = keys::generate();
        let e: kiosk_api::Enrolment = central
            .enrol_raw(&token.token, &key)
            .await
            .json()
            .await
            .unwrap();
        let elsewhere = Kiosk {
            key,
            enrolment: e,
            base: central.base.clone(),
            http: central.http.clone(),
            clock_skew: 0,
        };
        let r = elsewhere
            .request(Method::GET, routes::DESIRED_STATE, vec![])
            .send()
            .await
            .unwrap();
        assert_eq!(r.json::<DesiredState>().await.unwrap().catalog, None);
        central.stop().await;
    }
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_signed_ones_demand_a_signature() {
    let db = databases().await.into_iter().next().unwrap();
    let central = Central::start(&db).await;
    let doc: serde_json::Value = central
        .http
        .get(format!(
            "{}{}",
            central.base,
            kiosk_api::openapi::DOCUMENT_PATH
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc,
        serde_json::to_value(kiosk_api::openapi::document()).unwrap()
    );
    for op in kiosk_api::openapi::OPERATIONS {
        let path = op
            .path
            .replace("{sha256}", &"a".repeat(64))
            .replace("{kind}", "catalog")
            .replace("{version}", "1");
        let method = Method::from_bytes(op.method.as_bytes()).unwrap();
        let r = central
            .http
            .request(method, format!("{}{path}", central.base))
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: ApiError = r.json().await.unwrap();
        assert!(
            status != 404 && status != 405,
            "{} {} is documented but not routed ({status} {:?})",
            op.method,
            op.path,
            body
        );
        if op.signed {
            assert_eq!(
                status, 401,
                "{} {} must demand a signature",
                op.method, op.path
            );
        }
    }
    central.stop().await;
}

#[tokio::test]
async fn the_same_batch_sent_four_times_at_once_is_stored_once() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = std::sync::Arc::new(central.kiosk().await);
        let batch: Vec<_> = (1..=200)
            .map(|s| event(s, Stream::Tickets, "ticket_called"))
            .collect();
        let sends: Vec<_> = (0..4)
            .map(|_| {
                let kiosk = kiosk.clone();
                let batch = batch.clone();
                tokio::spawn(async move { outcomes(kiosk.post_events(&batch).await).await })
            })
            .collect();
        let mut stored = 0;
        let mut duplicate = 0;
        for s in sends {
            for o in s.await.unwrap() {
                match o {
                    EventOutcome::Stored => stored += 1,
                    EventOutcome::Duplicate => duplicate += 1,
                    EventOutcome::Rejected { reason, .. } => {
                        panic!("{}: rejected {reason}", db.name)
                    }
                }
            }
        }
        assert_eq!((stored, duplicate), (200, 600), "{}", db.name);
        let stats = central.store.stats().await.unwrap();
        assert_eq!((stats.total_events, stats.total_missing), (200, 0));
        central.stop().await;
    }
}
