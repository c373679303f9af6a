//! One function per operation of `kiosk_api::openapi::OPERATIONS`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use kiosk_api::{EnrolRequest, EventBatch, error_code, routes};
use sha2::{Digest as _, Sha256};

use super::auth::{SignedGet, SignedRequest, SignedUnclaimed, over_rate, replayed};
use super::body::BoundedBody;
use super::{ApiFailure, AppState};
use crate::store::{
    BundleFetch, ChunkOutcome, ChunkUpload, EnrolError, IngestOutcome, check_batch, is_sha256_hex,
};

pub(crate) async fn enrol(
    State(state): State<AppState>,
    BoundedBody(body): BoundedBody,
) -> Result<Response, ApiFailure> {
    let request: EnrolRequest =
        serde_json::from_slice(&body).map_err(|e| ApiFailure::from_json(&e))?;
    match state.store.enrol(&request).await {
        Ok(enrolment) => {
            // A re-provisioned kiosk keeps its id: its old key must not outlive it here.
            state.forget_kiosk(enrolment.kiosk_id);
            tracing::info!(kiosk = %enrolment.kiosk_id, hall = %enrolment.hall_id, hall_code = %enrolment.hall_code, kiosk_no = enrolment.kiosk_no.get(), hostname = %request.hostname, "kiosk enrolled");
            Ok((StatusCode::CREATED, Json(enrolment)).into_response())
        }
        Err(e) => Err(match e {
            EnrolError::TokenRefused => ApiFailure::new(
                StatusCode::FORBIDDEN,
                error_code::TOKEN_REFUSED,
                e.to_string(),
            ),
            EnrolError::BadPublicKey => ApiFailure::invalid(e.to_string()),
            EnrolError::AlreadyEnrolled(_) | EnrolError::HallFull(..) => {
                ApiFailure::new(StatusCode::CONFLICT, error_code::CONFLICT, e.to_string())
            }
            EnrolError::NoOpsKey => ApiFailure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                error_code::INTERNAL,
                e.to_string(),
            ),
            EnrolError::Store(e) => e.into(),
        }),
    }
}

/// The nonce is claimed in the ingest transaction: a batch is stored with its nonce or not
/// at all.
pub(crate) async fn post_events(
    State(state): State<AppState>,
    SignedUnclaimed { auth, body }: SignedUnclaimed,
) -> Result<Response, ApiFailure> {
    let batch: EventBatch = serde_json::from_slice(&body).map_err(|e| ApiFailure::from_json(&e))?;
    if batch.events.len() > routes::MAX_BATCH_EVENTS {
        return Err(ApiFailure::too_large(format!(
            "batch has {} events, at most {} are accepted",
            batch.events.len(),
            routes::MAX_BATCH_EVENTS
        )));
    }
    check_batch(&batch).map_err(|p| ApiFailure::invalid(p.0))?;
    match state
        .store
        .ingest(
            auth.kiosk.kiosk_id,
            Some(&auth.nonce),
            &batch,
            state.limits.help_per_minute,
            state.limits.events_per_minute,
            state.limits.requests_per_minute,
        )
        .await?
    {
        IngestOutcome::Done(ack) => {
            state.metrics.batch(&ack);
            Ok(Json(ack).into_response())
        }
        IngestOutcome::ReplayedNonce => Err(replayed(&auth.nonce)),
        IngestOutcome::OverRate => Err(over_rate(state.limits.requests_per_minute)),
    }
}

fn check_sha(sha256: &str) -> Result<(), ApiFailure> {
    if is_sha256_hex(sha256) {
        Ok(())
    } else {
        Err(ApiFailure::invalid(format!(
            "{sha256:?} is not a lower-case hex sha256"
        )))
    }
}

pub(crate) async fn upload_status(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    SignedGet(kiosk): SignedGet,
) -> Result<Response, ApiFailure> {
    check_sha(&sha256)?;
    let status = state.store.upload_status(kiosk.kiosk_id, &sha256).await?;
    Ok(Json(status).into_response())
}

fn number_header(headers: &HeaderMap, name: &str) -> Result<u64, ApiFailure> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            ApiFailure::bad_request(format!("header {name} must be a non-negative integer"))
        })
}

