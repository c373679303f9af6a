//! The language switch changes what the citizen reads, everywhere at once.

#![allow(clippy::unwrap_used, elided_lifetimes_in_paths)]

mod common;

use common::{start_shell, tap, visible};
use kiosk_app::ui_bridge::ShellAdapter;
use slint::ComponentHandle;

#[test]
fn switching_to_english_and_back_changes_the_visible_text() {
    let shell = start_shell();
    assert!(visible(&shell, "取号"));
    assert!(visible(&shell, "您好！请选择您要办理的业务"));
    assert!(!visible(&shell, "Take a number"));

    tap(&shell, "English");
    assert_eq!(shell.window().global::<ShellAdapter>().get_language(), "en");
    assert!(visible(&shell, "Take a number"));
    assert!(visible(&shell, "Hello! What would you like to do today?"));
    assert!(visible(
        &shell,
        "Dongcheng District Government Service Center"
    ));
    assert!(!visible(&shell, "取号"));
    assert!(!visible(&shell, "东城区政务服务中心"));

    // Pages opened afterwards are in English too.
    tap(&shell, "Service guide");
    assert!(visible(
        &shell,
        "This service is not available at this kiosk yet."
    ));
    tap(&shell, "Back to home");

    tap(&shell, "简体中文");
    assert!(visible(&shell, "取号"));
    assert!(!visible(&shell, "Take a number"));
}
