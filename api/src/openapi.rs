//! The OpenAPI 3.1 document of the central API, built from the wire types' derived schemas
//! and the paths in [`crate::routes`]. Central serves it at [`DOCUMENT_PATH`] and its tests
//! check that every documented operation is routed, so code and document cannot drift.

use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, ObjectBuilder, OpenApi, OpenApiBuilder,
    PathItem, PathsBuilder, Ref, Required, ResponseBuilder, Type,
};

use crate::auth::HEADER_SIGNATURE;
use crate::fleet::{
    DeviceReport, DeviceState, HealthReport, ReleaseManifest, SignedRelease, UpdateOutcome,
    UpdateResult,
};
use crate::routes;
use crate::wire::*;

/// Where central serves this document (not signed).
pub const DOCUMENT_PATH: &str = "/v1/openapi.json";

const JSON: &str = "application/json";
const SIGNATURE_SCHEME: &str = "kiosk_signature";

/// One documented operation: method and path. Central's route test walks this list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// HTTP method in upper case.
    pub method: &'static str,
    /// Path template as in [`crate::routes`].
    pub path: &'static str,
    /// Whether the request must carry the signature headers.
    pub signed: bool,
}

/// Every operation of the central API.
pub const OPERATIONS: &[Operation] = &[
    Operation {
        method: "POST",
        path: routes::ENROLMENTS,
        signed: false,
    },
    Operation {
        method: "POST",
        path: routes::EVENTS,
        signed: true,
    },
    Operation {
        method: "GET",
        path: routes::ATTACHMENT,
        signed: true,
    },
    Operation {
        method: "PUT",
        path: routes::ATTACHMENT,
        signed: true,
    },
    Operation {
        method: "GET",
        path: routes::DESIRED_STATE,
        signed: true,
    },
    Operation {
        method: "GET",
        path: routes::BUNDLE,
        signed: true,
    },
    Operation {
        method: "GET",
        path: routes::RELEASE_MANIFEST,
        signed: true,
    },
    Operation {
        method: "GET",
        path: routes::RELEASE_ARTIFACT,
        signed: true,
    },
    Operation {
        method: "POST",
        path: routes::QUEUE_LEASES,
        signed: true,
    },
    Operation {
        method: "GET",
        path: routes::QUEUE_STATE,
        signed: true,
    },
    Operation {
        method: "GET",
        path: routes::APPOINTMENTS,
        signed: true,
    },
    Operation {
        method: "GET",
        path: routes::APPLICATIONS,
        signed: true,
    },
    Operation {
        method: "GET",
        path: routes::APPLICATION,
        signed: true,
    },
    Operation {
        method: "GET",
        path: routes::HOLDER_KEYS,
        signed: true,
    },
    Operation {
        method: "GET",
        path: routes::HELP,
        signed: true,
    },
];

fn json_ref(name: &str) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(name)))
        .build()
}

fn body(name: &str) -> utoipa::openapi::request_body::RequestBody {
    RequestBodyBuilder::new()
        .content(JSON, json_ref(name))
        .required(Some(Required::True))
        .build()
}

fn answer(description: &str, schema: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(JSON, json_ref(schema))
        .build()
}

fn error(description: &str) -> utoipa::openapi::Response {
    answer(description, "ApiError")
}

fn string_param(
    name: &str,
    place: ParameterIn,
    description: &str,
) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(place)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

/// The answers central's limits give to any request (issue 17 item 7).
fn limited(builder: OperationBuilder) -> OperationBuilder {
    builder
        .response(
            "408",
            error("timeout: the request did not arrive whole and get its answer within central's --body-timeout; the connection is closed, retry"),
        )
        .response(
            "503",
            error("busy: central is working on --max-in-flight requests (Retry-After: 1), or internal: its database failed; nothing was done, retry"),
        )
}

fn signed(builder: OperationBuilder) -> OperationBuilder {
    limited(builder)
        .response(
            "403",
            error("revoked: ops revoked this kiosk; the message gives their reason. Re-provision it with a new enrolment token"),
        )
        .response(
            "429",
            error("too_many_requests: this kiosk made central's --requests-per-minute signed requests in the last minute; nothing was done, retry later"),
        )
        .security(SecurityRequirement::new::<_, [&str; 0], &str>(
            SIGNATURE_SCHEME,
            [],
        ))
        .response(
            "401",
            error("Signature missing or wrong, unknown kiosk, stale timestamp or replayed nonce"),
        )
}

