//! The devices as the engine holds them: the reader as a task forwarding card events, the
//! two ESC/POS printers (dispenser and receipt printer) opened lazily and reopened after a
//! fault, the SANE scanner on its own thread. Each keeps its last health.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kiosk_api::citizen::VoidReason;
use kiosk_core::config::{PrinterDevice, ReaderLink, ScannerDevice};
use kiosk_dispenser::{Dispenser, IssueError, Slip};
use kiosk_escpos::{DEFAULT_STATUS_TIMEOUT, Endpoint, Printer, PrinterError, Problem};
use kiosk_hal::{Backoff, DeviceHealth, DeviceKind, HealthState};
use kiosk_idcard::{ReaderConfig, ReaderEvent};
use kiosk_scanner::{
    AcceptedPage, CheckThresholds, ColorMode, CompressSettings, ScanEvent, ScanSettings, Scanner,
    Source, assemble_pdf, check_page, compress_page,
};
use tokio::sync::{mpsc, watch};

use crate::machines::ScanOutcome;
use crate::model::{PageCheckView, Text};

/// The driver endpoint of a configured printer.
pub fn printer_endpoint(device: &PrinterDevice) -> Option<Endpoint> {
    if let Some(port) = &device.port {
        return Some(Endpoint::Serial {
            path: port.clone(),
            baud: device.baud.unwrap_or(9600),
        });
    }
    if let Some(path) = &device.device {
        return Some(Endpoint::Device(path.clone()));
    }
    if let Some(id) = device.usb {
        return Some(Endpoint::Usb {
            vendor: id.vendor,
            product: id.product,
            serial: device.usb_serial.clone(),
        });
    }
    device.tcp.clone().map(Endpoint::Tcp)
}

/// The reader task's configuration for a configured reader.
pub fn reader_config(link: &ReaderLink) -> ReaderConfig {
    match link {
        ReaderLink::Serial { port, baud } => {
            ReaderConfig::serial(port.display().to_string(), *baud)
        }
        ReaderLink::Usb(id, serial) => ReaderConfig::usb(id.vendor, id.product, serial.clone()),
    }
}

/// Starts the reader task (its I/O on tokio's blocking pool, never the UI thread); card
/// events and health come out of the channels.
pub(super) fn spawn_reader(
    config: ReaderConfig,
) -> (mpsc::Receiver<ReaderEvent>, watch::Receiver<DeviceHealth>) {
    let (events_tx, events) = mpsc::channel(16);
    let mut reader = kiosk_idcard::spawn(config);
    let (health_tx, health) = watch::channel(reader.health());
    tokio::spawn(async move {
        // Health is re-read at least every two seconds even without card events.
        while !events_tx.is_closed() {
            match tokio::time::timeout(Duration::from_secs(2), reader.next_event()).await {
                Ok(Some(event)) => {
                    let _ = health_tx.send(reader.health());
                    if events_tx.send(event).await.is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    let health = reader.health();
                    health_tx.send_if_modified(|old| {
                        let changed = old.state != health.state;
                        *old = health;
                        changed
                    });
                }
            }
        }
        reader.shutdown().await;
    });
    (events, health)
}

/// Why a print failed, from the driver's error.
fn void_reason_of(err: &IssueError) -> VoidReason {
    match err {
        IssueError::NotReady { problem, .. } => void_reason_for(*problem),
        IssueError::Printer { .. } => VoidReason::PrinterError,
        IssueError::Layout { .. } => VoidReason::LayoutError,
    }
}

/// The void reason of a printer's reported problem.
pub(super) fn void_reason_for(problem: Problem) -> VoidReason {
    match problem {
        Problem::PaperOut => VoidReason::PaperOut,
        Problem::CoverOpen => VoidReason::CoverOpen,
        Problem::CutterError => VoidReason::CutterError,
        Problem::UnrecoverableError => VoidReason::UnrecoverableError,
        Problem::RecoverableError => VoidReason::RecoverableError,
        Problem::Offline => VoidReason::Offline,
    }
}

/// Why a ticket did not print cleanly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PrintFailure {
    /// What went wrong.
    pub reason: VoidReason,
    /// The failure came while or after the ticket was sent: a ticket (perhaps partial) may
    /// be in the citizen's hand, so its number must stay callable.
    pub maybe_printed: bool,
}

