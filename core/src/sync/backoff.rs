//! Capped exponential backoff with full jitter.
//!
//! Full jitter (a uniform delay between 0 and the capped exponential) spreads a hall's kiosks
//! apart when central comes back after an outage, instead of having them retry in lockstep.

use std::time::Duration;

use rand::Rng;

/// Backoff settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Ceiling of the first retry's delay.
    pub base: Duration,
    /// No delay is ever longer than this.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The ceiling after `failures` consecutive failures (1 = first failure).
    pub fn ceiling(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(20);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A random delay in `[0, ceiling(failures)]`, at least 10 ms so a tight loop is impossible.
    pub fn delay(&self, failures: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(failures).as_millis().max(10) as u64;
        Duration::from_millis(rng.gen_range(10..=ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_per_failure_and_stops_at_the_cap() {
        let b = Backoff {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(10),
        };
        let ceilings: Vec<u64> = (1..=7).map(|n| b.ceiling(n).as_millis() as u64).collect();
        assert_eq!(ceilings, vec![500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
        assert_eq!(b.ceiling(1000), Duration::from_secs(10));
    }

    #[test]
    fn delays_are_spread_between_nothing_and_the_ceiling() {
        let b = Backoff::default();
        let mut rng = rand::thread_rng();
        let delays: Vec<Duration> = (0..200).map(|_| b.delay(4, &mut rng)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(4)));
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 50, "jitter should spread the delays");
    }
}
