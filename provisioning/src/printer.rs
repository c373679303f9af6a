//! `kioskctl printer`: the technician asks the ticket/receipt printer its status and prints a
//! sample queue ticket, over whichever link the printer is on.
//!
//! Exit codes: 0 ready (paper near end included), 1 not ready (the reason is printed),
//! 2 no answer or no link.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use kiosk_dispenser::{Dispenser, IssueError, Stage, Taken, Ticket};
use kiosk_escpos::{Endpoint, PaperLevel, Printer, PrinterStatus};

/// `kioskctl printer …`
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Ask the printer's status (DLE EOT 1-4) and say whether it can print.
    Status {
        #[command(flatten)]
        target: Target,
        /// Print the status as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a sample queue ticket; prints nothing when the printer is not ready.
    TestTicket {
        #[command(flatten)]
        target: Target,
    },
    /// Write where the printer is into the kiosk's configuration ([devices.printer] or
    /// [devices.dispenser]), after trying it with `status`. Restart the app to apply it.
    Use {
        /// Which printer this is.
        #[arg(long, value_parser = ["printer", "dispenser"])]
        role: String,
        #[command(flatten)]
        target: Target,
        /// The kiosk's configuration.
        #[arg(long, default_value = kiosk_core::config::DEFAULT_PATH)]
        config: PathBuf,
    },
}

/// Where the printer is.
#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("printer").required(true))]
pub struct Target {
    /// Serial port (e.g. /dev/kiosk/printer, /dev/ttyUSB0).
    #[arg(long, group = "printer")]
    pub port: Option<PathBuf>,
    /// Network printer, HOST[:PORT] (port 9100 if not given).
    #[arg(long, group = "printer")]
    pub tcp: Option<String>,
    /// Printer device file (e.g. /dev/usb/lp0).
    #[arg(long, group = "printer")]
    pub device: Option<PathBuf>,
    /// USB printer by VENDOR:PRODUCT in hex (e.g. 0fe6:811e), over its bulk endpoints.
    #[arg(long, group = "printer", value_parser = parse_usb_id)]
    pub usb: Option<(u16, u16)>,
    /// With --usb: the serial number that picks one of two identical printers.
    #[arg(long, requires = "usb", conflicts_with_all = ["port", "tcp", "device"])]
    pub usb_serial: Option<String>,
    /// Baud rate on --port.
    #[arg(long, default_value_t = 9600)]
    pub baud: u32,
    /// How long the printer gets to answer each status question, in milliseconds.
    #[arg(long, default_value_t = 800)]
    pub timeout_ms: u64,
}

fn parse_usb_id(s: &str) -> Result<(u16, u16), String> {
    let (v, p) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected VENDOR:PRODUCT in hex, e.g. 0fe6:811e"))?;
    let hex = |x: &str| u16::from_str_radix(x, 16).map_err(|e| format!("{x:?}: {e}"));
    Ok((hex(v)?, hex(p)?))
}

impl Target {
    /// The link as `kiosk.toml` writes it.
    fn link(&self) -> kioskctl::config_file::DeviceLink {
        use kioskctl::config_file::DeviceLink;
        match self.endpoint() {
            Endpoint::Serial { path, baud } => DeviceLink::Port {
                path,
                baud: Some(baud),
            },
            Endpoint::Device(path) => DeviceLink::Device(path),
            Endpoint::Tcp(addr) => DeviceLink::Tcp(addr),
            Endpoint::Usb {
                vendor,
                product,
                serial,
            } => DeviceLink::Usb(kiosk_core::config::UsbId { vendor, product }, serial),
        }
    }

    fn endpoint(&self) -> Endpoint {
        if let Some(path) = &self.port {
            Endpoint::Serial {
                path: path.clone(),
                baud: self.baud,
            }
        } else if let Some(addr) = &self.tcp {
            if addr
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
            {
                Endpoint::Tcp(addr.clone())
            } else {
                Endpoint::Tcp(format!("{addr}:9100"))
            }
        } else if let Some(path) = &self.device {
            Endpoint::Device(path.clone())
        } else if let Some((vendor, product)) = self.usb {
            Endpoint::Usb {
                vendor,
                product,
                serial: self.usb_serial.clone(),
            }
        } else {
            // clap's required group guarantees one of them.
            Endpoint::Device(PathBuf::from("/dev/kiosk/printer"))
        }
    }
}

