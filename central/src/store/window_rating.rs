//! The window rating (issue 16 item 5, 一次一评): a tablet at a window rates the service of
//! the ticket just served there, bound to that ticket, window and clerk.
//!
//! Trust: the tablet is a public device, and its page a public URL. Only a tablet paired
//! with the window (`central queue tablet`, a secret in its URL that central keeps hashed)
//! may rate, and only the window's latest call, once served (办结), not yet rated, for
//! [`RATE_WITHIN_MILLIS`] and until the window calls its next ticket. So nobody elsewhere can
//! stuff ratings, and the next citizen at the window cannot rate the one before.
//!
//! A rating is a row of `ratings`, subject `ticket:<no>:<date>` as a kiosk's rating of the
//! ticket would be, so the one unique key keeps one rating per ticket whichever device gave
//! it. A bad one (level 1 or 2) opens a 整改 follow-up due in the configured days.

use chrono::{DateTime, NaiveDate, Utc};
use kiosk_api::citizen::{RATING_REASONS, business_date_at, rating_subject};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;

use super::citizen::follow_up_due_in;
use super::{Action, Doing as _, FollowUpKind, MAX_NOTE_CHARS, Store, StoreError, WindowError};

/// How long after 办结 the ticket may still be rated at its window.
pub const RATE_WITHIN_MILLIS: i64 = 10 * 60 * 1000;

/// The reasons a window's tablet offers for a bad rating: the kiosk's list without the one
/// about the kiosk itself, which a window's service cannot have been.
pub fn window_reasons() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)>
{
    RATING_REASONS
        .iter()
        .filter(|(code, _, _)| *code != "kiosk_problem")
}

/// Tablet secrets are 64 lower-case hex digits; anything else is no secret, and is not looked
/// up.
pub fn is_tablet_secret(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The ticket a window's tablet offers for rating now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RateableTicket {
    /// E.g. `A012`.
    pub ticket_no: String,
    /// Its business date.
    pub business_date: NaiveDate,
    /// The window.
    pub window_no: u32,
    /// The clerk who called it, if known.
    pub clerk: Option<String>,
    /// When it was served.
    pub served_at: DateTime<Utc>,
    /// Until when it may be rated.
    pub until: DateTime<Utc>,
}

/// A rating as a window's tablet sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowRating {
    /// The tablet's pairing secret.
    pub secret: String,
    /// The business date of the ticket the tablet showed.
    pub business_date: NaiveDate,
    /// The ticket the tablet showed.
    pub ticket_no: String,
    /// 1..=5 (5 非常满意 … 1 非常不满意).
    pub level: u8,
    /// Reason codes of [`window_reasons`], at least one for levels 1 and 2, none otherwise.
    pub reasons: Vec<String>,
    /// Optional free text.
    pub note: Option<String>,
}

/// What a window rating came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowRated {
    /// The rating's id (`central ratings follow-up ID`).
    pub id: i64,
    /// The follow-up a bad rating opened, and its deadline.
    pub follow_up: Option<(FollowUpKind, DateTime<Utc>)>,
}