/// What opens a printer slot again: its role, where it is, the ticket-take timeout.
#[derive(Debug, Clone)]
pub(super) struct PrinterRecipe {
    kind: DeviceKind,
    endpoint: Endpoint,
    take_timeout: Option<Duration>,
    automatic_status: bool,
}

/// A printer used as the dispenser or the receipt printer.
pub(super) struct PrinterSlot {
    kind: DeviceKind,
    endpoint: Endpoint,
    device: Option<Dispenser>,
    take_timeout: Option<Duration>,
    /// Turn on the printer's automatic status back at each open (`[devices.*]
    /// automatic_status`).
    automatic_status: bool,
    /// When an idle refresh may try to open a printer that could not be opened.
    backoff: Backoff,
    /// Last health seen.
    pub health: DeviceHealth,
}

/// First and longest wait before an idle refresh reopens a printer that is gone. A print a
/// citizen asks for always tries at once.
const REOPEN_FIRST: Duration = Duration::from_secs(2);
const REOPEN_MAX: Duration = Duration::from_secs(60);

impl PrinterSlot {
    pub(super) fn new(
        kind: DeviceKind,
        endpoint: Endpoint,
        take_timeout: Option<Duration>,
    ) -> Self {
        let health = DeviceHealth::now(kind, endpoint.to_string(), HealthState::Absent);
        PrinterSlot {
            kind,
            endpoint,
            device: None,
            take_timeout,
            automatic_status: true,
            backoff: Backoff::new(REOPEN_FIRST, REOPEN_MAX),
            health,
        }
    }

    /// Whether to turn on automatic status back at each open.
    pub(super) fn with_automatic_status(mut self, on: bool) -> Self {
        self.automatic_status = on;
        self
    }

    /// Other reopen timing (tests wait milliseconds, not seconds).
    #[cfg(test)]
    fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How to open this printer again.
    pub(super) fn recipe(&self) -> PrinterRecipe {
        PrinterRecipe {
            kind: self.kind,
            endpoint: self.endpoint.clone(),
            take_timeout: self.take_timeout,
            automatic_status: self.automatic_status,
        }
    }

    /// A slot for the printer `recipe` describes, opened at its first use.
    pub(super) fn from_recipe(recipe: PrinterRecipe) -> Self {
        PrinterSlot::new(recipe.kind, recipe.endpoint, recipe.take_timeout)
            .with_automatic_status(recipe.automatic_status)
    }

    async fn open(&mut self) -> Option<&mut Dispenser> {
        if self.device.is_none() {
            match Printer::open(&self.endpoint, DEFAULT_STATUS_TIMEOUT).await {
                Ok(mut printer) => {
                    if self.automatic_status
                        && let Err(err) = printer.enable_automatic_status().await
                    {
                        self.opening_failed(&err);
                        return None;
                    }
                    self.backoff.succeeded();
                    let mut dispenser = Dispenser::new(printer);
                    match (self.kind, self.take_timeout) {
                        (DeviceKind::Dispenser, Some(t)) if t.is_zero() => {
                            dispenser = dispenser.with_sensor(false);
                        }
                        (DeviceKind::Dispenser, Some(t)) => {
                            dispenser = dispenser.with_take_timeout(t);
                        }
                        (DeviceKind::Dispenser, None) => {}
                        _ => dispenser = dispenser.with_sensor(false),
                    }
                    self.device = Some(dispenser);
                }
                Err(err) => {
                    self.opening_failed(&err);
                    return None;
                }
            }
        }
        self.device.as_mut()
    }

    fn opening_failed(&mut self, err: &PrinterError) {
        self.backoff.failed(Instant::now());
        // Unplugged (no node, no USB device) is "absent", not a fault of the printer.
        let state = if err.is_absent() {
            HealthState::Absent
        } else {
            HealthState::Fault(err.to_string())
        };
        if self.health.state != state {
            tracing::warn!(device = self.kind.label(), %err, "printer cannot be opened");
        }
        self.health = DeviceHealth::now(self.kind, self.endpoint.to_string(), state);
    }

