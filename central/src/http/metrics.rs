//! What a load balancer and a monitoring system ask of central: `/healthz` (the process
//! answers), `/readyz` (it can reach its database, so it may be given traffic) and
//! Prometheus `/metrics` (requests and their latencies per route, events ingested by outcome,
//! and per kiosk its backlog and when it was last heard from).
//!
//! `/metrics` names every kiosk and its state, so it is only served to a scraper that shows
//! the token set in `CENTRAL_METRICS_TOKEN`; without one it does not exist (404).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kiosk_api::{BatchAck, EventOutcome};

use super::AppState;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// How long `/readyz` waits for the database before it says "not ready".
const READY_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

#[derive(Debug, Default)]
struct Counts {
    // (route, method, status class) -> requests. Routes are the router's patterns, never the
    // paths asked for, so a scan of random paths cannot grow this map.
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    // outcome -> events (stored, duplicate, rejected).
    events: BTreeMap<&'static str, u64>,
}

/// The counters of this node, shared by its handlers.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    counts: Arc<Mutex<Counts>>,
    token: Option<Arc<str>>,
}

impl Metrics {
    /// Counters served at `/metrics` to a scraper showing `token` (none: `/metrics` is off).
    pub fn new(token: Option<String>) -> Metrics {
        Metrics {
            counts: Arc::default(),
            token: token.filter(|t| !t.is_empty()).map(Arc::from),
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        // Nothing panics while the lock is held; a poisoned one still holds good counts.
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts what one batch of events came to.
    pub(crate) fn batch(&self, ack: &BatchAck) {
        let mut counts = self.counts();
        for result in &ack.results {
            let outcome = match result.outcome {
                EventOutcome::Stored => "stored",
                EventOutcome::Duplicate => "duplicate",
                EventOutcome::Rejected { .. } => "rejected",
            };
            *counts.events.entry(outcome).or_default() += 1;
        }
    }
}

/// Middleware: counts each request by route, method and status, and times it.
pub(crate) async fn record(
    State(metrics): State<Metrics>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let mut counts = metrics.counts();
    *counts
        .requests
        .entry((route.clone(), method, response.status().as_u16()))
        .or_default() += 1;
    counts.latency.entry(route).or_default().observe(seconds);
    response
}

/// `GET /healthz`: the process is up and answering.
pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: the database answers, so this node can serve.
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: database error\n",
            )
                .into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the database did not answer within 2 s\n",
        )
            .into_response(),
    }
}

/// `GET /metrics`: Prometheus text format, for a scraper with the token.
pub(crate) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = state.metrics.token.as_deref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let shown = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !shown.is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes())) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a metrics token is needed\n",
        )
            .into_response();
    }
    let fleet = match state.store.fleet().await {
        Ok(fleet) => fleet,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: fleet not read");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let mut out = String::new();
    {
        let counts = state.metrics.counts();
        render_counts(&counts, &mut out);
    }
    let _ = writeln!(
        out,
        "# HELP central_kiosk_last_seen_seconds When central last heard from the kiosk (Unix time).\n\
         # TYPE central_kiosk_last_seen_seconds gauge"
    );
    for k in &fleet {
        if let Some(seen) = k.last_seen_at {
            let _ = writeln!(
                out,
                "central_kiosk_last_seen_seconds{{kiosk=\"{}\",hall=\"{}\"}} {}",
                label(&k.kiosk_id),
                label(&k.hall_id),
                seen.timestamp()
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP central_kiosk_backlog_events Events waiting in the kiosk's outbox, as its last health report said.\n\
         # TYPE central_kiosk_backlog_events gauge"
    );
    for k in &fleet {
        if let Some(report) = &k.report {
            let _ = writeln!(
                out,
                "central_kiosk_backlog_events{{kiosk=\"{}\",hall=\"{}\"}} {}",
                label(&k.kiosk_id),
                label(&k.hall_id),
                report.backlog
            );
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

fn render_counts(counts: &Counts, out: &mut String) {
    let _ = writeln!(
        out,
        "# HELP central_http_requests_total Requests answered, by route, method and status.\n\
         # TYPE central_http_requests_total counter"
    );
    for ((route, method, status), n) in &counts.requests {
        let _ = writeln!(
            out,
            "central_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
            label(route)
        );
    }
    let _ = writeln!(
        out,
        "# HELP central_http_request_duration_seconds Time to answer a request, by route.\n\
         # TYPE central_http_request_duration_seconds histogram"
    );
    for (route, h) in &counts.latency {
        let route = label(route);
        for (bound, n) in BUCKETS.iter().zip(h.counts.iter()) {
            let _ = writeln!(
                out,
                "central_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "central_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
             central_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
             central_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
            h.count, h.sum, h.count
        );
    }
    let _ = writeln!(
        out,
        "# HELP central_events_total Events received from kiosks, by what central did with them.\n\
         # TYPE central_events_total counter"
    );
    for outcome in ["stored", "duplicate", "rejected"] {
        let n = counts.events.get(outcome).copied().unwrap_or(0);
        let _ = writeln!(out, "central_events_total{{outcome=\"{outcome}\"}} {n}");
    }
}

/// A label value as the text format wants it: backslash, quote and newline escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_as_prometheus_text_with_escaped_labels() {
        let mut counts = Counts::default();
        counts
            .requests
            .insert(("/v1/events".into(), "POST".into(), 200), 3);
        let mut h = Histogram::default();
        h.observe(0.003);
        h.observe(0.2);
        counts.latency.insert("/v1/events".into(), h);
        counts.events.insert("stored", 5);
        let mut out = String::new();
        render_counts(&counts, &mut out);
        assert!(out.contains(
            "central_http_requests_total{route=\"/v1/events\",method=\"POST\",status=\"200\"} 3"
        ));
        assert!(out.contains(
            "central_http_request_duration_seconds_bucket{route=\"/v1/events\",le=\"0.005\"} 1"
        ));
        assert!(out.contains(
            "central_http_request_duration_seconds_bucket{route=\"/v1/events\",le=\"0.25\"} 2"
        ));
        assert!(out.contains("central_events_total{outcome=\"stored\"} 5"));
        assert!(out.contains("central_events_total{outcome=\"rejected\"} 0"));
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
