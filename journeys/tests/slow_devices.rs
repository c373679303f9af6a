#![allow(clippy::unwrap_used)]
//! Device work never holds the citizen up (issue 14 item 2): while the dispenser waits for a
//! ticket to be taken, or a slow scan runs, Help, Cancel and a card tap are answered.
//!
//! Nothing here is timed. The dispenser holds its ticket until the test takes it, so every
//! answer checked while it holds was given before the print finished; the scanner is slowed
//! in SANE's test backend to seconds a page, and the scan counter shows it had not finished
//! when each answer came. One test (libsane starts once per process).

mod common;

use std::time::Duration;

use common::until;
use kiosk_core::config::Config;
use kiosk_journeys::sim::{SimControls, SimPages, SimPrinter, citizen_card};
use kiosk_journeys::{Command, Engine, EngineHandle, EngineOptions, JourneyKind, KeypadKey, Page};

fn config(dir: &std::path::Path) -> Config {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut config = Config::simulate().unwrap();
    config.kiosk.data_dir = dir.to_owned();
    config
}

/// Waits (up to a minute) until `done` holds.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..3000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: not reached in a minute");
}

/// Help, Cancel and a card tap on check-in, each answered while `busy` says the device is
/// still at work.
async fn answered_while(engine: &EngineHandle, sim: &SimControls, busy: impl Fn() -> bool) {
    let mut screen = engine.screen();
    assert!(
        busy(),
        "the device should be at work before the test starts"
    );

    let r = screen.borrow().revision;
    engine.send(Command::CallHelp);
    until(&mut screen, r, |p| {
        matches!(
            p,
            Page::Notice {
                window: Some(_),
                ..
            }
        )
    })
    .await;
    assert!(busy(), "Help was answered only after the device finished");

    let r = screen.borrow().revision;
    engine.send(Command::Cancel);
    until(&mut screen, r, |p| matches!(p, Page::Home)).await;
    assert!(busy(), "Cancel was answered only after the device finished");

    let r = screen.borrow().revision;
    engine.send(Command::Start {
        journey: JourneyKind::CheckIn,
    });
    until(&mut screen, r, |p| matches!(p, Page::TapCard { .. })).await;
    let r = screen.borrow().revision;
    let born = chrono::NaiveDate::from_ymd_opt(1980, 5, 5).unwrap();
    sim.present_card(&citizen_card(3, born));
    until(&mut screen, r, |p| !matches!(p, Page::TapCard { .. })).await;
    assert!(
        busy(),
        "the card was answered only after the device finished"
    );
    sim.take_card_away().await;
    engine.send(Command::Cancel);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_cancel_and_a_card_are_answered_while_a_ticket_waits_to_be_taken_or_a_scan_runs() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(
        config(dir.path()),
        EngineOptions {
            simulate: true,
            voice: false,
            // The dispenser watches its sensor this long: longer than the test needs.
            ticket_take_timeout: Some(Duration::from_secs(600)),
            ..EngineOptions::default()
        },
    )
    .await
    .unwrap();
    let sim = engine.sim().unwrap().clone();
    sim.set_presenter(SimPrinter::Dispenser, true);
    // The reader reports ready at its first poll; check-in and apply open then.
    tokio::time::timeout(
        Duration::from_secs(60),
        engine
            .availability()
            .wait_for(|a| a.allows(JourneyKind::CheckIn) && a.allows(JourneyKind::Apply)),
    )
    .await
    .unwrap()
    .unwrap();
    let mut screen = engine.screen();
    let stats = engine.stats();

    // A ticket is cut and waits in the mouth: the dispenser is busy until it is taken.
    let r = screen.borrow().revision;
    engine.send(Command::Start {
        journey: JourneyKind::TakeNumber,
    });
    engine.send(Command::Choose { id: "A".into() });
    until(&mut screen, r, |p| matches!(p, Page::TapCard { .. })).await;
    engine.send(Command::Skip);
    eventually("the ticket is cut", || {
        sim.printed(SimPrinter::Dispenser).len() == 1
    })
    .await;
    answered_while(&engine, &sim, || stats.borrow().tickets_printed == 0).await;

    // Taken: the print reports, and the ticket the cancelled session asked for is recorded
    // as issued (not void, not unconfirmed).
    sim.take_ticket(SimPrinter::Dispenser);
    eventually("the ticket is recorded", || {
        stats.borrow().tickets_printed == 1
    })
    .await;
    let s = *stats.borrow();
    assert_eq!((s.tickets_voided, s.tickets_unconfirmed), (0, 0), "{s:?}");

    // A slow scan: the applicant reaches the scan page and starts it.
    to_scan_page(&engine, &sim, 4).await;
    sim.load_pages(SimPages::Good(1));
    sim.set_slow_scanner(true);
    let r = screen.borrow().revision;
    engine.send(Command::Confirm);
    until(&mut screen, r, |p| matches!(p, Page::Working { .. })).await;
    answered_while(&engine, &sim, || stats.borrow().scans == 0).await;

    // The scan still finishes and reports; the scanner is back for the next citizen.
    eventually("the scan reports", || stats.borrow().scans == 1).await;
    tokio::time::timeout(
        Duration::from_secs(60),
        screen.wait_for(|s| !matches!(s.page, Page::Working { .. })),
    )
    .await
    .unwrap()
    .unwrap();

    // A scan task that panics loses the scanner it held: the citizen is told the scan
    // failed (not left waiting), the scanner is opened again, and the next scan works.
    sim.set_slow_scanner(false);
    let r = screen.borrow().revision;
    engine.send(Command::Cancel);
    until(&mut screen, r, |p| matches!(p, Page::Home)).await;
    to_scan_page(&engine, &sim, 5).await;
    sim.panic_on_next_scan();
    let failed = scan_once(&engine).await;
    assert!(
        failed.as_ref().is_some_and(|e| e.zh.contains("扫描失败")),
        "a lost scan task is a failed scan on screen: {failed:?}"
    );
    let mut outcome = failed;
    for _ in 0..100 {
        outcome = scan_once(&engine).await;
        if outcome.is_none() {
            break;
        }
        // The scanner is still being opened again.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(outcome, None, "the scanner came back after the lost task");
    assert_eq!(stats.borrow().scans, 2);
    engine.shutdown().await;
}

/// Takes the applicant with card `card` through the social-security card application up to
/// its first scan, with one good page loaded.
async fn to_scan_page(engine: &EngineHandle, sim: &SimControls, card: u32) {
    let mut screen = engine.screen();
    let r = screen.borrow().revision;
    engine.send(Command::Start {
        journey: JourneyKind::Apply,
    });
    until(&mut screen, r, |p| matches!(p, Page::TapCard { .. })).await;
    let r = screen.borrow().revision;
    let born = chrono::NaiveDate::from_ymd_opt(1985, 8, 8).unwrap();
    sim.present_card(&citizen_card(card, born));
    until(&mut screen, r, |p| matches!(p, Page::Choose { .. })).await;
    sim.take_card_away().await;
    let r = screen.borrow().revision;
    engine.send(Command::Choose {
        id: "hr-sscard-apply".into(),
    });
    until(&mut screen, r, |p| matches!(p, Page::Form { .. })).await;
    engine.send(Command::Focus {
        key: "phone".into(),
    });
    for d in [1, 3, 8, 0, 0, 1, 3, 8, 0, 0, 0] {
        engine.send(Command::Key {
            key: KeypadKey::Digit(d),
        });
    }
    engine.send(Command::Choose {
        id: "bank=0".into(),
    });
    engine.send(Command::Choose {
        id: "delivery=1".into(),
    });
    let r = screen.borrow().revision;
    engine.send(Command::Confirm);
    until(&mut screen, r, |p| matches!(p, Page::Scan { .. })).await;
    sim.load_pages(SimPages::Good(1));
}

/// Scans on the scan page: the error shown, or `None` when the page was accepted (the
/// journey moved on to the next material or the review).
async fn scan_once(engine: &EngineHandle) -> Option<kiosk_journeys::Text> {
    let mut screen = engine.screen();
    let index = match &screen.borrow().page {
        Page::Scan { index, .. } => *index,
        other => panic!("not on the scan page: {other:?}"),
    };
    let r = screen.borrow().revision;
    engine.send(Command::Confirm);
    let page = until(&mut screen, r, |p| match p {
        Page::Working { .. } => false,
        Page::Scan {
            index: now, error, ..
        } => *now != index || error.is_some(),
        _ => true,
    })
    .await;
    match page {
        Page::Scan {
            index: now, error, ..
        } if now == index => error,
        _ => None,
    }
}
