//! The kiosk's configuration file (`/etc/kiosk/kiosk.toml`): what it may contain, and how a
//! bad one is refused.
//!
//! A kiosk that starts with a half-understood configuration is worse than one that does not
//! start: a misspelt key would silently fall back to a default nobody chose. So unknown keys,
//! wrong types, missing values and values out of range are all refused at start, with the
//! file, the line, the key and what is wrong.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod central;
mod journeys;
mod local_devices;
mod technician;
#[cfg(test)]
mod tests;
mod usb;

pub use central::{CENTRAL_KEYS, applied_central_path};
pub use journeys::{JourneysSection, QueueSection, VoiceSection};

pub use local_devices::{
    Applied, Choice, LOCAL_DEVICES_FILE, Link, LocalDevices, LocalDevicesError, Role, fingerprint,
};
pub use technician::TechnicianSection;
pub use usb::{UsbId, UsbIdError};

/// Where the configuration lives on an installed kiosk.
pub const DEFAULT_PATH: &str = "/etc/kiosk/kiosk.toml";

/// The built-in profile `--simulate` uses: simulated devices and `./kiosk-data`.
pub const SIMULATE_PROFILE: &str = include_str!("simulate.toml");

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// This kiosk's identity and storage.
    pub kiosk: KioskSection,
    /// The hall the kiosk stands in.
    pub hall: HallSection,
    /// Touchscreen behaviour.
    #[serde(default)]
    pub ui: UiSection,
    /// Logging.
    #[serde(default)]
    pub logging: LoggingSection,
    /// The central platform; absent on a kiosk that has not been provisioned yet.
    pub central: Option<CentralSection>,
    /// Attached devices; a device that is not listed is not used.
    #[serde(default)]
    pub devices: DevicesSection,
    /// Queue numbering (kiosk-journeys).
    #[serde(default)]
    pub queue: QueueSection,
    /// Voice prompts (kiosk-journeys).
    #[serde(default)]
    pub voice: VoiceSection,
    /// Journey links and periodic work (kiosk-journeys).
    #[serde(default)]
    pub journeys: JourneysSection,
    /// Technician mode on the kiosk screen (the PIN's hash).
    #[serde(default)]
    pub technician: TechnicianSection,
    /// The update agent (`kiosk-update`): where releases live, when it may switch, how it
    /// restarts the app and how long the new version has to prove itself healthy.
    #[serde(default)]
    pub update: UpdateSection,
}

/// `[kiosk]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KioskSection {
    /// The id central gave this kiosk at enrolment (absent before provisioning).
    pub id: Option<String>,
    /// Where the database, spool and keys live.
    pub data_dir: PathBuf,
    /// Queue numbers reserved for this kiosk when it is offline with no lease left, as central
    /// assigned them at enrolment. Written by `kioskctl provision`; `identity.json` in the data
    /// directory holds the same band, and `kioskctl selftest` checks that the two agree.
    pub number_band: Option<NumberBand>,
    /// The one disk budget of database, spool and logs, and the free space the data
    /// filesystem must keep.
    #[serde(default)]
    pub disk_budget: DiskBudgetSection,
}

/// `[kiosk.disk_budget]`: from `near_limit_percent` of `limit_mb`, or once the data
/// filesystem has less than `min_free_mb` free, journeys that create records are no longer
/// offered (the store refuses a commit before the disk is full, not after).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiskBudgetSection {
    /// Megabytes (MiB) that database, WAL, spool and logs may take together.
    pub limit_mb: u64,
    /// Percentage of the limit from which journeys that create records stop.
    pub near_limit_percent: u8,
    /// Free space (MiB) the data filesystem must keep, whatever the store itself uses.
    pub min_free_mb: u64,
}

impl Default for DiskBudgetSection {
    fn default() -> Self {
        let budget = crate::store::Budget::default();
        DiskBudgetSection {
            limit_mb: budget.limit_bytes / MIB,
            near_limit_percent: budget.near_limit_percent,
            min_free_mb: budget.min_free_bytes / MIB,
        }
    }
}

