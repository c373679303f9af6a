//! The kiosk's published state (`<data_dir>/state.json`): what the running app says about
//! itself, for processes that must not talk to its UI thread — the update agent's health gate
//! after a switch, its "never during a citizen session" rule, and `kioskctl selftest`.
//!
//! Rewritten whole through a temporary file and a rename, so readers never see half of it.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::identity::{IdentityError, write_atomic};

/// File name of the state in the data directory.
pub const STATE_FILE: &str = "state.json";

/// What the running kiosk app reports about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskState {
    /// The running software's version.
    pub version: String,
    /// Process id of the app that wrote this.
    pub pid: u32,
    /// The first frame has been drawn.
    pub ui_drawn: bool,
    /// Every configured device answered (or none is configured).
    pub devices_ready: bool,
    /// Central answered at least once since start.
    pub central_reached: bool,
    /// A citizen is in the middle of a journey.
    pub session_active: bool,
    /// When this was written.
    pub updated_at: DateTime<Utc>,
}

impl KioskState {
    /// A fresh state for this process: nothing ready yet.
    pub fn starting(version: &str) -> KioskState {
        KioskState {
            version: version.to_owned(),
            pid: std::process::id(),
            ui_drawn: false,
            devices_ready: false,
            central_reached: false,
            session_active: false,
            updated_at: Utc::now(),
        }
    }

    /// Where the state lives for a data directory.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(STATE_FILE)
    }

    /// Whether the kiosk is healthy at kiosk level: drawn, devices ready, central reached.
    pub fn healthy(&self) -> bool {
        self.ui_drawn && self.devices_ready && self.central_reached
    }

    /// Stamps the time and writes the state atomically.
    pub fn write(&mut self, data_dir: &Path) -> Result<(), IdentityError> {
        self.updated_at = Utc::now();
        let json = serde_json::to_vec_pretty(self).map_err(|e| IdentityError::Corrupt {
            path: KioskState::path(data_dir),
            problem: e.to_string(),
        })?;
        write_atomic(&KioskState::path(data_dir), &json, 0o644)
    }

    /// The last state written into `data_dir`, or `None` if there is none.
    pub fn read(data_dir: &Path) -> Result<Option<KioskState>, IdentityError> {
        let path = KioskState::path(data_dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| IdentityError::Corrupt {
                    path,
                    problem: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(IdentityError::Io { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_state_reads_back_and_health_needs_all_three() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(KioskState::read(dir.path()).unwrap(), None);
        let mut state = KioskState::starting("1.2.3");
        state.ui_drawn = true;
        state.devices_ready = true;
        state.write(dir.path()).unwrap();
        let back = KioskState::read(dir.path()).unwrap().unwrap();
        assert_eq!(back, state);
        assert!(!back.healthy(), "central not reached yet");
        state.central_reached = true;
        assert!(state.healthy());
    }
}
