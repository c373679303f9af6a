//! All data access of central. Handlers and CLI commands call these methods and never write
//! SQL themselves, so the ops console (a later issue) can reuse them.
//!
//! One implementation serves SQLite and PostgreSQL through `sqlx::Any`: the queries are
//! written in the SQL both understand (`$n` parameters, `ON CONFLICT`, `RETURNING`, no
//! `GREATEST`), and only the migrations differ per dialect. A trait with two implementations
//! would have doubled every query for no gain, since nothing here needs a dialect feature.

mod attachments;
mod bundles;
mod citizen;
mod console;
mod enrol;
mod fleet;
mod ingest;
mod project;
mod releases;
pub mod rollouts;
mod stats;

pub use attachments::{ChunkOutcome, ChunkUpload};
pub use bundles::PublishOutcome;
pub use citizen::{
    AdvanceError, AppointmentImport, BadReview, CalledTicket, CategoryStats, HelpRequest,
    ImportError, ImportSummary, LeaseError, LevelCount, MisnumberedTicket, QueueStats,
    RatingDistribution, StaffAppointment, TicketRow,
};
pub use console::{ConsoleSession, SESSION_MILLIS, UserError};
pub use enrol::{EnrolError, KioskAuth, TokenCreated};
pub use fleet::{
    FleetKiosk, Hall, HealthEntry, ONLINE_WITHIN_MILLIS, RefusedEvent, UpdateResultRow,
};
pub use ingest::{BatchProblem, IngestOutcome, check_batch, is_sha256_hex};
pub use releases::{RELEASE_CHUNK_BYTES, ReleasePublished};
pub use rollouts::{
    RolloutError, RolloutFailure, RolloutMember, RolloutStatus, StageSelector, StageStatus,
};
pub use stats::{GapRange, KindCount, KioskStats, Stats};

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Transaction};
use tokio::sync::Mutex;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One embedded file.
    Sqlite,
    /// A PostgreSQL server shared by several central nodes.
    Postgres,
}

/// A database failure, with what central was doing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database error while {doing}: {source}")]
    Db {
        /// What central was doing.
        doing: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Migrations failed.
    #[error("migrating the database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Data in the database is not what central wrote.
    #[error("database holds an unreadable {0}; was it edited by hand?")]
    Corrupt(&'static str),
    /// Every hall code 1..=9999 is taken.
    #[error("every hall code 1..=9999 is taken; no new hall can be created on this platform")]
    NoHallCodeLeft,
    /// Concurrent writers kept taking what this one chose; the caller may try again.
    #[error("too many concurrent writers while {0}; try again")]
    Contended(&'static str),
}

pub(crate) trait Doing<T> {
    fn doing(self, doing: &'static str) -> Result<T, StoreError>;
}

impl<T> Doing<T> for Result<T, sqlx::Error> {
    fn doing(self, doing: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Db { doing, source })
    }
}

/// Central's database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    // SQLite has one writer at a time; queuing writers here is fairer and faster than
    // letting them spin in SQLite's busy handler.
    write_lock: Option<Arc<Mutex<()>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

/// Turns `--db` into a URL sqlx understands: `postgres://…` as is, anything else is SQLite
/// (`sqlite:PATH`, `sqlite://PATH` or a bare path), created if missing.
pub fn database_url(db: &str) -> (Backend, String) {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return (Backend::Postgres, db.to_owned());
    }
    let path = db
        .strip_prefix("sqlite://")
        .or_else(|| db.strip_prefix("sqlite:"))
        .unwrap_or(db);
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let query = if query.is_empty() {
        "mode=rwc".to_owned()
    } else {
        query.to_owned()
    };
    (Backend::Sqlite, format!("sqlite://{path}?{query}"))
}

/// Now, unix milliseconds.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Store {
    /// Connects and applies pending migrations.
    pub async fn open(db: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = database_url(db);
        let options = AnyConnectOptions::from_str(&url).doing("reading the database URL")?;
        let pool_options = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(10))
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            });
        let pool = match backend {
            Backend::Sqlite => pool_options
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        // WAL lets readers run beside the writer; FULL makes every acknowledged
                        // batch survive a power cut.
                        sqlx::raw_sql("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;")
                            .execute(conn)
                            .await?;
                        Ok(())
                    })
                })
                .connect_with(options)
                .await
                .doing("opening the SQLite database")?,
            Backend::Postgres => pool_options
                .connect_with(options)
                .await
                .doing("connecting to PostgreSQL")?,
        };
        let store = Store {
            pool,
            backend,
            write_lock: (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(()))),
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&self.pool)
                    .await?
            }
            Backend::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Begins a write transaction; on SQLite also holds the writer lock until it ends.
    pub(crate) async fn write(&self) -> Result<WriteTx, StoreError> {
        let guard = match &self.write_lock {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        let begin = match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        let tx = self
            .pool
            .begin_with(begin)
            .await
            .doing("beginning a transaction")?;
        Ok(WriteTx { tx, _guard: guard })
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The trusted ops public key (base64), if one was set.
    pub async fn ops_public_key(&self) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE name = 'ops_public_key'")
            .fetch_optional(&self.pool)
            .await
            .doing("reading the ops public key")
    }

    /// Trusts `public_key` (base64) as the ops key whose bundles kiosks will apply.
    pub async fn set_ops_public_key(&self, public_key: &str) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ('ops_public_key', $1) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(public_key)
        .execute(&mut *w.tx)
        .await
        .doing("storing the ops public key")?;
        w.commit().await
    }

    /// Records a request nonce; false when it was already used (a replay).
    pub async fn claim_nonce(&self, kiosk_id: &str, nonce: &str) -> Result<bool, StoreError> {
        let mut w = self.write().await?;
        let fresh = claim_nonce_in(&mut w.tx, kiosk_id, nonce).await?;
        w.commit().await?;
        Ok(fresh)
    }

    /// Forgets nonces older than `older_than_ms`; a request that old fails the time window.
    pub async fn prune_nonces(&self, older_than_ms: i64) -> Result<u64, StoreError> {
        let mut w = self.write().await?;
        let done = sqlx::query("DELETE FROM nonces WHERE seen_at < $1")
            .bind(older_than_ms)
            .execute(&mut *w.tx)
            .await
            .doing("pruning old nonces")?;
        w.commit().await?;
        Ok(done.rows_affected())
    }
}

pub(crate) async fn claim_nonce_in(
    tx: &mut Transaction<'static, Any>,
    kiosk_id: &str,
    nonce: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO nonces (kiosk_id, nonce, seen_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(kiosk_id)
    .bind(nonce)
    .bind(now_millis())
    .execute(&mut **tx)
    .await
    .doing("recording the request nonce")?;
    Ok(done.rows_affected() == 1)
}

/// A write transaction (and, on SQLite, the writer lock). Dropped without commit, it rolls back.
pub(crate) struct WriteTx {
    pub(crate) tx: Transaction<'static, Any>,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await.doing("committing")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_arguments_map_to_backends() {
        assert_eq!(database_url("postgres://u@h/db").0, Backend::Postgres);
        assert_eq!(
            database_url("central.db"),
            (Backend::Sqlite, "sqlite://central.db?mode=rwc".into())
        );
        assert_eq!(
            database_url("sqlite:///tmp/c.db"),
            (Backend::Sqlite, "sqlite:///tmp/c.db?mode=rwc".into())
        );
        assert_eq!(
            database_url("sqlite:c.db?mode=ro"),
            (Backend::Sqlite, "sqlite://c.db?mode=ro".into())
        );
    }
}