const MIB: u64 = 1024 * 1024;

impl DiskBudgetSection {
    /// The store's budget for these settings.
    pub fn budget(&self) -> crate::store::Budget {
        crate::store::Budget {
            limit_bytes: self.limit_mb.saturating_mul(MIB),
            near_limit_percent: self.near_limit_percent,
            min_free_bytes: self.min_free_mb.saturating_mul(MIB),
        }
    }
}

/// `[kiosk] number_band = { first = 950, last = 999 }`: an inclusive range of queue numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NumberBand {
    /// First number of the band.
    pub first: u32,
    /// Last number of the band (inclusive).
    pub last: u32,
}

/// Offline bands lie in this range of each category's numbers (leased blocks lie below it).
pub const OFFLINE_BAND_RANGE: std::ops::RangeInclusive<u32> = 500..=999;

/// `[hall]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HallSection {
    /// The hall's id at central, bound by the enrolment token (written by `kioskctl provision`).
    pub id: Option<String>,
    /// The hall's name in Chinese, shown in the header.
    pub name_zh: String,
    /// The hall's name in English.
    pub name_en: String,
    /// Where a citizen who needs a person should go, in Chinese (e.g. `1号综合咨询台`).
    pub help_window_zh: String,
    /// The same in English.
    pub help_window_en: String,
}

/// A UI language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
pub enum Language {
    /// Simplified Chinese, the default.
    #[default]
    #[serde(rename = "zh_CN")]
    ZhCn,
    /// English.
    #[serde(rename = "en")]
    En,
}

/// The configured language is where a citizen's session starts.
impl From<Language> for kiosk_api::citizen::Language {
    fn from(language: Language) -> kiosk_api::citizen::Language {
        match language {
            Language::ZhCn => kiosk_api::citizen::Language::Zh,
            Language::En => kiosk_api::citizen::Language::En,
        }
    }
}

impl Language {
    /// The locale name the UI's bundled translations use.
    pub fn locale(self) -> &'static str {
        match self {
            Self::ZhCn => "zh_CN",
            Self::En => "en",
        }
    }

    /// Parses a locale name as the UI reports it.
    pub fn from_locale(locale: &str) -> Option<Self> {
        match locale {
            "zh_CN" => Some(Self::ZhCn),
            "en" => Some(Self::En),
            _ => None,
        }
    }
}

/// `[ui]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiSection {
    /// The language each session starts in.
    pub language: Language,
    /// Whether each session starts in elder mode (长辈模式).
    pub elder_mode: bool,
    /// Full screen (the kiosk) or a window (development).
    pub fullscreen: bool,
    /// Seconds without a touch before the "continue?" prompt (15–600).
    pub inactivity_timeout_secs: u64,
    /// Seconds the prompt waits before going home and clearing the session (5–120).
    pub continue_prompt_secs: u64,
    /// Clockwise rotation of the picture on the panel, in degrees (0, 90, 180 or 270): a
    /// portrait kiosk often carries a landscape panel turned on its side. Applies to the
    /// appliance's direct-to-screen display (DRM), not to a desktop window.
    pub rotation: u16,
}

impl Default for UiSection {
    fn default() -> Self {
        Self {
            language: Language::ZhCn,
            elder_mode: false,
            fullscreen: true,
            inactivity_timeout_secs: 60,
            continue_prompt_secs: 20,
            rotation: 0,
        }
    }
}

impl UiSection {
    /// Time without a touch before the prompt.
    pub fn inactivity_timeout(&self) -> Duration {
        Duration::from_secs(self.inactivity_timeout_secs)
    }

