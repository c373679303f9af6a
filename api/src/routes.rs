//! Paths of the central API. Central's router and the OpenAPI document both use these, so a
//! route cannot exist in one and not the other.

/// `POST`: enrol a kiosk with a one-time token (unsigned).
pub const ENROLMENTS: &str = "/v1/enrolments";
/// `POST`: a batch of outbox events (signed).
pub const EVENTS: &str = "/v1/events";
/// `GET` upload status, `PUT` one chunk (signed). `{sha256}` is the lower-case hex digest.
pub const ATTACHMENT: &str = "/v1/attachments/{sha256}";
/// `GET`: what the kiosk should be running, with an ETag (signed).
pub const DESIRED_STATE: &str = "/v1/desired-state";
/// `GET`: one signed bundle (signed request).
pub const BUNDLE: &str = "/v1/bundles/{kind}/{version}";

/// `GET`: the [`crate::SignedRelease`] of one version (signed request).
pub const RELEASE_MANIFEST: &str = "/v1/releases/{version}/manifest";
/// `GET`: the release artifact (signed request). `Range: bytes=N-` answers 206 with
/// `Content-Range`, so an interrupted download resumes.
pub const RELEASE_ARTIFACT: &str = "/v1/releases/{version}/artifact";

/// The path of a release manifest, for a client.
pub fn release_manifest(version: &str) -> String {
    format!("/v1/releases/{version}/manifest")
}

/// The path of a release artifact, for a client.
pub fn release_artifact(version: &str) -> String {
    format!("/v1/releases/{version}/artifact")
}

/// The path of one attachment, for a client.
pub fn attachment(sha256_hex: &str) -> String {
    format!("/v1/attachments/{sha256_hex}")
}

/// The path of one bundle, for a client.
pub fn bundle(kind: &str, version: &str) -> String {
    format!("/v1/bundles/{kind}/{version}")
}

/// Request header: byte offset of this chunk in the attachment.
pub const HEADER_UPLOAD_OFFSET: &str = "upload-offset";
/// Request header: total length of the attachment in bytes.
pub const HEADER_UPLOAD_LENGTH: &str = "upload-length";

/// Most events in one batch; more is refused with 413.
pub const MAX_BATCH_EVENTS: usize = 500;
/// Largest batch body in bytes; more is refused with 413.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Largest attachment chunk in bytes; more is refused with 413.
pub const MAX_CHUNK_BYTES: usize = 1024 * 1024;
/// Largest attachment in bytes (a multi-page scan as PDF).
pub const MAX_ATTACHMENT_BYTES: u64 = 64 * 1024 * 1024;

/// `POST`: lease a block of queue numbers (signed). Body `citizen::LeaseRequest`.
pub const QUEUE_LEASES: &str = "/v1/queue/leases";
/// `GET`: the queues of the kiosk's hall today (signed).
pub const QUEUE_STATE: &str = "/v1/queue/state";
/// `GET ?date=YYYY-MM-DD`: booked appointments of the kiosk's hall (signed).
pub const APPOINTMENTS: &str = "/v1/appointments";
/// `GET ?holder=<holder_hash>`: applications of one holder in the kiosk's hall (signed).
pub const APPLICATIONS: &str = "/v1/applications";
/// `GET`: progress of one application of the kiosk's hall (signed).
pub const APPLICATION: &str = "/v1/applications/{application_no}";

/// `GET`: the platform's holder keys ([`crate::citizen::HolderKeys`]) (signed).
pub const HOLDER_KEYS: &str = "/v1/holder-keys";
/// `GET`: where one help request of the kiosk stands ([`crate::citizen::HelpStatus`]) (signed).
pub const HELP: &str = "/v1/help/{event_id}";

/// The path of one help request, for a client.
pub fn help(event_id: uuid::Uuid) -> String {
    format!("/v1/help/{event_id}")
}

/// The appointments path for one business date, for a client.
pub fn appointments(date: chrono::NaiveDate) -> String {
    format!("/v1/appointments?date={date}")
}

/// The applications path for one holder hash (64 hex, needs no escaping), for a client.
pub fn applications_by_holder(holder_hash: &str) -> String {
    format!("/v1/applications?holder={holder_hash}")
}

/// The path of one application (its number needs no escaping), for a client.
pub fn application(application_no: &str) -> String {
    format!("/v1/applications/{application_no}")
}
