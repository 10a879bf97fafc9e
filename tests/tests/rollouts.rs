//! Safe rollouts through the API: retries and the dead-letter list with
//! its re-drive, the `hold` policy, shadow and canary versions, yank,
//! rollback and history, the `pii` scope, and limits counted in fuel so
//! that a busy machine does not change a call's outcome.

use std::time::{Duration, Instant};

use clientele_e2e::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Ten million fuel, a deadline no test reaches.
const LIMITS: &str = "[limits]\nmemory_mib = 32\nfuel = 10000000\ntimeout_ms = 3000\n";

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// A store running `hostile@1.0.0` with `body` (plugin and version filled
/// in); returns its key and install id.
async fn hostile_store(s: &TestServer, store: &str, body: Value) -> (String, String) {
    let key = s.store(store).await;
    let mut body = body;
    body["plugin"] = json!("hostile");
    body["version"] = json!("1.0.0");
    let install = s.install_with(store, &key, body).await;
    (key, install)
}

async fn patch(s: &TestServer, store: &str, key: &str, install: &str, body: Value) -> Value {
    s.patch_ok(&format!("/v1/stores/{store}/installs/{install}"), key, body).await
}

async fn failures(s: &TestServer, store: &str, key: &str, install: &str, q: &str) -> Vec<Value> {
    let a = s.get(&format!("/v1/stores/{store}/installs/{install}/failures{q}"), key).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.body.as_array().unwrap().clone()
}

async fn redrive(s: &TestServer, store: &str, key: &str, install: &str, body: Value) -> Value {
    let a =
        s.post(&format!("/v1/stores/{store}/installs/{install}/failures/retry"), key, body).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    a.body
}

