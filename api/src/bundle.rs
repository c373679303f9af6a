//! Bundles (catalog, config) signed by the ops key, verified by the kiosk before it applies
//! them. The signature covers kind and version too, so a valid old bundle cannot be served
//! under a new name.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest as _, Sha256};

use crate::keys::key_id;
use crate::wire::SignedBundle;

/// Kind of the bundle holding ops' part of a hall's kiosk configuration: a JSON object in the
/// shape of the kiosk's configuration file, restricted to the keys ops may set (the kiosk's
/// `kiosk_core::config::CENTRAL_KEYS`). The catalog's kind is [`crate::catalog::BUNDLE_KIND`].
pub const CONFIG_BUNDLE_KIND: &str = "config";

/// Why a bundle must not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Payload or signature is not valid base64, or the signature has the wrong length.
    #[error("bundle {kind} {version}: {what} is not valid base64 of the right length")]
    Malformed {
        /// Bundle kind.
        kind: String,
        /// Bundle version.
        version: String,
        /// Which field.
        what: &'static str,
    },
    /// Signed by a key other than the ops key this kiosk was enrolled with.
    #[error(
        "bundle {kind} {version} is signed by key {got}, expected ops key {expected}; re-enrol the kiosk if ops rotated its key"
    )]
    WrongKey {
        /// Bundle kind.
        kind: String,
        /// Bundle version.
        version: String,
        /// Key id expected.
        expected: String,
        /// Key id in the bundle.
        got: String,
    },
    /// The signature does not verify.
    #[error("bundle {kind} {version}: signature does not verify; do not apply it")]
    BadSignature {
        /// Bundle kind.
        kind: String,
        /// Bundle version.
        version: String,
    },
}

/// The exact bytes that are signed for a bundle.
pub fn bundle_signing_string(kind: &str, version: &str, payload: &[u8]) -> String {
    format!(
        "{kind}\n{version}\n{}",
        hex::encode(Sha256::digest(payload))
    )
}

/// Signs `payload` as bundle `kind` `version` with the ops key.
pub fn sign_bundle(
    ops_key: &SigningKey,
    kind: &str,
    version: &str,
    payload: &[u8],
) -> SignedBundle {
    let signature = ops_key.sign(bundle_signing_string(kind, version, payload).as_bytes());
    SignedBundle {
        kind: kind.to_owned(),
        version: version.to_owned(),
        payload: B64.encode(payload),
        signature: B64.encode(signature.to_bytes()),
        key_id: key_id(&ops_key.verifying_key()),
    }
}

/// Verifies a bundle with the ops public key and returns its payload bytes.
pub fn verify_bundle(
    ops_key: &VerifyingKey,
    bundle: &SignedBundle,
) -> Result<Vec<u8>, BundleError> {
    let malformed = |what| BundleError::Malformed {
        kind: bundle.kind.clone(),
        version: bundle.version.clone(),
        what,
    };
    let expected = key_id(ops_key);
    if bundle.key_id != expected {
        return Err(BundleError::WrongKey {
            kind: bundle.kind.clone(),
            version: bundle.version.clone(),
            expected,
            got: bundle.key_id.clone(),
        });
    }
    let payload = B64
        .decode(&bundle.payload)
        .map_err(|_| malformed("payload"))?;
    let signature_bytes = B64
        .decode(&bundle.signature)
        .map_err(|_| malformed("signature"))?;
    let signature = Signature::from_slice(&signature_bytes).map_err(|_| malformed("signature"))?;
    let message = bundle_signing_string(&bundle.kind, &bundle.version, &payload);
    ops_key
        .verify(message.as_bytes(), &signature)
        .map_err(|_| BundleError::BadSignature {
            kind: bundle.kind.clone(),
            version: bundle.version.clone(),
        })?;
    Ok(payload)
}
