//! What central allows each client and each kiosk ([`Limits`], the limit flags of `central
//! serve`), and the two layers that hold the whole router to them: a cap on requests in
//! flight, refused at once beyond it, and a deadline for each request from its headers to its
//! answer, which drops a body that trickles.
//!
//! Written as axum middleware (tower layers) over a semaphore and `tokio::time::timeout`
//! rather than tower's `ConcurrencyLimitLayer`: that one queues requests beyond the cap
//! instead of refusing them, so a flood would still hold every connection open.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::ApiFailure;
use super::error::code;

/// What central allows each client and each kiosk: the limit flags of `central serve`, with
/// their defaults in [`Limits::default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most unused leased numbers one kiosk may hold per category and date (`--lease-cap`):
    /// one kiosk cannot take every number below 500 from the hall's others.
    pub lease_cap: u32,
    /// Longest a request may take from its headers to its answer, body included
    /// (`--body-timeout`): a slow body is dropped with 408 instead of holding a connection.
    pub body_timeout: Duration,
    /// Most requests central works on at once (`--max-in-flight`); more are refused with 503
    /// at once. Bounds memory: each may hold a body of up to `routes::MAX_BATCH_BYTES`.
    pub max_in_flight: usize,
    /// Help requests one kiosk may send per minute; more are answered `central_busy` (the
    /// kiosk sends them again later), so a kiosk cannot flood the help desk.
    pub help_per_minute: u32,
    /// Events one kiosk may have stored per minute (`--events-per-minute`); more are answered
    /// `central_busy` and sent again later, so a runaway kiosk cannot fill the database.
    pub events_per_minute: u32,
    /// Attachment uploads one kiosk may begin per day (`--attachments-per-day`); more are
    /// refused with 429 and wait at the kiosk.
    pub attachments_per_day: u32,
    /// Signed requests one kiosk may make per minute (`--requests-per-minute`); more are
    /// refused with 429 before their nonce is kept, which bounds the table of seen nonces
    /// to this many per kiosk per minute of its retention.
    pub requests_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            lease_cap: 200,
            body_timeout: Duration::from_secs(10),
            max_in_flight: 128,
            help_per_minute: 6,
            // Six full batches a minute: a kiosk back from days offline catches up at 180,000
            // events an hour, far beyond what a hall makes.
            events_per_minute: 3000,
            // A busy kiosk scans a few hundred pages a day.
            attachments_per_day: 2000,
            // A kiosk polls a few times a minute and uploads in 1 MiB chunks: 20 a second is
            // far above what one needs and bounds what one can make central keep.
            requests_per_minute: 1200,
        }
    }
}

/// Requests being worked on, against [`Limits::max_in_flight`].
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    permits: Arc<Semaphore>,
    max: usize,
}

impl InFlight {
    pub(crate) fn new(max: usize) -> InFlight {
        InFlight {
            permits: Arc::new(Semaphore::new(max)),
            max,
        }
    }
}

/// Refuses a request at once when [`Limits::max_in_flight`] are being worked on.
pub(crate) async fn in_flight(
    State(gate): State<InFlight>,
    request: Request,
    next: Next,
) -> Response {
    let Ok(_permit) = gate.permits.clone().try_acquire_owned() else {
        tracing::warn!(max = gate.max, "request refused: too many in flight");
        let mut response = ApiFailure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code::BUSY,
            format!(
                "central is working on {} requests, its limit; nothing was done, retry shortly",
                gate.max
            ),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    next.run(request).await
}

/// Answers 408 when a request is not read and answered within `limit`. Dropping the
/// handler rolls back whatever it had begun; every write a kiosk makes is idempotent, so
/// its retry is safe.
pub(crate) async fn deadline(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                secs = limit.as_secs_f64(),
                "request dropped: not done in time"
            );
            ApiFailure::new(
                StatusCode::REQUEST_TIMEOUT,
                code::TIMEOUT,
                format!(
                    "the request was not received and answered within {} s; retry",
                    limit.as_secs_f64()
                ),
            )
            .into_response()
        }
    }
}
