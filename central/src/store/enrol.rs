//! Enrolment tokens and kiosks.

use kiosk_api::{EnrolRequest, Enrolment, NumberBand};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;
use uuid::Uuid;

use super::{Doing as _, Store, StoreError, now_millis};

/// Queue numbers 500..=999 of each category are split into bands of this size, one per
/// kiosk of a hall, counting down from 999; the leased blocks of §6 use the numbers below.
pub const BAND_SIZE: u32 = 50;
/// Bands per hall.
pub const BANDS_PER_HALL: i64 = 10;

/// A freshly made token. The token itself is shown once and never stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenCreated {
    /// The one-time token to give the technician.
    pub token: String,
    /// Hall it is bound to.
    pub hall_id: String,
    /// Expiry, RFC 3339.
    pub expires_at: String,
}

/// What the request authenticator needs to know about a kiosk.
#[derive(Debug, Clone)]
pub struct KioskAuth {
    /// Kiosk id.
    pub kiosk_id: Uuid,
    /// Its hall.
    pub hall_id: String,
    /// Its enrolled public key.
    pub public_key: ed25519_dalek::VerifyingKey,
}

/// Why an enrolment was refused.
#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    /// Token unknown, used or expired.
    #[error(
        "enrolment token is unknown, already used or expired; ask ops for a new one (central token create)"
    )]
    TokenRefused,
    /// The public key is not a valid key.
    #[error("public_key is not standard base64 of a 32-byte ed25519 key")]
    BadPublicKey,
    /// The key is already enrolled.
    #[error("this public key is already enrolled as kiosk {0}")]
    AlreadyEnrolled(String),
    /// No ops key is trusted yet, so kiosks could not verify bundles.
    #[error(
        "central has no ops key yet; ops must run `central keys generate --out FILE --db URL` first"
    )]
    NoOpsKey,
    /// Every number band of the hall is taken.
    #[error("hall {0} already has {BANDS_PER_HALL} kiosks, every offline number band is taken")]
    HallFull(String),
    /// Database failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

fn band(index: i64) -> NumberBand {
    let index = u32::try_from(index).expect("invariant: band index is in 0..BANDS_PER_HALL");
    let last = 999 - index * BAND_SIZE;
    NumberBand {
        first: last + 1 - BAND_SIZE,
        last,
    }
}

