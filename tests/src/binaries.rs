//! Locating the binaries a system test runs as separate processes.
//!
//! The `central` binary belongs to another package, so cargo does not build it for this crate's
//! tests and no `CARGO_BIN_EXE_central` exists. We ask cargo itself: `cargo build -p PKG --bin
//! BIN --message-format=json` builds it if stale (a no-op when fresh) and reports the exact
//! path of the executable, whatever the target dir, profile or platform. That is more robust
//! than guessing `target/debug/central` from our own path, which breaks under
//! `CARGO_TARGET_DIR`, `--release`, or a stale binary left from an older commit.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

/// Set by `scripts/test` once `cargo test --workspace --all-targets --no-run` has built every
/// workspace binary: they are then taken from the running test's own target directory.
/// `cargo build -p PKG` on its own resolves features for that package alone, not for the
/// whole workspace with its dev-dependencies, and so recompiles much of the dependency graph
/// (about ten minutes of a cold CI run for central, kiosk-app and kioskctl).
pub const PREBUILT_ENV: &str = "KIOSK_TEST_BINS_BUILT";

/// Returns the path of binary `bin` of workspace package `package`, in the same profile as
/// the running binary: the workspace build's copy when [`PREBUILT_ENV`] says it is fresh,
/// else built (if stale) by cargo.
pub fn cargo_bin(package: &str, bin: &str) -> anyhow::Result<PathBuf> {
    if std::env::var_os(PREBUILT_ENV).is_some_and(|v| v == "1")
        && let Some(exe) = prebuilt(bin)
    {
        return Ok(exe);
    }
    build(package, bin)
}

/// `<target>/<profile>/<bin>` beside the running test, whose path is
/// `<target>/<profile>/deps/<test>-<hash>`.
fn prebuilt(bin: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let candidate = profile_dir.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    candidate.is_file().then_some(candidate)
}

fn build(package: &str, bin: &str) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
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
    if let Some(dir) = option_env!("CARGO_MANIFEST_DIR") {
        command.current_dir(dir);
    }
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {} build -p {package}", cargo.to_string_lossy()))?;
    if !output.status.success() {
        bail!("cargo could not build {package} --bin {bin} (see the compiler output above)");
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in stdout.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] == "compiler-artifact"
            && message["target"]["name"] == bin
            && let Some(exe) = message["executable"].as_str()
        {
            return Ok(PathBuf::from(exe));
        }
    }
    bail!("cargo built {package} but reported no executable named {bin}")
}
