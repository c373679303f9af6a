//! The systemd side of updates and of the appliance: every unit and timer passes
//! `systemd-analyze verify` together (so `OnFailure=` and the timer's `Unit=` resolve), the
//! udev rules parse, and the sysusers.d and tmpfiles.d entries are accepted by the real tools
//! on a scratch root.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn systemd_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../systemd")
}

/// A tool the test needs: in CI it must be there; elsewhere its absence skips the test loudly.
fn require(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is missing in CI: the systemd package provides it"
        );
        eprintln!("SKIPPED: {tool} is not installed (package systemd)");
    }
    found
}

const UNITS: [&str; 5] = [
    "kiosk-app.service",
    "kiosk-rollback.service",
    "kiosk-update.service",
    "kiosk-update.timer",
    "kiosk-update-confirm.service",
];

fn unit(name: &str) -> String {
    std::fs::read_to_string(systemd_dir().join(name)).unwrap()
}

#[test]
fn the_units_say_what_the_rollback_design_needs() {
    let app = unit("kiosk-app.service");
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "StartLimitIntervalSec=",
        "StartLimitBurst=",
        "OnFailure=kiosk-rollback.service",
        "ExecStart=/opt/kiosk/current/bin/kiosk-app",
        "User=kiosk",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
    ] {
        assert!(app.contains(line), "kiosk-app.service sets {line}");
    }
    let rollback = unit("kiosk-rollback.service");
    assert!(rollback.contains("kiosk-update rollback --reason start-limit-hit"));
    assert!(
        rollback.contains("reset-failed kiosk-app.service"),
        "the start limit is cleared, or the restart after switching back is refused"
    );
    assert!(unit("kiosk-update.service").contains("kiosk-update apply"));
    assert!(unit("kiosk-update.timer").contains("Unit=kiosk-update.service"));
    assert!(unit("kiosk-update-confirm.service").contains("kiosk-update confirm"));
}

#[test]
fn every_unit_passes_systemd_analyze_verify_together() {
    if !require("systemd-analyze") {
        return;
    }
    // verify checks that executables exist: point them at binaries that do.
    let agent = env!("CARGO_BIN_EXE_kiosk-update");
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for name in UNITS {
        let text = unit(name)
            .replace("/usr/lib/kiosk/kiosk-update", agent)
            .replace("/opt/kiosk/current/bin/kiosk-app", agent);
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        paths.push(path);
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&paths)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Lines about other units on this machine are not ours to judge.
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("kiosk")).collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify: {stderr}"
    );
}

/// The exposure systemd itself gives a unit file (`systemd-analyze security --offline`).
fn exposure(name: &str) -> f64 {
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(systemd_dir().join(name))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no exposure level for {name}: {stdout}"));
    let figure = line
        .rsplit(": ")
        .next()
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap();
    figure.parse().unwrap()
}

#[test]
fn the_units_that_run_as_root_are_exposed_at_most_3_of_10() {
    if !require("systemd-analyze") {
        return;
    }
    // The update agent's three units run as root: they must be boxed in tightly. The app
    // runs as its own user and is held to the same bar.
    for name in [
        "kiosk-update.service",
        "kiosk-rollback.service",
        "kiosk-update-confirm.service",
        "kiosk-app.service",
    ] {
        let level = exposure(name);
        eprintln!("{name}: exposure {level}");
        assert!(level <= 3.0, "{name}: exposure {level} over 3.0");
    }
}

/// Keys udev knows, and whether each may match (`==`, `!=`) and/or assign.
fn udev_key(key: &str) -> Option<(bool, bool)> {
    Some(match key {
        "ACTION" | "DEVPATH" | "KERNEL" | "KERNELS" | "SUBSYSTEM" | "SUBSYSTEMS" | "DRIVER"
        | "DRIVERS" | "ATTRS" | "TAGS" | "TEST" | "PROGRAM" | "RESULT" | "CONST" => (true, false),
        "NAME" | "SYMLINK" | "ATTR" | "SYSCTL" | "ENV" | "TAG" | "IMPORT" => (true, true),
        "OWNER" | "GROUP" | "MODE" | "SECLABEL" | "RUN" | "LABEL" | "GOTO" | "OPTIONS" => {
            (false, true)
        }
        _ => return None,
    })
}

