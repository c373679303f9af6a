//! The health gate after a switch: within the deadline the kiosk's state file
//! (`<data_dir>/state.json`, contract E) must show the NEW version, written by a live
//! process, with its UI drawn, its devices ready and central reached. Otherwise the reason is
//! the first of those that is missing.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use kiosk_core::state::KioskState;

use crate::reason::Reason;

/// How the gate ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateOutcome {
    /// The new version is healthy.
    Healthy(KioskState),
    /// It is not; the reason and what the last state said.
    Failed {
        /// The code.
        reason: Reason,
        /// What was seen, for ops.
        detail: String,
    },
}

/// Whether a process id is alive (signal 0; EPERM means alive but not ours).
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(e) => e == nix::errno::Errno::EPERM,
    }
}

/// The state written by `version` since `since` (with a second of slack: shell writers stamp
/// whole seconds), if any.
fn fresh_state(data_dir: &Path, version: &str, since: DateTime<Utc>) -> Option<KioskState> {
    let state = KioskState::read(data_dir).ok().flatten()?;
    (state.version == version && state.updated_at + chrono::Duration::seconds(1) >= since)
        .then_some(state)
}

/// Judges one state (or its absence) as the gate would at the deadline.
pub fn judge(state: Option<&KioskState>, version: &str) -> GateOutcome {
    let Some(state) = state else {
        return GateOutcome::Failed {
            reason: Reason::NoState,
            detail: format!("version {version} wrote no state file before the deadline"),
        };
    };
    let failed = |reason, what: &str| GateOutcome::Failed {
        reason,
        detail: format!(
            "version {version} (pid {}) {what}; state of {}: ui_drawn={} devices_ready={} central_reached={}",
            state.pid,
            state.updated_at.to_rfc3339(),
            state.ui_drawn,
            state.devices_ready,
            state.central_reached
        ),
    };
    if !process_alive(state.pid) {
        return failed(Reason::Crashed, "exited");
    }
    if !state.ui_drawn {
        return failed(Reason::UiNotDrawn, "did not draw its UI");
    }
    if !state.devices_ready {
        return failed(Reason::DevicesNotReady, "did not get its devices ready");
    }
    if !state.central_reached {
        return failed(Reason::CentralUnreachable, "did not reach central");
    }
    GateOutcome::Healthy(state.clone())
}

/// Polls the state file until `version` has been healthy for `settle` in one live process,
/// its process has died, `stop` says why to give up (systemd's failure path), or `deadline`
/// passes. The settle time keeps a version that reports healthy and then dies at once (or is
/// restarted by systemd with another pid) from being committed.
pub fn health_gate(
    data_dir: &Path,
    version: &str,
    switched_at: DateTime<Utc>,
    deadline: Instant,
    settle: Duration,
    mut stop: impl FnMut() -> Option<(Reason, String)>,
) -> GateOutcome {
    let mut healthy_since: Option<(Instant, u32)> = None;
    loop {
        let state = fresh_state(data_dir, version, switched_at);
        match judge(state.as_ref(), version) {
            GateOutcome::Healthy(state) => match healthy_since {
                Some((since, pid)) if pid == state.pid => {
                    if since.elapsed() >= settle {
                        return GateOutcome::Healthy(state);
                    }
                }
                _ => healthy_since = Some((Instant::now(), state.pid)),
            },
            crashed @ GateOutcome::Failed {
                reason: Reason::Crashed,
                ..
            } => return crashed,
            failed => {
                healthy_since = None;
                if Instant::now() >= deadline {
                    return failed;
                }
            }
        }
        if let Some((reason, detail)) = stop() {
            return GateOutcome::Failed { reason, detail };
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(version: &str, pid: u32) -> KioskState {
        let mut s = KioskState::starting(version);
        s.pid = pid;
        s
    }

    #[test]
    fn the_first_missing_piece_of_health_is_the_reason() {
        let me = std::process::id();
        let reason = |s: &KioskState| match judge(Some(s), "0.2.0") {
            GateOutcome::Failed { reason, .. } => Some(reason),
            GateOutcome::Healthy(_) => None,
        };
        let mut s = state("0.2.0", me);
        assert_eq!(reason(&s), Some(Reason::UiNotDrawn));
        s.ui_drawn = true;
        assert_eq!(reason(&s), Some(Reason::DevicesNotReady));
        s.devices_ready = true;
        assert_eq!(reason(&s), Some(Reason::CentralUnreachable));
        s.central_reached = true;
        assert_eq!(reason(&s), None);
        // A pid that cannot exist (above the kernel's pid_max limit).
        s.pid = 4_194_305;
        assert_eq!(reason(&s), Some(Reason::Crashed));
        assert!(matches!(
            judge(None, "0.2.0"),
            GateOutcome::Failed {
                reason: Reason::NoState,
                ..
            }
        ));
    }

    #[test]
    fn the_old_versions_state_does_not_pass_the_gate_and_a_stop_request_ends_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = state("0.1.0", std::process::id());
        old.ui_drawn = true;
        old.devices_ready = true;
        old.central_reached = true;
        old.write(dir.path()).unwrap();
        let mut asked = 0;
        let outcome = health_gate(
            dir.path(),
            "0.2.0",
            Utc::now(),
            Instant::now() + Duration::from_secs(30),
            Duration::ZERO,
            || {
                asked += 1;
                (asked == 3).then(|| (Reason::StartLimitHit, "systemd gave up".to_string()))
            },
        );
        assert_eq!(
            outcome,
            GateOutcome::Failed {
                reason: Reason::StartLimitHit,
                detail: "systemd gave up".into()
            }
        );
        let outcome = health_gate(
            dir.path(),
            "0.2.0",
            Utc::now(),
            Instant::now(),
            Duration::ZERO,
            || None,
        );
        assert!(matches!(
            outcome,
            GateOutcome::Failed {
                reason: Reason::NoState,
                ..
            }
        ));
    }

    #[test]
    fn a_version_that_reports_healthy_and_then_dies_is_not_committed() {
        let dir = tempfile::tempdir().unwrap();
        let since = Utc::now();
        let mut new = state("0.2.0", std::process::id());
        new.ui_drawn = true;
        new.devices_ready = true;
        new.central_reached = true;
        new.write(dir.path()).unwrap();
        let data = dir.path().to_owned();
        let dies = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            // The same state, now from a process that is gone.
            new.pid = 4_194_305;
            new.write(&data).unwrap();
        });
        let outcome = health_gate(
            dir.path(),
            "0.2.0",
            since,
            Instant::now() + Duration::from_secs(30),
            Duration::from_secs(5),
            || None,
        );
        dies.join().unwrap();
        assert!(
            matches!(
                outcome,
                GateOutcome::Failed {
                    reason: Reason::Crashed,
                    ..
                }
            ),
            "{outcome:?}"
        );
    }
}