fn entries(p: &Value) -> Vec<(String, i64)> {
    p["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (e["event_id"].as_str().unwrap_or_default().to_string(), e["points"].as_i64().unwrap())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_version_is_fixed_and_its_dead_letters_redriven_once() {
    let s = TestServer::start().await;
    s.publish_hostile("1.0.0", LIMITS).await;
    s.publish_hostile("1.0.1", LIMITS).await;
    let (key, install) = hostile_store(&s, "dlq", json!({"config": {"mode": "error"}})).await;
    let r = s
        .events_wait(
            "dlq",
            &key,
            vec![
                order("d1", "c1", "2026-03-05T10:00:00Z", 1000),
                order("d2", "c2", "2026-03-05T10:00:00Z", 1000),
                order("d3", "c1", "2026-03-05T11:00:00Z", 1000),
            ],
        )
        .await;
    assert_eq!(error_codes(&r), ["plugin_error"; 3], "{r:?}");
    // A plugin's own error stays: no retry, straight to the list.
    let dead = failures(&s, "dlq", &key, &install, "").await;
    assert_eq!(dead.len(), 3, "{dead:?}");
    for f in &dead {
        assert_eq!(f["state"], "dead", "{f}");
        assert_eq!(f["code"], "plugin_error", "{f}");
        assert_eq!(f["attempts"], 1, "{f}");
        assert_eq!(f["plugin"], "hostile@1.0.0", "{f}");
        assert!(f["message"].as_str().unwrap().contains("refuses"), "{f}");
    }
    assert_eq!(s.points("dlq", &key, "c1").await["balance"], 0);
    let text = s.get("/metrics", &s.admin).await.body.as_str().unwrap().to_string();
    assert!(text.contains("clientele_dead_letters{"), "{text}");
    assert!(text.contains("clientele_plugin_call_fuel"), "{text}");

    // Re-driving before a fix fails the same way, and keeps them listed.
    let again = redrive(&s, "dlq", &key, &install, json!({"ids": [dead[0]["id"]]})).await;
    assert_eq!(again["redriving"], 1, "{again}");
    let listed = s
        .until(&format!("/v1/stores/dlq/installs/{install}/failures"), &key, |b| {
            b.as_array().unwrap().iter().all(|f| f["state"] == "dead")
        })
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 3);

    // The fix: a new version, the config it needs; then the re-drive.
    patch(&s, "dlq", &key, &install, json!({"version": "1.0.1", "config": {"mode": "ok"}})).await;
    let all = redrive(&s, "dlq", &key, &install, json!({})).await;
    assert_eq!(all["redriving"], 3, "{all}");
    for id in ["d1", "d2", "d3"] {
        let e = s
            .until(&format!("/v1/stores/dlq/events/{id}"), &key, |b| {
                b["status"] == "processed" && b["installs"][0]["status"] == "ok"
            })
            .await;
        assert_eq!(e["installs"].as_array().unwrap().len(), 1, "{e}");
        assert_eq!(e["installs"][0]["plugin"], "hostile@1.0.1", "{e}");
    }
    assert!(failures(&s, "dlq", &key, &install, "").await.is_empty());
    let resolved = failures(&s, "dlq", &key, &install, "?state=resolved").await;
    assert_eq!(resolved.len(), 3, "{resolved:?}");

    // Each event applied once: one entry per event, each decided on the
    // customer as of that event (c1 had one order at d1, two at d3),
    // although both ran again after c1's two orders were recorded.
    let c1 = entries(&s.points("dlq", &key, "c1").await);
    assert_eq!(c1, [("d1".to_string(), 2), ("d3".to_string(), 3)], "{c1:?}");
    assert_eq!(entries(&s.points("dlq", &key, "c2").await), [("d2".to_string(), 2)]);
    // A second re-drive finds nothing to do and changes nothing.
    let none = redrive(&s, "dlq", &key, &install, json!({})).await;
    assert_eq!(none["redriving"], 0, "{none}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.points("dlq", &key, "c1").await["balance"], 5);

    // Ids that are not dead or held are refused.
    let a = s
        .post(
            &format!("/v1/stores/dlq/installs/{install}/failures/retry"),
            &key,
            json!({"ids": [resolved[0]["id"]]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_keeps_a_customers_later_events_until_the_redrive_runs_them_in_order() {
    let s = TestServer::start().await;
    s.publish_hostile("1.0.0", LIMITS).await;
    let (key, install) =
        hostile_store(&s, "hold", json!({"config": {"mode": "error"}, "failure_policy": "hold"}))
            .await;
    assert_eq!(
        s.get(&format!("/v1/stores/hold/installs/{install}"), &key).await.body["failure_policy"],
        "hold"
    );
    let events: Vec<Value> = ["h1", "h2", "h3"]
        .iter()
        .enumerate()
        .map(|(n, id)| order(id, "c1", &format!("2026-03-05T1{n}:00:00Z"), 1000))
        .chain([order("h4", "c2", "2026-03-05T10:00:00Z", 1000)])
        .collect();
    let r = s.events_wait("hold", &key, events).await;
    // c1's first failure holds its later events; c2 fails on its own.
    assert_eq!(error_codes(&r), ["plugin_error", "held", "held", "plugin_error"], "{r:?}");
    let listed = failures(&s, "hold", &key, &install, "").await;
    let mut states: Vec<(&str, &str)> = listed
        .iter()
        .map(|f| (f["event_id"].as_str().unwrap(), f["state"].as_str().unwrap()))
        .collect();
    states.sort();
    assert_eq!(
        states,
        [("h1", "dead"), ("h2", "held"), ("h3", "held"), ("h4", "dead")],
        "{listed:?}"
    );
    // The fix counts each customer's calls (its state): the n-th call of a
    // customer earns n, so the entries show the order they ran in.
    patch(&s, "hold", &key, &install, json!({"config": {"mode": "state"}})).await;
    let all = redrive(&s, "hold", &key, &install, json!({})).await;
    assert_eq!(all["redriving"], 4, "{all}");
    s.until(&format!("/v1/stores/hold/installs/{install}/failures"), &key, |b| {
        b.as_array().unwrap().is_empty()
    })
    .await;
    let c1 = entries(&s.points("hold", &key, "c1").await);
    assert_eq!(
        c1,
        [("h1".into(), 1), ("h2".into(), 2), ("h3".into(), 3)],
        "in arrival order: {c1:?}"
    );
    // With the failures resolved, the customer's new events run at once.
    let r = s.event_wait("hold", &key, order("h5", "c1", "2026-03-06T10:00:00Z", 1000)).await;
    assert_eq!(r[0]["installs"][0]["status"], "ok", "{}", r[0]);
    assert_eq!(s.points("hold", &key, "c1").await["balance"], 1 + 2 + 3 + 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_that_may_pass_is_retried_and_the_customer_waits_for_it() {
    let s = TestServer::start().await;
    s.publish_hostile("1.0.0", LIMITS).await;
    // Fails (retryable) for 300 ms; the retries (at 50, 250 and 1050 ms)
    // get past it.
    let until = now_ms() + 300;
    let (key, install) =
        hostile_store(&s, "flaky", json!({"config": {"mode": "flaky", "until": until}})).await;
    let started = Instant::now();
    let r = s
        .events_wait(
            "flaky",
            &key,
            vec![
                order("r1", "c1", "2026-03-05T10:00:00Z", 1000),
                order("r2", "c1", "2026-03-05T11:00:00Z", 1000),
                order("r3", "c2", "2026-03-05T10:00:00Z", 1000),
            ],
        )
        .await;
    assert!(r.iter().all(|e| e["installs"][0]["status"] == "ok"), "{r:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    let log = failures(&s, "flaky", &key, &install, "?state=all").await;
    let r1 = log.iter().find(|f| f["event_id"] == "r1").expect("r1 failed first");
    assert_eq!(r1["state"], "resolved", "{r1}");
    let failed = r1["attempts"].as_i64().unwrap();
    assert!((2..=3).contains(&failed), "failed attempts before the one that passed: {r1}");
    // r2 waited behind r1: it ran after it, in order.
    let c1 = entries(&s.points("flaky", &key, "c1").await);
    assert_eq!(c1.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>(), ["r1", "r2"]);

    // One that keeps failing uses up its attempts and goes to the list;
    // the customer's next event then runs (the policy is `skip`).
    patch(
        &s,
        "flaky",
        &key,
        &install,
        json!({"config": {"mode": "flaky", "until": now_ms() + 3_600_000}}),
    )
    .await;
    let r = s.event_wait("flaky", &key, order("r4", "c3", "2026-03-05T10:00:00Z", 1000)).await;
    let o = &r[0]["installs"][0];
    assert_eq!(o["error_code"], "plugin_error", "{o}");
    assert!(o["error"].as_str().unwrap().contains("after 4 attempts"), "{o}");
    let dead = failures(&s, "flaky", &key, &install, "?state=dead").await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["attempts"], 4);
    patch(&s, "flaky", &key, &install, json!({"config": {"mode": "ok"}})).await;
    let r = s.event_wait("flaky", &key, order("r5", "c3", "2026-03-05T11:00:00Z", 1000)).await;
    assert_eq!(r[0]["installs"][0]["status"], "ok", "{}", r[0]);
}

/// Per customer: the balance, and each event's entries (sorted: a
/// re-driven event's entry comes later in the ledger than in the twin's).
async fn books(
    s: &TestServer,
    store: &str,
    key: &str,
    customers: &[&str],
) -> Vec<(i64, Vec<(String, i64)>)> {
    let mut out = Vec::new();
    for c in customers {
        let p = s.points(store, key, c).await;
        let mut e = entries(&p);
        e.sort();
        out.push((p["balance"].as_i64().unwrap(), e));
    }
    out
}

/// The same events into a twin store, whose install never fails, and
/// into `store`, whose install fails with `config` until it is set to
/// `ok` and its failures re-driven: afterwards every balance and every
/// event's entries are the same in both, because each call decided its
/// event on the customer as of that event, however late it ran. Returns
/// the store's key and install.
async fn the_same_as_a_twin(
    s: &TestServer,
    store: &str,
    body: Value,
    events: Vec<Value>,
) -> (String, String) {
    let (twin_key, _) =
        hostile_store(s, &format!("{store}-twin"), json!({"config": {"mode": "ok"}})).await;
    let (key, install) = hostile_store(s, store, body).await;
    let customers: Vec<String> = {
        let mut c: Vec<String> =
            events.iter().map(|e| e["customer_id"].as_str().unwrap().to_string()).collect();
        c.sort();
        c.dedup();
        c
    };
    let customers: Vec<&str> = customers.iter().map(String::as_str).collect();
    let ids: Vec<String> = events.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    s.events_wait(&format!("{store}-twin"), &twin_key, events.clone()).await;
    s.events_wait(store, &key, events).await;
    patch(s, store, &key, &install, json!({"config": {"mode": "ok"}})).await;
    redrive(s, store, &key, &install, json!({})).await;
    s.until(&format!("/v1/stores/{store}/installs/{install}/failures"), &key, |b| {
        b.as_array().unwrap().is_empty()
    })
    .await;
    for e in &ids {
        s.until(&format!("/v1/stores/{store}/events/{e}"), &key, |b| {
            b["status"] == "processed"
                && b["installs"].as_array().is_some_and(|l| l.iter().all(|o| o["status"] == "ok"))
        })
        .await;
    }
    let twin = books(s, &format!("{store}-twin"), &twin_key, &customers).await;
    let ours = books(s, store, &key, &customers).await;
    assert_eq!(ours, twin, "{store} against its twin");
    (key, install)
}

fn four_orders() -> Vec<Value> {
    vec![
        order("e1", "c1", "2026-03-05T10:00:00Z", 1000),
        order("e2", "c1", "2026-03-05T11:00:00Z", 1000),
        order("e3", "c2", "2026-03-05T10:00:00Z", 1000),
        order("e4", "c1", "2026-03-05T12:00:00Z", 1000),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_event_redriven_is_decided_as_it_happened() {
    let s = TestServer::start().await;
    s.publish_hostile("1.0.0", LIMITS).await;
    // Every call fails; c1's later events are held behind its first.
    let body = json!({"config": {"mode": "error"}, "failure_policy": "hold"});
    let (key, install) = the_same_as_a_twin(&s, "held", body, four_orders()).await;
    let resolved = failures(&s, "held", &key, &install, "?state=resolved").await;
    assert_eq!(resolved.len(), 4, "{resolved:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipped_event_redriven_is_decided_as_it_happened() {
    let s = TestServer::start().await;
    s.publish_hostile("1.0.0", LIMITS).await;
    // Each customer's first order fails and waits for a re-drive; their
    // later orders go on meanwhile (`skip`).
    let body = json!({"config": {"mode": "fail-first"}});
    let (key, install) = the_same_as_a_twin(&s, "skipped", body, four_orders()).await;
    let resolved = failures(&s, "skipped", &key, &install, "?state=resolved").await;
    let mut ids: Vec<&str> = resolved.iter().map(|f| f["event_id"].as_str().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, ["e1", "e3"], "only first orders failed: {resolved:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_timeout_is_decided_as_it_happened() {
    let s = TestServer::start().await;
    s.publish_hostile("1.0.0", "[limits]\nmemory_mib = 32\nfuel = 10000000\ntimeout_ms = 1000\n")
        .await;
    // The first call of each customer runs to its deadline; the retry,
    // past `until`, earns.
    let until = now_ms() + 600;
    let body = json!({"config": {"mode": "stall", "until": until}});
    let (key, install) = the_same_as_a_twin(&s, "stalled", body, four_orders()).await;
    let resolved = failures(&s, "stalled", &key, &install, "?state=resolved").await;
    assert!(
        resolved.iter().any(|f| f["event_id"] == "e1" && f["code"] == "timeout"),
        "e1 ran to its deadline first: {resolved:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_reports_exactly_the_events_it_decides_differently() {
    let s = TestServer::start().await;
    s.publish_hostile("1.0.0", LIMITS).await;
    s.publish_hostile("1.1.0", LIMITS).await;
    let (key, install) = hostile_store(&s, "shadowed", json!({"config": {"mode": "ok"}})).await;
    let v = patch(
        &s,
        "shadowed",
        &key,
        &install,
        json!({"shadow": {"version": "1.1.0", "config": {"mode": "big"}}}),
    )
    .await;
    assert_eq!(v["shadow"]["version"], "1.1.0", "{v}");
    // Two orders of 50.00 and more (where `big` decides otherwise), three
    // below, for five customers.
    let totals = [1000, 9000, 2000, 5000, 100];
    let events: Vec<Value> = totals
        .iter()
        .enumerate()
        .map(|(n, t)| order(&format!("s{n}"), &format!("c{n}"), "2026-03-05T10:00:00Z", *t))
        .collect();
    let r = s.events_wait("shadowed", &key, events).await;
    // Only the live version decided: one outcome, live points.
    for e in &r {
        assert_eq!(e["installs"].as_array().unwrap().len(), 1, "{e}");
        assert_eq!(e["installs"][0]["plugin"], "hostile@1.0.0", "{e}");
    }
    assert_eq!(s.points("shadowed", &key, "c1").await["balance"], 2);
    let a = s.get(&format!("/v1/stores/shadowed/installs/{install}/shadow"), &key).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let rep = a.body;
    assert_eq!(rep["calls"], 5, "{rep}");
    assert_eq!(rep["agreements"], 3, "{rep}");
    assert_eq!(rep["disagreements"], 2, "{rep}");
    assert_eq!(rep["failures"], 0, "{rep}");
    assert!(rep["mean_fuel"].as_i64().unwrap() > 0, "{rep}");
    let ids: Vec<&str> = rep["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["s1", "s3"], "{rep}");
    let ex = &rep["examples"][0];
    assert_eq!(ex["shadow"]["decision"]["ledger"][0]["points"], 999, "{ex}");
    assert_eq!(ex["live"]["decision"]["ledger"][0]["points"], 2, "{ex}");
    let m = s.get("/metrics", &s.admin).await;
    assert!(
        m.body.as_str().unwrap_or_default().contains("clientele_shadow_disagreements_total"),
        "{}",
        m.body
    );

    // Promoted, the shadow is live with its config.
    let v = patch(&s, "shadowed", &key, &install, json!({"promote": true})).await;
    assert_eq!(v["version"], "1.1.0", "{v}");
    assert_eq!(v["config"], json!({"mode": "big"}), "{v}");
    assert_eq!(v["shadow"], Value::Null, "{v}");
    let r = s.event_wait("shadowed", &key, order("s9", "c9", "2026-03-06T10:00:00Z", 8000)).await;
    assert_eq!(r[0]["installs"][0]["plugin"], "hostile@1.1.0", "{}", r[0]);
    assert_eq!(s.points("shadowed", &key, "c9").await["balance"], 999);
    let a = s
        .patch(&format!("/v1/stores/shadowed/installs/{install}"), &key, json!({"promote": true}))
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "nothing left to promote: {}", a.body);
}

/// The customer's bucket, 0–99, computed here independently of the host:
/// FNV-1a (64 bit) of the id, modulo 100.
fn bucket(customer: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in customer.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % 100
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_takes_its_share_by_customer_and_rolls_back_when_it_fails_more() {
    let s = TestServer::start().await;
    s.publish_hostile("1.0.0", LIMITS).await;
    s.publish_hostile("1.1.0", LIMITS).await;
    let (key, install) = hostile_store(&s, "canary", json!({"config": {"mode": "ok"}})).await;
    patch(&s, "canary", &key, &install, json!({"canary": {"version": "1.1.0", "percent": 30}}))
        .await;
    let customers: Vec<String> = (0..100).map(|n| format!("k{n}")).collect();
    let events: Vec<Value> = customers
        .iter()
        .map(|c| order(&format!("a-{c}"), c, "2026-03-05T10:00:00Z", 1000))
        .collect();
    let r = s.events_wait("canary", &key, events).await;
    for (e, c) in r.iter().zip(&customers) {
        let want = if bucket(c) < 30 { "hostile@1.1.0" } else { "hostile@1.0.0" };
        assert_eq!(e["installs"][0]["plugin"], want, "{c}: {e}");
        assert_eq!(e["installs"][0]["status"], "ok", "{e}");
    }
    let routed = customers.iter().filter(|c| bucket(c) < 30).count();
    assert!((15..=45).contains(&routed), "{routed}");
    // The same customer stays on the same side.
    let again: Vec<Value> = customers
        .iter()
        .map(|c| order(&format!("b-{c}"), c, "2026-03-05T11:00:00Z", 1000))
        .collect();
    let r2 = s.events_wait("canary", &key, again).await;
    for (a, b) in r.iter().zip(&r2) {
        assert_eq!(a["installs"][0]["plugin"], b["installs"][0]["plugin"]);
    }
    let a = s.get(&format!("/v1/stores/canary/installs/{install}/canary"), &key).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["calls"]["calls"], 2 * routed, "{}", a.body);
    assert_eq!(a.body["live"]["calls"], 2 * (100 - routed), "{}", a.body);

    // A canary that fails: after its minimum of calls it rolls back by
    // itself, says why, and its customers are back on the live version.
    patch(
        &s,
        "canary",
        &key,
        &install,
        json!({"canary": {"version": "1.1.0", "percent": 30, "config": {"mode": "error"},
                          "min_calls": 5, "max_failure_margin": 20}}),
    )
    .await;
    let routed_customers: Vec<&String> = customers.iter().filter(|c| bucket(c) < 30).collect();
    let bad: Vec<Value> = routed_customers
        .iter()
        .take(5)
        .map(|c| order(&format!("c-{c}"), c, "2026-03-05T12:00:00Z", 1000))
        .collect();
    let r = s.events_wait("canary", &key, bad).await;
    assert!(r.iter().all(|e| e["installs"][0]["error_code"] == "plugin_error"), "{r:?}");
    let v = s.get(&format!("/v1/stores/canary/installs/{install}"), &key).await.body;
    assert_eq!(v["canary"]["state"], "rolled_back", "{v}");
    let why = v["canary"]["reason"].as_str().unwrap();
    assert!(why.contains("failed 5 of 5"), "{why}");
    let next = order("d-1", routed_customers[0], "2026-03-05T13:00:00Z", 1000);
    let r = s.event_wait("canary", &key, next).await;
    assert_eq!(r[0]["installs"][0]["plugin"], "hostile@1.0.0", "{}", r[0]);
    assert_eq!(r[0]["installs"][0]["status"], "ok", "{}", r[0]);
    let h = s.get(&format!("/v1/stores/canary/installs/{install}/history"), &key).await.body;
    let last = h.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "canary_rollback", "{h}");
    assert_eq!(last["actor"], "canary", "{h}");
    assert!(last["reason"].as_str().unwrap().contains("failed"), "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yank_rollback_and_history() {
    let s = TestServer::start().await;
    for v in ["1.0.0", "1.0.1", "1.0.2"] {
        s.publish_hostile(v, LIMITS).await;
    }
    let (key, install) = hostile_store(&s, "ops", json!({"config": {"mode": "ok"}})).await;
    let other = s.store("other").await;
    let theirs = s.install("other", &other, "hostile", "1.0.1", json!({"mode": "ok"})).await;
    patch(&s, "ops", &key, &install, json!({"version": "1.0.1"})).await;
    patch(&s, "ops", &key, &install, json!({"version": "1.0.2", "config": {"mode": "state"}}))
        .await;

    // Rollback: the version (and config) it ran before.
    let a = s.post(&format!("/v1/stores/ops/installs/{install}/rollback"), &key, json!({})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["version"], "1.0.1", "{}", a.body);
    assert_eq!(a.body["config"], json!({"mode": "ok"}));

    // Yank 1.0.1: both installs running it go on, and are listed.
    let a = s
        .post("/v1/plugins/hostile/versions/1.0.1/yank", &key, json!({"reason": "double points"}))
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "admins only: {}", a.body);
    let a = s
        .post(
            "/v1/plugins/hostile/versions/1.0.1/yank",
            &s.admin,
            json!({"reason": "double points"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["yanked"], true, "{}", a.body);
    assert_eq!(a.body["yank_reason"], "double points");
    let mut users: Vec<&str> = a.body["installs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["install_id"].as_str().unwrap())
        .collect();
    users.sort();
    let mut want = vec![install.as_str(), theirs.as_str()];
    want.sort();
    assert_eq!(users, want, "{}", a.body);
    // A store's key sees its own installs only.
    let mine = s.get("/v1/plugins/hostile/versions/1.0.1", &other).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.body["installs"].as_array().unwrap().len(), 1, "{}", mine.body);
    let r = s.event_wait("other", &other, order("y1", "c1", "2026-03-05T10:00:00Z", 1000)).await;
    assert_eq!(r[0]["installs"][0]["status"], "ok", "still runs: {}", r[0]);
    // It can no longer be installed, nor rolled back to.
    let third = s.store("third").await;
    let a = s
        .post("/v1/stores/third/installs", &third, json!({"plugin": "hostile", "version": "1.0.1"}))
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert!(a.body["detail"].as_str().unwrap().contains("yanked"), "{}", a.body);
    patch(&s, "ops", &key, &install, json!({"version": "1.0.2"})).await;
    let a = s.post(&format!("/v1/stores/ops/installs/{install}/rollback"), &key, json!({})).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    // Without a version, the newest that is not yanked.
    let a = s.post("/v1/stores/third/installs", &third, json!({"plugin": "hostile"})).await;
    assert_eq!(a.body["version"], "1.0.2", "{}", a.body);

    // The history: every change, who made it, what changed.
    let h = s.get(&format!("/v1/stores/ops/installs/{install}/history"), &key).await.body;
    let list = h.as_array().unwrap();
    let actions: Vec<&str> = list.iter().map(|c| c["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["install", "update", "update", "rollback", "update"], "{h}");
    assert!(list.iter().all(|c| c["actor"] == "store"), "{h}");
    assert_eq!(list[3]["changed"]["version"], json!({"from": "1.0.2", "to": "1.0.1"}), "{h}");
    assert_eq!(list[2]["changed"]["config"]["to"], json!({"mode": "state"}), "{h}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_reaches_only_an_install_granted_pii() {
    let s = TestServer::start().await;
    s.publish_hostile("1.0.0", LIMITS).await;
    let plugins = s.get("/v1/plugins", &s.admin).await;
    let hostile = &plugins.body.as_array().unwrap()[0]["versions"][0];
    assert_eq!(hostile["scopes"], json!(["pii"]), "{}", plugins.body);
    let mut seen = Vec::new();
    for (store, grants) in [("plain", json!([])), ("granted", json!(["pii"]))] {
        let (key, _) =
            hostile_store(&s, store, json!({"config": {"mode": "pii"}, "grants": grants})).await;
        let a = s
            .call(
                Method::PUT,
                &format!("/v1/stores/{store}/customers/c1"),
                &key,
                Some(json!({"email": "li@example.cn", "phone": "+8613800000000",
                            "name": "Li", "birthday": "1990-05-17"})),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        s.event_wait(store, &key, order("p1", "c1", "2026-03-05T10:00:00Z", 1000)).await;
        let p = s.points(store, &key, "c1").await;
        seen.push(p["entries"][0]["reason"].as_str().unwrap().to_string());
    }
    assert_eq!(seen[0], "email=;phone=;name=;birthday=;get-email=", "no grant");
    assert_eq!(
        seen[1],
        "email=li@example.cn;phone=+8613800000000;name=Li;birthday=1990-05-17;get-email=li@example.cn"
    );
    // A grant the plugin does not ask for, or an unknown one (which the
    // document's enum of scopes refuses first), is refused.
    let m = manifest("quiet", "1.0.0", "point-rules", &["state", "messaging"], LIMITS);
    let a = s.publish_file(&m, guests::HOSTILE).await;
    assert!(a.status.is_success(), "{}", a.body);
    let key = s.store("asks-nothing").await;
    for (grants, why) in
        [(json!(["pii"]), "does not ask"), (json!(["wallet"]), "must be one of \\\"pii\\\"")]
    {
        let a = s
            .post(
                "/v1/stores/asks-nothing/installs",
                &key,
                json!({"plugin": "quiet", "grants": grants}),
            )
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
        assert_eq!(a.fields(), ["grants[0]"], "{}", a.body);
        assert!(a.body.to_string().contains(why), "{}", a.body);
    }
}

/// Runs `f` while every core spins on other work (bounded: the spinners
/// stop when it returns).
async fn with_cpu_burner<T>(f: impl std::future::Future<Output = T>) -> T {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let spinners: Vec<_> = (0..cores * 2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x: u64 = 1;
                let started = Instant::now();
                while !stop.load(std::sync::atomic::Ordering::Relaxed)
                    && started.elapsed() < Duration::from_secs(30)
                {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                }
            })
        })
        .collect();
    let out = f.await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for s in spinners {
        s.join().unwrap();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_call_has_the_same_outcome_on_a_busy_machine() {
    let s = TestServer::start().await;
    // 20 million fuel, a backstop deadline of 5 s.
    let limits = "[limits]\nmemory_mib = 32\nfuel = 20000000\ntimeout_ms = 5000\n";
    s.publish_hostile("1.0.0", limits).await;
    let key = s.store("steady").await;
    let within = s
        .install("steady", &key, "hostile", "1.0.0", json!({"mode": "work", "n": 1_000_000}))
        .await;
    let run = |id: String| {
        let (s, key) = (&s, &key);
        async move {
            let r =
                s.event_wait("steady", key, order(&id, "c1", "2026-03-05T10:00:00Z", 1000)).await;
            r[0]["installs"][0].clone()
        }
    };
    let idle = run("idle-1".into()).await;
    let busy = with_cpu_burner(run("busy-1".into())).await;
    assert_eq!(idle["status"], "ok", "{idle}");
    assert_eq!(busy["status"], "ok", "{busy}");
    assert_eq!(idle["fuel"], busy["fuel"], "fuel does not depend on the load");
    assert!(idle["fuel"].as_i64().unwrap() > 1_000_000, "{idle}");
    println!(
        "work call: {} fuel; {} µs idle, {} µs beside a CPU burner",
        idle["fuel"], idle["elapsed_us"], busy["elapsed_us"]
    );

    // Over its budget: used up the same way, idle or busy.
    patch(&s, "steady", &key, &within, json!({"config": {"mode": "work", "n": 100_000_000}})).await;
    let idle = run("idle-2".into()).await;
    let busy = with_cpu_burner(run("busy-2".into())).await;
    for o in [&idle, &busy] {
        assert_eq!(o["error_code"], "fuel_exhausted", "{o}");
        assert_eq!(o["fuel"], 20_000_000, "{o}");
        assert!(o["elapsed_us"].as_i64().unwrap() > 0, "failed calls have a time: {o}");
    }
    // Not retried: it fails the same way every time.
    assert!(!idle["error"].as_str().unwrap().contains("attempts"), "{idle}");
}
