//! Encryption of personal data at rest under the per-kiosk store key.
//!
//! XChaCha20-Poly1305 with a random 24-byte nonce per value: random nonces of that size never
//! collide in practice, so no counter has to survive a power cut. Every sealed value is bound
//! to where it lives (associated data such as `outbox:<event id>`), so a ciphertext copied
//! into another row or file fails to open instead of silently decrypting as the wrong thing.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use super::StoreError;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

/// The per-kiosk key that encrypts personal data in the store and the spool.
///
/// Lives in its own file (mode 0600, owned by the kiosk's user), never in the database, so a
/// copied database file alone reveals no citizen data.
#[derive(Clone)]
pub struct StoreKey {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(..)")
    }
}

impl StoreKey {
    /// Loads the key file at `path`, or creates it (mode 0600, fsynced) when it does not exist.
    ///
    /// Refuses a key file that group or others can read: such a key no longer protects anything,
    /// and the technician has to know.
    pub fn load_or_create(path: &Path) -> Result<StoreKey, StoreError> {
        match fs::read(path) {
            Ok(bytes) => {
                let mode = fs::metadata(path)
                    .map_err(|source| StoreError::io(path, source))?
                    .permissions()
                    .mode();
                if mode & 0o077 != 0 {
                    return Err(StoreError::Key {
                        path: path.to_owned(),
                        message: format!(
                            "mode is {:o}, expected 600; run `chmod 600 {}`",
                            mode & 0o777,
                            path.display()
                        ),
                    });
                }
                StoreKey::from_bytes(&bytes).map_err(|message| StoreError::Key {
                    path: path.to_owned(),
                    message,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => StoreKey::create(path),
            Err(source) => Err(StoreError::io(path, source)),
        }
    }

    fn create(path: &Path) -> Result<StoreKey, StoreError> {
        let mut bytes = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| StoreError::io(path, source))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(|source| StoreError::io(path, source))?;
        if let Some(parent) = path.parent() {
            super::fsync_dir(parent)?;
        }
        StoreKey::from_bytes(&bytes).map_err(|message| StoreError::Key {
            path: path.to_owned(),
            message,
        })
    }

    /// A key from raw bytes (32 of them).
    pub fn from_bytes(bytes: &[u8]) -> Result<StoreKey, String> {
        if bytes.len() != KEY_LEN {
            return Err(format!(
                "expected {KEY_LEN} bytes of key, found {}",
                bytes.len()
            ));
        }
        let cipher = XChaCha20Poly1305::new_from_slice(bytes)
            .map_err(|_| format!("expected {KEY_LEN} bytes of key"))?;
        Ok(StoreKey { cipher })
    }

    /// Encrypts `plain`, bound to `context`; output is `nonce || ciphertext+tag`.
    pub(crate) fn seal(&self, context: &str, plain: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Crypto {
                context: context.to_owned(),
            })?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts what [`StoreKey::seal`] made for the same `context`.
    pub(crate) fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        let err = || StoreError::Crypto {
            context: context.to_owned(),
        };
        if sealed.len() < NONCE_LEN {
            return Err(err());
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| err())
    }
}
