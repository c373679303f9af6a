//! The kiosk self-test: every configured device, the disk, the identity, central, the clock
//! against central, and the outbox backlog. `kioskctl selftest` prints it; the kiosk app's
//! technician screen calls [`run`] and shows the same [`Report`].
//!
//! Thresholds:
//! - clock: fails beyond [`CLOCK_SKEW_LIMIT`] (60 s) from central's `Date` header; warns
//!   beyond [`CLOCK_SKEW_WARN`] (10 s). Central refuses signed requests beyond ±300 s, and a
//!   minute is already visible on tickets and in the business date around midnight.
//! - disk: fails when the disk holding the data folder has less free space than the store
//!   may still grow by (its budget minus what it uses), or when the store is near its budget.
//! - outbox: fails when events are waiting and the last attempt to deliver them failed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use kiosk_api::{routes, sign_request};
use kiosk_core::config::{Config, IdcardDevice, PrinterDevice, ReaderLink};
use kiosk_core::identity::Identity;
use kiosk_core::store::{Budget, DB_FILE, SyncStatus, read_status};
use kiosk_escpos::{Endpoint, PaperLevel, Printer};
use kiosk_hal::{DeviceHealth, DeviceKind, HealthState};
use kiosk_idcard::Reader;
use kiosk_idcard::transport::AUTO_BAUD_RATES;
use kiosk_scanner::{ScanSettings, Scanner};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::provision::error_chain;

/// Beyond this difference from central's clock the clock check fails.
pub const CLOCK_SKEW_LIMIT: Duration = Duration::from_secs(60);
/// Beyond this difference the clock check warns.
pub const CLOCK_SKEW_WARN: Duration = Duration::from_secs(10);
/// Baud rate of a serial printer whose `baud` is not configured (the ESC/POS default).
pub const DEFAULT_PRINTER_BAUD: u32 = 9600;

/// Names of the checks, as they appear in [`Check::name`].
pub mod names {
    /// The kiosk's enrolment: identity file, key, and agreement with the configuration.
    pub const IDENTITY: &str = "identity";
    /// `[devices.idcard]`.
    pub const IDCARD: &str = "idcard";
    /// `[devices.printer]`.
    pub const PRINTER: &str = "printer";
    /// `[devices.dispenser]`.
    pub const DISPENSER: &str = "dispenser";
    /// `[devices.scanner]`.
    pub const SCANNER: &str = "scanner";
    /// Free space against the store's budget.
    pub const DISK: &str = "disk";
    /// Central answers and accepts this kiosk's signature.
    pub const CENTRAL: &str = "central";
    /// This kiosk's clock against central's.
    pub const CLOCK: &str = "clock";
    /// Events waiting to be delivered.
    pub const OUTBOX: &str = "outbox";
}

/// How the devices are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceProbe {
    /// Open each device and ask it (`kioskctl selftest`, with the app stopped or on its own
    /// ports): SAM status, `DLE EOT 1..4`, SANE open.
    Open,
    /// Judge the health the running app's driver tasks report, without touching ports they
    /// own (the app's technician screen).
    Reported(Vec<DeviceHealth>),
}

/// Settings of a self-test run.
#[derive(Debug, Clone)]
pub struct Options {
    /// How the devices are checked.
    pub devices: DeviceProbe,
    /// How long a printer gets for each status question.
    pub printer_timeout: Duration,
    /// How long central gets to answer.
    pub central_timeout: Duration,
    /// Clock difference beyond which the clock check fails.
    pub clock_skew_limit: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            devices: DeviceProbe::Open,
            printer_timeout: kiosk_escpos::DEFAULT_STATUS_TIMEOUT,
            central_timeout: Duration::from_secs(10),
            clock_skew_limit: CLOCK_SKEW_LIMIT,
        }
    }
}

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Fine.
    Pass,
    /// Works, needs attention soon.
    Warn,
    /// Does not work: the kiosk cannot do all it should.
    Fail,
    /// Not checked (not configured, or an earlier failure makes it meaningless).
    Skip,
}

impl Outcome {
    /// Upper-case label for text output.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Warn => "WARN",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Which check (see [`names`]).
    pub name: String,
    /// The verdict.
    pub outcome: Outcome,
    /// What was found, naming the device or address.
    pub summary: String,
    /// What to do about it, when something is wrong.
    pub advice: Option<String>,
    /// Measured values, for machines (free bytes, skew seconds, backlog, ...).
    pub detail: serde_json::Value,
}

