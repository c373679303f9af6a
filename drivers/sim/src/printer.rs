//! PLACEHOLDER (owned by the printer work): replaced by the real ESC/POS emulator.
use std::process::ExitCode;

/// Options of `kiosk-sim printer`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Options of `kiosk-sim render`.
#[derive(clap::Args, Debug)]
pub struct RenderArgs {}

/// Runs the emulator until interrupted.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the printer emulator is not built yet")
}

/// Renders a captured stream.
pub fn render(_args: RenderArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the printer emulator is not built yet")
}
