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
pub use client::{CentralClient, ChunkAnswer, Timeouts, enrol};
pub use downlink::{BUNDLES_DIR, Downlink, DownlinkHandle, PollOutcome};
pub use uplink::{Uplink, UplinkBuilder, UplinkHandle};

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
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A blocking task panicked or was cancelled.
    #[error("store task failed: {0}")]
    Task(String),
}
