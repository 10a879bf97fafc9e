//! churn-winback (Rust) with its rescue flows and message delivery, and
//! the swap between points-basic (Rust) and points-campaign (JavaScript).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use clientele_e2e::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const DAY: i64 = 86_400_000;
/// 2026-01-01T00:00:00Z in ms.
const JAN1: i64 = 1_767_225_600_000;
/// The fit's as-of: 2026-12-01T00:00:00Z.
const AS_OF: &str = "2026-12-01T00:00:00Z";
const AS_OF_MS: i64 = JAN1 + 334 * DAY;

fn rfc3339(ms: i64) -> String {
    let days = ms.div_euclid(DAY) - JAN1 / DAY;
    // Only 2026 dates are used here.
    let months = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let (mut m, mut d) = (0, days);
    while d >= months[m] {
        d -= months[m];
        m += 1;
    }
    let secs = ms.rem_euclid(DAY) / 1000;
    format!("2026-{:02}-{:02}T{:02}:{:02}:00Z", m + 1, d + 1, secs / 3600, secs / 60 % 60)
}

/// Customer i: 1 + (i % 5) orders, (i % 7 + 1) weeks apart, from day
/// 3·i % 120 of 2026, at 10:00; each order 1000·(i % 10 + 1) cents.
fn history(i: i64) -> (Vec<i64>, i64) {
    let first = JAN1 + (3 * i % 120) * DAY + 10 * 3_600_000;
    let gap = (i % 7 + 1) * 7 * DAY;
    let n = 1 + i % 5;
    ((0..n).map(|k| first + k * gap).collect(), 1000 * (i % 10 + 1))
}

