#![allow(clippy::unwrap_used)]
//! A day that starts offline: the kiosk leased tomorrow's numbers the day before; after
//! midnight (the engine's clock moved to the next day) it issues from that lease, never shows
//! the queue figures cached the day before, and "as of" on a cached answer names its date.

mod common;

use common::until;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, TimeZone as _, Utc};
use kiosk_api::citizen::{
    ApplicationProgress, ApplicationStatus, CategoryQueue, Lease, QueueSnapshot, TimelineEntry,
    business_date_at, hall_offset,
};
use kiosk_api::{ApplicationNo, HallCode, KioskNo};
use kiosk_core::config::Config;
use kiosk_core::store::{Store, StoreKey, StoreOptions};
use kiosk_journeys::clock::{Clock as _, ShiftedClock};
use kiosk_journeys::{Command, Engine, EngineOptions, JourneyKind, KeypadKey, Page};
use kiosk_sim::printer::{Config as PrinterConfig, Emulator};

fn config(data: &Path, dispenser: &str) -> Config {
    common::with_tcp_dispenser(data, dispenser)
}

/// `hh:mm` hall time on `date`.
fn hall_time(date: NaiveDate, hh: u32, mm: u32) -> DateTime<Utc> {
    hall_offset()
        .from_local_datetime(&date.and_hms_opt(hh, mm, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_midnight_an_offline_kiosk_uses_tomorrows_lease_and_no_stale_queue_figures() {
    let data = tempfile::tempdir().unwrap();
    let printed = tempfile::tempdir().unwrap();
    let emulator = Emulator::new(PrinterConfig::new(printed.path())).unwrap();
    let server = emulator.serve_tcp("127.0.0.1:0").unwrap();
    let dispenser = server.tcp_addr().unwrap().to_string();

    // Yesterday afternoon, online: today's queue figures, tomorrow's block, an application's
    // progress.
    let today = business_date_at(Utc::now());
    let tomorrow = today.checked_add_days(Days::new(1)).unwrap();
    let afternoon = hall_time(today, 16, 40);
    let no = ApplicationNo::new(
        HallCode::new(9999).unwrap(),
        KioskNo::new(1).unwrap(),
        today,
        1,
    )
    .unwrap();
    {
        let key = StoreKey::load_or_create(&data.path().join("store.key")).unwrap();
        let store = Store::open(data.path(), key, StoreOptions::default()).unwrap();
        store
            .add_lease(&Lease {
                lease_id: uuid::Uuid::now_v7(),
                category: "A".into(),
                business_date: tomorrow,
                first: 1,
                last: 20,
            })
            .unwrap();
        let snapshot = QueueSnapshot {
            business_date: today,
            as_of: afternoon,
            categories: vec![CategoryQueue {
                category: "A".into(),
                waiting: 9,
                avg_service_secs: Some(120),
                now_serving: Some("A031".into()),
            }],
            live_url_prefix: Some("https://q.example.gov.cn/t/".into()),
        };
        store
            .cache_put_at(
                "queue_state",
                &serde_json::to_value(&snapshot).unwrap(),
                afternoon.timestamp_millis(),
            )
            .unwrap();
        let progress = ApplicationProgress {
            application_no: no,
            matter_code: "hr-sscard-apply".into(),
            status: ApplicationStatus::Submitted,
            timeline: vec![TimelineEntry {
                at: afternoon,
                status: ApplicationStatus::Submitted,
                note_zh: None,
                note_en: None,
            }],
        };
        store
            .cache_put_at(
                &format!("progress:{no}"),
                &serde_json::to_value(&progress).unwrap(),
                afternoon.timestamp_millis(),
            )
            .unwrap();
    }

    let clock = Arc::new(ShiftedClock::new());
    clock.set(hall_time(today, 17, 0));
    common::enrol_offline(data.path());
    let engine = Engine::start(
        config(data.path(), &dispenser),
        EngineOptions {
            voice: false,
            ticket_take_timeout: Some(Duration::ZERO),
            clock: clock.clone(),
            ..EngineOptions::default()
        },
    )
    .await
    .unwrap();
    let mut screen = engine.screen();

    // Still today: the figures show (the keeper loads them from the cache at start).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = screen.borrow().revision;
        engine.send(Command::Start {
            journey: JourneyKind::TakeNumber,
        });
        let Page::Choose { choices, .. } =
            until(&mut screen, r, |p| matches!(p, Page::Choose { .. })).await
        else {
            unreachable!()
        };
        let a = choices.iter().find(|c| c.id == "A").unwrap();
        if a.detail
            .as_ref()
            .is_some_and(|d| d.en.contains("9 waiting"))
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "today's cached figures never showed: {a:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    engine.send(Command::Cancel);

    // Past midnight, still offline.
    clock.set(hall_time(tomorrow, 8, 30));
    assert_eq!(business_date_at(clock.now()), tomorrow);
    let r = screen.borrow().revision;
    engine.send(Command::Start {
        journey: JourneyKind::TakeNumber,
    });
    let Page::Choose { choices, .. } =
        until(&mut screen, r, |p| matches!(p, Page::Choose { .. })).await
    else {
        unreachable!()
    };
    let a = choices.iter().find(|c| c.id == "A").unwrap();
    assert!(
        !a.detail.as_ref().is_some_and(|d| d.en.contains("waiting")),
        "yesterday's figures are not today's: {a:?}"
    );
    let r = screen.borrow().revision;
    engine.send(Command::Choose { id: "A".into() });
    engine.send(Command::Skip);
    let Page::Ticket { ticket } = until(&mut screen, r, |p| matches!(p, Page::Ticket { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(ticket.ticket_no, "A001", "from the block leased yesterday");
    assert_eq!(ticket.ahead, 0, "no figures of yesterday in today's count");
    let note = ticket.stale_note.unwrap();
    assert!(note.en.contains("No queue figures for today"), "{note:?}");
    let sheets = emulator.wait_for_tickets(1, Duration::from_secs(10));
    assert_eq!(sheets.len(), 1);
    // Offline, the ticket's QR still opens its live page on central: the address central
    // gave yesterday and a token made here, which the ticket's record carries to central.
    let qr = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(&sheets[0])
        .output()
        .expect("zbarimg (zbar-tools) reads the printed QR code");
    let qr = String::from_utf8_lossy(&qr.stdout).trim().to_owned();
    let token = qr
        .strip_prefix("https://q.example.gov.cn/t/")
        .unwrap_or_else(|| panic!("the QR code {qr:?} is not a live-page link"));
    assert!(kiosk_api::citizen::is_live_token(token), "{qr}");

    // A cached answer of yesterday says which day it is from.
    let r = screen.borrow().revision;
    engine.send(Command::Start {
        journey: JourneyKind::Progress,
    });
    until(&mut screen, r, |p| matches!(p, Page::EnterNumber { .. })).await;
    for c in no.to_string().chars() {
        engine.send(Command::Key {
            key: KeypadKey::Digit(c as u8 - b'0'),
        });
    }
    let r = screen.borrow().revision;
    engine.send(Command::Confirm);
    let Page::Progress {
        applications,
        as_of,
    } = until(&mut screen, r, |p| {
        matches!(p, Page::Progress { .. } | Page::Notice { .. })
    })
    .await
    else {
        panic!("{:?}", screen.borrow().page)
    };
    assert_eq!(applications[0].application_no, no.grouped());
    let as_of = as_of.unwrap();
    let day = today.format("%Y-%m-%d").to_string();
    assert!(
        as_of.en.contains(&format!("{day} 16:40")),
        "the date is given when it is not today: {as_of:?}"
    );
    engine.shutdown().await;
}
