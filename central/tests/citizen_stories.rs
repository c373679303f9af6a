//! The citizen side of central told as stories: number leases, tickets, applications,
//! ratings, help and appointments, each run against SQLite and PostgreSQL over real HTTP.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{Days, NaiveDate, Utc};
use common::{Central, Kiosk, Outbox, acked, databases, today};
use kiosk_api::citizen::{
    ApplicationProgress, ApplicationStatus, ApplicationSubmitted, Appointment, HelpRequested,
    LEASE_MAX_NUMBER, Lease, LeaseRequest, QueueSnapshot, RatingGiven, SubmittedMaterial,
    TicketIssued, TicketPriority, TicketVoided, VoidReason, rating_subject, ticket_no,
};
use kiosk_api::{ApiError, ApplicationNo, EventOutcome, reject_reason, routes};
use reqwest::Method;
use uuid::Uuid;

async fn get<T: serde::de::DeserializeOwned>(kiosk: &Kiosk, path: &str) -> T {
    let response = kiosk
        .request(Method::GET, path, vec![])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

async fn refused(
    kiosk: &Kiosk,
    method: Method,
    path: &str,
    body: Vec<u8>,
    status: u16,
) -> ApiError {
    let response = kiosk.request(method, path, body).send().await.unwrap();
    assert_eq!(response.status(), status, "{path}");
    response.json().await.unwrap()
}

async fn lease(kiosk: &Kiosk, category: &str, date: NaiveDate, count: u32) -> reqwest::Response {
    let body = serde_json::to_vec(&LeaseRequest {
        category: category.into(),
        business_date: date,
        count,
        request_id: None,
    })
    .unwrap();
    kiosk
        .request(Method::POST, routes::QUEUE_LEASES, body)
        .send()
        .await
        .unwrap()
}

fn issued(category: &str, number: u32, priority: TicketPriority) -> TicketIssued {
    TicketIssued {
        ticket_no: ticket_no(category, number),
        category: category.into(),
        number,
        business_date: today(),
        priority,
        source: "band".into(),
        issued_at: Utc::now(),
        holder_hash: None,
        appointment_id: None,
        unconfirmed: false,
        live_token: None,
    }
}

/// The `seq`-th application number of `kiosk` today.
fn application_no(kiosk: &Kiosk, seq: u16) -> ApplicationNo {
    ApplicationNo::new(
        kiosk.enrolment.hall_code,
        kiosk.enrolment.kiosk_no,
        today(),
        seq,
    )
    .unwrap()
}

fn reason(outcome: &EventOutcome) -> &str {
    match outcome {
        EventOutcome::Rejected { reason, .. } => reason,
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test]
async fn two_kiosks_leasing_at_once_never_get_overlapping_blocks_and_run_out_below_500() {
    for db in databases().await {
        // One kiosk drains the category here: no per-kiosk cap (tests/trust.rs tests that).
        let limits = central::Limits {
            lease_cap: 1000,
            ..Default::default()
        };
        let central = Central::start_with(&db, limits).await;
        let kiosks = std::sync::Arc::new([central.kiosk().await, central.kiosk().await]);
        let asks: Vec<_> = (0..16)
            .map(|i| {
                let kiosks = kiosks.clone();
                tokio::spawn(async move {
                    let kiosk = &kiosks[i % 2];
                    let response = lease(kiosk, "A", today(), 20).await;
                    assert_eq!(response.status(), 201);
                    (kiosk.id(), response.json::<Lease>().await.unwrap())
                })
            })
            .collect();
        let mut blocks = Vec::new();
        for ask in asks {
            blocks.push(ask.await.unwrap());
        }
        blocks.sort_by_key(|(_, l)| l.first);
        assert_eq!(blocks[0].1.first, 1, "{}", db.name);
        for pair in blocks.windows(2) {
            assert!(
                pair[0].1.last < pair[1].1.first,
                "{}: {:?} overlaps {:?}",
                db.name,
                pair[0].1,
                pair[1].1
            );
        }
        // Central knows every block's owner.
        for (owner, l) in &blocks {
            assert_eq!(l.last - l.first + 1, 20);
            let hall = &kiosks[0].enrolment.hall_id;
            assert_eq!(
                central
                    .store
                    .lease_owner(hall, "A", today(), l.first)
                    .await
                    .unwrap(),
                Some(*owner)
            );
        }
        // Another category and tomorrow count on their own.
        let b: Lease = lease(&kiosks[0], "B", today(), 5)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!((b.first, b.last), (1, 5));
        let tomorrow = today().checked_add_days(Days::new(1)).unwrap();
        let t: Lease = lease(&kiosks[0], "A", tomorrow, 5)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!((t.first, t.last), (1, 5));

        // 320 of A are gone; what is left below 500 comes in a short block, then none.
        let mut last = 320;
        loop {
            let response = lease(&kiosks[1], "A", today(), 100).await;
            if response.status() == 409 {
                let e: ApiError = response.json().await.unwrap();
                assert_eq!(e.error, "numbers_exhausted");
                break;
            }
            let l: Lease = response.json().await.unwrap();
            assert_eq!(l.first, last + 1);
            last = l.last;
        }
        assert_eq!(
            last, LEASE_MAX_NUMBER,
            "the offline bands from 500 stay untouched"
        );

        let far = today().checked_add_days(Days::new(2)).unwrap();
        let e = refused(
            &kiosks[0],
            Method::POST,
            routes::QUEUE_LEASES,
            serde_json::to_vec(&LeaseRequest {
                category: "A".into(),
                business_date: far,
                count: 5,
                request_id: None,
            })
            .unwrap(),
            422,
        )
        .await;
        assert!(e.message.contains("today"), "{}", e.message);
        let yesterday = today().checked_sub_days(Days::new(1)).unwrap();
        assert_eq!(lease(&kiosks[0], "A", yesterday, 5).await.status(), 422);
        assert_eq!(lease(&kiosks[0], "a", today(), 5).await.status(), 422);
        assert_eq!(lease(&kiosks[0], "A", today(), 0).await.status(), 422);
        central.stop().await;
    }
}

#[tokio::test]
async fn a_resent_ticket_changes_nothing_and_a_voided_ticket_is_not_waiting() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let hall = kiosk.enrolment.hall_id.clone();
        let mut outbox = Outbox::new();
        let l: Lease = lease(&kiosk, "A", today(), 4).await.json().await.unwrap();
        assert_eq!((l.first, l.last), (1, 4));
        let batch = vec![
            outbox.event(&issued("A", 1, TicketPriority::Normal)),
            outbox.event(&issued("A", 2, TicketPriority::Normal)),
            outbox.event(&issued("A", 3, TicketPriority::Senior)),
            outbox.event(&issued("A", 4, TicketPriority::Normal)),
            outbox.event(&TicketVoided {
                ticket_no: "A004".into(),
                category: "A".into(),
                number: 4,
                business_date: today(),
                reason: VoidReason::PaperOut,
            }),
        ];
        assert_eq!(
            acked(&kiosk, &batch).await,
            vec![EventOutcome::Stored; 5],
            "{}",
            db.name
        );
        let state: QueueSnapshot = get(&kiosk, routes::QUEUE_STATE).await;
        assert_eq!(state.business_date, today());
        assert_eq!(state.categories.len(), 1);
        assert_eq!(
            state.categories[0].waiting, 3,
            "{}: A004 was voided",
            db.name
        );
        assert_eq!(state.categories[0].now_serving, None);

        // The acknowledgement was lost: the same rows again, and the same number under a new
        // event id (a kiosk bug). Neither counts twice; the second is refused, not swallowed.
        assert_eq!(
            acked(&kiosk, &batch).await,
            vec![EventOutcome::Duplicate; 5]
        );
        let again = acked(
            &kiosk,
            &[outbox.event(&issued("A", 2, TicketPriority::Normal))],
        )
        .await;
        assert_eq!(
            reason(&again[0]),
            reject_reason::NUMBER_TAKEN,
            "{}",
            db.name
        );
        let stats = central.store.queue_stats(&hall, today()).await.unwrap();
        let a = &stats.categories[0];
        assert_eq!(
            (a.issued, a.voided, a.called, a.waiting, a.waiting_priority),
            (4, 1, 0, 3, 1),
            "{}",
            db.name
        );

        // The window calls: the senior first, then in print order; the voided one never.
        let mut called = Vec::new();
        while let Some(t) = central
            .store
            .call_next(&hall, "A", Utc::now())
            .await
            .unwrap()
        {
            called.push(t.ticket_no);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(called, ["A003", "A001", "A002"], "{}", db.name);
        let state: QueueSnapshot = get(&kiosk, routes::QUEUE_STATE).await;
        assert_eq!(state.categories[0].waiting, 0);
        assert_eq!(state.categories[0].now_serving.as_deref(), Some("A002"));
        assert!(state.categories[0].avg_service_secs.is_some());

        // A payload outside the contract is refused with the field named (the kiosk
        // quarantines it), and not projected.
        let mut broken = outbox.event(&issued("A", 9, TicketPriority::Normal));
        broken.payload = serde_json::json!({"number": "A009"});
        let refused = acked(&kiosk, &[broken]).await;
        assert_eq!(
            refused,
            vec![EventOutcome::rejected(
                reject_reason::INVALID_PAYLOAD,
                "field `number` has the wrong type or value"
            )]
        );
        assert_eq!(
            central
                .store
                .queue_stats(&hall, today())
                .await
                .unwrap()
                .categories[0]
                .issued,
            4
        );
        central.stop().await;
    }
}

#[tokio::test]
async fn a_subject_keeps_its_first_rating_and_bad_reviews_wait_for_follow_up() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let (first, second) = (central.kiosk().await, central.kiosk().await);
        let hall = first.enrolment.hall_id.clone();
        let subject = rating_subject::ticket("A012", today());
        let rating = |level: u8| RatingGiven {
            subject: subject.clone(),
            level,
            reasons: if level <= 2 {
                vec!["long_wait".into()]
            } else {
                vec![]
            },
            note: None,
            matter_code: Some("hr-sscard-apply".into()),
        };
        let mut a = Outbox::new();
        let mut b = Outbox::new();
        assert_eq!(
            acked(&first, &[a.event(&rating(1))]).await,
            vec![EventOutcome::Stored]
        );
        // A second rating of the same ticket, from another kiosk: refused as already rated
        // (that kiosk quarantines it, where ops see it), and not counted.
        let twice = acked(&second, &[b.event(&rating(5))]).await;
        assert_eq!(
            reason(&twice[0]),
            reject_reason::ALREADY_RATED,
            "{}",
            db.name
        );
        assert_eq!(
            acked(
                &second,
                &[b.event(&RatingGiven {
                    subject: rating_subject::application(&application_no(&second, 1).to_string()),
                    ..rating(4)
                })]
            )
            .await,
            vec![EventOutcome::Stored]
        );
        let d = central.store.rating_distribution(&hall).await.unwrap();
        assert_eq!(d.total, 2, "{}", db.name);
        let counts: Vec<(u8, u64)> = d.levels.iter().map(|l| (l.level, l.count)).collect();
        assert_eq!(counts, [(5, 0), (4, 1), (3, 0), (2, 0), (1, 1)]);

        let bad = central.store.bad_reviews(&hall).await.unwrap();
        assert_eq!(bad.len(), 1);
        assert_eq!(
            (bad[0].level, bad[0].subject.as_str()),
            (1, subject.as_str())
        );
        assert_eq!(bad[0].reasons, ["long_wait"]);
        let done = central
            .store
            .follow_up_review(bad[0].id, "called the citizen back")
            .await
            .unwrap()
            .unwrap();
        assert!(done.followed_up_at.is_some());
        assert!(central.store.bad_reviews(&hall).await.unwrap().is_empty());
        assert!(
            central
                .store
                .follow_up_review(9999, "x")
                .await
                .unwrap()
                .is_none()
        );
        central.stop().await;
    }
}

