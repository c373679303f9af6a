//! Fleet operations on the wire: signed software releases,
//! and what kiosks report about their health and their updates.
//!
//! A release is an artifact (a gzip tar whose root holds `bin/kiosk-app`) plus a manifest
//! signed by the ops key. The signature covers version, digest, size and minimum version, so
//! a kiosk that verifies the manifest and then the artifact's sha256 and size has exactly what
//! ops published under that version.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::keys::key_id;

/// The kinds of device a kiosk drives, as its health reports name them.
pub use kiosk_hal::DeviceKind;

/// Event kind (stream `health`) of a [`HealthReport`].
pub const KIND_HEALTH_REPORT: &str = "health_report";
/// Event kind (stream `health`) of an [`UpdateResult`].
pub const KIND_UPDATE_RESULT: &str = "update_result";

/// What ops published as a release. Signed as a whole by [`sign_release`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseManifest {
    /// Semantic version of the release, e.g. `0.2.0`.
    pub version: String,
    /// sha256 (lower-case hex) of the artifact.
    pub sha256: String,
    /// Size of the artifact in bytes.
    pub size: u64,
    /// Lowest version a kiosk must already run to take this release directly (semver).
    pub min_version: String,
    /// When ops published it (not covered by the signature).
    pub published_at: DateTime<Utc>,
}

/// A manifest with the ops signature: the body of `GET /v1/releases/{version}/manifest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SignedRelease {
    /// The manifest.
    pub manifest: ReleaseManifest,
    /// Standard base64 ed25519 signature over [`release_signing_string`].
    pub signature: String,
    /// Which ops key signed ([`crate::keys::key_id`] of its public key).
    pub key_id: String,
}

/// Why a release must not be installed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    /// Signed by a key other than the ops key this kiosk was enrolled with.
    #[error(
        "release {version} is signed by key {got}, expected ops key {expected}; refuse it (re-enrol the kiosk if ops rotated its key)"
    )]
    WrongKey {
        /// Release version.
        version: String,
        /// Key id expected.
        expected: String,
        /// Key id in the manifest.
        got: String,
    },
    /// The signature is not base64 of 64 bytes.
    #[error("release {version}: signature is not base64 of a 64-byte ed25519 signature")]
    Malformed {
        /// Release version.
        version: String,
    },
    /// The signature does not verify: the manifest was changed or forged.
    #[error("release {version}: manifest signature does not verify; do not install it")]
    BadSignature {
        /// Release version.
        version: String,
    },
}

/// The exact text signed for a release: `"release\n{version}\n{sha256}\n{size}\n{min_version}"`.
pub fn release_signing_string(manifest: &ReleaseManifest) -> String {
    format!(
        "release\n{}\n{}\n{}\n{}",
        manifest.version, manifest.sha256, manifest.size, manifest.min_version
    )
}

/// Signs a manifest with the ops key.
pub fn sign_release(ops_key: &SigningKey, manifest: ReleaseManifest) -> SignedRelease {
    let signature = ops_key.sign(release_signing_string(&manifest).as_bytes());
    SignedRelease {
        manifest,
        signature: B64.encode(signature.to_bytes()),
        key_id: key_id(&ops_key.verifying_key()),
    }
}

/// Verifies a signed release with the ops public key and returns its manifest. The caller
/// still checks the downloaded artifact against `sha256` and `size`.
pub fn verify_release<'a>(
    ops_key: &VerifyingKey,
    release: &'a SignedRelease,
) -> Result<&'a ReleaseManifest, ReleaseError> {
    let version = || release.manifest.version.clone();
    let expected = key_id(ops_key);
    if release.key_id != expected {
        return Err(ReleaseError::WrongKey {
            version: version(),
            expected,
            got: release.key_id.clone(),
        });
    }
    let bytes = B64
        .decode(&release.signature)
        .map_err(|_| ReleaseError::Malformed { version: version() })?;
    let signature = Signature::from_slice(&bytes)
        .map_err(|_| ReleaseError::Malformed { version: version() })?;
    ops_key
        .verify(
            release_signing_string(&release.manifest).as_bytes(),
            &signature,
        )
        .map_err(|_| ReleaseError::BadSignature { version: version() })?;
    Ok(&release.manifest)
}

/// How usable one device is (the wire form of `kiosk_hal::HealthState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Working.
    Ready,
    /// Working, needs attention soon (paper low, slow answers).
    Degraded,
    /// Not usable.
    Fault,
    /// Not found where configured.
    Absent,
}

impl DeviceState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Ready => "ready",
            DeviceState::Degraded => "degraded",
            DeviceState::Fault => "fault",
            DeviceState::Absent => "absent",
        }
    }
}

/// One device in a [`HealthReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceReport {
    /// Which device: `id_card_reader`, `printer`, `dispenser`, `scanner`, `number_display`.
    #[schema(value_type = String, example = "printer")]
    pub kind: DeviceKind,
    /// Its state.
    pub state: DeviceState,
    /// The reason of a degraded or faulty state (`paper_low`, "no answer on /dev/kiosk/idcard").
    #[serde(default)]
    pub detail: String,
}

