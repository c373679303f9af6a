//! Records across a fleet, told as stories on SQLite and PostgreSQL: kiosks enrolled at the
//! same moment get numbers of their own; every projection of a citizen record either
//! applies, is a true duplicate, or is refused per event with a reason the kiosk keeps (and
//! then is not stored, so a corrected resend applies); help status; holder keys; health
//! reports with the kiosk's quarantine.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;

use chrono::Utc;
use common::{Central, Kiosk, Outbox, acked, databases, today};
use kiosk_api::citizen::{
    ApplicationProgress, ApplicationSubmitted, HelpRequested, HelpStatus, HolderKeys, Lease,
    LeaseRequest, RatingGiven, TicketIssued, TicketPriority, TicketVoided, VoidReason,
    rating_subject, ticket_no,
};
use kiosk_api::{
    ApiError, ApplicationNo, EnrolRequest, Enrolment, Event, EventOutcome, KioskNo, Stream, keys,
    reject_reason, routes,
};
use reqwest::Method;
use uuid::Uuid;

fn reason(outcome: &EventOutcome) -> String {
    match outcome {
        EventOutcome::Rejected { reason, detail } => {
            assert!(detail.is_some(), "a refusal says what is wrong");
            assert!(
                !reject_reason::is_retryable(reason),
                "{reason} is final: the kiosk quarantines the event"
            );
            reason.clone()
        }
        other => panic!("not refused: {other:?}"),
    }
}

fn detail(outcome: &EventOutcome) -> String {
    match outcome {
        EventOutcome::Rejected {
            detail: Some(d), ..
        } => d.clone(),
        other => panic!("no detail: {other:?}"),
    }
}

async fn enrol(central: &Central, hall: &str, hostname: &str) -> Result<Kiosk, ApiError> {
    let key = keys::generate();
    let token = central
        .store
        .create_token(hall, None, chrono::Duration::hours(1))
        .await
        .unwrap()
        .token;
    let response = central
        .http
        .post(format!("{}{}", central.base, routes::ENROLMENTS))
        .json(&EnrolRequest {
            token,
            public_key: keys::public_key_to_base64(&key.verifying_key()),
            hostname: hostname.into(),
            version: "0.1.0".into(),
        })
        .send()
        .await
        .unwrap();
    if response.status() != 201 {
        assert_eq!(response.status(), 409);
        return Err(response.json().await.unwrap());
    }
    let enrolment: Enrolment = response.json().await.unwrap();
    Ok(Kiosk {
        key,
        enrolment,
        base: central.base.clone(),
        http: central.http.clone(),
        clock_skew: 0,
    })
}

async fn get(kiosk: &Kiosk, path: &str) -> reqwest::Response {
    kiosk
        .request(Method::GET, path, vec![])
        .send()
        .await
        .unwrap()
}

fn application(kiosk: &Kiosk, seq: u16, holder: &str) -> ApplicationSubmitted {
    numbered(
        kiosk.enrolment.hall_code,
        kiosk.enrolment.kiosk_no,
        seq,
        holder,
    )
}

fn numbered(
    hall: kiosk_api::HallCode,
    kiosk: KioskNo,
    seq: u16,
    holder: &str,
) -> ApplicationSubmitted {
    ApplicationSubmitted {
        application_no: ApplicationNo::new(hall, kiosk, today(), seq).unwrap(),
        matter_code: "hr-sscard-apply".into(),
        holder_hash: holder.into(),
        holder_name_masked: "张*".into(),
        form: serde_json::Map::new(),
        materials: vec![],
        submitted_at: Utc::now(),
        live_token: None,
    }
}

fn ticket(number: u32) -> TicketIssued {
    TicketIssued {
        ticket_no: ticket_no("A", number),
        category: "A".into(),
        number,
        business_date: today(),
        priority: TicketPriority::Normal,
        source: "band".into(),
        issued_at: Utc::now(),
        holder_hash: None,
        appointment_id: None,
        unconfirmed: false,
        live_token: None,
    }
}

