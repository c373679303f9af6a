//! The reader task: owns the port, polls for cards, and tells the app what happened.
//!
//! Built from a [`ReaderConfig`] by [`spawn`]; the app keeps the [`ReaderHandle`], reads
//! [`ReaderEvent`]s from it and asks it for health. The port is blocking I/O, so the loop
//! runs on tokio's blocking pool; it reopens the port after an unplug until it is back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kiosk_hal::{Backoff, DeviceHealth, DeviceKind, HealthState};
use tokio::sync::{mpsc, watch};

use crate::card::IdCard;
use crate::reader::{ReadOptions, Reader, ReaderError};
use crate::status::Status;
use crate::transport::{AUTO_BAUD_RATES, SerialTransport, Transport};

/// The task never polls more often than this: the SAM and the card's RF field need the
/// rest, and faster polling does not make a tap feel any quicker.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(300);

/// The longest wait between reopen attempts, as a multiple of
/// [`ReaderConfig::reopen_interval`]: an unplugged reader is found within 16 s of its return.
pub const MAX_REOPEN_FACTOR: u32 = 16;

/// Where the reader is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortConfig {
    /// A serial port (or PTY); `baud: None` auto-detects among [`AUTO_BAUD_RATES`].
    Serial {
        /// Device path, e.g. `/dev/kiosk/idcard`.
        path: String,
        /// Fixed speed, or `None` to auto-detect.
        baud: Option<u32>,
    },
    /// A USB bulk reader.
    Usb {
        /// Vendor id, e.g. `0x0400`.
        vendor_id: u16,
        /// Product id, e.g. `0xC35A`.
        product_id: u16,
        /// The serial number that picks one of several identical readers.
        serial: Option<String>,
    },
}

impl PortConfig {
    fn location(&self) -> String {
        match self {
            Self::Serial { path, .. } => path.clone(),
            Self::Usb {
                vendor_id,
                product_id,
                serial: None,
            } => format!("usb {vendor_id:04x}:{product_id:04x}"),
            Self::Usb {
                vendor_id,
                product_id,
                serial: Some(serial),
            } => format!("usb {vendor_id:04x}:{product_id:04x} serial {serial}"),
        }
    }

    fn open(&self, timeout: Duration) -> Result<Reader<Box<dyn Transport>>, ReaderError> {
        let boxed = |r: Reader<SerialTransport>| -> Reader<Box<dyn Transport>> {
            let baud = r.transport().baud();
            let path = r.transport().location();
            tracing::info!(port = %path, baud, "ID-card reader answering");
            Reader::new(Box::new(r.into_transport()) as Box<dyn Transport>).with_timeout(timeout)
        };
        match self {
            Self::Serial {
                path,
                baud: Some(baud),
            } => Reader::open_serial(path, *baud).map(boxed),
            Self::Serial { path, baud: None } => {
                Reader::open_serial_auto(path, &AUTO_BAUD_RATES).map(boxed)
            }
            Self::Usb {
                vendor_id,
                product_id,
                serial,
            } => {
                let reader = Reader::open_usb(*vendor_id, *product_id, serial.as_deref())?;
                Ok(
                    Reader::new(Box::new(reader.into_transport()) as Box<dyn Transport>)
                        .with_timeout(timeout),
                )
            }
        }
    }
}

/// How the task runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderConfig {
    /// Where the reader is.
    pub port: PortConfig,
    /// Time between polls; raised to [`MIN_POLL_INTERVAL`] if lower.
    pub poll_interval: Duration,
    /// Time before the first attempt to reopen a lost port; later attempts double it, up to
    /// [`MAX_REOPEN_FACTOR`] times it, while the reader stays away.
    pub reopen_interval: Duration,
    /// Per-command timeout.
    pub timeout: Duration,
    /// What to read besides text and photo.
    pub read: ReadOptions,
}

impl ReaderConfig {
    /// A serial reader with the default timing: poll every 300 ms, reopen every second.
    pub fn serial(path: impl Into<String>, baud: Option<u32>) -> Self {
        Self {
            port: PortConfig::Serial {
                path: path.into(),
                baud,
            },
            poll_interval: MIN_POLL_INTERVAL,
            reopen_interval: Duration::from_secs(1),
            timeout: crate::reader::DEFAULT_TIMEOUT,
            read: ReadOptions::default(),
        }
    }

