//! When to try a lost device again: soon after it went (an unplug is often a replug a second
//! later), then less and less often, so that a device that stays away does not cost a libusb
//! scan or a failed `open` every second for hours.

use std::time::{Duration, Instant};

/// Reopen attempts spaced `first`, `2·first`, `4·first`, ... up to `max`, starting again from
/// `first` once the device has been opened.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next_gap: Duration,
    not_before: Option<Instant>,
}

impl Backoff {
    /// A backoff whose first retry comes `first` after a failure, and none later than `max`.
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max: max.max(first),
            next_gap: first,
            not_before: None,
        }
    }

    /// Whether an attempt may be made at `now`.
    pub fn may_try(&self, now: Instant) -> bool {
        self.not_before.is_none_or(|t| now >= t)
    }

    /// The instant before which no attempt is due (`None`: at once).
    pub fn not_before(&self) -> Option<Instant> {
        self.not_before
    }

    /// An attempt at `now` failed: the next waits twice as long as the last, up to `max`.
    pub fn failed(&mut self, now: Instant) {
        self.not_before = Some(now + self.next_gap);
        self.next_gap = (self.next_gap * 2).min(self.max);
    }

    /// The device is open: the next loss is retried quickly again.
    pub fn succeeded(&mut self) {
        self.next_gap = self.first;
        self.not_before = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn retries_space_out_to_the_cap_and_reset_after_an_open() {
        let t0 = Instant::now();
        let mut backoff = Backoff::new(S, 8 * S);
        assert!(backoff.may_try(t0));
        let mut now = t0;
        let mut gaps = Vec::new();
        for _ in 0..6 {
            backoff.failed(now);
            let due = backoff.not_before().unwrap();
            assert!(!backoff.may_try(due - Duration::from_millis(1)));
            assert!(backoff.may_try(due));
            gaps.push((due - now).as_secs());
            now = due;
        }
        assert_eq!(gaps, [1, 2, 4, 8, 8, 8]);
        backoff.succeeded();
        assert!(backoff.may_try(now));
        backoff.failed(now);
        assert_eq!(backoff.not_before(), Some(now + S));
    }
}
