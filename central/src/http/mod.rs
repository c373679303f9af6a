//! The HTTP API of central (axum). Handlers parse and authenticate, then call [`Store`];
//! they hold no SQL.

mod auth;
mod body;
mod citizen;
mod error;
mod handlers;
mod limits;
mod metrics;
mod releases;

pub use error::{ApiFailure, code};
pub use limits::Limits;
pub use metrics::Metrics;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use kiosk_api::routes;
use uuid::Uuid;

use self::body::body_limit;
use crate::holder_keys::HolderKeySource;
use crate::store::{KioskAuth, Store};

/// How long a node trusts its copy of a kiosk's key and revocation: the most a revocation
/// takes to reach every node.
pub const KIOSK_CACHE_AGE: Duration = Duration::from_secs(3);

/// Largest enrolment body; a real one is a few hundred bytes.
pub(crate) const MAX_ENROL_BYTES: usize = 16 * 1024;

/// Shared state of the handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    store: Store,
    holder_keys: HolderKeySource,
    limits: Limits,
    metrics: Metrics,
    // Kiosk keys and revocations, each entry re-read from the database once it is older
    // than KIOSK_CACHE_AGE: a revocation (or a re-provisioned key) written by any node takes
    // effect on every node within that, while a busy kiosk costs one lookup per window.
    kiosks: Arc<RwLock<HashMap<Uuid, (Instant, KioskAuth)>>>,
    // When each kiosk's last desired-state poll was written as its last_seen_at, so that a
    // poll writes at most once a minute per kiosk.
    seen: Arc<std::sync::Mutex<HashMap<Uuid, std::time::Instant>>>,
    // The hall display's voice (espeak-ng on this node).
    voice: crate::hall::speech::Voice,
    // Turns true when the server begins to shut down, ending the screens' event streams.
    closing: tokio::sync::watch::Sender<bool>,
    // `central serve --public-url`, without a trailing slash.
    public_url: Option<String>,
}

impl AppState {
    /// State over `store`, giving kiosks the holder keys of `holder_keys`.
    pub fn new(store: Store, holder_keys: HolderKeySource) -> AppState {
        AppState {
            store,
            holder_keys,
            limits: Limits::default(),
            metrics: Metrics::default(),
            kiosks: Arc::default(),
            seen: Arc::default(),
            voice: crate::hall::speech::Voice::default(),
            closing: tokio::sync::watch::Sender::new(false),
            public_url: None,
        }
    }

    /// The same state with the public address of the live pages (`central serve
    /// --public-url`), which kiosks print in tickets' QR codes.
    pub fn with_public_url(self, url: Option<String>) -> AppState {
        AppState {
            public_url: url.map(|u| u.trim_end_matches('/').to_owned()),
            ..self
        }
    }

    /// Where tickets' live pages are, for the kiosks: the public URL and `/t/`.
    pub(crate) fn live_url_prefix(&self) -> Option<String> {
        self.public_url.as_ref().map(|u| format!("{u}/t/"))
    }

    /// The same state announcing calls with `voice`.
    pub fn with_voice(self, voice: crate::hall::speech::Voice) -> AppState {
        AppState { voice, ..self }
    }

    /// The same state under `limits`.
    pub fn with_limits(self, limits: Limits) -> AppState {
        AppState { limits, ..self }
    }

    /// The same state counting into `metrics` (whose token opens `/metrics`).
    pub fn with_metrics(self, metrics: Metrics) -> AppState {
        AppState { metrics, ..self }
    }

    /// The cached record of `kiosk`, if read within [`KIOSK_CACHE_AGE`].
    pub(crate) fn cached_kiosk(&self, kiosk: Uuid) -> Option<KioskAuth> {
        let cache = self.kiosks.read().unwrap_or_else(|p| p.into_inner());
        cache
            .get(&kiosk)
            .filter(|(read, _)| read.elapsed() < KIOSK_CACHE_AGE)
            .map(|(_, k)| k.clone())
    }

    /// Keeps `kiosk` as read now. The map holds one entry per enrolled kiosk that signed a
    /// request (unknown ids are never kept), so it is bounded by the fleet.
    pub(crate) fn cache_kiosk(&self, kiosk: KioskAuth) {
        self.kiosks
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(kiosk.kiosk_id, (Instant::now(), kiosk));
    }

