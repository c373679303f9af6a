//! The queue keeper: keeps central's queue state and leases number blocks ahead of need, off
//! the citizen's path, so issuing a ticket never waits on the network (DESIGN §6).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use kiosk_api::citizen::{LeaseRequest, QueueSnapshot, business_date_at};
use kiosk_core::store::Store;
use tokio::sync::Notify;

use kiosk_core::sync::{CentralClient, SyncError};

/// Cache key of the last queue state.
pub(super) const QUEUE_STATE_KEY: &str = "queue_state";

/// What the kiosk knows of the queues.
#[derive(Debug, Default)]
pub(super) struct QueueInfo {
    /// Central's last answer.
    pub snapshot: Option<QueueSnapshot>,
    /// When it was fetched.
    pub fetched_at: Option<DateTime<Utc>>,
    /// Whether the last call to central got an answer.
    pub online: bool,
    /// Tickets this kiosk printed per category since the snapshot.
    pub issued_since: HashMap<String, u32>,
}

impl QueueInfo {
    /// People waiting in `category` as far as the kiosk knows.
    pub fn waiting(&self, category: &str) -> Option<u32> {
        let base = self
            .snapshot
            .as_ref()?
            .categories
            .iter()
            .find(|c| c.category == category)
            .map_or(0, |c| c.waiting);
        Some(base + self.issued_since.get(category).copied().unwrap_or(0))
    }

    /// Seconds each ticket ahead adds, from central (None: use the catalog's figure).
    pub fn avg_service_secs(&self, category: &str) -> Option<u32> {
        self.snapshot
            .as_ref()?
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

/// The keeper's settings.
pub(super) struct Keeper {
    pub store: Store,
    pub client: Option<CentralClient>,
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
    /// Loads the cached queue state, then runs until the runtime stops.
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
        loop {
            self.round(&client).await;
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
                let store = self.store.clone();
                let value = serde_json::to_value(&snapshot).unwrap_or_default();
                let _ =
                    tokio::task::spawn_blocking(move || store.cache_put(QUEUE_STATE_KEY, &value))
                        .await;
                let mut info = lock(&self.info);
                info.snapshot = Some(snapshot);
                info.fetched_at = Some(Utc::now());
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

    /// Leases a block for every category running low today.
    async fn top_up(&self, client: &CentralClient) {
        let today = business_date_at(Utc::now());
        for category in &self.categories {
            let store = self.store.clone();
            let c = category.clone();
            let left =
                match tokio::task::spawn_blocking(move || store.leased_numbers_left(&c, today))
                    .await
                {
                    Ok(Ok(left)) => left,
                    _ => continue,
                };
            if left >= self.low_water.max(1) {
                continue;
            }
            let request = LeaseRequest {
                category: category.clone(),
                business_date: today,
                count: self.lease_size,
            };
            match client.lease(&request).await {
                Ok(lease) => {
                    tracing::info!(category = %lease.category, first = lease.first, last = lease.last, "number block leased");
                    let store = self.store.clone();
                    if let Ok(Err(err)) =
                        tokio::task::spawn_blocking(move || store.add_lease(&lease)).await
                    {
                        tracing::error!(%err, "leased block not stored; it stays unused");
                    }
                }
                Err(SyncError::Refused {
                    status: 409, error, ..
                }) if error.error == kiosk_api::citizen::citizen_error::NUMBERS_EXHAUSTED => {
                    tracing::warn!(%category, "central has no numbers left below 500; the band will be used");
                }
                Err(err) => {
                    tracing::debug!(%err, "lease not obtained");
                    lock(&self.info).online = false;
                    return;
                }
            }
        }
    }
}
