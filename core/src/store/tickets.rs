//! The kiosk's queue tickets: leased number blocks and the kiosk's offline band, the numbers
//! handed out (duplicate blocking, crash recovery) and what became of each.
//!
//! Nothing here holds plain personal data: a ticket's holder is kept as the contract's
//! `holder_hash`, and cached appointments carry only hashes.
//!
//! A ticket about to be printed has its `ticket_issued` event written down first (a *print
//! intent*, kept on the ticket's row) and cleared in the transaction that records what became
//! of the ticket. So after a crash the kiosk can tell a number that never reached the printer
//! (no intent: void) from one that may be in a citizen's hand (intent: issued, marked
//! unconfirmed for staff).

use chrono::NaiveDate;
use kiosk_api::NumberBand;
use kiosk_api::citizen::{Lease, ticket_no};
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, now_ms};
use kiosk_api::Stream;

/// A number taken for a ticket, before the dispenser has printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketAllocation {
    /// Business date the number belongs to.
    pub business_date: NaiveDate,
    /// Queue letter.
    pub category: String,
    /// The number.
    pub number: u32,
    /// As printed, `A012`.
    pub ticket_no: String,
    /// `lease:<uuid>` or `band`.
    pub source: String,
    /// `holder_hash` of the card tapped, if any.
    pub holder_hash: Option<String>,
}

/// Why no number was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoNumber {
    /// The same person already holds a printed ticket of this category today.
    Duplicate {
        /// The ticket they hold.
        ticket_no: String,
    },
    /// Every leased number and the whole offline band of this category are used today.
    Exhausted,
}

/// What happened to an allocated number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketFate {
    /// Printed: it counts.
    Issued,
    /// Not printed (or unknown after a crash): void.
    Voided,
}

fn fate_name(fate: TicketFate) -> &'static str {
    match fate {
        TicketFate::Issued => "issued",
        TicketFate::Voided => "voided",
    }
}

/// The band's lease id in `queue_leases`.
const BAND: &str = "band";

