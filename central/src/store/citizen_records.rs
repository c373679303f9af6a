//! Appointments, application progress, ratings (好差评) and help requests.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use kiosk_api::ApplicationNo;
use kiosk_api::citizen::{
    ApplicationProgress, ApplicationStatus, Appointment, HelpStatus, HolderKey, TimelineEntry,
    business_date_at, is_category_code, is_holder_hash, is_id_number,
};
use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::{millis, time_of};
use crate::store::Action;
use crate::store::{Doing as _, Store, StoreError, now_millis};

/// One appointment as the booking system exports it for `central appointments import`: the
/// [`Appointment`] fields and the masked name, where the holder may be given as `id_number`
/// instead of `holder_hash`. Central hashes the number at once under its current holder key
/// and never stores or prints it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppointmentImport {
    /// Id from the booking system, unique in the hall.
    pub appointment_id: String,
    /// `holder_hash` of contract D.
    #[serde(default)]
    pub holder_hash: Option<String>,
    /// The plain ID-card number, hashed on import.
    #[serde(default)]
    pub id_number: Option<String>,
    /// Masked name, e.g. `张*`.
    pub holder_name_masked: String,
    /// Matter id from the catalog.
    pub matter_code: String,
    /// Queue letter.
    pub category: String,
    /// Slot start, RFC 3339 with the hall's offset.
    pub slot_start: DateTime<FixedOffset>,
    /// Slot end.
    pub slot_end: DateTime<FixedOffset>,
}

/// Why an appointment file was refused; nothing of it was stored.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The hall is unknown.
    #[error(
        "hall {0} is unknown to central; check --hall (halls are made by `central token create`)"
    )]
    UnknownHall(String),
    /// One entry breaks the rules.
    #[error("appointment {index} ({appointment_id}): {problem}")]
    Invalid {
        /// Position in the file, from 0.
        index: usize,
        /// Its id.
        appointment_id: String,
        /// What is wrong.
        problem: String,
    },
    /// Database failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Appointments new to central.
    pub added: u64,
    /// Appointments already known, replaced by the file's version (rescheduled slots).
    pub updated: u64,
}

/// An appointment as hall staff see it: what a kiosk gets, and the masked name, which
/// stays on central.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffAppointment {
    /// What check-in needs.
    #[serde(flatten)]
    pub appointment: Appointment,
    /// Masked name, e.g. `张*`.
    pub holder_name_masked: String,
}

/// Why an application could not be advanced.
#[derive(Debug, thiserror::Error)]
pub enum AdvanceError {
    /// No such application.
    #[error(
        "no application {0}; it reaches central when the kiosk's outbox delivers it (check `central stats`)"
    )]
    Unknown(String),
    /// `submitted` is set by the kiosk only.
    #[error("status submitted is set by the kiosk's submission, not by staff")]
    Submitted,
    /// Not a 17-digit application number.
    #[error(
        "{0:?} is not an application number: 17 digits (hall, kiosk, date, sequence, check digit), spaces allowed; check for a mistyped or swapped digit"
    )]
    NotANumber(String),
    /// The move makes no sense from where the application stands (a finished one, or a
    /// step skipped).
    #[error(
        "不能从「{}」改为「{}」 · an application that is {from} cannot be moved to {to}; from {from} it may go to: {}",
        from.label_zh(),
        to.label_zh(),
        allowed_from(*from)
    )]
    NotAllowed {
        /// Where it stands.
        from: ApplicationStatus,
        /// Where it was to go.
        to: ApplicationStatus,
    },
    /// 需补正 and 不予受理 must tell the citizen why, in Chinese at least.
    #[error(
        "请填写给申请人的说明（中文） · {} needs a note for the citizen in Chinese saying {}",
        status.as_str(),
        if *status == ApplicationStatus::SupplementRequired { "what is missing" } else { "why" }
    )]
    NoteRequired {
        /// The status asked for.
        status: ApplicationStatus,
    },
    /// A note longer than [`MAX_NOTE_CHARS`](crate::store::MAX_NOTE_CHARS).
    #[error(
        "说明过长 · a note for the citizen may have at most {} characters",
        crate::store::MAX_NOTE_CHARS
    )]
    NoteTooLong,
    /// Someone else moved it in the meantime.
    #[error(
        "申请状态已被他人更改 · application {0} was moved by someone else meanwhile; reload it and look again"
    )]
    Changed(String),
    /// A clerk of another hall.
    #[error(transparent)]
    Refused(crate::store::ReadError),
    /// Database failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn allowed_from(from: ApplicationStatus) -> String {
    let next = crate::store::next_statuses(from);
    if next.is_empty() {
        return "nothing, it is final".to_owned();
    }
    next.iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<crate::store::ReadError> for AdvanceError {
    fn from(e: crate::store::ReadError) -> AdvanceError {
        match e {
            crate::store::ReadError::Store(e) => AdvanceError::Store(e),
            crate::store::ReadError::Unknown(no) => AdvanceError::Unknown(no),
            other => AdvanceError::Refused(other),
        }
    }
}

