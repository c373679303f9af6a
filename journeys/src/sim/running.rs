//! The simulators themselves (the `simulators` feature).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use kiosk_core::config::ScannerDevice;
use kiosk_idcard::IdCard;
use kiosk_scanner::Source;
use kiosk_sim::idcard::{SimConfig, SimulatedReader};
use kiosk_sim::printer::{Config as PrinterConfig, Cover, Emulator, Paper, Server};

use crate::engine::{LoadedPages, ScanLoad};

/// The sample resident card of kiosk-sim (a fictional person).
const SAMPLE_CARD: &str = include_str!("../../../drivers/sim/cards/resident.json");

/// Which simulated printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimPrinter {
    /// The queue-ticket dispenser.
    Dispenser,
    /// The receipt printer (receipts, guide slips, 一次性告知).
    Receipt,
}

/// What the next scan will deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimPages {
    /// `n` good pages (the test backend's grid).
    Good(u32),
    /// `n` blank pages: the blank check fails them.
    Blank(u32),
}

impl SimPages {
    /// The SANE test backend picture and the page count.
    pub fn picture(self) -> (&'static str, u32) {
        match self {
            SimPages::Good(n) => ("Grid", n.max(1)),
            SimPages::Blank(n) => ("Solid white", n.max(1)),
        }
    }
}

