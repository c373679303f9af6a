#![allow(clippy::unwrap_used)]
//! The ESC/POS emulator against real byte streams, over a real TCP socket and a real PTY,
//! with the rendered tickets read back by an independent QR decoder (zbarimg).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kiosk_escpos::{Align, Job, QrLevel, QrStyle};
use kiosk_sim::printer::{Config, Cover, Emulator, Paper};
use proptest::prelude::*;

const LINK: &str = "https://queue.example.gov.cn/q/A042?hall=3201";

fn sample_job(link: &str) -> Vec<u8> {
    let mut job = Job::new().unwrap();
    job.align(Align::Center).unwrap();
    job.line("南京市政务服务中心").unwrap();
    job.size(4, 4)
        .unwrap()
        .bold(true)
        .unwrap()
        .line("A042")
        .unwrap();
    job.size(1, 1)
        .unwrap()
        .bold(false)
        .unwrap()
        .line("前面还有 3 人")
        .unwrap();
    job.qr(
        link,
        QrStyle {
            module: 6,
            level: QrLevel::M,
        },
    )
    .unwrap();
    job.align(Align::Left)
        .unwrap()
        .line("请对本次服务作出评价")
        .unwrap();
    job.cut().unwrap();
    job.finish().unwrap()
}

fn decode_qr(png: &Path) -> String {
    let out = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(png)
        .output()
        .expect("zbarimg (Debian zbar-tools) must be installed");
    assert!(
        out.status.success(),
        "zbarimg found no code in {}",
        png.display()
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn ask(stream: &mut TcpStream, request: &[u8]) -> u8 {
    stream.write_all(request).unwrap();
    let mut byte = [0u8; 1];
    stream.read_exact(&mut byte).unwrap();
    byte[0]
}

#[test]
fn a_ticket_sent_over_tcp_renders_to_a_png_whose_qr_decodes_to_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::new(Config::new(dir.path())).unwrap();
    let server = emulator.serve_tcp("127.0.0.1:0").unwrap();
    let mut stream = TcpStream::connect(server.tcp_addr().unwrap()).unwrap();
    stream.write_all(&sample_job(LINK)).unwrap();
    let tickets = emulator.wait_for_tickets(1, Duration::from_secs(10));
    assert_eq!(tickets.len(), 1);
    assert!(tickets[0].ends_with("ticket-0001.png"));
    let image = image::open(&tickets[0]).unwrap();
    assert_eq!(
        image.width(),
        640,
        "80 mm paper is 640 dots wide at 203 dpi"
    );
    assert_eq!(decode_qr(&tickets[0]), LINK);
}

#[test]
fn the_status_answers_follow_the_mechanism_and_paper_out_spoils_the_next_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::new(Config::new(dir.path())).unwrap();
    let server = emulator.serve_tcp("127.0.0.1:0").unwrap();
    let mut stream = TcpStream::connect(server.tcp_addr().unwrap()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();

    // DLE EOT 4 with paper loaded: 0x12, nothing set
    assert_eq!(ask(&mut stream, &[0x10, 0x04, 0x04]), 0x12);
    stream.write_all(&sample_job(LINK)).unwrap();
    assert_eq!(
        emulator.wait_for_tickets(1, Duration::from_secs(10)).len(),
        1
    );

    emulator.set_paper(Paper::Out);
    assert_eq!(ask(&mut stream, &[0x10, 0x04, 0x01]), 0x1A); // offline
    assert_eq!(ask(&mut stream, &[0x10, 0x04, 0x02]), 0x32); // stopped by paper end
    assert_eq!(ask(&mut stream, &[0x10, 0x04, 0x04]), 0x7E); // near end + end sensors
    stream.write_all(&sample_job(LINK)).unwrap();
    // Ask once more so we know the job was processed before counting.
    assert_eq!(ask(&mut stream, &[0x10, 0x04, 0x04]), 0x7E);
    assert_eq!(emulator.tickets().len(), 1, "nothing prints without paper");
    assert_eq!(emulator.spoiled(), 1);

    emulator.set_paper(Paper::NearEnd);
    emulator.set_cover(Cover::Open);
    assert_eq!(ask(&mut stream, &[0x10, 0x04, 0x02]), 0x16); // cover open
    assert_eq!(ask(&mut stream, &[0x10, 0x04, 0x04]), 0x1E); // near end only
}

#[test]
fn a_ticket_written_to_the_pty_renders_and_status_is_answered_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("printer");
    let emulator = Emulator::new(Config::new(dir.path().join("out"))).unwrap();
    let _server = emulator.serve_pty(&link).unwrap();
    let mut port = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&link)
        .unwrap();
    port.write_all(&[0x10, 0x04, 0x01]).unwrap(); // DLE EOT 1
    let mut byte = [0u8; 1];
    port.read_exact(&mut byte).unwrap();
    assert_eq!(byte[0], 0x12);
    port.write_all(&sample_job(LINK)).unwrap();
    let tickets = emulator.wait_for_tickets(1, Duration::from_secs(10));
    assert_eq!(decode_qr(&tickets[0]), LINK);
}

