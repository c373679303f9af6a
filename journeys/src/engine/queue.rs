//! The queue keeper: keeps central's queue state and leases number blocks ahead of need, off the
//! citizen's path, so issuing a ticket never waits on the network (docs/architecture.md, "Numbers
//! are unique by construction"). It also leases the next business day's blocks in the afternoon
//! (and after any refill), so a day that starts offline still issues numbers from central's blocks
//! rather than the band, and keeps the holder keys central gives (for hashing cards) up to date.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Timelike as _, Utc};
use kiosk_api::citizen::{HolderKeys, LeaseRequest, QueueSnapshot, business_date_at, hall_offset};
use kiosk_core::store::Store;
use tokio::sync::Notify;
use uuid::Uuid;

use kiosk_core::sync::{CentralClient, SyncError};

use crate::clock::Clock;

/// Cache key of the last queue state.
pub(super) const QUEUE_STATE_KEY: &str = "queue_state";

/// From this hour (hall time) the next business day's blocks are leased too.
pub const LEASE_AHEAD_FROM_HOUR: u32 = 12;

/// How often the holder keys are fetched again once the kiosk has some (rotations are rare
/// and old keys stay valid for lookups, so there is no hurry).
const HOLDER_KEYS_REFRESH: Duration = Duration::from_secs(3600);

/// What the kiosk knows of the queues.
#[derive(Debug, Default)]
pub(super) struct QueueInfo {
    /// Central's last answer; only ever used on its own business date.
    pub snapshot: Option<QueueSnapshot>,
    /// When it was fetched.
    pub fetched_at: Option<DateTime<Utc>>,
    /// Whether the last call to central got an answer.
    pub online: bool,
    /// Tickets this kiosk printed per business date and category since the snapshot.
    pub issued_since: HashMap<(NaiveDate, String), u32>,
    /// The id of the lease request per business date and category that got no answer yet.
    /// It is sent again with the retry, so a block central granted but whose answer was lost
    /// comes back instead of staying leased to this kiosk unused (issue 17 item 6).
    pub unanswered_leases: HashMap<(NaiveDate, String), Uuid>,
}

impl QueueInfo {
    /// The snapshot if it is of `today` (one of another day is never shown).
    fn todays(&self, today: NaiveDate) -> Option<&QueueSnapshot> {
        self.snapshot.as_ref().filter(|s| s.business_date == today)
    }

    /// Where central's live pages are (`central serve --public-url`), as it last said; kept
    /// from an older snapshot too, so a ticket printed offline still gets its page.
    pub fn live_url_prefix(&self) -> Option<&str> {
        self.snapshot.as_ref()?.live_url_prefix.as_deref()
    }

    /// Whether central's figures for `today` are known at all.
    pub fn has_figures(&self, today: NaiveDate) -> bool {
        self.todays(today).is_some()
    }

