//! Queue, appointment and progress endpoints of the citizen journeys (contract B). Every one
//! is signed like `/v1/events`, and answers for the asking kiosk's own hall only.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use kiosk_api::citizen::{LeaseRequest, citizen_error, is_holder_hash};
use kiosk_api::{ApplicationNo, routes};

use super::auth::{SignedGet, SignedRequest};
use super::body::body_limit;
use super::{ApiFailure, AppState};
use crate::store::{LeaseAsk, LeaseError};

/// Largest lease request body; a real one is about 70 bytes.
const MAX_LEASE_BYTES: usize = 4 * 1024;

/// The routes of this module, merged into [`super::router`].
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            routes::QUEUE_LEASES,
            post(lease).layer(body_limit(MAX_LEASE_BYTES)),
        )
        .route(routes::QUEUE_STATE, get(queue_state))
        .route(routes::APPOINTMENTS, get(appointments))
        .route(routes::APPLICATIONS, get(applications_by_holder))
        .route(routes::APPLICATION, get(application))
        .route(routes::HOLDER_KEYS, get(holder_keys))
        .route(routes::HELP, get(help_status))
}

/// The one value of query parameter `name`, or 422.
fn query_param(uri: &Uri, name: &str) -> Result<String, ApiFailure> {
    let mut found = None;
    for pair in uri.query().unwrap_or("").split('&') {
        if let Some((key, value)) = pair.split_once('=')
            && key == name
        {
            if found.is_some() {
                return Err(ApiFailure::invalid(format!(
                    "query parameter {name} is given twice"
                )));
            }
            found = Some(value.to_owned());
        }
    }
    found.ok_or_else(|| ApiFailure::invalid(format!("query parameter {name} is missing")))
}

async fn lease(
    State(state): State<AppState>,
    SignedRequest { kiosk, body }: SignedRequest,
) -> Result<Response, ApiFailure> {
    let request: LeaseRequest =
        serde_json::from_slice(&body).map_err(|e| ApiFailure::from_json(&e))?;
    let ask = LeaseAsk {
        request: &request,
        cap: state.limits.lease_cap,
    };
    match state
        .store
        .lease_numbers(&kiosk, ask, chrono::Utc::now())
        .await
    {
        Ok(lease) => {
            tracing::info!(kiosk = %kiosk.kiosk_id, hall = %kiosk.hall_id, category = %lease.category, date = %lease.business_date, first = lease.first, last = lease.last, "numbers leased");
            Ok((StatusCode::CREATED, Json(lease)).into_response())
        }
        Err(LeaseError::Invalid(message)) => Err(ApiFailure::invalid(message)),
        Err(e @ LeaseError::RequestIdReused(_)) => Err(ApiFailure::invalid(e.to_string())),
        Err(e @ LeaseError::Exhausted { .. }) => Err(ApiFailure::new(
            StatusCode::CONFLICT,
            citizen_error::NUMBERS_EXHAUSTED,
            e.to_string(),
        )),
        Err(e @ LeaseError::OverCap { .. }) => {
            tracing::warn!(kiosk = %kiosk.kiosk_id, hall = %kiosk.hall_id, reason = %e, "lease refused over the per-kiosk cap");
            Err(ApiFailure::too_many(e.to_string()))
        }
        Err(LeaseError::Store(e)) => Err(e.into()),
    }
}

async fn queue_state(
    State(state): State<AppState>,
    SignedGet(kiosk): SignedGet,
) -> Result<Response, ApiFailure> {
    let mut snapshot = state
        .store
        .queue_snapshot(&kiosk.hall_id, chrono::Utc::now())
        .await?;
    snapshot.live_url_prefix = state.live_url_prefix();
    Ok(Json(snapshot).into_response())
}

async fn appointments(
    State(state): State<AppState>,
    uri: Uri,
    SignedGet(kiosk): SignedGet,
) -> Result<Response, ApiFailure> {
    let date = query_param(&uri, "date")?;
    let date = NaiveDate::parse_from_str(&date, "%Y-%m-%d")
        .map_err(|_| ApiFailure::invalid(format!("date {date:?} is not YYYY-MM-DD")))?;
    let list = state.store.appointments(&kiosk.hall_id, date).await?;
    Ok(Json(list).into_response())
}

