//! What is plugged in: serial ports and USB devices read from sysfs, matched to the kiosk's
//! known devices ([`crate::known`]), with the udev symlinks that point at their device nodes.
//!
//! The sysfs and `/dev` roots are parameters ([`Roots`]) so that tests can build a fake tree in
//! a temporary directory: a real sysfs on a build machine has no kiosk devices.
//!
//! Layout read (as the kernel lays it out):
//! - `/sys/class/tty/NAME/device`: present for ports with hardware behind them (virtual
//!   consoles have none); `type` 0 marks a platform UART slot with no chip.
//! - `/sys/bus/usb/devices/B-P.P`: one per USB device, with `idVendor`, `idProduct`,
//!   `manufacturer`, `product`, `serial`; its interfaces `B-P.P:C.I` hold `tty/ttyACM0`,
//!   `ttyUSB0/tty/ttyUSB0` or `usbmisc/lp0` for the device nodes they create.
//! - `/dev/kiosk/*`, `/dev/serial/by-id/*`, `/dev/serial/by-path/*`: udev's symlinks.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::known::{self, KnownDevice};

/// Where sysfs and the device directory are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    /// sysfs, normally `/sys`.
    pub sys: PathBuf,
    /// The device directory, normally `/dev`.
    pub dev: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Roots {
            sys: PathBuf::from("/sys"),
            dev: PathBuf::from("/dev"),
        }
    }
}

/// Everything `kioskctl devices` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inventory {
    /// USB devices other than root hubs, by bus path.
    pub usb_devices: Vec<UsbDevice>,
    /// Serial ports with hardware behind them, by name.
    pub serial_ports: Vec<SerialPort>,
    /// Every entry of `/dev/kiosk/`, and where it points.
    pub kiosk_links: Vec<KioskLink>,
}

/// One USB device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsbDevice {
    /// Bus and port path (`1-1.2`): the physical port it is plugged into. udev's ID_PATH ends
    /// in it, so it is what decides `printer` vs `dispenser`.
    pub bus_path: String,
    /// `vendor:product` in lower-case hex.
    pub id: String,
    /// USB vendor id.
    pub vendor: u16,
    /// USB product id.
    pub product: u16,
    /// Manufacturer string, if the device gives one.
    pub manufacturer: Option<String>,
    /// Product string, if the device gives one.
    pub product_name: Option<String>,
    /// Serial number string, if the device gives one.
    pub serial: Option<String>,
    /// The kiosk's table entry, if this is a known device.
    pub known: Option<KnownDevice>,
    /// Device nodes its interfaces created (`/dev/ttyUSB0`, `/dev/usb/lp0`).
    pub nodes: Vec<PathBuf>,
    /// udev symlinks pointing at those nodes.
    pub symlinks: Vec<PathBuf>,
    /// Its kiosk role (`idcard`, `printer`, `dispenser`): the name of its `/dev/kiosk/` link.
    pub role: Option<String>,
    /// udev's `ID_PATH` of the interface that carries its device node
    /// (`pci-0000:00:14.0-usb-0:2:1.0`): what `71-kiosk-ports.rules` matches to give a
    /// printer its role by the port it is plugged into.
    pub id_path: Option<String>,
}

/// One serial port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SerialPort {
    /// Kernel name (`ttyUSB0`, `ttyS0`).
    pub name: String,
    /// Its device node.
    pub node: PathBuf,
    /// The kernel driver behind it (`ch341-uart`, `cp210x`, `serial8250`).
    pub driver: Option<String>,
    /// Bus path of the USB device it belongs to, for USB-serial adapters.
    pub usb_bus_path: Option<String>,
    /// udev's `ID_PATH` of the port, for USB-serial adapters.
    pub id_path: Option<String>,
    /// udev symlinks pointing at it.
    pub symlinks: Vec<PathBuf>,
}

