//! In-process counters and per-install latency, exported as Prometheus
//! text. Latency quantiles come from the last `WINDOW` calls per install.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

const WINDOW: usize = 1024;

#[derive(Default)]
struct InstallStats {
    plugin: String,
    ok: u64,
    failed: u64,
    recent_us: VecDeque<u32>,
}

#[derive(Default)]
pub struct Metrics {
    pub events_ingested: AtomicU64,
    pub events_duplicate: AtomicU64,
    pub events_processed: AtomicU64,
    pub batches: AtomicU64,
    pub messages_delivered: AtomicU64,
    pub messages_failed: AtomicU64,
    installs: Mutex<HashMap<String, InstallStats>>,
}

/// What the pipeline is doing now, read when `/metrics` is asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    pub pending_events: i64,
    /// Event workers in the pool.
    pub workers: usize,
    /// Stores with work waiting for a worker or being served.
    pub stores_with_work: usize,
    /// Stores a worker (or a fit's update) holds right now.
    pub stores_held: usize,
    /// Components compiled since the process started.
    pub compilations: u64,
}

/// Latency quantiles of one install, in microseconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Latency {
    pub p50_us: u32,
    pub p99_us: u32,
}

fn quantile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

impl Metrics {
    pub fn record_call(&self, install: &str, plugin: &str, ok: bool, elapsed_us: u32) {
        let mut map = self.installs.lock().unwrap();
        let s = map.entry(install.to_string()).or_default();
        s.plugin = plugin.to_string();
        if ok {
            s.ok += 1;
        } else {
            s.failed += 1;
        }
        if s.recent_us.len() == WINDOW {
            s.recent_us.pop_front();
        }
        s.recent_us.push_back(elapsed_us);
    }

    pub fn latency(&self, install: &str) -> Latency {
        let map = self.installs.lock().unwrap();
        let Some(s) = map.get(install) else {
            return Latency::default();
        };
        let mut v: Vec<u32> = s.recent_us.iter().copied().collect();
        v.sort_unstable();
        Latency {
            p50_us: quantile(&v, 0.50),
            p99_us: quantile(&v, 0.99),
        }
    }

    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let scalars: [(&str, &str, u64); 10] = [
            (
                "clientele_events_ingested_total",
                "counter",
                c(&self.events_ingested),
            ),
            (
                "clientele_events_duplicate_total",
                "counter",
                c(&self.events_duplicate),
            ),
            (
                "clientele_events_processed_total",
                "counter",
                c(&self.events_processed),
            ),
            (
                "clientele_messages_delivered_total",
                "counter",
                c(&self.messages_delivered),
            ),
            (
                "clientele_messages_failed_total",
                "counter",
                c(&self.messages_failed),
            ),
            (
                "clientele_events_pending",
                "gauge",
                gauges.pending_events.max(0) as u64,
            ),
            ("clientele_workers", "gauge", gauges.workers as u64),
            (
                "clientele_stores_with_work",
                "gauge",
                gauges.stores_with_work as u64,
            ),
            ("clientele_stores_held", "gauge", gauges.stores_held as u64),
            (
                "clientele_plugin_compilations_total",
                "counter",
                gauges.compilations,
            ),
        ];
        for (name, kind, value) in scalars {
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        }
        let _ = writeln!(out, "# TYPE clientele_plugin_calls_total counter");
        let _ = writeln!(out, "# TYPE clientele_plugin_call_duration_us summary");
        let map = self.installs.lock().unwrap();
        let mut ids: Vec<&String> = map.keys().collect();
        ids.sort();
        for id in ids {
            let s = &map[id];
            let labels = format!("install=\"{id}\",plugin=\"{}\"", s.plugin);
            let _ = writeln!(
                out,
                "clientele_plugin_calls_total{{{labels},status=\"ok\"}} {}",
                s.ok
            );
            let _ = writeln!(
                out,
                "clientele_plugin_calls_total{{{labels},status=\"failed\"}} {}",
                s.failed
            );
            let mut v: Vec<u32> = s.recent_us.iter().copied().collect();
            v.sort_unstable();
            for q in [0.5, 0.99] {
                let _ = writeln!(
                    out,
                    "clientele_plugin_call_duration_us{{{labels},quantile=\"{q}\"}} {}",
                    quantile(&v, q)
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), 50);
        assert_eq!(quantile(&v, 0.99), 99);
        assert_eq!(quantile(&[7], 0.99), 7);
        assert_eq!(quantile(&[], 0.5), 0);
    }
}
