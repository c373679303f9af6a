//! The citizen endpoints of central (CONTRACTS B) as the engine calls them: number leases,
//! queue state, appointments and progress. Requests are signed with the kiosk key exactly as
//! kiosk-core's client signs its own (`kiosk_api::sign_request`).
//!
//! Lives here until kiosk-core's `CentralClient` has these methods; the answers are parsed
//! into kiosk-api's types, so nothing of the contract is duplicated.

use std::time::Duration;

use chrono::NaiveDate;
use ed25519_dalek::SigningKey;
use kiosk_api::citizen::{ApplicationProgress, Appointment, Lease, LeaseRequest, QueueSnapshot};
use kiosk_api::{routes, sign_request};
use uuid::Uuid;

/// Why a call to central did not give an answer the journeys can use.
#[derive(Debug, thiserror::Error)]
pub enum CentralError {
    /// No answer (offline, timeout).
    #[error("central at {url}: {message}")]
    Unreachable {
        /// The URL.
        url: String,
        /// What the transport said.
        message: String,
    },
    /// An error status.
    #[error("central at {url} answered {status}: {body}")]
    Refused {
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The body (an `ApiError`), cut to 200 bytes.
        body: String,
    },
    /// An answer outside the contract.
    #[error("central at {url}: answer does not fit the contract: {message}")]
    Protocol {
        /// The URL.
        url: String,
        /// The parse error.
        message: String,
    },
}

impl CentralError {
    /// Whether central said the numbers of this category and day are all leased (409).
    pub fn is_exhausted(&self) -> bool {
        matches!(self, CentralError::Refused { status: 409, body, .. }
            if body.contains(kiosk_api::citizen::citizen_error::NUMBERS_EXHAUSTED))
    }
}

/// Signed client of the citizen endpoints.
#[derive(Clone)]
pub struct CitizenClient {
    http: reqwest::Client,
    base: String,
    kiosk_id: Uuid,
    key: SigningKey,
}

impl std::fmt::Debug for CitizenClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CitizenClient")
            .field("base", &self.base)
            .field("kiosk_id", &self.kiosk_id)
            .finish_non_exhaustive()
    }
}

impl CitizenClient {
    /// A client for central at `base`, signing as `kiosk_id`. Short timeouts: a citizen is
    /// waiting, and every answer has an offline fallback.
    pub fn new(base: &str, kiosk_id: Uuid, key: SigningKey) -> Result<CitizenClient, CentralError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(4))
            .build()
            .map_err(|e| CentralError::Unreachable {
                url: base.to_owned(),
                message: e.to_string(),
            })?;
        Ok(CitizenClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            kiosk_id,
            key,
        })
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<T, CentralError> {
        let url = format!("{}{path}", self.base);
        let headers = sign_request(
            &self.key,
            self.kiosk_id,
            method.as_str(),
            path,
            &body,
            chrono::Utc::now().timestamp(),
        );
        let mut request = self.http.request(method, &url).body(body);
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        request = request.header(reqwest::header::CONTENT_TYPE, "application/json");
        let unreachable = |e: reqwest::Error| CentralError::Unreachable {
            url: url.clone(),
            message: e.to_string(),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            return Err(CentralError::Refused {
                url,
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| CentralError::Protocol {
            url,
            message: e.to_string(),
        })
    }

    /// `POST /v1/queue/leases`.
    pub async fn lease(&self, request: &LeaseRequest) -> Result<Lease, CentralError> {
        let body = serde_json::to_vec(request).map_err(|e| CentralError::Protocol {
            url: routes::QUEUE_LEASES.to_owned(),
            message: e.to_string(),
        })?;
        self.call(reqwest::Method::POST, routes::QUEUE_LEASES, body)
            .await
    }

    /// `GET /v1/queue/state`.
    pub async fn queue_state(&self) -> Result<QueueSnapshot, CentralError> {
        self.call(reqwest::Method::GET, routes::QUEUE_STATE, Vec::new())
            .await
    }

    /// `GET /v1/appointments?date=`.
    pub async fn appointments(&self, date: NaiveDate) -> Result<Vec<Appointment>, CentralError> {
        self.call(
            reqwest::Method::GET,
            &routes::appointments(date),
            Vec::new(),
        )
        .await
    }

    /// `GET /v1/applications/{no}`.
    pub async fn application(&self, no: &str) -> Result<ApplicationProgress, CentralError> {
        self.call(reqwest::Method::GET, &routes::application(no), Vec::new())
            .await
    }

    /// `GET /v1/applications?holder=`.
    pub async fn applications_of(
        &self,
        holder_hash: &str,
    ) -> Result<Vec<ApplicationProgress>, CentralError> {
        self.call(
            reqwest::Method::GET,
            &routes::applications_by_holder(holder_hash),
            Vec::new(),
        )
        .await
    }
}
