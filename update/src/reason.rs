//! The machine codes of every way an update can end other than "committed": what the agent
//! reports up as `UpdateResult.reason`, and what the console shows ops.

use std::fmt;

/// Why a release was refused or rolled back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    // Refused: the release was never switched to.
    /// The manifest carries no signature at all.
    Unsigned,
    /// The signature does not verify under the ops key (forged or altered manifest).
    BadSignature,
    /// Signed by a key other than the ops key the kiosk was enrolled with.
    WrongKey,
    /// The signed manifest disagrees with what the desired state offered.
    ManifestMismatch,
    /// The artifact's sha256 is not the manifest's, even after downloading it afresh.
    DigestMismatch,
    /// The artifact is longer or shorter than the manifest says.
    SizeMismatch,
    /// The release is older than the version running.
    Downgrade,
    /// The running version is below the release's `min_version`.
    BelowMinVersion,
    /// The artifact is not a gzip tar with `bin/kiosk-app`, or escapes its folder.
    BadArtifact,
    // Rolled back: the release was switched to and failed its health gate.
    /// The new version wrote no state file before the deadline.
    NoState,
    /// The new version never drew its UI.
    UiNotDrawn,
    /// The new version's devices did not become ready.
    DevicesNotReady,
    /// The new version never reached central.
    CentralUnreachable,
    /// The new version's process died.
    Crashed,
    /// systemd gave up restarting the new version (`StartLimitBurst`), via `OnFailure=`.
    StartLimitHit,
}

impl Reason {
    /// The wire code (`UpdateResult.reason`).
    pub fn code(self) -> &'static str {
        match self {
            Reason::Unsigned => "unsigned",
            Reason::BadSignature => "bad_signature",
            Reason::WrongKey => "wrong_key",
            Reason::ManifestMismatch => "manifest_mismatch",
            Reason::DigestMismatch => "digest_mismatch",
            Reason::SizeMismatch => "size_mismatch",
            Reason::Downgrade => "downgrade",
            Reason::BelowMinVersion => "below_min_version",
            Reason::BadArtifact => "bad_artifact",
            Reason::NoState => "no_state",
            Reason::UiNotDrawn => "ui_not_drawn",
            Reason::DevicesNotReady => "devices_not_ready",
            Reason::CentralUnreachable => "central_unreachable",
            Reason::Crashed => "crashed",
            Reason::StartLimitHit => "start_limit_hit",
        }
    }

    /// Every reason, for parsing and documentation.
    pub const ALL: [Reason; 15] = [
        Reason::Unsigned,
        Reason::BadSignature,
        Reason::WrongKey,
        Reason::ManifestMismatch,
        Reason::DigestMismatch,
        Reason::SizeMismatch,
        Reason::Downgrade,
        Reason::BelowMinVersion,
        Reason::BadArtifact,
        Reason::NoState,
        Reason::UiNotDrawn,
        Reason::DevicesNotReady,
        Reason::CentralUnreachable,
        Reason::Crashed,
        Reason::StartLimitHit,
    ];

    /// Parses a code; `-` may stand for `_` (`start-limit-hit`, as systemd units write it).
    pub fn parse(code: &str) -> Option<Reason> {
        let code = code.replace('-', "_");
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Whether this reason ends an update before the switch (refused) rather than after it.
    pub fn is_refusal(self) -> bool {
        !matches!(
            self,
            Reason::NoState
                | Reason::UiNotDrawn
                | Reason::DevicesNotReady
                | Reason::CentralUnreachable
                | Reason::Crashed
                | Reason::StartLimitHit
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A release the agent will not install, with the reason code and what exactly was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("release {version} refused ({reason}): {detail}")]
pub struct Refusal {
    /// The release.
    pub version: String,
    /// The code.
    pub reason: Reason,
    /// What was wrong, for ops.
    pub detail: String,
}

impl Refusal {
    /// A refusal of `version`.
    pub fn new(version: &str, reason: Reason, detail: impl Into<String>) -> Refusal {
        Refusal {
            version: version.to_owned(),
            reason,
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_parses_back_and_systemd_spelling_is_accepted() {
        for reason in Reason::ALL {
            assert_eq!(Reason::parse(reason.code()), Some(reason));
        }
        assert_eq!(
            Reason::parse("start-limit-hit"),
            Some(Reason::StartLimitHit)
        );
        assert_eq!(Reason::parse("bored"), None);
        assert!(Reason::Downgrade.is_refusal());
        assert!(!Reason::Crashed.is_refusal());
    }
}
