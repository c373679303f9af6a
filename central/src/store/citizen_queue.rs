//! Queue numbers: leased blocks below 500, the queue state kiosks show, the
//! window's "call next", and the hall's queue statistics for the console.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use kiosk_api::citizen::{
    CategoryQueue, LEASE_MAX_COUNT, LEASE_MAX_NUMBER, Lease, LeaseRequest, QueueSnapshot,
    business_date_at, is_category_code,
};
use serde::Serialize;
use sqlx::Row as _;
use uuid::Uuid;

use super::{millis, time_of};
use crate::store::Action;
use crate::store::{Doing as _, KioskAuth, Store, StoreError, now_millis};

/// Calls whose gaps make the pace of a category: recent enough to follow the hall's rhythm.
const PACE_CALLS: usize = 10;

/// Why a lease was not granted.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The request breaks the contract (category, count or date).
    #[error("{0}")]
    Invalid(String),
    /// Every number below 500 of this category and date is leased.
    #[error(
        "every number 1..={LEASE_MAX_NUMBER} of category {category} on {business_date} is leased; issue from the kiosk's own band"
    )]
    Exhausted {
        /// Category.
        category: String,
        /// Business date.
        business_date: NaiveDate,
    },
    /// The kiosk already holds `cap` unused numbers of this category and date.
    #[error(
        "this kiosk already holds {open} unused leased numbers of category {category} on {business_date}, the most one kiosk may hold is {cap}; issue those first"
    )]
    OverCap {
        /// Category.
        category: String,
        /// Business date.
        business_date: NaiveDate,
        /// Numbers leased to the kiosk and not yet on a ticket it sent.
        open: u32,
        /// The per-kiosk cap (`central serve --lease-cap`).
        cap: u32,
    },
    /// The request id was used by this kiosk for a lease of another category or date.
    #[error(
        "request_id {0} was already used by this kiosk for another category or date; a retry must repeat the request unchanged"
    )]
    RequestIdReused(Uuid),
    /// Database failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A lease request as central takes it: the contract's [`LeaseRequest`] (with the kiosk's
/// optional `request_id`: a retry with the same id gets the same block) and the cap on the
/// numbers one kiosk may hold unused.
#[derive(Debug, Clone, Copy)]
pub struct LeaseAsk<'a> {
    /// What the kiosk asked for.
    pub request: &'a LeaseRequest,
    /// Most unused leased numbers one kiosk may hold per category and date.
    pub cap: u32,
}

/// A hall's queues on one business date (`Store::queue_stats`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// Hall.
    pub hall_id: String,
    /// Business date.
    pub business_date: NaiveDate,
    /// Categories with at least one ticket that day, by code.
    pub categories: Vec<CategoryStats>,
}

/// One category of [`QueueStats`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryStats {
    /// Queue letter.
    pub category: String,
    /// Tickets printed (voided ones included).
    pub issued: u64,
    /// Numbers voided (print failures and the like).
    pub voided: u64,
    /// Tickets called to a window.
    pub called: u64,
    /// Neither called nor voided.
    pub waiting: u64,
    /// Of those issued and not voided, recorded unconfirmed (the kiosk restarted between
    /// printing and recording): callable, but staff check the citizen's slip.
    pub unconfirmed: u64,
    /// Of those waiting, with priority (绿色通道 or appointment).
    pub waiting_priority: u64,
    /// Seconds each waiting ticket adds to a wait: the mean service time of the last
    /// `SERVICE_SAMPLE` tickets served that day divided by the windows serving
    /// the category (`Store::service_pace`); before one was served, the mean gap between the
    /// last ten calls; `None` before either.
    pub avg_service_secs: Option<u32>,
    /// Mean seconds from print to call over the tickets called; `None` before one call.
    pub avg_wait_secs: Option<u32>,
    /// Ticket called last.
    pub now_serving: Option<String>,
}

