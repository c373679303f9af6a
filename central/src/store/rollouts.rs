//! Rollouts of a release to the fleet in cohorts, and the
//! projection of `health` events that drives them.
//!
//! A rollout is a list of stages. A stage picks its kiosks when it starts: `hall:ID` takes
//! every kiosk of that hall, `percent:P` tops the rollout up to P % of the whole fleet, in an
//! order fixed per rollout (sha256 of rollout id and kiosk id), so the percentages are
//! cumulative and spread over halls. A kiosk chosen is only offered the release when it runs
//! an older version that is at least the manifest's `min_version`; otherwise it is `skipped`
//! with the reason, and never offered a downgrade.
//!
//! The next stage starts only when every kiosk of the current one reported `update_result`
//! `committed` (or was skipped). A `rolled_back` or `refused` result marks the kiosk `failed`
//! with its reason; it is offered nothing more, and it holds its stage back. When the failed
//! kiosks of a rollout reach its `max_failures` (default 1: the first failure), the rollout
//! pauses. Resuming is ops accepting those failures: they become `acknowledged`, no longer
//! hold the stage, and count no more towards the threshold. One rollout runs at a time.

use std::collections::{BTreeSet, HashSet};

use kiosk_api::fleet::{KIND_HEALTH_REPORT, KIND_UPDATE_RESULT};
use kiosk_api::{Event, HealthReport, ReleaseRef, UpdateOutcome, UpdateResult};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use sqlx::{Any, AnyConnection, Row as _, Transaction};

use super::project::{Verdict, parse};
use super::{Action, Doing as _, Store, StoreError, now_millis};

/// Defines a state kept in a TEXT column: its names in the database and on the wire.
macro_rules! db_state {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// The name in the database and in `--json` output.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// The state named `text`, as central wrote it.
            fn from_db(text: String) -> Result<Self, StoreError> {
                match text.as_str() {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(StoreError::Corrupt(concat!("rollout state (", stringify!($name), ")"))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                // `pad`, so that `{:<8}` in tables lines up.
                f.pad(self.as_str())
            }
        }
    };
}

db_state! {
    /// A rollout's state.
    RolloutState {
        /// Offering the release to the current stage's kiosks.
        Active = "active",
        /// Stopped by ops or by failures; nothing offered until resumed.
        Paused = "paused",
        /// Stopped for good; kiosks that committed keep the release (never downgraded).
        Aborted = "aborted",
        /// Every stage done.
        Completed = "completed",
    }
}

db_state! {
    /// A cohort's state.
    StageState {
        /// Not reached yet.
        Pending = "pending",
        /// Its kiosks are being offered the release.
        Active = "active",
        /// Every kiosk of it committed, skipped or was acknowledged.
        Done = "done",
    }
}

db_state! {
    /// A kiosk's state in a rollout.
    MemberState {
        /// Offered the release, no result yet.
        Pending = "pending",
        /// Reported `update_result` committed.
        Committed = "committed",
        /// Reported rolled_back or refused; holds its stage until ops resume.
        Failed = "failed",
        /// A failure ops accepted by resuming.
        Acknowledged = "acknowledged",
        /// Not offered: already on the release or newer, or below its min_version.
        Skipped = "skipped",
    }
}

/// How a stage picks its kiosks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageSelector {
    /// Up to this share of the whole fleet, counting earlier stages.
    Percent(u8),
    /// Every kiosk of this hall.
    Hall(String),
}

impl StageSelector {
    fn to_db(&self) -> String {
        match self {
            StageSelector::Percent(p) => format!("percent:{p}"),
            StageSelector::Hall(h) => format!("hall:{h}"),
        }
    }

    fn from_db(text: &str) -> Result<StageSelector, StoreError> {
        match text.split_once(':') {
            Some(("percent", p)) => p
                .parse()
                .map(StageSelector::Percent)
                .map_err(|_| StoreError::Corrupt("rollout stage")),
            Some(("hall", h)) => Ok(StageSelector::Hall(h.to_owned())),
            _ => Err(StoreError::Corrupt("rollout stage")),
        }
    }
}

impl std::fmt::Display for StageSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StageSelector::Percent(p) => write!(f, "{p}% of the fleet"),
            StageSelector::Hall(h) => write!(f, "hall {h}"),
        }
    }
}

