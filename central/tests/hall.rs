//! The hall side told as stories (issue 16): windows calling their queues, recall, 过号,
//! transfer, served, measured service times, the display board and a ticket's live state;
//! on SQLite and PostgreSQL, with two central nodes calling on one database at once.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{Duration, Utc};
use common::{Central, Kiosk, Outbox, acked, databases, today};
use kiosk_api::EventOutcome;
use kiosk_api::citizen::{TicketIssued, TicketPriority, ticket_no};

use central::store::{NoShowAfter, QueuePolicy, WindowError};

/// Ticket `n` of `kiosk`'s offline band in `category`, printed `secs` seconds ago.
pub fn band_ticket(
    kiosk: &Kiosk,
    category: &str,
    n: u32,
    priority: TicketPriority,
    secs: i64,
) -> TicketIssued {
    let number = kiosk.enrolment.number_band.first + n;
    TicketIssued {
        ticket_no: ticket_no(category, number),
        category: category.into(),
        number,
        business_date: today(),
        priority,
        source: "band".into(),
        issued_at: Utc::now() - Duration::seconds(secs),
        holder_hash: None,
        appointment_id: None,
        unconfirmed: false,
        live_token: None,
    }
}

async fn issue(kiosk: &Kiosk, outbox: &mut Outbox, tickets: &[TicketIssued]) {
    let events: Vec<_> = tickets.iter().map(|t| outbox.event(t)).collect();
    assert_eq!(
        acked(kiosk, &events).await,
        vec![EventOutcome::Stored; events.len()]
    );
}

