//! The kiosk's trust anchors: central's URL and the ops public key that must sign every bundle
//! and release the kiosk applies.
//!
//! They live in `trust.json` beside the configuration (`/etc/kiosk/trust.json`), which
//! `kioskctl provision` writes as root, and not in the data folder, which the unprivileged app
//! can write. The update agent runs as root and installs code: it takes central's URL and the
//! key it verifies releases with only from this file, and only if the file and its folder are
//! owned by the agent's own user and writable by no one else ([`Trust::load_owned`]). A
//! compromised app can then neither point root at its own server nor at its own key.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use kiosk_api::rotation::KeyAnchors;
use serde::{Deserialize, Serialize};

use crate::identity::{IdentityError, write_atomic};

/// File name of the trust anchors, in the configuration's folder.
pub const TRUST_FILE: &str = "trust.json";

/// The trust anchors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trust {
    /// Base URL of central, as enrolled.
    pub central_url: String,
    /// Ops public key (standard base64) that signs bundles, and releases too unless
    /// `release_public_key` is set.
    pub ops_public_key: String,
    /// The release key, when ops keeps it apart from the catalog key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_public_key: Option<String>,
    /// The private CA (PEM) that alone may vouch for central's certificate, when the hall
    /// has one (`kioskctl provision --ca-file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub central_ca_pem: Option<String>,
}

/// Why the trust anchors cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// No file: the kiosk was provisioned before trust anchors existed, or never.
    #[error(
        "no trust anchors at {0}; provision the kiosk as root with `kioskctl provision` (it writes them)"
    )]
    Missing(PathBuf),
    /// The file or its folder could be changed by someone other than its reader.
    #[error("{path} is not trusted: {why}; it must be written by root (`kioskctl provision`)")]
    Untrusted {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// Not the file's shape, or a key that is not a key.
    #[error("{path} is damaged: {problem}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl Trust {
    /// Where the trust anchors of the configuration at `config` are: beside it.
    pub fn beside(config: &Path) -> PathBuf {
        match config.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join(TRUST_FILE),
            _ => PathBuf::from(TRUST_FILE),
        }
    }

    /// Writes the anchors to `path` (mode 0644: anyone may read them, only the writer may
    /// change them), atomically.
    pub fn write(&self, path: &Path) -> Result<(), TrustError> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| TrustError::Corrupt {
            path: path.to_owned(),
            problem: e.to_string(),
        })?;
        write_atomic(path, &text, 0o644).map_err(|e| match e {
            IdentityError::Io { path, source } => TrustError::Io { path, source },
            other => TrustError::Corrupt {
                path: path.to_owned(),
                problem: other.to_string(),
            },
        })
    }

    /// Reads the anchors at `path`, trusting them only if the file (not a symlink) and its
    /// folder belong to this process's effective user and no one else may write either.
    pub fn load_owned(path: &Path) -> Result<Trust, TrustError> {
        let me = nix::unistd::geteuid().as_raw();
        let meta = match std::fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TrustError::Missing(path.to_owned()));
            }
            Err(source) => {
                return Err(TrustError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        if !meta.is_file() {
            return Err(TrustError::Untrusted {
                path: path.to_owned(),
                why: "not a plain file (a symlink could point anywhere)".into(),
            });
        }
        owned_by(path, &meta, me)?;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        let dir_meta = std::fs::metadata(&dir).map_err(|source| TrustError::Io {
            path: dir.clone(),
            source,
        })?;
        // Whoever may write the folder may replace the file.
        owned_by(&dir, &dir_meta, me)?;
        let text = std::fs::read(path).map_err(|source| TrustError::Io {
            path: path.to_owned(),
            source,
        })?;
        let trust: Trust = serde_json::from_slice(&text).map_err(|e| TrustError::Corrupt {
            path: path.to_owned(),
            problem: e.to_string(),
        })?;
        trust.anchors().map_err(|problem| TrustError::Corrupt {
            path: path.to_owned(),
            problem,
        })?;
        Ok(trust)
    }

    /// The ops public key.
    pub fn ops_key(&self) -> Result<VerifyingKey, String> {
        kiosk_api::keys::public_key_from_base64(&self.ops_public_key)
            .map_err(|e| format!("ops_public_key: {e}"))
    }

    /// The keys as provisioned, from which key statements are walked. The agent does not
    /// write them back (`/etc` is read-only to it): it walks central's full list each time.
    pub fn anchors(&self) -> Result<KeyAnchors, String> {
        let catalog = self.ops_key()?;
        let release = match &self.release_public_key {
            Some(text) => kiosk_api::keys::public_key_from_base64(text)
                .map_err(|e| format!("release_public_key: {e}"))?,
            None => catalog,
        };
        Ok(KeyAnchors {
            catalog,
            release,
            revoked: Default::default(),
        })
    }
}

