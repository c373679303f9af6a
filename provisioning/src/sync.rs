//! PLACEHOLDER (owned by the sync work): replaced by the real `kioskctl sync` commands.
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Not built yet.
    Placeholder,
}

pub fn run(_cmd: Command) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kioskctl sync is not built yet")
}
