//! Authentication of signed requests: signature and window by `kiosk_api::verify_request`,
//! kiosk lookup and nonce replay by the store. Handlers take it as an extractor:
//! [`SignedRequest`] (a body, nonce claimed), [`SignedGet`] (no body, nonce claimed) or
//! [`SignedUnclaimed`] (a body, the handler claims the nonce in its own transaction).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, Uri};
use kiosk_api::{AuthError, SignedHeaders, verify_request};

use super::body::BoundedBody;
use super::{ApiFailure, AppState};
use crate::store::KioskAuth;

/// An authenticated request; the nonce is not yet claimed.
pub(crate) struct Authenticated {
    pub(crate) kiosk: KioskAuth,
    pub(crate) nonce: String,
}

/// A signed request with a body: read within the route's limit, authenticated, its nonce
/// claimed in a transaction of its own.
pub(crate) struct SignedRequest {
    /// The kiosk that signed it.
    pub(crate) kiosk: KioskAuth,
    /// The body it signed.
    pub(crate) body: Bytes,
}

/// A signed request without a body (GET): authenticated over an empty body, its nonce
/// claimed in a transaction of its own. The body, if any, is not read.
pub(crate) struct SignedGet(pub(crate) KioskAuth);

/// A signed request with a body, authenticated but with its nonce NOT claimed: the handler
/// claims it inside the transaction that writes, so a request is either stored with its
/// nonce or not at all, and a failed write leaves the nonce to the kiosk's retry.
pub(crate) struct SignedUnclaimed {
    /// Kiosk and nonce.
    pub(crate) auth: Authenticated,
    /// The body it signed.
    pub(crate) body: Bytes,
}

impl FromRequest<AppState> for SignedUnclaimed {
    type Rejection = ApiFailure;

    async fn from_request(req: Request, state: &AppState) -> Result<SignedUnclaimed, ApiFailure> {
        let (method, uri, headers) = (
            req.method().clone(),
            req.uri().clone(),
            req.headers().clone(),
        );
        let BoundedBody(body) = BoundedBody::from_request(req, state).await?;
        let auth = authenticate(state, &method, &uri, &headers, &body).await?;
        Ok(SignedUnclaimed { auth, body })
    }
}

impl FromRequest<AppState> for SignedRequest {
    type Rejection = ApiFailure;

    async fn from_request(req: Request, state: &AppState) -> Result<SignedRequest, ApiFailure> {
        let SignedUnclaimed { auth, body } = SignedUnclaimed::from_request(req, state).await?;
        claim(state, &auth).await?;
        Ok(SignedRequest {
            kiosk: auth.kiosk,
            body,
        })
    }
}

impl FromRequestParts<AppState> for SignedGet {
    type Rejection = ApiFailure;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<SignedGet, ApiFailure> {
        let auth = authenticate(state, &parts.method, &parts.uri, &parts.headers, b"").await?;
        claim(state, &auth).await?;
        Ok(SignedGet(auth.kiosk))
    }
}

fn refuse(e: AuthError) -> ApiFailure {
    tracing::warn!(reason = %e, "refused a request");
    ApiFailure::unauthorized(e.to_string())
}

/// Checks headers, kiosk and signature. The caller claims the nonce, inside its own
/// transaction where it writes (events) or on its own ([`claim`]).
async fn authenticate(
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

/// Claims the nonce in a transaction of its own; a nonce seen before is a replay.
async fn claim(state: &AppState, auth: &Authenticated) -> Result<(), ApiFailure> {
    let kiosk = auth.kiosk.kiosk_id.to_string();
    if state.store.claim_nonce(&kiosk, &auth.nonce).await? {
        Ok(())
    } else {
        Err(replayed(&auth.nonce))
    }
}

/// The refusal of a request whose nonce was seen before.
pub(crate) fn replayed(nonce: &str) -> ApiFailure {
    refuse(AuthError::ReplayedNonce(nonce.to_owned()))
}