/// The ticket a window called (`Store::call_next`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CalledTicket {
    /// E.g. `A012`.
    pub ticket_no: String,
    /// Queue letter.
    pub category: String,
    /// Priority of the ticket (`normal`, `senior`, …).
    pub priority: String,
    /// When it was printed.
    pub issued_at: DateTime<Utc>,
    /// When it was called.
    pub called_at: DateTime<Utc>,
    /// Tickets of the category still waiting after this one.
    pub still_waiting: u64,
    /// Recorded unconfirmed: check the citizen's slip at the window.
    pub unconfirmed: bool,
}

/// One ticket of a hall's day, as `central queue list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketRow {
    /// E.g. `A012`.
    pub ticket_no: String,
    /// Queue letter.
    pub category: String,
    /// `normal`, `senior`, …
    pub priority: String,
    /// Kiosk that printed it.
    pub kiosk_id: String,
    /// `waiting`, `called` or `voided`.
    pub state: String,
    /// Recorded unconfirmed (callable; staff check the slip).
    pub unconfirmed: bool,
    /// When it was printed.
    pub issued_at: DateTime<Utc>,
    /// When it was called.
    pub called_at: Option<DateTime<Utc>>,
}

/// A ticket whose number the issuing kiosk did not own (`Store::misnumbered_tickets`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MisnumberedTicket {
    /// E.g. `A012`.
    pub ticket_no: String,
    /// Kiosk that printed it.
    pub kiosk_id: String,
    /// What it claimed: `lease:<uuid>` or `band`.
    pub source: String,
}

fn count(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt("negative count"))
}

fn secs(total_ms: i64, n: usize) -> Option<u32> {
    let n = i64::try_from(n).ok().filter(|n| *n > 0)?;
    u32::try_from((total_ms / n).max(0) / 1000).ok()
}

