//! New bundles from central take effect by restarting the app in place, between citizens.
//!
//! The downlink stores a verified catalog or config bundle under the data directory while the
//! app runs. Both shape everything on screen (categories, matters, the hall's name, timeouts,
//! the technician PIN), so rather than patch each part live the app notices the change,
//! waits until no citizen session is open, stops cleanly and executes itself again with the
//! same arguments: the same process id, so systemd sees no exit, no restart and no failure,
//! and the next start reads the new bundles like any start does.

use std::path::{Path, PathBuf};

use kiosk_core::sync::Downlink;

/// The bundle kinds whose change needs a restart.
const KINDS: [&str; 2] = [
    kiosk_api::catalog::BUNDLE_KIND,
    kiosk_api::CONFIG_BUNDLE_KIND,
];

/// The applied bundles' contents at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
}

impl Snapshot {
    /// Reads the applied bundles under `data_dir` (a missing one counts as such).
    pub fn take(data_dir: &Path) -> Snapshot {
        Snapshot {
            files: KINDS
                .iter()
                .map(|kind| {
                    let path = Downlink::bundle_path(data_dir, kind);
                    let content = std::fs::read(&path).ok();
                    (path, content)
                })
                .collect(),
        }
    }

    /// Whether a bundle differs now from this snapshot. The downlink replaces a bundle by
    /// rename, so a read sees either the old file or the new one, never half of one.
    pub fn changed(&self) -> bool {
        self.files
            .iter()
            .any(|(path, content)| std::fs::read(path).ok() != *content)
    }
}

/// Replaces this process with a fresh start of the same program and arguments. Returns only
/// if that failed.
pub fn exec_self() -> anyhow::Error {
    use std::os::unix::process::CommandExt as _;
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return anyhow::anyhow!("cannot find the running program to restart it: {e}"),
    };
    let error = std::process::Command::new(&exe)
        .args(std::env::args_os().skip(1))
        .exec();
    anyhow::anyhow!("cannot restart {}: {error}", exe.display())
}