#[tokio::test]
async fn kiosks_enrolled_at_the_same_moment_get_numbers_of_their_own_and_a_full_hall_says_so() {
    for db in databases().await {
        let central = std::sync::Arc::new(Central::start(&db).await);
        // Ten kiosks of one hall at once (two central nodes on one PostgreSQL do the same).
        let enrolments: Vec<_> = (0..10)
            .map(|i| {
                let central = central.clone();
                tokio::spawn(async move {
                    enrol(&central, "dongcheng-main", &format!("k{i}"))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut kiosks = Vec::new();
        for e in enrolments {
            kiosks.push(e.await.unwrap());
        }
        let numbers: HashSet<u8> = kiosks.iter().map(|k| k.enrolment.kiosk_no.get()).collect();
        assert_eq!(numbers, (1..=10).collect(), "{}", db.name);
        let bands: HashSet<u32> = kiosks
            .iter()
            .map(|k| k.enrolment.number_band.first)
            .collect();
        assert_eq!(bands.len(), 10, "{}: bands never overlap", db.name);
        let codes: HashSet<u16> = kiosks.iter().map(|k| k.enrolment.hall_code.get()).collect();
        assert_eq!(codes.len(), 1, "one hall, one code");

        // The eleventh is refused, saying why and what to do.
        let full = enrol(&central, "dongcheng-main", "k10")
            .await
            .err()
            .unwrap();
        assert!(full.message.contains("is full"), "{}", full.message);
        assert!(full.message.contains("another hall"), "{}", full.message);
        // Ops retire a kiosk whose hardware was replaced: the replacement gets its band and
        // a number never used in the hall.
        let gone = &kiosks[3];
        assert!(
            central
                .store
                .retire_kiosk(&gone.id().to_string())
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(
            central.store.retire_kiosk("no-such-kiosk").await.unwrap(),
            None
        );
        let replacement = enrol(&central, "dongcheng-main", "k3-new").await.unwrap();
        assert_eq!(replacement.enrolment.kiosk_no.get(), 11, "{}", db.name);
        assert_eq!(
            replacement.enrolment.number_band,
            gone.enrolment.number_band
        );
        assert!(enrol(&central, "dongcheng-main", "k11").await.is_err());
        let listed = central
            .store
            .fleet_kiosk(&gone.id().to_string())
            .await
            .unwrap()
            .unwrap();
        assert!(listed.retired_at.is_some());

        // Other halls, made at once, get codes of their own.
        let halls: Vec<_> = (0..6)
            .map(|i| {
                let central = central.clone();
                tokio::spawn(
                    async move { enrol(&central, &format!("hall-{i}"), "k").await.unwrap() },
                )
            })
            .collect();
        let mut codes = HashSet::new();
        for h in halls {
            let k = h.await.unwrap();
            assert_eq!(k.enrolment.kiosk_no.get(), 1);
            codes.insert(k.enrolment.hall_code.get());
        }
        codes.insert(kiosks[0].enrolment.hall_code.get());
        assert_eq!(codes.len(), 7, "{}: every hall its own code", db.name);
        let listed = central.store.halls().await.unwrap();
        assert!(listed.iter().all(|h| h.code.is_some()));
        let fleet = central.store.fleet().await.unwrap();
        assert!(
            fleet
                .iter()
                .all(|k| k.kiosk_no.is_some() && k.hall_code.is_some())
        );
        match std::sync::Arc::try_unwrap(central) {
            Ok(central) => central.stop().await,
            Err(_) => panic!("a task still holds central"),
        }
    }
}

#[tokio::test]
async fn an_application_is_kept_under_its_number_or_refused_and_never_overwritten() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let (a, b) = (central.kiosk().await, central.kiosk().await);
        let holder = central.holder_key().hash("11010519491231002X");
        let (mut out_a, mut out_b) = (Outbox::new(), Outbox::new());
        let first = out_a.event(&application(&a, 1, &holder));
        assert_eq!(
            acked(&a, std::slice::from_ref(&first)).await,
            [EventOutcome::Stored],
            "{}",
            db.name
        );
        assert_eq!(acked(&a, &[first]).await, [EventOutcome::Duplicate]);

        // The same number under another event id: refused, the first one stands.
        let mut other = application(&a, 1, &holder);
        other.matter_code = "ps-idcard-renew".into();
        let taken = acked(&a, &[out_a.event(&other)]).await;
        assert_eq!(
            reason(&taken[0]),
            reject_reason::NUMBER_TAKEN,
            "{}",
            db.name
        );
        let no = application(&a, 1, &holder).application_no.to_string();
        let progress = central
            .store
            .application_progress(&no, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(progress.matter_code, "hr-sscard-apply");

        // Kiosk b sends a number made with a's kiosk number, and one of another hall.
        let forged = acked(&b, &[out_b.event(&application(&a, 2, &holder))]).await;
        assert_eq!(reason(&forged[0]), reject_reason::NUMBER_NOT_YOURS);
        assert!(
            detail(&forged[0]).contains("kiosk 01"),
            "{}",
            detail(&forged[0])
        );
        let elsewhere = numbered(
            kiosk_api::HallCode::new(b.enrolment.hall_code.get() + 1).unwrap(),
            b.enrolment.kiosk_no,
            3,
            &holder,
        );
        let forged = acked(&b, &[out_b.event(&elsewhere)]).await;
        assert_eq!(reason(&forged[0]), reject_reason::NUMBER_NOT_YOURS);

        // A payload that does not fit is refused naming the field, never its value.
        let mut plain = out_b.event(&application(&b, 4, &holder));
        plain.payload["holder_hash"] = "11010519491231002X".into();
        let bad = acked(&b, std::slice::from_ref(&plain)).await;
        assert_eq!(reason(&bad[0]), reject_reason::INVALID_PAYLOAD);
        assert!(detail(&bad[0]).contains("holder_hash"));
        assert!(!detail(&bad[0]).contains("1101"));

        // Refused events are not stored; the corrected resend of the same event applies.
        let stats = central.store.stats().await.unwrap();
        let of_b = stats
            .kiosks
            .iter()
            .find(|k| k.kiosk_id == b.id().to_string())
            .unwrap();
        assert_eq!((of_b.events, of_b.refused), (0, 3), "{}", db.name);
        let mut fixed = plain.clone();
        fixed.payload["holder_hash"] = holder.clone().into();
        assert_eq!(acked(&b, &[fixed]).await, [EventOutcome::Stored]);
        let refused = central
            .store
            .refused_events(&b.id().to_string(), 10)
            .await
            .unwrap();
        assert_eq!(refused.len(), 2, "the applied one is no longer listed");

        // Both applications are found by card, in their own hall.
        let mine: Vec<ApplicationProgress> = get(&b, &routes::applications_by_holder(&holder))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(mine.len(), 2, "{}", db.name);
        central.stop().await;
    }
}

#[tokio::test]
async fn a_ticket_is_callable_once_under_its_number_and_only_from_its_own_numbers() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let (a, b) = (central.kiosk().await, central.kiosk().await);
        let hall = a.enrolment.hall_id.clone();
        let band = a.enrolment.number_band;
        let (mut out_a, mut out_b) = (Outbox::new(), Outbox::new());
        let lease: Lease = a
            .request(
                Method::POST,
                routes::QUEUE_LEASES,
                serde_json::to_vec(&LeaseRequest {
                    category: "A".into(),
                    business_date: today(),
                    count: 5,
                    request_id: None,
                })
                .unwrap(),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let unconfirmed = TicketIssued {
            unconfirmed: true,
            live_token: None,
            source: format!("lease:{}", lease.lease_id),
            ..ticket(lease.first)
        };
        let outcomes = acked(
            &a,
            &[
                out_a.event(&ticket(band.first)),
                out_a.event(&unconfirmed),
                // The same band number printed twice: the second is refused.
                out_a.event(&ticket(band.first)),
                // A number from b's band.
                out_a.event(&ticket(b.enrolment.number_band.first)),
                out_a.event(&ticket(band.first + 1)),
            ],
        )
        .await;
        assert_eq!(outcomes[0], EventOutcome::Stored, "{}", db.name);
        assert_eq!(outcomes[1], EventOutcome::Stored);
        assert_eq!(reason(&outcomes[2]), reject_reason::NUMBER_TAKEN);
        assert_eq!(reason(&outcomes[3]), reject_reason::NUMBER_NOT_YOURS);
        assert_eq!(
            outcomes[4],
            EventOutcome::Stored,
            "one refusal does not stop the rest of the batch"
        );

        // Kiosk b may not void a's ticket.
        let void = TicketVoided {
            ticket_no: ticket_no("A", band.first),
            category: "A".into(),
            number: band.first,
            business_date: today(),
            reason: VoidReason::PaperOut,
        };
        let refused = acked(&b, &[out_b.event(&void)]).await;
        assert_eq!(reason(&refused[0]), reject_reason::NUMBER_NOT_YOURS);

        // The unconfirmed ticket is callable, and marked for staff.
        let tickets = central.store.tickets(&hall, today()).await.unwrap();
        assert_eq!(tickets.len(), 3, "{}", db.name);
        let marked: Vec<&str> = tickets
            .iter()
            .filter(|t| t.unconfirmed)
            .map(|t| t.ticket_no.as_str())
            .collect();
        assert_eq!(marked, [ticket_no("A", lease.first)]);
        let mut called = Vec::new();
        while let Some(t) = central
            .store
            .call_next(&hall, "A", Utc::now())
            .await
            .unwrap()
        {
            called.push((t.ticket_no, t.unconfirmed));
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(called.len(), 3);
        assert!(called.contains(&(ticket_no("A", lease.first), true)));
        central.stop().await;
    }
}

#[tokio::test]
async fn a_kind_on_the_wrong_stream_and_a_second_rating_are_refused_per_event() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let mut outbox = Outbox::new();
        let rating = RatingGiven {
            subject: rating_subject::ticket("A012", today()),
            level: 4,
            reasons: vec![],
            note: None,
            matter_code: None,
        };
        let mut misrouted = outbox.event(&rating);
        misrouted.stream = Stream::Records;
        let mut health = outbox.event(&rating);
        health.kind = "health_report".into();
        let mut level = outbox.event(&RatingGiven {
            level: 9,
            ..rating.clone()
        });
        level.kind = "rating_given".into();
        let outcomes = acked(
            &kiosk,
            &[
                misrouted,
                health,
                level,
                outbox.event(&rating),
                outbox.event(&rating),
            ],
        )
        .await;
        assert_eq!(
            reason(&outcomes[0]),
            reject_reason::WRONG_STREAM,
            "{}",
            db.name
        );
        assert_eq!(reason(&outcomes[1]), reject_reason::WRONG_STREAM);
        assert_eq!(reason(&outcomes[2]), reject_reason::INVALID_PAYLOAD);
        assert!(detail(&outcomes[2]).contains("level"));
        assert_eq!(outcomes[3], EventOutcome::Stored);
        assert_eq!(reason(&outcomes[4]), reject_reason::ALREADY_RATED);
        let d = central
            .store
            .rating_distribution(&kiosk.enrolment.hall_id)
            .await
            .unwrap();
        assert_eq!(d.total, 1, "{}", db.name);
        // Refused events stay out of the sequence count; the kiosk holds them.
        let stats = central.store.stats().await.unwrap();
        assert_eq!((stats.total_events, stats.kiosks[0].refused), (1, 4));
        central.stop().await;
    }
}

#[tokio::test]
async fn a_kiosk_reads_back_whether_staff_acknowledged_its_own_help_request() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let (kiosk, other) = (central.kiosk().await, central.kiosk().await);
        let mut outbox = Outbox::new();
        let help = outbox.event(&HelpRequested {
            page: "apply_scan".into(),
            language: kiosk_api::citizen::Language::Zh,
            at: Utc::now(),
        });
        // Not yet received: 404, the request is still in the kiosk's outbox.
        assert_eq!(
            get(&kiosk, &routes::help(help.event_id)).await.status(),
            404
        );
        assert_eq!(
            acked(&kiosk, std::slice::from_ref(&help)).await,
            [EventOutcome::Stored]
        );
        // Sent again (the acknowledgement was lost): the same one request.
        assert_eq!(
            acked(&kiosk, std::slice::from_ref(&help)).await,
            [EventOutcome::Duplicate]
        );
        assert_eq!(central.store.help_requests(true).await.unwrap().len(), 1);

        let status: HelpStatus = get(&kiosk, &routes::help(help.event_id))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(status.event_id, help.event_id, "{}", db.name);
        assert_eq!(status.acknowledged_at, None);
        // Another kiosk of the hall learns nothing of it.
        assert_eq!(
            get(&other, &routes::help(help.event_id)).await.status(),
            404
        );
        assert_eq!(get(&kiosk, "/v1/help/not-a-uuid").await.status(), 422);

        let done = central
            .store
            .acknowledge_help_event(
                &kiosk.enrolment.hall_id,
                &help.event_id.to_string(),
                "3号窗口 王",
            )
            .await
            .unwrap()
            .unwrap();
        assert!(done.acknowledged_at.is_some());
        // A second acknowledgement keeps the first.
        central
            .store
            .acknowledge_help_event(&kiosk.enrolment.hall_id, &help.event_id.to_string(), "李")
            .await
            .unwrap();
        let status: HelpStatus = get(&kiosk, &routes::help(help.event_id))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(status.acknowledged_by.as_deref(), Some("3号窗口 王"));
        assert_eq!(status.acknowledged_at, done.acknowledged_at);
        central.stop().await;
    }
}

