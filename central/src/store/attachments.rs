//! Resumable, chunked attachment uploads, checked against their sha256 name.

use kiosk_api::UploadStatus;
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;
use uuid::Uuid;

use super::quotas::{self, Usage};
use super::{Doing as _, Store, StoreError, now_millis};

/// One `PUT` of a chunk.
#[derive(Debug, Clone, Copy)]
pub struct ChunkUpload<'a> {
    /// Lower-case hex sha256 of the whole file.
    pub sha256: &'a str,
    /// `upload-offset`.
    pub offset: u64,
    /// `upload-length`.
    pub total: u64,
    /// The chunk bytes.
    pub data: &'a [u8],
}

/// What became of a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// Stored (and, on the last chunk, the digest matched).
    Accepted(UploadStatus),
    /// The offset is not where central stands; resume from `received`.
    WrongOffset(UploadStatus),
    /// `upload-length` differs from the first chunk's, or the chunk runs past it.
    BadLength(String),
    /// All bytes arrived but hash to something else; the partial upload was discarded.
    DigestMismatch {
        /// What the bytes hash to.
        actual: String,
    },
    /// A new upload beyond the kiosk's uploads per day; nothing was stored.
    OverQuota(String),
}

impl Store {
    /// How much of `sha256` the kiosk has uploaded.
    pub async fn upload_status(
        &self,
        kiosk_id: Uuid,
        sha256: &str,
    ) -> Result<UploadStatus, StoreError> {
        let row = sqlx::query(
            "SELECT received, complete FROM attachments WHERE kiosk_id = $1 AND sha256 = $2",
        )
        .bind(kiosk_id.to_string())
        .bind(sha256)
        .fetch_optional(self.pool())
        .await
        .doing("reading the upload status")?;
        status_of(row.as_ref())
    }

