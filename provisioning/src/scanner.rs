//! `kioskctl scanner`: list SANE scanners and run a real scan through the kiosk's own
//! pipeline (page checks, compression, PDF), for installation and repair.
//!
//! Scans are personal data: nothing here prints or logs their content, only sizes and
//! check results.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use kiosk_scanner::{
    AcceptedPage, CheckThresholds, ColorMode, CompressSettings, PageReport, ScanEnd, ScanError,
    ScanEvent, ScanSettings, Scanner, Source, assemble_pdf, check_page, compress_page,
};
use serde_json::{Value, json};

/// Exit status when the scan ran but at least one page failed its checks (the PDF then
/// holds only the accepted pages, or is not written when none was accepted).
pub const EXIT_PAGES_REJECTED: u8 = 3;

/// `kioskctl scanner ...`
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// List the scanners SANE can see.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Scan pages, check them, and write the accepted ones to a PDF.
    Scan(ScanArgs),
}

/// Where the paper is, on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum SourceArg {
    /// The automatic document feeder.
    Feeder,
    /// The glass.
    Flatbed,
}

/// Colour mode, on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ModeArg {
    /// 24-bit colour (the kiosk's default: the pipeline drops colour where it adds nothing).
    Color,
    /// 8-bit gray.
    Gray,
}

/// Options of `kioskctl scanner scan`.
#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// SANE device name, as `kioskctl scanner list` shows it.
    #[arg(long)]
    pub device: String,
    /// Flatbed or feeder.
    #[arg(long, value_enum, default_value = "flatbed")]
    pub source: SourceArg,
    /// Pages to scan: from the feeder at most this many (default: until it is empty),
    /// from the flatbed this many scans (default 1).
    #[arg(long)]
    pub pages: Option<u32>,
    /// Resolution in dots per inch (the device snaps it to the nearest it offers).
    #[arg(long, default_value_t = 300)]
    pub dpi: u32,
    /// Colour mode.
    #[arg(long, value_enum, default_value = "color")]
    pub mode: ModeArg,
    /// A backend option, NAME=VALUE (repeatable), e.g. for a model's quirk.
    #[arg(long = "option", value_name = "NAME=VALUE")]
    pub options: Vec<String>,
    /// The PDF to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `kioskctl scanner` command.
pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cmd {
        Command::List { json } => runtime.block_on(list(json)),
        Command::Scan(args) => runtime.block_on(scan(args)),
    }
}

