//! The window rating told as a story (issue 16 item 5, 一次一评), on SQLite and PostgreSQL:
//! a ticket served at a window is rated once from that window's paired tablet, bound to the
//! ticket, window and clerk; a second rating, a rating of another window's ticket, one from
//! an unpaired device and one too late are refused; a bad rating opens a follow-up with a
//! deadline, which the console lists with a kiosk's bad rating, overdue first, and closes.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{Duration, Utc};
use common::browser::{Browser, csrf_of};
use common::{Central, Kiosk, Outbox, acked, databases, today};
use kiosk_api::EventOutcome;
use kiosk_api::citizen::{RatingGiven, TicketIssued, TicketPriority, rating_subject, ticket_no};

use central::store::{
    Actor, FollowUpKind, RATE_WITHIN_MILLIS, RateError, Role, Via, WindowError, WindowRating,
};

const PASSWORD: &str = "correct horse battery";

fn band_ticket(kiosk: &Kiosk, n: u32, secs: i64) -> TicketIssued {
    let number = kiosk.enrolment.number_band.first + n;
    TicketIssued {
        ticket_no: ticket_no("A", number),
        category: "A".into(),
        number,
        business_date: today(),
        priority: TicketPriority::Normal,
        source: "band".into(),
        issued_at: Utc::now() - Duration::seconds(secs),
        holder_hash: None,
        appointment_id: None,
        unconfirmed: false,
        live_token: None,
    }
}

fn rating(secret: &str, ticket: &TicketIssued, level: u8, reasons: &[&str]) -> WindowRating {
    WindowRating {
        secret: secret.to_owned(),
        business_date: ticket.business_date,
        ticket_no: ticket.ticket_no.clone(),
        level,
        reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
        note: None,
    }
}

