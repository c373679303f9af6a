//! Issuing a ticket: status before, print, wait until printed, status after, and the
//! ticket-taken sensor where there is one. A ticket counts as issued only if every step was
//! good; otherwise the caller gets a typed failure and voids the number.

use std::time::Duration;

use kiosk_escpos::{PaperLevel, Printer, PrinterError, PrinterStatus, Problem};
use kiosk_hal::DeviceHealth;

use crate::ticket::{Slip, Ticket, slip_job, ticket_job};

/// Whether the citizen took the ticket from the mouth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// The printer has no ticket-taken sensor.
    NoSensor,
    /// The sensor saw the ticket taken.
    Taken,
    /// Still in the mouth when we stopped waiting (the citizen may have walked off).
    NotYet,
}

/// A ticket that was printed and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// Bytes sent to the printer.
    pub bytes: usize,
    /// The status after printing (paper may be near end: tell the staff).
    pub status: PrinterStatus,
    /// What the ticket-taken sensor says.
    pub taken: Taken,
}

/// When in the issuing a failure happened, which says whether paper came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Before printing: nothing was printed.
    Before,
    /// While or after printing: a partial or unreadable ticket may be in the mouth.
    After,
}

/// Why a ticket was not issued. The number must be voided.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The printer reported a problem.
    #[error("ticket {number} not issued ({stage:?} printing): printer on {location}: {problem}")]
    NotReady {
        /// The voided number.
        number: String,
        /// Before or after printing.
        stage: Stage,
        /// Where the printer is.
        location: String,
        /// What the printer reported.
        problem: Problem,
        /// The whole status.
        status: PrinterStatus,
    },
    /// The printer did not answer, or the link failed.
    #[error("ticket {number} not issued ({stage:?} printing): {source}")]
    Printer {
        /// The voided number.
        number: String,
        /// Before or after printing.
        stage: Stage,
        /// The driver's error.
        #[source]
        source: PrinterError,
    },
    /// The content could not be laid out (text the printer cannot encode).
    #[error("ticket {number} not issued: {source}")]
    Layout {
        /// The voided number.
        number: String,
        /// The builder's error.
        #[source]
        source: kiosk_escpos::CommandError,
    },
}

impl IssueError {
    /// Whether paper may have come out (staff should take it away).
    pub fn maybe_printed(&self) -> bool {
        match self {
            Self::NotReady { stage, .. } | Self::Printer { stage, .. } => *stage == Stage::After,
            Self::Layout { .. } => false,
        }
    }

    /// What the citizen's screen says.
    pub fn citizen_message(&self) -> &'static str {
        match self {
            Self::NotReady {
                problem: Problem::PaperOut,
                ..
            } => "取号机缺纸，本号已作废，请联系工作人员或到服务台取号",
            _ => "取号机暂时无法出票，本号已作废，请联系工作人员或到服务台取号",
        }
    }
}

/// How long printing a ticket may take before it counts as failed (a 300-byte ticket prints
/// in about a second; a stalled printer never finishes).
pub const PRINT_TIMEOUT: Duration = Duration::from_secs(8);

/// The queue-ticket dispenser: a printer, and the ticket-taken sensor if it has one.
pub struct Dispenser {
    printer: Printer,
    sensor: Option<bool>,
    take_timeout: Duration,
    poll: Duration,
    print_timeout: Duration,
}

impl Dispenser {
    /// A dispenser on `printer`. Whether it has a ticket-taken sensor is found out at the
    /// first ticket (a printer without one does not answer the presenter question).
    pub fn new(printer: Printer) -> Self {
        Self {
            printer,
            sensor: None,
            take_timeout: Duration::from_secs(30),
            poll: Duration::from_millis(200),
            print_timeout: PRINT_TIMEOUT,
        }
    }

    /// How long to watch the ticket-taken sensor after a ticket (default 30 s).
    pub fn with_take_timeout(mut self, timeout: Duration) -> Self {
        self.take_timeout = timeout;
        self
    }

    /// How long printing may take (default [`PRINT_TIMEOUT`]).
    pub fn with_print_timeout(mut self, timeout: Duration) -> Self {
        self.print_timeout = timeout;
        self
    }

    /// Declares whether the mechanism has a ticket-taken sensor instead of probing.
    pub fn with_sensor(mut self, present: bool) -> Self {
        self.sensor = Some(present);
        self
    }