    /// Drops this node's copy of `kiosk`, so its next request reads the database.
    pub(crate) fn forget_kiosk(&self, kiosk: Uuid) {
        self.kiosks
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&kiosk);
    }

    /// Whether a poll of `kiosk` now should update its last_seen_at.
    pub(crate) fn due_for_seen(&self, kiosk: Uuid) -> bool {
        let now = std::time::Instant::now();
        let mut seen = self
            .seen
            .lock()
            .expect("invariant: seen lock is never poisoned (no panics while held)");
        match seen.get(&kiosk) {
            Some(t) if now.duration_since(*t) < Duration::from_secs(60) => false,
            _ => {
                seen.insert(kiosk, now);
                true
            }
        }
    }
}

/// The router of the whole API, held to the state's [`Limits`].
pub fn router(state: AppState) -> Router {
    let limits = state.limits;
    Router::new()
        .route(
            routes::ENROLMENTS,
            post(handlers::enrol).layer(body_limit(MAX_ENROL_BYTES)),
        )
        .route(
            routes::EVENTS,
            post(handlers::post_events).layer(body_limit(routes::MAX_BATCH_BYTES)),
        )
        .route(
            routes::ATTACHMENT,
            get(handlers::upload_status)
                .put(handlers::put_chunk)
                .layer(body_limit(routes::MAX_CHUNK_BYTES)),
        )
        .route(routes::DESIRED_STATE, get(handlers::desired_state))
        .route(routes::BUNDLE, get(handlers::bundle))
        .route(routes::RELEASE_MANIFEST, get(releases::manifest))
        .route(routes::RELEASE_ARTIFACT, get(releases::artifact))
        .merge(citizen::routes())
        .route(kiosk_api::openapi::DOCUMENT_PATH, get(handlers::openapi))
        .nest("/console", crate::console::router(state.store.clone()))
        .merge(crate::hall::router(
            state.store.clone(),
            state.voice.clone(),
            state.closing.subscribe(),
        ))
        .route(
            "/console/",
            get(|| async { axum::response::Redirect::to("/console/fleet") }),
        )
        .route("/healthz", get(metrics::healthz))
        .route("/readyz", get(metrics::readyz))
        .route("/metrics", get(metrics::metrics))
        // After routing, so each request is counted under its route's pattern.
        .route_layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::record,
        ))
        .fallback(handlers::no_route)
        .method_not_allowed_fallback(handlers::wrong_method)
        // The deadline inside the cap: a request holds its place for at most the deadline.
        .layer(axum::middleware::from_fn_with_state(
            limits.body_timeout,
            limits::deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limits::InFlight::new(limits.max_in_flight),
            limits::in_flight,
        ))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes, under the default [`Limits`].
pub async fn serve(
    store: Store,
    holder_keys: HolderKeySource,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_limits(store, holder_keys, Limits::default(), listener, shutdown).await
}

/// Serves the API on `listener` until `shutdown` completes, under `limits`.
pub async fn serve_with_limits(
    store: Store,
    holder_keys: HolderKeySource,
    limits: Limits,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(
        AppState::new(store, holder_keys).with_limits(limits),
        listener,
        shutdown,
    )
    .await
}

/// Serves the API of `state` on `listener` until `shutdown` completes.
pub async fn serve_with(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let store = state.store.clone();
    let pruner = tokio::spawn(prune(store));
    let closing = state.closing.clone();
    let shutdown = async move {
        shutdown.await;
        // Event streams never end by themselves; a shutdown must not wait for their screens.
        closing.send_replace(true);
    };
    let app = router(state);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    pruner.abort();
    served
}

/// How long an upload may stay incomplete before central drops it.
pub const INCOMPLETE_UPLOAD_MILLIS: i64 = 24 * 60 * 60 * 1000;

async fn prune(store: Store) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        // A request first seen at t carries a timestamp of at most t + window, so a replay of it
        // is refused by the window check after t + 2 windows; a minute more covers clock steps.
        let horizon = crate::store::now_millis() - (2 * kiosk_api::auth::WINDOW_SECS + 60) * 1000;
        if let Err(e) = store.prune_nonces(horizon).await {
            tracing::warn!(error = %e, "pruning old nonces failed; will retry in a minute");
        }
        let stale = crate::store::now_millis() - INCOMPLETE_UPLOAD_MILLIS;
        match store.expire_incomplete_uploads(stale).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(uploads = n, "dropped uploads left incomplete for 24 h"),
            Err(e) => {
                tracing::warn!(error = %e, "expiring incomplete uploads failed; will retry in a minute")
            }
        }
    }
}