/// One entry of `/dev/kiosk/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KioskLink {
    /// `idcard`, `printer`, `dispenser`, ...
    pub name: String,
    /// The link itself.
    pub path: PathBuf,
    /// Where it points, resolved against the device directory.
    pub target: Option<PathBuf>,
    /// Whether the target exists (a dangling link means the device is unplugged).
    pub target_exists: bool,
}

/// Why the inventory could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}; run kioskctl on the kiosk itself (it reads sysfs and /dev)")]
pub struct DevicesError {
    /// What could not be read.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// Reads the inventory under `roots`. Missing directories (no USB bus, no `/dev/kiosk` yet)
/// give empty lists; other read failures are errors.
pub fn scan(roots: &Roots) -> Result<Inventory, DevicesError> {
    let links = udev_links(&roots.dev)?;
    let links_to = |node: &Path| -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = links
            .iter()
            .filter(|(_, target)| target.as_path() == node)
            .map(|(link, _)| link.clone())
            .collect();
        found.sort();
        found
    };
    let kiosk_dir = roots.dev.join("kiosk");

    let mut usb_devices = Vec::new();
    for (bus_path, dir) in usb_device_dirs(&roots.sys)? {
        let Some(vendor) = read_hex(&dir.join("idVendor"))? else {
            continue;
        };
        let Some(product) = read_hex(&dir.join("idProduct"))? else {
            continue;
        };
        let (nodes, interface) = usb_nodes(&dir, &bus_path, &roots.dev)?;
        let id_path = interface.map(|i| id_path(&dir, &i));
        let symlinks: Vec<PathBuf> = nodes.iter().flat_map(|n| links_to(n)).collect();
        let role = symlinks
            .iter()
            .find(|l| l.parent() == Some(kiosk_dir.as_path()))
            .and_then(|l| l.file_name())
            .map(|n| n.to_string_lossy().into_owned());
        usb_devices.push(UsbDevice {
            id: format!("{vendor:04x}:{product:04x}"),
            vendor,
            product,
            manufacturer: read_text(&dir.join("manufacturer"))?,
            product_name: read_text(&dir.join("product"))?,
            serial: read_text(&dir.join("serial"))?,
            known: known::lookup(vendor, product).copied(),
            nodes,
            symlinks,
            role,
            id_path,
            bus_path,
        });
    }
    usb_devices.sort_by(|a, b| a.bus_path.cmp(&b.bus_path));

    let mut serial_ports = Vec::new();
    let class = roots.sys.join("class/tty");
    for name in dir_names(&class)? {
        let entry = class.join(&name);
        let device = entry.join("device");
        if std::fs::symlink_metadata(&device).is_err() {
            continue; // virtual terminals, pseudo-terminals
        }
        if read_text(&entry.join("type"))?.as_deref() == Some("0") {
            continue; // a platform UART slot with no chip behind it
        }
        let driver = std::fs::read_link(device.join("driver"))
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
        let node = roots.dev.join(&name);
        let usb = usb_ancestor(&roots.sys, &device);
        serial_ports.push(SerialPort {
            symlinks: links_to(&node),
            usb_bus_path: usb.as_ref().map(|(bus_path, _)| bus_path.clone()),
            id_path: usb.map(|(_, id_path)| id_path),
            driver,
            node,
            name,
        });
    }
    serial_ports.sort_by(|a, b| a.name.cmp(&b.name));

    let mut kiosk_links = Vec::new();
    for name in dir_names(&kiosk_dir)? {
        let path = kiosk_dir.join(&name);
        let target = links.get(&path).cloned();
        let target_exists = path.exists();
        kiosk_links.push(KioskLink {
            name,
            path,
            target,
            target_exists,
        });
    }

    Ok(Inventory {
        usb_devices,
        serial_ports,
        kiosk_links,
    })
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DevicesError + '_ {
    move |source| DevicesError {
        path: path.to_owned(),
        source,
    }
}

