//! `clientele bench`: the figures in BENCHMARKS.md.
//! 1. per-call latency of points-basic (a fresh instance per call),
//! 2. events/s end to end through HTTP, batches of 1000, on SQLite,
//! 3. cold start (`serve` → healthz 200) with the cached artifact.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clientele::api::parse_event;
use clientele::client::ApiClient;
use clientele::domain::customer::{Customer, CustomerStats};
use clientele::domain::manifest::{Limits, Manifest};
use clientele::runtime::services::NoServices;
use clientele::runtime::{CallInput, Runtime};
use clientele::server::{self, ServerConfig};
use clientele_plugin_build as plugin_build;
use serde_json::{json, Value};

use clientele::metrics::quantile as percentile;

fn order(i: usize, customers: usize) -> Value {
    order_of(i, i % customers)
}

const CONFIG: &str = r#"{"earn":[{"from_units":0,"rate":1},{"from_units":50,"rate":2}],
  "tiers":[{"name":"silver","min_spend_cents":50000,"multiplier":1.2}],"first_order_bonus":10,"expiry_days":365}"#;

/// points-basic per call, with fuel metering (as served) and without it
/// (what metering costs), twice each, alternating; then a call that
/// decides nothing (an event the rules ignore, an empty config): what a
/// fresh instance costs whatever the plugin does.
fn per_call(wasm: &Path, manifest: &Manifest, calls: usize) -> anyhow::Result<()> {
    let order = |i| order(i, 1);
    for metered in [false, true, false, true] {
        per_call_of("points-basic on-event", wasm, manifest, calls, CONFIG, metered, order)?;
    }
    let nothing = |i| {
        json!({"id": format!("bench-{i}"), "type": "customer.created", "customer_id": "c0",
               "occurred_at": "2026-03-05T10:00:00Z", "data": {}})
    };
    per_call_of(
        "points-basic on-event of an event it ignores, config {}",
        wasm,
        manifest,
        calls,
        "{}",
        true,
        nothing,
    )
}

/// A runtime with the host's maximum limits, its artifacts in `dir`;
/// `metered: false` only to measure what fuel metering costs.
fn bench_runtime(dir: &Path, metered: bool) -> anyhow::Result<Runtime> {
    if metered {
        Runtime::new(dir, Limits::HOST_MAX)
    } else {
        Runtime::unmetered(dir, Limits::HOST_MAX)
    }
}

/// Per-call latency of a point-rules plugin (`on-event` of the events
/// `event` makes); a plugin that decides something must say so.
fn per_call_of(
    name: &str,
    wasm: &Path,
    manifest: &Manifest,
    calls: usize,
    config: &str,
    metered: bool,
    event: fn(usize) -> Value,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let runtime = bench_runtime(dir.path(), metered)?;
    let bytes = std::fs::read(wasm)?;
    let plugin = runtime.publish(&format!("{name}@bench"), "bench", &bytes, manifest)?;
    let services: Arc<dyn clientele::runtime::services::HostServices> = Arc::new(NoServices);
    let customer = Customer {
        id: "c1".into(),
        birthday: Some("1990-03-17".into()),
        stats: CustomerStats { orders: 3, net_spend_cents: 42_000, ..Default::default() },
        ..Default::default()
    };
    let mut samples = Vec::with_capacity(calls);
    let mut fuel = 0;
    for i in 0..calls + calls / 10 {
        let event = parse_event(event(i)).map_err(|e| anyhow::anyhow!("{:?}", e.errors))?;
        let input = CallInput::new("s", "i", "points-basic", None, &services).with_pii(true);
        let trace = input.trace.clone();
        let t = Instant::now();
        let out = runtime.on_event(&plugin, input, config, &customer, &event, None)?;
        let elapsed = t.elapsed();
        fuel = trace.fuel();
        if out.value.is_empty() && config != "{}" {
            bail!("{name} returned no ops");
        }
        if i >= calls / 10 {
            samples.push(elapsed); // the first tenth warms caches
        }
    }
    samples.sort();
    println!(
        "per-call latency ({name}, fresh store + instance per call, {}, {} calls): p50 {:.1} µs, p99 {:.1} µs, {fuel} fuel per call",
        if metered { "fuel metered" } else { "unmetered" },
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6
    );
    Ok(())
}

async fn publish_and_install(
    api: &ApiClient,
    admin: &str,
    wasm: &Path,
    manifest_text: &str,
) -> anyhow::Result<String> {
    api.publish(admin, manifest_text, std::fs::read(wasm)?).await?.ok()?;
    let store = json!({"id": "bench", "currency": "CNY"});
    let r = api.post("/v1/stores", admin, &store).await?.ok()?;
    let key = r["api_key"].as_str().context("store key")?.to_string();
    let config: Value = serde_json::from_str(CONFIG)?;
    let install = json!({"plugin": "points-basic", "config": config});
    api.post("/v1/stores/bench/installs", &key, &install).await?.ok()?;
    Ok(key)
}

