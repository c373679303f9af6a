//! The technician page's device choices: how the ID-card reader and the two printers are
//! connected, chosen on the kiosk's own screen and kept in `<data_dir>/devices.toml`.
//!
//! The app runs as the unprivileged `kiosk` user and cannot write `/etc/kiosk/kiosk.toml`,
//! and must not: root's tools (kioskctl, the update agent) read that file. So the choice lives
//! in the app's own data folder and only the app applies it, over the file's `[devices.*]`,
//! when it starts. Root never reads it.
//!
//! Each choice remembers a fingerprint of the file's section it replaced. When a technician
//! later changes that section (`kioskctl idcard use`, an edit), the fingerprint no longer
//! matches and the file wins again, so an old choice on the screen never silently shadows a
//! newer one in the file.

use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{Config, IdcardDevice, PrinterDevice, UsbId};

/// File name of the choices in the data folder.
pub const LOCAL_DEVICES_FILE: &str = "devices.toml";

/// Which device a choice is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The ID-card reader.
    Idcard,
    /// The receipt printer.
    Printer,
    /// The ticket dispenser's printer.
    Dispenser,
}

impl Role {
    /// As in `[devices.<role>]`.
    pub fn key(self) -> &'static str {
        match self {
            Role::Idcard => "idcard",
            Role::Printer => "printer",
            Role::Dispenser => "dispenser",
        }
    }
}

/// How a device is connected, as the technician page offers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Link {
    /// A serial port (a USB-serial adapter, a built-in UART), by its node or udev link.
    Port(PathBuf),
    /// A USB printer-class node (`/dev/usb/lp0`).
    Node(PathBuf),
    /// A device with its own USB interface, through libusb; the serial number picks one of two
    /// identical devices.
    Usb {
        /// `vendor:product`.
        id: UsbId,
        /// Serial number, when there is a choice.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        serial: Option<String>,
    },
}

impl Link {
    /// Where the link is, as the page and the log show it.
    pub fn describe(&self) -> String {
        match self {
            Link::Port(p) | Link::Node(p) => p.display().to_string(),
            Link::Usb { id, serial: None } => format!("usb {id}"),
            Link::Usb {
                id,
                serial: Some(s),
            } => format!("usb {id} serial {s}"),
        }
    }

    /// A node path must be a device under `/dev`, named without `..`: the app must never be
    /// pointed at a file elsewhere by a file in its own folder.
    fn check(&self) -> Result<(), String> {
        match self {
            Link::Port(p) | Link::Node(p) => {
                let plain = p
                    .components()
                    .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
                if p.starts_with("/dev/") && plain {
                    Ok(())
                } else {
                    Err(format!("{} is not a device under /dev", p.display()))
                }
            }
            Link::Usb { .. } => Ok(()),
        }
    }
}

/// One device's choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// The link chosen.
    pub link: Link,
    /// Fingerprint of the file's `[devices.<role>]` when the choice was made.
    pub based_on: String,
    /// When it was made.
    pub chosen_at: DateTime<Utc>,
}

/// Every choice made on the technician page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalDevices {
    /// The ID-card reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idcard: Option<Choice>,
    /// The receipt printer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printer: Option<Choice>,
    /// The ticket dispenser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispenser: Option<Choice>,
}

/// Why the choices could not be read or kept.
#[derive(Debug, thiserror::Error)]
pub enum LocalDevicesError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not what the page writes.
    #[error("{path}: {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// What applying the choices did, one line per choice, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The choice replaced the file's link.
    Used(Role, String),
    /// The file's section changed after the choice: the file wins.
    Outdated(Role),
    /// The choice does not make a valid configuration (or names no device node).
    Refused(Role, String),
}

impl LocalDevices {
    /// The choices in `data_dir`; none when there is no file.
    pub fn read(data_dir: &Path) -> Result<LocalDevices, LocalDevicesError> {
        let path = data_dir.join(LOCAL_DEVICES_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => return Err(LocalDevicesError::Io { path, source }),
        };
        toml::from_str(&text).map_err(|e| LocalDevicesError::Invalid {
            path,
            problem: e.message().to_owned(),
        })
    }