/// Checks one udev rules file the way udev reads it: comma-separated `KEY{attr}OP"value"`.
fn check_udev_rules(text: &str) -> Result<usize, String> {
    let mut rules = 0;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |what: String| format!("line {}: {what}: {line}", number + 1);
        let mut rest = line;
        let mut matches = 0;
        while !rest.is_empty() {
            let key_end = rest
                .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
                .ok_or_else(|| at("a key without operator".into()))?;
            let key = &rest[..key_end];
            let (can_match, can_assign) =
                udev_key(key).ok_or_else(|| at(format!("unknown key {key:?}")))?;
            rest = &rest[key_end..];
            if let Some(attr) = rest.strip_prefix('{') {
                let close = attr.find('}').ok_or_else(|| at("unclosed {".into()))?;
                if close == 0 {
                    return Err(at(format!("{key} with an empty {{}}")));
                }
                rest = &attr[close + 1..];
            } else if matches!(key, "ATTR" | "ATTRS" | "ENV" | "SYSCTL" | "IMPORT") {
                return Err(at(format!("{key} needs {{name}}")));
            }
            let op = ["==", "!=", "+=", "-=", ":=", "="]
                .into_iter()
                .find(|op| rest.starts_with(op))
                .ok_or_else(|| at(format!("no operator after {key}")))?;
            let is_match = op == "==" || op == "!=";
            if is_match && !can_match || !is_match && !can_assign {
                return Err(at(format!("{key} cannot be used with {op}")));
            }
            matches += usize::from(is_match);
            rest = rest[op.len()..]
                .strip_prefix('"')
                .ok_or_else(|| at(format!("the value of {key} is not quoted")))?;
            let close = rest
                .find('"')
                .ok_or_else(|| at(format!("the value of {key} is not closed")))?;
            if key == "MODE" && u32::from_str_radix(&rest[..close], 8).is_err() {
                return Err(at(format!("MODE {:?} is not octal", &rest[..close])));
            }
            rest = rest[close + 1..].trim_start();
            if let Some(next) = rest.strip_prefix(',') {
                rest = next.trim_start();
                if rest.is_empty() {
                    return Err(at("a trailing comma".into()));
                }
            } else if !rest.is_empty() {
                return Err(at("a missing comma".into()));
            }
        }
        if matches == 0 {
            return Err(at(
                "a rule that matches nothing applies to every device".into()
            ));
        }
        rules += 1;
    }
    Ok(rules)
}

