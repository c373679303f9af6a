//! The connections the technician page offers for a device: what is plugged into this box,
//! read as `kioskctl devices` reads it (sysfs and `/dev`), so the page and the tool list the
//! same things.

use std::path::{Path, PathBuf};

use kiosk_core::config::{DevicesSection, Link, Role, UsbId};
use kioskctl::devices::Inventory;
use kioskctl::known::KnownKind;

/// One connection a device could use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// `serial`, `node` or `usb`: the page's word for it, as on the device line.
    pub transport: &'static str,
    /// Where: the path or the USB id.
    pub place: String,
    /// What is there: the kernel's name and driver, the model.
    pub about: String,
    /// The configuration it stands for.
    pub link: Link,
}

/// The link the configuration gives `role` now, if it is one the page can offer.
pub fn current(devices: &DevicesSection, role: Role) -> Option<Link> {
    match role {
        Role::Idcard => {
            let reader = devices.idcard.as_ref()?;
            match (&reader.port, reader.usb) {
                (Some(port), None) => Some(Link::Port(port.clone())),
                (None, Some(id)) => Some(Link::Usb {
                    id,
                    serial: reader.usb_serial.clone(),
                }),
                _ => None,
            }
        }
        Role::Printer | Role::Dispenser => {
            let printer = if role == Role::Printer {
                devices.printer.as_ref()?
            } else {
                devices.dispenser.as_ref()?
            };
            if let Some(port) = &printer.port {
                Some(Link::Port(port.clone()))
            } else if let Some(node) = &printer.device {
                Some(Link::Node(node.clone()))
            } else {
                printer.usb.map(|id| Link::Usb {
                    id,
                    serial: printer.usb_serial.clone(),
                })
            }
        }
    }
}

/// The name a technician will recognise for a node: the role's `/dev/kiosk/` link if it has
/// one (it survives re-plugging into the same port), else a by-id link, else the node.
fn stable_name(node: &Path, symlinks: &[PathBuf], role: Role) -> PathBuf {
    let kiosk = Path::new("/dev/kiosk").join(role.key());
    let ends_as = |tail: &Path| symlinks.iter().find(|l| l.ends_with(tail)).cloned();
    ends_as(&Path::new("kiosk").join(role.key()))
        .map(|_| kiosk)
        .or_else(|| {
            symlinks
                .iter()
                .find(|l| l.to_string_lossy().contains("/serial/by-id/"))
                .cloned()
        })
        .unwrap_or_else(|| node.to_owned())
}

