//! The shorter journeys through the touchscreen: the guide (search by pinyin initials, a
//! matter's detail, the printed slip), check-in without an appointment, progress by an
//! unknown number, a bad rating that asks for reasons, a session that times out, and the
//! call for help.

#![allow(clippy::unwrap_used, elided_lifetimes_in_paths)]

mod common;

use common::{Kiosk, pump_until, tap, visible};
use kiosk_app::ui_bridge::{HelpState, JPage, ShellAdapter};
use kiosk_journeys::sim::{SimPrinter, citizen_card};
use slint::{ComponentHandle, Model};

#[test]
fn guide_check_in_progress_rating_and_help_through_the_screen() {
    let kiosk = Kiosk::start();
    let shell = &kiosk.shell;

    // Guide: "shb" (社会保障…) finds the social security card; the detail shows materials; the slip prints.
    tap(shell, "办事指南");
    kiosk.wait_for(JPage::GuideBrowse);
    tap(shell, "S");
    tap(shell, "H");
    tap(shell, "B");
    pump_until("matters matching the search", || {
        kiosk.journey().get_query() == "shb" && kiosk.journey().get_choices().row_count() > 0
    });
    let first = kiosk.journey().get_choices().row_data(0).unwrap();
    kiosk.tap_choice(&first.id);
    kiosk.wait_for(JPage::GuideMatter);
    assert!(visible(shell, "申请材料"));
    assert!(kiosk.journey().get_guide().materials.row_count() > 0);
    let slips = kiosk.sim.printed(SimPrinter::Receipt).len();
    tap(shell, "打印办事指南");
    kiosk.wait_for(JPage::Notice);
    assert_eq!(kiosk.sim.printed(SimPrinter::Receipt).len(), slips + 1);
    tap(shell, "返回首页");
    kiosk.wait_for(JPage::Home);

    // Check-in with no appointment booked: a plain message, nothing printed.
    tap(shell, "预约签到");
    kiosk.wait_for(JPage::TapCard);
    let born = chrono::NaiveDate::from_ymd_opt(1990, 1, 2).unwrap();
    kiosk.sim.present_card(&citizen_card(11, born));
    kiosk.wait_for(JPage::Notice);
    kiosk.take_card_away();
    assert!(visible(shell, &kiosk.journey().get_heading()));
    assert_eq!(kiosk.sim.printed(SimPrinter::Dispenser).len(), 0);
    tap(shell, "返回首页");
    kiosk.wait_for(JPage::Home);

    // Progress by a number on the keypad (digits only) that no application has; it shows
    // in the groups the receipt prints.
    tap(shell, "进度查询");
    kiosk.wait_for(JPage::EnterNumber);
    for key in "00120326112600990".chars() {
        tap(shell, &key.to_string());
    }
    pump_until("the number to be typed", || {
        kiosk.journey().get_number() == "0012 03 261126 0099 0"
    });
    tap(shell, "查询");
    pump_until("an answer", || {
        matches!(kiosk.journey().get_page(), JPage::Progress | JPage::Notice)
            || !kiosk.journey().get_error().is_empty()
    });
    tap(shell, "返回首页");
    kiosk.wait_for(JPage::Home);

    // A ticket, then a bad rating of it: the kiosk asks why.
    tap(shell, "取号");
    kiosk.wait_for(JPage::Choose);
    kiosk.tap_choice("A");
    kiosk.wait_for(JPage::TapCard);
    tap(shell, "不刷卡，直接取号");
    kiosk.wait_for(JPage::Ticket);
    let ticket = kiosk.journey().get_ticket().number;
    kiosk.sim.take_ticket(SimPrinter::Dispenser);
    tap(shell, "返回首页");
    kiosk.wait_for(JPage::Home);
    tap(shell, "好差评");
    kiosk.wait_for(JPage::EnterNumber);
    for key in ticket.chars() {
        tap(shell, &key.to_string());
    }
    tap(shell, "查询");
    kiosk.wait_for(JPage::Choose);
    assert_eq!(kiosk.journey().get_choices().row_count(), 5, "five levels");
    kiosk.tap_choice("2");
    kiosk.wait_for(JPage::RatingReasons);
    let reason = kiosk.journey().get_choices().row_data(0).unwrap();
    kiosk.tap_choice(&reason.id);
    pump_until("the reason to be marked", || {
        kiosk.journey().get_choices().row_data(0).unwrap().selected
    });
    tap(shell, "提交评价");
    kiosk.wait_for(JPage::Thanks);
    assert!(visible(shell, "感谢您的评价"));
    tap(shell, "返回首页");
    kiosk.wait_for(JPage::Home);

    // A citizen who walks away mid-journey: the prompt, then the engine is told the session
    // timed out and the journey's screen is wiped.
    tap(shell, "自助申报");
    kiosk.wait_for(JPage::TapCard);
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_secs(61));
    common::settle();
    assert!(visible(shell, "您还在吗？"));
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_secs(21));
    common::settle();
    assert_eq!(kiosk.journey().get_page(), JPage::Home, "wiped at once");
    pump_until("the engine to count the timeout", || {
        kiosk.engine.stats().borrow().timeouts == 1
    });
    assert!(kiosk.engine.screen().borrow().journey.is_none());

    // Help from the home screen: staff are called and the citizen is told to wait.
    tap(shell, "呼叫帮助");
    assert_eq!(
        shell.window().global::<ShellAdapter>().get_help_state(),
        HelpState::StaffCalled
    );
    assert!(visible(shell, "已呼叫工作人员"));
    pump_until("the help request to be counted", || {
        kiosk.engine.stats().borrow().help_requests == 1
    });
    kiosk.stop();
}
