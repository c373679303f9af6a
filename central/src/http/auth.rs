//! Authentication of signed requests: signature and window by `kiosk_api::verify_request`,
//! kiosk lookup and nonce replay by the store. Handlers take it as an extractor:
//! [`SignedRequest`] (a body, nonce claimed), [`SignedGet`] (no body, nonce claimed) or
//! [`SignedUnclaimed`] (a body, the handler claims the nonce in its own transaction).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, Uri};
use kiosk_api::auth::WINDOW_SECS;
use kiosk_api::{AuthError, SignedHeaders, verify_request};

use super::body::BoundedBody;
use super::{ApiFailure, AppState};
use crate::store::{Claim, KioskAuth};

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

    /// The headers are checked before a byte of the body is read: a request that is not from
    /// an enrolled kiosk, or is stale, is refused at once and never holds a connection open
    /// while it trickles a large body.
    async fn from_request(req: Request, state: &AppState) -> Result<SignedUnclaimed, ApiFailure> {
        let (method, uri) = (req.method().clone(), req.uri().clone());
        let (signed, kiosk) = identify(state, req.headers()).await?;
        let BoundedBody(body) = BoundedBody::from_request(req, state).await?;
        let auth = verify(&signed, kiosk, &method, &uri, &body)?;
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
    let (signed, kiosk) = identify(state, headers).await?;
    verify(&signed, kiosk, method, uri, body)
}

/// What can be checked before the body: the four headers are there and readable, the kiosk
/// is enrolled, and the timestamp is within the window (so a stale request, signed or not,
/// costs no body read either).
async fn identify(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(SignedHeaders, KioskAuth), ApiFailure> {
    let signed = SignedHeaders::from_lookup(|name| headers.get(name).and_then(|v| v.to_str().ok()))
        .map_err(refuse)?;
    let now = chrono::Utc::now().timestamp();
    let skew = signed.timestamp.saturating_sub(now);
    if skew.saturating_abs() > WINDOW_SECS {
        return Err(refuse(AuthError::OutsideWindow {
            timestamp: signed.timestamp,
            now,
            skew,
        }));
    }
    let kiosk = match state.cached_kiosk(signed.kiosk_id) {
        Some(k) => k,
        None => {
            let k = state
                .store
                .kiosk_auth(signed.kiosk_id)
                .await?
                .ok_or(AuthError::UnknownKiosk(signed.kiosk_id))
                .map_err(refuse)?;
            state.cache_kiosk(k.clone());
            k
        }
    };
    if let Some(revoked) = &kiosk.revoked {
        tracing::warn!(kiosk = %kiosk.kiosk_id, reason = %revoked.reason, "refused a revoked kiosk");
        return Err(ApiFailure::revoked(format!(
            "kiosk {} was revoked by ops on {}: {}; it must be re-provisioned with a new key (`central token create --reprovision {}`)",
            kiosk.kiosk_id,
            revoked
                .at
                .with_timezone(&kiosk_api::citizen::hall_offset())
                .format("%Y-%m-%d %H:%M"),
            revoked.reason,
            kiosk.kiosk_id
        )));
    }
    Ok((signed, kiosk))
}

/// Checks the signature over method, path and body (and the window again, by the contract's
/// own check).
fn verify(
    signed: &SignedHeaders,
    kiosk: KioskAuth,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> Result<Authenticated, ApiFailure> {
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path(), |p| p.as_str());
    let now = chrono::Utc::now().timestamp();
    verify_request(&kiosk.public_key, signed, method.as_str(), path, body, now).map_err(refuse)?;
    Ok(Authenticated {
        kiosk,
        nonce: signed.nonce.clone(),
    })
}

/// Claims the nonce in a transaction of its own; a nonce seen before is a replay.
async fn claim(state: &AppState, auth: &Authenticated) -> Result<(), ApiFailure> {
    let kiosk = auth.kiosk.kiosk_id.to_string();
    let per_minute = state.limits.requests_per_minute;
    match state
        .store
        .claim_nonce(&kiosk, &auth.nonce, per_minute)
        .await?
    {
        Claim::Fresh => Ok(()),
        Claim::Replayed => Err(replayed(&auth.nonce)),
        Claim::OverRate => Err(over_rate(per_minute)),
    }
}

/// The refusal of a request beyond the kiosk's signed requests per minute.
pub(crate) fn over_rate(per_minute: u32) -> ApiFailure {
    tracing::warn!(per_minute, "refused a kiosk over its request rate");
    ApiFailure::too_many(format!(
        "this kiosk made {per_minute} signed requests in the last minute, central's limit (--requests-per-minute); nothing was done, retry in a minute"
    ))
}

/// The refusal of a request whose nonce was seen before.
pub(crate) fn replayed(nonce: &str) -> ApiFailure {
    refuse(AuthError::ReplayedNonce(nonce.to_owned()))
}
