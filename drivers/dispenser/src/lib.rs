//! Queue-ticket dispenser: the ticket layout in printer text and QR commands, issuing with a
//! status check before and after (a failure voids the number), the ticket-taken sensor, and
//! the optional number display.

pub mod display;
mod issue;
mod ticket;

pub use display::{Call, DisplayError, ModbusDisplay, NumberDisplay};
pub use issue::{Dispenser, IssueError, Issued, PRINT_TIMEOUT, Stage, Taken};
pub use ticket::{Slip, TICKET_QR, Ticket, slip_job, ticket_job};

#[cfg(test)]
mod tests;
