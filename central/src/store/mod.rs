//! All data access of central. Handlers and CLI commands call these methods and never write
//! SQL themselves, so the ops console (a later issue) can reuse them.
//!
//! One implementation serves SQLite and PostgreSQL through `sqlx::Any`: the queries are
//! written in the SQL both understand (`$n` parameters, `ON CONFLICT`, `RETURNING`, no
//! `GREATEST`), and only the migrations differ per dialect. A trait with two implementations
//! would have doubled every query for no gain, since nothing here needs a dialect feature.

mod applications;
mod attachments;
mod audit;
mod bundles;
mod citizen;
mod console;
mod enrol;
mod fleet;
mod hall;
mod hall_report;
mod ingest;
mod key_statements;
mod project;
mod quotas;
mod releases;
pub mod rollouts;
mod stats;
mod window_rating;

pub(crate) use applications::stored_number;
pub use applications::{
    APPLICATION_LIST_ROWS, ApplicationDetail, ApplicationSummary, MaterialPdf, MaterialState,
    ReadError, StaffTimelineEntry, needs_note, next_statuses,
};
pub use attachments::{ChunkOutcome, ChunkUpload};
pub use audit::{Action, Actor, AuditEntry, Forbidden, Role, Via};
pub use bundles::{BundleFetch, PublishOutcome};
pub use citizen::{
    AdvanceError, AppointmentImport, BadReview, CalledTicket, CategoryStats, FollowUpKind,
    HelpRequest, ImportError, ImportSummary, LeaseAsk, LeaseError, LevelCount, MisnumberedTicket,
    QueueStats, RatingDistribution, StaffAppointment, TicketRow,
};
pub use console::{
    ConsoleSession, ConsoleUser, HASHING_PERMITS, LOCKOUT_MILLIS, LoginOutcome, MAX_FAILED_LOGINS,
    SESSION_MILLIS, UNKNOWN_NAME_BUCKETS, UserError,
};
pub use enrol::{
    EnrolError, KioskAuth, MAX_REASON_CHARS, ReprovisionError, Revocation, RevokeError, Revoked,
    TokenCreated,
};
pub use fleet::{
    FleetKiosk, Hall, HealthEntry, ONLINE_WITHIN_MILLIS, RefusedEvent, UpdateResultRow,
};
pub use hall::{
    Board, CallRow, DEFAULT_MAX_RECALLS, HallWindow, NoShowAfter, QueueNow, QueuePolicy,
    RECENT_CALLS, SERVICE_SAMPLE, TicketLive, WindowError, WindowOutcome, WindowTicket,
};
pub use hall_report::{
    HallReport, MAX_REPORT_DAYS, RatingCount, ReportDay, ReportError, Spread, WindowDay,
};
pub use ingest::{BatchProblem, IngestOutcome, check_batch, is_sha256_hex};
pub use key_statements::StatementRefused;
pub use releases::{RELEASE_CHUNK_BYTES, ReleasePublished};
pub use rollouts::{
    MemberState, RolloutError, RolloutFailure, RolloutMember, RolloutState, RolloutStatus,
    StageSelector, StageState, StageStatus,
};
pub use stats::{GapRange, KindCount, KioskStats, Stats};
pub use window_rating::{
    RATE_WITHIN_MILLIS, RateError, RateableTicket, WindowRated, WindowRating, is_tablet_secret,
    window_reasons,
};

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
    // Console password hashes at once on this node (`console::HASHING_PERMITS`).
    hashing: Arc<tokio::sync::Semaphore>,
    // Who the ops actions through this handle are logged as (`Store::acting_as`).
    actor: Option<Arc<Actor>>,
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