async fn throughput(wasm: &Path, manifest_text: &str, events: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = ServerConfig::new(dir.path());
    config.admin_token = Some("bench".into());
    let running = server::start(config).await?;
    let api = ApiClient::new(format!("http://{}", running.addr));
    let key = publish_and_install(&api, "bench", wasm, manifest_text).await?;
    let customers = (events / 10).max(1);
    let batches: Vec<Value> = (0..events)
        .collect::<Vec<_>>()
        .chunks(1000)
        .map(|c| json!({"events": c.iter().map(|&i| order(i, customers)).collect::<Vec<_>>()}))
        .collect();
    let started = Instant::now();
    for (n, b) in batches.iter().enumerate() {
        let r = api.post("/v1/stores/bench/events", &key, b).await?;
        if r.status != reqwest::StatusCode::ACCEPTED {
            bail!("ingest: {} {}", r.status, r.body);
        }
        if n % 5 == 4 {
            eprintln!("  … {} events accepted", (n + 1) * 1000);
        }
    }
    let accepted = started.elapsed();
    loop {
        let done = running.pipeline.events_processed();
        if done as usize >= events {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let total = started.elapsed();
    println!(
        "end to end ({events} order events, {customers} customers, batches of 1000, SQLite): ingest {:.0} events/s, processed {:.0} events/s ({:.2} s)",
        events as f64 / accepted.as_secs_f64(),
        events as f64 / total.as_secs_f64(),
        total.as_secs_f64()
    );
    running.task.abort();
    Ok(())
}

async fn cold_start(wasm: &Path, manifest_text: &str, runs: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data: PathBuf = dir.path().join("data");
    {
        let mut config = ServerConfig::new(&data);
        config.admin_token = Some("bench".into());
        let running = server::start(config).await?;
        publish_and_install(
            &ApiClient::new(format!("http://{}", running.addr)),
            "bench",
            wasm,
            manifest_text,
        )
        .await?;
        running.task.abort();
    }
    let exe = std::env::current_exe()?;
    let mut samples = Vec::new();
    for i in 0..runs {
        let port = 18_000 + (std::process::id() % 1000) as u16 * 10 + i as u16;
        let started = Instant::now();
        let mut child = std::process::Command::new(&exe)
            .args(["serve", "--data-dir"])
            .arg(&data)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("CLIENTELE_ADMIN_TOKEN", "bench")
            .env("CLIENTELE_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()?;
        let url = format!("http://127.0.0.1:{port}/healthz");
        let http = reqwest::Client::new();
        loop {
            if let Ok(r) = http.get(&url).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                bail!("server did not become healthy within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        samples.push(started.elapsed());
        let _ = child.kill();
        let _ = child.wait();
    }
    samples.sort();
    println!(
        "cold start (serve → healthz 200, one installed plugin from its cached artifact, {runs} runs): median {:.0} ms, max {:.0} ms",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    Ok(())
}

pub async fn run(events: usize, calls: usize) -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let plugin_dir = root.join("plugins/points-basic");
    let wasm = plugin_build::build(&plugin_dir, None)?;
    let manifest_text = std::fs::read_to_string(plugin_dir.join("plugin.toml"))?;
    let manifest = Manifest::parse(&manifest_text).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    println!("machine: {} cores", std::thread::available_parallelism().map_or(0, |n| n.get()));
    {
        let wasm = wasm.clone();
        tokio::task::spawn_blocking(move || per_call(&wasm, &manifest, calls)).await??;
    }
    if events == 0 {
        return Ok(()); // the per-call latency only
    }
    throughput(&wasm, &manifest_text, events).await?;
    cold_start(&wasm, &manifest_text, 10).await?;

    // The other languages.
    let js_dir = root.join("plugins/points-campaign");
    let js = plugin_build::build(&js_dir, None)?;
    let js_manifest = Manifest::parse(&std::fs::read_to_string(js_dir.join("plugin.toml"))?)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let js_config = r#"{"campaigns":[{"name":"spring","starts_at":"2026-01-01T00:00:00Z","ends_at":"2027-01-01T00:00:00Z","multiplier":2,"categories":["oolong"]}]}"#;
    let py_dir = root.join("plugins/survey-scoring");
    let py = plugin_build::build(&py_dir, None)?;
    let py_manifest = Manifest::parse(&std::fs::read_to_string(py_dir.join("plugin.toml"))?)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let n = (calls / 10).max(100);
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let order = |i| order(i, 1);
        per_call_of(
            "points-campaign (JavaScript) on-event",
            &js,
            &js_manifest,
            n,
            js_config,
            true,
            order,
        )?;
        per_score(&py, &py_manifest, n)
    })
    .await??;

    for customers in [2_500, 25_000] {
        fits(&root, customers).await?;
    }
    Ok(())
}

/// Per-call latency of survey-scoring's `score` (Python).
fn per_score(wasm: &Path, manifest: &Manifest, calls: usize) -> anyhow::Result<()> {
    use clientele::runtime::scoring;
    let dir = tempfile::tempdir()?;
    let runtime = bench_runtime(dir.path(), true)?;
    let plugin =
        runtime.publish("survey-scoring@bench", "bench", &std::fs::read(wasm)?, manifest)?;
    let services: Arc<dyn clientele::runtime::services::HostServices> = Arc::new(NoServices);
    let survey = scoring::Survey { id: "s".into(), kind: "nps".into(), questions: vec![] };
    let mut samples = Vec::with_capacity(calls);
    let mut fuel = 0;
    for i in 0..calls + calls / 10 {
        let response = scoring::Response {
            customer_id: "c1".into(),
            submitted_at: 0,
            answers: format!("{{\"score\": {}}}", i % 11),
        };
        let input = CallInput::new("s", "i", "survey-scoring", None, &services);
        let trace = input.trace.clone();
        let t = Instant::now();
        runtime.score(&plugin, input, "{}", &survey, &response)?;
        fuel = trace.fuel();
        if i >= calls / 10 {
            samples.push(t.elapsed());
        }
    }
    samples.sort();
    println!(
        "per-call latency (survey-scoring (Python) score, fresh store + instance per call, {} calls): p50 {:.1} µs, p99 {:.1} µs, {fuel} fuel per call",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6
    );
    Ok(())
}

/// Fits of rfm-segments and churn-winback over `customers` customers
/// (1 to 5 orders each), through the API: the plugin's fit time, and the
/// whole request with every customer re-classified / re-assessed.
async fn fits(root: &Path, customers: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = ServerConfig::new(dir.path());
    config.admin_token = Some("bench".into());
    let running = server::start(config).await?;
    let api = ApiClient::new(format!("http://{}", running.addr));
    let store = json!({"id": "fit", "currency": "CNY"});
    let r = api.post("/v1/stores", "bench", &store).await?.ok()?;
    let key = r["api_key"].as_str().context("store key")?.to_string();
    let mut events = Vec::new();
    for c in 0..customers {
        let n = 1 + c % 5;
        let first = 3 * (c % 200);
        for k in 0..n {
            let day = first + k * (7 + c % 23);
            events.push(json!({"id": format!("f{c}-{k}"), "type": "order.placed", "customer_id": format!("c{c}"),
                "occurred_at": format!("{}T10:00:00Z", date_of(day)),
                "data": {"order_id": format!("o{c}-{k}"), "total_cents": 1000 + (c % 50) as i64 * 300, "currency": "CNY", "items": []}}));
        }
    }
    eprintln!("  … ingesting {} orders of {customers} customers", events.len());
    for chunk in events.chunks(1000) {
        api.post("/v1/stores/fit/events", &key, &json!({"events": chunk})).await?.ok()?;
    }
    while (running.pipeline.events_processed() as usize) < events.len() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for name in ["rfm-segments", "churn-winback"] {
        let dir = root.join("plugins").join(name);
        let wasm = plugin_build::build(&dir, None)?;
        let manifest = std::fs::read_to_string(dir.join("plugin.toml"))?;
        api.publish("bench", &manifest, std::fs::read(&wasm)?).await?.ok()?;
        api.post("/v1/stores/fit/installs", &key, &json!({"plugin": name})).await?.ok()?;
    }
    let started = Instant::now();
    let as_of = json!({"as_of": "2027-06-01T00:00:00Z"});
    let r = api.post("/v1/stores/fit/models/fit?wait=true", &key, &as_of).await?.ok()?;
    let total = started.elapsed();
    for f in r["fits"].as_array().cloned().unwrap_or_default() {
        if f["status"] != "ok" {
            bail!("fit failed: {f}");
        }
        println!(
            "fit ({customers} customers): {} fit {} ms, {} customers updated",
            f["plugin"].as_str().unwrap_or(""),
            f["fit_ms"],
            f["updated"]
        );
    }
    println!(
        "fit ({customers} customers): POST /models/fit?wait=true with both installs, every customer re-classified and re-assessed: {:.2} s",
        total.as_secs_f64()
    );
    running.task.abort();
    Ok(())
}

/// The population models at scale: a store of `customers` customers (1 to
/// 5 orders each, every tenth with an NPS answer) on SQLite or a fresh
/// PostgreSQL database, `value-grades`, `loyalty-types`, `churn-winback`
/// (BG/NBD with Gamma-Gamma) and `rfm-segments` installed, then one fit:
/// each plugin's own fit time and the update of every customer after it.
pub async fn population_fits(customers: usize, postgres: Option<&str>) -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let scale = ScaleServer::start("clientele_fits", postgres).await?;
    let running = &scale.running;
    let api = ApiClient::new(format!("http://{}", running.addr));
    let store = json!({"id": "fit", "currency": "CNY"});
    let r = api.post("/v1/stores", "bench", &store).await?.ok()?;
    let key = r["api_key"].as_str().context("store key")?.to_string();
    let plugins =
        ["survey-scoring", "value-grades", "loyalty-types", "churn-winback", "rfm-segments"];
    for name in plugins {
        let dir = root.join("plugins").join(name);
        let wasm = plugin_build::build(&dir, None)?;
        let manifest = std::fs::read_to_string(dir.join("plugin.toml"))?;
        api.publish("bench", &manifest, std::fs::read(&wasm)?).await?.ok()?;
    }
    api.post("/v1/stores/fit/installs", &key, &json!({"plugin": "survey-scoring"})).await?.ok()?;
    let nps = json!({"id": "nps", "kind": "nps"});
    api.post("/v1/stores/fit/surveys", &key, &nps).await?.ok()?;
    let started = Instant::now();
    let mut sent = 0;
    let mut batch = Vec::with_capacity(1000);
    // At most six events a customer: a batch stays within 1000.
    for c in 0..customers {
        let n = 1 + c % 5;
        let first = 3 * (c % 200);
        for k in 0..n {
            let day = first + k * (7 + c % 23);
            batch.push(json!({"id": format!("f{c}-{k}"), "type": "order.placed", "customer_id": format!("c{c}"),
                "occurred_at": format!("{}T10:00:00Z", date_of(day)),
                "data": {"order_id": format!("o{c}-{k}"), "total_cents": 1000 + (c % 50) as i64 * 300 + (k as i64 * 977) % 2000,
                         "currency": "CNY", "items": []}}));
        }
        if c % 10 == 0 {
            batch.push(json!({"id": format!("s{c}"), "type": "survey.submitted", "customer_id": format!("c{c}"),
                "occurred_at": format!("{}T12:00:00Z", date_of(first + 1)),
                "data": {"survey_id": "nps", "answers": {"score": c % 11}}}));
        }
        if batch.len() > 990 || c + 1 == customers {
            sent += batch.len();
            let body = json!({"events": std::mem::take(&mut batch)});
            post_events(&api, "/v1/stores/fit/events", &key, &body).await?;
        }
        if c % 100_000 == 99_999 {
            eprintln!(
                "  … {} customers sent ({sent} events, {:.0} s)",
                c + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    while (running.pipeline.events_processed() as usize) < sent {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "  … {sent} events of {customers} customers processed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    for name in ["value-grades", "loyalty-types", "churn-winback", "rfm-segments"] {
        api.post("/v1/stores/fit/installs", &key, &json!({"plugin": name})).await?.ok()?;
    }
    let db = if postgres.is_some() { "PostgreSQL" } else { "SQLite" };
    let as_of = clientele::domain::time::parse_rfc3339("2027-06-01T00:00:00Z").context("as_of")?;
    let started = Instant::now();
    let reports = running.pipeline.fit_and_wait("fit", as_of).await?;
    let total = started.elapsed();
    for f in &reports {
        if f.error.is_some() {
            bail!("fit of {} failed: {:?}", f.plugin, f.error);
        }
        println!(
            "fit ({customers} customers, {db}): {} fit {} ms, every customer updated in {} ms ({} updated, {} failed)",
            f.plugin, f.fit_ms, f.update_ms, f.updated, f.failed
        );
    }
    println!(
        "fit ({customers} customers, {db}): POST /models/fit, population built, four fits and every customer updated after each: {:.1} s",
        total.as_secs_f64()
    );
    scale.stop().await
}

/// `YYYY-MM-DD` of day `n` counted from 2026-01-01 (n < 730).
/// Retention analytics at scale: `customers` customers with five orders
/// each, spread over two years, sent through the API with no plugin
/// installed (what intake records by itself, the activity counters
/// included), then the retention report by month over the two years and by
/// week over the last year, each asked five times.
pub async fn retention(customers: usize, postgres: Option<&str>) -> anyhow::Result<()> {
    let scale = ScaleServer::start("clientele_retention", postgres).await?;
    let running = &scale.running;
    let api = ApiClient::new(format!("http://{}", running.addr));
    let store = json!({"id": "ret", "currency": "CNY", "timezone": "Asia/Shanghai"});
    let r = api.post("/v1/stores", "bench", &store).await?.ok()?;
    let key = r["api_key"].as_str().context("store key")?.to_string();
    let db = if postgres.is_some() { "PostgreSQL" } else { "SQLite" };
    // On PostgreSQL each post waits for its events: with hundreds of
    // thousands pending, its plan for the next batch walks the processed
    // events (BENCHMARKS.md says why), which is not what this measures.
    let events_path = if postgres.is_some() {
        "/v1/stores/ret/events?wait=true"
    } else {
        "/v1/stores/ret/events"
    };
    let started = Instant::now();
    let (mut sent, mut batch) = (0usize, Vec::<Value>::with_capacity(1000));
    // Customer c's k-th order: a first day over the two years, then every
    // few weeks (wrapping round: some first orders arrive last); one in
    // twenty files a complaint. Each post holds a thousand customers.
    let mut send = |event: Value| {
        batch.push(event);
        (batch.len() >= 1000).then(|| json!({"events": std::mem::take(&mut batch)}))
    };
    let (mut bodies, mut next_report) = (Vec::new(), 500_000);
    for k in 0..5 {
        for c in 0..customers {
            let first = (c * 7919) % 600;
            let day = (first + k * (11 + c % 37)) % 730;
            bodies.extend(send(json!({"id": format!("r{c}-{k}"), "type": "order.placed", "customer_id": format!("c{c}"),
                "occurred_at": format!("{}T03:00:00Z", two_years(day)),
                "data": {"order_id": format!("o{c}-{k}"), "total_cents": 2000 + (c % 40) as i64 * 250, "currency": "CNY"}})));
            if k == 4 && c % 20 == 0 {
                bodies.extend(send(json!({"id": format!("k{c}"), "type": "complaint.filed", "customer_id": format!("c{c}"),
                    "occurred_at": format!("{}T05:00:00Z", two_years((first + 3) % 730)),
                    "data": {"complaint_id": format!("cp{c}"), "category": "late", "severity": 1 + c % 3}})));
            }
            for body in bodies.drain(..) {
                sent += body["events"].as_array().map_or(0, Vec::len);
                post_events(&api, events_path, &key, &body).await?;
            }
            if sent >= next_report {
                eprintln!("  … {sent} events sent ({:.0} s)", started.elapsed().as_secs_f64());
                next_report += 500_000;
            }
        }
    }
    if !batch.is_empty() {
        let body = json!({"events": std::mem::take(&mut batch)});
        sent += body["events"].as_array().map_or(0, Vec::len);
        post_events(&api, events_path, &key, &body).await?;
    }
    while (running.pipeline.events_processed() as usize) < sent {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let took = started.elapsed().as_secs_f64();
    println!(
        "retention ({customers} customers, {db}): {sent} events taken and processed in {took:.0} s ({:.0}/s), no plugin installed",
        sent as f64 / took
    );
    for (query, what) in [
        ("period=month&from=2025-01-01&to=2026-12-31", "24 months"),
        ("period=week&from=2026-01-01&to=2026-12-31", "53 weeks"),
    ] {
        let path = format!("/v1/stores/ret/analytics/retention?{query}");
        let mut times = Vec::new();
        let mut active = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let r = api.get(&path, &key).await?.ok()?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            active = r["periods"]
                .as_array()
                .map_or(0, |p| p.iter().map(|x| x["active"].as_i64().unwrap_or(0)).sum());
        }
        times.sort_by(f64::total_cmp);
        println!(
            "retention ({customers} customers, {db}): {what}: median {:.1} ms, slowest {:.1} ms (Σ active {active})",
            times[2], times[4]
        );
    }
    scale.stop().await
}

/// A server for a run at scale: on a fresh SQLite data directory, or on a
/// fresh database of the PostgreSQL server `postgres`, dropped at `stop`.
struct ScaleServer {
    running: server::Running,
    _dir: tempfile::TempDir,
    /// The PostgreSQL server and the database made on it.
    postgres: Option<(String, String)>,
}

impl ScaleServer {
    async fn start(prefix: &str, postgres: Option<&str>) -> anyhow::Result<ScaleServer> {
        use sqlx::Connection;
        let dir = tempfile::tempdir()?;
        let name = format!("{prefix}_{}", std::process::id());
        let mut config = ServerConfig::new(dir.path());
        config.admin_token = Some("bench".into());
        if let Some(server) = postgres {
            let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres")).await?;
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
            config.database_url = Some(format!("{server}/{name}"));
        }
        let running = server::start(config).await?;
        let postgres = postgres.map(|server| (server.to_string(), name));
        Ok(ScaleServer { running, _dir: dir, postgres })
    }

    async fn stop(self) -> anyhow::Result<()> {
        use sqlx::Connection;
        self.running.task.abort();
        if let Some((server, name)) = &self.postgres {
            let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres")).await?;
            sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut admin).await?;
        }
        Ok(())
    }
}

/// Posts a body of events, waiting out the server's `429` (it takes no
/// more while half a million events wait).
async fn post_events(api: &ApiClient, path: &str, key: &str, body: &Value) -> anyhow::Result<()> {
    loop {
        let r = api.post(path, key, body).await?;
        if r.status != reqwest::StatusCode::TOO_MANY_REQUESTS {
            r.ok()?;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Day `n` (0-729) of 2025-2026.
fn two_years(n: usize) -> String {
    let start = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("a date");
    (start + chrono::Days::new(n as u64)).to_string()
}

fn date_of(n: usize) -> String {
    let mut year = 2026;
    let mut d = n;
    if d >= 365 {
        year += 1;
        d -= 365;
    }
    let months = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut m = 0;
    while d >= months[m] {
        d -= months[m];
        m += 1;
    }
    format!("{year}-{:02}-{:02}", m + 1, d + 1)
}

/// What one cluster run is.
pub struct ClusterRun<'a> {
    /// A PostgreSQL server URL (a fresh database is made there and
    /// dropped after); `None`: one SQLite file.
    pub postgres: Option<&'a str>,
    pub nodes: usize,
    pub events: usize,
    pub stores: usize,
    /// Customers, spread over the stores and made before the run (each
    /// event goes to one of them).
    pub customers: usize,
    /// Seconds of each paced phase (0: none).
    pub paced_seconds: u64,
    /// The paced phases' loads, as shares of the measured rate …
    pub paced_at: &'a [f64],
    /// … and then as rates (events/s).
    pub paced_rates: &'a [f64],
}

/// An order of customer `c{k}`.
fn order_of(i: usize, k: usize) -> Value {
    json!({"id": format!("bench-{i}"), "type": "order.placed", "customer_id": format!("c{k}"),
           "occurred_at": "2026-03-05T10:00:00Z",
           "data": {"order_id": format!("o{i}"), "total_cents": 1000 + (i % 97) as i64 * 137, "currency": "CNY",
                    "items": [{"sku": "tea", "category": "oolong", "qty": 1, "price_cents": 1000}]}})
}

/// The customer of event `i` among a store's `per_store` customers
/// (scattered, so that consecutive events are different customers).
fn customer_of(i: usize, per_store: usize) -> usize {
    (i.wrapping_mul(2_654_435_761)) % per_store.max(1)
}

/// End-to-end throughput of `run.nodes` nodes (in this process) on one
/// database: events sent round robin to the nodes in batches of 1000,
/// until every event is processed; then, optionally, a paced phase at
/// 80 % of that rate in requests of 10 events, for intake latency at a
/// load the nodes keep up with.
pub async fn cluster(run: &ClusterRun<'_>) -> anyhow::Result<()> {
    use sqlx::Connection;
    let (postgres, nodes, stores) = (run.postgres, run.nodes, run.stores);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let plugin_dir = root.join("plugins/points-basic");
    let wasm = plugin_build::build(&plugin_dir, None)?;
    let manifest_text = std::fs::read_to_string(plugin_dir.join("plugin.toml"))?;
    let dir = tempfile::tempdir()?;
    let name = format!("clientele_bench_{}", std::process::id());
    let url = match postgres {
        Some(server) => {
            let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres")).await?;
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
            format!("{server}/{name}")
        }
        None => clientele::db::Db::sqlite_url(dir.path()),
    };
    let mut running = Vec::new();
    for n in 0..nodes {
        let mut config = ServerConfig::new(dir.path().join(format!("n{n}")));
        config.admin_token = Some("bench".into());
        config.database_url = Some(url.clone());
        config.node_id = Some(format!("bench-{n}"));
        running.push(server::start(config).await?);
    }
    let apis: Vec<ApiClient> =
        running.iter().map(|r| ApiClient::new(format!("http://{}", r.addr))).collect();
    apis[0].publish("bench", &manifest_text, std::fs::read(&wasm)?).await?.ok()?;
    let mut keys = Vec::new();
    for s in 0..stores {
        let store = json!({"id": format!("s{s}"), "currency": "CNY"});
        let r = apis[0].post("/v1/stores", "bench", &store).await?.ok()?;
        let key = r["api_key"].as_str().context("store key")?.to_string();
        let config: Value = serde_json::from_str(CONFIG)?;
        let install = json!({"plugin": "points-basic", "config": config});
        apis[0].post(&format!("/v1/stores/s{s}/installs"), &key, &install).await?.ok()?;
        keys.push(key);
    }
    // Every node has the plugin ready before the clock starts, as its
    // scout makes it within a round of the install.
    let version = Manifest::parse(&manifest_text).map_err(|e| anyhow::anyhow!("{e:?}"))?.version;
    for r in &running {
        r.pipeline.plugin("points-basic", &version.to_string()).await?;
    }
    let db = running[0].pipeline.db.clone();
    let per_store_customers = (run.customers / stores).max(1);
    make_customers(&db, stores, per_store_customers).await?;
    let per_store = run.events / stores;
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut senders = Vec::new();
    for (s, key) in keys.iter().enumerate() {
        let api = apis[s % apis.len()].clone();
        let key = key.clone();
        senders.push(tokio::spawn(async move {
            let mut took = Vec::new();
            let ids: Vec<usize> = (s * per_store..(s + 1) * per_store).collect();
            for chunk in ids.chunks(1000) {
                let body = json!({"events": chunk.iter().map(|&i| order_of(i, customer_of(i, per_store_customers))).collect::<Vec<_>>()});
                let t = Instant::now();
                let r = api.post(&format!("/v1/stores/s{s}/events"), &key, &body).await?;
                if r.status != reqwest::StatusCode::ACCEPTED {
                    bail!("ingest: {} {}", r.status, r.body);
                }
                took.push(t.elapsed());
            }
            Ok(took)
        }));
    }
    for s in senders {
        latencies.extend(s.await??);
    }
    let accepted = started.elapsed();
    wait_idle(&running, per_store * stores).await?;
    let total = started.elapsed();
    latencies.sort();
    let mut sent = per_store * stores;
    let rate = sent as f64 / total.as_secs_f64();
    let engine = if postgres.is_some() { "PostgreSQL" } else { "SQLite" };
    println!(
        "cluster ({engine}, {nodes} node(s), {stores} stores, {sent} order events, {} customers): ingest {:.0} events/s (p50 {:.1} ms, p99 {:.1} ms per 1000-event batch), processed {rate:.0} events/s ({:.2} s, {:.0} µs per event)",
        per_store_customers * stores,
        sent as f64 / accepted.as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        total.as_secs_f64(),
        total.as_secs_f64() * 1e6 / sent as f64,
    );
    let loads = run.paced_at.iter().map(|&share| (rate * share, share));
    let loads = loads.chain(run.paced_rates.iter().map(|&r| (r, r / rate)));
    for (phase, load) in loads.enumerate() {
        if run.paced_seconds == 0 {
            break;
        }
        sent += paced(
            &apis,
            &keys,
            (&running, sent),
            load,
            run.paced_seconds,
            per_store_customers,
            phase,
        )
        .await?;
    }
    let wal = dir.path().join("clientele.db-wal");
    let wal_size = || std::fs::metadata(&wal).map_or(0, |m| m.len());
    let serving = wal_size();
    for r in running {
        r.shutdown().await;
    }
    if postgres.is_none() {
        println!(
            "SQLite write-ahead log: {:.1} MiB while serving, {:.1} MiB after a clean stop (database {:.1} MiB)",
            serving as f64 / 1048576.0,
            wal_size() as f64 / 1048576.0,
            std::fs::metadata(dir.path().join("clientele.db")).map_or(0, |m| m.len()) as f64 / 1048576.0
        );
    }
    if let Some(server) = postgres {
        let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres")).await?;
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut admin).await?;
    }
    Ok(())
}

/// Makes `per_store` customers `c0…` in each store `s0…`, 1000 a statement.
async fn make_customers(
    db: &clientele::db::Db,
    stores: usize,
    per_store: usize,
) -> anyhow::Result<()> {
    let mut conn = db.pool.acquire().await?;
    let ids: Vec<String> = (0..per_store).map(|k| format!("c{k}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    for s in 0..stores {
        let store = format!("s{s}");
        for chunk in refs.chunks(10_000) {
            clientele::db::customers::ensure_many(&mut conn, &store, chunk, 0).await?;
        }
    }
    Ok(())
}

/// Waits until the nodes have processed `sent` events in all, then
/// until none is pending. The nodes' own counters are watched, not the
/// database: a count of the pending events every few milliseconds would
/// take a share of the cores being measured.
async fn wait_idle(running: &[server::Running], sent: usize) -> anyhow::Result<()> {
    let processed =
        || running.iter().map(|r| r.pipeline.events_processed() as usize).sum::<usize>();
    while processed() < sent {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let db = &running[0].pipeline.db;
    loop {
        let mut conn = db.pool.acquire().await?;
        if clientele::db::events::pending_count(&mut conn).await? == 0 {
            return Ok(());
        }
        drop(conn);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Open loop: requests of 10 events at `rate` events/s for `seconds`,
/// each sent at its time whatever the others do; intake latency of each,
/// and whether the nodes kept up. `before`: the events sent until then;
/// returns how many it sent.
async fn paced(
    apis: &[ApiClient],
    keys: &[String],
    (running, before): (&[server::Running], usize),
    (rate, share): (f64, f64),
    seconds: u64,
    per_store_customers: usize,
    phase: usize,
) -> anyhow::Result<usize> {
    let requests = (rate * seconds as f64 / 10.0) as usize;
    let every = Duration::from_secs_f64(10.0 / rate);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(requests);
    for n in 0..requests {
        tokio::time::sleep_until((started + every * n as u32).into()).await;
        let s = n % keys.len();
        let api = apis[n % apis.len()].clone();
        let key = keys[s].clone();
        let body = json!({"events": (0..10).map(|j| {
            let i = 10_000_000 * (phase + 1) + n * 10 + j;
            order_of(i, customer_of(i, per_store_customers))
        }).collect::<Vec<_>>()});
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = api.post(&format!("/v1/stores/s{s}/events"), &key, &body).await?;
            if r.status != reqwest::StatusCode::ACCEPTED {
                bail!("ingest: {} {}", r.status, r.body);
            }
            Ok(t.elapsed())
        }));
    }
    let mut took = Vec::with_capacity(requests);
    for t in tasks {
        took.push(t.await??);
    }
    let sent_for = started.elapsed();
    wait_idle(running, before + requests * 10).await?;
    let behind = started.elapsed().saturating_sub(sent_for);
    took.sort();
    println!(
        "  paced at {:.0} % ({:.0} events/s in requests of 10, {seconds} s): intake p50 {:.1} ms, p99 {:.1} ms; the last event was processed {:.2} s after it was sent",
        share * 100.0,
        rate,
        percentile(&took, 0.5).as_secs_f64() * 1e3,
        percentile(&took, 0.99).as_secs_f64() * 1e3,
        behind.as_secs_f64()
    );
    Ok(requests * 10)
}

/// What the database did while a [`SqlCounter`] was installed: statements
/// run and rows they returned (sqlx's own per-statement record), and the
/// time of each statement text.
#[derive(Default)]
struct SqlCounts {
    statements: std::sync::atomic::AtomicU64,
    rows: std::sync::atomic::AtomicU64,
    by_text: std::sync::Mutex<std::collections::HashMap<String, (u64, f64)>>,
}

impl SqlCounts {
    /// The `n` statement texts that took longest since the last call, with
    /// their count and seconds; starts counting afresh.
    fn slowest(&self, n: usize) -> Vec<(String, u64, f64)> {
        let mut all: Vec<_> = std::mem::take(&mut *self.by_text.lock().unwrap())
            .into_iter()
            .map(|(text, (count, secs))| (text, count, secs))
            .collect();
        all.sort_by(|a, b| b.2.total_cmp(&a.2));
        all.truncate(n);
        all
    }
}

/// A tracing layer that counts sqlx's statement records (`sqlx::query`).
struct SqlCounter(Arc<SqlCounts>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SqlCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        use std::sync::atomic::Ordering::Relaxed;
        struct Rows<'a>(&'a SqlCounts, String, f64);
        impl tracing::field::Visit for Rows<'_> {
            fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
                if field.name() == "rows_returned" {
                    self.0.rows.fetch_add(value, Relaxed);
                }
            }
            fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
                if field.name() == "elapsed_secs" {
                    self.2 = value;
                }
            }
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                if field.name() == "db.statement" {
                    let text: String = value.split_whitespace().collect::<Vec<_>>().join(" ");
                    self.1 = text.chars().take(110).collect();
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        self.0.statements.fetch_add(1, Relaxed);
        let mut seen = Rows(&self.0, String::new(), 0.0);
        event.record(&mut seen);
        let mut by_text = self.0.by_text.lock().unwrap();
        let e = by_text.entry(seen.1).or_default();
        e.0 += 1;
        e.1 += seen.2;
    }
}

/// What a new event costs for a customer with a long history: for each
/// count in `priors`, a fresh database where each of `customers` customers
/// already has that many orders (earned on by `points-basic`), then the
/// same measured work — per customer 50 new orders and full refunds of 5
/// of their oldest — timed end to end, with the statements and rows read
/// per event.
pub async fn history(
    priors: &[usize],
    customers: usize,
    postgres: Option<&str>,
) -> anyhow::Result<()> {
    use std::sync::atomic::Ordering::Relaxed;
    use tracing_subscriber::layer::SubscriberExt;
    let counts = Arc::new(SqlCounts::default());
    let layer = tracing_subscriber::Layer::with_filter(
        SqlCounter(counts.clone()),
        tracing_subscriber::filter::Targets::new()
            .with_target("sqlx::query", tracing::Level::DEBUG),
    );
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
        .context("a tracing subscriber is already installed")?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let plugin_dir = root.join("plugins/points-basic");
    let wasm = plugin_build::build(&plugin_dir, None)?;
    let manifest_text = std::fs::read_to_string(plugin_dir.join("plugin.toml"))?;
    let db = if postgres.is_some() { "PostgreSQL" } else { "SQLite" };
    let now = clientele::domain::time::now_ms();
    let at = |ms: i64| clientele::domain::time::to_rfc3339(ms);
    for &prior in priors {
        let scale = ScaleServer::start("clientele_history", postgres).await?;
        let running = &scale.running;
        let api = ApiClient::new(format!("http://{}", running.addr));
        let key = publish_and_install(&api, "bench", &wasm, &manifest_text).await?;
        let path = "/v1/stores/bench/events";
        // The history, a thousand events a request, each waited for (a
        // backlog of all of them at once is another benchmark): order r of
        // every customer, a second apart, ending an hour ago (so nothing
        // expires during the run).
        let waited = "/v1/stores/bench/events?wait=true";
        let started = Instant::now();
        let start = now - 3_600_000 - prior as i64 * 1000;
        let mut batch = Vec::with_capacity(1000);
        let mut sent = 0;
        for r in 0..prior {
            for c in 0..customers {
                batch.push(json!({"id": format!("h{c}-{r}"), "type": "order.placed",
                    "customer_id": format!("c{c}"), "occurred_at": at(start + r as i64 * 1000),
                    "data": {"order_id": format!("o{c}-{r}"), "total_cents": 1000 + (r % 97) as i64 * 137,
                             "currency": "CNY"}}));
                if batch.len() == 1000 {
                    sent += batch.len();
                    post_events(&api, waited, &key, &json!({"events": std::mem::take(&mut batch)}))
                        .await?;
                }
            }
        }
        if !batch.is_empty() {
            sent += batch.len();
            post_events(&api, waited, &key, &json!({"events": std::mem::take(&mut batch)})).await?;
        }
        while (running.pipeline.events_processed() as usize) < sent {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        eprintln!(
            "  {customers} customers × {prior} orders recorded in {:.1} s",
            started.elapsed().as_secs_f64()
        );

        // The measured work, the same for every history.
        let mut events = Vec::new();
        for k in 0..55 {
            for c in 0..customers {
                let id = format!("n{c}-{k}");
                let occurred_at = at(now - 600_000 + k as i64 * 1000);
                events.push(if k % 11 == 10 {
                    // A full refund of one of the customer's oldest orders.
                    let r = (k / 11) % prior;
                    json!({"id": id, "type": "order.refunded", "customer_id": format!("c{c}"),
                        "occurred_at": occurred_at,
                        "data": {"order_id": format!("o{c}-{r}"), "refund_cents": 1000 + (r % 97) as i64 * 137}})
                } else {
                    json!({"id": id, "type": "order.placed", "customer_id": format!("c{c}"),
                        "occurred_at": occurred_at,
                        "data": {"order_id": format!("n{c}-{k}"), "total_cents": 2500, "currency": "CNY"}})
                });
            }
        }
        let measured = events.len();
        let (statements0, rows0) = (counts.statements.load(Relaxed), counts.rows.load(Relaxed));
        counts.slowest(0);
        let started = Instant::now();
        for chunk in events.chunks(1000) {
            post_events(&api, path, &key, &json!({"events": chunk})).await?;
        }
        while (running.pipeline.events_processed() as usize) < sent + measured {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let took = started.elapsed();
        let statements = counts.statements.load(Relaxed) - statements0;
        let rows = counts.rows.load(Relaxed) - rows0;
        println!(
            "history ({customers} customers × {prior} prior orders, {db}): {measured} new events (50 orders and 5 refunds each) in {:.2} s: {:.0} µs per event, {:.1} statements and {:.1} rows read per event",
            took.as_secs_f64(),
            took.as_secs_f64() * 1e6 / measured as f64,
            statements as f64 / measured as f64,
            rows as f64 / measured as f64,
        );
        for (text, count, secs) in counts.slowest(4) {
            println!("    {:>7.1} ms  {count:>6}×  {text}", secs * 1e3);
        }
        scale.stop().await?;
    }
    Ok(())
}
