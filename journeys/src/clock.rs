//! The engine's clock. Business dates, "as of" times, check-in windows and the next day's
//! number leases all read it, so a test can move the kiosk to tomorrow without waiting for
//! midnight; production uses the system clock.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

/// Where the engine reads the time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The system clock moved by a shift that can change while the engine runs (time still
/// passes at its normal pace): "the same kiosk, a day later".
#[derive(Debug, Default)]
pub struct ShiftedClock {
    shift_ms: AtomicI64,
}

impl ShiftedClock {
    /// No shift yet.
    pub fn new() -> ShiftedClock {
        ShiftedClock::default()
    }

    /// Moves the clock forward (or back, if negative) by `by`, on top of earlier moves.
    pub fn advance(&self, by: chrono::Duration) {
        self.shift_ms
            .fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }

    /// Moves the clock so that it reads `at` now.
    pub fn set(&self, at: DateTime<Utc>) {
        self.shift_ms
            .store((at - Utc::now()).num_milliseconds(), Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.shift_ms.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shifted_clock_reads_the_shifted_time_and_keeps_running() {
        let clock = ShiftedClock::new();
        clock.advance(chrono::Duration::days(1));
        let ahead = clock.now() - Utc::now();
        assert!(ahead > chrono::Duration::hours(23), "{ahead}");
        let at: DateTime<Utc> = "2030-01-02T03:04:05Z".parse().unwrap();
        clock.set(at);
        let read = clock.now();
        assert!((read - at).abs() < chrono::Duration::seconds(5), "{read}");
    }
}
