//! SQLite store: schema, migrations, the outbox and its quarantine, encryption of personal
//! data at rest, the attachment spool, the holder keys, the disk budget, the queue tickets,
//! the local records that go with outbox rows, and the cache of what central said.
//!
//! One database per kiosk (`<dir>/kiosk.db`, WAL). A journey step that creates a record writes
//! the record and its outbox row in one transaction with `synchronous=FULL`: when
//! [`Store::commit_record`] returns, the record survives a power cut.

mod budget;
mod bundles;
mod cache;
mod crypto;
mod holder_keys;
mod outbox;
mod quarantine;
mod records;
mod schema;
mod spool;
mod status;
#[cfg(test)]
mod tests;
mod tickets;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Notify;

pub use budget::{Budget, Capacity, DEFAULT_MIN_FREE_BYTES, free_bytes};
pub use bundles::AppliedBundle;
pub use crypto::StoreKey;
pub use kiosk_api::{EventOutcome, Stream};
pub use outbox::{
    AckSummary, Committed, NewEvent, NewRecord, PendingEvent, StreamPolicy, wipe_json,
};
pub use quarantine::{
    ExportedAttachment, QuarantineEntry, QuarantineExport, RetryWhich, export_quarantined_in,
    quarantine_reason, read_quarantine, retry_quarantined_in,
};
pub use schema::SCHEMA_VERSION;
pub use spool::{AttachmentId, MAX_ATTACHMENT_BYTES};
pub use status::{StreamBacklog, SyncStatus, read_status};
pub use tickets::{NoNumber, TicketAllocation, TicketFate};

/// File name of the database inside the store directory.
pub const DB_FILE: &str = "kiosk.db";
/// Folder of the attachment spool inside the store directory.
pub const SPOOL_DIR: &str = "spool";
/// File name of the store key inside the store directory, where the app keeps it.
pub const KEY_FILE: &str = "store.key";

/// What can go wrong in the store. Each names the file or the value at fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused an operation.
    #[error("kiosk store database: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// The data filesystem has no room: SQLite answered `SQLITE_FULL`, a spool file met
    /// `ENOSPC`, or the free space is under the floor kept for commits under way. Nothing of
    /// the step was written (its transaction was rolled back, its temporary file removed).
    #[error(
        "the kiosk's data disk is full ({detail}); nothing of this step was written. \
         Free space on the data disk (old logs, old releases), then try again"
    )]
    DiskFull {
        /// What ran out, and where.
        detail: String,
    },
    /// The key file given is not the one the store was written with.
    #[error(
        "kiosk store {dir}: the store key given is not the one this store was written with, \
         so none of its personal data could be read; put back the kiosk's own {KEY_FILE} \
         (nothing was changed)"
    )]
    KeyMismatch {
        /// The store's folder.
        dir: PathBuf,
    },
    /// A file of the store could not be read or written.
    #[error("kiosk store file {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The key file is missing, malformed or too widely readable.
    #[error("kiosk store key {path}: {message}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// A sealed value did not open: wrong key, or the data was damaged or moved.
    #[error("kiosk store: cannot decrypt {context} (wrong key file, or damaged data)")]
    Crypto {
        /// Where the value lives (`outbox:<event id>`, `spool:<sha256>`, ...).
        context: String,
    },
    /// The database was written by a newer build than this one.
    #[error(
        "kiosk store schema version {found} is newer than this build supports ({supported}); \
         run the newer release or restore a backup"
    )]
    SchemaTooNew {
        /// `user_version` found in the file.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// An event referenced an attachment that is not in the spool.
    #[error("attachment {0} is not in the spool; spool it before committing the event")]
    UnknownAttachment(String),
    /// A payload could not be (de)serialised.
    #[error("kiosk store payload: {0}")]
    Json(#[from] serde_json::Error),
    /// An attachment is larger than the store takes.
    #[error("attachment of {size} bytes is larger than the {limit}-byte limit")]
    AttachmentTooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
}

impl StoreError {
    fn io(path: &Path, source: std::io::Error) -> StoreError {
        // ENOSPC (and EDQUOT) is StorageFull: a typed answer, not a file error.
        if source.kind() == std::io::ErrorKind::StorageFull {
            return StoreError::DiskFull {
                detail: format!("writing {}: {source}", path.display()),
            };
        }
        StoreError::Io {
            path: path.to_owned(),
            source,
        }
    }

    /// Whether this is [`StoreError::DiskFull`]: the journey tells the citizen where to go
    /// instead of retrying.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::DiskFull { .. })
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        match &e {
            rusqlite::Error::SqliteFailure(code, _)
                if code.code == rusqlite::ErrorCode::DiskFull =>
            {
                StoreError::DiskFull {
                    detail: format!("SQLite: {e}"),
                }
            }
            _ => StoreError::Sqlite(e),
        }
    }
}

