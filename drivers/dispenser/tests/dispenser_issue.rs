#![allow(clippy::unwrap_used)]
//! Issuing tickets through the real driver against the ESC/POS emulator, over a TCP socket and
//! over a PTY serial port, with paper and cover changed between tickets. Rendered tickets are
//! read back by zbarimg (Debian's zbar-tools), an independent QR decoder.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::NaiveDate;
use kiosk_dispenser::{Dispenser, IssueError, Stage, Taken, Ticket};
use kiosk_escpos::{Endpoint, Printer, PrinterError, Problem, StatusQuery};
use kiosk_sim::printer::{Config, Cover, Emulator, Paper};

const TIMEOUT: Duration = Duration::from_millis(500);

fn ticket(number: &str) -> Ticket {
    Ticket {
        hall: "南京市玄武区政务服务中心".into(),
        category: "社保医保".into(),
        number: number.into(),
        ahead: 3,
        estimated_wait: Duration::from_secs(15 * 60),
        issued_at: NaiveDate::from_ymd_opt(2026, 11, 26)
            .unwrap()
            .and_hms_opt(9, 30, 0)
            .unwrap(),
        link: format!("https://zwfw.example.gov.cn/q/3201/{number}"),
        holder_name: Some("张三丰".into()),
        priority: false,
    }
}

fn decode_qr(png: &Path) -> String {
    let out = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(png)
        .output()
        .expect("zbarimg (Debian zbar-tools) must be installed");
    assert!(
        out.status.success(),
        "no QR code found in {}",
        png.display()
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn tcp_dispenser(emulator: &Emulator) -> (kiosk_sim::printer::Server, Dispenser) {
    let server = emulator.serve_tcp("127.0.0.1:0").unwrap();
    let endpoint = Endpoint::Tcp(server.tcp_addr().unwrap().to_string());
    let printer = Printer::open(&endpoint, TIMEOUT).await.unwrap();
    (server, Dispenser::new(printer).with_sensor(false))
}

async fn pty_dispenser(emulator: &Emulator, dir: &Path) -> (kiosk_sim::printer::Server, Dispenser) {
    let link = dir.join("printer");
    let server = emulator.serve_pty(&link).unwrap();
    let endpoint = Endpoint::Serial {
        path: link,
        baud: 115_200,
    };
    let printer = Printer::open(&endpoint, TIMEOUT).await.unwrap();
    (server, Dispenser::new(printer).with_sensor(false))
}

#[tokio::test]
async fn a_ticket_issued_over_tcp_renders_with_a_qr_that_decodes_to_its_link() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::new(Config::new(dir.path())).unwrap();
    let (_server, mut dispenser) = tcp_dispenser(&emulator).await;
    let issued = dispenser.issue(&ticket("A042")).await.unwrap();
    assert!(issued.bytes <= 1024, "a ticket is {} bytes", issued.bytes);
    assert_eq!(issued.taken, Taken::NoSensor);
    let tickets = emulator.wait_for_tickets(1, Duration::from_secs(10));
    assert_eq!(
        decode_qr(&tickets[0]),
        "https://zwfw.example.gov.cn/q/3201/A042"
    );
}

#[tokio::test]
async fn a_ticket_issued_over_a_pty_serial_port_renders_with_a_readable_qr() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::new(Config::new(dir.path().join("out"))).unwrap();
    let (_server, mut dispenser) = pty_dispenser(&emulator, dir.path()).await;
    dispenser.issue(&ticket("B007")).await.unwrap();
    let tickets = emulator.wait_for_tickets(1, Duration::from_secs(10));
    assert_eq!(
        decode_qr(&tickets[0]),
        "https://zwfw.example.gov.cn/q/3201/B007"
    );
}

