//! A printer on a link: sends jobs, asks status with a timeout on every question.

use std::time::Duration;

use kiosk_hal::{DeviceHealth, DeviceKind, HealthState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::status::{
    AUTOMATIC_STATUS_BITS, Inbound, Incoming, PaperLevel, PrinterStatus, StatusError, StatusQuery,
    automatic_status_request,
};
use crate::transport::{self, Endpoint, Link, OpenError};

/// Default time a printer gets to answer one status question. Real printers answer
/// `DLE EOT` within a few milliseconds even when offline; serial at 9600 baud adds ~1 ms.
pub const DEFAULT_STATUS_TIMEOUT: Duration = Duration::from_millis(800);

/// What went wrong talking to a printer. Every message names the printer's location.
#[derive(Debug, thiserror::Error)]
pub enum PrinterError {
    /// The link could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// A status question got no valid answer in time.
    #[error("printer on {location}: no answer to {query} within {} ms{stray}; check that the printer is on and the cable, and (serial) the baud rate", timeout.as_millis(), query = .query.label(), stray = stray_note(.stray))]
    NoAnswer {
        /// Where the printer is.
        location: String,
        /// The question.
        query: StatusQuery,
        /// How long we waited.
        timeout: Duration,
        /// Bytes that came back but were not a status.
        stray: Vec<u8>,
    },
    /// The printer took too long to accept data (a full buffer of a stopped printer).
    #[error("printer on {location}: did not accept {len} bytes within {} ms; it may be stopped (paper out, cover open)", timeout.as_millis())]
    WriteStalled {
        /// Where the printer is.
        location: String,
        /// Bytes we tried to send.
        len: usize,
        /// How long we waited.
        timeout: Duration,
    },
    /// The link broke.
    #[error("printer on {location}: {what}: {source}; check the cable and that the printer is on")]
    Io {
        /// Where the printer is.
        location: String,
        /// What we were doing.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The other side closed the connection.
    #[error("printer on {location}: the connection was closed while waiting for {query}; the printer restarted or the cable was pulled", query = .query.label())]
    Closed {
        /// Where the printer is.
        location: String,
        /// The question.
        query: StatusQuery,
    },
    /// A status byte broke its pattern (kept for callers decoding themselves).
    #[error("printer on {location}: {source}")]
    Status {
        /// Where the printer is.
        location: String,
        /// The decoding error.
        #[source]
        source: StatusError,
    },
}

impl PrinterError {
    /// Whether the link itself broke (closed, I/O error), so reopening it may help; a printer
    /// that answers "paper out" or does not answer at all is not helped by a new link.
    pub fn is_link_lost(&self) -> bool {
        matches!(self, Self::Closed { .. } | Self::Io { .. })
    }

    /// Whether the printer is not there at all: its node, USB device or port is gone
    /// (unplugged, switched off). Health says "absent" and the link is reopened when it is
    /// back.
    pub fn is_absent(&self) -> bool {
        match self {
            Self::Open(err) => err.is_absent(),
            Self::Io { source, .. } => crate::transport::io_absent(source),
            _ => false,
        }
    }
}

fn stray_note(stray: &[u8]) -> String {
    if stray.is_empty() {
        String::new()
    } else {
        format!(" (got {stray:02X?} instead)")
    }
}

/// An ESC/POS printer on an open link.
pub struct Printer {
    link: Box<dyn Link>,
    location: String,
    status_timeout: Duration,
    endpoint: Option<Endpoint>,
    inbound: Inbound,
    /// Automatic status back is on and the printer has sent at least one block.
    automatic: bool,
    /// The last automatic status block, decoded.
    last_automatic: Option<PrinterStatus>,
}

impl Printer {
    /// Opens `endpoint`; every status question will wait at most `status_timeout`.
    pub async fn open(endpoint: &Endpoint, status_timeout: Duration) -> Result<Self, PrinterError> {
        let link = transport::open(endpoint, status_timeout.max(Duration::from_secs(2))).await?;
        let mut printer = Self::over(link, endpoint.to_string(), status_timeout);
        printer.endpoint = Some(endpoint.clone());
        Ok(printer)
    }

    /// Opens the link again (after an unplug, a printer restart, or a network printer that
    /// closed an idle connection). A printer built with [`Printer::over`] cannot reconnect.
    pub async fn reconnect(&mut self) -> Result<(), PrinterError> {
        let Some(endpoint) = &self.endpoint else {
            return Err(PrinterError::Io {
                location: self.location.clone(),
                what: "reconnecting",
                source: std::io::Error::other("no endpoint to reopen (link given by the caller)"),
            });
        };
        self.link =
            transport::open(endpoint, self.status_timeout.max(Duration::from_secs(2))).await?;
        // A replugged printer starts with automatic status off; the caller turns it on again.
        self.inbound = Inbound::default();
        self.automatic = false;
        self.last_automatic = None;
        tracing::info!(location = %self.location, "printer link reopened");
        Ok(())
    }

    /// A printer over an already open link.
    pub fn over(
        link: Box<dyn Link>,
        location: impl Into<String>,
        status_timeout: Duration,
    ) -> Self {
        Self {
            link,
            location: location.into(),
            status_timeout,
            endpoint: None,
            inbound: Inbound::default(),
            automatic: false,
            last_automatic: None,
        }
    }

    /// Where the printer is, as error messages name it.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Sends bytes (a job). A printer that stops accepting data fails after a time scaled to
    /// the job's size, not at once: a slow serial line is not a fault.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), PrinterError> {
        // 9600 baud moves ~1 KB/s; allow that plus a fixed margin.
        let timeout = Duration::from_secs(3) + Duration::from_millis(bytes.len() as u64);
        let write = async {
            self.link.write_all(bytes).await?;
            self.link.flush().await
        };
        match tokio::time::timeout(timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(PrinterError::Io {
                location: self.location.clone(),
                what: "sending print data",
                source,
            }),
            Err(_) => Err(PrinterError::WriteStalled {
                location: self.location.clone(),
                len: bytes.len(),
                timeout,
            }),
        }
    }

    /// Asks one real-time question and returns the answer byte.
    pub async fn ask(&mut self, query: StatusQuery) -> Result<u8, PrinterError> {
        self.ask_within(query, self.status_timeout).await
    }

    /// Waits until the printer has processed everything sent before (it answers `GS r 1`
    /// only then), at most `timeout`: a printer stopped by paper end mid-job never answers.
    /// Returns the paper sensor answer.
    pub async fn wait_printed(&mut self, timeout: Duration) -> Result<u8, PrinterError> {
        self.ask_within(StatusQuery::PaperAfterJob, timeout).await
    }

    async fn ask_within(
        &mut self,
        query: StatusQuery,
        timeout: Duration,
    ) -> Result<u8, PrinterError> {
        self.discard_pending().await?;
        self.send_request(query).await?;
        let deadline = Instant::now() + timeout;
        let mut stray = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            match tokio::time::timeout_at(deadline, self.link.read(&mut byte)).await {
                Err(_) => {
                    return Err(PrinterError::NoAnswer {
                        location: self.location.clone(),
                        query,
                        timeout,
                        stray,
                    });
                }
                Ok(Ok(0)) => {
                    return Err(PrinterError::Closed {
                        location: self.location.clone(),
                        query,
                    });
                }
                Ok(Ok(_)) => {
                    for incoming in self.inbound.push(byte[0]) {
                        match incoming {
                            Incoming::Automatic(block) => self.take_automatic(block),
                            Incoming::Byte(answer) if query.accepts(answer) => return Ok(answer),
                            // Echo from a misconfigured line, or junk: skip, keep a few.
                            Incoming::Byte(other) => {
                                if stray.len() < 16 {
                                    stray.push(other);
                                }
                            }
                        }
                    }
                }
                Ok(Err(source)) => {
                    return Err(PrinterError::Io {
                        location: self.location.clone(),
                        what: "reading the status answer",
                        source,
                    });
                }
            }
        }
    }

    /// Asks `DLE EOT 1..4` and decodes the four answers.
    pub async fn status(&mut self) -> Result<PrinterStatus, PrinterError> {
        let mut status = PrinterStatus::default();
        for query in StatusQuery::STANDARD {
            let byte = self.ask(query).await?;
            status
                .apply(query, byte)
                .map_err(|source| PrinterError::Status {
                    location: self.location.clone(),
                    source,
                })?;
        }
        Ok(status)
    }

    /// Asks the presenter sensor whether a ticket waits in the mouth (`DLE EOT 8 3`).
    /// Printers without a presenter do not answer: that is `Ok(None)` after the timeout.
    pub async fn ticket_waiting(&mut self) -> Result<Option<bool>, PrinterError> {
        match self.ask(StatusQuery::Presenter).await {
            Ok(byte) => Ok(Some(byte & 0x04 != 0)),
            Err(PrinterError::NoAnswer { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Turns on automatic status back (`GS a`), so that the printer tells of paper out or an
    /// open cover by itself. A printer that supports it sends its status at once; one that
    /// sends nothing within the status timeout is told to stop (`GS a 0`) and keeps being
    /// asked with `DLE EOT`. Returns the first status, or `None` for such a printer.
    pub async fn enable_automatic_status(&mut self) -> Result<Option<PrinterStatus>, PrinterError> {
        self.discard_pending().await?;
        self.last_automatic = None;
        self.write_raw(
            &automatic_status_request(AUTOMATIC_STATUS_BITS),
            "enabling automatic status",
        )
        .await?;
        let deadline = Instant::now() + self.status_timeout;
        let mut byte = [0u8; 1];
        while self.last_automatic.is_none() {
            match tokio::time::timeout_at(deadline, self.link.read(&mut byte)).await {
                Err(_) => break,
                Ok(Ok(0)) => {
                    return Err(PrinterError::Closed {
                        location: self.location.clone(),
                        query: StatusQuery::Printer,
                    });
                }
                Ok(Ok(_)) => {
                    for incoming in self.inbound.push(byte[0]) {
                        if let Incoming::Automatic(block) = incoming {
                            self.take_automatic(block);
                        }
                    }
                }
                Ok(Err(source)) => {
                    return Err(PrinterError::Io {
                        location: self.location.clone(),
                        what: "waiting for the automatic status",
                        source,
                    });
                }
            }
        }
        self.automatic = self.last_automatic.is_some();
        if !self.automatic {
            tracing::info!(
                location = %self.location,
                "printer sent no automatic status: asking it with DLE EOT instead"
            );
            self.write_raw(&automatic_status_request(0), "disabling automatic status")
                .await?;
        }
        Ok(self.last_automatic)
    }

    /// Whether the printer reports its status by itself ([`Printer::enable_automatic_status`]
    /// found that it does).
    pub fn reports_automatically(&self) -> bool {
        self.automatic
    }

    /// The printer's status as it last reported it by itself, after reading what has
    /// arrived: no question is sent. `None` when automatic status is off.
    pub async fn automatic_status(&mut self) -> Result<Option<PrinterStatus>, PrinterError> {
        if !self.automatic {
            return Ok(None);
        }
        // Nothing is asked, so a pulled cable or a closed connection shows only here.
        if self.drain().await? {
            return Err(PrinterError::Closed {
                location: self.location.clone(),
                query: StatusQuery::Printer,
            });
        }
        Ok(self.last_automatic)
    }

    fn take_automatic(&mut self, block: [u8; 4]) {
        match PrinterStatus::from_automatic(block) {
            Ok(status) => self.last_automatic = Some(status),
            Err(err) => tracing::debug!(location = %self.location, %err, "ignored"),
        }
    }

    async fn write_raw(&mut self, bytes: &[u8], what: &'static str) -> Result<(), PrinterError> {
        let write = async {
            self.link.write_all(bytes).await?;
            self.link.flush().await
        };
        match tokio::time::timeout(self.status_timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(PrinterError::Io {
                location: self.location.clone(),
                what,
                source,
            }),
            Err(_) => Err(PrinterError::WriteStalled {
                location: self.location.clone(),
                len: bytes.len(),
                timeout: self.status_timeout,
            }),
        }
    }

    async fn send_request(&mut self, query: StatusQuery) -> Result<(), PrinterError> {
        let write = async {
            self.link.write_all(query.request()).await?;
            self.link.flush().await
        };
        match tokio::time::timeout(self.status_timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(PrinterError::Io {
                location: self.location.clone(),
                what: "sending a status request",
                source,
            }),
            Err(_) => Err(PrinterError::NoAnswer {
                location: self.location.clone(),
                query,
                timeout: self.status_timeout,
                stray: Vec::new(),
            }),
        }
    }

    /// Drops bytes that arrived unasked (a late answer to an earlier question), so that the
    /// next answer read is the answer to the next question; automatic status blocks among
    /// them are kept.
    async fn discard_pending(&mut self) -> Result<(), PrinterError> {
        self.drain().await.map(|_closed| ())
    }

    /// Reads what has arrived without waiting, keeping automatic status blocks; `true` when
    /// the other side closed the link.
    async fn drain(&mut self) -> Result<bool, PrinterError> {
        let mut buf = [0u8; 64];
        loop {
            match tokio::time::timeout(Duration::ZERO, self.link.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => {
                    for &byte in &buf[..n] {
                        for incoming in self.inbound.push(byte) {
                            if let Incoming::Automatic(block) = incoming {
                                self.take_automatic(block);
                            }
                        }
                    }
                }
                Ok(Ok(_)) => return Ok(true),
                Ok(Err(source)) => {
                    return Err(PrinterError::Io {
                        location: self.location.clone(),
                        what: "reading",
                        source,
                    });
                }
                Err(_nothing_yet) => return Ok(false),
            }
        }
    }
}

/// The health report of a printer in `status` at `location`.
pub fn health(location: &str, status: &PrinterStatus) -> DeviceHealth {
    let state = match status.problem() {
        Some(problem) => HealthState::Fault(problem.advice().to_owned()),
        None if status.paper == PaperLevel::NearEnd => {
            HealthState::Degraded("paper near end; replace the roll soon".to_owned())
        }
        None => HealthState::Ready,
    };
    DeviceHealth::now(DeviceKind::Printer, location, state)
}
