#![allow(clippy::unwrap_used)]
//! The Debian packages `scripts/package` builds, read back with Debian's own tools: what each
//! installs where and with which mode, that every shared library its programs load comes from
//! a package it depends on (asked of dpkg, not of our own list), that its maintainer scripts
//! parse, that the settings file with the database password is a conffile only root and
//! central read, and that central's unit passes systemd's verify and security review.
//! (Installing and booting them is the appliance test's part.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use kiosk_system_tests::binaries::cargo_bin;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: {tool} is not installed (scripts/install-deps installs it)");
    }
    found
}

/// Path → (mode string, owner) of every entry in a package.
fn contents(deb: &Path) -> BTreeMap<String, (String, String)> {
    run("dpkg-deb", &["--contents", deb.to_str().unwrap()])
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let path = fields.get(5)?.trim_start_matches('.').to_owned();
            Some((path, (fields[0].to_owned(), fields[1].to_owned())))
        })
        .collect()
}

fn depends(deb: &Path) -> BTreeSet<String> {
    run("dpkg-deb", &["--field", deb.to_str().unwrap(), "Depends"])
        .split(',')
        .map(|d| d.split_whitespace().next().unwrap_or("").to_owned())
        .filter(|d| !d.is_empty())
        .collect()
}

/// The Debian package that provides each shared library `binary` itself names (its NEEDED
/// entries; what those load in turn is their packages' business).
fn library_packages(binary: &Path) -> BTreeMap<String, String> {
    let needed: BTreeSet<String> = run("readelf", &["--dynamic", binary.to_str().unwrap()])
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| {
            l.split_once('[')?
                .1
                .split_once(']')
                .map(|(n, _)| n.to_owned())
        })
        .collect();
    assert!(
        !needed.is_empty(),
        "{} names no libraries",
        binary.display()
    );
    let ldd = run("ldd", &[binary.to_str().unwrap()]);
    let mut found = BTreeMap::new();
    for line in ldd.lines() {
        // "libsane.so.1 => /lib/x86_64-linux-gnu/libsane.so.1 (0x…)", or the loader itself.
        let (name, path) = match line.split_once("=>") {
            Some((name, rest)) => (name.trim(), rest.split_whitespace().next().unwrap_or("")),
            None => {
                let path = line.split_whitespace().next().unwrap_or("");
                (path.rsplit('/').next().unwrap_or(""), path)
            }
        };
        if !path.starts_with('/') || !needed.contains(name) {
            continue;
        }
        let resolved = std::fs::canonicalize(path).unwrap();
        let owner = Command::new("dpkg")
            .arg("-S")
            .arg(&resolved)
            .output()
            .unwrap();
        let owner = if owner.status.success() {
            String::from_utf8(owner.stdout).unwrap()
        } else {
            // /lib is a symlink to /usr/lib on merged-/usr systems; dpkg knows one of them.
            let other = resolved.to_string_lossy().replacen("/usr/lib/", "/lib/", 1);
            run("dpkg", &["-S", &other])
        };
        let package = owner.split(':').next().unwrap().trim().to_owned();
        found.insert(path.to_owned(), package);
    }
    found
}

