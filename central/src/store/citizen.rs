//! Citizen journeys on central (contracts A, B): the projection of ticket, application,
//! rating and help events into tables of their own, queue-number leases and queue state,
//! appointments and application progress, and the figures the ops console shows.
//!
//! The projection runs inside the ingest transaction, once per event newly stored in it, and
//! decides for each event: it applies, or it is refused with a reason and a detail
//! ([`super::project::Verdict`]), in which case ingest rolls back what it wrote and does not
//! keep the event, so the kiosk quarantines it and a corrected resend can still apply. No
//! event is acknowledged whose record is not where staff and citizens look for it.

#[path = "citizen_queue.rs"]
mod queue;
#[path = "citizen_records.rs"]
mod records;

pub use queue::{
    CalledTicket, CategoryStats, LeaseAsk, LeaseError, MisnumberedTicket, QueueStats, TicketRow,
};
pub(crate) use records::follow_up_due_in;
pub use records::{
    AdvanceError, AppointmentImport, BadReview, FollowUpKind, HelpRequest, ImportError,
    ImportSummary, LevelCount, RatingDistribution, StaffAppointment,
};

use chrono::{DateTime, Utc};
use kiosk_api::citizen::{
    ApplicationSubmitted, HelpRequested, RatingGiven, TicketIssued, TicketVoided, is_category_code,
    is_holder_hash, is_live_token, ticket_no,
};
use kiosk_api::reject_reason as why;
use kiosk_api::{Event, Stream};
use sqlx::AnyConnection;

use super::project::{Sender, Verdict, parse};
use super::{Doing as _, StoreError, now_millis};

/// Unix milliseconds of `at`.
fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// Why a ticket's or application's `live_token` is refused, if it is: not 32 lower-case hex,
/// or already another record's (`taken`, run with the token as `$1`, then `more` and `number`
/// as further parameters, finds that record). 128 random bits never repeat, so a token that
/// does is a kiosk bug, and two records must never share a public page.
async fn live_token_refused(
    conn: &mut AnyConnection,
    token: Option<&str>,
    taken: &'static str,
    more: &[String],
    number: Option<i64>,
) -> Result<Option<Verdict>, StoreError> {
    let Some(token) = token else {
        return Ok(None);
    };
    if !is_live_token(token) {
        return Ok(Some(Verdict::invalid(
            "field `live_token` is not 32 lower-case hex",
        )));
    }
    let mut query = sqlx::query_scalar::<_, i64>(taken).bind(token);
    for m in more {
        query = query.bind(m);
    }
    if let Some(n) = number {
        query = query.bind(n);
    }
    let found = query
        .fetch_optional(&mut *conn)
        .await
        .doing("checking a live token")?;
    Ok(found.map(|_| Verdict::invalid("field `live_token` is already another record's")))
}

/// A fresh token of a ticket's public live page, for a ticket from a kiosk that sent none:
/// 128 random bits, unguessable, and nothing of the citizen in it.
fn live_token() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The time of `ms` unix milliseconds, as stored by central.
pub(crate) fn time_of(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or(StoreError::Corrupt("timestamp"))
}

/// The stream each citizen kind travels on, or None for a kind that is not a citizen record.
pub(crate) fn citizen_stream(kind: &str) -> Option<Stream> {
    use kiosk_api::citizen::event_kind as k;
    match kind {
        k::TICKET_ISSUED | k::TICKET_VOIDED => Some(Stream::Tickets),
        k::APPLICATION_SUBMITTED => Some(Stream::Records),
        k::RATING_GIVEN => Some(Stream::Ratings),
        k::HELP_REQUESTED => Some(Stream::Help),
        _ => None,
    }
}

