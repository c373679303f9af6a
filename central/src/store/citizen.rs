//! Citizen journeys on central (CONTRACTS A, B): the projection of ticket, application,
//! rating and help events into tables of their own, queue-number leases and queue state,
//! appointments and application progress, and the figures the ops console shows.
//!
//! The projection runs inside the ingest transaction and only for events newly stored in it,
//! so a re-sent event (same kiosk id and event id) changes nothing. A payload that does not fit
//! its contract type is kept as stored (the kiosk must not retry it forever) and not projected.

#[path = "citizen_queue.rs"]
mod queue;
#[path = "citizen_records.rs"]
mod records;

pub use queue::{CalledTicket, CategoryStats, LeaseError, MisnumberedTicket, QueueStats};
pub use records::{
    AdvanceError, AppointmentImport, BadReview, HelpRequest, ImportError, ImportSummary,
    LevelCount, RatingDistribution,
};

use chrono::{DateTime, Utc};
use kiosk_api::Event;
use kiosk_api::citizen::{
    ApplicationSubmitted, CitizenEvent, HelpRequested, RatingGiven, TicketIssued, TicketVoided,
    is_application_no, is_category_code, is_holder_hash,
};
use sqlx::{Any, Transaction};

use super::{Doing as _, StoreError, now_millis};

type Tx = Transaction<'static, Any>;

/// Unix milliseconds of `at`.
fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// The time of `ms` unix milliseconds, as stored by central.
fn time_of(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or(StoreError::Corrupt("timestamp"))
}

/// Reads a typed payload, or says (at debug level) why it is not projected.
fn payload<T: CitizenEvent>(kiosk: &str, e: &Event) -> Option<T> {
    if e.stream != T::STREAM {
        tracing::debug!(%kiosk, event = %e.event_id, kind = %e.kind, stream = %e.stream, expected = %T::STREAM, "citizen event on the wrong stream; stored, not projected");
        return None;
    }
    match T::from_payload(&e.payload) {
        Ok(p) => Some(p),
        Err(error) => {
            // The error names a field, never its value: payloads hold personal data.
            tracing::debug!(%kiosk, event = %e.event_id, kind = %e.kind, problem = error.classify_name(), column = error.column(), "citizen payload does not fit the contract; stored, not projected");
            None
        }
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Data => "wrong shape or missing field",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Eof => "truncated",
            serde_json::error::Category::Io => "io",
        }
    }
}

fn skip(kiosk: &str, e: &Event, why: &str) {
    tracing::debug!(%kiosk, event = %e.event_id, kind = %e.kind, why, "citizen event not projected");
}