    /// A USB bulk reader with the default timing; `serial` picks one of several identical
    /// readers.
    pub fn usb(vendor_id: u16, product_id: u16, serial: Option<String>) -> Self {
        Self {
            port: PortConfig::Usb {
                vendor_id,
                product_id,
                serial,
            },
            ..Self::serial("", None)
        }
    }
}

/// What kind of trouble a [`ReaderFault`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The port is gone or cannot be opened (unplugged, wrong path, no answer).
    Unplugged,
    /// The reader answers, but with broken frames or timeouts.
    Protocol,
    /// The reader's security module failed: the reader must be replaced.
    Sam,
    /// A card was there but could not be read (moved away, damaged).
    CardRead,
    /// A card was read but its data is invalid (e.g. a wrong check character).
    BadCard,
}

/// A fault, for the app to show or log. The message is safe to log: it never carries
/// unmasked card data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderFault {
    /// What kind of trouble.
    pub kind: FaultKind,
    /// The technician's message.
    pub message: String,
}

impl ReaderFault {
    fn from_error(e: &ReaderError) -> Self {
        let kind = match e {
            _ if e.is_link_lost() => FaultKind::Unplugged,
            ReaderError::Card { .. } => FaultKind::BadCard,
            ReaderError::Status { status, .. } => match status {
                Status::SelfTestFailed | Status::SamNotAuthorised => FaultKind::Sam,
                Status::ChecksumError | Status::LengthError | Status::CommandError => {
                    FaultKind::Protocol
                }
                _ => FaultKind::CardRead,
            },
            _ => FaultKind::Protocol,
        };
        Self {
            kind,
            message: e.to_string(),
        }
    }

    fn health(&self) -> Option<HealthState> {
        match self.kind {
            FaultKind::Unplugged => Some(HealthState::Absent),
            FaultKind::Sam => Some(HealthState::Fault(self.message.clone())),
            FaultKind::Protocol => Some(HealthState::Degraded(self.message.clone())),
            // The reader is fine; the card is not.
            FaultKind::CardRead | FaultKind::BadCard => None,
        }
    }
}

/// What the task tells the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderEvent {
    /// A card was placed and read.
    CardPresented(Box<IdCard>),
    /// The card that was read has been taken away.
    CardRemoved,
    /// Something went wrong; sent once per new fault, not on every poll.
    Fault(ReaderFault),
}

/// The app's side of a running reader task. Dropping it stops the task.
pub struct ReaderHandle {
    events: mpsc::Receiver<ReaderEvent>,
    health: watch::Receiver<DeviceHealth>,
    stop: Arc<AtomicBool>,
    join: Option<tokio::task::JoinHandle<()>>,
}

impl ReaderHandle {
    /// The next event, or `None` once the task has stopped.
    pub async fn next_event(&mut self) -> Option<ReaderEvent> {
        self.events.recv().await
    }

    /// The reader's health as last observed.
    pub fn health(&self) -> DeviceHealth {
        self.health.borrow().clone()
    }

    /// Waits until the health state changes, and returns the new one.
    pub async fn health_changed(&mut self) -> Option<DeviceHealth> {
        self.health.changed().await.ok()?;
        Some(self.health.borrow_and_update().clone())
    }

    /// Stops the task and waits until it has released the port.
    pub async fn shutdown(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(join) = self.join.take() {
            let _ = join.await;
        }
    }
}

