//! What the ops console shows about kiosks: the fleet list, one kiosk's health history and
//! its update results.

use chrono::{DateTime, Utc};
use kiosk_api::HealthReport;
use kiosk_api::fleet::KIND_HEALTH_REPORT;
use serde::Serialize;
use sqlx::Row as _;

use super::{Doing as _, Store, StoreError, now_millis};

/// A kiosk counts as online when central heard from it (events or desired-state polls)
/// within this long. Kiosks poll their desired state every minute or so and send events as
/// they happen, so five minutes is several missed polls, not one slow request.
pub const ONLINE_WITHIN_MILLIS: i64 = 5 * 60 * 1000;

/// One kiosk as the fleet list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FleetKiosk {
    /// Kiosk id.
    pub kiosk_id: String,
    /// Its hall.
    pub hall_id: String,
    /// The hall's display name.
    pub hall_name: String,
    /// The hall's code on the platform.
    pub hall_code: Option<u16>,
    /// The kiosk's number in its hall.
    pub kiosk_no: Option<u8>,
    /// Host name given at enrolment.
    pub hostname: String,
    /// Version it runs, as far as central knows.
    pub version: String,
    /// Enrolled at.
    pub enrolled_at: Option<DateTime<Utc>>,
    /// Last time central heard from it.
    pub last_seen_at: Option<DateTime<Utc>>,
    /// Heard from within [`ONLINE_WITHIN_MILLIS`].
    pub online: bool,
    /// Its newest health report.
    pub report: Option<HealthReport>,
    /// When that report was made on the kiosk (RFC 3339).
    pub reported_at: Option<String>,
    /// Its offline number band.
    pub band: (i64, i64),
    /// Events central refused from it (kept in its quarantine), in all.
    pub refused: u64,
    /// When ops retired it (`central kiosk retire`).
    pub retired_at: Option<DateTime<Utc>>,
    /// Set when ops revoked it (`central kiosk revoke`, the console).
    pub revoked: Option<super::Revocation>,
}

/// An event central refused for good (`refused_events`): the kiosk keeps it in its
/// quarantine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedEvent {
    /// Kiosk id.
    pub kiosk_id: String,
    /// The event.
    pub event_id: String,
    /// Its outbox sequence number.
    pub seq: i64,
    /// Its kind.
    pub kind: String,
    /// A `kiosk_api::reject_reason`.
    pub reason: String,
    /// What exactly.
    pub detail: String,
    /// When it was last refused.
    pub refused_at: DateTime<Utc>,
    /// How often it was refused.
    pub times: i64,
}

/// One `health_report` of a kiosk's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthEntry {
    /// When it was made on the kiosk (RFC 3339).
    pub at: String,
    /// The report; None when its payload did not fit the contract.
    pub report: Option<HealthReport>,
}

/// One `update_result` a kiosk sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateResultRow {
    /// Kiosk id.
    pub kiosk_id: String,
    /// Release tried.
    pub version: String,
    /// Version before.
    pub from_version: String,
    /// committed, rolled_back or refused.
    pub outcome: String,
    /// Machine reason.
    pub reason: String,
    /// What happened.
    pub detail: String,
    /// When, on the kiosk (RFC 3339).
    pub at: String,
    /// The rollout it counted for.
    pub rollout_id: Option<i64>,
}

/// A hall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hall {
    /// Hall id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Code on the platform, the first digits of its application numbers.
    pub code: Option<u16>,
}

fn time(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(DateTime::from_timestamp_millis)
}

const FLEET_SQL: &str = "SELECT k.id, k.hall_id, h.name, k.hostname, COALESCE(ks.version, k.version), k.enrolled_at, k.last_seen_at, ks.report, ks.reported_at, k.band_first, k.band_last, \
    h.hall_code, k.kiosk_no, (SELECT COUNT(*) FROM refused_events r WHERE r.kiosk_id = k.id), k.retired_at, \
    k.revoked_at, k.revoked_reason, k.revoked_by \
    FROM kiosks k JOIN halls h ON h.id = k.hall_id LEFT JOIN kiosk_status ks ON ks.kiosk_id = k.id";

fn fleet_row(row: &sqlx::any::AnyRow, now: i64) -> Result<FleetKiosk, StoreError> {
    let doing = "reading the fleet";
    let last_seen: Option<i64> = row.try_get(6).doing(doing)?;
    let report: Option<String> = row.try_get(7).doing(doing)?;
    Ok(FleetKiosk {
        kiosk_id: row.try_get(0).doing(doing)?,
        hall_id: row.try_get(1).doing(doing)?,
        hall_name: row.try_get(2).doing(doing)?,
        hostname: row.try_get(3).doing(doing)?,
        version: row.try_get(4).doing(doing)?,
        enrolled_at: time(Some(row.try_get(5).doing(doing)?)),
        last_seen_at: time(last_seen),
        online: last_seen.is_some_and(|t| now - t <= ONLINE_WITHIN_MILLIS),
        report: report.and_then(|r| serde_json::from_str(&r).ok()),
        reported_at: row.try_get(8).doing(doing)?,
        band: (row.try_get(9).doing(doing)?, row.try_get(10).doing(doing)?),
        hall_code: row
            .try_get::<Option<i64>, _>(11)
            .doing(doing)?
            .and_then(|c| u16::try_from(c).ok()),
        kiosk_no: row
            .try_get::<Option<i64>, _>(12)
            .doing(doing)?
            .and_then(|n| u8::try_from(n).ok()),
        refused: u64::try_from(row.try_get::<i64, _>(13).doing(doing)?).unwrap_or(0),
        retired_at: time(row.try_get(14).doing(doing)?),
        revoked: super::enrol::revocation_of(
            row.try_get(15).doing(doing)?,
            row.try_get(16).doing(doing)?,
            row.try_get(17).doing(doing)?,
        )?,
    })
}