/// Ratings of a hall by level (`Store::rating_distribution`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RatingDistribution {
    /// Hall.
    pub hall_id: String,
    /// Ratings in all.
    pub total: u64,
    /// Levels 5 (非常满意) down to 1 (非常不满意), all five present.
    pub levels: Vec<LevelCount>,
}

/// Ratings of one level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LevelCount {
    /// 1..=5.
    pub level: u8,
    /// Ratings of that level.
    pub count: u64,
}

/// A rating of level 1 or 2 (`Store::bad_reviews`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadReview {
    /// Id for `Store::follow_up_review`.
    pub id: i64,
    /// Hall.
    pub hall_id: String,
    /// `ticket:A012:2026-11-26` or `application:<no>`.
    pub subject: String,
    /// 1 or 2.
    pub level: u8,
    /// Reason codes.
    pub reasons: Vec<String>,
    /// Free text of the citizen.
    pub note: Option<String>,
    /// Matter rated, when known.
    pub matter_code: Option<String>,
    /// Kiosk it came from; `None` for a window's rating tablet.
    pub kiosk_id: Option<String>,
    /// The window whose service was rated (window ratings only).
    pub window_no: Option<u32>,
    /// The clerk who served the ticket (window ratings only).
    pub clerk: Option<String>,
    /// When it was given.
    pub given_at: DateTime<Utc>,
    /// What the follow-up is (every rating of level 1 or 2 has one).
    pub follow_up_kind: Option<FollowUpKind>,
    /// When the follow-up is due.
    pub follow_up_due: Option<DateTime<Utc>>,
    /// When staff followed it up (`None` for those `bad_reviews` lists).
    pub followed_up_at: Option<DateTime<Utc>>,
    /// What staff noted when following up.
    pub follow_up_note: Option<String>,
}

/// What a bad rating's follow-up is. A bad rating opens as [`FollowUpKind::Rectification`];
/// an operator may turn it into another kind, which restarts its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpKind {
    /// 整改: put right what the citizen complained of.
    Rectification,
    /// 回访: call the citizen back.
    ReturnVisit,
    /// 申诉复核: the clerk disputes the rating and it is reviewed.
    AppealReview,
}

impl FollowUpKind {
    /// Every kind, in the order the console offers them.
    pub const ALL: [FollowUpKind; 3] = [
        FollowUpKind::Rectification,
        FollowUpKind::ReturnVisit,
        FollowUpKind::AppealReview,
    ];

    /// As stored and typed.
    pub fn as_str(self) -> &'static str {
        match self {
            FollowUpKind::Rectification => "rectification",
            FollowUpKind::ReturnVisit => "return_visit",
            FollowUpKind::AppealReview => "appeal_review",
        }
    }

    /// Chinese and English, for staff.
    pub fn label(self) -> &'static str {
        match self {
            FollowUpKind::Rectification => "整改 Rectification",
            FollowUpKind::ReturnVisit => "回访 Return visit",
            FollowUpKind::AppealReview => "申诉复核 Appeal review",
        }
    }

    /// Days to its deadline when none are set (`central ratings deadline`). Calendar days,
    /// not working days: a hall's holidays are nowhere in central, and a deadline early by
    /// a weekend errs on the citizen's side. 整改 follows the national 15 (working) days.
    pub fn default_days(self) -> u32 {
        match self {
            FollowUpKind::Rectification => 15,
            FollowUpKind::ReturnVisit => 3,
            FollowUpKind::AppealReview => 5,
        }
    }

    fn setting(self) -> String {
        format!("follow_up_days.{}", self.as_str())
    }
}

impl std::fmt::Display for FollowUpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FollowUpKind {
    type Err = String;

    fn from_str(text: &str) -> Result<FollowUpKind, String> {
        FollowUpKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text.trim())
            .ok_or_else(|| {
                format!("{text:?} is no follow-up kind; use rectification, return_visit or appeal_review")
            })
    }
}

