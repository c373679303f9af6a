#![allow(clippy::unwrap_used)]
//! Host time from the "take a number" touch (the command that prints: `Skip` on the card
//! page) to the last ticket byte handed to the printer transport, through the whole engine
//! (journey, number taken in a durable SQLite commit, queue figures, ticket layout, status
//! check, send). The printer is kiosk-sim's ESC/POS emulator behind a loopback TCP socket;
//! the arrival of the cut command (`GS V`) at the emulator marks the last byte.
//!
//! Baseline in the same run: the same ticket sent by the dispenser driver alone
//! (`Dispenser::issue`, same status check, same socket): what the engine adds is the ratio.
//!
//! `cargo bench -p kiosk-journeys --bench take_number` (prints a table).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use kiosk_core::config::{Config, PrinterDevice};
use kiosk_journeys::{Command, Engine, EngineOptions, JourneyKind, Page};
use kiosk_sim::printer::{Config as EmuConfig, Emulator};

/// A printer on loopback TCP that reports when each job's cut arrives.
fn printer(out: &std::path::Path) -> (String, tokio::sync::mpsc::UnboundedReceiver<Instant>) {
    let emulator = Emulator::new(EmuConfig::new(out)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (cuts, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_nodelay(true);
            let mut engine = emulator.engine();
            let mut buf = [0u8; 8192];
            let mut last = 0u8;
            loop {
                let n = match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let at = Instant::now();
                // GS V: the cut ends every job; it may straddle two reads.
                let cut = buf[..n].windows(2).any(|w| w == [0x1d, 0x56])
                    || (last == 0x1d && buf[0] == 0x56);
                last = buf[n - 1];
                if cut {
                    let _ = cuts.send(at);
                }
                let answers = emulator.handle(&mut engine, &buf[..n]);
                if !answers.is_empty() && stream.write_all(&answers).is_err() {
                    break;
                }
            }
        }
    });
    (addr, rx)
}

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| ms(v[((v.len() - 1) as f64 * q).round() as usize]);
    (p(0.5), p(0.95), ms(*v.last().unwrap()))
}

fn main() {
    let runs: usize = std::env::var("TAKE_NUMBER_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (addr, mut cuts) = printer(&dir.path().join("printed"));

    // Baseline: the driver alone.
    let baseline: Vec<Duration> = runtime.block_on(async {
        let link = kiosk_escpos::Printer::open(
            &kiosk_escpos::Endpoint::Tcp(addr.clone()),
            kiosk_escpos::DEFAULT_STATUS_TIMEOUT,
        )
        .await
        .unwrap();
        let mut dispenser = kiosk_dispenser::Dispenser::new(link).with_sensor(false);
        let mut times = Vec::new();
        for i in 0..runs {
            let ticket = kiosk_dispenser::Ticket {
                hall: "东城区政务服务中心".into(),
                category: "综合受理".into(),
                number: format!("A{:03}", i % 1000),
                ahead: 3,
                estimated_wait: Duration::from_secs(24 * 60),
                issued_at: chrono::Utc::now().naive_utc(),
                link: format!("https://zwfw.example.gov.cn/q/2026-11-26/A{:03}", i % 1000),
                holder_name: None,
                priority: false,
            };
            let t0 = Instant::now();
            dispenser.issue(&ticket).await.unwrap();
            let cut = tokio::time::timeout(Duration::from_secs(10), cuts.recv())
                .await
                .unwrap()
                .unwrap();
            times.push(cut - t0);
        }
        times
    });

    // The engine.
    let mut config = Config::simulate().unwrap();
    config.kiosk.data_dir = dir.path().join("kiosk");
    config.devices.dispenser = Some(PrinterDevice {
        port: None,
        baud: None,
        device: None,
        usb: None,
        usb_serial: None,
        tcp: Some(addr.clone()),
        paper_mm: 80,
        automatic_status: true,
    });
    let engine_times: Vec<Duration> = runtime.block_on(async {
        let engine = Engine::start(
            config,
            EngineOptions {
                voice: false,
                ticket_take_timeout: Some(Duration::ZERO),
                ..EngineOptions::default()
            },
        )
        .await
        .unwrap();
        let mut screen = engine.screen();
        let mut times = Vec::new();
        for _ in 0..runs {
            let r = screen.borrow().revision;
            engine.send(Command::Start {
                journey: JourneyKind::TakeNumber,
            });
            engine.send(Command::Choose { id: "A".into() });
            screen
                .wait_for(|s| s.revision > r && matches!(s.page, Page::TapCard { .. }))
                .await
                .unwrap();
            let r = screen.borrow().revision;
            let t0 = Instant::now();
            engine.send(Command::Skip);
            let cut = tokio::time::timeout(Duration::from_secs(10), cuts.recv())
                .await
                .unwrap()
                .unwrap();
            times.push(cut - t0);
            screen
                .wait_for(|s| s.revision > r && matches!(s.page, Page::Ticket { .. }))
                .await
                .unwrap();
        }
        engine.shutdown().await;
        times
    });

    let (b50, b95, bmax) = stats(baseline);
    let (e50, e95, emax) = stats(engine_times);
    println!(
        "take a number: touch -> last ticket byte at the printer transport ({runs} tickets each)"
    );
    println!("| path | p50 ms | p95 ms | max ms | p50 vs baseline |");
    println!("|---|---:|---:|---:|---:|");
    println!("| dispenser driver alone (baseline) | {b50:.2} | {b95:.2} | {bmax:.2} | 1.00x |");
    println!(
        "| engine: journey + durable number + layout + driver | {e50:.2} | {e95:.2} | {emax:.2} | {:.2}x |",
        e50 / b50
    );
    println!("goal: <= 50 ms host time (loopback TCP to the emulator included in both rows)");
}
