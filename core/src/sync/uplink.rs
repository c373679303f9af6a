//! The uplink task: drains the outbox to central.
//!
//! One batch at a time, in priority then sequence order, each signed; central answers per
//! event and the acknowledged rows are deleted in one transaction. Attachments an event names
//! are uploaded (resumably, in chunks) before the event is sent. On failure the task waits a
//! capped, jittered, growing delay, cut short by [`UplinkHandle::nudge`] (connectivity is back)
//! or by new events.
//!
//! Only one batch is ever in flight, and the next batch is read from the outbox only after the
//! previous one's answers were applied: so within a stream (one priority) central receives
//! sequence numbers in increasing order.
//!
//! One bad event never stops the others: a row that cannot be read, an event whose spool
//! file is missing or damaged, an event central refuses for good, and an event too large for
//! any batch (a single-event batch answered 413) each go to the store's quarantine, and the
//! rest keeps flowing. A 413 (or a 422 for the whole batch) halves the batch; after
//! [`GROW_AFTER`] good rounds it doubles again, up to the size configured.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiosk_api::{Event, EventBatch, routes};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::SyncError;
use super::backoff::Backoff;
use super::client::{CentralClient, ChunkAnswer};
use crate::store::{AttachmentId, PendingEvent, Store, StoreError, SyncStatus, quarantine_reason};

/// Good rounds at a reduced batch size before it doubles again.
pub const GROW_AFTER: u32 = 8;

/// Builds and starts an [`Uplink`] task.
#[derive(Debug)]
pub struct UplinkBuilder {
    store: Store,
    client: CentralClient,
    backoff: Backoff,
    max_events: usize,
    max_bytes: usize,
    idle_poll: Duration,
}

/// Namespace of the uplink; see [`Uplink::builder`].
#[derive(Debug)]
pub struct Uplink;

impl Uplink {
    /// An uplink draining `store` to central through `client`.
    pub fn builder(store: Store, client: CentralClient) -> UplinkBuilder {
        UplinkBuilder {
            store,
            client,
            backoff: Backoff::default(),
            max_events: routes::MAX_BATCH_EVENTS,
            // Leave room for the JSON framing of each event around its payload.
            max_bytes: routes::MAX_BATCH_BYTES / 2,
            idle_poll: Duration::from_secs(30),
        }
    }
}

impl UplinkBuilder {
    /// Retry delays after failures.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Most events per batch (at most the contract's 500).
    pub fn max_batch_events(mut self, n: usize) -> Self {
        self.max_events = n.clamp(1, routes::MAX_BATCH_EVENTS);
        self
    }

    /// How often an idle uplink looks for deferred events even without being woken.
    pub fn idle_poll(mut self, every: Duration) -> Self {
        self.idle_poll = every;
        self
    }

    /// Starts the task on the current tokio runtime.
    pub fn spawn(self) -> UplinkHandle {
        let initial = self.store.status().unwrap_or_else(|_| empty_status());
        let (status_tx, status_rx) = watch::channel(initial);
        let nudge = Arc::new(Notify::new());
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = Task {
            store: self.store,
            client: self.client,
            backoff: self.backoff,
            max_events: self.max_events,
            configured_max_events: self.max_events,
            good_rounds: 0,
            max_bytes: self.max_bytes,
            idle_poll: self.idle_poll,
            nudge: nudge.clone(),
            stop: stop_rx,
            status: status_tx,
            last_status: None,
        };
        UplinkHandle {
            nudge,
            stop: stop_tx,
            status: status_rx,
            join: tokio::spawn(task.run()),
        }
    }
}

/// Control of a running uplink.
#[derive(Debug)]
pub struct UplinkHandle {
    nudge: Arc<Notify>,
    stop: watch::Sender<bool>,
    status: watch::Receiver<SyncStatus>,
    join: JoinHandle<()>,
}

impl UplinkHandle {
    /// Retry now: cuts short a backoff delay. Call when connectivity returns.
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// The status snapshot, updated after every attempt (also persisted in the store).
    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.status.clone()
    }

    /// Stops the task after the request in flight, and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.join.await;
    }
}

struct Task {
    store: Store,
    client: CentralClient,
    backoff: Backoff,
    /// The batch size now: halved by a 413, grown back after good rounds.
    max_events: usize,
    configured_max_events: usize,
    /// Good rounds since the batch size last changed.
    good_rounds: u32,
    max_bytes: usize,
    idle_poll: Duration,
    nudge: Arc<Notify>,
    stop: watch::Receiver<bool>,
    status: watch::Sender<SyncStatus>,
    last_status: Option<Instant>,
}

enum Round {
    /// Sent a batch; there may be more.
    Sent,
    /// Nothing due.
    Idle,
}

/// How long a revoked kiosk waits before asking central again.
pub const REVOKED_RETRY: Duration = Duration::from_secs(3600);

/// Publishing the status scans the outbox; during a long drain once a second is plenty.
const STATUS_EVERY: Duration = Duration::from_secs(1);

