//! The agent's state machine (README.md draws it):
//!
//! ```text
//! idle ──desired release──▶ verify manifest ──▶ download (resume) ──▶ digest ──▶ stage
//!   ▲          │ refused (reported once)                                         │
//!   │          ▼                                                                 ▼
//!   │     settled ◀── rolled back ◀── gate failed ◀── switch+restart ◀── window & no session
//!   └──────────────── committed  ◀── gate healthy ◀──┘
//! ```
//!
//! Everything the agent must remember across a crash or a reboot is in `<root>/agent.json`,
//! written atomically before the step it protects: the pending switch (so a gate cut short is
//! finished by `confirm` or undone by `rollback`), the previous version, and the releases
//! already settled as refused or rolled back (so each is reported once and not retried).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use kiosk_api::{ReleaseRef, UpdateOutcome, UpdateResult};
use kiosk_core::config::Config;
use kiosk_core::identity::Identity;
use kiosk_core::state::KioskState;
use kiosk_core::sync::{CentralClient, Timeouts};
use kiosk_core::trust::{Trust, TrustError};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::gate::{GateOutcome, health_gate};
use crate::layout::{Layout, write_atomic};
use crate::reason::{Reason, Refusal};
use crate::report::{ReportError, Reports};
use crate::stage::{StageError, stage};
use crate::verify::{VersionCheck, check_versions, sha256_file, verify_manifest};

/// Download attempts within one run before leaving the partial file for the next run.
const DOWNLOAD_ATTEMPTS: u32 = 4;
/// How long the new version must stay healthy, in one process, before it is committed.
const HEALTH_SETTLE: Duration = Duration::from_secs(3);
/// Complete downloads with a wrong digest before the release is refused as corrupt.
const CORRUPT_DOWNLOADS_REFUSED: u32 = 2;
/// Room kept for a release's unpacked tree, in artifacts: a gzip tar of binaries rarely
/// shrinks them by more than this.
const UNPACKED_FACTOR: u64 = 3;

/// A switch whose health gate has not ended yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The version switched to.
    pub version: String,
    /// The version switched from (the rollback target).
    pub from_version: String,
    /// sha256 of the release's artifact.
    pub sha256: String,
    /// When `current` was switched.
    pub switched_at: DateTime<Utc>,
    /// When the gate gives up.
    pub deadline_at: DateTime<Utc>,
    /// Event id of the result, fixed before the switch so that a gate finished twice (after a
    /// crash) reports once.
    pub event_id: Uuid,
}

/// A release the agent has finished with, without installing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settled {
    /// Its digest (a republished version with another digest is considered afresh).
    pub sha256: String,
    /// Refused or rolled back.
    pub outcome: UpdateOutcome,
    /// The reason code.
    pub reason: String,
}

/// `<root>/agent.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentState {
    /// The version that ran before the current one was committed.
    pub previous: Option<String>,
    /// A switch being judged.
    pub pending: Option<Pending>,
    /// Releases refused or rolled back, by version.
    #[serde(default)]
    pub settled: BTreeMap<String, Settled>,
}

/// What a download did, for the operator and the tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DownloadInfo {
    /// Bytes found in the partial file and kept on the first attempt.
    pub resumed_from: u64,
    /// Where later attempts of this run continued after an interrupted answer.
    pub resumed_after_interruption: Vec<u64>,
    /// Complete downloads thrown away because their digest was wrong.
    pub discarded_corrupt: u32,
    /// Attempts made.
    pub attempts: u32,
}

