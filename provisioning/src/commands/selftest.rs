//! `kioskctl selftest`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use kiosk_core::config::Config;
use kioskctl::selftest::{self, Options};

/// Exit status when the configuration cannot be read (nothing was checked).
pub const EXIT_NO_CONFIG: u8 = 2;

/// Options of `kioskctl selftest`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The kiosk's configuration.
    #[arg(long, default_value = kiosk_core::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// How long a printer gets for each status question, in milliseconds.
    #[arg(long, default_value_t = 800)]
    pub printer_timeout_ms: u64,
}

/// Runs `kioskctl selftest`: exit 0 when every check passed (warnings included), 1 when any
/// failed, 2 when the configuration cannot be read.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = match Config::load(&args.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("kioskctl selftest: {e}");
            return Ok(ExitCode::from(EXIT_NO_CONFIG));
        }
    };
    let options = Options {
        printer_timeout: Duration::from_millis(args.printer_timeout_ms),
        ..Options::default()
    };
    let report = super::runtime()?.block_on(selftest::run(&config, &options));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
