//! The printer's mechanism state (paper, cover, presenter) and the engine that turns received
//! bytes into status answers and finished tickets.

use std::sync::{Arc, Mutex};

use image::GrayImage;
use kiosk_escpos::stream::{self, Command, Parsed};
use kiosk_escpos::{PaperLevel, PrinterStatus};

use super::font::Glyphs;
use super::render::{PaperWidth, Renderer};

/// The paper roll as the emulator's sensors see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Paper {
    /// Enough paper.
    Ok,
    /// Near-end sensor triggered: prints, but says so.
    NearEnd,
    /// No paper: nothing prints.
    Out,
}

/// The paper cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Cover {
    /// Closed: can print.
    Closed,
    /// Open: nothing prints.
    Open,
}

/// What the mechanism is doing, changed by tests and the control input at any time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mechanism {
    /// Paper state.
    pub paper: Paper,
    /// Cover state.
    pub cover: Cover,
    /// Whether this printer has a presenter with a ticket-taken sensor.
    pub presenter: bool,
    /// A cut ticket waits in the presenter's mouth.
    pub ticket_waiting: bool,
}

impl Mechanism {
    /// The status the printer reports.
    pub fn status(&self) -> PrinterStatus {
        let paper = match self.paper {
            Paper::Ok => PaperLevel::Ok,
            Paper::NearEnd => PaperLevel::NearEnd,
            Paper::Out => PaperLevel::Out,
        };
        let cover_open = self.cover == Cover::Open;
        PrinterStatus {
            online: paper != PaperLevel::Out && !cover_open,
            cover_open,
            paper,
            ..PrinterStatus::default()
        }
    }

    /// Whether print data would print now.
    pub fn can_print(&self) -> bool {
        self.status().online
    }
}

/// What feeding bytes produced.
#[derive(Debug, Default)]
pub struct Output {
    /// Bytes to send back (status answers).
    pub answers: Vec<u8>,
    /// Tickets cut, in order.
    pub tickets: Vec<GrayImage>,
    /// Tickets lost because the printer was offline while they were sent.
    pub spoiled: usize,
}

/// Parses a byte stream incrementally and runs it against the mechanism and the renderer.
pub struct Engine {
    pending: Vec<u8>,
    renderer: Renderer,
    mechanism: Arc<Mutex<Mechanism>>,
    spoiled: bool,
    /// This printer model answers `GS a`.
    automatic_supported: bool,
    /// The enable bits of the last `GS a n` (0: off).
    automatic_bits: u8,
    /// The last automatic status block sent, to send the next only on a change.
    automatic_sent: Option<[u8; 4]>,
}

/// Bytes kept while waiting for the rest of a command; beyond this the stream is junk.
const MAX_PENDING: usize = stream::MAX_BLOCK + 16;

impl Engine {
    /// An engine on `paper`, sharing `mechanism` with whoever controls the emulator.
    pub fn new(glyphs: Arc<Glyphs>, paper: PaperWidth, mechanism: Arc<Mutex<Mechanism>>) -> Self {
        Self {
            pending: Vec::new(),
            renderer: Renderer::new(glyphs, paper),
            mechanism,
            spoiled: false,
            automatic_supported: true,
            automatic_bits: 0,
            automatic_sent: None,
        }
    }

    /// Whether this printer answers `GS a` (a TM-T88 does; many cheap printers ignore it).
    pub fn with_automatic_status(mut self, supported: bool) -> Self {
        self.automatic_supported = supported;
        self
    }

    /// The automatic status block to send now, if automatic status is on and the state it
    /// reports changed since the last block. The server calls this between reads: a real
    /// printer sends the block when its sensors change, unasked.
    pub fn automatic_update(&mut self) -> Option<[u8; 4]> {
        if self.automatic_bits == 0 {
            return None;
        }
        let block = self.mechanism().status().automatic();
        if self.automatic_sent == Some(block) {
            return None;
        }
        self.automatic_sent = Some(block);
        Some(block)
    }

    fn mechanism(&self) -> Mechanism {
        match self.mechanism.lock() {
            Ok(m) => *m,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    /// Feeds received bytes.
    pub fn feed(&mut self, bytes: &[u8]) -> Output {
        self.pending.extend_from_slice(bytes);
        let mut out = Output::default();
        let mut used_total = 0;
        loop {
            let rest = &self.pending[used_total..];
            if rest.is_empty() {
                break;
            }
            match stream::next_command(rest) {
                Parsed::Command(command, used) => {
                    used_total += used.clamp(1, rest.len());
                    self.run(&command, &mut out);
                }
                Parsed::Incomplete => {
                    if rest.len() > MAX_PENDING {
                        used_total += 1;
                        continue;
                    }
                    break;
                }
            }
        }
        self.pending.drain(..used_total);
        out
    }

    /// Ends the stream: the page never cut comes out as a last ticket.
    pub fn finish(&mut self) -> Option<GrayImage> {
        self.renderer.finish()
    }

    /// Barcodes the renderer skipped.
    pub fn barcodes_skipped(&self) -> usize {
        self.renderer.barcodes_skipped()
    }

    fn run(&mut self, command: &Command, out: &mut Output) {
        let mechanism = self.mechanism();
        match command {
            Command::Status { n, a } => {
                if let Some(byte) = answer(&mechanism, *n, *a) {
                    out.answers.push(byte);
                }
            }
            // GS r is processed in turn with print data, so a printer stopped by paper end
            // or an open cover never gets to it: no answer.
            Command::TransmitStatus(1 | 49) if mechanism.can_print() => {
                let status = mechanism.status();
                out.answers.push(match status.paper {
                    PaperLevel::Ok => 0x00,
                    PaperLevel::NearEnd => 0x03,
                    PaperLevel::Out => 0x0F,
                });
            }
            // Epson: enabling sends the status at once; later blocks follow each change.
            Command::AutoStatus(bits) if self.automatic_supported => {
                self.automatic_bits = *bits & kiosk_escpos::status::AUTOMATIC_STATUS_BITS;
                self.automatic_sent = None;
                if let Some(block) = self.automatic_update() {
                    out.answers.extend_from_slice(&block);
                }
            }
            Command::TransmitStatus(_) | Command::AutoStatus(_) => {}
            _ if !mechanism.can_print() => {
                // An offline printer prints nothing of this ticket; a real one might print
                // half. Either way the ticket is not good, and it is not kept.
                if !matches!(command, Command::Skipped(_)) {
                    self.spoiled = true;
                }
                if matches!(command, Command::Cut { .. }) {
                    let _ = self.renderer.apply(command);
                    self.spoiled = false;
                    out.spoiled += 1;
                }
            }
            _ => {
                if let Some(ticket) = self.renderer.apply(command) {
                    if std::mem::take(&mut self.spoiled) {
                        out.spoiled += 1;
                    } else {
                        out.tickets.push(ticket);
                        if mechanism.presenter
                            && let Ok(mut m) = self.mechanism.lock()
                        {
                            m.ticket_waiting = true;
                        }
                    }
                }
            }
        }
    }
}

/// The answer to `DLE EOT n [a]` in this mechanism state.
fn answer(mechanism: &Mechanism, n: u8, a: Option<u8>) -> Option<u8> {
    let replies = mechanism.status().replies();
    match (n, a) {
        (1..=4, None) => Some(replies[usize::from(n - 1)]),
        (8, Some(3)) if mechanism.presenter => {
            Some(if mechanism.ticket_waiting { 0x16 } else { 0x12 })
        }
        // Questions a printer without that unit does not answer.
        _ => None,
    }
}