/// Why the simulators did not start.
#[derive(Debug, thiserror::Error)]
pub enum SimStartError {
    /// The ID-card simulator.
    #[error("simulated ID-card reader: {0}")]
    Reader(#[from] kiosk_sim::idcard::SimError),
    /// A printer emulator (font missing, port).
    #[error("simulated printer: {0}")]
    Printer(#[from] kiosk_sim::printer::EmulatorError),
    /// A file.
    #[error("simulated devices: {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

struct Shared {
    reader: SimulatedReader,
    dispenser: Emulator,
    receipt: Emulator,
    pages: Mutex<SimPages>,
    slow_scanner: std::sync::atomic::AtomicBool,
    scan_panics: std::sync::atomic::AtomicBool,
}

/// The tester's controls (the simulate panel, the headless script, tests). Cheap to clone.
#[derive(Clone)]
pub struct SimControls {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SimControls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimControls")
    }
}

impl SimControls {
    /// Lays a card on the reader.
    pub fn present_card(&self, card: &IdCard) {
        if let Err(err) = self.shared.reader.set_card(Some(card)) {
            tracing::warn!(%err, "simulated reader refused the card");
        }
    }

    /// Lays kiosk-sim's sample resident card on the reader.
    pub fn present_sample_card(&self) {
        self.present_card(&sample_card());
    }

    /// Takes the card away.
    pub fn remove_card(&self) {
        let _ = self.shared.reader.set_card(None);
    }

    /// Takes the card away and waits until the reader has polled without it (a card put
    /// back sooner would look to the reader as if it had never left).
    pub async fn take_card_away(&self) {
        self.remove_card();
        tokio::time::sleep(kiosk_idcard::MIN_POLL_INTERVAL * 3).await;
    }

    /// What the next scan delivers.
    pub fn load_pages(&self, pages: SimPages) {
        if let Ok(mut p) = self.shared.pages.lock() {
            *p = pages;
        }
    }

    /// What is loaded for the next scan.
    pub fn pages(&self) -> SimPages {
        self.shared
            .pages
            .lock()
            .map(|p| *p)
            .unwrap_or(SimPages::Good(1))
    }

    /// Makes the scanner slow (or fast again): SANE's test backend hands the page over in
    /// 4 KiB reads with 20 ms after each, so a page takes several seconds.
    pub fn set_slow_scanner(&self, slow: bool) {
        self.shared
            .slow_scanner
            .store(slow, std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes the next scan's task panic where it asks what is loaded: fault injection for the
    /// engine's recovery of a lost device task.
    pub fn panic_on_next_scan(&self) {
        self.shared
            .scan_panics
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The SANE test backend's options for the next scan: the picture loaded, and the read
    /// limit and delay when the scanner is slow.
    pub fn scan_options(&self) -> (u32, Vec<(String, String)>) {
        let (picture, pages) = self.pages().picture();
        let mut options = vec![("test-picture".to_owned(), picture.to_owned())];
        if self
            .shared
            .slow_scanner
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            for (option, value) in [
                ("read-limit", "yes"),
                ("read-limit-size", "4096"),
                ("read-delay", "yes"),
                ("read-delay-duration", "20000"),
            ] {
                options.push((option.to_owned(), value.to_owned()));
            }
        }
        (pages, options)
    }

    /// Fits or removes the presenter with its ticket-taken sensor on a printer: with it, a
    /// ticket waits in the mouth until [`SimControls::take_ticket`], and a dispenser started
    /// with a take timeout ([`crate::EngineOptions::ticket_take_timeout`]) waits with it.
    pub fn set_presenter(&self, which: SimPrinter, presenter: bool) {
        self.emulator(which).set_presenter(presenter);
    }

    fn emulator(&self, which: SimPrinter) -> &Emulator {
        match which {
            SimPrinter::Dispenser => &self.shared.dispenser,
            SimPrinter::Receipt => &self.shared.receipt,
        }
    }

    /// Paper loaded, near its end, or out.
    pub fn set_paper(&self, which: SimPrinter, paper: Paper) {
        self.emulator(which).set_paper(paper);
    }

    /// Cover open or closed.
    pub fn set_cover(&self, which: SimPrinter, cover: Cover) {
        self.emulator(which).set_cover(cover);
    }

    /// The citizen takes the ticket from the mouth.
    pub fn take_ticket(&self, which: SimPrinter) {
        self.emulator(which).take_ticket();
    }

    /// PNGs the printer has cut so far in this run.
    pub fn printed(&self, which: SimPrinter) -> Vec<PathBuf> {
        self.emulator(which).tickets()
    }
}

/// The simulator says what it loaded: the pictures for SANE's test backend, taken from the
/// feeder when there are several pages.
impl ScanLoad for SimControls {
    #[allow(clippy::panic)]
    fn next_scan(&self) -> LoadedPages {
        if self
            .shared
            .scan_panics
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            panic!("simulated fault in the scan task");
        }
        let (pages, extra_options) = self.scan_options();
        LoadedPages {
            source: if pages > 1 {
                Source::Feeder
            } else {
                Source::Flatbed
            },
            pages: Some(pages),
            extra_options,
        }
    }
}

/// The running simulators; stopped when dropped.
pub struct SimDevices {
    controls: SimControls,
    _dispenser_server: Server,
    _receipt_server: Server,
    /// The reader's PTY link.
    pub idcard_link: PathBuf,
    /// The dispenser's TCP address.
    pub dispenser_addr: String,
    /// The receipt printer's TCP address.
    pub receipt_addr: String,
    /// The SANE device of the scanner.
    /// The scanner: SANE's test backend, at 75 dpi so that a simulated scan takes a moment.
    pub scanner: ScannerDevice,
}

impl SimDevices {
    /// Starts the simulators for a kiosk with data in `data_dir`. Sets `SANE_CONFIG_DIR` to a
    /// folder that loads only SANE's `test` backend: call before any scanner is started.
    pub fn start(data_dir: &Path) -> Result<SimDevices, SimStartError> {
        let sim_dir = data_dir.join("sim");
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| SimStartError::Io { path, source }
        };
        std::fs::create_dir_all(&sim_dir).map_err(io(&sim_dir))?;
        let sane = sim_dir.join("sane");
        std::fs::create_dir_all(&sane).map_err(io(&sane))?;
        std::fs::write(sane.join("dll.conf"), "test\n").map_err(io(&sane))?;
        std::fs::write(
            sane.join("test.conf"),
            "number_of_devices 1\nresolution 75.0\ngeometry_max 300.0\nbr_x 210.0\nbr_y 297.0\n",
        )
        .map_err(io(&sane))?;
        // SAFETY: the simulators start before the scanner thread and before anything else
        // of this process reads SANE's environment; libsane reads it at sane_init.
        unsafe { std::env::set_var("SANE_CONFIG_DIR", &sane) };

        let idcard_link = sim_dir.join("idcard");
        let _ = std::fs::remove_file(&idcard_link);
        let reader = SimulatedReader::start(
            &idcard_link,
            SimConfig {
                pace: false,
                ..SimConfig::default()
            },
        )?;
        let printed = data_dir.join("printed");
        let dispenser = Emulator::new(PrinterConfig::new(printed.join("dispenser")))?;
        let receipt = Emulator::new(PrinterConfig::new(printed.join("receipt")))?;
        let dispenser_server = dispenser.serve_tcp("127.0.0.1:0")?;
        let receipt_server = receipt.serve_tcp("127.0.0.1:0")?;
        let addr = |s: &Server| s.tcp_addr().map(|a| a.to_string()).unwrap_or_default();
        Ok(SimDevices {
            dispenser_addr: addr(&dispenser_server),
            receipt_addr: addr(&receipt_server),
            idcard_link,
            scanner: ScannerDevice {
                device: "test:0".into(),
                dpi: 75,
                feeder: false,
            },
            controls: SimControls {
                shared: Arc::new(Shared {
                    reader,
                    dispenser,
                    receipt,
                    pages: Mutex::new(SimPages::Good(1)),
                    slow_scanner: std::sync::atomic::AtomicBool::new(false),
                    scan_panics: std::sync::atomic::AtomicBool::new(false),
                }),
            },
            _dispenser_server: dispenser_server,
            _receipt_server: receipt_server,
        })
    }

    /// The controls.
    pub fn controls(&self) -> SimControls {
        self.controls.clone()
    }
}

/// kiosk-sim's sample resident card.
pub fn sample_card() -> IdCard {
    serde_json::from_str(SAMPLE_CARD).expect("invariant: kiosk-sim's sample card parses")
}

/// A fictional card for scripted citizen `n`, born on `birth_date`, with a valid number.
pub fn citizen_card(n: u32, birth_date: NaiveDate) -> IdCard {
    const SURNAMES: [&str; 8] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄"];
    const GIVEN: [&str; 8] = ["建国", "秀英", "伟", "晓燕", "志强", "丽娟", "海涛", "静"];
    let mut card = sample_card();
    card.name = format!(
        "{}{}",
        SURNAMES[(n % 8) as usize],
        GIVEN[((n / 8) % 8) as usize]
    );
    let first17 = format!("110105{}{:03}", birth_date.format("%Y%m%d"), n % 1000);
    let check = kiosk_idcard::card::check_character(&first17).unwrap_or('0');
    card.id_number = format!("{first17}{check}");
    card.birth_date = birth_date;
    card
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_citizens_have_valid_distinct_numbers() {
        let born = NaiveDate::from_ymd_opt(1950, 3, 4).unwrap();
        let a = citizen_card(1, born);
        let b = citizen_card(2, born);
        assert!(kiosk_idcard::card::id_number_is_valid(&a.id_number));
        assert_ne!(a.id_number, b.id_number);
        assert_eq!(&a.id_number[6..14], "19500304");
    }
}
