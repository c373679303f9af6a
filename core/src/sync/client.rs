//! HTTP client of the central API: every request after enrolment signed with the kiosk key
//! through `kiosk_api::sign_request`, every answer checked against the contract's types.

use std::time::Duration;

use ed25519_dalek::SigningKey;
use kiosk_api::{
    ApiError, BatchAck, DesiredState, EnrolRequest, Enrolment, EventBatch, SignedBundle,
    UploadStatus, routes, sign_request,
};
use reqwest::{Method, StatusCode, header};
use uuid::Uuid;

use super::SyncError;

/// A kiosk's connection to central: base URL, identity, signing key.
#[derive(Clone)]
pub struct CentralClient {
    http: reqwest::Client,
    base: String,
    kiosk_id: Uuid,
    key: SigningKey,
    clock_offset_secs: i64,
}

impl std::fmt::Debug for CentralClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CentralClient")
            .field("base", &self.base)
            .field("kiosk_id", &self.kiosk_id)
            .finish_non_exhaustive()
    }
}

/// Timeouts of the client. A stalled connection must not hold the uplink for long: the next
/// attempt on a fresh connection is cheap, and the batch is idempotent.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// TCP + TLS connect.
    pub connect: Duration,
    /// A whole request, answer included.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(60),
        }
    }
}

/// What a `PUT` of one chunk came back with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkAnswer {
    /// Accepted; central now holds `received` bytes.
    Accepted(UploadStatus),
    /// Central holds a different number of bytes than the chunk's offset: resume from there.
    OffsetMismatch(UploadStatus),
}

