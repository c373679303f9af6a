//! Enrolment tokens and kiosks.

use kiosk_api::{EnrolRequest, Enrolment, HallCode, KioskNo, NumberBand};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use sqlx::{AnyConnection, Row as _};
use uuid::Uuid;

use super::{Action, Doing as _, Store, StoreError, now_millis};

/// How often a hall code or kiosk number is chosen again when a concurrent writer (another
/// central node on the same PostgreSQL) took the one chosen first. Each retry sees the
/// other's committed row, so two tries settle any pair of writers; more cover a crowd.
const CLAIM_TRIES: usize = 20;

/// Queue numbers 500..=999 of each category are split into bands of this size, one per
/// kiosk of a hall, counting down from 999; the leased blocks use the numbers below.
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
    /// That hall's code on the platform.
    pub hall_code: u16,
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
    /// That hall's code, the first digits of the kiosk's application numbers.
    pub hall_code: HallCode,
    /// The kiosk's number in its hall, the next digits.
    pub kiosk_no: KioskNo,
    /// Its offline number band.
    pub band: NumberBand,
    /// Its enrolled public key.
    pub public_key: ed25519_dalek::VerifyingKey,
    /// Set when ops revoked it: its requests are refused with this.
    pub revoked: Option<Revocation>,
}

/// Ops revoked a kiosk: when, why and who.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Revocation {
    /// When.
    pub at: chrono::DateTime<chrono::Utc>,
    /// The reason ops gave; the kiosk is told it with every refusal.
    pub reason: String,
    /// Who revoked it.
    pub by: String,
}

/// What `Store::revoke_kiosk` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// Revoked now.
    Now(Revocation),
    /// It was revoked before; that revocation stands unchanged.
    Already(Revocation),
}

/// Longest revocation reason kept.
pub const MAX_REASON_CHARS: usize = 500;

/// Why a kiosk could not be revoked.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    /// No such kiosk.
    #[error("no kiosk {0}; see `central kiosk list`")]
    NoSuchKiosk(String),
    /// The reason is empty or too long.
    #[error(
        "a revocation needs a reason of 1 to 500 characters: the kiosk is told it with every refusal and ops read it on the console"
    )]
    BadReason,
    /// Database failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a re-provisioning token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReprovisionError {
    /// No such kiosk.
    #[error("no kiosk {0}; see `central kiosk list`")]
    NoSuchKiosk(String),
    /// Retired kiosks are replaced hardware.
    #[error(
        "kiosk {0} is retired (replaced hardware); enrol its replacement with a token of its hall (`central token create --hall H`)"
    )]
    Retired(String),
    /// Database failure.
    #[error(transparent)]
    Store(#[from] StoreError),
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
    /// Every number band (or every kiosk number) of the hall is taken.
    #[error(
        "hall {0} is full: it already has {1} kiosks and every offline number band or kiosk number is taken; retire a kiosk that no longer runs (`central kiosk retire ID`) or enrol this one into another hall"
    )]
    HallFull(String, usize),
    /// Database failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

fn band(index: i64) -> NumberBand {
    let index = u32::try_from(index.clamp(0, BANDS_PER_HALL - 1)).unwrap_or(0);
    let last = 999 - index * BAND_SIZE;
    NumberBand {
        first: last + 1 - BAND_SIZE,
        last,
    }
}

/// The code of hall `id`, creating the hall (named `name`, or its id) with the next free
/// code if it is new. Codes are never reused: halls are never deleted.
pub(crate) async fn ensure_hall(
    conn: &mut AnyConnection,
    id: &str,
    name: Option<&str>,
    now: i64,
) -> Result<HallCode, StoreError> {
    for _ in 0..CLAIM_TRIES {
        let known: Option<Option<i64>> =
            sqlx::query_scalar("SELECT hall_code FROM halls WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await
                .doing("looking up the hall")?;
        if let Some(code) = known {
            return hall_code_of(code);
        }
        let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(hall_code), 0) + 1 FROM halls")
            .fetch_one(&mut *conn)
            .await
            .doing("choosing a hall code")?;
        if next > i64::from(HallCode::MAX) {
            return Err(StoreError::NoHallCodeLeft);
        }
        // Without a conflict target this yields to the id's key and the code's unique index
        // alike: another writer that created this hall, or took this code, makes it insert
        // nothing, and the next round sees that writer's row.
        let claimed: Option<i64> = sqlx::query_scalar(
            "INSERT INTO halls (id, name, created_at, hall_code) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING RETURNING hall_code",
        )
        .bind(id)
        .bind(name.unwrap_or(id))
        .bind(now)
        .bind(next)
        .fetch_optional(&mut *conn)
        .await
        .doing("creating the hall")?;
        if let Some(code) = claimed {
            return hall_code_of(Some(code));
        }
    }
    Err(StoreError::Contended("choosing a hall code"))
}

