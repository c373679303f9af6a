//! PLACEHOLDER (owned by the ID-card work): replaced by the real simulator.
use std::process::ExitCode;

/// Options of `kiosk-sim idcard`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the simulator until interrupted.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the ID-card simulator is not built yet")
}
