//! Logging: to the journal with structured fields when systemd runs us, otherwise to stderr
//! as text or JSON lines.
//!
//! Personal data must never reach a log in the clear: log [`mask_name`] and
//! [`mask_id_number`] forms only (`张*`, `1101**********1234`).

use anyhow::Context;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

pub use kiosk_hal::mask::{mask_id_number, mask_name};

/// Whether our stderr is connected to the journal (systemd sets `JOURNAL_STREAM` to the
/// device and inode of the stream it gave us).
fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(stream) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = stream.split_once(':') else {
        return false;
    };
    std::fs::metadata("/proc/self/fd/2")
        .is_ok_and(|m| m.dev().to_string() == dev && m.ino().to_string() == ino)
}

/// Installs the global subscriber. `RUST_LOG`, when set, overrides the configured level.
pub fn init(format: LogFormat, level: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .context("invalid log filter")?;
    let registry = tracing_subscriber::registry().with(filter);
    if stderr_is_journal()
        && let Ok(journald) = tracing_journald::layer()
    {
        registry
            .with(journald.with_syslog_identifier("kiosk-app".into()))
            .try_init()?;
        return Ok(());
    }
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match format {
        LogFormat::Text => registry.with(stderr).try_init()?,
        LogFormat::Json => registry
            .with(stderr.json().flatten_event(true))
            .try_init()?,
    }
    Ok(())
}