#[tokio::test]
async fn windows_call_recall_no_show_transfer_and_serve_with_measured_waits() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let hall = kiosk.enrolment.hall_id.clone();
        let store = &central.store;
        let mut outbox = Outbox::new();
        let a0 = band_ticket(&kiosk, "A", 0, TicketPriority::Normal, 600);
        let a1 = band_ticket(&kiosk, "A", 1, TicketPriority::Normal, 500);
        let a2 = band_ticket(&kiosk, "A", 2, TicketPriority::Appointment, 400);
        let b0 = band_ticket(&kiosk, "B", 0, TicketPriority::Normal, 300);
        issue(
            &kiosk,
            &mut outbox,
            &[a0.clone(), a1.clone(), a2.clone(), b0.clone()],
        )
        .await;

        // Nothing is called at a window nobody set up.
        assert!(matches!(
            store.call_at_window(&hall, 1, None, Utc::now()).await,
            Err(WindowError::NoSuchWindow { .. })
        ));
        store.set_window(&hall, 1, &["A".into()]).await.unwrap();
        store
            .set_window(&hall, 2, &["A".into(), "B".into()])
            .await
            .unwrap();
        assert!(matches!(
            store.call_at_window(&hall, 1, Some("B"), Utc::now()).await,
            Err(WindowError::Invalid(_))
        ));

        // The checked-in appointment first, then by print time, across the window's queues.
        let t0 = Utc::now();
        let first = store
            .call_at_window(&hall, 1, None, t0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.ticket_no, a2.ticket_no, "{}", db.name);
        let second = store
            .call_at_window(&hall, 2, None, t0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.ticket_no, a0.ticket_no, "{}", db.name);
        let live_token = store
            .ticket_token(&hall, today(), &a1.ticket_no)
            .await
            .unwrap()
            .unwrap();
        let live = store.ticket_live(&live_token, t0).await.unwrap().unwrap();
        assert_eq!(
            (live.state, live.ahead, live.wait_secs),
            ("waiting", Some(0), None),
            "{}: no ticket served yet, so no estimate",
            db.name
        );

        // Window 2 serves a0 in 120 s: the first measured service time of queue A, which two
        // windows serve, so each ticket ahead adds 60 s.
        let served = store
            .served(&hall, 2, t0 + Duration::seconds(120))
            .await
            .unwrap();
        assert_eq!(served.ticket_no, a0.ticket_no);
        let pace = store.service_pace(&hall, today()).await.unwrap();
        assert_eq!(pace.get("A"), Some(&60), "{}", db.name);
        let live = store.ticket_live(&live_token, t0).await.unwrap().unwrap();
        assert_eq!((live.ahead, live.wait_secs), (Some(0), Some(60)));
        let stats = store.queue_stats(&hall, today()).await.unwrap();
        assert_eq!(stats.categories[0].avg_service_secs, Some(60));

        // 过号 only after the hall's recalls; then back to the end of the queue.
        let t1 = t0 + Duration::seconds(130);
        let called = store
            .call_at_window(&hall, 2, None, t1)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(called.ticket_no, a1.ticket_no);
        let live = store.ticket_live(&live_token, t1).await.unwrap().unwrap();
        assert_eq!((live.state, live.window_no), ("called", Some(2)));
        assert!(matches!(
            store.no_show(&hall, 2, t1).await,
            Err(WindowError::TooFewRecalls {
                recalls: 0,
                needed: 2,
                ..
            })
        ));
        store.recall(&hall, 2, t1).await.unwrap();
        store.recall(&hall, 2, t1).await.unwrap();
        let gone = store.no_show(&hall, 2, t1).await.unwrap();
        assert_eq!(
            (gone.ticket_no.as_str(), gone.done),
            (a1.ticket_no.as_str(), "requeued")
        );
        let live = store.ticket_live(&live_token, t1).await.unwrap().unwrap();
        assert_eq!(live.state, "waiting", "{}", db.name);
        assert!(store.window_ticket(&hall, 2, t1).await.unwrap().is_none());

        // Window 1 sends its appointment to queue B at window 2, which calls it first
        // (priority), then b0; a1, put back at the end of A, comes after them.
        let moved = store
            .transfer(&hall, 1, Some("B"), Some(2), t1)
            .await
            .unwrap();
        assert_eq!(moved.ticket_no, a2.ticket_no);
        assert!(matches!(
            store.transfer(&hall, 1, None, Some(2), t1).await,
            Err(WindowError::NothingCalled(1))
        ));
        let mut order = Vec::new();
        while let Some(t) = store.call_at_window(&hall, 2, None, t1).await.unwrap() {
            order.push(t.ticket_no);
        }
        assert_eq!(
            order,
            [
                a2.ticket_no.clone(),
                b0.ticket_no.clone(),
                a1.ticket_no.clone()
            ],
            "{}",
            db.name
        );

        // An offline ticket printed before all of these arrives late: it is callable then,
        // in its print-time place.
        let late = band_ticket(&kiosk, "A", 9, TicketPriority::Normal, 900);
        issue(&kiosk, &mut outbox, std::slice::from_ref(&late)).await;
        let board = store.board(&hall, t1).await.unwrap();
        let a = board.queues.iter().find(|q| q.category == "A").unwrap();
        assert_eq!(a.waiting, 1, "{}", db.name);
        // The last call-next found nobody and so only ended a1's service: window 2 is free.
        assert_eq!(board.windows, vec![(1, None), (2, None)], "{}", db.name);
        assert_eq!(
            store
                .ticket_live(&live_token, t1)
                .await
                .unwrap()
                .unwrap()
                .state,
            "served"
        );
        assert_eq!(board.recent[0].ticket_no, a1.ticket_no);
        assert!(board.recent.iter().any(|c| c.recall));
        let called = store
            .call_at_window(&hall, 1, None, t1)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(called.ticket_no, late.ticket_no);

        // A hall that voids no-shows, and one recall is enough.
        store
            .set_queue_policy(
                &hall,
                QueuePolicy {
                    max_recalls: 1,
                    after_no_show: NoShowAfter::Void,
                },
            )
            .await
            .unwrap();
        store.recall(&hall, 1, t1).await.unwrap();
        assert_eq!(store.no_show(&hall, 1, t1).await.unwrap().done, "voided");
        let listed = store.tickets(&hall, today()).await.unwrap();
        let row = listed
            .iter()
            .find(|t| t.ticket_no == late.ticket_no)
            .unwrap();
        assert_eq!(row.state, "voided");

        // Every window action is in the audit log.
        let (log, _) = store.audit_log(100, 0).await.unwrap();
        for action in [
            "queue.call",
            "queue.recall",
            "queue.no_show",
            "queue.transfer",
            "queue.served",
            "window.set",
        ] {
            assert!(
                log.iter().any(|e| e.action == action),
                "{action} not logged"
            );
        }
        central.stop().await;
    }
}

