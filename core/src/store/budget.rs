//! One disk budget for database, spool and logs, with the eviction order of DESIGN §5:
//! telemetry is first downsampled (every other old row), then dropped oldest first; citizen
//! records, tickets, ratings and help requests are never dropped. Near the limit the store
//! says "stop offering journeys that create records" ([`Capacity::accepting_records`]), which
//! the app shows on screen; the headroom above that line is for journeys already under way.

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
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            limit_bytes: 2 * 1024 * 1024 * 1024,
            near_limit_percent: 90,
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
    /// False near the limit: the app must stop offering journeys that create records.
    pub accepting_records: bool,
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
        self.note_growth(0)?;
        self.measure()
    }

    fn measure(&self) -> Result<Capacity, StoreError> {
        let budget = self.inner.options.budget;
        let used = self.used_bytes()?;
        Ok(Capacity {
            used_bytes: used,
            limit_bytes: budget.limit_bytes,
            accepting_records: used < budget.near_limit(),
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

    /// True when `incoming` more bytes fit under the limit, after evicting telemetry if needed.
    pub(super) fn make_room_for(&self, incoming: u64) -> Result<bool, StoreError> {
        let limit = self.inner.options.budget.limit_bytes;
        if self.used_bytes()? + incoming <= limit {
            return Ok(true);
        }
        self.evict_telemetry(limit.saturating_sub(incoming))?;
        Ok(self.used_bytes()? + incoming <= limit)
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
                "UPDATE sync_state SET accepting_records = ?1, used_bytes = ?2, budget_bytes = ?3
                 WHERE id = 1",
                rusqlite::params![
                    capacity.accepting_records,
                    capacity.used_bytes as i64,
                    capacity.limit_bytes as i64
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
