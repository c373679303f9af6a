//! Where everything lives under the agent's root (`/opt/kiosk` on a kiosk, a temporary
//! folder in tests):
//!
//! ```text
//! <root>/current -> releases/<version>      the running release (symlink, switched atomically)
//! <root>/releases/<version>/bin/kiosk-app   installed releases
//! <root>/releases/<version>.partial/        a release being unpacked
//! <root>/downloads/<version>-<sha256>.part  an artifact being downloaded (kept to resume)
//! <root>/agent.json                         the agent's memory: previous version, pending switch
//! <root>/reports/<event id>.json            results not yet in the kiosk's outbox
//! <root>/rollback-request                   systemd's failure path asking a running gate to stop
//! <root>/.lock                              one agent at a time
//! ```

use std::path::{Path, PathBuf};

/// Paths under the root.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout under `root`.
    pub fn new(root: &Path) -> Layout {
        Layout {
            root: root.to_owned(),
        }
    }

    /// The root itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `current` symlink.
    pub fn current(&self) -> PathBuf {
        self.root.join("current")
    }

    /// `releases/`.
    pub fn releases(&self) -> PathBuf {
        self.root.join("releases")
    }

    /// `releases/<version>`.
    pub fn release(&self, version: &str) -> PathBuf {
        self.releases().join(version)
    }

    /// The relative target `current` points at for `version`.
    pub fn release_link_target(version: &str) -> PathBuf {
        Path::new("releases").join(version)
    }

    /// `releases/<version>.partial`.
    pub fn staging(&self, version: &str) -> PathBuf {
        self.releases().join(format!("{version}.partial"))
    }

    /// `downloads/`.
    pub fn downloads(&self) -> PathBuf {
        self.root.join("downloads")
    }

    /// The partial download of an artifact.
    pub fn download(&self, version: &str, sha256: &str) -> PathBuf {
        self.downloads().join(format!("{version}-{sha256}.part"))
    }

    /// `agent.json`.
    pub fn agent_state(&self) -> PathBuf {
        self.root.join("agent.json")
    }

    /// `reports/`.
    pub fn reports(&self) -> PathBuf {
        self.root.join("reports")
    }

    /// `rollback-request`.
    pub fn rollback_request(&self) -> PathBuf {
        self.root.join("rollback-request")
    }

    /// `.lock`.
    pub fn lock(&self) -> PathBuf {
        self.root.join(".lock")
    }

    /// Creates the folders the agent writes into.
    pub fn create(&self) -> std::io::Result<()> {
        for dir in [self.releases(), self.downloads(), self.reports()] {
            std::fs::create_dir_all(dir)?;
        }
        Ok(())
    }

    /// The version `current` points at, if it points at a release folder.
    pub fn current_version(&self) -> Option<String> {
        let target = std::fs::read_link(self.current()).ok()?;
        let name = target.file_name()?.to_str()?.to_owned();
        self.release(&name).join("bin").is_dir().then_some(name)
    }

    /// Points `current` at `releases/<version>` atomically: a new symlink under a temporary
    /// name, renamed over the old one (rename(2) replaces atomically), then the root synced.
    pub fn switch_to(&self, version: &str) -> std::io::Result<()> {
        let tmp = self
            .root
            .join(format!(".current.tmp-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(Layout::release_link_target(version), &tmp)?;
        std::fs::rename(&tmp, self.current())?;
        sync_dir(&self.root)
    }
}

/// fsync a folder so that renames inside it survive a power cut.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Writes `bytes` to `path` through a synced temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switching_replaces_the_link_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        layout.create().unwrap();
        assert_eq!(layout.current_version(), None);
        for v in ["0.1.0", "0.2.0"] {
            std::fs::create_dir_all(layout.release(v).join("bin")).unwrap();
        }
        layout.switch_to("0.1.0").unwrap();
        assert_eq!(layout.current_version().as_deref(), Some("0.1.0"));
        layout.switch_to("0.2.0").unwrap();
        assert_eq!(layout.current_version().as_deref(), Some("0.2.0"));
        assert_eq!(
            std::fs::read_link(layout.current()).unwrap(),
            Path::new("releases/0.2.0"),
            "relative, so the root can be moved or mounted elsewhere"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(!names.iter().any(|n| n.contains("tmp")), "{names:?}");
    }
}
