//! The database going away under load (PostgreSQL: every connection cut
//! with `pg_terminate_backend`, new ones refused, for five seconds): the
//! node says so at once — readiness 503 within its bound, requests 503
//! with `Retry-After` within theirs, never a 500 — keeps its liveness,
//! shows the outage in its metrics, and comes back by itself; nothing it
//! answered 2xx for is lost, and nothing is applied twice.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clientele_e2e::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// What a request may take while the database is away: the pool's wait
/// for a connection (3 s), and some slack for a loaded machine.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

async fn set_connections(name: &str, allowed: bool) {
    let mut admin = pg::admin().await;
    sqlx::query(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {allowed}"))
        .execute(&mut admin)
        .await
        .unwrap();
    if !allowed {
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(name)
        .execute(&mut admin)
        .await
        .unwrap();
    }
}

/// `clientele_database_up` in the metrics text.
fn database_up(text: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with("clientele_database_up{"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// A batch of ten orders for ten customers of their own.
fn batch(n: usize) -> Vec<Value> {
    (0..10)
        .map(|i| order(&format!("b{n}-{i}"), &format!("c{n}-{i}"), "2026-03-05T10:00:00Z", 1000))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_going_away_is_said_at_once_and_the_node_comes_back_by_itself() {
    if !pg::enabled() {
        println!("skipped on SQLite: this one cuts a PostgreSQL server's connections");
        return;
    }
    let s = TestServer::start().await;
    s.publish_points_basic("1.0.0").await;
    let key = s.store("shop").await;
    s.install("shop", &key, "points-basic", "1.0.0", json!({})).await;
    let name: String = {
        let mut conn = s.running.pipeline.db.pool.acquire().await.unwrap();
        sqlx::query_scalar("SELECT current_database()::TEXT").fetch_one(&mut *conn).await.unwrap()
    };

    // A client that sends batches one after another and sends a batch
    // again when it is answered 503; any 500 or slow answer fails.
    let stop = Arc::new(AtomicBool::new(false));
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let (base, k, halt, client) = (s.base.clone(), key.clone(), stop.clone(), http.clone());
    let sender = tokio::spawn(async move {
        let (mut sent, mut refused) = (0usize, 0usize);
        while !halt.load(Ordering::SeqCst) {
            let asked = Instant::now();
            let r = client
                .post(format!("{base}/v1/stores/shop/events"))
                .bearer_auth(&k)
                .json(&json!({ "events": batch(sent) }))
                .send()
                .await
                .unwrap();
            let took = asked.elapsed();
            assert!(took < ANSWER_WITHIN, "intake answered after {took:?}");
            match r.status() {
                StatusCode::ACCEPTED => sent += 1,
                StatusCode::SERVICE_UNAVAILABLE => {
                    refused += 1;
                    let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                    let body: Value = r.json().await.unwrap();
                    assert_eq!(
                        body["type"], "https://clientele.dev/problems/unavailable",
                        "{body}"
                    );
                    tokio::time::sleep(Duration::from_millis(200 * wait)).await;
                }
                other => panic!("intake answered {other}: {}", r.text().await.unwrap()),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (sent, refused)
    });
    tokio::time::sleep(Duration::from_millis(700)).await;

    // The database goes away.
    set_connections(&name, false).await;
    let away = Instant::now();
    let mut probes = 0;
    let mut not_ready = 0;
    let mut slowest = Duration::ZERO;
    while away.elapsed() < Duration::from_secs(5) {
        let asked = Instant::now();
        let r = http.get(format!("{}/readyz", s.base)).send().await.unwrap();
        let took = asked.elapsed();
        assert!(took < Duration::from_millis(1500), "readiness answered after {took:?}");
        slowest = slowest.max(took);
        probes += 1;
        if r.status() == StatusCode::SERVICE_UNAVAILABLE {
            not_ready += 1;
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["type"], "https://clientele.dev/problems/unavailable", "{body}");
        }
        let live = http.get(format!("{}/healthz", s.base)).send().await.unwrap();
        assert_eq!(live.status(), StatusCode::OK, "liveness stays");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(not_ready * 2 > probes, "readiness said 503 for {not_ready} of {probes} probes");
    println!("readiness: {not_ready} of {probes} probes 503, the slowest in {slowest:?}");
    // The cluster view says since when this node has not reached it.
    let r = http.get(format!("{}/v1/cluster", s.base)).bearer_auth(&s.admin).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("has not reached the database since"),
        "{body}"
    );
    // A read is answered 503 too, within its bound.
    let asked = Instant::now();
    let r = http
        .get(format!("{}/v1/stores/shop/customers/c0-0", s.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("retry-after"));
    let took = asked.elapsed();
    assert!(took < ANSWER_WITHIN);
    println!("a read during the outage answered 503 in {took:?}");
    // The metrics say it, from memory.
    let m = http.get(format!("{}/metrics", s.base)).bearer_auth(&s.admin).send().await.unwrap();
    assert_eq!(m.status(), StatusCode::OK);
    let text = m.text().await.unwrap();
    assert_eq!(database_up(&text), Some(0.0), "{text}");

    // It comes back, and the node with it, by itself.
    set_connections(&name, true).await;
    let back = Instant::now();
    loop {
        let r = http.get(format!("{}/readyz", s.base)).send().await.unwrap();
        if r.status() == StatusCode::OK {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "not ready 15 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("ready {:.2} s after the database came back", back.elapsed().as_secs_f64());
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    let (sent, refused) = sender.await.unwrap();
    assert!(refused > 0, "some batches were refused during the outage");
    println!("{sent} batches taken, {refused} answered 503 and sent again");

    // Everything taken is processed once: ten points per order.
    let last = format!("/v1/stores/shop/events/b{}-9", sent - 1);
    s.until(&last, &key, |e| e["status"] == "processed").await;
    let mut conn = s.running.pipeline.db.pool.acquire().await.unwrap();
    let (events, entries, points): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM events WHERE store_id = 'shop'),
                (SELECT COUNT(*) FROM ledger_entries WHERE store_id = 'shop'),
                (SELECT COALESCE(SUM(points_balance), 0)::BIGINT FROM customers WHERE store_id = 'shop')",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let orders = sent as i64 * 10;
    assert_eq!(events, orders, "every batch answered 202 was kept, and only those");
    assert_eq!(entries, orders, "each order earned once");
    assert_eq!(points, orders * 10);
    let m = http.get(format!("{}/metrics", s.base)).bearer_auth(&s.admin).send().await.unwrap();
    let text = m.text().await.unwrap();
    assert_eq!(database_up(&text), Some(1.0), "{text}");
}
