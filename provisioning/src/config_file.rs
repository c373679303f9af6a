//! Editing `/etc/kiosk/kiosk.toml` in place: the technician's comments, order and other keys
//! stay as they were; only the keys kioskctl owns change. Every edit is validated with the
//! app's own parser before it is written, and written atomically (temporary file in the same
//! folder, fsync, rename, fsync of the folder), so a power cut leaves the old file or the new
//! one, and the app never meets a file it would refuse.

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use kiosk_core::config::{Config, ConfigError, UsbId};
use toml_edit::{DocumentMut, InlineTable, Item, Table, Value};

/// What enrolment decided, as the configuration records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedValues {
    /// `[kiosk] id`.
    pub kiosk_id: String,
    /// `[kiosk] number_band`, first and last.
    pub number_band: (u32, u32),
    /// `[central] url`.
    pub central_url: String,
    /// `[hall] id`.
    pub hall_id: String,
    /// `[hall] name_zh`.
    pub hall_name: String,
    /// `[central] ca_file`; removed when `None`.
    pub ca_file: Option<PathBuf>,
}

/// Why the configuration could not be edited or written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// Reading or writing failed.
    #[error(
        "cannot {doing} the kiosk configuration {path}: {source}; run kioskctl as root (sudo), or pass --config with a file you can write"
    )]
    Io {
        /// read, write, ...
        doing: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML, or a section kioskctl writes is not a table.
    #[error("{path}: {problem}; fix the file by hand (see docs/technician.md) and run again")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The file (as it is, or as it would be after the edit) is refused by the app's parser.
    #[error("the kiosk app would refuse this configuration: {0}; fix it and run again")]
    Invalid(#[from] ConfigError),
}

/// The file written when a kiosk has no configuration yet: what the app needs to start, with
/// the hall's desk names for the technician to correct. The keys provisioning owns are there
/// (with stand-in values it replaces) so that they sit where a reader looks for them.
pub fn template(data_dir: &Path) -> String {
    format!(
        r#"# The configuration of this hall kiosk (see docs/technician.md).
# `kioskctl provision` writes [kiosk] id and number_band, [hall] id and name_zh, and [central].
# Everything else is the technician's. Unknown keys are refused at start.

[kiosk]
id = ""
number_band = {{ first = 0, last = 0 }}
# Database, spool and keys.
data_dir = {}

[hall]
id = ""
name_zh = ""
# Correct these three by hand: the hall's English name, and the desk a citizen who needs a
# person is sent to.
name_en = "Government Service Center"
help_window_zh = "综合咨询台"
help_window_en = "Information desk"

[central]
url = ""
"#,
        Value::from(data_dir.display().to_string())
            .to_string()
            .trim()
    )
}

/// Applies `values` to the configuration text `text` (or to [`template`] when `None`) and
/// returns the new text, checked with the app's parser under the name `origin`.
pub fn apply(
    text: Option<&str>,
    values: &ProvisionedValues,
    new_data_dir: &Path,
    origin: &Path,
) -> Result<String, ConfigFileError> {
    let template;
    let text = match text {
        Some(text) => text,
        None => {
            template = self::template(new_data_dir);
            &template
        }
    };
    let syntax = |problem: String| ConfigFileError::Syntax {
        path: origin.to_owned(),
        problem,
    };
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| syntax(e.to_string().trim().to_owned()))?;

    let kiosk = table_mut(&mut doc, "kiosk").map_err(&syntax)?;
    set(kiosk, "id", Value::from(values.kiosk_id.as_str()));
    let mut band = InlineTable::new();
    band.insert("first", Value::from(i64::from(values.number_band.0)));
    band.insert("last", Value::from(i64::from(values.number_band.1)));
    set(kiosk, "number_band", Value::InlineTable(band));

    let hall = table_mut(&mut doc, "hall").map_err(&syntax)?;
    set(hall, "id", Value::from(values.hall_id.as_str()));
    set(hall, "name_zh", Value::from(values.hall_name.as_str()));

    let central = table_mut(&mut doc, "central").map_err(&syntax)?;
    set(central, "url", Value::from(values.central_url.as_str()));
    match &values.ca_file {
        Some(file) => set(central, "ca_file", Value::from(file.display().to_string())),
        None => {
            central.remove("ca_file");
        }
    }

    let out = doc.to_string();
    Config::parse(&out, &origin.display().to_string())?;
    Ok(out)
}

/// Sets `[technician] pin_hash` and returns the new text (checked like [`apply`]).
pub fn set_pin_hash(text: &str, hash: &str, origin: &Path) -> Result<String, ConfigFileError> {
    let syntax = |problem: String| ConfigFileError::Syntax {
        path: origin.to_owned(),
        problem,
    };
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| syntax(e.to_string().trim().to_owned()))?;
    let technician = table_mut(&mut doc, "technician").map_err(&syntax)?;
    set(technician, "pin_hash", Value::from(hash));
    let out = doc.to_string();
    Config::parse(&out, &origin.display().to_string())?;
    Ok(out)
}

/// How a device is attached, as a `[devices.*]` section names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceLink {
    /// `port` (and `baud`, absent: auto-detected or the driver's default).
    Port {
        /// The serial port.
        path: PathBuf,
        /// Its speed.
        baud: Option<u32>,
    },
    /// `device`: a printer-class node such as `/dev/usb/lp0` (printers only).
    Device(PathBuf),
    /// `usb`: by USB id through libusb, and `usb_serial` to pick one of identical devices.
    Usb(UsbId, Option<String>),
    /// `tcp`: a network printer (printers only).
    Tcp(String),
}