/// Projects the citizen events among `events` (all newly stored by `kiosk` in this
/// transaction) into tickets, applications, ratings and help requests.
pub(crate) async fn project_citizen_events(
    tx: &mut Tx,
    kiosk: &str,
    events: &[&Event],
) -> Result<(), StoreError> {
    use kiosk_api::citizen::event_kind as k;
    let citizen = |e: &&&Event| {
        matches!(
            e.kind.as_str(),
            k::TICKET_ISSUED
                | k::TICKET_VOIDED
                | k::APPLICATION_SUBMITTED
                | k::RATING_GIVEN
                | k::HELP_REQUESTED
        )
    };
    if !events.iter().any(|e| citizen(&e)) {
        return Ok(());
    }
    let hall: String = sqlx::query_scalar("SELECT hall_id FROM kiosks WHERE id = $1")
        .bind(kiosk)
        .fetch_one(&mut **tx)
        .await
        .doing("finding the kiosk's hall")?;
    let now = now_millis();
    // One line per batch, not per event: a kiosk of an older build may send thousands.
    let mut not_projected = 0u64;
    let mut first_not_projected = None;
    for e in events.iter().filter(|e| citizen(e)) {
        let projected = match e.kind.as_str() {
            k::TICKET_ISSUED => match payload::<TicketIssued>(kiosk, e) {
                Some(t) => ticket_issued(tx, &hall, kiosk, e, &t).await?,
                None => false,
            },
            k::TICKET_VOIDED => match payload::<TicketVoided>(kiosk, e) {
                Some(t) => ticket_voided(tx, &hall, kiosk, e, &t).await?,
                None => false,
            },
            k::APPLICATION_SUBMITTED => match payload::<ApplicationSubmitted>(kiosk, e) {
                Some(a) => application_submitted(tx, &hall, kiosk, e, &a, now).await?,
                None => false,
            },
            k::RATING_GIVEN => match payload::<RatingGiven>(kiosk, e) {
                Some(r) => rating_given(tx, &hall, kiosk, e, &r).await?,
                None => false,
            },
            k::HELP_REQUESTED => {
                if let Some(h) = payload::<HelpRequested>(kiosk, e) {
                    sqlx::query(
                        "INSERT INTO help_requests (hall_id, kiosk_id, event_id, page, language, requested_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                    )
                    .bind(&hall)
                    .bind(kiosk)
                    .bind(e.event_id.to_string())
                    .bind(&h.page)
                    .bind(&h.language)
                    .bind(millis(h.at))
                    .execute(&mut **tx)
                    .await
                    .doing("recording a help request")?;
                    tracing::info!(%kiosk, %hall, page = %h.page, "citizen asked for help");
                    true
                } else {
                    false
                }
            }
            _ => true,
        };
        if !projected {
            not_projected += 1;
            first_not_projected.get_or_insert((e.event_id, e.kind.clone()));
        }
    }
    if let Some((event, kind)) = first_not_projected {
        tracing::warn!(%kiosk, count = not_projected, first_event = %event, first_kind = %kind, "citizen events stored but not projected (payload outside the contract); RUST_LOG=central=debug says why for each");
    }
    Ok(())
}

fn ticket_fits(kiosk: &str, e: &Event, category: &str, number: u32) -> bool {
    if !is_category_code(category) {
        skip(kiosk, e, "category is not one to four upper-case letters");
        false
    } else if !(1..=999).contains(&number) {
        skip(kiosk, e, "ticket number is not in 1..=999");
        false
    } else {
        true
    }
}

async fn ticket_issued(
    tx: &mut Tx,
    hall: &str,
    kiosk: &str,
    e: &Event,
    t: &TicketIssued,
) -> Result<bool, StoreError> {
    if !ticket_fits(kiosk, e, &t.category, t.number) {
        return Ok(false);
    }
    // Only a hash may be kept: anything else could be a plain ID number from a faulty kiosk.
    let holder = t.holder_hash.as_deref().filter(|h| is_holder_hash(h));
    if t.holder_hash.is_some() && holder.is_none() {
        skip(
            kiosk,
            e,
            "holder_hash is not a hash; the ticket is kept without it",
        );
    }
    // A row with an empty source was made by a void that arrived first: fill it in.
    let done = sqlx::query(
        "INSERT INTO tickets (hall_id, business_date, category, number, ticket_no, kiosk_id, priority, source, holder_hash, appointment_id, issued_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (hall_id, business_date, category, number) DO UPDATE SET \
         ticket_no = excluded.ticket_no, kiosk_id = excluded.kiosk_id, priority = excluded.priority, \
         source = excluded.source, holder_hash = excluded.holder_hash, \
         appointment_id = excluded.appointment_id, issued_at = excluded.issued_at \
         WHERE tickets.source = ''",
    )
    .bind(hall)
    .bind(t.business_date.to_string())
    .bind(&t.category)
    .bind(i64::from(t.number))
    .bind(&t.ticket_no)
    .bind(kiosk)
    .bind(t.priority.as_str())
    .bind(&t.source)
    .bind(holder)
    .bind(t.appointment_id.as_deref())
    .bind(millis(t.issued_at))
    .execute(&mut **tx)
    .await
    .doing("recording an issued ticket")?;
    if done.rows_affected() == 0 {
        // Two kiosks issued the same number: a lease bug. The first ticket stands.
        tracing::error!(%kiosk, %hall, ticket = %t.ticket_no, date = %t.business_date, "ticket number issued twice; the first one is kept");
    }
    Ok(true)
}

async fn ticket_voided(
    tx: &mut Tx,
    hall: &str,
    kiosk: &str,
    e: &Event,
    t: &TicketVoided,
) -> Result<bool, StoreError> {
    if !ticket_fits(kiosk, e, &t.category, t.number) {
        return Ok(false);
    }
    let at = millis(e.occurred_at);
    sqlx::query(
        "INSERT INTO tickets (hall_id, business_date, category, number, ticket_no, kiosk_id, priority, source, issued_at, voided_at, void_reason) \
         VALUES ($1, $2, $3, $4, $5, $6, 'normal', '', $7, $7, $8) \
         ON CONFLICT (hall_id, business_date, category, number) DO UPDATE SET \
         voided_at = COALESCE(tickets.voided_at, excluded.voided_at), \
         void_reason = COALESCE(tickets.void_reason, excluded.void_reason)",
    )
    .bind(hall)
    .bind(t.business_date.to_string())
    .bind(&t.category)
    .bind(i64::from(t.number))
    .bind(&t.ticket_no)
    .bind(kiosk)
    .bind(at)
    .bind(&t.reason)
    .execute(&mut **tx)
    .await
    .doing("recording a voided ticket")?;
    Ok(true)
}

/// Timeline note of the submission, for the citizen.
const SUBMITTED_NOTE_ZH: &str = "已在自助终端提交，等待窗口受理";
const SUBMITTED_NOTE_EN: &str = "Submitted at a self-service kiosk; waiting to be accepted";

async fn application_submitted(
    tx: &mut Tx,
    hall: &str,
    kiosk: &str,
    e: &Event,
    a: &ApplicationSubmitted,
    now: i64,
) -> Result<bool, StoreError> {
    if !is_application_no(&a.application_no) {
        skip(
            kiosk,
            e,
            "application_no is not <8 hex>-<YYYYMMDD>-<4 digits>",
        );
        return Ok(false);
    }
    if !is_holder_hash(&a.holder_hash) {
        skip(kiosk, e, "holder_hash is not 64 lower-case hex");
        return Ok(false);
    }
    let form = serde_json::to_string(&a.form).map_err(|_| StoreError::Corrupt("form"))?;
    let materials =
        serde_json::to_string(&a.materials).map_err(|_| StoreError::Corrupt("materials"))?;
    let at = millis(a.submitted_at);
    let done = sqlx::query(
        "INSERT INTO applications (application_no, hall_id, kiosk_id, matter_code, holder_hash, holder_name_masked, form, materials, status, submitted_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'submitted', $9, $10) ON CONFLICT DO NOTHING",
    )
    .bind(&a.application_no)
    .bind(hall)
    .bind(kiosk)
    .bind(&a.matter_code)
    .bind(&a.holder_hash)
    .bind(&a.holder_name_masked)
    .bind(form)
    .bind(materials)
    .bind(at)
    .bind(now)
    .execute(&mut **tx)
    .await
    .doing("recording an application")?;
    if done.rows_affected() == 0 {
        tracing::error!(%kiosk, application = %a.application_no, "application number submitted twice; the first one is kept");
        return Ok(true);
    }
    sqlx::query(
        "INSERT INTO application_timeline (application_no, set_at, status, note_zh, note_en) VALUES ($1, $2, 'submitted', $3, $4)",
    )
    .bind(&a.application_no)
    .bind(at)
    .bind(SUBMITTED_NOTE_ZH)
    .bind(SUBMITTED_NOTE_EN)
    .execute(&mut **tx)
    .await
    .doing("starting an application's timeline")?;
    Ok(true)
}

async fn rating_given(
    tx: &mut Tx,
    hall: &str,
    kiosk: &str,
    e: &Event,
    r: &RatingGiven,
) -> Result<bool, StoreError> {
    if !(1..=5).contains(&r.level) {
        skip(kiosk, e, "rating level is not in 1..=5");
        return Ok(false);
    }
    let reasons = serde_json::to_string(&r.reasons).map_err(|_| StoreError::Corrupt("reasons"))?;
    let done = sqlx::query(
        "INSERT INTO ratings (hall_id, subject, kiosk_id, level, reasons, note, matter_code, given_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (hall_id, subject) DO NOTHING",
    )
    .bind(hall)
    .bind(&r.subject)
    .bind(kiosk)
    .bind(i64::from(r.level))
    .bind(reasons)
    .bind(r.note.as_deref())
    .bind(r.matter_code.as_deref())
    .bind(millis(e.occurred_at))
    .execute(&mut **tx)
    .await
    .doing("recording a rating")?;
    if done.rows_affected() == 0 {
        // Acknowledged but not counted: refusing it would leave it in the kiosk's outbox,
        // retried for ever, and one rating per subject is the rule (the first one stands).
        tracing::info!(%kiosk, %hall, subject = %r.subject, "a second rating of the same subject was ignored");
    }
    Ok(true)
}