/// Refuses a file or folder that is not `uid`'s, or that its group or others may write.
fn owned_by(path: &Path, meta: &std::fs::Metadata, uid: u32) -> Result<(), TrustError> {
    let untrusted = |why: String| TrustError::Untrusted {
        path: path.to_owned(),
        why,
    };
    if meta.uid() != uid {
        return Err(untrusted(format!(
            "owned by uid {}, not by uid {uid} that reads it",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(untrusted(format!(
            "its group or others may write it (mode {:o})",
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn anchors() -> Trust {
        Trust {
            central_url: "https://central.example".into(),
            ops_public_key: kiosk_api::keys::public_key_to_base64(
                &kiosk_api::keys::generate().verifying_key(),
            ),
            release_public_key: None,
            central_ca_pem: None,
        }
    }

    fn private_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    #[test]
    fn anchors_written_by_their_reader_are_read_back() {
        let dir = private_dir();
        let path = dir.path().join(TRUST_FILE);
        let trust = anchors();
        trust.write(&path).unwrap();
        assert_eq!(Trust::load_owned(&path).unwrap(), trust);
        assert_eq!(
            Trust::beside(&dir.path().join("kiosk.toml")),
            path,
            "the anchors sit beside the configuration"
        );
    }

    #[test]
    fn anchors_others_may_change_are_not_trusted() {
        let dir = private_dir();
        let path = dir.path().join(TRUST_FILE);
        anchors().write(&path).unwrap();

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let err = Trust::load_owned(&path).unwrap_err();
        assert!(matches!(err, TrustError::Untrusted { .. }), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

        // A folder others may write: the file could be swapped.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = Trust::load_owned(&path).unwrap_err();
        assert!(
            matches!(&err, TrustError::Untrusted { path: p, .. } if p == dir.path()),
            "{err}"
        );
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

        // A symlink to anchors elsewhere.
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(matches!(
            Trust::load_owned(&link),
            Err(TrustError::Untrusted { .. })
        ));

        assert!(matches!(
            Trust::load_owned(&dir.path().join("none.json")),
            Err(TrustError::Missing(_))
        ));
        std::fs::write(&path, b"{\"central_url\": \"x\"}").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            Trust::load_owned(&path),
            Err(TrustError::Corrupt { .. })
        ));
    }

    #[test]
    fn anchors_owned_by_another_user_are_not_trusted() {
        let dir = private_dir();
        let path = dir.path().join(TRUST_FILE);
        anchors().write(&path).unwrap();
        // Only root can give a file away; as anyone else the mode checks above stand.
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIPPED: not root, cannot chown to another user");
            return;
        }
        let nobody = nix::unistd::Uid::from_raw(65534);
        nix::unistd::chown(&path, Some(nobody), None).unwrap();
        let err = Trust::load_owned(&path).unwrap_err();
        assert!(
            matches!(&err, TrustError::Untrusted { why, .. } if why.contains("uid 65534")),
            "{err}"
        );
    }
}
