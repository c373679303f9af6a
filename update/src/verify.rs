//! The checks before anything is installed: the manifest's signature under the ops key, that
//! it is the release the desired state offered, the version rules, and the artifact's digest.

use std::io::Read as _;
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use kiosk_api::fleet::ReleaseError;
use kiosk_api::{ReleaseManifest, ReleaseRef, SignedRelease, verify_release};
use semver::Version;
use sha2::{Digest as _, Sha256};

use crate::reason::{Reason, Refusal};

/// Checks the signature of `release` with the ops key and that it matches `offered`.
pub fn verify_manifest(
    ops_key: &VerifyingKey,
    offered: &ReleaseRef,
    release: &SignedRelease,
) -> Result<ReleaseManifest, Refusal> {
    let version = &offered.version;
    if release.signature.trim().is_empty() {
        return Err(Refusal::new(
            version,
            Reason::Unsigned,
            "the manifest carries no signature",
        ));
    }
    let manifest = verify_release(ops_key, release).map_err(|e| {
        let reason = match e {
            ReleaseError::WrongKey { .. } => Reason::WrongKey,
            ReleaseError::Malformed { .. } | ReleaseError::BadSignature { .. } => {
                Reason::BadSignature
            }
        };
        Refusal::new(version, reason, e.to_string())
    })?;
    if manifest.version != offered.version
        || manifest.sha256 != offered.sha256
        || manifest.size != offered.size
    {
        return Err(Refusal::new(
            version,
            Reason::ManifestMismatch,
            format!(
                "desired state offered {} ({} bytes, sha256 {}) but the signed manifest says {} ({} bytes, sha256 {})",
                offered.version,
                offered.size,
                offered.sha256,
                manifest.version,
                manifest.size,
                manifest.sha256
            ),
        ));
    }
    Ok(manifest.clone())
}

fn parse(version: &str, what: &str, release: &str) -> Result<Version, Refusal> {
    Version::parse(version).map_err(|e| {
        Refusal::new(
            release,
            Reason::ManifestMismatch,
            format!("{what} {version:?} is not a semantic version: {e}"),
        )
    })
}

/// What the version rules say about installing `offered` over `running`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionCheck {
    /// Newer, and the running version may update to it directly.
    Upgrade,
    /// The same version runs already: nothing to do.
    Same,
}

/// The version rules: never downgrade; the running version must be at least `min_version`.
/// `min_version` is `None` before the manifest is fetched (the downgrade check alone).
pub fn check_versions(
    running: &str,
    offered: &str,
    min_version: Option<&str>,
) -> Result<VersionCheck, Refusal> {
    let new = parse(offered, "release version", offered)?;
    let old = Version::parse(running).map_err(|e| {
        Refusal::new(
            offered,
            Reason::Downgrade,
            format!("the running version {running:?} is not a semantic version ({e}), so it cannot be compared"),
        )
    })?;
    if new == old {
        return Ok(VersionCheck::Same);
    }
    if new < old {
        return Err(Refusal::new(
            offered,
            Reason::Downgrade,
            format!("{offered} is older than the running {running}; kiosks never downgrade"),
        ));
    }
    if let Some(min) = min_version {
        let min = parse(min, "min_version", offered)?;
        if old < min {
            return Err(Refusal::new(
                offered,
                Reason::BelowMinVersion,
                format!("{offered} needs at least {min} running first, this kiosk runs {running}"),
            ));
        }
    }
    Ok(VersionCheck::Upgrade)
}

/// The lower-case hex sha256 of a file.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_api::{keys, sign_release};

    fn manifest(version: &str) -> ReleaseManifest {
        ReleaseManifest {
            version: version.into(),
            sha256: "ab".repeat(32),
            size: 100,
            min_version: "0.1.0".into(),
            published_at: chrono::Utc::now(),
        }
    }

    fn offered(m: &ReleaseManifest) -> ReleaseRef {
        ReleaseRef {
            version: m.version.clone(),
            sha256: m.sha256.clone(),
            size: m.size,
        }
    }

    #[test]
    fn signed_manifests_pass_and_unsigned_forged_or_foreign_ones_are_refused_by_reason() {
        let ops = keys::generate();
        let m = manifest("0.2.0");
        let good = sign_release(&ops, m.clone());
        assert_eq!(
            verify_manifest(&ops.verifying_key(), &offered(&m), &good).unwrap(),
            m
        );
        let unsigned = SignedRelease {
            signature: String::new(),
            ..good.clone()
        };
        let reason = |r: &SignedRelease| {
            verify_manifest(&ops.verifying_key(), &offered(&m), r)
                .unwrap_err()
                .reason
        };
        assert_eq!(reason(&unsigned), Reason::Unsigned);
        let mut altered = good.clone();
        altered.manifest.min_version = "0.0.1".into();
        assert_eq!(reason(&altered), Reason::BadSignature);
        let stranger = sign_release(&keys::generate(), m.clone());
        assert_eq!(reason(&stranger), Reason::WrongKey);
        let mut other = offered(&m);
        other.sha256 = "cd".repeat(32);
        assert_eq!(
            verify_manifest(&ops.verifying_key(), &other, &good)
                .unwrap_err()
                .reason,
            Reason::ManifestMismatch
        );
    }

    #[test]
    fn the_version_rules_refuse_downgrades_and_kiosks_below_the_minimum() {
        assert_eq!(
            check_versions("0.1.0", "0.2.0", Some("0.1.0")),
            Ok(VersionCheck::Upgrade)
        );
        assert_eq!(
            check_versions("0.2.0", "0.2.0", None),
            Ok(VersionCheck::Same)
        );
        assert_eq!(
            check_versions("0.2.0", "0.1.9", None).unwrap_err().reason,
            Reason::Downgrade
        );
        assert_eq!(
            check_versions("0.1.0", "1.0.0", Some("0.5.0"))
                .unwrap_err()
                .reason,
            Reason::BelowMinVersion
        );
        // A pre-release is below its release.
        assert_eq!(
            check_versions("1.0.0", "1.0.0-rc.1", None)
                .unwrap_err()
                .reason,
            Reason::Downgrade
        );
    }
}