/// Entry names of a directory, sorted; none if it does not exist.
fn dir_names(dir: &Path) -> Result<Vec<String>, DevicesError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(dir)(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_error(dir))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// A sysfs attribute as trimmed text; none if absent.
fn read_text(path: &Path) -> Result<Option<String>, DevicesError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).trim().to_owned())),
        // Unreadable string descriptors (a device that stalls them) read as EIO/ENODATA.
        Err(e) if e.kind() == ErrorKind::NotFound || e.raw_os_error().is_some() => Ok(None),
        Err(e) => Err(io_error(path)(e)),
    }
}

fn read_hex(path: &Path) -> Result<Option<u16>, DevicesError> {
    Ok(read_text(path)?.and_then(|t| u16::from_str_radix(&t, 16).ok()))
}

/// `(bus path, real directory)` of every USB device except root hubs.
fn usb_device_dirs(sys: &Path) -> Result<Vec<(String, PathBuf)>, DevicesError> {
    let bus = sys.join("bus/usb/devices");
    let mut found = Vec::new();
    for name in dir_names(&bus)? {
        // `usbN` are root hubs, `B-P:C.I` are interfaces.
        if name.starts_with("usb") || name.contains(':') {
            continue;
        }
        let link = bus.join(&name);
        let dir = std::fs::canonicalize(&link).unwrap_or(link);
        found.push((name, dir));
    }
    Ok(found)
}

/// Device nodes created by the interfaces of the USB device in `dir`, and the name of the
/// first interface that has one.
fn usb_nodes(
    dir: &Path,
    bus_path: &str,
    dev: &Path,
) -> Result<(Vec<PathBuf>, Option<String>), DevicesError> {
    let mut nodes = Vec::new();
    let mut first = None;
    let prefix = format!("{bus_path}:");
    for interface in dir_names(dir)?
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
    {
        let before = nodes.len();
        collect_nodes(&dir.join(&interface), dev, 0, &mut nodes)?;
        if first.is_none() && nodes.len() > before {
            first = Some(interface);
        }
    }
    nodes.sort();
    nodes.dedup();
    Ok((nodes, first))
}

/// udev's `ID_PATH` (as its `path_id` builtin makes it) of `interface` (`1-2:1.0`) of the USB
/// device in `device_dir`: the host controller (`pci-0000:00:14.0`, or `platform-NAME` on
/// boards without PCI), then `usb-0:` and the port path with the interface (`2:1.0`).
fn id_path(device_dir: &Path, interface: &str) -> String {
    let host = device_dir
        .ancestors()
        .filter_map(|a| a.file_name().map(|n| n.to_string_lossy().into_owned()))
        .find(|n| !n.starts_with("usb") && !n.contains('-'))
        .unwrap_or_default();
    let looks_pci = host.len() == 12 && host.as_bytes().get(4) == Some(&b':');
    let kind = if looks_pci { "pci" } else { "platform" };
    let port = interface.split_once('-').map_or(interface, |(_, p)| p);
    format!("{kind}-{host}-usb-0:{port}")
}

/// Walks real directories (not sysfs's back-links) a few levels down, taking the entries of
/// `tty/` and `usbmisc/` class directories as device nodes.
fn collect_nodes(
    dir: &Path,
    dev: &Path,
    depth: usize,
    nodes: &mut Vec<PathBuf>,
) -> Result<(), DevicesError> {
    if depth > 3 {
        return Ok(());
    }
    for name in dir_names(dir)? {
        let path = dir.join(&name);
        let is_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        if !is_dir {
            continue;
        }
        match name.as_str() {
            "tty" => nodes.extend(dir_names(&path)?.into_iter().map(|n| dev.join(n))),
            "usbmisc" => nodes.extend(
                dir_names(&path)?
                    .into_iter()
                    .map(|n| dev.join("usb").join(n)),
            ),
            _ => collect_nodes(&path, dev, depth + 1, nodes)?,
        }
    }
    Ok(())
}

