#![allow(clippy::unwrap_used)]
//! `kioskctl printer` against the ESC/POS emulator, over TCP and over a PTY serial port.

use std::process::{Command, Output};
use std::time::Duration;

use kiosk_sim::printer::{Config, Cover, Emulator, Paper};

fn kioskctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kioskctl"))
        .arg("printer")
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn status_json_over_tcp_reports_paper_near_end_as_ready() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path());
    config.paper = Paper::NearEnd;
    let emulator = Emulator::new(config).unwrap();
    let server = emulator.serve_tcp("127.0.0.1:0").unwrap();
    let addr = server.tcp_addr().unwrap().to_string();
    let out = kioskctl(&["status", "--tcp", &addr, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ready"], true);
    assert_eq!(report["status"]["paper"], "near-end");
    assert_eq!(report["location"], format!("tcp://{addr}"));
}

#[test]
fn status_over_a_serial_port_says_the_cover_is_open_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("out"));
    config.cover = Cover::Open;
    let emulator = Emulator::new(config).unwrap();
    let link = dir.path().join("printer");
    let _server = emulator.serve_pty(&link).unwrap();
    let out = kioskctl(&["status", "--port", link.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("cover        OPEN"), "{stdout}");
    assert!(stdout.contains("close the paper cover"), "{stdout}");
}

#[test]
fn test_ticket_with_paper_out_prints_nothing_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path());
    config.paper = Paper::Out;
    let emulator = Emulator::new(config).unwrap();
    let server = emulator.serve_tcp("127.0.0.1:0").unwrap();
    let addr = server.tcp_addr().unwrap().to_string();
    let out = kioskctl(&["test-ticket", "--tcp", &addr]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("printed nothing") && stderr.contains("paper out; load a new roll"),
        "{stderr}"
    );
    assert!(emulator.tickets().is_empty());
}

#[test]
fn test_ticket_over_a_serial_port_prints_a_ticket_whose_qr_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::new(Config::new(dir.path().join("out"))).unwrap();
    let link = dir.path().join("printer");
    let _server = emulator.serve_pty(&link).unwrap();
    let out = kioskctl(&[
        "test-ticket",
        "--port",
        link.to_str().unwrap(),
        "--baud",
        "115200",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("printed a test ticket"));
    let tickets = emulator.wait_for_tickets(1, Duration::from_secs(10));
    let zbar = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(&tickets[0])
        .output()
        .unwrap();
    assert_eq!(
        text(&zbar.stdout).trim(),
        "https://example.invalid/kioskctl/test-ticket"
    );
}

#[test]
fn a_printer_that_is_not_there_is_exit_code_2_with_advice() {
    // A port nobody listens on: bind, read the address, close.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let out = kioskctl(&["status", "--tcp", &addr]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("port 9100 is closed"),
        "{}",
        text(&out.stderr)
    );
}
