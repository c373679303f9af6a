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

/// Orders two bundle versions as ops write them (`2026-11-26.1`, `2026-11-26.10`, `v9`,
/// `v10`): runs of digits compare as numbers, everything else as text, left to right. A kiosk
/// refuses a bundle older than the one in force by this order, and central refuses to publish
/// one, so an old signed bundle cannot be replayed to undo ops' later change.
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let run = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (run(a), run(b));
                // Leading zeros do not make a number larger.
                let trim = |s: &[u8]| {
                    let zeros = s.iter().take_while(|c| **c == b'0').count();
                    s[zeros..].to_vec()
                };
                let (da, db) = (trim(&a[..na]), trim(&b[..nb]));
                let order = da.len().cmp(&db.len()).then_with(|| da.cmp(&db));
                if order != Ordering::Equal {
                    return order;
                }
                a = &a[na..];
                b = &b[nb..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_as_ops_write_them() {
        use std::cmp::Ordering::{Equal, Greater, Less};
        for (a, b, order) in [
            ("2026-11-26.1", "2026-11-26.2", Less),
            ("2026-11-26.9", "2026-11-26.10", Less),
            ("2026-11-27.1", "2026-11-26.10", Greater),
            ("v9", "v10", Less),
            ("1.2.0", "1.10.0", Less),
            ("007", "7", Equal),
            ("2026-11-26", "2026-11-26.1", Less),
            ("same", "same", Equal),
        ] {
            assert_eq!(version_cmp(a, b), order, "{a} vs {b}");
            assert_eq!(version_cmp(b, a), order.reverse(), "{b} vs {a}");
        }
    }

    proptest::proptest! {
        #[test]
        fn version_order_is_a_total_order(a in "[0-9a-z.-]{0,12}", b in "[0-9a-z.-]{0,12}", c in "[0-9a-z.-]{0,12}") {
            proptest::prop_assert_eq!(version_cmp(&a, &b), version_cmp(&b, &a).reverse());
            if version_cmp(&a, &b).is_le() && version_cmp(&b, &c).is_le() {
                proptest::prop_assert!(version_cmp(&a, &c).is_le());
            }
        }
    }
}
