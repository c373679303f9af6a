#![allow(clippy::unwrap_used)]
//! Sync benchmark (issue 6, Performance). Prints a table:
//!
//! - durable enqueue latency, p50/p99: a citizen record (`synchronous=FULL`) and telemetry;
//! - drain throughput of a 100,000-event backlog against a local `central serve` on SQLite,
//!   batched uplink vs a naive sender (the same uplink, one event per request), same run;
//! - peak RSS of the kiosk side during the drain (the drain runs in a child process, which
//!   reports its own VmHWM, so the fill and the central process do not count).
//!
//! `cargo bench -p kiosk-core --bench sync` (release). Needs the `central` binary, which it
//! builds through cargo (see `kiosk_system_tests::binaries` for why cargo is asked).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kiosk_core::store::{NewEvent, NewRecord, Store, StoreKey, StoreOptions, Stream};
use kiosk_core::sync::{Backoff, CentralClient, Timeouts, Uplink};
use serde_json::json;

const BACKLOG: u64 = 100_000;
const NAIVE_BACKLOG: u64 = 5_000;
const ENQUEUE_SAMPLES: usize = 2_000;
const CHILD_ENV: &str = "KIOSK_BENCH_DRAIN";

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        drain_child(&spec);
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let load_before = load_average();
    let fsync_lat = fsync_floor(work.path());
    let (record_lat, telemetry_lat) = enqueue_latency(&work.path().join("latency"));

    let central_exe = cargo_bin("central", "central");
    let db = work.path().join("central.db");
    let mut central = start_central(&central_exe, &db);
    let ops = Command::new(&central_exe)
        .args(["keys", "generate", "--out"])
        .arg(work.path().join("ops.pem"))
        .args(["--db", &db.to_string_lossy()])
        .output()
        .unwrap();
    assert!(ops.status.success(), "central keys generate failed");
    let url = format!("http://{}", central.1);

    let batched = drain(
        &central_exe,
        &db,
        &url,
        &work.path().join("batched"),
        BACKLOG,
        500,
    );
    let naive = drain(
        &central_exe,
        &db,
        &url,
        &work.path().join("naive"),
        NAIVE_BACKLOG,
        1,
    );
    let _ = central.0.kill();
    let _ = central.0.wait();

    println!();
    println!(
        "load average (1 min) before / after: {load_before} / {}",
        load_average()
    );
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| baseline: 4 KiB append + fdatasync, same directory: p50 / p99 | {:.3} ms / {:.3} ms |",
        fsync_lat.0, fsync_lat.1
    );
    println!(
        "| durable enqueue, citizen record (FULL): p50 / p99 | {:.3} ms / {:.3} ms |",
        record_lat.0, record_lat.1
    );
    println!(
        "| durable enqueue p99 / fdatasync p99 | {:.2}x |",
        record_lat.1 / fsync_lat.1
    );
    println!(
        "| durable enqueue, telemetry (NORMAL): p50 / p99 | {:.3} ms / {:.3} ms |",
        telemetry_lat.0, telemetry_lat.1
    );
    println!(
        "| drain {BACKLOG} events, batches of 500 | {:.1} s, {:.0} events/s |",
        batched.secs,
        batched.rate()
    );
    println!(
        "| drain {NAIVE_BACKLOG} events, naive one request per event | {:.1} s, {:.0} events/s |",
        naive.secs,
        naive.rate()
    );
    println!(
        "| batched / naive throughput | {:.1}x |",
        batched.rate() / naive.rate()
    );
    println!(
        "| peak RSS of the kiosk side during the batched drain | {:.1} MB |",
        batched.peak_kb as f64 / 1024.0
    );
    println!(
        "| peak RSS of the kiosk side during the naive drain | {:.1} MB |",
        naive.peak_kb as f64 / 1024.0
    );
}

/// The disk's own floor for a durable commit: one small append made durable, as often as the
/// enqueue samples. A `synchronous=FULL` commit cannot be faster than this.
fn fsync_floor(dir: &Path) -> (f64, f64) {
    use std::io::Write as _;
    let mut file = std::fs::File::create(dir.join("fsync-floor")).unwrap();
    let block = [0x5au8; 4096];
    let samples = (0..ENQUEUE_SAMPLES)
        .map(|_| {
            let start = Instant::now();
            file.write_all(&block).unwrap();
            file.sync_data().unwrap();
            start.elapsed()
        })
        .collect();
    percentiles(samples)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e3;
    (at(0.50), at(0.99))
}

fn open(dir: &Path) -> Store {
    std::fs::create_dir_all(dir).unwrap();
    let key = StoreKey::load_or_create(&dir.join("store.key")).unwrap();
    Store::open(dir, key, StoreOptions::default()).unwrap()
}

