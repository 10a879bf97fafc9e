//! The time budget of each install: besides the breaker on consecutive
//! failures, an install whose calls keep running to their deadline, or
//! that burns worker time in calls that fail, is stopped early. A plugin
//! that spins to a 5 s deadline on every event would otherwise hold a
//! worker for two minutes before 25 failures in a row trip the breaker.
//! Time in calls that succeed is never counted: a plugin that is slow but
//! right only makes its own store slower.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

pub struct Budgets {
    trip_after_timeouts: u32,
    per_minute: Duration,
    used: Mutex<HashMap<String, Used>>,
}

struct Used {
    since: Instant,
    time: Duration,
    timeouts_in_row: u32,
}

impl Budgets {
    pub fn new(trip_after_timeouts: u32, per_minute: Duration) -> Self {
        Budgets { trip_after_timeouts, per_minute, used: Mutex::default() }
    }

    /// Counts one call of `install` (`failed` with `timed_out` or for
    /// another reason); answers why the install must be disabled now, if
    /// it must.
    pub fn charge(
        &self,
        install: &str,
        elapsed: Duration,
        failed: bool,
        timed_out: bool,
    ) -> Option<String> {
        let now = Instant::now();
        let mut used = self.used.lock().expect("budgets");
        let u = used.entry(install.to_string()).or_insert(Used {
            since: now,
            time: Duration::ZERO,
            timeouts_in_row: 0,
        });
        if now.duration_since(u.since) >= WINDOW {
            u.since = now;
            u.time = Duration::ZERO;
        }
        if failed {
            u.time += elapsed;
        }
        u.timeouts_in_row = if timed_out { u.timeouts_in_row + 1 } else { 0 };
        let why = if self.trip_after_timeouts > 0 && u.timeouts_in_row >= self.trip_after_timeouts {
            Some(format!(
                "disabled after {} calls in a row ran to their deadline",
                u.timeouts_in_row
            ))
        } else if u.time > self.per_minute {
            Some(format!(
                "disabled: its failed calls took {:.1} s of worker time within a minute (the budget is {} s)",
                u.time.as_secs_f64(),
                self.per_minute.as_secs()
            ))
        } else {
            None
        };
        if why.is_some() {
            used.remove(install);
        }
        why
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_in_a_row_trip() {
        let b = Budgets::new(3, Duration::from_secs(30));
        let ms = Duration::from_millis;
        assert!(b.charge("i", ms(100), true, true).is_none());
        assert!(b.charge("i", ms(100), true, true).is_none());
        // A call that finished breaks the run.
        assert!(b.charge("i", ms(1), false, false).is_none());
        assert!(b.charge("i", ms(100), true, true).is_none());
        assert!(b.charge("i", ms(100), true, true).is_none());
        let why = b.charge("i", ms(100), true, true).expect("third in a row");
        assert!(why.contains("3 calls in a row"), "{why}");
        // Another install is counted on its own.
        assert!(b.charge("j", ms(100), true, true).is_none());
    }

    #[test]
    fn worker_time_in_failed_calls_per_minute_trips() {
        let b = Budgets::new(0, Duration::from_secs(1));
        let ms = Duration::from_millis;
        // Slow calls that succeed cost nothing.
        for _ in 0..100 {
            assert!(b.charge("i", ms(100), false, false).is_none());
        }
        for _ in 0..10 {
            assert!(b.charge("i", ms(100), true, false).is_none());
        }
        let why = b.charge("i", ms(1), true, false).expect("over the budget");
        assert!(why.contains("worker time"), "{why}");
    }
}
