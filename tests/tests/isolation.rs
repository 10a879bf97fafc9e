//! Isolation in time: a call ends at its deadline whatever it is doing,
//! one store's plugins cannot delay another store's events, a plugin that
//! burns time is stopped early, a call that never finishes is given up on
//! across restarts, and what a plugin writes cannot forge the server's log.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use clientele_e2e::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Fuel no spin uses up before the host's maximum deadline: for the tests
/// of the wall-clock backstop (a server with `unlimited_fuel`).
const HOST_MAX_DEADLINE: &str =
    "[limits]\nmemory_mib = 32\nfuel = 1000000000000000\ntimeout_ms = 5000\n";

/// A server that lets a plugin ask for any fuel, so that the deadline is
/// what stops a spinning call.
fn unlimited_fuel(c: &mut clientele::server::ServerConfig) {
    c.max_limits.fuel = u64::MAX;
    c.max_limits.fit_fuel = u64::MAX;
}

async fn publish_hostile(s: &TestServer, version: &str, limits: &str) {
    s.publish_hostile(version, limits).await;
}

/// A store running `hostile@version` in `mode`; returns its key and install.
async fn hostile_store(s: &TestServer, store: &str, version: &str, mode: &str) -> (String, String) {
    let key = s.store(store).await;
    let install = s.install(store, &key, "hostile", version, json!({"mode": mode})).await;
    (key, install)
}

