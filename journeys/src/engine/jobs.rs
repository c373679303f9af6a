//! Device work as tasks. A print or a scan runs on a task of its own that holds the device
//! while it works and reports back to the actor through a channel, so the actor keeps
//! answering Cancel, Help and card taps while a dispenser waits for the citizen to take the
//! ticket (up to 30 s with a sensor) or a scan runs.
//!
//! The actor lends a device out of its [`Bay`] and gets it back with the work's [`Done`]. A
//! ticket's record is written when its print reports, whether or not the session that asked
//! for it is still on screen: the ticket may be in someone's hand either way.
//!
//! A task that panics loses the device it held. Its report still comes ([`Work::Lost`]): the
//! bay keeps how to open the device again, so the actor puts a fresh one back, and the
//! journey that waited is told the work failed instead of waiting for ever.

use std::future::Future;

use kiosk_api::ApplicationNo;
use kiosk_core::store::AttachmentId;
use kiosk_hal::{DeviceHealth, HealthState};
use tokio::sync::mpsc;

use super::blocking::Failed;
use super::devices::{PrintFailure, PrinterRecipe, PrinterSlot, ScannerRecipe, ScannerSlot};
use super::tickets::PrintingTicket;
use crate::model::{PageCheckView, Text};

/// A device the actor lends to one task at a time.
pub(super) enum Bay<T: Device> {
    /// Not configured on this kiosk.
    Absent,
    /// With the actor, ready to be lent.
    Idle(T),
    /// Out with a task.
    Busy {
        /// The health it had when it left (what availability shows meanwhile).
        health: DeviceHealth,
        /// How to open it again should the task be lost.
        recipe: T::Recipe,
    },
}

/// What a [`Bay`] needs of its device.
pub(super) trait Device {
    /// What opens the device again (its configuration).
    type Recipe: Clone;
    /// The health last seen.
    fn last_health(&self) -> &DeviceHealth;
    /// How to open it again.
    fn recipe(&self) -> Self::Recipe;
}

impl Device for PrinterSlot {
    type Recipe = PrinterRecipe;

    fn last_health(&self) -> &DeviceHealth {
        &self.health
    }

    fn recipe(&self) -> PrinterRecipe {
        self.recipe()
    }
}

impl Device for ScannerSlot {
    type Recipe = ScannerRecipe;

    fn last_health(&self) -> &DeviceHealth {
        &self.health
    }

    fn recipe(&self) -> ScannerRecipe {
        self.recipe()
    }
}

impl<T: Device> Bay<T> {
    /// A bay holding `device`, or an empty one.
    pub(super) fn new(device: Option<T>) -> Bay<T> {
        device.map_or(Bay::Absent, Bay::Idle)
    }

    /// Takes the device out for a task; `None` when absent or already out.
    pub(super) fn lend(&mut self) -> Option<T> {
        match std::mem::replace(self, Bay::Absent) {
            Bay::Idle(device) => {
                *self = Bay::Busy {
                    health: device.last_health().clone(),
                    recipe: device.recipe(),
                };
                Some(device)
            }
            other => {
                *self = other;
                None
            }
        }
    }

    /// The device is back from its task.
    pub(super) fn put_back(&mut self, device: T) {
        *self = Bay::Idle(device);
    }

    /// Whether the device is out with a task.
    pub(super) fn is_busy(&self) -> bool {
        matches!(self, Bay::Busy { .. })
    }

    /// The task that had the device was lost: how to open it again, and the bay shows the
    /// device as faulty until it is back.
    pub(super) fn lost(&mut self) -> Option<T::Recipe> {
        match self {
            Bay::Busy { health, recipe } => {
                *health = DeviceHealth::now(
                    health.kind,
                    health.location.clone(),
                    HealthState::Fault("its task failed; opening it again".into()),
                );
                Some(recipe.clone())
            }
            Bay::Absent | Bay::Idle(_) => None,
        }
    }