#[test]
fn the_udev_rules_parse_and_name_the_contracts_devices() {
    let rules = std::fs::read_to_string(systemd_dir().join("udev/70-kiosk-devices.rules")).unwrap();
    let example =
        std::fs::read_to_string(systemd_dir().join("udev/71-kiosk-ports.rules.example")).unwrap();
    assert_eq!(check_udev_rules(&rules), Ok(13));
    assert_eq!(check_udev_rules(&example), Ok(4));
    for id in [
        "\"0400\", ATTRS{idProduct}==\"c35a\"",
        "\"1a86\", ATTRS{idProduct}==\"7523\"",
        "\"10c4\", ATTRS{idProduct}==\"ea60\"",
        "\"067b\", ATTRS{idProduct}==\"2303\"",
        "\"0403\", ATTRS{idProduct}==\"6001\"",
        "\"0400\", ATTR{idProduct}==\"c35a\"",
        "\"0416\", ATTRS{idProduct}==\"5011\"",
        "\"04b8\", ATTRS{idProduct}==\"0202\"",
        "\"0fe6\", ATTRS{idProduct}==\"811e\"",
    ] {
        assert!(rules.contains(id), "70-kiosk-devices.rules covers {id}");
    }
    // The panel: the DRM card as a systemd device, which kiosk-app.service waits for.
    assert!(rules.contains(
        r#"SUBSYSTEM=="drm", KERNEL=="card[0-9]*", TAG+="systemd", SYMLINK+="kiosk/panel""#
    ));
    for link in ["kiosk/idcard", "kiosk/printer", "kiosk/dispenser"] {
        assert!(
            rules.contains(link) || example.contains(link),
            "a rule makes /dev/{link}"
        );
    }
    // The checker itself refuses what udev would refuse.
    assert!(check_udev_rules("SUBSYSTEM==\"tty\", GROUP==\"lp\"").is_err());
    assert!(check_udev_rules("SUBSYSTEM==\"tty\" GROUP=\"lp\"").is_err());
    assert!(check_udev_rules("SUBSYSTM==\"tty\", GROUP=\"lp\"").is_err());
    assert!(check_udev_rules("GROUP=\"lp\"").is_err());
    assert!(check_udev_rules("KERNEL==\"lp0\", MODE=\"rw\"").is_err());
    assert!(check_udev_rules("ATTRS==\"x\", MODE=\"0660\"").is_err());

    // systemd 254 and later can judge the rules themselves.
    let has_verify = Command::new("udevadm")
        .args(["verify", "--help"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_verify {
        let out = Command::new("udevadm")
            .arg("verify")
            .arg(systemd_dir().join("udev/70-kiosk-devices.rules"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "udevadm verify: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!("udevadm verify is not in this systemd version; the rules were parsed here");
    }
}

#[test]
fn sysusers_and_tmpfiles_entries_make_the_user_and_the_private_data_folder() {
    if !require("systemd-sysusers") || !require("systemd-tmpfiles") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    let sysusers = systemd_dir()
        .join("sysusers.d/kiosk.conf")
        .canonicalize()
        .unwrap();
    let out = Command::new("systemd-sysusers")
        .arg(format!("--root={}", root.path().display()))
        .arg(&sysusers)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "systemd-sysusers: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let passwd = std::fs::read_to_string(root.path().join("etc/passwd")).unwrap();
    let kiosk = passwd
        .lines()
        .find(|l| l.starts_with("kiosk:"))
        .expect("a kiosk user");
    assert!(
        kiosk.ends_with(":/var/lib/kiosk:/usr/sbin/nologin"),
        "{kiosk}"
    );
    let uid: u32 = kiosk.split(':').nth(2).unwrap().parse().unwrap();
    let group = std::fs::read_to_string(root.path().join("etc/group")).unwrap();
    for g in ["dialout", "lp", "scanner"] {
        let line = group
            .lines()
            .find(|l| l.starts_with(&format!("{g}:")))
            .unwrap_or_else(|| panic!("group {g}: {group}"));
        assert!(line.ends_with("kiosk"), "kiosk is in {g}: {line}");
    }

    // Creating with ownership needs root; elsewhere the entries are still parsed.
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let tmpfiles = systemd_dir()
        .join("tmpfiles.d/kiosk.conf")
        .canonicalize()
        .unwrap();
    let out = Command::new("systemd-tmpfiles")
        .arg("--create")
        .arg(format!("--root={}", root.path().display()))
        .arg(&tmpfiles)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("kiosk.conf:"),
        "systemd-tmpfiles found fault with an entry: {stderr}"
    );
    if !is_root {
        eprintln!("SKIPPED: ownership of the tmpfiles folders needs root");
        return;
    }
    assert!(out.status.success(), "systemd-tmpfiles: {stderr}");
    use std::os::unix::fs::MetadataExt as _;
    let data = std::fs::metadata(root.path().join("var/lib/kiosk")).unwrap();
    assert_eq!(data.mode() & 0o777, 0o700, "personal data stays private");
    assert_eq!(data.uid(), uid, "owned by the kiosk user");
    assert!(root.path().join("opt/kiosk/releases").is_dir());
    assert!(root.path().join("run/kiosk").is_dir());
}
