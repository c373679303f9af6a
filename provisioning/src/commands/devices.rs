//! `kioskctl devices`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use kioskctl::devices::{Inventory, Roots, UsbDevice, scan};
use kioskctl::known::KnownKind;

/// The `/dev/kiosk/` names a fully built kiosk has.
const EXPECTED_LINKS: [&str; 3] = ["idcard", "printer", "dispenser"];

/// Options of `kioskctl devices`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Where sysfs is (for tests and for a mounted image of another kiosk).
    #[arg(long, default_value = "/sys")]
    pub sys_root: PathBuf,
    /// Where the device folder is.
    #[arg(long, default_value = "/dev")]
    pub dev_root: PathBuf,
}

/// Runs `kioskctl devices`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let roots = Roots {
        sys: args.sys_root.clone(),
        dev: args.dev_root.clone(),
    };
    let inventory = scan(&roots).context("listing devices")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&inventory)?);
    } else {
        print!("{}", render(&inventory, &roots.dev));
    }
    Ok(ExitCode::SUCCESS)
}

fn paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// How `kiosk.toml` names a reader or printer over libusb, for the technician to copy: the
/// section by its role when it has one, and the USB id.
fn config_hint(device: &UsbDevice) -> Option<String> {
    let kind = device.known?.kind;
    let section = match (kind, device.role.as_deref()) {
        (KnownKind::IdCardReader, _) => "idcard",
        (KnownKind::EscposPrinter, Some(role @ ("printer" | "dispenser"))) => role,
        (KnownKind::EscposPrinter, _) => "printer",
        // An adapter is a serial port: its reader is named by port, never by USB id.
        (KnownKind::UsbSerialAdapter, _) => return None,
    };
    Some(format!(
        "[devices.{section}] usb = \"{}\" (or port/device = its /dev/kiosk link)",
        device.id
    ))
}

fn render(inventory: &Inventory, dev: &Path) -> String {
    let mut out = String::from("USB devices\n");
    if inventory.usb_devices.is_empty() {
        out += "  none\n";
    }
    for d in &inventory.usb_devices {
        let what = d.known.map_or_else(
            || "not a kiosk device".to_owned(),
            |k| format!("{} [{}]", k.model, k.kind.label()),
        );
        out += &format!("  {:<9} {}  {what}", d.bus_path, d.id);
        if let Some(role) = &d.role {
            out += &format!("  role: {role}");
        }
        out += "\n";
        let strings = [&d.manufacturer, &d.product_name]
            .iter()
            .filter_map(|s| s.as_deref())
            .collect::<Vec<_>>()
            .join(" ");
        if !strings.is_empty() {
            out += &format!("  {:<9} \"{strings}\"\n", "");
        }
        // What `usb_serial` takes to pick one of two identical devices.
        if let Some(serial) = &d.serial {
            out += &format!("  {:<9} serial: {serial}\n", "");
        }
        if !d.nodes.is_empty() {
            out += &format!("  {:<9} nodes: {}\n", "", paths(&d.nodes));
        }
        if let Some(id_path) = &d.id_path {
            out += &format!("  {:<9} ID_PATH: {id_path}\n", "");
        }
        if !d.symlinks.is_empty() {
            out += &format!("  {:<9} links: {}\n", "", paths(&d.symlinks));
        }
        if let Some(hint) = config_hint(d) {
            out += &format!("  {:<9} kiosk.toml: {hint}\n", "");
        }
    }
    out += "Serial ports\n";
    if inventory.serial_ports.is_empty() {
        out += "  none\n";
    }
    for p in &inventory.serial_ports {
        out += &format!(
            "  {:<9} {:<12}{}",
            p.name,
            p.driver.as_deref().unwrap_or("-"),
            p.usb_bus_path
                .as_ref()
                .map_or(String::new(), |b| format!(" usb {b}"))
        );
        if let Some(id_path) = &p.id_path {
            out += &format!("  ID_PATH: {id_path}");
        }
        if !p.symlinks.is_empty() {
            out += &format!("  links: {}", paths(&p.symlinks));
        }
        out += "\n";
    }
    out += &format!("Kiosk links ({})\n", dev.join("kiosk").display());
    for link in &inventory.kiosk_links {
        let target = link
            .target
            .as_ref()
            .map_or("?".to_owned(), |t| t.display().to_string());
        let state = if link.target_exists {
            ""
        } else {
            "  MISSING: device unplugged or gone"
        };
        out += &format!("  {:<10} -> {target}{state}\n", link.name);
    }
    for name in EXPECTED_LINKS {
        if !inventory.kiosk_links.iter().any(|l| l.name == name) {
            out += &format!(
                "  {name:<10} not set up (no udev rule matched; see docs/technician.md)\n"
            );
        }
    }
    out
}
