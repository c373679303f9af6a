//! Idempotent ingest of event batches: one transaction per batch, one answer per event.
//!
//! An event is acknowledged (`stored`, `duplicate`) only when it is kept and, for the kinds
//! central projects (citizen records, health), its projection applied. Anything else is
//! refused per event with a reason and a detail, not kept, and listed in `refused_events`
//! for ops; the rest of the batch goes on.

use std::collections::{BTreeSet, HashMap, HashSet};

use kiosk_api::{BatchAck, Event, EventAck, EventBatch, EventOutcome, reject_reason};
use uuid::Uuid;

use super::project::{Sender, Verdict, is_projected, project};
use super::quotas::{self, Usage};
use super::{Claim, Doing as _, Store, StoreError, claim_nonce_in, now_millis};

/// Result of [`Store::ingest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// The batch was processed; one result per event, in batch order.
    Done(BatchAck),
    /// The request nonce was used before; nothing was written.
    ReplayedNonce,
    /// The kiosk made more signed requests this minute than it may; nothing was written.
    OverRate,
}

/// A batch that breaks the contract as a whole; nothing of it is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BatchProblem(pub String);

/// Checks the rules a batch must follow before any of it is written.
pub fn check_batch(batch: &EventBatch) -> Result<(), BatchProblem> {
    let mut ids = HashSet::new();
    let mut seqs = HashSet::new();
    for e in &batch.events {
        let problem = |what: String| {
            Err(BatchProblem(format!(
                "event {} (seq {}): {what}",
                e.event_id, e.seq
            )))
        };
        if e.seq == 0 || i64::try_from(e.seq).is_err() {
            return problem("seq must be between 1 and 2^63-1".into());
        }
        if !ids.insert(e.event_id) {
            return problem("event_id appears twice in the batch".into());
        }
        if !seqs.insert(e.seq) {
            return problem("seq appears twice in the batch".into());
        }
        if e.kind.is_empty() || e.kind.len() > 64 {
            return problem("kind must be 1 to 64 characters".into());
        }
        if let Some(bad) = e.attachments.iter().find(|a| !is_sha256_hex(a)) {
            return problem(format!("attachment {bad:?} is not a lower-case hex sha256"));
        }
    }
    Ok(())
}

/// True for 64 lower-case hex characters.
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

// Rows per INSERT; 10 parameters each stays far below both databases' parameter limits.
const ROWS_PER_INSERT: usize = 500;

