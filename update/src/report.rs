//! Getting every outcome to central without losing it.
//!
//! An outcome is first written durably to `<root>/reports/<event id>.json` (the agent's own
//! small outbox), then moved into the kiosk's outbox (`<data_dir>/kiosk.db`), from where the
//! running app's uplink sends it with the kiosk's next sequence number. The file is removed
//! only once the row is committed; the row keeps the report's event id, so a crash between
//! the two only leads to a second attempt that finds the row there already.
//!
//! Why not `kiosk_core::store::Store::open` from this second process: SQLite itself is safe
//! to share (WAL, a busy timeout, `seq` assigned inside the writer's transaction), but
//! `Store::open` is not made for a second process beside the running app. It sweeps the
//! attachment spool, deleting files not yet entered in the `spool` table, which races the
//! app's own `spool_attachment` between its rename and its insert (a citizen's scan lost); and
//! it migrates the schema, so an agent from another build would upgrade (or refuse) the
//! database under the running app. So the agent inserts the one outbox row itself, in one
//! transaction and with `synchronous=FULL`, after checking that the outbox has the columns
//! it writes; it never creates, migrates or sweeps anything. If the outbox cannot take the
//! row (no database yet, an unknown layout, locked for longer than the busy timeout), the
//! report waits in `<root>/reports/` for the next run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use kiosk_api::fleet::KIND_UPDATE_RESULT;
use kiosk_api::{Stream, UpdateResult};
use kiosk_core::store::{DB_FILE, StreamPolicy as _};
use rusqlite::{OpenFlags, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::layout::write_atomic;

/// One outcome waiting to reach the kiosk's outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingReport {
    /// The event id it will have in the outbox and at central (UUIDv7).
    pub event_id: Uuid,
    /// When the outcome happened.
    pub occurred_at: DateTime<Utc>,
    /// The payload.
    pub result: UpdateResult,
}

/// Why a report could not be handed to the outbox (it stays queued).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file of the agent's report queue.
    #[error("update report {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The kiosk's database refused.
    #[error("kiosk outbox {path}: {source}")]
    Sqlite {
        /// The database.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The database is not there or not an outbox this agent can write.
    #[error("kiosk outbox {path}: {problem}")]
    Unusable {
        /// The database.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// The agent's report queue under `<root>/reports`, delivering into the outbox in `data_dir`.
#[derive(Debug, Clone)]
pub struct Reports {
    dir: PathBuf,
    data_dir: PathBuf,
}

/// Columns of the kiosk outbox this agent writes.
const OUTBOX_COLUMNS: [&str; 8] = [
    "event_id",
    "stream",
    "kind",
    "priority",
    "occurred_at",
    "created_ms",
    "personal",
    "payload",
];

impl Reports {
    /// The queue in `dir`, for the kiosk store in `data_dir`.
    pub fn new(dir: &Path, data_dir: &Path) -> Reports {
        Reports {
            dir: dir.to_owned(),
            data_dir: data_dir.to_owned(),
        }
    }

    /// Durably queues `result` under a new event id and returns it.
    pub fn queue(&self, result: UpdateResult) -> Result<Uuid, ReportError> {
        let event_id = Uuid::now_v7();
        self.queue_as(event_id, Utc::now(), result)?;
        Ok(event_id)
    }

    /// Durably queues `result` under `event_id`; queueing the same id again replaces the file
    /// and, once delivered, the outbox keeps the first row (the id is unique there).
    pub fn queue_as(
        &self,
        event_id: Uuid,
        occurred_at: DateTime<Utc>,
        result: UpdateResult,
    ) -> Result<(), ReportError> {
        let report = PendingReport {
            event_id,
            occurred_at,
            result,
        };
        let path = self.dir.join(format!("{}.json", report.event_id));
        let io = |source| ReportError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let json = serde_json::to_vec_pretty(&report).map_err(|e| io(e.into()))?;
        write_atomic(&path, &json).map_err(io)?;
        Ok(())
    }

    /// Reports still queued, oldest first.
    pub fn pending(&self) -> Result<Vec<(PathBuf, PendingReport)>, ReportError> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(source) => {
                return Err(ReportError::Io {
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        for entry in entries {
            let path = entry
                .map_err(|source| ReportError::Io {
                    path: self.dir.clone(),
                    source,
                })?
                .path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = std::fs::read(&path).map_err(|source| ReportError::Io {
                path: path.clone(),
                source,
            })?;
            match serde_json::from_slice::<PendingReport>(&text) {
                Ok(report) => out.push((path, report)),
                // A damaged file cannot be sent; keep it for a human, do not block the rest.
                Err(e) => tracing::warn!(path = %path.display(), "unreadable update report: {e}"),
            }
        }
        out.sort_by_key(|(_, r)| r.event_id);
        Ok(out)
    }

    /// Moves every queued report into the kiosk's outbox; returns how many went. Stops at the
    /// first failure, leaving the rest queued.
    pub fn deliver(&self) -> Result<usize, ReportError> {
        let pending = self.pending()?;
        if pending.is_empty() {
            return Ok(0);
        }
        let db = self.data_dir.join(DB_FILE);
        let conn = open_outbox(&db)?;
        let mut delivered = 0;
        for (path, report) in pending {
            insert(&conn, &db, &report)?;
            std::fs::remove_file(&path).map_err(|source| ReportError::Io { path, source })?;
            delivered += 1;
        }
        Ok(delivered)
    }
}

fn open_outbox(db: &Path) -> Result<rusqlite::Connection, ReportError> {
    let sqlite = |source| ReportError::Sqlite {
        path: db.to_owned(),
        source,
    };
    if !db.is_file() {
        return Err(ReportError::Unusable {
            path: db.to_owned(),
            problem: "no kiosk database yet (the app creates it on its first start)".into(),
        });
    }
    // Never CREATE: the app owns the database and its schema.
    let conn = rusqlite::Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(sqlite)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sqlite)?;
    let mut columns = Vec::new();
    {
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_table_info('outbox')")
            .map_err(sqlite)?;
        let rows = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(sqlite)?;
        for row in rows {
            columns.push(row.map_err(sqlite)?);
        }
    }
    if let Some(missing) = OUTBOX_COLUMNS
        .iter()
        .find(|c| !columns.iter().any(|have| have == *c))
    {
        return Err(ReportError::Unusable {
            path: db.to_owned(),
            problem: format!(
                "the outbox has no column {missing:?}; this agent is too old or too new for the kiosk's database"
            ),
        });
    }
    Ok(conn)
}

fn insert(
    conn: &rusqlite::Connection,
    db: &Path,
    report: &PendingReport,
) -> Result<(), ReportError> {
    let sqlite = |source| ReportError::Sqlite {
        path: db.to_owned(),
        source,
    };
    let payload = serde_json::to_vec(&report.result).map_err(|e| ReportError::Unusable {
        path: db.to_owned(),
        problem: e.to_string(),
    })?;
    let stream = Stream::Health;
    // INSERT OR IGNORE on the unique event id: a report whose row went in before a crash
    // (but whose file was not yet removed) is not sent twice.
    conn.execute(
        "INSERT OR IGNORE INTO outbox (event_id, stream, kind, priority, occurred_at, created_ms,
                                      personal, payload)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7)",
        params![
            report.event_id.as_bytes().as_slice(),
            stream.as_str(),
            KIND_UPDATE_RESULT,
            stream.priority(),
            report
                .occurred_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            Utc::now().timestamp_millis(),
            payload,
        ],
    )
    .map_err(sqlite)?;
    Ok(())
}