/// Bus path and `ID_PATH` of the USB device above a tty's `device` link, if there is one.
fn usb_ancestor(sys: &Path, device: &Path) -> Option<(String, String)> {
    let real = std::fs::canonicalize(device).ok()?;
    let sys = std::fs::canonicalize(sys).unwrap_or_else(|_| sys.to_owned());
    let mut interface = None;
    for dir in real
        .ancestors()
        .take_while(|a| a.starts_with(&sys) && *a != sys)
    {
        let name = dir.file_name()?.to_string_lossy().into_owned();
        if name.contains(':') && name.contains('-') {
            interface = Some(name);
        } else if dir.join("idVendor").is_file() && !name.starts_with("usb") {
            let interface = interface.unwrap_or_else(|| format!("{name}:1.0"));
            return Some((name, id_path(dir, &interface)));
        }
    }
    None
}

/// Every udev symlink under `/dev/kiosk`, `/dev/serial/by-id` and `/dev/serial/by-path`,
/// mapped to the device node it finally points at.
fn udev_links(dev: &Path) -> Result<BTreeMap<PathBuf, PathBuf>, DevicesError> {
    let mut links = BTreeMap::new();
    for folder in ["kiosk", "serial/by-id", "serial/by-path"] {
        let dir = dev.join(folder);
        for name in dir_names(&dir)? {
            let link = dir.join(name);
            if let Some(target) = resolve_link(dev, &link) {
                links.insert(link, target);
            }
        }
    }
    Ok(links)
}

/// Follows symlinks from `link` (at most a few hops) without requiring the target to exist,
/// reading absolute `/dev/...` targets as relative to the `dev` root.
fn resolve_link(dev: &Path, link: &Path) -> Option<PathBuf> {
    let mut current = link.to_owned();
    let mut hops = 0;
    while let Ok(target) = std::fs::read_link(&current) {
        hops += 1;
        if hops > 8 {
            return None;
        }
        let joined = match target.strip_prefix("/dev") {
            Ok(rest) if target.is_absolute() => dev.join(rest),
            _ if target.is_absolute() => target,
            _ => current.parent()?.join(target),
        };
        current = normalize(&joined);
    }
    (hops > 0).then_some(current)
}

/// Removes `.` and `..` lexically (device links point at nodes that may not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udev_style_relative_and_absolute_targets_resolve_under_the_dev_root() {
        let dev = tempfile::tempdir().unwrap();
        let root = dev.path();
        std::fs::create_dir_all(root.join("kiosk")).unwrap();
        std::fs::create_dir_all(root.join("serial/by-id")).unwrap();
        std::os::unix::fs::symlink("../ttyUSB0", root.join("kiosk/idcard")).unwrap();
        std::os::unix::fs::symlink("/dev/usb/lp1", root.join("kiosk/printer")).unwrap();
        // A link to a link: by-id -> kiosk/idcard -> ttyUSB0.
        std::os::unix::fs::symlink("../../kiosk/idcard", root.join("serial/by-id/usb-x")).unwrap();
        let links = udev_links(root).unwrap();
        assert_eq!(links[&root.join("kiosk/idcard")], root.join("ttyUSB0"));
        assert_eq!(links[&root.join("kiosk/printer")], root.join("usb/lp1"));
        assert_eq!(
            links[&root.join("serial/by-id/usb-x")],
            root.join("ttyUSB0")
        );
    }

    #[test]
    fn a_link_loop_resolves_to_nothing() {
        let dev = tempfile::tempdir().unwrap();
        let root = dev.path();
        std::fs::create_dir_all(root.join("kiosk")).unwrap();
        std::os::unix::fs::symlink("b", root.join("kiosk/a")).unwrap();
        std::os::unix::fs::symlink("a", root.join("kiosk/b")).unwrap();
        assert!(udev_links(root).unwrap().is_empty());
    }
}
