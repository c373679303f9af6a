//! Who this kiosk is to central: its id, hall, reserved number band, the ops key it trusts,
//! and its own signing key. Written once by `kioskctl provision`, read by everything that talks
//! to central (the app's sync, the update agent, `kioskctl selftest`).
//!
//! Two files in the data directory: `identity.json` (public facts) and `kiosk.pem` (the
//! private key, mode 0600). Both are written to a temporary name, synced and renamed, so a
//! power cut leaves either the old identity or the new one, never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};
use kiosk_api::rotation::KeyAnchors;
use kiosk_api::{EnrolRequest, NumberBand, keys};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::sync::{CentralClient, SyncError, Timeouts};

/// File name of the public identity in the data directory.
pub const IDENTITY_FILE: &str = "identity.json";
/// File name of the kiosk's private signing key in the data directory.
pub const KEY_FILE: &str = "kiosk.pem";

/// What central told the kiosk at enrolment, plus where central is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The id central assigned; sent as `x-kiosk-id`.
    pub kiosk_id: Uuid,
    /// The hall the enrolment token was bound to.
    pub hall_id: String,
    /// The hall's display name.
    pub hall_name: String,
    /// Queue numbers reserved for this kiosk when offline with no lease left.
    pub number_band: NumberBand,
    /// Ops public key (base64) that must sign every bundle this kiosk applies: the catalog
    /// key, moved on by key statements the downlink follows.
    pub ops_public_key: String,
    /// The release key, when ops keeps it apart from the catalog key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_public_key: Option<String>,
    /// Key ids revoked by a statement this kiosk followed: never trusted again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked_key_ids: Vec<String>,
    /// The private CA (PEM) central's certificate is checked against, when the hall has one
    /// (`kioskctl provision --ca-file`); otherwise the public roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub central_ca_pem: Option<String>,
    /// Base URL of central this kiosk enrolled with.
    pub central_url: String,
    /// The hall's code on the platform: the first digits of this kiosk's application numbers.
    pub hall_code: kiosk_api::HallCode,
    /// This kiosk's number in its hall, unique there: the next digits.
    pub kiosk_no: kiosk_api::KioskNo,
}

/// Why the identity could not be loaded, created or used.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is there but does not hold what it should.
    #[error("{path}: {problem}; re-provision the kiosk with `kioskctl provision`")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// Enrolment with central failed.
    #[error("enrolment failed: {0}")]
    Enrol(#[from] SyncError),
}

impl Identity {
    /// The identity in `data_dir`, or `None` if the kiosk was never provisioned.
    pub fn load(data_dir: &Path) -> Result<Option<Identity>, IdentityError> {
        let path = data_dir.join(IDENTITY_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(IdentityError::Io { path, source }),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| IdentityError::Corrupt {
                path,
                problem: e.to_string(),
            })
    }

    /// The kiosk's private signing key from `data_dir`.
    pub fn signing_key(data_dir: &Path) -> Result<SigningKey, IdentityError> {
        let path = data_dir.join(KEY_FILE);
        let pem = std::fs::read_to_string(&path).map_err(|source| IdentityError::Io {
            path: path.clone(),
            source,
        })?;
        keys::private_key_from_pem(&pem).map_err(|e| IdentityError::Corrupt {
            path,
            problem: e.to_string(),
        })
    }

    /// The ops public key every bundle and release must be signed with.
    pub fn ops_key(&self) -> Result<VerifyingKey, IdentityError> {
        keys::public_key_from_base64(&self.ops_public_key).map_err(|e| IdentityError::Corrupt {
            path: PathBuf::from(IDENTITY_FILE),
            problem: format!("ops_public_key: {e}"),
        })
    }

    /// The keys this kiosk trusts: the catalog key, the release key (the catalog key if ops
    /// never split them) and the revoked ones.
    pub fn anchors(&self) -> Result<KeyAnchors, IdentityError> {
        let catalog = self.ops_key()?;
        let release = match &self.release_public_key {
            Some(text) => {
                keys::public_key_from_base64(text).map_err(|e| IdentityError::Corrupt {
                    path: PathBuf::from(IDENTITY_FILE),
                    problem: format!("release_public_key: {e}"),
                })?
            }
            None => catalog,
        };
        Ok(KeyAnchors {
            catalog,
            release,
            revoked: self.revoked_key_ids.iter().cloned().collect(),
        })
    }

    /// Takes `anchors` as the keys this kiosk trusts and writes the identity (not the key) to
    /// `data_dir`.
    pub fn keep_anchors(
        &mut self,
        data_dir: &Path,
        anchors: &KeyAnchors,
    ) -> Result<(), IdentityError> {
        self.ops_public_key = keys::public_key_to_base64(&anchors.catalog);
        self.release_public_key = Some(keys::public_key_to_base64(&anchors.release));
        self.revoked_key_ids = anchors.revoked.iter().cloned().collect();
        let json = serde_json::to_vec_pretty(self).map_err(|e| IdentityError::Corrupt {
            path: data_dir.join(IDENTITY_FILE),
            problem: e.to_string(),
        })?;
        write_atomic(&data_dir.join(IDENTITY_FILE), &json, 0o600)
    }

