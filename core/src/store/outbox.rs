//! The outbox: events waiting for central (docs/architecture.md, "Nothing acknowledged is
//! dropped"), and the journeys' local records.

use kiosk_api::{EventOutcome, Stream, routes};
use rusqlite::{OptionalExtension, Transaction, params};
use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

use super::spool::AttachmentId;
use super::{Store, StoreError, now_ms};

/// How the kiosk treats each stream of the wire contract. The stream fixes an event's priority,
/// so that events of one stream are always sent in sequence order (see [`Store::next_batch`]).
pub trait StreamPolicy: Copy {
    /// Send priority, 0 most urgent.
    fn priority(self) -> u8;
    /// Whether the disk budget may downsample and drop this stream's events.
    fn is_droppable(self) -> bool;
    /// Whether a commit of this stream holds something a citizen was told is done, and so
    /// must reach the disk before the call returns (`synchronous=FULL`).
    fn is_citizen_data(self) -> bool;
}

impl StreamPolicy for Stream {
    fn priority(self) -> u8 {
        match self {
            Stream::Help => 0,
            Stream::Tickets => 1,
            Stream::Records => 2,
            Stream::Ratings => 3,
            Stream::Health => 4,
            Stream::Telemetry => 5,
        }
    }

    fn is_droppable(self) -> bool {
        self == Stream::Telemetry
    }

    fn is_citizen_data(self) -> bool {
        !matches!(self, Stream::Health | Stream::Telemetry)
    }
}

/// An event to queue for central.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Its stream.
    pub stream: Stream,
    /// What happened, e.g. `ticket.issued`.
    pub kind: String,
    /// The body sent to central.
    pub payload: serde_json::Value,
    /// Whether the payload holds personal data (encrypted at rest, purged once acknowledged).
    pub personal: bool,
    /// Spooled attachments the event references; uploaded before the event is sent.
    pub attachments: Vec<AttachmentId>,
}

/// A journey's record: kept locally (for receipts and "where is my case") and sent to central
/// as one event, written together in one transaction.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// Its stream (records, tickets, ratings, help).
    pub stream: Stream,
    /// What it is, e.g. `application.submitted`.
    pub kind: String,
    /// What may stay on the kiosk after central has it (ticket number, matter code): no
    /// personal data here.
    pub summary: serde_json::Value,
    /// Personal data (card fields, form answers), encrypted at rest and purged on ack.
    pub personal: Option<serde_json::Value>,
    /// Spooled attachments (scans).
    pub attachments: Vec<AttachmentId>,
}

/// What a durable commit assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// Per-kiosk sequence number, 1, 2, 3, ... never reused.
    pub seq: u64,
    /// The idempotency key (UUIDv7).
    pub event_id: Uuid,
}

/// An outbox row ready to send, decrypted.
#[derive(Debug, Clone)]
pub struct PendingEvent {
    /// Per-kiosk sequence number.
    pub seq: u64,
    /// Idempotency key.
    pub event_id: Uuid,
    /// Stream name.
    pub stream: Stream,
    /// Event kind.
    pub kind: String,
    /// Send priority.
    pub priority: u8,
    /// RFC 3339 time of the event.
    pub occurred_at: String,
    /// The body.
    pub payload: serde_json::Value,
    /// Attachments to upload first.
    pub attachments: Vec<AttachmentId>,
    /// Earlier attempts that central rejected.
    pub attempts: u32,
}

/// What [`Store::acknowledge`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AckSummary {
    /// Rows deleted because central has them.
    pub acknowledged: usize,
    /// Rows kept and deferred because central refused them for now (a retryable reason).
    pub rejected: usize,
    /// Rows moved to the quarantine because central refused them for good.
    pub quarantined: usize,
}

const MAX_REJECT_BACKOFF_MS: i64 = 3_600_000;

