//! PLACEHOLDER (owned by the idcard work): replaced by the real `kioskctl idcard` commands.
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Not built yet.
    Placeholder,
}

pub fn run(_cmd: Command) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kioskctl idcard is not built yet")
}