    /// Time the prompt waits.
    pub fn continue_prompt(&self) -> Duration {
        Duration::from_secs(self.continue_prompt_secs)
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// `[logging]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingSection {
    /// Line format on stderr (under systemd, logs go to the journal with structured fields).
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `info,kiosk_app=debug`.
    pub level: String,
}

impl Default for LoggingSection {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// `[central]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CentralSection {
    /// Base URL of the central platform, `https://…` (or `http://` on a test bench).
    pub url: String,
    /// A hall's or province's private CA (PEM file): central's certificate must be issued by
    /// it, and the public roots are not trusted. `kioskctl provision --ca-file` sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// `[devices]`: each device the kiosk drives.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DevicesSection {
    /// The ID-card reader.
    pub idcard: Option<IdcardDevice>,
    /// The receipt printer.
    pub printer: Option<PrinterDevice>,
    /// The queue-ticket dispenser's printer.
    pub dispenser: Option<PrinterDevice>,
    /// The document scanner.
    pub scanner: Option<ScannerDevice>,
}

/// The ID-card reader: exactly one of `port` (serial, or a USB-serial adapter) or `usb`
/// (a reader with its own USB interface, talked to through libusb).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdcardDevice {
    /// The port, normally a udev symlink such as `/dev/kiosk/idcard`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<PathBuf>,
    /// Baud rate for `port`; absent means auto-detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baud: Option<u32>,
    /// The reader's USB id, `vendor:product` as `lsusb` shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usb: Option<UsbId>,
    /// With `usb`: the serial number of the one to use when two identical readers are
    /// attached (`kioskctl devices` shows it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usb_serial: Option<String>,
}

/// Where the ID-card reader is, once the configuration has been validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderLink {
    /// A serial port; `baud: None` auto-detects.
    Serial {
        /// The port.
        port: PathBuf,
        /// Fixed speed.
        baud: Option<u32>,
    },
    /// A USB bulk reader, and the serial number that picks it among identical ones.
    Usb(UsbId, Option<String>),
}

impl IdcardDevice {
    /// Where the reader is; `None` only for a section that validation refuses.
    pub fn link(&self) -> Option<ReaderLink> {
        match (&self.port, self.usb) {
            (Some(port), None) => Some(ReaderLink::Serial {
                port: port.clone(),
                baud: self.baud,
            }),
            (None, Some(id)) => Some(ReaderLink::Usb(id, self.usb_serial.clone())),
            _ => None,
        }
    }

    /// Where the reader is, as messages and the technician page name it.
    pub fn location(&self) -> String {
        match self.link() {
            Some(ReaderLink::Serial { port, .. }) => port.display().to_string(),
            Some(ReaderLink::Usb(id, None)) => format!("usb {id}"),
            Some(ReaderLink::Usb(id, Some(serial))) => format!("usb {id} serial {serial}"),
            None => "(not set)".into(),
        }
    }
}

/// An ESC/POS printer: exactly one of `port` (serial), `device` (`/dev/usb/lp*`), `usb`
/// (libusb, for printers without `usblp` or whose node gives no status back) or `tcp`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterDevice {
    /// Serial port.
    pub port: Option<PathBuf>,
    /// Baud rate for `port`.
    pub baud: Option<u32>,
    /// USB printer-class device file.
    pub device: Option<PathBuf>,
    /// USB printer by id, `vendor:product`, over its bulk endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usb: Option<UsbId>,
    /// With `usb`: the serial number of the one to use when two identical printers are
    /// attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usb_serial: Option<String>,
    /// Network printer, `host:9100`.
    pub tcp: Option<String>,
    /// Paper width in millimetres (80 or 58).
    #[serde(default = "default_paper_mm")]
    pub paper_mm: u32,
    /// Ask the printer to report its status by itself (ESC/POS automatic status back,
    /// `GS a`), so paper out or an open cover is known without polling. Printers that
    /// never send it are polled as before.
    #[serde(default = "default_true")]
    pub automatic_status: bool,
}

fn default_true() -> bool {
    true
}

fn default_paper_mm() -> u32 {
    80
}

/// A SANE scanner.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScannerDevice {
    /// The SANE device name, e.g. `fujitsu:fi-7160:12345`.
    pub device: String,
    /// Resolution asked for (75–600); the device snaps it to the nearest it offers. 200 dpi
    /// keeps ID-card copies and certificates legible for the clerk at a page's usual size.
    #[serde(default = "default_scan_dpi")]
    pub dpi: u32,
    /// Scan from the automatic document feeder (every page loaded) instead of the glass (one
    /// page per scan).
    #[serde(default)]
    pub feeder: bool,
}

