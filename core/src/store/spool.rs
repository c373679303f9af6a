//! Content-addressed attachment spool: `<dir>/spool/<sha256 of the plaintext>`, each file
//! sealed under the store key.
//!
//! A file is written to a temporary name, fsynced, renamed into place and the folder fsynced,
//! and only then entered in the `spool` table: a power cut leaves either no entry or an entry
//! whose file is whole. Stray files without an entry are swept at open.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{SPOOL_DIR, Store, StoreError, fsync_dir, now_ms};

/// Largest attachment the spool takes (a multi-page scan at kiosk resolution fits easily).
pub const MAX_ATTACHMENT_BYTES: u64 = 64 * 1024 * 1024;

/// Spooled attachments nobody references after this long are abandoned journeys' scans.
const ABANDONED_AFTER_MS: i64 = 24 * 3600 * 1000;

/// Files without an entry younger than this are not swept (see [`Store::sweep_spool`]).
const STRAY_AFTER: std::time::Duration = std::time::Duration::from_secs(600);

/// An attachment's identity: the lowercase hex sha256 of its content.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttachmentId(String);

impl AttachmentId {
    /// The id of `content`.
    pub fn of(content: &[u8]) -> AttachmentId {
        AttachmentId(hex::encode(Sha256::digest(content)))
    }

    /// Parses a hex sha256 (64 lowercase hex digits).
    pub fn parse(hex_sha256: &str) -> Option<AttachmentId> {
        let ok = hex_sha256.len() == 64
            && hex_sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| AttachmentId(hex_sha256.to_owned()))
    }

    pub(super) fn from_trusted(hex_sha256: String) -> AttachmentId {
        AttachmentId(hex_sha256)
    }

    /// The hex sha256.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AttachmentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Store {
    /// Durably spools an attachment (sealed at rest) and returns its id, to be named in the
    /// event or record that references it. Spooling the same content twice is a no-op.
    pub fn spool_attachment(&self, content: &[u8]) -> Result<AttachmentId, StoreError> {
        if content.len() as u64 > MAX_ATTACHMENT_BYTES {
            return Err(StoreError::AttachmentTooLarge {
                size: content.len() as u64,
                limit: MAX_ATTACHMENT_BYTES,
            });
        }
        let id = AttachmentId::of(content);
        let known: Option<i64> = self
            .conn()
            .query_row(
                "SELECT 1 FROM spool WHERE sha256 = ?1",
                [id.as_str()],
                |row| row.get(0),
            )
            .optional()?;
        if known.is_some() {
            return Ok(id);
        }
        let sealed = self.inner.key.seal(&spool_context(&id), content)?;
        let dir = self.inner.dir.join(SPOOL_DIR);
        let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
        let write = || -> std::io::Result<()> {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            file.write_all(&sealed)?;
            file.sync_all()
        };
        if let Err(source) = write() {
            // A full disk leaves no half file behind, and gives its space back at once.
            let _ = fs::remove_file(&tmp);
            return Err(StoreError::io(&tmp, source));
        }
        let path = self.spool_path(&id);
        if let Err(source) = fs::rename(&tmp, &path) {
            let _ = fs::remove_file(&tmp);
            return Err(StoreError::io(&path, source));
        }
        let entered = fsync_dir(&dir).and_then(|()| {
            self.conn().execute(
                "INSERT OR IGNORE INTO spool (sha256, size, stored_size, created_ms)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    id.as_str(),
                    content.len() as i64,
                    sealed.len() as i64,
                    now_ms()
                ],
            )?;
            Ok(())
        });
        if let Err(e) = entered {
            // No entry, so no event can name it: the file is only in the way.
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        if let Err(e) = self.note_growth(sealed.len() as u64) {
            tracing::warn!(error = %e, "disk budget check after spooling failed");
        }
        Ok(id)
    }

    /// The plaintext of a spooled attachment, checked against its id: `Io` when the file
    /// cannot be read (missing), `Crypto` when it is damaged.
    pub fn read_attachment(&self, id: &AttachmentId) -> Result<Vec<u8>, StoreError> {
        let path = self.spool_path(id);
        let sealed = fs::read(&path).map_err(|source| StoreError::io(&path, source))?;
        let plain = self.inner.key.open(&spool_context(id), &sealed)?;
        if AttachmentId::of(&plain) != *id {
            return Err(StoreError::Crypto {
                context: spool_context(id),
            });
        }
        Ok(plain)
    }

    /// Whether central already confirmed the whole attachment.
    pub fn attachment_uploaded(&self, id: &AttachmentId) -> Result<bool, StoreError> {
        let uploaded: Option<bool> = self
            .conn()
            .query_row(
                "SELECT uploaded FROM spool WHERE sha256 = ?1",
                [id.as_str()],
                |row| row.get(0),
            )
            .optional()?;
        Ok(uploaded.unwrap_or(false))
    }

    /// Remembers that central has the whole attachment, to skip asking again.
    pub fn mark_attachment_uploaded(&self, id: &AttachmentId) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE spool SET uploaded = 1 WHERE sha256 = ?1",
            [id.as_str()],
        )?;
        Ok(())
    }

    fn spool_path(&self, id: &AttachmentId) -> PathBuf {
        self.inner.dir.join(SPOOL_DIR).join(id.as_str())
    }

    pub(super) fn remove_spool_files(&self, ids: &[String]) {
        for sha in ids {
            let path = self.inner.dir.join(SPOOL_DIR).join(sha);
            if let Err(e) = fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                // The row is gone, so the next sweep at open removes the file.
                tracing::warn!(path = %path.display(), error = %e, "cannot remove spool file");
            }
        }
    }

    /// Removes temporary files, files without an entry, and entries no event references that
    /// are older than a day (journeys abandoned after scanning).
    pub(super) fn sweep_spool(&self) -> Result<(), StoreError> {
        let abandoned: Vec<String> = {
            let conn = self.conn();
            let mut stmt = conn.prepare(
                "DELETE FROM spool WHERE created_ms < ?1
                 AND NOT EXISTS (SELECT 1 FROM outbox_attachments a WHERE a.sha256 = spool.sha256)
                 AND NOT EXISTS (SELECT 1 FROM quarantine_attachments q
                                 WHERE q.sha256 = spool.sha256)
                 RETURNING sha256",
            )?;
            stmt.query_map([now_ms() - ABANDONED_AFTER_MS], |row| row.get(0))?
                .collect::<Result<_, _>>()?
        };
        self.remove_spool_files(&abandoned);
        let dir = self.inner.dir.join(SPOOL_DIR);
        let entries = fs::read_dir(&dir).map_err(|source| StoreError::io(&dir, source))?;
        let conn = self.conn();
        for entry in entries {
            let entry = entry.map_err(|source| StoreError::io(&dir, source))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let known: Option<i64> = if AttachmentId::parse(&name).is_some() {
                conn.query_row("SELECT 1 FROM spool WHERE sha256 = ?1", [&name], |row| {
                    row.get(0)
                })
                .optional()?
            } else {
                None
            };
            // A file younger than a few minutes may be one another handle of this store is
            // between its rename and its insert: leave it to a later sweep.
            let settled = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|age| age >= STRAY_AFTER);
            if known.is_none() && settled {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(())
    }
}

fn spool_context(id: &AttachmentId) -> String {
    format!("spool:{id}")
}
