//! Two nodes on one database (PostgreSQL, or one SQLite file), in this
//! process: install changes reach every node before they are answered,
//! the cluster endpoint, readiness and intake back-pressure.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clientele::db::Db;
use clientele_e2e::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A second node beside `first`, on its database.
async fn second_node(first: &TestServer, url: &str) -> TestServer {
    let url = url.to_string();
    let admin = first.admin.clone();
    TestServer::start_with(move |c| {
        c.database_url = Some(url);
        c.admin_token = Some(admin);
    })
    .await
}

async fn shared_database(dir: &std::path::Path) -> String {
    match pg::database_for(dir).await {
        Some(url) => url,
        None => Db::sqlite_url(dir),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_swap_reaches_every_node_before_it_is_answered() {
    let shared = tempfile::tempdir().unwrap();
    let url = shared_database(shared.path()).await;
    let u = url.clone();
    let a = TestServer::start_with(move |c| c.database_url = Some(u)).await;
    let b = second_node(&a, &url).await;
    a.publish_points_basic("1.0.0").await;
    a.publish_points_basic("1.1.0").await;
    let key = a.store("acme").await;
    let id = a.install("acme", &key, "points-basic", "1.0.0", json!({})).await;

    // A stream of batches at node b until told to stop; `started` counts
    // the batches whose request had begun.
    let started = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (api, k, n, halt) = (b.api.clone(), key.clone(), started.clone(), stop.clone());
    let sender = tokio::spawn(async move {
        let mut batch = 0;
        while !halt.load(Ordering::SeqCst) {
            let events: Vec<Value> = (0..50)
                .map(|i| {
                    order(&format!("b{batch}-{i}"), &format!("c{i}"), "2026-03-05T10:00:00Z", 100)
                })
                .collect();
            n.store(batch + 1, Ordering::SeqCst);
            send_events(&api, "acme", &k, events).await;
            batch += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        batch
    });
    // The first batch ran on 1.0.0 before the swap.
    a.until("/v1/stores/acme/events/b0-49", &key, |e| e["status"] == "processed").await;
    // The swap, through node a, while the stream goes on.
    a.patch_ok(&format!("/v1/stores/acme/installs/{id}"), &key, json!({"version": "1.1.0"})).await;
    let answered_at = started.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let sent = sender.await.unwrap();
    assert!(sent > answered_at, "batches were sent after the swap was answered");
    b.until(&format!("/v1/stores/acme/events/b{}-49", sent - 1), &key, |e| {
        e["status"] == "processed"
    })
    .await;

    // Every batch sent after the answer was decided by 1.1.0, whichever
    // node ran it.
    let mut old = 0;
    for batch in answered_at..sent {
        for i in [0, 25, 49] {
            let e = b.get(&format!("/v1/stores/acme/events/b{batch}-{i}"), &key).await.body;
            assert_eq!(e["installs"][0]["plugin"], "points-basic@1.1.0", "{e}");
        }
    }
    for batch in 0..answered_at {
        let e = a.get(&format!("/v1/stores/acme/events/b{batch}-0"), &key).await.body;
        if e["installs"][0]["plugin"] == "points-basic@1.0.0" {
            old += 1;
        }
    }
    assert!(old > 0, "some events before the swap ran on 1.0.0");
    // Nothing was lost or doubled across the swap and the two nodes.
    for c in [0, 49] {
        let p = a.points("acme", &key, &format!("c{c}")).await;
        assert_eq!(p["balance"], sent, "c{c}: one point for each of its {sent} orders");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_readiness_and_back_pressure() {
    let shared = tempfile::tempdir().unwrap();
    let url = shared_database(shared.path()).await;
    let u = url.clone();
    let a = TestServer::start_with(move |c| {
        c.database_url = Some(u);
        c.pipeline.max_pending = 5;
    })
    .await;
    let b = second_node(&a, &url).await;

    let r = a.get("/readyz", "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["node"], a.running.pipeline.cluster.node_id.as_str());
    let cluster = a.get("/v1/cluster", &a.admin).await;
    assert_eq!(cluster.status, StatusCode::OK, "{}", cluster.body);
    let ids: Vec<&str> = cluster.body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["state"] == "alive")
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    for node in [&a, &b] {
        assert!(ids.contains(&node.running.pipeline.cluster.node_id.as_str()), "{ids:?}");
    }
    // The cluster jobs are held, once each.
    let jobs: Vec<String> = cluster.body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|n| n["leases"].as_array().unwrap().clone())
        .map(|l| l["name"].as_str().unwrap().to_string())
        .filter(|n| n.starts_with("job:"))
        .collect();
    let mut unique = jobs.clone();
    unique.dedup();
    assert_eq!(jobs.len(), unique.len(), "{jobs:?}");
    problem(&a.get("/v1/cluster", "wrong").await, StatusCode::UNAUTHORIZED);

    // Intake refuses past the limit with 429 and Retry-After, taking
    // nothing of that request, until the workers catch up.
    let key = a.store("acme").await;
    a.running.pipeline.stop_workers();
    let five: Vec<Value> =
        (0..5).map(|i| order(&format!("e{i}"), "c1", "2026-03-05T10:00:00Z", 100)).collect();
    let r = a.post("/v1/stores/acme/events", &key, json!({ "events": five })).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let reply = a
        .api
        .http
        .post(format!("{}/v1/stores/acme/events", a.base))
        .bearer_auth(&key)
        .json(&json!({"events": [order("e5", "c1", "2026-03-05T10:00:00Z", 100)]}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.headers()["retry-after"], "1");
    assert_eq!(reply.headers()["content-type"], "application/problem+json");
    let e = a.get("/v1/stores/acme/events/e5", &key).await;
    assert_eq!(e.status, StatusCode::NOT_FOUND, "nothing of it was taken");
    // Node b takes the store's events over once a's lease is given up.
    a.running.pipeline.cluster.leave().await.unwrap();
    b.until("/v1/stores/acme/events/e4", &key, |e| e["status"] == "processed").await;
}

/// The node holding `lease` now, as the database says.
async fn holder(s: &TestServer, lease: &str) -> Option<String> {
    let mut conn = s.running.pipeline.db.pool.acquire().await.unwrap();
    clientele::db::leases::all(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.name == lease)
        .map(|l| l.node_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_lease_with_nothing_to_do_is_given_up_within_a_heartbeat() {
    let s = TestServer::start_with(|c| c.pipeline.lease_ttl = Duration::from_millis(1000)).await;
    s.store("idle").await;
    // Held with no worker on the store and no work for it (as a unit of
    // work that failed half-way, or a fit that stopped, leaves it).
    let cluster = &s.running.pipeline.cluster;
    assert!(cluster.hold("store:idle").await.unwrap());
    assert_eq!(holder(&s, "store:idle").await.as_deref(), Some(cluster.node_id.as_str()));
    let held_at = std::time::Instant::now();
    while holder(&s, "store:idle").await.is_some() {
        assert!(
            held_at.elapsed() < 2 * cluster.beat() + Duration::from_millis(500),
            "an idle store's lease is given up within a heartbeat ({:?})",
            cluster.beat()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!cluster.holds("store:idle"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fit_waits_for_a_store_held_elsewhere_at_most_twice_the_lease_time() {
    let s = TestServer::start_with(|c| c.pipeline.lease_ttl = Duration::from_millis(1000)).await;
    s.publish_bundled("rfm-segments", guests::RFM_SEGMENTS).await;
    let key = s.store("busy").await;
    let install = s.install("busy", &key, "rfm-segments", "1.0.0", json!({})).await;
    s.events_wait("busy", &key, vec![order("e1", "c1", "2026-03-05T10:00:00Z", 1000)]).await;
    // A node that renews its heartbeat but never lets the store go takes
    // it as soon as this node, idle, gives it up.
    let took = std::time::Instant::now();
    loop {
        let mut conn = s.running.pipeline.db.pool.acquire().await.unwrap();
        let now = clientele::domain::time::now_ms();
        let lease = clientele::db::leases::acquire(
            &mut conn,
            "store:busy",
            "stuck-node",
            now,
            now + 600_000,
        );
        if lease.await.unwrap() {
            break;
        }
        assert!(took.elapsed() < Duration::from_secs(5), "the idle store was never given up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let asked = std::time::Instant::now();
    let a = s.post("/v1/stores/busy/models/fit?wait=true", &key, json!({})).await;
    let took = asked.elapsed();
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.body);
    assert_eq!(a.body["type"], "https://clientele.dev/problems/unavailable", "{}", a.body);
    assert!(a.body["detail"].as_str().unwrap().contains("stuck-node"), "{}", a.body);
    assert!(took < Duration::from_secs(2) + Duration::from_millis(1500), "answered in {took:?}");
    // What happened shows on the model.
    let models = s.get("/v1/stores/busy/models", &key).await.body;
    let m =
        models.as_array().unwrap().iter().find(|m| m["install_id"] == install.as_str()).unwrap();
    assert!(m["last_error"].as_str().unwrap().contains("not updated"), "{m}");
    // The fit queue did not stall: once the store is free, a fit answers.
    {
        let mut conn = s.running.pipeline.db.pool.acquire().await.unwrap();
        clientele::db::leases::release(&mut conn, "store:busy", "stuck-node").await.unwrap();
    }
    let a = s.post("/v1/stores/busy/models/fit?wait=true", &key, json!({})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["fits"][0]["status"], "ok", "{}", a.body);
}

fn problem(a: &Answer, status: StatusCode) {
    assert_eq!(a.status, status, "{}", a.body);
    assert!(a.body["detail"].is_string(), "{}", a.body);
}

/// A young PostgreSQL database is planned from statistics made as it
/// grows, not from an empty table's until autovacuum's first round: a
/// table that changed by half since its last analyze is analyzed, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_young_postgres_database_keeps_planner_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = pg::database_for(dir.path()).await else {
        // SQLite plans without collected statistics: nothing to refresh.
        let db = Db::connect(&Db::sqlite_url(dir.path()), 2).await.unwrap();
        db.migrate().await.unwrap();
        assert!(db.refresh_statistics().await.unwrap().is_empty());
        return;
    };
    let db = Db::connect(&url, 2).await.unwrap();
    db.migrate().await.unwrap();
    sqlx::query("INSERT INTO stores (id, name, currency, timezone, api_key_sha256, created_at) VALUES ('s', 's', 'EUR', 'UTC', 'h', 0)")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO customers (store_id, id, created_at, updated_at)
         SELECT 's', 'c' || n, 0, 0 FROM generate_series(1, 3000) AS n",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    // The activity counters reach the statistics views within a second.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let analyzed = db.refresh_statistics().await.unwrap();
        if analyzed.iter().any(|t| t == "customers") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "customers was never analyzed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let estimate: f32 =
        sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE relname = 'customers'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(estimate, 3000.0, "the planner now knows the table's size");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let again = db.refresh_statistics().await.unwrap();
    assert!(!again.iter().any(|t| t == "customers"), "analyzed again without changes: {again:?}");
}

/// The embedded database's write-ahead log stays bounded under writes
/// that never pause for long and readers that are always in it (so a
/// passive checkpoint alone never lets it start over): `Db::checkpoint`,
/// on the serving nodes' 250 ms tick, restarts it past
/// `WAL_RESTART_BYTES`, where it used to grow to 64 MiB and be cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_write_ahead_log_stays_bounded_while_serving() {
    if pg::enabled() {
        return; // PostgreSQL keeps its own log.
    }
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&Db::sqlite_url(dir.path()), 6).await.unwrap();
    db.migrate().await.unwrap();
    sqlx::query("CREATE TABLE filler (id INTEGER PRIMARY KEY, b BLOB)")
        .execute(&db.pool)
        .await
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let mut background = Vec::new();
    // Two readers, staggered: one of them is always in a read transaction.
    for start in [0, 15] {
        let (db, done) = (db.clone(), done.clone());
        background.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(start)).await;
            while !done.load(Ordering::Relaxed) {
                let mut tx = db.pool.begin().await.unwrap();
                let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM filler")
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(30)).await;
                tx.commit().await.unwrap();
            }
        }));
    }
    {
        let (db, done) = (db.clone(), done.clone());
        background.push(tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(250)).await;
                db.checkpoint().await.unwrap();
            }
        }));
    }
    let wal = dir.path().join("clientele.db-wal");
    let size = || std::fs::metadata(&wal).map_or(0, |m| m.len());
    let mut most = 0;
    // 96 MiB in transactions of 1 MiB, 20 ms apart.
    for _ in 0..96 {
        let mut tx = db.begin_write().await.unwrap();
        for _ in 0..16 {
            sqlx::query("INSERT INTO filler (b) VALUES (randomblob(65536))")
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        most = most.max(size());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done.store(true, Ordering::Relaxed);
    for task in background {
        task.await.unwrap();
    }
    let mib = most as f64 / 1048576.0;
    println!("write-ahead log at most {mib:.1} MiB over 96 MiB written");
    // 8 MiB, and what came in during the 250 ms tick and its copy, with
    // room for a slow machine; the old cut came only past 64 MiB.
    assert!(mib < 40.0, "the write-ahead log reached {mib:.1} MiB");
    db.truncate_log().await.unwrap();
    assert_eq!(size(), 0, "a truncation empties it");
}
