//! Shared set-up for the UI tests: the shell on Slint's testing backend with mock time, and
//! element look-ups by accessible label, as a screen reader would find them.

#![allow(dead_code)]

use i_slint_backend_testing::ElementHandle;
use kiosk_app::config::Config;
use kiosk_app::ui_bridge::{Shell, ShellOptions};
use slint::ComponentHandle;

/// The simulate profile's shell on a 1920×1080 test window, shown.
pub fn start_shell() -> Shell {
    start_shell_with(Config::simulate().unwrap())
}

/// The shell for this configuration on a 1920×1080 test window, shown.
pub fn start_shell_with(config: Config) -> Shell {
    i_slint_backend_testing::init_integration_test_with_mock_time();
    let shell = Shell::new(ShellOptions::from_config(&config)).unwrap();
    shell
        .window()
        .window()
        .set_size(slint::PhysicalSize::new(1920, 1080));
    shell.window().show().unwrap();
    settle();
    shell
}

/// Lets property bindings and conditional elements catch up, as a frame would.
pub fn settle() {
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_millis(16));
}

/// The visible elements carrying this accessible label.
pub fn find(shell: &Shell, label: &str) -> Vec<ElementHandle> {
    ElementHandle::find_by_accessible_label(shell.window(), label)
        .filter(|e| e.is_valid() && e.size().width > 0.0 && e.size().height > 0.0)
        .collect()
}

/// Whether something labelled so is on screen.
pub fn visible(shell: &Shell, label: &str) -> bool {
    !find(shell, label).is_empty()
}

/// The one visible button with this label (its text is a separate element with the same
/// label, as a screen reader sees it).
pub fn button(shell: &Shell, label: &str) -> ElementHandle {
    let buttons: Vec<_> = find(shell, label)
        .into_iter()
        .filter(|e| e.accessible_role() == Some(i_slint_backend_testing::AccessibleRole::Button))
        .collect();
    assert_eq!(
        buttons.len(),
        1,
        "expected exactly one button labelled {label:?}, found {}",
        buttons.len()
    );
    buttons.into_iter().next().unwrap()
}

/// Taps the button with this label, with real pointer events at its centre.
pub fn tap(shell: &Shell, label: &str) {
    button(shell, label).mock_single_click(slint::platform::PointerEventButton::Left);
    settle();
}

/// Runs what other threads queued for the UI thread (results of background work), as the
/// real event loop would between frames.
pub fn pump() {
    slint::invoke_from_event_loop(|| {
        let _ = slint::quit_event_loop();
    })
    .unwrap();
    slint::run_event_loop().unwrap();
    settle();
}

/// Pumps the event loop until `done` holds (background work finishing), for at most 20 s.
pub fn pump_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
        pump();
    }
}