    /// Writes the choices to `data_dir` (whole, through a temporary file and a rename).
    pub fn write(&self, data_dir: &Path) -> Result<(), LocalDevicesError> {
        let path = data_dir.join(LOCAL_DEVICES_FILE);
        let text = toml::to_string(self).map_err(|e| LocalDevicesError::Invalid {
            path: path.clone(),
            problem: e.to_string(),
        })?;
        let body = format!(
            "# The technician page's device choices; kiosk-app applies them over kiosk.toml's\n\
             # [devices.*] while that section is unchanged. Delete this file to use kiosk.toml alone.\n{text}"
        );
        crate::identity::write_atomic(&path, body.as_bytes(), 0o600).map_err(|e| {
            LocalDevicesError::Io {
                path,
                source: std::io::Error::other(e.to_string()),
            }
        })
    }

    /// Records `link` for `role`, made against the file's section in `config`.
    pub fn choose(&mut self, config: &Config, role: Role, link: Link, now: DateTime<Utc>) {
        let choice = Choice {
            link,
            based_on: fingerprint(config, role),
            chosen_at: now,
        };
        *self.slot(role) = Some(choice);
    }

    fn slot(&mut self, role: Role) -> &mut Option<Choice> {
        match role {
            Role::Idcard => &mut self.idcard,
            Role::Printer => &mut self.printer,
            Role::Dispenser => &mut self.dispenser,
        }
    }

    /// The configuration with the choices that still apply; what each choice did.
    pub fn apply(&self, config: Config) -> (Config, Vec<Applied>) {
        let mut config = config;
        let mut applied = Vec::new();
        for (role, choice) in [
            (Role::Idcard, &self.idcard),
            (Role::Printer, &self.printer),
            (Role::Dispenser, &self.dispenser),
        ] {
            let Some(choice) = choice else { continue };
            if choice.based_on != fingerprint(&config, role) {
                applied.push(Applied::Outdated(role));
                continue;
            }
            if let Err(why) = choice.link.check() {
                applied.push(Applied::Refused(role, why));
                continue;
            }
            let mut next = config.clone();
            with_link(&mut next, role, &choice.link);
            match next.validate() {
                Ok(()) => {
                    config = next;
                    applied.push(Applied::Used(role, choice.link.describe()));
                }
                Err((key, problem)) => {
                    applied.push(Applied::Refused(role, format!("{key}: {problem}")));
                }
            }
        }
        (config, applied)
    }
}

