//! `usb = "0400:c35a"`: a device chosen by its USB vendor and product id, talked to through
//! libusb rather than a device node.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A USB vendor and product id as `lsusb` and `kioskctl devices` print them: `0400:c35a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct UsbId {
    /// Vendor id.
    pub vendor: u16,
    /// Product id.
    pub product: u16,
}

/// Why a text is not a USB id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsbIdError {
    /// No colon between vendor and product.
    #[error(
        "{0:?} is not a USB id: write vendor:product in hex as lsusb shows it, e.g. \"0400:c35a\""
    )]
    Shape(String),
    /// One half is not four hex digits.
    #[error(
        "{text:?} is not a USB id: {half:?} is not 4 hex digits (lsusb shows e.g. \"0400:c35a\")"
    )]
    Digits {
        /// The whole text.
        text: String,
        /// The half at fault.
        half: String,
    },
}

impl FromStr for UsbId {
    type Err = UsbIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (vendor, product) = text
            .trim()
            .split_once(':')
            .ok_or_else(|| UsbIdError::Shape(text.to_owned()))?;
        // Exactly four digits: "400:c35a" is more likely a typo than a vendor id 0x0400.
        let half = |h: &str| {
            if h.len() == 4 && h.chars().all(|c| c.is_ascii_hexdigit()) {
                u16::from_str_radix(h, 16).map_err(|_| ())
            } else {
                Err(())
            }
            .map_err(|()| UsbIdError::Digits {
                text: text.to_owned(),
                half: h.to_owned(),
            })
        };
        Ok(Self {
            vendor: half(vendor)?,
            product: half(product)?,
        })
    }
}

impl TryFrom<String> for UsbId {
    type Error = UsbIdError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<UsbId> for String {
    fn from(id: UsbId) -> Self {
        id.to_string()
    }
}

impl fmt::Display for UsbId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:04x}", self.vendor, self.product)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_as_lsusb_prints_it_is_read_in_either_case() {
        let id: UsbId = "0400:C35a".parse().unwrap();
        assert_eq!((id.vendor, id.product), (0x0400, 0xc35a));
        assert_eq!(id.to_string(), "0400:c35a");
    }

    #[test]
    fn ids_that_are_not_vendor_colon_product_are_refused() {
        assert!(matches!(
            "0400c35a".parse::<UsbId>(),
            Err(UsbIdError::Shape(_))
        ));
        for bad in ["400:c35a", "0400:c35g", "0400:", "0x04:c35a", "04000:c35a"] {
            assert!(
                matches!(bad.parse::<UsbId>(), Err(UsbIdError::Digits { .. })),
                "{bad} accepted"
            );
        }
    }
}