/// Why a window rating was not taken. [`RateError::citizen_message`] says it to the citizen.
#[derive(Debug, thiserror::Error)]
pub enum RateError {
    /// No tablet with this secret is paired with the window (or there is no such window).
    #[error("no rating tablet with this secret is paired with window {window} of hall {hall}")]
    NotPaired {
        /// Hall.
        hall: String,
        /// Window.
        window: u32,
    },
    /// The level is not 1..=5.
    #[error("rating level {0} is not in 1..=5")]
    BadLevel(u8),
    /// A level of 1 or 2 without a reason.
    #[error("a rating of level 1 or 2 needs at least one reason")]
    ReasonsRequired,
    /// Reasons given with a level of 3 or more, or a reason code the window does not offer.
    #[error("reason {0:?} is not one the window offers for this level")]
    BadReason(String),
    /// The note is longer than [`MAX_NOTE_CHARS`].
    #[error("the note is longer than {MAX_NOTE_CHARS} characters")]
    NoteTooLong,
    /// The ticket is not the one the window has just served: served at another window, not
    /// yet served, served too long ago, or the window has called its next ticket since.
    #[error("ticket {ticket_no} of {business_date} cannot be rated at window {window} now")]
    NotRateable {
        /// The ticket.
        ticket_no: String,
        /// Its business date.
        business_date: NaiveDate,
        /// The window.
        window: u32,
    },
    /// The ticket was rated before, here or on a kiosk: one rating per ticket.
    #[error("ticket {ticket_no} of {business_date} was rated already; one rating per ticket")]
    AlreadyRated {
        /// The ticket.
        ticket_no: String,
        /// Its business date.
        business_date: NaiveDate,
    },
    /// Database failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RateError {
    /// What the tablet tells the citizen, in Chinese and English.
    pub fn citizen_message(&self) -> &'static str {
        match self {
            RateError::NotPaired { .. } => {
                "本设备未绑定此窗口，请联系工作人员。 · This tablet is not set up for this window; please tell the staff."
            }
            RateError::BadLevel(_) => "请选择一个评价等级。 · Please choose a rating.",
            RateError::ReasonsRequired => {
                "请至少选择一个不满意的原因。 · Please choose at least one reason."
            }
            RateError::BadReason(_) => {
                "所选原因无效，请重新选择。 · A reason chosen is not valid; please choose again."
            }
            RateError::NoteTooLong => "留言过长。 · The note is too long.",
            RateError::NotRateable { .. } => {
                "本次服务已无法评价（已超时或窗口已叫下一位）。 · This service can no longer be rated here (too late, or the window has called the next ticket)."
            }
            RateError::AlreadyRated { .. } => {
                "这张号已经评价过了，每张号只能评价一次。谢谢！ · This ticket was already rated; one rating per ticket. Thank you!"
            }
            RateError::Store(_) => {
                "暂时无法提交，请稍后再试。 · Your rating could not be sent; please try again in a moment."
            }
        }
    }
}

/// The window's latest call of `day` and, if it is served, not voided and served within
/// [`RATE_WITHIN_MILLIS`] of `now`, the ticket a tablet may rate.
async fn latest_served(
    conn: &mut sqlx::AnyConnection,
    hall: &str,
    window: u32,
    now: DateTime<Utc>,
) -> Result<Option<RateableTicket>, StoreError> {
    let doing = "reading the ticket a window served";
    let day = business_date_at(now);
    // The latest call only: once the window calls its next ticket, the one before is no
    // longer offered, so the next citizen at the window never rates it.
    let row = sqlx::query(
        "SELECT ticket_no, clerk, served_at, voided_at FROM tickets \
         WHERE hall_id = $1 AND business_date = $2 AND window_no = $3 AND called_at IS NOT NULL \
         ORDER BY called_at DESC, number DESC LIMIT 1",
    )
    .bind(hall)
    .bind(day.to_string())
    .bind(i64::from(window))
    .fetch_optional(&mut *conn)
    .await
    .doing(doing)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let served: Option<i64> = row.try_get("served_at").doing(doing)?;
    let voided: Option<i64> = row.try_get("voided_at").doing(doing)?;
    let (Some(served), None) = (served, voided) else {
        return Ok(None);
    };
    let now_ms = now.timestamp_millis();
    if now_ms < served || now_ms - served > RATE_WITHIN_MILLIS {
        return Ok(None);
    }
    let served_at =
        DateTime::from_timestamp_millis(served).ok_or(StoreError::Corrupt("service time"))?;
    Ok(Some(RateableTicket {
        ticket_no: row.try_get("ticket_no").doing(doing)?,
        business_date: day,
        window_no: window,
        clerk: row.try_get("clerk").doing(doing)?,
        served_at,
        until: served_at + chrono::Duration::milliseconds(RATE_WITHIN_MILLIS),
    }))
}

async fn rated_in(
    conn: &mut sqlx::AnyConnection,
    hall: &str,
    subject: &str,
) -> Result<bool, StoreError> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM ratings WHERE hall_id = $1 AND subject = $2")
            .bind(hall)
            .bind(subject)
            .fetch_one(&mut *conn)
            .await
            .doing("looking for a ticket's rating")?;
    Ok(n > 0)
}

