//! The HTTP API of central (axum). Handlers parse and authenticate, then call [`Store`];
//! they hold no SQL.

mod auth;
mod body;
mod citizen;
mod error;
mod handlers;
mod releases;

pub use error::ApiFailure;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use kiosk_api::routes;
use uuid::Uuid;

use self::body::body_limit;
use crate::holder_keys::HolderKeySource;
use crate::store::{KioskAuth, Store};

/// Largest enrolment body; a real one is a few hundred bytes.
pub(crate) const MAX_ENROL_BYTES: usize = 16 * 1024;

/// Shared state of the handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    store: Store,
    holder_keys: HolderKeySource,
    // Enrolled keys never change (revocation is a later issue), so they are cached for good.
    kiosks: Arc<RwLock<HashMap<Uuid, KioskAuth>>>,
    // When each kiosk's last desired-state poll was written as its last_seen_at, so that a
    // poll writes at most once a minute per kiosk.
    seen: Arc<std::sync::Mutex<HashMap<Uuid, std::time::Instant>>>,
}

impl AppState {
    /// State over `store`, giving kiosks the holder keys of `holder_keys`.
    pub fn new(store: Store, holder_keys: HolderKeySource) -> AppState {
        AppState {
            store,
            holder_keys,
            kiosks: Arc::default(),
            seen: Arc::default(),
        }
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

/// The router of the whole API.
pub fn router(state: AppState) -> Router {
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
        .route(
            "/console/",
            get(|| async { axum::response::Redirect::to("/console/fleet") }),
        )
        .fallback(handlers::no_route)
        .method_not_allowed_fallback(handlers::wrong_method)
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    store: Store,
    holder_keys: HolderKeySource,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let pruner = tokio::spawn(prune_nonces(store.clone()));
    let app = router(AppState::new(store, holder_keys));
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    pruner.abort();
    served
}

async fn prune_nonces(store: Store) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        // A request first seen at t carries a timestamp of at most t + window, so a replay of it
        // is refused by the window check after t + 2 windows; a minute more covers clock steps.
        let horizon = crate::store::now_millis() - (2 * kiosk_api::auth::WINDOW_SECS + 60) * 1000;
        if let Err(e) = store.prune_nonces(horizon).await {
            tracing::warn!(error = %e, "pruning old nonces failed; will retry in a minute");
        }
    }
}
