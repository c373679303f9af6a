//! The USB devices a kiosk is built from (contract G), in one place: `kioskctl devices`
//! matches against this table, and H5's udev rules (systemd/) use the same ids.

use serde::Serialize;

/// What a known USB device is to the kiosk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KnownKind {
    /// A GA 467 SAM ID-card reader with its own USB interface (`/dev/kiosk/idcard`).
    IdCardReader,
    /// A USB-serial adapter; on a kiosk it carries the ID-card reader, chosen by port path.
    UsbSerialAdapter,
    /// An ESC/POS printer: the receipt `printer` or the ticket `dispenser`, chosen by the USB
    /// port it is plugged into (ID_PATH), fixed at installation.
    EscposPrinter,
}

impl KnownKind {
    /// How a technician names it.
    pub fn label(self) -> &'static str {
        match self {
            Self::IdCardReader => "ID-card reader (GA 467, USB)",
            Self::UsbSerialAdapter => "USB-serial adapter (ID-card reader by port)",
            Self::EscposPrinter => "ESC/POS printer (printer or dispenser by port)",
        }
    }

    /// The `/dev/kiosk/` names a device of this kind may have.
    pub fn symlink_names(self) -> &'static [&'static str] {
        match self {
            Self::IdCardReader | Self::UsbSerialAdapter => &["idcard"],
            Self::EscposPrinter => &["printer", "dispenser"],
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KnownDevice {
    /// USB vendor id.
    pub vendor: u16,
    /// USB product id.
    pub product: u16,
    /// What it is.
    pub kind: KnownKind,
    /// Model, as sold.
    pub model: &'static str,
}

/// The known devices of contract G. The scanner is found through SANE and has no row.
pub const KNOWN_DEVICES: &[KnownDevice] = &[
    KnownDevice {
        vendor: 0x0400,
        product: 0xc35a,
        kind: KnownKind::IdCardReader,
        model: "GA 467 SAM ID-card reader",
    },
    KnownDevice {
        vendor: 0x1a86,
        product: 0x7523,
        kind: KnownKind::UsbSerialAdapter,
        model: "CH340 USB-serial",
    },
    KnownDevice {
        vendor: 0x10c4,
        product: 0xea60,
        kind: KnownKind::UsbSerialAdapter,
        model: "CP210x USB-serial",
    },
    KnownDevice {
        vendor: 0x067b,
        product: 0x2303,
        kind: KnownKind::UsbSerialAdapter,
        model: "PL2303 USB-serial",
    },
    KnownDevice {
        vendor: 0x0416,
        product: 0x5011,
        kind: KnownKind::EscposPrinter,
        model: "Winbond POS printer",
    },
    KnownDevice {
        vendor: 0x04b8,
        product: 0x0202,
        kind: KnownKind::EscposPrinter,
        model: "Epson TM-T88",
    },
    KnownDevice {
        vendor: 0x0fe6,
        product: 0x811e,
        kind: KnownKind::EscposPrinter,
        model: "ICS/Xprinter POS printer",
    },
];

/// The row for `vendor:product`, if the kiosk knows the device.
pub fn lookup(vendor: u16, product: u16) -> Option<&'static KnownDevice> {
    KNOWN_DEVICES
        .iter()
        .find(|d| d.vendor == vendor && d.product == product)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_of_the_contract_is_known_once() {
        let ids = [
            (0x0400, 0xc35a, KnownKind::IdCardReader),
            (0x1a86, 0x7523, KnownKind::UsbSerialAdapter),
            (0x10c4, 0xea60, KnownKind::UsbSerialAdapter),
            (0x067b, 0x2303, KnownKind::UsbSerialAdapter),
            (0x0416, 0x5011, KnownKind::EscposPrinter),
            (0x04b8, 0x0202, KnownKind::EscposPrinter),
            (0x0fe6, 0x811e, KnownKind::EscposPrinter),
        ];
        assert_eq!(KNOWN_DEVICES.len(), ids.len());
        for (vendor, product, kind) in ids {
            assert_eq!(lookup(vendor, product).map(|d| d.kind), Some(kind));
        }
        assert_eq!(
            lookup(0x1d6b, 0x0002),
            None,
            "a root hub is not a kiosk device"
        );
    }
}
