//! Time as a dependency: every rule about time (token and session expiry,
//! the refresh grace period, lockout windows, mail limits) asks the
//! [`Clock`] of [`crate::App`], never the system or Postgres's `now()`, so
//! tests move time instead of sleeping.

use chrono::{DateTime, Duration, Utc};
use std::sync::Mutex;

/// Where "now" comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The system's clock, moved forward by what [`TestClock::advance`] adds:
/// time still passes, and a test can jump over a grace period or a lockout.
#[derive(Debug, Default)]
pub struct TestClock {
    offset: Mutex<Duration>,
}

impl TestClock {
    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        let by = Duration::from_std(by).unwrap_or(Duration::MAX);
        let mut offset = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        *offset += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        let offset = *self.offset.lock().unwrap_or_else(|e| e.into_inner());
        Utc::now() + offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_clock_jumps_forward() {
        let clock = TestClock::default();
        let before = clock.now();
        clock.advance(std::time::Duration::from_secs(3600));
        let jumped = clock.now() - before;
        assert!(jumped >= Duration::seconds(3600) && jumped < Duration::seconds(3610));
    }
}