fn check(rating: &WindowRating) -> Result<(), RateError> {
    if !(1..=5).contains(&rating.level) {
        return Err(RateError::BadLevel(rating.level));
    }
    if rating.level <= 2 && rating.reasons.is_empty() {
        return Err(RateError::ReasonsRequired);
    }
    if let Some(bad) = rating
        .reasons
        .iter()
        .find(|r| rating.level > 2 || !window_reasons().any(|(code, _, _)| code == r))
    {
        return Err(RateError::BadReason(bad.clone()));
    }
    if rating
        .note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
    {
        return Err(RateError::NoteTooLong);
    }
    Ok(())
}

impl Store {
    /// Pairs a new rating tablet with window `window` of `hall` and returns its secret, the
    /// last part of the tablet's URL (`/hall/<hall>/window/<n>/rate/<secret>`). Central keeps
    /// only its hash, so it is shown this once; a tablet paired before stops working.
    pub async fn pair_rating_tablet(&self, hall: &str, window: u32) -> Result<String, WindowError> {
        self.windows(hall)
            .await?
            .iter()
            .find(|w| w.window_no == window)
            .ok_or_else(|| WindowError::NoSuchWindow {
                hall: hall.to_owned(),
                window,
            })?;
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        let secret = hex::encode(bytes);
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO window_tablets (hall_id, window_no, secret_hash, paired_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (hall_id, window_no) DO UPDATE SET secret_hash = excluded.secret_hash, paired_at = excluded.paired_at",
        )
        .bind(hall)
        .bind(i64::from(window))
        .bind(secret_hash(&secret))
        .bind(super::now_millis())
        .execute(&mut *w.tx)
        .await
        .doing("pairing a rating tablet")?;
        w.audit(
            self,
            Action::WindowSet,
            &format!("hall {hall} window {window}"),
            "rating tablet paired",
        )
        .await?;
        w.commit().await?;
        Ok(secret)
    }

