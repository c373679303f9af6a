//! A citizen opens a journey tile, reads the page and goes back home.

#![allow(clippy::unwrap_used, elided_lifetimes_in_paths)]

mod common;

use common::{start_shell, tap, visible};
use kiosk_app::ui_bridge::{Page, ShellAdapter};
use slint::ComponentHandle;

#[test]
fn each_tile_opens_its_page_and_back_returns_home() {
    let shell = start_shell();
    let adapter = || shell.window().global::<ShellAdapter>();
    assert_eq!(adapter().get_page(), Page::Home);
    assert!(
        visible(&shell, "东城区政务服务中心"),
        "the hall name is in the header"
    );

    let tiles = [
        ("取号", Page::TakeNumber),
        ("预约签到", Page::CheckIn),
        ("办事指南", Page::Guide),
        ("自助申报", Page::Apply),
        ("进度查询", Page::Progress),
        ("好差评", Page::Rate),
    ];
    for (label, page) in tiles {
        tap(&shell, label);
        assert_eq!(adapter().get_page(), page, "tile {label}");
        // Journeys not built yet say so honestly and send the citizen to a person.
        assert!(
            visible(&shell, "本机暂未开通此项服务。"),
            "page {label} says it is not available"
        );
        assert!(visible(&shell, "请到1号综合咨询台，工作人员会为您办理。"));
        tap(&shell, "返回首页");
        assert_eq!(adapter().get_page(), Page::Home);
        assert!(!visible(&shell, "本机暂未开通此项服务。"));
    }

    // The help button is always there and tells the citizen where to go.
    tap(&shell, "呼叫帮助");
    assert!(visible(&shell, "需要帮助吗？"));
    tap(&shell, "关闭");
    assert!(!visible(&shell, "需要帮助吗？"));
}