/// Builds the document.
pub fn document() -> OpenApi {
    let enrol = limited(OperationBuilder::new())
        .operation_id(Some("enrol"))
        .summary(Some(
            "Enrol a kiosk with a one-time, expiring, hall-bound token",
        ))
        .request_body(Some(body("EnrolRequest")))
        .response("201", answer("Enrolled", "Enrolment"))
        .response("403", error("Token unknown, already used or expired"))
        .response("409", error("This public key is already enrolled"))
        .response("422", error("Body does not fit the contract"));
    let events = signed(OperationBuilder::new())
        .operation_id(Some("post_events"))
        .summary(Some(
            "Send a batch of outbox events; written in one transaction, one result per event",
        ))
        .request_body(Some(body("EventBatch")))
        .response(
            "200",
            answer("One result per event, in batch order; events beyond the kiosk's --events-per-minute, and help requests beyond its --help-per-minute, are answered central_busy, not stored, and sent again later", "BatchAck"),
        )
        .response("413", error("More than 500 events or more than 4 MiB"))
        .response(
            "422",
            error("Body does not fit the contract; nothing was stored"),
        );
    let sha_param = || {
        string_param(
            "sha256",
            ParameterIn::Path,
            "sha256 of the whole file, lower-case hex",
        )
    };
    let upload_status = signed(OperationBuilder::new())
        .operation_id(Some("get_upload_status"))
        .summary(Some(
            "How much of an attachment central holds (0 when unknown)",
        ))
        .parameter(sha_param())
        .response("200", answer("Upload state", "UploadStatus"));
    let upload_chunk = signed(OperationBuilder::new())
        .operation_id(Some("put_attachment_chunk"))
        .summary(Some(
            "Upload one chunk (at most 1 MiB) at upload-offset of upload-length",
        ))
        .parameter(sha_param())
        .parameter(string_param(
            routes::HEADER_UPLOAD_OFFSET,
            ParameterIn::Header,
            "Offset of this chunk; must equal `received`",
        ))
        .parameter(string_param(
            routes::HEADER_UPLOAD_LENGTH,
            ParameterIn::Header,
            "Total length of the file",
        ))
        .request_body(Some(
            RequestBodyBuilder::new()
                .content("application/octet-stream", ContentBuilder::new().build())
                .required(Some(Required::True))
                .build(),
        ))
        .response(
            "200",
            answer(
                "Chunk stored; complete once all bytes are in and the digest matched",
                "UploadStatus",
            ),
        )
        .response(
            "409",
            answer(
                "Offset differs from what central holds: resume from `received`",
                "UploadStatus",
            ),
        )
        .response(
            "413",
            error("Chunk over 1 MiB or file over the attachment limit"),
        )
        .response(
            "422",
            error("The whole file does not hash to its name; the partial upload was discarded"),
        )
        .response(
            "429",
            error("too_many_requests: a new upload beyond central's --attachments-per-day for this kiosk, or over its --requests-per-minute; nothing was stored, send it again later"),
        );
    let desired = signed(OperationBuilder::new())
        .operation_id(Some("get_desired_state"))
        .summary(Some(
            "What the kiosk should run; send If-None-Match with the last ETag",
        ))
        .parameter(
            ParameterBuilder::new()
                .name("if-none-match")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        )
        .response(
            "200",
            ResponseBuilder::new()
                .description("Desired state, with its ETag header")
                .content(JSON, json_ref("DesiredState"))
                .header(
                    "etag",
                    utoipa::openapi::header::Header::new(
                        ObjectBuilder::new().schema_type(Type::String),
                    ),
                )
                .build(),
        )
        .response(
            "304",
            ResponseBuilder::new()
                .description("Unchanged since the ETag sent")
                .build(),
        );
    let bundle = signed(OperationBuilder::new())
        .operation_id(Some("get_bundle"))
        .summary(Some(
            "A bundle signed by the ops key; verify before applying",
        ))
        .parameter(string_param("kind", ParameterIn::Path, "catalog or config"))
        .parameter(string_param("version", ParameterIn::Path, "Bundle version"))
        .response("200", answer("The signed bundle", "SignedBundle"))
        .response(
            "403",
            error("forbidden: the bundle is not published for this kiosk's hall (a config bundle carries the technician PIN's hash), or revoked: this kiosk was revoked"),
        )
        .response("404", error("No such bundle"));
    let version_param = || string_param("version", ParameterIn::Path, "Release version (semver)");
    let release_manifest = signed(OperationBuilder::new())
        .operation_id(Some("get_release_manifest"))
        .summary(Some(
            "The ops-signed manifest of a release; verify it, then the artifact's sha256 and size",
        ))
        .parameter(version_param())
        .response("200", answer("The signed manifest", "SignedRelease"))
        .response("404", error("No such release"));
    let release_artifact = signed(OperationBuilder::new())
        .operation_id(Some("get_release_artifact"))
        .summary(Some(
            "The release artifact (gzip tar); send `Range: bytes=N-` to resume a download",
        ))
        .parameter(version_param())
        .parameter(
            ParameterBuilder::new()
                .name("range")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some("bytes=N- (or bytes=N-M): resume from byte N"))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        )
        .response(
            "200",
            ResponseBuilder::new()
                .description("The whole artifact")
                .content("application/gzip", ContentBuilder::new().build())
                .build(),
        )
        .response(
            "206",
            ResponseBuilder::new()
                .description("The bytes asked for, with Content-Range: bytes N-M/SIZE")
                .content("application/gzip", ContentBuilder::new().build())
                .build(),
        )
        .response("404", error("No such release"))
        .response(
            "416",
            error("Range starts at or past the end; Content-Range: bytes */SIZE"),
        );

    let paths = PathsBuilder::new()
        .path(routes::ENROLMENTS, PathItem::new(HttpMethod::Post, enrol))
        .path(routes::EVENTS, PathItem::new(HttpMethod::Post, events))
        .path(
            routes::ATTACHMENT,
            utoipa::openapi::path::PathItemBuilder::new()
                .operation(HttpMethod::Get, upload_status)
                .operation(HttpMethod::Put, upload_chunk)
                .build(),
        )
        .path(
            routes::DESIRED_STATE,
            PathItem::new(HttpMethod::Get, desired),
        )
        .path(routes::BUNDLE, PathItem::new(HttpMethod::Get, bundle))
        .path(
            routes::RELEASE_MANIFEST,
            PathItem::new(HttpMethod::Get, release_manifest),
        )
        .path(
            routes::RELEASE_ARTIFACT,
            PathItem::new(HttpMethod::Get, release_artifact),
        );
    let paths = citizen_paths(paths);

    let components = citizen_schemas(ComponentsBuilder::new())
        .schema_from::<EnrolRequest>()
        .schema_from::<Enrolment>()
        .schema_from::<NumberBand>()
        .schema_from::<Stream>()
        .schema_from::<Event>()
        .schema_from::<EventBatch>()
        .schema_from::<BatchAck>()
        .schema_from::<EventAck>()
        .schema_from::<EventOutcome>()
        .schema_from::<UploadStatus>()
        .schema_from::<DesiredState>()
        .schema_from::<BundleRef>()
        .schema_from::<ReleaseRef>()
        .schema_from::<QueueState>()
        .schema_from::<SignedBundle>()
        .schema_from::<ApiError>()
        .schema_from::<ReleaseManifest>()
        .schema_from::<SignedRelease>()
        .schema_from::<crate::rotation::SignedKeyStatement>()
        .schema_from::<HealthReport>()
        .schema_from::<crate::fleet::QuarantinedEvent>()
        .schema_from::<DeviceReport>()
        .schema_from::<DeviceState>()
        .schema_from::<UpdateResult>()
        .schema_from::<UpdateOutcome>()
        .security_scheme(
            SIGNATURE_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                HEADER_SIGNATURE,
                "ed25519 signature (base64) over \"{METHOD}\\n{PATH_AND_QUERY}\\n{TIMESTAMP}\\n{NONCE}\\n{hex(sha256(body))}\", \
                 sent with x-kiosk-id, x-kiosk-timestamp (unix s, ±300 s) and x-kiosk-nonce (16 bytes hex, never reused)",
            ))),
        )
        .build();

    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Hall kiosk central API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some("Kiosk <-> central contract: enrolment, store-and-forward uplink, attachments, desired state and signed bundles. Every 4xx/5xx body is an ApiError."))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .build()
}

