//! `kiosk-update`: the kiosk's update agent (see README.md).
//!
//! ```text
//! kiosk-update check    [--root DIR] [--config FILE] [--json]   what apply would do
//! kiosk-update apply    [--root DIR] [--config FILE] [--json]   one round: fetch, verify, stage, switch, gate
//! kiosk-update confirm  [--root DIR] [--config FILE] [--json]   finish the gate of a pending switch
//! kiosk-update rollback --reason start-limit-hit [...]          systemd's OnFailure= path
//! ```
//!
//! Exit status: 0 done or nothing to do, 2 refused, 3 rolled back, 4 download to be
//! resumed, 5 not enough free disk for the download, 1 the agent could not work (config,
//! network, disk; it retries on the next run).

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use kiosk_core::config::Config;
use kiosk_core::trust::Trust;
use kiosk_update::{Agent, Reason, Verdict};

#[derive(Debug, Parser)]
#[command(
    name = "kiosk-update",
    version,
    about = "Update agent of the hall kiosk"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, clap::Args)]
struct Common {
    /// The kiosk configuration (its `[update]` section, and `[kiosk] data_dir`).
    #[arg(long, default_value = kiosk_core::config::DEFAULT_PATH)]
    config: PathBuf,
    /// The folder with `releases/` and `current` (default: `[update] root`).
    #[arg(long)]
    root: Option<PathBuf>,
    /// The trust anchors: central's URL and the ops key (default: `trust.json` beside the
    /// configuration). Read only if root owns it and no one else may write it.
    #[arg(long)]
    trust: Option<PathBuf>,
    /// Print the verdict as one JSON object.
    #[arg(long)]
    json: bool,
    /// Judge the maintenance window at this instant instead of now (RFC 3339).
    #[arg(long, hide = true)]
    now: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Say what `apply` would do: nothing is downloaded, switched or reported.
    Check(Common),
    /// One round: poll central, download, verify, stage, and inside the maintenance window
    /// with no citizen session, switch, restart and run the health gate.
    Apply(Common),
    /// Finish the health gate of a switch left pending (after a crash or a reboot).
    Confirm(Common),
    /// Roll the pending switch back (systemd's failure path), or ask the running gate to.
    Rollback {
        #[command(flatten)]
        common: Common,
        /// The reason code, e.g. `start-limit-hit`.
        #[arg(long)]
        reason: String,
        /// What happened, for ops.
        #[arg(long, default_value = "")]
        detail: String,
    },
}

fn agent(common: &Common) -> anyhow::Result<Agent> {
    let trust = common
        .trust
        .clone()
        .unwrap_or_else(|| Trust::beside(&common.config));
    let config = Config::load(&common.config)?;
    // Ops may set the maintenance window and the health deadline for the hall centrally.
    // The bundle sits in the app's data folder, so it counts only with a signature that
    // verifies against the root-owned anchors; without anchors (a rollback needs none) the
    // kiosk's own file stands alone.
    let config = match Trust::load_owned(&trust).map(|t| t.anchors()) {
        Ok(Ok(anchors)) => config.in_force_verified(&anchors),
        Ok(Err(problem)) => {
            tracing::warn!(%problem, "trust anchors unusable; central's configuration bundle not applied");
            config
        }
        Err(err) => {
            tracing::warn!(%err, "central's configuration bundle not applied");
            config
        }
    };
    let root = common
        .root
        .clone()
        .unwrap_or_else(|| config.update.root.clone());
    let agent = Agent::new(&root, config, trust);
    Ok(match common.now {
        Some(now) => agent.with_now(now),
        None => agent,
    })
}

fn print(verdict: &Verdict, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(verdict)?);
        return Ok(());
    }
    let line = match verdict {
        Verdict::NoRelease { running } => format!("no release offered; running {running}"),
        Verdict::UpToDate { version } => format!("up to date: {version}"),
        Verdict::WouldInstall { version, running } => {
            format!("would install {version} over {running}")
        }
        Verdict::Refused {
            version,
            reason,
            detail,
            ..
        } => format!("refused {version}: {reason}: {detail}"),
        Verdict::Settled {
            version,
            outcome,
            reason,
        } => format!(
            "{version} was {} before ({reason}); waiting for a newer release",
            outcome.as_str()
        ),
        Verdict::DownloadIncomplete {
            version,
            have,
            size,
            error,
        } => format!(
            "download of {version} stopped at {have} of {size} bytes ({error}); the next run resumes it"
        ),
        Verdict::NoSpace {
            version,
            path,
            need,
            free,
        } => format!(
            "not downloading {version}: {} MiB needed in {path} (with the kiosk's reserve), {} MiB free; free space on that disk, the next run tries again",
            need.div_ceil(1024 * 1024),
            free / (1024 * 1024)
        ),
        Verdict::Waiting { version, until, .. } => match until.as_str() {
            "window" => format!("{version} is staged; switching waits for the maintenance window"),
            _ => format!("{version} is staged; switching waits for the citizen session to end"),
        },
        Verdict::Committed {
            version,
            from_version,
            ..
        } => format!("updated {from_version} -> {version}: healthy, committed"),
        Verdict::RolledBack {
            version,
            from_version,
            reason,
            detail,
        } => format!("{version} rolled back to {from_version}: {reason}: {detail}"),
        Verdict::NothingToRollBack { running } => {
            format!("nothing to roll back: {running} is committed")
        }
        Verdict::RollbackRequested { reason } => {
            format!("asked the running update to roll back ({reason})")
        }
        Verdict::NothingToConfirm { running } => {
            format!("nothing to confirm: {running} is committed")
        }
    };
    println!("{line}");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (verdict, json) = match &cli.command {
        Cmd::Check(common) => (runtime.block_on(agent(common)?.check())?, common.json),
        Cmd::Apply(common) => (runtime.block_on(agent(common)?.apply())?, common.json),
        Cmd::Confirm(common) => (runtime.block_on(agent(common)?.confirm())?, common.json),
        Cmd::Rollback {
            common,
            reason,
            detail,
        } => {
            let Some(reason) = Reason::parse(reason) else {
                bail!(
                    "--reason {reason:?} is not a rollback reason; use one of: {}",
                    Reason::ALL
                        .iter()
                        .filter(|r| !r.is_refusal())
                        .map(|r| r.code().replace('_', "-"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            };
            let detail = if detail.is_empty() {
                match reason {
                    Reason::StartLimitHit => {
                        "systemd stopped restarting kiosk-app.service (start limit hit)".to_owned()
                    }
                    _ => format!("rollback requested ({reason})"),
                }
            } else {
                detail.clone()
            };
            let agent = agent(common)?;
            (
                runtime.block_on(async { agent.rollback(reason, &detail) })?,
                common.json,
            )
        }
    };
    print(&verdict, json)?;
    std::process::exit(verdict.exit_code());
}
