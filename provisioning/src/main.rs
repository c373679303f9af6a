//! `kioskctl`: what a field technician runs on a kiosk to set it up (provision, devices,
//! self-test, technician PIN) and to read and test its devices and its link to central.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
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
    /// Generate the kiosk's key, enrol with central using a one-time token, write the config.
    Provision(commands::provision::Args),
    /// List serial ports and USB devices, matched to kiosk device kinds, with udev links.
    Devices(commands::devices::Args),
    /// Check every configured device, the disk, central, the clock and the outbox.
    ///
    /// Exits 1 with the list of failures when any check fails, 2 when the configuration
    /// cannot be read.
    Selftest(commands::selftest::Args),
    /// Technician mode on the kiosk screen.
    #[command(subcommand)]
    Technician(commands::technician::Command),
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
        Command::Provision(args) => commands::provision::run(args),
        Command::Devices(args) => commands::devices::run(args),
        Command::Selftest(args) => commands::selftest::run(args),
        Command::Technician(cmd) => commands::technician::run(cmd),
        Command::Idcard(cmd) => idcard::run(cmd),
        Command::Printer(cmd) => printer::run(cmd),
        Command::Scanner(cmd) => scanner::run(cmd),
        Command::Sync(cmd) => sync::run(cmd),
    }
}
