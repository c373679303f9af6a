//! Key encodings shared by kiosk, central and ops tools.
//!
//! Public keys travel as standard base64 of their 32 bytes. Private key files are PKCS#8 PEM
//! (`-----BEGIN PRIVATE KEY-----`), which `openssl pkey` can read too.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::pkcs8::{
    DecodePrivateKey as _, EncodePrivateKey as _, spki::der::pem::LineEnding,
};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// A key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not base64 of 32 bytes, or not a valid curve point.
    #[error("public key is not standard base64 of a 32-byte ed25519 key")]
    BadPublicKey,
    /// Not a PKCS#8 PEM ed25519 private key.
    #[error("private key is not a PKCS#8 PEM ed25519 key: {0}")]
    BadPrivateKey(String),
}

/// A new random key pair.
pub fn generate() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

/// Standard base64 of the 32 public key bytes.
pub fn public_key_to_base64(key: &VerifyingKey) -> String {
    B64.encode(key.as_bytes())
}

/// Reads a public key written by [`public_key_to_base64`].
pub fn public_key_from_base64(text: &str) -> Result<VerifyingKey, KeyError> {
    let bytes = B64
        .decode(text.trim())
        .map_err(|_| KeyError::BadPublicKey)?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::BadPublicKey)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::BadPublicKey)
}

/// Short identifier of a public key: the first 16 hex characters of sha256 of its bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// PKCS#8 PEM of a private key, for a file of mode 0600.
pub fn private_key_to_pem(key: &SigningKey) -> String {
    key.to_pkcs8_pem(LineEnding::LF)
        .map(|pem| pem.to_string())
        .expect("invariant: encoding a valid ed25519 key as PKCS#8 cannot fail")
}

/// Reads a private key written by [`private_key_to_pem`].
pub fn private_key_from_pem(pem: &str) -> Result<SigningKey, KeyError> {
    SigningKey::from_pkcs8_pem(pem).map_err(|e| KeyError::BadPrivateKey(e.to_string()))
}