    /// Reads what the printer reported by itself when automatic status is on and it is
    /// ready, else asks it. A printer that is gone is tried again only as the backoff
    /// allows.
    pub(super) async fn refresh(&mut self) {
        if self.device.is_none() && !self.backoff.may_try(Instant::now()) {
            return;
        }
        let kind = self.kind;
        if let Some(device) = self.open().await {
            let reported = device.printer().automatic_status().await;
            let mut health = match reported {
                // A healthy printer would have said if that changed: no need to ask.
                Ok(Some(status)) if status.can_print() => {
                    kiosk_escpos::health(&self.endpoint.to_string(), &status)
                }
                // A fault may have just been cleared (paper loaded, cover closed) with the
                // printer's block still on its way: ask, a citizen may be waiting on it.
                Ok(_) => device.health().await,
                Err(err) => DeviceHealth::now(
                    kind,
                    self.endpoint.to_string(),
                    HealthState::Fault(err.to_string()),
                ),
            };
            health.kind = kind;
            if !health.state.is_usable() {
                // A closed or broken link is reopened at the next use.
                self.device = None;
            }
            self.health = health;
        }
    }

    /// Prints a ticket. On `Err`, the number is void unless paper may have come out.
    pub(super) async fn issue(
        &mut self,
        ticket: &kiosk_dispenser::Ticket,
    ) -> Result<kiosk_dispenser::Issued, PrintFailure> {
        let Some(device) = self.open().await else {
            return Err(PrintFailure {
                reason: VoidReason::PrinterUnavailable,
                maybe_printed: false,
            });
        };
        let result = device.issue(ticket).await;
        self.after(&result);
        result.map_err(|e| PrintFailure {
            reason: void_reason_of(&e),
            maybe_printed: e.maybe_printed(),
        })
    }

    /// Prints a slip (receipt, guide, 一次性告知); `false` if it did not come out.
    pub(super) async fn slip(&mut self, slip: &Slip) -> bool {
        let Some(device) = self.open().await else {
            return false;
        };
        let result = device.print_slip(slip).await;
        self.after(&result);
        result.is_ok()
    }

    fn after<T>(&mut self, result: &Result<T, IssueError>) {
        match result {
            Ok(_) => {
                if !self.health.state.is_usable() {
                    self.health =
                        DeviceHealth::now(self.kind, self.endpoint.to_string(), HealthState::Ready);
                }
            }
            Err(err) => {
                tracing::warn!(device = self.kind.label(), %err, "print failed");
                self.health = DeviceHealth::now(
                    self.kind,
                    self.endpoint.to_string(),
                    HealthState::Fault(err.to_string()),
                );
                if !matches!(err, IssueError::NotReady { .. }) {
                    self.device = None;
                }
            }
        }
    }
}

/// What lies in the scanner for the next scan, and what the backend is told about it.
pub(crate) struct LoadedPages {
    /// The glass or the feeder.
    pub source: Source,
    /// Pages to take; `None` takes every page the feeder holds.
    pub pages: Option<u32>,
    /// Backend options for this scan, set after the configured ones.
    pub extra_options: Vec<(String, String)>,
}

/// Says what is loaded before each scan. A real scanner cannot tell until it scans, so the
/// configuration decides ([`ConfiguredLoad`]); the simulator loads pictures into SANE's test
/// backend and says so. The engine scans the same way for both.
pub(crate) trait ScanLoad: Send + Sync {
    /// What the next scan takes.
    fn next_scan(&self) -> LoadedPages;
}

/// A real scanner: the feeder's every page, or one page from the glass, as configured.
pub(super) struct ConfiguredLoad {
    /// `[devices.scanner] feeder`.
    pub feeder: bool,
}

impl ScanLoad for ConfiguredLoad {
    fn next_scan(&self) -> LoadedPages {
        if self.feeder {
            LoadedPages {
                source: Source::Feeder,
                pages: None,
                extra_options: Vec::new(),
            }
        } else {
            LoadedPages {
                source: Source::Flatbed,
                pages: Some(1),
                extra_options: Vec::new(),
            }
        }
    }
}

/// What opens the scanner again: its configuration and what says what is loaded.
#[derive(Clone)]
pub(super) struct ScannerRecipe {
    config: ScannerDevice,
    load: Arc<dyn ScanLoad>,
}

/// The scanner and how to scan.
pub(super) struct ScannerSlot {
    scanner: Option<Scanner>,
    config: ScannerDevice,
    load: Arc<dyn ScanLoad>,
    /// Last health seen.
    pub health: DeviceHealth,
}

