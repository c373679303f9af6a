//! A full card read (SAM status, find, select, read base info) over a PTY at 115200 baud,
//! against the simulator pacing its answers at wire speed, compared with the wire time:
//! the lower bound, bytes × 10 / baud. Prints a table; asserts nothing.
//!
//! `cargo bench -p kiosk-idcard --bench full_read`
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use kiosk_idcard::frame::{self, Command};
use kiosk_idcard::{ReadOptions, Reader, SerialTransport, Transport};
use kiosk_sim::idcard::{SimConfig, SimulatedReader, load_card, wire_time};

const BAUD: u32 = 115_200;
const ROUNDS: usize = 30;
const FLOW: [Command; 4] = [
    Command::SamStatus,
    Command::FindCard,
    Command::SelectCard,
    Command::ReadBaseInfo,
];

fn stats(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort_unstable();
    let median = samples[samples.len() / 2];
    let p95 = samples[samples.len() * 95 / 100];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    (median, mean, p95)
}

fn measure(pace: bool, raw: bool) -> (Vec<Duration>, usize) {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("idcard");
    let card = load_card(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../sim/cards/resident.json"))
        .unwrap();
    let _sim = SimulatedReader::start(
        &link,
        SimConfig {
            card: Some(card),
            baud: BAUD,
            pace,
            ..SimConfig::default()
        },
    )
    .unwrap();
    let path = link.to_str().unwrap();
    let mut samples = Vec::with_capacity(ROUNDS);
    let mut bytes = 0;
    if raw {
        // Baseline: the same four exchanges with bare frame I/O, no decoding.
        let mut port = SerialTransport::open(path, BAUD).unwrap();
        for _ in 0..ROUNDS {
            let started = Instant::now();
            bytes = 0;
            for command in FLOW {
                let request = frame::encode(command);
                port.send(&request).unwrap();
                let reply = port.receive(Duration::from_secs(3)).unwrap();
                bytes += request.len() + reply.len();
            }
            samples.push(started.elapsed());
        }
    } else {
        let mut reader = Reader::open_serial(path, BAUD).unwrap();
        for _ in 0..ROUNDS {
            let started = Instant::now();
            let card = reader.read_card(ReadOptions::default()).unwrap();
            samples.push(started.elapsed());
            assert!(card.is_some());
        }
        bytes = FLOW.len() * 10 + 11 + 15 + 19 + 1295;
    }
    (samples, bytes)
}

fn main() {
    let (driver, bytes) = measure(true, false);
    let (raw, raw_bytes) = measure(true, true);
    let (host, _) = measure(false, false);
    assert_eq!(bytes, raw_bytes, "both paths move the same bytes");
    let wire = wire_time(bytes, BAUD);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "full card read over a PTY at {BAUD} baud, {bytes} bytes on the wire, {ROUNDS} rounds"
    );
    println!(
        "{:<44} {:>10} {:>10} {:>10} {:>12}",
        "", "median ms", "mean ms", "p95 ms", "median/wire"
    );
    println!(
        "{:<44} {:>10.2} {:>10} {:>10} {:>12.3}",
        "wire time (bytes x 10 / baud, lower bound)",
        ms(wire),
        "",
        "",
        1.0
    );
    for (label, samples) in [
        ("raw frames, paced simulator (baseline)", raw),
        ("driver read_card, paced simulator", driver),
        ("driver read_card, unpaced (host cost only)", host),
    ] {
        let (median, mean, p95) = stats(samples);
        println!(
            "{:<44} {:>10.2} {:>10.2} {:>10.2} {:>12.3}",
            label,
            ms(median),
            ms(mean),
            ms(p95),
            median.as_secs_f64() / wire.as_secs_f64()
        );
    }
}