/// Projects one citizen event (its kind checked by [`citizen_stream`] and its stream by the
/// caller), newly stored by `sender` in this transaction.
pub(crate) async fn project_citizen_event(
    conn: &mut AnyConnection,
    sender: &Sender,
    e: &Event,
) -> Result<Verdict, StoreError> {
    use kiosk_api::citizen::event_kind as k;
    let verdict = match e.kind.as_str() {
        k::TICKET_ISSUED => match parse::<TicketIssued>(e) {
            Ok(t) => ticket_issued(conn, sender, e, &t).await?,
            Err(v) => v,
        },
        k::TICKET_VOIDED => match parse::<TicketVoided>(e) {
            Ok(t) => ticket_voided(conn, sender, e, &t).await?,
            Err(v) => v,
        },
        k::APPLICATION_SUBMITTED => match parse::<ApplicationSubmitted>(e) {
            Ok(a) => application_submitted(conn, sender, e, &a).await?,
            Err(v) => v,
        },
        k::RATING_GIVEN => match parse::<RatingGiven>(e) {
            Ok(r) => rating_given(conn, sender, e, &r).await?,
            Err(v) => v,
        },
        k::HELP_REQUESTED => match parse::<HelpRequested>(e) {
            Ok(h) => help_requested(conn, sender, e, &h).await?,
            Err(v) => v,
        },
        _ => Verdict::Applied,
    };
    Ok(verdict)
}

/// Category and number of a ticket event as the contract has them.
fn ticket_fits(category: &str, number: u32, given_no: &str) -> Result<(), Verdict> {
    if !is_category_code(category) {
        return Err(Verdict::invalid(
            "field `category` is not one to four upper-case letters",
        ));
    }
    if !(1..=999).contains(&number) {
        return Err(Verdict::invalid("field `number` is not in 1..=999"));
    }
    if given_no != ticket_no(category, number) {
        return Err(Verdict::invalid(
            "field `ticket_no` is not the category and the three-digit number",
        ));
    }
    Ok(())
}

/// Whether `number` of `category` on `date` is one the sender may print: in a block leased
/// to it for that day and category, or in its own offline band.
async fn owns_number(
    conn: &mut AnyConnection,
    sender: &Sender,
    category: &str,
    date: chrono::NaiveDate,
    number: u32,
) -> Result<Option<Verdict>, StoreError> {
    if (sender.band.first..=sender.band.last).contains(&number) {
        return Ok(None);
    }
    let leased: Option<i64> = sqlx::query_scalar(
        "SELECT first_number FROM number_leases WHERE kiosk_id = $1 AND hall_id = $2 AND category = $3 \
         AND business_date = $4 AND first_number <= $5 AND last_number >= $5",
    )
    .bind(&sender.kiosk)
    .bind(&sender.hall)
    .bind(category)
    .bind(date.to_string())
    .bind(i64::from(number))
    .fetch_optional(&mut *conn)
    .await
    .doing("checking the ticket number against the kiosk's leases")?;
    Ok(leased.is_none().then(|| {
        Verdict::refuse(
            why::NUMBER_NOT_YOURS,
            format!(
                "{} on {date} lies in no block leased to this kiosk for that day and category, nor in its offline band {}..={}",
                ticket_no(category, number),
                sender.band.first,
                sender.band.last
            ),
        )
    }))
}

