//! A technician holds the hall name, types the PIN and sees the kiosk's devices, network and
//! version; wrong PINs are refused and, after a few, the keypad locks for a while.

#![allow(clippy::unwrap_used, elided_lifetimes_in_paths)]

mod common;

use std::time::Duration;

use common::{
    hold_hall_name, pin_hash, pump_until, settle, start_shell_with, tap, type_pin, visible,
    visible_containing,
};
use i_slint_backend_testing::mock_elapsed_time;
use kiosk_app::config::Config;
use kiosk_app::ui_bridge::{PinState, TechStage, TechnicianAdapter};
use slint::{ComponentHandle, Model};

#[test]
fn the_technician_opens_the_mode_with_the_pin_and_wrong_pins_lock_it() {
    let mut config = Config::simulate().unwrap();
    config.technician.pin_hash = Some(pin_hash("482913"));
    config.technician.max_attempts = 3;
    config.technician.lockout_secs = 120;
    let shell = start_shell_with(config);
    let adapter = || shell.window().global::<TechnicianAdapter>();

    // A short touch on the hall name does nothing; holding it three seconds asks for the PIN.
    hold_hall_name(&shell, 1);
    assert_eq!(adapter().get_stage(), TechStage::Closed);
    hold_hall_name(&shell, 3);
    assert_eq!(adapter().get_stage(), TechStage::Pin);
    assert!(visible(&shell, "请输入技术人员密码。"));

    // A wrong PIN is refused and says how many tries are left.
    type_pin(&shell, "111111");
    assert!(visible(&shell, "已输入 6 位"), "only dots, never digits");
    tap(&shell, "解锁");
    pump_until("the wrong PIN to be checked", || {
        adapter().get_pin_state() == PinState::Wrong
    });
    assert!(visible(&shell, "密码错误，还可尝试 2 次。"));
    assert_eq!(adapter().get_stage(), TechStage::Pin);

    // The right PIN opens technician mode: network, id and version, and the self-test.
    type_pin(&shell, "482913");
    tap(&shell, "解锁");
    pump_until("the right PIN to be checked", || {
        adapter().get_stage() == TechStage::Open
    });
    assert!(visible(&shell, "技术人员模式"));
    assert!(visible(
        &shell,
        "中心平台：未配置（请运行 kioskctl provision）"
    ));
    assert!(visible(&shell, "终端编号：SIM-0001"));
    assert!(visible(&shell, &format!("版本：{}", kiosk_app::VERSION)));

    // Each device says how it is connected: the reader over libusb, the receipt printer on its
    // usblp node, the ticket printer on a serial port, in the technician's language.
    use kiosk_app::status::{Connectivity, KioskStatus};
    use kiosk_hal::{DeviceHealth, DeviceKind, HealthState};
    shell.set_status(&KioskStatus {
        connectivity: Connectivity::Offline,
        devices: vec![
            DeviceHealth::now(
                DeviceKind::IdCardReader,
                "usb 0400:c35a",
                HealthState::Ready,
            ),
            DeviceHealth::now(DeviceKind::Printer, "/dev/usb/lp0", HealthState::Absent),
            DeviceHealth::now(
                DeviceKind::Dispenser,
                "/dev/kiosk/dispenser (115200 baud)",
                HealthState::Ready,
            ),
        ],
        checked: true,
    });
    settle();
    assert!(visible_containing(
        &shell,
        "\n连接方式：USB（libusb），usb 0400:c35a"
    ));
    assert!(visible_containing(
        &shell,
        "\n连接方式：USB 打印机设备文件，/dev/usb/lp0"
    ));
    assert!(visible_containing(
        &shell,
        "\n连接方式：串口，/dev/kiosk/dispenser (115200 baud)"
    ));
    tap(&shell, "运行自检");
    pump_until("the self-test", || {
        adapter().get_checks().iter().count() > 0
    });
    let checks: Vec<_> = adapter().get_checks().iter().collect();
    let central = checks.iter().find(|c| c.name == "central").unwrap();
    assert_eq!(
        central.outcome, "FAIL",
        "the simulate profile has no central"
    );
    tap(&shell, "退出技术人员模式");
    assert_eq!(adapter().get_stage(), TechStage::Closed);
    assert!(!visible(&shell, "技术人员模式"));

    // Three wrong PINs lock the keypad: even the right PIN is not taken until the lock ends.
    for _ in 0..3 {
        hold_hall_name(&shell, 3);
        type_pin(&shell, "000000");
        tap(&shell, "解锁");
        pump_until("a wrong PIN to be checked", || {
            matches!(
                adapter().get_pin_state(),
                PinState::Wrong | PinState::Locked
            )
        });
        if adapter().get_pin_state() != PinState::Locked {
            tap(&shell, "取消");
        }
    }
    assert_eq!(adapter().get_pin_state(), PinState::Locked);
    assert!(visible(&shell, "密码错误次数过多，已锁定 2 分钟。"));
    type_pin(&shell, "482913");
    assert_eq!(
        adapter().get_pin_digits(),
        0,
        "a locked keypad takes no digits"
    );
    tap(&shell, "取消");

    mock_elapsed_time(Duration::from_secs(121));
    settle();
    hold_hall_name(&shell, 3);
    assert_eq!(adapter().get_pin_state(), PinState::Entering);
    type_pin(&shell, "482913");
    tap(&shell, "解锁");
    pump_until("the right PIN after the lock", || {
        adapter().get_stage() == TechStage::Open
    });
}
