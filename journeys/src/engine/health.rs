//! Health: what the kiosk's devices, disk and keys allow (published as [`Availability`]),
//! and the `health_report` events that tell central.

use std::path::PathBuf;
use std::sync::Mutex;

use kiosk_api::Stream;
use kiosk_api::citizen::HolderKeys;
use kiosk_api::fleet::{DeviceReport, DeviceState, HealthReport};
use kiosk_core::store::{NewEvent, Store};
use kiosk_hal::{DeviceHealth, HealthState};

use super::availability::{Conditions, availability};
use super::blocking::blocking;
use crate::model::{Availability, Text};

/// What decides availability besides the devices' health.
pub(super) struct Facts<'a> {
    /// The store, for its disk budget.
    pub(super) store: &'a Store,
    /// The holder keys, if any.
    pub(super) keys: &'a Mutex<Option<HolderKeys>>,
    /// Whether the kiosk can number applications.
    pub(super) numbering: bool,
    /// Whether central answered lately.
    pub(super) online: bool,
    /// The hall's help desk, named in the reasons.
    pub(super) desk: &'a Text,
}

/// Which journeys can run now, and why not.
pub(super) fn current(healths: &[DeviceHealth], facts: Facts<'_>) -> Availability {
    let accepting = facts
        .store
        .capacity()
        .map(|c| c.accepting_records)
        .unwrap_or_else(|e| !e.is_disk_full());
    let card_lookup = facts
        .keys
        .lock()
        .map(|k| k.as_ref().is_some_and(|k| !k.keys.is_empty()))
        .unwrap_or(false);
    availability(
        healths,
        Conditions {
            accepting_records: accepting,
            card_lookup,
            numbering: facts.numbering,
            online: facts.online,
            revoked: facts.store.revocation().ok().flatten().is_some(),
        },
        facts.desk,
    )
}

/// The devices as central's health report carries them.
fn device_reports(healths: Vec<DeviceHealth>) -> Vec<DeviceReport> {
    healths
        .into_iter()
        .map(|h| {
            let (state, detail) = match &h.state {
                HealthState::Ready => (DeviceState::Ready, String::new()),
                HealthState::Degraded(d) => (DeviceState::Degraded, d.clone()),
                HealthState::Fault(d) => (DeviceState::Fault, d.clone()),
                HealthState::Absent => (DeviceState::Absent, h.location.clone()),
            };
            DeviceReport {
                kind: h.kind,
                state,
                detail,
            }
        })
        .collect()
}

/// The release this process runs (`kiosk_core::release`), looked up once.
fn running_version() -> &'static str {
    static RUNNING: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    RUNNING.get_or_init(|| kiosk_core::release::running_version(env!("CARGO_PKG_VERSION")))
}

/// Queues a `health_report` event: version, devices, backlog, quarantine, free disk, and
/// whether a citizen is at the kiosk.
pub(super) async fn report(
    store: &Store,
    data_dir: PathBuf,
    healths: Vec<DeviceHealth>,
    session_active: bool,
) {
    let devices = device_reports(healths);
    let store = store.clone();
    let result = blocking(move || {
        let report = HealthReport {
            version: running_version().into(),
            devices,
            backlog: store.backlog()?,
            disk_free_bytes: kiosk_core::store::free_bytes(&data_dir).unwrap_or(0),
            session_active,
            quarantined: store.quarantined()?,
            quarantine: store.quarantine_summary()?,
        };
        store.enqueue(NewEvent {
            stream: Stream::Health,
            kind: kiosk_api::fleet::KIND_HEALTH_REPORT.into(),
            payload: serde_json::to_value(&report)?,
            personal: false,
            attachments: Vec::new(),
        })
    })
    .await;
    if let Err(err) = result {
        tracing::warn!(%err, "health report not queued");
    }
}

#[cfg(test)]
mod tests {
    use kiosk_hal::DeviceKind;

    use super::*;

    #[test]
    fn device_kinds_keep_their_wire_names() {
        for kind in DeviceKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::from(kind.name())
            );
            let health = DeviceHealth::now(kind, "here", HealthState::Ready);
            assert_eq!(device_reports(vec![health])[0].kind, kind);
            let back: DeviceKind = serde_json::from_value(kind.name().into()).unwrap();
            assert_eq!(back, kind);
        }
    }
}
