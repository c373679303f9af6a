//! What central stored for one kiosk, read from central's SQLite database after the run, and
//! checked against what the kiosk committed.
//!
//! Every torture event carries `n`, the sequence number its commit was given (the sender
//! computes it as the store's last seq + 1; one writer, so they agree, and the check verifies
//! it). From central's `events` rows, in insertion order (SQLite `rowid`: central never deletes
//! events, so `rowid` grows with each insert), we count:
//!
//! - **stored**: rows for the kiosk;
//! - **duplicates**: rows beyond the first for the same `n` (the same logical event stored
//!   twice, under any event id or seq);
//! - **missing**: `n` in `1..=sent` with no row;
//! - **out-of-order**: rows stored after a row of the *same stream* with a higher seq. The
//!   contract orders a batch by priority then seq, and priority is a function of the stream,
//!   so within a stream the kiosk sends in seq order and must never let a later event of the
//!   stream overtake an earlier one (retries resend the same head of the queue). Across
//!   streams no order is promised: an urgent help request rightly overtakes old telemetry.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context as _;
use rusqlite::OpenFlags;

/// The counts of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Rows central holds for the kiosk.
    pub stored: u64,
    /// Rows beyond the first for the same logical event.
    pub duplicates: u64,
    /// Committed events central does not hold.
    pub missing: u64,
    /// Rows stored after a later event of the same stream.
    pub out_of_order: u64,
    /// Rows whose `n` is not their seq, or beyond what was sent: should never happen.
    pub inconsistent: u64,
    /// First few problems, for the report.
    pub problems: Vec<String>,
}

impl Ledger {
    /// Whether the run lost, duplicated or reordered nothing.
    pub fn is_perfect(&self, sent: u64) -> bool {
        self.stored == sent
            && self.duplicates == 0
            && self.missing == 0
            && self.out_of_order == 0
            && self.inconsistent == 0
    }
}

/// Reads central's SQLite database at `db` (central stopped or idle) for `kiosk_id`.
pub fn check(db: &Path, kiosk_id: &str, sent: u64) -> anyhow::Result<Ledger> {
    let conn = rusqlite::Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening central's database {}", db.display()))?;
    let mut stmt = conn.prepare(
        "SELECT seq, stream,
                COALESCE(json_extract(payload, '$.n'), json_extract(payload, '$.summary.n'))
         FROM events WHERE kiosk_id = ?1 ORDER BY rowid",
    )?;
    let rows = stmt
        .query_map([kiosk_id], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<i64>>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut ledger = Ledger::default();
    let mut seen = BTreeSet::new();
    let mut highest: BTreeMap<String, i64> = BTreeMap::new();
    let note = |ledger: &mut Ledger, problem: String| {
        if ledger.problems.len() < 10 {
            ledger.problems.push(problem);
        }
    };
    for (seq, stream, n) in rows {
        ledger.stored += 1;
        match n {
            Some(n) if n == seq && (1..=sent as i64).contains(&n) => {}
            _ => {
                ledger.inconsistent += 1;
                note(
                    &mut ledger,
                    format!("row seq {seq} carries n {n:?} (sent {sent})"),
                );
            }
        }
        let n = n.unwrap_or(seq);
        if !seen.insert(n) {
            ledger.duplicates += 1;
            note(&mut ledger, format!("event n={n} stored twice"));
        }
        let top = highest.entry(stream.clone()).or_insert(0);
        if seq < *top {
            ledger.out_of_order += 1;
            note(
                &mut ledger,
                format!("{stream}: seq {seq} stored after seq {top}"),
            );
        } else {
            *top = seq;
        }
    }
    ledger.missing = (1..=sent as i64).filter(|n| !seen.contains(n)).count() as u64;
    if ledger.missing > 0 {
        let first: Vec<i64> = (1..=sent as i64)
            .filter(|n| !seen.contains(n))
            .take(5)
            .collect();
        note(&mut ledger, format!("missing n (first few): {first:?}"));
    }
    Ok(ledger)
}