impl Check {
    fn new(name: &str, outcome: Outcome, summary: impl Into<String>) -> Check {
        Check {
            name: name.to_owned(),
            outcome,
            summary: summary.into(),
            advice: None,
            detail: serde_json::Value::Null,
        }
    }

    fn advice(mut self, advice: impl Into<String>) -> Check {
        self.advice = Some(advice.into());
        self
    }

    fn detail(mut self, detail: serde_json::Value) -> Check {
        self.detail = detail;
        self
    }
}

/// The whole self-test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// No check failed.
    pub passed: bool,
    /// Names of the failed checks, in report order.
    pub failures: Vec<String>,
    /// Every check, in a fixed order.
    pub checks: Vec<Check>,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: u64,
}

impl Report {
    /// The failed checks.
    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.outcome == Outcome::Fail)
    }

    /// The check named `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The report as a technician reads it on a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for check in &self.checks {
            out += &format!(
                "{}  {:<10} {}\n",
                check.outcome.label(),
                check.name,
                check.summary
            );
            if let Some(advice) = &check.advice {
                out += &format!("      {:<10} -> {advice}\n", "");
            }
        }
        if self.passed {
            out += &format!("self-test passed ({} checks)\n", self.checks.len());
        } else {
            out += &format!(
                "self-test FAILED: {} of {} checks failed: {}\n",
                self.failures.len(),
                self.checks.len(),
                self.failures.join(", ")
            );
        }
        out
    }
}