impl Store {
    /// Leases `request.count` numbers (fewer when the numbers below 500 run out, or when the
    /// kiosk would hold more than `ask.cap` unused) of a category and date to `kiosk`. Blocks
    /// of a hall, category and date never overlap: the counter row is locked and bumped in
    /// place, which serialises concurrent leases on both databases, and so also the check of
    /// the cap and of the request id.
    pub async fn lease_numbers(
        &self,
        kiosk: &KioskAuth,
        ask: LeaseAsk<'_>,
        now: DateTime<Utc>,
    ) -> Result<Lease, LeaseError> {
        let request = ask.request;
        if !is_category_code(&request.category) {
            return Err(LeaseError::Invalid(format!(
                "category {:?} is not one to four upper-case letters",
                request.category
            )));
        }
        if !(1..=LEASE_MAX_COUNT).contains(&request.count) {
            return Err(LeaseError::Invalid(format!(
                "count {} is not in 1..={LEASE_MAX_COUNT}",
                request.count
            )));
        }
        let today = business_date_at(now);
        let tomorrow = today.checked_add_days(Days::new(1)).unwrap_or(today);
        if request.business_date != today && request.business_date != tomorrow {
            return Err(LeaseError::Invalid(format!(
                "numbers are leased for today ({today}) or tomorrow ({tomorrow}) in hall time, not {}",
                request.business_date
            )));
        }
        let date = request.business_date.to_string();
        let kiosk_id = kiosk.kiosk_id.to_string();
        let mut w = self.write().await?;
        // Creates the day's counter if it is new; an existing one is locked just below.
        sqlx::query(
            "INSERT INTO lease_counters (hall_id, category, business_date, next_number) VALUES ($1, $2, $3, 1) ON CONFLICT DO NOTHING",
        )
        .bind(&kiosk.hall_id)
        .bind(&request.category)
        .bind(&date)
        .execute(&mut *w.tx)
        .await
        .doing("creating the lease counter")?;
        // A no-op update takes the row lock on PostgreSQL (SQLite holds the database's write
        // lock already): a retry racing its first attempt waits here and then sees its block.
        let next: i64 = sqlx::query_scalar(
            "UPDATE lease_counters SET next_number = next_number \
             WHERE hall_id = $1 AND category = $2 AND business_date = $3 RETURNING next_number",
        )
        .bind(&kiosk.hall_id)
        .bind(&request.category)
        .bind(&date)
        .fetch_one(&mut *w.tx)
        .await
        .doing("locking the lease counter")?;
        let number = |n: i64| u32::try_from(n).map_err(|_| StoreError::Corrupt("lease counter"));
        if let Some(request_id) = ask.request.request_id {
            let doing = "looking for a retried lease request";
            let earlier = sqlx::query(
                "SELECT lease_id, category, business_date, first_number, last_number FROM number_leases \
                 WHERE kiosk_id = $1 AND request_id = $2",
            )
            .bind(&kiosk_id)
            .bind(request_id.to_string())
            .fetch_optional(&mut *w.tx)
            .await
            .doing(doing)?;
            if let Some(row) = earlier {
                let category: String = row.try_get(1).doing(doing)?;
                let business_date: String = row.try_get(2).doing(doing)?;
                if category != request.category || business_date != date {
                    return Err(LeaseError::RequestIdReused(request_id));
                }
                let lease_id: String = row.try_get(0).doing(doing)?;
                return Ok(Lease {
                    lease_id: lease_id
                        .parse()
                        .map_err(|_| StoreError::Corrupt("lease id"))?,
                    category,
                    business_date: request.business_date,
                    first: number(row.try_get(3).doing(doing)?)?,
                    last: number(row.try_get(4).doing(doing)?)?,
                });
            }
        }
        let first = next;
        // Exhaustion first: it tells the kiosk to use its band, which no cap changes.
        if first > i64::from(LEASE_MAX_NUMBER) {
            return Err(LeaseError::Exhausted {
                category: request.category.clone(),
                business_date: request.business_date,
            });
        }
        let open = self.open_leased(&mut w, kiosk, request).await?;
        let room = i64::from(ask.cap) - open;
        if room <= 0 {
            return Err(LeaseError::OverCap {
                category: request.category.clone(),
                business_date: request.business_date,
                open: u32::try_from(open).unwrap_or(u32::MAX),
                cap: ask.cap,
            });
        }
        let count = i64::from(request.count).min(room);
        let last = (next + count - 1).min(i64::from(LEASE_MAX_NUMBER));
        sqlx::query(
            "UPDATE lease_counters SET next_number = $4 WHERE hall_id = $1 AND category = $2 AND business_date = $3",
        )
        .bind(&kiosk.hall_id)
        .bind(&request.category)
        .bind(&date)
        .bind(next + count)
        .execute(&mut *w.tx)
        .await
        .doing("advancing the lease counter")?;
        let lease_id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO number_leases (lease_id, hall_id, kiosk_id, category, business_date, first_number, last_number, created_at, request_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(lease_id.to_string())
        .bind(&kiosk.hall_id)
        .bind(&kiosk_id)
        .bind(&request.category)
        .bind(&date)
        .bind(first)
        .bind(last)
        .bind(now_millis())
        .bind(ask.request.request_id.map(|id| id.to_string()))
        .execute(&mut *w.tx)
        .await
        .doing("recording the lease")?;
        w.commit().await?;
        Ok(Lease {
            lease_id,
            category: request.category.clone(),
            business_date: request.business_date,
            first: number(first)?,
            last: number(last)?,
        })
    }

    /// Numbers of `request`'s category and date leased to `kiosk` and not yet on a ticket it
    /// sent. A ticket numbered below 500 by this kiosk can only come from its leases (any
    /// other is refused as `number_not_yours` and not stored), so counting them is enough.
    async fn open_leased(
        &self,
        w: &mut crate::store::WriteTx,
        kiosk: &KioskAuth,
        request: &LeaseRequest,
    ) -> Result<i64, StoreError> {
        let doing = "counting the kiosk's unused leased numbers";
        let row = sqlx::query(
            "SELECT \
             (SELECT CAST(COALESCE(SUM(last_number - first_number + 1), 0) AS BIGINT) FROM number_leases \
              WHERE hall_id = $1 AND category = $2 AND business_date = $3 AND kiosk_id = $4), \
             (SELECT COUNT(*) FROM tickets \
              WHERE hall_id = $1 AND category = $2 AND business_date = $3 AND kiosk_id = $4 \
              AND number >= 1 AND number <= $5)",
        )
        .bind(&kiosk.hall_id)
        .bind(&request.category)
        .bind(request.business_date.to_string())
        .bind(kiosk.kiosk_id.to_string())
        .bind(i64::from(LEASE_MAX_NUMBER))
        .fetch_one(&mut *w.tx)
        .await
        .doing(doing)?;
        let leased: i64 = row.try_get(0).doing(doing)?;
        let used: i64 = row.try_get(1).doing(doing)?;
        Ok((leased - used).max(0))
    }

    /// The owner kiosk of the leased block holding `number`, if any (central knows every
    /// block's owner).
    pub async fn lease_owner(
        &self,
        hall_id: &str,
        category: &str,
        business_date: NaiveDate,
        number: u32,
    ) -> Result<Option<Uuid>, StoreError> {
        let owner: Option<String> = sqlx::query_scalar(
            "SELECT kiosk_id FROM number_leases WHERE hall_id = $1 AND category = $2 AND business_date = $3 \
             AND first_number <= $4 AND last_number >= $4",
        )
        .bind(hall_id)
        .bind(category)
        .bind(business_date.to_string())
        .bind(i64::from(number))
        .fetch_optional(self.pool())
        .await
        .doing("finding a lease's owner")?;
        owner
            .map(|o| o.parse().map_err(|_| StoreError::Corrupt("lease owner")))
            .transpose()
    }

    /// Tickets of `hall_id` on `date` whose number lies neither in a block leased to the
    /// kiosk that printed it (as its `lease:<id>` source says) nor in that kiosk's offline
    /// band. Empty when no two kiosks can have handed out the same number.
    pub async fn misnumbered_tickets(
        &self,
        hall_id: &str,
        date: NaiveDate,
    ) -> Result<Vec<MisnumberedTicket>, StoreError> {
        let doing = "checking ticket numbers against leases and bands";
        let rows = sqlx::query(
            "SELECT t.ticket_no, t.kiosk_id, t.source FROM tickets t JOIN kiosks k ON k.id = t.kiosk_id \
             WHERE t.hall_id = $1 AND t.business_date = $2 AND t.source <> '' AND NOT ( \
             (t.source = 'band' AND t.number >= k.band_first AND t.number <= k.band_last) \
             OR EXISTS (SELECT 1 FROM number_leases l WHERE 'lease:' || l.lease_id = t.source \
             AND l.kiosk_id = t.kiosk_id AND l.hall_id = t.hall_id AND l.category = t.category \
             AND l.business_date = t.business_date \
             AND t.number >= l.first_number AND t.number <= l.last_number)) \
             ORDER BY t.category, t.number",
        )
        .bind(hall_id)
        .bind(date.to_string())
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        rows.iter()
            .map(|r| {
                Ok(MisnumberedTicket {
                    ticket_no: r.try_get("ticket_no").doing(doing)?,
                    kiosk_id: r.try_get("kiosk_id").doing(doing)?,
                    source: r.try_get("source").doing(doing)?,
                })
            })
            .collect()
    }

    /// Tickets of `hall_id` on `date` per category: issued, voided, called, waiting, pace.
    pub async fn queue_stats(
        &self,
        hall_id: &str,
        date: NaiveDate,
    ) -> Result<QueueStats, StoreError> {
        let doing = "computing queue statistics";
        let day = date.to_string();
        let rows = sqlx::query(
            "SELECT category, \
             COUNT(CASE WHEN source <> '' THEN 1 END) AS issued, \
             COUNT(voided_at) AS voided, \
             COUNT(called_at) AS called, \
             COUNT(CASE WHEN voided_at IS NULL AND called_at IS NULL THEN 1 END) AS waiting, \
             COUNT(CASE WHEN voided_at IS NULL AND called_at IS NULL AND priority <> 'normal' THEN 1 END) AS waiting_priority, \
             COUNT(CASE WHEN voided_at IS NULL AND unconfirmed <> 0 THEN 1 END) AS unconfirmed \
             FROM tickets WHERE hall_id = $1 AND business_date = $2 GROUP BY category ORDER BY category",
        )
        .bind(hall_id)
        .bind(&day)
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        let calls = sqlx::query(
            "SELECT category, ticket_no, issued_at, called_at FROM tickets \
             WHERE hall_id = $1 AND business_date = $2 AND called_at IS NOT NULL \
             ORDER BY category, called_at, number",
        )
        .bind(hall_id)
        .bind(&day)
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        let mut by_category: BTreeMap<String, Vec<(String, i64, i64)>> = BTreeMap::new();
        for r in calls {
            by_category
                .entry(r.try_get("category").doing(doing)?)
                .or_default()
                .push((
                    r.try_get("ticket_no").doing(doing)?,
                    r.try_get("issued_at").doing(doing)?,
                    r.try_get("called_at").doing(doing)?,
                ));
        }
        let pace = self.service_pace(hall_id, date).await?;
        let mut categories = Vec::new();
        for r in rows {
            let category: String = r.try_get("category").doing(doing)?;
            let calls = by_category.remove(&category).unwrap_or_default();
            let recent = &calls[calls.len().saturating_sub(PACE_CALLS)..];
            let gaps: i64 = recent.windows(2).map(|w| w[1].2 - w[0].2).sum();
            let waits: i64 = calls.iter().map(|c| c.2 - c.1).sum();
            categories.push(CategoryStats {
                issued: count(r.try_get("issued").doing(doing)?)?,
                voided: count(r.try_get("voided").doing(doing)?)?,
                called: count(r.try_get("called").doing(doing)?)?,
                waiting: count(r.try_get("waiting").doing(doing)?)?,
                waiting_priority: count(r.try_get("waiting_priority").doing(doing)?)?,
                unconfirmed: count(r.try_get("unconfirmed").doing(doing)?)?,
                // Measured service times once a ticket was served; until then the gaps
                // between calls, the only measure there is.
                avg_service_secs: pace
                    .get(&category)
                    .copied()
                    .or_else(|| secs(gaps, recent.len().saturating_sub(1))),
                avg_wait_secs: secs(waits, calls.len()),
                now_serving: calls.last().map(|c| c.0.clone()),
                category,
            });
        }
        Ok(QueueStats {
            hall_id: hall_id.to_owned(),
            business_date: date,
            categories,
        })
    }

    /// Every ticket of `hall_id` on `date`, by category and number (void placeholders of
    /// numbers never printed are left out).
    pub async fn tickets(
        &self,
        hall_id: &str,
        date: NaiveDate,
    ) -> Result<Vec<TicketRow>, StoreError> {
        let doing = "listing tickets";
        let rows = sqlx::query(
            "SELECT ticket_no, category, priority, kiosk_id, issued_at, called_at, voided_at, unconfirmed FROM tickets \
             WHERE hall_id = $1 AND business_date = $2 AND source <> '' ORDER BY category, number",
        )
        .bind(hall_id)
        .bind(date.to_string())
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        rows.iter()
            .map(|r| {
                let called: Option<i64> = r.try_get("called_at").doing(doing)?;
                let voided: Option<i64> = r.try_get("voided_at").doing(doing)?;
                Ok(TicketRow {
                    ticket_no: r.try_get("ticket_no").doing(doing)?,
                    category: r.try_get("category").doing(doing)?,
                    priority: r.try_get("priority").doing(doing)?,
                    kiosk_id: r.try_get("kiosk_id").doing(doing)?,
                    state: match (voided, called) {
                        (Some(_), _) => "voided",
                        (None, Some(_)) => "called",
                        (None, None) => "waiting",
                    }
                    .to_owned(),
                    unconfirmed: r.try_get::<i64, _>("unconfirmed").doing(doing)? != 0,
                    issued_at: time_of(r.try_get("issued_at").doing(doing)?)?,
                    called_at: called.map(time_of).transpose()?,
                })
            })
            .collect()
    }

    /// What `GET /v1/queue/state` answers for `hall_id` at `now`.
    pub async fn queue_snapshot(
        &self,
        hall_id: &str,
        now: DateTime<Utc>,
    ) -> Result<QueueSnapshot, StoreError> {
        let stats = self.queue_stats(hall_id, business_date_at(now)).await?;
        Ok(QueueSnapshot {
            business_date: stats.business_date,
            as_of: now,
            categories: stats
                .categories
                .into_iter()
                .map(|c| CategoryQueue {
                    category: c.category,
                    waiting: u32::try_from(c.waiting).unwrap_or(u32::MAX),
                    avg_service_secs: c.avg_service_secs,
                    now_serving: c.now_serving,
                })
                .collect(),
            live_url_prefix: None,
        })
    }

    /// A window of `hall_id` calls the next ticket of `category` today: priority tickets
    /// (绿色通道, appointments) first, then in print order. `None` when nobody waits.
    pub async fn call_next(
        &self,
        hall_id: &str,
        category: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<CalledTicket>, StoreError> {
        let doing = "calling the next ticket";
        let day = business_date_at(now).to_string();
        let mut w = self.write().await?;
        // On PostgreSQL two windows may pick the same ticket; the guarded UPDATE lets one win
        // and the other picks again.
        for _ in 0..5 {
            let Some(row) = sqlx::query(
                "SELECT number, ticket_no, priority, issued_at, unconfirmed FROM tickets \
                 WHERE hall_id = $1 AND business_date = $2 AND category = $3 AND called_at IS NULL AND voided_at IS NULL \
                 ORDER BY CASE WHEN priority = 'normal' THEN 1 ELSE 0 END, issued_at, number LIMIT 1",
            )
            .bind(hall_id)
            .bind(&day)
            .bind(category)
            .fetch_optional(&mut *w.tx)
            .await
            .doing(doing)?
            else {
                return Ok(None);
            };
            let number: i64 = row.try_get("number").doing(doing)?;
            let done = sqlx::query(
                "UPDATE tickets SET called_at = $5 WHERE hall_id = $1 AND business_date = $2 AND category = $3 \
                 AND number = $4 AND called_at IS NULL",
            )
            .bind(hall_id)
            .bind(&day)
            .bind(category)
            .bind(number)
            .bind(millis(now))
            .execute(&mut *w.tx)
            .await
            .doing(doing)?;
            if done.rows_affected() == 0 {
                continue;
            }
            let still_waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM tickets WHERE hall_id = $1 AND business_date = $2 AND category = $3 \
                 AND called_at IS NULL AND voided_at IS NULL",
            )
            .bind(hall_id)
            .bind(&day)
            .bind(category)
            .fetch_one(&mut *w.tx)
            .await
            .doing(doing)?;
            let ticket_no: String = row.try_get("ticket_no").doing(doing)?;
            w.audit(
                self,
                Action::QueueCall,
                &format!("hall {hall_id}"),
                &ticket_no,
            )
            .await?;
            w.commit().await?;
            return Ok(Some(CalledTicket {
                ticket_no,
                category: category.to_owned(),
                priority: row.try_get("priority").doing(doing)?,
                issued_at: time_of(row.try_get("issued_at").doing(doing)?)?,
                called_at: now,
                still_waiting: count(still_waiting)?,
                unconfirmed: row.try_get::<i64, _>("unconfirmed").doing(doing)? != 0,
            }));
        }
        Ok(None)
    }
}