/// Every connection found for `role`: serial ports for all three (readers and printers both
/// come on serial lines), the reader's own USB interface, a printer's node and its USB
/// interface. A USB device's serial number is added when two identical ones are plugged in.
pub fn offers(inventory: &Inventory, role: Role) -> Vec<Offer> {
    let mut found = Vec::new();
    for usb in &inventory.usb_devices {
        let Some(known) = usb.known else { continue };
        let Ok(id) = format!("{:04x}:{:04x}", usb.vendor, usb.product).parse::<UsbId>() else {
            continue;
        };
        let twins = inventory
            .usb_devices
            .iter()
            .filter(|o| (o.vendor, o.product) == (usb.vendor, usb.product))
            .count();
        let serial = (twins > 1).then(|| usb.serial.clone()).flatten();
        let by_usb = Offer {
            transport: "usb",
            place: match &serial {
                Some(s) => format!("{id} #{s}"),
                None => id.to_string(),
            },
            about: known.model.to_owned(),
            link: Link::Usb { id, serial },
        };
        match (known.kind, role) {
            (KnownKind::IdCardReader, Role::Idcard) => found.push(by_usb),
            (KnownKind::EscposPrinter, Role::Printer | Role::Dispenser) => {
                for node in usb.nodes.iter().filter(|n| n.starts_with("/dev/usb")) {
                    found.push(Offer {
                        transport: "node",
                        place: stable_name(node, &usb.symlinks, role).display().to_string(),
                        about: known.model.to_owned(),
                        link: Link::Node(stable_name(node, &usb.symlinks, role)),
                    });
                }
                found.push(by_usb);
            }
            _ => {}
        }
    }
    for port in &inventory.serial_ports {
        let path = stable_name(&port.node, &port.symlinks, role);
        let about = match &port.driver {
            Some(driver) => format!("{}, {driver}", port.name),
            None => port.name.clone(),
        };
        found.push(Offer {
            transport: "serial",
            place: path.display().to_string(),
            about,
            link: Link::Port(path),
        });
    }
    // What udev already names for this role is most likely what the technician wants.
    found.sort_by_key(|o| !o.place.starts_with("/dev/kiosk/"));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use kioskctl::devices::{SerialPort, UsbDevice};

    fn usb(vendor: u16, product: u16, serial: &str, nodes: &[&str], links: &[&str]) -> UsbDevice {
        UsbDevice {
            bus_path: "1-1".into(),
            id: format!("{vendor:04x}:{product:04x}"),
            vendor,
            product,
            manufacturer: None,
            product_name: None,
            serial: Some(serial.into()),
            known: kioskctl::known::lookup(vendor, product).copied(),
            nodes: nodes.iter().map(PathBuf::from).collect(),
            symlinks: links.iter().map(PathBuf::from).collect(),
            role: None,
            id_path: None,
        }
    }

    fn inventory() -> Inventory {
        Inventory {
            usb_devices: vec![
                usb(0x0400, 0xc35a, "R1", &[], &[]),
                usb(0x0400, 0xc35a, "R2", &[], &[]),
                usb(
                    0x04b8,
                    0x0202,
                    "P1",
                    &["/dev/usb/lp0"],
                    &["/dev/kiosk/printer"],
                ),
            ],
            serial_ports: vec![SerialPort {
                name: "ttyUSB0".into(),
                node: "/dev/ttyUSB0".into(),
                driver: Some("ftdi_sio".into()),
                usb_bus_path: Some("1-2".into()),
                id_path: None,
                symlinks: vec![
                    "/dev/serial/by-id/usb-FTDI_FT232R-if00-port0".into(),
                    "/dev/kiosk/idcard".into(),
                ],
            }],
            kiosk_links: Vec::new(),
        }
    }

    #[test]
    fn the_reader_is_offered_its_usb_interfaces_and_the_serial_ports() {
        let offered: Vec<(String, Link)> = offers(&inventory(), Role::Idcard)
            .into_iter()
            .map(|o| (format!("{} {}", o.transport, o.place), o.link))
            .collect();
        let id: UsbId = "0400:c35a".parse().unwrap();
        assert_eq!(
            offered,
            vec![
                (
                    "serial /dev/kiosk/idcard".into(),
                    Link::Port("/dev/kiosk/idcard".into())
                ),
                (
                    "usb 0400:c35a #R1".into(),
                    Link::Usb {
                        id,
                        serial: Some("R1".into())
                    }
                ),
                (
                    "usb 0400:c35a #R2".into(),
                    Link::Usb {
                        id,
                        serial: Some("R2".into())
                    }
                ),
            ]
        );
    }

    #[test]
    fn a_printer_is_offered_its_node_by_its_kiosk_name_and_its_usb_interface() {
        let offered: Vec<String> = offers(&inventory(), Role::Printer)
            .into_iter()
            .map(|o| format!("{} {}", o.transport, o.place))
            .collect();
        assert_eq!(
            offered,
            [
                "node /dev/kiosk/printer",
                "usb 04b8:0202",
                "serial /dev/serial/by-id/usb-FTDI_FT232R-if00-port0"
            ]
        );
        // The dispenser is not the printer: its node is named by the node itself.
        let offered = offers(&inventory(), Role::Dispenser);
        assert_eq!(offered[0].link, Link::Node("/dev/usb/lp0".into()));
    }
}
