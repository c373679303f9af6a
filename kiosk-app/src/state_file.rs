//! Publishes the kiosk's state file (`<data_dir>/state.json`, contract E) for the update
//! agent's health gate and `kioskctl`: the UI thread and the I/O tasks record what they know
//! in a `watch` channel, and one task rewrites the file whenever it changes. Nobody on the UI
//! thread ever waits for the disk.

use std::path::PathBuf;

use kiosk_core::state::KioskState;
use tokio::sync::watch;

use crate::status::{Connectivity, KioskStatus};

/// The handle producers use to update the state. Cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct StatePublisher {
    tx: watch::Sender<KioskState>,
}

impl StatePublisher {
    /// Starts the writer task on the current tokio runtime. The first file, with nothing ready
    /// yet, is written at once so a reader sees this process's pid straight away.
    pub fn start(data_dir: PathBuf, version: &str) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = watch::channel(KioskState::starting(version));
        let task = tokio::spawn(write_on_change(rx, data_dir));
        (Self { tx }, task)
    }

    /// Changes the state; the file is rewritten only if something changed.
    pub fn update(&self, change: impl FnOnce(&mut KioskState)) {
        self.tx.send_if_modified(|state| {
            let before = state.clone();
            change(state);
            *state != before
        });
    }

    /// The first frame is on the screen.
    pub fn ui_drawn(&self) {
        self.update(|s| s.ui_drawn = true);
    }

    /// A citizen started or ended a journey.
    pub fn session_active(&self, active: bool) {
        self.update(|s| s.session_active = active);
    }

    /// What the journey engine's device tasks and central link report.
    pub fn engine(&self, availability: &kiosk_journeys::Availability) {
        self.update(|s| {
            s.devices_ready = availability.devices.iter().all(|d| d.usable);
            if availability.online {
                s.central_reached = true;
            }
        });
    }

    /// What the status probes found (when the engine did not start).
    pub fn status(&self, status: &KioskStatus) {
        self.update(|s| apply_status(s, status));
    }

    /// The state as it will be (or has been) written.
    pub fn current(&self) -> KioskState {
        self.tx.borrow().clone()
    }
}

/// Folds a status report into the state: devices are ready once they have been checked and
/// every configured one is usable; central, once reached, counts as reached for this run (the
/// health gate asks whether the new version ever got through, not whether the hall's network
/// is up this second).
pub fn apply_status(state: &mut KioskState, status: &KioskStatus) {
    state.devices_ready = status.checked && status.faulty_devices().next().is_none();
    if status.connectivity == Connectivity::Online {
        state.central_reached = true;
    }
}

async fn write_on_change(mut rx: watch::Receiver<KioskState>, data_dir: PathBuf) {
    loop {
        let mut state = rx.borrow_and_update().clone();
        let dir = data_dir.clone();
        let written = tokio::task::spawn_blocking(move || state.write(&dir)).await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("cannot publish the kiosk state: {e}"),
            Err(e) => tracing::warn!("the state writer stopped: {e}"),
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_hal::{DeviceHealth, DeviceKind, HealthState};
    use std::time::Duration;

    async fn file_until(dir: &std::path::Path, ok: impl Fn(&KioskState) -> bool) -> KioskState {
        for _ in 0..500 {
            if let Ok(Some(state)) = KioskState::read(dir)
                && ok(&state)
            {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the state file never showed the expected state");
    }

    #[tokio::test]
    async fn the_state_file_follows_the_ui_the_devices_and_the_session() {
        let dir = tempfile::tempdir().unwrap();
        let (publisher, _task) = StatePublisher::start(dir.path().to_path_buf(), "1.2.3");

        let first = file_until(dir.path(), |_| true).await;
        assert_eq!(first.pid, std::process::id());
        assert_eq!(first.version, "1.2.3");
        assert!(!first.ui_drawn && !first.devices_ready && !first.central_reached);

        publisher.ui_drawn();
        let mut status = KioskStatus::initial(None);
        status.connectivity = Connectivity::Online;
        status.devices = vec![DeviceHealth::now(
            DeviceKind::Printer,
            "/dev/kiosk/printer",
            HealthState::Ready,
        )];
        publisher.status(&status);
        assert!(
            !publisher.current().devices_ready,
            "not ready before the probes have run"
        );
        status.checked = true;
        publisher.status(&status);
        let healthy = file_until(dir.path(), KioskState::healthy).await;
        assert!(!healthy.session_active);

        // Central going away later does not undo "reached"; a device fault undoes "ready".
        status.connectivity = Connectivity::Offline;
        status.devices[0].state = HealthState::Absent;
        publisher.status(&status);
        publisher.session_active(true);
        let state = file_until(dir.path(), |s| s.session_active).await;
        assert!(state.central_reached);
        assert!(!state.devices_ready);
    }
}
