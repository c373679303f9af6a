#![allow(clippy::unwrap_used)]
//! `kioskctl selftest` on a kiosk provisioned against a running central, with every device
//! simulated by a separate process speaking the real protocol: the GA 467 reader and the
//! receipt printer on pseudo-terminals (`kiosk-sim idcard`, `kiosk-sim printer --link`), the
//! ticket printer on TCP (`kiosk-sim printer --tcp`), the scanner through SANE's `test`
//! backend. Then one simulator is stopped, and exactly that device must be reported.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kiosk_system_tests::binaries::cargo_bin;
use kiosk_system_tests::central::{Central, create_token, generate_ops_key};
use serde_json::Value;

fn exe(package: &'static str, bin: &'static str) -> PathBuf {
    static CENTRAL: OnceLock<PathBuf> = OnceLock::new();
    static SIM: OnceLock<PathBuf> = OnceLock::new();
    let cell = if package == "central" { &CENTRAL } else { &SIM };
    cell.get_or_init(|| cargo_bin(package, bin).unwrap())
        .clone()
}

/// A simulator process, killed on drop.
struct Sim(Child);

impl Sim {
    fn stop(&mut self) {
        // SIGTERM lets `kiosk-sim idcard` remove its link; the printer emulator just dies, as
        // a printer switched off does.
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::symlink_metadata(path).is_err() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn idcard_sim(link: &Path) -> Sim {
    let child = Command::new(exe("kiosk-sim", "kiosk-sim"))
        .args(["idcard", "--no-pacing", "--link"])
        .arg(link)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(link);
    Sim(child)
}

/// `kiosk-sim printer` with `where_` (`--link PATH` or `--tcp ADDR`); returns its first line.
fn printer_sim(where_: &[&str], out: &Path) -> (Sim, String) {
    let mut child = Command::new(exe("kiosk-sim", "kiosk-sim"))
        .arg("printer")
        .args(where_)
        .arg("--out")
        .arg(out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("listening on"), "{line}");
    (Sim(child), line)
}

/// A SANE config directory with only the test backend.
fn sane_config(dir: &Path) -> PathBuf {
    let sane = dir.join("sane.d");
    std::fs::create_dir_all(&sane).unwrap();
    std::fs::write(sane.join("dll.conf"), "test\n").unwrap();
    std::fs::write(sane.join("test.conf"), "number_of_devices 1\n").unwrap();
    sane
}

fn kioskctl(sane: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kioskctl"))
        .env("SANE_CONFIG_DIR", sane)
        .args(args)
        .output()
        .unwrap()
}

fn selftest(sane: &Path, config: &Path) -> (Option<i32>, Value, String) {
    let out = kioskctl(
        sane,
        &["selftest", "--json", "--config", config.to_str().unwrap()],
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let text = kioskctl(sane, &["selftest", "--config", config.to_str().unwrap()]);
    (
        out.status.code(),
        report,
        String::from_utf8_lossy(&text.stdout).into_owned(),
    )
}

fn outcome<'a>(report: &'a Value, name: &str) -> &'a str {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"))["outcome"]
        .as_str()
        .unwrap()
}

#[test]
fn with_every_simulator_running_selftest_passes_and_with_the_printer_off_it_names_only_the_printer()
{
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    // Central, and the kiosk provisioned against it.
    let db = dir.join("central.db").to_str().unwrap().to_owned();
    let central_exe = exe("central", "central");
    generate_ops_key(&central_exe, &db, &dir.join("ops.pem")).unwrap();
    let central = Central::start(&central_exe, &db, &dir.join("central.log")).unwrap();
    let token = create_token(&central_exe, &db, "dongcheng-main", "东城区政务服务中心").unwrap();

    // The devices.
    let idcard_link = dir.join("idcard");
    let _idcard = idcard_sim(&idcard_link);
    let printer_link = dir.join("printer");
    let (mut printer, _) = printer_sim(
        &["--link", printer_link.to_str().unwrap()],
        &dir.join("printer-out"),
    );
    wait_for(&printer_link);
    let (_dispenser, line) = printer_sim(&["--tcp", "127.0.0.1:0"], &dir.join("dispenser-out"));
    let dispenser_addr = line
        .split("listening on tcp ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .trim()
        .to_owned();
    let sane = sane_config(dir);

    let config = dir.join("kiosk.toml");
    std::fs::write(
        &config,
        format!(
            r#"[kiosk]
data_dir = "{data}"

[hall]
name_zh = "待定"
name_en = "Dongcheng District Government Service Center"
help_window_zh = "1号综合咨询台"
help_window_en = "Information desk 1"

[devices.idcard]
port = "{idcard}"
baud = 115200

[devices.printer]
port = "{printer}"
baud = 9600

[devices.dispenser]
tcp = "{dispenser}"

[devices.scanner]
device = "test:0"
"#,
            data = dir.join("data").display(),
            idcard = idcard_link.display(),
            printer = printer_link.display(),
            dispenser = dispenser_addr,
        ),
    )
    .unwrap();
    let url = format!("http://{}", central.addr());
    let out = kioskctl(
        &sane,
        &[
            "provision",
            "--central",
            &url,
            "--token",
            &token,
            "--config",
            config.to_str().unwrap(),
            "--insecure-http",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (code, report, text) = selftest(&sane, &config);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(report["passed"], true, "{text}");
    for name in [
        "identity",
        "idcard",
        "printer",
        "dispenser",
        "scanner",
        "disk",
        "central",
        "clock",
        "outbox",
    ] {
        assert_eq!(outcome(&report, name), "pass", "{name}:\n{text}");
    }
    assert!(text.contains("self-test passed (9 checks)"), "{text}");

    // The receipt printer is switched off.
    printer.stop();
    let (code, report, text) = selftest(&sane, &config);
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(report["passed"], false);
    assert_eq!(report["failures"], serde_json::json!(["printer"]), "{text}");
    let failed = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "printer")
        .unwrap();
    let summary = failed["summary"].as_str().unwrap();
    assert!(
        summary.contains(printer_link.to_str().unwrap()),
        "{summary}"
    );
    assert!(
        text.contains("self-test FAILED: 1 of 9 checks failed: printer"),
        "{text}"
    );
}