/// Settings of a store; `StoreOptions::default()` suits a kiosk.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// The one disk budget for database, spool and logs.
    pub budget: Budget,
    /// Log folder counted against the budget (the app's own log files), if any.
    pub logs_dir: Option<PathBuf>,
}

/// The kiosk's durable store. Cheap to clone; all clones share one connection.
///
/// Methods block on SQLite and on fsync: call them from a blocking context
/// (`tokio::task::spawn_blocking`) when inside async code.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    key: StoreKey,
    dir: PathBuf,
    options: StoreOptions,
    /// Woken whenever new events are committed, so the uplink sends without polling.
    changed: Notify,
    usage: Mutex<budget::UsageCache>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating and migrating if needed) the store in `dir`.
    pub fn open(dir: &Path, key: StoreKey, options: StoreOptions) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir.join(SPOOL_DIR))
            .map_err(|source| StoreError::io(dir, source))?;
        let mut conn = open_connection(&dir.join(DB_FILE), false)?;
        schema::migrate(&mut conn)?;
        check_key(&conn, &key, dir)?;
        let store = Store {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                key,
                dir: dir.to_owned(),
                options,
                changed: Notify::new(),
                usage: Mutex::new(budget::UsageCache::default()),
            }),
        };
        store.sweep_spool()?;
        Ok(store)
    }

    /// The store's folder.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Notified after every commit that adds events; the uplink waits on it when idle.
    pub fn changed(&self) -> &Notify {
        &self.inner.changed
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite itself consistent (the open transaction
        // is rolled back when dropped), so a poisoned lock is safe to take over.
        self.inner
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn open_connection(path: &Path, read_only: bool) -> Result<Connection, StoreError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Citizen-data commits switch to FULL themselves; FULL is also the safe default.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Without a limit the WAL file keeps its high-water size and eats the disk budget.
        conn.pragma_update(None, "journal_size_limit", 4 * 1024 * 1024)?;
    }
    Ok(conn)
}

/// Refuses a key that is not the one the store was written with (a value sealed at first
/// open must open), so a wrong key file is one clear error at start, not every outbox row
/// judged unreadable and quarantined.
fn check_key(conn: &Connection, key: &StoreKey, dir: &Path) -> Result<(), StoreError> {
    const CONTEXT: &str = "store_meta:key_check";
    let sealed: Option<Vec<u8>> =
        conn.query_row("SELECT key_check FROM store_meta WHERE id = 1", [], |row| {
            row.get(0)
        })?;
    match sealed {
        Some(sealed) => key
            .open(CONTEXT, &sealed)
            .map(drop)
            .map_err(|_| StoreError::KeyMismatch {
                dir: dir.to_owned(),
            }),
        None => {
            let sealed = key.seal(CONTEXT, b"kiosk store key check")?;
            conn.execute(
                "UPDATE store_meta SET key_check = ?1 WHERE id = 1",
                [sealed],
            )?;
            Ok(())
        }
    }
}

/// fsync a directory so that a rename or create inside it survives a power cut.
fn fsync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| StoreError::io(dir, source))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
