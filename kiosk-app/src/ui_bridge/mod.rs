//! The only part of the kiosk app that touches Slint. It binds each UI adapter to Rust in a
//! small `setup`, and moves results onto the UI thread with weak handles.

// Slint's global handles (`ShellAdapter<'_>`) borrow the window; spelling out `'_` at every
// `global::<…>()` says nothing a reader needs.
#![allow(elided_lifetimes_in_paths)]

pub mod links;
mod samples;
mod screens;
mod shell;
#[cfg(feature = "simulate")]
pub mod sim_panel;
mod technician;

pub mod offscreen;

pub use kiosk_ui::{
    AppWindow, Device, HelpState, JChoice, JField, JGuide, JMaterial, JPage, JPageCheck, JPair,
    JProgressRow, JTicket, JourneyAdapter, Notice, NoticeKind, Page, Paging, PinState,
    ProgressRowKind, ShellAdapter, SimAdapter, TechCheck, TechDevice, TechLink, TechStage,
    TechnicianAdapter, Theme,
};
pub use screens::{CommandSink, JourneyBridge};
pub use shell::{Shell, ShellOptions};
pub use technician::{SelftestLine, Technician, TechnicianOptions, app_probes, verify_pin};

use crate::status::KioskStatus;
use kiosk_hal::DeviceKind;

/// The notices the status strip shows for a status, most serious first.
pub fn notices_for(status: &KioskStatus, disk_full: bool) -> Vec<Notice> {
    let mut notices: Vec<Notice> = status
        .faulty_devices()
        .map(|kind| Notice {
            kind: NoticeKind::DeviceFault,
            device: device_of(kind),
        })
        .collect();
    if disk_full {
        notices.push(Notice {
            kind: NoticeKind::DiskFull,
            device: Device::None,
        });
    }
    if status.is_offline() {
        notices.push(Notice {
            kind: NoticeKind::Offline,
            device: Device::None,
        });
    }
    notices
}

fn device_of(kind: DeviceKind) -> Device {
    match kind {
        DeviceKind::IdCardReader => Device::IdcardReader,
        DeviceKind::Printer => Device::Printer,
        DeviceKind::Dispenser => Device::Dispenser,
        DeviceKind::Scanner => Device::Scanner,
        DeviceKind::NumberDisplay => Device::None,
    }
}