fn hall_code_of(code: Option<i64>) -> Result<HallCode, StoreError> {
    code.and_then(|c| u16::try_from(c).ok())
        .and_then(|c| HallCode::new(c).ok())
        .ok_or(StoreError::Corrupt("hall code"))
}

pub(crate) fn kiosk_no_of(no: Option<i64>) -> Result<KioskNo, StoreError> {
    no.and_then(|n| u8::try_from(n).ok())
        .and_then(|n| KioskNo::new(n).ok())
        .ok_or(StoreError::Corrupt("kiosk number"))
}

pub(crate) fn band_of(first: i64, last: i64) -> Result<NumberBand, StoreError> {
    let number = |n: i64| u32::try_from(n).map_err(|_| StoreError::Corrupt("number band"));
    Ok(NumberBand {
        first: number(first)?,
        last: number(last)?,
    })
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
        let hall_code = ensure_hall(&mut w.tx, hall_id, hall_name, now).await?;
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
        // The token itself is a secret and is never logged; its digest prefix identifies it.
        let detail = format!(
            "token {}…, valid for {} min",
            &token_digest(&token)[..12],
            valid_for.num_minutes()
        );
        w.audit(
            self,
            Action::TokenCreate,
            &format!("hall {hall_id}"),
            &detail,
        )
        .await?;
        w.commit().await?;
        let expires_at = chrono::DateTime::from_timestamp_millis(expires)
            .ok_or(StoreError::Corrupt("token expiry"))?
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Ok(TokenCreated {
            token,
            hall_id: hall_id.to_owned(),
            hall_code: hall_code.get(),
            expires_at,
        })
    }

    /// Enrols a kiosk: spends the token, assigns an id and a number band, all or nothing.
    pub async fn enrol(&self, request: &EnrolRequest) -> Result<Enrolment, EnrolError> {
        let public_key = kiosk_api::keys::public_key_from_base64(&request.public_key)
            .map_err(|_| EnrolError::BadPublicKey)?;
        let public_key = kiosk_api::keys::public_key_to_base64(&public_key);
        let ops_public_key = self.ops_public_key().await?.ok_or(EnrolError::NoOpsKey)?;
        let release_public_key = self
            .trusted_key(kiosk_api::rotation::KeyRole::Release)
            .await?;
        let now = now_millis();
        let mut w = self.write().await?;
        let digest = token_digest(&request.token);
        let token = sqlx::query("SELECT t.hall_id, h.name, h.hall_code, t.reprovision_kiosk FROM enrol_tokens t JOIN halls h ON h.id = t.hall_id WHERE t.token_sha256 = $1 AND t.used_at IS NULL AND t.expires_at > $2")
            .bind(&digest)
            .bind(now)
            .fetch_optional(&mut *w.tx)
            .await
            .doing("looking up the token")?
            .ok_or(EnrolError::TokenRefused)?;
        let hall_id: String = token.try_get(0).doing("reading the token")?;
        let hall_name: String = token.try_get(1).doing("reading the token")?;
        let hall_code = hall_code_of(token.try_get(2).doing("reading the token")?)?;
        let reprovision: Option<String> = token.try_get(3).doing("reading the token")?;
        // A key enrolled before is refused even for its own kiosk: re-provisioning follows a
        // lost or leaked key, and must bring a new one.
        if let Some(id) = enrolled_as(&mut w.tx, &public_key).await? {
            return Err(EnrolError::AlreadyEnrolled(id));
        }
        let kiosk_id = match &reprovision {
            Some(id) => {
                Uuid::parse_str(id).map_err(|_| StoreError::Corrupt("re-provision kiosk id"))?
            }
            None => Uuid::now_v7(),
        };
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
        if reprovision.is_some() {
            let again = Reenrol {
                kiosk_id,
                hall_id: &hall_id,
                public_key: &public_key,
                request,
                now,
            };
            let (kiosk_no, band) = reprovision_kiosk(&mut w.tx, again).await?;
            w.commit().await?;
            return Ok(Enrolment {
                kiosk_id,
                hall_id,
                hall_name,
                number_band: band,
                ops_public_key,
                release_public_key,
                hall_code,
                kiosk_no,
            });
        }
        for _ in 0..CLAIM_TRIES {
            let taken = sqlx::query("SELECT band_index, kiosk_no FROM kiosks WHERE hall_id = $1")
                .bind(&hall_id)
                .fetch_all(&mut *w.tx)
                .await
                .doing("reading the hall's bands and kiosk numbers")?;
            let mut bands = Vec::with_capacity(taken.len());
            let mut numbers = Vec::with_capacity(taken.len());
            for row in &taken {
                bands.push(
                    row.try_get::<i64, _>(0)
                        .doing("reading the hall's kiosks")?,
                );
                numbers.push(
                    row.try_get::<Option<i64>, _>(1)
                        .doing("reading the hall's kiosks")?,
                );
            }
            let active = bands.iter().filter(|b| **b >= 0).count();
            let full = || EnrolError::HallFull(hall_id.clone(), active);
            let index = (0..BANDS_PER_HALL)
                .find(|i| !bands.contains(i))
                .ok_or_else(full)?;
            let kiosk_no = (1..=i64::from(KioskNo::MAX))
                .find(|n| !numbers.contains(&Some(*n)))
                .ok_or_else(full)?;
            let band = band(index);
            // Two enrolments into one hall at the same moment (two central nodes on one
            // PostgreSQL) may choose the same band and number: the unique indexes let one
            // insert, the other inserts nothing and chooses again, seeing the first's row.
            let inserted: Option<String> = sqlx::query_scalar("INSERT INTO kiosks (id, hall_id, public_key, hostname, version, band_index, band_first, band_last, enrolled_at, kiosk_no) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING id")
                .bind(&id_text)
                .bind(&hall_id)
                .bind(&public_key)
                .bind(&request.hostname)
                .bind(&request.version)
                .bind(index)
                .bind(i64::from(band.first))
                .bind(i64::from(band.last))
                .bind(now)
                .bind(kiosk_no)
                .fetch_optional(&mut *w.tx)
                .await
                .doing("storing the kiosk")?;
            if inserted.is_none() {
                if let Some(id) = enrolled_as(&mut w.tx, &public_key).await? {
                    return Err(EnrolError::AlreadyEnrolled(id));
                }
                continue;
            }
            w.commit().await?;
            return Ok(Enrolment {
                kiosk_id,
                hall_id,
                hall_name,
                number_band: band,
                ops_public_key,
                release_public_key,
                hall_code,
                kiosk_no: kiosk_no_of(Some(kiosk_no))?,
            });
        }
        Err(StoreError::Contended("choosing a kiosk number").into())
    }

    /// Retires a kiosk that no longer runs (replaced hardware): its offline band goes back to
    /// the hall for the next enrolment, its kiosk number stays taken for good (so no two
    /// kiosks ever make the same application numbers), and rollouts no longer pick it. What it
    /// still sends is accepted. None when there is no such kiosk; retiring twice keeps the
    /// first time.
    pub async fn retire_kiosk(&self, kiosk_id: &str) -> Result<Option<i64>, StoreError> {
        let mut w = self.write().await?;
        sqlx::query(
            "UPDATE kiosks SET retired_at = $2, band_index = -kiosk_no WHERE id = $1 AND retired_at IS NULL",
        )
        .bind(kiosk_id)
        .bind(now_millis())
        .execute(&mut *w.tx)
        .await
        .doing("retiring a kiosk")?;
        let at: Option<Option<i64>> =
            sqlx::query_scalar("SELECT retired_at FROM kiosks WHERE id = $1")
                .bind(kiosk_id)
                .fetch_optional(&mut *w.tx)
                .await
                .doing("retiring a kiosk")?;
        if at.is_some() {
            w.audit(self, Action::KioskRetire, &format!("kiosk {kiosk_id}"), "")
                .await?;
        }
        w.commit().await?;
        Ok(at.flatten())
    }

    /// Revokes a kiosk: from now on (within [`crate::http`]'s kiosk cache age on every node)
    /// its signed requests are refused with `reason`; its offline band goes back to the hall,
    /// its kiosk number stays taken for good, rollouts leave it out. Revoking twice keeps the
    /// first revocation. Re-provisioning it (`create_reprovision_token`) lifts it.
    pub async fn revoke_kiosk(&self, kiosk_id: &str, reason: &str) -> Result<Revoked, RevokeError> {
        let by = self.actor().name;
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
            return Err(RevokeError::BadReason);
        }
        let now = now_millis();
        let mut w = self.write().await?;
        let done = sqlx::query(
            "UPDATE kiosks SET revoked_at = $2, revoked_reason = $3, revoked_by = $4, band_index = -kiosk_no \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(kiosk_id)
        .bind(now)
        .bind(reason)
        .bind(&by)
        .execute(&mut *w.tx)
        .await
        .doing("revoking a kiosk")?;
        let row =
            sqlx::query("SELECT revoked_at, revoked_reason, revoked_by FROM kiosks WHERE id = $1")
                .bind(kiosk_id)
                .fetch_optional(&mut *w.tx)
                .await
                .doing("revoking a kiosk")?
                .ok_or_else(|| RevokeError::NoSuchKiosk(kiosk_id.to_owned()))?;
        let revocation = revocation_of(
            row.try_get(0).doing("revoking a kiosk")?,
            row.try_get(1).doing("revoking a kiosk")?,
            row.try_get(2).doing("revoking a kiosk")?,
        )?
        .ok_or(StoreError::Corrupt("revocation"))?;
        if done.rows_affected() == 1 {
            w.audit(
                self,
                Action::KioskRevoke,
                &format!("kiosk {kiosk_id}"),
                reason,
            )
            .await?;
        }
        w.commit().await?;
        Ok(if done.rows_affected() == 1 {
            Revoked::Now(revocation)
        } else {
            Revoked::Already(revocation)
        })
    }

    /// A one-time token that re-provisions kiosk `kiosk_id`: the kiosk that enrols with it
    /// keeps that id, hall, kiosk number and (if still free) band, under its new key, and a
    /// revocation is lifted. For a kiosk whose store survived (a leaked or lost key, a
    /// reinstalled system); replaced hardware is retired and enrolled afresh.
    pub async fn create_reprovision_token(
        &self,
        kiosk_id: &str,
        valid_for: chrono::Duration,
    ) -> Result<TokenCreated, ReprovisionError> {
        let mut bytes = [0u8; 20];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        let now = now_millis();
        let expires = now.saturating_add(valid_for.num_milliseconds());
        let mut w = self.write().await?;
        let row = sqlx::query("SELECT k.hall_id, h.hall_code, k.retired_at FROM kiosks k JOIN halls h ON h.id = k.hall_id WHERE k.id = $1")
            .bind(kiosk_id)
            .fetch_optional(&mut *w.tx)
            .await
            .doing("looking up the kiosk")?
            .ok_or_else(|| ReprovisionError::NoSuchKiosk(kiosk_id.to_owned()))?;
        let hall_id: String = row.try_get(0).doing("reading the kiosk")?;
        let hall_code = hall_code_of(row.try_get(1).doing("reading the kiosk")?)?;
        let retired: Option<i64> = row.try_get(2).doing("reading the kiosk")?;
        if retired.is_some() {
            return Err(ReprovisionError::Retired(kiosk_id.to_owned()));
        }
        sqlx::query("INSERT INTO enrol_tokens (token_sha256, hall_id, created_at, expires_at, reprovision_kiosk) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_digest(&token))
            .bind(&hall_id)
            .bind(now)
            .bind(expires)
            .bind(kiosk_id)
            .execute(&mut *w.tx)
            .await
            .doing("storing the token")?;
        let detail = format!(
            "re-provisioning token {}… of hall {hall_id}, valid for {} min",
            &token_digest(&token)[..12],
            valid_for.num_minutes()
        );
        w.audit(
            self,
            Action::TokenCreate,
            &format!("kiosk {kiosk_id}"),
            &detail,
        )
        .await?;
        w.commit().await?;
        let expires_at = chrono::DateTime::from_timestamp_millis(expires)
            .ok_or(StoreError::Corrupt("token expiry"))?
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Ok(TokenCreated {
            token,
            hall_id,
            hall_code: hall_code.get(),
            expires_at,
        })
    }

    /// The kiosk's key and hall, or None if it is not enrolled.
    pub async fn kiosk_auth(&self, kiosk_id: Uuid) -> Result<Option<KioskAuth>, StoreError> {
        let row = sqlx::query("SELECT k.hall_id, k.public_key, h.hall_code, k.kiosk_no, k.band_first, k.band_last, k.revoked_at, k.revoked_reason, k.revoked_by FROM kiosks k JOIN halls h ON h.id = k.hall_id WHERE k.id = $1")
            .bind(kiosk_id.to_string())
            .fetch_optional(self.pool())
            .await
            .doing("looking up the kiosk")?;
        let Some(row) = row else { return Ok(None) };
        let hall_id: String = row.try_get(0).doing("reading the kiosk")?;
        let key: String = row.try_get(1).doing("reading the kiosk")?;
        let public_key = kiosk_api::keys::public_key_from_base64(&key)
            .map_err(|_| StoreError::Corrupt("kiosk public key"))?;
        let doing = "reading the kiosk";
        Ok(Some(KioskAuth {
            kiosk_id,
            hall_id,
            hall_code: hall_code_of(row.try_get(2).doing(doing)?)?,
            kiosk_no: kiosk_no_of(row.try_get(3).doing(doing)?)?,
            band: band_of(row.try_get(4).doing(doing)?, row.try_get(5).doing(doing)?)?,
            public_key,
            revoked: revocation_of(
                row.try_get(6).doing(doing)?,
                row.try_get(7).doing(doing)?,
                row.try_get(8).doing(doing)?,
            )?,
        }))
    }
}

