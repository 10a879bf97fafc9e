//! Metrics through the `metrics` crate, exported in the Prometheus text
//! format by `metrics-exporter-prometheus`: counters, gauges, and call
//! durations as histograms with fixed buckets, labelled by store, plugin,
//! version and outcome code, so they add up across processes.
//!
//! Each `Metrics` has a recorder of its own rather than the process-wide
//! one, so that several servers in one process (the tests, the benchmark)
//! count apart. An install's p50/p99 for the API come from its last
//! `WINDOW` calls, kept here too.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use metrics::{Counter, Key, Label, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

const WINDOW: usize = 1024;

/// Buckets of `clientele_plugin_call_fuel`: 10 thousand to 2 billion
/// (the host's ceiling for one call).
const FUEL_BUCKETS: [f64; 10] = [1e4, 1e5, 3e5, 1e6, 3e6, 1e7, 3e7, 1e8, 5e8, 2e9];

/// Buckets of `clientele_plugin_call_duration_seconds`: 10 µs to 5 s
/// (the longest deadline a call may have).
const CALL_BUCKETS: [f64; 14] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.05,
    0.25, 1.0, 5.0,
];

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// What one plugin call was, for its metrics.
pub struct CallRecord<'a> {
    pub store: &'a str,
    pub install: &'a str,
    pub plugin: &'a str,
    pub version: &'a str,
    /// `ok`, or the failure's code (`timeout`, `trap`, …).
    pub code: &'a str,
    pub elapsed_us: u32,
    /// Fuel the call used, where it ran.
    pub fuel: Option<u64>,
}

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    pub events_ingested: Counter,
    pub events_duplicate: Counter,
    pub events_processed: Counter,
    pub intake_refused: Counter,
    pub messages_delivered: Counter,
    pub messages_failed: Counter,
    recent: Mutex<HashMap<String, VecDeque<u32>>>,
    /// The `clientele_dead_letters` series shown so far.
    dead_letter_series: Mutex<HashMap<(String, String), i64>>,
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
    /// Leases (stores, cluster jobs) this node holds.
    pub leases_held: usize,
    /// Whether the database answered this node last time it asked.
    pub database_up: bool,
}

/// Latency quantiles of one install, in microseconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Latency {
    pub p50_us: u32,
    pub p99_us: u32,
}