/// The end of one command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Central offers no release for this kiosk.
    NoRelease {
        /// The version running.
        running: String,
    },
    /// The offered release runs already.
    UpToDate {
        /// The version.
        version: String,
    },
    /// `check`: the release is acceptable so far and would be installed.
    WouldInstall {
        /// The release.
        version: String,
        /// The version running.
        running: String,
    },
    /// The release was refused (and reported).
    Refused {
        /// The release.
        version: String,
        /// The version running.
        running: String,
        /// The code.
        reason: String,
        /// What was wrong.
        detail: String,
    },
    /// The release was refused or rolled back before; nothing more is done for it.
    Settled {
        /// The release.
        version: String,
        /// How it ended.
        outcome: UpdateOutcome,
        /// The code.
        reason: String,
    },
    /// The download stopped before the whole artifact arrived; the next run resumes it.
    DownloadIncomplete {
        /// The release.
        version: String,
        /// Bytes held.
        have: u64,
        /// Bytes expected.
        size: u64,
        /// The last error.
        error: String,
    },
    /// Not enough free disk for the download and its unpacked release: nothing was
    /// downloaded; the next run tries again (the release is not refused).
    NoSpace {
        /// The release.
        version: String,
        /// The folder the download goes to.
        path: String,
        /// Bytes needed, with the reserve kept free for the kiosk's records.
        need: u64,
        /// Bytes free there.
        free: u64,
    },
    /// Staged; the switch waits for the maintenance window or the end of a session.
    Waiting {
        /// The release.
        version: String,
        /// `window` or `session`.
        until: String,
        /// Download facts, if it was downloaded in this run.
        download: Option<DownloadInfo>,
    },
    /// Switched, healthy, committed (and reported).
    Committed {
        /// The release.
        version: String,
        /// The version before.
        from_version: String,
        /// Download facts, if it was downloaded in this run.
        download: Option<DownloadInfo>,
    },
    /// Switched, failed its gate, switched back (and reported).
    RolledBack {
        /// The release.
        version: String,
        /// The version running again.
        from_version: String,
        /// The code.
        reason: String,
        /// What was seen.
        detail: String,
    },
    /// `rollback` found no switch being judged.
    NothingToRollBack {
        /// The version running.
        running: String,
    },
    /// `rollback` handed its reason to the agent whose gate is running.
    RollbackRequested {
        /// The code.
        reason: String,
    },
    /// `confirm` found no switch being judged.
    NothingToConfirm {
        /// The version running.
        running: String,
    },
}

impl Verdict {
    /// The exit status of the command: 0 done or nothing to do, 2 refused, 3 rolled back,
    /// 4 download to be resumed, 5 not enough disk space for the download.
    pub fn exit_code(&self) -> i32 {
        match self {
            Verdict::Refused { .. } => 2,
            Verdict::RolledBack { .. } => 3,
            Verdict::DownloadIncomplete { .. } => 4,
            Verdict::NoSpace { .. } => 5,
            _ => 0,
        }
    }
}