/// Two central nodes on one database, each with windows calling as fast as they can: no
/// ticket is ever called twice and none is skipped.
#[tokio::test]
async fn two_nodes_calling_at_once_never_get_the_same_ticket() {
    for db in databases().await {
        let one = Central::start(&db).await;
        let two = Central::start(&db).await;
        let kiosk = one.kiosk().await;
        let hall = kiosk.enrolment.hall_id.clone();
        let mut outbox = Outbox::new();
        let tickets: Vec<_> = (0..40)
            .map(|n| band_ticket(&kiosk, "A", n, TicketPriority::Normal, 1000 - i64::from(n)))
            .collect();
        issue(&kiosk, &mut outbox, &tickets).await;
        for w in 1..=4 {
            one.store.set_window(&hall, w, &["A".into()]).await.unwrap();
        }
        let mut tasks = Vec::new();
        for w in 1..=4u32 {
            let store = if w % 2 == 0 {
                one.store.clone()
            } else {
                two.store.clone()
            };
            let hall = hall.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    match store.call_at_window(&hall, w, None, Utc::now()).await {
                        Ok(Some(t)) => got.push(t.ticket_no),
                        Ok(None) => return got,
                        Err(WindowError::Store(central::store::StoreError::Contended(_))) => {}
                        Err(e) => panic!("window {w}: {e}"),
                    }
                }
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        let calls = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), calls, "{}: a ticket was called twice", db.name);
        let mut expected: Vec<_> = tickets.iter().map(|t| t.ticket_no.clone()).collect();
        expected.sort();
        assert_eq!(all, expected, "{}", db.name);
        one.stop().await;
        two.stop().await;
    }
}

fn central_cli(db: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(common::BIN)
        .args(args)
        .args(["--db", db])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// `central queue …` at a window: set up, bind a clerk, call as the clerk at their window
/// and be refused at another; recall, no-show by the rule, served.
#[tokio::test]
async fn the_cli_calls_at_a_window_as_a_clerk_bound_to_it() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let hall = kiosk.enrolment.hall_id.clone();
        let mut outbox = Outbox::new();
        let a0 = band_ticket(&kiosk, "A", 0, TicketPriority::Normal, 60);
        let a1 = band_ticket(&kiosk, "A", 1, TicketPriority::Normal, 50);
        issue(&kiosk, &mut outbox, &[a0.clone(), a1.clone()]).await;
        central
            .store
            .add_console_user("li", "a long enough password", central::store::Role::Clerk)
            .await
            .unwrap();
        let ok = |args: &[&str]| {
            let out = central_cli(&db.url, args);
            assert!(
                out.status.success(),
                "{}: central {args:?}: {}",
                db.name,
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        for w in ["5", "6"] {
            ok(&[
                "queue",
                "window",
                "--hall",
                &hall,
                "--window",
                w,
                "--categories",
                "A,B",
            ]);
        }
        ok(&["queue", "clerk", "li", "--hall", &hall, "--window", "5"]);
        ok(&[
            "queue",
            "policy",
            "--hall",
            &hall,
            "--recalls",
            "1",
            "--then",
            "void",
        ]);

        let called = ok(&[
            "queue", "call", "--hall", &hall, "--window", "5", "--as", "li",
        ]);
        assert!(
            called.contains(&format!("请 {} 号到 5 号窗口办理", a0.ticket_no)),
            "{called}"
        );
        let refused = central_cli(
            &db.url,
            &[
                "queue", "call", "--hall", &hall, "--window", "6", "--as", "li",
            ],
        );
        assert!(!refused.status.success());
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("clerk of other windows"),
            "{}",
            String::from_utf8_lossy(&refused.stderr)
        );
        let early = central_cli(
            &db.url,
            &[
                "queue", "no-show", "--hall", &hall, "--window", "5", "--as", "li",
            ],
        );
        assert!(!early.status.success(), "{}: no recall yet", db.name);
        ok(&[
            "queue", "recall", "--hall", &hall, "--window", "5", "--as", "li",
        ]);
        let gone = ok(&[
            "queue", "no-show", "--hall", &hall, "--window", "5", "--as", "li",
        ]);
        assert!(gone.contains(&format!("{} voided", a0.ticket_no)), "{gone}");
        ok(&[
            "queue",
            "call",
            "--hall",
            &hall,
            "--window",
            "5",
            "--category",
            "A",
        ]);
        let served = ok(&[
            "queue", "served", "--hall", &hall, "--window", "5", "--json",
        ]);
        let served: serde_json::Value = serde_json::from_str(&served).unwrap();
        assert_eq!(served["ticket_no"], a1.ticket_no.as_str());
        assert_eq!(served["done"], "served");
        let (log, _) = central.store.audit_log(50, 0).await.unwrap();
        assert!(
            log.iter()
                .any(|e| e.actor == "li" && e.action == "queue.no_show"),
            "{}: the clerk's no-show is logged under their name",
            db.name
        );
        central.stop().await;
    }
}