impl Store {
    /// Makes a one-time token for `hall_id` valid for `valid_for`; creates the hall if new.
    pub async fn create_token(
        &self,
        hall_id: &str,
        hall_name: Option<&str>,
        valid_for: chrono::Duration,
    ) -> Result<TokenCreated, StoreError> {
        let mut bytes = [0u8; 20];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        let now = now_millis();
        let expires = now.saturating_add(valid_for.num_milliseconds());
        let mut w = self.write().await?;
        sqlx::query("INSERT INTO halls (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING")
            .bind(hall_id)
            .bind(hall_name.unwrap_or(hall_id))
            .bind(now)
            .execute(&mut *w.tx)
            .await
            .doing("creating the hall")?;
        if let Some(name) = hall_name {
            sqlx::query("UPDATE halls SET name = $2 WHERE id = $1")
                .bind(hall_id)
                .bind(name)
                .execute(&mut *w.tx)
                .await
                .doing("naming the hall")?;
        }
        sqlx::query("INSERT INTO enrol_tokens (token_sha256, hall_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_digest(&token))
            .bind(hall_id)
            .bind(now)
            .bind(expires)
            .execute(&mut *w.tx)
            .await
            .doing("storing the token")?;
        w.commit().await?;
        let expires_at = chrono::DateTime::from_timestamp_millis(expires)
            .ok_or(StoreError::Corrupt("token expiry"))?
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Ok(TokenCreated {
            token,
            hall_id: hall_id.to_owned(),
            expires_at,
        })
    }

    /// Enrols a kiosk: spends the token, assigns an id and a number band, all or nothing.
    pub async fn enrol(&self, request: &EnrolRequest) -> Result<Enrolment, EnrolError> {
        let public_key = kiosk_api::keys::public_key_from_base64(&request.public_key)
            .map_err(|_| EnrolError::BadPublicKey)?;
        let public_key = kiosk_api::keys::public_key_to_base64(&public_key);
        let ops_public_key = self.ops_public_key().await?.ok_or(EnrolError::NoOpsKey)?;
        let now = now_millis();
        let mut w = self.write().await?;
        let digest = token_digest(&request.token);
        let token = sqlx::query("SELECT t.hall_id, h.name FROM enrol_tokens t JOIN halls h ON h.id = t.hall_id WHERE t.token_sha256 = $1 AND t.used_at IS NULL AND t.expires_at > $2")
            .bind(&digest)
            .bind(now)
            .fetch_optional(&mut *w.tx)
            .await
            .doing("looking up the token")?
            .ok_or(EnrolError::TokenRefused)?;
        let hall_id: String = token.try_get(0).doing("reading the token")?;
        let hall_name: String = token.try_get(1).doing("reading the token")?;
        let existing =
            sqlx::query_scalar::<_, String>("SELECT id FROM kiosks WHERE public_key = $1")
                .bind(&public_key)
                .fetch_optional(&mut *w.tx)
                .await
                .doing("checking the public key")?;
        if let Some(id) = existing {
            return Err(EnrolError::AlreadyEnrolled(id));
        }
        let taken: Vec<i64> =
            sqlx::query_scalar("SELECT band_index FROM kiosks WHERE hall_id = $1")
                .bind(&hall_id)
                .fetch_all(&mut *w.tx)
                .await
                .doing("reading the hall's bands")?;
        let index = (0..BANDS_PER_HALL)
            .find(|i| !taken.contains(i))
            .ok_or_else(|| EnrolError::HallFull(hall_id.clone()))?;
        let band = band(index);
        let kiosk_id = Uuid::now_v7();
        let id_text = kiosk_id.to_string();
        // The guard on used_at makes two concurrent enrolments with one token end with one kiosk.
        let spent = sqlx::query("UPDATE enrol_tokens SET used_at = $2, kiosk_id = $3 WHERE token_sha256 = $1 AND used_at IS NULL")
            .bind(&digest)
            .bind(now)
            .bind(&id_text)
            .execute(&mut *w.tx)
            .await
            .doing("spending the token")?;
        if spent.rows_affected() != 1 {
            return Err(EnrolError::TokenRefused);
        }
        sqlx::query("INSERT INTO kiosks (id, hall_id, public_key, hostname, version, band_index, band_first, band_last, enrolled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(&id_text)
            .bind(&hall_id)
            .bind(&public_key)
            .bind(&request.hostname)
            .bind(&request.version)
            .bind(index)
            .bind(i64::from(band.first))
            .bind(i64::from(band.last))
            .bind(now)
            .execute(&mut *w.tx)
            .await
            .doing("storing the kiosk")?;
        w.commit().await?;
        Ok(Enrolment {
            kiosk_id,
            hall_id,
            hall_name,
            number_band: band,
            ops_public_key,
        })
    }

    /// The kiosk's key and hall, or None if it is not enrolled.
    pub async fn kiosk_auth(&self, kiosk_id: Uuid) -> Result<Option<KioskAuth>, StoreError> {
        let row = sqlx::query("SELECT hall_id, public_key FROM kiosks WHERE id = $1")
            .bind(kiosk_id.to_string())
            .fetch_optional(self.pool())
            .await
            .doing("looking up the kiosk")?;
        let Some(row) = row else { return Ok(None) };
        let hall_id: String = row.try_get(0).doing("reading the kiosk")?;
        let key: String = row.try_get(1).doing("reading the kiosk")?;
        let public_key = kiosk_api::keys::public_key_from_base64(&key)
            .map_err(|_| StoreError::Corrupt("kiosk public key"))?;
        Ok(Some(KioskAuth {
            kiosk_id,
            hall_id,
            public_key,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_count_down_from_999_without_overlap() {
        assert_eq!(
            band(0),
            NumberBand {
                first: 950,
                last: 999
            }
        );
        assert_eq!(
            band(1),
            NumberBand {
                first: 900,
                last: 949
            }
        );
        assert_eq!(
            band(BANDS_PER_HALL - 1),
            NumberBand {
                first: 500,
                last: 549
            }
        );
    }
}
