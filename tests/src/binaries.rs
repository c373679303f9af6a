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

/// Builds (if needed) and returns the path of binary `bin` of workspace package `package`,
/// in the same profile as the running binary.
pub fn cargo_bin(package: &str, bin: &str) -> anyhow::Result<PathBuf> {
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
