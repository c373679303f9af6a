//! A kiosk's sysfs and `/dev` as the kernel and udev lay them out, in a folder: what
//! `kioskctl devices` and the technician page read, for tests on machines that have no kiosk
//! devices.

#![allow(clippy::unwrap_used)] // a fixture: a failure to build it is the test's failure

use std::os::unix::fs::symlink;
use std::path::Path;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("{text}\n")).unwrap();
}

/// One USB device under the xHCI root hub, with the sysfs strings a device reports.
fn usb_device(hub: &Path, bus_path: &str, id: (&str, &str), strings: (&str, &str)) {
    let dir = hub.join(bus_path);
    write(&dir.join("idVendor"), id.0);
    write(&dir.join("idProduct"), id.1);
    write(&dir.join("manufacturer"), strings.0);
    write(&dir.join("product"), strings.1);
}

/// A kiosk's tree under `root` (`root/sys`, `root/dev`): two ESC/POS printers (lp0 on port 1-1, lp1 on port 1-2), a CH340
/// adapter carrying the ID-card reader (ttyUSB0 on port 1-3), a mouse receiver, a platform
/// UART with a chip (ttyS0) and one without (ttyS1), a virtual console (tty1).
pub fn kiosk_tree(root: &Path) {
    let sys = root.join("sys");
    let dev = root.join("dev");
    let pci = sys.join("devices/pci0000:00/0000:00:14.0");
    let hub = pci.join("usb1");
    write(&hub.join("idVendor"), "1d6b");
    write(&hub.join("idProduct"), "0002");
    usb_device(&hub, "1-1", ("0fe6", "811e"), ("Xprinter", "POS-80"));
    write(&hub.join("1-1/serial"), "XP80-000123");
    std::fs::create_dir_all(hub.join("1-1/1-1:1.0/usbmisc/lp0")).unwrap();
    usb_device(&hub, "1-2", ("0416", "5011"), ("Winbond", "POS58 Printer"));
    std::fs::create_dir_all(hub.join("1-2/1-2:1.0/usbmisc/lp1")).unwrap();
    usb_device(&hub, "1-3", ("1a86", "7523"), ("QinHeng", "USB Serial"));
    let port = hub.join("1-3/1-3:1.0/ttyUSB0");
    std::fs::create_dir_all(port.join("tty/ttyUSB0")).unwrap();
    std::fs::create_dir_all(sys.join("bus/usb-serial/drivers/ch341-uart")).unwrap();
    symlink(
        "../../../../../../../bus/usb-serial/drivers/ch341-uart",
        port.join("driver"),
    )
    .unwrap();
    // The kernel's back-link from the class device to the port.
    symlink("../../../ttyUSB0", port.join("tty/ttyUSB0/device")).unwrap();
    usb_device(&hub, "1-4", ("046d", "c52b"), ("Logitech", "USB Receiver"));

    let bus = sys.join("bus/usb/devices");
    std::fs::create_dir_all(&bus).unwrap();
    for name in ["usb1", "1-1", "1-2", "1-3", "1-4"] {
        let target = if name == "usb1" {
            "../../../devices/pci0000:00/0000:00:14.0/usb1".to_owned()
        } else {
            format!("../../../devices/pci0000:00/0000:00:14.0/usb1/{name}")
        };
        symlink(target, bus.join(name)).unwrap();
    }
    symlink(
        "../../../devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0",
        bus.join("1-1:1.0"),
    )
    .unwrap();

    let class = sys.join("class/tty");
    std::fs::create_dir_all(&class).unwrap();
    symlink(
        "../../devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0/ttyUSB0/tty/ttyUSB0",
        class.join("ttyUSB0"),
    )
    .unwrap();
    let uart = sys.join("devices/platform/serial8250");
    std::fs::create_dir_all(sys.join("bus/platform/drivers/serial8250")).unwrap();
    std::fs::create_dir_all(&uart).unwrap();
    symlink(
        "../../../bus/platform/drivers/serial8250",
        uart.join("driver"),
    )
    .unwrap();
    for (name, kind) in [("ttyS0", "4"), ("ttyS1", "0")] {
        let dir = uart.join("tty").join(name);
        write(&dir.join("type"), kind);
        symlink("../../../serial8250", dir.join("device")).unwrap();
        symlink(
            format!("../../devices/platform/serial8250/tty/{name}"),
            class.join(name),
        )
        .unwrap();
    }
    std::fs::create_dir_all(sys.join("devices/virtual/tty/tty1")).unwrap();
    symlink("../../devices/virtual/tty/tty1", class.join("tty1")).unwrap();

    for node in ["ttyUSB0", "ttyS0", "usb/lp0", "usb/lp1"] {
        write(&dev.join(node), "");
    }
    std::fs::create_dir_all(dev.join("kiosk")).unwrap();
    std::fs::create_dir_all(dev.join("serial/by-id")).unwrap();
    // As the udev rules make them: relative links.
    symlink("../ttyUSB0", dev.join("kiosk/idcard")).unwrap();
    symlink("../usb/lp1", dev.join("kiosk/printer")).unwrap();
    symlink("../usb/lp0", dev.join("kiosk/dispenser")).unwrap();
    symlink(
        "../../ttyUSB0",
        dev.join("serial/by-id/usb-1a86_USB_Serial-if00-port0"),
    )
    .unwrap();
}
