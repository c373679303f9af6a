//! PLACEHOLDER (owned by the scanner work): replaced by the real `kioskctl scanner` commands.
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Not built yet.
    Placeholder,
}

pub fn run(_cmd: Command) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kioskctl scanner is not built yet")
}