pub(crate) async fn put_chunk(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    headers: HeaderMap,
    SignedRequest { kiosk, body }: SignedRequest,
) -> Result<Response, ApiFailure> {
    check_sha(&sha256)?;
    let offset = number_header(&headers, routes::HEADER_UPLOAD_OFFSET)?;
    let total = number_header(&headers, routes::HEADER_UPLOAD_LENGTH)?;
    if total > routes::MAX_ATTACHMENT_BYTES {
        return Err(ApiFailure::too_large(format!(
            "attachment of {total} bytes is over the limit of {} bytes",
            routes::MAX_ATTACHMENT_BYTES
        )));
    }
    let chunk = ChunkUpload {
        sha256: &sha256,
        offset,
        total,
        data: &body,
    };
    let per_day = state.limits.attachments_per_day;
    match state
        .store
        .put_chunk(kiosk.kiosk_id, chunk, per_day)
        .await?
    {
        ChunkOutcome::Accepted(status) => Ok(Json(status).into_response()),
        ChunkOutcome::WrongOffset(status) => {
            Ok((StatusCode::CONFLICT, Json(status)).into_response())
        }
        ChunkOutcome::BadLength(message) => Err(ApiFailure::invalid(message)),
        ChunkOutcome::DigestMismatch { actual } => Err(ApiFailure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            error_code::DIGEST_MISMATCH,
            format!(
                "uploaded bytes hash to {actual}, not {sha256}; the upload was discarded, upload the file again from offset 0"
            ),
        )),
        ChunkOutcome::OverQuota(message) => {
            tracing::warn!(kiosk = %kiosk.kiosk_id, "upload refused over the per-kiosk quota");
            Err(ApiFailure::too_many(message))
        }
    }
}

pub(crate) async fn desired_state(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedGet(kiosk): SignedGet,
) -> Result<Response, ApiFailure> {
    let mut desired = state.store.desired_state(&kiosk.hall_id).await?;
    desired.release = state.store.desired_release(kiosk.kiosk_id).await?;
    desired.key_statements = state.store.key_statements().await?;
    if state.due_for_seen(kiosk.kiosk_id) {
        state.store.touch_kiosk(kiosk.kiosk_id).await?;
    }
    let json = serde_json::to_vec(&desired).map_err(|e| {
        ApiFailure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            error_code::INTERNAL,
            format!("encoding desired state: {e}"),
        )
    })?;
    let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&json))[..32]);
    let etag_value = HeaderValue::from_str(&etag)
        .expect("invariant: a quoted hex string is a valid header value");
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    Ok((
        StatusCode::OK,
        [
            (header::ETAG, etag_value),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
        ],
        json,
    )
        .into_response())
}

/// A kiosk gets only bundles published for its own hall: a config bundle carries the
/// technician PIN's hash.
pub(crate) async fn bundle(
    State(state): State<AppState>,
    Path((kind, version)): Path<(String, String)>,
    SignedGet(kiosk): SignedGet,
) -> Result<Response, ApiFailure> {
    match state
        .store
        .bundle_for_hall(&kind, &version, &kiosk.hall_id)
        .await?
    {
        BundleFetch::Found(b) => Ok(Json(b).into_response()),
        BundleFetch::OtherHall => {
            tracing::warn!(kiosk = %kiosk.kiosk_id, hall = %kiosk.hall_id, %kind, %version, "refused another hall's bundle");
            Err(ApiFailure::forbidden(format!(
                "bundle {kind} {version} was not published for hall {}; a kiosk gets only its own hall's bundles",
                kiosk.hall_id
            )))
        }
        BundleFetch::Missing => Err(ApiFailure::not_found(format!("no bundle {kind} {version}"))),
    }
}

pub(crate) async fn openapi() -> Response {
    Json(kiosk_api::openapi::document()).into_response()
}

pub(crate) async fn no_route(uri: Uri) -> ApiFailure {
    ApiFailure::not_found(format!("no such path {}", uri.path()))
}

pub(crate) async fn wrong_method(method: Method, uri: Uri) -> ApiFailure {
    ApiFailure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        error_code::BAD_REQUEST,
        format!("{method} is not allowed on {}", uri.path()),
    )
}
