//! `GET /v1/releases/{version}/manifest` and `/artifact` (signed kiosk requests). The
//! artifact honours `Range: bytes=N-` (and `bytes=N-M`) with 206 and `Content-Range`, so a
//! kiosk resumes an interrupted download; it is streamed chunk by chunk from the database.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kiosk_api::error_code;
use kiosk_api::range::{Wanted, wanted};

use super::auth::SignedGet;
use super::{ApiFailure, AppState};
use crate::Store;
use crate::store::RELEASE_CHUNK_BYTES;

fn no_release(version: &str) -> ApiFailure {
    ApiFailure::not_found(format!("no release {version} is published"))
}

pub(crate) async fn manifest(
    State(state): State<AppState>,
    Path(version): Path<String>,
    _: SignedGet,
) -> Result<Response, ApiFailure> {
    match state.store.release(&version).await? {
        Some(release) => Ok(Json(release).into_response()),
        None => Err(no_release(&version)),
    }
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).expect("invariant: digits, hex and ASCII punctuation only")
}

pub(crate) async fn artifact(
    State(state): State<AppState>,
    Path(version): Path<String>,
    headers: HeaderMap,
    _: SignedGet,
) -> Result<Response, ApiFailure> {
    let release = state
        .store
        .release(&version)
        .await?
        .ok_or_else(|| no_release(&version))?;
    let size = release.manifest.size;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, first, last) = match wanted(range, size) {
        Wanted::All => (StatusCode::OK, 0, size.saturating_sub(1)),
        Wanted::Range(first, last) => (StatusCode::PARTIAL_CONTENT, first, last),
        Wanted::Unsatisfiable => {
            let mut failure = ApiFailure::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                error_code::BAD_REQUEST,
                format!("range starts at or past the end of the {size}-byte artifact"),
            )
            .into_response();
            failure.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{size}")),
            );
            return Ok(failure);
        }
    };
    let length = if size == 0 { 0 } else { last - first + 1 };
    let body = Body::from_stream(chunks(
        state.store.clone(),
        release.manifest.sha256.clone(),
        first,
        length,
    ));
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/gzip"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, header_value(&length.to_string()));
    h.insert(
        header::ETAG,
        header_value(&format!("\"{}\"", release.manifest.sha256)),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(
            header::CONTENT_RANGE,
            header_value(&format!("bytes {first}-{last}/{size}")),
        );
    }
    Ok(response)
}

/// `length` bytes of the artifact from `first`, one stored chunk at a time.
fn chunks(
    store: Store,
    sha256: String,
    first: u64,
    length: u64,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    let chunk = RELEASE_CHUNK_BYTES as u64;
    futures::stream::try_unfold((first, length), move |(position, remaining)| {
        let store = store.clone();
        let sha256 = sha256.clone();
        async move {
            if remaining == 0 {
                return Ok(None);
            }
            let index = position / chunk;
            let data = store
                .release_chunk(&sha256, index)
                .await
                .map_err(std::io::Error::other)?
                .ok_or_else(|| {
                    std::io::Error::other(format!(
                        "artifact {sha256} is missing chunk {index} in the database"
                    ))
                })?;
            let start = usize::try_from(position % chunk).map_err(std::io::Error::other)?;
            let take = usize::try_from(remaining.min(chunk - position % chunk))
                .map_err(std::io::Error::other)?;
            let end = start
                .checked_add(take)
                .filter(|e| *e <= data.len())
                .ok_or_else(|| {
                    std::io::Error::other(format!(
                        "artifact {sha256} chunk {index} is shorter than its release says"
                    ))
                })?;
            let bytes = bytes::Bytes::copy_from_slice(&data[start..end]);
            let taken = take as u64;
            Ok(Some((bytes, (position + taken, remaining - taken))))
        }
    })
}
