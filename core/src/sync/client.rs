//! HTTP client of the central API: every request after enrolment signed with the kiosk key
//! through `kiosk_api::sign_request`, every answer checked against the contract's types.
//!
//! Bounded: no answer is read past the size its route can sensibly have ([`limits`]), so a
//! faulty or hostile server cannot make the kiosk buffer without end; and no redirect is ever
//! followed, since a request carries the kiosk's signed headers and must reach central only
//! (a redirect is the typed [`SyncError::Redirected`], saying what to fix).

use std::time::Duration;

use ed25519_dalek::SigningKey;
use kiosk_api::citizen::{HelpStatus, HolderKeys};
use kiosk_api::{
    ApiError, BatchAck, DesiredState, EnrolRequest, Enrolment, EventBatch, SignedBundle,
    UploadStatus, routes, sign_request,
};
use reqwest::{Method, StatusCode, header};
use uuid::Uuid;

use super::SyncError;

/// The most the kiosk reads of an answer, per route. Each is far above what central sends
/// for a busy hall, and far below what would hurt a kiosk's memory.
pub mod limits {
    use kiosk_api::routes;

    /// `POST /v1/events`: one result per event, 500 events.
    pub const EVENTS_ACK: usize = 1024 * 1024;
    /// Upload status and chunk answers.
    pub const UPLOAD_STATUS: usize = 64 * 1024;
    /// `GET /v1/desired-state`: a few references.
    pub const DESIRED_STATE: usize = 256 * 1024;
    /// `GET /v1/bundles/..`: a catalog with its forms, base64 in a signed envelope.
    pub const BUNDLE: usize = 32 * 1024 * 1024;
    /// `GET /v1/releases/../manifest`.
    pub const RELEASE_MANIFEST: usize = 64 * 1024;
    /// `POST /v1/enrolments`.
    pub const ENROLMENT: usize = 64 * 1024;
    /// `GET /v1/holder-keys`: a handful of 32-byte keys.
    pub const HOLDER_KEYS: usize = 64 * 1024;
    /// `GET /v1/help/..`.
    pub const HELP_STATUS: usize = 16 * 1024;
    /// `POST /v1/queue/leases`.
    pub const LEASE: usize = 64 * 1024;
    /// `GET /v1/queue/state`: the hall's categories.
    pub const QUEUE_STATE: usize = 1024 * 1024;
    /// `GET /v1/appointments`: one hall's bookings of one day.
    pub const APPOINTMENTS: usize = 8 * 1024 * 1024;
    /// `GET /v1/applications?holder=`: one holder's applications with timelines.
    pub const APPLICATIONS: usize = 2 * 1024 * 1024;
    /// `GET /v1/applications/..`: one application's timeline.
    pub const APPLICATION: usize = 512 * 1024;
    /// What is read of an error answer; the rest is dropped (it is only shown).
    pub const ERROR_BODY: usize = 16 * 1024;
    /// Any other route.
    pub const OTHER: usize = 1024 * 1024;