/// Overwrites every string in `value` in place: the citizen's answers and card fields leave
/// memory once they are sealed, not whenever the allocator reuses the pages. (Object keys are
/// form field names, not personal; numbers carry nothing that needs it.)
pub fn wipe_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => text.zeroize(),
        serde_json::Value::Array(items) => items.iter_mut().for_each(wipe_json),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(wipe_json),
        _ => {}
    }
}

impl Store {
    /// Durably queues one event. Returns `None` only for a droppable stream (telemetry) when
    /// the disk budget has no room left for it even after eviction.
    pub fn enqueue(&self, mut event: NewEvent) -> Result<Option<Committed>, StoreError> {
        let payload = Zeroizing::new(serde_json::to_vec(&event.payload)?);
        if event.personal {
            // Sealed below; no plain copy of the citizen's data outlives this call.
            wipe_json(&mut event.payload);
        }
        if event.stream.is_droppable() && !self.make_room_for(payload.len() as u64)? {
            self.count_dropped_telemetry(1)?;
            return Ok(None);
        }
        let committed = {
            let mut conn = self.conn();
            set_synchronous(&conn, event.stream)?;
            let tx = conn.transaction()?;
            let committed = self.insert_event(
                &tx,
                event.stream,
                &event.kind,
                &payload,
                event.personal,
                &event.attachments,
            )?;
            tx.commit()?;
            committed
        };
        self.after_commit(payload.len() as u64);
        Ok(Some(committed))
    }

