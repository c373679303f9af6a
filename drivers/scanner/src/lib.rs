//! Document scanner driver on SANE: scanning, page checks, compression, PDF assembly.
//!
//! The pipeline an applicant's materials go through: [`Scanner`] delivers
//! [`ScannedPage`]s, [`check_page`] decides whether each is acceptable, [`compress_page`]
//! makes it small, and [`assemble_pdf`] binds the accepted pages into one PDF.

mod checks;
mod compress;
mod downsample;
mod error;
mod ffi;
mod frame;
mod helper;
mod page;
mod pdf;
mod sane;
mod scanner;
mod settings;
pub mod synthetic;

pub use checks::{Check, CheckResult, CheckThresholds, PageReport, check_page};
pub use compress::{
    AcceptedPage, ColourLayer, CompressError, CompressSettings, Storage, ToneStats, colour_ratio,
    compress_page, encode_jpeg, tone_stats,
};
pub use error::ScanError;
pub use frame::{FrameError, FrameFormat, FrameParameters, decode_page};
pub use helper::{HELPER_ENV, HELPER_NAME, HelperConfig, helper_main};
pub use page::{PageImage, PixelLayout};
pub use pdf::{PdfError, assemble_pdf};
pub use sane::DeviceInfo;
pub use scanner::{OpenedDevice, ScanEnd, ScanEvent, ScannedPage, Scanner};
pub use settings::{ColorMode, ScanSettings, Source};