pub(super) fn revocation_of(
    at: Option<i64>,
    reason: Option<String>,
    by: Option<String>,
) -> Result<Option<Revocation>, StoreError> {
    let Some(at) = at else { return Ok(None) };
    Ok(Some(Revocation {
        at: chrono::DateTime::from_timestamp_millis(at)
            .ok_or(StoreError::Corrupt("revocation time"))?,
        reason: reason.unwrap_or_default(),
        by: by.unwrap_or_default(),
    }))
}

/// A kiosk enrolling again under its own id (a re-provisioning token).
struct Reenrol<'a> {
    kiosk_id: Uuid,
    hall_id: &'a str,
    public_key: &'a str,
    request: &'a EnrolRequest,
    now: i64,
}

/// Puts the new key on the kiosk's record and lifts a revocation. Its number stays; its
/// band stays, or, if a revocation gave it back to the hall, it takes it again when still
/// free, else the hall's first free band. No new record, so no band is spent twice.
async fn reprovision_kiosk(
    conn: &mut AnyConnection,
    again: Reenrol<'_>,
) -> Result<(KioskNo, NumberBand), EnrolError> {
    let id = again.kiosk_id.to_string();
    let doing = "reading the kiosk to re-provision";
    let row = sqlx::query(
        "SELECT band_index, band_last, kiosk_no FROM kiosks WHERE id = $1 AND hall_id = $2",
    )
    .bind(&id)
    .bind(again.hall_id)
    .fetch_optional(&mut *conn)
    .await
    .doing(doing)?
    .ok_or(StoreError::Corrupt(
        "re-provisioning token of a kiosk that is gone",
    ))?;
    let index: i64 = row.try_get(0).doing(doing)?;
    let last: i64 = row.try_get(1).doing(doing)?;
    let kiosk_no = kiosk_no_of(row.try_get(2).doing(doing)?)?;
    let index = if (0..BANDS_PER_HALL).contains(&index) {
        index
    } else {
        let taken: Vec<i64> =
            sqlx::query_scalar("SELECT band_index FROM kiosks WHERE hall_id = $1 AND id <> $2")
                .bind(again.hall_id)
                .bind(&id)
                .fetch_all(&mut *conn)
                .await
                .doing(doing)?;
        let before = (999 - last) / i64::from(BAND_SIZE);
        std::iter::once(before)
            .chain(0..BANDS_PER_HALL)
            .find(|i| (0..BANDS_PER_HALL).contains(i) && !taken.contains(i))
            .ok_or_else(|| EnrolError::HallFull(again.hall_id.to_owned(), taken.len()))?
    };
    let band = band(index);
    sqlx::query(
        "UPDATE kiosks SET public_key = $2, hostname = $3, version = $4, band_index = $5, band_first = $6, band_last = $7, \
         revoked_at = NULL, revoked_reason = NULL, revoked_by = NULL, reprovisioned_at = $8 WHERE id = $1",
    )
    .bind(&id)
    .bind(again.public_key)
    .bind(&again.request.hostname)
    .bind(&again.request.version)
    .bind(index)
    .bind(i64::from(band.first))
    .bind(i64::from(band.last))
    .bind(again.now)
    .execute(&mut *conn)
    .await
    .doing("re-provisioning the kiosk")?;
    Ok((kiosk_no, band))
}

async fn enrolled_as(
    conn: &mut AnyConnection,
    public_key: &str,
) -> Result<Option<String>, StoreError> {
    sqlx::query_scalar::<_, String>("SELECT id FROM kiosks WHERE public_key = $1")
        .bind(public_key)
        .fetch_optional(conn)
        .await
        .doing("checking the public key")
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