/// Days to a `kind` follow-up's deadline, as set or by default, read in `conn`.
async fn follow_up_days_in(
    conn: &mut sqlx::AnyConnection,
    kind: FollowUpKind,
) -> Result<u32, StoreError> {
    let set: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
        .bind(kind.setting())
        .fetch_optional(&mut *conn)
        .await
        .doing("reading a follow-up deadline")?;
    match set {
        Some(v) => v
            .parse()
            .map_err(|_| StoreError::Corrupt("follow-up deadline")),
        None => Ok(kind.default_days()),
    }
}

/// The deadline (unix ms) of a `kind` follow-up opened at `from_ms`, read in `conn`.
pub(crate) async fn follow_up_due_in(
    conn: &mut sqlx::AnyConnection,
    kind: FollowUpKind,
    from_ms: i64,
) -> Result<i64, StoreError> {
    let days = follow_up_days_in(conn, kind).await?;
    Ok(from_ms.saturating_add(i64::from(days).saturating_mul(86_400_000)))
}

/// A citizen's call for help (`Store::help_requests`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HelpRequest {
    /// Id for `Store::acknowledge_help` / `central help ack ID`.
    pub id: i64,
    /// The `help_requested` event's id (`central help ack --hall H --event ID`).
    pub event_id: String,
    /// Hall.
    pub hall_id: String,
    /// Kiosk it came from.
    pub kiosk_id: String,
    /// That kiosk's number in the hall (as on its label and in its application numbers).
    pub kiosk_no: Option<u8>,
    /// Host name of that kiosk, to find it in the hall.
    pub hostname: String,
    /// Page the citizen was on.
    pub page: String,
    /// UI language.
    pub language: String,
    /// When the citizen asked.
    pub requested_at: DateTime<Utc>,
    /// When staff acknowledged it; `None` while open.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Who acknowledged it (a staff name or window).
    pub acknowledged_by: Option<String>,
}

impl AppointmentImport {
    /// Checks one appointment of an import file and gives the holder hash it is filed under
    /// and its business day, or says what is wrong with it (never echoing an ID number).
    pub fn check(&self, key: &HolderKey) -> Result<(String, NaiveDate), String> {
        check_import(self, key)
    }
}

fn check_import(a: &AppointmentImport, key: &HolderKey) -> Result<(String, NaiveDate), String> {
    if a.appointment_id.trim().is_empty() || a.appointment_id.len() > 64 {
        return Err("appointment_id must be 1 to 64 characters".into());
    }
    let hash = match (&a.holder_hash, &a.id_number) {
        (Some(h), None) if is_holder_hash(h) => h.clone(),
        (Some(_), None) => return Err("holder_hash is not 64 lower-case hex".into()),
        (None, Some(n)) => {
            let n = n.trim();
            if !is_id_number(n) {
                return Err("id_number is not 17 digits and a digit or X".into());
            }
            key.hash(n)
        }
        _ => return Err("give exactly one of holder_hash and id_number".into()),
    };
    if !is_category_code(&a.category) {
        // Echo the value only while it is too short to be personal data: a booking export
        // with shifted columns puts an ID number here, and the refusal reaches the terminal
        // and the audit trail (found by fuzzing).
        let shown = if a.category.chars().count() <= 4 {
            format!("{:?}", a.category)
        } else {
            format!("of {} characters", a.category.chars().count())
        };
        return Err(format!(
            "category {shown} is not one to four upper-case letters"
        ));
    }
    if a.slot_end <= a.slot_start {
        return Err("slot_end is not after slot_start".into());
    }
    if a.holder_name_masked.chars().count() > 32 {
        return Err("holder_name_masked is longer than 32 characters".into());
    }
    Ok((hash, business_date_at(a.slot_start.with_timezone(&Utc))))
}

fn appointment_of(r: &AnyRow) -> Result<Appointment, StoreError> {
    let doing = "reading appointments";
    let time = |col: &str| -> Result<DateTime<FixedOffset>, StoreError> {
        let text: String = r.try_get(col).doing(doing)?;
        DateTime::parse_from_rfc3339(&text).map_err(|_| StoreError::Corrupt("appointment slot"))
    };
    Ok(Appointment {
        appointment_id: r.try_get("appointment_id").doing(doing)?,
        holder_hash: r.try_get("holder_hash").doing(doing)?,
        matter_code: r.try_get("matter_code").doing(doing)?,
        category: r.try_get("category").doing(doing)?,
        slot_start: time("slot_start")?,
        slot_end: time("slot_end")?,
    })
}

fn level_of(v: i64) -> Result<u8, StoreError> {
    u8::try_from(v).map_err(|_| StoreError::Corrupt("rating level"))
}