#[test]
fn a_58mm_roll_renders_384_printable_dots_and_keeps_the_qr_readable() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path());
    config.paper_width = kiosk_sim::printer::PaperWidth::Mm58;
    let emulator = Emulator::new(config).unwrap();
    let mut engine = emulator.engine();
    emulator.handle(&mut engine, &sample_job(LINK));
    let tickets = emulator.tickets();
    assert_eq!(image::open(&tickets[0]).unwrap().width(), 464);
    assert_eq!(decode_qr(&tickets[0]), LINK);
}

#[test]
fn the_render_command_turns_a_captured_stream_into_a_png() {
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("ticket.bin");
    std::fs::write(&stream, sample_job(LINK)).unwrap();
    let png = dir.path().join("ticket.png");
    let status = Command::new(env!("CARGO_BIN_EXE_kiosk-sim"))
        .arg("render")
        .arg(&stream)
        .arg("--out")
        .arg(&png)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(decode_qr(&png), LINK);
}

#[test]
fn a_missing_font_is_named_with_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path());
    config.font = dir.path().join("no-such-font.ttc");
    let err = Emulator::new(config).err().unwrap().to_string();
    assert!(
        err.contains("no-such-font.ttc") && err.contains("fonts-noto-cjk"),
        "{err}"
    );
}

/// One emulator for all junk cases: loading the CJK font per case would dominate the run.
fn junk_emulator() -> &'static Emulator {
    static EMULATOR: std::sync::OnceLock<Emulator> = std::sync::OnceLock::new();
    EMULATOR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("printer-junk");
        Emulator::new(Config::new(dir)).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn junk_bytes_never_crash_the_emulator(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..8)) {
        let emulator = junk_emulator();
        let mut engine = emulator.engine();
        for chunk in &chunks {
            emulator.handle(&mut engine, chunk);
        }
        let _ = engine.finish();
    }
}

