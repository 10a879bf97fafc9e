//! The web console in a real browser: `tests/browser/console.mjs` drives
//! Debian's Chromium (playwright-core) through the pages of a running
//! `clientele serve` that this test fills with stores, plugins and a
//! tripped install. Screenshots of every page land in
//! `target/console-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use clientele_e2e::*;
use serde_json::json;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The browser the tests drive: `CHROMIUM`, else Debian's.
fn chromium() -> PathBuf {
    let path =
        PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    assert!(
        path.exists(),
        "{} is missing: install Debian's chromium (`apt-get install chromium`; scripts/test does when it can) or set CHROMIUM",
        path.display()
    );
    path
}

/// playwright-core, installed once into tests/browser/node_modules.
fn playwright() {
    let dir = root().join("tests/browser");
    if dir.join("node_modules/playwright-core/package.json").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .status()
        .expect("running npm (is Node.js installed?)");
    assert!(status.success(), "npm install in tests/browser failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merchants_and_ops_use_the_console_in_a_real_browser() {
    if pg::enabled() {
        println!("skipped on the PostgreSQL half: the browser run is once, on SQLite");
        return;
    }
    let browser = chromium();
    playwright();
    let s = TestServer::start_with(|c| c.pipeline.trip_after = 3).await;
    s.publish_points_basic("1.0.0").await;
    s.publish_points_basic("1.1.0").await;
    s.publish_bundled("survey-scoring", guests::SURVEY_SCORING).await;
    s.publish_bundled("value-grades", guests::VALUE_GRADES).await;
    s.publish_hostile("1.0.0", "[limits]\nmemory_mib = 32\n").await;

    // The merchant's store, with a survey scorer (the browser installs
    // the point rules through the form).
    let key = s.store("tea").await;
    s.install("tea", &key, "survey-scoring", "1.2.0", json!({})).await;
    s.install("tea", &key, "value-grades", "1.0.0", json!({})).await;
    // Another store, whose customer must never show in tea's session.
    let rival = s.store("rival").await;
    s.put_ok("/v1/stores/rival/customers/r-1", &rival, json!({"name": "Rival Secret Buyer"})).await;
    // A store whose install trips its breaker.
    let broken = s.store("broken").await;
    s.install("broken", &broken, "hostile", "1.0.0", json!({"mode": "trap"})).await;
    let orders = (0..4)
        .map(|i| order(&format!("t{i}"), &format!("c{i}"), "2026-03-05T10:00:00Z", 1000))
        .collect();
    s.events_wait("broken", &broken, orders).await;

    // A version for the operator to publish by upload.
    let upload = tempfile::tempdir().unwrap();
    let manifest = upload.path().join("plugin.toml");
    std::fs::write(
        &manifest,
        clientele_e2e::manifest("uploaded", "2.0.0", "point-rules", &["state"], ""),
    )
    .unwrap();

    let shots = root().join("target/console-screenshots");
    let out = Command::new("node")
        .arg(root().join("tests/browser/console.mjs"))
        .env("BASE", &s.base)
        .env("STORE", "tea")
        .env("STORE_KEY", &key)
        .env("RIVAL", "rival")
        .env("RIVAL_SECRET", "Rival Secret Buyer")
        .env("ADMIN", &s.admin)
        .env("BROKEN", "broken")
        .env("PUBLISH_MANIFEST", &manifest)
        .env("PUBLISH_WASM", guests::POINTS_BASIC)
        .env("SHOTS", &shots)
        .env("CHROMIUM", &browser)
        .output()
        .expect("running node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("screenshots in {}", shots.display());
}
