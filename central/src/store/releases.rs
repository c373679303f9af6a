//! Signed software releases and their artifacts (contract C).
//!
//! Artifacts are kept in the database, content-addressed by sha256 and cut into chunks of
//! [`RELEASE_CHUNK_BYTES`], not in a directory beside it: with PostgreSQL several central
//! nodes share one database and no file system, and every node must be able to serve any
//! artifact; one backup then covers everything ops published. Chunking lets a ranged
//! download (a kiosk resuming) read only the chunks it needs.

use kiosk_api::{ReleaseManifest, SignedRelease};
use sqlx::Row as _;

use super::{Action, Doing as _, Store, StoreError};

/// Size of one stored chunk of an artifact.
pub const RELEASE_CHUNK_BYTES: usize = 1024 * 1024;

/// What [`Store::publish_release`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleasePublished {
    /// Stored.
    Published,
    /// A release with this version exists already; nothing was written.
    VersionTaken,
}

fn millis_to_time(ms: i64) -> Result<chrono::DateTime<chrono::Utc>, StoreError> {
    chrono::DateTime::from_timestamp_millis(ms).ok_or(StoreError::Corrupt("release time"))
}

fn to_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt("release size"))
}

fn release_of(row: &sqlx::any::AnyRow) -> Result<SignedRelease, StoreError> {
    let doing = "reading a release";
    Ok(SignedRelease {
        manifest: ReleaseManifest {
            version: row.try_get(0).doing(doing)?,
            sha256: row.try_get(1).doing(doing)?,
            size: to_u64(row.try_get(2).doing(doing)?)?,
            min_version: row.try_get(3).doing(doing)?,
            published_at: millis_to_time(row.try_get(4).doing(doing)?)?,
        },
        signature: row.try_get(5).doing(doing)?,
        key_id: row.try_get(6).doing(doing)?,
    })
}

const RELEASE_COLUMNS: &str = "version, sha256, size, min_version, published_at, signature, key_id";

impl Store {
    /// Stores a signed release and its artifact in one transaction. The caller has checked
    /// that `artifact` hashes to `release.manifest.sha256` and has its size.
    pub async fn publish_release(
        &self,
        release: &SignedRelease,
        artifact: &[u8],
    ) -> Result<ReleasePublished, StoreError> {
        let m = &release.manifest;
        let size = i64::try_from(m.size).map_err(|_| StoreError::Corrupt("release size"))?;
        let mut w = self.write().await?;
        let exists =
            sqlx::query_scalar::<_, String>("SELECT version FROM releases WHERE version = $1")
                .bind(&m.version)
                .fetch_optional(&mut *w.tx)
                .await
                .doing("looking for the release")?;
        if exists.is_some() {
            return Ok(ReleasePublished::VersionTaken);
        }
        // Another version may ship the very same bytes; they are stored once.
        let stored: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM release_blobs WHERE sha256 = $1")
                .bind(&m.sha256)
                .fetch_one(&mut *w.tx)
                .await
                .doing("looking for the artifact")?;
        if stored == 0 {
            for (index, chunk) in artifact.chunks(RELEASE_CHUNK_BYTES).enumerate() {
                let index = i64::try_from(index).map_err(|_| StoreError::Corrupt("chunk index"))?;
                sqlx::query(
                    "INSERT INTO release_blobs (sha256, chunk_index, data) VALUES ($1, $2, $3)",
                )
                .bind(&m.sha256)
                .bind(index)
                .bind(chunk.to_vec())
                .execute(&mut *w.tx)
                .await
                .doing("storing the artifact")?;
            }
        }
        sqlx::query("INSERT INTO releases (version, sha256, size, min_version, published_at, signature, key_id) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&m.version)
            .bind(&m.sha256)
            .bind(size)
            .bind(&m.min_version)
            .bind(m.published_at.timestamp_millis())
            .bind(&release.signature)
            .bind(&release.key_id)
            .execute(&mut *w.tx)
            .await
            .doing("storing the release")?;
        let detail = format!(
            "min_version {}, sha256 {}, key {}",
            m.min_version, m.sha256, release.key_id
        );
        w.audit(self, Action::ReleasePublish, &m.version, &detail)
            .await?;
        w.commit().await?;
        Ok(ReleasePublished::Published)
    }

    /// The signed release of `version`.
    pub async fn release(&self, version: &str) -> Result<Option<SignedRelease>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RELEASE_COLUMNS} FROM releases WHERE version = $1"
        )))
        .bind(version)
        .fetch_optional(self.pool())
        .await
        .doing("reading a release")?;
        row.as_ref().map(release_of).transpose()
    }

    /// Every release, newest publication first.
    pub async fn releases(&self) -> Result<Vec<SignedRelease>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RELEASE_COLUMNS} FROM releases ORDER BY published_at DESC, version"
        )))
        .fetch_all(self.pool())
        .await
        .doing("listing releases")?;
        rows.iter().map(release_of).collect()
    }

    /// Chunk `index` of the artifact `sha256` (each [`RELEASE_CHUNK_BYTES`] long but the last).
    pub async fn release_chunk(
        &self,
        sha256: &str,
        index: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let index = i64::try_from(index).map_err(|_| StoreError::Corrupt("chunk index"))?;
        sqlx::query_scalar::<_, Vec<u8>>(
            "SELECT data FROM release_blobs WHERE sha256 = $1 AND chunk_index = $2",
        )
        .bind(sha256)
        .bind(index)
        .fetch_optional(self.pool())
        .await
        .doing("reading the artifact")
    }
}