#[test]
fn the_printer_command_serves_tcp_and_takes_paper_out_from_its_control_input() {
    use std::io::BufRead;
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiosk-sim"))
        .args([
            "printer",
            "--tcp",
            "127.0.0.1:0",
            "--paper",
            "near-end",
            "--out",
        ])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // "printer emulator listening on tcp 127.0.0.1:PORT, tickets in DIR"
    let addr = first
        .split_whitespace()
        .nth(5)
        .unwrap()
        .trim_end_matches(',')
        .to_owned();
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(ask(&mut stream, &[0x10, 0x04, 0x04]), 0x1E); // near end from the flag
    stream.write_all(&sample_job(LINK)).unwrap();
    assert_eq!(ask(&mut stream, &[0x1D, 0x72, 0x01]), 0x03); // GS r 1 after the job: near end
    assert_eq!(decode_qr(&dir.path().join("ticket-0001.png")), LINK);

    let mut control = child.stdin.take().unwrap();
    writeln!(control, "paper out").unwrap();
    control.flush().unwrap();
    let mut answer = 0;
    for _ in 0..50 {
        answer = ask(&mut stream, &[0x10, 0x04, 0x04]);
        if answer == 0x7E {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(answer, 0x7E, "paper out after the control line");
    child.kill().unwrap();
    child.wait().unwrap();
}

fn read_block(stream: &mut TcpStream) -> [u8; 4] {
    let mut block = [0u8; 4];
    stream.read_exact(&mut block).unwrap();
    block
}

#[test]
fn the_emulator_sends_automatic_status_as_a_tm_t88_does() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::new(Config::new(dir.path())).unwrap();
    let server = emulator.serve_tcp("127.0.0.1:0").unwrap();
    let mut stream = TcpStream::connect(server.tcp_addr().unwrap()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();

    // GS a 0x0F: drawer, online, error and paper sensor reporting. The status comes at once:
    // byte 1 0001 0000 (fixed bit 4, online, cover closed), nothing else set.
    stream.write_all(&[0x1D, 0x61, 0x0F]).unwrap();
    assert_eq!(read_block(&mut stream), [0x10, 0x00, 0x00, 0x00]);

    // Paper runs out: unasked, byte 1 0001 1000 (offline), byte 3 0000 1111 (near-end and
    // end sensors).
    emulator.set_paper(Paper::Out);
    assert_eq!(read_block(&mut stream), [0x18, 0x00, 0x0F, 0x00]);
    // The cover is opened too: byte 1 bit 5.
    emulator.set_cover(Cover::Open);
    assert_eq!(read_block(&mut stream), [0x38, 0x00, 0x0F, 0x00]);

    // GS a 0: no more blocks; a change is then only learnt by asking.
    stream.write_all(&[0x1D, 0x61, 0x00]).unwrap();
    emulator.set_cover(Cover::Closed);
    emulator.set_paper(Paper::Ok);
    assert_eq!(ask(&mut stream, &[0x10, 0x04, 0x01]), 0x12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_learns_of_paper_out_without_asking_when_the_printer_reports_by_itself() {
    use kiosk_escpos::{Endpoint, PaperLevel, Printer, Problem};

    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::new(Config::new(dir.path())).unwrap();
    let server = emulator.serve_tcp("127.0.0.1:0").unwrap();
    let endpoint = Endpoint::Tcp(server.tcp_addr().unwrap().to_string());
    let mut printer = Printer::open(&endpoint, Duration::from_millis(800))
        .await
        .unwrap();
    let first = printer.enable_automatic_status().await.unwrap();
    assert_eq!(first.map(|s| s.can_print()), Some(true));
    assert!(printer.reports_automatically());

    emulator.set_paper(Paper::Out);
    let mut seen = None;
    for _ in 0..50 {
        seen = printer.automatic_status().await.unwrap();
        if seen.is_some_and(|s| s.paper == PaperLevel::Out) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen.and_then(|s| s.problem()), Some(Problem::PaperOut));

    // The real-time questions still get their answers with blocks in the same stream.
    emulator.set_paper(Paper::Ok);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let asked = printer.status().await.unwrap();
    assert!(asked.can_print());
    assert_eq!(
        printer.automatic_status().await.unwrap().map(|s| s.paper),
        Some(PaperLevel::Ok),
        "the block sent on reloading was read while asking"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printer_without_automatic_status_is_asked_instead() {
    use kiosk_escpos::{Endpoint, Printer};

    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path());
    config.automatic_status = false;
    let emulator = Emulator::new(config).unwrap();
    let server = emulator.serve_tcp("127.0.0.1:0").unwrap();
    let endpoint = Endpoint::Tcp(server.tcp_addr().unwrap().to_string());
    let mut printer = Printer::open(&endpoint, Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(printer.enable_automatic_status().await.unwrap(), None);
    assert!(!printer.reports_automatically());
    assert_eq!(printer.automatic_status().await.unwrap(), None);
    emulator.set_paper(Paper::Out);
    assert!(!printer.status().await.unwrap().can_print());
}
