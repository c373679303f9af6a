//! A citizen applies through the touchscreen: taps their card, picks the matter, fills the
//! form on the keypad (a wrong phone number is refused inline), scans the materials — a
//! blank page fails its check and is retaken — reviews, submits, gets the receipt number
//! and rates the service.

#![allow(clippy::unwrap_used, elided_lifetimes_in_paths)]

mod common;

use common::{Kiosk, find, settle, tap, visible};
use i_slint_backend_testing::AccessibleRole;
use kiosk_app::ui_bridge::JPage;
use kiosk_journeys::sim::{SimPages, SimPrinter, citizen_card};
use slint::Model;
use slint::platform::PointerEventButton;

fn field(kiosk: &Kiosk, key: &str) -> kiosk_app::ui_bridge::JField {
    kiosk
        .journey()
        .get_fields()
        .iter()
        .find(|f| f.key == key)
        .unwrap()
}

#[test]
fn an_application_with_a_retaken_page_is_submitted_and_its_receipt_printed() {
    let kiosk = Kiosk::start();
    let shell = &kiosk.shell;

    tap(shell, "自助申报");
    kiosk.wait_for(JPage::TapCard);
    let born = chrono::NaiveDate::from_ymd_opt(1985, 3, 14).unwrap();
    kiosk.sim.present_card(&citizen_card(3, born));
    kiosk.wait_for(JPage::Choose);
    kiosk.take_card_away();
    kiosk.tap_choice("hr-sscard-apply");
    kiosk.wait_for(JPage::Form);

    // The phone field takes the keypad when touched; a short number is refused inline.
    let phone = field(&kiosk, "phone");
    let input = find(shell, &phone.label)
        .into_iter()
        .find(|e| e.accessible_role() == Some(AccessibleRole::TextInput))
        .unwrap();
    input.mock_single_click(PointerEventButton::Left);
    settle();
    common::pump_until("the phone field to take the keypad", || {
        field(&kiosk, "phone").focused
    });
    for d in "1380013800".chars() {
        tap(shell, &d.to_string());
    }
    tap(shell, "继续办理");
    common::pump_until("the short number to be refused", || {
        !field(&kiosk, "phone").error.is_empty()
    });
    let error = field(&kiosk, "phone").error;
    assert!(visible(shell, &error), "the error is shown under the field");
    tap(shell, "0");
    common::pump_until("the phone number to be accepted", || {
        field(&kiosk, "phone").value == "13800138000"
    });
    kiosk.tap_choice_in_field("bank", 0);
    kiosk.tap_choice_in_field("delivery", 1);
    common::pump_until("the answers to be taken", || {
        let delivery = field(&kiosk, "delivery");
        delivery.value == "1" || delivery.choices.row_data(1).unwrap().selected
    });
    tap(shell, "继续办理");
    kiosk.wait_for(JPage::Scan);

    // A blank page fails its check; the citizen is told and scans again.
    kiosk.sim.load_pages(SimPages::Blank(1));
    tap(shell, "扫描");
    common::pump_until("the blank page to be refused", || {
        let pages = kiosk.journey().get_pages();
        pages.iter().any(|p| !p.accepted) || !kiosk.journey().get_error().is_empty()
    });
    assert!(
        visible(shell, "重新扫描"),
        "the main button offers a retake"
    );
    kiosk.sim.load_pages(SimPages::Good(1));
    tap(shell, "重新扫描");
    common::pump_until("the second material", || kiosk.journey().get_index() == 2);
    tap(shell, "扫描");
    kiosk.wait_for(JPage::Review);
    assert!(visible(shell, "提交前请核对"));
    assert!(visible(shell, "联系电话: 13800138000"));

    tap(shell, "提交");
    kiosk.wait_for(JPage::Receipt);
    let number = kiosk.journey().get_number();
    // 17 digits with their check digit, shown in the receipt's groups.
    assert!(
        kiosk_api::numbers::ApplicationNo::parse(&number).is_ok() && number.contains(' '),
        "{number}"
    );
    assert!(visible(shell, &number));
    assert!(kiosk.journey().get_printed());
    assert!(!kiosk.sim.printed(SimPrinter::Receipt).is_empty());

    // Then the rating the platform asks for: five faces; the best one ends with thanks.
    tap(shell, "继续办理");
    kiosk.wait_for(JPage::Choose);
    assert_eq!(kiosk.journey().get_choices().row_count(), 5);
    kiosk.tap_choice("5");
    kiosk.wait_for(JPage::Thanks);
    kiosk.stop();
}