    /// Whether a rating tablet is paired with window `window` of `hall`.
    pub async fn has_rating_tablet(&self, hall: &str, window: u32) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM window_tablets WHERE hall_id = $1 AND window_no = $2",
        )
        .bind(hall)
        .bind(i64::from(window))
        .fetch_one(self.pool())
        .await
        .doing("looking for a window's rating tablet")?;
        Ok(n > 0)
    }

    /// Whether `secret` is that of the tablet paired with window `window` of `hall`.
    pub async fn tablet_paired(
        &self,
        hall: &str,
        window: u32,
        secret: &str,
    ) -> Result<bool, StoreError> {
        if !is_tablet_secret(secret) {
            return Ok(false);
        }
        // Compared as hashes in the database: nothing about the secret itself leaks by time.
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM window_tablets WHERE hall_id = $1 AND window_no = $2 AND secret_hash = $3",
        )
        .bind(hall)
        .bind(i64::from(window))
        .bind(secret_hash(secret))
        .fetch_one(self.pool())
        .await
        .doing("checking a rating tablet")?;
        Ok(n > 0)
    }

    /// The ticket window `window` of `hall` offers for rating at `now`: its latest call, once
    /// served and until rated, for [`RATE_WITHIN_MILLIS`]. `None` while there is none.
    pub async fn rateable_ticket(
        &self,
        hall: &str,
        window: u32,
        now: DateTime<Utc>,
    ) -> Result<Option<RateableTicket>, StoreError> {
        let mut conn = self
            .pool()
            .acquire()
            .await
            .doing("reading the ticket a window served")?;
        let Some(t) = latest_served(&mut conn, hall, window, now).await? else {
            return Ok(None);
        };
        let subject = rating_subject::ticket(&t.ticket_no, t.business_date);
        Ok((!rated_in(&mut conn, hall, &subject).await?).then_some(t))
    }

    /// Records a citizen's rating from the tablet paired with window `window` of `hall`, of
    /// the ticket the window has just served ([`Store::rateable_ticket`]), with that ticket's
    /// window and clerk. A bad rating (1 or 2) opens a 整改 follow-up due in its configured
    /// days ([`Store::follow_up_days`]). A second rating of the ticket is refused, never
    /// dropped in silence.
    pub async fn rate_at_window(
        &self,
        hall: &str,
        window: u32,
        rating: &WindowRating,
        now: DateTime<Utc>,
    ) -> Result<WindowRated, RateError> {
        if !self.tablet_paired(hall, window, &rating.secret).await? {
            tracing::warn!(
                hall,
                window,
                "window rating refused: the tablet is not paired"
            );
            return Err(RateError::NotPaired {
                hall: hall.to_owned(),
                window,
            });
        }
        check(rating)?;
        let doing = "recording a window rating";
        let subject = rating_subject::ticket(&rating.ticket_no, rating.business_date);
        let mut w = self.write().await?;
        let served = latest_served(&mut w.tx, hall, window, now)
            .await?
            .filter(|t| t.ticket_no == rating.ticket_no && t.business_date == rating.business_date);
        let Some(served) = served else {
            // Rated before and no longer offered says more to the citizen than "too late".
            if rated_in(&mut w.tx, hall, &subject).await? {
                return Err(RateError::AlreadyRated {
                    ticket_no: rating.ticket_no.clone(),
                    business_date: rating.business_date,
                });
            }
            return Err(RateError::NotRateable {
                ticket_no: rating.ticket_no.clone(),
                business_date: rating.business_date,
                window,
            });
        };
        let given_at = now.timestamp_millis();
        let follow_up = if rating.level <= 2 {
            let kind = FollowUpKind::Rectification;
            let due = follow_up_due_in(&mut w.tx, kind, given_at).await?;
            Some((
                kind,
                DateTime::from_timestamp_millis(due).ok_or(StoreError::Corrupt("deadline"))?,
            ))
        } else {
            None
        };
        let reasons =
            serde_json::to_string(&rating.reasons).map_err(|_| StoreError::Corrupt("reasons"))?;
        // The unique (hall_id, subject) decides between two tablets or a kiosk at once.
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO ratings (hall_id, subject, kiosk_id, level, reasons, note, given_at, window_no, clerk, \
             business_date, ticket_no, follow_up_kind, follow_up_due) \
             VALUES ($1, $2, NULL, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (hall_id, subject) DO NOTHING RETURNING id",
        )
        .bind(hall)
        .bind(&subject)
        .bind(i64::from(rating.level))
        .bind(reasons)
        .bind(rating.note.as_deref().map(str::trim).filter(|n| !n.is_empty()))
        .bind(given_at)
        .bind(i64::from(window))
        .bind(served.clerk.as_deref())
        .bind(served.business_date.to_string())
        .bind(&served.ticket_no)
        .bind(follow_up.map(|(k, _)| k.as_str()))
        .bind(follow_up.map(|(_, d)| d.timestamp_millis()))
        .fetch_optional(&mut *w.tx)
        .await
        .doing(doing)?;
        let Some(id) = id else {
            return Err(RateError::AlreadyRated {
                ticket_no: rating.ticket_no.clone(),
                business_date: rating.business_date,
            });
        };
        w.commit().await?;
        tracing::info!(hall, window, ticket = %served.ticket_no, level = rating.level, "window rating recorded");
        Ok(WindowRated { id, follow_up })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rating(level: u8, reasons: &[&str]) -> WindowRating {
        WindowRating {
            secret: String::new(),
            business_date: NaiveDate::default(),
            ticket_no: "A001".into(),
            level,
            reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
            note: None,
        }
    }

    #[test]
    fn bad_ratings_need_reasons_the_window_offers_and_good_ones_none() {
        assert!(check(&rating(5, &[])).is_ok());
        assert!(check(&rating(1, &["attitude", "long_wait"])).is_ok());
        assert!(matches!(
            check(&rating(0, &[])),
            Err(RateError::BadLevel(0))
        ));
        assert!(matches!(
            check(&rating(6, &[])),
            Err(RateError::BadLevel(6))
        ));
        assert!(matches!(
            check(&rating(2, &[])),
            Err(RateError::ReasonsRequired)
        ));
        assert!(
            matches!(check(&rating(2, &["kiosk_problem"])), Err(RateError::BadReason(r)) if r == "kiosk_problem")
        );
        assert!(matches!(
            check(&rating(4, &["attitude"])),
            Err(RateError::BadReason(_))
        ));
        let mut long = rating(3, &[]);
        long.note = Some("字".repeat(MAX_NOTE_CHARS + 1));
        assert!(matches!(check(&long), Err(RateError::NoteTooLong)));
    }

    #[test]
    fn tablet_secrets_are_64_lower_hex() {
        assert!(is_tablet_secret(&"a1".repeat(32)));
        assert!(!is_tablet_secret(&"A1".repeat(32)));
        assert!(!is_tablet_secret("abc"));
    }
}