impl Task {
    async fn run(mut self) {
        let mut failures = 0u32;
        loop {
            if *self.stop.borrow() {
                break;
            }
            let round = self.round().await;
            let idle = matches!(round, Ok(Round::Idle));
            let wait = match round {
                Ok(Round::Sent) => {
                    failures = 0;
                    self.publish(false).await;
                    continue;
                }
                Ok(Round::Idle) => {
                    failures = 0;
                    self.publish(true).await;
                    self.idle_poll
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let message = error.to_string();
                    let revocation = error.revocation().map(str::to_owned);
                    tracing::warn!(error = %message, failures, "uplink attempt failed");
                    let store = self.store.clone();
                    let revoked = revocation.is_some();
                    let _ = tokio::task::spawn_blocking(move || {
                        store.note_sync_result(Err(&message))?;
                        match revocation {
                            Some(why) => store.note_revocation(Some(&why)),
                            None => Ok(()),
                        }
                    })
                    .await;
                    self.publish(true).await;
                    if revoked {
                        // Nothing will be accepted until a technician re-provisions the kiosk
                        // (which restarts it); asking again now and then only notices a
                        // revocation lifted by mistake. The records stay in the outbox.
                        tracing::error!(
                            "central refuses this kiosk as revoked by ops; sending stops until it is re-provisioned"
                        );
                        REVOKED_RETRY
                    } else {
                        self.backoff.delay(failures, &mut rand::thread_rng())
                    }
                }
            };
            let store = self.store.clone();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.nudge.notified() => {}
                // New events while idle: send them. After a failure, new events do not cut
                // the backoff short; only a nudge does.
                _ = store.changed().notified(), if idle => {}
                _ = self.stop.changed() => {}
            }
        }
    }

    async fn publish(&mut self, force: bool) {
        if !force
            && self
                .last_status
                .is_some_and(|at| at.elapsed() < STATUS_EVERY)
        {
            return;
        }
        self.last_status = Some(Instant::now());
        let store = self.store.clone();
        if let Ok(Ok(status)) = tokio::task::spawn_blocking(move || store.status()).await {
            let _ = self.status.send(status);
        }
    }

    async fn round(&mut self) -> Result<Round, SyncError> {
        let store = self.store.clone();
        let (max_events, max_bytes) = (self.max_events, self.max_bytes);
        let mut batch = blocking(move || store.next_batch(max_events, max_bytes)).await?;
        if batch.is_empty() {
            return Ok(Round::Idle);
        }
        let attachments: BTreeSet<AttachmentId> = batch
            .iter()
            .flat_map(|e| e.attachments.iter().cloned())
            .collect();
        let mut lost = BTreeMap::new();
        for id in attachments {
            match self.upload(id.clone()).await {
                Ok(()) => {}
                Err(Upload::Lost(detail)) => {
                    lost.insert(id, detail);
                }
                Err(Upload::Failed(e)) => return Err(e),
            }
        }
        if !lost.is_empty() {
            let (bad, good): (Vec<_>, Vec<_>) = batch
                .into_iter()
                .partition(|e| e.attachments.iter().any(|a| lost.contains_key(a)));
            batch = good;
            for event in bad {
                let detail = event
                    .attachments
                    .iter()
                    .filter_map(|a| lost.get(a).map(|why| format!("attachment {a}: {why}")))
                    .collect::<Vec<_>>()
                    .join("; ");
                self.quarantine(&event, quarantine_reason::ATTACHMENT_LOST, detail)
                    .await?;
            }
            if batch.is_empty() {
                return Ok(Round::Sent);
            }
        }
        let wire = EventBatch {
            events: batch.iter().map(to_wire).collect::<Result<_, _>>()?,
        };
        let ack = match self.client.post_events(&wire).await {
            Err(SyncError::Refused {
                status: status @ (413 | 422),
                error,
                ..
            }) => {
                if batch.len() > 1 {
                    // Central's limits are lower than ours, or one event spoils the batch:
                    // halve and go again at once, down to the one at fault.
                    self.max_events = (batch.len() / 2).max(1);
                    self.good_rounds = 0;
                    tracing::info!(
                        status,
                        max_events = self.max_events,
                        "central refused the batch as a whole; sending smaller batches"
                    );
                } else {
                    let reason = if status == 413 {
                        quarantine_reason::TOO_LARGE
                    } else {
                        kiosk_api::reject_reason::INVALID_PAYLOAD
                    };
                    let detail = format!(
                        "central answered {status} to this event alone: {}",
                        error.message
                    );
                    self.quarantine(&batch[0], reason, detail).await?;
                }
                return Ok(Round::Sent);
            }
            other => other?,
        };
        let sent: BTreeSet<uuid::Uuid> = batch.iter().map(|e| e.event_id).collect();
        let results: Vec<_> = ack
            .results
            .into_iter()
            .filter(|r| sent.contains(&r.event_id))
            .map(|r| (r.event_id, r.outcome))
            .collect();
        let store = self.store.clone();
        blocking(move || {
            store.acknowledge(&results)?;
            store.note_sync_result(Ok(()))
        })
        .await?;
        self.grow_back();
        Ok(Round::Sent)
    }

    /// After a good round: a batch size cut by a 413 doubles again every [`GROW_AFTER`]
    /// good rounds, up to the size configured (central's limit may have been raised, or the
    /// large events are gone).
    fn grow_back(&mut self) {
        if self.max_events >= self.configured_max_events {
            return;
        }
        self.good_rounds += 1;
        if self.good_rounds >= GROW_AFTER {
            self.max_events = (self.max_events * 2).min(self.configured_max_events);
            self.good_rounds = 0;
            tracing::info!(max_events = self.max_events, "batch size grows back");
        }
    }

    async fn quarantine(
        &self,
        event: &PendingEvent,
        reason: &'static str,
        detail: String,
    ) -> Result<(), SyncError> {
        let store = self.store.clone();
        let seq = event.seq;
        blocking(move || store.quarantine_event(seq, reason, &detail).map(drop)).await
    }

    /// Uploads one attachment from wherever central's copy ends. A spool file that cannot be
    /// read or does not hash to its name is [`Upload::Lost`]: no retry will bring it back.
    async fn upload(&self, id: AttachmentId) -> Result<(), Upload> {
        let store = self.store.clone();
        let check = id.clone();
        if blocking(move || store.attachment_uploaded(&check)).await? {
            return Ok(());
        }
        let store = self.store.clone();
        let read = id.clone();
        let content = match tokio::task::spawn_blocking(move || store.read_attachment(&read)).await
        {
            Ok(Ok(content)) => content,
            Ok(Err(e @ (StoreError::Io { .. } | StoreError::Crypto { .. }))) => {
                return Err(Upload::Lost(match e {
                    StoreError::Io { source, .. } => format!("spool file unreadable: {source}"),
                    _ => "spool file damaged (does not decrypt or hash to its name)".into(),
                }));
            }
            Ok(Err(e)) => return Err(Upload::Failed(SyncError::Store(e))),
            Err(join) => return Err(Upload::Failed(SyncError::Task(join.to_string()))),
        };
        let total = content.len() as u64;
        let mut status = self.client.upload_status(id.as_str()).await?;
        while !status.complete {
            let offset = status.received;
            if offset > total {
                return Err(Upload::Failed(SyncError::Protocol {
                    url: routes::attachment(id.as_str()),
                    message: format!("central holds {offset} bytes of a {total}-byte attachment"),
                }));
            }
            let end = (offset + routes::MAX_CHUNK_BYTES as u64).min(total);
            let chunk = &content[offset as usize..end as usize];
            status = match self
                .client
                .put_chunk(id.as_str(), offset, total, chunk)
                .await?
            {
                ChunkAnswer::Accepted(s) | ChunkAnswer::OffsetMismatch(s) => s,
            };
            if !status.complete && status.received == offset && end > offset {
                return Err(Upload::Failed(SyncError::Protocol {
                    url: routes::attachment(id.as_str()),
                    message: format!("central accepted no bytes of the chunk at {offset}"),
                }));
            }
        }
        let store = self.store.clone();
        Ok(blocking(move || store.mark_attachment_uploaded(&id)).await?)
    }
}

