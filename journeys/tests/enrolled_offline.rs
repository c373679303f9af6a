#![allow(clippy::unwrap_used)]
//! An enrolled kiosk whose central does not answer and which never got the holder keys: the
//! help page says the call has not reached the staff and sends the citizen to the help desk
//! now; card lookups say plainly that the kiosk cannot look up by card and keep the number
//! keypad; the tiles that need a card match are closed with the reason. (Its own test binary:
//! libsane is process-global.)

mod common;

use common::until;
use std::time::Duration;

use kiosk_core::config::Config;
use kiosk_journeys::sim::citizen_card;
use kiosk_journeys::{Command, Engine, EngineOptions, JourneyKind, Page};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_central_unreachable_help_says_it_is_only_queued_and_card_lookups_say_why_not() {
    let dir = tempfile::tempdir().unwrap();
    common::enrol_offline(dir.path());
    let mut config = Config::simulate().unwrap();
    config.kiosk.data_dir = dir.path().to_owned();
    let engine = Engine::start(
        config,
        EngineOptions {
            simulate: true,
            voice: false,
            ..EngineOptions::default()
        },
    )
    .await
    .unwrap();
    let sim = engine.sim().unwrap().clone();
    let mut screen = engine.screen();

    // Help: only in the outbox, and the page says so.
    let r = screen.borrow().revision;
    engine.send(Command::CallHelp);
    let Page::Notice {
        title,
        message,
        window,
        failure,
    } = until(&mut screen, r, |p| matches!(p, Page::Notice { .. })).await
    else {
        unreachable!()
    };
    assert!(failure, "{title:?}");
    assert_eq!(title.en, "Your call has not reached the staff yet");
    assert!(
        message.zh.contains("请您现在直接前往1号综合咨询台"),
        "{message:?}"
    );
    assert_eq!(window.unwrap().en, "Information desk 1");
    // The kiosk keeps asking central while the page is shown; with no answer the page does
    // not pretend otherwise.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(matches!(
        screen.borrow().page,
        Page::Notice { failure: true, .. }
    ));
    assert_eq!(engine.stats().borrow().help_requests, 1);
    assert!(
        engine.backlog().await.unwrap() >= 1,
        "the request waits in the outbox"
    );
    engine.send(Command::Cancel);

    // No holder keys ever fetched: the tiles that match cards say why they are closed.
    // (The simulated reader answers a moment after the start; until then its fault is the
    // reason shown.)
    let mut availability = engine.availability();
    let needs_key = |t: &kiosk_journeys::model::Tile| {
        t.reason
            .as_ref()
            .is_some_and(|r| r.en.contains("cannot check ID cards"))
    };
    let tiles = tokio::time::timeout(
        Duration::from_secs(30),
        availability.wait_for(|a| {
            a.tiles
                .iter()
                .filter(|t| matches!(t.journey, JourneyKind::CheckIn | JourneyKind::Apply))
                .all(needs_key)
        }),
    )
    .await
    .map(|a| a.unwrap().clone())
    .unwrap_or_else(|_| availability.borrow().clone());
    for journey in [JourneyKind::CheckIn, JourneyKind::Apply] {
        let tile = tiles.tiles.iter().find(|t| t.journey == journey).unwrap();
        assert!(!tile.enabled, "{journey:?}");
        assert!(
            tile.reason
                .as_ref()
                .unwrap()
                .en
                .contains("cannot check ID cards"),
            "{tile:?}"
        );
    }

    // Progress by card: said plainly, and the keypad stays.
    let r = screen.borrow().revision;
    engine.send(Command::Start {
        journey: JourneyKind::Progress,
    });
    until(&mut screen, r, |p| matches!(p, Page::EnterNumber { .. })).await;
    let r = screen.borrow().revision;
    let born = chrono::NaiveDate::from_ymd_opt(1980, 3, 3).unwrap();
    sim.present_card(&citizen_card(3, born));
    let Page::EnterNumber {
        error: Some(error),
        letters,
        ..
    } = until(&mut screen, r, |p| {
        matches!(p, Page::EnterNumber { error: Some(_), .. })
    })
    .await
    else {
        unreachable!()
    };
    sim.take_card_away().await;
    assert!(!letters);
    assert!(error.zh.contains("本终端暂时无法按身份证查询"), "{error:?}");
    assert!(error.en.contains("Information desk 1"), "{error:?}");
    engine.shutdown().await;
}
