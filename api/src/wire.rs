//! JSON bodies of the central API. serde, snake_case field names.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Body of `POST /v1/enrolments`. Unsigned: the one-time token is the credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EnrolRequest {
    /// One-time token from `central token create`.
    pub token: String,
    /// The kiosk's ed25519 public key, standard base64 of its 32 bytes.
    pub public_key: String,
    /// Host name of the kiosk, shown to ops.
    pub hostname: String,
    /// Version of the kiosk software.
    pub version: String,
}

/// Answer to an enrolment (201): who the kiosk now is, and what it needs to work offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Enrolment {
    /// Identity to send in `x-kiosk-id` from now on.
    pub kiosk_id: Uuid,
    /// Hall the token was bound to.
    pub hall_id: String,
    /// Display name of that hall.
    pub hall_name: String,
    /// Queue numbers reserved for this kiosk when it is offline with no lease left.
    pub number_band: NumberBand,
    /// Ops public key (base64, 32 bytes) that signs every bundle this kiosk applies: the
    /// catalog key ([`crate::rotation::KeyRole::Catalog`]).
    pub ops_public_key: String,
    /// The key that signs releases, when ops keeps it apart from the catalog key (absent from
    /// centrals older than the split: the catalog key signs releases too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_public_key: Option<String>,
    /// The hall's code on the platform: the first digits of its application numbers.
    #[schema(value_type = u16, minimum = 1, maximum = 9999)]
    pub hall_code: crate::numbers::HallCode,
    /// This kiosk's number in its hall, unique there: the next digits.
    #[schema(value_type = u8, minimum = 1, maximum = 99)]
    pub kiosk_no: crate::numbers::KioskNo,
}

/// An inclusive range of queue numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NumberBand {
    /// First number of the band.
    pub first: u32,
    /// Last number of the band (inclusive).
    pub last: u32,
}

/// The outbox streams of a kiosk. Citizen records and tickets are never dropped; telemetry is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Applications and other citizen records.
    Records,
    /// Queue tickets issued or voided.
    Tickets,
    /// 好差评 ratings.
    Ratings,
    /// Help requests from the kiosk to hall staff.
    Help,
    /// Device and kiosk health.
    Health,
    /// Usage telemetry; the only stream a kiosk may downsample or drop.
    Telemetry,
}

impl Stream {
    /// Every stream, in a stable order.
    pub const ALL: [Stream; 6] = [
        Stream::Records,
        Stream::Tickets,
        Stream::Ratings,
        Stream::Help,
        Stream::Health,
        Stream::Telemetry,
    ];

    /// The wire name, as stored in databases.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Records => "records",
            Stream::Tickets => "tickets",
            Stream::Ratings => "ratings",
            Stream::Help => "help",
            Stream::Health => "health",
            Stream::Telemetry => "telemetry",
        }
    }

    /// The stream with this wire name.
    pub fn from_name(name: &str) -> Option<Stream> {
        Stream::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One outbox row on its way to central.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// UUIDv7 made by the kiosk; the idempotency key together with the kiosk id.
    pub event_id: Uuid,
    /// Per-kiosk sequence number starting at 1, so central can see gaps.
    pub seq: u64,
    /// Outbox stream.
    pub stream: Stream,
    /// What happened, e.g. `ticket_issued`, `rating_given`.
    pub kind: String,
    /// 0 is the most urgent.
    pub priority: u8,
    /// When it happened on the kiosk (RFC 3339).
    pub occurred_at: DateTime<Utc>,
    /// Stream- and kind-specific content.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// sha256 (lower-case hex) of attachments uploaded before this event.
    #[serde(default)]
    pub attachments: Vec<String>,
}

/// Body of `POST /v1/events`: at most [`crate::routes::MAX_BATCH_EVENTS`] events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventBatch {
    /// Events in the order the kiosk sends them (priority, then sequence).
    pub events: Vec<Event>,
}

/// Answer to a batch: one result per event, in the batch's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchAck {
    /// One entry per event of the batch.
    pub results: Vec<EventAck>,
}

/// What central did with one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventAck {
    /// The event this answers.
    pub event_id: Uuid,
    /// Stored, duplicate or rejected.
    pub outcome: EventOutcome,
}