fn default_scan_dpi() -> u32 {
    200
}

/// `[update]`: settings of the update agent.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpdateSection {
    /// Folder holding `releases/`, `downloads/` and the `current` symlink.
    pub root: PathBuf,
    /// Maintenance window in hall local time, `HH:MM-HH:MM`; it may span midnight
    /// (`22:00-06:00`). The agent switches versions only inside it.
    pub window: String,
    /// The hall's offset from UTC (`+08:00` in China), which makes `window` local time.
    pub utc_offset: String,
    /// The command that restarts the app after a switch, as program and arguments.
    pub restart_command: Vec<String>,
    /// Seconds the new version has to report itself healthy (5–1800).
    pub health_deadline_secs: u64,
    /// Installed releases kept besides the current and previous one (0–10).
    pub keep_releases: u32,
}

impl Default for UpdateSection {
    fn default() -> Self {
        Self {
            root: PathBuf::from("/opt/kiosk"),
            window: "22:00-06:00".into(),
            utc_offset: "+08:00".into(),
            restart_command: vec![
                "systemctl".into(),
                "restart".into(),
                "kiosk-app.service".into(),
            ],
            health_deadline_secs: 120,
            keep_releases: 1,
        }
    }
}

/// A daily window of hall local time, `start` inclusive, `end` exclusive; it wraps past
/// midnight when `end` is not after `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaintenanceWindow {
    /// First minute inside the window.
    pub start: chrono::NaiveTime,
    /// First minute after it.
    pub end: chrono::NaiveTime,
    /// Offset of hall local time from UTC.
    pub offset: chrono::FixedOffset,
}

impl MaintenanceWindow {
    /// Whether `now` falls inside the window, in hall local time.
    pub fn contains(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        let local = now.with_timezone(&self.offset).time();
        if self.start < self.end {
            self.start <= local && local < self.end
        } else {
            local >= self.start || local < self.end
        }
    }
}

impl UpdateSection {
    /// The window as times and offset; `Err` names what is wrong with the text.
    pub fn maintenance_window(&self) -> Result<MaintenanceWindow, String> {
        let time = |t: &str| {
            chrono::NaiveTime::parse_from_str(t.trim(), "%H:%M")
                .map_err(|_| format!("{t:?} is not a time such as 22:00"))
        };
        let (start, end) = self
            .window
            .split_once('-')
            .ok_or_else(|| format!("{:?} is not a window such as \"22:00-06:00\"", self.window))?;
        let (start, end) = (time(start)?, time(end)?);
        if start == end {
            return Err(format!("{:?} is an empty window", self.window));
        }
        let offset = self
            .utc_offset
            .parse::<chrono::FixedOffset>()
            .map_err(|_| format!("{:?} is not an offset such as \"+08:00\"", self.utc_offset))?;
        Ok(MaintenanceWindow { start, end, offset })
    }

    /// The deadline of the health gate.
    pub fn health_deadline(&self) -> Duration {
        Duration::from_secs(self.health_deadline_secs)
    }
}

/// Why a configuration was refused. The message is meant for the technician who wrote it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the kiosk configuration {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Central's configuration bundle does not fit: a key ops may not set, a wrong type, a
    /// value out of range ([`Config::with_central`]).
    #[error("central's configuration: key `{key}`: {problem}")]
    Central {
        /// The key's dotted path, e.g. `ui.inactivity_timeout_secs`, or `.` for the whole.
        key: String,
        /// What is wrong, in plain words.
        problem: String,
    },
    /// The file is not valid TOML, or does not fit the schema.
    #[error("{origin}: line {line}, column {column}: key `{key}`: {problem}")]
    Invalid {
        /// The file (or the built-in profile).
        origin: String,
        /// The key's dotted path, e.g. `ui.inactivity_timeout_secs`.
        key: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, in plain words.
        problem: String,
    },
}

