//! The sync status snapshot, persisted in the database so that another process (`kioskctl sync
//! status`, the ops console's health event) reads the same facts the uplink acts on.

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::{DB_FILE, Store, StoreError, now_ms, open_connection};

/// Events waiting in one stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamBacklog {
    /// Stream name.
    pub stream: String,
    /// Events waiting.
    pub events: u64,
    /// When the oldest of them was committed.
    pub oldest_created_at: Option<DateTime<Utc>>,
}

/// What the uplink has done and what is still waiting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// Backlog per stream (streams with nothing waiting are left out).
    pub backlog: Vec<StreamBacklog>,
    /// All events waiting.
    pub total_backlog: u64,
    /// Age of the oldest waiting event, in seconds.
    pub oldest_pending_age_secs: Option<u64>,
    /// Last time the uplink tried to reach central.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// Last time central acknowledged a batch (or confirmed nothing was waiting).
    pub last_success_at: Option<DateTime<Utc>>,
    /// Last failure, as a technician should read it.
    pub last_error: Option<String>,
    /// When that failure happened.
    pub last_error_at: Option<DateTime<Utc>>,
    /// Telemetry events dropped under the disk budget.
    pub dropped_telemetry: u64,
    /// Telemetry events removed by downsampling under the disk budget.
    pub downsampled_telemetry: u64,
    /// Central refused the kiosk as revoked by ops, with their reason: nothing is sent until
    /// it is re-provisioned, and journeys that create records are not offered.
    #[serde(default)]
    pub revoked: Option<String>,
    /// False near the disk limit: journeys that create records are not offered.
    pub accepting_records: bool,
    /// Bytes in use at the last budget check.
    pub used_bytes: u64,
    /// The budget.
    pub budget_bytes: u64,
    /// Free bytes on the data filesystem at the last budget check.
    #[serde(default)]
    pub free_bytes: Option<u64>,
    /// The reserve of free space under which journeys that create records stop.
    #[serde(default)]
    pub min_free_bytes: u64,
    /// Events in the quarantine (`kioskctl sync status` lists them).
    #[serde(default)]
    pub quarantined: u64,
}

/// Reads the status of the store in `dir` without its key, read-only, from any process.
pub fn read_status(dir: &Path) -> Result<SyncStatus, StoreError> {
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
    let conn = open_connection(&path, true)?;
    status_from(&conn)
}

impl Store {
    /// The current status snapshot.
    pub fn status(&self) -> Result<SyncStatus, StoreError> {
        let status = status_from(&self.conn())?;
        Ok(SyncStatus {
            // A store not yet migrated (read by an older kioskctl) has no cache table.
            revoked: self.revocation().unwrap_or(None),
            ..status
        })
    }

    /// Central's word that ops revoked this kiosk, as it said it; `None` unless the last
    /// answer was a revocation.
    pub fn revocation(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .cache_get(REVOKED_KEY)?
            .and_then(|(v, _)| v.as_str().map(str::to_owned)))
    }

    /// Keeps central's revocation message, or forgets it once central accepts the kiosk
    /// again (it was re-provisioned).
    pub fn note_revocation(&self, message: Option<&str>) -> Result<(), StoreError> {
        match message {
            Some(m) => self.cache_put(REVOKED_KEY, &serde_json::Value::from(m)),
            None => self.cache_remove(REVOKED_KEY),
        }
    }

    /// Records an attempt to reach central and its result; central answering at all means
    /// the kiosk is no longer revoked.
    pub fn note_sync_result(&self, result: Result<(), &str>) -> Result<(), StoreError> {
        let now = now_ms();
        let conn = self.conn();
        match result {
            Ok(()) => {
                conn.execute("DELETE FROM central_cache WHERE key = ?1", [REVOKED_KEY])?;
                conn.execute(
                    "UPDATE sync_state SET last_attempt_ms = ?1, last_success_ms = ?1 WHERE id = 1",
                    [now],
                )?
            }
            Err(message) => conn.execute(
                "UPDATE sync_state SET last_attempt_ms = ?1, last_error_ms = ?1, last_error = ?2
                 WHERE id = 1",
                rusqlite::params![now, message],
            )?,
        };
        Ok(())
    }
}

/// The cache key of central's revocation message.
const REVOKED_KEY: &str = "revoked";

fn status_from(conn: &Connection) -> Result<SyncStatus, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT stream, COUNT(*), MIN(created_ms) FROM outbox GROUP BY stream
         ORDER BY MIN(priority)",
    )?;
    let backlog: Vec<StreamBacklog> = stmt
        .query_map([], |row| {
            Ok(StreamBacklog {
                stream: row.get(0)?,
                events: row.get::<_, i64>(1)? as u64,
                oldest_created_at: row.get::<_, Option<i64>>(2)?.and_then(to_time),
            })
        })?
        .collect::<Result<_, _>>()?;
    let oldest = backlog.iter().filter_map(|b| b.oldest_created_at).min();
    let total_backlog = backlog.iter().map(|b| b.events).sum();
    // A store of an older release has no quarantine and no free-space columns yet.
    let current = super::quarantine::has_quarantine(conn)?;
    let sql = if current {
        "SELECT last_attempt_ms, last_success_ms, last_error, last_error_ms, dropped_telemetry,
                downsampled_telemetry, accepting_records, used_bytes, budget_bytes,
                free_bytes, min_free_bytes, (SELECT COUNT(*) FROM quarantine)
         FROM sync_state WHERE id = 1"
    } else {
        "SELECT last_attempt_ms, last_success_ms, last_error, last_error_ms, dropped_telemetry,
                downsampled_telemetry, accepting_records, used_bytes, budget_bytes,
                NULL, 0, 0
         FROM sync_state WHERE id = 1"
    };
    let state = conn.query_row(sql, [], |row| {
        Ok(SyncStatus {
            backlog: Vec::new(),
            total_backlog: 0,
            oldest_pending_age_secs: None,
            last_attempt_at: row.get::<_, Option<i64>>(0)?.and_then(to_time),
            last_success_at: row.get::<_, Option<i64>>(1)?.and_then(to_time),
            last_error: row.get(2)?,
            last_error_at: row.get::<_, Option<i64>>(3)?.and_then(to_time),
            dropped_telemetry: row.get::<_, i64>(4)? as u64,
            downsampled_telemetry: row.get::<_, i64>(5)? as u64,
            accepting_records: row.get(6)?,
            used_bytes: row.get::<_, i64>(7)? as u64,
            budget_bytes: row.get::<_, i64>(8)? as u64,
            free_bytes: row.get::<_, Option<i64>>(9)?.map(|f| f.max(0) as u64),
            min_free_bytes: row.get::<_, i64>(10)?.max(0) as u64,
            quarantined: row.get::<_, i64>(11)?.max(0) as u64,
            revoked: None,
        })
    })?;
    Ok(SyncStatus {
        backlog,
        total_backlog,
        oldest_pending_age_secs: oldest.map(|t| (Utc::now() - t).num_seconds().max(0) as u64),
        ..state
    })
}

fn to_time(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}