/// Outcome of one event. `stored` and `duplicate` both mean "acknowledged: delete it".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EventOutcome {
    /// Newly stored.
    Stored,
    /// Central already had this kiosk id + event id.
    Duplicate,
    /// Not stored. The kiosk keeps it: a [`reject_reason::is_retryable`] reason is retried
    /// later, any other puts it in the kiosk's quarantine for ops, with this reason.
    Rejected {
        /// Machine code, one of [`reject_reason`].
        reason: String,
        /// What exactly is wrong, for ops (never personal data).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

impl EventOutcome {
    /// Whether the kiosk may delete the event from its outbox.
    pub fn is_acknowledged(&self) -> bool {
        matches!(self, EventOutcome::Stored | EventOutcome::Duplicate)
    }

    /// A refusal with a reason and what exactly is wrong.
    pub fn rejected(reason: &str, detail: impl Into<String>) -> EventOutcome {
        EventOutcome::Rejected {
            reason: reason.to_owned(),
            detail: Some(detail.into()),
        }
    }
}

/// Reasons in [`EventOutcome::Rejected`].
pub mod reject_reason {
    /// An attachment the event names is not (completely) uploaded yet: upload it, then retry.
    pub const MISSING_ATTACHMENT: &str = "missing_attachment";
    /// Another event of this kiosk already has this sequence number.
    pub const SEQ_REUSED: &str = "seq_reused";
    /// The payload does not fit the contract type of its kind (the detail names the field).
    pub const INVALID_PAYLOAD: &str = "invalid_payload";
    /// The event's kind belongs to another stream.
    pub const WRONG_STREAM: &str = "wrong_stream";
    /// The record's number (application number, queue number) is not one this kiosk may
    /// make: another hall's or kiosk's, or outside its leases and band.
    pub const NUMBER_NOT_YOURS: &str = "number_not_yours";
    /// Another event already holds this number (a different record under the same number).
    pub const NUMBER_TAKEN: &str = "number_taken";
    /// The subject was rated already (one rating per ticket or application).
    pub const ALREADY_RATED: &str = "already_rated";
    /// Central could not apply it for a reason of its own; retried later.
    pub const CENTRAL_BUSY: &str = "central_busy";

    /// Whether the kiosk should send the event again later (the cause may go away by
    /// itself); every other reason is final and the event goes to quarantine.
    pub fn is_retryable(reason: &str) -> bool {
        matches!(reason, MISSING_ATTACHMENT | CENTRAL_BUSY)
    }
}

/// State of a resumable upload (`GET`/`PUT /v1/attachments/{sha256}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UploadStatus {
    /// Bytes central holds; the next chunk must start here.
    pub received: u64,
    /// All bytes received and the sha256 checked.
    pub complete: bool,
}

/// What a kiosk should be running (`GET /v1/desired-state`, with ETag).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DesiredState {
    /// Service catalog bundle.
    pub catalog: Option<BundleRef>,
    /// Kiosk configuration bundle.
    pub config: Option<BundleRef>,
    /// Software release to install: set while the kiosk is in an active rollout cohort and runs
    /// a version below it; fetch `GET /v1/releases/{version}/manifest` and `/artifact`.
    pub release: Option<ReleaseRef>,
    /// Every key statement ops made, in serial order: the kiosk walks them from the keys it
    /// trusts ([`crate::rotation::follow`]) before it verifies anything else here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_statements: Vec<crate::rotation::SignedKeyStatement>,
    /// Reserved, always null: kiosks lease numbers at `POST /v1/queue/leases` and read the
    /// queue at `GET /v1/queue/state` ([`crate::citizen`]).
    pub queue: Option<QueueState>,
}

/// A bundle to fetch from `GET /v1/bundles/{kind}/{version}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BundleRef {
    /// `catalog` or `config`.
    pub kind: String,
    /// Version chosen by ops, e.g. `2026-11-26.1`.
    pub version: String,
    /// sha256 (hex) of the bundle payload.
    pub sha256: String,
}

/// A software release offered to this kiosk; its signed manifest says the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseRef {
    /// Release version.
    pub version: String,
    /// sha256 (hex) of the release artefact.
    pub sha256: String,
    /// Size of the artefact in bytes.
    pub size: u64,
}

/// Queue settings (reserved; the queue itself is in [`crate::citizen`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueueState {
    /// Business day the numbers belong to (the hall's local date).
    pub business_date: chrono::NaiveDate,
}

/// A bundle signed by the ops key. Verify with [`crate::verify_bundle`] before applying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SignedBundle {
    /// `catalog` or `config`.
    pub kind: String,
    /// Version chosen by ops.
    pub version: String,
    /// The bundle content, standard base64.
    pub payload: String,
    /// Standard base64 ed25519 signature over `"{kind}\n{version}\n{hex(sha256(payload))}"`.
    pub signature: String,
    /// Which ops key signed ([`crate::keys::key_id`] of its public key).
    pub key_id: String,
}

/// Body of every 4xx and 5xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiError {
    /// Machine code, one of [`error_code`].
    pub error: String,
    /// What went wrong and what to do, for a person.
    pub message: String,
}

impl ApiError {
    /// An error with this code and message.
    pub fn new(error: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            error: error.to_owned(),
            message: message.into(),
        }
    }
}

/// Codes in [`ApiError::error`].
pub mod error_code {
    /// The body or a header could not be read (400).
    pub const BAD_REQUEST: &str = "bad_request";
    /// The body was JSON but does not fit the contract (422).
    pub const INVALID: &str = "invalid";
    /// Signature headers missing or wrong, unknown kiosk, stale timestamp, replayed nonce (401).
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// Enrolment token unknown, used or expired (403).
    pub const TOKEN_REFUSED: &str = "token_refused";
    /// Body too large, or too many events in a batch (413).
    pub const TOO_LARGE: &str = "too_large";
    /// Upload offset differs from what central has (409).
    pub const OFFSET_MISMATCH: &str = "offset_mismatch";
    /// Uploaded bytes do not hash to the name they were uploaded under (422).
    pub const DIGEST_MISMATCH: &str = "digest_mismatch";
    /// No such bundle or path (404).
    pub const NOT_FOUND: &str = "not_found";
    /// This public key is already enrolled (409).
    pub const CONFLICT: &str = "conflict";
    /// Ops revoked the signing kiosk (403); the message gives their reason. The kiosk stops
    /// sending until it is re-provisioned.
    pub const REVOKED: &str = "revoked";
    /// Central failed; retry later (500/503).
    pub const INTERNAL: &str = "internal";
}