#[tokio::test]
async fn help_requests_are_open_until_staff_acknowledge_them() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let mut outbox = Outbox::new();
        let help = outbox.event(&HelpRequested {
            page: "apply_scan".into(),
            language: kiosk_api::citizen::Language::Zh,
            at: Utc::now(),
        });
        acked(&kiosk, std::slice::from_ref(&help)).await;
        acked(&kiosk, &[help]).await;
        let open = central.store.help_requests(true).await.unwrap();
        assert_eq!(
            open.len(),
            1,
            "{}: a re-sent help event is one request",
            db.name
        );
        assert_eq!(
            (open[0].page.as_str(), open[0].hostname.as_str()),
            ("apply_scan", "kiosk-a")
        );
        let done = central
            .store
            .acknowledge_help(open[0].id, "3号窗口 王")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.acknowledged_by.as_deref(), Some("3号窗口 王"));
        assert!(central.store.help_requests(true).await.unwrap().is_empty());
        let all = central.store.help_requests(false).await.unwrap();
        assert!(all[0].acknowledged_at.is_some());
        assert!(
            central
                .store
                .acknowledge_help(open[0].id + 100, "x")
                .await
                .unwrap()
                .is_none()
        );
        central.stop().await;
    }
}

fn appointment(
    id: &str,
    id_number: &str,
    start: &str,
    end: &str,
) -> central::store::AppointmentImport {
    serde_json::from_value(serde_json::json!({
        "appointment_id": id,
        "id_number": id_number,
        "holder_name_masked": "王*",
        "matter_code": "ps-idcard-renew",
        "category": "D",
        "slot_start": start,
        "slot_end": end,
    }))
    .unwrap()
}

