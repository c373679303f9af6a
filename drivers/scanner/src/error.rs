//! What can go wrong at the scanner, worded for the technician who has to fix it.

use crate::frame::FrameError;

/// A failure of the scanner or of SANE. Each message names the device, what happened and
/// what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The feeder jammed (`SANE_STATUS_JAMMED`).
    #[error(
        "scanner {device}: paper jam in the document feeder; open the feeder, remove the sheet and scan again"
    )]
    Jammed { device: String },
    /// The feeder has no paper (`SANE_STATUS_NO_DOCS` before the first page).
    #[error(
        "scanner {device}: the document feeder is empty; put the pages face down in the feeder"
    )]
    FeederEmpty { device: String },
    /// The cover or feeder door is open (`SANE_STATUS_COVER_OPEN`).
    #[error("scanner {device}: cover open; close the scanner lid or feeder door")]
    CoverOpen { device: String },
    /// Another program or a previous scan still holds the device (`SANE_STATUS_DEVICE_BUSY`).
    #[error(
        "scanner {device}: device busy; wait for the running scan to finish or close the other program using it"
    )]
    DeviceBusy { device: String },
    /// The device stopped answering (`SANE_STATUS_IO_ERROR`), usually unplugged or powered off.
    #[error(
        "scanner {device}: device gone during {call} ({status}); check its USB cable and power, then run `kioskctl scanner list`"
    )]
    DeviceGone {
        device: String,
        call: &'static str,
        status: String,
    },
    /// SANE denied access (`SANE_STATUS_ACCESS_DENIED`): permissions on the USB node.
    #[error(
        "scanner {device}: access denied; check the udev rule gives the kiosk user access to the scanner"
    )]
    AccessDenied { device: String },
    /// No device of that name is attached.
    #[error(
        "scanner {device}: no such device (found: {available}); check the cable and the name from `kioskctl scanner list`"
    )]
    NoSuchDevice { device: String, available: String },
    /// The device lacks something the settings ask for (a feeder, a mode, a resolution).
    #[error("scanner {device}: {what}")]
    Unsupported { device: String, what: String },
    /// Any other status SANE returned.
    #[error("scanner {device}: {call} failed: {status}")]
    Sane {
        device: String,
        call: &'static str,
        status: String,
    },
    /// The backend sent image data that does not match its own parameters.
    #[error("scanner {device}: unreadable image data: {source}")]
    BadImage {
        device: String,
        #[source]
        source: FrameError,
    },
    /// The SANE helper process hung or crashed (a backend fault); it was stopped, and the
    /// next request starts a new one and reopens the device.
    #[error(
        "scanner {device}: the SANE helper process {what}; it was stopped and restarts with the next request: scan again"
    )]
    Helper { device: String, what: String },
    /// The SANE worker thread is gone (it panicked or was shut down).
    #[error("scanner: the SANE worker thread has stopped; restart the kiosk service")]
    WorkerGone,
}
