//! `kioskctl technician`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use kioskctl::technician;

/// `kioskctl technician ...`
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Set the PIN that opens technician mode on the kiosk screen (stored as an argon2id hash
    /// in [technician] pin_hash). Restart the app to apply it.
    SetPin {
        /// The kiosk's configuration.
        #[arg(long, default_value = kiosk_core::config::DEFAULT_PATH)]
        config: PathBuf,
        /// Read the PIN from one line of standard input instead of asking twice on the terminal.
        #[arg(long)]
        pin_stdin: bool,
    },
}

/// Runs a `kioskctl technician` command.
pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::SetPin { config, pin_stdin } => {
            let pin = if pin_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("reading the PIN from standard input")?;
                line.trim().to_owned()
            } else {
                let first = ask("new technician PIN (6-12 digits): ")?;
                technician::check_pin(&first)?;
                let second = ask("the same PIN again: ")?;
                if first != second {
                    bail!("the two PINs differ; nothing was changed");
                }
                first
            };
            match technician::set_pin(&config, &pin) {
                Ok(hash) => {
                    println!(
                        "technician PIN set in {} ([technician] pin_hash, argon2id); restart the app to apply it: systemctl restart kiosk-app",
                        config.display()
                    );
                    // Central's configuration for the hall, if it sets a PIN, wins over the file.
                    let central_pin = kiosk_core::config::Config::load(&config)
                        .ok()
                        .and_then(|c| c.with_applied_central().ok().flatten())
                        .and_then(|c| c.technician.pin_hash);
                    if central_pin.is_some_and(|h| h != hash) {
                        eprintln!(
                            "warning: the hall's configuration from central sets the technician PIN, and it takes precedence over this file: the PIN just set opens technician mode only once ops remove it from the hall's configuration"
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("kioskctl technician set-pin: {e}; nothing was changed");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

/// Asks on the terminal with echo off: a PIN must not stay on the screen.
fn ask(prompt: &str) -> anyhow::Result<String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("standard input is not a terminal: give the PIN on it with --pin-stdin");
    }
    eprint!("{prompt}");
    std::io::stderr().flush().ok();
    let saved = tcgetattr(&stdin).context("reading the terminal settings")?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet).context("turning echo off")?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    tcsetattr(&stdin, SetArg::TCSANOW, &saved).context("turning echo back on")?;
    eprintln!();
    read.context("reading the PIN")?;
    Ok(line.trim().to_owned())
}