/// A short digest of the file's `[devices.<role>]` (absent counts as a section too).
pub fn fingerprint(config: &Config, role: Role) -> String {
    let text = match role {
        Role::Idcard => toml::to_string(&config.devices.idcard),
        Role::Printer => toml::to_string(&config.devices.printer),
        Role::Dispenser => toml::to_string(&config.devices.dispenser),
    }
    .unwrap_or_default();
    let digest = Sha256::digest(format!("{}\n{text}", role.key()).as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn with_link(config: &mut Config, role: Role, link: &Link) {
    match role {
        Role::Idcard => {
            let old = config.devices.idcard.take();
            let mut reader = IdcardDevice {
                port: None,
                baud: None,
                usb: None,
                usb_serial: None,
            };
            match link {
                // The old speed only if it is the same port; a new one is detected.
                Link::Port(p) | Link::Node(p) => {
                    reader.baud = old
                        .filter(|o| o.port.as_deref() == Some(p.as_path()))
                        .and_then(|o| o.baud);
                    reader.port = Some(p.clone());
                }
                Link::Usb { id, serial } => {
                    reader.usb = Some(*id);
                    reader.usb_serial = serial.clone();
                }
            }
            config.devices.idcard = Some(reader);
        }
        Role::Printer | Role::Dispenser => {
            let slot = if role == Role::Printer {
                &mut config.devices.printer
            } else {
                &mut config.devices.dispenser
            };
            let old = slot.take();
            let mut printer = PrinterDevice {
                port: None,
                baud: None,
                device: None,
                usb: None,
                usb_serial: None,
                tcp: None,
                paper_mm: old.as_ref().map_or(80, |o| o.paper_mm),
                automatic_status: old.as_ref().is_none_or(|o| o.automatic_status),
            };
            match link {
                Link::Port(p) => {
                    printer.baud = old
                        .filter(|o| o.port.as_deref() == Some(p.as_path()))
                        .and_then(|o| o.baud);
                    printer.port = Some(p.clone());
                }
                Link::Node(p) => printer.device = Some(p.clone()),
                Link::Usb { id, serial } => {
                    printer.usb = Some(*id);
                    printer.usb_serial = serial.clone();
                }
            }
            *slot = Some(printer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(devices: &str) -> Config {
        Config::parse(
            &format!(
                "[kiosk]\ndata_dir = \"/var/lib/kiosk\"\n\n[hall]\nname_zh = \"中心\"\nname_en = \"Center\"\n\
                 help_window_zh = \"1号窗口\"\nhelp_window_en = \"window 1\"\n\n{devices}"
            ),
            "test",
        )
        .unwrap()
    }

    const FILE: &str = "[devices.idcard]\nport = \"/dev/kiosk/idcard\"\nbaud = 115200\n\n\
                        [devices.printer]\ntcp = \"10.0.0.9:9100\"\npaper_mm = 58\n";

    fn usb(text: &str) -> UsbId {
        text.parse().unwrap()
    }

    #[test]
    fn a_choice_replaces_the_files_link_and_keeps_the_rest_of_the_section() {
        let file = config(FILE);
        let mut local = LocalDevices::default();
        local.choose(
            &file,
            Role::Idcard,
            Link::Usb {
                id: usb("0400:c35a"),
                serial: None,
            },
            Utc::now(),
        );
        local.choose(
            &file,
            Role::Printer,
            Link::Node("/dev/usb/lp0".into()),
            Utc::now(),
        );
        let (used, applied) = local.apply(file);
        let reader = used.devices.idcard.unwrap();
        assert_eq!((reader.port, reader.usb), (None, Some(usb("0400:c35a"))));
        let printer = used.devices.printer.unwrap();
        assert_eq!(printer.device.as_deref(), Some(Path::new("/dev/usb/lp0")));
        assert_eq!((printer.tcp, printer.paper_mm), (None, 58));
        assert_eq!(
            applied,
            vec![
                Applied::Used(Role::Idcard, "usb 0400:c35a".into()),
                Applied::Used(Role::Printer, "/dev/usb/lp0".into())
            ]
        );
    }

    #[test]
    fn a_section_changed_in_the_file_after_the_choice_wins() {
        let mut local = LocalDevices::default();
        local.choose(
            &config(FILE),
            Role::Idcard,
            Link::Port("/dev/ttyUSB1".into()),
            Utc::now(),
        );
        let edited = config(&FILE.replace("/dev/kiosk/idcard", "/dev/ttyS1"));
        let (used, applied) = local.apply(edited);
        assert_eq!(
            used.devices.idcard.unwrap().port.as_deref(),
            Some(Path::new("/dev/ttyS1"))
        );
        assert_eq!(applied, vec![Applied::Outdated(Role::Idcard)]);
    }

    #[test]
    fn a_choice_naming_a_file_outside_dev_is_refused() {
        let file = config(FILE);
        for bad in ["/etc/shadow", "/dev/../etc/shadow", "relative/ttyUSB0"] {
            let mut local = LocalDevices::default();
            local.choose(&file, Role::Printer, Link::Port(bad.into()), Utc::now());
            let (used, applied) = local.apply(file.clone());
            assert_eq!(
                used.devices.printer.unwrap().tcp.as_deref(),
                Some("10.0.0.9:9100")
            );
            assert!(
                matches!(applied.as_slice(), [Applied::Refused(Role::Printer, _)]),
                "{bad}: {applied:?}"
            );
        }
    }

    #[test]
    fn choices_survive_the_file_and_a_device_the_file_lacks_can_be_chosen() {
        let data = tempfile::tempdir().unwrap();
        assert_eq!(
            LocalDevices::read(data.path()).unwrap(),
            LocalDevices::default()
        );
        let file = config(FILE);
        let mut local = LocalDevices::default();
        local.choose(
            &file,
            Role::Dispenser,
            Link::Usb {
                id: usb("0416:5011"),
                serial: Some("A1".into()),
            },
            Utc::now(),
        );
        local.write(data.path()).unwrap();
        let read = LocalDevices::read(data.path()).unwrap();
        assert_eq!(read, local);
        let (used, _) = read.apply(file);
        let dispenser = used.devices.dispenser.unwrap();
        assert_eq!(dispenser.usb_serial.as_deref(), Some("A1"));
        assert_eq!(dispenser.paper_mm, 80);

        std::fs::write(data.path().join(LOCAL_DEVICES_FILE), "[idcard]\nlink = 3\n").unwrap();
        assert!(matches!(
            LocalDevices::read(data.path()),
            Err(LocalDevicesError::Invalid { .. })
        ));
    }
}