/// The number a clerk's window page shows as now serving.
fn current_of(html: &str) -> Option<String> {
    let at = html.find(r#"id="current""#)?;
    let rest = &html[at..];
    let text = &rest[rest.find('>')? + 1..];
    let text = &text[..text.find('<')?];
    (!text.contains("free")).then(|| text.trim().to_owned())
}

/// Two clerks on two central nodes sharing one database press 叫号 at the same moment,
/// again and again: they never get the same ticket. A clerk cannot open or act at a window
/// not theirs, and a viewer cannot call at all.
#[tokio::test]
async fn two_clerks_on_two_nodes_call_at_once_from_their_pages() {
    use common::browser::{Browser, csrf_of};
    const PASSWORD: &str = "correct horse battery";
    for db in databases().await {
        let one = Central::start(&db).await;
        let two = Central::start(&db).await;
        let kiosk = one.kiosk().await;
        let hall = kiosk.enrolment.hall_id.clone();
        let mut outbox = Outbox::new();
        let tickets: Vec<_> = (0..12)
            .map(|n| band_ticket(&kiosk, "A", n, TicketPriority::Normal, 100 - i64::from(n)))
            .collect();
        issue(&kiosk, &mut outbox, &tickets).await;
        let store = &one.store;
        for (user, window) in [("wang", 1), ("zhao", 2)] {
            store
                .set_window(&hall, window, &["A".into()])
                .await
                .unwrap();
            store
                .add_console_user(user, PASSWORD, central::store::Role::Clerk)
                .await
                .unwrap();
            store.bind_clerk(user, &hall, window).await.unwrap();
        }
        store
            .add_console_user("vera", PASSWORD, central::store::Role::Viewer)
            .await
            .unwrap();

        let mut wang = Browser::new(&one.base);
        let login = wang.log_in("wang", PASSWORD).await;
        assert_eq!(login.location.as_deref(), Some("/console/clerk"));
        let mut zhao = Browser::new(&two.base);
        zhao.log_in("zhao", PASSWORD).await;
        let list = wang.get("/console/clerk").await;
        assert!(list.body.contains(&format!("/console/clerk/{hall}/1")));
        assert!(!list.body.contains(&format!("/console/clerk/{hall}/2")));
        assert_eq!(
            wang.get(&format!("/console/clerk/{hall}/2")).await.status,
            403
        );

        let page1 = format!("/console/clerk/{hall}/1");
        let page2 = format!("/console/clerk/{hall}/2");
        let csrf1 = csrf_of(&wang.get(&page1).await.body);
        let csrf2 = csrf_of(&zhao.get(&page2).await.body);
        let not_mine = wang
            .post(&format!("{page2}/call"), &[("csrf", &csrf1)])
            .await;
        assert_eq!(not_mine.status, 403, "{}", db.name);

        let (call1, call2) = (format!("{page1}/call"), format!("{page2}/call"));
        let (form1, form2) = ([("csrf", csrf1.as_str())], [("csrf", csrf2.as_str())]);
        let mut seen = Vec::new();
        for _ in 0..6 {
            let (a, b) = tokio::join!(wang.post(&call1, &form1), zhao.post(&call2, &form2));
            assert_eq!((a.status, b.status), (303, 303), "{}", db.name);
            let now1 = current_of(&wang.get(&page1).await.body).unwrap();
            let now2 = current_of(&zhao.get(&page2).await.body).unwrap();
            assert_ne!(now1, now2, "{}: both clerks got {now1}", db.name);
            seen.push(now1);
            seen.push(now2);
        }
        seen.sort();
        let mut expected: Vec<_> = tickets.iter().map(|t| t.ticket_no.clone()).collect();
        expected.sort();
        assert_eq!(seen, expected, "{}: every ticket called once", db.name);

        // Recall, then 过号 once the hall's two recalls were made; nobody is left.
        for _ in 0..2 {
            let r = wang
                .post(&format!("{page1}/recall"), &[("csrf", &csrf1)])
                .await;
            assert_eq!(r.status, 303);
        }
        let gone = wang
            .post(&format!("{page1}/no-show"), &[("csrf", &csrf1)])
            .await;
        assert_eq!(gone.status, 303, "{}", gone.body);
        let last_of_wang = current_of(&wang.get(&page1).await.body);
        assert_eq!(last_of_wang, None, "{}", db.name);
        let again = zhao.post(&call2, &form2).await;
        assert_eq!(again.status, 303, "{}", db.name);
        let now2 = current_of(&zhao.get(&page2).await.body).unwrap();
        assert!(
            seen.contains(&now2),
            "{}: wang's no-show went back to the queue and zhao called it",
            db.name
        );
        let nobody = zhao.post(&call2, &form2).await;
        assert!(nobody.body.contains("Nobody is waiting"), "{}", db.name);

        let mut vera = Browser::new(&one.base);
        vera.log_in("vera", PASSWORD).await;
        let csrf = csrf_of(&vera.get("/console/fleet").await.body);
        let viewer = vera
            .post(&format!("{page1}/call"), &[("csrf", &csrf)])
            .await;
        assert_eq!(viewer.status, 403);
        one.stop().await;
        two.stop().await;
    }
}

/// `central serve --public-url`: kiosks learn where live pages are from the queue state,
/// print that and a token of their own in the ticket's QR code and send the token with the
/// ticket; the address then opens that ticket's live page, with no personal data on it. A
/// bad or reused token is refused, and an older kiosk's ticket still gets a page.
#[tokio::test]
async fn a_ticket_printed_with_a_live_token_opens_its_live_page_at_the_public_url() {
    for db in databases().await {
        let setup = common::serve_setup(&db).await;
        let server = common::Server::start_with(
            &db.url,
            &setup.holder_keys,
            &["--public-url", "https://q.example.gov.cn/"],
        );
        let http = reqwest::Client::new();
        let kiosk = Kiosk::enrol(&server.1, &http, &setup.token).await;
        let state: kiosk_api::citizen::QueueSnapshot = kiosk
            .request(reqwest::Method::GET, kiosk_api::routes::QUEUE_STATE, vec![])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let prefix = state.live_url_prefix.unwrap();
        assert_eq!(prefix, "https://q.example.gov.cn/t/");

        let token = "5f0c1e2d3b4a69788796a5b4c3d2e1f0";
        let mut outbox = Outbox::new();
        let mut ticket = band_ticket(&kiosk, "A", 0, TicketPriority::Senior, 30);
        ticket.holder_hash = Some("ab".repeat(32));
        ticket.live_token = Some(token.into());
        let older = band_ticket(&kiosk, "A", 1, TicketPriority::Normal, 20);
        issue(&kiosk, &mut outbox, &[ticket.clone(), older.clone()]).await;
        let qr = format!("{prefix}{token}");
        let page = http
            .get(qr.replace("https://q.example.gov.cn", &server.1))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{}", db.name);
        let html = page.text().await.unwrap();
        assert!(html.contains(&ticket.ticket_no), "{}", db.name);
        assert!(html.contains("等候中"), "{html}");
        assert!(
            !html.contains(&"ab".repeat(32)),
            "no holder data on the page"
        );

        // Other tokens open nothing; a reused or malformed one is refused with the field.
        for bad in [
            "00000000000000000000000000000000",
            "not-a-token",
            "A".repeat(32).as_str(),
        ] {
            let r = http
                .get(format!("{}/t/{bad}", server.1))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404, "{bad}");
        }
        let mut reused = band_ticket(&kiosk, "A", 2, TicketPriority::Normal, 10);
        reused.live_token = Some(token.into());
        let mut malformed = band_ticket(&kiosk, "A", 3, TicketPriority::Normal, 10);
        malformed.live_token = Some("not a token".into());
        let outcomes = acked(&kiosk, &[outbox.event(&reused), outbox.event(&malformed)]).await;
        assert_eq!(
            outcomes,
            vec![
                EventOutcome::rejected(
                    kiosk_api::reject_reason::INVALID_PAYLOAD,
                    "field `live_token` is already another record's"
                ),
                EventOutcome::rejected(
                    kiosk_api::reject_reason::INVALID_PAYLOAD,
                    "field `live_token` is not 32 lower-case hex"
                ),
            ],
            "{}",
            db.name
        );
        // An application whose receipt carries a token of its own: /t/<token> shows its
        // progress (the number on the receipt, never the masked name), and follows staff.
        let app_token = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
        let no = kiosk_api::ApplicationNo::new(
            kiosk.enrolment.hall_code,
            kiosk.enrolment.kiosk_no,
            today(),
            1,
        )
        .unwrap();
        let application = kiosk_api::citizen::ApplicationSubmitted {
            application_no: no,
            matter_code: "hr-sscard-apply".into(),
            holder_hash: "cd".repeat(32),
            holder_name_masked: "张*".into(),
            form: serde_json::Map::new(),
            materials: vec![],
            submitted_at: Utc::now(),
            live_token: Some(app_token.into()),
        };
        let mut stolen = application.clone();
        stolen.application_no = kiosk_api::ApplicationNo::new(
            kiosk.enrolment.hall_code,
            kiosk.enrolment.kiosk_no,
            today(),
            2,
        )
        .unwrap();
        stolen.live_token = Some(token.into());
        let outcomes = acked(&kiosk, &[outbox.event(&application), outbox.event(&stolen)]).await;
        assert_eq!(outcomes[0], EventOutcome::Stored, "{}", db.name);
        assert_eq!(
            outcomes[1],
            EventOutcome::rejected(
                kiosk_api::reject_reason::INVALID_PAYLOAD,
                "field `live_token` is already another record's"
            ),
            "{}: a ticket's token is no application's",
            db.name
        );
        let page = |http: reqwest::Client, url: String| async move {
            http.get(url).send().await.unwrap().text().await.unwrap()
        };
        let html = page(http.clone(), format!("{}/t/{app_token}", server.1)).await;
        assert!(html.contains(&no.grouped()), "{html}");
        assert!(html.contains("已提交"), "{html}");
        assert!(!html.contains("张*") && !html.contains(&"cd".repeat(32)));
        setup
            .store
            .advance_application(
                &no.to_string(),
                kiosk_api::citizen::ApplicationStatus::SupplementRequired,
                Some("请补正户口簿"),
                Some("Please bring the household register"),
                Utc::now(),
            )
            .await
            .unwrap();
        let html = page(http.clone(), format!("{}/t/{app_token}", server.1)).await;
        assert!(html.contains("需补正材料"), "{html}");
        assert!(html.contains("请补正户口簿"), "{html}");

        let older_token = setup
            .store
            .ticket_token(&kiosk.enrolment.hall_id, today(), &older.ticket_no)
            .await
            .unwrap()
            .unwrap();
        assert!(kiosk_api::citizen::is_live_token(&older_token));
        assert_ne!(older_token, token);
        server.stop();
    }
}
