//! The clerk's page in a real headless Chromium (issue 16 item 1): a clerk signs in, opens
//! the window's page and calls from it; the waiting counts follow the hall as kiosks issue
//! tickets, without a reload; a change of the window's ticket made elsewhere (here from the
//! CLI's store, as a second node would) is flagged rather than reloaded under the clerk.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::chrome::{Chrome, WAIT, chromium};
use common::{Central, Kiosk, Outbox, acked, today};
use kiosk_api::EventOutcome;
use kiosk_api::citizen::{TicketIssued, TicketPriority, ticket_no};
use serde_json::Value;

use central::store::{Actor, Role, Via};

const PASSWORD: &str = "correct horse battery staple";

fn ticket(kiosk: &Kiosk, n: u32) -> TicketIssued {
    let number = kiosk.enrolment.number_band.first + n;
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

/// Evaluates `expression` until it is true; returns how long that took.
fn wait_until(chrome: &mut Chrome, what: &str, expression: &str) -> Duration {
    let started = Instant::now();
    while chrome.eval(expression) != Value::Bool(true) {
        if started.elapsed() > WAIT {
            let seen = chrome.eval("document.body.innerText");
            panic!("{what}: not within {WAIT:?}; the page has {seen}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clerks_page_follows_the_hall_and_flags_a_change_made_elsewhere() {
    let Some(binary) = chromium() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("chromium is not installed but CI=true: apt-get install chromium");
        }
        eprintln!("\n!!!! SKIPPING the clerk page's browser test: chromium is not installed.\n");
        return;
    };
    // One database is enough here: the page reads what the stories test on both.
    let db = common::databases().await.remove(0);
    let central = Central::start(&db).await;
    let kiosk = central.kiosk().await;
    let hall = kiosk.enrolment.hall_id.clone();
    let store = &central.store;
    store.set_window(&hall, 5, &["A".into()]).await.unwrap();
    store
        .add_console_user("li", PASSWORD, Role::Clerk)
        .await
        .unwrap();
    store.bind_clerk("li", &hall, 5).await.unwrap();

    let mut chrome = Chrome::start(&binary);
    chrome.navigate(&format!("{}/console/clerk/{hall}/5", central.base));
    assert_eq!(chrome.eval("location.pathname"), "/console/login");
    chrome.type_into("#user", "li");
    chrome.type_into("#password", PASSWORD);
    chrome.and_wait_for_load(|c| c.click("button[type=submit]"));
    chrome.navigate(&format!("{}/console/clerk/{hall}/5", central.base));
    wait_until(
        &mut chrome,
        "the page's script runs under its CSP and its stream is open",
        "document.getElementById('clerk').dataset.stream === 'live'",
    );
    assert_eq!(chrome.text("#waiting-A"), "0");
    assert_eq!(chrome.text("#current"), "空闲 · free");

    // Two citizens take numbers at a kiosk: the count follows without a reload.
    chrome.eval("window.sameDocument = true");
    let first = ticket(&kiosk, 0);
    let second = ticket(&kiosk, 1);
    let mut outbox = Outbox::new();
    let events = vec![outbox.event(&first), outbox.event(&second)];
    assert_eq!(acked(&kiosk, &events).await, vec![EventOutcome::Stored; 2]);
    let took = wait_until(
        &mut chrome,
        "the waiting count follows the kiosk's tickets",
        "document.getElementById('waiting-A').innerText === '2'",
    );
    eprintln!("the clerk's page showed the new tickets after {took:?}");
    assert_eq!(
        chrome.eval("window.sameDocument === true"),
        Value::Bool(true),
        "the page was not reloaded"
    );

    // The clerk calls from the page: the first ticket, one left waiting.
    chrome.and_wait_for_load(|c| c.click("#do-call"));
    assert_eq!(chrome.text("#current"), first.ticket_no);
    wait_until(
        &mut chrome,
        "the stream is open again after the call",
        "document.getElementById('clerk').dataset.stream === 'live' \
         && document.getElementById('waiting-A').innerText === '1'",
    );
    assert!(chrome.eval("document.getElementById('changed').hidden") == Value::Bool(true));

    // The same window acts from elsewhere (the store, as the CLI or a second node would): the
    // page says its ticket changed, and keeps what the clerk may be typing.
    chrome.type_into("input[name=to_category]", "B");
    let li = store.acting_as(Actor {
        name: "li".into(),
        via: Via::Cli,
        role: Role::Clerk,
    });
    let next = li
        .call_at_window(&hall, 5, None, Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.ticket_no, second.ticket_no);
    wait_until(
        &mut chrome,
        "the page flags the window's new ticket",
        "document.getElementById('changed').hidden === false \
         && document.getElementById('waiting-A').innerText === '0'",
    );
    assert_eq!(
        chrome.eval("document.querySelector('input[name=to_category]').value"),
        "B"
    );
    chrome.screenshot("clerk-window-changed");
    chrome.and_wait_for_load(|c| c.click("#changed a"));
    assert_eq!(chrome.text("#current"), second.ticket_no);

    // The hall's statistics, as the clerk (any signed-in user) reads them: the day's calls.
    chrome.navigate(&format!("{}/console/halls/{hall}/report", central.base));
    let today_row = chrome.text("#report tbody tr.total");
    assert!(today_row.contains("全部 All"), "{today_row}");
    chrome.screenshot("hall-report");
}