impl Store {
    /// Every kiosk, by hall and host name.
    pub async fn fleet(&self) -> Result<Vec<FleetKiosk>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{FLEET_SQL} ORDER BY k.hall_id, k.hostname, k.id"
        )))
        .fetch_all(self.pool())
        .await
        .doing("reading the fleet")?;
        let now = now_millis();
        rows.iter().map(|r| fleet_row(r, now)).collect()
    }

    /// One kiosk.
    pub async fn fleet_kiosk(&self, kiosk_id: &str) -> Result<Option<FleetKiosk>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{FLEET_SQL} WHERE k.id = $1")))
            .bind(kiosk_id)
            .fetch_optional(self.pool())
            .await
            .doing("reading a kiosk")?;
        row.map(|r| fleet_row(&r, now_millis())).transpose()
    }

    /// The newest `limit` health reports of a kiosk, newest first (from its events).
    pub async fn health_history(
        &self,
        kiosk_id: &str,
        limit: i64,
    ) -> Result<Vec<HealthEntry>, StoreError> {
        let rows = sqlx::query("SELECT occurred_at, payload FROM events WHERE kiosk_id = $1 AND stream = 'health' AND kind = $2 ORDER BY seq DESC LIMIT $3")
            .bind(kiosk_id)
            .bind(KIND_HEALTH_REPORT)
            .bind(limit)
            .fetch_all(self.pool())
            .await
            .doing("reading health history")?;
        rows.iter()
            .map(|r| {
                let payload: String = r.try_get(1).doing("reading health history")?;
                Ok(HealthEntry {
                    at: r.try_get(0).doing("reading health history")?,
                    report: serde_json::from_str(&payload).ok(),
                })
            })
            .collect()
    }

    /// The newest `limit` update results, of one kiosk or of all, newest first.
    pub async fn update_results(
        &self,
        kiosk_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<UpdateResultRow>, StoreError> {
        let doing = "reading update results";
        let rows = sqlx::query("SELECT kiosk_id, version, from_version, outcome, reason, detail, occurred_at, rollout_id FROM update_results \
            WHERE ($1 = '' OR kiosk_id = $1) ORDER BY occurred_at DESC, received_at DESC LIMIT $2")
            .bind(kiosk_id.unwrap_or_default())
            .bind(limit)
            .fetch_all(self.pool())
            .await
            .doing(doing)?;
        rows.iter()
            .map(|r| {
                Ok(UpdateResultRow {
                    kiosk_id: r.try_get(0).doing(doing)?,
                    version: r.try_get(1).doing(doing)?,
                    from_version: r.try_get(2).doing(doing)?,
                    outcome: r.try_get(3).doing(doing)?,
                    reason: r.try_get(4).doing(doing)?,
                    detail: r.try_get(5).doing(doing)?,
                    at: r.try_get(6).doing(doing)?,
                    rollout_id: r.try_get(7).doing(doing)?,
                })
            })
            .collect()
    }

    /// Every hall.
    pub async fn halls(&self) -> Result<Vec<Hall>, StoreError> {
        let rows = sqlx::query("SELECT id, name, hall_code FROM halls ORDER BY id")
            .fetch_all(self.pool())
            .await
            .doing("listing halls")?;
        rows.iter()
            .map(|r| {
                Ok(Hall {
                    id: r.try_get(0).doing("listing halls")?,
                    name: r.try_get(1).doing("listing halls")?,
                    code: r
                        .try_get::<Option<i64>, _>(2)
                        .doing("listing halls")?
                        .and_then(|c| u16::try_from(c).ok()),
                })
            })
            .collect()
    }

    /// The newest `limit` events central refused from `kiosk_id`, newest first.
    pub async fn refused_events(
        &self,
        kiosk_id: &str,
        limit: i64,
    ) -> Result<Vec<RefusedEvent>, StoreError> {
        let doing = "reading refused events";
        let rows = sqlx::query(
            "SELECT kiosk_id, event_id, seq, kind, reason, detail, refused_at, times FROM refused_events \
             WHERE kiosk_id = $1 ORDER BY refused_at DESC, seq DESC LIMIT $2",
        )
        .bind(kiosk_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        rows.iter()
            .map(|r| {
                Ok(RefusedEvent {
                    kiosk_id: r.try_get(0).doing(doing)?,
                    event_id: r.try_get(1).doing(doing)?,
                    seq: r.try_get(2).doing(doing)?,
                    kind: r.try_get(3).doing(doing)?,
                    reason: r.try_get(4).doing(doing)?,
                    detail: r.try_get(5).doing(doing)?,
                    refused_at: time(Some(r.try_get(6).doing(doing)?))
                        .ok_or(StoreError::Corrupt("refusal time"))?,
                    times: r.try_get(7).doing(doing)?,
                })
            })
            .collect()
    }

    /// Records that the kiosk was heard from now (a desired-state poll).
    pub async fn touch_kiosk(&self, kiosk_id: uuid::Uuid) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        sqlx::query("UPDATE kiosks SET last_seen_at = $2 WHERE id = $1")
            .bind(kiosk_id.to_string())
            .bind(now_millis())
            .execute(&mut *w.tx)
            .await
            .doing("recording when the kiosk was seen")?;
        w.commit().await
    }
}