async fn ticket_issued(
    conn: &mut AnyConnection,
    sender: &Sender,
    e: &Event,
    t: &TicketIssued,
) -> Result<Verdict, StoreError> {
    if let Err(v) = ticket_fits(&t.category, t.number, &t.ticket_no) {
        return Ok(v);
    }
    // Only a hash may be kept: anything else could be a plain ID number from a faulty kiosk.
    if t.holder_hash.as_deref().is_some_and(|h| !is_holder_hash(h)) {
        return Ok(Verdict::invalid(
            "field `holder_hash` is not 64 lower-case hex",
        ));
    }
    if let Some(refused) = owns_number(conn, sender, &t.category, t.business_date, t.number).await?
    {
        return Ok(refused);
    }
    if let Some(refused) = live_token_refused(
        conn,
        t.live_token.as_deref(),
        "SELECT CAST(1 AS BIGINT) FROM tickets WHERE public_token = $1 AND NOT (hall_id = $2 \
         AND business_date = $3 AND category = $4 AND number = $5) \
         UNION ALL SELECT CAST(1 AS BIGINT) FROM applications WHERE public_token = $1",
        &[
            sender.hall.clone(),
            t.business_date.to_string(),
            t.category.clone(),
        ],
        Some(i64::from(t.number)),
    )
    .await?
    {
        return Ok(refused);
    }
    // A row with an empty source was made by this kiosk's void that arrived first: fill it
    // in. Any other row is another ticket under this number, which must never be replaced.
    let done: Option<i64> = sqlx::query_scalar(
        "INSERT INTO tickets (hall_id, business_date, category, number, ticket_no, kiosk_id, priority, source, holder_hash, appointment_id, issued_at, event_id, unconfirmed, public_token) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (hall_id, business_date, category, number) DO UPDATE SET \
         ticket_no = excluded.ticket_no, priority = excluded.priority, \
         source = excluded.source, holder_hash = excluded.holder_hash, \
         appointment_id = excluded.appointment_id, issued_at = excluded.issued_at, \
         event_id = excluded.event_id, unconfirmed = excluded.unconfirmed, \
         public_token = COALESCE(tickets.public_token, excluded.public_token) \
         WHERE tickets.source = '' AND tickets.kiosk_id = excluded.kiosk_id \
         RETURNING number",
    )
    .bind(&sender.hall)
    .bind(t.business_date.to_string())
    .bind(&t.category)
    .bind(i64::from(t.number))
    .bind(&t.ticket_no)
    .bind(&sender.kiosk)
    .bind(t.priority.as_str())
    .bind(&t.source)
    .bind(t.holder_hash.as_deref())
    .bind(t.appointment_id.as_deref())
    .bind(millis(t.issued_at))
    .bind(e.event_id.to_string())
    .bind(i64::from(t.unconfirmed))
    .bind(t.live_token.clone().unwrap_or_else(live_token))
    .fetch_optional(&mut *conn)
    .await
    .doing("recording an issued ticket")?;
    if done.is_some() {
        if t.unconfirmed {
            tracing::warn!(kiosk = %sender.kiosk, hall = %sender.hall, ticket = %t.ticket_no, date = %t.business_date, "unconfirmed ticket recorded: the kiosk restarted between printing and recording it; staff should check the citizen's slip");
        }
        return Ok(Verdict::Applied);
    }
    let holder: Option<String> = sqlx::query_scalar(
        "SELECT COALESCE(event_id, '') FROM tickets WHERE hall_id = $1 AND business_date = $2 AND category = $3 AND number = $4",
    )
    .bind(&sender.hall)
    .bind(t.business_date.to_string())
    .bind(&t.category)
    .bind(i64::from(t.number))
    .fetch_optional(&mut *conn)
    .await
    .doing("finding the ticket that holds a number")?;
    Ok(Verdict::refuse(
        why::NUMBER_TAKEN,
        format!(
            "{} on {} is already held by another ticket{}",
            t.ticket_no,
            t.business_date,
            match holder.as_deref() {
                Some(id) if !id.is_empty() => format!(" (event {id})"),
                _ => String::new(),
            }
        ),
    ))
}

async fn ticket_voided(
    conn: &mut AnyConnection,
    sender: &Sender,
    e: &Event,
    t: &TicketVoided,
) -> Result<Verdict, StoreError> {
    if let Err(v) = ticket_fits(&t.category, t.number, &t.ticket_no) {
        return Ok(v);
    }
    if let Some(refused) = owns_number(conn, sender, &t.category, t.business_date, t.number).await?
    {
        return Ok(refused);
    }
    // A second void of one ticket keeps the first one's time and reason: the ticket is void
    // either way, so nothing the kiosk recorded is lost.
    let at = millis(e.occurred_at);
    let done: Option<i64> = sqlx::query_scalar(
        "INSERT INTO tickets (hall_id, business_date, category, number, ticket_no, kiosk_id, priority, source, issued_at, voided_at, void_reason) \
         VALUES ($1, $2, $3, $4, $5, $6, 'normal', '', $7, $7, $8) \
         ON CONFLICT (hall_id, business_date, category, number) DO UPDATE SET \
         voided_at = COALESCE(tickets.voided_at, excluded.voided_at), \
         void_reason = COALESCE(tickets.void_reason, excluded.void_reason) \
         WHERE tickets.kiosk_id = excluded.kiosk_id \
         RETURNING number",
    )
    .bind(&sender.hall)
    .bind(t.business_date.to_string())
    .bind(&t.category)
    .bind(i64::from(t.number))
    .bind(&t.ticket_no)
    .bind(&sender.kiosk)
    .bind(at)
    .bind(t.reason.code())
    .fetch_optional(&mut *conn)
    .await
    .doing("recording a voided ticket")?;
    Ok(match done {
        Some(_) => Verdict::Applied,
        None => Verdict::refuse(
            why::NUMBER_TAKEN,
            format!(
                "{} on {} is held by another kiosk's ticket, which this kiosk may not void",
                t.ticket_no, t.business_date
            ),
        ),
    })
}

