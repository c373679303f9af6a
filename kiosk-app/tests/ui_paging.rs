//! A list longer than the screen turns pages with 上一页/下一页; the page a citizen turned to
//! stays while the same step is re-drawn (a language switch, a choice ticked), and a new step
//! of the journey starts on its first page: it never opens on page 2 of the last one's list.

#![allow(clippy::unwrap_used, elided_lifetimes_in_paths)]

mod common;

use std::rc::Rc;

use common::{find, settle};
use i_slint_backend_testing::AccessibleRole;
use kiosk_app::config::Config;
use kiosk_app::ui_bridge::{Shell, ShellOptions, Theme};
use kiosk_journeys::model::Choice;
use kiosk_journeys::{JourneyKind, Page, Screen, Text};
use slint::ComponentHandle;

fn choose(title: &str, n: usize, prompt: &str) -> Screen {
    Screen {
        journey: Some(JourneyKind::TakeNumber),
        page: Page::Choose {
            title: Text::same(title),
            choices: (0..n)
                .map(|i| Choice::new(format!("c{i}"), Text::same(format!("选项 {i}"))))
                .collect(),
        },
        prompt: Text::same(prompt),
        can_go_back: true,
        ..Default::default()
    }
}

/// Whether the pager's 上一页 button can be pressed (the pager is past its first page).
fn past_first_page(shell: &Shell) -> bool {
    find(shell, "▲ 上一页")
        .into_iter()
        .filter(|e| e.accessible_role() == Some(AccessibleRole::Button))
        .any(|e| e.accessible_enabled() == Some(true))
}

fn next_page(shell: &Shell) {
    let next = find(shell, "下一页 ▼")
        .into_iter()
        .find(|e| e.accessible_role() == Some(AccessibleRole::Button))
        .expect("the list is longer than the screen: 下一页 is offered");
    next.invoke_accessible_default_action();
    settle();
    settle();
}

#[test]
fn a_new_step_starts_on_the_first_page_and_a_redraw_keeps_the_page() {
    i_slint_backend_testing::init_integration_test_with_mock_time();
    let shell = Shell::new(ShellOptions::from_config(&Config::simulate().unwrap())).unwrap();
    shell
        .window()
        .window()
        .set_size(slint::PhysicalSize::new(1366, 768));
    shell.window().show().unwrap();
    shell.window().global::<Theme>().set_elder_mode(true);
    let bridge = shell.attach_journeys(Rc::new(|_| {}));
    shell.show_journey(Some(JourneyKind::TakeNumber));

    bridge.show_screen(choose("请选择业务类别", 12, "请选择"));
    settle();
    settle();
    assert!(!past_first_page(&shell), "a list opens on its first page");
    next_page(&shell);
    assert!(past_first_page(&shell), "下一页 turned the page");
    assert!(
        find(&shell, "选项 0").is_empty(),
        "the first choice is on the page before"
    );

    // The same step drawn again (say the engine re-publishes it) keeps the citizen's page.
    bridge.show_screen(choose("请选择业务类别", 12, "请选择"));
    settle();
    assert!(past_first_page(&shell), "a redraw does not turn back");

    // The next step is another list on the same kind of page: it starts at its top.
    bridge.show_screen(choose("是否需要绿色通道", 12, "是否需要绿色通道"));
    settle();
    settle();
    assert!(
        !past_first_page(&shell),
        "a new step starts on its first page"
    );
    assert!(!find(&shell, "选项 0").is_empty());
}
