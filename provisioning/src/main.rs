//! `kioskctl`: what a field technician runs on a kiosk to read, test and set up its devices
//! and its link to the central platform.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod idcard;
mod printer;
mod scanner;
mod sync;

/// Technician tool for hall kiosks.
#[derive(Parser)]
#[command(name = "kioskctl", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// ID-card reader (GA 467 SAM).
    #[command(subcommand)]
    Idcard(idcard::Command),
    /// ESC/POS thermal printer.
    #[command(subcommand)]
    Printer(printer::Command),
    /// Document scanner (SANE).
    #[command(subcommand)]
    Scanner(scanner::Command),
    /// Store-and-forward link to the central platform.
    #[command(subcommand)]
    Sync(sync::Command),
}

fn main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Idcard(cmd) => idcard::run(cmd),
        Command::Printer(cmd) => printer::run(cmd),
        Command::Scanner(cmd) => scanner::run(cmd),
        Command::Sync(cmd) => sync::run(cmd),
    }
}