async fn help_requested(
    conn: &mut AnyConnection,
    sender: &Sender,
    e: &Event,
    h: &HelpRequested,
) -> Result<Verdict, StoreError> {
    if h.page.is_empty() || h.page.len() > 64 {
        return Ok(Verdict::invalid("field `page` is not 1 to 64 characters"));
    }
    // Keyed by kiosk and event id: the same request sent again is the same row. Ingest only
    // projects events it has newly stored, so a conflict here is that very request.
    sqlx::query(
        "INSERT INTO help_requests (hall_id, kiosk_id, event_id, page, language, requested_at, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (kiosk_id, event_id) DO NOTHING",
    )
    .bind(&sender.hall)
    .bind(&sender.kiosk)
    .bind(e.event_id.to_string())
    .bind(&h.page)
    .bind(h.language.code())
    .bind(millis(h.at))
    .bind(now_millis())
    .execute(&mut *conn)
    .await
    .doing("recording a help request")?;
    tracing::info!(kiosk = %sender.kiosk, hall = %sender.hall, page = %h.page, "citizen asked for help");
    Ok(Verdict::Applied)
}

/// Timeline note of the submission, for the citizen.
const SUBMITTED_NOTE_ZH: &str = "已在自助终端提交，等待窗口受理";
const SUBMITTED_NOTE_EN: &str = "Submitted at a self-service kiosk; waiting to be accepted";

async fn application_submitted(
    conn: &mut AnyConnection,
    sender: &Sender,
    e: &Event,
    a: &ApplicationSubmitted,
) -> Result<Verdict, StoreError> {
    let no = a.application_no;
    if no.hall() != sender.hall_code || no.kiosk() != sender.kiosk_no {
        return Ok(Verdict::refuse(
            why::NUMBER_NOT_YOURS,
            format!(
                "application number {} belongs to hall {} kiosk {:02}; the sender is hall {} kiosk {:02}",
                no.grouped(),
                no.hall(),
                no.kiosk().get(),
                sender.hall_code,
                sender.kiosk_no.get()
            ),
        ));
    }
    if !is_holder_hash(&a.holder_hash) {
        return Ok(Verdict::invalid(
            "field `holder_hash` is not 64 lower-case hex",
        ));
    }
    if a.matter_code.is_empty() || a.matter_code.len() > 64 {
        return Ok(Verdict::invalid(
            "field `matter_code` is not 1 to 64 characters",
        ));
    }
    if a.holder_name_masked.chars().count() > 32 {
        return Ok(Verdict::invalid(
            "field `holder_name_masked` is longer than 32 characters",
        ));
    }
    let form = serde_json::to_string(&a.form).map_err(|_| StoreError::Corrupt("form"))?;
    let materials =
        serde_json::to_string(&a.materials).map_err(|_| StoreError::Corrupt("materials"))?;
    let at = millis(a.submitted_at);
    let no_text = no.to_string();
    if let Some(refused) = live_token_refused(
        conn,
        a.live_token.as_deref(),
        "SELECT CAST(1 AS BIGINT) FROM tickets WHERE public_token = $1 \
         UNION ALL SELECT CAST(1 AS BIGINT) FROM applications WHERE public_token = $1 AND application_no <> $2",
        std::slice::from_ref(&no_text),
        None,
    )
    .await?
    {
        return Ok(refused);
    }
    // Never overwrite: a number held by another event refuses this one (number_taken), and
    // the conflict is told back to the kiosk, not swallowed.
    let inserted: Option<String> = sqlx::query_scalar(
        "INSERT INTO applications (application_no, hall_id, kiosk_id, matter_code, holder_hash, holder_name_masked, form, materials, status, submitted_at, updated_at, event_id, public_token) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'submitted', $9, $10, $11, $12) \
         ON CONFLICT (application_no) DO NOTHING RETURNING application_no",
    )
    .bind(&no_text)
    .bind(&sender.hall)
    .bind(&sender.kiosk)
    .bind(&a.matter_code)
    .bind(&a.holder_hash)
    .bind(&a.holder_name_masked)
    .bind(form)
    .bind(materials)
    .bind(at)
    .bind(now_millis())
    .bind(e.event_id.to_string())
    .bind(a.live_token.as_deref())
    .fetch_optional(&mut *conn)
    .await
    .doing("recording an application")?;
    if inserted.is_none() {
        let holder: Option<String> = sqlx::query_scalar(
            "SELECT COALESCE(event_id, '') FROM applications WHERE application_no = $1",
        )
        .bind(&no_text)
        .fetch_optional(&mut *conn)
        .await
        .doing("finding the application that holds a number")?;
        return Ok(Verdict::refuse(
            why::NUMBER_TAKEN,
            format!(
                "application number {} is already held by another submission{}",
                no.grouped(),
                match holder.as_deref() {
                    Some(id) if !id.is_empty() => format!(" (event {id})"),
                    _ => String::new(),
                }
            ),
        ));
    }
    sqlx::query(
        "INSERT INTO application_timeline (application_no, set_at, status, note_zh, note_en) VALUES ($1, $2, 'submitted', $3, $4)",
    )
    .bind(&no_text)
    .bind(at)
    .bind(SUBMITTED_NOTE_ZH)
    .bind(SUBMITTED_NOTE_EN)
    .execute(&mut *conn)
    .await
    .doing("starting an application's timeline")?;
    Ok(Verdict::Applied)
}

