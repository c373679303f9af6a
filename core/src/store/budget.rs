//! One disk budget for database, spool and logs, with the eviction order of docs/architecture.md
//! ("Disk"): telemetry is first downsampled (every other old row), then dropped oldest first;
//! citizen records, tickets, ratings and help requests are never dropped. Near the limit the store
//! says "stop offering journeys that create records" ([`Capacity::accepting_records`]), which
//! the app shows on screen; the headroom above that line is for journeys already under way.
//!
//! The budget alone does not see the disk: logs of other programs, an update download or a
//! core dump can fill the data filesystem while the store is well under its limit. So the
//! filesystem's own free space (statvfs, what an unprivileged writer may still use) counts
//! too: below [`Budget::min_free_bytes`] journeys that create records are no longer offered
//! and telemetry makes way, and what is left of that reserve is for steps under way.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{DB_FILE, Store, StoreError};

/// The disk budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// Bytes that database, WAL, spool and logs may take together.
    pub limit_bytes: u64,
    /// Percentage of the limit from which journeys that create records are no longer offered.
    pub near_limit_percent: u8,
    /// Free space on the data filesystem below which journeys that create records are no
    /// longer offered, whatever the store itself uses.
    #[serde(default = "default_min_free")]
    pub min_free_bytes: u64,
}

/// 64 MiB: several journeys' scans and commits, and the WAL's checkpoint, still fit.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 64 * 1024 * 1024;

fn default_min_free() -> u64 {
    DEFAULT_MIN_FREE_BYTES
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            limit_bytes: 2 * 1024 * 1024 * 1024,
            near_limit_percent: 90,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
        }
    }
}

impl Budget {
    fn near_limit(&self) -> u64 {
        self.limit_bytes / 100 * u64::from(self.near_limit_percent)
    }
}

/// Where the store stands against its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    /// Bytes in use (database pages in use, WAL, spool, logs).
    pub used_bytes: u64,
    /// The budget.
    pub limit_bytes: u64,
    /// Free bytes on the data filesystem (for an unprivileged writer); `None` when the
    /// filesystem cannot be asked.
    pub free_bytes: Option<u64>,
    /// The reserve of free space the budget keeps ([`Budget::min_free_bytes`]).
    pub min_free_bytes: u64,
    /// False near the limit or when the filesystem's free space is under the reserve: the
    /// app must stop offering journeys that create records.
    pub accepting_records: bool,
}

impl Capacity {
    /// Whether the filesystem's free space is under the reserve.
    pub fn low_on_disk(&self) -> bool {
        self.free_bytes
            .is_some_and(|free| free < self.min_free_bytes)
    }
}

/// Free bytes on the filesystem holding `dir`, as an unprivileged writer may use them.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let stat = nix::sys::statvfs::statvfs(dir).ok()?;
    Some(stat.blocks_available().saturating_mul(stat.fragment_size()))
}

#[derive(Debug, Default)]
pub(super) struct UsageCache {
    logs_bytes: u64,
    logs_checked: Option<Instant>,
    accepting_records: Option<bool>,
    capacity_written: Option<Instant>,
}

/// Walking the log folder on every commit would cost more than the commit.
const LOGS_RECHECK: Duration = Duration::from_secs(10);
/// How stale the persisted usage figure (read by `kioskctl sync status`) may get.
const CAPACITY_REWRITE: Duration = Duration::from_secs(5);

impl Store {
    /// Current usage against the budget; evicts telemetry first if over the near-limit line.
    pub fn capacity(&self) -> Result<Capacity, StoreError> {
        // On a full disk the eviction or the status update may fail; the figures are
        // still worth having (they are what says "stop offering records").
        if let Err(e) = self.note_growth(0) {
            tracing::warn!(error = %e, "disk budget upkeep failed");
        }
        self.measure()
    }

    fn measure(&self) -> Result<Capacity, StoreError> {
        let budget = self.inner.options.budget;
        let used = self.used_bytes()?;
        let free = free_bytes(&self.inner.dir);
        Ok(Capacity {
            used_bytes: used,
            limit_bytes: budget.limit_bytes,
            free_bytes: free,
            min_free_bytes: budget.min_free_bytes,
            accepting_records: used < budget.near_limit()
                && free.is_none_or(|free| free >= budget.min_free_bytes),
        })
    }

    fn used_bytes(&self) -> Result<u64, StoreError> {
        let (db, spool) = {
            let conn = self.conn();
            let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
            let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let spool: i64 =
                conn.query_row("SELECT COALESCE(SUM(stored_size), 0) FROM spool", [], |r| {
                    r.get(0)
                })?;
            ((pages - free).max(0) * page_size, spool)
        };
        let wal = std::fs::metadata(self.inner.dir.join(format!("{DB_FILE}-wal")))
            .map(|m| m.len())
            .unwrap_or(0);
        let logs = {
            let mut cache = self.usage_cache();
            let stale = cache
                .logs_checked
                .is_none_or(|at| at.elapsed() >= LOGS_RECHECK);
            if stale {
                cache.logs_bytes = match &self.inner.options.logs_dir {
                    Some(dir) => dir_size(dir),
                    None => 0,
                };
                cache.logs_checked = Some(Instant::now());
            }
            cache.logs_bytes
        };
        Ok(db as u64 + wal + spool as u64 + logs)
    }