impl Drop for ReaderHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Starts the reader task on tokio's blocking pool. Must be called within a tokio runtime.
pub fn spawn(config: ReaderConfig) -> ReaderHandle {
    let (tx, events) = mpsc::channel(16);
    let (health_tx, health) = watch::channel(DeviceHealth::now(
        DeviceKind::IdCardReader,
        config.port.location(),
        HealthState::Absent,
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let task = Task {
        config,
        tx,
        health: health_tx,
        stop: Arc::clone(&stop),
        card_present: false,
        last_fault: None,
    };
    let join = tokio::task::spawn_blocking(move || task.run());
    ReaderHandle {
        events,
        health,
        stop,
        join: Some(join),
    }
}

struct Task {
    config: ReaderConfig,
    tx: mpsc::Sender<ReaderEvent>,
    health: watch::Sender<DeviceHealth>,
    stop: Arc<AtomicBool>,
    card_present: bool,
    last_fault: Option<ReaderFault>,
}

impl Task {
    fn run(mut self) {
        let poll = self.config.poll_interval.max(MIN_POLL_INTERVAL);
        let mut reader = None;
        let mut backoff = Backoff::new(
            self.config.reopen_interval,
            self.config.reopen_interval * MAX_REOPEN_FACTOR,
        );
        while !self.stopped() {
            let started = Instant::now();
            let link = match reader.as_mut() {
                Some(link) => link,
                None => match self.config.port.open(self.config.timeout) {
                    Ok(opened) => {
                        backoff.succeeded();
                        self.set_health(HealthState::Ready);
                        self.last_fault = None;
                        reader.insert(opened)
                    }
                    Err(e) => {
                        self.fault(&e);
                        backoff.failed(started);
                        self.sleep_until(backoff.not_before().unwrap_or(started));
                        continue;
                    }
                },
            };
            // The interval runs from one poll to the next, not from the loop's start: an
            // open (SAM status, auto-detection) must not shorten the gap to the next poll.
            let polled = Instant::now();
            match self.poll(link) {
                Ok(Some(event)) => {
                    self.last_fault = None;
                    self.set_health(HealthState::Ready);
                    self.send(event);
                }
                Ok(None) => {
                    self.last_fault = None;
                    self.set_health(HealthState::Ready);
                }
                Err(e) => {
                    if e.is_link_lost() {
                        reader = None;
                    }
                    self.fault(&e);
                }
            }
            self.sleep_until(polled + poll);
        }
    }

    /// One poll: find a new card and read it, or notice that the present one left.
    fn poll(
        &mut self,
        reader: &mut Reader<Box<dyn Transport>>,
    ) -> Result<Option<ReaderEvent>, ReaderError> {
        if !self.card_present {
            if !reader.find_card()? {
                return Ok(None);
            }
            reader.select_card()?;
            // From here the card counts as present: a bad card is reported once, not at
            // every poll while it lies on the reader.
            self.card_present = true;
            let card = reader.read_selected(self.config.read).inspect_err(|e| {
                if !matches!(e, ReaderError::Card { .. }) {
                    self.card_present = false;
                }
            })?;
            tracing::info!(card = %card, "card presented");
            return Ok(Some(ReaderEvent::CardPresented(Box::new(card))));
        }
        // Some readers report a card they have already read as "no card" to find, so a
        // failed find is confirmed by a select before the card counts as gone.
        if reader.find_card()? || reader.card_still_present()? {
            return Ok(None);
        }
        self.card_present = false;
        Ok(Some(ReaderEvent::CardRemoved))
    }

    fn fault(&mut self, e: &ReaderError) {
        let fault = ReaderFault::from_error(e);
        if let Some(state) = fault.health() {
            self.set_health(state);
        }
        if fault.kind == FaultKind::Unplugged && self.card_present {
            self.card_present = false;
            self.send(ReaderEvent::CardRemoved);
        }
        if self.last_fault.as_ref() != Some(&fault) {
            tracing::warn!(kind = ?fault.kind, "{}", fault.message);
            self.last_fault = Some(fault.clone());
            self.send(ReaderEvent::Fault(fault));
        }
    }

    fn set_health(&self, state: HealthState) {
        self.health.send_if_modified(|h| {
            if h.state == state {
                return false;
            }
            *h = DeviceHealth::now(h.kind, h.location.clone(), state);
            true
        });
    }

    fn send(&self, event: ReaderEvent) {
        if self.tx.blocking_send(event).is_err() {
            // Nobody listens any more: the app dropped the handle.
            self.stop.store(true, Ordering::SeqCst);
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.tx.is_closed()
    }

    /// Sleeps in short steps so that a stop request is honoured quickly.
    fn sleep_until(&self, deadline: Instant) {
        while !self.stopped() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }
}
