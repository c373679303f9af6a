//! What central last said, kept for when it cannot be asked: the queue state, the day's
//! appointments, an application's progress. Nothing personal beyond hashes and masked names.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, now_ms};

impl Store {
    /// Keeps what central last said under `key` (`queue_state`, `appointments:<date>`,
    /// `progress:<no>`, ...). Callers cache nothing personal beyond hashes and masked names.
    pub fn cache_put(&self, key: &str, value: &serde_json::Value) -> Result<(), StoreError> {
        self.cache_put_at(key, value, now_ms())
    }

    /// [`Store::cache_put`] with the time it was fetched (Unix ms) given by the caller's
    /// clock, so "as of" reads the same clock as the journeys.
    pub fn cache_put_at(
        &self,
        key: &str,
        value: &serde_json::Value,
        fetched_ms: i64,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO central_cache (key, value, fetched_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, fetched_ms = excluded.fetched_ms",
            params![key, value.to_string(), fetched_ms],
        )?;
        Ok(())
    }

    /// Forgets what was cached under `key`.
    pub fn cache_remove(&self, key: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM central_cache WHERE key = ?1", params![key])?;
        Ok(())
    }

    /// What was cached under `key` and when (Unix ms).
    pub fn cache_get(&self, key: &str) -> Result<Option<(serde_json::Value, i64)>, StoreError> {
        let conn = self.conn();
        let row: Option<(String, i64)> = conn
            .query_row(
                "SELECT value, fetched_ms FROM central_cache WHERE key = ?1",
                params![key],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        match row {
            Some((text, at)) => Ok(Some((serde_json::from_str(&text)?, at))),
            None => Ok(None),
        }
    }
}
