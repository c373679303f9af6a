//! The hall side (issue 16): windows and the categories they serve, clerks bound to windows,
//! what a window does with a ticket (call, recall, 过号, transfer, served), service times
//! measured from served tickets, and what the hall display and a ticket's live page show.
//!
//! A ticket's state follows from its columns: waiting (`called_at` NULL), called at a window
//! (`called_at` set, `served_at` NULL; `recalls` counts the recalls), served (`served_at`),
//! voided (`voided_at`, a 过号 too when the hall voids no-shows). A no-show put back and a
//! transfer make it wait again: `queued_at` moves it to the end, `queue_category` and
//! `for_window` say which queue and window call it now. Every call and recall is also a row of
//! `hall_calls`, which every node's display stream reads in order.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kiosk_api::citizen::{business_date_at, is_category_code};
use serde::Serialize;
use sqlx::Row as _;

use super::{Action, Doing as _, Store, StoreError, WriteTx};

/// Served tickets per category whose service times make its pace.
pub const SERVICE_SAMPLE: usize = 20;
/// Calls the hall display lists under the current ones.
pub const RECENT_CALLS: usize = 8;
/// Recalls before a window may mark a ticket a no-show, for a hall with no policy set.
pub const DEFAULT_MAX_RECALLS: u32 = 2;
/// Attempts at taking a ticket another window took first, before giving up.
const CALL_ATTEMPTS: usize = 8;

/// A service window and the queue letters it calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HallWindow {
    /// Its number, as painted above it.
    pub window_no: u32,
    /// Queue letters it serves.
    pub categories: Vec<String>,
}

/// What a no-show (过号) becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoShowAfter {
    /// Back to the end of its queue.
    Requeue,
    /// Given up.
    Void,
}

impl NoShowAfter {
    /// As stored and typed.
    pub fn as_str(self) -> &'static str {
        match self {
            NoShowAfter::Requeue => "requeue",
            NoShowAfter::Void => "void",
        }
    }
}

impl std::str::FromStr for NoShowAfter {
    type Err = String;

    fn from_str(text: &str) -> Result<NoShowAfter, String> {
        match text.trim() {
            "requeue" => Ok(NoShowAfter::Requeue),
            "void" => Ok(NoShowAfter::Void),
            other => Err(format!("{other:?} is neither requeue nor void")),
        }
    }
}

/// A hall's 过号 rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QueuePolicy {
    /// Recalls before a window may mark the ticket a no-show.
    pub max_recalls: u32,
    /// What the no-show becomes.
    pub after_no_show: NoShowAfter,
}

impl Default for QueuePolicy {
    fn default() -> QueuePolicy {
        QueuePolicy {
            max_recalls: DEFAULT_MAX_RECALLS,
            after_no_show: NoShowAfter::Requeue,
        }
    }
}

/// Why a window's action was not done.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    /// The hall has no such window (`central queue window set`).
    #[error("hall {hall} has no window {window}; set it up with central queue window set")]
    NoSuchWindow {
        /// Hall.
        hall: String,
        /// Window.
        window: u32,
    },
    /// What was asked makes no sense: a category that is no queue letter or that the window
    /// does not serve, a transfer to nowhere, a window number that is none.
    #[error("{0}")]
    Invalid(String),
    /// The window has no ticket called now.
    #[error("window {0} has no ticket called now")]
    NothingCalled(u32),
    /// 过号 before the recalls the hall asks for.
    #[error(
        "{ticket_no} was recalled {recalls} times; this hall marks a no-show after {needed} recalls"
    )]
    TooFewRecalls {
        /// The ticket.
        ticket_no: String,
        /// Recalls so far.
        recalls: u32,
        /// Recalls the policy asks for.
        needed: u32,
    },
    /// A clerk acting at a window they are not bound to.
    #[error("{user} is a clerk of other windows than window {window} of hall {hall}")]
    NotYourWindow {
        /// The clerk.
        user: String,
        /// Hall.
        hall: String,
        /// Window.
        window: u32,
    },
    /// Database failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The ticket a window has called now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowTicket {
    /// E.g. `A012`.
    pub ticket_no: String,
    /// The queue it was called from (its own category, or the one it was transferred to).
    pub category: String,
    /// `normal`, `senior`, `appointment`, …
    pub priority: String,
    /// The window.
    pub window_no: u32,
    /// When it was called.
    pub called_at: DateTime<Utc>,
    /// Recalls so far.
    pub recalls: u32,
    /// Recorded unconfirmed: check the citizen's slip.
    pub unconfirmed: bool,
}

/// What a window did and the ticket it did it to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowOutcome {
    /// The ticket.
    pub ticket_no: String,
    /// `called`, `recalled`, `requeued`, `voided`, `transferred`, `served`.
    pub done: &'static str,
}

/// A category's queue now, with its measured pace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueNow {
    /// Queue letter.
    pub category: String,
    /// Tickets waiting.
    pub waiting: u64,
    /// Seconds each ticket ahead adds to a wait: the mean service time of its last
    /// [`SERVICE_SAMPLE`] served tickets today, divided by the windows serving it. `None`
    /// until one was served.
    pub pace_secs: Option<u32>,
    /// `waiting` times the pace: the wait of a ticket taken now.
    pub wait_secs: Option<u32>,
}