/// Why a rollout command was refused.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    /// No release of that version.
    #[error("no release {0} is published; run `central release publish` first")]
    UnknownRelease(String),
    /// No such hall.
    #[error("no hall {0} is known (halls appear with `central token create --hall`)")]
    UnknownHall(String),
    /// A rollout is active or paused.
    #[error(
        "rollout {0} is still {1}; abort it (`central rollout abort {0}`) before starting another"
    )]
    AnotherRunning(i64, RolloutState),
    /// The stages make no sense.
    #[error("{0}")]
    BadStages(String),
    /// No such rollout.
    #[error("no rollout {0}")]
    NotFound(i64),
    /// The command does not apply in the rollout's state.
    #[error("rollout {id} is {state}; {wanted}")]
    WrongState {
        /// Rollout id.
        id: i64,
        /// Its state.
        state: RolloutState,
        /// What would be needed.
        wanted: &'static str,
    },
    /// Database failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A rollout and its progress, as `central rollout status --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RolloutStatus {
    /// Rollout id.
    pub id: i64,
    /// Release version rolled out.
    pub release: String,
    /// Where it stands.
    pub state: RolloutState,
    /// Stage being rolled out (1-based).
    pub current_stage: u32,
    /// Failed kiosks (not yet acknowledged) that pause the rollout.
    pub max_failures: u32,
    /// Why it is paused.
    pub paused_reason: Option<String>,
    /// Created, RFC 3339.
    pub created_at: String,
    /// Last change, RFC 3339.
    pub updated_at: String,
    /// The cohorts in order.
    pub stages: Vec<StageStatus>,
    /// Every failed update of this rollout, newest first.
    pub failures: Vec<RolloutFailure>,
}

/// Progress of one cohort.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageStatus {
    /// 1-based stage number.
    pub stage: u32,
    /// `percent:P` or `hall:ID`.
    pub selector: String,
    /// Where the cohort stands.
    pub state: StageState,
    /// Kiosks chosen.
    pub kiosks: u64,
    /// Of those, committed.
    pub committed: u64,
    /// Offered, no result yet.
    pub pending: u64,
    /// Failed, not acknowledged.
    pub failed: u64,
    /// Failed and acknowledged by resuming.
    pub acknowledged: u64,
    /// Not offered (see the member note).
    pub skipped: u64,
}

/// One kiosk chosen by a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RolloutMember {
    /// Kiosk id.
    pub kiosk_id: String,
    /// Its hall.
    pub hall_id: String,
    /// Its host name.
    pub hostname: String,
    /// Cohort (1-based).
    pub stage: u32,
    /// Where the kiosk stands.
    pub state: MemberState,
    /// Why it was skipped, or how it failed.
    pub note: String,
}

/// One failed update of a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RolloutFailure {
    /// Kiosk id.
    pub kiosk_id: String,
    /// Its hall.
    pub hall_id: String,
    /// Its host name.
    pub hostname: String,
    /// rolled_back or refused.
    pub outcome: String,
    /// Machine reason.
    pub reason: String,
    /// What happened.
    pub detail: String,
    /// When it happened on the kiosk (RFC 3339).
    pub at: String,
}

/// The version text parsed, or None when it is not semver.
pub fn parse_version(text: &str) -> Option<semver::Version> {
    semver::Version::parse(text.trim()).ok()
}

/// Whether a kiosk running `current` may be offered `release` with `min_version`, and if not,
/// why (the `skipped` note).
pub fn offer_check(current: &str, release: &str, min_version: &str) -> Result<(), String> {
    let (Some(cur), Some(rel), Some(min)) = (
        parse_version(current),
        parse_version(release),
        parse_version(min_version),
    ) else {
        return Err(format!(
            "version {current:?} is not semver; cannot tell whether {release} is an upgrade"
        ));
    };
    if cur >= rel {
        return Err(format!("runs {cur}, not older than {rel}"));
    }
    if cur < min {
        return Err(format!(
            "runs {cur}, below min_version {min}: needs an intermediate release first"
        ));
    }
    Ok(())
}

pub(crate) fn rfc3339_millis(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn millis_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(rfc3339_millis)
        .unwrap_or_default()
}

fn count(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt("negative count"))
}

fn stage_no(v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt("rollout stage"))
}

type Tx = Transaction<'static, Any>;

