//! `GET /v1/releases/{version}/manifest` and `/artifact` (signed kiosk requests). The
//! artifact honours `Range: bytes=N-` (and `bytes=N-M`) with 206 and `Content-Range`, so a
//! kiosk resumes an interrupted download; it is streamed chunk by chunk from the database.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kiosk_api::error_code;

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

/// A byte range asked for, or None to send the whole artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wanted {
    /// No (usable) Range header: everything, 200.
    All,
    /// Bytes `first..=last`, 206.
    Range(u64, u64),
    /// Starts at or past the end: 416.
    Unsatisfiable,
}

/// Reads a `Range` header against an artifact of `size` bytes. Forms other than one
/// `bytes=N-` or `bytes=N-M` are ignored (RFC 9110 lets a server send the whole body).
pub(crate) fn wanted(range: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return Wanted::All;
    };
    if spec.contains(',') {
        return Wanted::All;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Wanted::All;
    };
    let Ok(first) = first.trim().parse::<u64>() else {
        return Wanted::All;
    };
    let last = match last.trim() {
        "" => size.saturating_sub(1),
        l => match l.parse::<u64>() {
            Ok(l) if l >= first => l.min(size.saturating_sub(1)),
            _ => return Wanted::All,
        },
    };
    if first >= size {
        return Wanted::Unsatisfiable;
    }
    Wanted::Range(first, last)
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{Wanted, wanted};

    proptest! {
        #[test]
        fn any_range_header_gives_bytes_inside_the_artifact_or_none(header in "(bytes=)?[0-9 ,-]{0,24}", size in 0u64..10_000) {
            match wanted(Some(&header), size) {
                Wanted::Range(first, last) => prop_assert!(first <= last && last < size),
                Wanted::All | Wanted::Unsatisfiable => {}
            }
        }

        #[test]
        fn a_resume_from_any_offset_gets_the_rest(first in 0u64..20_000, size in 1u64..10_000) {
            let expected = if first < size { Wanted::Range(first, size - 1) } else { Wanted::Unsatisfiable };
            prop_assert_eq!(wanted(Some(&format!("bytes={first}-")), size), expected);
        }
    }

    #[test]
    fn range_headers_are_read_like_rfc_9110_says() {
        assert_eq!(wanted(None, 100), Wanted::All);
        assert_eq!(wanted(Some("bytes=10-"), 100), Wanted::Range(10, 99));
        assert_eq!(wanted(Some("bytes=10-19"), 100), Wanted::Range(10, 19));
        assert_eq!(wanted(Some("bytes=10-500"), 100), Wanted::Range(10, 99));
        assert_eq!(wanted(Some("bytes=100-"), 100), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=0-1,5-6"), 100), Wanted::All);
        assert_eq!(wanted(Some("bytes=-5"), 100), Wanted::All);
        assert_eq!(wanted(Some("items=1-"), 100), Wanted::All);
        assert_eq!(wanted(Some("bytes=9-3"), 100), Wanted::All);
    }
}