#[test]
fn the_kiosk_and_central_packages_install_what_they_should_and_depend_on_what_they_load() {
    if !have("dpkg-deb") || !have("ldd") || !have("readelf") {
        return;
    }
    // The binaries the test build made (built here if it did not).
    for (package, bin) in [
        ("kiosk-app", "kiosk-app"),
        ("kioskctl", "kioskctl"),
        ("kiosk-update", "kiosk-update"),
        ("central", "central"),
    ] {
        cargo_bin(package, bin).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(repo().join("scripts/package"))
        .args([
            "--out",
            out.path().to_str().unwrap(),
            "--profile",
            "dev",
            "--no-build",
        ])
        .status()
        .unwrap();
    assert!(status.success(), "scripts/package failed");
    let version = env!("CARGO_PKG_VERSION");
    let arch = run("dpkg", &["--print-architecture"]).trim().to_owned();
    let kiosk = out.path().join(format!("hall-kiosk_{version}_{arch}.deb"));
    let central = out
        .path()
        .join(format!("hall-central_{version}_{arch}.deb"));

    // Where each file goes, and with which mode.
    let files = contents(&kiosk);
    for (path, mode) in [
        (
            format!("/opt/kiosk/releases/{version}/bin/kiosk-app"),
            "-rwxr-xr-x",
        ),
        ("/usr/bin/kioskctl".into(), "-rwxr-xr-x"),
        ("/usr/lib/kiosk/kiosk-update".into(), "-rwxr-xr-x"),
        (
            "/usr/lib/systemd/system/kiosk-app.service".into(),
            "-rw-r--r--",
        ),
        (
            "/usr/lib/systemd/system/kiosk-update.service".into(),
            "-rw-r--r--",
        ),
        (
            "/usr/lib/systemd/system/kiosk-update.timer".into(),
            "-rw-r--r--",
        ),
        (
            "/usr/lib/systemd/system/kiosk-rollback.service".into(),
            "-rw-r--r--",
        ),
        (
            "/usr/lib/systemd/system/kiosk-update-confirm.service".into(),
            "-rw-r--r--",
        ),
        (
            "/usr/lib/udev/rules.d/70-kiosk-devices.rules".into(),
            "-rw-r--r--",
        ),
        ("/usr/lib/sysusers.d/hall-kiosk.conf".into(), "-rw-r--r--"),
        ("/usr/lib/tmpfiles.d/hall-kiosk.conf".into(), "-rw-r--r--"),
        (
            "/usr/share/doc/hall-kiosk/technician.md".into(),
            "-rw-r--r--",
        ),
    ] {
        let (got, owner) = files
            .get(&path)
            .unwrap_or_else(|| panic!("hall-kiosk lacks {path}"));
        assert_eq!(got, mode, "{path}");
        assert_eq!(owner, "root/root", "{path}");
    }
    // Nothing under the app's data folder or /etc: those are provisioning's, not the package's.
    assert!(
        !files
            .keys()
            .any(|p| p.starts_with("/var/lib/kiosk") || p.starts_with("/etc/")),
        "hall-kiosk ships files it must not own"
    );
    let files = contents(&central);
    assert_eq!(files["/usr/bin/central"].0, "-rwxr-xr-x");
    assert_eq!(
        files["/usr/lib/systemd/system/central.service"].0,
        "-rw-r--r--"
    );
    assert_eq!(
        files["/etc/central/central.env"].0, "-rw-r-----",
        "the settings carry the database password"
    );
    let scripts = tempfile::tempdir().unwrap();
    run(
        "dpkg-deb",
        &[
            "--control",
            central.to_str().unwrap(),
            scripts.path().to_str().unwrap(),
        ],
    );
    let conffiles = std::fs::read_to_string(scripts.path().join("conffiles")).unwrap();
    assert!(conffiles.lines().any(|l| l == "/etc/central/central.env"));

    // Every library each program loads is provided by a package the .deb depends on.
    let unpacked = tempfile::tempdir().unwrap();
    for (deb, programs) in [
        (
            &kiosk,
            vec![
                format!("opt/kiosk/releases/{version}/bin/kiosk-app"),
                "usr/bin/kioskctl".into(),
                "usr/lib/kiosk/kiosk-update".into(),
            ],
        ),
        (&central, vec!["usr/bin/central".to_owned()]),
    ] {
        let root = unpacked.path().join(deb.file_stem().unwrap());
        run(
            "dpkg-deb",
            &["--extract", deb.to_str().unwrap(), root.to_str().unwrap()],
        );
        let declared = depends(deb);
        for program in programs {
            for (library, package) in library_packages(&root.join(&program)) {
                assert!(
                    declared.contains(&package),
                    "{program} loads {library} from {package}, which {} does not depend on ({declared:?})",
                    deb.display()
                );
            }
        }
        // Maintainer scripts parse as POSIX sh.
        let control = unpacked.path().join(format!(
            "{}-control",
            deb.file_stem().unwrap().to_string_lossy()
        ));
        run(
            "dpkg-deb",
            &[
                "--control",
                deb.to_str().unwrap(),
                control.to_str().unwrap(),
            ],
        );
        for script in ["postinst", "prerm", "postrm"] {
            let path = control.join(script);
            assert!(path.exists(), "{} has no {script}", deb.display());
            run("sh", &["-n", path.to_str().unwrap()]);
        }
    }

    // Central's unit: systemd's verify passes, and its exposure is low.
    if have("systemd-analyze") {
        let unit_dir = tempfile::tempdir().unwrap();
        let unit = std::fs::read_to_string(repo().join("systemd/central/central.service"))
            .unwrap()
            .replace(
                "/usr/bin/central",
                cargo_bin("central", "central").unwrap().to_str().unwrap(),
            );
        let path = unit_dir.path().join("central.service");
        std::fs::write(&path, unit).unwrap();
        let verify = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&verify.stderr);
        let ours: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("central.service") && !l.contains("EnvironmentFile"))
            .collect();
        assert!(ours.is_empty(), "systemd-analyze verify: {stderr}");
        let security = run(
            "systemd-analyze",
            &[
                "security",
                "--offline=yes",
                "--no-pager",
                path.to_str().unwrap(),
            ],
        );
        let level: f64 = security
            .lines()
            .find(|l| l.contains("Overall exposure level"))
            .and_then(|l| l.rsplit(": ").next())
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap()
            .parse()
            .unwrap();
        eprintln!("central.service: exposure {level}");
        assert!(level <= 3.0, "central.service: exposure {level} over 3.0");
    }
}
