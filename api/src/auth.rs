//! Request signing: every call after enrolment carries four headers and an ed25519 signature
//! over `"{METHOD}\n{PATH_AND_QUERY}\n{TIMESTAMP}\n{NONCE}\n{hex(sha256(body))}"`.
//!
//! Checking that a nonce was not seen before is the server's state, so it is not here:
//! [`verify_request`] checks the signature and the time window, and central then records the
//! nonce for [`WINDOW_SECS`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

/// Header carrying the kiosk id.
pub const HEADER_KIOSK_ID: &str = "x-kiosk-id";
/// Header carrying the unix time in seconds at signing.
pub const HEADER_TIMESTAMP: &str = "x-kiosk-timestamp";
/// Header carrying 16 random bytes, hex.
pub const HEADER_NONCE: &str = "x-kiosk-nonce";
/// Header carrying the base64 ed25519 signature.
pub const HEADER_SIGNATURE: &str = "x-kiosk-signature";

/// A request is accepted when its timestamp is within this many seconds of central's clock.
pub const WINDOW_SECS: i64 = 300;

/// The four authentication headers of a signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `x-kiosk-id`.
    pub kiosk_id: Uuid,
    /// `x-kiosk-timestamp`, unix seconds.
    pub timestamp: i64,
    /// `x-kiosk-nonce`, 32 lower-case hex characters.
    pub nonce: String,
    /// `x-kiosk-signature`, standard base64.
    pub signature: String,
}

impl SignedHeaders {
    /// Header name/value pairs to add to the request.
    pub fn pairs(&self) -> [(&'static str, String); 4] {
        [
            (HEADER_KIOSK_ID, self.kiosk_id.to_string()),
            (HEADER_TIMESTAMP, self.timestamp.to_string()),
            (HEADER_NONCE, self.nonce.clone()),
            (HEADER_SIGNATURE, self.signature.clone()),
        ]
    }

    /// Reads the four headers through `header(name)`, so any HTTP library's map can be used.
    pub fn from_lookup<'a>(
        header: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<SignedHeaders, AuthError> {
        let get = |name: &'static str| header(name).ok_or(AuthError::MissingHeader(name));
        let kiosk_id = Uuid::parse_str(get(HEADER_KIOSK_ID)?)
            .map_err(|_| AuthError::MalformedHeader(HEADER_KIOSK_ID))?;
        let timestamp = get(HEADER_TIMESTAMP)?
            .parse::<i64>()
            .map_err(|_| AuthError::MalformedHeader(HEADER_TIMESTAMP))?;
        let nonce = get(HEADER_NONCE)?;
        let nonce_ok = nonce.len() == 32
            && nonce
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !nonce_ok {
            return Err(AuthError::MalformedHeader(HEADER_NONCE));
        }
        Ok(SignedHeaders {
            kiosk_id,
            timestamp,
            nonce: nonce.to_owned(),
            signature: get(HEADER_SIGNATURE)?.to_owned(),
        })
    }
}

/// Why a signed request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A required header is absent.
    #[error("header {0} is missing; every request after enrolment must be signed")]
    MissingHeader(&'static str),
    /// A header is present but unreadable.
    #[error("header {0} is malformed")]
    MalformedHeader(&'static str),
    /// The timestamp is too far from the verifier's clock.
    #[error(
        "timestamp {timestamp} is {skew} s away from central's clock {now} (allowed ±{WINDOW_SECS} s); fix the kiosk's clock (NTP)"
    )]
    OutsideWindow {
        /// Timestamp in the request.
        timestamp: i64,
        /// Verifier's clock.
        now: i64,
        /// `timestamp - now`.
        skew: i64,
    },
    /// The signature does not verify with the kiosk's enrolled key.
    #[error("signature does not match the kiosk's enrolled public key")]
    BadSignature,
    /// The kiosk id is not enrolled (central's check).
    #[error("kiosk {0} is not enrolled; enrol it with a token from ops")]
    UnknownKiosk(Uuid),
    /// The nonce was used before within the window (central's check).
    #[error("nonce {0} was already used; every request needs a fresh nonce")]
    ReplayedNonce(String),
}

/// The exact bytes that are signed.
pub fn signing_string(
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> String {
    let digest = hex::encode(Sha256::digest(body));
    format!(
        "{}\n{path_and_query}\n{timestamp}\n{nonce}\n{digest}",
        method.to_ascii_uppercase()
    )
}

/// Signs a request at `timestamp` (unix seconds) with a fresh random nonce.
pub fn sign_request(
    key: &SigningKey,
    kiosk_id: Uuid,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    timestamp: i64,
) -> SignedHeaders {
    let mut nonce = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    sign_request_with_nonce(
        key,
        kiosk_id,
        method,
        path_and_query,
        body,
        timestamp,
        nonce,
    )
}

/// Signs a request with a given nonce; for tests that must replay one.
pub fn sign_request_with_nonce(
    key: &SigningKey,
    kiosk_id: Uuid,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    timestamp: i64,
    nonce: [u8; 16],
) -> SignedHeaders {
    let nonce = hex::encode(nonce);
    let message = signing_string(method, path_and_query, timestamp, &nonce, body);
    let signature = key.sign(message.as_bytes());
    SignedHeaders {
        kiosk_id,
        timestamp,
        nonce,
        signature: B64.encode(signature.to_bytes()),
    }
}

/// Checks the time window and the signature of a request against the kiosk's public key.
/// `now` is the verifier's clock in unix seconds. The nonce replay check is the caller's.
pub fn verify_request(
    key: &VerifyingKey,
    headers: &SignedHeaders,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now: i64,
) -> Result<(), AuthError> {
    let skew = headers.timestamp.saturating_sub(now);
    if skew.abs() > WINDOW_SECS {
        return Err(AuthError::OutsideWindow {
            timestamp: headers.timestamp,
            now,
            skew,
        });
    }
    let bytes = B64
        .decode(&headers.signature)
        .map_err(|_| AuthError::MalformedHeader(HEADER_SIGNATURE))?;
    let signature =
        Signature::from_slice(&bytes).map_err(|_| AuthError::MalformedHeader(HEADER_SIGNATURE))?;
    let message = signing_string(
        method,
        path_and_query,
        headers.timestamp,
        &headers.nonce,
        body,
    );
    key.verify(message.as_bytes(), &signature)
        .map_err(|_| AuthError::BadSignature)
}
