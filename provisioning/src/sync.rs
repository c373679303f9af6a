//! `kioskctl sync status`: what the kiosk still has to send to central, and how the link is
//! doing. Reads the kiosk's store read-only (no key needed: the status holds no personal data),
//! so it can run beside the running app.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use kiosk_core::store::{SyncStatus, read_status};

/// Where the kiosk app keeps its store unless configured otherwise.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/kiosk";

/// Exit status when events wait and the last attempt to reach central failed.
pub const EXIT_FAILING: u8 = 2;

/// `kioskctl sync ...`
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Backlog per stream, age of the oldest pending event, last success, last error.
    ///
    /// Exits 2 when events are waiting and the last attempt to reach central failed.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// The kiosk's data folder (holding kiosk.db).
        #[arg(long, default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
    },
}

/// Runs a `kioskctl sync` command.
pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Status { json, data } => status(&data, json),
    }
}

fn status(data: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let status = read_status(data).with_context(|| {
        format!(
            "reading the sync status of the kiosk store in {}",
            data.display()
        )
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", render(&status));
    }
    Ok(if is_failing(&status) {
        ExitCode::from(EXIT_FAILING)
    } else {
        ExitCode::SUCCESS
    })
}

fn is_failing(status: &SyncStatus) -> bool {
    let failed_last = match (status.last_error_at, status.last_success_at) {
        (Some(error), Some(success)) => error > success,
        (Some(_), None) => true,
        _ => false,
    };
    status.total_backlog > 0 && failed_last
}

/// The status as a technician reads it.
fn render(status: &SyncStatus) -> String {
    let mut out = String::new();
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_else(|| "never".into())
    };
    if status.backlog.is_empty() {
        out.push_str("backlog: nothing waiting\n");
    } else {
        out.push_str(&format!(
            "{:<12} {:>10}  {}\n",
            "stream", "waiting", "oldest"
        ));
        for b in &status.backlog {
            out.push_str(&format!(
                "{:<12} {:>10}  {}\n",
                b.stream,
                b.events,
                when(b.oldest_created_at)
            ));
        }
        out.push_str(&format!("{:<12} {:>10}\n", "total", status.total_backlog));
    }
    if let Some(age) = status.oldest_pending_age_secs {
        out.push_str(&format!("oldest pending: {}\n", human_age(age)));
    }
    out.push_str(&format!(
        "last success:   {}\n",
        when(status.last_success_at)
    ));
    out.push_str(&format!(
        "last attempt:   {}\n",
        when(status.last_attempt_at)
    ));
    match &status.last_error {
        Some(error) => out.push_str(&format!(
            "last error:     {} at {}\n",
            error,
            when(status.last_error_at)
        )),
        None => out.push_str("last error:     none\n"),
    }
    out.push_str(&format!(
        "disk:           {} of {} MiB used{}\n",
        status.used_bytes / (1024 * 1024),
        status.budget_bytes / (1024 * 1024),
        if status.accepting_records {
            ""
        } else {
            " (NEAR LIMIT: journeys that create records are not offered)"
        }
    ));
    if status.dropped_telemetry + status.downsampled_telemetry > 0 {
        out.push_str(&format!(
            "telemetry:      {} downsampled, {} dropped under the disk budget\n",
            status.downsampled_telemetry, status.dropped_telemetry
        ));
    }
    out
}

fn human_age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}