async fn applications_by_holder(
    State(state): State<AppState>,
    uri: Uri,
    SignedGet(kiosk): SignedGet,
) -> Result<Response, ApiFailure> {
    let holder = query_param(&uri, "holder")?;
    if !is_holder_hash(&holder) {
        return Err(ApiFailure::invalid(
            "holder is not a holder hash (64 lower-case hex); never send the ID number itself",
        ));
    }
    let list = state
        .store
        .applications_by_holder(&kiosk.hall_id, &holder)
        .await?;
    Ok(Json(list).into_response())
}

async fn application(
    State(state): State<AppState>,
    Path(application_no): Path<String>,
    SignedGet(kiosk): SignedGet,
) -> Result<Response, ApiFailure> {
    let number = ApplicationNo::parse(&application_no).map_err(|e| {
        ApiFailure::invalid(format!(
            "{application_no:?} is not an application number (17 digits such as 00120326120100075): {e}"
        ))
    })?;
    let application_no = number.to_string();
    match state
        .store
        .application_progress(&application_no, Some(&kiosk.hall_id))
        .await?
    {
        Some(progress) => Ok(Json(progress).into_response()),
        // Another hall's application is answered the same as none: no probing across halls.
        None => Err(ApiFailure::not_found(format!(
            "no application {application_no} in this hall; a new one reaches central once the submitting kiosk's outbox delivers it"
        ))),
    }
}

/// The holder keys, for kiosks of any hall: a holder hash must be the same on every kiosk
/// of the platform. Never logged.
async fn holder_keys(
    State(state): State<AppState>,
    SignedGet(kiosk): SignedGet,
) -> Result<Response, ApiFailure> {
    let keys = state.holder_keys.keys();
    tracing::debug!(kiosk = %kiosk.kiosk_id, keys = keys.keys.len(), "holder keys fetched");
    Ok(Json(keys).into_response())
}

async fn help_status(
    State(state): State<AppState>,
    Path(event_id): Path<String>,
    SignedGet(kiosk): SignedGet,
) -> Result<Response, ApiFailure> {
    let event_id: uuid::Uuid = event_id
        .parse()
        .map_err(|_| ApiFailure::invalid(format!("{event_id:?} is not an event id (a UUID)")))?;
    match state
        .store
        .help_status(&kiosk.kiosk_id.to_string(), event_id)
        .await?
    {
        Some(status) => Ok(Json(status).into_response()),
        // Another kiosk's request is answered the same as none.
        None => Err(ApiFailure::not_found(format!(
            "central has no help request {event_id} from this kiosk yet; it is still in the kiosk's outbox"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn uri(query: &str) -> Uri {
        format!("/v1/appointments?{query}").parse().unwrap()
    }

    #[test]
    fn a_query_parameter_is_found_once_or_refused() {
        assert_eq!(
            query_param(&uri("date=2026-11-27"), "date").unwrap(),
            "2026-11-27"
        );
        assert_eq!(
            query_param(&uri("x=1&date=2026-11-27&y"), "date").unwrap(),
            "2026-11-27"
        );
        assert_eq!(
            query_param(&uri("date=a&date=b"), "date")
                .unwrap_err()
                .status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert!(query_param(&uri("dates=1"), "date").is_err());
        let bare: Uri = "/v1/appointments".parse().unwrap();
        assert!(query_param(&bare, "date").is_err());
    }

    proptest! {
        #[test]
        fn the_query_reader_finds_the_parameter_among_any_others(
            others in proptest::collection::vec("[a-ce-z]{1,6}=[a-z0-9]{0,6}", 0..6),
            value in "[0-9a-f]{64}",
            at in 0usize..6,
        ) {
            let mut pairs = others.clone();
            pairs.insert(at.min(pairs.len()), format!("holder={value}"));
            let found = query_param(&uri(&pairs.join("&")), "holder").unwrap();
            prop_assert_eq!(found, value);
        }
    }
}