fn review_of(r: &AnyRow) -> Result<BadReview, StoreError> {
    let doing = "reading ratings";
    let reasons: String = r.try_get("reasons").doing(doing)?;
    Ok(BadReview {
        id: r.try_get("id").doing(doing)?,
        hall_id: r.try_get("hall_id").doing(doing)?,
        subject: r.try_get("subject").doing(doing)?,
        level: level_of(r.try_get("level").doing(doing)?)?,
        reasons: serde_json::from_str(&reasons).map_err(|_| StoreError::Corrupt("reasons"))?,
        note: r.try_get("note").doing(doing)?,
        matter_code: r.try_get("matter_code").doing(doing)?,
        kiosk_id: r.try_get("kiosk_id").doing(doing)?,
        window_no: r
            .try_get::<Option<i64>, _>("window_no")
            .doing(doing)?
            .map(|w| u32::try_from(w).map_err(|_| StoreError::Corrupt("window number")))
            .transpose()?,
        clerk: r.try_get("clerk").doing(doing)?,
        given_at: time_of(r.try_get("given_at").doing(doing)?)?,
        follow_up_kind: r
            .try_get::<Option<String>, _>("follow_up_kind")
            .doing(doing)?
            .map(|k| k.parse().map_err(|_| StoreError::Corrupt("follow-up kind")))
            .transpose()?,
        follow_up_due: r
            .try_get::<Option<i64>, _>("follow_up_due")
            .doing(doing)?
            .map(time_of)
            .transpose()?,
        followed_up_at: r
            .try_get::<Option<i64>, _>("followed_up_at")
            .doing(doing)?
            .map(time_of)
            .transpose()?,
        follow_up_note: r.try_get("follow_up_note").doing(doing)?,
    })
}

const REVIEW_COLUMNS: &str = "id, hall_id, subject, level, reasons, note, matter_code, kiosk_id, window_no, clerk, given_at, follow_up_kind, follow_up_due, followed_up_at, follow_up_note";

impl Store {
    /// Stores the appointments of `hall_id` from the booking system, all or nothing, ID
    /// numbers hashed under `key` (the current holder key). An appointment already known
    /// (same hall and id) is replaced: slots get rescheduled.
    pub async fn import_appointments(
        &self,
        hall_id: &str,
        appointments: &[AppointmentImport],
        key: &HolderKey,
    ) -> Result<ImportSummary, ImportError> {
        let mut checked = Vec::with_capacity(appointments.len());
        for (index, a) in appointments.iter().enumerate() {
            let (hash, date) = check_import(a, key).map_err(|problem| ImportError::Invalid {
                index,
                appointment_id: a.appointment_id.clone(),
                problem,
            })?;
            checked.push((a, hash, date));
        }
        let mut w = self.write().await?;
        let known: Option<String> = sqlx::query_scalar("SELECT id FROM halls WHERE id = $1")
            .bind(hall_id)
            .fetch_optional(&mut *w.tx)
            .await
            .doing("finding the hall")?;
        if known.is_none() {
            return Err(ImportError::UnknownHall(hall_id.to_owned()));
        }
        let now = now_millis();
        let mut summary = ImportSummary {
            added: 0,
            updated: 0,
        };
        for (a, hash, date) in checked {
            let existed: Option<String> = sqlx::query_scalar(
                "SELECT appointment_id FROM appointments WHERE hall_id = $1 AND appointment_id = $2",
            )
            .bind(hall_id)
            .bind(&a.appointment_id)
            .fetch_optional(&mut *w.tx)
            .await
            .doing("importing appointments")?;
            sqlx::query(
                "INSERT INTO appointments (hall_id, appointment_id, business_date, holder_hash, holder_name_masked, matter_code, category, slot_start, slot_end, slot_start_ms, imported_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (hall_id, appointment_id) DO UPDATE SET business_date = excluded.business_date, \
                 holder_hash = excluded.holder_hash, holder_name_masked = excluded.holder_name_masked, \
                 matter_code = excluded.matter_code, category = excluded.category, slot_start = excluded.slot_start, \
                 slot_end = excluded.slot_end, slot_start_ms = excluded.slot_start_ms, imported_at = excluded.imported_at",
            )
            .bind(hall_id)
            .bind(&a.appointment_id)
            .bind(date.to_string())
            .bind(hash)
            .bind(&a.holder_name_masked)
            .bind(&a.matter_code)
            .bind(&a.category)
            .bind(a.slot_start.to_rfc3339())
            .bind(a.slot_end.to_rfc3339())
            .bind(a.slot_start.timestamp_millis())
            .bind(now)
            .execute(&mut *w.tx)
            .await
            .doing("importing appointments")?;
            if existed.is_some() {
                summary.updated += 1;
            } else {
                summary.added += 1;
            }
        }
        let detail = format!("{} added, {} updated", summary.added, summary.updated);
        w.audit(
            self,
            Action::AppointmentsImport,
            &format!("hall {hall_id}"),
            &detail,
        )
        .await?;
        w.commit().await?;
        Ok(summary)
    }