/// Failures that are not verdicts: the agent could not do its work and will retry.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A file under the root.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Nothing installed under the root yet.
    #[error(
        "{0}/current does not point at an installed release; install the first release by hand (see README.md)"
    )]
    NoCurrent(PathBuf),
    /// The kiosk is not provisioned.
    #[error("no identity in {0}; provision the kiosk with `kioskctl provision` first")]
    NotProvisioned(PathBuf),
    /// Identity files are damaged.
    #[error(transparent)]
    Identity(#[from] kiosk_core::identity::IdentityError),
    /// The trust anchors are missing, damaged or writable by someone else.
    #[error(transparent)]
    Trust(#[from] kiosk_core::trust::TrustError),
    /// Central could not be asked.
    #[error(transparent)]
    Central(#[from] kiosk_core::sync::SyncError),
    /// The report queue.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Another agent holds the lock.
    #[error("another kiosk-update runs on {0} (lock held); try again when it has finished")]
    Busy(PathBuf),
    /// The configuration's window is invalid (normally refused when the config is loaded).
    #[error("update.window: {0}")]
    Window(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> AgentError + '_ {
    move |source| AgentError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The update agent for one root and one kiosk configuration.
#[derive(Debug)]
pub struct Agent {
    layout: Layout,
    config: Config,
    trust_path: PathBuf,
    now: Option<DateTime<Utc>>,
}

impl Agent {
    /// An agent on `root` (normally `config.update.root`) that trusts the anchors at
    /// `trust_path` (normally [`Trust::beside`] the configuration file).
    pub fn new(root: &Path, config: Config, trust_path: PathBuf) -> Agent {
        Agent {
            layout: Layout::new(root),
            config,
            trust_path,
            now: None,
        }
    }

    /// Pins the clock the maintenance window is judged by (tests, dry runs).
    pub fn with_now(mut self, now: DateTime<Utc>) -> Agent {
        self.now = Some(now);
        self
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    fn data_dir(&self) -> &Path {
        &self.config.kiosk.data_dir
    }

    fn reports(&self) -> Reports {
        Reports::new(&self.layout.reports(), self.data_dir())
    }

    fn now(&self) -> DateTime<Utc> {
        self.now.unwrap_or_else(Utc::now)
    }

    /// The agent's memory.
    pub fn state(&self) -> Result<AgentState, AgentError> {
        let path = self.layout.agent_state();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| AgentError::Io {
                path,
                source: e.into(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AgentState::default()),
            Err(source) => Err(AgentError::Io { path, source }),
        }
    }

    fn save(&self, state: &AgentState) -> Result<(), AgentError> {
        let path = self.layout.agent_state();
        let json = serde_json::to_vec_pretty(state).map_err(|e| AgentError::Io {
            path: path.clone(),
            source: e.into(),
        })?;
        write_atomic(&path, &json).map_err(io_err(&path))
    }

    fn running(&self) -> Result<String, AgentError> {
        self.layout
            .current_version()
            .ok_or_else(|| AgentError::NoCurrent(self.layout.root().to_owned()))
    }

    fn lock(&self) -> Result<Flock<File>, AgentError> {
        self.layout.create().map_err(io_err(self.layout.root()))?;
        let path = self.layout.lock();
        let file = File::create(&path).map_err(io_err(&path))?;
        Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|_| AgentError::Busy(path))
    }

    /// Hands queued reports to the kiosk's outbox; a failure leaves them queued (logged).
    fn deliver_reports(&self) {
        match self.reports().deliver() {
            Ok(0) => {}
            Ok(n) => tracing::info!("{n} update result(s) handed to the kiosk outbox"),
            Err(e) => tracing::warn!("update results stay queued under the root: {e}"),
        }
    }

    fn report(
        &self,
        event_id: Option<Uuid>,
        version: &str,
        from_version: &str,
        outcome: UpdateOutcome,
        reason: &str,
        detail: &str,
    ) -> Result<(), AgentError> {
        let result = UpdateResult {
            version: version.to_owned(),
            from_version: from_version.to_owned(),
            outcome,
            reason: reason.to_owned(),
            detail: detail.to_owned(),
        };
        let reports = self.reports();
        match event_id {
            Some(id) => reports.queue_as(id, Utc::now(), result)?,
            None => {
                reports.queue(result)?;
            }
        }
        self.deliver_reports();
        Ok(())
    }

    /// The release key from the trust anchors, a client of the anchors' central signing as this
    /// kiosk, and the release central offers. Central's URL and the ops key come only from
    /// the root-owned anchors: the identity in the app's data folder gives only the kiosk's
    /// id and key, which decide nothing about what is installed.
    async fn offered(
        &self,
    ) -> Result<(VerifyingKey, CentralClient, Option<ReleaseRef>), AgentError> {
        let trust = Trust::load_owned(&self.trust_path)?;
        let anchors = trust.anchors().map_err(|problem| TrustError::Corrupt {
            path: self.trust_path.clone(),
            problem,
        })?;
        let identity = Identity::load(self.data_dir())?
            .ok_or_else(|| AgentError::NotProvisioned(self.data_dir().to_owned()))?;
        // A long request timeout for artifacts; an answer cut short is resumed anyway.
        let timeouts = Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(600),
        };
        let key = Identity::signing_key(self.data_dir())?;
        let client = CentralClient::trusting(
            &trust.central_url,
            trust.central_ca_pem.as_deref(),
            identity.kiosk_id,
            key,
            timeouts,
        )?;
        let Some((desired, _)) = client.desired_state(None).await? else {
            return Ok((anchors.release, client, None));
        };
        // Releases verify under the release key the provisioned anchors lead to through
        // central's key statements, each checked here against the key trusted at its turn.
        let (reached, followed) = kiosk_api::rotation::follow(&anchors, &desired.key_statements);
        for (serial, why) in &followed.refused {
            tracing::warn!(serial, %why, "key statement refused");
        }
        Ok((reached.release, client, desired.release))
    }

    /// Records and reports a refusal; returns its verdict.
    fn refuse(
        &self,
        offered: &ReleaseRef,
        running: &str,
        refusal: Refusal,
    ) -> Result<Verdict, AgentError> {
        tracing::warn!("{refusal}");
        self.report(
            None,
            &refusal.version,
            running,
            UpdateOutcome::Refused,
            refusal.reason.code(),
            &refusal.detail,
        )?;
        let mut state = self.state()?;
        state.settled.insert(
            offered.version.clone(),
            Settled {
                sha256: offered.sha256.clone(),
                outcome: UpdateOutcome::Refused,
                reason: refusal.reason.code().to_owned(),
            },
        );
        self.save(&state)?;
        Ok(Verdict::Refused {
            version: refusal.version,
            running: running.to_owned(),
            reason: refusal.reason.code().to_owned(),
            detail: refusal.detail,
        })
    }

    /// `check`: what `apply` would do, without downloading, switching or reporting.
    pub async fn check(&self) -> Result<Verdict, AgentError> {
        let running = self.running()?;
        let (ops_key, client, offered) = self.offered().await?;
        let Some(offered) = offered else {
            return Ok(Verdict::NoRelease { running });
        };
        if let Some(verdict) = self.settled(&offered)? {
            return Ok(verdict);
        }
        let refused = |r: Refusal| Verdict::Refused {
            version: r.version,
            running: running.clone(),
            reason: r.reason.code().to_owned(),
            detail: r.detail,
        };
        match check_versions(&running, &offered.version, None) {
            Ok(VersionCheck::Same) => return Ok(Verdict::UpToDate { version: running }),
            Ok(VersionCheck::Upgrade) => {}
            Err(r) => return Ok(refused(r)),
        }
        let signed = client.release_manifest(&offered.version).await?;
        let manifest = match verify_manifest(&ops_key, &offered, &signed) {
            Ok(m) => m,
            Err(r) => return Ok(refused(r)),
        };
        if let Err(r) = check_versions(&running, &manifest.version, Some(&manifest.min_version)) {
            return Ok(refused(r));
        }
        Ok(Verdict::WouldInstall {
            version: offered.version,
            running,
        })
    }

    fn settled(&self, offered: &ReleaseRef) -> Result<Option<Verdict>, AgentError> {
        Ok(self
            .state()?
            .settled
            .get(&offered.version)
            .filter(|s| s.sha256 == offered.sha256)
            .map(|s| Verdict::Settled {
                version: offered.version.clone(),
                outcome: s.outcome,
                reason: s.reason.clone(),
            }))
    }

    /// `apply`: one full round (see the module docs). Finishes a pending gate first.
    pub async fn apply(&self) -> Result<Verdict, AgentError> {
        let _lock = self.lock()?;
        self.deliver_reports();
        if self.state()?.pending.is_some() {
            let verdict = self.finish_pending(None).await?;
            if matches!(verdict, Verdict::RolledBack { .. }) {
                return Ok(verdict);
            }
        }
        let running = self.running()?;
        let (ops_key, client, offered) = self.offered().await?;
        let Some(offered) = offered else {
            return Ok(Verdict::NoRelease { running });
        };
        if let Some(verdict) = self.settled(&offered)? {
            return Ok(verdict);
        }
        match check_versions(&running, &offered.version, None) {
            Ok(VersionCheck::Same) => return Ok(Verdict::UpToDate { version: running }),
            Ok(VersionCheck::Upgrade) => {}
            Err(r) => return self.refuse(&offered, &running, r),
        }
        let signed = client.release_manifest(&offered.version).await?;
        let manifest = match verify_manifest(&ops_key, &offered, &signed) {
            Ok(m) => m,
            Err(r) => return self.refuse(&offered, &running, r),
        };
        if let Err(r) = check_versions(&running, &manifest.version, Some(&manifest.min_version)) {
            return self.refuse(&offered, &running, r);
        }

        let version = offered.version.clone();
        let mut download = None;
        if !self
            .layout
            .release(&version)
            .join("bin")
            .join("kiosk-app")
            .is_file()
        {
            let part = self.layout.download(&version, &offered.sha256);
            let info = match self.download(&client, &offered, &part).await? {
                Ok(info) => info,
                Err(incomplete) => return Ok(incomplete),
            };
            let info = match info {
                Ok(info) => info,
                Err(refusal) => return self.refuse(&offered, &running, refusal),
            };
            match stage(&self.layout, &version, &part) {
                Ok(()) => {}
                Err(StageError::Refused(r)) => {
                    let _ = std::fs::remove_file(&part);
                    return self.refuse(&offered, &running, r);
                }
                Err(StageError::Io { path, source }) => {
                    return Err(AgentError::Io { path, source });
                }
            }
            let _ = std::fs::remove_file(&part);
            download = Some(info);
        }

        let window = self
            .config
            .update
            .maintenance_window()
            .map_err(AgentError::Window)?;
        if !window.contains(self.now()) {
            return Ok(Verdict::Waiting {
                version,
                until: "window".into(),
                download,
            });
        }
        if KioskState::read(self.data_dir())
            .ok()
            .flatten()
            .is_some_and(|s| s.session_active)
        {
            return Ok(Verdict::Waiting {
                version,
                until: "session".into(),
                download,
            });
        }
        self.switch(&version, &running, &offered.sha256)?;
        let verdict = self.finish_pending(download).await?;
        Ok(verdict)
    }

    /// Downloads with resume and checks size and digest. Outer `Err`: give up for this run
    /// (partial kept); inner `Err`: refuse the release.
    async fn download(
        &self,
        client: &CentralClient,
        offered: &ReleaseRef,
        part: &Path,
    ) -> Result<Result<Result<DownloadInfo, Refusal>, Verdict>, AgentError> {
        if let Some(no_space) = self.check_space(offered, part) {
            return Ok(Err(no_space));
        }
        let mut info = DownloadInfo::default();
        let mut last_error = String::new();
        for attempt in 1..=DOWNLOAD_ATTEMPTS {
            info.attempts = attempt;
            if attempt > 1 {
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
            }
            match client
                .download_artifact(&offered.version, part, offered.size)
                .await
            {
                Ok(d) => {
                    if attempt == 1 {
                        info.resumed_from = d.resumed_from;
                    } else if d.resumed_from > 0 {
                        info.resumed_after_interruption.push(d.resumed_from);
                    }
                    if d.size < offered.size {
                        last_error = format!(
                            "central's answer ended at {} of {} bytes",
                            d.size, offered.size
                        );
                        continue;
                    }
                    let digest = sha256_file(part).map_err(io_err(part))?;
                    if digest == offered.sha256 {
                        return Ok(Ok(Ok(info)));
                    }
                    // The bytes are wrong somewhere, and nothing tells where: start over.
                    info.discarded_corrupt += 1;
                    tracing::warn!(
                        "download of {} has sha256 {digest}, expected {}; discarded",
                        offered.version,
                        offered.sha256
                    );
                    std::fs::remove_file(part).map_err(io_err(part))?;
                    if info.discarded_corrupt >= CORRUPT_DOWNLOADS_REFUSED {
                        return Ok(Ok(Err(Refusal::new(
                            &offered.version,
                            Reason::DigestMismatch,
                            format!(
                                "{} complete downloads hashed to {digest}, the signed manifest says {}",
                                info.discarded_corrupt, offered.sha256
                            ),
                        ))));
                    }
                }
                Err(kiosk_core::sync::SyncError::NoSpace {
                    path, need, free, ..
                }) => {
                    return Ok(Err(Verdict::NoSpace {
                        version: offered.version.clone(),
                        path: path.display().to_string(),
                        need,
                        free,
                    }));
                }
                Err(e) => {
                    tracing::warn!("download of {} interrupted: {e}", offered.version);
                    last_error = e.to_string();
                }
            }
        }
        let have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
        Ok(Err(Verdict::DownloadIncomplete {
            version: offered.version.clone(),
            have,
            size: offered.size,
            error: last_error,
        }))
    }

    /// Before any byte is fetched: room for the rest of the artifact and for its unpacked
    /// tree ([`UNPACKED_FACTOR`] times the artifact), with the kiosk's reserve to spare.
    fn check_space(&self, offered: &ReleaseRef, part: &Path) -> Option<Verdict> {
        let dir = part.parent()?;
        let free = kiosk_core::store::free_bytes(dir)?;
        let have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
        let need = offered
            .size
            .saturating_sub(have)
            .saturating_add(offered.size.saturating_mul(UNPACKED_FACTOR))
            .saturating_add(kiosk_core::sync::release::DOWNLOAD_RESERVE_BYTES);
        if free >= need {
            return None;
        }
        tracing::warn!(
            "not downloading {}: {need} bytes needed in {}, {free} free",
            offered.version,
            dir.display()
        );
        Some(Verdict::NoSpace {
            version: offered.version.clone(),
            path: dir.display().to_string(),
            need,
            free,
        })
    }

    /// Records the pending switch, points `current` at `version` and restarts the app.
    fn switch(&self, version: &str, from_version: &str, sha256: &str) -> Result<(), AgentError> {
        let now = Utc::now();
        let deadline = chrono::Duration::from_std(self.config.update.health_deadline())
            .unwrap_or_else(|_| chrono::Duration::seconds(120));
        let mut state = self.state()?;
        state.pending = Some(Pending {
            version: version.to_owned(),
            from_version: from_version.to_owned(),
            sha256: sha256.to_owned(),
            switched_at: now,
            deadline_at: now + deadline,
            event_id: Uuid::now_v7(),
        });
        // Remembered before the switch: whatever happens next, confirm or rollback knows
        // where to go back to.
        self.save(&state)?;
        let _ = std::fs::remove_file(self.layout.rollback_request());
        self.layout
            .switch_to(version)
            .map_err(io_err(&self.layout.current()))?;
        tracing::info!(
            "switched {} from {from_version} to {version}",
            self.layout.current().display()
        );
        self.restart();
        Ok(())
    }

    /// Runs the restart command. A failure is not an error of the agent: after a switch the
    /// gate judges what runs (and systemd may still bring the app up); after a rollback the
    /// report must still be written. Returns what went wrong, if anything, for the report.
    fn restart(&self) -> Option<String> {
        let command = &self.config.update.restart_command;
        let (program, args) = command.split_first()?;
        let problem = match Command::new(program)
            .args(args)
            .env("KIOSK_UPDATE_ROOT", self.layout.root())
            .env("KIOSK_DATA_DIR", self.data_dir())
            .status()
        {
            Ok(status) if status.success() => return None,
            Ok(status) => format!("restart command {command:?} exited with {status}"),
            Err(e) => format!("restart command {command:?} could not run: {e}"),
        };
        tracing::warn!("{problem}");
        Some(problem)
    }

    /// Runs (or finishes) the health gate of the pending switch, then commits or rolls back.
    async fn finish_pending(&self, download: Option<DownloadInfo>) -> Result<Verdict, AgentError> {
        let Some(pending) = self.state()?.pending else {
            return Ok(Verdict::NothingToConfirm {
                running: self.running()?,
            });
        };
        let remaining = (pending.deadline_at - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        let data_dir = self.data_dir().to_owned();
        let request = self.layout.rollback_request();
        let gate_pending = pending.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            health_gate(
                &data_dir,
                &gate_pending.version,
                gate_pending.switched_at,
                Instant::now() + remaining,
                HEALTH_SETTLE,
                || read_rollback_request(&request),
            )
        })
        .await
        .unwrap_or_else(|e| GateOutcome::Failed {
            reason: Reason::NoState,
            detail: format!("the health gate task failed: {e}"),
        });
        match outcome {
            GateOutcome::Healthy(_) => self.commit(&pending, download),
            GateOutcome::Failed { reason, detail } => self.roll_back(&pending, reason, &detail),
        }
    }

    fn commit(
        &self,
        pending: &Pending,
        download: Option<DownloadInfo>,
    ) -> Result<Verdict, AgentError> {
        tracing::info!("{} is healthy: committed", pending.version);
        self.report(
            Some(pending.event_id),
            &pending.version,
            &pending.from_version,
            UpdateOutcome::Committed,
            "",
            "the new version reported ui_drawn, devices_ready and central_reached",
        )?;
        let mut state = self.state()?;
        state.pending = None;
        state.previous = Some(pending.from_version.clone());
        self.save(&state)?;
        self.prune(&state);
        Ok(Verdict::Committed {
            version: pending.version.clone(),
            from_version: pending.from_version.clone(),
            download,
        })
    }

    fn roll_back(
        &self,
        pending: &Pending,
        reason: Reason,
        detail: &str,
    ) -> Result<Verdict, AgentError> {
        tracing::warn!(
            "{} failed its health gate ({reason}): {detail}; rolling back",
            pending.version
        );
        self.layout
            .switch_to(&pending.from_version)
            .map_err(io_err(&self.layout.current()))?;
        let detail = match self.restart() {
            Some(problem) => format!("{detail}; after switching back: {problem}"),
            None => detail.to_owned(),
        };
        let detail = detail.as_str();
        self.report(
            Some(pending.event_id),
            &pending.version,
            &pending.from_version,
            UpdateOutcome::RolledBack,
            reason.code(),
            detail,
        )?;
        let mut state = self.state()?;
        state.pending = None;
        state.settled.insert(
            pending.version.clone(),
            Settled {
                sha256: pending.sha256.clone(),
                outcome: UpdateOutcome::RolledBack,
                reason: reason.code().to_owned(),
            },
        );
        self.save(&state)?;
        let _ = std::fs::remove_file(self.layout.rollback_request());
        // The failed release is not kept: if ops republish the version, it is fetched afresh.
        let _ = std::fs::remove_dir_all(self.layout.release(&pending.version));
        Ok(Verdict::RolledBack {
            version: pending.version.clone(),
            from_version: pending.from_version.clone(),
            reason: reason.code().to_owned(),
            detail: detail.to_owned(),
        })
    }

    /// `confirm`: finishes the gate of a pending switch (after a crash or a reboot).
    pub async fn confirm(&self) -> Result<Verdict, AgentError> {
        let _lock = self.lock()?;
        self.deliver_reports();
        self.finish_pending(None).await
    }

    /// `rollback --reason R` (systemd's `OnFailure=` path): rolls a pending switch back, or,
    /// when an agent is running that switch's gate, asks it to.
    pub fn rollback(&self, reason: Reason, detail: &str) -> Result<Verdict, AgentError> {
        let _lock = match self.lock() {
            Ok(lock) => lock,
            Err(AgentError::Busy(_)) => {
                let path = self.layout.rollback_request();
                let body = serde_json::json!({"reason": reason.code(), "detail": detail});
                write_atomic(&path, body.to_string().as_bytes()).map_err(io_err(&path))?;
                return Ok(Verdict::RollbackRequested {
                    reason: reason.code().to_owned(),
                });
            }
            Err(e) => return Err(e),
        };
        self.deliver_reports();
        let Some(pending) = self.state()?.pending else {
            return Ok(Verdict::NothingToRollBack {
                running: self.running()?,
            });
        };
        self.roll_back(&pending, reason, detail)
    }

    /// Removes releases other than current, previous and the newest `keep_releases`, and
    /// leftover partial downloads and staging folders.
    fn prune(&self, state: &AgentState) {
        let current = self.layout.current_version();
        let mut others: Vec<semver::Version> = Vec::new();
        let Ok(entries) = std::fs::read_dir(self.layout.releases()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".partial") {
                let _ = std::fs::remove_dir_all(entry.path());
                continue;
            }
            if Some(&name) == current.as_ref() || Some(&name) == state.previous.as_ref() {
                continue;
            }
            if let Ok(v) = semver::Version::parse(&name) {
                others.push(v);
            }
        }
        others.sort();
        let keep = self.config.update.keep_releases as usize;
        let drop = others.len().saturating_sub(keep);
        for v in others.into_iter().take(drop) {
            let _ = std::fs::remove_dir_all(self.layout.release(&v.to_string()));
        }
        if let Ok(entries) = std::fs::read_dir(self.layout.downloads()) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// The reason systemd's failure path left for a running gate, if any.
fn read_rollback_request(path: &Path) -> Option<(Reason, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let reason = Reason::parse(value["reason"].as_str()?)?;
    let detail = value["detail"].as_str().unwrap_or_default().to_owned();
    Some((reason, detail))
}