impl Store {
    /// Keeps a block leased from central, for issuing later (offline too).
    pub fn add_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT OR IGNORE INTO queue_leases
               (lease_id, category, business_date, first, last, next, added_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?6)",
            params![
                lease.lease_id.to_string(),
                lease.category,
                lease.business_date.to_string(),
                lease.first,
                lease.last,
                now_ms(),
            ],
        )?;
        Ok(())
    }

    /// Leased numbers still unused for `category` on `date` (the band not counted).
    pub fn leased_numbers_left(&self, category: &str, date: NaiveDate) -> Result<u32, StoreError> {
        let conn = self.conn();
        let left: i64 = conn.query_row(
            "SELECT COALESCE(SUM(last - next + 1), 0) FROM queue_leases
             WHERE category = ?1 AND business_date = ?2 AND lease_id != ?3 AND next <= last",
            params![category, date.to_string(), BAND],
            |row| row.get(0),
        )?;
        Ok(left.max(0) as u32)
    }

    /// Takes the next number for a ticket in one durable transaction: from the oldest lease
    /// with numbers left, else from the kiosk's offline `band`. Refuses a holder who already
    /// has a printed (or still printing) ticket of this category today. A number once taken
    /// is never given again, whatever happens to its ticket.
    ///
    /// `holder_hashes` are the card's hashes under every holder key, the current key's first:
    /// the first is kept with the ticket, all of them find a ticket taken before a key
    /// rotation.
    pub fn allocate_ticket(
        &self,
        category: &str,
        date: NaiveDate,
        holder_hashes: &[String],
        band: NumberBand,
    ) -> Result<Result<TicketAllocation, NoNumber>, StoreError> {
        let mut conn = self.conn();
        conn.pragma_update(None, "synchronous", "FULL")?;
        let tx = conn.transaction()?;
        let day = date.to_string();
        for holder in holder_hashes {
            let held: Option<String> = tx
                .query_row(
                    "SELECT ticket_no FROM queue_tickets
                     WHERE business_date = ?1 AND category = ?2 AND holder_hash = ?3
                       AND fate != 'voided'",
                    params![day, category, holder],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(ticket_no) = held {
                return Ok(Err(NoNumber::Duplicate { ticket_no }));
            }
        }
        let leased: Option<(String, u32)> = tx
            .query_row(
                "SELECT lease_id, next FROM queue_leases
                 WHERE category = ?1 AND business_date = ?2 AND lease_id != ?3 AND next <= last
                 ORDER BY first LIMIT 1",
                params![category, day, BAND],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let (lease_id, number, source) = match leased {
            Some((id, next)) => (id.clone(), next, format!("lease:{id}")),
            None => {
                tx.execute(
                    "INSERT OR IGNORE INTO queue_leases
                       (lease_id, category, business_date, first, last, next, added_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?6)",
                    params![BAND, category, day, band.first, band.last, now_ms()],
                )?;
                let next: Option<u32> = tx
                    .query_row(
                        "SELECT next FROM queue_leases
                         WHERE lease_id = ?1 AND category = ?2 AND business_date = ?3
                           AND next <= last",
                        params![BAND, category, day],
                        |row| row.get(0),
                    )
                    .optional()?;
                match next {
                    Some(next) => (BAND.to_owned(), next, BAND.to_owned()),
                    None => return Ok(Err(NoNumber::Exhausted)),
                }
            }
        };
        tx.execute(
            "UPDATE queue_leases SET next = next + 1
             WHERE lease_id = ?1 AND category = ?2 AND business_date = ?3",
            params![lease_id, category, day],
        )?;
        let allocation = TicketAllocation {
            business_date: date,
            category: category.to_owned(),
            number,
            ticket_no: ticket_no(category, number),
            source,
            holder_hash: holder_hashes.first().cloned(),
        };
        tx.execute(
            "INSERT INTO queue_tickets
               (business_date, category, number, ticket_no, source, holder_hash, fate, allocated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'allocated', ?7)",
            params![
                day,
                category,
                number,
                allocation.ticket_no,
                allocation.source,
                allocation.holder_hash,
                now_ms(),
            ],
        )?;
        tx.commit()?;
        Ok(Ok(allocation))
    }

    /// Records what became of an allocated number and queues its event for central
    /// (`ticket_issued` / `ticket_voided`) in ONE durable transaction, so that a crash leaves
    /// either both or neither: a number is never reported twice or settled without an event.
    pub fn settle_ticket_with_event(
        &self,
        allocation: &TicketAllocation,
        fate: TicketFate,
        kind: &str,
        payload: &serde_json::Value,
    ) -> Result<u64, StoreError> {
        let seq = self.record_with_event(Stream::Tickets, kind, payload, |tx| {
            tx.execute(
                "UPDATE queue_tickets SET fate = ?4, print_intent = NULL
                 WHERE business_date = ?1 AND category = ?2 AND number = ?3",
                params![
                    allocation.business_date.to_string(),
                    allocation.category,
                    allocation.number,
                    fate_name(fate),
                ],
            )?;
            Ok(true)
        })?;
        Ok(seq.unwrap_or_default())
    }

    /// Writes down, durably and before the ticket is sent to the printer, the `ticket_issued`
    /// event the ticket will count as: from here on a crash leaves a number that may be in
    /// a citizen's hand, which [`Store::print_intent`] finds at the next start.
    pub fn record_print_intent(
        &self,
        allocation: &TicketAllocation,
        payload: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute(
            "UPDATE queue_tickets SET print_intent = ?4
             WHERE business_date = ?1 AND category = ?2 AND number = ?3",
            params![
                allocation.business_date.to_string(),
                allocation.category,
                allocation.number,
                payload.to_string(),
            ],
        )?;
        Ok(())
    }

    /// The `ticket_issued` payload written down before printing `allocation`, if printing
    /// was started; `None` when the number never reached the printer.
    pub fn print_intent(
        &self,
        allocation: &TicketAllocation,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let conn = self.conn();
        let text: Option<Option<String>> = conn
            .query_row(
                "SELECT print_intent FROM queue_tickets
                 WHERE business_date = ?1 AND category = ?2 AND number = ?3",
                params![
                    allocation.business_date.to_string(),
                    allocation.category,
                    allocation.number,
                ],
                |row| row.get(0),
            )
            .optional()?;
        match text.flatten() {
            Some(text) => Ok(Some(serde_json::from_str(&text)?)),
            None => Ok(None),
        }
    }

    /// Records what became of an allocated number (after its event was committed).
    pub fn settle_ticket(
        &self,
        allocation: &TicketAllocation,
        fate: TicketFate,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute(
            "UPDATE queue_tickets SET fate = ?4
             WHERE business_date = ?1 AND category = ?2 AND number = ?3",
            params![
                allocation.business_date.to_string(),
                allocation.category,
                allocation.number,
                fate_name(fate),
            ],
        )?;
        Ok(())
    }

    /// Numbers allocated whose fate was never recorded: the app stopped between taking the
    /// number and recording the print. The engine settles them at start.
    pub fn unsettled_tickets(&self) -> Result<Vec<TicketAllocation>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT business_date, category, number, ticket_no, source, holder_hash
             FROM queue_tickets WHERE fate = 'allocated' ORDER BY allocated_ms",
        )?;
        let rows = stmt.query_map([], |row| {
            let day: String = row.get(0)?;
            Ok((
                day,
                TicketAllocation {
                    business_date: NaiveDate::MIN,
                    category: row.get(1)?,
                    number: row.get(2)?,
                    ticket_no: row.get(3)?,
                    source: row.get(4)?,
                    holder_hash: row.get(5)?,
                },
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (day, mut allocation) = row?;
            // Written by this module from a NaiveDate; a row that does not parse is skipped
            // rather than settled on the wrong date.
            if let Ok(date) = day.parse() {
                allocation.business_date = date;
                out.push(allocation);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "tickets_tests.rs"]
mod tests;