    /// A client that signs as this kiosk, with the key from `data_dir`.
    pub fn client(
        &self,
        data_dir: &Path,
        timeouts: Timeouts,
    ) -> Result<CentralClient, IdentityError> {
        let key = Identity::signing_key(data_dir)?;
        Ok(CentralClient::trusting(
            &self.central_url,
            self.central_ca_pem.as_deref(),
            self.kiosk_id,
            key,
            timeouts,
        )?)
    }

    /// Generates a new key, enrols with central using the one-time `token`, and writes the key
    /// and the identity into `data_dir` (created 0700 if missing). An earlier identity there is
    /// replaced only after central has accepted the enrolment.
    pub async fn enrol(
        data_dir: &Path,
        central_url: &str,
        token: &str,
        hostname: &str,
        version: &str,
    ) -> Result<Identity, IdentityError> {
        Identity::enrol_trusting(data_dir, central_url, None, token, hostname, version).await
    }

    /// [`Identity::enrol`] checking central's certificate against the private CA `ca_pem`
    /// only, and keeping it for every later connection.
    pub async fn enrol_trusting(
        data_dir: &Path,
        central_url: &str,
        ca_pem: Option<&str>,
        token: &str,
        hostname: &str,
        version: &str,
    ) -> Result<Identity, IdentityError> {
        let key = keys::generate();
        let enrolment = crate::sync::enrol_trusting(
            central_url,
            ca_pem,
            &EnrolRequest {
                token: token.to_owned(),
                public_key: keys::public_key_to_base64(&key.verifying_key()),
                hostname: hostname.to_owned(),
                version: version.to_owned(),
            },
        )
        .await?;
        let identity = Identity {
            kiosk_id: enrolment.kiosk_id,
            hall_id: enrolment.hall_id,
            hall_name: enrolment.hall_name,
            number_band: enrolment.number_band,
            ops_public_key: enrolment.ops_public_key,
            release_public_key: enrolment.release_public_key,
            revoked_key_ids: Vec::new(),
            central_ca_pem: ca_pem.map(str::to_owned),
            central_url: central_url.trim_end_matches('/').to_owned(),
            hall_code: enrolment.hall_code,
            kiosk_no: enrolment.kiosk_no,
        };
        identity.save(data_dir, &key)?;
        Ok(identity)
    }

    /// Writes the key and the identity atomically into `data_dir`.
    pub fn save(&self, data_dir: &Path, key: &SigningKey) -> Result<(), IdentityError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .map_err(|source| IdentityError::Io {
                path: data_dir.to_owned(),
                source,
            })?;
        // Key first: an identity without its key would be unusable, a key without identity
        // is only an unused file.
        write_atomic(
            &data_dir.join(KEY_FILE),
            keys::private_key_to_pem(key).as_bytes(),
            0o600,
        )?;
        let json = serde_json::to_vec_pretty(self).map_err(|e| IdentityError::Corrupt {
            path: data_dir.join(IDENTITY_FILE),
            problem: e.to_string(),
        })?;
        write_atomic(&data_dir.join(IDENTITY_FILE), &json, 0o600)
    }
}

/// Writes `bytes` to `path` through a synced temporary file and a rename, with `mode`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), IdentityError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| IdentityError::Io {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(dir) = path.parent() {
        // The rename is durable only once the directory entry is.
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_identity_loads_back_with_its_key() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Identity::load(dir.path()).unwrap(), None);
        let key = keys::generate();
        let identity = Identity {
            kiosk_id: Uuid::now_v7(),
            hall_id: "dongcheng".into(),
            hall_name: "东城区政务服务中心".into(),
            number_band: NumberBand {
                first: 500,
                last: 549,
            },
            ops_public_key: keys::public_key_to_base64(&keys::generate().verifying_key()),
            release_public_key: None,
            revoked_key_ids: Vec::new(),
            central_ca_pem: None,
            central_url: "http://127.0.0.1:9".into(),
            hall_code: kiosk_api::HallCode::new(12).unwrap(),
            kiosk_no: kiosk_api::KioskNo::new(3).unwrap(),
        };
        identity.save(dir.path(), &key).unwrap();
        assert_eq!(Identity::load(dir.path()).unwrap(), Some(identity.clone()));
        assert_eq!(
            Identity::signing_key(dir.path()).unwrap().to_bytes(),
            key.to_bytes()
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the private key must be private");
        identity.ops_key().unwrap();
    }

    #[test]
    fn a_damaged_identity_file_is_refused_with_a_way_forward() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(IDENTITY_FILE), b"{\"kiosk_id\": 3").unwrap();
        let err = Identity::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("kioskctl provision"), "{err}");
    }
}