#[tokio::test]
async fn a_kiosk_sees_the_appointments_of_its_own_hall_only() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let ours = central.kiosk().await;
        let theirs = central.kiosk_of_hall("xicheng-main").await;
        let day = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let summary = central
            .store
            .import_appointments(
                "dongcheng-main",
                &[
                    appointment(
                        "BK-2",
                        "11010519491231002X",
                        "2026-11-27T10:00:00+08:00",
                        "2026-11-27T10:30:00+08:00",
                    ),
                    appointment(
                        "BK-1",
                        "110105198001010011",
                        "2026-11-27T09:00:00+08:00",
                        "2026-11-27T09:30:00+08:00",
                    ),
                    // 23:30 UTC on the 26th is 07:30 on the 27th in the hall.
                    appointment(
                        "BK-0",
                        "110105198001010011",
                        "2026-11-26T23:30:00Z",
                        "2026-11-27T00:00:00Z",
                    ),
                    appointment(
                        "BK-9",
                        "110105198001010011",
                        "2026-11-28T09:00:00+08:00",
                        "2026-11-28T09:30:00+08:00",
                    ),
                ],
                &central.holder_key(),
            )
            .await
            .unwrap();
        assert_eq!((summary.added, summary.updated), (4, 0), "{}", db.name);
        central
            .store
            .import_appointments(
                "xicheng-main",
                &[appointment(
                    "XC-1",
                    "110105198001010011",
                    "2026-11-27T09:00:00+08:00",
                    "2026-11-27T09:30:00+08:00",
                )],
                &central.holder_key(),
            )
            .await
            .unwrap();
        // Re-importing a rescheduled slot updates it.
        let again = central
            .store
            .import_appointments(
                "dongcheng-main",
                &[appointment(
                    "BK-2",
                    "11010519491231002X",
                    "2026-11-27T11:00:00+08:00",
                    "2026-11-27T11:30:00+08:00",
                )],
                &central.holder_key(),
            )
            .await
            .unwrap();
        assert_eq!((again.added, again.updated), (0, 1));

        let list: Vec<Appointment> = get(&ours, &routes::appointments(day)).await;
        let ids: Vec<&str> = list.iter().map(|a| a.appointment_id.as_str()).collect();
        assert_eq!(ids, ["BK-0", "BK-1", "BK-2"], "{}", db.name);
        assert_eq!(
            list[2].holder_hash,
            central.holder_key().hash("11010519491231002X")
        );
        assert_eq!(list[2].slot_start.to_rfc3339(), "2026-11-27T11:00:00+08:00");
        let list: Vec<Appointment> = get(&theirs, &routes::appointments(day)).await;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].appointment_id, "XC-1");

        let e = refused(
            &ours,
            Method::GET,
            "/v1/appointments?date=27.11.2026",
            vec![],
            422,
        )
        .await;
        assert_eq!(e.error, "invalid");
        refused(&ours, Method::GET, routes::APPOINTMENTS, vec![], 422).await;
        // Bad files are refused whole.
        let bad = central
            .store
            .import_appointments(
                "dongcheng-main",
                &[appointment(
                    "BK-7",
                    "1101",
                    "2026-11-27T09:00:00+08:00",
                    "2026-11-27T09:30:00+08:00",
                )],
                &central.holder_key(),
            )
            .await;
        assert!(bad.unwrap_err().to_string().contains("id_number"));
        assert!(
            central
                .store
                .import_appointments("no-such-hall", &[], &central.holder_key())
                .await
                .is_err()
        );
        central.stop().await;
    }
}