impl ScannerSlot {
    /// Opens the scanner `recipe` describes (the SANE helper is started here).
    pub(super) async fn start(recipe: ScannerRecipe) -> ScannerSlot {
        let ScannerRecipe { config, load } = recipe;
        let device = &config.device;
        let (scanner, health) = match Scanner::start().await {
            Ok(scanner) => {
                let health = scanner.health(device).await;
                (Some(scanner), health)
            }
            Err(err) => (
                None,
                DeviceHealth::now(DeviceKind::Scanner, device.clone(), err.health_state()),
            ),
        };
        ScannerSlot {
            scanner,
            config,
            load,
            health,
        }
    }

    /// A recipe for the scanner `config` names, with `load` saying what each scan takes.
    pub(super) fn recipe_for(config: ScannerDevice, load: Arc<dyn ScanLoad>) -> ScannerRecipe {
        ScannerRecipe { config, load }
    }

    /// How to open this scanner again.
    pub(super) fn recipe(&self) -> ScannerRecipe {
        ScannerRecipe {
            config: self.config.clone(),
            load: Arc::clone(&self.load),
        }
    }

    pub(super) async fn refresh(&mut self) {
        if let Some(scanner) = &self.scanner {
            self.health = scanner.health(&self.config.device).await;
        }
    }

    /// Scans one material: every page checked; the PDF when all passed.
    pub(super) async fn scan(
        &mut self,
    ) -> Result<(Vec<PageCheckView>, Option<(Vec<u8>, u32)>), Text> {
        let Some(scanner) = &self.scanner else {
            return Err(Text::new("扫描仪不可用", "The scanner is not available"));
        };
        let loaded = self.load.next_scan();
        let settings = ScanSettings {
            source: loaded.source,
            dpi: self.config.dpi,
            mode: ColorMode::Color,
            area_mm: Some((210.0, 297.0)),
            extra_options: loaded.extra_options,
        };
        let failed = |e: kiosk_scanner::ScanError| {
            tracing::warn!(%e, "scan failed");
            Text::new(
                "扫描失败，请检查扫描仪后重试",
                "Scanning failed; check the scanner and try again",
            )
        };
        scanner
            .open(&self.config.device, settings)
            .await
            .map_err(failed)?;
        let mut events = scanner.scan_pages(loaded.pages);
        let thresholds = CheckThresholds::default();
        let compress = CompressSettings::default();
        let mut views = Vec::new();
        let mut accepted: Vec<AcceptedPage> = Vec::new();
        while let Some(event) = events.recv().await {
            match event {
                ScanEvent::PageDone(page) => {
                    let (thresholds, compress) = (thresholds.clone(), compress.clone());
                    let (report, kept) = tokio::task::spawn_blocking(move || {
                        let report = check_page(&page.image, &thresholds);
                        let kept = if report.accepted() {
                            compress_page(&page.image, &compress).ok()
                        } else {
                            None
                        };
                        (report, kept)
                    })
                    .await
                    .map_err(|_| Text::new("扫描处理失败", "Processing the scan failed"))?;
                    let problems = report
                        .failed()
                        .map(|check| check_text(check, report.skew_degrees))
                        .collect();
                    views.push(PageCheckView {
                        page: views.len() as u32 + 1,
                        accepted: kept.is_some(),
                        problems,
                    });
                    if let Some(page) = kept {
                        accepted.push(page);
                    }
                }
                ScanEvent::Finished { .. } => break,
                ScanEvent::Failed(e) => return Err(failed(e)),
                ScanEvent::PageStarted { .. } | ScanEvent::Progress { .. } => {}
            }
        }
        if views.is_empty() || accepted.len() != views.len() {
            return Ok((views, None));
        }
        let pages = accepted.len() as u32;
        let pdf = tokio::task::spawn_blocking(move || assemble_pdf(&accepted))
            .await
            .map_err(|_| Text::new("扫描处理失败", "Processing the scan failed"))?
            .map_err(|e| {
                tracing::warn!(%e, "PDF assembly failed");
                Text::new("扫描处理失败", "Processing the scan failed")
            })?;
        Ok((views, Some((pdf, pages))))
    }
}

/// A failed page check in plain words.
pub fn check_text(check: kiosk_scanner::Check, skew: Option<f32>) -> Text {
    use kiosk_scanner::Check;
    match check {
        Check::Blank => Text::new(
            "空白页，请放入材料正面",
            "Blank page: put the material face down",
        ),
        Check::TooDark => Text::new("图像过暗，请重新放置", "Too dark: place it again"),
        Check::TooLight => Text::new("字迹过浅，请重新放置", "Too light: place it again"),
        Check::Skew => {
            let degrees = skew.map(|s| format!("{:.1}", s.abs())).unwrap_or_default();
            Text::new(
                format!("材料放歪了（{degrees}°），请摆正",),
                format!("Crooked by {degrees}°: straighten it"),
            )
        }
    }
}

