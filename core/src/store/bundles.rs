//! What the downlink has applied: bundle versions and the desired-state ETag, so a restart
//! neither refetches nor forgets.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, now_ms};

/// A bundle version in force on this kiosk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedBundle {
    /// `catalog`, `config`, ...
    pub kind: String,
    /// Its version.
    pub version: String,
    /// sha256 (hex) of its payload.
    pub sha256: String,
}

impl Store {
    /// The ETag of the desired state last applied in full.
    pub fn desired_state_etag(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT etag FROM downlink_state WHERE id = 1", [], |row| {
                row.get(0)
            })?)
    }

    /// The bundle of `kind` in force, if any.
    pub fn applied_bundle(&self, kind: &str) -> Result<Option<AppliedBundle>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT kind, version, sha256 FROM applied_bundles WHERE kind = ?1",
                [kind],
                |row| {
                    Ok(AppliedBundle {
                        kind: row.get(0)?,
                        version: row.get(1)?,
                        sha256: row.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Records, in one transaction, the bundles just applied and the ETag they came with.
    pub fn note_applied(
        &self,
        bundles: &[AppliedBundle],
        etag: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let now = now_ms();
        for b in bundles {
            tx.execute(
                "INSERT INTO applied_bundles (kind, version, sha256, applied_ms)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (kind) DO UPDATE SET version = ?2, sha256 = ?3, applied_ms = ?4",
                params![b.kind, b.version, b.sha256, now],
            )?;
        }
        tx.execute(
            "UPDATE downlink_state SET etag = ?1, last_poll_ms = ?2, last_error = NULL
             WHERE id = 1",
            params![etag, now],
        )?;
        tx.commit()?;
        Ok(())
    }
}
