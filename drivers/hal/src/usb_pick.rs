//! Which of the attached USB devices with the configured vendor and product id to use: the
//! one with the configured serial number, or the only one. Pure, so that the choice between
//! two identical readers or printers is tested without hardware.

/// One attached device with the wanted ids, as libusb lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbCandidate {
    /// Bus and port path (`1-2.3`), to tell a technician which one is meant.
    pub bus_path: String,
    /// Its serial number string, if it gives one (and it could be read).
    pub serial: Option<String>,
}

/// Why no device was chosen. The messages are for a technician.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsbPickError {
    /// Nothing with these ids is attached.
    #[error("no such USB device; check the cable and `kioskctl devices` for the ids")]
    Absent,
    /// None of them has the configured serial number.
    #[error("no device has serial number {wanted:?} (attached: {attached}); check `usb_serial`")]
    NoSuchSerial {
        /// The configured serial number.
        wanted: String,
        /// What is attached, for the message.
        attached: String,
    },
    /// Several are attached and nothing says which.
    #[error(
        "{count} devices with these ids are attached ({attached}); set `usb_serial` to one of their serial numbers, or name the device by its port instead"
    )]
    Ambiguous {
        /// How many.
        count: usize,
        /// What is attached, for the message.
        attached: String,
    },
}

fn describe(candidates: &[UsbCandidate]) -> String {
    candidates
        .iter()
        .map(|c| match &c.serial {
            Some(serial) => format!("{} serial {serial:?}", c.bus_path),
            None => format!("{} without a serial number", c.bus_path),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The index of the device to use among `candidates`.
pub fn pick_usb_device(
    candidates: &[UsbCandidate],
    wanted_serial: Option<&str>,
) -> Result<usize, UsbPickError> {
    match (candidates.len(), wanted_serial) {
        (0, _) => Err(UsbPickError::Absent),
        (_, Some(wanted)) => candidates
            .iter()
            .position(|c| c.serial.as_deref() == Some(wanted))
            .ok_or_else(|| UsbPickError::NoSuchSerial {
                wanted: wanted.to_owned(),
                attached: describe(candidates),
            }),
        (1, None) => Ok(0),
        (count, None) => Err(UsbPickError::Ambiguous {
            count,
            attached: describe(candidates),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(bus_path: &str, serial: Option<&str>) -> UsbCandidate {
        UsbCandidate {
            bus_path: bus_path.into(),
            serial: serial.map(Into::into),
        }
    }

    #[test]
    fn the_serial_number_picks_one_of_two_identical_devices() {
        let two = [at("1-2", Some("A1000")), at("1-3", Some("B2000"))];
        assert_eq!(pick_usb_device(&two, Some("B2000")), Ok(1));
        assert_eq!(pick_usb_device(&two, Some("A1000")), Ok(0));
        match pick_usb_device(&two, None) {
            Err(UsbPickError::Ambiguous { count: 2, attached }) => {
                assert!(attached.contains("1-3 serial \"B2000\""), "{attached}");
            }
            other => panic!("two identical devices and no serial: {other:?}"),
        }
        assert!(matches!(
            pick_usb_device(&two, Some("C3000")),
            Err(UsbPickError::NoSuchSerial { .. })
        ));
    }

    #[test]
    fn a_single_device_needs_no_serial_and_none_is_absent() {
        assert_eq!(pick_usb_device(&[at("1-2", None)], None), Ok(0));
        assert_eq!(pick_usb_device(&[], None), Err(UsbPickError::Absent));
        assert_eq!(
            pick_usb_device(&[], Some("A1000")),
            Err(UsbPickError::Absent)
        );
    }
}
