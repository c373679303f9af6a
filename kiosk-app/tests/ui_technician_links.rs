//! A technician changes how the ID-card reader is connected on the kiosk's own screen: the
//! page lists what is plugged in (read as `kioskctl devices` reads sysfs and /dev, here a
//! kiosk's tree in a folder), keeps the choice in the app's data folder and restarts on it.

#![allow(clippy::unwrap_used, elided_lifetimes_in_paths)]

mod common;

use common::{hold_hall_name, pin_hash, pump_until, settle, tap, type_pin, visible};
use kiosk_app::config::Config;
use kiosk_app::ui_bridge::{Shell, TechStage, TechnicianAdapter};
use slint::{ComponentHandle, Model};

#[test]
fn the_technician_picks_the_readers_connection_among_what_is_plugged_in_and_the_app_restarts_on_it()
{
    use kiosk_app::config::{IdcardDevice, Link, LocalDevices};
    use kiosk_app::status::{Connectivity, KioskStatus};
    use kiosk_app::ui_bridge::ShellOptions;
    use kiosk_hal::{DeviceHealth, DeviceKind, HealthState};

    // The box: a CH340 adapter carrying the reader (ttyUSB0, /dev/kiosk/idcard), a UART
    // (ttyS0), two USB printers; kiosk.toml still names the UART.
    let tree = tempfile::tempdir().unwrap();
    kiosk_system_tests::sysfs::kiosk_tree(tree.path());
    let data = tempfile::tempdir().unwrap();
    let mut config = Config::simulate().unwrap();
    config.technician.pin_hash = Some(pin_hash("482913"));
    config.kiosk.data_dir = data.path().to_owned();
    config.devices.idcard = Some(IdcardDevice {
        port: Some("/dev/ttyS0".into()),
        baud: None,
        usb: None,
        usb_serial: None,
    });
    let mut options = ShellOptions::from_config(&config);
    options.technician.file_config = Some(Box::new(config.clone()));
    options.technician.device_roots = kioskctl::devices::Roots {
        sys: tree.path().join("sys"),
        dev: tree.path().join("dev"),
    };
    i_slint_backend_testing::init_integration_test_with_mock_time();
    let shell = Shell::new(options).unwrap();
    shell
        .window()
        .window()
        .set_size(slint::PhysicalSize::new(1920, 1080));
    shell.window().show().unwrap();
    settle();
    let restarted = std::rc::Rc::new(std::cell::Cell::new(false));
    let flag = restarted.clone();
    shell
        .technician()
        .set_restart_action(move || flag.set(true));
    let adapter = || shell.window().global::<TechnicianAdapter>();

    hold_hall_name(&shell, 3);
    type_pin(&shell, "482913");
    tap(&shell, "解锁");
    pump_until("the PIN to be checked", || {
        adapter().get_stage() == TechStage::Open
    });
    shell.set_status(&KioskStatus {
        connectivity: Connectivity::Offline,
        devices: vec![DeviceHealth::now(
            DeviceKind::IdCardReader,
            "/dev/ttyS0",
            HealthState::Fault("no answer to SAM status".into()),
        )],
        checked: true,
    });
    settle();

    // The reader's choices: every serial port with hardware behind it, the adapter by the
    // name udev gave it; the console and the chip-less UART slot are not offered.
    tap(&shell, "更改身份证阅读器的连接方式");
    let offered: Vec<String> = adapter()
        .get_links()
        .iter()
        .map(|l| format!("{} {} ({})", l.transport, l.place, l.about))
        .collect();
    assert_eq!(
        offered,
        [
            "serial /dev/kiosk/idcard (ttyUSB0, ch341-uart)".to_string(),
            format!(
                "serial {} (ttyS0, serial8250)",
                tree.path().join("dev/ttyS0").display()
            ),
        ]
    );
    assert!(visible(
        &shell,
        "连接方式：串口，/dev/kiosk/idcard (ttyUSB0, ch341-uart)"
    ));

    // Chosen: kept in the app's data folder, not in kiosk.toml, and the app restarts on it.
    tap(
        &shell,
        "连接方式：串口，/dev/kiosk/idcard (ttyUSB0, ch341-uart)",
    );
    assert!(restarted.get(), "the app restarts to open the reader there");
    assert_eq!(adapter().get_choosing(), kiosk_app::ui_bridge::Device::None);
    let kept = LocalDevices::read(data.path()).unwrap();
    assert_eq!(
        kept.idcard.as_ref().map(|c| &c.link),
        Some(&Link::Port("/dev/kiosk/idcard".into()))
    );
    let (started_with, _) = kept.apply(config);
    assert_eq!(
        started_with.devices.idcard.unwrap().port.as_deref(),
        Some(std::path::Path::new("/dev/kiosk/idcard"))
    );
}