impl Store {
    /// Stores a checked batch ([`check_batch`]) for `kiosk_id` in one transaction, claiming the
    /// request nonce in the same transaction when one is given. Help requests beyond
    /// `help_per_minute` from this kiosk are answered `central_busy` and not stored: the kiosk
    /// sends them again later, so a kiosk cannot flood the help desk and none is lost. Events
    /// beyond `events_per_minute` from this kiosk (counted on every node) are answered
    /// `central_busy` the same way: the batch's first ones are taken, in order, the rest wait.
    pub async fn ingest(
        &self,
        kiosk_id: Uuid,
        nonce: Option<&str>,
        batch: &EventBatch,
        help_per_minute: u32,
        events_per_minute: u32,
        requests_per_minute: u32,
    ) -> Result<IngestOutcome, StoreError> {
        let kiosk = kiosk_id.to_string();
        let now = now_millis();
        let mut w = self.write().await?;
        if let Some(nonce) = nonce {
            match claim_nonce_in(&mut w.tx, &kiosk, nonce, requests_per_minute).await? {
                Claim::Fresh => {}
                Claim::Replayed => return Ok(IngestOutcome::ReplayedNonce),
                Claim::OverRate => return Ok(IngestOutcome::OverRate),
            }
        }

        let mut outcome: HashMap<Uuid, EventOutcome> = HashMap::new();
        let complete = complete_attachments(&mut w, &kiosk, &batch.events).await?;
        let candidates: Vec<&Event> = batch
            .events
            .iter()
            .filter(|e| {
                let ready = e.attachments.iter().all(|a| complete.contains(a));
                if !ready {
                    outcome.insert(
                        e.event_id,
                        EventOutcome::Rejected {
                            reason: reject_reason::MISSING_ATTACHMENT.into(),
                            detail: None,
                        },
                    );
                }
                ready
            })
            .collect();
        let room = i64::from(events_per_minute)
            - quotas::used(&mut w.tx, &kiosk, Usage::EventsPerMinute, now).await?;
        let room = usize::try_from(room.max(0)).unwrap_or(usize::MAX);
        let (candidates, waiting) = candidates.split_at(candidates.len().min(room));
        for e in waiting {
            outcome.insert(
                e.event_id,
                EventOutcome::rejected(
                    reject_reason::CENTRAL_BUSY,
                    format!(
                        "this kiosk sent {events_per_minute} events in the last minute, central's limit (--events-per-minute); send this one again in a minute"
                    ),
                ),
            );
        }
        if !candidates.is_empty() {
            let taken = i64::try_from(candidates.len()).unwrap_or(i64::MAX);
            quotas::charge(&mut w.tx, &kiosk, Usage::EventsPerMinute, taken, now).await?;
        }
        let candidates = candidates.to_vec();
        let over = help_over_quota(&mut w, &kiosk, &candidates, help_per_minute, now).await?;
        let candidates: Vec<&Event> = candidates
            .into_iter()
            .filter(|e| {
                if !over.contains(&e.event_id) {
                    return true;
                }
                outcome.insert(
                    e.event_id,
                    EventOutcome::rejected(
                        reject_reason::CENTRAL_BUSY,
                        format!(
                            "this kiosk sent its {help_per_minute} help requests of the last minute; send this one again in a minute"
                        ),
                    ),
                );
                false
            })
            .collect();

        let mut stored_events: Vec<&Event> = Vec::new();
        let mut refusals: Vec<(&Event, &'static str, String)> = Vec::new();
        let mut refused_ids: HashSet<Uuid> = HashSet::new();
        for chunk in candidates.chunks(ROWS_PER_INSERT) {
            let mut sql = String::from(
                "INSERT INTO events (kiosk_id, event_id, seq, stream, kind, priority, occurred_at, received_at, payload, attachments) VALUES ",
            );
            for i in 0..chunk.len() {
                let p = i * 10;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${},${},${},${},${},${},${},${},${},${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6,
                    p + 7,
                    p + 8,
                    p + 9,
                    p + 10
                ));
            }
            sql.push_str(" ON CONFLICT DO NOTHING RETURNING event_id");
            let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
            for e in chunk {
                let payload = serde_json::to_string(&e.payload)
                    .map_err(|_| StoreError::Corrupt("event payload"))?;
                let attachments = serde_json::to_string(&e.attachments)
                    .map_err(|_| StoreError::Corrupt("event attachments"))?;
                query = query
                    .bind(kiosk.clone())
                    .bind(e.event_id.to_string())
                    .bind(seq_i64(e))
                    .bind(e.stream.as_str())
                    .bind(e.kind.clone())
                    .bind(i64::from(e.priority))
                    .bind(e.occurred_at.to_rfc3339())
                    .bind(now)
                    .bind(payload)
                    .bind(attachments);
            }
            let inserted = query.fetch_all(&mut *w.tx).await.doing("storing events")?;
            let inserted: HashSet<String> = inserted.into_iter().collect();
            let skipped: Vec<&Event> = chunk
                .iter()
                .copied()
                .filter(|e| !inserted.contains(&e.event_id.to_string()))
                .collect();
            for e in chunk
                .iter()
                .filter(|e| inserted.contains(&e.event_id.to_string()))
            {
                stored_events.push(e);
                outcome.insert(e.event_id, EventOutcome::Stored);
            }
            let known = existing_event_ids(&mut w, &kiosk, &skipped).await?;
            for e in skipped {
                let o = if known.contains(&e.event_id.to_string()) {
                    EventOutcome::Duplicate
                } else {
                    let detail = format!("seq {} is held by another event of this kiosk", e.seq);
                    refusals.push((e, reject_reason::SEQ_REUSED, detail.clone()));
                    EventOutcome::rejected(reject_reason::SEQ_REUSED, detail)
                };
                outcome.insert(e.event_id, o);
            }
        }

        // Each projected event is decided on its own, under a savepoint: one that is refused
        // leaves nothing behind (its projection rolled back, its row taken out of events) and
        // the others of the batch still apply.
        let sender = if stored_events.iter().any(|e| is_projected(e)) {
            Some(Sender::load(&mut w.tx, &kiosk).await?)
        } else {
            None
        };
        let mut touched = BTreeSet::new();
        for e in stored_events.iter().copied().filter(|e| is_projected(e)) {
            let Some(sender) = &sender else { break };
            sqlx::query("SAVEPOINT projecting")
                .execute(&mut *w.tx)
                .await
                .doing("projecting an event")?;
            let verdict = project(&mut w.tx, sender, e, &mut touched).await?;
            if let Verdict::Refused { reason, detail } = verdict {
                sqlx::query("ROLLBACK TO SAVEPOINT projecting")
                    .execute(&mut *w.tx)
                    .await
                    .doing("undoing a refused event")?;
                sqlx::query("DELETE FROM events WHERE kiosk_id = $1 AND event_id = $2")
                    .bind(&kiosk)
                    .bind(e.event_id.to_string())
                    .execute(&mut *w.tx)
                    .await
                    .doing("taking a refused event out")?;
                tracing::warn!(%kiosk, event = %e.event_id, seq = e.seq, kind = %e.kind, reason, %detail, "event refused");
                outcome.insert(e.event_id, EventOutcome::rejected(reason, detail.clone()));
                refusals.push((e, reason, detail));
                refused_ids.insert(e.event_id);
            }
            sqlx::query("RELEASE SAVEPOINT projecting")
                .execute(&mut *w.tx)
                .await
                .doing("projecting an event")?;
        }
        super::rollouts::advance_touched(&mut w.tx, touched).await?;
        let kept: Vec<&Event> = stored_events
            .iter()
            .copied()
            .filter(|e| !refused_ids.contains(&e.event_id))
            .collect();
        let stored = i64::try_from(kept.len()).unwrap_or(i64::MAX);
        let max_seq = kept.iter().map(|e| seq_i64(e)).max().unwrap_or(0);
        record_refusals(&mut w, &kiosk, &refusals, now).await?;
        forget_refusals(&mut w, &kiosk, &kept).await?;

        sqlx::query("UPDATE kiosks SET event_count = event_count + $2, max_seq = CASE WHEN max_seq < $3 THEN $3 ELSE max_seq END, last_seen_at = $4 WHERE id = $1")
            .bind(&kiosk)
            .bind(stored)
            .bind(max_seq)
            .bind(now)
            .execute(&mut *w.tx)
            .await
            .doing("updating the kiosk's sequence tracking")?;
        w.commit().await?;

        let results = batch
            .events
            .iter()
            .map(|e| EventAck {
                event_id: e.event_id,
                outcome: outcome
                    .remove(&e.event_id)
                    .expect("invariant: every event of the batch got an outcome"),
            })
            .collect();
        Ok(IngestOutcome::Done(BatchAck { results }))
    }
}