/// A store running `hostile` in `mode` (1 s deadline), and what it made
/// of one order there.
async fn one_order_with(s: &TestServer, store: &str, mode: &str) -> (String, Value) {
    publish_hostile(s, "1.0.0", "[limits]\nmemory_mib = 32\ntimeout_ms = 1000\n").await;
    let (key, _) = hostile_store(s, store, "1.0.0", mode).await;
    let r = s.event_wait(store, &key, order("e1", "c1", "2026-03-05T10:00:00Z", 1000)).await;
    (key, r[0]["installs"][0].clone())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Posts one order a tenth of a second apart to the victim store for
/// `run`, each with `?wait=true`; returns the sorted time each took to be
/// processed.
async fn victim_latencies(
    s: &TestServer,
    store: &str,
    key: &str,
    tag: &str,
    run: Duration,
) -> Vec<Duration> {
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut n = 0;
    while started.elapsed() < run {
        n += 1;
        let t = Instant::now();
        let r = s
            .event_wait(
                store,
                key,
                order(&format!("{tag}-{n}"), &format!("c{}", n % 7), "2026-03-05T10:00:00Z", 1000),
            )
            .await;
        samples.push(t.elapsed());
        assert_eq!(r[0]["status"], "processed", "{tag}: {}", r[0]);
        assert_eq!(r[0]["installs"][0]["status"], "ok", "{tag}: {}", r[0]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    samples.sort();
    samples
}

/// Keeps posting batches of four events (four customers) to the attacker
/// store until `stop` is set, so its queue never runs dry.
fn keep_attacking(
    s: &TestServer,
    store: &str,
    key: &str,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let (api, store, key) = (s.api.clone(), store.to_string(), key.to_string());
    tokio::spawn(async move {
        let mut n = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let events: Vec<Value> = (0..4)
                .map(|c| {
                    n += 1;
                    order(&format!("a-{n}"), &format!("c{c}"), "2026-03-05T10:00:00Z", 1000)
                })
                .collect();
            send_events(&api, &store, &key, events).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
}

/// The bound of the README's sandbox section: while one store's plugins
/// spin to the host's maximum deadline, sleep in a host call, or fit for
/// over ten seconds, another store's points-basic events are processed
/// within a second (p99).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_store_under_attack_does_not_delay_another() {
    let s = TestServer::start_with(|c| {
        unlimited_fuel(c);
        // One attempt each: the attacker's calls are not retried here.
        c.pipeline.retry.attempts = 1;
        // The attacks must go on for the whole run: no early breaker here.
        c.pipeline.trip_after = 1_000_000;
        c.pipeline.trip_after_timeouts = 0;
        c.pipeline.time_budget_per_minute = Duration::from_secs(3600);
    })
    .await;
    s.publish_points_basic("1.0.0").await;
    let good = s.store("good").await;
    s.install("good", &good, "points-basic", "1.0.0", json!({})).await;
    publish_hostile(&s, "1.0.0", HOST_MAX_DEADLINE).await;
    let fit_manifest = manifest(
        "spinfit",
        "1.0.0",
        "segmenter",
        &[],
        "[limits]\nfit_fuel = 1000000000000000\nfit_timeout_ms = 12000\n",
    );
    let a = s.publish_file(&fit_manifest, guests::SEGMENTER).await;
    assert!(a.status.is_success(), "{}", a.body);

    let run = Duration::from_secs(10);
    let mut report = Vec::new();
    let mut attackers = Vec::new();
    for (attacker, mode) in [("spinner", "loop"), ("sleeper", "sleep")] {
        let (key, install) = hostile_store(&s, attacker, "1.0.0", mode).await;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let attack = keep_attacking(&s, attacker, &key, stop.clone());
        tokio::time::sleep(Duration::from_millis(300)).await;
        let samples = victim_latencies(&s, "good", &good, attacker, run).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        attack.await.unwrap();
        let a = s
            .patch(
                &format!("/v1/stores/{attacker}/installs/{install}"),
                &key,
                json!({"enabled": false}),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        report.push((attacker, samples));
        attackers.push((attacker, key));
    }

    // A fit that computes for twelve seconds in a third store.
    let key = s.store("fitter").await;
    s.install("fitter", &key, "spinfit", "1.0.0", json!({"fit": "spin"})).await;
    s.event_wait("fitter", &key, order("f1", "c1", "2026-03-05T10:00:00Z", 1000)).await;
    let fit_started = Instant::now();
    let a = s.post("/v1/stores/fitter/models/fit", &key, json!({})).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let samples = victim_latencies(&s, "good", &good, "fitter", run).await;
    report.push(("fitter", samples));
    let models = s
        .until("/v1/stores/fitter/models", &key, |b| {
            b.as_array().is_some_and(|l| l.iter().any(|m| m["last_error"].is_string()))
        })
        .await;
    assert!(fit_started.elapsed() >= Duration::from_secs(10), "the fit ran past ten seconds");
    assert!(models.to_string().contains("timed out"), "{models}");
    // The attackers' calls did run to their deadline meanwhile.
    for (attacker, key) in &attackers {
        let e = s
            .until(&format!("/v1/stores/{attacker}/events/a-1"), key, |b| {
                b["status"] == "processed"
            })
            .await;
        assert_eq!(e["installs"][0]["error_code"], "timeout", "{attacker}: {e}");
        assert!(e["installs"][0]["elapsed_us"].as_i64().unwrap() >= 5_000_000, "{e}");
    }

    for (attacker, samples) in &report {
        let (p50, p99) = (percentile(samples, 0.5), percentile(samples, 0.99));
        println!(
            "victim store while `{attacker}` attacks: {} events, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            samples.len(),
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            samples.last().unwrap().as_secs_f64() * 1e3
        );
        assert!(samples.len() >= 40, "{attacker}: too few samples ({})", samples.len());
        assert!(p99 < Duration::from_secs(1), "{attacker}: p99 {p99:?} is over a second");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_sleeping_in_a_host_call_times_out_at_its_deadline() {
    // One attempt: this is about the deadline (retries have their test).
    let s = TestServer::start_with(|c| c.pipeline.retry.attempts = 1).await;
    publish_hostile(&s, "1.0.0", "[limits]\nmemory_mib = 32\ntimeout_ms = 100\n").await;
    let (key, _) = hostile_store(&s, "sleepy", "1.0.0", "sleep").await;
    for n in 0..2 {
        let started = Instant::now();
        let r = s
            .event_wait("sleepy", &key, order(&format!("e{n}"), "c1", "2026-03-05T10:00:00Z", 1000))
            .await;
        let took = started.elapsed();
        let o = &r[0]["installs"][0];
        assert_eq!(o["status"], "failed", "{o}");
        assert_eq!(o["error_code"], "timeout", "{o}");
        assert!(o["error"].as_str().unwrap().contains("100 ms"), "{o}");
        // The call itself ended within a few milliseconds of its deadline,
        // and the whole request (intake, batch, commit) soon after.
        let us = o["elapsed_us"].as_i64().unwrap();
        println!(
            "a guest sleeping 10^12 ms under a 100 ms deadline: call ended after {:.1} ms, answered after {:.1} ms",
            us as f64 / 1e3,
            took.as_secs_f64() * 1e3
        );
        assert!((100_000..150_000).contains(&us), "call took {us} µs");
        assert!(took < Duration::from_millis(600), "answered after {took:?}");
    }
    assert_eq!(s.points("sleepy", &key, "c1").await["balance"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_runs_to_its_deadline_is_stopped_after_three_calls() {
    let s = TestServer::start_with(|c| c.pipeline.retry.attempts = 1).await;
    publish_hostile(&s, "1.0.0", "[limits]\nmemory_mib = 32\ntimeout_ms = 200\n").await;
    let (key, install) = hostile_store(&s, "burner", "1.0.0", "sleep").await;
    // Six events of one customer: six batches, one after the other.
    let events: Vec<Value> =
        (0..6).map(|n| order(&format!("e{n}"), "c1", "2026-03-05T10:00:00Z", 1000)).collect();
    let started = Instant::now();
    let r = s.events_wait("burner", &key, events).await;
    let codes = error_codes(&r);
    assert_eq!(
        codes,
        [
            "timeout",
            "timeout",
            "timeout",
            "install_disabled",
            "install_disabled",
            "install_disabled"
        ],
        "{r:?}"
    );
    assert!(r[3]["installs"][0]["error"]
        .as_str()
        .unwrap()
        .contains("in a row ran to their deadline"));
    // Three calls of 200 ms, then three events that wait for no call:
    // under a second on a quiet machine; the bound leaves room for a busy one
    // (the other tests of this file spin plugins on the same two cores).
    println!("three deadlines and three refusals answered after {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    let i = s.get(&format!("/v1/stores/burner/installs/{install}"), &key).await;
    assert_eq!(i.body["enabled"], false, "{}", i.body);
    assert!(i.body["disabled_reason"].as_str().unwrap().contains("deadline"), "{}", i.body);
    // Events received after the trip are not the install's any more.
    let r = s.event_wait("burner", &key, order("later", "c1", "2026-03-05T10:00:00Z", 1000)).await;
    assert_eq!(r[0]["status"], "processed");
    assert_eq!(r[0]["installs"], json!([]), "{}", r[0]);
    // Enabled again, it runs again.
    let a = s
        .patch(
            &format!("/v1/stores/burner/installs/{install}"),
            &key,
            json!({"enabled": true, "config": {"mode": "ok"}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let r = s.event_wait("burner", &key, order("again", "c1", "2026-03-05T10:00:00Z", 1000)).await;
    assert_eq!(r[0]["installs"][0]["status"], "ok", "{}", r[0]);
}

/// With retries on (as served), a call that keeps running to its deadline
/// is tried again until the breaker trips; the event keeps its own code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_of_a_call_that_runs_to_its_deadline_stop_at_the_breaker() {
    let s = TestServer::start().await;
    publish_hostile(&s, "1.0.0", "[limits]\nmemory_mib = 32\ntimeout_ms = 200\n").await;
    let (key, install) = hostile_store(&s, "retried", "1.0.0", "sleep").await;
    let events: Vec<Value> =
        (0..3).map(|n| order(&format!("e{n}"), "c1", "2026-03-05T10:00:00Z", 1000)).collect();
    let r = s.events_wait("retried", &key, events).await;
    assert_eq!(error_codes(&r), ["timeout", "install_disabled", "install_disabled"], "{r:?}");
    let first = &r[0]["installs"][0];
    assert!(first["error"].as_str().unwrap().contains("after 3 attempts"), "{first}");
    let a = s.get(&format!("/v1/stores/retried/installs/{install}/failures"), &key).await;
    let listed: Vec<(&str, &str)> = a
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["event_id"].as_str().unwrap(), f["code"].as_str().unwrap()))
        .collect();
    assert!(listed.contains(&("e0", "timeout")), "{listed:?}");
}

/// A call the process never came back from (here: the workers are ended
/// in the middle of it, as a crash would) is attempted three times, then
/// given up on, so the customer's later events run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_never_finishes_is_given_up_after_three_starts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let (key, install) = {
        let s = TestServer::start_with(|c| {
            c.data_dir = path.clone();
            unlimited_fuel(c);
        })
        .await;
        publish_hostile(&s, "1.0.0", HOST_MAX_DEADLINE).await;
        let (key, install) = hostile_store(&s, "stuck", "1.0.0", "loop").await;
        let a = s
            .post("/v1/stores/stuck/events", &key, order("e1", "c1", "2026-03-05T10:00:00Z", 1000))
            .await;
        assert_eq!(a.status, StatusCode::ACCEPTED);
        tokio::time::sleep(Duration::from_millis(500)).await;
        s.running.pipeline.stop_workers();
        (key, install)
    };
    for _ in 0..2 {
        let s = TestServer::start_with(|c| {
            c.data_dir = path.clone();
            unlimited_fuel(c);
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let e = s.get("/v1/stores/stuck/events/e1", &key).await;
        assert_eq!(e.body["status"], "pending", "still running when stopped: {}", e.body);
        s.running.pipeline.stop_workers();
    }
    let s = TestServer::start_with(|c| {
        c.data_dir = path.clone();
        unlimited_fuel(c);
    })
    .await;
    let e = s.until("/v1/stores/stuck/events/e1", &key, |b| b["status"] == "processed").await;
    let o = &e["installs"][0];
    assert_eq!(o["error_code"], "abandoned", "{e}");
    assert!(o["error"].as_str().unwrap().contains("3 times"), "{o}");
    // The customer is not blocked: the next event runs (on a fixed config).
    let a = s
        .patch(
            &format!("/v1/stores/stuck/installs/{install}"),
            &key,
            json!({"config": {"mode": "ok"}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let r = s.event_wait("stuck", &key, order("e2", "c1", "2026-03-05T11:00:00Z", 1000)).await;
    assert_eq!(r[0]["installs"][0]["status"], "ok", "{}", r[0]);
    assert!(s.points("stuck", &key, "c1").await["balance"].as_i64().unwrap() > 0);
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiry_past_the_year_9999_is_invalid_output() {
    let s = TestServer::start().await;
    let (key, o) = one_order_with(&s, "forever", "expiry").await;
    assert_eq!(o["error_code"], "invalid_output", "{o}");
    assert!(o["error"].as_str().unwrap().contains("9999"), "{o}");
    let p = s.points("forever", &key, "c1").await;
    assert_eq!(p["balance"], 0, "nothing applied: {p}");
}

/// Every line the server logs, as written (the human-readable format).
fn captured_log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        tracing_subscriber::fmt().with_ansi(false).with_writer(move || Sink(sink.clone())).init();
        log
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_output_cannot_forge_a_log_line() {
    let log = captured_log();
    let s = TestServer::start().await;
    let (_, o) = one_order_with(&s, "forger", "forge").await;
    assert_eq!(o["status"], "ok", "{o}");
    let text = String::from_utf8_lossy(&log.lock().unwrap()).to_string();
    let forged: Vec<&str> = text.lines().filter(|l| l.contains("FORGED")).collect();
    assert_eq!(forged.len(), 2, "one log line and one stdout line: {forged:#?}");
    for line in forged {
        // Each is one record of the plugin's, tagged, on a line of its own.
        assert!(line.contains(" plugin: "), "{line}");
        assert!(line.contains("store=forger") || line.contains("store=\"forger\""), "{line}");
        assert!(!line.starts_with("2099"), "{line}");
        assert!(!line.contains('\u{1b}') && !line.contains('\r'), "{line:?}");
    }
    assert!(text.contains("ok\\n2099-01-01"), "newline escaped");
    assert!(text.contains("\\u{1b}[31mred"), "ANSI escape escaped");
    assert!(text.contains("out\\rFORGED-STDOUT"), "carriage return escaped");
}
