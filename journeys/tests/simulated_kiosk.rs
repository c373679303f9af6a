#![allow(clippy::unwrap_used)]
//! The engine on the simulated devices (kiosk-sim's reader on a PTY, two ESC/POS emulators
//! on TCP, SANE's test backend), driven through the same commands the UI sends.

mod common;

use common::until;

use kiosk_core::config::Config;
use kiosk_journeys::sim::{SimPrinter, citizen_card};
use kiosk_journeys::{Command, Engine, EngineOptions, JourneyKind, Page};
use kiosk_sim::printer::Paper;

fn config(dir: &std::path::Path) -> Config {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut config = Config::simulate().unwrap();
    config.kiosk.data_dir = dir.to_owned();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_prints_a_paper_out_voids_the_number_and_a_holder_gets_one_ticket_a_day() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(
        config(dir.path()),
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
    assert!(
        engine
            .availability()
            .borrow()
            .allows(JourneyKind::TakeNumber)
    );

    // A senior taps a card: priority lane, no question asked.
    let r = screen.borrow().revision;
    engine.send(Command::Start {
        journey: JourneyKind::TakeNumber,
    });
    engine.send(Command::Choose { id: "B".into() });
    until(&mut screen, r, |p| {
        matches!(p, Page::TapCard { optional: true, .. })
    })
    .await;
    let born = chrono::NaiveDate::from_ymd_opt(1950, 6, 1).unwrap();
    let r = screen.borrow().revision;
    sim.present_card(&citizen_card(7, born));
    let Page::Ticket { ticket } = until(&mut screen, r, |p| matches!(p, Page::Ticket { .. })).await
    else {
        unreachable!()
    };
    sim.take_card_away().await;
    assert_eq!(ticket.ticket_no, "B500", "unenrolled kiosk: the band");
    assert!(ticket.priority.is_some());
    assert_eq!(sim.printed(SimPrinter::Dispenser).len(), 1);

    // The same person again, same category and day: refused, nothing printed.
    let r = screen.borrow().revision;
    engine.send(Command::Start {
        journey: JourneyKind::TakeNumber,
    });
    engine.send(Command::Choose { id: "B".into() });
    until(&mut screen, r, |p| matches!(p, Page::TapCard { .. })).await;
    let r = screen.borrow().revision;
    sim.present_card(&citizen_card(7, born));
    let Page::Notice { message, .. } =
        until(&mut screen, r, |p| matches!(p, Page::Notice { .. })).await
    else {
        unreachable!()
    };
    sim.take_card_away().await;
    assert!(message.zh.contains("B500"), "{message:?}");
    assert_eq!(sim.printed(SimPrinter::Dispenser).len(), 1);

    // Paper out: the number is void and the citizen is sent to the desk.
    sim.set_paper(SimPrinter::Dispenser, Paper::Out);
    let r = screen.borrow().revision;
    engine.send(Command::Start {
        journey: JourneyKind::TakeNumber,
    });
    engine.send(Command::Choose { id: "A".into() });
    engine.send(Command::Skip);
    let Page::Notice {
        failure, window, ..
    } = until(&mut screen, r, |p| matches!(p, Page::Notice { .. })).await
    else {
        unreachable!()
    };
    assert!(failure);
    assert_eq!(window.unwrap().zh, "1号综合咨询台");
    sim.set_paper(SimPrinter::Dispenser, Paper::Ok);
    let r = screen.borrow().revision;
    engine.send(Command::Start {
        journey: JourneyKind::TakeNumber,
    });
    engine.send(Command::Choose { id: "A".into() });
    engine.send(Command::Skip);
    let Page::Ticket { ticket } = until(&mut screen, r, |p| matches!(p, Page::Ticket { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(
        ticket.ticket_no, "A501",
        "the voided A500 is not given again"
    );
    let stats = *engine.stats().borrow();
    assert_eq!(
        (
            stats.tickets_printed,
            stats.tickets_voided,
            stats.duplicates_refused
        ),
        (2, 1, 1)
    );
    let r = screen.borrow().revision;
    engine.send(Command::Cancel);
    until(&mut screen, r, |p| matches!(p, Page::Home)).await;
    assert_eq!(
        kiosk_journeys::holder::holders_in_memory(),
        0,
        "no card holder outlives the sessions"
    );

    // An applicant taps a card and walks away: the timeout drops the session, and with it
    // (wiped on drop) everything the card gave.
    let r = screen.borrow().revision;
    engine.send(Command::Start {
        journey: JourneyKind::Apply,
    });
    until(&mut screen, r, |p| matches!(p, Page::TapCard { .. })).await;
    let r = screen.borrow().revision;
    sim.present_card(&citizen_card(8, born));
    until(&mut screen, r, |p| matches!(p, Page::Choose { .. })).await;
    sim.take_card_away().await;
    assert_eq!(kiosk_journeys::holder::holders_in_memory(), 1);
    let r = screen.borrow().revision;
    engine.send(Command::Timeout);
    until(&mut screen, r, |p| matches!(p, Page::Home)).await;
    assert_eq!(
        kiosk_journeys::holder::holders_in_memory(),
        0,
        "the timeout dropped (and so wiped) the applicant"
    );
    assert_eq!(engine.stats().borrow().timeouts, 1);
    engine.shutdown().await;
}
