//! Per-kiosk quotas kept in the database (issue 17 item 6), so every central node on one
//! database counts a kiosk the same: one row per kiosk and kind in `kiosk_usage`, a count in
//! a fixed window, reset when the window is over. Bounded: kiosks times kinds rows.
//!
//! Fixed windows let a kiosk use up to twice a quota across a window's edge; the quotas are
//! there to stop a runaway or hostile kiosk from filling the database, not to meter.

use sqlx::AnyConnection;

use super::{Doing as _, StoreError};

/// What a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Usage {
    /// Events stored, per minute.
    EventsPerMinute,
    /// Attachment uploads started, per day.
    AttachmentsPerDay,
    /// Signed requests (nonces claimed), per minute.
    RequestsPerMinute,
}

impl Usage {
    fn kind(self) -> &'static str {
        match self {
            Usage::EventsPerMinute => "events_per_minute",
            Usage::AttachmentsPerDay => "attachments_per_day",
            Usage::RequestsPerMinute => "requests_per_minute",
        }
    }

    fn window_millis(self) -> i64 {
        match self {
            Usage::EventsPerMinute | Usage::RequestsPerMinute => 60_000,
            Usage::AttachmentsPerDay => 24 * 60 * 60 * 1000,
        }
    }
}

/// How much of `usage` `kiosk` used in the current window at `now` (0 once it is over).
pub(crate) async fn used(
    conn: &mut AnyConnection,
    kiosk: &str,
    usage: Usage,
    now: i64,
) -> Result<i64, StoreError> {
    let used: Option<i64> = sqlx::query_scalar(
        "SELECT used FROM kiosk_usage WHERE kiosk_id = $1 AND kind = $2 AND window_start > $3",
    )
    .bind(kiosk)
    .bind(usage.kind())
    .bind(now - usage.window_millis())
    .fetch_optional(conn)
    .await
    .doing("reading the kiosk's quota")?;
    Ok(used.unwrap_or(0))
}

/// Counts `amount` more of `usage` for `kiosk` in the caller's transaction (rolled back with
/// it when the request is refused) and returns the window's count after it.
pub(crate) async fn charge(
    conn: &mut AnyConnection,
    kiosk: &str,
    usage: Usage,
    amount: i64,
    now: i64,
) -> Result<i64, StoreError> {
    sqlx::query_scalar(
        "INSERT INTO kiosk_usage (kiosk_id, kind, window_start, used) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (kiosk_id, kind) DO UPDATE SET \
         used = CASE WHEN kiosk_usage.window_start <= $5 THEN $4 ELSE kiosk_usage.used + $4 END, \
         window_start = CASE WHEN kiosk_usage.window_start <= $5 THEN $3 ELSE kiosk_usage.window_start END \
         RETURNING used",
    )
    .bind(kiosk)
    .bind(usage.kind())
    .bind(now)
    .bind(amount)
    .bind(now - usage.window_millis())
    .fetch_one(conn)
    .await
    .doing("counting against the kiosk's quota")
}
