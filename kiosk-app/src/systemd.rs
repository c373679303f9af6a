//! The systemd service protocol: READY once the UI is up, and watchdog pings from the UI
//! thread, so that a hung UI — not just a dead process — gets the kiosk restarted.

use std::time::Duration;

/// Tells systemd the kiosk is up. Outside systemd (no `NOTIFY_SOCKET`) this does nothing.
pub fn notify_ready() {
    let states = [
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status("serving citizens"),
    ];
    if let Err(e) = sd_notify::notify(false, &states) {
        tracing::warn!("could not notify systemd that the kiosk is ready: {e}");
    }
}

/// Tells systemd the kiosk is shutting down on purpose.
pub fn notify_stopping() {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
}

/// How often to ping the watchdog: half of `WatchdogSec`, or `None` when it is off.
///
/// As libsystemd's `sd_watchdog_enabled`: `WATCHDOG_USEC` turns it on, and `WATCHDOG_PID`, when
/// present, must name this process (the `sd-notify` crate insists on the PID being set).
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok()? != std::process::id()
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// One watchdog ping.
pub fn ping_watchdog() {
    if let Err(e) = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]) {
        tracing::warn!("watchdog ping failed: {e}");
    }
}