/// The new help requests of `events` beyond what `kiosk` may still send in this minute
/// (`limit` a minute, counting those central received in the last 60 s). A help request
/// central has already (a resend) is never over: it is answered `duplicate` as before.
async fn help_over_quota(
    w: &mut super::WriteTx,
    kiosk: &str,
    events: &[&Event],
    limit: u32,
    now: i64,
) -> Result<HashSet<Uuid>, StoreError> {
    let help: Vec<&Event> = events
        .iter()
        .copied()
        .filter(|e| e.kind == kiosk_api::citizen::event_kind::HELP_REQUESTED)
        .collect();
    if help.is_empty() {
        return Ok(HashSet::new());
    }
    let doing = "counting the kiosk's recent help requests";
    let recent: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM help_requests WHERE kiosk_id = $1 AND received_at > $2",
    )
    .bind(kiosk)
    .bind(now - 60_000)
    .fetch_one(&mut *w.tx)
    .await
    .doing(doing)?;
    let mut room = i64::from(limit) - recent;
    let mut over = HashSet::new();
    for e in help {
        let known: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM help_requests WHERE kiosk_id = $1 AND event_id = $2",
        )
        .bind(kiosk)
        .bind(e.event_id.to_string())
        .fetch_one(&mut *w.tx)
        .await
        .doing(doing)?;
        if known > 0 {
            continue;
        }
        if room > 0 {
            room -= 1;
        } else {
            over.insert(e.event_id);
        }
    }
    if !over.is_empty() {
        tracing::warn!(%kiosk, over = over.len(), limit, "help requests over the per-kiosk rate; answered central_busy");
    }
    Ok(over)
}