#[tokio::test]
async fn progress_shows_the_timeline_after_staff_advance_an_application() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let stranger = central.kiosk_of_hall("xicheng-main").await;
        let holder = central.holder_key().hash("11010519491231002X");
        let no = application_no(&kiosk, 7);
        let submitted = ApplicationSubmitted {
            application_no: no,
            matter_code: "hr-sscard-apply".into(),
            holder_hash: holder.clone(),
            holder_name_masked: "张*".into(),
            form: serde_json::json!({"phone": "13800000000"})
                .as_object()
                .unwrap()
                .clone(),
            materials: vec![SubmittedMaterial {
                material_code: "photo".into(),
                attachment_sha256: "a".repeat(64),
                pages: 1,
            }],
            submitted_at: Utc::now(),
            live_token: None,
        };
        let mut outbox = Outbox::new();
        let event = outbox.event(&submitted);
        acked(&kiosk, std::slice::from_ref(&event)).await;
        acked(&kiosk, &[event]).await;

        let progress: ApplicationProgress =
            get(&kiosk, &routes::application(&no.to_string())).await;
        assert_eq!(progress.status, ApplicationStatus::Submitted, "{}", db.name);
        assert_eq!(
            progress.timeline.len(),
            1,
            "a re-sent submission is one entry"
        );

        central
            .store
            .advance_application(
                &no.to_string(),
                ApplicationStatus::Accepted,
                Some("已受理"),
                Some("Accepted"),
                Utc::now(),
            )
            .await
            .unwrap();
        central
            .store
            .advance_application(
                &no.to_string(),
                ApplicationStatus::ReadyForPickup,
                Some("请到B区7号窗口领取"),
                None,
                Utc::now(),
            )
            .await
            .unwrap();
        let progress: ApplicationProgress =
            get(&kiosk, &routes::application(&no.to_string())).await;
        let steps: Vec<ApplicationStatus> = progress.timeline.iter().map(|t| t.status).collect();
        assert_eq!(
            steps,
            [
                ApplicationStatus::Submitted,
                ApplicationStatus::Accepted,
                ApplicationStatus::ReadyForPickup
            ]
        );
        assert_eq!(progress.status, ApplicationStatus::ReadyForPickup);
        assert_eq!(
            progress.timeline[2].note_zh.as_deref(),
            Some("请到B区7号窗口领取")
        );
        assert_eq!(progress.timeline[2].note_en, None);

        let mine: Vec<ApplicationProgress> =
            get(&kiosk, &routes::applications_by_holder(&holder)).await;
        assert_eq!(mine, [progress]);

        // Another hall's kiosk learns nothing, not even that it exists.
        let e = refused(
            &stranger,
            Method::GET,
            &routes::application(&no.to_string()),
            vec![],
            404,
        )
        .await;
        assert_eq!(e.error, "not_found");
        let theirs: Vec<ApplicationProgress> =
            get(&stranger, &routes::applications_by_holder(&holder)).await;
        assert!(theirs.is_empty());

        let unknown = application_no(&kiosk, 8);
        let e = refused(
            &kiosk,
            Method::GET,
            &routes::application(&unknown.to_string()),
            vec![],
            404,
        )
        .await;
        assert_eq!(e.error, "not_found");
        refused(
            &kiosk,
            Method::GET,
            "/v1/applications/not-a-number",
            vec![],
            422,
        )
        .await;
        refused(
            &kiosk,
            Method::GET,
            "/v1/applications?holder=110105194912310021",
            vec![],
            422,
        )
        .await;
        assert!(
            central
                .store
                .advance_application(
                    &unknown.to_string(),
                    ApplicationStatus::Accepted,
                    None,
                    None,
                    Utc::now()
                )
                .await
                .is_err()
        );
        assert!(
            central
                .store
                .advance_application(
                    &no.to_string(),
                    ApplicationStatus::Submitted,
                    None,
                    None,
                    Utc::now()
                )
                .await
                .is_err()
        );
        central.stop().await;
    }
}