async fn rating_given(
    conn: &mut AnyConnection,
    sender: &Sender,
    e: &Event,
    r: &RatingGiven,
) -> Result<Verdict, StoreError> {
    if !(1..=5).contains(&r.level) {
        return Ok(Verdict::invalid("field `level` is not in 1..=5"));
    }
    let subject_fits = (r.subject.starts_with("ticket:") || r.subject.starts_with("application:"))
        && r.subject.len() <= 128;
    if !subject_fits {
        return Ok(Verdict::invalid(
            "field `subject` is not ticket:<no>:<date> or application:<no>",
        ));
    }
    // An application typed with spaces and one typed without are one subject.
    let subject = match r.subject.strip_prefix("application:") {
        Some(typed) => match kiosk_api::ApplicationNo::parse(typed) {
            Ok(no) => format!("application:{no}"),
            Err(_) => {
                return Ok(Verdict::invalid(
                    "field `subject` names no valid application number",
                ));
            }
        },
        None => r.subject.clone(),
    };
    if r.note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Ok(Verdict::invalid(
            "field `note` is longer than 500 characters",
        ));
    }
    let reasons = serde_json::to_string(&r.reasons).map_err(|_| StoreError::Corrupt("reasons"))?;
    // A bad rating opens its follow-up at once, as a window tablet's does.
    let (kind, due) = if r.level <= 2 {
        let kind = FollowUpKind::Rectification;
        let due = follow_up_due_in(&mut *conn, kind, millis(e.occurred_at)).await?;
        (Some(kind.as_str()), Some(due))
    } else {
        (None, None)
    };
    // One rating per hall and subject; a second one is told back as already_rated.
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO ratings (hall_id, subject, kiosk_id, level, reasons, note, matter_code, given_at, follow_up_kind, follow_up_due) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (hall_id, subject) DO NOTHING RETURNING id",
    )
    .bind(&sender.hall)
    .bind(&subject)
    .bind(&sender.kiosk)
    .bind(i64::from(r.level))
    .bind(reasons)
    .bind(r.note.as_deref())
    .bind(r.matter_code.as_deref())
    .bind(millis(e.occurred_at))
    .bind(kind)
    .bind(due)
    .fetch_optional(&mut *conn)
    .await
    .doing("recording a rating")?;
    Ok(match inserted {
        Some(_) => Verdict::Applied,
        None => Verdict::refuse(
            why::ALREADY_RATED,
            format!("{subject} was rated already; one rating per subject"),
        ),
    })
}