    /// This kiosk's tickets of `category` on `today` since the snapshot.
    pub fn own_since(&self, category: &str, today: NaiveDate) -> u32 {
        self.issued_since
            .get(&(today, category.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Counts a ticket this kiosk printed.
    pub fn count_issued(&mut self, category: &str, day: NaiveDate) {
        *self
            .issued_since
            .entry((day, category.to_owned()))
            .or_default() += 1;
    }

    /// People waiting in `category` on `today` as far as the kiosk knows; `None` without
    /// central's figures for today.
    pub fn waiting(&self, category: &str, today: NaiveDate) -> Option<u32> {
        let base = self
            .todays(today)?
            .categories
            .iter()
            .find(|c| c.category == category)
            .map_or(0, |c| c.waiting);
        Some(base + self.own_since(category, today))
    }

    /// Seconds each ticket ahead adds, from central (None: use the catalog's figure).
    pub fn avg_service_secs(&self, category: &str, today: NaiveDate) -> Option<u32> {
        self.todays(today)?
            .categories
            .iter()
            .find(|c| c.category == category)
            .and_then(|c| c.avg_service_secs)
    }

    /// Whether the figures are not fresh from central.
    pub fn stale(&self, now: DateTime<Utc>, refresh: Duration) -> bool {
        let limit = chrono::Duration::from_std(refresh * 3).unwrap_or(chrono::Duration::MAX);
        !self.online || self.fetched_at.is_none_or(|at| now - at > limit)
    }
}

/// The business dates whose blocks the keeper keeps topped up at `now`: today, and from
/// [`LEASE_AHEAD_FROM_HOUR`] (hall time) tomorrow too, or whenever `refilled` (a block for
/// today was just leased, so the kiosk is online now and may not be this afternoon).
pub fn lease_dates(now: DateTime<Utc>, refilled: bool) -> Vec<NaiveDate> {
    let today = business_date_at(now);
    let hour = now.with_timezone(&hall_offset()).hour();
    let mut dates = vec![today];
    if (hour >= LEASE_AHEAD_FROM_HOUR || refilled)
        && let Some(tomorrow) = today.succ_opt()
    {
        dates.push(tomorrow);
    }
    dates
}

/// Whether `answer` ends a lease request, so its `request_id` is not sent again: a block, or
/// a refusal that says nothing was granted. Without a clear answer (none, a timeout, a server
/// error, a garbled body) central may have granted the block, and the retry must carry the
/// same id to get it back.
fn lease_settled(answer: &Result<kiosk_api::citizen::Lease, SyncError>) -> bool {
    match answer {
        Ok(_) => true,
        Err(SyncError::Refused { status, .. }) => (400..500).contains(status) && *status != 408,
        Err(_) => false,
    }
}

/// The keeper's settings.
pub(super) struct Keeper {
    pub store: Store,
    pub client: Option<CentralClient>,
    pub clock: Arc<dyn Clock>,
    /// The holder keys the actor hashes cards with; the keeper replaces them after a fetch.
    pub keys: Arc<Mutex<Option<HolderKeys>>>,
    pub info: Arc<Mutex<QueueInfo>>,
    pub categories: Vec<String>,
    pub lease_size: u32,
    pub low_water: u32,
    pub refresh: Duration,
    pub wake: Arc<Notify>,
    /// Notified when central answers again after not answering (the actor nudges the
    /// uplink).
    pub reconnected: Arc<Notify>,
}

fn lock(info: &Mutex<QueueInfo>) -> std::sync::MutexGuard<'_, QueueInfo> {
    info.lock().unwrap_or_else(|p| p.into_inner())
}

impl Keeper {
    /// Loads the cached queue state, then runs until the runtime stops. A cached state of
    /// another business day is loaded too but never shown ([`QueueInfo::waiting`]).
    pub(super) async fn run(self) {
        let store = self.store.clone();
        if let Ok(Ok(Some((value, at)))) =
            tokio::task::spawn_blocking(move || store.cache_get(QUEUE_STATE_KEY)).await
            && let Ok(snapshot) = serde_json::from_value::<QueueSnapshot>(value)
        {
            let mut info = lock(&self.info);
            info.snapshot = Some(snapshot);
            info.fetched_at = DateTime::from_timestamp_millis(at);
        }
        let Some(client) = self.client.clone() else {
            return;
        };
        let mut keys_fetched: Option<tokio::time::Instant> = None;
        loop {
            self.round(&client).await;
            if lock(&self.info).online
                && keys_fetched.is_none_or(|at| at.elapsed() >= HOLDER_KEYS_REFRESH)
                && self.fetch_holder_keys(&client).await
            {
                keys_fetched = Some(tokio::time::Instant::now());
            }
            tokio::select! {
                () = tokio::time::sleep(self.refresh) => {}
                () = self.wake.notified() => {}
            }
        }
    }

    async fn round(&self, client: &CentralClient) {
        let was_online = lock(&self.info).online;
        let online = match client.queue_state().await {
            Ok(snapshot) => {
                let now = self.clock.now();
                let store = self.store.clone();
                let value = serde_json::to_value(&snapshot).unwrap_or_default();
                let _ = tokio::task::spawn_blocking(move || {
                    store.cache_put_at(QUEUE_STATE_KEY, &value, now.timestamp_millis())
                })
                .await;
                let mut info = lock(&self.info);
                info.snapshot = Some(snapshot);
                info.fetched_at = Some(now);
                info.issued_since.clear();
                info.online = true;
                true
            }
            Err(err) => {
                tracing::debug!(%err, "queue state not fetched");
                lock(&self.info).online = false;
                false
            }
        };
        if online && !was_online {
            tracing::info!("central answers again");
            self.reconnected.notify_one();
        }
        if online {
            self.top_up(client).await;
        }
    }

    /// Fetches central's holder keys and keeps them (sealed) for offline use. False if
    /// central did not give them.
    async fn fetch_holder_keys(&self, client: &CentralClient) -> bool {
        match client.holder_keys().await {
            Ok(keys) if !keys.keys.is_empty() => {
                let store = self.store.clone();
                let kept = keys.clone();
                match tokio::task::spawn_blocking(move || store.save_holder_keys(&kept)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => {
                        tracing::warn!(%err, "holder keys not kept; used until restart")
                    }
                    Err(err) => tracing::warn!(%err, "holder keys not kept"),
                }
                if let Ok(mut mine) = self.keys.lock() {
                    *mine = Some(keys);
                }
                true
            }
            Ok(_) => {
                tracing::warn!("central has no holder keys");
                false
            }
            Err(err) => {
                tracing::debug!(%err, "holder keys not fetched");
                false
            }
        }
    }

    /// Leases a block for every category running low today, and for tomorrow as
    /// [`lease_dates`] says.
    async fn top_up(&self, client: &CentralClient) {
        let now = self.clock.now();
        let Some(refilled) = self.top_up_day(client, business_date_at(now)).await else {
            return;
        };
        if let Some(tomorrow) = lease_dates(now, refilled).get(1).copied() {
            let _ = self.top_up_day(client, tomorrow).await;
        }
    }

    /// Leases a block for every category running low on `date`. Whether any block was
    /// leased; `None` when central stopped answering.
    async fn top_up_day(&self, client: &CentralClient, date: NaiveDate) -> Option<bool> {
        let mut leased_any = false;
        for category in &self.categories {
            let store = self.store.clone();
            let c = category.clone();
            let left = match tokio::task::spawn_blocking(move || {
                store.leased_numbers_left(&c, date)
            })
            .await
            {
                Ok(Ok(left)) => left,
                _ => continue,
            };
            if left >= self.low_water.max(1) {
                continue;
            }
            let key = (date, category.clone());
            let request_id = *lock(&self.info)
                .unanswered_leases
                .entry(key.clone())
                .or_insert_with(Uuid::new_v4);
            let request = LeaseRequest {
                category: category.clone(),
                business_date: date,
                count: self.lease_size,
                request_id: Some(request_id),
            };
            let answer = client.lease(&request).await;
            if lease_settled(&answer) {
                lock(&self.info).unanswered_leases.remove(&key);
            }
            match answer {
                Ok(lease) => {
                    tracing::info!(category = %lease.category, date = %lease.business_date, first = lease.first, last = lease.last, "number block leased");
                    let store = self.store.clone();
                    match tokio::task::spawn_blocking(move || store.add_lease(&lease)).await {
                        Ok(Ok(())) => leased_any = true,
                        Ok(Err(err)) => {
                            tracing::error!(%err, "leased block not stored; it stays unused")
                        }
                        Err(err) => tracing::error!(%err, "leased block not stored"),
                    }
                }
                Err(SyncError::Refused {
                    status: 409, error, ..
                }) if error.error == kiosk_api::citizen::citizen_error::NUMBERS_EXHAUSTED => {
                    tracing::warn!(%category, %date, "central has no numbers left below 500; the band will be used");
                }
                Err(err) => {
                    tracing::debug!(%err, "lease not obtained");
                    lock(&self.info).online = false;
                    return None;
                }
            }
        }
        Some(leased_any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_lease_request_keeps_its_id_until_central_clearly_answers() {
        let refused = |status| {
            Err(SyncError::Refused {
                url: "u".into(),
                status,
                error: kiosk_api::ApiError {
                    error: "e".into(),
                    message: "m".into(),
                },
            })
        };
        for status in [409, 422, 429, 403] {
            assert!(lease_settled(&refused(status)), "{status}");
        }
        for status in [408, 500, 503] {
            assert!(!lease_settled(&refused(status)), "{status}");
        }
        assert!(!lease_settled(&Err(SyncError::Protocol {
            url: "u".into(),
            message: "garbled".into(),
        })));
    }

    #[test]
    fn tomorrow_is_leased_from_noon_hall_time_or_right_after_a_refill() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        // 09:00 in the hall (01:00 UTC): today only, unless a refill just happened.
        assert_eq!(lease_dates(at("2026-12-01T01:00:00Z"), false), [day(1)]);
        assert_eq!(
            lease_dates(at("2026-12-01T01:00:00Z"), true),
            [day(1), day(2)]
        );
        // 13:00 in the hall (05:00 UTC): tomorrow too.
        assert_eq!(
            lease_dates(at("2026-12-01T05:00:00Z"), false),
            [day(1), day(2)]
        );
        // 23:59 in the hall is still the 1st; one minute later the 2nd is today.
        assert_eq!(
            lease_dates(at("2026-12-01T15:59:00Z"), false),
            [day(1), day(2)]
        );
        assert_eq!(lease_dates(at("2026-12-01T16:00:00Z"), false), [day(2)]);
    }

    #[test]
    fn a_snapshot_of_another_day_is_never_shown() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        let mut info = QueueInfo {
            snapshot: Some(QueueSnapshot {
                business_date: day(1),
                as_of: at("2026-12-01T09:00:00Z"),
                categories: vec![kiosk_api::citizen::CategoryQueue {
                    category: "A".into(),
                    waiting: 7,
                    avg_service_secs: Some(60),
                    now_serving: None,
                }],
                live_url_prefix: None,
            }),
            ..QueueInfo::default()
        };
        info.count_issued("A", day(1));
        assert_eq!(info.waiting("A", day(1)), Some(8));
        assert_eq!(info.avg_service_secs("A", day(1)), Some(60));
        assert!(info.has_figures(day(1)));
        assert_eq!(info.waiting("A", day(2)), None);
        assert_eq!(info.avg_service_secs("A", day(2)), None);
        assert!(!info.has_figures(day(2)));
        info.count_issued("A", day(2));
        assert_eq!(info.own_since("A", day(2)), 1);
    }
}
