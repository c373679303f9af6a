//! A citizen takes a number through the touchscreen: a senior's card gives the priority lane,
//! the ticket shows people ahead; with the paper out the number is voided, the citizen is
//! sent to the desk and the tile greys out. Real simulators, real engine, testing backend.

#![allow(clippy::unwrap_used, elided_lifetimes_in_paths)]

mod common;

use common::{Kiosk, find, pump_until, tap, visible};
use kiosk_app::ui_bridge::JPage;
use kiosk_journeys::sim::{SimPrinter, citizen_card};
use kiosk_sim::printer::Paper;
use slint::Model;

#[test]
fn a_senior_gets_a_priority_ticket_and_paper_out_voids_the_number() {
    let kiosk = Kiosk::start();
    let shell = &kiosk.shell;

    tap(shell, "取号");
    kiosk.wait_for(JPage::Choose);
    kiosk.tap_choice("B");
    kiosk.wait_for(JPage::TapCard);
    assert!(visible(shell, "请将身份证放在读卡区"));
    assert!(visible(shell, "不刷卡，直接取号"), "the card is optional");

    let born = chrono::NaiveDate::from_ymd_opt(1950, 6, 1).unwrap();
    kiosk.sim.present_card(&citizen_card(7, born));
    kiosk.wait_for(JPage::Ticket);
    kiosk.take_card_away();
    let ticket = kiosk.journey().get_ticket();
    assert_eq!(ticket.number, "B500");
    assert!(visible(shell, "B500"));
    assert!(!ticket.priority.is_empty(), "a senior gets the green lane");
    assert!(visible(shell, &ticket.priority));
    assert_eq!(kiosk.sim.printed(SimPrinter::Dispenser).len(), 1);
    tap(shell, "返回首页");
    kiosk.wait_for(JPage::Home);

    // Paper out: nothing prints, the number is void, the citizen is sent to the desk.
    kiosk.sim.set_paper(SimPrinter::Dispenser, Paper::Out);
    tap(shell, "取号");
    kiosk.wait_for(JPage::Choose);
    kiosk.tap_choice("A");
    kiosk.wait_for(JPage::TapCard);
    tap(shell, "不刷卡，直接取号");
    kiosk.wait_for(JPage::Notice);
    assert!(kiosk.journey().get_failure());
    assert!(visible(shell, "请前往：1号综合咨询台"));
    assert_eq!(kiosk.sim.printed(SimPrinter::Dispenser).len(), 1);
    tap(shell, "返回首页");
    kiosk.wait_for(JPage::Home);

    // The engine now knows the ticket printer is out of paper: the tile closes, and the note
    // above the others says which services are closed, why, and where to go.
    pump_until("the take-number tile to close", || {
        !kiosk.journey().get_tile_enabled().row_data(0).unwrap()
    });
    let note = kiosk.journey().get_closed_note().to_string();
    assert!(note.starts_with("取号"), "{note}");
    assert!(note.contains("1号综合咨询台"), "{note}");
    assert!(visible(shell, &note), "the note is on screen: {note}");
    assert_eq!(kiosk.journey().get_tile_slot().row_data(0), Some(-1));
    assert!(
        find(shell, "取号").is_empty(),
        "a closed tile is not offered"
    );
    assert_eq!(kiosk.journey().get_page(), JPage::Home);
    kiosk.stop();
}