    fn usage_cache(&self) -> std::sync::MutexGuard<'_, UsageCache> {
        self.inner
            .usage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// True when `incoming` more bytes of telemetry fit under the limit and above the
    /// reserve of free space, after evicting telemetry if needed. Telemetry never eats into
    /// the reserve kept for citizens' records.
    pub(super) fn make_room_for(&self, incoming: u64) -> Result<bool, StoreError> {
        let budget = self.inner.options.budget;
        let limit = budget.limit_bytes;
        let fits = |store: &Store| -> Result<bool, StoreError> {
            let free_ok = free_bytes(&store.inner.dir)
                .is_none_or(|free| free >= budget.min_free_bytes.saturating_add(incoming));
            Ok(free_ok && store.used_bytes()? + incoming <= limit)
        };
        if fits(self)? {
            return Ok(true);
        }
        let target = self.eviction_target(incoming)?;
        self.evict_telemetry(target)?;
        fits(self)
    }

    /// How far usage must come down so that `incoming` bytes fit under the limit and the
    /// free space gets back over the reserve. Pages freed inside the database are reused by
    /// the next commits, so the file need not grow for them.
    fn eviction_target(&self, incoming: u64) -> Result<u64, StoreError> {
        let budget = self.inner.options.budget;
        let used = self.used_bytes()?;
        let mut target = budget.limit_bytes.saturating_sub(incoming);
        if let Some(free) = free_bytes(&self.inner.dir) {
            let short = budget
                .min_free_bytes
                .saturating_add(incoming)
                .saturating_sub(free);
            target = target.min(used.saturating_sub(short));
        }
        Ok(target)
    }

    /// After a commit: keep usage under the near-limit line by evicting telemetry, and record
    /// whether journeys that create records may still be offered.
    pub(super) fn note_growth(&self, _added: u64) -> Result<(), StoreError> {
        let budget = self.inner.options.budget;
        if self.used_bytes()? >= budget.near_limit() {
            // Aim a little lower so that the next few commits do not evict again at once.
            let target = budget.near_limit() - budget.limit_bytes / 20;
            self.evict_telemetry(target)?;
        }
        if free_bytes(&self.inner.dir).is_some_and(|free| free < budget.min_free_bytes) {
            let target = self.eviction_target(0)?;
            self.evict_telemetry(target)?;
        }
        let capacity = self.measure()?;
        let changed = {
            let mut cache = self.usage_cache();
            let changed = cache.accepting_records != Some(capacity.accepting_records)
                || cache
                    .capacity_written
                    .is_none_or(|at| at.elapsed() >= CAPACITY_REWRITE);
            if changed {
                cache.accepting_records = Some(capacity.accepting_records);
                cache.capacity_written = Some(Instant::now());
            }
            changed
        };
        if changed {
            self.conn().execute(
                "UPDATE sync_state SET accepting_records = ?1, used_bytes = ?2, budget_bytes = ?3,
                                       free_bytes = ?4, min_free_bytes = ?5
                 WHERE id = 1",
                rusqlite::params![
                    capacity.accepting_records,
                    capacity.used_bytes as i64,
                    capacity.limit_bytes as i64,
                    capacity.free_bytes.map(|f| f as i64),
                    capacity.min_free_bytes as i64,
                ],
            )?;
        }
        Ok(())
    }

    /// Evicts telemetry until usage is at most `target`: first every other row of the older
    /// half (downsampling keeps the shape of the data), then the oldest rows.
    fn evict_telemetry(&self, target: u64) -> Result<(), StoreError> {
        let downsampled = {
            let conn = self.conn();
            conn.execute(
                "DELETE FROM outbox WHERE seq IN (
                     SELECT seq FROM (
                         SELECT seq, row_number() OVER (ORDER BY seq) AS n,
                                count(*) OVER () AS total
                         FROM outbox WHERE stream = 'telemetry')
                     WHERE n % 2 = 0 AND n <= total / 2)",
                [],
            )?
        };
        self.checkpoint()?;
        self.conn().execute(
            "UPDATE sync_state SET downsampled_telemetry = downsampled_telemetry + ?1 WHERE id = 1",
            [downsampled as i64],
        )?;
        while self.used_bytes()? > target {
            let dropped = self.conn().execute(
                "DELETE FROM outbox WHERE seq IN (
                     SELECT seq FROM outbox WHERE stream = 'telemetry' ORDER BY seq
                     LIMIT max(100, (SELECT count(*) FROM outbox WHERE stream = 'telemetry') / 10))",
                [],
            )?;
            if dropped == 0 {
                break;
            }
            self.count_dropped_telemetry(dropped as u64)?;
            self.checkpoint()?;
        }
        Ok(())
    }

    pub(super) fn count_dropped_telemetry(&self, n: u64) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE sync_state SET dropped_telemetry = dropped_telemetry + ?1 WHERE id = 1",
            [n as i64],
        )?;
        Ok(())
    }

    fn checkpoint(&self) -> Result<(), StoreError> {
        // TRUNCATE so that the WAL written by the deletes does not itself eat the budget.
        self.conn()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(m) if m.is_dir() => dir_size(&entry.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
