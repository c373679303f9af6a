//! Elder mode (长辈模式): type at least 1.5× larger, touch targets of at least 60 px, text
//! contrast of at least 4.5:1 — measured on the real theme and the laid-out elements.

#![allow(clippy::unwrap_used, elided_lifetimes_in_paths)]

mod common;

use common::{button, settle, start_shell, tap};
use kiosk_app::ui_bridge::Theme;
use slint::ComponentHandle;

/// WCAG 2 relative luminance.
fn luminance(c: slint::Color) -> f64 {
    let channel = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.03928 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(c.red()) + 0.7152 * channel(c.green()) + 0.0722 * channel(c.blue())
}

fn contrast(a: slint::Color, b: slint::Color) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

fn check_contrast(theme: &Theme<'_>, mode: &str, minimum: f64) {
    let pairs = [
        (
            "text on background",
            theme.get_text(),
            theme.get_background(),
        ),
        ("text on surface", theme.get_text(), theme.get_surface()),
        (
            "muted text on surface",
            theme.get_text_muted(),
            theme.get_surface(),
        ),
        (
            "muted text on background",
            theme.get_text_muted(),
            theme.get_background(),
        ),
        (
            "button text on primary",
            theme.get_on_primary(),
            theme.get_primary(),
        ),
        (
            "header text on header",
            theme.get_on_header(),
            theme.get_header(),
        ),
        (
            "warning text on its strip",
            theme.get_warning(),
            theme.get_warning_surface(),
        ),
        (
            "help button text",
            theme.get_on_danger(),
            theme.get_danger(),
        ),
    ];
    for (what, fg, bg) in pairs {
        let ratio = contrast(fg, bg);
        assert!(
            ratio >= minimum,
            "{mode}: {what} has contrast {ratio:.2}:1, below {minimum}:1"
        );
    }
}

#[test]
fn elder_mode_enlarges_type_and_targets_and_keeps_contrast() {
    let shell = start_shell();
    let theme = shell.window().global::<Theme>();
    check_contrast(&theme, "normal mode", 4.5);
    let normal_body = theme.get_font_body();
    let normal_title = theme.get_font_heading();
    let tile_height = button(&shell, "取号").size().height;

    tap(&shell, "长辈模式：已关闭");
    assert!(theme.get_elder_mode());
    settle();
    check_contrast(&theme, "elder mode", 7.0);
    assert!(theme.get_font_body() >= normal_body * 1.5);
    assert!(theme.get_font_heading() >= normal_title * 1.5);

    // Every button on screen is a large target in elder mode.
    for label in [
        "取号",
        "好差评",
        "English",
        "简体中文",
        "长辈模式：已开启",
        "呼叫帮助",
    ] {
        let element = button(&shell, label);
        let size = element.size();
        assert!(
            size.width >= 60.0 && size.height >= 60.0,
            "{label} is {}×{} px in elder mode",
            size.width,
            size.height
        );
    }
    // Tiles go to two wide columns so the larger type fits; they stay far above the minimum.
    let tile = button(&shell, "取号").size();
    assert!(
        tile.height >= 144.0 && tile.width >= 600.0,
        "tile is {}×{} px",
        tile.width,
        tile.height
    );
    assert!(tile.height < tile_height, "rows were traded for width");

    // A journey page's button too.
    tap(&shell, "办事指南");
    let back = button(&shell, "返回首页");
    assert!(back.size().height >= 60.0 && back.size().width >= 60.0);
}
