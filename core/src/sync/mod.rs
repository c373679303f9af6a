//! Store-and-forward uplink and desired-state downlink.
//!
//! - [`Uplink`]: a tokio task draining the store's outbox to central (see its module docs).
//! - [`Downlink`]: desired-state polling with ETag and signed bundles.
//! - [`CentralClient`]: the signed HTTP client both use; [`enrol`] for provisioning.

mod backoff;
mod citizen;
mod client;
mod downlink;
pub mod release;
mod uplink;

pub use backoff::Backoff;
pub use client::{CentralClient, ChunkAnswer, Timeouts, enrol, enrol_trusting, limits};
pub use downlink::{BUNDLES_DIR, Downlink, DownlinkHandle, PollOutcome};
pub use uplink::{GROW_AFTER, Uplink, UplinkBuilder, UplinkHandle};

impl SyncError {
    /// Central's message when it refused this kiosk as revoked by ops.
    pub fn revocation(&self) -> Option<&str> {
        match self {
            SyncError::Refused {
                status: 403, error, ..
            } if error.error == kiosk_api::error_code::REVOKED => Some(&error.message),
            _ => None,
        }
    }
}

/// What can go wrong talking to central. Each names the URL and what came back.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No answer: connection refused, reset, timed out, or a cut-off answer.
    #[error("central at {url}: {source}; check the hall's network, the kiosk retries by itself")]
    Http {
        /// The URL asked.
        url: String,
        /// The transport error.
        source: reqwest::Error,
    },
    /// Central answered with an error status.
    #[error("central at {url} answered {status} {}: {}", error.error, error.message)]
    Refused {
        /// The URL asked.
        url: String,
        /// HTTP status.
        status: u16,
        /// Central's JSON error.
        error: kiosk_api::ApiError,
    },
    /// Central answered something outside the contract.
    #[error("central at {url}: {message}")]
    Protocol {
        /// The URL asked.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// A bundle failed verification and was not applied.
    #[error("{0}")]
    Bundle(kiosk_api::BundleError),
    /// A bundle verified but its content cannot be applied whole; the one in force stays.
    #[error(
        "bundle {kind} {version} from central is signed but cannot be applied, so the one in force stays: {reason}; ops must publish a corrected version"
    )]
    Unusable {
        /// Bundle kind.
        kind: String,
        /// Bundle version.
        version: String,
        /// What is wrong with its content.
        reason: String,
    },
    /// Central's answer is larger than the kiosk reads from that route: a fault or an
    /// attack, never something to buffer.
    #[error(
        "central at {url} sent an answer over the {limit}-byte limit of this route; nothing of it was used"
    )]
    TooLarge {
        /// The URL asked.
        url: String,
        /// The limit of that route.
        limit: usize,
    },
    /// Central answered with a redirect. The kiosk's requests are signed for central only and
    /// never follow one.
    #[error(
        "central at {url} answered {status} redirecting to {location:?}; the kiosk does not follow redirects. Set [central] url to central's real address (re-provision if it moved)"
    )]
    Redirected {
        /// The URL asked.
        url: String,
        /// HTTP status (301, 302, 307, 308, ...).
        status: u16,
        /// Where it pointed, as sent.
        location: String,
    },
    /// Not enough free space on the disk to take a download.
    #[error(
        "not enough free space for {what} in {path}: {need} bytes needed, {free} free; nothing was downloaded. Free space on that disk and try again"
    )]
    NoSpace {
        /// What was to be written.
        what: String,
        /// The folder it goes to.
        path: std::path::PathBuf,
        /// Bytes it needs (with the reserve kept free).
        need: u64,
        /// Bytes free.
        free: u64,
    },
    /// Central's key statements moved the kiosk to new ops keys, but they could not be kept
    /// in its identity; nothing was verified with them.
    #[error("keeping the ops keys that central's key statements lead to: {0}")]
    Keys(String),
    /// The CA file given for central is not a PEM certificate.
    #[error(
        "the CA file for central is not usable: {0}; give the PEM certificate of the CA that issued central's certificate"
    )]
    BadCa(String),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A blocking task panicked or was cancelled.
    #[error("store task failed: {0}")]
    Task(String),
}
