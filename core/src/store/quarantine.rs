//! The quarantine: outbox events that cannot be sent as they are, kept whole and out of the
//! way so that one bad event never stops the others.
//!
//! An event goes here when its row cannot be read (`unreadable`: it does not decrypt, or is
//! not JSON), when a spool file it names is missing or damaged (`attachment_lost`), when it
//! is larger than any batch can be (`too_large`), or when central refuses it for good (a
//! reason that is not [`kiosk_api::reject_reason::is_retryable`], kept with central's
//! detail). The row is moved as it was stored (a personal payload still sealed, same seq,
//! same event id), with its attachment references, so that a retry puts back exactly the
//! event central may already have seen, and an export carries nothing in the clear.
//!
//! `kioskctl` works on the quarantine from its own process while the app runs, so the
//! functions ending in `_in` open the database themselves: no migration, no spool sweep,
//! no key (nothing here is decrypted).

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, TimeZone as _, Utc};
use rusqlite::{Connection, OptionalExtension as _, Transaction, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{DB_FILE, SPOOL_DIR, Store, StoreError, now_ms, open_connection};

/// Reasons the kiosk itself puts an event in quarantine; central's refusals keep central's
/// [`kiosk_api::reject_reason`].
pub mod quarantine_reason {
    /// The stored row does not decrypt or does not parse.
    pub const UNREADABLE: &str = "unreadable";
    /// A spool file the event names is missing or does not hash to its name.
    pub const ATTACHMENT_LOST: &str = "attachment_lost";
    /// The event alone is larger than a batch central takes.
    pub const TOO_LARGE: &str = "too_large";
}

/// One quarantined event, as a technician sees it (no payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineEntry {
    /// Its outbox sequence number (kept; a retry sends it under the same one).
    pub seq: u64,
    /// Its event id, if the stored one is a well-formed UUID.
    pub event_id: Option<Uuid>,
    /// Stream name as stored.
    pub stream: String,
    /// Event kind.
    pub kind: String,
    /// Why it is here.
    pub reason: String,
    /// What exactly (never personal data).
    pub detail: String,
    /// How often central refused it before.
    pub attempts: u32,
    /// When it was quarantined.
    pub since: DateTime<Utc>,
    /// When it happened (as stored).
    pub occurred_at: String,
    /// Whether the stored payload is sealed personal data.
    pub personal: bool,
    /// Size of the stored payload.
    pub payload_bytes: u64,
    /// sha256 of the spooled attachments it names.
    pub attachments: Vec<String>,
}

/// One attachment in a [`QuarantineExport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedAttachment {
    /// Its sha256 (of the plaintext).
    pub sha256: String,
    /// The spool file as stored (sealed under the store key with associated data
    /// `spool:<sha256>`), standard base64; `None` when the file is gone.
    pub sealed_base64: Option<String>,
}

/// Everything the kiosk holds of one quarantined event, for ops to examine elsewhere. The
/// payload is the stored bytes: sealed (XChaCha20-Poly1305 under the kiosk's store key,
/// nonce first, associated data `outbox:<event_id>`) when `personal`, plain JSON otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineExport {
    /// The metadata.
    #[serde(flatten)]
    pub entry: QuarantineEntry,
    /// Priority it had in the outbox.
    pub priority: u8,
    /// When it was committed (ms since the epoch).
    pub created_ms: i64,
    /// The stored event id bytes, hex (in case they are not a UUID).
    pub event_id_hex: String,
    /// The stored payload, standard base64.
    pub payload_base64: String,
    /// The attachments.
    pub attachment_files: Vec<ExportedAttachment>,
    /// When this export was made.
    pub exported_at: DateTime<Utc>,
}

/// Which quarantined events to put back in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryWhich {
    /// The one with this seq.
    One(u64),
    /// Every one.
    All,
}

impl Store {
    /// Every quarantined event, oldest first.
    pub fn quarantine(&self) -> Result<Vec<QuarantineEntry>, StoreError> {
        entries(&self.conn(), None)
    }

    /// How many events are in quarantine.
    pub fn quarantined(&self) -> Result<u64, StoreError> {
        count(&self.conn())
    }