/// Why an attachment did not reach central.
enum Upload {
    /// The spool file is gone or damaged: the events naming it go to quarantine.
    Lost(String),
    /// Anything else: the round fails and is retried.
    Failed(SyncError),
}

impl From<SyncError> for Upload {
    fn from(e: SyncError) -> Upload {
        Upload::Failed(e)
    }
}

fn to_wire(event: &PendingEvent) -> Result<Event, SyncError> {
    let occurred_at = chrono::DateTime::parse_from_rfc3339(&event.occurred_at)
        .map_err(|e| SyncError::Protocol {
            url: routes::EVENTS.to_owned(),
            message: format!("outbox row {}: bad occurred_at: {e}", event.seq),
        })?
        .with_timezone(&chrono::Utc);
    Ok(Event {
        event_id: event.event_id,
        seq: event.seq,
        stream: event.stream,
        kind: event.kind.clone(),
        priority: event.priority,
        occurred_at,
        payload: event.payload.clone(),
        attachments: event
            .attachments
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect(),
    })
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, SyncError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(SyncError::Store),
        Err(join) => Err(SyncError::Task(join.to_string())),
    }
}

fn empty_status() -> SyncStatus {
    SyncStatus {
        backlog: Vec::new(),
        total_backlog: 0,
        oldest_pending_age_secs: None,
        last_attempt_at: None,
        last_success_at: None,
        last_error: None,
        last_error_at: None,
        dropped_telemetry: 0,
        downsampled_telemetry: 0,
        accepting_records: true,
        used_bytes: 0,
        budget_bytes: 0,
        free_bytes: None,
        min_free_bytes: 0,
        quarantined: 0,
        revoked: None,
    }
}
