//! Local records that must change together with their outbox row (a ticket's fate, a rating
//! given), and the daily application counter.

use chrono::NaiveDate;
use kiosk_api::Stream;
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, StreamPolicy, now_ms};

impl Store {
    /// Keeps and queues a 好差评 rating once per subject, in one durable transaction.
    /// `Ok(false)`: this subject was already rated at this kiosk; nothing was queued.
    pub fn record_rating(
        &self,
        subject: &str,
        kind: &str,
        payload: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let seq = self.record_with_event(Stream::Ratings, kind, payload, |tx| {
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO ratings_given (subject, given_ms) VALUES (?1, ?2)",
                params![subject, now_ms()],
            )?;
            Ok(inserted == 1)
        })?;
        Ok(seq.is_some())
    }

    /// Whether `subject` was rated at this kiosk.
    pub fn is_rated(&self, subject: &str) -> Result<bool, StoreError> {
        let conn = self.conn();
        let found: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM ratings_given WHERE subject = ?1",
                params![subject],
                |row| row.get(0),
            )
            .optional()?;
        Ok(found.is_some())
    }

    /// Runs `local` and, if it says so, adds one outbox row (plain payload: these events
    /// carry hashes and codes only) in the same `synchronous=FULL` transaction. The row is
    /// written exactly as `Store::enqueue` writes one; this exists because a local table
    /// (a ticket's fate, a rating given) must change in the same transaction as the outbox.
    pub(super) fn record_with_event(
        &self,
        stream: Stream,
        kind: &str,
        payload: &serde_json::Value,
        local: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<bool, StoreError>,
    ) -> Result<Option<u64>, StoreError> {
        let body = serde_json::to_vec(payload)?;
        let seq = {
            let mut conn = self.conn();
            conn.pragma_update(None, "synchronous", "FULL")?;
            let tx = conn.transaction()?;
            if !local(&tx)? {
                return Ok(None);
            }
            let event_id = uuid::Uuid::now_v7();
            let now = chrono::Utc::now();
            tx.execute(
                "INSERT INTO outbox (event_id, stream, kind, priority, occurred_at, created_ms,
                                     personal, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7)",
                params![
                    event_id.as_bytes().as_slice(),
                    stream.as_str(),
                    kind,
                    stream.priority(),
                    now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    now.timestamp_millis(),
                    body,
                ],
            )?;
            let seq = tx.last_insert_rowid();
            tx.commit()?;
            seq as u64
        };
        self.inner.changed.notify_one();
        self.note_growth(body.len() as u64)?;
        Ok(Some(seq))
    }

    /// The next application counter of `date` (1, 2, ...), durable before it is used, so a
    /// number is never given twice even across a crash.
    pub fn next_application_counter(&self, date: NaiveDate) -> Result<u32, StoreError> {
        let mut conn = self.conn();
        conn.pragma_update(None, "synchronous", "FULL")?;
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO application_counter (business_date, counter) VALUES (?1, 1)
             ON CONFLICT (business_date) DO UPDATE SET counter = counter + 1",
            params![date.to_string()],
        )?;
        let counter: u32 = tx.query_row(
            "SELECT counter FROM application_counter WHERE business_date = ?1",
            params![date.to_string()],
            |row| row.get(0),
        )?;
        tx.commit()?;
        Ok(counter)
    }
}