#[tokio::test]
async fn a_ticket_outside_its_kiosks_lease_or_band_is_refused_and_listed_for_ops() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let (a, b) = (central.kiosk().await, central.kiosk().await);
        let hall = a.enrolment.hall_id.clone();
        let lease_a: Lease = lease(&a, "A", today(), 10).await.json().await.unwrap();
        let from = |number: u32, source: String| TicketIssued {
            source,
            ..issued("A", number, TicketPriority::Normal)
        };
        let band_a = a.enrolment.number_band;
        let (mut out_a, mut out_b) = (Outbox::new(), Outbox::new());
        assert_eq!(
            acked(
                &a,
                &[
                    out_a.event(&from(lease_a.first, format!("lease:{}", lease_a.lease_id))),
                    out_a.event(&from(band_a.first, "band".into())),
                ],
            )
            .await,
            vec![EventOutcome::Stored; 2],
            "{}",
            db.name
        );
        // Kiosk b claims a's lease, prints from a's band and from a lease nobody has.
        let claims = [
            out_b.event(&from(
                lease_a.first + 1,
                format!("lease:{}", lease_a.lease_id),
            )),
            out_b.event(&from(band_a.first + 1, "band".into())),
            out_b.event(&from(lease_a.last + 1, format!("lease:{}", Uuid::now_v7()))),
        ];
        let outcomes = acked(&b, &claims).await;
        for o in &outcomes {
            assert_eq!(reason(o), reject_reason::NUMBER_NOT_YOURS, "{}", db.name);
        }
        // Nothing of b's is in the queue, so no number is held twice; ops see the refusals.
        let stats = central.store.queue_stats(&hall, today()).await.unwrap();
        assert_eq!(stats.categories[0].issued, 2, "{}", db.name);
        assert!(
            central
                .store
                .misnumbered_tickets(&hall, today())
                .await
                .unwrap()
                .is_empty()
        );
        let refused = central
            .store
            .refused_events(&b.id().to_string(), 10)
            .await
            .unwrap();
        assert_eq!(refused.len(), 3);
        assert!(
            refused
                .iter()
                .all(|r| r.reason == "number_not_yours" && r.kind == "ticket_issued")
        );
        central.stop().await;
    }
}