impl Store {
    /// Starts rolling `release` out in `stages`; pauses once `max_failures` kiosks failed.
    pub async fn start_rollout(
        &self,
        release: &str,
        stages: &[StageSelector],
        max_failures: u32,
    ) -> Result<RolloutStatus, RolloutError> {
        if stages.is_empty() {
            return Err(RolloutError::BadStages(
                "give at least one stage: --percent P or --hall H".into(),
            ));
        }
        if max_failures == 0 {
            return Err(RolloutError::BadStages(
                "--max-failures must be at least 1".into(),
            ));
        }
        let mut last_percent = 0u8;
        for s in stages {
            if let StageSelector::Percent(p) = s {
                if *p == 0 || *p > 100 {
                    return Err(RolloutError::BadStages(format!(
                        "--percent {p}: a share must be 1 to 100"
                    )));
                }
                if *p <= last_percent {
                    return Err(RolloutError::BadStages(format!(
                        "--percent {p} after {last_percent}: percentages count the whole fleet, so each must be larger than the one before"
                    )));
                }
                last_percent = *p;
            }
        }
        let now = now_millis();
        let mut w = self.write().await?;
        // Serialises rollout starts (a row lock on PostgreSQL), so two at once cannot both
        // find no running rollout.
        sqlx::query("INSERT INTO settings (name, value) VALUES ('rollout_start', '') ON CONFLICT (name) DO UPDATE SET value = excluded.value")
            .execute(&mut *w.tx)
            .await
            .doing("serialising rollout starts")?;
        let exists =
            sqlx::query_scalar::<_, String>("SELECT version FROM releases WHERE version = $1")
                .bind(release)
                .fetch_optional(&mut *w.tx)
                .await
                .doing("looking for the release")?;
        if exists.is_none() {
            return Err(RolloutError::UnknownRelease(release.to_owned()));
        }
        let running = sqlx::query(
            "SELECT id, state FROM rollouts WHERE state = $1 OR state = $2 ORDER BY id LIMIT 1",
        )
        .bind(RolloutState::Active.as_str())
        .bind(RolloutState::Paused.as_str())
        .fetch_optional(&mut *w.tx)
        .await
        .doing("looking for running rollouts")?;
        if let Some(row) = running {
            return Err(RolloutError::AnotherRunning(
                row.try_get(0).doing("reading a rollout")?,
                RolloutState::from_db(row.try_get(1).doing("reading a rollout")?)?,
            ));
        }
        for s in stages {
            if let StageSelector::Hall(h) = s {
                let hall = sqlx::query_scalar::<_, String>("SELECT id FROM halls WHERE id = $1")
                    .bind(h)
                    .fetch_optional(&mut *w.tx)
                    .await
                    .doing("looking for the hall")?;
                if hall.is_none() {
                    return Err(RolloutError::UnknownHall(h.clone()));
                }
            }
        }
        let id: i64 = sqlx::query_scalar("INSERT INTO rollouts (release_version, state, current_stage, max_failures, created_at, updated_at) VALUES ($1, $2, 1, $3, $4, $4) RETURNING id")
            .bind(release)
            .bind(RolloutState::Active.as_str())
            .bind(i64::from(max_failures))
            .bind(now)
            .fetch_one(&mut *w.tx)
            .await
            .doing("creating the rollout")?;
        for (i, s) in stages.iter().enumerate() {
            let stage = i64::try_from(i + 1).map_err(|_| StoreError::Corrupt("rollout stage"))?;
            sqlx::query("INSERT INTO rollout_stages (rollout_id, stage, selector, state) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(stage)
                .bind(s.to_db())
                .bind(StageState::Pending.as_str())
                .execute(&mut *w.tx)
                .await
                .doing("creating the rollout's stages")?;
        }
        activate_stage(&mut w.tx, id, 1).await?;
        advance(&mut w.tx, id).await?;
        let detail = format!(
            "release {release}, {} stages, max failures {max_failures}",
            stages.len()
        );
        w.audit(
            self,
            Action::RolloutStart,
            &format!("rollout {id}"),
            &detail,
        )
        .await?;
        w.commit().await?;
        self.rollout_status(id)
            .await?
            .ok_or(RolloutError::NotFound(id))
    }

    async fn set_rollout_state(
        &self,
        id: i64,
        from: &[RolloutState],
        to: RolloutState,
        wanted: &'static str,
        action: Action,
    ) -> Result<RolloutStatus, RolloutError> {
        let mut w = self.write().await?;
        // Lock the row first so the state read is the state changed.
        lock_rollout(&mut w.tx, id, "locking the rollout").await?;
        let state = sqlx::query_scalar::<_, String>("SELECT state FROM rollouts WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *w.tx)
            .await
            .doing("reading the rollout")?
            .ok_or(RolloutError::NotFound(id))?;
        let state = RolloutState::from_db(state)?;
        if !from.contains(&state) {
            return Err(RolloutError::WrongState { id, state, wanted });
        }
        let reason = (to == RolloutState::Paused).then_some("paused by ops");
        set_state(&mut w.tx, id, to, reason, "changing the rollout's state").await?;
        if to == RolloutState::Active {
            sqlx::query("UPDATE rollout_members SET state = $2, updated_at = $3 WHERE rollout_id = $1 AND state = $4")
                .bind(id)
                .bind(MemberState::Acknowledged.as_str())
                .bind(now_millis())
                .bind(MemberState::Failed.as_str())
                .execute(&mut *w.tx)
                .await
                .doing("acknowledging failures")?;
            advance(&mut w.tx, id).await?;
        }
        w.audit(
            self,
            action,
            &format!("rollout {id}"),
            &format!("{state} -> {to}"),
        )
        .await?;
        w.commit().await?;
        self.rollout_status(id)
            .await?
            .ok_or(RolloutError::NotFound(id))
    }

    /// Pauses an active rollout: nothing more is offered until it is resumed.
    pub async fn pause_rollout(&self, id: i64) -> Result<RolloutStatus, RolloutError> {
        self.set_rollout_state(
            id,
            &[RolloutState::Active],
            RolloutState::Paused,
            "only an active rollout can be paused",
            Action::RolloutPause,
        )
        .await
    }

    /// Resumes a paused rollout, accepting its failures so far (they become acknowledged).
    pub async fn resume_rollout(&self, id: i64) -> Result<RolloutStatus, RolloutError> {
        self.set_rollout_state(
            id,
            &[RolloutState::Paused],
            RolloutState::Active,
            "only a paused rollout can be resumed",
            Action::RolloutResume,
        )
        .await
    }

    /// Aborts a rollout for good; kiosks that committed keep the release.
    pub async fn abort_rollout(&self, id: i64) -> Result<RolloutStatus, RolloutError> {
        self.set_rollout_state(
            id,
            &[RolloutState::Active, RolloutState::Paused],
            RolloutState::Aborted,
            "only an active or paused rollout can be aborted",
            Action::RolloutAbort,
        )
        .await
    }

    /// One rollout with its stages and failures.
    pub async fn rollout_status(&self, id: i64) -> Result<Option<RolloutStatus>, StoreError> {
        let doing = "reading a rollout";
        let Some(row) = sqlx::query("SELECT id, release_version, state, current_stage, max_failures, paused_reason, created_at, updated_at FROM rollouts WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .doing(doing)?
        else {
            return Ok(None);
        };
        let mut status = RolloutStatus {
            id: row.try_get(0).doing(doing)?,
            release: row.try_get(1).doing(doing)?,
            state: RolloutState::from_db(row.try_get(2).doing(doing)?)?,
            current_stage: stage_no(row.try_get(3).doing(doing)?)?,
            max_failures: stage_no(row.try_get(4).doing(doing)?)?,
            paused_reason: row.try_get(5).doing(doing)?,
            created_at: millis_text(row.try_get(6).doing(doing)?),
            updated_at: millis_text(row.try_get(7).doing(doing)?),
            stages: Vec::new(),
            failures: Vec::new(),
        };
        let stages = sqlx::query("SELECT s.stage, s.selector, s.state, \
                COUNT(m.kiosk_id), \
                COALESCE(SUM(CASE WHEN m.state = $2 THEN 1 ELSE 0 END), 0), \
                COALESCE(SUM(CASE WHEN m.state = $3 THEN 1 ELSE 0 END), 0), \
                COALESCE(SUM(CASE WHEN m.state = $4 THEN 1 ELSE 0 END), 0), \
                COALESCE(SUM(CASE WHEN m.state = $5 THEN 1 ELSE 0 END), 0), \
                COALESCE(SUM(CASE WHEN m.state = $6 THEN 1 ELSE 0 END), 0) \
            FROM rollout_stages s LEFT JOIN rollout_members m ON m.rollout_id = s.rollout_id AND m.stage = s.stage \
            WHERE s.rollout_id = $1 GROUP BY s.stage, s.selector, s.state ORDER BY s.stage")
            .bind(id)
            .bind(MemberState::Committed.as_str())
            .bind(MemberState::Pending.as_str())
            .bind(MemberState::Failed.as_str())
            .bind(MemberState::Acknowledged.as_str())
            .bind(MemberState::Skipped.as_str())
            .fetch_all(self.pool())
            .await
            .doing(doing)?;
        for r in stages {
            status.stages.push(StageStatus {
                stage: stage_no(r.try_get(0).doing(doing)?)?,
                selector: r.try_get(1).doing(doing)?,
                state: StageState::from_db(r.try_get(2).doing(doing)?)?,
                kiosks: count(r.try_get(3).doing(doing)?)?,
                committed: count(r.try_get(4).doing(doing)?)?,
                pending: count(r.try_get(5).doing(doing)?)?,
                failed: count(r.try_get(6).doing(doing)?)?,
                acknowledged: count(r.try_get(7).doing(doing)?)?,
                skipped: count(r.try_get(8).doing(doing)?)?,
            });
        }
        let failures = sqlx::query("SELECT u.kiosk_id, k.hall_id, k.hostname, u.outcome, u.reason, u.detail, u.occurred_at \
            FROM update_results u JOIN kiosks k ON k.id = u.kiosk_id \
            WHERE u.rollout_id = $1 AND u.outcome <> 'committed' ORDER BY u.occurred_at DESC, u.kiosk_id")
            .bind(id)
            .fetch_all(self.pool())
            .await
            .doing(doing)?;
        for r in failures {
            status.failures.push(RolloutFailure {
                kiosk_id: r.try_get(0).doing(doing)?,
                hall_id: r.try_get(1).doing(doing)?,
                hostname: r.try_get(2).doing(doing)?,
                outcome: r.try_get(3).doing(doing)?,
                reason: r.try_get(4).doing(doing)?,
                detail: r.try_get(5).doing(doing)?,
                at: r.try_get(6).doing(doing)?,
            });
        }
        Ok(Some(status))
    }

    /// The kiosks a rollout chose, by cohort.
    pub async fn rollout_members(&self, id: i64) -> Result<Vec<RolloutMember>, StoreError> {
        let doing = "reading a rollout's kiosks";
        let rows = sqlx::query(
            "SELECT m.kiosk_id, k.hall_id, k.hostname, m.stage, m.state, m.note \
            FROM rollout_members m JOIN kiosks k ON k.id = m.kiosk_id \
            WHERE m.rollout_id = $1 ORDER BY m.stage, k.hall_id, k.hostname, m.kiosk_id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        rows.iter()
            .map(|r| {
                Ok(RolloutMember {
                    kiosk_id: r.try_get(0).doing(doing)?,
                    hall_id: r.try_get(1).doing(doing)?,
                    hostname: r.try_get(2).doing(doing)?,
                    stage: stage_no(r.try_get(3).doing(doing)?)?,
                    state: MemberState::from_db(r.try_get(4).doing(doing)?)?,
                    note: r.try_get(5).doing(doing)?,
                })
            })
            .collect()
    }

    /// Every rollout, newest first.
    pub async fn rollouts(&self) -> Result<Vec<RolloutStatus>, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM rollouts ORDER BY id DESC")
            .fetch_all(self.pool())
            .await
            .doing("listing rollouts")?;
        let mut all = Vec::new();
        for id in ids {
            if let Some(s) = self.rollout_status(id).await? {
                all.push(s);
            }
        }
        Ok(all)
    }

    /// The release this kiosk should install now, if it is a pending member of an active
    /// rollout's started cohort and the release is an upgrade it may take.
    pub async fn desired_release(
        &self,
        kiosk_id: uuid::Uuid,
    ) -> Result<Option<ReleaseRef>, StoreError> {
        let doing = "reading the kiosk's release";
        let row = sqlx::query("SELECT rel.version, rel.sha256, rel.size, rel.min_version, COALESCE(ks.version, k.version) \
            FROM rollout_members m \
            JOIN rollouts r ON r.id = m.rollout_id \
            JOIN releases rel ON rel.version = r.release_version \
            JOIN kiosks k ON k.id = m.kiosk_id \
            LEFT JOIN kiosk_status ks ON ks.kiosk_id = m.kiosk_id \
            WHERE m.kiosk_id = $1 AND m.state = $2 AND r.state = $3 AND m.stage <= r.current_stage")
            .bind(kiosk_id.to_string())
            .bind(MemberState::Pending.as_str())
            .bind(RolloutState::Active.as_str())
            .fetch_optional(self.pool())
            .await
            .doing(doing)?;
        let Some(row) = row else { return Ok(None) };
        let version: String = row.try_get(0).doing(doing)?;
        let min_version: String = row.try_get(3).doing(doing)?;
        let current: String = row.try_get(4).doing(doing)?;
        // The kiosk may have moved since it was chosen (installed by hand): never downgrade.
        if offer_check(&current, &version, &min_version).is_err() {
            return Ok(None);
        }
        Ok(Some(ReleaseRef {
            version,
            sha256: row.try_get(1).doing(doing)?,
            size: u64::try_from(row.try_get::<i64, _>(2).doing(doing)?)
                .map_err(|_| StoreError::Corrupt("release size"))?,
        }))
    }
}

/// Picks the kiosks of `stage` and starts it.
async fn activate_stage(tx: &mut Tx, rollout_id: i64, stage: i64) -> Result<(), StoreError> {
    let doing = "starting a rollout stage";
    let row = sqlx::query("SELECT s.selector, rel.version, rel.min_version FROM rollout_stages s \
        JOIN rollouts r ON r.id = s.rollout_id JOIN releases rel ON rel.version = r.release_version \
        WHERE s.rollout_id = $1 AND s.stage = $2")
        .bind(rollout_id)
        .bind(stage)
        .fetch_one(&mut **tx)
        .await
        .doing(doing)?;
    let selector = StageSelector::from_db(&row.try_get::<String, _>(0).doing(doing)?)?;
    let release: String = row.try_get(1).doing(doing)?;
    let min_version: String = row.try_get(2).doing(doing)?;
    let members: HashSet<String> =
        sqlx::query_scalar("SELECT kiosk_id FROM rollout_members WHERE rollout_id = $1")
            .bind(rollout_id)
            .fetch_all(&mut **tx)
            .await
            .doing(doing)?
            .into_iter()
            .collect();
    let kiosks = sqlx::query("SELECT k.id, k.hall_id, COALESCE(ks.version, k.version) FROM kiosks k LEFT JOIN kiosk_status ks ON ks.kiosk_id = k.id WHERE k.retired_at IS NULL AND k.revoked_at IS NULL ORDER BY k.id")
        .fetch_all(&mut **tx)
        .await
        .doing(doing)?;
    let mut fleet = Vec::with_capacity(kiosks.len());
    for r in kiosks {
        let id: String = r.try_get(0).doing(doing)?;
        let hall: String = r.try_get(1).doing(doing)?;
        let version: String = r.try_get(2).doing(doing)?;
        fleet.push((id, hall, version));
    }
    let chosen: Vec<(String, String)> = match &selector {
        StageSelector::Hall(h) => fleet
            .into_iter()
            .filter(|(_, hall, _)| hall == h)
            .map(|(id, _, v)| (id, v))
            .collect(),
        StageSelector::Percent(p) => {
            let target = (fleet.len() * usize::from(*p)).div_ceil(100);
            let mut ordered: Vec<([u8; 32], String, String)> = fleet
                .into_iter()
                .map(|(id, _, v)| {
                    let key: [u8; 32] = Sha256::digest(format!("{rollout_id}:{id}")).into();
                    (key, id, v)
                })
                .collect();
            ordered.sort();
            ordered
                .into_iter()
                .take(target)
                .map(|(_, id, v)| (id, v))
                .collect()
        }
    };
    let now = now_millis();
    for (kiosk, current) in chosen {
        if members.contains(&kiosk) {
            continue;
        }
        let (state, note) = match offer_check(&current, &release, &min_version) {
            Ok(()) => (MemberState::Pending.as_str(), String::new()),
            Err(why) => (MemberState::Skipped.as_str(), why),
        };
        sqlx::query("INSERT INTO rollout_members (rollout_id, kiosk_id, stage, state, note, updated_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(rollout_id)
            .bind(&kiosk)
            .bind(stage)
            .bind(state)
            .bind(note)
            .bind(now)
            .execute(&mut **tx)
            .await
            .doing(doing)?;
    }
    sqlx::query("UPDATE rollout_stages SET state = $4, started_at = $3 WHERE rollout_id = $1 AND stage = $2")
        .bind(rollout_id)
        .bind(stage)
        .bind(now)
        .bind(StageState::Active.as_str())
        .execute(&mut **tx)
        .await
        .doing(doing)?;
    sqlx::query("UPDATE rollouts SET current_stage = $2, updated_at = $3 WHERE id = $1")
        .bind(rollout_id)
        .bind(stage)
        .bind(now)
        .execute(&mut **tx)
        .await
        .doing(doing)?;
    Ok(())
}

/// Pauses on too many failures, or moves an active rollout on as far as its results allow.
async fn advance(tx: &mut Tx, rollout_id: i64) -> Result<(), StoreError> {
    let doing = "advancing a rollout";
    // Lock the rollout row before counting: on PostgreSQL two kiosks committing at once would
    // otherwise each see the other still pending and neither would start the next cohort.
    // The second waits here, then (READ COMMITTED) counts with the first one's result.
    lock_rollout(tx, rollout_id, doing).await?;
    loop {
        let row =
            sqlx::query("SELECT state, current_stage, max_failures FROM rollouts WHERE id = $1")
                .bind(rollout_id)
                .fetch_one(&mut **tx)
                .await
                .doing(doing)?;
        let state = RolloutState::from_db(row.try_get(0).doing(doing)?)?;
        let stage: i64 = row.try_get(1).doing(doing)?;
        let max_failures: i64 = row.try_get(2).doing(doing)?;
        if state != RolloutState::Active {
            return Ok(());
        }
        let failed = sqlx::query("SELECT m.kiosk_id, m.note FROM rollout_members m WHERE m.rollout_id = $1 AND m.state = $2 ORDER BY m.updated_at, m.kiosk_id")
            .bind(rollout_id)
            .bind(MemberState::Failed.as_str())
            .fetch_all(&mut **tx)
            .await
            .doing(doing)?;
        if i64::try_from(failed.len()).unwrap_or(i64::MAX) >= max_failures {
            let mut reasons = BTreeSet::new();
            for r in &failed {
                reasons.insert(r.try_get::<String, _>(1).doing(doing)?);
            }
            let reason = format!(
                "paused: {} kiosk(s) failed the update (threshold {max_failures}): {}",
                failed.len(),
                reasons.into_iter().collect::<Vec<_>>().join(", ")
            );
            set_state(tx, rollout_id, RolloutState::Paused, Some(&reason), doing).await?;
            return Ok(());
        }
        let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rollout_members WHERE rollout_id = $1 AND stage = $2 AND (state = $3 OR state = $4)")
            .bind(rollout_id)
            .bind(stage)
            .bind(MemberState::Pending.as_str())
            .bind(MemberState::Failed.as_str())
            .fetch_one(&mut **tx)
            .await
            .doing(doing)?;
        if open > 0 {
            return Ok(());
        }
        let now = now_millis();
        sqlx::query("UPDATE rollout_stages SET state = $4, done_at = $3 WHERE rollout_id = $1 AND stage = $2")
            .bind(rollout_id)
            .bind(stage)
            .bind(now)
            .bind(StageState::Done.as_str())
            .execute(&mut **tx)
            .await
            .doing(doing)?;
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT stage FROM rollout_stages WHERE rollout_id = $1 AND stage = $2",
        )
        .bind(rollout_id)
        .bind(stage + 1)
        .fetch_optional(&mut **tx)
        .await
        .doing(doing)?;
        match next {
            Some(next) => activate_stage(tx, rollout_id, next).await?,
            None => {
                sqlx::query("UPDATE rollouts SET state = $2, updated_at = $3 WHERE id = $1")
                    .bind(rollout_id)
                    .bind(RolloutState::Completed.as_str())
                    .bind(now)
                    .execute(&mut **tx)
                    .await
                    .doing(doing)?;
                return Ok(());
            }
        }
    }
}

/// Locks the rollout's row for the rest of `tx` (a no-op update), so that whoever reads and
/// changes a rollout or its members does so one at a time, rollout row first.
async fn lock_rollout(
    conn: &mut AnyConnection,
    rollout_id: i64,
    doing: &'static str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE rollouts SET updated_at = updated_at WHERE id = $1")
        .bind(rollout_id)
        .execute(conn)
        .await
        .doing(doing)?;
    Ok(())
}

/// Sets the rollout's state and why it is paused (None unless paused).
async fn set_state(
    tx: &mut Tx,
    rollout_id: i64,
    state: RolloutState,
    paused_reason: Option<&str>,
    doing: &'static str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE rollouts SET state = $2, paused_reason = $3, updated_at = $4 WHERE id = $1",
    )
    .bind(rollout_id)
    .bind(state.as_str())
    .bind(paused_reason)
    .bind(now_millis())
    .execute(&mut **tx)
    .await
    .doing(doing)?;
    Ok(())
}

async fn set_version(
    conn: &mut AnyConnection,
    kiosk: &str,
    version: &str,
    at: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO kiosk_status (kiosk_id, version, version_at, received_at) VALUES ($1, $2, $3, $4) \
        ON CONFLICT (kiosk_id) DO UPDATE SET version = excluded.version, version_at = excluded.version_at, received_at = excluded.received_at \
        WHERE kiosk_status.version_at <= excluded.version_at")
        .bind(kiosk)
        .bind(version)
        .bind(at)
        .bind(now)
        .execute(conn)
        .await
        .doing("recording the kiosk's version")?;
    Ok(())
}

/// Projects one newly stored `health` event of `kiosk` in the ingest transaction: the latest
/// health report (with the kiosk's quarantine) and version, update results, and the rollouts
/// they move (added to `touched`, advanced by the caller once the batch is decided). A
/// payload that does not fit the contract is refused (`invalid_payload`): the kiosk
/// quarantines it, where ops see it, instead of central keeping a report nobody can read.
pub(crate) async fn project_health_event(
    conn: &mut AnyConnection,
    kiosk: &str,
    e: &Event,
    touched: &mut BTreeSet<i64>,
) -> Result<Verdict, StoreError> {
    let now = now_millis();
    let at = rfc3339_millis(e.occurred_at);
    match e.kind.as_str() {
        KIND_HEALTH_REPORT => {
            let report: HealthReport = match parse(e) {
                Ok(r) => r,
                Err(refused) => return Ok(refused),
            };
            let text =
                serde_json::to_string(&report).map_err(|_| StoreError::Corrupt("health report"))?;
            set_version(conn, kiosk, &report.version, &at, now).await?;
            sqlx::query(
                "UPDATE kiosk_status SET report = $2, reported_at = $3, received_at = $4 \
                WHERE kiosk_id = $1 AND (reported_at IS NULL OR reported_at <= $3)",
            )
            .bind(kiosk)
            .bind(text)
            .bind(&at)
            .bind(now)
            .execute(&mut *conn)
            .await
            .doing("recording the health report")?;
            if report.quarantined > 0 {
                tracing::warn!(%kiosk, quarantined = report.quarantined, "kiosk reports events in its quarantine; see its console page");
            }
        }
        KIND_UPDATE_RESULT => {
            let result: UpdateResult = match parse(e) {
                Ok(r) => r,
                Err(refused) => return Ok(refused),
            };
            let running = match result.outcome {
                UpdateOutcome::Committed => &result.version,
                UpdateOutcome::RolledBack | UpdateOutcome::Refused => &result.from_version,
            };
            set_version(conn, kiosk, running, &at, now).await?;
            let rollouts = sqlx::query("SELECT m.rollout_id FROM rollout_members m JOIN rollouts r ON r.id = m.rollout_id \
                WHERE m.kiosk_id = $1 AND r.release_version = $2 AND (r.state = $3 OR r.state = $4)")
                .bind(kiosk)
                .bind(&result.version)
                .bind(RolloutState::Active.as_str())
                .bind(RolloutState::Paused.as_str())
                .fetch_all(&mut *conn)
                .await
                .doing("finding the kiosk's rollout")?;
            let rollout_id: Option<i64> = match rollouts.first() {
                Some(r) => Some(r.try_get(0).doing("finding the kiosk's rollout")?),
                None => None,
            };
            // Keyed by kiosk and event id: ingest projects only events it newly stored, so a
            // conflict can only be this very result again.
            sqlx::query("INSERT INTO update_results (kiosk_id, event_id, version, from_version, outcome, reason, detail, occurred_at, received_at, rollout_id) \
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (kiosk_id, event_id) DO NOTHING")
                .bind(kiosk)
                .bind(e.event_id.to_string())
                .bind(&result.version)
                .bind(&result.from_version)
                .bind(result.outcome.as_str())
                .bind(&result.reason)
                .bind(&result.detail)
                .bind(&at)
                .bind(now)
                .bind(rollout_id)
                .execute(&mut *conn)
                .await
                .doing("recording the update result")?;
            let Some(rollout_id) = rollout_id else {
                return Ok(Verdict::Applied);
            };
            // Rollout row before member rows, the order ops commands take them in too.
            lock_rollout(conn, rollout_id, "locking the rollout").await?;
            match result.outcome {
                UpdateOutcome::Committed => {
                    sqlx::query("UPDATE rollout_members SET state = $3, note = '', updated_at = $4 WHERE rollout_id = $1 AND kiosk_id = $2 AND state <> $5")
                        .bind(rollout_id)
                        .bind(kiosk)
                        .bind(MemberState::Committed.as_str())
                        .bind(now)
                        .bind(MemberState::Skipped.as_str())
                        .execute(&mut *conn)
                        .await
                        .doing("recording a committed update")?;
                }
                UpdateOutcome::RolledBack | UpdateOutcome::Refused => {
                    let note = if result.reason.is_empty() {
                        result.outcome.as_str().to_owned()
                    } else {
                        format!("{}: {}", result.outcome.as_str(), result.reason)
                    };
                    sqlx::query("UPDATE rollout_members SET state = $3, note = $4, updated_at = $5 WHERE rollout_id = $1 AND kiosk_id = $2 AND state = $6")
                        .bind(rollout_id)
                        .bind(kiosk)
                        .bind(MemberState::Failed.as_str())
                        .bind(note)
                        .bind(now)
                        .bind(MemberState::Pending.as_str())
                        .execute(&mut *conn)
                        .await
                        .doing("recording a failed update")?;
                }
            }
            touched.insert(rollout_id);
        }
        _ => {}
    }
    Ok(Verdict::Applied)
}

/// Moves on the rollouts the batch's update results touched.
pub(crate) async fn advance_touched(tx: &mut Tx, touched: BTreeSet<i64>) -> Result<(), StoreError> {
    for rollout_id in touched {
        advance(tx, rollout_id).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_upgrades_from_at_least_min_version_are_offered() {
        assert_eq!(offer_check("0.1.0", "0.2.0", "0.1.0"), Ok(()));
        assert!(offer_check("0.2.0", "0.2.0", "0.1.0").is_err());
        assert!(offer_check("0.3.0", "0.2.0", "0.1.0").is_err());
        let old = offer_check("0.0.9", "0.2.0", "0.1.0").unwrap_err();
        assert!(old.contains("min_version"), "{old}");
        assert!(offer_check("latest", "0.2.0", "0.1.0").is_err());
        assert_eq!(offer_check("0.2.0-rc.1", "0.2.0", "0.1.0"), Ok(()));
    }

    #[test]
    fn stage_selectors_round_trip_through_the_database_text() {
        for s in [
            StageSelector::Percent(10),
            StageSelector::Hall("dongcheng-main".into()),
        ] {
            assert_eq!(StageSelector::from_db(&s.to_db()).unwrap(), s);
        }
        assert!(StageSelector::from_db("everyone").is_err());
    }
}