    /// Durably writes a journey's record and its outbox row in one transaction
    /// (`synchronous=FULL`). When this returns `Ok`, the citizen may be told it is done.
    pub fn commit_record(&self, mut record: NewRecord) -> Result<Committed, StoreError> {
        let payload = serde_json::json!({
            "summary": record.summary,
            "personal": record.personal,
        });
        let payload = serde_json::to_vec(&payload)?;
        let personal = record.personal.is_some();
        let committed = {
            let mut conn = self.conn();
            set_synchronous(&conn, Stream::Records)?;
            let tx = conn.transaction()?;
            let committed = self.insert_event(
                &tx,
                record.stream,
                &record.kind,
                &payload,
                personal,
                &record.attachments,
            )?;
            let sealed_personal = match &mut record.personal {
                Some(p) => {
                    let plain = Zeroizing::new(serde_json::to_vec(p)?);
                    wipe_json(p);
                    Some(
                        self.inner
                            .key
                            .seal(&record_context(committed.event_id), &plain)?,
                    )
                }
                None => None,
            };
            tx.execute(
                "INSERT INTO records (id, kind, stream, created_ms, summary, personal, event_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    committed.event_id.as_bytes().as_slice(),
                    record.kind,
                    record.stream.as_str(),
                    now_ms(),
                    record.summary.to_string(),
                    sealed_personal,
                    committed.seq as i64,
                ],
            )?;
            tx.commit()?;
            committed
        };
        self.after_commit(payload.len() as u64);
        Ok(committed)
    }

    fn insert_event(
        &self,
        tx: &Transaction<'_>,
        stream: Stream,
        kind: &str,
        payload: &[u8],
        personal: bool,
        attachments: &[AttachmentId],
    ) -> Result<Committed, StoreError> {
        let event_id = Uuid::now_v7();
        let stored_payload = if personal {
            self.inner.key.seal(&outbox_context(event_id), payload)?
        } else {
            payload.to_vec()
        };
        let now = chrono::Utc::now();
        tx.execute(
            "INSERT INTO outbox (event_id, stream, kind, priority, occurred_at, created_ms,
                                 personal, payload)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                event_id.as_bytes().as_slice(),
                stream.as_str(),
                kind,
                stream.priority(),
                now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                now.timestamp_millis(),
                personal,
                stored_payload,
            ],
        )?;
        let seq = tx.last_insert_rowid();
        for (position, attachment) in attachments.iter().enumerate() {
            let known: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM spool WHERE sha256 = ?1",
                    [attachment.as_str()],
                    |row| row.get(0),
                )
                .optional()?;
            if known.is_none() {
                return Err(StoreError::UnknownAttachment(attachment.to_string()));
            }
            tx.execute(
                "INSERT OR IGNORE INTO outbox_attachments (seq, sha256, position)
                 VALUES (?1, ?2, ?3)",
                params![seq, attachment.as_str(), position as i64],
            )?;
        }
        Ok(Committed {
            seq: seq as u64,
            event_id,
        })
    }

    /// After a commit: wake the uplink and check the budget. The commit stands whatever the
    /// check meets (a full disk refusing the status update): the caller must hear `Ok`, or
    /// a citizen told "failed" would make the same record again.
    fn after_commit(&self, added: u64) {
        self.inner.changed.notify_one();
        if let Err(e) = self.note_growth(added) {
            tracing::warn!(error = %e, "disk budget check after a commit failed");
        }
    }

    /// The next events to send: due now, most urgent stream first, then by sequence number,
    /// at most `max_events` and about `max_bytes` of payload (always at least one event).
    ///
    /// A row that cannot be read (it does not decrypt, is not JSON, names an unknown
    /// stream) or that is larger than any batch can be is moved to the quarantine on the
    /// way, and the batch is made of the others: one bad row never stops the outbox.
    pub fn next_batch(
        &self,
        max_events: usize,
        max_bytes: usize,
    ) -> Result<Vec<PendingEvent>, StoreError> {
        loop {
            let (batch, bad) = self.read_batch(max_events, max_bytes)?;
            if bad.is_empty() {
                return Ok(batch);
            }
            {
                let mut conn = self.conn();
                let tx = conn.transaction()?;
                for (seq, reason, detail) in &bad {
                    super::quarantine::move_to_quarantine(&tx, *seq, reason, detail)?;
                }
                tx.commit()?;
            }
            for (seq, reason, detail) in &bad {
                tracing::warn!(seq, reason, detail, "outbox row moved to quarantine");
            }
            if !batch.is_empty() {
                return Ok(batch);
            }
            // Every row read was bad: read again, the next ones may be good.
        }
    }

    /// One pass of [`Store::next_batch`]: the readable events, and the rows to quarantine
    /// as `(seq, reason, detail)`.
    #[allow(clippy::type_complexity)]
    fn read_batch(
        &self,
        max_events: usize,
        max_bytes: usize,
    ) -> Result<(Vec<PendingEvent>, Vec<(u64, &'static str, String)>), StoreError> {
        use super::quarantine::quarantine_reason::{TOO_LARGE, UNREADABLE};
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT seq, event_id, stream, kind, priority, occurred_at, personal, payload,
                    attempts
             FROM outbox WHERE next_attempt_ms <= ?1
             ORDER BY priority, seq LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![now_ms(), max_events as i64])?;
        let mut batch = Vec::new();
        let mut bad = Vec::new();
        let mut bytes = 0usize;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let seq = seq as u64;
            let id_bytes: Vec<u8> = row.get(1)?;
            let Ok(event_id) = Uuid::from_slice(&id_bytes) else {
                bad.push((seq, UNREADABLE, "malformed event id".to_owned()));
                continue;
            };
            let stream_name: String = row.get(2)?;
            let Some(stream) = Stream::from_name(&stream_name) else {
                bad.push((seq, UNREADABLE, format!("unknown stream {stream_name:?}")));
                continue;
            };
            let occurred_at: String = row.get(5)?;
            if chrono::DateTime::parse_from_rfc3339(&occurred_at).is_err() {
                bad.push((seq, UNREADABLE, format!("bad occurred_at {occurred_at:?}")));
                continue;
            }
            let personal: bool = row.get(6)?;
            let stored: Vec<u8> = row.get(7)?;
            let plain = if personal {
                match self.inner.key.open(&outbox_context(event_id), &stored) {
                    Ok(plain) => plain,
                    Err(_) => {
                        bad.push((
                            seq,
                            UNREADABLE,
                            format!(
                                "sealed payload of {} bytes does not decrypt (damaged)",
                                stored.len()
                            ),
                        ));
                        continue;
                    }
                }
            } else {
                stored
            };
            if plain.len() > routes::MAX_BATCH_BYTES {
                bad.push((
                    seq,
                    TOO_LARGE,
                    format!(
                        "payload of {} bytes is over the batch limit of {} bytes",
                        plain.len(),
                        routes::MAX_BATCH_BYTES
                    ),
                ));
                continue;
            }
            let payload = match serde_json::from_slice(&plain) {
                Ok(payload) => payload,
                Err(e) => {
                    // serde_json names line and column only, never the content.
                    bad.push((seq, UNREADABLE, format!("payload is not JSON: {e}")));
                    continue;
                }
            };
            if !batch.is_empty() && bytes.saturating_add(plain.len()) > max_bytes {
                break;
            }
            bytes += plain.len();
            batch.push(PendingEvent {
                seq,
                event_id,
                stream,
                kind: row.get(3)?,
                priority: row.get(4)?,
                occurred_at,
                payload,
                attachments: Vec::new(),
                attempts: row.get(8)?,
            });
        }
        drop(rows);
        drop(stmt);
        let mut stmt = conn.prepare_cached(
            "SELECT sha256 FROM outbox_attachments WHERE seq = ?1 ORDER BY position",
        )?;
        for event in &mut batch {
            event.attachments = stmt
                .query_map([event.seq as i64], |row| row.get::<_, String>(0))?
                .map(|sha| sha.map(AttachmentId::from_trusted))
                .collect::<Result<_, _>>()?;
        }
        Ok((batch, bad))
    }

    /// Applies central's per-event answers in one transaction: acknowledged rows are deleted
    /// with the personal data of their records and their no longer needed spool files;
    /// rows refused for a retryable reason stay and are deferred with a growing delay; rows
    /// refused for good go to the quarantine with central's reason and detail.
    pub fn acknowledge(&self, results: &[(Uuid, EventOutcome)]) -> Result<AckSummary, StoreError> {
        let mut summary = AckSummary::default();
        let mut orphaned = Vec::new();
        {
            let mut conn = self.conn();
            // An acknowledgement lost to a power cut only makes the kiosk resend; central
            // answers `duplicate`. No need to wait for the disk here.
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            let tx = conn.transaction()?;
            let now = now_ms();
            for (event_id, outcome) in results {
                let id = event_id.as_bytes().as_slice();
                let seq: Option<i64> = tx
                    .prepare_cached("SELECT seq FROM outbox WHERE event_id = ?1")?
                    .query_row([id], |row| row.get(0))
                    .optional()?;
                let Some(seq) = seq else { continue };
                match outcome {
                    EventOutcome::Stored | EventOutcome::Duplicate => {
                        let shas: Vec<String> = tx
                            .prepare_cached("SELECT sha256 FROM outbox_attachments WHERE seq = ?1")?
                            .query_map([seq], |row| row.get(0))?
                            .collect::<Result<_, _>>()?;
                        // Cached statements: a 500-event acknowledgement runs these 500 times.
                        tx.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?
                            .execute([seq])?;
                        tx.prepare_cached(
                            "UPDATE records SET personal = NULL, acknowledged_ms = ?2
                             WHERE event_seq = ?1",
                        )?
                        .execute(params![seq, now])?;
                        for sha in shas {
                            let still_used: Option<i64> = tx
                                .query_row(
                                    "SELECT 1 FROM outbox_attachments WHERE sha256 = ?1
                                     UNION ALL
                                     SELECT 1 FROM quarantine_attachments WHERE sha256 = ?1
                                     LIMIT 1",
                                    [&sha],
                                    |row| row.get(0),
                                )
                                .optional()?;
                            if still_used.is_none() {
                                tx.execute("DELETE FROM spool WHERE sha256 = ?1", [&sha])?;
                                orphaned.push(sha);
                            }
                        }
                        summary.acknowledged += 1;
                    }
                    EventOutcome::Rejected { reason, detail }
                        if !kiosk_api::reject_reason::is_retryable(reason) =>
                    {
                        tx.execute(
                            "UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?1",
                            [seq],
                        )?;
                        let detail = detail.as_deref().unwrap_or("");
                        super::quarantine::move_to_quarantine(&tx, seq as u64, reason, detail)?;
                        tracing::warn!(
                            seq,
                            reason,
                            detail,
                            "central refused an event for good; quarantined"
                        );
                        summary.quarantined += 1;
                    }
                    EventOutcome::Rejected { reason, .. } => {
                        let attempts: i64 = tx.query_row(
                            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2
                             WHERE seq = ?1 RETURNING attempts",
                            params![seq, reason],
                            |row| row.get(0),
                        )?;
                        let delay = (1000i64 << attempts.clamp(0, 20)).min(MAX_REJECT_BACKOFF_MS);
                        tx.execute(
                            "UPDATE outbox SET next_attempt_ms = ?2 WHERE seq = ?1",
                            params![seq, now + delay],
                        )?;
                        summary.rejected += 1;
                    }
                }
            }
            tx.commit()?;
        }
        self.remove_spool_files(&orphaned);
        Ok(summary)
    }

    /// Number of events waiting to be sent.
    pub fn backlog(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM outbox", [], |row| row.get(0))?;
        Ok(n as u64)
    }

    /// The highest sequence number ever assigned (0 before the first event).
    pub fn last_seq(&self) -> Result<u64, StoreError> {
        let n: Option<i64> = self
            .conn()
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'",
                [],
                |row| row.get(0),
            )
            .optional()?;
        Ok(n.unwrap_or(0) as u64)
    }

    /// A journey's record: its summary, and its personal data while central does not have it
    /// yet (`None` after acknowledgement).
    pub fn record(
        &self,
        id: Uuid,
    ) -> Result<Option<(serde_json::Value, Option<serde_json::Value>)>, StoreError> {
        let row: Option<(String, Option<Vec<u8>>)> = self
            .conn()
            .query_row(
                "SELECT summary, personal FROM records WHERE id = ?1",
                [id.as_bytes().as_slice()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let Some((summary, sealed)) = row else {
            return Ok(None);
        };
        let personal = match sealed {
            Some(sealed) => Some(serde_json::from_slice(
                &self.inner.key.open(&record_context(id), &sealed)?,
            )?),
            None => None,
        };
        Ok(Some((serde_json::from_str(&summary)?, personal)))
    }
}

fn set_synchronous(conn: &rusqlite::Connection, stream: Stream) -> Result<(), StoreError> {
    let level = if stream.is_citizen_data() {
        "FULL"
    } else {
        "NORMAL"
    };
    conn.pragma_update(None, "synchronous", level)?;
    Ok(())
}

fn outbox_context(event_id: Uuid) -> String {
    format!("outbox:{event_id}")
}

fn record_context(id: Uuid) -> String {
    format!("record:{id}")
}

#[cfg(test)]
mod wipe_tests {
    use super::wipe_json;

    #[test]
    fn every_string_of_a_personal_payload_is_overwritten_in_place() {
        let mut form = serde_json::json!({
            "phone": "13800138000",
            "bank": {"account": "6222020200112233445", "branch": ["东城支行"]},
            "pages": 2,
        });
        let stored_at = form["phone"].as_str().unwrap_or_default().as_ptr();
        wipe_json(&mut form);
        assert_eq!(form["phone"], "");
        assert_eq!(form["bank"]["account"], "");
        assert_eq!(form["bank"]["branch"][0], "");
        assert_eq!(form["pages"], 2);
        // zeroize zeroes the String's whole allocation and keeps it: the bytes the number
        // was stored in are overwritten, not handed back to the allocator as they were.
        let phone = form["phone"].as_str().unwrap_or_default();
        assert_eq!(phone.as_ptr(), stored_at, "wiped in place, not replaced");
    }
}
