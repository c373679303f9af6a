//! `kioskctl sync status`: what the kiosk still has to send to central, how the link is
//! doing, and what is held in quarantine; `kioskctl sync retry` and `sync export` for the
//! quarantined events. None of them needs the store key (nothing is decrypted: an export
//! carries the payload still sealed) and all of them run beside the running app.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use kiosk_core::store::{
    QuarantineEntry, RetryWhich, SyncStatus, export_quarantined_in, read_quarantine, read_status,
    retry_quarantined_in,
};

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
    /// Put quarantined events back in the outbox (same seq, same event id) once the cause is
    /// dealt with; the running app sends them within a minute.
    Retry {
        /// The seq of the event, as `sync status` lists it.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        seq: Option<u64>,
        /// Every quarantined event.
        #[arg(long)]
        all: bool,
        /// The kiosk's data folder (holding kiosk.db).
        #[arg(long, default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
    },
    /// Write one quarantined event to a JSON file for ops: metadata, the payload as stored
    /// (still sealed when it holds personal data) and its spool files, base64.
    Export {
        /// The seq of the event, as `sync status` lists it.
        seq: u64,
        /// The file to write (created, mode 0600; never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The kiosk's data folder (holding kiosk.db).
        #[arg(long, default_value = DEFAULT_DATA_DIR)]
        data: PathBuf,
    },
}

/// Exit status of `retry` and `export` when there is no such quarantined event.
pub const EXIT_NOT_FOUND: u8 = 3;

/// Runs a `kioskctl sync` command.
pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Status { json, data } => status(&data, json),
        Command::Retry { seq, all, data } => {
            let which = match (seq, all) {
                (_, true) => RetryWhich::All,
                (Some(seq), false) => RetryWhich::One(seq),
                (None, false) => anyhow::bail!("give the seq of the event to retry, or --all"),
            };
            retry(&data, which)
        }
        Command::Export { seq, out, data } => export(&data, seq, &out),
    }
}

fn retry(data: &Path, which: RetryWhich) -> anyhow::Result<ExitCode> {
    let seqs = retry_quarantined_in(data, which).with_context(|| {
        format!(
            "putting quarantined events back in the outbox of the kiosk store in {}",
            data.display()
        )
    })?;
    match (which, seqs.is_empty()) {
        (RetryWhich::One(seq), true) => {
            eprintln!(
                "kioskctl sync retry: no event {seq} in quarantine; `kioskctl sync status` lists them"
            );
            return Ok(ExitCode::from(EXIT_NOT_FOUND));
        }
        (RetryWhich::All, true) => println!("quarantine is empty: nothing to retry"),
        _ => println!(
            "put back in the outbox: {} (seq {}); the kiosk sends them at its next look at the outbox",
            seqs.len(),
            seqs.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn export(data: &Path, seq: u64, out: &Path) -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let Some(export) = export_quarantined_in(data, seq).with_context(|| {
        format!(
            "reading the quarantine of the kiosk store in {}",
            data.display()
        )
    })?
    else {
        eprintln!(
            "kioskctl sync export: no event {seq} in quarantine; `kioskctl sync status` lists them"
        );
        return Ok(ExitCode::from(EXIT_NOT_FOUND));
    };
    let json = serde_json::to_vec_pretty(&export)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| {
            format!(
                "creating {} (an existing file is never overwritten)",
                out.display()
            )
        })?;
    file.write_all(&json)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", out.display()))?;
    let missing = export
        .attachment_files
        .iter()
        .filter(|a| a.sealed_base64.is_none())
        .count();
    println!(
        "wrote event {seq} ({} {}, {} bytes of payload{}, {} attachment(s){}) to {}",
        export.entry.kind,
        export.entry.reason,
        export.entry.payload_bytes,
        if export.entry.personal {
            " still sealed"
        } else {
            ""
        },
        export.attachment_files.len(),
        if missing > 0 {
            format!(", {missing} of them missing from the spool")
        } else {
            String::new()
        },
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn status(data: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let status = read_status(data).with_context(|| {
        format!(
            "reading the sync status of the kiosk store in {}",
            data.display()
        )
    })?;
    // A store of an older release has no quarantine yet: the status says so (0).
    let quarantine = if status.quarantined > 0 {
        read_quarantine(data).with_context(|| {
            format!(
                "reading the quarantine of the kiosk store in {}",
                data.display()
            )
        })?
    } else {
        Vec::new()
    };
    if json {
        let mut value = serde_json::to_value(&status)?;
        value["quarantine"] = serde_json::to_value(&quarantine)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", render(&status));
        print!("{}", render_quarantine(&quarantine));
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
    if let Some(why) = &status.revoked {
        out.push_str(&format!(
            "REVOKED:        central refuses this kiosk: {why}\n                nothing is sent and journeys that create records are closed until it is re-provisioned (`kioskctl provision` with a token from `central token create --reprovision`)\n"
        ));
    }
    let mib = |b: u64| b / (1024 * 1024);
    let free = match status.free_bytes {
        Some(free) => format!(
            ", {} MiB free on the disk (reserve {} MiB)",
            mib(free),
            mib(status.min_free_bytes)
        ),
        None => String::new(),
    };
    out.push_str(&format!(
        "disk:           {} of {} MiB used{free}{}\n",
        mib(status.used_bytes),
        mib(status.budget_bytes),
        if status.accepting_records {
            ""
        } else if status.free_bytes.is_some_and(|f| f < status.min_free_bytes) {
            " (DISK LOW: journeys that create records are not offered; free space on the data disk)"
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

/// The quarantine as a technician reads it, with what to do about it.
fn render_quarantine(quarantine: &[QuarantineEntry]) -> String {
    if quarantine.is_empty() {
        return "quarantine:     empty\n".into();
    }
    let mut out = format!(
        "quarantine:     {} event(s) held back, not sent until retried:\n",
        quarantine.len()
    );
    out.push_str(&format!(
        "  {:>8}  {:<24} {:<20} {:<20}  {}\n",
        "seq", "kind", "reason", "since", "detail"
    ));
    for q in quarantine {
        out.push_str(&format!(
            "  {:>8}  {:<24} {:<20} {:<20}  {}\n",
            q.seq,
            q.kind,
            q.reason,
            q.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            q.detail
        ));
    }
    out.push_str(
        "  `kioskctl sync export SEQ --out FILE` saves one for ops; `kioskctl sync retry SEQ` \
         (or --all) sends it again once the cause is fixed\n",
    );
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
