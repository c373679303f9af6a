//! What to ask of the scanner.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where the paper is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The glass: one page per scan.
    Flatbed,
    /// The automatic document feeder: pages until it runs empty.
    Feeder,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Flatbed => "flatbed",
            Source::Feeder => "feeder",
        })
    }
}

/// Colour mode asked of the scanner. Scan in colour and let
/// [`compress_page`](crate::compress_page) drop the colour where it adds nothing: red seals
/// on certificates must survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColorMode {
    /// 24-bit colour.
    Color,
    /// 8-bit gray.
    Gray,
}

impl fmt::Display for ColorMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColorMode::Color => "colour",
            ColorMode::Gray => "gray",
        })
    }
}

/// Settings applied when a device is opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScanSettings {
    /// Flatbed or feeder.
    pub source: Source,
    /// Resolution asked for; the device snaps it to the nearest it offers.
    pub dpi: u32,
    /// Colour or gray.
    pub mode: ColorMode,
    /// Scan area from the top-left corner, width and height in millimetres; `None` keeps
    /// the device's default (usually its whole glass).
    pub area_mm: Option<(f64, f64)>,
    /// Backend-specific options set after the ones above, by SANE option name (a quirk a
    /// model needs, or the test backend's `test-picture`).
    pub extra_options: Vec<(String, String)>,
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            source: Source::Flatbed,
            dpi: 300,
            mode: ColorMode::Color,
            area_mm: Some((210.0, 297.0)),
            extra_options: Vec::new(),
        }
    }
}
