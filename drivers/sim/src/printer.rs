//! ESC/POS thermal printer emulator: parses the byte stream a driver sends, answers status
//! questions from a mechanism state the test chooses, and renders each cut ticket to a PNG
//! laid out as a 203-dpi printer would print it.
//!
//! Used as a library by tests (`Emulator::new(Config)`, then `serve_tcp` / `serve_pty`,
//! `set_paper`, `set_cover`, `take_ticket`, `wait_for_tickets`), and as `kiosk-sim printer`.
//! The command reads control lines on standard input while it runs: `paper ok|near-end|out`,
//! `cover open|closed`, `take`.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;

pub mod engine;
pub mod font;
pub mod render;
pub mod server;

pub use engine::{Cover, Engine, Mechanism, Paper};
pub use render::PaperWidth;
pub use server::{Config, Emulator, EmulatorError, Location, Server};

/// Options of `kiosk-sim printer`.
#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("listen").required(true))]
pub struct Args {
    /// Listen on a TCP address, like a network printer's port 9100 (e.g. 127.0.0.1:9100).
    #[arg(long, group = "listen")]
    pub tcp: Option<String>,
    /// Publish a pseudo-terminal at this path, like a serial printer (e.g. /tmp/printer).
    #[arg(long, group = "listen")]
    pub link: Option<PathBuf>,
    /// Directory for ticket-NNNN.png.
    #[arg(long)]
    pub out: PathBuf,
    /// Paper state at start.
    #[arg(long, value_enum, default_value = "ok")]
    pub paper: Paper,
    /// Cover state at start.
    #[arg(long, value_enum, default_value = "closed")]
    pub cover: Cover,
    /// Paper roll width in millimetres.
    #[arg(long, value_enum, default_value = "80")]
    pub width: PaperWidth,
    /// Emulate a presenter with a ticket-taken sensor (answers DLE EOT 8 3).
    #[arg(long)]
    pub presenter: bool,
    /// On --link, answer only at this baud rate.
    #[arg(long)]
    pub baud: Option<u32>,
    /// Emulate a printer without automatic status back: `GS a` is ignored, as cheap
    /// printers do.
    #[arg(long)]
    pub no_automatic_status: bool,
    #[command(flatten)]
    pub font: FontArgs,
}

/// Font options shared by `printer` and `render`.
#[derive(clap::Args, Debug)]
pub struct FontArgs {
    /// CJK font file (a TrueType/OpenType font or collection); default $KIOSK_CJK_FONT, else
    /// Debian's Noto Sans CJK.
    #[arg(long)]
    pub font: Option<PathBuf>,
    /// Face index in the font file (7 = Noto Sans Mono CJK SC in Debian's collection).
    #[arg(long, default_value_t = font::DEFAULT_FONT_INDEX)]
    pub font_index: u32,
}

impl FontArgs {
    /// The font file to load.
    pub fn path(&self) -> PathBuf {
        self.font.clone().unwrap_or_else(|| Config::new("").font)
    }
}

/// Options of `kiosk-sim render`.
#[derive(clap::Args, Debug)]
pub struct RenderArgs {
    /// A captured ESC/POS byte stream.
    pub file: PathBuf,
    /// The PNG to write; further tickets of the stream go to NAME-2.png, NAME-3.png, ...
    #[arg(long)]
    pub out: PathBuf,
    /// Paper roll width in millimetres.
    #[arg(long, value_enum, default_value = "80")]
    pub width: PaperWidth,
    #[command(flatten)]
    pub font: FontArgs,
}

/// Runs the emulator until interrupted.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = Config {
        out_dir: args.out.clone(),
        paper_width: args.width,
        font: args.font.path(),
        font_index: args.font.font_index,
        paper: args.paper,
        cover: args.cover,
        presenter: args.presenter,
        baud: args.baud,
        automatic_status: !args.no_automatic_status,
    };
    let emulator = Emulator::new(config)?;
    let server = match (&args.tcp, &args.link) {
        (Some(addr), _) => emulator.serve_tcp(addr)?,
        (None, Some(link)) => emulator.serve_pty(link)?,
        (None, None) => anyhow::bail!("give --tcp ADDR or --link PATH"),
    };
    let where_ = match server.location() {
        Location::Tcp(addr) => format!("tcp {addr}"),
        Location::Pty(path) => format!("pty {}", path.display()),
    };
    // One line a script can wait for before it connects.
    println!(
        "printer emulator listening on {where_}, tickets in {}",
        args.out.display()
    );
    std::io::stdout().flush().context("writing to stdout")?;

    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        match control(&emulator, line.trim()) {
            Ok(()) => {}
            Err(msg) => eprintln!("{msg}"),
        }
    }
    // Standard input closed (or never open): keep serving until killed.
    loop {
        std::thread::park();
    }
}

fn control(emulator: &Emulator, line: &str) -> Result<(), String> {
    let mut words = line.split_whitespace();
    match (words.next(), words.next()) {
        (Some("paper"), Some(state)) => {
            emulator.set_paper(Paper::from_str(state, true).map_err(|e| format!("paper: {e}"))?);
        }
        (Some("cover"), Some(state)) => {
            emulator.set_cover(Cover::from_str(state, true).map_err(|e| format!("cover: {e}"))?);
        }
        (Some("take"), None) => emulator.take_ticket(),
        (None, _) => {}
        _ => {
            return Err(format!(
                "unknown control {line:?}; use `paper ok|near-end|out`, `cover open|closed` or `take`"
            ));
        }
    }
    Ok(())
}

/// Renders a captured stream.
pub fn render(args: RenderArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read the stream {}", args.file.display()))?;
    let glyphs = std::sync::Arc::new(font::Glyphs::load(&args.font.path(), args.font.font_index)?);
    let mechanism = std::sync::Arc::new(std::sync::Mutex::new(Mechanism {
        paper: Paper::Ok,
        cover: Cover::Closed,
        presenter: false,
        ticket_waiting: false,
    }));
    let mut engine = Engine::new(glyphs, args.width, mechanism);
    let mut pages = engine.feed(&bytes).tickets;
    pages.extend(engine.finish());
    if pages.is_empty() {
        eprintln!("{}: nothing printable in the stream", args.file.display());
        return Ok(ExitCode::FAILURE);
    }
    for (i, page) in pages.iter().enumerate() {
        let path = if i == 0 {
            args.out.clone()
        } else {
            let stem = args.out.file_stem().unwrap_or_default().to_string_lossy();
            args.out.with_file_name(format!("{stem}-{}.png", i + 1))
        };
        page.save_with_format(&path, image::ImageFormat::Png)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", path.display());
    }
    if engine.barcodes_skipped() > 0 {
        eprintln!(
            "note: {} barcode(s) in the stream are not drawn by the emulator",
            engine.barcodes_skipped()
        );
    }
    Ok(ExitCode::SUCCESS)
}