impl Config {
    /// Reads and validates the configuration file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The built-in simulate profile.
    pub fn simulate() -> Result<Self, ConfigError> {
        Self::parse(SIMULATE_PROFILE, "built-in simulate profile")
    }

    /// Parses and validates configuration text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let invalid = |key: String, offset: usize, problem: String| {
            let (line, column) = line_and_column(text, offset);
            ConfigError::Invalid {
                origin: origin.to_string(),
                key,
                line,
                column,
                problem,
            }
        };
        let deserializer = toml::Deserializer::parse(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            invalid(key_at(text, offset), offset, e.message().trim().to_string())
        })?;
        let config: Config = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let offset = inner.span().map_or(0, |s| s.start);
            // The path names the offending key (an unknown one included); at the top level it
            // is ".", and the key is the one written at the error's position.
            let key = if path == "." {
                key_at(text, offset)
            } else {
                path
            };
            invalid(key, offset, inner.message().trim().to_string())
        })?;
        config.validate().map_err(|(key, problem)| {
            let offset = find_key(text, &key).unwrap_or(0);
            invalid(key, offset, problem)
        })?;
        Ok(config)
    }

    /// Checks the values that types alone cannot: ranges, mutually exclusive choices.
    fn validate(&self) -> Result<(), (String, String)> {
        let range = |key: &str, value: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&value) {
                Ok(())
            } else {
                Err((
                    key.to_string(),
                    format!("{value} is out of range: use {lo} to {hi}"),
                ))
            }
        };
        range(
            "ui.inactivity_timeout_secs",
            self.ui.inactivity_timeout_secs,
            15,
            600,
        )?;
        range(
            "ui.continue_prompt_secs",
            self.ui.continue_prompt_secs,
            5,
            120,
        )?;
        if ![0, 90, 180, 270].contains(&self.ui.rotation) {
            return Err((
                "ui.rotation".to_string(),
                format!(
                    "{} is not a rotation: use 0, 90, 180 or 270",
                    self.ui.rotation
                ),
            ));
        }
        self.technician.validate()?;
        range("queue.lease_size", self.queue.lease_size.into(), 1, 100)?;
        range("queue.low_water", self.queue.low_water.into(), 0, 100)?;
        range(
            "voice.words_per_minute",
            self.voice.words_per_minute.into(),
            80,
            300,
        )?;
        range(
            "journeys.health_interval_secs",
            self.journeys.health_interval_secs,
            10,
            3600,
        )?;
        let disk = &self.kiosk.disk_budget;
        range("kiosk.disk_budget.limit_mb", disk.limit_mb, 16, 1 << 20)?;
        range(
            "kiosk.disk_budget.near_limit_percent",
            disk.near_limit_percent.into(),
            50,
            99,
        )?;
        range(
            "kiosk.disk_budget.min_free_mb",
            disk.min_free_mb,
            1,
            1 << 16,
        )?;
        if let Some(scanner) = &self.devices.scanner {
            range("devices.scanner.dpi", scanner.dpi.into(), 75, 600)?;
        }
        if self.hall.name_zh.trim().is_empty() {
            return Err(("hall.name_zh".into(), "must not be empty".into()));
        }
        if let Some(central) = &self.central
            && !(central.url.starts_with("https://") || central.url.starts_with("http://"))
        {
            return Err((
                "central.url".into(),
                format!("{:?} is not an http(s) URL", central.url),
            ));
        }
        if let Some(band) = self.kiosk.number_band
            && (band.first > band.last
                || !OFFLINE_BAND_RANGE.contains(&band.first)
                || !OFFLINE_BAND_RANGE.contains(&band.last))
        {
            return Err((
                "kiosk.number_band".into(),
                format!(
                    "{}..={} is not an offline band: it must lie within {}..={}, first <= last; \
                     re-run `kioskctl provision` rather than editing it",
                    band.first,
                    band.last,
                    OFFLINE_BAND_RANGE.start(),
                    OFFLINE_BAND_RANGE.end()
                ),
            ));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.logging.level).is_err() {
            return Err((
                "logging.level".into(),
                format!(
                    "{:?} is not a log filter such as \"info\"",
                    self.logging.level
                ),
            ));
        }
        if let Err(problem) = self.update.maintenance_window() {
            let key = if problem.contains("offset") {
                "update.utc_offset"
            } else {
                "update.window"
            };
            return Err((key.into(), problem));
        }
        range(
            "update.health_deadline_secs",
            self.update.health_deadline_secs,
            5,
            1800,
        )?;
        range(
            "update.keep_releases",
            u64::from(self.update.keep_releases),
            0,
            10,
        )?;
        if self.update.restart_command.is_empty() {
            return Err((
                "update.restart_command".into(),
                "must name a program, e.g. [\"systemctl\", \"restart\", \"kiosk-app.service\"]"
                    .into(),
            ));
        }
        if let Some(reader) = &self.devices.idcard {
            match (&reader.port, &reader.usb) {
                (Some(_), Some(_)) => {
                    return Err((
                        "devices.idcard".into(),
                        "[devices.idcard]: give either `port` (serial) or `usb` \
                         (\"vendor:product\"), not both"
                            .into(),
                    ));
                }
                (None, None) => {
                    return Err((
                        "devices.idcard".into(),
                        "[devices.idcard]: give `port` (serial, e.g. \"/dev/kiosk/idcard\") \
                         or `usb` (\"vendor:product\", e.g. \"0400:c35a\")"
                            .into(),
                    ));
                }
                (None, Some(_)) if reader.baud.is_some() => {
                    return Err((
                        "devices.idcard.baud".into(),
                        "`baud` applies only to a serial `port`, not to `usb`".into(),
                    ));
                }
                _ => {}
            }
            if reader.usb_serial.is_some() && reader.usb.is_none() {
                return Err((
                    "devices.idcard.usb_serial".into(),
                    "`usb_serial` picks among devices given by `usb`; give `usb` too".into(),
                ));
            }
        }
        for (name, printer) in [
            ("devices.printer", &self.devices.printer),
            ("devices.dispenser", &self.devices.dispenser),
        ] {
            if let Some(p) = printer {
                let given = [
                    p.port.is_some(),
                    p.device.is_some(),
                    p.usb.is_some(),
                    p.tcp.is_some(),
                ]
                .iter()
                .filter(|b| **b)
                .count();
                if given != 1 {
                    let what = if given == 0 { "none is" } else { "several are" };
                    return Err((
                        name.to_string(),
                        format!(
                            "[{name}]: give exactly one of `port` (serial), `device` \
                             (/dev/usb/lp*), `usb` (\"vendor:product\") or `tcp`; {what} set"
                        ),
                    ));
                }
                if p.usb_serial.is_some() && p.usb.is_none() {
                    return Err((
                        format!("{name}.usb_serial"),
                        "`usb_serial` picks among devices given by `usb`; give `usb` too".into(),
                    ));
                }
                if ![58, 80].contains(&p.paper_mm) {
                    return Err((
                        format!("{name}.paper_mm"),
                        format!("{} mm paper is not supported: use 80 or 58", p.paper_mm),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// 1-based line and column of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The bare key written at `offset` (`hal_name` in `hal_name = "x"`), for messages.
fn key_at(text: &str, offset: usize) -> String {
    text.get(offset..)
        .unwrap_or("")
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

/// Byte offset of the line that sets a dotted key (`ui.inactivity_timeout_secs`), or of its
/// table header when the whole table is at fault.
fn find_key(text: &str, dotted: &str) -> Option<usize> {
    let (table, key) = dotted.rsplit_once('.').unwrap_or(("", dotted));
    let mut offset = 0;
    let mut current = String::new();
    let mut table_offset = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(header) = trimmed.strip_prefix('[') {
            current = header.split(']').next().unwrap_or("").trim().to_string();
            if current == dotted {
                table_offset = Some(offset);
            }
        } else if current == table && trimmed.split(['=', ' ']).next().is_some_and(|k| k == key) {
            return Some(offset + (line.len() - trimmed.len()));
        }
        offset += line.len();
    }
    table_offset
}