/// Keeps the latest final refusal of each event, for the console and ops.
async fn record_refusals(
    w: &mut super::WriteTx,
    kiosk: &str,
    refusals: &[(&Event, &'static str, String)],
    now: i64,
) -> Result<(), StoreError> {
    for (e, reason, detail) in refusals {
        sqlx::query(
            "INSERT INTO refused_events (kiosk_id, event_id, seq, kind, reason, detail, refused_at, times) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1) ON CONFLICT (kiosk_id, event_id) DO UPDATE SET \
             seq = excluded.seq, kind = excluded.kind, reason = excluded.reason, detail = excluded.detail, \
             refused_at = excluded.refused_at, times = refused_events.times + 1",
        )
        .bind(kiosk)
        .bind(e.event_id.to_string())
        .bind(seq_i64(e))
        .bind(&e.kind)
        .bind(*reason)
        .bind(detail)
        .bind(now)
        .execute(&mut *w.tx)
        .await
        .doing("recording a refused event")?;
    }
    Ok(())
}

/// Drops the refusals of events now kept: a corrected resend applied.
async fn forget_refusals(
    w: &mut super::WriteTx,
    kiosk: &str,
    kept: &[&Event],
) -> Result<(), StoreError> {
    if kept.is_empty() {
        return Ok(());
    }
    // Most kiosks have no refusal at all; one cheap look spares a delete per event.
    let refused: Vec<String> =
        sqlx::query_scalar("SELECT event_id FROM refused_events WHERE kiosk_id = $1")
            .bind(kiosk)
            .fetch_all(&mut *w.tx)
            .await
            .doing("reading the kiosk's refused events")?;
    if refused.is_empty() {
        return Ok(());
    }
    let refused: HashSet<String> = refused.into_iter().collect();
    for e in kept {
        let id = e.event_id.to_string();
        if refused.contains(&id) {
            sqlx::query("DELETE FROM refused_events WHERE kiosk_id = $1 AND event_id = $2")
                .bind(kiosk)
                .bind(id)
                .execute(&mut *w.tx)
                .await
                .doing("forgetting a refusal")?;
        }
    }
    Ok(())
}

fn seq_i64(e: &Event) -> i64 {
    i64::try_from(e.seq).expect("invariant: check_batch refused seq above i64::MAX")
}

fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",")
}

async fn complete_attachments(
    w: &mut super::WriteTx,
    kiosk: &str,
    events: &[Event],
) -> Result<HashSet<String>, StoreError> {
    let wanted: Vec<&String> = events
        .iter()
        .flat_map(|e| &e.attachments)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut complete = HashSet::new();
    for chunk in wanted.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "SELECT sha256 FROM attachments WHERE kiosk_id = $1 AND complete = 1 AND sha256 IN ({})",
            placeholders(2, chunk.len())
        );
        let mut query =
            sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).bind(kiosk.to_owned());
        for sha in chunk {
            query = query.bind((*sha).clone());
        }
        complete.extend(
            query
                .fetch_all(&mut *w.tx)
                .await
                .doing("checking attachments")?,
        );
    }
    Ok(complete)
}

async fn existing_event_ids(
    w: &mut super::WriteTx,
    kiosk: &str,
    events: &[&Event],
) -> Result<HashSet<String>, StoreError> {
    if events.is_empty() {
        return Ok(HashSet::new());
    }
    let sql = format!(
        "SELECT event_id FROM events WHERE kiosk_id = $1 AND event_id IN ({})",
        placeholders(2, events.len())
    );
    let mut query =
        sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).bind(kiosk.to_owned());
    for e in events {
        query = query.bind(e.event_id.to_string());
    }
    Ok(query
        .fetch_all(&mut *w.tx)
        .await
        .doing("finding duplicate events")?
        .into_iter()
        .collect())
}