/// The longest free text, in characters, of one note: a citizen's note to a rating (as on
/// the kiosk), or staff's note to a citizen on an application, per language.
pub const MAX_NOTE_CHARS: usize = 500;

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
            hashing: Arc::new(tokio::sync::Semaphore::new(HASHING_PERMITS)),
            actor: None,
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

    /// Asks the database a trivial question: whether it answers at all (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .doing("asking the database whether it answers")?;
        Ok(())
    }

    /// The trusted ops public key (base64), if one was set.
    pub async fn ops_public_key(&self) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE name = 'ops_public_key'")
            .fetch_optional(&self.pool)
            .await
            .doing("reading the ops public key")
    }

    /// Trusts `public_key` (base64) as the `role` key: the key whose bundles (catalog) or
    /// releases (release) kiosks enrolled from now on will apply. Kiosks enrolled earlier keep
    /// what they have; move them with a signed rotation instead (`central keys rotate`).
    pub async fn set_trusted_key(
        &self,
        role: kiosk_api::rotation::KeyRole,
        public_key: &str,
    ) -> Result<(), StoreError> {
        let name = match role {
            kiosk_api::rotation::KeyRole::Catalog => "ops_public_key",
            kiosk_api::rotation::KeyRole::Release => "release_public_key",
        };
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(public_key)
        .execute(&mut *w.tx)
        .await
        .doing("storing a trusted key")?;
        let key_id = kiosk_api::keys::public_key_from_base64(public_key)
            .map(|k| kiosk_api::keys::key_id(&k))
            .unwrap_or_else(|_| "unreadable key".to_owned());
        w.audit(self, Action::KeysTrust, role.as_str(), &key_id)
            .await?;
        w.commit().await
    }

    /// Trusts `public_key` (base64) as the ops key whose bundles kiosks will apply.
    pub async fn set_ops_public_key(&self, public_key: &str) -> Result<(), StoreError> {
        self.set_trusted_key(kiosk_api::rotation::KeyRole::Catalog, public_key)
            .await
    }

    /// Records a request nonce, counting the request against the kiosk's `per_minute`.
    pub async fn claim_nonce(
        &self,
        kiosk_id: &str,
        nonce: &str,
        per_minute: u32,
    ) -> Result<Claim, StoreError> {
        let mut w = self.write().await?;
        let claim = claim_nonce_in(&mut w.tx, kiosk_id, nonce, per_minute).await?;
        if claim == Claim::Fresh {
            w.commit().await?;
        }
        Ok(claim)
    }

    /// Drops uploads still incomplete that began before `older_than_ms`, with their chunks:
    /// a kiosk that comes back starts such an upload again from its first byte, and one that
    /// never does leaves nothing behind for ever. Returns how many were dropped.
    pub async fn expire_incomplete_uploads(&self, older_than_ms: i64) -> Result<u64, StoreError> {
        let mut w = self.write().await?;
        sqlx::query(
            "DELETE FROM attachment_chunks WHERE (kiosk_id, sha256) IN \
             (SELECT kiosk_id, sha256 FROM attachments WHERE complete = 0 AND created_at < $1)",
        )
        .bind(older_than_ms)
        .execute(&mut *w.tx)
        .await
        .doing("expiring incomplete uploads")?;
        let done = sqlx::query("DELETE FROM attachments WHERE complete = 0 AND created_at < $1")
            .bind(older_than_ms)
            .execute(&mut *w.tx)
            .await
            .doing("expiring incomplete uploads")?;
        w.commit().await?;
        Ok(done.rows_affected())
    }

    /// Seen nonces kept now, of every kiosk: at most `--requests-per-minute` per kiosk per
    /// minute of their retention.
    pub async fn nonce_rows(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM nonces")
            .fetch_one(&self.pool)
            .await
            .doing("counting nonces")
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

/// What claiming a request's nonce came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// A new nonce, within the kiosk's rate: go on.
    Fresh,
    /// Seen before: a replay.
    Replayed,
    /// The kiosk made more signed requests this minute than it may; nothing is kept.
    OverRate,
}

/// Claims `nonce` for `kiosk_id` in `tx`, counting the request against the kiosk's
/// `per_minute` first. Nonces are kept for two time windows and a minute (the pruner), so
/// this rate also bounds the nonces one kiosk can have central keep: at most `per_minute`
/// times 12, and a kiosk over it is refused before it adds a row. The caller rolls `tx`
/// back unless the claim is [`Claim::Fresh`].
pub(crate) async fn claim_nonce_in(
    tx: &mut Transaction<'static, Any>,
    kiosk_id: &str,
    nonce: &str,
    per_minute: u32,
) -> Result<Claim, StoreError> {
    let now = now_millis();
    let made = quotas::charge(tx, kiosk_id, quotas::Usage::RequestsPerMinute, 1, now).await?;
    if made > i64::from(per_minute) {
        return Ok(Claim::OverRate);
    }
    let done = sqlx::query(
        "INSERT INTO nonces (kiosk_id, nonce, seen_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(kiosk_id)
    .bind(nonce)
    .bind(now_millis())
    .execute(&mut **tx)
    .await
    .doing("recording the request nonce")?;
    Ok(if done.rows_affected() == 1 {
        Claim::Fresh
    } else {
        Claim::Replayed
    })
}

/// A write transaction (and, on SQLite, the writer lock). Dropped without commit, it rolls back.
pub(crate) struct WriteTx {
    pub(crate) tx: Transaction<'static, Any>,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Writes the audit row of `action` by `store`'s actor in this transaction.
    pub(crate) async fn audit(
        &mut self,
        store: &Store,
        action: Action,
        target: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        audit::record(&mut self.tx, &store.actor(), action, target, detail).await
    }

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