/// One call or recall, as the display announces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRow {
    /// Increasing over the hall's calls.
    pub id: i64,
    /// E.g. `A012`.
    pub ticket_no: String,
    /// The window.
    pub window_no: u32,
    /// When.
    pub at: DateTime<Utc>,
    /// A recall rather than the first call.
    pub recall: bool,
}

/// What the hall display shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Board {
    /// Hall.
    pub hall_id: String,
    /// Each window with the ticket called there now, if any.
    pub windows: Vec<(u32, Option<String>)>,
    /// The last [`RECENT_CALLS`] calls, newest first.
    pub recent: Vec<CallRow>,
    /// Today's queues.
    pub queues: Vec<QueueNow>,
}

/// Where a ticket stands, as its public live page shows it (no personal data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketLive {
    /// E.g. `A012`.
    pub ticket_no: String,
    /// `waiting`, `called`, `served` or `voided`.
    pub state: &'static str,
    /// Callable tickets before it in its queue (waiting only).
    pub ahead: Option<u64>,
    /// Estimated seconds until it is called (waiting, once the queue has a pace).
    pub wait_secs: Option<u32>,
    /// The window it is called to (called only).
    pub window_no: Option<u32>,
}

fn u32_of(v: i64, what: &'static str) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(what))
}

