//! The hall's screens in a real headless Chromium (issue 16): a clerk calls the next ticket
//! and the display shows it and the ticket's live page names the window; calls queue their
//! announcements (chime, Mandarin, English), which play one after another and never overlap.
//! SQLite and PostgreSQL. Without chromium the test is skipped loudly, or fails when CI=true.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::browser::{Browser, csrf_of};
use common::chrome::{Chrome, WAIT, chromium};
use common::{Central, Kiosk, Outbox, acked, databases, today};
use kiosk_api::EventOutcome;
use kiosk_api::citizen::{TicketIssued, TicketPriority, ticket_no};
use serde_json::Value;

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
        issued_at: Utc::now() - chrono::Duration::seconds(secs),
        holder_hash: None,
        appointment_id: None,
        unconfirmed: false,
        live_token: None,
    }
}

/// Evaluates `expression` in `chrome` until it is true, or fails after [`WAIT`].
fn wait_until(chrome: &mut Chrome, what: &str, expression: &str) {
    wait_long(chrome, what, expression, WAIT);
}

/// [`wait_until`] with a deadline of `wait`.
fn wait_long(chrome: &mut Chrome, what: &str, expression: &str, wait: Duration) {
    let deadline = Instant::now() + wait;
    while chrome.eval(expression) != Value::Bool(true) {
        if Instant::now() > deadline {
            let seen =
                chrome.eval("JSON.stringify(window.hallAnnouncements || document.body.innerText)");
            panic!("{what}: not within {wait:?}; the page has {seen}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_reaches_the_display_and_the_live_page_and_announcements_never_overlap() {
    let Some(binary) = chromium() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("chromium is not installed but CI=true: apt-get install chromium");
        }
        eprintln!("\n!!!! SKIPPING the hall screens' browser test: chromium is not installed.\n");
        return;
    };
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let hall = kiosk.enrolment.hall_id.clone();
        let first = band_ticket(&kiosk, 0, 120);
        let second = band_ticket(&kiosk, 1, 60);
        let mut outbox = Outbox::new();
        let events = vec![outbox.event(&first), outbox.event(&second)];
        assert_eq!(acked(&kiosk, &events).await, vec![EventOutcome::Stored; 2]);
        let store = &central.store;
        store.set_window(&hall, 5, &["A".into()]).await.unwrap();
        store
            .add_console_user("li", PASSWORD, central::store::Role::Clerk)
            .await
            .unwrap();
        store.bind_clerk("li", &hall, 5).await.unwrap();
        let token = store
            .ticket_token(&hall, today(), &second.ticket_no)
            .await
            .unwrap()
            .unwrap();

        let autoplay = ["--autoplay-policy=no-user-gesture-required"];
        let mut display = Chrome::start_with(&binary, &autoplay);
        display.navigate(&format!("{}/hall/{hall}/display", central.base));
        wait_until(
            &mut display,
            "the display's stream is open",
            "document.getElementById('display').dataset.stream === 'live'",
        );
        let mut phone = Chrome::start(&binary);
        phone.navigate(&format!("{}/t/{token}", central.base));
        assert_eq!(phone.text("#ticket-no"), second.ticket_no);
        assert!(
            phone.text("#ahead").contains("1 人"),
            "{}",
            phone.text("#ahead")
        );
        assert!(phone.text("#status").contains("等候中"));
        wait_until(
            &mut phone,
            "the live page's stream is open",
            "document.getElementById('live').dataset.stream === 'live'",
        );

        // The clerk calls twice: the first ticket, then the second, whose live page then
        // names the window; the display shows each call as it happens.
        let mut li = Browser::new(&central.base);
        li.log_in("li", PASSWORD).await;
        let window = format!("/console/clerk/{hall}/5");
        let csrf = csrf_of(&li.get(&window).await.body);
        let call = format!("{window}/call");
        let form = [("csrf", csrf.as_str())];
        assert_eq!(li.post(&call, &form).await.status, 303);
        let serving = |t: &str| {
            format!(
                "(document.querySelector('#windows tr[data-window=\"5\"] td.num') || {{}}).textContent === {}",
                serde_json::json!(t)
            )
        };
        wait_until(
            &mut display,
            "the display shows the first call",
            &serving(&first.ticket_no),
        );
        wait_until(
            &mut phone,
            "the live page counts nobody ahead",
            "document.getElementById('ahead').textContent.startsWith('0 人')",
        );
        assert_eq!(li.post(&call, &form).await.status, 303);
        wait_until(
            &mut display,
            "the display shows the second call",
            &serving(&second.ticket_no),
        );
        wait_until(
            &mut phone,
            "the live page names the window",
            "document.getElementById('status').textContent.includes('请到 5 号窗口')",
        );

        // Two recalls right away: four calls queued in all, played strictly in turn.
        for _ in 0..2 {
            assert_eq!(
                li.post(&format!("{window}/recall"), &form).await.status,
                303
            );
        }
        // Each call takes some ten seconds to say in two languages.
        wait_long(
            &mut display,
            "every announcement was played",
            "window.hallAnnouncements.length === 12 && window.hallAnnouncements.every(a => a.end !== null)",
            Duration::from_secs(120),
        );
        let played = display.eval("JSON.stringify(window.hallAnnouncements)");
        let played: Vec<Value> = serde_json::from_str(played.as_str().unwrap()).unwrap();
        let clips: Vec<&str> = played.iter().map(|a| a["clip"].as_str().unwrap()).collect();
        assert_eq!(clips, ["chime", "zh", "en"].repeat(4), "{}", db.name);
        for pair in played.windows(2) {
            assert!(
                pair[1]["start"].as_f64().unwrap() >= pair[0]["end"].as_f64().unwrap(),
                "{}: a clip started before the one before it ended: {pair:?}",
                db.name
            );
        }
        assert!(
            played.iter().all(|a| a["ok"] == Value::Bool(true)),
            "{}: every clip played to its end: {played:?}",
            db.name
        );
        // Central stops while both screens still listen: their streams end with it.
        tokio::time::timeout(WAIT, central.stop())
            .await
            .expect("central stops with the screens' streams open");
        drop(display);
        drop(phone);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_tablet_offers_the_served_ticket_at_once_and_takes_its_rating() {
    let Some(binary) = chromium() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("chromium is not installed but CI=true: apt-get install chromium");
        }
        eprintln!("\n!!!! SKIPPING the rating tablet's browser test: chromium is not installed.\n");
        return;
    };
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let hall = kiosk.enrolment.hall_id.clone();
        let first = band_ticket(&kiosk, 0, 120);
        let second = band_ticket(&kiosk, 1, 60);
        let mut outbox = Outbox::new();
        let events = vec![outbox.event(&first), outbox.event(&second)];
        assert_eq!(acked(&kiosk, &events).await, vec![EventOutcome::Stored; 2]);
        let store = &central.store;
        store.set_window(&hall, 5, &["A".into()]).await.unwrap();
        store
            .add_console_user("li", PASSWORD, central::store::Role::Clerk)
            .await
            .unwrap();
        store.bind_clerk("li", &hall, 5).await.unwrap();
        let secret = store.pair_rating_tablet(&hall, 5).await.unwrap();

        let mut tablet = Chrome::start(&binary);
        tablet.navigate(&format!(
            "{}/hall/{hall}/window/5/rate/{secret}",
            central.base
        ));
        wait_until(
            &mut tablet,
            "the tablet's stream is open",
            "document.getElementById('rate').dataset.stream === 'live'",
        );
        let mode = |m: &str| {
            format!(
                "document.getElementById('rate').dataset.mode === {}",
                serde_json::json!(m)
            )
        };
        assert_eq!(tablet.eval(&mode("wait")), Value::Bool(true));

        let mut li = Browser::new(&central.base);
        li.log_in("li", PASSWORD).await;
        let window = format!("/console/clerk/{hall}/5");
        let csrf = csrf_of(&li.get(&window).await.body);
        let form = [("csrf", csrf.as_str())];
        assert_eq!(li.post(&format!("{window}/call"), &form).await.status, 303);
        // Called is not served: the tablet still waits.
        std::thread::sleep(Duration::from_millis(800));
        assert_eq!(tablet.eval(&mode("wait")), Value::Bool(true), "{}", db.name);

        // 办结: the tablet shows the ticket and its levels within a second or so.
        assert_eq!(
            li.post(&format!("{window}/served"), &form).await.status,
            303
        );
        let served = Instant::now();
        wait_until(
            &mut tablet,
            "the tablet offers the served ticket",
            &mode("levels"),
        );
        let took = served.elapsed();
        assert!(
            took < Duration::from_millis(1500),
            "{}: the tablet took {took:?}",
            db.name
        );
        assert_eq!(tablet.text("#ticket-no"), first.ticket_no);
        tablet.screenshot(&format!("rate-levels-{}", db.name));
        let page = li.get(&window).await.body;
        assert!(
            page.contains("id=\"rating-open\"") && page.contains(&first.ticket_no),
            "{}: the clerk sees the tablet offers the ticket",
            db.name
        );

        // 不满意 asks for reasons; Submit waits for one.
        tablet.click("button.level[data-level='2']");
        wait_until(&mut tablet, "the tablet asks for reasons", &mode("reasons"));
        assert_eq!(
            tablet.eval("document.getElementById('submit').disabled"),
            Value::Bool(true)
        );
        assert_eq!(
            tablet.eval(
                "document.querySelector(\"button.reason[data-reason='kiosk_problem']\") === null"
            ),
            Value::Bool(true),
            "a window's tablet does not ask about the kiosk"
        );
        tablet.click("button.reason[data-reason='attitude']");
        tablet.screenshot(&format!("rate-reasons-{}", db.name));
        tablet.click("#submit");
        wait_until(
            &mut tablet,
            "the tablet thanks the citizen",
            &mode("thanks"),
        );
        tablet.screenshot(&format!("rate-thanks-{}", db.name));
        assert_eq!(
            tablet.eval("document.getElementById('rate').dataset.outcome"),
            Value::String("rated".into()),
            "{}",
            db.name
        );
        assert!(tablet.text("#thanks").contains("感谢您的评价"));
        assert!(tablet.text("#thanks").contains("Thank you"));
        let open = store.follow_ups(Some(&hall)).await.unwrap();
        assert_eq!(open.len(), 1, "{}: {open:?}", db.name);
        assert_eq!(
            (
                open[0].subject.as_str(),
                open[0].level,
                open[0].window_no,
                open[0].clerk.as_deref(),
                open[0].reasons.clone()
            ),
            (
                format!("ticket:{}:{}", first.ticket_no, today()).as_str(),
                2,
                Some(5),
                Some("li"),
                vec!["attitude".to_owned()]
            )
        );
        // Then back to waiting by itself.
        wait_until(&mut tablet, "the tablet waits again", &mode("wait"));
        assert!(!li.get(&window).await.body.contains("rating-open"));

        // The next citizen: 非常满意 is one tap.
        assert_eq!(li.post(&format!("{window}/call"), &form).await.status, 303);
        assert_eq!(
            li.post(&format!("{window}/served"), &form).await.status,
            303
        );
        wait_until(
            &mut tablet,
            "the tablet offers the next ticket",
            &mode("levels"),
        );
        assert_eq!(tablet.text("#ticket-no"), second.ticket_no);
        tablet.click("button.level[data-level='5']");
        wait_until(&mut tablet, "the tablet thanks again", &mode("thanks"));
        let ratings = store.rating_distribution(&hall).await.unwrap();
        assert_eq!(ratings.total, 2, "{}", db.name);
        assert_eq!(ratings.levels[0].count, 1, "{}: one 非常满意", db.name);
        wait_until(&mut tablet, "the tablet waits once more", &mode("wait"));

        tokio::time::timeout(WAIT, central.stop())
            .await
            .expect("central stops with the tablet's stream open");
        drop(tablet);
    }
}
