#![allow(clippy::unwrap_used)]
//! docs/technician.md, followed in simulate mode by a script made of the page's own commands:
//! every ```` ```sh simulate ```` block, and every line of a mixed block marked
//! `# simulate mode`. Only four things differ from what a technician types, each for a reason:
//! - `cargo build` is left out (cargo already built the binaries for this test; the PATH the
//!   page sets is put in front of them);
//! - lines running `kiosk-app` are left out (the Slint app is not built for kioskctl's tests;
//!   its `--check-config` is the app's own test);
//! - the scratch folder is a fresh temporary one instead of /tmp/kiosk-sim;
//! - where the page says "TOKEN", the token `central token create` printed is used, and before
//!   provisioning the script waits until central and the simulators are up (a person is
//!   slower than a script).

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kiosk_system_tests::binaries::cargo_bin;

/// The simulate-mode command lines of the page, in order.
fn simulate_lines(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut block: Option<bool> = None; // Some(whole block is simulate mode)
    for line in page.lines() {
        if let Some(info) = line.strip_prefix("```") {
            block = match block {
                Some(_) => None,
                None => Some(info.trim() == "sh simulate"),
            };
            if block.is_some() && !info.trim().starts_with("sh") {
                // A block of another kind (toml, sample output): nothing to run.
                block = Some(false);
            }
            continue;
        }
        match block {
            Some(true) => out.push(line.to_owned()),
            Some(false) if line.contains("# simulate mode") => out.push(line.to_owned()),
            _ => {}
        }
    }
    out
}

#[test]
fn the_technician_page_takes_a_simulated_kiosk_from_bare_to_self_tested() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let page = std::fs::read_to_string(root.join("docs/technician.md")).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let kiosk = scratch.path().join("kiosk");

    let mut script = String::from("set -o pipefail\n");
    let mut tools = vec![
        Path::new(env!("CARGO_BIN_EXE_kioskctl"))
            .parent()
            .unwrap()
            .to_owned(),
        cargo_bin("central", "central")
            .unwrap()
            .parent()
            .unwrap()
            .to_owned(),
        cargo_bin("kiosk-sim", "kiosk-sim")
            .unwrap()
            .parent()
            .unwrap()
            .to_owned(),
    ];
    tools.dedup();
    let lines = simulate_lines(&page);
    assert!(
        lines.len() > 20,
        "the page lost its simulate-mode commands: {lines:?}"
    );
    for line in lines {
        let trimmed = line.trim_start();
        if trimmed.starts_with("cargo build") || trimmed.starts_with("kiosk-app ") {
            continue;
        }
        let mut line = line.replace("/tmp/kiosk-sim", kiosk.to_str().unwrap());
        if trimmed.starts_with("export PATH=") {
            script += &line;
            script += "\n";
            for dir in &tools {
                script += &format!("export PATH=\"{}:$PATH\"\n", dir.display());
            }
            continue;
        }
        if trimmed.starts_with("central token create") {
            line = line.replacen(
                " --db central.db",
                " --db central.db | tee $KIOSK/token.out",
                1,
            );
        }
        if line.contains("--token TOKEN") {
            script += "for i in $(seq 100); do (echo > /dev/tcp/127.0.0.1/8080) 2>/dev/null && (echo > /dev/tcp/127.0.0.1/9100) 2>/dev/null && [ -e $KIOSK/dev/idcard ] && [ -e $KIOSK/dev/printer ] && break; sleep 0.2; done\n";
            line = line.replace(
                "--token TOKEN",
                "--token $(grep -oE '[0-9a-f]{40}' $KIOSK/token.out | head -1)",
            );
        }
        script += &line;
        script += "\n";
    }

    // Its own process group, so whatever it leaves running is stopped with it.
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(root)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
    let out = reader.join().unwrap();
    let err = err_reader.join().unwrap();
    let shown = format!("script:\n{script}\nstdout:\n{out}\nstderr:\n{err}");
    assert!(
        status.is_some(),
        "the page's commands did not finish in 4 minutes\n{shown}"
    );

    for milestone in [
        "central now trusts ops key",
        "enrolled as kiosk ",
        "configuration created",
        "居民身份证 on ",
        "ready        yes",
        "printed a test ticket on tcp://127.0.0.1:9100",
        "test:0",
        "self-test passed (9 checks)",
        "self-test FAILED: 1 of 9 checks failed: printer",
        "exit 1",
        "technician PIN set in",
    ] {
        assert!(out.contains(milestone), "missing {milestone:?}\n{shown}");
    }
    assert!(
        !kiosk.exists(),
        "the page's clean-up leaves the scratch folder\n{shown}"
    );
}