/// Runs a `kioskctl printer` command.
pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match cmd {
            Command::Status { target, json } => status(&target, json).await,
            Command::TestTicket { target } => test_ticket(&target).await,
            Command::Use {
                role,
                target,
                config,
            } => {
                let link = target.link();
                kioskctl::config_file::write_device_link(&config, &role, &link)?;
                println!(
                    "[devices.{role}] in {} now names the printer; restart the app to apply it: systemctl restart kiosk-app",
                    config.display()
                );
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

async fn open(target: &Target) -> Result<Printer, ExitCode> {
    let endpoint = target.endpoint();
    match Printer::open(&endpoint, Duration::from_millis(target.timeout_ms)).await {
        Ok(printer) => Ok(printer),
        Err(err) => {
            eprintln!("{err}");
            Err(ExitCode::from(2))
        }
    }
}

async fn status(target: &Target, json: bool) -> anyhow::Result<ExitCode> {
    let mut printer = match open(target).await {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let status = match printer.status().await {
        Ok(status) => status,
        Err(err) => {
            eprintln!("{err}");
            return Ok(ExitCode::from(2));
        }
    };
    if json {
        let report = serde_json::json!({
            "location": printer.location(),
            "ready": status.can_print(),
            "problem": status.problem(),
            "advice": status.problem().map(|p| p.advice()),
            "status": status,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", human(printer.location(), &status));
    }
    Ok(if status.can_print() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn human(location: &str, status: &PrinterStatus) -> String {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let paper = match status.paper {
        PaperLevel::Ok => "ok",
        PaperLevel::NearEnd => "near end (replace the roll soon)",
        PaperLevel::Out => "OUT",
    };
    let mut out = format!("printer on {location}\n");
    out += &format!("  online       {}\n", yes_no(status.online));
    out += &format!(
        "  cover        {}\n",
        if status.cover_open { "OPEN" } else { "closed" }
    );
    out += &format!("  paper        {paper}\n");
    out += &format!(
        "  cutter       {}\n",
        if status.cutter_error { "ERROR" } else { "ok" }
    );
    let errors = [
        (status.unrecoverable_error, "unrecoverable"),
        (status.recoverable_error, "recoverable"),
        (status.auto_recoverable_error, "auto-recoverable"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, name)| *name)
    .collect::<Vec<_>>();
    out += &format!(
        "  errors       {}\n",
        if errors.is_empty() {
            "none".to_owned()
        } else {
            errors.join(", ")
        }
    );
    match status.problem() {
        None => out += "  ready        yes\n",
        Some(problem) => out += &format!("  ready        NO: {problem}\n"),
    }
    out
}

/// The ticket a technician prints to check the printer end to end.
pub fn sample_ticket() -> Ticket {
    Ticket {
        hall: "政务服务中心 打印测试".into(),
        category: "kioskctl printer test-ticket".into(),
        number: "T001".into(),
        ahead: 0,
        estimated_wait: Duration::ZERO,
        issued_at: chrono::Local::now().naive_local(),
        link: "https://example.invalid/kioskctl/test-ticket".into(),
        holder_name: None,
        priority: false,
    }
}

async fn test_ticket(target: &Target) -> anyhow::Result<ExitCode> {
    let printer = match open(target).await {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let location = printer.location().to_owned();
    let mut dispenser = Dispenser::new(printer).with_take_timeout(Duration::ZERO);
    match dispenser.issue(&sample_ticket()).await {
        Ok(issued) => {
            let paper = if issued.status.paper == PaperLevel::NearEnd {
                "; paper near end, replace the roll soon"
            } else {
                ""
            };
            let sensor = match issued.taken {
                Taken::NoSensor => "",
                Taken::Taken | Taken::NotYet => "; ticket-taken sensor answers",
            };
            println!(
                "printed a test ticket on {location} ({} bytes){paper}{sensor}",
                issued.bytes
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(
            err @ IssueError::NotReady {
                stage: Stage::Before,
                ..
            },
        ) => {
            eprintln!("printed nothing: {err}");
            Ok(ExitCode::FAILURE)
        }
        Err(
            err @ IssueError::Printer {
                stage: Stage::Before,
                ..
            },
        ) => {
            eprintln!("printed nothing: {err}");
            Ok(ExitCode::from(2))
        }
        Err(err) => {
            eprintln!("the test ticket failed: {err}; a partial ticket may be in the mouth");
            Ok(ExitCode::FAILURE)
        }
    }
}