/// The queue, appointment and progress operations of the citizen journeys.
fn citizen_paths(paths: PathsBuilder) -> PathsBuilder {
    let lease = signed(OperationBuilder::new())
        .operation_id(Some("lease_numbers"))
        .summary(Some(
            "Lease a block of queue numbers below 500 for today or tomorrow; blocks never overlap",
        ))
        .request_body(Some(body("LeaseRequest")))
        .response("201", answer("The block leased to this kiosk", "Lease"))
        .response(
            "409",
            error("numbers_exhausted: every number below 500 is leased; use the kiosk's band"),
        )
        .response(
            "422",
            error("Bad category or count, a date other than today/tomorrow, or a request_id this kiosk already used for another category or date"),
        )
        .response(
            "429",
            error("too_many_requests: this kiosk already holds central's --lease-cap unused numbers of this category and date (issue from them first), or is over its --requests-per-minute"),
        );
    let queue_state = signed(OperationBuilder::new())
        .operation_id(Some("get_queue_state"))
        .summary(Some(
            "Waiting tickets, pace and now serving per category, today, this hall",
        ))
        .response("200", answer("The queues", "QueueSnapshot"));
    let appointments = signed(OperationBuilder::new())
        .operation_id(Some("get_appointments"))
        .summary(Some("Booked appointments of this kiosk's hall on one date"))
        .parameter(string_param(
            "date",
            ParameterIn::Query,
            "Business date YYYY-MM-DD",
        ))
        .response(
            "200",
            ResponseBuilder::new()
                .description("Appointments by slot start")
                .content(
                    JSON,
                    ContentBuilder::new()
                        .schema(Some(
                            utoipa::openapi::schema::ArrayBuilder::new()
                                .items(Ref::from_schema_name("Appointment")),
                        ))
                        .build(),
                )
                .build(),
        )
        .response("422", error("date missing or not YYYY-MM-DD"));
    let by_holder = signed(OperationBuilder::new())
        .operation_id(Some("get_applications_by_holder"))
        .summary(Some(
            "Applications of one holder made in this kiosk's hall, newest first",
        ))
        .parameter(string_param(
            "holder",
            ParameterIn::Query,
            "holder_hash (64 lower-case hex)",
        ))
        .response(
            "200",
            ResponseBuilder::new()
                .description("Progress of each application")
                .content(
                    JSON,
                    ContentBuilder::new()
                        .schema(Some(
                            utoipa::openapi::schema::ArrayBuilder::new()
                                .items(Ref::from_schema_name("ApplicationProgress")),
                        ))
                        .build(),
                )
                .build(),
        )
        .response("422", error("holder missing or not a holder hash"));
    let one = signed(OperationBuilder::new())
        .operation_id(Some("get_application"))
        .summary(Some(
            "Progress of one application made in this kiosk's hall",
        ))
        .parameter(string_param(
            "application_no",
            ParameterIn::Path,
            "17 digits, e.g. 00120326120100075 (hall, kiosk, date, sequence, check digit)",
        ))
        .response("200", answer("Status and timeline", "ApplicationProgress"))
        .response("404", error("No such application in this hall"))
        .response("422", error("Not an application number"));
    let holder_keys = signed(OperationBuilder::new())
        .operation_id(Some("get_holder_keys"))
        .summary(Some(
            "The platform's holder-hash keys, newest first; kept by the kiosk, never logged",
        ))
        .response("200", answer("The keys", "HolderKeys"));
    let help = signed(OperationBuilder::new())
        .operation_id(Some("get_help_status"))
        .summary(Some(
            "Whether staff have acknowledged one of this kiosk's help requests",
        ))
        .parameter(string_param(
            "event_id",
            ParameterIn::Path,
            "The help_requested event's id",
        ))
        .response("200", answer("Where the request stands", "HelpStatus"))
        .response(
            "404",
            error("Not (yet) received from this kiosk: its outbox still holds it"),
        );
    paths
        .path(routes::QUEUE_LEASES, PathItem::new(HttpMethod::Post, lease))
        .path(
            routes::QUEUE_STATE,
            PathItem::new(HttpMethod::Get, queue_state),
        )
        .path(
            routes::APPOINTMENTS,
            PathItem::new(HttpMethod::Get, appointments),
        )
        .path(
            routes::APPLICATIONS,
            PathItem::new(HttpMethod::Get, by_holder),
        )
        .path(routes::APPLICATION, PathItem::new(HttpMethod::Get, one))
        .path(
            routes::HOLDER_KEYS,
            PathItem::new(HttpMethod::Get, holder_keys),
        )
        .path(routes::HELP, PathItem::new(HttpMethod::Get, help))
}

/// The schemas of [`crate::citizen`].
fn citizen_schemas(components: ComponentsBuilder) -> ComponentsBuilder {
    use crate::citizen::*;
    components
        .schema_from::<TicketPriority>()
        .schema_from::<TicketIssued>()
        .schema_from::<TicketVoided>()
        .schema_from::<VoidReason>()
        .schema_from::<SubmittedMaterial>()
        .schema_from::<ApplicationSubmitted>()
        .schema_from::<RatingGiven>()
        .schema_from::<HelpRequested>()
        .schema_from::<LeaseRequest>()
        .schema_from::<Lease>()
        .schema_from::<QueueSnapshot>()
        .schema_from::<CategoryQueue>()
        .schema_from::<Appointment>()
        .schema_from::<ApplicationStatus>()
        .schema_from::<TimelineEntry>()
        .schema_from::<ApplicationProgress>()
        .schema_from::<HolderKey>()
        .schema_from::<HolderKeys>()
        .schema_from::<HelpStatus>()
        .schema_from::<Language>()
}