    /// Stores one chunk in one transaction; the last one completes the upload if the digest matches.
    /// A new upload (its first chunk) beyond `per_day` uploads begun by this kiosk in the
    /// quota's day is refused whole ([`ChunkOutcome::OverQuota`]).
    pub async fn put_chunk(
        &self,
        kiosk_id: Uuid,
        chunk: ChunkUpload<'_>,
        per_day: u32,
    ) -> Result<ChunkOutcome, StoreError> {
        let kiosk = kiosk_id.to_string();
        let total = i64::try_from(chunk.total).map_err(|_| StoreError::Corrupt("upload length"))?;
        let now = now_millis();
        let mut w = self.write().await?;
        // Creates the upload's row if it is new; a resumed upload keeps its row, read next.
        // Not a citizen record: the row that is there already is the one read next.
        let started = sqlx::query("INSERT INTO attachments (kiosk_id, sha256, total_len, received, complete, created_at) VALUES ($1, $2, $3, 0, 0, $4) ON CONFLICT DO NOTHING")
            .bind(&kiosk)
            .bind(chunk.sha256)
            .bind(total)
            .bind(now)
            .execute(&mut *w.tx)
            .await
            .doing("starting the upload")?;
        if started.rows_affected() == 1
            && quotas::charge(&mut w.tx, &kiosk, Usage::AttachmentsPerDay, 1, now).await?
                > i64::from(per_day)
        {
            // Dropping the transaction takes back the row and the count.
            return Ok(ChunkOutcome::OverQuota(format!(
                "this kiosk began {per_day} uploads today, central's limit (--attachments-per-day); the upload waits at the kiosk and is sent again later"
            )));
        }
        let row = sqlx::query("SELECT received, complete, total_len FROM attachments WHERE kiosk_id = $1 AND sha256 = $2")
            .bind(&kiosk)
            .bind(chunk.sha256)
            .fetch_one(&mut *w.tx)
            .await
            .doing("reading the upload")?;
        let status = status_of(Some(&row))?;
        let known_total: i64 = row.try_get(2).doing("reading the upload")?;
        if known_total != total {
            return Ok(ChunkOutcome::BadLength(format!(
                "upload-length {total} differs from {known_total} given with the first chunk"
            )));
        }
        if status.complete {
            // Re-sending a finished file is harmless: answer as if stored.
            return Ok(ChunkOutcome::Accepted(status));
        }
        if chunk.offset != status.received {
            return Ok(ChunkOutcome::WrongOffset(status));
        }
        let end = chunk.offset.saturating_add(chunk.data.len() as u64);
        if end > chunk.total {
            return Ok(ChunkOutcome::BadLength(format!(
                "chunk at {} of {} bytes runs past upload-length {}",
                chunk.offset,
                chunk.data.len(),
                chunk.total
            )));
        }
        let offset =
            i64::try_from(chunk.offset).map_err(|_| StoreError::Corrupt("upload offset"))?;
        let end_i = i64::try_from(end).map_err(|_| StoreError::Corrupt("upload offset"))?;
        if !chunk.data.is_empty() {
            sqlx::query("INSERT INTO attachment_chunks (kiosk_id, sha256, chunk_offset, data) VALUES ($1, $2, $3, $4)")
                .bind(&kiosk)
                .bind(chunk.sha256)
                .bind(offset)
                .bind(chunk.data.to_vec())
                .execute(&mut *w.tx)
                .await
                .doing("storing the chunk")?;
        }
        // The guard on received makes a concurrent PUT of the same offset fail cleanly.
        let moved = sqlx::query("UPDATE attachments SET received = $3 WHERE kiosk_id = $1 AND sha256 = $2 AND received = $4")
            .bind(&kiosk)
            .bind(chunk.sha256)
            .bind(end_i)
            .bind(offset)
            .execute(&mut *w.tx)
            .await
            .doing("advancing the upload")?;
        if moved.rows_affected() != 1 {
            return Ok(ChunkOutcome::WrongOffset(status));
        }
        if end < chunk.total {
            w.commit().await?;
            return Ok(ChunkOutcome::Accepted(UploadStatus {
                received: end,
                complete: false,
            }));
        }

        let parts: Vec<Vec<u8>> = sqlx::query_scalar("SELECT data FROM attachment_chunks WHERE kiosk_id = $1 AND sha256 = $2 ORDER BY chunk_offset")
            .bind(&kiosk)
            .bind(chunk.sha256)
            .fetch_all(&mut *w.tx)
            .await
            .doing("reading the chunks back")?;
        let mut hasher = Sha256::new();
        for part in &parts {
            hasher.update(part);
        }
        let actual = hex::encode(hasher.finalize());
        if actual != chunk.sha256 {
            for table in ["attachment_chunks", "attachments"] {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE kiosk_id = $1 AND sha256 = $2"
                )))
                .bind(&kiosk)
                .bind(chunk.sha256)
                .execute(&mut *w.tx)
                .await
                .doing("discarding a corrupt upload")?;
            }
            w.commit().await?;
            return Ok(ChunkOutcome::DigestMismatch { actual });
        }
        sqlx::query("UPDATE attachments SET complete = 1 WHERE kiosk_id = $1 AND sha256 = $2")
            .bind(&kiosk)
            .bind(chunk.sha256)
            .execute(&mut *w.tx)
            .await
            .doing("completing the upload")?;
        w.commit().await?;
        Ok(ChunkOutcome::Accepted(UploadStatus {
            received: end,
            complete: true,
        }))
    }

    /// The bytes of a complete attachment, for ops tools and tests.
    pub async fn attachment_bytes(
        &self,
        kiosk_id: Uuid,
        sha256: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let status = self.upload_status(kiosk_id, sha256).await?;
        if !status.complete {
            return Ok(None);
        }
        let parts: Vec<Vec<u8>> = sqlx::query_scalar("SELECT data FROM attachment_chunks WHERE kiosk_id = $1 AND sha256 = $2 ORDER BY chunk_offset")
            .bind(kiosk_id.to_string())
            .bind(sha256)
            .fetch_all(self.pool())
            .await
            .doing("reading an attachment")?;
        Ok(Some(parts.concat()))
    }
}

fn status_of(row: Option<&sqlx::any::AnyRow>) -> Result<UploadStatus, StoreError> {
    let Some(row) = row else {
        return Ok(UploadStatus {
            received: 0,
            complete: false,
        });
    };
    let received: i64 = row.try_get(0).doing("reading the upload status")?;
    let complete: i64 = row.try_get(1).doing("reading the upload status")?;
    Ok(UploadStatus {
        received: u64::try_from(received).map_err(|_| StoreError::Corrupt("upload size"))?,
        complete: complete == 1,
    })
}
