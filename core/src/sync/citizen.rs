//! The kiosk's calls to central's citizen endpoints (contract B): number leases, queue
//! state, appointments and application progress. Signed and checked like every other call of
//! [`CentralClient`]; the journeys cache what they need for offline use.

use chrono::NaiveDate;
use kiosk_api::ApplicationNo;
use kiosk_api::citizen::{
    ApplicationProgress, Appointment, Lease, LeaseRequest, QueueSnapshot, is_holder_hash,
};
use kiosk_api::routes;
use reqwest::{Method, StatusCode, header};

use super::{CentralClient, SyncError};

impl CentralClient {
    /// `POST /v1/queue/leases`: a block of numbers for this kiosk. A 409 whose
    /// `error.error` is `numbers_exhausted` means none are left below 500: issue from the
    /// kiosk's own band.
    pub async fn lease(&self, request: &LeaseRequest) -> Result<Lease, SyncError> {
        let path = routes::QUEUE_LEASES;
        let body = serde_json::to_vec(request).map_err(|e| SyncError::Protocol {
            url: path.to_owned(),
            message: e.to_string(),
        })?;
        let request = self
            .signed(Method::POST, path, body)
            .header(header::CONTENT_TYPE, "application/json");
        let response = self.send(path, request).await?;
        if response.status() != StatusCode::CREATED {
            return Err(self.refused(path, response).await);
        }
        let body = self.body(path, response).await?;
        let lease: Lease = self.parse(path, &body)?;
        if lease.first > lease.last || lease.last > kiosk_api::citizen::LEASE_MAX_NUMBER {
            return Err(SyncError::Protocol {
                url: format!("{}{path}", self.base_url()),
                message: format!(
                    "lease {}..={} is not a block below 500",
                    lease.first, lease.last
                ),
            });
        }
        Ok(lease)
    }

    /// `GET /v1/queue/state`: waiting tickets and pace per category of this kiosk's hall.
    pub async fn queue_state(&self) -> Result<QueueSnapshot, SyncError> {
        self.get_json(routes::QUEUE_STATE).await
    }

    /// `GET /v1/appointments?date=`: the hall's booked appointments of `date`.
    pub async fn appointments(&self, date: NaiveDate) -> Result<Vec<Appointment>, SyncError> {
        self.get_json(&routes::appointments(date)).await
    }

    /// `GET /v1/applications/{no}`: `None` when central has no such application in this
    /// hall (yet: a fresh one may still be in some kiosk's outbox).
    /// The number is typed, so only its 17 checked digits ever reach the URL path.
    pub async fn application_progress(
        &self,
        application_no: &ApplicationNo,
    ) -> Result<Option<ApplicationProgress>, SyncError> {
        self.get_optional(&routes::application(&application_no.to_string()))
            .await
    }

    /// A signed `GET` of `path` whose 404 means "central does not have it (yet)": `None`.
    async fn get_optional<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<T>, SyncError> {
        let response = self
            .send(path, self.signed(Method::GET, path, Vec::new()))
            .await?;
        match response.status() {
            StatusCode::OK => {
                let body = self.body(path, response).await?;
                Ok(Some(self.parse(path, &body)?))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.refused(path, response).await),
        }
    }

    /// `GET /v1/applications?holder=`: one holder's applications in this hall, newest first.
    /// `holder_hash` is [`kiosk_api::citizen::HolderKey::hash`] of the card, never the number.
    pub async fn applications_by_holder(
        &self,
        holder_hash: &str,
    ) -> Result<Vec<ApplicationProgress>, SyncError> {
        if !is_holder_hash(holder_hash) {
            return Err(SyncError::Protocol {
                url: format!("{}{}", self.base_url(), routes::APPLICATIONS),
                message: "refusing to send something that is not a holder hash".into(),
            });
        }
        self.get_json(&routes::applications_by_holder(holder_hash))
            .await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, SyncError> {
        let response = self
            .send(path, self.signed(Method::GET, path, Vec::new()))
            .await?;
        if response.status() != StatusCode::OK {
            return Err(self.refused(path, response).await);
        }
        let body = self.body(path, response).await?;
        self.parse(path, &body)
    }
}
