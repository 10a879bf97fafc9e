//! A new version beside the live one: a shadow (runs on the same events,
//! nothing applied, its decisions compared) or a canary (takes a stable
//! share of the customers, and rolls itself back when it fails more).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::time::Millis;

/// A shadow version of an install.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shadow {
    pub version: String,
    pub config: Value,
    pub since: Millis,
}

/// A canary version of an install.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Canary {
    pub version: String,
    pub config: Value,
    /// Share of the store's customers it decides for, 1–100.
    pub percent: u8,
    /// It rolls back when its failure rate exceeds the live version's by
    /// more than this many percentage points …
    pub max_failure_margin: f64,
    /// … over at least this many calls of its own.
    pub min_calls: i64,
    pub since: Millis,
    /// `running`, or `rolled_back` (with `reason`).
    pub state: CanaryState,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CanaryState {
    Running,
    RolledBack,
}

impl Canary {
    pub const DEFAULT_MARGIN: f64 = 10.0;
    pub const DEFAULT_MIN_CALLS: i64 = 20;

    /// Whether the canary decides for this customer: a stable hash of the
    /// customer id (FNV-1a, 64 bit) below its share, so a customer stays on
    /// one side while the share stays the same.
    pub fn routes(&self, customer: &str) -> bool {
        self.state == CanaryState::Running && bucket(customer) < u64::from(self.percent)
    }

    /// Why the canary must roll back, given its counts and the live
    /// version's since it began; `None` while it holds up.
    pub fn verdict(&self, canary: (i64, i64), live: (i64, i64)) -> Option<String> {
        let (calls, failures) = canary;
        if calls < self.min_calls.max(1) {
            return None;
        }
        let rate = 100.0 * failures as f64 / calls as f64;
        let live_rate = if live.0 > 0 { 100.0 * live.1 as f64 / live.0 as f64 } else { 0.0 };
        (rate > live_rate + self.max_failure_margin).then(|| {
            format!(
                "canary {} failed {failures} of {calls} calls ({rate:.1} %), the live version \
                 {} of {} ({live_rate:.1} %): more than {} points worse",
                self.version, live.1, live.0, self.max_failure_margin
            )
        })
    }
}

/// The customer's bucket, 0–99.
pub fn bucket(customer: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in customer.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % 100
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canary(percent: u8) -> Canary {
        Canary {
            version: "1.1.0".into(),
            config: Value::Null,
            percent,
            max_failure_margin: 10.0,
            min_calls: 20,
            since: 0,
            state: CanaryState::Running,
            reason: None,
        }
    }

    #[test]
    fn routes_a_stable_share() {
        let c = canary(30);
        let routed = (0..10_000).filter(|i| c.routes(&format!("c{i}"))).count();
        assert!((2_700..3_300).contains(&routed), "{routed}");
        // The same customer, the same side.
        assert_eq!(c.routes("alice"), c.routes("alice"));
        assert_eq!(bucket("alice"), bucket("alice"));
        assert!(!canary(0).routes("alice"));
        assert!(canary(100).routes("alice"));
    }

    #[test]
    fn rolls_back_past_the_margin_only() {
        let c = canary(30);
        assert_eq!(c.verdict((10, 10), (10, 0)), None, "too few calls");
        assert_eq!(c.verdict((20, 2), (100, 0)), None, "10 % is not past 10 points");
        assert!(c.verdict((20, 3), (100, 0)).is_some());
        assert_eq!(c.verdict((20, 6), (100, 20)), None, "30 % against 20 %");
    }
}

/// One run's counts (a batch's, to add; or the total since it began).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub calls: i64,
    pub failures: i64,
    pub agreements: i64,
    pub disagreements: i64,
    /// Sum of the calls' times.
    pub elapsed_us: i64,
    /// Sum of the calls' fuel.
    pub fuel: i64,
}

impl Counts {
    pub fn is_empty(&self) -> bool {
        self.calls == 0
    }

    /// Counts one call.
    pub fn add_call(&mut self, ok: bool, elapsed: std::time::Duration, fuel: Option<u64>) {
        self.calls += 1;
        self.failures += i64::from(!ok);
        self.elapsed_us += elapsed.as_micros() as i64;
        self.fuel += fuel.unwrap_or(0) as i64;
    }
}