fn enqueue_latency(dir: &Path) -> ((f64, f64), (f64, f64)) {
    let store = open(dir);
    let mut records = Vec::with_capacity(ENQUEUE_SAMPLES);
    let mut telemetry = Vec::with_capacity(ENQUEUE_SAMPLES);
    for n in 0..ENQUEUE_SAMPLES {
        let start = Instant::now();
        store
            .commit_record(NewRecord {
                stream: Stream::Records,
                kind: "application.submitted".into(),
                summary: json!({ "matter": "11000000000000001", "n": n }),
                personal: Some(json!({ "name": "张三", "id_number": "11010519491231002X",
                                       "form": { "address": "北京市东城区某街道1号" } })),
                attachments: vec![],
            })
            .unwrap();
        records.push(start.elapsed());
        let start = Instant::now();
        store.enqueue(event(n as u64)).unwrap();
        telemetry.push(start.elapsed());
    }
    (percentiles(records), percentiles(telemetry))
}

fn event(n: u64) -> NewEvent {
    NewEvent {
        stream: Stream::Telemetry,
        kind: "screen.view".into(),
        payload: json!({ "n": n, "screen": "take_number", "lang": "zh-CN", "ms": 1234,
                         "device": { "printer": "ok", "reader": "ok" } }),
        personal: false,
        attachments: vec![],
    }
}

struct Drain {
    events: u64,
    secs: f64,
    peak_kb: u64,
}

impl Drain {
    fn rate(&self) -> f64 {
        self.events as f64 / self.secs
    }
}

/// Enrols a fresh kiosk, fills its store, then drains it in a child process.
fn drain(central: &Path, db: &Path, url: &str, dir: &Path, events: u64, batch: usize) -> Drain {
    let token = token(central, db);
    let key = kiosk_api::keys::generate();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let enrolment = runtime
        .block_on(kiosk_core::sync::enrol(
            url,
            &kiosk_api::EnrolRequest {
                token,
                public_key: kiosk_api::keys::public_key_to_base64(&key.verifying_key()),
                hostname: "bench".into(),
                version: "bench".into(),
            },
        ))
        .unwrap();
    let store = open(dir);
    for n in 0..events {
        store.enqueue(event(n)).unwrap();
    }
    drop(store);
    let key_file = dir.join("kiosk.pem");
    std::fs::write(&key_file, kiosk_api::keys::private_key_to_pem(&key)).unwrap();
    let spec = format!(
        "{}|{url}|{}|{}|{batch}",
        dir.display(),
        enrolment.kiosk_id,
        key_file.display()
    );
    let out = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, spec)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout
        .lines()
        .find(|l| l.starts_with("drained "))
        .unwrap_or_else(|| {
            panic!(
                "drain child failed: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let parts: Vec<&str> = line.split_whitespace().collect();
    Drain {
        events: parts[1].parse().unwrap(),
        secs: parts[2].parse().unwrap(),
        peak_kb: parts[3].parse().unwrap(),
    }
}

fn drain_child(spec: &str) {
    let parts: Vec<&str> = spec.split('|').collect();
    let dir = PathBuf::from(parts[0]);
    let pem = std::fs::read_to_string(parts[3]).unwrap();
    let key = kiosk_api::keys::private_key_from_pem(&pem).unwrap();
    let batch: usize = parts[4].parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = open(&dir);
        let events = store.backlog().unwrap();
        let client = CentralClient::new(
            parts[1],
            parts[2].parse().unwrap(),
            key,
            Timeouts::default(),
        )
        .unwrap();
        let start = Instant::now();
        let uplink = Uplink::builder(store.clone(), client)
            .max_batch_events(batch)
            .backoff(Backoff {
                base: Duration::from_millis(10),
                cap: Duration::from_millis(200),
            })
            .spawn();
        let mut status = uplink.status();
        loop {
            if store.backlog().unwrap() == 0 {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), status.changed()).await;
        }
        let secs = start.elapsed().as_secs_f64();
        uplink.stop().await;
        println!("drained {events} {secs:.3} {}", peak_rss_kb());
    });
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn start_central(exe: &Path, db: &Path) -> (Child, String) {
    let mut child = Command::new(exe)
        .args([
            "serve",
            "--db",
            &db.to_string_lossy(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("central listening on ")
        .unwrap_or_else(|| panic!("central did not start: {line:?}"))
        .to_owned();
    (child, addr)
}

fn token(exe: &Path, db: &Path) -> String {
    let out = Command::new(exe)
        .args([
            "token",
            "create",
            "--hall",
            "bench-hall",
            "--hall-name",
            "基准大厅",
            "--json",
        ])
        .args(["--db", &db.to_string_lossy()])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["token"].as_str().unwrap().to_owned()
}

/// Builds (if stale) and locates a workspace binary through cargo, in this bench's profile.
fn cargo_bin(package: &str, bin: &str) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args([
        "build",
        "--quiet",
        "-p",
        package,
        "--bin",
        bin,
        "--message-format=json",
    ]);
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let out = command.stderr(Stdio::inherit()).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        // The package's library artifact has the same name and no executable.
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo built no {bin} binary"))
}
