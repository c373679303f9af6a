//! `kioskctl idcard`: read a card from the GA 467 SAM reader, for installation and repair.
//!
//! Output is masked unless `--reveal` is given: a technician's terminal is often watched,
//! and its scrollback is not the place for a citizen's identity.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use kiosk_core::config::UsbId;
use kiosk_hal::mask::{mask_id_number, mask_name};
use kiosk_idcard::transport::AUTO_BAUD_RATES;
use kiosk_idcard::{IdCard, ReadOptions, Reader, Transport};
use kioskctl::config_file::{self, DeviceLink};
use serde_json::{Map, Value};

/// Exit status when the reader answers but holds no card.
pub const EXIT_NO_CARD: u8 = 3;

/// `kioskctl idcard ...`
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Read the card on the reader once and print it (masked unless --reveal).
    Read(ReadArgs),
    /// Write where the reader is into the kiosk's configuration ([devices.idcard]), after
    /// trying it with `read`. Restart the app to apply it.
    Use(UseArgs),
}

/// Options of `kioskctl idcard use`.
#[derive(clap::Args, Debug)]
pub struct UseArgs {
    /// Serial port of the reader, e.g. /dev/kiosk/idcard.
    #[arg(long, required_unless_present = "usb", conflicts_with = "usb")]
    pub port: Option<PathBuf>,
    /// Fixed baud rate on --port; without it the app detects the speed.
    #[arg(long, conflicts_with = "usb")]
    pub baud: Option<u32>,
    /// A reader with its own USB interface, by id (e.g. 0400:c35a).
    #[arg(long)]
    pub usb: Option<UsbId>,
    /// With --usb: the serial number that picks one of two identical readers.
    #[arg(long, requires = "usb", conflicts_with = "port")]
    pub usb_serial: Option<String>,
    /// The kiosk's configuration.
    #[arg(long, default_value = kiosk_core::config::DEFAULT_PATH)]
    pub config: PathBuf,
}

/// Options of `kioskctl idcard read`.
#[derive(clap::Args, Debug)]
pub struct ReadArgs {
    /// Serial port of the reader, e.g. /dev/kiosk/idcard.
    #[arg(long, required_unless_present = "usb", conflicts_with = "usb")]
    pub port: Option<String>,
    /// Baud rate; without it the speed is detected (115200, 57600, 38400, 19200, 9600).
    #[arg(long, conflicts_with = "usb")]
    pub baud: Option<u32>,
    /// A reader with its own USB interface, by id as `kioskctl devices` shows it
    /// (e.g. 0400:c35a), talked to through libusb.
    #[arg(long)]
    pub usb: Option<UsbId>,
    /// With --usb: the serial number of the reader to use when two identical ones are
    /// attached.
    #[arg(long, requires = "usb", conflicts_with = "port")]
    pub usb_serial: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Print personal fields in full.
    #[arg(long)]
    pub reveal: bool,
    /// Also read the fingerprint block (30 10) and report its size.
    #[arg(long)]
    pub fingerprint: bool,
    /// Per-command timeout in milliseconds.
    #[arg(long, default_value_t = 3000)]
    pub timeout_ms: u64,
}

/// Runs a `kioskctl idcard` command.
pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Read(args) => read(&args),
        Command::Use(args) => use_reader(&args),
    }
}

fn use_reader(args: &UseArgs) -> anyhow::Result<ExitCode> {
    let link = match (&args.port, args.usb) {
        (Some(path), _) => DeviceLink::Port {
            path: path.clone(),
            baud: args.baud,
        },
        (None, Some(id)) => DeviceLink::Usb(id, args.usb_serial.clone()),
        (None, None) => anyhow::bail!("give --port or --usb"),
    };
    config_file::write_device_link(&args.config, "idcard", &link)?;
    println!(
        "[devices.idcard] in {} now names the reader; restart the app to apply it: systemctl restart kiosk-app",
        args.config.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn read(args: &ReadArgs) -> anyhow::Result<ExitCode> {
    let (reader, location): (Reader<Box<dyn Transport>>, String) = match (&args.port, args.usb) {
        (Some(port), _) => {
            let reader = match args.baud {
                Some(baud) => Reader::open_serial(port, baud),
                None => Reader::open_serial_auto(port, &AUTO_BAUD_RATES),
            }
            .context("the ID-card reader did not come up")?;
            let location = format!("{port} ({} baud)", reader.transport().baud());
            (Reader::new(Box::new(reader.into_transport())), location)
        }
        (None, Some(id)) => {
            let reader = Reader::open_usb(id.vendor, id.product, args.usb_serial.as_deref())
                .context("the ID-card reader did not come up over USB")?;
            (
                Reader::new(Box::new(reader.into_transport())),
                format!("usb {id}"),
            )
        }
        (None, None) => anyhow::bail!("give --port or --usb"),
    };
    let mut reader = reader.with_timeout(Duration::from_millis(args.timeout_ms));
    let options = ReadOptions {
        fingerprint: args.fingerprint,
        new_address: true,
    };
    let Some(card) = reader
        .read_card(options)
        .context("reading the card failed")?
    else {
        eprintln!("no card on the reader at {location}");
        return Ok(ExitCode::from(EXIT_NO_CARD));
    };
    let fields = fields(&card, args.reveal)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&Value::Object(fields))?);
    } else {
        print_table(&card, &fields, &location);
    }
    Ok(ExitCode::SUCCESS)
}

/// The card's fields by their JSON names, masked unless `reveal`.
fn fields(card: &IdCard, reveal: bool) -> anyhow::Result<Map<String, Value>> {
    let Value::Object(mut fields) = serde_json::to_value(card).context("card to JSON")? else {
        anyhow::bail!("a card serialises to a JSON object");
    };
    if reveal {
        return Ok(fields);
    }
    for (key, value) in fields.iter_mut() {
        let Value::String(text) = value else { continue };
        let masked = match key.as_str() {
            "name" | "english_name" => mask_name(text),
            "id_number" | "pass_number" => mask_id_number(text),
            "address" | "new_address" => "***".to_string(),
            "birth_date" => "****-**-**".to_string(),
            _ => continue,
        };
        *value = Value::String(masked);
    }
    Ok(fields)
}

fn print_table(card: &IdCard, fields: &Map<String, Value>, location: &str) {
    println!("{} on {location}", card.card_type.label());
    for (key, value) in fields {
        let shown = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        println!("  {key:<20} {shown}");
    }
    println!(
        "  {:<20} {} bytes WLT (vendor-encoded, not decoded here)",
        "photo",
        card.photo.wlt().len()
    );
    if let Some(fp) = &card.fingerprint {
        println!("  {:<20} {} bytes", "fingerprint", fp.len());
    }
}
