//! Cold start to first frame and idle memory of the kiosk app, printed as a table.
//!
//! Each run is a fresh process: `kiosk-app --simulate --probe-startup` builds the UI, draws the
//! first 1920×1080 frame with the software renderer (CJK font loaded), reports the time since
//! its `main` started and, after two idle seconds on the home screen, its resident memory.
//! The baseline is the same binary printing `--version`: process creation, dynamic linking
//! and argument parsing, without the UI.
//!
//! Run: `cargo bench -p kiosk-app --bench startup`

#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::Instant;

const RUNS: usize = 7;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn field(json: &str, key: &str) -> f64 {
    let at = json.find(&format!("\"{key}\":")).unwrap() + key.len() + 3;
    json[at..]
        .split([',', '}'])
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn main() {
    let exe = env!("CARGO_BIN_EXE_kiosk-app");
    let dir = tempfile::tempdir().unwrap();

    let mut baseline = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let out = Command::new(exe).arg("--version").output().unwrap();
        assert!(out.status.success());
        baseline.push(t.elapsed().as_secs_f64() * 1000.0);
    }

    let (mut in_process, mut rss) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let out = Command::new(exe)
            .args(["--simulate", "--probe-startup"])
            .current_dir(dir.path())
            .env_remove("DISPLAY")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json = String::from_utf8_lossy(&out.stdout).into_owned();
        in_process.push(field(&json, "first_frame_ms"));
        rss.push(field(&json, "idle_rss_kib") / 1024.0);
    }

    let base = median(baseline);
    let frame = median(in_process);
    println!("kiosk-app startup, median of {RUNS} fresh processes, 1920x1080 software renderer");
    println!("{:<44} {:>10} {:>12}", "measure", "value", "vs baseline");
    println!(
        "{:<44} {:>8.1}ms {:>12}",
        "baseline: process start (--version)", base, "1.00x"
    );
    println!(
        "{:<44} {:>8.1}ms {:>11.1}x",
        "main() to first frame (in process)",
        frame,
        frame / base
    );
    println!(
        "{:<44} {:>8.1}ms {:>11.1}x",
        "process start to first frame",
        frame + base,
        (frame + base) / base
    );
    println!(
        "{:<44} {:>8.1}MB {:>12}",
        "idle RSS on home screen (CJK font loaded)",
        median(rss),
        "-"
    );
}