    /// The printer, for status and health.
    pub fn printer(&mut self) -> &mut Printer {
        &mut self.printer
    }

    /// The dispenser's health now.
    pub async fn health(&mut self) -> DeviceHealth {
        let location = self.printer.location().to_owned();
        match self.printer.status().await {
            Ok(status) => {
                let mut health = kiosk_escpos::health(&location, &status);
                health.kind = kiosk_hal::DeviceKind::Dispenser;
                health
            }
            Err(err) => DeviceHealth::now(
                kiosk_hal::DeviceKind::Dispenser,
                location,
                kiosk_hal::HealthState::Fault(err.to_string()),
            ),
        }
    }

    /// Prints `ticket` and checks it came out. On `Err`, void the number.
    pub async fn issue(&mut self, ticket: &Ticket) -> Result<Issued, IssueError> {
        let bytes = ticket_job(ticket).map_err(|source| IssueError::Layout {
            number: ticket.number.clone(),
            source,
        })?;
        let (status, bytes) = self.print_checked(&ticket.number, &bytes).await?;
        let taken = self.watch_sensor().await;
        tracing::info!(number = %ticket.number, bytes, ?taken, "ticket issued");
        Ok(Issued {
            bytes,
            status,
            taken,
        })
    }

    /// Prints a receipt or guide slip with the same checks (no sensor watch).
    pub async fn print_slip(&mut self, slip: &Slip) -> Result<PrinterStatus, IssueError> {
        let bytes = slip_job(slip).map_err(|source| IssueError::Layout {
            number: slip.title.clone(),
            source,
        })?;
        Ok(self.print_checked(&slip.title, &bytes).await?.0)
    }

    async fn print_checked(
        &mut self,
        number: &str,
        bytes: &[u8],
    ) -> Result<(PrinterStatus, usize), IssueError> {
        let fail = |stage: Stage| {
            let number = number.to_owned();
            move |source: PrinterError| IssueError::Printer {
                number,
                stage,
                source,
            }
        };
        let before = match self.printer.status().await {
            // A link lost since the last ticket (unplugged and back, a network printer that
            // closed an idle connection): reopen once, nothing has been printed yet.
            Err(err) if err.is_link_lost() => {
                tracing::warn!(%err, "printer link lost; reconnecting");
                self.printer
                    .reconnect()
                    .await
                    .map_err(fail(Stage::Before))?;
                self.printer.status().await
            }
            other => other,
        }
        .map_err(fail(Stage::Before))?;
        self.check(number, Stage::Before, before)?;
        self.printer.send(bytes).await.map_err(fail(Stage::After))?;
        let paper = self
            .printer
            .wait_printed(self.print_timeout)
            .await
            .map_err(fail(Stage::After))?;
        let mut after = self.printer.status().await.map_err(fail(Stage::After))?;
        // The in-turn answer may know of a paper end the real-time one has not seen yet.
        let _ = after.apply(kiosk_escpos::StatusQuery::PaperAfterJob, paper);
        self.check(number, Stage::After, after)?;
        if after.paper == PaperLevel::NearEnd {
            tracing::warn!(location = self.printer.location(), "paper near end");
        }
        Ok((after, bytes.len()))
    }

    fn check(&self, number: &str, stage: Stage, status: PrinterStatus) -> Result<(), IssueError> {
        match status.problem() {
            None => Ok(()),
            Some(problem) => Err(IssueError::NotReady {
                number: number.to_owned(),
                stage,
                location: self.printer.location().to_owned(),
                problem,
                status,
            }),
        }
    }

    async fn watch_sensor(&mut self) -> Taken {
        if self.sensor == Some(false) {
            return Taken::NoSensor;
        }
        let deadline = tokio::time::Instant::now() + self.take_timeout;
        loop {
            match self.printer.ticket_waiting().await {
                Ok(None) => {
                    self.sensor = Some(false);
                    return Taken::NoSensor;
                }
                Ok(Some(false)) => {
                    self.sensor = Some(true);
                    return Taken::Taken;
                }
                Ok(Some(true)) => self.sensor = Some(true),
                // The ticket is printed and checked; a sensor read failing now does not
                // un-issue it.
                Err(err) => {
                    tracing::warn!(%err, "ticket-taken sensor unreadable");
                    return Taken::NotYet;
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Taken::NotYet;
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}
