//! `kioskctl idcard read` against the `kiosk-sim idcard` binary: two real processes
//! talking GA 467 over a pseudo-terminal.
//!
//! `kiosk-sim` belongs to another package, so Cargo does not hand this test its path
//! (`CARGO_BIN_EXE_*` covers only this package's binaries). The test asks Cargo to build
//! it, with the same cargo, profile and target directory as this test run, and takes the
//! path from Cargo's own JSON report: no guessing at `target/debug`, no stale binary, and
//! it works under any `CARGO_TARGET_DIR`. The build is incremental, so it costs nothing
//! when `cargo test -p kiosk-sim -p kioskctl` has just built it.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn kiosk_sim_binary() -> &'static Path {
    // Built once per test binary; a failed build is remembered, not retried by every test.
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BINARY.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let output = Command::new(cargo)
            .args([
                "build",
                "--package",
                "kiosk-sim",
                "--bin",
                "kiosk-sim",
                "--message-format=json",
            ])
            .current_dir(workspace_root())
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !output.status.success() {
            return Err("cargo build -p kiosk-sim failed (see its output above)".into());
        }
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|msg| msg["target"]["name"] == "kiosk-sim")
            .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
            .ok_or_else(|| "cargo did not report the kiosk-sim executable".into())
    });
    match built {
        Ok(path) => path,
        Err(why) => panic!("{why}"),
    }
}

/// A running `kiosk-sim idcard`, stopped with SIGTERM (so it removes its link) on drop.
struct Sim {
    child: Child,
}

impl Sim {
    fn start(link: &Path, card: Option<&str>, extra: &[&str]) -> Self {
        let mut cmd = Command::new(kiosk_sim_binary());
        cmd.arg("idcard").arg("--link").arg(link).args(extra);
        if let Some(kind) = card {
            cmd.arg("--card").arg(card_file(kind));
        }
        let child = cmd.stderr(Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while link.symlink_metadata().is_err() {
            assert!(Instant::now() < deadline, "the simulator published no link");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        // SIGTERM, not Child::kill's SIGKILL: the simulator removes its link on the way out.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.child.wait();
    }
}

fn card_file(kind: &str) -> PathBuf {
    workspace_root().join(format!("drivers/sim/cards/{kind}.json"))
}

fn kioskctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kioskctl"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn every_sample_card_reads_back_field_for_field() {
    for kind in [
        "resident",
        "hk_mo_tw_permit",
        "foreign_permanent",
        "foreign_permanent_2023",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("idcard");
        let _sim = Sim::start(&link, Some(kind), &[]);
        let out = kioskctl(&[
            "idcard",
            "read",
            "--port",
            link.to_str().unwrap(),
            "--json",
            "--reveal",
        ]);
        assert!(
            out.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(card_file(kind)).unwrap()).unwrap();
        assert_eq!(printed, file, "{kind}");
    }
}

#[test]
fn the_default_output_is_masked() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("idcard");
    let _sim = Sim::start(&link, Some("resident"), &[]);
    let out = kioskctl(&["idcard", "read", "--port", link.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(shown.contains("刘**"), "{shown}");
    assert!(shown.contains("4403**********020X"), "{shown}");
    assert!(!shown.contains("刘晓燕"), "{shown}");
    assert!(!shown.contains("科技园路"), "{shown}");
    assert!(!shown.contains("1988"), "{shown}");
    assert!(shown.contains("115200 baud"), "{shown}");
}

#[test]
fn an_empty_reader_exits_3_saying_there_is_no_card() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("idcard");
    let _sim = Sim::start(&link, None, &["--baud", "19200"]);
    // No --baud: the speed is detected.
    let out = kioskctl(&["idcard", "read", "--port", link.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let said = String::from_utf8(out.stderr).unwrap();
    assert!(said.contains("no card on the reader"), "{said}");
    assert!(said.contains("19200 baud"), "{said}");
}

#[test]
fn a_protocol_fault_names_the_port_the_request_and_the_reply() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("idcard");
    let _sim = Sim::start(&link, Some("resident"), &["--fault", "bad-checksum"]);
    let out = kioskctl(&[
        "idcard",
        "read",
        "--port",
        link.to_str().unwrap(),
        "--baud",
        "115200",
    ]);
    assert!(!out.status.success());
    assert_ne!(out.status.code(), Some(3));
    let said = String::from_utf8(out.stderr).unwrap();
    assert!(said.contains(link.to_str().unwrap()), "{said}");
    // sent: read base info, AA AA AA 96 69 | 00 03 | 30 01 | 32
    assert!(
        said.contains("sent AA AA AA 96 69 00 03 30 01 32"),
        "{said}"
    );
    // came back: header and status only, then the checksum complaint
    assert!(said.contains("got AA AA AA 96 69 05 08 00 00 90"), "{said}");
    assert!(said.contains("checksum mismatch"), "{said}");
    assert!(!said.contains("刘晓燕"), "{said}");
}

#[test]
fn the_reader_is_chosen_by_port_or_by_usb_id_but_not_both() {
    let both = kioskctl(&[
        "idcard",
        "read",
        "--port",
        "/dev/null",
        "--usb",
        "0400:c35a",
    ]);
    assert!(!both.status.success());
    let said = String::from_utf8_lossy(&both.stderr);
    assert!(said.contains("cannot be used with"), "{said}");

    let neither = kioskctl(&["idcard", "read"]);
    assert!(!neither.status.success());
    assert!(String::from_utf8_lossy(&neither.stderr).contains("--port"));

    let typo = kioskctl(&["idcard", "read", "--usb", "400:c35a"]);
    assert!(!typo.status.success());
    let said = String::from_utf8_lossy(&typo.stderr);
    assert!(said.contains("not 4 hex digits"), "{said}");
}

#[test]
fn a_usb_reader_that_is_not_plugged_in_is_named_in_the_error() {
    // No USB reader is attached to a build machine: ffff:fffe is no device at all.
    let out = kioskctl(&["idcard", "read", "--usb", "ffff:fffe"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("over USB"), "{said}");
    assert!(said.contains("usb ffff:fffe"), "{said}");
}

#[test]
fn idcard_use_writes_the_usb_reader_into_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kiosk.toml");
    std::fs::write(
        &config,
        "# kiosk by the door\n[kiosk]\ndata_dir = \"/var/lib/kiosk\"\n\n[hall]\nname_zh = \"东城区政务服务中心\"\nname_en = \"Dongcheng\"\nhelp_window_zh = \"1号\"\nhelp_window_en = \"Desk 1\"\n\n[devices.idcard]\nport = \"/dev/kiosk/idcard\"\n",
    )
    .unwrap();
    let out = kioskctl(&[
        "idcard",
        "use",
        "--usb",
        "0400:c35a",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(written.starts_with("# kiosk by the door"), "{written}");
    let parsed = kiosk_core::config::Config::parse(&written, "kiosk.toml").unwrap();
    let reader = parsed.devices.idcard.unwrap();
    assert_eq!(reader.port, None);
    assert_eq!(
        reader.usb.map(|id| id.to_string()).as_deref(),
        Some("0400:c35a")
    );
}

#[test]
fn a_serial_number_without_a_usb_id_is_refused() {
    let out = kioskctl(&[
        "idcard",
        "read",
        "--port",
        "/dev/null",
        "--usb-serial",
        "A1000",
    ]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("cannot be used with"), "{said}");
    // Alone, it asks for the id it belongs to.
    let out = kioskctl(&["idcard", "read", "--usb-serial", "A1000"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("--usb <USB>"), "{said}");
}