impl CentralClient {
    /// A client for central at `base_url` (e.g. `https://central.example/`), signing as
    /// `kiosk_id` with `key`.
    pub fn new(
        base_url: &str,
        kiosk_id: Uuid,
        key: SigningKey,
        timeouts: Timeouts,
    ) -> Result<CentralClient, SyncError> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            .build()
            .map_err(|e| SyncError::Http {
                url: base_url.to_owned(),
                source: e,
            })?;
        Ok(CentralClient {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            kiosk_id,
            key,
            clock_offset_secs: 0,
        })
    }

    /// Signs with the local clock shifted by `secs`. The fault test uses it to show that a
    /// skew inside the window is accepted; a kiosk could use it after measuring its skew.
    pub fn with_clock_offset(mut self, secs: i64) -> CentralClient {
        self.clock_offset_secs = secs;
        self
    }

    /// The kiosk id requests are signed as.
    pub fn kiosk_id(&self) -> Uuid {
        self.kiosk_id
    }

    /// Central's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub(super) fn signed(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> reqwest::RequestBuilder {
        let timestamp = chrono::Utc::now().timestamp() + self.clock_offset_secs;
        let headers = sign_request(
            &self.key,
            self.kiosk_id,
            method.as_str(),
            path,
            &body,
            timestamp,
        );
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .body(body);
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        request
    }

    pub(super) async fn send(
        &self,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SyncError> {
        request.send().await.map_err(|source| SyncError::Http {
            url: format!("{}{path}", self.base),
            source,
        })
    }

    pub(super) async fn body(
        &self,
        path: &str,
        response: reqwest::Response,
    ) -> Result<Vec<u8>, SyncError> {
        response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|source| SyncError::Http {
                url: format!("{}{path}", self.base),
                source,
            })
    }

    pub(super) async fn refused(&self, path: &str, response: reqwest::Response) -> SyncError {
        let status = response.status();
        let body = self.body(path, response).await.unwrap_or_default();
        let error = serde_json::from_slice::<ApiError>(&body).unwrap_or_else(|_| {
            ApiError::new(
                "unreadable",
                String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
            )
        });
        SyncError::Refused {
            url: format!("{}{path}", self.base),
            status: status.as_u16(),
            error,
        }
    }

    pub(super) fn parse<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &[u8],
    ) -> Result<T, SyncError> {
        serde_json::from_slice(body).map_err(|e| SyncError::Protocol {
            url: format!("{}{path}", self.base),
            message: format!("answer does not fit the contract: {e}"),
        })
    }

    /// `POST /v1/events`: one batch, central's answer per event.
    pub async fn post_events(&self, batch: &EventBatch) -> Result<BatchAck, SyncError> {
        let path = routes::EVENTS;
        let body = serde_json::to_vec(batch).map_err(|e| SyncError::Protocol {
            url: path.to_owned(),
            message: e.to_string(),
        })?;
        let request = self
            .signed(Method::POST, path, body)
            .header(header::CONTENT_TYPE, "application/json");
        let response = self.send(path, request).await?;
        if response.status() != StatusCode::OK {
            return Err(self.refused(path, response).await);
        }
        let body = self.body(path, response).await?;
        let ack: BatchAck = self.parse(path, &body)?;
        Ok(ack)
    }

    /// `GET /v1/attachments/{sha256}`: how much central holds.
    pub async fn upload_status(&self, sha256: &str) -> Result<UploadStatus, SyncError> {
        let path = routes::attachment(sha256);
        let response = self
            .send(&path, self.signed(Method::GET, &path, Vec::new()))
            .await?;
        if response.status() != StatusCode::OK {
            return Err(self.refused(&path, response).await);
        }
        let body = self.body(&path, response).await?;
        self.parse(&path, &body)
    }

    /// `PUT /v1/attachments/{sha256}`: one chunk at `offset` of `total` bytes.
    pub async fn put_chunk(
        &self,
        sha256: &str,
        offset: u64,
        total: u64,
        chunk: &[u8],
    ) -> Result<ChunkAnswer, SyncError> {
        let path = routes::attachment(sha256);
        let request = self
            .signed(Method::PUT, &path, chunk.to_vec())
            .header(routes::HEADER_UPLOAD_OFFSET, offset.to_string())
            .header(routes::HEADER_UPLOAD_LENGTH, total.to_string())
            .header(header::CONTENT_TYPE, "application/octet-stream");
        let response = self.send(&path, request).await?;
        match response.status() {
            StatusCode::OK => {
                let body = self.body(&path, response).await?;
                Ok(ChunkAnswer::Accepted(self.parse(&path, &body)?))
            }
            StatusCode::CONFLICT => {
                let body = self.body(&path, response).await?;
                Ok(ChunkAnswer::OffsetMismatch(self.parse(&path, &body)?))
            }
            _ => Err(self.refused(&path, response).await),
        }
    }

    /// `GET /v1/desired-state` with `If-None-Match`: `None` when unchanged (304), else the
    /// state and its ETag.
    pub async fn desired_state(
        &self,
        etag: Option<&str>,
    ) -> Result<Option<(DesiredState, Option<String>)>, SyncError> {
        let path = routes::DESIRED_STATE;
        let mut request = self.signed(Method::GET, path, Vec::new());
        if let Some(etag) = etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        let response = self.send(path, request).await?;
        match response.status() {
            StatusCode::NOT_MODIFIED => Ok(None),
            StatusCode::OK => {
                let etag = response
                    .headers()
                    .get(header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = self.body(path, response).await?;
                Ok(Some((self.parse(path, &body)?, etag)))
            }
            _ => Err(self.refused(path, response).await),
        }
    }

    /// `GET /v1/bundles/{kind}/{version}`: the signed bundle, not yet verified.
    pub async fn bundle(&self, kind: &str, version: &str) -> Result<SignedBundle, SyncError> {
        let path = routes::bundle(kind, version);
        let response = self
            .send(&path, self.signed(Method::GET, &path, Vec::new()))
            .await?;
        if response.status() != StatusCode::OK {
            return Err(self.refused(&path, response).await);
        }
        let body = self.body(&path, response).await?;
        self.parse(&path, &body)
    }
}

/// `POST /v1/enrolments` (unsigned; the one-time token is the credential).
pub async fn enrol(base_url: &str, request: &EnrolRequest) -> Result<Enrolment, SyncError> {
    let base = base_url.trim_end_matches('/');
    let url = format!("{base}{}", routes::ENROLMENTS);
    let http_err = |source| SyncError::Http {
        url: url.clone(),
        source,
    };
    let response = reqwest::Client::new()
        .post(&url)
        .json(request)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(http_err)?;
    let status = response.status();
    let body = response.bytes().await.map_err(http_err)?;
    if status != StatusCode::CREATED && status != StatusCode::OK {
        let error = serde_json::from_slice::<ApiError>(&body)
            .unwrap_or_else(|_| ApiError::new("unreadable", String::from_utf8_lossy(&body)));
        return Err(SyncError::Refused {
            url,
            status: status.as_u16(),
            error,
        });
    }
    serde_json::from_slice(&body).map_err(|e| SyncError::Protocol {
        url,
        message: format!("enrolment answer does not fit the contract: {e}"),
    })
}