/// The scan outcome for the journey.
pub(super) fn scan_outcome(
    pages: Vec<PageCheckView>,
    accepted: Option<crate::machines::ScannedMaterial>,
    error: Option<Text>,
) -> ScanOutcome {
    ScanOutcome {
        pages,
        accepted,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Refreshes until the health is in `want`'s state, for at most `within`.
    async fn refresh_until(
        slot: &mut PrinterSlot,
        want: impl Fn(&HealthState) -> bool,
        within: Duration,
    ) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            slot.refresh().await;
            if want(&slot.health.state) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// A printer on a node that disappears and comes back at the same path, as
    /// `/dev/usb/lp0` (or `/dev/kiosk/printer`) does on unplug and replug; the printer
    /// emulator on a PTY stands in for it.
    async fn unplug_and_replug(endpoint: impl Fn(&std::path::Path) -> Endpoint) {
        use kiosk_sim::printer::{Config, Emulator};

        let dir = tempfile::tempdir().unwrap();
        let node = dir.path().join("lp0");
        let emulator = Emulator::new(Config::new(dir.path().join("tickets"))).unwrap();
        let server = emulator.serve_pty(&node).unwrap();
        let mut slot = PrinterSlot::new(DeviceKind::Printer, endpoint(&node), None).with_backoff(
            Backoff::new(Duration::from_millis(200), Duration::from_millis(400)),
        );
        slot.refresh().await;
        assert_eq!(slot.health.state, HealthState::Ready);

        drop(server); // unplugged: the node goes, the line goes dead
        assert!(
            refresh_until(
                &mut slot,
                |s| *s == HealthState::Absent,
                Duration::from_secs(5)
            )
            .await,
            "an unplugged printer is reported absent, not {:?}",
            slot.health.state
        );
        // Right after a failed open the next idle refresh waits for the backoff.
        let before = slot.health.observed_at;
        slot.refresh().await;
        assert_eq!(
            slot.health.observed_at, before,
            "no new attempt within the backoff"
        );

        let _server = emulator.serve_pty(&node).unwrap(); // plugged back in
        assert!(
            refresh_until(
                &mut slot,
                |s| *s == HealthState::Ready,
                Duration::from_secs(5)
            )
            .await,
            "the printer comes back by itself, not {:?}",
            slot.health.state
        );
        assert!(
            slot.device
                .as_mut()
                .is_some_and(|d| d.printer().reports_automatically()),
            "automatic status is turned on again after the replug"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_usb_lp_printer_unplugged_and_replugged_comes_back_by_itself() {
        unplug_and_replug(|node| Endpoint::Device(node.to_owned())).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_serial_printer_unplugged_and_replugged_comes_back_by_itself() {
        unplug_and_replug(|node| Endpoint::Serial {
            path: node.to_owned(),
            baud: 9600,
        })
        .await;
    }

    #[test]
    fn void_reasons_keep_their_wire_codes() {
        let all = [
            VoidReason::PaperOut,
            VoidReason::CoverOpen,
            VoidReason::CutterError,
            VoidReason::UnrecoverableError,
            VoidReason::RecoverableError,
            VoidReason::Offline,
            VoidReason::PrinterError,
            VoidReason::LayoutError,
            VoidReason::PrinterUnavailable,
            VoidReason::NoDispenser,
            VoidReason::Interrupted,
        ];
        for reason in all {
            assert_eq!(
                serde_json::to_value(reason).unwrap(),
                serde_json::Value::from(reason.code())
            );
            let back: VoidReason =
                serde_json::from_value(serde_json::Value::from(reason.code())).unwrap();
            assert_eq!(back, reason);
        }
        // A printer's problem is voided under the printer's own name for it.
        for problem in [
            Problem::PaperOut,
            Problem::CoverOpen,
            Problem::CutterError,
            Problem::UnrecoverableError,
            Problem::RecoverableError,
            Problem::Offline,
        ] {
            assert_eq!(
                serde_json::to_value(problem).unwrap(),
                serde_json::Value::from(void_reason_for(problem).code())
            );
        }
    }
}
