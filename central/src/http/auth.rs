//! Authentication of signed requests: signature and window by `kiosk_api::verify_request`,
//! kiosk lookup and nonce replay by the store.

use axum::http::{HeaderMap, Method, Uri};
use kiosk_api::{AuthError, SignedHeaders, verify_request};

use super::{ApiFailure, AppState};
use crate::store::KioskAuth;

/// An authenticated request; the nonce is not yet claimed.
pub(crate) struct Authenticated {
    pub(crate) kiosk: KioskAuth,
    pub(crate) nonce: String,
}

fn refuse(e: AuthError) -> ApiFailure {
    tracing::warn!(reason = %e, "refused a request");
    ApiFailure::unauthorized(e.to_string())
}

/// Checks headers, kiosk and signature. The caller claims the nonce, inside its own
/// transaction where it writes (events) or on its own ([`claim`]).
pub(crate) async fn authenticate(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Authenticated, ApiFailure> {
    let signed = SignedHeaders::from_lookup(|name| headers.get(name).and_then(|v| v.to_str().ok()))
        .map_err(refuse)?;
    let cached = state
        .kiosks
        .read()
        .expect("invariant: kiosk cache lock is never poisoned (no panics while held)")
        .get(&signed.kiosk_id)
        .cloned();
    let kiosk = match cached {
        Some(k) => k,
        None => {
            let k = state
                .store
                .kiosk_auth(signed.kiosk_id)
                .await?
                .ok_or(AuthError::UnknownKiosk(signed.kiosk_id))
                .map_err(refuse)?;
            state
                .kiosks
                .write()
                .expect("invariant: kiosk cache lock is never poisoned (no panics while held)")
                .insert(k.kiosk_id, k.clone());
            k
        }
    };
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path(), |p| p.as_str());
    let now = chrono::Utc::now().timestamp();
    verify_request(&kiosk.public_key, &signed, method.as_str(), path, body, now).map_err(refuse)?;
    Ok(Authenticated {
        kiosk,
        nonce: signed.nonce,
    })
}

/// Authenticates and claims the nonce in a transaction of its own.
pub(crate) async fn authenticate_and_claim(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<KioskAuth, ApiFailure> {
    let auth = authenticate(state, method, uri, headers, body).await?;
    claim(state, &auth).await?;
    Ok(auth.kiosk)
}

async fn claim(state: &AppState, auth: &Authenticated) -> Result<(), ApiFailure> {
    let kiosk = auth.kiosk.kiosk_id.to_string();
    if state.store.claim_nonce(&kiosk, &auth.nonce).await? {
        Ok(())
    } else {
        Err(refuse(AuthError::ReplayedNonce(auth.nonce.clone())))
    }
}

pub(crate) fn replayed(nonce: &str) -> ApiFailure {
    refuse(AuthError::ReplayedNonce(nonce.to_owned()))
}