    /// The limit of the route `path` (a client path, query included).
    pub fn for_path(path: &str) -> usize {
        let route = path.split('?').next().unwrap_or(path);
        let starts = |prefix: &str| route.starts_with(prefix);
        if route == routes::EVENTS {
            EVENTS_ACK
        } else if starts("/v1/attachments/") {
            UPLOAD_STATUS
        } else if route == routes::DESIRED_STATE {
            DESIRED_STATE
        } else if starts("/v1/bundles/") {
            BUNDLE
        } else if starts("/v1/releases/") && route.ends_with("/manifest") {
            RELEASE_MANIFEST
        } else if route == routes::ENROLMENTS {
            ENROLMENT
        } else if route == routes::HOLDER_KEYS {
            HOLDER_KEYS
        } else if starts("/v1/help/") {
            HELP_STATUS
        } else if route == routes::QUEUE_LEASES {
            LEASE
        } else if route == routes::QUEUE_STATE {
            QUEUE_STATE
        } else if route == routes::APPOINTMENTS {
            APPOINTMENTS
        } else if route == routes::APPLICATIONS {
            APPLICATIONS
        } else if starts("/v1/applications/") {
            APPLICATION
        } else {
            OTHER
        }
    }
}

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
        CentralClient::trusting(base_url, None, kiosk_id, key, timeouts)
    }

    /// [`CentralClient::new`] that, given `ca_pem` (a hall's or province's private CA, PEM),
    /// trusts only certificates that CA issued instead of the public roots.
    pub fn trusting(
        base_url: &str,
        ca_pem: Option<&str>,
        kiosk_id: Uuid,
        key: SigningKey,
        timeouts: Timeouts,
    ) -> Result<CentralClient, SyncError> {
        let builder = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            .redirect(reqwest::redirect::Policy::none());
        let http = with_ca(builder, ca_pem)?
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
        let url = format!("{}{path}", self.base);
        let response = request.send().await.map_err(|source| SyncError::Http {
            url: url.clone(),
            source,
        })?;
        refuse_redirect(&url, response)
    }

    /// The whole body, at most the limit of the route `path` ([`limits::for_path`]).
    pub(super) async fn body(
        &self,
        path: &str,
        response: reqwest::Response,
    ) -> Result<Vec<u8>, SyncError> {
        self.body_limited(path, response, limits::for_path(path))
            .await
    }

    /// The whole body, at most `limit` bytes: more is [`SyncError::TooLarge`], found from
    /// `Content-Length` before anything is read, or as soon as the limit is passed.
    pub(super) async fn body_limited(
        &self,
        path: &str,
        response: reqwest::Response,
        limit: usize,
    ) -> Result<Vec<u8>, SyncError> {
        read_capped(&format!("{}{path}", self.base), response, limit).await
    }

    pub(super) async fn refused(&self, path: &str, response: reqwest::Response) -> SyncError {
        let url = format!("{}{path}", self.base);
        let status = response.status();
        let body = read_prefix(response, limits::ERROR_BODY).await;
        SyncError::Refused {
            url,
            status: status.as_u16(),
            error: api_error(&body),
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

    /// `GET /v1/holder-keys`: the platform's holder keys, current first. The caller keeps
    /// them sealed (`Store::save_holder_keys`) and never logs them.
    pub async fn holder_keys(&self) -> Result<HolderKeys, SyncError> {
        let path = routes::HOLDER_KEYS;
        let response = self
            .send(path, self.signed(Method::GET, path, Vec::new()))
            .await?;
        if response.status() != StatusCode::OK {
            return Err(self.refused(path, response).await);
        }
        let body = zeroize::Zeroizing::new(
            self.body_limited(path, response, limits::HOLDER_KEYS)
                .await?,
        );
        let keys: HolderKeys = self.parse(path, &body)?;
        if keys.keys.is_empty() {
            return Err(SyncError::Protocol {
                url: format!("{}{path}", self.base),
                message: "central sent no holder key at all".into(),
            });
        }
        Ok(keys)
    }

    /// `GET /v1/help/{event_id}`: where this kiosk's help request stands; `None` while
    /// central does not have it (404: it may still be in the outbox).
    pub async fn help_status(&self, event_id: Uuid) -> Result<Option<HelpStatus>, SyncError> {
        let path = routes::help(event_id);
        let response = self
            .send(&path, self.signed(Method::GET, &path, Vec::new()))
            .await?;
        match response.status() {
            StatusCode::OK => {
                let body = self
                    .body_limited(&path, response, limits::HELP_STATUS)
                    .await?;
                let status: HelpStatus = self.parse(&path, &body)?;
                if status.event_id != event_id {
                    return Err(SyncError::Protocol {
                        url: format!("{}{path}", self.base),
                        message: format!(
                            "asked for help request {event_id}, got {}",
                            status.event_id
                        ),
                    });
                }
                Ok(Some(status))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.refused(&path, response).await),
        }
    }
}

/// A redirect is never followed (the client's policy is `none`), and is an error of its own.
/// 304 is not a redirect: it answers `If-None-Match`.
fn refuse_redirect(url: &str, response: reqwest::Response) -> Result<reqwest::Response, SyncError> {
    let status = response.status();
    if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .chars()
                    .take(200)
                    .collect()
            })
            .unwrap_or_default();
        return Err(SyncError::Redirected {
            url: url.to_owned(),
            status: status.as_u16(),
            location,
        });
    }
    Ok(response)
}

async fn read_capped(
    url: &str,
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, SyncError> {
    let too_large = || SyncError::TooLarge {
        url: url.to_owned(),
        limit,
    };
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(source) => {
                return Err(SyncError::Http {
                    url: url.to_owned(),
                    source,
                });
            }
        }
    }
}

/// At most `limit` bytes of an error answer; the rest is not read, a broken read ends it.
async fn read_prefix(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(limit - body.len());
                body.extend_from_slice(&chunk[..take]);
            }
            _ => break,
        }
    }
    body
}

fn api_error(body: &[u8]) -> ApiError {
    serde_json::from_slice::<ApiError>(body).unwrap_or_else(|_| {
        let text: String = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        ApiError::new("unreadable", text)
    })
}

/// Trusts only the CA in `ca_pem`, if given: a kiosk of a hall with a private CA then
/// accepts no certificate a public CA issued for central's name.
fn with_ca(
    builder: reqwest::ClientBuilder,
    ca_pem: Option<&str>,
) -> Result<reqwest::ClientBuilder, SyncError> {
    let Some(pem) = ca_pem else {
        return Ok(builder);
    };
    let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
        .map_err(|e| SyncError::BadCa(e.to_string()))?;
    if certs.is_empty() {
        return Err(SyncError::BadCa("it holds no certificate".into()));
    }
    Ok(certs
        .into_iter()
        .fold(builder.tls_built_in_root_certs(false), |b, c| {
            b.add_root_certificate(c)
        }))
}

/// `POST /v1/enrolments` (unsigned; the one-time token is the credential).
pub async fn enrol(base_url: &str, request: &EnrolRequest) -> Result<Enrolment, SyncError> {
    enrol_trusting(base_url, None, request).await
}

/// [`enrol`] trusting only the CA in `ca_pem`, if given.
pub async fn enrol_trusting(
    base_url: &str,
    ca_pem: Option<&str>,
    request: &EnrolRequest,
) -> Result<Enrolment, SyncError> {
    let base = base_url.trim_end_matches('/');
    let url = format!("{base}{}", routes::ENROLMENTS);
    let http_err = |source| SyncError::Http {
        url: url.clone(),
        source,
    };
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30));
    let client = with_ca(builder, ca_pem)?.build().map_err(http_err)?;
    let response = client
        .post(&url)
        .json(request)
        .send()
        .await
        .map_err(http_err)?;
    let response = refuse_redirect(&url, response)?;
    let status = response.status();
    if status != StatusCode::CREATED && status != StatusCode::OK {
        let body = read_prefix(response, limits::ERROR_BODY).await;
        return Err(SyncError::Refused {
            url,
            status: status.as_u16(),
            error: api_error(&body),
        });
    }
    let body = read_capped(&url, response, limits::ENROLMENT).await?;
    serde_json::from_slice(&body).map_err(|e| SyncError::Protocol {
        url,
        message: format!("enrolment answer does not fit the contract: {e}"),
    })
}