/// Payload of a `health` / `health_report` event: the kiosk's state now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HealthReport {
    /// Version of the kiosk software running.
    pub version: String,
    /// Every configured device.
    pub devices: Vec<DeviceReport>,
    /// Outbox rows not yet acknowledged by central.
    pub backlog: u64,
    /// Free bytes on the data disk.
    pub disk_free_bytes: u64,
    /// Whether a citizen is using the kiosk.
    pub session_active: bool,
    /// Events held back in the kiosk's quarantine (refused by central, or unreadable).
    #[serde(default)]
    pub quarantined: u64,
    /// The oldest of them (at most [`HealthReport::QUARANTINE_LISTED`]), for the console.
    #[serde(default)]
    pub quarantine: Vec<QuarantinedEvent>,
}

impl HealthReport {
    /// Most quarantined events one report lists.
    pub const QUARANTINE_LISTED: usize = 20;
}

/// One event in a kiosk's quarantine, as reported in a [`HealthReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QuarantinedEvent {
    /// Its outbox sequence number.
    pub seq: u64,
    /// Its kind, e.g. `application_submitted`.
    pub kind: String,
    /// Why: a [`crate::reject_reason`] from central, or `unreadable`, `attachment_lost`,
    /// `too_large` from the kiosk itself.
    pub reason: String,
    /// What exactly, never personal data.
    #[serde(default)]
    pub detail: String,
    /// When it was quarantined.
    pub since: DateTime<Utc>,
}

/// How an update ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpdateOutcome {
    /// The new version passed its health gate and is now current.
    Committed,
    /// The new version was started but failed; the previous one runs again.
    RolledBack,
    /// The release was never installed (bad signature, digest, downgrade, too old to update).
    Refused,
}

impl UpdateOutcome {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateOutcome::Committed => "committed",
            UpdateOutcome::RolledBack => "rolled_back",
            UpdateOutcome::Refused => "refused",
        }
    }
}

/// Payload of a `health` / `update_result` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UpdateResult {
    /// The release the kiosk tried to install.
    pub version: String,
    /// The version it ran before.
    pub from_version: String,
    /// How it ended.
    pub outcome: UpdateOutcome,
    /// Machine code, e.g. `health_deadline`, `bad_signature`, `digest_mismatch`, `downgrade`.
    #[serde(default)]
    pub reason: String,
    /// What happened, for ops.
    #[serde(default)]
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys;

    fn manifest() -> ReleaseManifest {
        ReleaseManifest {
            version: "0.2.0".into(),
            sha256: "ab".repeat(32),
            size: 1234,
            min_version: "0.1.0".into(),
            published_at: DateTime::from_timestamp(1_795_000_000, 0).expect("valid time"),
        }
    }

    #[test]
    fn the_release_signing_string_is_the_contracts() {
        assert_eq!(
            release_signing_string(&manifest()),
            format!("release\n0.2.0\n{}\n1234\n0.1.0", "ab".repeat(32))
        );
    }

    #[test]
    fn a_signed_release_verifies_and_any_changed_field_does_not() {
        let ops = keys::generate();
        let signed = sign_release(&ops, manifest());
        assert_eq!(
            verify_release(&ops.verifying_key(), &signed),
            Ok(&manifest())
        );
        let tamper: [fn(&mut ReleaseManifest); 4] = [
            |m| m.version = "0.2.1".into(),
            |m| m.sha256 = "cd".repeat(32),
            |m| m.size += 1,
            |m| m.min_version = "0.0.1".into(),
        ];
        for change in tamper {
            let mut bad = signed.clone();
            change(&mut bad.manifest);
            assert!(matches!(
                verify_release(&ops.verifying_key(), &bad),
                Err(ReleaseError::BadSignature { .. })
            ));
        }
        let other = keys::generate();
        assert!(matches!(
            verify_release(&other.verifying_key(), &signed),
            Err(ReleaseError::WrongKey { .. })
        ));
        let forged = SignedRelease {
            key_id: keys::key_id(&ops.verifying_key()),
            ..sign_release(&other, manifest())
        };
        assert!(matches!(
            verify_release(&ops.verifying_key(), &forged),
            Err(ReleaseError::BadSignature { .. })
        ));
    }

    #[test]
    fn health_and_update_payloads_have_the_agreed_json() {
        let report: HealthReport = serde_json::from_value(serde_json::json!({
            "version": "0.1.0",
            "devices": [
                {"kind": "printer", "state": "degraded", "detail": "paper_low"},
                {"kind": "id_card_reader", "state": "ready"}
            ],
            "backlog": 3, "disk_free_bytes": 1000000, "session_active": false
        }))
        .expect("contract JSON parses");
        assert_eq!(report.devices[0].state, DeviceState::Degraded);
        assert_eq!(report.devices[1].detail, "");
        let result = UpdateResult {
            version: "0.2.0".into(),
            from_version: "0.1.0".into(),
            outcome: UpdateOutcome::RolledBack,
            reason: "health_deadline".into(),
            detail: "ui not drawn within 60 s".into(),
        };
        assert_eq!(
            serde_json::to_value(&result).expect("serialises")["outcome"],
            "rolled_back"
        );
    }
}