/// P(alive) from the parameters the model reports, by hand.
fn p_alive(summary: &Value, times: &[i64], as_of: i64) -> f64 {
    let (r, alpha, a, b) = (
        summary["r"].as_f64().unwrap(),
        summary["alpha"].as_f64().unwrap(),
        summary["a"].as_f64().unwrap(),
        summary["b"].as_f64().unwrap(),
    );
    let x = (times.len() - 1) as f64;
    if x == 0.0 {
        return 1.0;
    }
    let day = |t: i64| t.div_euclid(DAY);
    let t_x = (day(*times.last().unwrap()) - day(times[0])) as f64 / 7.0;
    let t = (day(as_of) - day(times[0])) as f64 / 7.0;
    1.0 / (1.0 + (a / (b + x - 1.0)) * ((alpha + t) / (alpha + t_x)).powf(r + x))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_fit_assess_and_rescue_flows_end_to_end() {
    let s = TestServer::start().await;
    s.publish_bundled("churn-winback", guests::CHURN_WINBACK).await;
    let key = s.store("acme").await;
    let config = json!({
        "threshold": 0.9,
        "min_value_cents": 10_000,
        "steps": [
            {"after_seconds": 0, "channel": "email", "template": "miss-you"},
            {"after_seconds": 2, "channel": "sms", "template": "coupon", "coupon_percent": 10}
        ]
    });
    let id = s.install("acme", &key, "churn-winback", "1.2.0", config.clone()).await;

    let mut events = Vec::new();
    let mut histories = HashMap::new();
    for i in 0..60 {
        let (times, cents) = history(i);
        for (k, t) in times.iter().enumerate() {
            events.push(order(&format!("c{i}-{k}"), &format!("c{i}"), &rfc3339(*t), cents));
        }
        histories.insert(format!("c{i}"), (times, cents));
    }
    for chunk in events.chunks(500) {
        s.events_wait("acme", &key, chunk.to_vec()).await;
    }
    // 60 customers are too few for the default minimum (100 with an
    // order, 30 repeat buyers): the fit is refused and says why, no model
    // is kept and no flow starts.
    let fit = s.post("/v1/stores/acme/models/fit?wait=true", &key, json!({"as_of": AS_OF})).await;
    assert_eq!(fit.body["fits"][0]["status"], "failed", "{}", fit.body);
    let why = fit.body["fits"][0]["error"].as_str().unwrap_or_default().to_string();
    assert!(why.contains("refused: 60 customers") && why.contains("min_customers"), "{why}");
    let models = s.get("/v1/stores/acme/models", &key).await.body;
    assert!(models.to_string().contains("refused: 60 customers"), "{models}");
    assert_eq!(s.get("/v1/stores/acme/flows", &key).await.body, json!([]));
    let mut lowered = config.clone();
    lowered["min_customers"] = json!(50);
    lowered["min_repeat_buyers"] = json!(10);
    s.patch_ok(&format!("/v1/stores/acme/installs/{id}"), &key, json!({"config": lowered})).await;

    let fit = s.post("/v1/stores/acme/models/fit?wait=true", &key, json!({"as_of": AS_OF})).await;
    assert_eq!(fit.status, StatusCode::OK, "{}", fit.body);
    assert_eq!(fit.body["fits"][0]["status"], "ok", "{}", fit.body);
    let summary = fit.body["fits"][0]["summary"].clone();
    for p in ["r", "alpha", "a", "b"] {
        assert!(summary[p].as_f64().unwrap() > 0.0, "{summary}");
        // Each parameter's standard error, from the observed information.
        assert!(summary["standard_errors"][p].as_f64().unwrap() > 0.0, "{summary}");
    }
    assert_eq!(summary["customers"], 60, "{summary}");

    // Every customer is assessed with the fit's as-of, exactly as BG/NBD
    // says; those at risk and worth it get a flow, the others are skipped.
    let flows = s.get("/v1/stores/acme/flows", &key).await.body;
    let mut started = Vec::new();
    let mut skipped = 0;
    for (id, (times, cents)) in &histories {
        let churn = s.get(&format!("/v1/stores/acme/customers/{id}/churn"), &key).await;
        assert_eq!(churn.status, StatusCode::OK, "{}", churn.body);
        let want = p_alive(&summary, times, AS_OF_MS);
        let got = churn.body["p_alive"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-9, "{id}: {got} vs {want}");
        assert!((churn.body["risk"].as_f64().unwrap() - (1.0 - want)).abs() < 1e-9);
        let value = cents * times.len() as i64;
        assert_eq!(churn.body["value_cents"], value);
        let flow = flows.as_array().unwrap().iter().find(|f| f["customer_id"] == id.as_str());
        match (want < 0.9, value >= 10_000) {
            (true, true) => {
                assert_eq!(flow.unwrap()["state"], "active", "{id}");
                started.push(id.clone());
            }
            (true, false) => {
                assert_eq!(flow.unwrap()["state"], "skipped", "{id}");
                skipped += 1;
            }
            (false, _) => assert!(flow.is_none(), "{id} is not at risk"),
        }
    }
    assert!(started.len() >= 2 && skipped >= 1, "{} started, {skipped} skipped", started.len());

    // Step 0 is due at once: one message per active flow, delivered to the log.
    let n = started.len();
    s.until("/v1/stores/acme/messages", &key, |b| {
        b.as_array().unwrap().iter().filter(|m| m["step"] == 0 && m["state"] == "delivered").count()
            == n
    })
    .await;

    // The first customer orders again: rescued.
    let rescued = &started[0];
    s.event_wait("acme", &key, order("back", rescued, "2026-12-02T09:00:00Z", 5000)).await;
    let rescued_flows = s.get("/v1/stores/acme/flows?state=rescued", &key).await.body;
    assert_eq!(rescued_flows.as_array().unwrap().len(), 1, "{rescued_flows}");
    let rescued_flow = rescued_flows[0].clone();
    assert_eq!(rescued_flow["customer_id"], rescued.as_str());
    // Re-assessed as of the order (a purchase today: t_x = T), exactly:
    // BG/NBD keeps P(alive) = 1/(1 + a/(b + x − 1)) below 1 even then, so
    // under a high threshold a new flow may start at once, as the spec says.
    let churn = s.get(&format!("/v1/stores/acme/customers/{rescued}/churn"), &key).await;
    let (times, _) = &histories[rescued];
    let mut times = times.clone();
    times.push(JAN1 + 335 * DAY + 9 * 3_600_000);
    let want = p_alive(&summary, &times, JAN1 + 335 * DAY + 9 * 3_600_000);
    assert!((churn.body["p_alive"].as_f64().unwrap() - want).abs() < 1e-9, "{}", churn.body);

    // The others get the coupon after 2 s, then their flows expire.
    let flows = s
        .until("/v1/stores/acme/flows", &key, |b| {
            b.as_array().unwrap().iter().all(|f| f["state"] != "active")
        })
        .await;
    let expired: Vec<&Value> =
        flows.as_array().unwrap().iter().filter(|f| f["state"] == "expired").collect();
    assert!(expired.len() >= n - 1, "{flows}");
    let messages = s.get("/v1/stores/acme/messages", &key).await.body;
    for f in expired {
        let mine: Vec<&Value> =
            messages.as_array().unwrap().iter().filter(|m| m["flow_id"] == f["id"]).collect();
        // Exactly one message per step.
        assert_eq!(mine.len(), 2, "{f}");
        let coupon = mine.iter().find(|m| m["step"] == 1).unwrap();
        assert_eq!(coupon["template"], "coupon");
        assert_eq!(coupon["vars"]["coupon_percent"], 10);
        assert!(coupon["vars"]["coupon_code"].as_str().unwrap().starts_with("WB-"));
    }
    let rescued_msgs =
        messages.as_array().unwrap().iter().filter(|m| m["flow_id"] == rescued_flow["id"]).count();
    assert_eq!(rescued_msgs, 1, "no coupon after the rescue");
    let flows = s.get("/v1/stores/acme/flows?state=bogus", &key).await;
    assert_eq!(flows.fields(), vec!["state"]);
}

/// A webhook that fails once, then accepts; it checks every signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_delivery_is_signed_and_retried() {
    use axum::http::HeaderMap;
    let seen: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let seen2 = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let seen = seen2.clone();
            async move {
                let sig = headers["x-clientele-signature"].to_str().unwrap().to_string();
                let ok =
                    sig == clientele::pipeline::delivery::signature("a-very-secret-key", &body);
                let mut list = seen.lock().unwrap();
                list.push((headers["x-clientele-message-id"].to_str().unwrap().to_string(), ok));
                if list.len() == 1 {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // The hook listens on loopback: the platform admin allows that host.
    let s =
        TestServer::start_with(|c| c.pipeline.webhook_allow_hosts = vec!["127.0.0.1".into()]).await;
    let hostile = manifest("messenger", "1.0.0", "point-rules", &["messaging", "state"], "");
    assert!(s.publish_file(&hostile, guests::HOSTILE).await.status.is_success());
    let key = s.store("acme").await;
    let bad = s
        .call(
            reqwest::Method::PUT,
            "/v1/stores/acme/delivery",
            &key,
            Some(json!({"kind": "webhook", "url": "ftp://x", "secret": "a-very-secret-key"})),
        )
        .await;
    assert_eq!(bad.fields(), vec!["url"]);
    let a = s
        .call(reqwest::Method::PUT, "/v1/stores/acme/delivery", &key,
              Some(json!({"kind": "webhook", "url": format!("http://{addr}/hook"), "secret": "a-very-secret-key"})))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["secret"], "********");
    s.install("acme", &key, "messenger", "1.0.0", json!({"mode": "message"})).await;
    s.event_wait("acme", &key, order("e1", "c1", "2026-03-05T10:00:00Z", 1000)).await;
    let m = s.until("/v1/stores/acme/messages", &key, |b| b[0]["state"] == "delivered").await;
    assert_eq!(m[0]["attempts"], 2, "{m}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|(id, ok)| *ok && id == m[0]["id"].as_str().unwrap()));
}

/// Batch `b` of the swap test: 100 orders of 10.00 tea over 20 customers.
fn swap_batch(b: usize) -> Vec<Value> {
    (0..100)
        .map(|k| {
            order(&format!("s{b}-{k}"), &format!("c{}", 1 + k % 20), "2026-06-02T10:00:00Z", 1000)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_campaign_in_javascript_and_a_swap_while_events_flow() {
    let s = TestServer::start().await;
    s.publish_points_basic("1.0.0").await;
    s.publish_bundled("points-campaign", guests::POINTS_CAMPAIGN).await;
    let key = s.store("acme").await;
    let campaign = json!({"unit_cents": 100, "rate": 1, "campaigns": [
        {"name": "tea-week", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z",
         "multiplier": 3, "categories": ["tea"], "threshold_cents": 100000, "threshold_bonus": 50}]});

    // The campaign alone, by hand: 2 × 25.50 tea → 51 units × 3 = 153; a
    // 19.99 cup → 19; total 71.00 < 1000.00: no bonus.
    let id = s.install("acme", &key, "points-campaign", "1.0.0", campaign.clone()).await;
    let results = s
        .event_wait("acme", &key, event("e0", "order.placed", "c0", "2026-06-01T10:00:00Z", json!({"order_id": "o0", "total_cents": 7099, "currency": "CNY", "items": [ {"sku": "t", "category": "tea", "qty": 2, "price_cents": 2550}, {"sku": "c", "category": "cups", "qty": 1, "price_cents": 1999}]}),))
        .await;
    assert_eq!(results[0]["installs"][0]["status"], "ok", "{}", results[0]);
    assert_eq!(s.points("acme", &key, "c0").await["balance"], 172);

    // Swap back and forth while 600 orders of 10.00 tea arrive: each is
    // earned by exactly one plugin (10 points basic, 30 campaign).
    let path = format!("/v1/stores/acme/installs/{id}");
    let sender = {
        let (api, key) = (s.api.clone(), key.clone());
        tokio::spawn(async move {
            for b in 0..6 {
                send_events(&api, "acme", &key, swap_batch(b)).await;
                tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            }
        })
    };
    for round in 0..6 {
        let body = if round % 2 == 0 {
            json!({"plugin": "points-basic", "config": {}})
        } else {
            json!({"plugin": "points-campaign", "config": campaign})
        };
        let a = s.call(reqwest::Method::PATCH, &path, &key, Some(body)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    }
    sender.await.unwrap();
    // Wait for everything, then count who earned what.
    let mut by_plugin: HashMap<String, i64> = HashMap::new();
    let mut total = 0;
    for b in 0..6 {
        // Posting the same events again answers with their first outcome.
        for r in s.events_wait("acme", &key, swap_batch(b)).await {
            assert_eq!(r["status"], "processed", "{r}");
            let installs = r["installs"].as_array().unwrap();
            assert_eq!(installs.len(), 1, "exactly one plugin ran: {r}");
            let plugin = installs[0]["plugin"].as_str().unwrap().to_string();
            let earned: i64 = r["effects"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["op"] == "earn")
                .map(|e| e["points"].as_i64().unwrap())
                .sum();
            // points-basic also gives no first-order bonus with an empty config.
            let want = if plugin.starts_with("points-basic") { 10 } else { 30 };
            assert_eq!(earned, want, "{r}");
            *by_plugin.entry(plugin).or_default() += 1;
            total += earned;
        }
    }
    assert_eq!(by_plugin.values().sum::<i64>(), 600);
    let balances: i64 = futures::future::join_all((1..=20).map(|c| {
        let s = &s;
        let key = &key;
        async move { s.points("acme", key, &format!("c{c}")).await["balance"].as_i64().unwrap() }
    }))
    .await
    .into_iter()
    .sum();
    assert_eq!(balances, total, "balances are the sum of what each event earned");
}

/// A flow started before a restart finishes after it: timers are rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rescue_flows_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let key;
    {
        let s = TestServer::start_with(|c| c.data_dir = path.clone()).await;
        s.publish_bundled("churn-winback", guests::CHURN_WINBACK).await;
        key = s.store("acme").await;
        let config = json!({"threshold": 0.9999, "min_customers": 2, "min_repeat_buyers": 1,
            "steps": [
            {"after_seconds": 0, "channel": "email", "template": "miss-you"},
            {"after_seconds": 3, "channel": "sms", "template": "coupon", "coupon_percent": 15}]});
        s.install("acme", &key, "churn-winback", "1.2.0", config).await;
        let mut events = Vec::new();
        for i in 0..20i64 {
            let (times, cents) = history(i);
            for (k, t) in times.iter().enumerate() {
                events.push(order(&format!("c{i}-{k}"), &format!("c{i}"), &rfc3339(*t), cents));
            }
        }
        s.events_wait("acme", &key, events).await;
        let fit =
            s.post("/v1/stores/acme/models/fit?wait=true", &key, json!({"as_of": AS_OF})).await;
        assert_eq!(fit.body["fits"][0]["status"], "ok", "{}", fit.body);
        s.until("/v1/stores/acme/messages", &key, |b| !b.as_array().unwrap().is_empty()).await;
        s.running.pipeline.stop_workers();
        s.running.task.abort();
    }
    let s = TestServer::start_with(|c| c.data_dir = path.clone()).await;
    let flows = s
        .until("/v1/stores/acme/flows", &key, |b| {
            let l = b.as_array().unwrap();
            !l.is_empty() && l.iter().all(|f| f["state"] != "active")
        })
        .await;
    let messages = s.get("/v1/stores/acme/messages", &key).await.body;
    let expired: Vec<&Value> =
        flows.as_array().unwrap().iter().filter(|f| f["state"] == "expired").collect();
    assert!(!expired.is_empty(), "{flows}");
    for f in expired {
        let steps: Vec<i64> = messages
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["flow_id"] == f["id"])
            .map(|m| m["step"].as_i64().unwrap())
            .collect();
        assert_eq!(steps.len(), 2, "one message per step across the restart: {f}");
        assert!(steps.contains(&0) && steps.contains(&1));
    }
}