async fn list(json: bool) -> anyhow::Result<ExitCode> {
    let scanner = Scanner::start().await.context("starting SANE")?;
    let devices = scanner.list().await.context("listing scanners")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&devices)?);
    } else if devices.is_empty() {
        println!("no scanners found (check the USB cable, power, and `lsusb`)");
    } else {
        println!("{:<32} {:<16} {:<28} kind", "name", "vendor", "model");
        for d in &devices {
            println!("{:<32} {:<16} {:<28} {}", d.name, d.vendor, d.model, d.kind);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One scanned page as the technician sees it.
struct PageOutcome {
    number: u32,
    width: u32,
    height: u32,
    report: PageReport,
    stored: AcceptedPage,
}

async fn scan(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let settings = ScanSettings {
        source: match args.source {
            SourceArg::Feeder => Source::Feeder,
            SourceArg::Flatbed => Source::Flatbed,
        },
        dpi: args.dpi,
        mode: match args.mode {
            ModeArg::Color => ColorMode::Color,
            ModeArg::Gray => ColorMode::Gray,
        },
        area_mm: Some((210.0, 297.0)),
        extra_options: args
            .options
            .iter()
            .map(|o| {
                o.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .with_context(|| format!("--option {o:?}: expected NAME=VALUE"))
            })
            .collect::<anyhow::Result<_>>()?,
    };
    let scanner = Scanner::start().await.context("starting SANE")?;
    let opened = scanner.open(&args.device, settings).await?;
    let limits = CheckThresholds::default();
    let compress = CompressSettings::default();

    let mut outcomes = Vec::new();
    let mut events = scanner.scan_pages(args.pages);
    let ending: Result<ScanEnd, ScanError> = loop {
        let Some(event) = events.recv().await else {
            break Err(ScanError::WorkerGone);
        };
        match event {
            ScanEvent::PageStarted { number, .. } if !args.json => {
                eprintln!("scanning page {number}...");
            }
            ScanEvent::PageDone(page) => {
                let report = check_page(&page.image, &limits);
                let stored = compress_page(&page.image, &compress)
                    .with_context(|| format!("compressing page {}", page.number))?;
                outcomes.push(PageOutcome {
                    number: page.number,
                    width: page.image.width,
                    height: page.image.height,
                    report,
                    stored,
                });
            }
            ScanEvent::Finished { end, .. } => break Ok(end),
            ScanEvent::Failed(e) => break Err(e),
            ScanEvent::PageStarted { .. } | ScanEvent::Progress { .. } => {}
        }
    };

    // Only a clean run produces a PDF: after a jam the applicant's set is incomplete.
    let accepted: Vec<AcceptedPage> = outcomes
        .iter()
        .filter(|o| o.report.accepted())
        .map(|o| o.stored.clone())
        .collect();
    let pdf = match (&ending, accepted.is_empty()) {
        (Ok(_), false) => {
            let bytes = assemble_pdf(&accepted).context("assembling the PDF")?;
            std::fs::write(&args.out, &bytes)
                .with_context(|| format!("writing {}", args.out.display()))?;
            Some(bytes.len())
        }
        _ => None,
    };

    if args.json {
        let pages: Vec<Value> = outcomes.iter().map(page_json).collect();
        let doc = json!({
            "device": opened.name,
            "dpi": opened.dpi,
            "source": opened.settings.source,
            "end": match &ending { Ok(end) => json!(end), Err(_) => Value::Null },
            "error": ending.as_ref().err().map(|e| e.to_string()),
            "pages": pages,
            "pdf": pdf.map(|bytes| json!({
                "path": args.out.display().to_string(),
                "pages": accepted.len(),
                "bytes": bytes,
            })),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print_table(&outcomes);
        match pdf {
            Some(bytes) => println!(
                "wrote {} ({} pages, {bytes} bytes)",
                args.out.display(),
                accepted.len()
            ),
            None => println!("no PDF written"),
        }
    }

    ending.map_err(anyhow::Error::from)?;
    if outcomes.iter().all(|o| o.report.accepted()) {
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(EXIT_PAGES_REJECTED))
    }
}

fn page_json(o: &PageOutcome) -> Value {
    json!({
        "number": o.number,
        "width_px": o.width,
        "height_px": o.height,
        "accepted": o.report.accepted(),
        "checks": o.report.results,
        "skew_degrees": o.report.skew_degrees,
        "storage": o.stored.storage,
        "bytes": o.stored.data.len(),
    })
}

fn print_table(outcomes: &[PageOutcome]) {
    println!(
        "{:<5} {:>11} {:<9} {:<8} {:>9}  failed checks",
        "page", "pixels", "verdict", "storage", "bytes"
    );
    for o in outcomes {
        let failed: Vec<String> = o
            .report
            .results
            .iter()
            .filter(|r| !r.passed)
            .map(|r| format!("{:?} ({:.2} vs limit {:.2})", r.check, r.measured, r.limit))
            .collect();
        println!(
            "{:<5} {:>11} {:<9} {:<8} {:>9}  {}",
            o.number,
            format!("{}x{}", o.width, o.height),
            if o.report.accepted() {
                "accepted"
            } else {
                "REJECTED"
            },
            format!("{:?}", o.stored.storage).to_lowercase(),
            o.stored.data.len(),
            failed.join(", ")
        );
    }
}