#[tokio::test]
async fn issuing_a_ticket_with_paper_out_voids_the_number_and_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path());
    config.paper = Paper::Out;
    let emulator = Emulator::new(config).unwrap();
    let (_server, mut dispenser) = tcp_dispenser(&emulator).await;
    let err = dispenser.issue(&ticket("A043")).await.unwrap_err();
    assert!(
        matches!(
            err,
            IssueError::NotReady {
                stage: Stage::Before,
                problem: Problem::PaperOut,
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.maybe_printed());
    assert!(err.citizen_message().contains("缺纸"));
    assert!(emulator.tickets().is_empty());
    assert_eq!(emulator.spoiled(), 0, "nothing was even sent");
}

#[tokio::test]
async fn taking_the_paper_out_between_two_tickets_over_a_pty_voids_the_second() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::new(Config::new(dir.path().join("out"))).unwrap();
    let (_server, mut dispenser) = pty_dispenser(&emulator, dir.path()).await;
    dispenser.issue(&ticket("A044")).await.unwrap();
    emulator.set_paper(Paper::Out);
    let err = dispenser.issue(&ticket("A045")).await.unwrap_err();
    assert!(
        matches!(
            err,
            IssueError::NotReady {
                problem: Problem::PaperOut,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(emulator.tickets().len(), 1);
    emulator.set_paper(Paper::NearEnd);
    let issued = dispenser.issue(&ticket("A046")).await.unwrap();
    assert_eq!(
        issued.status.paper,
        kiosk_escpos::PaperLevel::NearEnd,
        "near end still issues"
    );
    assert_eq!(
        emulator.wait_for_tickets(2, Duration::from_secs(10)).len(),
        2
    );
}

#[tokio::test]
async fn an_open_cover_over_tcp_voids_the_number() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::new(Config::new(dir.path())).unwrap();
    let (_server, mut dispenser) = tcp_dispenser(&emulator).await;
    emulator.set_cover(Cover::Open);
    let err = dispenser.issue(&ticket("C001")).await.unwrap_err();
    assert!(
        matches!(
            err,
            IssueError::NotReady {
                problem: Problem::CoverOpen,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("close the paper cover"), "{err}");
    assert!(emulator.tickets().is_empty());
}

#[tokio::test]
async fn a_printer_that_never_answers_voids_the_number_after_the_status_timeout() {
    // A TCP peer that accepts and then says nothing, like a printer hung at paper end.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    let printer = Printer::open(&Endpoint::Tcp(addr.to_string()), TIMEOUT)
        .await
        .unwrap();
    let mut dispenser = Dispenser::new(printer).with_sensor(false);
    let started = std::time::Instant::now();
    let err = dispenser.issue(&ticket("A050")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    match err {
        IssueError::Printer {
            stage: Stage::Before,
            source: PrinterError::NoAnswer { query, .. },
            ..
        } => {
            assert_eq!(query, StatusQuery::Printer);
        }
        other => panic!("expected no answer to DLE EOT 1, got {other}"),
    }
    drop(hold);
}

#[tokio::test]
async fn the_ticket_taken_sensor_reports_when_the_citizen_takes_the_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path());
    config.presenter = true;
    let emulator = Emulator::new(config).unwrap();
    let server = emulator.serve_tcp("127.0.0.1:0").unwrap();
    let endpoint = Endpoint::Tcp(server.tcp_addr().unwrap().to_string());
    let printer = Printer::open(&endpoint, TIMEOUT).await.unwrap();
    let mut dispenser = Dispenser::new(printer).with_take_timeout(Duration::from_secs(5));
    let citizen = emulator.clone();
    let taker = std::thread::spawn(move || {
        citizen.wait_for_tickets(1, Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(300));
        citizen.take_ticket();
    });
    let issued = dispenser.issue(&ticket("A051")).await.unwrap();
    assert_eq!(issued.taken, Taken::Taken);
    taker.join().unwrap();

    // Nobody takes the next one: still issued, reported as not taken.
    let mut dispenser = dispenser.with_take_timeout(Duration::from_millis(400));
    let issued = dispenser.issue(&ticket("A052")).await.unwrap();
    assert_eq!(issued.taken, Taken::NotYet);
}

#[tokio::test]
async fn a_printer_file_such_as_dev_usb_lp_reads_status_without_termios() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::new(Config::new(dir.path().join("out"))).unwrap();
    let link = dir.path().join("lp0");
    let _server = emulator.serve_pty(&link).unwrap();
    let mut printer = Printer::open(&Endpoint::Device(link), TIMEOUT)
        .await
        .unwrap();
    emulator.set_paper(Paper::NearEnd);
    let status = printer.status().await.unwrap();
    assert_eq!(status.paper, kiosk_escpos::PaperLevel::NearEnd);
    assert!(status.can_print());
}

#[tokio::test]
async fn a_network_printer_that_restarted_is_reconnected_before_the_next_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::new(Config::new(dir.path())).unwrap();
    let server = emulator.serve_tcp("127.0.0.1:0").unwrap();
    let addr = server.tcp_addr().unwrap().to_string();
    let printer = Printer::open(&Endpoint::Tcp(addr.clone()), TIMEOUT)
        .await
        .unwrap();
    let mut dispenser = Dispenser::new(printer).with_sensor(false);
    dispenser.issue(&ticket("A060")).await.unwrap();

    // The printer restarts: its connection closes, it listens again on the same address.
    drop(server);
    let _server = emulator.serve_tcp(&addr).unwrap();
    dispenser.issue(&ticket("A061")).await.unwrap();
    assert_eq!(
        emulator.wait_for_tickets(2, Duration::from_secs(10)).len(),
        2
    );
}
