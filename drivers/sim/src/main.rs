use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Simulated kiosk devices for development, demos and tests.
#[derive(Parser)]
#[command(name = "kiosk-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a GA 467 SAM ID-card reader on a pseudo-terminal.
    Idcard(kiosk_sim::idcard::Args),
    /// Emulate an ESC/POS thermal printer and render each cut ticket to PNG.
    Printer(kiosk_sim::printer::Args),
    /// Render a captured ESC/POS byte stream to PNG.
    Render(kiosk_sim::printer::RenderArgs),
}

fn main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Idcard(args) => kiosk_sim::idcard::run(args),
        Command::Printer(args) => kiosk_sim::printer::run(args),
        Command::Render(args) => kiosk_sim::printer::render(args),
    }
}
