//! PLACEHOLDER (owned by the printer work): replaced by the real `kioskctl printer` commands.
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Not built yet.
    Placeholder,
}

pub fn run(_cmd: Command) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kioskctl printer is not built yet")
}