/// The `q` quantile of sorted samples by nearest rank (the default of
/// none).
pub fn quantile<T: Copy + Default>(sorted: &[T], q: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

impl Metrics {
    /// Metrics of the node `node` (a label on every series).
    pub fn new(node: &str) -> Self {
        let recorder = PrometheusBuilder::new()
            .add_global_label("node", node)
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Suffix("_duration_seconds".into()),
                &CALL_BUCKETS,
            )
            .expect("buckets are not empty")
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Suffix("_fuel".into()),
                &FUEL_BUCKETS,
            )
            .expect("buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        let counter = |name: &'static str, help: &'static str| {
            recorder.describe_counter(name.into(), None, help.into());
            recorder.register_counter(&Key::from_static_name(name), &METADATA)
        };
        Metrics {
            events_ingested: counter(
                "clientele_events_ingested_total",
                "Events taken in (not counting duplicates)",
            ),
            events_duplicate: counter(
                "clientele_events_duplicate_total",
                "Events sent again with an id already taken in",
            ),
            events_processed: counter(
                "clientele_events_processed_total",
                "Events every install they concern has run on",
            ),
            messages_delivered: counter(
                "clientele_messages_delivered_total",
                "Messages delivered to the log or a webhook",
            ),
            intake_refused: counter(
                "clientele_intake_refused_total",
                "Event requests refused with 429 because too many events were pending",
            ),
            messages_failed: counter(
                "clientele_messages_failed_total",
                "Messages given up on after the last attempt",
            ),
            recorder,
            handle,
            recent: Mutex::new(HashMap::new()),
            dead_letter_series: Mutex::new(HashMap::new()),
        }
    }

    pub fn record_call(&self, call: &CallRecord) {
        let labels = vec![
            Label::new("store", call.store.to_string()),
            Label::new("plugin", call.plugin.to_string()),
            Label::new("version", call.version.to_string()),
            Label::new("code", call.code.to_string()),
        ];
        self.recorder
            .register_counter(
                &Key::from_parts("clientele_plugin_calls_total", labels.clone()),
                &METADATA,
            )
            .increment(1);
        if let Some(fuel) = call.fuel {
            let labels = labels[..3].to_vec();
            self.recorder
                .register_histogram(
                    &Key::from_parts("clientele_plugin_call_fuel", labels),
                    &METADATA,
                )
                .record(fuel as f64);
        }
        self.recorder
            .register_histogram(
                &Key::from_parts("clientele_plugin_call_duration_seconds", labels),
                &METADATA,
            )
            .record(f64::from(call.elapsed_us) / 1e6);
        let mut recent = self.recent.lock().unwrap();
        let window = recent.entry(call.install.to_string()).or_default();
        if window.len() == WINDOW {
            window.pop_front();
        }
        window.push_back(call.elapsed_us);
    }

    fn add(&self, name: &'static str, labels: Vec<Label>, n: u64) {
        if n > 0 {
            self.recorder.register_counter(&Key::from_parts(name, labels), &METADATA).increment(n);
        }
    }

    fn plugin_labels(store: &str, plugin: &str, version: &str) -> Vec<Label> {
        vec![
            Label::new("store", store.to_string()),
            Label::new("plugin", plugin.to_string()),
            Label::new("version", version.to_string()),
        ]
    }

    /// A breaker disabled an install running `plugin@version`.
    pub fn breaker_tripped(&self, store: &str, plugin: &str, version: &str) {
        let labels = Self::plugin_labels(store, plugin, version);
        self.add("clientele_breaker_trips_total", labels, 1);
    }

    /// A shadow version's calls in one batch.
    pub fn shadow_calls(
        &self,
        store: &str,
        plugin: &str,
        version: &str,
        counts: &crate::domain::rollout::Counts,
    ) {
        let labels = Self::plugin_labels(store, plugin, version);
        self.add("clientele_shadow_calls_total", labels.clone(), counts.calls as u64);
        self.add("clientele_shadow_failures_total", labels.clone(), counts.failures as u64);
        self.add("clientele_shadow_disagreements_total", labels, counts.disagreements as u64);
    }

    /// A canary's state: its share while it runs, 0 when it ended.
    pub fn canary_percent(&self, store: &str, plugin: &str, version: &str, percent: u8) {
        self.recorder
            .register_gauge(
                &Key::from_parts(
                    "clientele_canary_percent",
                    Self::plugin_labels(store, plugin, version),
                ),
                &METADATA,
            )
            .set(f64::from(percent));
    }

    /// A canary rolled itself back.
    pub fn canary_rolled_back(&self, store: &str, plugin: &str, version: &str) {
        let labels = Self::plugin_labels(store, plugin, version);
        self.add("clientele_canary_rollbacks_total", labels, 1);
        self.canary_percent(store, plugin, version, 0);
    }

    /// Failures kept for a re-drive, per install, as they are now (an
    /// install no longer listed has none left).
    pub fn dead_letters(&self, depth: &[(String, String, i64)]) {
        let mut shown = self.dead_letter_series.lock().unwrap();
        let now: HashMap<(String, String), i64> =
            depth.iter().map(|(s, i, n)| ((s.clone(), i.clone()), *n)).collect();
        for key in shown.keys().chain(now.keys()) {
            let labels =
                vec![Label::new("store", key.0.clone()), Label::new("install", key.1.clone())];
            self.recorder
                .register_gauge(&Key::from_parts("clientele_dead_letters", labels), &METADATA)
                .set(now.get(key).copied().unwrap_or(0) as f64);
        }
        shown.extend(now);
    }

    pub fn latency(&self, install: &str) -> Latency {
        let recent = self.recent.lock().unwrap();
        let Some(window) = recent.get(install) else {
            return Latency::default();
        };
        let mut v: Vec<u32> = window.iter().copied().collect();
        v.sort_unstable();
        Latency { p50_us: quantile(&v, 0.50), p99_us: quantile(&v, 0.99) }
    }

    /// The Prometheus text, with `gauges` as they are now.
    pub fn render(&self, gauges: &Gauges) -> String {
        let values: [(&'static str, &'static str, f64); 6] = [
            (
                "clientele_events_pending",
                "Events taken in and not yet processed",
                gauges.pending_events.max(0) as f64,
            ),
            ("clientele_workers", "Event workers in the pool", gauges.workers as f64),
            (
                "clientele_stores_with_work",
                "Stores with events or flow steps waiting",
                gauges.stores_with_work as f64,
            ),
            ("clientele_stores_held", "Stores a worker holds now", gauges.stores_held as f64),
            (
                "clientele_leases_held",
                "Leases (stores, cluster jobs) this node holds",
                gauges.leases_held as f64,
            ),
            (
                "clientele_database_up",
                "1 while the database answers this node, 0 during an outage",
                if gauges.database_up { 1.0 } else { 0.0 },
            ),
        ];
        for (name, help, value) in values {
            self.recorder.describe_gauge(name.into(), None, help.into());
            self.recorder.register_gauge(&Key::from_static_name(name), &METADATA).set(value);
        }
        let compilations = "clientele_plugin_compilations_total";
        self.recorder.describe_counter(
            compilations.into(),
            None,
            "Components compiled since the process started".into(),
        );
        self.recorder
            .register_counter(&Key::from_static_name(compilations), &METADATA)
            .absolute(gauges.compilations);
        self.handle.render()
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
        assert_eq!(quantile::<u32>(&[], 0.5), 0);
    }

    #[test]
    fn calls_render_as_labelled_histograms() {
        let m = Metrics::new("node-1");
        for (code, us) in [("ok", 20), ("ok", 30), ("timeout", 100_000)] {
            m.record_call(&CallRecord {
                store: "acme",
                install: "ins_1",
                plugin: "points-basic",
                version: "1.0.0",
                code,
                elapsed_us: us,
                fuel: Some(1000),
            });
        }
        m.events_processed.increment(3);
        let text = m.render(&Gauges::default());
        // The series with these labels (in any order) and this value.
        let has = |name: &str, labels: &[&str], value: &str| {
            text.lines().any(|l| {
                l.strip_prefix(name)
                    .and_then(|l| l.strip_prefix('{'))
                    .and_then(|l| l.split_once("} "))
                    .is_some_and(|(set, v)| {
                        let set: Vec<&str> = set.split(',').collect();
                        v == value && labels.iter().all(|want| set.contains(want))
                    })
            })
        };
        let call = [
            r#"store="acme""#,
            r#"plugin="points-basic""#,
            r#"version="1.0.0""#,
            r#"code="ok""#,
            r#"node="node-1""#,
        ];
        assert!(has("clientele_plugin_calls_total", &call, "2"), "{text}");
        let bucket = [&call[..], &[r#"le="0.00005""#]].concat();
        assert!(has("clientele_plugin_call_duration_seconds_bucket", &bucket, "2"), "{text}");
        assert!(has("clientele_events_processed_total", &[r#"node="node-1""#], "3"), "{text}");
        assert!(text.contains("# TYPE clientele_plugin_call_duration_seconds histogram"), "{text}");
        assert_eq!(m.latency("ins_1").p50_us, 30);
    }
}
