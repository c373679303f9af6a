//! The systemd side of the appliance: the unit passes `systemd-analyze verify`, and the app
//! speaks the notify protocol (READY, then watchdog pings from the UI thread) when it runs in
//! a real window.

#![allow(clippy::unwrap_used)]

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A tool the test needs: in CI it must be there; elsewhere its absence skips the test loudly.
fn require(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is missing in CI: scripts/install-deps installs it"
        );
        eprintln!("SKIPPED: {tool} is not installed (scripts/install-deps installs it)");
    }
    found
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    if !require("systemd-analyze") {
        return;
    }
    let unit = include_str!("../../systemd/kiosk-app.service");
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "User=kiosk",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
    ] {
        assert!(unit.contains(line), "the unit sets {line}");
    }
    // verify checks that ExecStart exists: point it at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiosk-app.service");
    let exec = env!("CARGO_BIN_EXE_kiosk-app");
    std::fs::write(
        &path,
        unit.replace("/opt/kiosk/current/bin/kiosk-app", exec),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Lines about other units on this machine are not ours to judge.
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("kiosk-app")).collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify: {stderr}"
    );
}

fn wait_for(socket: &UnixDatagram, wanted: &str, deadline: Instant) -> Vec<String> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(n) = socket.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = msg.lines().any(|l| l == wanted);
            seen.push(msg);
            if done {
                return seen;
            }
        }
    }
    panic!("no {wanted} from kiosk-app; got {seen:?}");
}

/// A private X server (Xvfb) on a free display; killed on drop. Started without the notify
/// socket in its environment, since Xvfb speaks the notify protocol itself.
struct Xvfb(std::process::Child, String);

impl Xvfb {
    fn start() -> Self {
        use std::io::BufRead;
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1920x1080x24",
                "-nolisten",
                "tcp",
            ])
            .env_remove("NOTIFY_SOCKET")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Self(child, format!(":{}", line.trim()))
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The app in simulate mode in a window on `xvfb`, with systemd's notify socket in `dir`.
/// `watchdog` sets WATCHDOG_USEC as systemd would.
fn windowed_app(
    xvfb: &Xvfb,
    dir: &Path,
    extra: &[&str],
    watchdog: Option<&str>,
) -> (std::process::Child, UnixDatagram) {
    let socket_path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_kiosk-app"));
    command
        .args(["--simulate", "--windowed"])
        .args(extra)
        .current_dir(dir)
        .env("DISPLAY", &xvfb.1)
        .env_remove("WAYLAND_DISPLAY")
        .env("NOTIFY_SOCKET", &socket_path)
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(usec) = watchdog {
        command.env("WATCHDOG_USEC", usec);
    }
    (command.spawn().unwrap(), socket)
}

#[test]
fn in_a_real_window_the_app_notifies_ready_and_pings_the_watchdog() {
    if !require("Xvfb") {
        return;
    }
    let xvfb = Xvfb::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut app, socket) = windowed_app(&xvfb, dir.path(), &[], Some("1000000"));

    let deadline = Instant::now() + Duration::from_secs(60);
    let ready = std::panic::catch_unwind(|| wait_for(&socket, "READY=1", deadline));
    let pinged = ready
        .is_ok()
        .then(|| std::panic::catch_unwind(|| wait_for(&socket, "WATCHDOG=1", deadline)));
    let _ = app.kill();
    let output = app.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(ready.is_ok(), "READY never came; kiosk-app said:\n{stderr}");
    assert!(
        pinged.is_some_and(|p| p.is_ok()),
        "no watchdog ping; kiosk-app said:\n{stderr}"
    );
    assert!(
        Path::new(&dir.path().join("kiosk-data")).is_dir(),
        "the simulate profile's data directory was made"
    );
}

#[test]
fn a_new_bundle_from_central_restarts_the_app_in_place_and_systemd_sees_no_exit() {
    if !require("Xvfb") {
        return;
    }
    let xvfb = Xvfb::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut app, socket) = windowed_app(&xvfb, dir.path(), &["--bundle-check-secs", "1"], None);
    let deadline = Instant::now() + Duration::from_secs(90);
    let first = std::panic::catch_unwind(|| wait_for(&socket, "READY=1", deadline));

    // What the downlink does with a verified config bundle: write aside, rename into place.
    let bundles = dir.path().join("kiosk-data/bundles");
    std::fs::create_dir_all(&bundles).unwrap();
    std::fs::write(
        bundles.join(".config.tmp"),
        r#"{"hall": {"help_window_zh": "3号窗口", "help_window_en": "Window 3"}}"#,
    )
    .unwrap();
    std::fs::rename(bundles.join(".config.tmp"), bundles.join("config")).unwrap();

    let second = first
        .is_ok()
        .then(|| std::panic::catch_unwind(|| wait_for(&socket, "READY=1", deadline)));
    // The same process is still there: it replaced itself, it did not exit.
    let still_running = app.try_wait().unwrap().is_none();
    let _ = app.kill();
    let output = app.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(first.is_ok(), "READY never came; kiosk-app said:\n{stderr}");
    assert!(
        second.is_some_and(|s| s.is_ok()),
        "no second READY after the new bundle; kiosk-app said:\n{stderr}"
    );
    assert!(
        still_running,
        "the app exited instead of restarting in place:\n{stderr}"
    );
    assert!(
        stderr.contains("restarting in place"),
        "the restart is logged:\n{stderr}"
    );
    assert!(
        stderr.contains("central's configuration bundle applied"),
        "the restarted app applies the bundle:\n{stderr}"
    );
}
