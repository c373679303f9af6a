//! The engine: owns the devices (through the driver crates), the store, the link to central
//! and the session's journey; turns UI commands and device events into journey inputs and
//! carries out the journeys' effects.
//!
//! ```text
//! UI ──Command──▶ EngineHandle::send ──▶ actor task ──Input──▶ Journey ──Effect──▶ actor
//!                                          │  ▲ card events (reader task)            │
//! UI ◀──watch<Screen>, watch<Availability>─┘  └── Outcome ◀── dispenser / printer / scanner /
//!                                                              store / central
//! queue keeper task: queue state + number leases ahead of need (never on a citizen's path)
//! ```

mod actor;
mod applications;
pub mod availability;
mod blocking;
mod devices;
mod dispatch;
mod health;
mod help;
mod jobs;
mod notices;
mod progress;
mod queue;
mod ratings;
mod tickets;
mod wiring;

use std::sync::Arc;

use kiosk_api::catalog::Catalog;
use kiosk_core::config::Config;
use tokio::sync::{mpsc, watch};

use crate::clock::{Clock, SystemClock};
use crate::model::{Availability, Command, Screen};
use crate::sim::SimControls;

pub use devices::printer_endpoint;
// What the simulated scanner implements.
#[cfg(feature = "simulators")]
pub(crate) use devices::{LoadedPages, ScanLoad};
pub use queue::{LEASE_AHEAD_FROM_HOUR, lease_dates};

/// How the engine is started besides the configuration.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Start the simulated devices (`--simulate`, headless runs, tests) instead of the
    /// configured ones.
    pub simulate: bool,
    /// Use this catalog instead of the applied bundle (or the built-in sample).
    pub catalog: Option<Catalog>,
    /// Whether voice prompts may be spoken at all (off for headless runs).
    pub voice: bool,
    /// Watch the dispenser's ticket-taken sensor this long after a ticket (None: probe and
    /// use the driver's default). Simulated dispensers have no sensor.
    pub ticket_take_timeout: Option<std::time::Duration>,
    /// Where the engine reads the time (business dates, "as of", leases ahead); the system
    /// clock by default, a [`crate::clock::ShiftedClock`] in tests that cross midnight.
    pub clock: Arc<dyn Clock>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            simulate: false,
            catalog: None,
            voice: true,
            ticket_take_timeout: None,
            clock: Arc::new(SystemClock),
        }
    }
}

/// Counters of what the engine did since it started (the headless summary, tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Tickets printed and recorded as issued.
    pub tickets_printed: u32,
    /// Numbers voided because the ticket did not print.
    pub tickets_voided: u32,
    /// Tickets kept callable but marked unconfirmed: the kiosk stopped while printing them,
    /// or the printer failed after the ticket was sent (it may be in the citizen's hand).
    pub tickets_unconfirmed: u32,
    /// Tickets refused because the holder already had one of that category today.
    pub duplicates_refused: u32,
    /// Appointment check-ins that printed a ticket.
    pub checkins: u32,
    /// Applications submitted.
    pub applications: u32,
    /// 一次性告知 lists printed instead of an application.
    pub missing_lists: u32,
    /// Guide slips printed.
    pub guide_slips: u32,
    /// Progress look-ups answered.
    pub progress_lookups: u32,
    /// Ratings recorded.
    pub ratings: u32,
    /// Help requests sent.
    pub help_requests: u32,
    /// Pages that failed a page check and were retaken.
    pub pages_retaken: u32,
    /// Scans that finished, whatever their pages' checks said.
    pub scans: u32,
    /// Sessions ended by a timeout.
    pub timeouts: u32,
}

/// Why the engine did not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store could not be opened.
    #[error("kiosk store: {0}")]
    Store(#[from] kiosk_core::store::StoreError),
    /// The identity in the data folder is unreadable.
    #[error("kiosk identity: {0}")]
    Identity(#[from] kiosk_core::identity::IdentityError),
    /// The simulators did not start.
    #[error("{0}")]
    Sim(#[from] crate::sim::SimStartError),
    /// kiosk-core's sync client could not be built.
    #[error("{0}")]
    Sync(#[from] kiosk_core::sync::SyncError),
}

/// The engine's entry point.
#[derive(Debug)]
pub struct Engine;

impl Engine {
    /// Opens the store, starts the devices (or the simulators), the link to central if the
    /// kiosk is enrolled, and the actor, on the current tokio runtime.
    pub async fn start(
        config: Config,
        options: EngineOptions,
    ) -> Result<EngineHandle, EngineError> {
        wiring::start(config, options).await
    }
}

/// The UI's handle on the engine. Cheap to clone.
#[derive(Clone)]
pub struct EngineHandle {
    commands: mpsc::UnboundedSender<Command>,
    screen: watch::Receiver<Screen>,
    availability: watch::Receiver<Availability>,
    stats: watch::Receiver<Stats>,
    sim: Option<SimControls>,
    store: kiosk_core::store::Store,
    stop: Arc<tokio::sync::Notify>,
    stopped: Arc<tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl std::fmt::Debug for EngineHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineHandle").finish_non_exhaustive()
    }
}

impl EngineHandle {
    /// Sends a command; never blocks. Commands are handled in order.
    pub fn send(&self, command: Command) {
        if self.commands.send(command).is_err() {
            tracing::warn!("engine stopped; command dropped");
        }
    }

    /// The screen now and its changes.
    pub fn screen(&self) -> watch::Receiver<Screen> {
        self.screen.clone()
    }

    /// Which journeys can run, and why not.
    pub fn availability(&self) -> watch::Receiver<Availability> {
        self.availability.clone()
    }

    /// What the engine did so far.
    pub fn stats(&self) -> watch::Receiver<Stats> {
        self.stats.clone()
    }

    /// The simulated devices' controls, when started with `simulate`.
    pub fn sim(&self) -> Option<&SimControls> {
        self.sim.as_ref()
    }

    /// Events not yet acknowledged by central.
    pub async fn backlog(&self) -> Result<u64, kiosk_core::store::StoreError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.backlog())
            .await
            .unwrap_or(Ok(0))
    }

    /// Ends the session, stops the devices and the link (draining nothing: the outbox is
    /// durable), and waits for the actor.
    pub async fn shutdown(self) {
        self.stop.notify_one();
        if let Some(task) = self.stopped.lock().await.take() {
            let _ = task.await;
        }
    }
}