#[tokio::test]
async fn kiosks_get_the_holder_keys_and_old_records_are_found_after_a_rotation() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let keys: HolderKeys = get(&kiosk, routes::HOLDER_KEYS).await.json().await.unwrap();
        assert_eq!(keys.keys.len(), 1, "{}", db.name);
        assert_eq!(keys.keys[0], central.holder_key());
        let old = keys.keys[0].hash("11010519491231002X");
        let mut outbox = Outbox::new();
        acked(&kiosk, &[outbox.event(&application(&kiosk, 1, &old))]).await;

        // Ops rotate: the new key comes first, kiosks pick it up without a restart.
        central::holder_keys::generate(&central.holder_keys, "test2").unwrap();
        let rotated: HolderKeys = get(&kiosk, routes::HOLDER_KEYS).await.json().await.unwrap();
        let ids: Vec<&str> = rotated.keys.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(ids, ["test2", "test1"]);
        let hashes = rotated.all_hashes("11010519491231002X");
        assert_ne!(hashes[0], old);
        acked(&kiosk, &[outbox.event(&application(&kiosk, 2, &hashes[0]))]).await;
        // A lookup by card asks once per key and finds both.
        let mut found = Vec::new();
        for h in &hashes {
            let list: Vec<ApplicationProgress> = get(&kiosk, &routes::applications_by_holder(h))
                .await
                .json()
                .await
                .unwrap();
            found.extend(list.into_iter().map(|p| p.application_no.seq()));
        }
        found.sort_unstable();
        assert_eq!(found, [1, 2], "{}", db.name);

        central.stop().await;
    }
}