/// The keys that say where a device is: exactly one of them is set after an edit.
const LINK_KEYS: [&str; 6] = ["port", "baud", "device", "usb", "usb_serial", "tcp"];

/// Points `[devices.<device>]` (`idcard`, `printer`, `dispenser`) at `link` and returns the
/// new text: the other link keys are removed, the section's other keys (`paper_mm`,
/// `automatic_status`) and every comment stay. Checked like [`apply`]: a link the app would
/// refuse (a `tcp` reader) is refused here.
pub fn set_device_link(
    text: &str,
    device: &str,
    link: &DeviceLink,
    origin: &Path,
) -> Result<String, ConfigFileError> {
    let syntax = |problem: String| ConfigFileError::Syntax {
        path: origin.to_owned(),
        problem,
    };
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| syntax(e.to_string().trim().to_owned()))?;
    let devices = doc.entry("devices").or_insert_with(|| {
        let mut table = Table::new();
        table.set_implicit(true);
        Item::Table(table)
    });
    let devices = devices
        .as_table_like_mut()
        .ok_or_else(|| syntax("`devices` must be a table ([devices])".into()))?;
    let section = devices.entry(device).or_insert(Item::Table(Table::new()));
    let section = section.as_table_like_mut().ok_or_else(|| {
        syntax(format!(
            "`devices.{device}` must be a table ([devices.{device}])"
        ))
    })?;
    for key in LINK_KEYS {
        section.remove(key);
    }
    match link {
        DeviceLink::Port { path, baud } => {
            set(section, "port", Value::from(path.display().to_string()));
            if let Some(baud) = baud {
                set(section, "baud", Value::from(i64::from(*baud)));
            }
        }
        DeviceLink::Device(path) => set(section, "device", Value::from(path.display().to_string())),
        DeviceLink::Usb(id, serial) => {
            set(section, "usb", Value::from(id.to_string()));
            if let Some(serial) = serial {
                set(section, "usb_serial", Value::from(serial.as_str()));
            }
        }
        DeviceLink::Tcp(addr) => set(section, "tcp", Value::from(addr.as_str())),
    }
    let out = doc.to_string();
    Config::parse(&out, &origin.display().to_string())?;
    Ok(out)
}

/// Points `[devices.<device>]` of the configuration file at `path` at `link`, in place
/// (see [`set_device_link`]); the file must exist.
pub fn write_device_link(
    path: &Path,
    device: &str,
    link: &DeviceLink,
) -> Result<(), ConfigFileError> {
    let text = read(path)?.ok_or_else(|| ConfigFileError::Io {
        doing: "read",
        path: path.to_owned(),
        source: std::io::ErrorKind::NotFound.into(),
    })?;
    let edited = set_device_link(&text, device, link, path)?;
    check_writable(path)?;
    write_atomic(path, &edited)
}

/// The table `name` at the top level, created (at the end) if missing.
fn table_mut<'d>(
    doc: &'d mut DocumentMut,
    name: &str,
) -> Result<&'d mut dyn toml_edit::TableLike, String> {
    let item = doc.entry(name).or_insert_with(|| {
        let mut table = Table::new();
        table.set_implicit(false);
        Item::Table(table)
    });
    item.as_table_like_mut()
        .ok_or_else(|| format!("`{name}` must be a table ([{name}])"))
}

/// Sets `key` to `value`, keeping the comments around an existing value.
fn set(table: &mut dyn toml_edit::TableLike, key: &str, mut value: Value) {
    if let Some(old) = table.get(key).and_then(Item::as_value) {
        *value.decor_mut() = old.decor().clone();
    } else {
        value.decor_mut().set_prefix(" ");
    }
    table.insert(key, Item::Value(value));
}

/// Reads the configuration text; `None` when the file does not exist.
pub fn read(path: &Path) -> Result<Option<String>, ConfigFileError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigFileError::Io {
            doing: "read",
            path: path.to_owned(),
            source,
        }),
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "kiosk.toml".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.kioskctl-tmp"))
}

/// Checks, before anything irreversible happens, that `path` can be written the way
/// [`write_atomic`] will: its folder exists (created if missing) and takes a new file.
pub fn check_writable(path: &Path) -> Result<(), ConfigFileError> {
    let io = |source| ConfigFileError::Io {
        doing: "write",
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let probe = temp_path(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .map_err(io)?;
    std::fs::remove_file(&probe).map_err(io)?;
    if path.exists() {
        // Renaming over the file needs only the folder, but a read-only file is a sign the
        // technician locked it on purpose.
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io)?;
    }
    Ok(())
}

/// Replaces `path` with `text` atomically, keeping the old file's mode and owner (0644 for a
/// new file: the app's user must read it).
pub fn write_atomic(path: &Path, text: &str) -> Result<(), ConfigFileError> {
    let io = |source| ConfigFileError::Io {
        doing: "write",
        path: path.to_owned(),
        source,
    };
    let old = std::fs::metadata(path).ok();
    let mode = old.as_ref().map_or(0o644, |m| m.mode() & 0o7777);
    let tmp = temp_path(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io)?;
    if let Some(old) = &old {
        // Only root can give a file away; anyone else already owns what they write.
        let _ = std::os::unix::fs::fchown(&file, Some(old.uid()), Some(old.gid()));
        // The umask may have narrowed the mode at creation.
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
            .map_err(io)?;
    }
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(dir) = std::fs::File::open(dir)
    {
        dir.sync_all().map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
