//! `clientele bench`: the figures in BENCHMARKS.md.
//! 1. per-call latency of points-basic (a fresh instance per call),
//! 2. events/s end to end through HTTP, batches of 1000, on SQLite,
//! 3. cold start (`serve` → healthz 200) with the cached artifact.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clientele::domain::customer::{Customer, CustomerStats};
use clientele::domain::event::parse_event;
use clientele::domain::manifest::{Limits, Manifest};
use clientele::runtime::services::NoServices;
use clientele::runtime::{CallInput, Runtime, Scope, StateBuffer};
use clientele::server::{self, ServerConfig};
use clientele_plugin_build as plugin_build;
use serde_json::{json, Value};

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn order(i: usize, customers: usize) -> Value {
    json!({"id": format!("bench-{i}"), "type": "order.placed", "customer_id": format!("c{}", i % customers),
           "occurred_at": "2026-03-05T10:00:00Z",
           "data": {"order_id": format!("o{i}"), "total_cents": 1000 + (i % 97) as i64 * 137, "currency": "CNY",
                    "items": [{"sku": "tea", "category": "oolong", "qty": 1, "price_cents": 1000}]}})
}

const CONFIG: &str = r#"{"earn":[{"from_units":0,"rate":1},{"from_units":50,"rate":2}],
  "tiers":[{"name":"silver","min_spend_cents":50000,"multiplier":1.2}],"first_order_bonus":10,"expiry_days":365}"#;

fn per_call(wasm: &Path, manifest: &Manifest, calls: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let runtime = Runtime::new(
        dir.path(),
        Limits {
            memory_mib: 256,
            timeout_ms: 5000,
            fit_timeout_ms: 300_000,
        },
    )?;
    let bytes = std::fs::read(wasm)?;
    let plugin = runtime.publish("points-basic@bench", "bench", &bytes, manifest)?;
    let services: Arc<dyn clientele::runtime::services::HostServices> = Arc::new(NoServices);
    let customer = Customer {
        id: "c1".into(),
        birthday: Some("1990-03-17".into()),
        stats: CustomerStats {
            orders: 3,
            net_spend_cents: 42_000,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut samples = Vec::with_capacity(calls);
    for i in 0..calls + calls / 10 {
        let event = parse_event(&order(i, 1), "").map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let input = CallInput {
            scope: Scope {
                store_id: "s".into(),
                install_id: "i".into(),
                plugin: "points-basic".into(),
                ..Default::default()
            },
            state: StateBuffer::default(),
            services: services.clone(),
        };
        let t = Instant::now();
        let out = runtime.on_event(&plugin, input, CONFIG, &customer, &event, None)?;
        let elapsed = t.elapsed();
        if out.value.is_empty() {
            bail!("points-basic returned no ops");
        }
        if i >= calls / 10 {
            samples.push(elapsed); // the first tenth warms caches
        }
    }
    samples.sort();
    println!(
        "per-call latency (points-basic on-event, fresh store + instance per call, {} calls): p50 {:.1} µs, p99 {:.1} µs",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6
    );
    Ok(())
}

async fn publish_and_install(
    base: &str,
    admin: &str,
    wasm: &Path,
    manifest_text: &str,
) -> anyhow::Result<String> {
    let http = reqwest::Client::new();
    let form = reqwest::multipart::Form::new()
        .text("manifest", manifest_text.to_string())
        .part(
            "component",
            reqwest::multipart::Part::bytes(std::fs::read(wasm)?).file_name("p.wasm"),
        );
    let r = http
        .post(format!("{base}/v1/plugins"))
        .bearer_auth(admin)
        .multipart(form)
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("publish: {}", r.text().await?);
    }
    let r: Value = http
        .post(format!("{base}/v1/stores"))
        .bearer_auth(admin)
        .json(&json!({"id": "bench", "currency": "CNY"}))
        .send()
        .await?
        .json()
        .await?;
    let key = r["api_key"].as_str().context("store key")?.to_string();
    let config: Value = serde_json::from_str(CONFIG)?;
    let r = http
        .post(format!("{base}/v1/stores/bench/installs"))
        .bearer_auth(&key)
        .json(&json!({"plugin": "points-basic", "config": config}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("install: {}", r.text().await?);
    }
    Ok(key)
}

async fn throughput(wasm: &Path, manifest_text: &str, events: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = ServerConfig::new(dir.path());
    config.admin_token = Some("bench".into());
    let running = server::start(config).await?;
    let base = format!("http://{}", running.addr);
    let key = publish_and_install(&base, "bench", wasm, manifest_text).await?;
    let http = reqwest::Client::new();
    let customers = (events / 10).max(1);
    let batches: Vec<Value> = (0..events)
        .collect::<Vec<_>>()
        .chunks(1000)
        .map(|c| json!({"events": c.iter().map(|&i| order(i, customers)).collect::<Vec<_>>()}))
        .collect();
    let started = Instant::now();
    for (n, b) in batches.iter().enumerate() {
        let r = http
            .post(format!("{base}/v1/stores/bench/events"))
            .bearer_auth(&key)
            .json(b)
            .send()
            .await?;
        if r.status() != reqwest::StatusCode::ACCEPTED {
            bail!("ingest: {}", r.text().await?);
        }
        if n % 5 == 4 {
            eprintln!("  … {} events accepted", (n + 1) * 1000);
        }
    }
    let accepted = started.elapsed();
    loop {
        let done = running
            .pipeline
            .metrics
            .events_processed
            .load(std::sync::atomic::Ordering::Relaxed);
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
            &format!("http://{}", running.addr),
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
    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    {
        let wasm = wasm.clone();
        tokio::task::spawn_blocking(move || per_call(&wasm, &manifest, calls)).await??;
    }
    throughput(&wasm, &manifest_text, events).await?;
    cold_start(&wasm, &manifest_text, 10).await?;
    Ok(())
}