fn categories_of(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Ordering key of a waiting ticket: priority ones first, then by their place in the queue.
type Place = (i64, i64, i64);

const CURRENT: &str = "SELECT category, number, ticket_no, priority, called_at, recalls, unconfirmed, \
     COALESCE(queue_category, category) AS qc FROM tickets \
     WHERE hall_id = $1 AND business_date = $2 AND window_no = $3 AND called_at IS NOT NULL \
     AND served_at IS NULL AND voided_at IS NULL ORDER BY called_at DESC LIMIT 1";

impl Store {
    /// Sets window `window` of `hall` to serve `categories` (made if new).
    pub async fn set_window(
        &self,
        hall: &str,
        window: u32,
        categories: &[String],
    ) -> Result<(), WindowError> {
        if categories.is_empty() {
            return Err(WindowError::Invalid(
                "a window serves at least one category".into(),
            ));
        }
        if let Some(bad) = categories.iter().find(|c| !is_category_code(c)) {
            return Err(WindowError::Invalid(format!(
                "category {bad:?} is not one to four upper-case letters"
            )));
        }
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO hall_windows (hall_id, window_no, categories) VALUES ($1, $2, $3) \
             ON CONFLICT (hall_id, window_no) DO UPDATE SET categories = excluded.categories",
        )
        .bind(hall)
        .bind(i64::from(window))
        .bind(categories.join(","))
        .execute(&mut *w.tx)
        .await
        .doing("setting up a window")?;
        w.audit(
            self,
            Action::WindowSet,
            &format!("hall {hall} window {window}"),
            &categories.join(","),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// The windows of `hall`, by number.
    pub async fn windows(&self, hall: &str) -> Result<Vec<HallWindow>, StoreError> {
        let doing = "listing windows";
        let rows = sqlx::query(
            "SELECT window_no, categories FROM hall_windows WHERE hall_id = $1 ORDER BY window_no",
        )
        .bind(hall)
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        rows.iter()
            .map(|r| {
                Ok(HallWindow {
                    window_no: u32_of(r.try_get("window_no").doing(doing)?, "window number")?,
                    categories: categories_of(&r.try_get::<String, _>("categories").doing(doing)?),
                })
            })
            .collect()
    }

    /// Whether this store's actor may act at window `window` of `hall`: a clerk only at the
    /// windows they are bound to, operators and admins at any.
    pub async fn may_act_at(&self, hall: &str, window: u32) -> Result<(), WindowError> {
        let actor = self.actor();
        if actor.role != super::Role::Clerk
            || self
                .clerk_windows(&actor.name)
                .await?
                .iter()
                .any(|(h, w)| h == hall && *w == window)
        {
            return Ok(());
        }
        tracing::warn!(user = %actor.name, hall, window, "clerk refused at a window not theirs");
        Err(WindowError::NotYourWindow {
            user: actor.name,
            hall: hall.to_owned(),
            window,
        })
    }

    async fn window(&self, hall: &str, window: u32) -> Result<HallWindow, WindowError> {
        self.windows(hall)
            .await?
            .into_iter()
            .find(|w| w.window_no == window)
            .ok_or_else(|| WindowError::NoSuchWindow {
                hall: hall.to_owned(),
                window,
            })
    }

    /// Binds console user `user` to window `window` of `hall`: with the clerk role, they may
    /// act at the windows they are bound to and no other.
    pub async fn bind_clerk(&self, user: &str, hall: &str, window: u32) -> Result<(), WindowError> {
        self.window(hall, window).await?;
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO clerk_windows (user_name, hall_id, window_no) VALUES ($1, $2, $3) \
             ON CONFLICT (user_name, hall_id, window_no) DO NOTHING",
        )
        .bind(user)
        .bind(hall)
        .bind(i64::from(window))
        .execute(&mut *w.tx)
        .await
        .doing("binding a clerk to a window")?;
        w.audit(
            self,
            Action::ClerkBind,
            user,
            &format!("hall {hall} window {window}"),
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// The windows `user` is bound to, as (hall, window).
    pub async fn clerk_windows(&self, user: &str) -> Result<Vec<(String, u32)>, StoreError> {
        let doing = "listing a clerk's windows";
        let rows = sqlx::query(
            "SELECT hall_id, window_no FROM clerk_windows WHERE user_name = $1 ORDER BY hall_id, window_no",
        )
        .bind(user)
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("hall_id").doing(doing)?,
                    u32_of(r.try_get("window_no").doing(doing)?, "window number")?,
                ))
            })
            .collect()
    }

    /// Sets `hall`'s 过号 rule.
    pub async fn set_queue_policy(
        &self,
        hall: &str,
        policy: QueuePolicy,
    ) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO hall_queue_policy (hall_id, max_recalls, after_no_show) VALUES ($1, $2, $3) \
             ON CONFLICT (hall_id) DO UPDATE SET max_recalls = excluded.max_recalls, after_no_show = excluded.after_no_show",
        )
        .bind(hall)
        .bind(i64::from(policy.max_recalls))
        .bind(policy.after_no_show.as_str())
        .execute(&mut *w.tx)
        .await
        .doing("setting the no-show rule")?;
        w.audit(
            self,
            Action::WindowSet,
            &format!("hall {hall}"),
            &format!(
                "no-show after {} recalls: {}",
                policy.max_recalls,
                policy.after_no_show.as_str()
            ),
        )
        .await?;
        w.commit().await
    }

    /// `hall`'s 过号 rule ([`QueuePolicy::default`] when none was set).
    pub async fn queue_policy(&self, hall: &str) -> Result<QueuePolicy, StoreError> {
        let doing = "reading the no-show rule";
        let row = sqlx::query(
            "SELECT max_recalls, after_no_show FROM hall_queue_policy WHERE hall_id = $1",
        )
        .bind(hall)
        .fetch_optional(self.pool())
        .await
        .doing(doing)?;
        let Some(row) = row else {
            return Ok(QueuePolicy::default());
        };
        Ok(QueuePolicy {
            max_recalls: u32_of(row.try_get("max_recalls").doing(doing)?, "recall count")?,
            after_no_show: row
                .try_get::<String, _>("after_no_show")
                .doing(doing)?
                .parse()
                .map_err(|_| StoreError::Corrupt("no-show rule"))?,
        })
    }

    /// The ticket window `window` of `hall` has called now, if any.
    pub async fn window_ticket(
        &self,
        hall: &str,
        window: u32,
        now: DateTime<Utc>,
    ) -> Result<Option<WindowTicket>, StoreError> {
        let doing = "reading a window's current ticket";
        let row = sqlx::query(CURRENT)
            .bind(hall)
            .bind(business_date_at(now).to_string())
            .bind(i64::from(window))
            .fetch_optional(self.pool())
            .await
            .doing(doing)?;
        row.map(|r| window_ticket_of(&r, window)).transpose()
    }

    /// Window `window` of `hall` calls its next ticket: of the categories it serves (only
    /// `category` when given), priority tickets (绿色通道, checked-in appointments) first,
    /// then by place in the queue; tickets transferred to another window are left to it. The
    /// ticket it had called before is served by then. Two windows calling at once, on one
    /// node or two, never get the same ticket: the UPDATE only takes a ticket still waiting,
    /// and the loser picks again. `None` when nobody waits.
    pub async fn call_at_window(
        &self,
        hall: &str,
        window: u32,
        category: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<WindowTicket>, WindowError> {
        self.may_act_at(hall, window).await?;
        let served = self.window(hall, window).await?.categories;
        let categories: Vec<String> = match category {
            Some(c) if served.iter().any(|s| s == c) => vec![c.to_owned()],
            Some(c) => {
                return Err(WindowError::Invalid(format!(
                    "window {window} serves {}, not {c}",
                    served.join(", ")
                )));
            }
            None => served,
        };
        let doing = "calling the next ticket at a window";
        let day = business_date_at(now).to_string();
        let clerk = self.actor().name;
        let mut w = self.write().await?;
        // Calling the next citizen ends the service of the one before: what the window
        // measures as a service time even when the clerk never pressed 办结. Done first and by
        // key, so this transaction locks the window's own ticket before any other (two
        // windows taking tickets in opposite orders would deadlock on PostgreSQL).
        let before = sqlx::query(CURRENT)
            .bind(hall)
            .bind(&day)
            .bind(i64::from(window))
            .fetch_optional(&mut *w.tx)
            .await
            .doing(doing)?;
        if let Some(before) = &before {
            sqlx::query(
                "UPDATE tickets SET served_at = $5 WHERE hall_id = $1 AND business_date = $2 \
                 AND category = $3 AND number = $4 AND served_at IS NULL",
            )
            .bind(hall)
            .bind(&day)
            .bind(before.try_get::<String, _>("category").doing(doing)?)
            .bind(before.try_get::<i64, _>("number").doing(doing)?)
            .bind(now.timestamp_millis())
            .execute(&mut *w.tx)
            .await
            .doing(doing)?;
            let ticket_no: String = before.try_get("ticket_no").doing(doing)?;
            end_call(&mut w, hall, &day, &ticket_no, window, Outcome::Served, now).await?;
        }
        // PostgreSQL: a ticket another window is taking right now is skipped rather than
        // waited for. SQLite has one writer at a time, so nothing is ever being taken.
        let lock = match self.backend() {
            super::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            super::Backend::Sqlite => "",
        };
        let pick = format!(
            "SELECT category, number, ticket_no, \
             CAST(CASE WHEN priority = 'normal' THEN 1 ELSE 0 END AS BIGINT) AS prio_rank, \
             COALESCE(queued_at, issued_at) AS place, COALESCE(queue_category, category) AS qc FROM tickets \
             WHERE hall_id = $1 AND business_date = $2 AND COALESCE(queue_category, category) = $3 \
             AND called_at IS NULL AND voided_at IS NULL AND served_at IS NULL \
             AND (for_window IS NULL OR for_window = $4) \
             ORDER BY prio_rank, place, number LIMIT 1{lock}"
        );
        for _ in 0..CALL_ATTEMPTS {
            let mut best: Option<(Place, sqlx::any::AnyRow)> = None;
            for c in &categories {
                let row = sqlx::query(sqlx::AssertSqlSafe(pick.as_str()))
                    .bind(hall)
                    .bind(&day)
                    .bind(c)
                    .bind(i64::from(window))
                    .fetch_optional(&mut *w.tx)
                    .await
                    .doing(doing)?;
                if let Some(row) = row {
                    let place: Place = (
                        row.try_get("prio_rank").doing(doing)?,
                        row.try_get("place").doing(doing)?,
                        row.try_get("number").doing(doing)?,
                    );
                    if best.as_ref().is_none_or(|(p, _)| place < *p) {
                        best = Some((place, row));
                    }
                }
            }
            let Some((_, row)) = best else {
                w.commit().await?;
                return Ok(None);
            };
            let own_category: String = row.try_get("category").doing(doing)?;
            let number: i64 = row.try_get("number").doing(doing)?;
            let ticket_no: String = row.try_get("ticket_no").doing(doing)?;
            let place: i64 = row.try_get("place").doing(doing)?;
            let queue: String = row.try_get("qc").doing(doing)?;
            // Guarded all the same: whatever the pick saw, a ticket already called is never
            // called again; the loser picks again.
            let taken = sqlx::query(
                "UPDATE tickets SET called_at = $5, window_no = $6, clerk = $7, recalls = 0 \
                 WHERE hall_id = $1 AND business_date = $2 AND category = $3 AND number = $4 \
                 AND called_at IS NULL AND voided_at IS NULL AND served_at IS NULL",
            )
            .bind(hall)
            .bind(&day)
            .bind(&own_category)
            .bind(number)
            .bind(now.timestamp_millis())
            .bind(i64::from(window))
            .bind(&clerk)
            .execute(&mut *w.tx)
            .await
            .doing(doing)?;
            if taken.rows_affected() == 0 {
                continue;
            }
            let call = CallLog {
                ticket_no: &ticket_no,
                window,
                day: &day,
                queue: &queue,
                clerk: &clerk,
                waited_ms: Some((now.timestamp_millis() - place).max(0)),
            };
            log_call(&mut w, hall, &call, now).await?;
            w.audit(
                self,
                Action::QueueCall,
                &format!("hall {hall} window {window}"),
                &ticket_no,
            )
            .await?;
            w.commit().await?;
            return Ok(self.window_ticket(hall, window, now).await?);
        }
        Err(StoreError::Contended("calling the next ticket").into())
    }

    /// The window calls its current ticket again.
    pub async fn recall(
        &self,
        hall: &str,
        window: u32,
        now: DateTime<Utc>,
    ) -> Result<WindowOutcome, WindowError> {
        let (mut w, current) = self.current_for_update(hall, window, now).await?;
        current
            .on_row(
                hall,
                "UPDATE tickets SET recalls = recalls + 1 WHERE hall_id = $1 AND business_date = $2 \
                 AND category = $3 AND number = $4",
            )
            .execute(&mut *w.tx)
            .await
            .doing("recalling a ticket")?;
        let clerk = self.actor().name;
        let call = CallLog {
            ticket_no: &current.ticket.ticket_no,
            window,
            day: &current.day,
            queue: &current.ticket.category,
            clerk: &clerk,
            waited_ms: None,
        };
        log_call(&mut w, hall, &call, now).await?;
        self.finish(
            w,
            Action::QueueRecall,
            hall,
            window,
            &current.ticket.ticket_no,
        )
        .await?;
        Ok(WindowOutcome {
            ticket_no: current.ticket.ticket_no,
            done: "recalled",
        })
    }

    /// 过号: the citizen did not come after the recalls the hall asks for; the ticket goes
    /// back to the end of its queue or is voided, as the hall's [`QueuePolicy`] says.
    pub async fn no_show(
        &self,
        hall: &str,
        window: u32,
        now: DateTime<Utc>,
    ) -> Result<WindowOutcome, WindowError> {
        let policy = self.queue_policy(hall).await?;
        let (mut w, current) = self.current_for_update(hall, window, now).await?;
        if current.ticket.recalls < policy.max_recalls {
            return Err(WindowError::TooFewRecalls {
                ticket_no: current.ticket.ticket_no,
                recalls: current.ticket.recalls,
                needed: policy.max_recalls,
            });
        }
        let sql = match policy.after_no_show {
            NoShowAfter::Requeue => {
                "UPDATE tickets SET called_at = NULL, window_no = NULL, clerk = NULL, recalls = 0, \
                 no_shows = no_shows + 1, queued_at = $5 WHERE hall_id = $1 AND business_date = $2 \
                 AND category = $3 AND number = $4"
            }
            NoShowAfter::Void => {
                "UPDATE tickets SET voided_at = $5, void_reason = 'no_show', no_shows = no_shows + 1 \
                 WHERE hall_id = $1 AND business_date = $2 AND category = $3 AND number = $4"
            }
        };
        current
            .on_row(hall, sql)
            .bind(now.timestamp_millis())
            .execute(&mut *w.tx)
            .await
            .doing("marking a no-show")?;
        current
            .end(&mut w, hall, window, Outcome::NoShow, now)
            .await?;
        self.finish(
            w,
            Action::QueueNoShow,
            hall,
            window,
            &current.ticket.ticket_no,
        )
        .await?;
        Ok(WindowOutcome {
            ticket_no: current.ticket.ticket_no,
            done: match policy.after_no_show {
                NoShowAfter::Requeue => "requeued",
                NoShowAfter::Void => "voided",
            },
        })
    }

    /// The window sends its current ticket to another queue (`to_category`) and/or to one
    /// window (`to_window`, which must serve the queue). It waits there in its old place.
    pub async fn transfer(
        &self,
        hall: &str,
        window: u32,
        to_category: Option<&str>,
        to_window: Option<u32>,
        now: DateTime<Utc>,
    ) -> Result<WindowOutcome, WindowError> {
        if let Some(c) = to_category.filter(|c| !is_category_code(c)) {
            return Err(WindowError::Invalid(format!(
                "category {c:?} is not one to four upper-case letters"
            )));
        }
        if to_category.is_none() && to_window.is_none() {
            return Err(WindowError::Invalid(
                "a transfer names a category, a window or both".into(),
            ));
        }
        let target = match to_window {
            Some(n) => Some(self.window(hall, n).await?),
            None => None,
        };
        let (mut w, current) = self.current_for_update(hall, window, now).await?;
        let queue = to_category.unwrap_or(&current.ticket.category).to_owned();
        if let Some(t) = &target
            && !t.categories.contains(&queue)
        {
            return Err(WindowError::Invalid(format!(
                "window {} serves {}, not {queue}",
                t.window_no,
                t.categories.join(", ")
            )));
        }
        current
            .on_row(
                hall,
                "UPDATE tickets SET called_at = NULL, window_no = NULL, clerk = NULL, recalls = 0, \
                 queue_category = $5, for_window = $6 WHERE hall_id = $1 AND business_date = $2 \
                 AND category = $3 AND number = $4",
            )
            .bind(&queue)
            .bind(to_window.map(i64::from))
            .execute(&mut *w.tx)
            .await
            .doing("transferring a ticket")?;
        current
            .end(&mut w, hall, window, Outcome::Transferred, now)
            .await?;
        self.finish(
            w,
            Action::QueueTransfer,
            hall,
            window,
            &current.ticket.ticket_no,
        )
        .await?;
        Ok(WindowOutcome {
            ticket_no: current.ticket.ticket_no,
            done: "transferred",
        })
    }

    /// The window has served its current ticket (办结).
    pub async fn served(
        &self,
        hall: &str,
        window: u32,
        now: DateTime<Utc>,
    ) -> Result<WindowOutcome, WindowError> {
        let (mut w, current) = self.current_for_update(hall, window, now).await?;
        current
            .on_row(
                hall,
                "UPDATE tickets SET served_at = $5 WHERE hall_id = $1 AND business_date = $2 \
                 AND category = $3 AND number = $4",
            )
            .bind(now.timestamp_millis())
            .execute(&mut *w.tx)
            .await
            .doing("marking a ticket served")?;
        current
            .end(&mut w, hall, window, Outcome::Served, now)
            .await?;
        self.finish(
            w,
            Action::QueueServed,
            hall,
            window,
            &current.ticket.ticket_no,
        )
        .await?;
        Ok(WindowOutcome {
            ticket_no: current.ticket.ticket_no,
            done: "served",
        })
    }

    /// Opens the write transaction of a window's action on its current ticket.
    async fn current_for_update(
        &self,
        hall: &str,
        window: u32,
        now: DateTime<Utc>,
    ) -> Result<(WriteTx, Current), WindowError> {
        self.may_act_at(hall, window).await?;
        self.window(hall, window).await?;
        let doing = "reading a window's current ticket";
        let day = business_date_at(now).to_string();
        let mut w = self.write().await?;
        let row = sqlx::query(CURRENT)
            .bind(hall)
            .bind(&day)
            .bind(i64::from(window))
            .fetch_optional(&mut *w.tx)
            .await
            .doing(doing)?
            .ok_or(WindowError::NothingCalled(window))?;
        let current = Current {
            own_category: row.try_get("category").doing(doing)?,
            number: row.try_get("number").doing(doing)?,
            ticket: window_ticket_of(&row, window)?,
            day,
        };
        Ok((w, current))
    }

    async fn finish(
        &self,
        mut w: WriteTx,
        action: Action,
        hall: &str,
        window: u32,
        ticket_no: &str,
    ) -> Result<(), StoreError> {
        w.audit(
            self,
            action,
            &format!("hall {hall} window {window}"),
            ticket_no,
        )
        .await?;
        w.commit().await
    }

    /// Seconds each waiting ticket adds to a wait, per queue of `hall` on the business date
    /// of `now`: the mean service time (call to served) of the queue's last
    /// [`SERVICE_SAMPLE`] served tickets that day, divided by the windows serving the queue.
    /// A queue with no ticket served yet has none.
    pub async fn service_pace(
        &self,
        hall: &str,
        day: chrono::NaiveDate,
    ) -> Result<BTreeMap<String, u32>, StoreError> {
        let doing = "measuring service times";
        let rows = sqlx::query(
            "SELECT COALESCE(queue_category, category) AS qc, called_at, served_at FROM tickets \
             WHERE hall_id = $1 AND business_date = $2 AND served_at IS NOT NULL AND called_at IS NOT NULL \
             ORDER BY served_at",
        )
        .bind(hall)
        .bind(day.to_string())
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        let mut times: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for r in rows {
            let called: i64 = r.try_get("called_at").doing(doing)?;
            let served: i64 = r.try_get("served_at").doing(doing)?;
            times
                .entry(r.try_get("qc").doing(doing)?)
                .or_default()
                .push((served - called).max(0));
        }
        let windows = self.windows(hall).await?;
        Ok(times
            .into_iter()
            .filter_map(|(category, t)| {
                let recent = &t[t.len().saturating_sub(SERVICE_SAMPLE)..];
                let n = i64::try_from(recent.len()).ok().filter(|n| *n > 0)?;
                let serving = windows
                    .iter()
                    .filter(|w| w.categories.contains(&category))
                    .count()
                    .max(1);
                let serving = i64::try_from(serving).ok()?;
                let pace = recent.iter().sum::<i64>() / n / serving / 1000;
                Some((category, u32::try_from(pace).ok()?))
            })
            .collect())
    }

    /// What the display of `hall` shows at `now`.
    pub async fn board(&self, hall: &str, now: DateTime<Utc>) -> Result<Board, StoreError> {
        let doing = "reading the hall board";
        let day = business_date_at(now);
        // Every window's current ticket in one query: the display asks several times a second.
        let called = sqlx::query(
            "SELECT window_no, ticket_no FROM tickets WHERE hall_id = $1 AND business_date = $2 \
             AND window_no IS NOT NULL AND called_at IS NOT NULL AND served_at IS NULL \
             AND voided_at IS NULL ORDER BY called_at, number",
        )
        .bind(hall)
        .bind(day.to_string())
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        let mut current: BTreeMap<u32, String> = BTreeMap::new();
        for r in called {
            // Ordered by call time: a window's latest call wins, as in `window_ticket`.
            current.insert(
                u32_of(r.try_get("window_no").doing(doing)?, "window number")?,
                r.try_get("ticket_no").doing(doing)?,
            );
        }
        let windows = self
            .windows(hall)
            .await?
            .into_iter()
            .map(|w| (w.window_no, current.remove(&w.window_no)))
            .collect();
        let recent = self.calls_after(hall, 0, Some(RECENT_CALLS), now).await?;
        let pace = self.service_pace(hall, day).await?;
        let rows = sqlx::query(
            "SELECT COALESCE(queue_category, category) AS qc, \
             COUNT(CASE WHEN called_at IS NULL AND voided_at IS NULL AND served_at IS NULL THEN 1 END) AS waiting \
             FROM tickets WHERE hall_id = $1 AND business_date = $2 AND source <> '' \
             GROUP BY COALESCE(queue_category, category) ORDER BY qc",
        )
        .bind(hall)
        .bind(day.to_string())
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        let mut queues = Vec::new();
        for r in rows {
            let category: String = r.try_get("qc").doing(doing)?;
            let waiting = u64::try_from(r.try_get::<i64, _>("waiting").doing(doing)?)
                .map_err(|_| StoreError::Corrupt("count"))?;
            let pace_secs = pace.get(&category).copied();
            queues.push(QueueNow {
                wait_secs: pace_secs.map(|p| {
                    u32::try_from(u64::from(p).saturating_mul(waiting)).unwrap_or(u32::MAX)
                }),
                pace_secs,
                waiting,
                category,
            });
        }
        Ok(Board {
            hall_id: hall.to_owned(),
            windows,
            recent: recent.into_iter().rev().collect(),
            queues,
        })
    }

    /// Calls and recalls of `hall` today with an id above `after`, oldest first; with `last`,
    /// only the last that many.
    pub async fn calls_after(
        &self,
        hall: &str,
        after: i64,
        last: Option<usize>,
        now: DateTime<Utc>,
    ) -> Result<Vec<CallRow>, StoreError> {
        let doing = "reading the hall's calls";
        let limit = last.and_then(|n| i64::try_from(n).ok()).unwrap_or(1000);
        // Today only: a display left on overnight does not announce yesterday's calls.
        let since = business_day_start(now);
        let rows = sqlx::query(
            "SELECT id, ticket_no, window_no, called_at, recall FROM hall_calls \
             WHERE hall_id = $1 AND id > $2 AND called_at >= $3 ORDER BY id DESC LIMIT $4",
        )
        .bind(hall)
        .bind(after)
        .bind(since)
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        let mut calls = rows
            .iter()
            .map(call_row)
            .collect::<Result<Vec<_>, StoreError>>()?;
        calls.reverse();
        Ok(calls)
    }

    /// Call `id` of `hall`, if there is one.
    pub async fn hall_call(&self, hall: &str, id: i64) -> Result<Option<CallRow>, StoreError> {
        let doing = "reading a call";
        let row = sqlx::query(
            "SELECT id, ticket_no, window_no, called_at, recall FROM hall_calls WHERE hall_id = $1 AND id = $2",
        )
        .bind(hall)
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .doing(doing)?;
        row.map(|r| call_row(&r)).transpose()
    }

    /// The id of the last call of `hall` (0 before any).
    pub async fn last_call_id(&self, hall: &str) -> Result<i64, StoreError> {
        let id: Option<i64> =
            sqlx::query_scalar("SELECT MAX(id) FROM hall_calls WHERE hall_id = $1")
                .bind(hall)
                .fetch_one(self.pool())
                .await
                .doing("reading the last call")?;
        Ok(id.unwrap_or(0))
    }

    /// The application whose public progress page has token `token`, if any: its number,
    /// for `Store::application_progress`.
    pub async fn application_by_token(&self, token: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT application_no FROM applications WHERE public_token = $1")
            .bind(token)
            .fetch_optional(self.pool())
            .await
            .doing("finding an application by its token")
    }

    /// The live-page token of ticket `ticket_no` of `hall` on `day`, if it was recorded.
    pub async fn ticket_token(
        &self,
        hall: &str,
        day: chrono::NaiveDate,
        ticket_no: &str,
    ) -> Result<Option<String>, StoreError> {
        let token: Option<Option<String>> = sqlx::query_scalar(
            "SELECT public_token FROM tickets WHERE hall_id = $1 AND business_date = $2 AND ticket_no = $3 AND source <> ''",
        )
        .bind(hall)
        .bind(day.to_string())
        .bind(ticket_no)
        .fetch_optional(self.pool())
        .await
        .doing("reading a ticket's live-page token")?;
        Ok(token.flatten())
    }

    /// Where the ticket whose live-page token is `token` stands at `now`; `None` for a token
    /// no ticket has.
    pub async fn ticket_live(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<TicketLive>, StoreError> {
        let doing = "reading a ticket's live state";
        let Some(r) = sqlx::query(
            "SELECT hall_id, business_date, ticket_no, priority, number, window_no, called_at, served_at, voided_at, \
             COALESCE(queue_category, category) AS qc, COALESCE(queued_at, issued_at) AS place, for_window \
             FROM tickets WHERE public_token = $1",
        )
        .bind(token)
        .fetch_optional(self.pool())
        .await
        .doing(doing)?
        else {
            return Ok(None);
        };
        let ticket_no: String = r.try_get("ticket_no").doing(doing)?;
        let called: Option<i64> = r.try_get("called_at").doing(doing)?;
        let served: Option<i64> = r.try_get("served_at").doing(doing)?;
        let voided: Option<i64> = r.try_get("voided_at").doing(doing)?;
        let window: Option<i64> = r.try_get("window_no").doing(doing)?;
        let state = match (voided, served, called) {
            (Some(_), _, _) => "voided",
            (None, Some(_), _) => "served",
            (None, None, Some(_)) => "called",
            (None, None, None) => "waiting",
        };
        let mut live = TicketLive {
            ticket_no,
            state,
            ahead: None,
            wait_secs: None,
            window_no: None,
        };
        if state == "called" {
            live.window_no = window.map(|w| u32_of(w, "window number")).transpose()?;
        }
        if state == "waiting" {
            let hall: String = r.try_get("hall_id").doing(doing)?;
            let day: String = r.try_get("business_date").doing(doing)?;
            let queue: String = r.try_get("qc").doing(doing)?;
            let rank = i64::from(r.try_get::<String, _>("priority").doing(doing)? == "normal");
            let place: i64 = r.try_get("place").doing(doing)?;
            let number: i64 = r.try_get("number").doing(doing)?;
            // Ahead: waiting tickets of the same queue that a window would call before this
            // one, by the order `call_at_window` uses.
            let ahead: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM tickets WHERE hall_id = $1 AND business_date = $2 \
                 AND COALESCE(queue_category, category) = $3 AND called_at IS NULL AND voided_at IS NULL \
                 AND served_at IS NULL AND source <> '' AND ( \
                 CASE WHEN priority = 'normal' THEN 1 ELSE 0 END < $4 \
                 OR (CASE WHEN priority = 'normal' THEN 1 ELSE 0 END = $4 AND COALESCE(queued_at, issued_at) < $5) \
                 OR (CASE WHEN priority = 'normal' THEN 1 ELSE 0 END = $4 AND COALESCE(queued_at, issued_at) = $5 AND number < $6))",
            )
            .bind(&hall)
            .bind(&day)
            .bind(&queue)
            .bind(rank)
            .bind(place)
            .bind(number)
            .fetch_one(self.pool())
            .await
            .doing(doing)?;
            let ahead = u64::try_from(ahead).map_err(|_| StoreError::Corrupt("count"))?;
            let pace = self.service_pace(&hall, business_date_at(now)).await?;
            live.ahead = Some(ahead);
            live.wait_secs = pace.get(&queue).map(|p| {
                u32::try_from(u64::from(*p).saturating_mul(ahead + 1)).unwrap_or(u32::MAX)
            });
        }
        Ok(Some(live))
    }
}

