//! A process's clock moved to another day, with libfaketime (Debian's `faketime` package):
//! its `LD_PRELOAD` library makes the wall clock (`clock_gettime(CLOCK_REALTIME)`, `time`,
//! …) of the process it is loaded into run at an offset, while the monotonic clock (timers,
//! timeouts) stays true, so only the date and time of day move.

use std::path::Path;

/// Where Debian's `libfaketime` puts its thread-safe library.
const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

/// The environment that puts a process `days` days ahead of the real clock, or `None` if
/// libfaketime is not installed.
pub fn days_ahead(days: u32) -> Option<Vec<(String, String)>> {
    Path::new(LIBFAKETIME).exists().then(|| {
        vec![
            ("LD_PRELOAD".to_owned(), LIBFAKETIME.to_owned()),
            ("FAKETIME".to_owned(), format!("+{days}d")),
            ("FAKETIME_DONT_FAKE_MONOTONIC".to_owned(), "1".to_owned()),
        ]
    })
}

/// [`days_ahead`]`(1)`: the next day.
pub fn next_day() -> Option<Vec<(String, String)>> {
    days_ahead(1)
}