    /// The device, when it is here.
    pub(super) fn idle_mut(&mut self) -> Option<&mut T> {
        match self {
            Bay::Idle(device) => Some(device),
            Bay::Absent | Bay::Busy { .. } => None,
        }
    }

    /// Its health as last seen, unless absent.
    pub(super) fn health(&self) -> Option<DeviceHealth> {
        match self {
            Bay::Absent => None,
            Bay::Idle(device) => Some(device.last_health().clone()),
            Bay::Busy { health, .. } => Some(health.clone()),
        }
    }
}

/// What a slip was printed for: decides the outcome the journey gets.
#[derive(Debug, Clone, Copy)]
pub(super) enum SlipFor {
    /// A guide slip.
    Guide,
    /// The 一次性告知 list.
    Missing,
    /// The 受理回执 of an application already stored under this number.
    Receipt(ApplicationNo),
}

/// A scan's result as its task hands it over: the pages' checks and, when every page
/// passed, the PDF's spool handle and page count (or why it could not be kept); `Err` is the
/// scanner's failure in plain words.
pub(super) type ScanRun = Result<
    (
        Vec<PageCheckView>,
        Option<Result<(AttachmentId, u32), Failed>>,
    ),
    Text,
>;

/// What a lost task was doing, so that whoever waited for it hears it failed.
#[derive(Debug, Clone, Copy)]
pub(super) enum Lost {
    /// Printing a queue ticket (its number is in `Unsettled::printing`).
    Ticket,
    /// Printing the technician's test ticket.
    TestTicket,
    /// Printing a slip.
    Slip(SlipFor),
    /// Scanning a material.
    Scan,
    /// Opening the scanner again.
    ScannerStart,
}

/// Finished device work, with its device.
pub(super) enum Work {
    /// A queue ticket, printed or not.
    Ticket {
        /// The dispenser.
        slot: PrinterSlot,
        /// What the dispenser said.
        printed: Result<kiosk_dispenser::Issued, PrintFailure>,
        /// The number and its record to settle.
        ticket: Box<PrintingTicket>,
    },
    /// The technician's test ticket.
    TestTicket {
        /// The dispenser.
        slot: PrinterSlot,
        /// Whether it came out.
        ok: bool,
    },
    /// A slip on the receipt printer.
    Slip {
        /// The receipt printer.
        slot: PrinterSlot,
        /// Whether it came out.
        printed: bool,
        /// What it was.
        purpose: SlipFor,
    },
    /// One material scanned (and spooled when it passed).
    Scan {
        /// The scanner.
        slot: ScannerSlot,
        /// The material.
        material_id: String,
        /// What came of it.
        result: ScanRun,
    },
    /// The scanner opened again after a lost task.
    ScannerBack(ScannerSlot),
    /// The task panicked; its device went with it.
    Lost(Lost),
}

/// A task's report to the actor.
pub(super) struct Done {
    /// The session that asked; `None` for work no journey waits for.
    pub(super) session: Option<u64>,
    /// What was done.
    pub(super) work: Work,
}

/// Runs `work` as a task of its own and reports it to the actor on `tx`; a panic in it is
/// reported as [`Work::Lost`] with `lost`. Should the actor be gone (shutting down), the
/// report is dropped: a ticket's print intent then covers it at the next start.
pub(super) fn spawn(
    tx: &mpsc::UnboundedSender<Done>,
    session: Option<u64>,
    lost: Lost,
    work: impl Future<Output = Work> + Send + 'static,
) {
    let tx = tx.clone();
    tokio::spawn(async move {
        // The work runs on a task of its own so that its panic ends there and is seen here.
        let work = match tokio::spawn(work).await {
            Ok(work) => work,
            Err(err) => {
                tracing::error!(%err, ?lost, "a device task failed; its device is opened again");
                Work::Lost(lost)
            }
        };
        let _ = tx.send(Done { session, work });
    });
}