/// Runs every check for the kiosk configured by `config`. Never fails as a whole: whatever
/// goes wrong is a failed check in the report.
pub async fn run(config: &Config, options: &Options) -> Report {
    let started_at = Utc::now();
    let started = Instant::now();
    let data_dir = config.kiosk.data_dir.clone();

    let (identity_check, identity) = check_identity(config);
    let status = {
        let dir = data_dir.clone();
        tokio::task::spawn_blocking(move || store_status(&dir))
            .await
            .unwrap_or_else(|e| Err(format!("reading the store failed: {e}")))
    };
    let devices = &config.devices;
    let timeout = options.printer_timeout;
    let (idcard, printer, dispenser, scanner, (central, clock)) = tokio::join!(
        device_check(
            names::IDCARD,
            DeviceKind::IdCardReader,
            devices.idcard.as_ref(),
            options,
            check_idcard
        ),
        device_check(
            names::PRINTER,
            DeviceKind::Printer,
            devices.printer.as_ref(),
            options,
            |d| check_printer(names::PRINTER, d, timeout)
        ),
        device_check(
            names::DISPENSER,
            DeviceKind::Dispenser,
            devices.dispenser.as_ref(),
            options,
            |d| check_printer(names::DISPENSER, d, timeout)
        ),
        device_check(
            names::SCANNER,
            DeviceKind::Scanner,
            devices.scanner.as_ref().map(|s| s.device.as_str()),
            options,
            check_scanner
        ),
        check_central(config, identity.as_ref(), options),
    );
    let checks = vec![
        identity_check,
        idcard,
        printer,
        dispenser,
        scanner,
        check_disk(&data_dir, &status),
        central,
        clock,
        check_outbox(&status),
    ];
    let failures = checks
        .iter()
        .filter(|c| c.outcome == Outcome::Fail)
        .map(|c| c.name.clone())
        .collect::<Vec<_>>();
    Report {
        passed: failures.is_empty(),
        failures,
        checks,
        started_at,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

// ---------------------------------------------------------------------------------------------
// Identity

fn check_identity(config: &Config) -> (Check, Option<Identity>) {
    let dir = &config.kiosk.data_dir;
    let fail = |summary: String, advice: &str| {
        Check::new(names::IDENTITY, Outcome::Fail, summary).advice(advice)
    };
    let identity = match Identity::load(dir) {
        Ok(Some(identity)) => identity,
        Ok(None) => {
            return (
                fail(
                    format!("not provisioned: no identity in {}", dir.display()),
                    "run `kioskctl provision --central URL --token TOKEN` with a token from ops",
                ),
                None,
            );
        }
        Err(e) => return (fail(e.to_string(), "re-provision with a new token"), None),
    };
    if let Err(e) = Identity::signing_key(dir) {
        return (
            fail(
                e.to_string(),
                "the key is lost: run `kioskctl provision --force` with a new token",
            ),
            Some(identity),
        );
    }
    let mut mismatches = Vec::new();
    let id = identity.kiosk_id.to_string();
    if config.kiosk.id.as_deref() != Some(id.as_str()) {
        mismatches.push(format!(
            "[kiosk] id is {:?}, the identity is {id}",
            config.kiosk.id.as_deref().unwrap_or("absent")
        ));
    }
    let url = config.central.as_ref().map(|c| c.url.trim_end_matches('/'));
    if url != Some(identity.central_url.as_str()) {
        mismatches.push(format!(
            "[central] url is {:?}, the kiosk enrolled with {}",
            url.unwrap_or("absent"),
            identity.central_url
        ));
    }
    if let Some(band) = config.kiosk.number_band
        && (band.first, band.last) != (identity.number_band.first, identity.number_band.last)
    {
        mismatches.push(format!(
            "[kiosk] number_band is {}-{}, central reserved {}-{}",
            band.first, band.last, identity.number_band.first, identity.number_band.last
        ));
    }
    let detail = json!({
        "kiosk_id": identity.kiosk_id,
        "hall_id": identity.hall_id,
        "number_band": identity.number_band,
        "central_url": identity.central_url,
    });
    let check = if mismatches.is_empty() {
        Check::new(
            names::IDENTITY,
            Outcome::Pass,
            format!(
                "kiosk {} of hall {} ({}), offline numbers {}-{}",
                identity.kiosk_id,
                identity.hall_id,
                identity.hall_name,
                identity.number_band.first,
                identity.number_band.last
            ),
        )
    } else {
        fail(
            format!(
                "the configuration does not match the identity: {}",
                mismatches.join("; ")
            ),
            "restore the configuration written by `kioskctl provision`, or provision again with --force and a new token",
        )
    };
    (check.detail(detail), Some(identity))
}

// ---------------------------------------------------------------------------------------------
// Devices

/// A device check: skipped when the device is not configured, judged from the app's reports
/// under [`DeviceProbe::Reported`], else opened with `open`.
async fn device_check<'a, D: ?Sized, Fut>(
    name: &str,
    kind: DeviceKind,
    device: Option<&'a D>,
    options: &Options,
    open: impl FnOnce(&'a D) -> Fut,
) -> Check
where
    Fut: std::future::Future<Output = Check>,
{
    let Some(device) = device else {
        return not_configured(name);
    };
    match &options.devices {
        DeviceProbe::Open => open(device).await,
        DeviceProbe::Reported(reports) => from_report(name, kind, reports),
    }
}

fn not_configured(name: &str) -> Check {
    Check::new(
        name,
        Outcome::Skip,
        format!("not configured ([devices.{name}] absent)"),
    )
}

fn from_report(name: &str, kind: DeviceKind, reports: &[DeviceHealth]) -> Check {
    let Some(health) = reports.iter().find(|h| h.kind == kind) else {
        return Check::new(
            name,
            Outcome::Fail,
            format!(
                "the app reports no {} although one is configured",
                kind.label()
            ),
        )
        .advice("restart the kiosk app (systemctl restart kiosk-app) and look at its log");
    };
    let detail = json!({ "location": health.location, "state": health.state });
    let at = &health.location;
    let check = match &health.state {
        HealthState::Ready => Check::new(
            name,
            Outcome::Pass,
            format!("{} on {at}: ready", kind.label()),
        ),
        HealthState::Degraded(why) => Check::new(
            name,
            Outcome::Warn,
            format!("{} on {at}: {why}", kind.label()),
        ),
        HealthState::Fault(why) => Check::new(
            name,
            Outcome::Fail,
            format!("{} on {at}: {why}", kind.label()),
        ),
        HealthState::Absent => Check::new(
            name,
            Outcome::Fail,
            format!("{} not found at {at}", kind.label()),
        )
        .advice("check its cable and power, and `kioskctl devices` for its /dev/kiosk link"),
    };
    check.detail(detail)
}

async fn check_idcard(device: &IdcardDevice) -> Check {
    let port = device.location();
    let Some(link) = device.link() else {
        return Check::new(names::IDCARD, Outcome::Fail, "neither port nor usb given")
            .advice("give one of them in [devices.idcard]");
    };
    // Serial and libusb I/O both block: off the async threads.
    let opened = tokio::task::spawn_blocking(move || match link {
        ReaderLink::Serial {
            port,
            baud: Some(baud),
        } => Reader::open_serial(&port.to_string_lossy(), baud).map(|r| Some(r.transport().baud())),
        ReaderLink::Serial { port, baud: None } => {
            Reader::open_serial_auto(&port.to_string_lossy(), &AUTO_BAUD_RATES)
                .map(|r| Some(r.transport().baud()))
        }
        ReaderLink::Usb(id, serial) => {
            Reader::open_usb(id.vendor, id.product, serial.as_deref()).map(|_| None)
        }
    })
    .await;
    match opened {
        Ok(Ok(baud)) => {
            let speed = baud.map(|b| format!(" at {b} baud")).unwrap_or_default();
            Check::new(
                names::IDCARD,
                Outcome::Pass,
                format!("ID-card reader on {port}: SAM self-test passed (11 FF answered 90){speed}"),
            )
            .detail(json!({ "port": port, "baud": baud }))
        }
        Ok(Err(e)) => Check::new(names::IDCARD, Outcome::Fail, e.to_string())
            .advice("see `kioskctl devices` for the reader's port or USB id; `kioskctl idcard read --port PORT` (or `--usb VID:PID`) tries it alone")
            .detail(json!({ "port": port })),
        Err(e) => Check::new(names::IDCARD, Outcome::Fail, format!("ID-card check on {port} stopped: {e}")),
    }
}

/// The printer's link as the configuration gives it.
pub fn printer_endpoint(device: &PrinterDevice) -> Option<Endpoint> {
    if let Some(path) = &device.port {
        Some(Endpoint::Serial {
            path: path.clone(),
            baud: device.baud.unwrap_or(DEFAULT_PRINTER_BAUD),
        })
    } else if let Some(path) = &device.device {
        Some(Endpoint::Device(path.clone()))
    } else if let Some(id) = device.usb {
        Some(Endpoint::Usb {
            vendor: id.vendor,
            product: id.product,
            serial: device.usb_serial.clone(),
        })
    } else {
        device.tcp.as_ref().map(|addr| {
            if addr
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
            {
                Endpoint::Tcp(addr.clone())
            } else {
                Endpoint::Tcp(format!("{addr}:9100"))
            }
        })
    }
}

async fn check_printer(name: &'static str, device: &PrinterDevice, timeout: Duration) -> Check {
    let Some(endpoint) = printer_endpoint(device) else {
        return Check::new(name, Outcome::Fail, "no port, device, usb or tcp given")
            .advice(format!("give one of them in [devices.{name}]"));
    };
    let location = endpoint.to_string();
    let mut printer = match Printer::open(&endpoint, timeout).await {
        Ok(printer) => printer,
        Err(e) => {
            return Check::new(name, Outcome::Fail, e.to_string())
                .advice("check the cable and power, and `kioskctl devices` for its /dev/kiosk link")
                .detail(json!({ "location": location }));
        }
    };
    let status = match printer.status().await {
        Ok(status) => status,
        Err(e) => {
            return Check::new(name, Outcome::Fail, e.to_string())
                .detail(json!({ "location": location }));
        }
    };
    let detail = json!({ "location": location, "status": status });
    match status.problem() {
        Some(problem) => Check::new(
            name,
            Outcome::Fail,
            format!("printer on {location}: {problem}"),
        )
        .advice(problem.advice())
        .detail(detail),
        None if status.paper == PaperLevel::NearEnd => Check::new(
            name,
            Outcome::Warn,
            format!("printer on {location}: ready, paper near end"),
        )
        .advice("replace the paper roll soon")
        .detail(detail),
        None => Check::new(
            name,
            Outcome::Pass,
            format!("printer on {location}: ready (online, cover closed, paper ok, cutter ok)"),
        )
        .detail(detail),
    }
}

async fn check_scanner(device: &str) -> Check {
    let name = device.to_owned();
    let opened = async {
        let scanner = Scanner::start().await?;
        let settings = ScanSettings {
            area_mm: None,
            ..ScanSettings::default()
        };
        scanner.open(&name, settings).await
    };
    // libsane is process-global: a second Scanner waits for the first, so bound the wait.
    match tokio::time::timeout(Duration::from_secs(30), opened).await {
        Ok(Ok(opened)) => Check::new(
            names::SCANNER,
            Outcome::Pass,
            format!("scanner {name}: opened through SANE ({} dpi)", opened.dpi),
        )
        .detail(json!({ "device": name, "dpi": opened.dpi })),
        Ok(Err(e)) => Check::new(
            names::SCANNER,
            Outcome::Fail,
            format!("scanner {name}: {e}"),
        )
        .advice("`kioskctl scanner list` shows the names SANE sees; check the USB cable and power")
        .detail(json!({ "device": name })),
        Err(_) => Check::new(
            names::SCANNER,
            Outcome::Fail,
            format!("scanner {name}: SANE did not open it within 30 s"),
        )
        .advice("another program may hold the scanner (stop the kiosk app), or the backend hangs"),
    }
}

// ---------------------------------------------------------------------------------------------
// Disk and outbox

/// The store's status; `Ok(None)` when the app never created a store here.
fn store_status(dir: &Path) -> Result<Option<SyncStatus>, String> {
    if !dir.join(DB_FILE).exists() {
        return Ok(None);
    }
    read_status(dir).map(Some).map_err(|e| e.to_string())
}

fn mib(bytes: u64) -> u64 {
    bytes / (1024 * 1024)
}

/// The nearest existing folder at or above `dir` (the data folder may not exist yet).
fn existing_ancestor(dir: &Path) -> PathBuf {
    dir.ancestors()
        .find(|a| a.exists())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn check_disk(dir: &Path, status: &Result<Option<SyncStatus>, String>) -> Check {
    let probe = existing_ancestor(dir);
    let stat = match nix::sys::statvfs::statvfs(&probe) {
        Ok(stat) => stat,
        Err(e) => {
            return Check::new(
                names::DISK,
                Outcome::Fail,
                format!("cannot read the free space of {}: {e}", probe.display()),
            );
        }
    };
    let free = stat.blocks_available().saturating_mul(stat.fragment_size());
    let status = status.as_ref().ok().and_then(Option::as_ref);
    let (used, budget) = match status {
        Some(s) if s.budget_bytes > 0 => (s.used_bytes, s.budget_bytes),
        Some(s) => (s.used_bytes, Budget::default().limit_bytes),
        None => (0, Budget::default().limit_bytes),
    };
    let growth = budget.saturating_sub(used);
    let detail = json!({
        "path": probe,
        "free_bytes": free,
        "store_used_bytes": used,
        "store_budget_bytes": budget,
    });
    if let Some(s) = status
        .filter(|s| !s.accepting_records && s.free_bytes.is_some_and(|f| f < s.min_free_bytes))
    {
        return Check::new(
            names::DISK,
            Outcome::Fail,
            format!(
                "only {} MiB free on the disk holding {}, under the {} MiB reserve: journeys that create records are not offered",
                mib(free),
                dir.display(),
                mib(s.min_free_bytes)
            ),
        )
        .advice("free space on that disk (e.g. `journalctl --vacuum-size=200M`, old releases) or fit a bigger disk; the kiosk offers them again by itself")
        .detail(detail);
    }
    if status.is_some_and(|s| !s.accepting_records) {
        return Check::new(
            names::DISK,
            Outcome::Fail,
            format!(
                "the store is near its budget ({} of {} MiB): journeys that create records are not offered",
                mib(used),
                mib(budget)
            ),
        )
        .advice("records leave the store once central has them: check `kioskctl sync status` and the network")
        .detail(detail);
    }
    if free < growth {
        return Check::new(
            names::DISK,
            Outcome::Fail,
            format!(
                "{} MiB free on the disk holding {}, but the store may still grow by {} MiB (budget {} MiB)",
                mib(free),
                dir.display(),
                mib(growth),
                mib(budget)
            ),
        )
        .advice("free space on that disk (e.g. `journalctl --vacuum-size=200M`) or fit a bigger disk")
        .detail(detail);
    }
    Check::new(
        names::DISK,
        Outcome::Pass,
        format!(
            "{} MiB free on the disk holding {}; the store uses {} of its {} MiB budget",
            mib(free),
            dir.display(),
            mib(used),
            mib(budget)
        ),
    )
    .detail(detail)
}

fn check_outbox(status: &Result<Option<SyncStatus>, String>) -> Check {
    let status = match status {
        Err(e) => {
            return Check::new(names::OUTBOX, Outcome::Fail, e.clone()).advice(
                "the store may be damaged; look at the app's log (journalctl -u kiosk-app)",
            );
        }
        Ok(None) => {
            return Check::new(
                names::OUTBOX,
                Outcome::Pass,
                "no store yet (the app has not run here): nothing waiting",
            )
            .detail(json!({ "backlog": 0 }));
        }
        Ok(Some(status)) => status,
    };
    let detail = json!({
        "backlog": status.total_backlog,
        "oldest_pending_age_secs": status.oldest_pending_age_secs,
        "last_success_at": status.last_success_at,
        "last_error": status.last_error,
        "quarantined": status.quarantined,
    });
    if let Some(why) = &status.revoked {
        // Nothing will leave the kiosk: the records wait, but the hall must know now.
        return Check::new(
            names::OUTBOX,
            Outcome::Fail,
            format!(
                "central refuses this kiosk as revoked by ops ({} event(s) waiting): {why}",
                status.total_backlog
            ),
        )
        .advice("ask ops for a re-provisioning token (`central token create --reprovision KIOSK_ID`) and run `kioskctl provision` with it; the waiting records are sent once central accepts the kiosk again")
        .detail(detail);
    }
    if status.quarantined > 0 {
        // Held back, not lost: the rest flows, but someone must look at these.
        return Check::new(
            names::OUTBOX,
            Outcome::Warn,
            format!(
                "{} event(s) in quarantine, not sent until retried ({} others waiting)",
                status.quarantined, status.total_backlog
            ),
        )
        .advice("`kioskctl sync status` lists them with the reason; export them for ops (`kioskctl sync export SEQ --out FILE`) or retry once the cause is fixed (`kioskctl sync retry SEQ`)")
        .detail(detail);
    }
    if status.total_backlog == 0 {
        return Check::new(names::OUTBOX, Outcome::Pass, "nothing waiting to be sent")
            .detail(detail);
    }
    let failing = match (status.last_error_at, status.last_success_at) {
        (Some(error), Some(success)) => error > success,
        (Some(_), None) => true,
        _ => false,
    };
    let age = status
        .oldest_pending_age_secs
        .map_or(String::new(), |s| format!(", the oldest for {s} s"));
    if failing {
        Check::new(
            names::OUTBOX,
            Outcome::Fail,
            format!(
                "{} events waiting{age}; the last attempt failed: {}",
                status.total_backlog,
                status.last_error.as_deref().unwrap_or("(no message)")
            ),
        )
        .advice(
            "see the central and clock checks; `kioskctl sync status` shows the backlog per stream",
        )
        .detail(detail)
    } else {
        Check::new(
            names::OUTBOX,
            Outcome::Pass,
            format!(
                "{} events waiting{age}; the uplink is delivering",
                status.total_backlog
            ),
        )
        .detail(detail)
    }
}

// ---------------------------------------------------------------------------------------------
// Central and clock

async fn check_central(
    config: &Config,
    identity: Option<&Identity>,
    options: &Options,
) -> (Check, Check) {
    let skip = |why: &str| {
        (
            Check::new(names::CENTRAL, Outcome::Fail, why.to_owned())
                .advice("provision the kiosk first (see the identity check)"),
            Check::new(
                names::CLOCK,
                Outcome::Skip,
                "not compared: central was not asked",
            ),
        )
    };
    let Some(identity) = identity else {
        return skip("not asked: this kiosk has no identity to sign with");
    };
    let Ok(key) = Identity::signing_key(&config.kiosk.data_dir) else {
        return skip("not asked: this kiosk's signing key cannot be read");
    };
    let base = config
        .central
        .as_ref()
        .map_or(identity.central_url.as_str(), |c| c.url.as_str())
        .trim_end_matches('/')
        .to_owned();
    let client = match reqwest::Client::builder()
        .connect_timeout(options.central_timeout)
        .timeout(options.central_timeout)
        .build()
    {
        Ok(client) => client,
        Err(e) => return skip(&format!("no HTTP client: {e}")),
    };
    let path = routes::DESIRED_STATE;
    let url = format!("{base}{path}");
    let headers = sign_request(
        &key,
        identity.kiosk_id,
        "GET",
        path,
        b"",
        Utc::now().timestamp(),
    );
    let mut request = client.get(&url);
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    let sent = Utc::now();
    let timer = Instant::now();
    let answer = request.send().await;
    let received = Utc::now();
    let rtt_ms = u64::try_from(timer.elapsed().as_millis()).unwrap_or(u64::MAX);
    let response = match answer {
        Ok(response) => response,
        Err(e) => {
            return (
                Check::new(
                    names::CENTRAL,
                    Outcome::Fail,
                    format!("no answer from central at {base}: {}", error_chain(&e)),
                )
                .advice("check the hall's network (cable, DNS, firewall) and that central is up; the kiosk keeps working offline and sends later")
                .detail(json!({ "url": base })),
                Check::new(names::CLOCK, Outcome::Skip, "not compared: central did not answer"),
            );
        }
    };
    let status = response.status();
    let date = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.bytes().await.unwrap_or_default();
    let clock = check_clock(date.as_deref(), sent, received, options.clock_skew_limit);
    let detail = json!({ "url": base, "status": status.as_u16(), "round_trip_ms": rtt_ms });
    let central = match status.as_u16() {
        200 | 304 => Check::new(
            names::CENTRAL,
            Outcome::Pass,
            format!(
                "central at {base} answered in {rtt_ms} ms and accepted this kiosk's signature"
            ),
        ),
        code => {
            let message = serde_json::from_slice::<kiosk_api::ApiError>(&body)
                .map(|e| format!("{}: {}", e.error, e.message))
                .unwrap_or_else(|_| {
                    String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
                });
            let advice = if code == 401 {
                "if the clock check fails, fix the clock first; otherwise central does not know this kiosk's key: provision again with --force and a new token"
            } else {
                "central has a problem: tell ops, with this message"
            };
            Check::new(
                names::CENTRAL,
                Outcome::Fail,
                format!("central at {base} answered {code}: {message}"),
            )
            .advice(advice)
        }
    };
    (central.detail(detail), clock)
}

/// Compares central's `Date` (whole seconds, so +0.5 s on average) with the middle of the
/// request's round trip.
fn check_clock(
    date: Option<&str>,
    sent: DateTime<Utc>,
    received: DateTime<Utc>,
    limit: Duration,
) -> Check {
    let Some(date) = date else {
        return Check::new(
            names::CLOCK,
            Outcome::Fail,
            "central's answer carries no Date header to compare with",
        )
        .advice("a proxy between the kiosk and central may strip it; tell ops");
    };
    let Ok(central) = DateTime::parse_from_rfc2822(date) else {
        return Check::new(
            names::CLOCK,
            Outcome::Fail,
            format!("central's Date header {date:?} is not an HTTP date"),
        );
    };
    let middle = sent + (received - sent) / 2;
    let central = central.with_timezone(&Utc) + chrono::Duration::milliseconds(500);
    let skew_ms = (middle - central).num_milliseconds();
    let skew = skew_ms as f64 / 1000.0;
    let uncertainty = 0.5 + (received - sent).num_milliseconds() as f64 / 2000.0;
    let detail = json!({
        "skew_secs": skew,
        "uncertainty_secs": uncertainty,
        "limit_secs": limit.as_secs(),
        "central_date": date,
    });
    let ahead = if skew_ms >= 0 { "ahead of" } else { "behind" };
    let abs = skew.abs();
    if abs > limit.as_secs_f64() {
        Check::new(
            names::CLOCK,
            Outcome::Fail,
            format!(
                "this kiosk's clock is {abs:.0} s {ahead} central's (allowed ±{} s)",
                limit.as_secs()
            ),
        )
        .advice("turn on time sync (`timedatectl set-ntp true`, then `timedatectl status`); central refuses signed requests beyond ±300 s")
        .detail(detail)
    } else if abs > CLOCK_SKEW_WARN.as_secs_f64() {
        Check::new(
            names::CLOCK,
            Outcome::Warn,
            format!("this kiosk's clock is {abs:.0} s {ahead} central's"),
        )
        .advice("check time sync: `timedatectl status`")
        .detail(detail)
    } else {
        Check::new(
            names::CLOCK,
            Outcome::Pass,
            format!("within {abs:.1} s of central's clock (±{uncertainty:.1} s)"),
        )
        .detail(detail)
    }
}

#[cfg(test)]
mod tests;