/// Unix milliseconds at which the hall's business day of `now` began.
fn business_day_start(now: DateTime<Utc>) -> i64 {
    let offset = kiosk_api::citizen::hall_offset();
    business_date_at(now)
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(offset).single())
        .map_or(0, |t| t.timestamp_millis())
}

fn call_row(r: &sqlx::any::AnyRow) -> Result<CallRow, StoreError> {
    let doing = "reading the hall's calls";
    Ok(CallRow {
        id: r.try_get("id").doing(doing)?,
        ticket_no: r.try_get("ticket_no").doing(doing)?,
        window_no: u32_of(r.try_get("window_no").doing(doing)?, "window number")?,
        at: DateTime::from_timestamp_millis(r.try_get("called_at").doing(doing)?)
            .ok_or(StoreError::Corrupt("call time"))?,
        recall: r.try_get::<i64, _>("recall").doing(doing)? != 0,
    })
}

struct Current {
    own_category: String,
    number: i64,
    day: String,
    ticket: WindowTicket,
}

impl Current {
    /// `sql` on this ticket's row, whose key is `$1`–`$4` (hall, day, category, number);
    /// the caller binds any further parameters.
    fn on_row<'q>(
        &'q self,
        hall: &'q str,
        sql: &'static str,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        sqlx::query(sql)
            .bind(hall)
            .bind(&self.day)
            .bind(&self.own_category)
            .bind(self.number)
    }

    /// Records what became of this ticket's call at `window`.
    async fn end(
        &self,
        w: &mut WriteTx,
        hall: &str,
        window: u32,
        outcome: Outcome,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        end_call(
            w,
            hall,
            &self.day,
            &self.ticket.ticket_no,
            window,
            outcome,
            now,
        )
        .await
    }
}