    /// Appointments of `hall_id` whose slot starts on `date` (hall time), by slot start: only
    /// what a check-in needs, for the hall's kiosks.
    pub async fn appointments(
        &self,
        hall_id: &str,
        date: NaiveDate,
    ) -> Result<Vec<Appointment>, StoreError> {
        sqlx::query(
            "SELECT appointment_id, holder_hash, matter_code, category, slot_start, slot_end \
             FROM appointments WHERE hall_id = $1 AND business_date = $2 ORDER BY slot_start_ms, appointment_id",
        )
        .bind(hall_id)
        .bind(date.to_string())
        .fetch_all(self.pool())
        .await
        .doing("reading appointments")?
        .iter()
        .map(appointment_of)
        .collect()
    }

    /// The same appointments with the masked names, for hall staff.
    pub async fn appointments_for_staff(
        &self,
        hall_id: &str,
        date: NaiveDate,
    ) -> Result<Vec<StaffAppointment>, StoreError> {
        sqlx::query(
            "SELECT appointment_id, holder_hash, holder_name_masked, matter_code, category, slot_start, slot_end \
             FROM appointments WHERE hall_id = $1 AND business_date = $2 ORDER BY slot_start_ms, appointment_id",
        )
        .bind(hall_id)
        .bind(date.to_string())
        .fetch_all(self.pool())
        .await
        .doing("reading appointments")?
        .iter()
        .map(|r| {
            Ok(StaffAppointment {
                appointment: appointment_of(r)?,
                holder_name_masked: r
                    .try_get("holder_name_masked")
                    .doing("reading appointments")?,
            })
        })
        .collect()
    }

    /// Progress of one application; only one of `hall_id` when given (a kiosk sees its own
    /// hall's applications only).
    pub async fn application_progress(
        &self,
        application_no: &str,
        hall_id: Option<&str>,
    ) -> Result<Option<ApplicationProgress>, StoreError> {
        let row = sqlx::query(
            "SELECT application_no, hall_id, matter_code, status FROM applications WHERE application_no = $1",
        )
        .bind(application_no)
        .fetch_optional(self.pool())
        .await
        .doing("reading an application")?;
        let Some(row) = row else { return Ok(None) };
        let hall: String = row.try_get("hall_id").doing("reading an application")?;
        if hall_id.is_some_and(|h| h != hall) {
            return Ok(None);
        }
        self.progress_of(&row).await
    }

