#![allow(clippy::unwrap_used)]
//! `kioskctl devices` on a fake sysfs and /dev laid out as the kernel and udev lay them out
//! (a real sysfs on a build machine has no kiosk devices), and once on the real /sys.

use std::path::Path;
use std::process::{Command, Output};

use kiosk_system_tests::sysfs::kiosk_tree;
use serde_json::Value;

fn kioskctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kioskctl"))
        .arg("devices")
        .args(args)
        .output()
        .unwrap()
}

fn scan_json(root: &Path) -> Value {
    let sys = root.join("sys");
    let dev = root.join("dev");
    let out = kioskctl(&[
        "--json",
        "--sys-root",
        sys.to_str().unwrap(),
        "--dev-root",
        dev.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn printers_and_the_card_reader_are_matched_to_their_kinds_ports_and_kiosk_links() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    kiosk_tree(root);
    let dev = root.join("dev");
    let inventory = scan_json(root);

    let usb = inventory["usb_devices"].as_array().unwrap();
    let bus_paths: Vec<&str> = usb
        .iter()
        .map(|d| d["bus_path"].as_str().unwrap())
        .collect();
    assert_eq!(
        bus_paths,
        ["1-1", "1-2", "1-3", "1-4"],
        "the root hub is left out"
    );

    let dispenser = &usb[0];
    assert_eq!(dispenser["id"], "0fe6:811e");
    assert_eq!(dispenser["known"]["kind"], "escpos-printer");
    assert_eq!(dispenser["product_name"], "POS-80");
    assert_eq!(dispenser["role"], "dispenser");
    assert_eq!(dispenser["nodes"][0], dev.join("usb/lp0").to_str().unwrap());
    // What 71-kiosk-ports.rules matches to make it the dispenser.
    assert_eq!(dispenser["id_path"], "pci-0000:00:14.0-usb-0:1:1.0");

    let printer = &usb[1];
    assert_eq!(printer["role"], "printer");
    assert_eq!(printer["nodes"][0], dev.join("usb/lp1").to_str().unwrap());

    let reader = &usb[2];
    assert_eq!(reader["known"]["kind"], "usb-serial-adapter");
    assert_eq!(reader["role"], "idcard");
    let links: Vec<&str> = reader["symlinks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(
        links,
        [
            dev.join("kiosk/idcard").to_str().unwrap(),
            dev.join("serial/by-id/usb-1a86_USB_Serial-if00-port0")
                .to_str()
                .unwrap()
        ]
    );

    let mouse = &usb[3];
    assert_eq!(mouse["known"], Value::Null);
    assert_eq!(mouse["role"], Value::Null);

    let ports = inventory["serial_ports"].as_array().unwrap();
    let names: Vec<&str> = ports.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["ttyS0", "ttyUSB0"],
        "a console and an empty UART slot are not ports"
    );
    assert_eq!(ports[0]["driver"], "serial8250");
    assert_eq!(ports[0]["usb_bus_path"], Value::Null);
    assert_eq!(ports[1]["driver"], "ch341-uart");
    assert_eq!(ports[1]["usb_bus_path"], "1-3");
    assert_eq!(ports[1]["id_path"], "pci-0000:00:14.0-usb-0:3:1.0");
    assert_eq!(reader["id_path"], "pci-0000:00:14.0-usb-0:3:1.0");

    let kiosk: Vec<(&str, bool)> = inventory["kiosk_links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap(),
                l["target_exists"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kiosk,
        [("dispenser", true), ("idcard", true), ("printer", true)]
    );
}

#[test]
fn an_unplugged_printer_shows_as_a_dangling_kiosk_link_in_the_text_listing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    kiosk_tree(root);
    // The receipt printer is pulled out: its node goes, udev's link stays until the next event.
    std::fs::remove_file(root.join("dev/usb/lp1")).unwrap();
    std::fs::remove_file(root.join("dev/kiosk/dispenser")).unwrap();
    let out = kioskctl(&[
        "--sys-root",
        root.join("sys").to_str().unwrap(),
        "--dev-root",
        root.join("dev").to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("1-1       0fe6:811e  ICS/Xprinter POS printer"),
        "{text}"
    );
    assert!(text.contains("role: idcard"), "{text}");
    // A printer can be named by its USB id too; the hint names its section by role (the
    // printer without a link yet defaults to the receipt printer's). The reader on a
    // USB-serial adapter is a port, so it gets no USB hint.
    assert!(
        text.contains("kiosk.toml: [devices.printer] usb = \"0416:5011\""),
        "{text}"
    );
    assert!(
        text.contains("kiosk.toml: [devices.printer] usb = \"0fe6:811e\""),
        "{text}"
    );
    assert!(!text.contains("[devices.idcard] usb"), "{text}");
    // The serial number that `usb_serial` takes, for two printers of one model.
    assert!(text.contains("serial: XP80-000123"), "{text}");
    let printer_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("printer "))
        .unwrap();
    assert!(printer_line.contains("MISSING"), "{text}");
    assert!(
        text.contains("dispenser  not set up"),
        "a missing link is named: {text}"
    );
}

#[test]
fn the_real_sysfs_of_this_machine_lists_without_error() {
    let out = kioskctl(&["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inventory: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(inventory["usb_devices"].is_array());
    assert!(inventory["serial_ports"].is_array());
    let text = kioskctl(&[]);
    assert!(text.status.success());
    assert!(
        String::from_utf8(text.stdout)
            .unwrap()
            .contains("Serial ports")
    );
}