    /// The oldest quarantined events, at most `HealthReport::QUARANTINE_LISTED`, for the
    /// health report.
    pub fn quarantine_summary(&self) -> Result<Vec<kiosk_api::QuarantinedEvent>, StoreError> {
        let listed = entries(
            &self.conn(),
            Some(kiosk_api::HealthReport::QUARANTINE_LISTED),
        )?;
        Ok(listed
            .into_iter()
            .map(|e| kiosk_api::QuarantinedEvent {
                seq: e.seq,
                kind: e.kind,
                reason: e.reason,
                detail: e.detail,
                since: e.since,
            })
            .collect())
    }

    /// Moves the outbox row `seq` into quarantine with `reason` and `detail`. Returns false
    /// when no such row waits (already acknowledged or quarantined).
    pub fn quarantine_event(
        &self,
        seq: u64,
        reason: &str,
        detail: &str,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let moved = move_to_quarantine(&tx, seq, reason, detail)?;
        tx.commit()?;
        if moved {
            tracing::warn!(seq, reason, detail, "event moved to quarantine");
        }
        Ok(moved)
    }

    /// Puts quarantined events back in the outbox under their own seq and event id, due at
    /// once. Returns the seqs put back.
    pub fn retry_quarantined(&self, which: RetryWhich) -> Result<Vec<u64>, StoreError> {
        let seqs = {
            let mut conn = self.conn();
            retry(&mut conn, which)?
        };
        if !seqs.is_empty() {
            self.inner.changed.notify_one();
        }
        Ok(seqs)
    }

    /// Everything held of the quarantined event `seq`, still sealed; `None` if there is none.
    pub fn export_quarantined(&self, seq: u64) -> Result<Option<QuarantineExport>, StoreError> {
        export(&self.conn(), &self.inner.dir, seq)
    }
}

/// The quarantine of the store in `dir`, read-only, from any process, without the key.
pub fn read_quarantine(dir: &Path) -> Result<Vec<QuarantineEntry>, StoreError> {
    let conn = open_existing(dir, true)?;
    entries(&conn, None)
}

/// [`Store::retry_quarantined`] on the store in `dir`, from another process beside the
/// running app (its uplink sends them at its next look at the outbox).
pub fn retry_quarantined_in(dir: &Path, which: RetryWhich) -> Result<Vec<u64>, StoreError> {
    let mut conn = open_existing(dir, false)?;
    retry(&mut conn, which)
}

/// [`Store::export_quarantined`] on the store in `dir`, read-only, without the key.
pub fn export_quarantined_in(dir: &Path, seq: u64) -> Result<Option<QuarantineExport>, StoreError> {
    let conn = open_existing(dir, true)?;
    export(&conn, dir, seq)
}

fn open_existing(dir: &Path, read_only: bool) -> Result<Connection, StoreError> {
    let path = dir.join(DB_FILE);
    if !path.exists() {
        return Err(StoreError::Io {
            path,
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no kiosk store here; pass --data with the kiosk's data folder",
            ),
        });
    }
    let conn = open_connection(&path, read_only)?;
    if !has_quarantine(&conn)? {
        return Err(StoreError::Io {
            path,
            source: std::io::Error::other(
                "this store has no quarantine yet (written by an older release); start the \
                 kiosk app of this release once so it upgrades the store",
            ),
        });
    }
    Ok(conn)
}

pub(super) fn has_quarantine(conn: &Connection) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'quarantine'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub(super) fn count(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM quarantine", [], |row| row.get(0))?;
    Ok(n as u64)
}

/// Moves one outbox row, as stored, with its attachment references, into quarantine.
pub(super) fn move_to_quarantine(
    tx: &Transaction<'_>,
    seq: u64,
    reason: &str,
    detail: &str,
) -> Result<bool, StoreError> {
    let seq = seq as i64;
    let moved = tx.execute(
        "INSERT INTO quarantine (seq, event_id, stream, kind, priority, occurred_at, created_ms,
                                 personal, payload, attempts, reason, detail, since_ms)
         SELECT seq, event_id, stream, kind, priority, occurred_at, created_ms, personal,
                payload, attempts, ?2, ?3, ?4
         FROM outbox WHERE seq = ?1",
        params![seq, reason, detail, now_ms()],
    )?;
    if moved == 0 {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO quarantine_attachments (seq, sha256, position)
         SELECT seq, sha256, position FROM outbox_attachments WHERE seq = ?1",
        [seq],
    )?;
    // outbox_attachments rows go with it (ON DELETE CASCADE).
    tx.execute("DELETE FROM outbox WHERE seq = ?1", [seq])?;
    Ok(true)
}

