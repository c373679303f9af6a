//! Software releases from central (contract C): the signed manifest, and the artifact
//! downloaded into a partial file that survives the agent and resumes with `Range: bytes=N-`.
//!
//! A download first checks that the bytes still to come fit on the disk with
//! [`DOWNLOAD_RESERVE_BYTES`] to spare: an update must never be what fills the disk a
//! citizen's records are written to.

use std::io::Write as _;
use std::path::Path;

use kiosk_api::{SignedRelease, routes};
use reqwest::{Method, StatusCode, header};

use super::{CentralClient, SyncError};

/// Free space a download leaves untouched (the store's own reserve for citizens' records,
/// in case the update root shares their filesystem).
pub const DOWNLOAD_RESERVE_BYTES: u64 = crate::store::DEFAULT_MIN_FREE_BYTES;

/// What [`CentralClient::download_artifact`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Download {
    /// Bytes already in the partial file that were kept (0: started from the beginning).
    pub resumed_from: u64,
    /// Bytes received in this call.
    pub fetched: u64,
    /// Size of the file now.
    pub size: u64,
}

impl CentralClient {
    /// `GET /v1/releases/{version}/manifest`: the signed manifest, not yet verified (the
    /// caller verifies it with the ops key, `kiosk_api::verify_release`).
    pub async fn release_manifest(&self, version: &str) -> Result<SignedRelease, SyncError> {
        let path = routes::release_manifest(version);
        let response = self
            .send(&path, self.signed(Method::GET, &path, Vec::new()))
            .await?;
        if response.status() != StatusCode::OK {
            return Err(self.refused(&path, response).await);
        }
        let body = self.body(&path, response).await?;
        self.parse(&path, &body)
    }

    /// Downloads the artifact of `version` into `partial`, continuing from the bytes already
    /// there (`Range: bytes=N-`). A partial file longer than `size` is started over. Every
    /// received block is written before the next is read, so an interrupted download keeps
    /// what it got; on error the file holds a prefix of what central sent, to be resumed.
    /// The caller checks size and digest of the finished file.
    pub async fn download_artifact(
        &self,
        version: &str,
        partial: &Path,
        size: u64,
    ) -> Result<Download, SyncError> {
        let path = routes::release_artifact(version);
        let io = |source: std::io::Error| SyncError::Protocol {
            url: format!("{}{path}", self.base_url()),
            message: format!("writing {}: {source}", partial.display()),
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(partial)
            .map_err(io)?;
        let mut have = file.metadata().map_err(io)?.len();
        if have > size {
            file.set_len(0).map_err(io)?;
            have = 0;
        }
        if have == size {
            return Ok(Download {
                resumed_from: have,
                fetched: 0,
                size: have,
            });
        }
        check_room(partial, size - have)?;
        let mut request = self.signed(Method::GET, &path, Vec::new());
        if have > 0 {
            request = request.header(header::RANGE, format!("bytes={have}-"));
        }
        let mut response = self.send(&path, request).await?;
        let resumed_from = match response.status() {
            StatusCode::PARTIAL_CONTENT => {
                let start = response
                    .headers()
                    .get(header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(kiosk_api::range::content_range)
                    .map(|r| r.first);
                if start != Some(have) {
                    return Err(SyncError::Protocol {
                        url: format!("{}{path}", self.base_url()),
                        message: format!(
                            "asked for bytes {have}- and got Content-Range {:?}",
                            response.headers().get(header::CONTENT_RANGE)
                        ),
                    });
                }
                have
            }
            StatusCode::OK => {
                // Central sent the whole artifact (it ignored the range): start over.
                file.set_len(0).map_err(io)?;
                0
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                // What we hold does not fit central's artifact: start over next time.
                file.set_len(0).map_err(io)?;
                return Err(self.refused(&path, response).await);
            }
            _ => return Err(self.refused(&path, response).await),
        };
        let mut fetched = 0u64;
        let mut written = resumed_from;
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(source) => {
                    let _ = file.sync_data();
                    return Err(SyncError::Http {
                        url: format!("{}{path}", self.base_url()),
                        source,
                    });
                }
            };
            // Never let a server that sends too much grow the file past the manifest's size.
            let room = size.saturating_sub(written);
            let take = (chunk.len() as u64).min(room) as usize;
            file.write_all(&chunk[..take]).map_err(io)?;
            written += take as u64;
            fetched += take as u64;
            if take < chunk.len() {
                break;
            }
        }
        file.sync_data().map_err(io)?;
        Ok(Download {
            resumed_from,
            fetched,
            size: written,
        })
    }
}

/// Refuses a download of `remaining` bytes into `partial` that would leave less than
/// [`DOWNLOAD_RESERVE_BYTES`] free.
fn check_room(partial: &Path, remaining: u64) -> Result<(), SyncError> {
    let dir = partial
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(free) = crate::store::free_bytes(dir) else {
        // Nothing to judge by: the write itself will tell.
        return Ok(());
    };
    let need = remaining.saturating_add(DOWNLOAD_RESERVE_BYTES);
    if free < need {
        return Err(SyncError::NoSpace {
            what: "the release download".into(),
            path: dir.to_owned(),
            need,
            free,
        });
    }
    Ok(())
}