fn window_ticket_of(r: &sqlx::any::AnyRow, window: u32) -> Result<WindowTicket, StoreError> {
    let doing = "reading a window's current ticket";
    Ok(WindowTicket {
        ticket_no: r.try_get("ticket_no").doing(doing)?,
        category: r.try_get("qc").doing(doing)?,
        priority: r.try_get("priority").doing(doing)?,
        window_no: window,
        called_at: DateTime::from_timestamp_millis(r.try_get("called_at").doing(doing)?)
            .ok_or(StoreError::Corrupt("call time"))?,
        recalls: u32_of(r.try_get("recalls").doing(doing)?, "recall count")?,
        unconfirmed: r.try_get::<i64, _>("unconfirmed").doing(doing)? != 0,
    })
}

/// A call or recall as `hall_calls` keeps it.
struct CallLog<'a> {
    ticket_no: &'a str,
    window: u32,
    day: &'a str,
    /// The queue it is called from.
    queue: &'a str,
    clerk: &'a str,
    /// The wait before a first call; `None` marks a recall.
    waited_ms: Option<i64>,
}

async fn log_call(
    w: &mut WriteTx,
    hall: &str,
    call: &CallLog<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO hall_calls (hall_id, ticket_no, window_no, called_at, recall, business_date, category, clerk, waited_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(hall)
    .bind(call.ticket_no)
    .bind(i64::from(call.window))
    .bind(now.timestamp_millis())
    .bind(i64::from(call.waited_ms.is_none()))
    .bind(call.day)
    .bind(call.queue)
    .bind(call.clerk)
    .bind(call.waited_ms)
    .execute(&mut *w.tx)
    .await
    .doing("logging a call")?;
    Ok(())
}

/// What became of a call at a window, as `hall_calls.outcome` keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Served (办结), or the window called its next ticket, which ends this one's service.
    Served,
    /// 过号.
    NoShow,
    /// Sent to another queue or window.
    Transferred,
}

impl Outcome {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Outcome::Served => "served",
            Outcome::NoShow => "no_show",
            Outcome::Transferred => "transferred",
        }
    }
}

/// Closes the open first call of `ticket_no` at `window` on `day`. Keyed by the newest such
/// call: a ticket requeued after a no-show may be called at the same window again.
async fn end_call(
    w: &mut WriteTx,
    hall: &str,
    day: &str,
    ticket_no: &str,
    window: u32,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE hall_calls SET outcome = $5, ended_at = $6 WHERE id = (SELECT MAX(id) FROM hall_calls \
         WHERE hall_id = $1 AND business_date = $2 AND ticket_no = $3 AND window_no = $4 AND recall = 0) \
         AND outcome IS NULL",
    )
    .bind(hall)
    .bind(day)
    .bind(ticket_no)
    .bind(i64::from(window))
    .bind(outcome.as_str())
    .bind(now.timestamp_millis())
    .execute(&mut *w.tx)
    .await
    .doing("closing a call")?;
    Ok(())
}