fn retry(conn: &mut Connection, which: RetryWhich) -> Result<Vec<u64>, StoreError> {
    let tx = conn.transaction()?;
    let seqs: Vec<i64> = match which {
        RetryWhich::One(seq) => tx
            .query_row(
                "SELECT seq FROM quarantine WHERE seq = ?1",
                [seq as i64],
                |row| row.get(0),
            )
            .optional()?
            .into_iter()
            .collect(),
        RetryWhich::All => tx
            .prepare("SELECT seq FROM quarantine ORDER BY seq")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?,
    };
    for seq in &seqs {
        // Due at once, with a fresh count: whoever retries has dealt with the cause.
        tx.execute(
            "INSERT INTO outbox (seq, event_id, stream, kind, priority, occurred_at, created_ms,
                                 personal, payload, attempts, next_attempt_ms, last_error)
             SELECT seq, event_id, stream, kind, priority, occurred_at, created_ms, personal,
                    payload, 0, 0, NULL
             FROM quarantine WHERE seq = ?1",
            [seq],
        )?;
        tx.execute(
            "INSERT INTO outbox_attachments (seq, sha256, position)
             SELECT seq, sha256, position FROM quarantine_attachments WHERE seq = ?1",
            [seq],
        )?;
        tx.execute("DELETE FROM quarantine WHERE seq = ?1", [seq])?;
    }
    tx.commit()?;
    Ok(seqs.into_iter().map(|s| s as u64).collect())
}

fn entries(conn: &Connection, limit: Option<usize>) -> Result<Vec<QuarantineEntry>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT seq, event_id, stream, kind, reason, detail, attempts, since_ms, occurred_at,
                personal, length(payload)
         FROM quarantine ORDER BY since_ms, seq LIMIT ?1",
    )?;
    let limit = limit.map_or(-1, |n| n as i64);
    let mut list: Vec<QuarantineEntry> = stmt
        .query_map([limit], |row| {
            let id: Vec<u8> = row.get(1)?;
            Ok(QuarantineEntry {
                seq: row.get::<_, i64>(0)? as u64,
                event_id: Uuid::from_slice(&id).ok(),
                stream: row.get(2)?,
                kind: row.get(3)?,
                reason: row.get(4)?,
                detail: row.get(5)?,
                attempts: row.get(6)?,
                since: to_time(row.get(7)?),
                occurred_at: row.get(8)?,
                personal: row.get(9)?,
                payload_bytes: row.get::<_, i64>(10)?.max(0) as u64,
                attachments: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut stmt =
        conn.prepare("SELECT sha256 FROM quarantine_attachments WHERE seq = ?1 ORDER BY position")?;
    for entry in &mut list {
        entry.attachments = stmt
            .query_map([entry.seq as i64], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
    }
    Ok(list)
}

fn export(conn: &Connection, dir: &Path, seq: u64) -> Result<Option<QuarantineExport>, StoreError> {
    let Some(entry) = entries(conn, None)?.into_iter().find(|e| e.seq == seq) else {
        return Ok(None);
    };
    let (id, priority, created_ms, payload): (Vec<u8>, u8, i64, Vec<u8>) = conn.query_row(
        "SELECT event_id, priority, created_ms, payload FROM quarantine WHERE seq = ?1",
        [seq as i64],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
    )?;
    let mut files = Vec::new();
    for sha in &entry.attachments {
        // The name comes from our own table, but it becomes a path: only a hex digest may.
        let sealed = if super::AttachmentId::parse(sha).is_some() {
            match std::fs::read(dir.join(SPOOL_DIR).join(sha)) {
                Ok(bytes) => Some(B64.encode(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(source) => {
                    return Err(StoreError::Io {
                        path: dir.join(SPOOL_DIR).join(sha),
                        source,
                    });
                }
            }
        } else {
            None
        };
        files.push(ExportedAttachment {
            sha256: sha.clone(),
            sealed_base64: sealed,
        });
    }
    Ok(Some(QuarantineExport {
        entry,
        priority,
        created_ms,
        event_id_hex: hex::encode(id),
        payload_base64: B64.encode(payload),
        attachment_files: files,
        exported_at: Utc::now(),
    }))
}

fn to_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}
