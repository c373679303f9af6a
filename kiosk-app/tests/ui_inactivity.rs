//! A citizen who walks away: after the idle time the kiosk asks "are you still there?", and
//! when nobody answers it goes home and forgets the session. Mock time, no waiting.

#![allow(clippy::unwrap_used, elided_lifetimes_in_paths)]

mod common;

use std::time::Duration;

use common::{settle, start_shell, tap, visible};
use i_slint_backend_testing::mock_elapsed_time;
use kiosk_app::ui_bridge::{Page, ShellAdapter, Theme};
use slint::ComponentHandle;

#[test]
fn an_abandoned_session_is_prompted_then_cleared_and_a_present_one_continues() {
    let shell = start_shell();
    let adapter = || shell.window().global::<ShellAdapter>();

    // A citizen switches to English and elder mode, opens the guide, and walks away.
    tap(&shell, "English");
    tap(&shell, "Elder mode: off");
    assert!(shell.window().global::<Theme>().get_elder_mode());
    tap(&shell, "Service guide");
    assert_eq!(adapter().get_page(), Page::Guide);

    mock_elapsed_time(Duration::from_secs(59));
    settle();
    assert!(
        !visible(&shell, "Are you still there?"),
        "no prompt before the timeout"
    );

    mock_elapsed_time(Duration::from_secs(2));
    settle();
    assert!(visible(&shell, "Are you still there?"));
    assert_eq!(adapter().get_timeout_seconds_left(), 20);
    mock_elapsed_time(Duration::from_secs(1));
    assert_eq!(
        adapter().get_timeout_seconds_left(),
        19,
        "the countdown runs"
    );

    // Nobody answers: home, default language and type size, prompt gone.
    mock_elapsed_time(Duration::from_secs(20));
    settle();
    assert_eq!(adapter().get_page(), Page::Home);
    assert!(!adapter().get_timeout_prompt_visible());
    assert_eq!(adapter().get_language(), "zh_CN");
    assert!(!shell.window().global::<Theme>().get_elder_mode());
    assert!(visible(&shell, "取号"));

    // At rest on the home screen, no prompt ever appears.
    mock_elapsed_time(Duration::from_secs(300));
    settle();
    assert!(!adapter().get_timeout_prompt_visible());

    // A citizen who is still there taps "continue" and keeps their page.
    tap(&shell, "进度查询");
    mock_elapsed_time(Duration::from_secs(61));
    settle();
    assert!(visible(&shell, "您还在吗？"));
    tap(&shell, "继续办理");
    assert!(!adapter().get_timeout_prompt_visible());
    assert_eq!(adapter().get_page(), Page::Progress);
    // ...and the idle clock starts again from that tap.
    mock_elapsed_time(Duration::from_secs(30));
    settle();
    assert!(!adapter().get_timeout_prompt_visible());
    mock_elapsed_time(Duration::from_secs(31));
    settle();
    assert!(adapter().get_timeout_prompt_visible());
}
