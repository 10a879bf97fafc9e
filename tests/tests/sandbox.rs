//! Hostile and misbehaving plugins are contained: the call fails, nothing
//! is applied, the server keeps serving.

use clientele::domain::customer::{Customer, Order};
use clientele::pipeline::ServicesLayer;
use clientele::runtime::services::{HostFuture, HostServices, StoreInfo, StoredKey};
use clientele_e2e::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Ten million fuel: a spin uses it up in milliseconds, well before the
/// backstop deadline, on any machine.
const LIMITS: &str = "[limits]\nmemory_mib = 32\nfuel = 10000000\ntimeout_ms = 3000\n";

async fn hostile(s: &TestServer, store: &str, mode: &str) -> String {
    hostile_with(s, store, mode, "1.0.0", LIMITS).await
}

/// A store running `hostile@version` (published with `limits`) in `mode`.
async fn hostile_with(
    s: &TestServer,
    store: &str,
    mode: &str,
    version: &str,
    limits: &str,
) -> String {
    s.publish_hostile(version, limits).await;
    let key = s.store(store).await;
    s.install(store, &key, "hostile", version, json!({"mode": mode})).await;
    key
}

fn outcome(results: &[Value], i: usize) -> &Value {
    &results[i]["installs"][0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_stops_at_its_fuel_budget_and_server_keeps_serving() {
    let s = TestServer::start().await;
    let key = hostile(&s, "loopy", "loop").await;
    s.publish_points_basic("1.0.0").await;
    let good = s.store("good").await;
    s.install("good", &good, "points-basic", "1.0.0", json!({})).await;

    let started = std::time::Instant::now();
    let r = s.event_wait("loopy", &key, order("e1", "c1", "2026-03-05T10:00:00Z", 1000)).await;
    let o = outcome(&r, 0);
    assert_eq!(o["status"], "failed");
    assert_eq!(o["error_code"], "fuel_exhausted", "{o}");
    assert!(o["error"].as_str().unwrap().contains("10000000 fuel"), "{o}");
    assert_eq!(o["fuel"], 10_000_000, "{o}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(s.points("loopy", &key, "c1").await["balance"], 0);

    // The other store is served as usual.
    assert_eq!(s.get("/healthz", "").await.status, StatusCode::OK);
    s.event_wait("good", &good, order("e1", "c1", "2026-03-05T10:00:00Z", 1000)).await;
    assert_eq!(s.points("good", &good, "c1").await["balance"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb_stops_at_its_cap() {
    let s = TestServer::start().await;
    // A deadline the allocation never reaches first, even on a busy machine.
    let limits = "[limits]\nmemory_mib = 32\ntimeout_ms = 3000\n";
    let key = hostile_with(&s, "bomb", "alloc", "1.0.0", limits).await;
    let r = s.event_wait("bomb", &key, order("e1", "c1", "2026-03-05T10:00:00Z", 1000)).await;
    let o = outcome(&r, 0);
    assert_eq!(o["status"], "failed");
    assert_eq!(o["error_code"], "memory_limit", "{o}");
    assert!(o["error"].as_str().unwrap().contains("32 MiB"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traps_errors_and_garbage_are_contained() {
    let s = TestServer::start().await;
    for (store, mode, code) in [
        ("trap", "trap", "trap"),
        ("err", "error", "plugin_error"),
        ("neg", "negative", "invalid_output"),
        ("flood", "flood", "invalid_output"),
    ] {
        let key = if store == "trap" {
            hostile(&s, store, mode).await
        } else {
            let key = s.store(store).await;
            s.install(store, &key, "hostile", "1.0.0", json!({"mode": mode})).await;
            key
        };
        let r = s.event_wait(store, &key, order("e1", "c1", "2026-03-05T10:00:00Z", 1000)).await;
        let o = outcome(&r, 0);
        assert_eq!(o["status"], "failed", "{mode}: {o}");
        assert_eq!(o["error_code"], code, "{mode}: {o}");
        assert_eq!(r[0]["status"], "processed");
        let p = s.points(store, &key, "c1").await;
        assert_eq!(p["balance"], 0, "{mode}: nothing applied");
        assert_eq!(p["entries"], json!([]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuit_breaker_disables_a_failing_install() {
    let s = TestServer::start_with(|c| c.pipeline.trip_after = 3).await;
    let key = hostile(&s, "flaky", "trap").await;
    let events: Vec<Value> = (0..5)
        .map(|i| order(&format!("e{i}"), &format!("c{i}"), "2026-03-05T10:00:00Z", 1000))
        .collect();
    let r = s.events_wait("flaky", &key, events).await;
    let codes = error_codes(&r);
    // It stops after 3 consecutive failures; the events already queued
    // are recorded as failed for it instead of running it.
    assert_eq!(codes, ["trap", "trap", "trap", "install_disabled", "install_disabled"], "{r:?}");
    let list = s.get("/v1/stores/flaky/installs", &key).await.body;
    assert_eq!(list[0]["state"], "tripped");
    assert_eq!(list[0]["enabled"], false);
    assert!(list[0]["disabled_reason"].as_str().unwrap().contains("3 consecutive failures"));
    assert_eq!(list[0]["counters"]["failures"], 3);

    // Swapping the mode and re-enabling brings it back.
    let id = list[0]["install_id"].as_str().unwrap();
    let a = s
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/stores/flaky/installs/{id}"),
            &key,
            Some(json!({"enabled": true, "config": {"mode": "ok"}})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["state"], "enabled");
    let r = s.event_wait("flaky", &key, order("e9", "c9", "2026-03-05T10:00:00Z", 1000)).await;
    assert_eq!(outcome(&r, 0)["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_messages_logs_and_store_scoping() {
    let s = TestServer::start().await;
    let key = hostile(&s, "a", "state").await;
    // State is per install and customer, and survives between calls.
    let r = s
        .events_wait(
            "a",
            &key,
            vec![
                order("e1", "c1", "2026-03-05T10:00:00Z", 1000),
                order("e2", "c1", "2026-03-05T11:00:00Z", 1000),
                order("e3", "c2", "2026-03-05T12:00:00Z", 1000),
                order("e4", "c1", "2026-03-05T13:00:00Z", 1000),
            ],
        )
        .await;
    let pts: Vec<i64> = r.iter().map(|e| e["effects"][0]["points"].as_i64().unwrap()).collect();
    assert_eq!(pts, [1, 2, 1, 3]);

    // Messaging: queued in the outbox.
    let list = s.get("/v1/stores/a/installs", &key).await.body;
    let id = list[0]["install_id"].as_str().unwrap().to_string();
    let patch = |mode: &str| json!({"config": {"mode": mode}});
    s.patch_ok(&format!("/v1/stores/a/installs/{id}"), &key, patch("message")).await;
    let r = s.event_wait("a", &key, order("e5", "c1", "2026-03-05T14:00:00Z", 1000)).await;
    assert_eq!(r[0]["effects"][0]["op"], "message");
    let msgs = s.get("/v1/stores/a/messages", &key).await.body;
    assert_eq!(msgs[0]["template"], "welcome");
    assert_eq!(msgs[0]["customer_id"], "c1");
    // Queued, then delivered by the store's sink (the log by default).
    assert!(["queued", "delivered"].contains(&msgs[0]["state"].as_str().unwrap()));

    // Printing and logging are fine.
    s.patch_ok(&format!("/v1/stores/a/installs/{id}"), &key, patch("print")).await;
    let r = s.event_wait("a", &key, order("e6", "c1", "2026-03-05T15:00:00Z", 1000)).await;
    assert_eq!(r[0]["installs"][0]["status"], "ok");

    // `customers.get("c-other")` only sees this store: store b has a
    // c-other, store a does not.
    let b = s.store("b").await;
    s.put_ok("/v1/stores/b/customers/c-other", &b, json!({"name": "B"})).await;
    s.patch_ok(&format!("/v1/stores/a/installs/{id}"), &key, patch("peek")).await;
    let before = s.points("a", &key, "c1").await["balance"].as_i64().unwrap();
    let r = s.event_wait("a", &key, order("e7", "c1", "2026-03-05T16:00:00Z", 1000)).await;
    assert_eq!(r[0]["effects"][0]["points"].as_i64().unwrap(), 1 + before);
}

/// The cap on one customer's state counts what earlier calls stored, as
/// the database keeps it: written, rewritten and deleted across calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_cap_counts_what_earlier_calls_stored() {
    let s = TestServer::start().await;
    let key = hostile(&s, "a", "hoard").await;
    let mut seen = Vec::new();
    for (i, at) in ["10", "11", "12", "13"].iter().enumerate() {
        let e = order(&format!("e{i}"), "c1", &format!("2026-03-05T{at}:00:00Z"), 1000);
        let r = s.event_wait("a", &key, e).await;
        assert_eq!(outcome(&r, 0)["status"], "ok", "{r:?}");
        seen.push(r[0]["effects"][0]["reason"].as_str().unwrap().to_string());
    }
    assert_eq!(
        seen,
        [
            "stored k1=true k2=0",
            "stored k1=true k2=81920",
            "made-room k1=false k2=81920",
            "capped k1=false k2=81920",
        ]
    );
    // Another customer's state is their own.
    let r = s.event_wait("a", &key, order("e9", "c2", "2026-03-05T14:00:00Z", 1000)).await;
    assert_eq!(r[0]["effects"][0]["reason"], "stored k1=true k2=0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_checked() {
    let s = TestServer::start().await;
    let good = manifest("hostile", "1.0.0", "point-rules", &["state", "messaging"], LIMITS);
    let bytes = std::fs::read(guests::HOSTILE).unwrap();

    // Not wasm at all.
    let a = s.publish(&good, b"#!/bin/sh\necho hi\n".to_vec()).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.content_type, "application/problem+json");
    assert_eq!(a.body["errors"][0]["field"], "component");
    assert!(a.body["detail"].as_str().unwrap().contains("not a WebAssembly file"));

    // A core module, not a component.
    let core = b"\0asm\x01\0\0\0".to_vec();
    let a = s.publish(&good, core).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.body["detail"].as_str().unwrap().contains("core WebAssembly module"));

    // Truncated component.
    let a = s.publish(&good, bytes[..bytes.len() / 2].to_vec()).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);

    // A segmenter published as point-rules, and the other way round.
    let seg = std::fs::read(guests::SEGMENTER).unwrap();
    let a = s.publish(&manifest("seg", "1.0.0", "point-rules", &[], ""), seg.clone()).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.body["detail"].as_str().unwrap().contains("implements `segmenter`"), "{}", a.body);
    let a = s.publish(&manifest("seg", "1.0.0", "segmenter", &[], ""), seg).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body["world"], "segmenter");

    // Imports `state` and `messaging` without declaring them.
    let a = s
        .publish(&manifest("hostile", "1.0.0", "point-rules", &["messaging"], ""), bytes.clone())
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.body["detail"].as_str().unwrap().contains("`state` capability"), "{}", a.body);

    // Manifest errors name the field.
    let a = s
        .publish("name = \"Bad\"\nversion = \"x\"\nworld = \"point-rules\"\n", bytes.clone())
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.body["errors"][0]["field"], "manifest.name");

    // Publishing; the same bytes again is fine, other bytes conflict.
    let a = s.publish(&good, bytes.clone()).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body["capabilities"], json!(["messaging", "state"]));
    assert_eq!(s.publish(&good, bytes.clone()).await.status, StatusCode::OK);
    let other = std::fs::read(guests::POINTS_BASIC).unwrap();
    let a = s.publish(&good, other).await;
    assert_eq!(a.status, StatusCode::CONFLICT);

    // Missing parts.
    let form = reqwest::multipart::Form::new().text("manifest", good.clone());
    let resp = s
        .api
        .http
        .post(format!("{}/v1/plugins", s.base))
        .bearer_auth(&s.admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The registry lists both plugins; the artifact is cached on disk.
    let list = s.get("/v1/plugins", &s.admin).await.body;
    let names: Vec<&str> =
        list.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["hostile", "seg"]);
    let cached = std::fs::read_dir(s.dir.path().join("artifacts")).unwrap().count();
    assert_eq!(cached, 2);
}

/// Every guest in `plugins/` and `tests/guests/` is built by the test build
/// and publishes with its own manifest: a component for its world that
/// imports only what it declares.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_guest_publishes_with_its_manifest() {
    let s = TestServer::start().await;
    assert!(guests::ALL.len() >= 8, "{:?}", guests::ALL);
    for (folder, path) in guests::ALL {
        let manifest = repo_file(&format!("{folder}/plugin.toml"));
        let a = s.publish_file(&manifest, path).await;
        assert_eq!(a.status, StatusCode::CREATED, "{folder}: {}", a.body);
    }
}

/// A plugin built from the frozen contract folder `wit/since_v0.1.0`
/// keeps running, whatever the live contract has become: it earns, sets a
/// tier, keeps state, reads customers back and sends a message, in a store
/// whose segmenter (the bundled `rfm-segments`) is a 0.2.0 plugin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_of_the_frozen_contract_runs_next_to_a_newer_one() {
    let s = TestServer::start().await;
    let a = s
        .publish_file(&repo_file("tests/guests/since-v0-1-0/plugin.toml"), guests::SINCE_V0_1_0)
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    s.publish_bundled("rfm-segments", guests::RFM_SEGMENTS).await;
    // The catalogue says which contract each version was built against.
    let catalogue = s.get("/v1/plugins", &s.admin).await.body;
    let contract = |name: &str| {
        let p = catalogue.as_array().unwrap().iter().find(|p| p["name"] == name);
        p.map(|p| p["versions"][0]["contract"].clone())
    };
    assert_eq!(contract("since-v0-1-0"), Some(json!("0.1.0")), "{catalogue}");
    assert_eq!(contract("rfm-segments"), Some(json!("0.2.0")), "{catalogue}");
    let key = s.store("frozen").await;
    s.install("frozen", &key, "since-v0-1-0", "1.0.0", json!({})).await;
    s.install("frozen", &key, "rfm-segments", "1.0.0", json!({})).await;
    let results = s
        .events_wait(
            "frozen",
            &key,
            vec![
                order("f1", "c1", "2026-03-05T10:00:00Z", 1250),
                order("f2", "c1", "2026-03-06T10:00:00Z", 99),
                order("f3", "c1", "2026-03-07T10:00:00Z", 300),
            ],
        )
        .await;
    for r in &results {
        let installs = r["installs"].as_array().unwrap();
        assert_eq!(installs.len(), 2, "{r}");
        assert!(installs.iter().all(|o| o["status"] == "ok"), "{r}");
    }
    let points = s.points("frozen", &key, "c1").await;
    assert_eq!(points["balance"], 12 + 3, "{points}");
    assert_eq!(points["tier"], "regular", "{points}");
    let messages = s.get("/v1/stores/frozen/messages", &key).await.body;
    assert_eq!(messages.as_array().unwrap().len(), 1, "{messages}");
    assert_eq!(messages[0]["template"], "welcome");
    let c1 = s.get("/v1/stores/frozen/customers/c1", &key).await.body;
    assert!(
        c1["segments"].as_array().unwrap().iter().any(|g| g.as_str().unwrap().starts_with("type:")),
        "the 0.2.0 segmenter classified the customer: {c1}"
    );
}

/// What contract 0.3.0 adds, read by a 0.3.0 plugin beside 0.2.0 ones
/// (the bundled Rust plugins) and a 0.3.0 scorer built from Python: a
/// fit's per-row sums (`population`), a customer's scored answers
/// (`surveys`, a capability) and their segments (`segments`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_of_0_3_0_reads_sums_answers_and_segments() {
    let s = TestServer::start().await;
    let a = s
        .publish_file(&repo_file("tests/guests/reads-v0-3-0/plugin.toml"), guests::READS_V0_3_0)
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body["contract"], "0.3.0", "{}", a.body);
    s.publish_bundled("survey-scoring", guests::SURVEY_SCORING).await;
    s.publish_bundled("rfm-segments", guests::RFM_SEGMENTS).await;
    let key = s.store("rungs").await;
    s.install("rungs", &key, "reads-v0-3-0", "1.0.0", json!({"window_days": 30})).await;
    s.install("rungs", &key, "survey-scoring", "1.2.0", json!({})).await;
    s.install("rungs", &key, "rfm-segments", "1.0.0", json!({})).await;
    s.post("/v1/stores/rungs/surveys", &key, json!({"id": "n1", "kind": "nps"})).await;
    // a: ¥10 + ¥5 on day 1, ¥20 on day 10, ¥30 on day 40 (¥10 of it
    // refunded on day 41); b: ¥7 on day 5 and nothing since.
    let events = vec![
        order("a1", "a", "2026-01-01T09:00:00Z", 1000),
        order("a2", "a", "2026-01-01T18:00:00Z", 500),
        order("a3", "a", "2026-01-10T09:00:00Z", 2000),
        order("a4", "a", "2026-02-09T09:00:00Z", 3000),
        refund("r4", "a", "2026-02-10T09:00:00Z", "a4", 1000),
        order("b1", "b", "2026-01-05T09:00:00Z", 700),
        event(
            "s1",
            "survey.submitted",
            "a",
            "2026-02-11T09:00:00Z",
            json!({"survey_id": "n1", "answers": {"score": 9}}),
        ),
    ];
    s.events_wait("rungs", &key, events).await;
    // As of day 45: the 30 days before hold a's ¥30 less its ¥10 refund
    // and nothing of b's; a's repeat days (10 and 40) spent ¥50, b has none.
    let as_of = json!({"as_of": "2026-02-14T00:00:00Z"});
    let fit = s.post("/v1/stores/rungs/models/fit?wait=true", &key, as_of.clone()).await;
    let reads =
        fit.body["fits"].as_array().unwrap().iter().find(|f| f["plugin"] == "reads-v0-3-0@1.0.0");
    let reads = reads.unwrap_or_else(|| panic!("{}", fit.body));
    assert_eq!(reads["status"], "ok", "{reads}");
    assert_eq!(
        reads["summary"]["rows"],
        json!([{"customer_id": "a", "within": 2000, "repeat": 5000},
               {"customer_id": "b", "within": 0, "repeat": 0}]),
        "{reads}"
    );
    let segments = |body: &Value| -> Vec<String> {
        body["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap().to_string())
            .collect()
    };
    let a = s.get("/v1/stores/rungs/customers/a", &key).await.body;
    assert!(segments(&a).contains(&"answered:nps".to_string()), "{a}");
    let b = s.get("/v1/stores/rungs/customers/b", &key).await.body;
    assert!(!segments(&b).iter().any(|g| g.starts_with("answered:")), "{b}");
    // Fitted again, each customer sees the segments the first fit gave
    // them: this plugin's two and rfm-segments' one for a.
    s.post("/v1/stores/rungs/models/fit?wait=true", &key, as_of).await;
    let a = s.get("/v1/stores/rungs/customers/a", &key).await.body;
    let was_in = segments(&a).into_iter().find(|g| g.starts_with("was-in:")).unwrap();
    let before: usize = was_in["was-in:".len()..].parse().unwrap();
    assert!(before >= 3, "{a}");
}

/// What 0.2.0 hands a plugin and takes from it: the store's context
/// (currency, time zone and its offset at the event's time, summer and
/// winter), and a structured error whose code is shown and whose
/// `retryable` decides whether the host tries again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_of_0_2_0_sees_its_store_and_says_how_it_failed() {
    let s = TestServer::start().await;
    let a = s
        .publish_file(&repo_file("tests/guests/store-context/plugin.toml"), guests::STORE_CONTEXT)
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let created = s
        .post(
            "/v1/stores",
            &s.admin,
            json!({"id": "ny", "currency": "USD", "timezone": "America/New_York"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let key = created.body["api_key"].as_str().unwrap().to_string();
    let install = s.install("ny", &key, "store-context", "1.0.0", json!({})).await;
    let store = s.get("/v1/stores/ny", &key).await;
    assert_eq!(store.body["timezone"], "America/New_York", "{}", store.body);
    s.events_wait(
        "ny",
        &key,
        vec![
            order("w", "c1", "2026-01-15T12:00:00Z", 1000),
            order("s", "c1", "2026-07-15T12:00:00Z", 1000),
        ],
    )
    .await;
    let points = s.points("ny", &key, "c1").await;
    let reasons: Vec<&str> = points["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    for want in
        ["ny USD America/New_York -300 1768478400000", "ny USD America/New_York -240 1784116800000"]
    {
        assert!(reasons.contains(&want), "{want} in {reasons:?}");
    }

    let path = format!("/v1/stores/ny/installs/{install}");
    s.patch_ok(&path, &key, json!({"config": {"mode": "error"}})).await;
    let r = s.event_wait("ny", &key, order("e1", "c1", "2026-08-01T12:00:00Z", 500)).await;
    let o = &r[0]["installs"][0];
    assert_eq!(o["error_code"], "plugin_error", "{o}");
    let error = o["error"].as_str().unwrap();
    assert!(error.contains("`out-of-stock`"), "{error}");
    assert!(error.contains("cannot handle order o-e1"), "{error}");
    let dead = s
        .until(&format!("{path}/failures"), &key, |f| f.as_array().is_some_and(|l| !l.is_empty()))
        .await;
    assert_eq!(dead[0]["attempts"], 1, "not retryable: {dead}");

    s.patch_ok(&path, &key, json!({"config": {"mode": "retry"}})).await;
    s.event_wait("ny", &key, order("e2", "c1", "2026-08-02T12:00:00Z", 500)).await;
    let dead = s
        .until(&format!("{path}/failures"), &key, |f| {
            f.as_array().is_some_and(|l| l.iter().any(|d| d["event_id"] == "e2"))
        })
        .await;
    let e2 = dead.as_array().unwrap().iter().find(|d| d["event_id"] == "e2").unwrap();
    assert_eq!(e2["attempts"], 4, "retried as it asked: {e2}");
}

/// The host's services, failing the first `points_balance` reads: the
/// database, as a call of the plugin meets it, going away for a moment.
struct FailingFirst {
    inner: std::sync::Arc<dyn HostServices>,
    left: std::sync::atomic::AtomicUsize,
}

impl HostServices for FailingFirst {
    fn store<'a>(&'a self, store: &'a str) -> HostFuture<'a, StoreInfo> {
        self.inner.store(store)
    }
    fn customer<'a>(&'a self, store: &'a str, c: &'a str) -> HostFuture<'a, Option<Customer>> {
        self.inner.customer(store, c)
    }
    fn orders<'a>(&'a self, store: &'a str, c: &'a str, n: u32) -> HostFuture<'a, Vec<Order>> {
        self.inner.orders(store, c, n)
    }
    fn points_balance<'a>(&'a self, store: &'a str, c: &'a str) -> HostFuture<'a, i64> {
        use std::sync::atomic::Ordering;
        let failing =
            self.left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if failing.is_ok() {
            return Box::pin(async { Err("the database did not answer".to_string()) });
        }
        self.inner.points_balance(store, c)
    }
    fn state_key<'a>(&'a self, i: &'a str, c: &'a str, k: &'a str) -> HostFuture<'a, StoredKey> {
        self.inner.state_key(i, c, k)
    }
}

/// A host call that fails fails the plugin's call with `host_error`:
/// nothing of it is applied, and it is tried again (it may pass), once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_host_call_applies_nothing_and_is_retried() {
    let s = TestServer::start_with(|c| {
        c.pipeline.services_layer = Some(ServicesLayer(std::sync::Arc::new(|inner| {
            std::sync::Arc::new(FailingFirst { inner, left: 1.into() })
        })));
    })
    .await;
    let key = hostile(&s, "hostfail", "peek").await;
    let r = s.event_wait("hostfail", &key, order("e1", "c1", "2026-03-05T10:00:00Z", 1000)).await;
    // The retry read the balance (0) and decided once: one earn of 1.
    assert_eq!(outcome(&r, 0)["status"], "ok", "{r:?}");
    assert_eq!(r[0]["effects"][0]["points"], 1, "{r:?}");
    let points = s.points("hostfail", &key, "c1").await;
    assert_eq!(points["balance"], 1, "{points}");
    let list = s.get("/v1/stores/hostfail/installs", &key).await.body;
    let id = list[0]["install_id"].as_str().unwrap();
    let a = s.get(&format!("/v1/stores/hostfail/installs/{id}/failures?state=all"), &key).await;
    let failures = a.body.as_array().unwrap();
    assert_eq!(failures.len(), 1, "{}", a.body);
    assert_eq!(failures[0]["code"], "host_error", "{}", a.body);
    assert_eq!(failures[0]["state"], "resolved", "{}", a.body);
    assert!(failures[0]["message"].as_str().unwrap().contains("did not answer"), "{}", a.body);
}
