//! `kiosk-sim idcard`: a GA 467 SAM ID-card reader on a pseudo-terminal.
//!
//! The simulator answers byte for byte like a reader: SAM status, find, select, read base
//! info (with fingerprint), new address; at the configured baud rate only; paced at wire
//! speed; with faults on demand. Tests use [`SimulatedReader`] in-process; people and
//! system tests use the binary.

mod engine;
mod server;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use kiosk_idcard::IdCard;

pub use engine::{FINGERPRINT_LEN, Faults, NEW_ADDRESS_LEN, PHOTO_LEN, SamEngine};
pub use server::{Seen, SimConfig, SimError, SimulatedReader, wire_time};

/// A fault to inject, as named on the command line.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Find card always answers "no card".
    NoCard,
    /// Select card fails.
    SelectFail,
    /// The base-info reply has a wrong checksum.
    BadChecksum,
    /// The base-info reply is cut off halfway.
    Truncated,
    /// Every answer is delayed by --slow-ms.
    Slow,
    /// SAM status reports a failed self-test.
    SamFail,
}

/// Options of `kiosk-sim idcard`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where to publish the simulated port (a symlink to the PTY), e.g. /tmp/idcard.
    #[arg(long)]
    pub link: PathBuf,
    /// Card file (JSON, the fields `kioskctl idcard read --json --reveal` prints). Without
    /// it the reader is empty.
    #[arg(long)]
    pub card: Option<PathBuf>,
    /// The reader's baud rate; requests at any other speed go unanswered.
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
    /// Faults to inject (repeatable).
    #[arg(long = "fault", value_enum)]
    pub faults: Vec<Fault>,
    /// Delay of the `slow` fault, in milliseconds.
    #[arg(long, default_value_t = 1500)]
    pub slow_ms: u64,
    /// Answer as fast as the PTY allows instead of at wire speed.
    #[arg(long)]
    pub no_pacing: bool,
}

/// Reads a card file.
pub fn load_card(path: &std::path::Path) -> anyhow::Result<IdCard> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read card file {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "card file {} is not a valid card (see drivers/sim/cards/ for examples)",
            path.display()
        )
    })
}

/// Runs the simulator until SIGINT or SIGTERM.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    use nix::sys::signal::{SigSet, Signal};

    let card = args.card.as_deref().map(load_card).transpose()?;
    let faults = Faults {
        no_card: args.faults.contains(&Fault::NoCard),
        select_fails: args.faults.contains(&Fault::SelectFail),
        bad_checksum: args.faults.contains(&Fault::BadChecksum),
        truncated: args.faults.contains(&Fault::Truncated),
        slow: args
            .faults
            .contains(&Fault::Slow)
            .then(|| Duration::from_millis(args.slow_ms)),
        sam_self_test_fails: args.faults.contains(&Fault::SamFail),
    };
    // Block the stop signals before the server thread starts, so it inherits the mask and
    // only this thread takes them, in sigwait; then the link is removed on the way out.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals
        .thread_block()
        .context("cannot block SIGINT/SIGTERM")?;
    let described = card
        .as_ref()
        .map_or("no card".to_string(), |c| c.to_string());
    let sim = SimulatedReader::start(
        &args.link,
        SimConfig {
            card,
            baud: args.baud,
            faults: faults.clone(),
            pace: !args.no_pacing,
        },
    )
    .with_context(|| {
        format!(
            "cannot start the ID-card simulator at {}",
            args.link.display()
        )
    })?;
    eprintln!(
        "kiosk-sim idcard: GA 467 SAM reader at {} -> {}, {} baud, {described}, faults {:?}",
        sim.link().display(),
        sim.slave_path().display(),
        args.baud,
        args.faults
    );
    let signal = signals.wait().context("waiting for a stop signal")?;
    eprintln!("kiosk-sim idcard: {signal:?}, stopping");
    sim.stop();
    Ok(ExitCode::SUCCESS)
}