    /// Applications of one holder made in `hall_id`, newest first.
    pub async fn applications_by_holder(
        &self,
        hall_id: &str,
        holder_hash: &str,
    ) -> Result<Vec<ApplicationProgress>, StoreError> {
        let rows = sqlx::query(
            "SELECT application_no, hall_id, matter_code, status FROM applications \
             WHERE hall_id = $1 AND holder_hash = $2 ORDER BY submitted_at DESC, application_no DESC",
        )
        .bind(hall_id)
        .bind(holder_hash)
        .fetch_all(self.pool())
        .await
        .doing("reading a holder's applications")?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.extend(self.progress_of(row).await?);
        }
        Ok(out)
    }

    /// The progress of the application in `row`; None for a number of the format before
    /// 17 digits, which no kiosk can ask for or show.
    async fn progress_of(&self, row: &AnyRow) -> Result<Option<ApplicationProgress>, StoreError> {
        let doing = "reading an application's timeline";
        let application_no: String = row.try_get("application_no").doing(doing)?;
        let Ok(number) = ApplicationNo::parse(&application_no) else {
            tracing::warn!(application = %application_no, "an application of the old number format is not shown to kiosks");
            return Ok(None);
        };
        let status = |text: String| {
            ApplicationStatus::from_name(&text).ok_or(StoreError::Corrupt("application status"))
        };
        let mut timeline = Vec::new();
        for r in sqlx::query(
            "SELECT set_at, status, note_zh, note_en FROM application_timeline WHERE application_no = $1 ORDER BY id",
        )
        .bind(&application_no)
        .fetch_all(self.pool())
        .await
        .doing(doing)?
        {
            timeline.push(TimelineEntry {
                at: time_of(r.try_get("set_at").doing(doing)?)?,
                status: status(r.try_get("status").doing(doing)?)?,
                note_zh: r.try_get("note_zh").doing(doing)?,
                note_en: r.try_get("note_en").doing(doing)?,
            });
        }
        Ok(Some(ApplicationProgress {
            application_no: number,
            matter_code: row.try_get("matter_code").doing(doing)?,
            status: status(row.try_get("status").doing(doing)?)?,
            timeline,
        }))
    }

    /// Staff move an application on: a timeline entry with notes for the citizen, who set it
    /// (this store's actor), and the new current status. Only moves of
    /// [`next_statuses`](crate::store::next_statuses) are made; 需补正 and 不予受理 need a
    /// Chinese note; a clerk moves applications of their own halls only.
    pub async fn advance_application(
        &self,
        application_no: &str,
        status: ApplicationStatus,
        note_zh: Option<&str>,
        note_en: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<ApplicationProgress, AdvanceError> {
        if status == ApplicationStatus::Submitted {
            return Err(AdvanceError::Submitted);
        }
        let application_no = &ApplicationNo::parse(application_no)
            .map_err(|_| AdvanceError::NotANumber(application_no.to_owned()))?
            .to_string();
        // A blank field of a form is no note.
        let note = |n: Option<&str>| {
            n.map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
        };
        let (note_zh, note_en) = (note(note_zh), note(note_en));
        if crate::store::needs_note(status) && note_zh.is_none() {
            return Err(AdvanceError::NoteRequired { status });
        }
        let too_long = |n: &Option<String>| {
            n.as_ref()
                .is_some_and(|n| n.chars().count() > crate::store::MAX_NOTE_CHARS)
        };
        if too_long(&note_zh) || too_long(&note_en) {
            return Err(AdvanceError::NoteTooLong);
        }
        let Some(current) = self.application_summary(application_no).await? else {
            return Err(AdvanceError::Unknown(application_no.to_owned()));
        };
        self.check_application_hall(&current.hall_id).await?;
        if !crate::store::next_statuses(current.status).contains(&status) {
            return Err(AdvanceError::NotAllowed {
                from: current.status,
                to: status,
            });
        }
        let staff = self.actor().name;
        let mut w = self.write().await?;
        // Guarded by the status the move was checked against: of two staff moving the same
        // application at once, on one node or two, the second is told, not applied on top.
        let done = sqlx::query(
            "UPDATE applications SET status = $2, updated_at = $3 WHERE application_no = $1 AND status = $4",
        )
        .bind(application_no)
        .bind(status.as_str())
        .bind(now_millis())
        .bind(current.status.as_str())
        .execute(&mut *w.tx)
        .await
        .doing("advancing an application")?;
        if done.rows_affected() == 0 {
            return Err(AdvanceError::Changed(application_no.to_owned()));
        }
        sqlx::query(
            "INSERT INTO application_timeline (application_no, set_at, status, note_zh, note_en, staff) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(application_no)
        .bind(millis(at))
        .bind(status.as_str())
        .bind(note_zh.as_deref())
        .bind(note_en.as_deref())
        .bind(&staff)
        .execute(&mut *w.tx)
        .await
        .doing("advancing an application")?;
        w.audit(
            self,
            Action::ApplicationStatus,
            application_no,
            &format!("{} -> {}", current.status.as_str(), status.as_str()),
        )
        .await?;
        w.commit().await?;
        self.application_progress(application_no, None)
            .await?
            .ok_or_else(|| AdvanceError::Unknown(application_no.to_owned()))
    }

    /// Ratings of `hall_id` by level.
    pub async fn rating_distribution(
        &self,
        hall_id: &str,
    ) -> Result<RatingDistribution, StoreError> {
        let doing = "counting ratings";
        let rows = sqlx::query(
            "SELECT level, COUNT(*) AS n FROM ratings WHERE hall_id = $1 GROUP BY level",
        )
        .bind(hall_id)
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        let mut counts = [0u64; 5];
        for r in rows {
            let level = level_of(r.try_get("level").doing(doing)?)?;
            let n: i64 = r.try_get("n").doing(doing)?;
            let slot = counts
                .get_mut(usize::from(level).wrapping_sub(1))
                .ok_or(StoreError::Corrupt("rating level"))?;
            *slot = u64::try_from(n).map_err(|_| StoreError::Corrupt("negative count"))?;
        }
        Ok(RatingDistribution {
            hall_id: hall_id.to_owned(),
            total: counts.iter().sum(),
            levels: (1..=5u8)
                .rev()
                .map(|level| LevelCount {
                    level,
                    count: counts[usize::from(level) - 1],
                })
                .collect(),
        })
    }

    /// Ratings of level 1 or 2 of `hall_id` not yet followed up, the earliest deadline (so
    /// the overdue ones) first.
    pub async fn bad_reviews(&self, hall_id: &str) -> Result<Vec<BadReview>, StoreError> {
        self.follow_ups(Some(hall_id)).await
    }

    /// Open follow-ups of bad ratings, from kiosks and window tablets alike, of `hall` or of
    /// every hall: by deadline, so the overdue ones come first, most overdue at the top.
    pub async fn follow_ups(&self, hall: Option<&str>) -> Result<Vec<BadReview>, StoreError> {
        // A rating given before its deadline was recorded sorts by when it was given.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REVIEW_COLUMNS} FROM ratings WHERE ($1 = '' OR hall_id = $1) AND level <= 2 \
             AND followed_up_at IS NULL ORDER BY COALESCE(follow_up_due, given_at), given_at, id"
        )))
        .bind(hall.unwrap_or(""))
        .fetch_all(self.pool())
        .await
        .doing("reading open follow-ups")?
        .iter()
        .map(review_of)
        .collect()
    }

    /// Days to the deadline of a `kind` follow-up opened now.
    pub async fn follow_up_days(&self, kind: FollowUpKind) -> Result<u32, StoreError> {
        let mut conn = self
            .pool()
            .acquire()
            .await
            .doing("reading a follow-up deadline")?;
        follow_up_days_in(&mut conn, kind).await
    }

    /// Sets the days to the deadline of `kind` follow-ups opened from now on.
    pub async fn set_follow_up_days(
        &self,
        kind: FollowUpKind,
        days: u32,
    ) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(kind.setting())
        .bind(days.to_string())
        .execute(&mut *w.tx)
        .await
        .doing("setting a follow-up deadline")?;
        w.audit(
            self,
            Action::RatingFollowUp,
            &format!("deadline {kind}"),
            &format!("{days} days"),
        )
        .await?;
        w.commit().await
    }

    /// Turns the open follow-up of bad rating `id` into a `kind` one, due `kind`'s days from
    /// `now`. `None` when there is no such open follow-up.
    pub async fn set_follow_up_kind(
        &self,
        id: i64,
        kind: FollowUpKind,
        now: DateTime<Utc>,
    ) -> Result<Option<BadReview>, StoreError> {
        let mut w = self.write().await?;
        let due = follow_up_due_in(&mut w.tx, kind, millis(now)).await?;
        let changed = sqlx::query(
            "UPDATE ratings SET follow_up_kind = $2, follow_up_due = $3 \
             WHERE id = $1 AND level <= 2 AND followed_up_at IS NULL",
        )
        .bind(id)
        .bind(kind.as_str())
        .bind(due)
        .execute(&mut *w.tx)
        .await
        .doing("changing a follow-up")?;
        if changed.rows_affected() == 0 {
            return Ok(None);
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REVIEW_COLUMNS} FROM ratings WHERE id = $1"
        )))
        .bind(id)
        .fetch_one(&mut *w.tx)
        .await
        .doing("changing a follow-up")?;
        let review = review_of(&row)?;
        w.audit(
            self,
            Action::RatingFollowUp,
            &format!("rating {id}"),
            &format!(
                "now {kind}, due {}",
                review
                    .follow_up_due
                    .map_or_else(String::new, |d| d.to_rfc3339())
            ),
        )
        .await?;
        w.commit().await?;
        Ok(Some(review))
    }

    /// Marks bad review `id` followed up with staff's `note`. `None` when there is no such
    /// rating; a review already followed up keeps its first follow-up.
    pub async fn follow_up_review(
        &self,
        id: i64,
        note: &str,
    ) -> Result<Option<BadReview>, StoreError> {
        let mut w = self.write().await?;
        sqlx::query(
            "UPDATE ratings SET followed_up_at = $2, follow_up_note = $3 WHERE id = $1 AND followed_up_at IS NULL",
        )
        .bind(id)
        .bind(now_millis())
        .bind(note)
        .execute(&mut *w.tx)
        .await
        .doing("following up a review")?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REVIEW_COLUMNS} FROM ratings WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *w.tx)
        .await
        .doing("following up a review")?;
        if row.is_some() {
            w.audit(self, Action::RatingFollowUp, &format!("rating {id}"), note)
                .await?;
        }
        w.commit().await?;
        row.as_ref().map(review_of).transpose()
    }

    /// Help requests of every hall, newest first; only those not yet acknowledged when
    /// `open_only`.
    pub async fn help_requests(&self, open_only: bool) -> Result<Vec<HelpRequest>, StoreError> {
        let filter = if open_only {
            "WHERE h.acknowledged_at IS NULL"
        } else {
            ""
        };
        self.help_where(filter, None).await
    }

    async fn help_where(
        &self,
        filter: &str,
        id: Option<i64>,
    ) -> Result<Vec<HelpRequest>, StoreError> {
        let doing = "reading help requests";
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT h.id, h.event_id, h.hall_id, h.kiosk_id, k.kiosk_no, k.hostname, h.page, h.language, h.requested_at, h.acknowledged_at, h.acknowledged_by \
             FROM help_requests h JOIN kiosks k ON k.id = h.kiosk_id {filter} ORDER BY h.requested_at DESC, h.id DESC"
        )));
        if let Some(id) = id {
            query = query.bind(id);
        }
        let rows = query.fetch_all(self.pool()).await.doing(doing)?;
        rows.iter()
            .map(|r| {
                Ok(HelpRequest {
                    id: r.try_get("id").doing(doing)?,
                    event_id: r.try_get("event_id").doing(doing)?,
                    hall_id: r.try_get("hall_id").doing(doing)?,
                    kiosk_id: r.try_get("kiosk_id").doing(doing)?,
                    kiosk_no: r
                        .try_get::<Option<i64>, _>("kiosk_no")
                        .doing(doing)?
                        .and_then(|n| u8::try_from(n).ok()),
                    hostname: r.try_get("hostname").doing(doing)?,
                    page: r.try_get("page").doing(doing)?,
                    language: r.try_get("language").doing(doing)?,
                    requested_at: time_of(r.try_get("requested_at").doing(doing)?)?,
                    acknowledged_at: r
                        .try_get::<Option<i64>, _>("acknowledged_at")
                        .doing(doing)?
                        .map(time_of)
                        .transpose()?,
                    acknowledged_by: r.try_get("acknowledged_by").doing(doing)?,
                })
            })
            .collect()
    }

    /// Staff (`by`: a name or window) acknowledge help request `id`. None when there is no
    /// such request; one already acknowledged keeps its first acknowledgement.
    pub async fn acknowledge_help(
        &self,
        id: i64,
        by: &str,
    ) -> Result<Option<HelpRequest>, StoreError> {
        let mut w = self.write().await?;
        let done = sqlx::query(
            "UPDATE help_requests SET acknowledged_at = $2, acknowledged_by = $3 WHERE id = $1 AND acknowledged_at IS NULL",
        )
        .bind(id)
        .bind(now_millis())
        .bind(by)
        .execute(&mut *w.tx)
        .await
        .doing("acknowledging a help request")?;
        if done.rows_affected() == 1 {
            w.audit(
                self,
                Action::HelpAck,
                &format!("help request {id}"),
                &format!("by {by}"),
            )
            .await?;
        }
        w.commit().await?;
        Ok(self
            .help_where("WHERE h.id = $1", Some(id))
            .await?
            .into_iter()
            .next())
    }

    /// Staff acknowledge the help request of hall `hall_id` made by event `event_id`.
    pub async fn acknowledge_help_event(
        &self,
        hall_id: &str,
        event_id: &str,
        by: &str,
    ) -> Result<Option<HelpRequest>, StoreError> {
        let id: Option<i64> =
            sqlx::query_scalar("SELECT id FROM help_requests WHERE hall_id = $1 AND event_id = $2")
                .bind(hall_id)
                .bind(event_id)
                .fetch_optional(self.pool())
                .await
                .doing("finding a help request")?;
        match id {
            Some(id) => self.acknowledge_help(id, by).await,
            None => Ok(None),
        }
    }

    /// Where help request `event_id` of `kiosk_id` stands; None until central has it (or
    /// when another kiosk asked: a kiosk sees its own requests only).
    pub async fn help_status(
        &self,
        kiosk_id: &str,
        event_id: uuid::Uuid,
    ) -> Result<Option<HelpStatus>, StoreError> {
        let doing = "reading a help request";
        let row = sqlx::query(
            "SELECT COALESCE(received_at, requested_at) AS received_at, acknowledged_at, acknowledged_by \
             FROM help_requests WHERE kiosk_id = $1 AND event_id = $2",
        )
        .bind(kiosk_id)
        .bind(event_id.to_string())
        .fetch_optional(self.pool())
        .await
        .doing(doing)?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(HelpStatus {
            event_id,
            received_at: time_of(r.try_get("received_at").doing(doing)?)?,
            acknowledged_at: r
                .try_get::<Option<i64>, _>("acknowledged_at")
                .doing(doing)?
                .map(time_of)
                .transpose()?,
            acknowledged_by: r.try_get("acknowledged_by").doing(doing)?,
        }))
    }
}