#[tokio::test]
async fn a_health_report_keeps_the_kiosks_quarantine_and_a_broken_one_is_refused() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let report = |quarantined: u64| {
            serde_json::json!({"version": "0.1.0", "devices": [], "backlog": 3,
                "disk_free_bytes": 1u64 << 30, "session_active": false,
                "quarantined": quarantined, "quarantine": [{"seq": 7, "kind": "application_submitted",
                "reason": "number_taken", "detail": "held by event x", "since": Utc::now()}]})
        };
        let health = |seq: u64, payload: serde_json::Value| Event {
            event_id: Uuid::now_v7(),
            seq,
            stream: Stream::Health,
            kind: "health_report".into(),
            priority: 2,
            occurred_at: Utc::now(),
            payload,
            attachments: vec![],
        };
        let outcomes = acked(
            &kiosk,
            &[
                health(1, report(1)),
                health(2, serde_json::json!({"version": 3})),
            ],
        )
        .await;
        assert_eq!(outcomes[0], EventOutcome::Stored, "{}", db.name);
        assert_eq!(reason(&outcomes[1]), reject_reason::INVALID_PAYLOAD);
        let k = central
            .store
            .fleet_kiosk(&kiosk.id().to_string())
            .await
            .unwrap()
            .unwrap();
        let r = k.report.unwrap();
        assert_eq!((r.quarantined, r.quarantine.len()), (1, 1), "{}", db.name);
        assert_eq!(r.quarantine[0].reason, "number_taken");
        assert_eq!(k.refused, 1);
        // The latest report wins.
        acked(&kiosk, &[health(3, report(4))]).await;
        let k = central
            .store
            .fleet_kiosk(&kiosk.id().to_string())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(k.report.unwrap().quarantined, 4);
        // An update result that does not fit is refused too, naming the field.
        let mut result = health(
            4,
            serde_json::json!({"version": "0.2.0", "from_version": "0.1.0", "outcome": "exploded"}),
        );
        result.kind = "update_result".into();
        let refused = acked(&kiosk, &[result]).await;
        assert_eq!(
            reason(&refused[0]),
            reject_reason::INVALID_PAYLOAD,
            "{}",
            db.name
        );
        assert!(
            detail(&refused[0]).contains("outcome"),
            "{}",
            detail(&refused[0])
        );
        assert!(!detail(&refused[0]).contains("exploded"));
        central.stop().await;
    }
}