/// The `data-rating` ids of the follow-up rows of a `/console/followups` page, in order.
fn rows_of(html: &str) -> Vec<i64> {
    html.split("data-rating=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn a_served_ticket_is_rated_once_at_its_window_and_a_bad_rating_is_followed_up() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let hall = kiosk.enrolment.hall_id.clone();
        let store = &central.store;
        let (a0, a1, a2, a3) = (
            band_ticket(&kiosk, 0, 300),
            band_ticket(&kiosk, 1, 200),
            band_ticket(&kiosk, 2, 100),
            band_ticket(&kiosk, 3, 50),
        );
        let mut outbox = Outbox::new();
        let events: Vec<_> = [&a0, &a1, &a2, &a3]
            .iter()
            .map(|t| outbox.event(*t))
            .collect();
        assert_eq!(acked(&kiosk, &events).await, vec![EventOutcome::Stored; 4]);
        store.set_window(&hall, 1, &["A".into()]).await.unwrap();
        store.set_window(&hall, 2, &["A".into()]).await.unwrap();
        store
            .add_console_user("li", PASSWORD, Role::Clerk)
            .await
            .unwrap();
        store.bind_clerk("li", &hall, 1).await.unwrap();
        let li = store.acting_as(Actor {
            name: "li".into(),
            via: Via::Console,
            role: Role::Clerk,
        });
        assert!(matches!(
            store.pair_rating_tablet(&hall, 9).await,
            Err(WindowError::NoSuchWindow { window: 9, .. })
        ));
        let tablet1 = store.pair_rating_tablet(&hall, 1).await.unwrap();
        let tablet2 = store.pair_rating_tablet(&hall, 2).await.unwrap();

        // Called but not yet served: nothing to rate.
        let t0 = Utc::now();
        let called = li
            .call_at_window(&hall, 1, None, t0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(called.ticket_no, a0.ticket_no);
        assert_eq!(store.rateable_ticket(&hall, 1, t0).await.unwrap(), None);
        assert!(matches!(
            store
                .rate_at_window(&hall, 1, &rating(&tablet1, &a0, 5, &[]), t0)
                .await,
            Err(RateError::NotRateable { .. })
        ));

        // 办结: the tablet at window 1 offers a0, bound to li.
        let t1 = t0 + Duration::seconds(90);
        li.served(&hall, 1, t1).await.unwrap();
        let offered = store.rateable_ticket(&hall, 1, t1).await.unwrap().unwrap();
        assert_eq!(
            (offered.ticket_no.as_str(), offered.clerk.as_deref()),
            (a0.ticket_no.as_str(), Some("li")),
            "{}",
            db.name
        );
        assert_eq!(
            store.rateable_ticket(&hall, 2, t1).await.unwrap(),
            None,
            "{}: window 2 served nothing",
            db.name
        );

        // Window 2 serves a1; a1 cannot be rated at window 1, nor a0 at window 2.
        store
            .call_at_window(&hall, 2, None, t1)
            .await
            .unwrap()
            .unwrap();
        store.served(&hall, 2, t1).await.unwrap();
        assert!(matches!(
            store
                .rate_at_window(&hall, 1, &rating(&tablet1, &a1, 5, &[]), t1)
                .await,
            Err(RateError::NotRateable { .. })
        ));
        assert!(matches!(
            store
                .rate_at_window(&hall, 2, &rating(&tablet2, &a0, 5, &[]), t1)
                .await,
            Err(RateError::NotRateable { .. })
        ));
        // Only the window's own tablet: another's secret, or none, is refused.
        for secret in [tablet2.as_str(), "0".repeat(64).as_str(), "nonsense"] {
            assert!(matches!(
                store
                    .rate_at_window(&hall, 1, &rating(secret, &a0, 1, &["attitude"]), t1)
                    .await,
                Err(RateError::NotPaired { window: 1, .. })
            ));
        }
        // A bad rating needs a reason the window offers.
        assert!(matches!(
            store
                .rate_at_window(&hall, 1, &rating(&tablet1, &a0, 2, &[]), t1)
                .await,
            Err(RateError::ReasonsRequired)
        ));
        assert!(matches!(
            store
                .rate_at_window(&hall, 1, &rating(&tablet1, &a0, 2, &["kiosk_problem"]), t1)
                .await,
            Err(RateError::BadReason(_))
        ));

        // The rating: 非常不满意, attitude. It opens a rectification due in 15 days.
        let given = t1 + Duration::seconds(20);
        let rated = store
            .rate_at_window(&hall, 1, &rating(&tablet1, &a0, 1, &["attitude"]), given)
            .await
            .unwrap();
        let (kind, due) = rated.follow_up.unwrap();
        assert_eq!(kind, FollowUpKind::Rectification);
        assert_eq!(
            due.timestamp_millis(),
            (given + Duration::days(15)).timestamp_millis(),
            "{}",
            db.name
        );
        // One rating per ticket: a second one is refused in words, and nothing is offered.
        let again = store
            .rate_at_window(&hall, 1, &rating(&tablet1, &a0, 5, &[]), given)
            .await
            .unwrap_err();
        assert!(
            matches!(again, RateError::AlreadyRated { .. }),
            "{}: {again}",
            db.name
        );
        assert!(again.citizen_message().contains("已经评价过"));
        assert!(again.citizen_message().contains("already rated"));
        assert_eq!(store.rateable_ticket(&hall, 1, given).await.unwrap(), None);

        // Window 2's a1 is rated well: no follow-up. Too late is too late.
        let late = t1 + Duration::milliseconds(RATE_WITHIN_MILLIS + 1000);
        assert_eq!(store.rateable_ticket(&hall, 2, late).await.unwrap(), None);
        assert!(matches!(
            store
                .rate_at_window(&hall, 2, &rating(&tablet2, &a1, 5, &[]), late)
                .await,
            Err(RateError::NotRateable { .. })
        ));
        let good = store
            .rate_at_window(&hall, 2, &rating(&tablet2, &a1, 4, &[]), t1)
            .await
            .unwrap();
        assert_eq!(good.follow_up, None);
        // Once the window calls its next ticket, the ticket before is no longer offered:
        // the next citizen at the window cannot rate it.
        let next = li
            .call_at_window(&hall, 1, None, given)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next.ticket_no, a2.ticket_no);
        li.served(&hall, 1, given).await.unwrap();
        assert!(
            store
                .rateable_ticket(&hall, 1, given)
                .await
                .unwrap()
                .is_some()
        );
        let next = li
            .call_at_window(&hall, 1, None, given)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next.ticket_no, a3.ticket_no);
        assert_eq!(store.rateable_ticket(&hall, 1, given).await.unwrap(), None);
        assert!(matches!(
            store
                .rate_at_window(&hall, 1, &rating(&tablet1, &a2, 5, &[]), given)
                .await,
            Err(RateError::NotRateable { .. })
        ));

        // Pairing again retires the old tablet.
        let tablet2_new = store.pair_rating_tablet(&hall, 2).await.unwrap();
        assert!(!store.tablet_paired(&hall, 2, &tablet2).await.unwrap());
        assert!(store.tablet_paired(&hall, 2, &tablet2_new).await.unwrap());

        // A kiosk's bad rating joins the same list. Turned into a return visit due in one
        // day, opened three days ago, it is overdue and comes first.
        let kiosk_rating = RatingGiven {
            subject: rating_subject::ticket(&a2.ticket_no, today()),
            level: 2,
            reasons: vec!["long_wait".into()],
            note: None,
            matter_code: None,
        };
        assert_eq!(
            acked(&kiosk, &[outbox.event(&kiosk_rating)]).await,
            vec![EventOutcome::Stored]
        );
        let open = store.follow_ups(None).await.unwrap();
        assert_eq!(open.len(), 2, "{}: {open:?}", db.name);
        let from_window = open.iter().find(|b| b.id == rated.id).unwrap().clone();
        assert_eq!(
            (
                from_window.window_no,
                from_window.clerk.as_deref(),
                from_window.kiosk_id.as_deref(),
                from_window.reasons.clone(),
            ),
            (Some(1), Some("li"), None, vec!["attitude".to_owned()])
        );
        let from_kiosk = open.iter().find(|b| b.id != rated.id).unwrap().clone();
        assert!(from_kiosk.kiosk_id.is_some());
        assert_eq!(from_kiosk.follow_up_kind, Some(FollowUpKind::Rectification));
        // An appeal review due in 30 days goes behind the window's rectification...
        store
            .set_follow_up_days(FollowUpKind::AppealReview, 30)
            .await
            .unwrap();
        store
            .set_follow_up_kind(from_kiosk.id, FollowUpKind::AppealReview, Utc::now())
            .await
            .unwrap()
            .unwrap();
        let order =
            |open: Vec<central::store::BadReview>| open.iter().map(|b| b.id).collect::<Vec<_>>();
        assert_eq!(
            order(store.follow_ups(None).await.unwrap()),
            vec![rated.id, from_kiosk.id],
            "{}: the earlier deadline first",
            db.name
        );
        // ...and a return visit due in one day, opened three days ago, is overdue: first.
        store
            .set_follow_up_days(FollowUpKind::ReturnVisit, 1)
            .await
            .unwrap();
        let turned = store
            .set_follow_up_kind(
                from_kiosk.id,
                FollowUpKind::ReturnVisit,
                Utc::now() - Duration::days(3),
            )
            .await
            .unwrap()
            .unwrap();
        assert!(turned.follow_up_due.unwrap() < Utc::now());
        let open = store.follow_ups(Some(&hall)).await.unwrap();
        assert_eq!(
            open.iter().map(|b| b.id).collect::<Vec<_>>(),
            vec![from_kiosk.id, rated.id],
            "{}: overdue first",
            db.name
        );

        // The console lists them so and an operator closes one with a note, audited; a
        // clerk may not.
        store
            .add_console_user("wang", PASSWORD, Role::Operator)
            .await
            .unwrap();
        let mut clerk = Browser::new(&central.base);
        clerk.log_in("li", PASSWORD).await;
        let page = clerk.get("/console/followups").await;
        assert_eq!(page.status, 200);
        let csrf = csrf_of(&page.body);
        let close = format!("/console/followups/{}/close", rated.id);
        let refused = clerk
            .post(&close, &[("csrf", &csrf), ("note", "talked to li")])
            .await;
        assert_eq!(refused.status, 403, "{}", db.name);
        let mut wang = Browser::new(&central.base);
        wang.log_in("wang", PASSWORD).await;
        let page = wang.get("/console/followups").await;
        assert_eq!(rows_of(&page.body), vec![from_kiosk.id, rated.id]);
        assert!(page.body.contains("已逾期 OVERDUE"), "{}", db.name);
        let csrf = csrf_of(&page.body);
        let empty = wang.post(&close, &[("csrf", &csrf), ("note", " ")]).await;
        assert_eq!(empty.status, 422, "{}: closing says what was done", db.name);
        let closed = wang
            .post(
                &close,
                &[("csrf", &csrf), ("note", "talked to li; apologised")],
            )
            .await;
        assert_eq!(closed.status, 303, "{}", db.name);
        assert_eq!(
            rows_of(&wang.get("/console/followups").await.body),
            vec![from_kiosk.id]
        );
        let (log, _) = store.audit_log(20, 0).await.unwrap();
        assert!(
            log.iter().any(|e| e.action == "rating.follow_up"
                && e.actor == "wang"
                && e.target == format!("rating {}", rated.id)
                && e.detail == "talked to li; apologised"),
            "{}: {log:?}",
            db.name
        );

        // Over HTTP: a stranger's URL is not found; a second rating is answered in words.
        let http = reqwest::Client::new();
        let stranger = http
            .get(format!(
                "{}/hall/{hall}/window/1/rate/{}",
                central.base,
                "f".repeat(64)
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(stranger.status(), 404);
        let answer = http
            .post(format!(
                "{}/hall/{hall}/window/1/rate/{tablet1}",
                central.base
            ))
            .json(&serde_json::json!({
                "business_date": a0.business_date, "ticket_no": a0.ticket_no, "level": 5
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 409);
        let answer: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(answer["outcome"], "already_rated", "{}", db.name);
        central.stop().await;
    }
}

#[tokio::test]
async fn an_admin_pairs_a_tablet_from_the_windows_page_and_a_clerk_may_not() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let hall = kiosk.enrolment.hall_id.clone();
        let store = &central.store;
        store.set_window(&hall, 2, &["A".into()]).await.unwrap();
        store
            .add_console_user("admin-wu", PASSWORD, Role::Admin)
            .await
            .unwrap();
        store
            .add_console_user("li", PASSWORD, Role::Clerk)
            .await
            .unwrap();
        store.bind_clerk("li", &hall, 2).await.unwrap();
        let window = format!("/console/clerk/{hall}/2");
        let tablet_page = |path: &str| {
            let url = format!("{}{path}", central.base);
            async move { reqwest::get(url).await.unwrap().status().as_u16() }
        };

        // The clerk sees no pairing, and a forged form is refused.
        let mut li = Browser::new(&central.base);
        li.log_in("li", PASSWORD).await;
        let page = li.get(&window).await;
        assert!(!page.body.contains("do-pair-tablet"), "{}", db.name);
        let csrf = csrf_of(&page.body);
        let forged = li
            .post(&format!("{window}/pair-tablet"), &[("csrf", csrf.as_str())])
            .await;
        assert_eq!(forged.status, 403, "{}", db.name);
        assert!(!store.has_rating_tablet(&hall, 2).await.unwrap());

        // The admin pairs one: its address is shown once and opens the tablet's page.
        let mut wu = Browser::new(&central.base);
        wu.log_in("admin-wu", PASSWORD).await;
        let page = wu.get(&window).await;
        assert!(page.body.contains("This window has no rating tablet yet"));
        let csrf = csrf_of(&page.body);
        let paired = wu
            .post(&format!("{window}/pair-tablet"), &[("csrf", csrf.as_str())])
            .await;
        assert_eq!(paired.status, 200, "{}", db.name);
        let path_of = |body: &str| {
            let start = body.find("/hall/").unwrap();
            let end = start + body[start..].find('<').unwrap();
            body[start..end].to_owned()
        };
        let first = path_of(&paired.body);
        assert!(first.starts_with(&format!("/hall/{hall}/window/2/rate/")));
        assert_eq!(tablet_page(&first).await, 200);
        assert!(store.has_rating_tablet(&hall, 2).await.unwrap());

        // Pairing again retires the first tablet.
        let page = wu.get(&window).await;
        assert!(page.body.contains("This window has a rating tablet"));
        let again = wu
            .post(&format!("{window}/pair-tablet"), &[("csrf", csrf.as_str())])
            .await;
        let second = path_of(&again.body);
        assert_ne!(first, second);
        assert_eq!(tablet_page(&second).await, 200);
        assert_eq!(tablet_page(&first).await, 404, "{}", db.name);
        central.stop().await;
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

/// `central queue tablet` pairs a window's tablet (admins only) and prints its path, which
/// opens; `central ratings deadline` sets the days of a kind of follow-up.
#[tokio::test]
async fn the_cli_pairs_a_tablet_and_sets_follow_up_deadlines() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let hall = kiosk.enrolment.hall_id.clone();
        let store = &central.store;
        store.set_window(&hall, 3, &["A".into()]).await.unwrap();
        store
            .add_console_user("li", PASSWORD, Role::Clerk)
            .await
            .unwrap();
        let tablet = [
            "queue", "tablet", "--hall", &hall, "--window", "3", "--json",
        ];
        let refused = central_cli(&db.url, &[&tablet[..], &["--as", "li"]].concat());
        assert!(
            !refused.status.success(),
            "{}: a clerk pairs no tablet",
            db.name
        );
        let out = central_cli(&db.url, &tablet);
        assert!(
            out.status.success(),
            "{}: {}",
            db.name,
            String::from_utf8_lossy(&out.stderr)
        );
        let paired: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let path = paired["path"].as_str().unwrap();
        assert!(
            path.starts_with(&format!("/hall/{hall}/window/3/rate/")),
            "{path}"
        );
        let page = reqwest::get(format!("{}{path}", central.base))
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{}", db.name);
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        let body = page.text().await.unwrap();
        assert!(body.contains("/hall-assets/rate.js") && body.contains("非常不满意"));
        assert!(!body.contains("<script>"), "no inline script");

        let out = central_cli(
            &db.url,
            &[
                "ratings",
                "deadline",
                "--kind",
                "return_visit",
                "--days",
                "2",
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            store
                .follow_up_days(FollowUpKind::ReturnVisit)
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            store
                .follow_up_days(FollowUpKind::Rectification)
                .await
                .unwrap(),
            15
        );
        let out = central_cli(
            &db.url,
            &["ratings", "deadline", "--kind", "later", "--days", "2"],
        );
        assert!(!out.status.success(), "{}: no such kind", db.name);
        central.stop().await;
    }
}
