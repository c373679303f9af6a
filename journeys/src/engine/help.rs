//! Calls for help: the request queued at priority 0 with the uplink nudged, and the poll of
//! central that tells the citizen how far it got while the help page is shown.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kiosk_api::Stream;
use kiosk_api::citizen::{CitizenEvent, HelpRequested};
use kiosk_core::store::{NewEvent, Store};
use kiosk_core::sync::{CentralClient, UplinkHandle};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::Stats;
use super::blocking::blocking;
use crate::machines::{HelpProgress, Notice};
use crate::model::{Language, Text};

/// How often central is asked about a help request while the help page is shown.
const HELP_POLL: Duration = Duration::from_secs(2);

/// Queues a help request; its event id, or why it could not be written down (then the page
/// sends the citizen to the help desk at once, and the caller re-checks availability).
pub(super) async fn call(
    store: &Store,
    uplink: Option<&UplinkHandle>,
    (page, language, at): (&str, Language, DateTime<Utc>),
    desk: &Text,
    stats: &mut Stats,
) -> Result<Uuid, Notice> {
    let payload = HelpRequested {
        page: page.to_owned(),
        language,
        at,
    }
    .to_payload();
    let store = store.clone();
    let event = NewEvent {
        stream: Stream::Help,
        kind: HelpRequested::KIND.into(),
        payload,
        personal: false,
        attachments: Vec::new(),
    };
    let not_sent = Notice {
        title: Text::new("呼叫未能发出", "Your call could not be sent"),
        message: Text::new(
            format!("请您现在直接前往{}", desk.zh),
            format!("Please go to {} now", desk.en),
        ),
        window: Some(desk.clone()),
    };
    match blocking(move || store.enqueue(event)).await {
        Ok(Some(committed)) => {
            stats.help_requests += 1;
            if let Some(u) = uplink {
                u.nudge();
            }
            Ok(committed.event_id)
        }
        Ok(None) => {
            tracing::error!("help request dropped by the store");
            Err(not_sent)
        }
        Err(err) => {
            tracing::error!(%err, "help request not queued");
            Err(not_sent)
        }
    }
}

/// Polls central for help request `event_id` every [`HELP_POLL`] and sends each answer to
/// `updates`, until staff acknowledge it or nobody listens. Abort the task when the page
/// goes.
pub(super) fn follow(
    client: Option<CentralClient>,
    updates: mpsc::UnboundedSender<(Uuid, HelpProgress)>,
    event_id: Uuid,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(client) = client else {
            // Never enrolled: nobody can receive it, and the page already says so.
            return;
        };
        loop {
            let progress = match client.help_status(event_id).await {
                Ok(Some(status)) if status.acknowledged_at.is_some() => HelpProgress::OnTheWay {
                    by: status.acknowledged_by,
                },
                Ok(Some(_)) => HelpProgress::Received,
                Ok(None) => HelpProgress::Queued,
                Err(err) => {
                    tracing::debug!(%err, "help status not fetched");
                    HelpProgress::Queued
                }
            };
            let done = matches!(progress, HelpProgress::OnTheWay { .. });
            if updates.send((event_id, progress)).is_err() || done {
                return;
            }
            tokio::time::sleep(HELP_POLL).await;
        }
    })
}