#[tokio::test]
async fn halls_and_kiosks_from_before_the_upgrade_get_codes_and_numbers_in_their_order() {
    for db in databases().await {
        // A database as the release before this one left it: migrations 1 to 3.
        sqlx::any::install_default_drivers();
        let (backend, url) = central::store::database_url(&db.url);
        let dialect = match backend {
            central::Backend::Sqlite => "sqlite",
            central::Backend::Postgres => "postgres",
        };
        let old = tempfile::tempdir().unwrap();
        let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dialect);
        for name in ["0001_init.sql", "0002_citizen.sql", "0003_ops.sql"] {
            std::fs::copy(shipped.join(name), old.path().join(name)).unwrap();
        }
        let migrator = sqlx::migrate::Migrator::new(old.path()).await.unwrap();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        migrator.run(&pool).await.unwrap();
        for (id, at) in [("xicheng-main", 200i64), ("dongcheng-main", 100)] {
            sqlx::query("INSERT INTO halls (id, name, created_at) VALUES ($1, $1, $2)")
                .bind(id)
                .bind(at)
                .execute(&pool)
                .await
                .unwrap();
        }
        for (n, (hall, at)) in [
            ("dongcheng-main", 30i64),
            ("dongcheng-main", 10),
            ("xicheng-main", 20),
        ]
        .into_iter()
        .enumerate()
        {
            let key = keys::public_key_to_base64(&keys::generate().verifying_key());
            sqlx::query(
                "INSERT INTO kiosks (id, hall_id, public_key, hostname, version, band_index, band_first, band_last, enrolled_at) \
                 VALUES ($1, $2, $3, $4, '0.1.0', $5, 0, 0, $6)",
            )
            .bind(format!("old-{n}"))
            .bind(hall)
            .bind(key)
            .bind(format!("old-{n}"))
            .bind(n as i64)
            .bind(at)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;

        let store = central::Store::open(&db.url).await.unwrap();
        let codes: Vec<(String, Option<u16>)> = store
            .halls()
            .await
            .unwrap()
            .into_iter()
            .map(|h| (h.id, h.code))
            .collect();
        assert_eq!(
            codes,
            [
                ("dongcheng-main".to_owned(), Some(1)),
                ("xicheng-main".to_owned(), Some(2))
            ],
            "{}: codes in the order halls were made",
            db.name
        );
        let mut numbers: Vec<(String, Option<u8>)> = store
            .fleet()
            .await
            .unwrap()
            .into_iter()
            .map(|k| (k.kiosk_id, k.kiosk_no))
            .collect();
        numbers.sort();
        assert_eq!(
            numbers,
            [
                ("old-0".to_owned(), Some(2)),
                ("old-1".to_owned(), Some(1)),
                ("old-2".to_owned(), Some(1))
            ],
            "{}: numbers in the order kiosks enrolled, per hall",
            db.name
        );
        // A hall made now takes the next code.
        let token = store
            .create_token("chaoyang-main", None, chrono::Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(token.hall_code, 3);
        store.close().await;
    }
}

#[tokio::test]
async fn an_application_rated_as_typed_with_spaces_is_the_same_subject() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let no = application(&kiosk, 1, &"a".repeat(64)).application_no;
        let mut outbox = Outbox::new();
        let rate = |subject: String| RatingGiven {
            subject,
            level: 2,
            reasons: vec!["long_wait".into()],
            note: None,
            matter_code: None,
        };
        let outcomes = acked(
            &kiosk,
            &[
                outbox.event(&rate(rating_subject::application(&no.to_string()))),
                outbox.event(&rate(rating_subject::application(&no.grouped()))),
                outbox.event(&rate(rating_subject::application("0193A1B2-20261126-0001"))),
            ],
        )
        .await;
        assert_eq!(outcomes[0], EventOutcome::Stored, "{}", db.name);
        assert_eq!(reason(&outcomes[1]), reject_reason::ALREADY_RATED);
        assert_eq!(reason(&outcomes[2]), reject_reason::INVALID_PAYLOAD);
        central.stop().await;
    }
}
