//! Kill -9 under load. Nodes run as processes of their own (this test
//! binary started again as `node_process`), all on one database: three on
//! PostgreSQL (`CLIENTELE_TEST_DATABASE=postgres`), one on SQLite. Client
//! tasks stream 20,000 events for 2,000 customers of four stores at random
//! nodes and retry every batch that goes unanswered, while nodes are
//! killed with SIGKILL at random moments and started again. Afterwards
//! every event is stored once, and every customer's balance, tier and
//! ledger equal what one undisturbed node computes from the same events.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clientele::db::Db;
use clientele::server::{self, ServerConfig};
use clientele_e2e::{
    event, guests, order, pg, points_basic_manifest, refund, repo_file, TestServer,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

const STORES: usize = 4;
const CUSTOMERS: usize = 2_000;
const ADMIN: &str = "crash-admin";
/// Lease time of the nodes: a dead node's stores move after this.
const LEASE_TTL_MS: u64 = 1_500;
/// How long the work may take to finish after the last restart.
const SETTLE: Duration = Duration::from_secs(120);

/// A node of the crash test: serves until killed (or stopped by SIGTERM).
/// Run only by the crash test, which passes its settings in the
/// environment.
#[test]
#[ignore = "a node for the crash test, started by it in a process of its own"]
fn node_process() {
    let Ok(settings) = std::env::var("CLIENTELE_CRASH_NODE") else {
        return;
    };
    let s: Value = serde_json::from_str(&settings).unwrap();
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let mut config = ServerConfig::new(s["data_dir"].as_str().unwrap());
        config.database_url = s["database_url"].as_str().map(str::to_string);
        config.admin_token = Some(ADMIN.into());
        config.node_id = Some(s["node_id"].as_str().unwrap().to_string());
        config.pipeline.lease_ttl = Duration::from_millis(LEASE_TTL_MS);
        config.pipeline.workers = 4;
        let running = server::start(config).await.unwrap();
        println!("NODE_ADDR={}", running.addr);
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
        term.recv().await;
        running.shutdown().await;
    });
}

/// A node process and where it listens.
struct Node {
    id: String,
    dir: PathBuf,
    database_url: String,
    child: Child,
    base: String,
}

impl Node {
    fn start(id: &str, dir: &Path, database_url: &str) -> Node {
        let settings = json!({"data_dir": dir, "database_url": database_url, "node_id": id});
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["node_process", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env("CLIENTELE_CRASH_NODE", settings.to_string())
            .env("CLIENTELE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest prints the test's name on the same line.
                if let Some((_, addr)) = line.split_once("NODE_ADDR=") {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(60)).expect("the node started");
        Node {
            id: id.to_string(),
            dir: dir.to_path_buf(),
            database_url: database_url.to_string(),
            child,
            base: format!("http://{addr}"),
        }
    }

    /// SIGKILL, then a new process on the same data directory.
    fn kill_and_restart(&mut self, pause: Duration) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::thread::sleep(pause);
        *self = Node::start(&self.id, &self.dir, &self.database_url);
    }

    /// SIGTERM; true if it exited cleanly within `within`.
    fn stop(mut self, within: Duration) -> bool {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        false
    }
}

/// A small deterministic generator (no shared state between runs).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn store_of(customer: usize) -> String {
    format!("shop{}", customer % STORES)
}

/// Ten events per customer, in the customer's order: six orders, a
/// partial refund of the second, a review of the first and two check-ins.
fn customer_events(c: usize) -> Vec<Value> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (c as u64 + 1));
    let id = format!("c{c}");
    let at = |day: u64, hour: u64| {
        format!("2026-{:02}-{:02}T{hour:02}:00:00Z", 1 + day / 28, 1 + day % 28)
    };
    let mut day = rng.below(20);
    let mut list = Vec::new();
    for k in 0..6 {
        let cents = 1_000 + 100 * rng.below(900) as i64;
        list.push(order(&format!("{id}-o{k}"), &id, &at(day, 10), cents));
        day += 1 + rng.below(10);
        if k == 1 {
            list.push(refund(&format!("{id}-r"), &id, &at(day, 11), &format!("{id}-o1"), 500));
        }
        if k == 2 {
            list.push(event(
                &format!("{id}-v"),
                "review.submitted",
                &id,
                &at(day, 12),
                json!({"order_id": format!("o-{id}-o0"), "rating": 5,
                       "has_photo": rng.below(2) == 0, "text_length": 80}),
            ));
        }
    }
    for k in 0..2 {
        list.push(event(&format!("{id}-k{k}"), "checkin", &id, &at(day, 13 + k), json!({})));
    }
    list
}

/// Batches to send, in order: round `r` holds every customer's `r`th
/// event, so each customer's events go out (and are taken in) in order.
fn rounds(customers: &[usize]) -> Vec<(String, Vec<Value>)> {
    let events: Vec<Vec<Value>> = customers.iter().map(|c| customer_events(*c)).collect();
    let mut out = Vec::new();
    for r in 0..10 {
        let mut by_store: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for (c, theirs) in customers.iter().zip(&events) {
            by_store.entry(store_of(*c)).or_default().push(theirs[r].clone());
        }
        for (store, list) in by_store {
            for chunk in list.chunks(100) {
                out.push((store.clone(), chunk.to_vec()));
            }
        }
    }
    out
}

fn points_config() -> Value {
    json!({
        "unit_cents": 100,
        "earn": [{"from_units": 0, "rate": 1}, {"from_units": 500, "rate": 1.5}],
        "tiers": [{"name": "silver", "min_spend_cents": 100000, "multiplier": 1.25},
                  {"name": "gold", "min_spend_cents": 250000, "multiplier": 1.5}],
        "first_order_bonus": 50,
        "review": {"base": 10, "photo_bonus": 5},
        "checkin": {"points": 3, "daily_cap": 1}
    })
}

/// points-basic as shipped (published as 1.0.0, the version the stores
/// install): its budget is fuel, which a busy machine does not use up
/// sooner.
fn points_manifest() -> String {
    points_basic_manifest("1.0.0")
}

/// Publishes, creates the stores and installs; returns the stores' keys.
async fn set_up(http: &reqwest::Client, base: &str, admin: &str) -> BTreeMap<String, String> {
    let api = clientele::client::ApiClient::new(base.to_string());
    let component = std::fs::read(guests::POINTS_BASIC).unwrap();
    let a = api.publish(admin, &points_manifest(), component).await.unwrap();
    assert!(a.status.is_success(), "{}", a.body);
    let mut keys = BTreeMap::new();
    for s in 0..STORES {
        let store = format!("shop{s}");
        let key = store_with(http, base, admin, &store, "points-basic", points_config()).await;
        keys.insert(store, key);
    }
    keys
}

/// Creates `store` running `plugin@1.0.0` with `config`; returns its key.
async fn store_with(
    http: &reqwest::Client,
    base: &str,
    admin: &str,
    store: &str,
    plugin: &str,
    config: Value,
) -> String {
    let a: Value = http
        .post(format!("{base}/v1/stores"))
        .bearer_auth(admin)
        .json(&json!({"id": store, "timezone": "UTC"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = a["api_key"].as_str().unwrap().to_string();
    let r = http
        .post(format!("{base}/v1/stores/{store}/installs"))
        .bearer_auth(&key)
        .json(&json!({"plugin": plugin, "version": "1.0.0", "config": config}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    key
}

/// Sends one batch until some node answers 202.
async fn send_until_taken(
    http: &reqwest::Client,
    bases: &Arc<Mutex<Vec<String>>>,
    rng: &mut Rng,
    key: &str,
    store: &str,
    events: &[Value],
) -> usize {
    let body = json!({ "events": events });
    let mut tries = 0;
    loop {
        tries += 1;
        let base = {
            let list = bases.lock().unwrap();
            list[rng.below(list.len() as u64) as usize].clone()
        };
        let sent = http
            .post(format!("{base}/v1/stores/{store}/events"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status() == StatusCode::ACCEPTED => return tries,
            Ok(r) if r.status() == StatusCode::TOO_MANY_REQUESTS => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(r) if r.status().is_server_error() => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(r) => panic!("batch refused: {} {}", r.status(), r.text().await.unwrap()),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
        assert!(tries < 2_000, "a batch was never taken");
    }
}

/// Per customer: balance, tier, and the ledger as (points, kind, reason,
/// event) in the order applied.
type Books =
    BTreeMap<(String, String), (i64, Option<String>, Vec<(i64, String, String, Option<String>)>)>;

async fn books(url: &str) -> Books {
    let db = Db::connect(url, 2).await.unwrap();
    let mut out = Books::new();
    let rows = sqlx::query("SELECT store_id, id, points_balance, tier FROM customers")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    for r in rows {
        out.insert(
            (r.get("store_id"), r.get("id")),
            (r.get("points_balance"), r.get("tier"), Vec::new()),
        );
    }
    let rows = sqlx::query(
        "SELECT store_id, customer_id, points, kind, reason, event_id FROM ledger_entries ORDER BY seq",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    for r in rows {
        let key = (r.get("store_id"), r.get("customer_id"));
        out.get_mut(&key).expect("a ledger entry of a known customer").2.push((
            r.get("points"),
            r.get("kind"),
            r.get("reason"),
            r.get("event_id"),
        ));
    }
    db.pool.close().await;
    out
}

async fn count(url: &str, sql: &str) -> i64 {
    let db = Db::connect(url, 1).await.unwrap();
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&db.pool).await.unwrap();
    db.pool.close().await;
    n
}

/// The same events through one undisturbed in-process node.
async fn reference(all: &[usize]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = Db::sqlite_url(dir.path());
    let s = TestServer::start_with(|c| {
        c.data_dir = dir.path().join("server");
        c.database_url = Some(url.clone());
    })
    .await;
    let http = reqwest::Client::new();
    let keys = set_up(&http, &s.base, &s.admin).await;
    let bases = Arc::new(Mutex::new(vec![s.base.clone()]));
    let mut rng = Rng(7);
    for (store, batch) in rounds(all) {
        send_until_taken(&http, &bases, &mut rng, &keys[&store], &store, &batch).await;
    }
    let deadline = Instant::now() + SETTLE;
    while count(&url, "SELECT COUNT(*) FROM events WHERE status = 'pending'").await > 0 {
        assert!(Instant::now() < deadline, "the reference did not finish");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    s.running.pipeline.stop_workers();
    (dir, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_under_load_loses_nothing_and_applies_nothing_twice() {
    let started = Instant::now();
    let root = tempfile::tempdir().unwrap();
    let nodes_wanted = if pg::enabled() { 3 } else { 1 };
    let database_url = match pg::database_for(&root.path().join("cluster")).await {
        Some(url) => url,
        None => Db::sqlite_url(root.path()),
    };
    let mut nodes: Vec<Node> = (0..nodes_wanted)
        .map(|n| {
            let dir = root.path().join(format!("n{n}"));
            std::fs::create_dir_all(&dir).unwrap();
            Node::start(&format!("n{n}"), &dir, &database_url)
        })
        .collect();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let keys = Arc::new(set_up(&http, &nodes[0].base, ADMIN).await);
    let bases = Arc::new(Mutex::new(nodes.iter().map(|n| n.base.clone()).collect::<Vec<_>>()));

    // Four client tasks, each with its own customers.
    let all: Vec<usize> = (0..CUSTOMERS).collect();
    let mut clients = Vec::new();
    for t in 0..4usize {
        let mine: Vec<usize> = all.iter().copied().filter(|c| (c / STORES) % 4 == t).collect();
        let (http, bases, keys) = (http.clone(), bases.clone(), keys.clone());
        clients.push(tokio::spawn(async move {
            let mut rng = Rng(1_000 + t as u64);
            let mut retried = 0;
            for (store, batch) in rounds(&mine) {
                retried += send_until_taken(&http, &bases, &mut rng, &keys[&store], &store, &batch)
                    .await
                    - 1;
            }
            retried
        }));
    }

    // Who holds the stores, looked at every 100 ms while the load runs
    // (a few looks at the moments of the kills can all meet one node).
    let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let watcher = {
        let (seen, url) = (seen.clone(), database_url.clone());
        tokio::spawn(async move {
            let db = Db::connect(&url, 1).await.unwrap();
            loop {
                let now: Vec<String> =
                    sqlx::query_scalar("SELECT node_id FROM leases WHERE name LIKE 'store:%'")
                        .fetch_all(&db.pool)
                        .await
                        .unwrap_or_default();
                seen.lock().unwrap().extend(now);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    // Meanwhile: at least five kill -9s of random nodes at random moments.
    let mut rng = Rng(42);
    let mut kills = 0;
    while kills < 5 || clients.iter().any(|c| !c.is_finished()) {
        tokio::time::sleep(Duration::from_millis(300 + rng.below(1_200))).await;
        if kills >= 8 {
            break;
        }
        let n = rng.below(nodes.len() as u64) as usize;
        // Sometimes back at once (it takes its own leases back), sometimes
        // after its leases lapsed (the others took its stores over).
        let pause = Duration::from_millis(if rng.below(2) == 0 { 100 } else { LEASE_TTL_MS + 500 });
        let node = &mut nodes[n];
        tokio::task::block_in_place(|| node.kill_and_restart(pause));
        bases.lock().unwrap()[n] = node.base.clone();
        kills += 1;
    }
    let last_restart = Instant::now();
    let mut retried = 0;
    for c in clients {
        retried += c.await.unwrap();
    }
    watcher.abort();
    let holders = seen.lock().unwrap().clone();
    let sent = CUSTOMERS as i64 * 10;
    println!("nodes seen holding stores: {holders:?}");
    if nodes_wanted > 1 {
        assert!(holders.len() > 1, "the stores were served by more than one node: {holders:?}");
    }

    // All work finishes within SETTLE of the last restart.
    loop {
        let pending =
            count(&database_url, "SELECT COUNT(*) FROM events WHERE status = 'pending'").await;
        if pending == 0 {
            break;
        }
        assert!(
            last_restart.elapsed() < SETTLE,
            "{pending} events still pending {SETTLE:?} after the last restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let settled = last_restart.elapsed();
    println!(
        "{nodes_wanted} node(s), {kills} kills, {retried} batches sent again; all processed {:.1} s after the last restart ({:.1} s in all)",
        settled.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );

    // Every event stored once, with one outcome for the install.
    assert_eq!(count(&database_url, "SELECT COUNT(*) FROM events").await, sent);
    assert_eq!(count(&database_url, "SELECT COUNT(*) FROM outcomes").await, sent);
    assert_eq!(
        count(&database_url, "SELECT COUNT(*) FROM outcomes WHERE status <> 'ok'").await,
        0,
        "no call failed"
    );

    // The same books as one undisturbed node keeps.
    let (_ref_dir, ref_url) = reference(&all).await;
    let (got, want) = (books(&database_url).await, books(&ref_url).await);
    assert_eq!(got.len(), CUSTOMERS);
    assert_eq!(want.len(), CUSTOMERS);
    for (key, expected) in &want {
        assert_eq!(got.get(key), Some(expected), "customer {key:?}");
    }

    // A clean stop of every node (SIGTERM) exits 0 and frees its leases.
    for node in nodes {
        assert!(node.stop(Duration::from_secs(20)), "a node did not stop cleanly");
    }
    assert_eq!(count(&database_url, "SELECT COUNT(*) FROM leases").await, 0);
    if !pg::enabled() {
        // The clean stop left no write-ahead log behind.
        let wal = root.path().join("clientele.db-wal");
        let left = std::fs::metadata(&wal).map_or(0, |m| m.len());
        assert_eq!(left, 0, "{} holds {left} bytes after a clean stop", wal.display());
    }
}

/// Leases in the database: (name, node, acquired_at).
async fn leases(url: &str) -> Vec<(String, String, i64)> {
    let db = Db::connect(url, 1).await.unwrap();
    let rows = sqlx::query("SELECT name, node_id, acquired_at FROM leases ORDER BY name")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    db.pool.close().await;
    rows.iter().map(|r| (r.get("name"), r.get("node_id"), r.get("acquired_at"))).collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Starts a fit of `store` through `base` and returns once `node` holds
/// the store's lease for it (the update of every customer), within 20 s.
async fn fit_until_held(http: &reqwest::Client, base: &str, key: &str, url: &str, node: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let lease = "store:refit".to_string();
    loop {
        let r = http
            .post(format!("{base}/v1/stores/refit/models/fit"))
            .bearer_auth(key)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let tried = Instant::now();
        while tried.elapsed() < Duration::from_secs(3) {
            if leases(url).await.iter().any(|(n, by, _)| *n == lease && by == node) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert!(Instant::now() < deadline, "{node} was never seen holding {lease}");
    }
}

/// A fit through `base`, waited for: it must answer 200 within `within`.
async fn fit_answers(http: &reqwest::Client, base: &str, key: &str, within: Duration) {
    let asked = Instant::now();
    let r = http
        .post(format!("{base}/v1/stores/refit/models/fit?wait=true"))
        .bearer_auth(key)
        .json(&json!({}))
        .timeout(within + Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    let (status, took) = (r.status(), asked.elapsed());
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["fits"].as_array().unwrap().iter().all(|f| f["status"] == "ok"), "{body}");
    assert!(took < within, "the fit answered after {took:?} (bound {within:?})");
}

/// A node killed while it holds a store (the update of every customer
/// after a fit) and started again at once holds no lease of its earlier
/// run, so a fit through another node answers within its bound; the same
/// for a node that comes back under a new id, whose old leases lapse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_holding_a_store_and_restarted_holds_nothing_of_its_earlier_run() {
    let root = tempfile::tempdir().unwrap();
    let url = match pg::database_for(&root.path().join("cluster")).await {
        Some(url) => url,
        None => Db::sqlite_url(root.path()),
    };
    let dir = |n: &str| {
        let d = root.path().join(n);
        std::fs::create_dir_all(&d).unwrap();
        d
    };
    let mut a = Node::start("ra", &dir("ra"), &url);
    let b = Node::start("rb", &dir("rb"), &url);
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let api = clientele::client::ApiClient::new(a.base.clone());
    let manifest = repo_file("plugins/rfm-segments/plugin.toml");
    let published = api.publish(ADMIN, &manifest, std::fs::read(guests::RFM_SEGMENTS).unwrap());
    assert!(published.await.unwrap().status.is_success());
    let key = store_with(&http, &a.base, ADMIN, "refit", "rfm-segments", json!({})).await;
    // Enough customers that updating them after a fit takes a while.
    for chunk in (0..4_000).collect::<Vec<usize>>().chunks(500) {
        let events: Vec<Value> = chunk
            .iter()
            .map(|c| {
                let day = 1 + c % 28;
                order(
                    &format!("o{c}"),
                    &format!("c{c}"),
                    &format!("2026-02-{day:02}T10:00:00Z"),
                    1000 + *c as i64,
                )
            })
            .collect();
        let r = http
            .post(format!("{}/v1/stores/refit/events", a.base))
            .bearer_auth(&key)
            .json(&json!({ "events": events }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    let deadline = Instant::now() + SETTLE;
    while count(&url, "SELECT COUNT(*) FROM events WHERE status = 'pending'").await > 0 {
        assert!(Instant::now() < deadline, "the events were not processed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // What a fit through another node may wait for: a dead node's lease
    // lapsing (the lease time), a live one's idle store (a heartbeat),
    // and the fit itself.
    let bound = Duration::from_millis(2 * LEASE_TTL_MS) + Duration::from_secs(15);

    // Killed holding the store, back at once under the same id.
    fit_until_held(&http, &a.base, &key, &url, "ra").await;
    let killed_at = now_ms();
    tokio::task::block_in_place(|| a.kill_and_restart(Duration::ZERO));
    // Two heartbeats of the new run.
    tokio::time::sleep(Duration::from_millis(LEASE_TTL_MS / 2)).await;
    let left: Vec<_> = leases(&url)
        .await
        .into_iter()
        .filter(|(_, node, at)| node == "ra" && *at < killed_at)
        .collect();
    assert!(left.is_empty(), "the restarted node holds leases of its earlier run: {left:?}");
    fit_answers(&http, &b.base, &key, bound).await;
    // The cluster view shows where the store went: not to the earlier run.
    let view: Value = http
        .get(format!("{}/v1/cluster", b.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ra = view["nodes"].as_array().unwrap().iter().find(|n| n["id"] == "ra").unwrap();
    assert_eq!(ra["state"], "alive", "{view}");

    // Killed holding the store again, back under a new id: the old id's
    // leases are renewed by nobody and lapse.
    fit_until_held(&http, &a.base, &key, &url, "ra").await;
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let c = Node::start("rc", &dir("rc"), &url);
    fit_answers(&http, &c.base, &key, bound).await;
    fit_answers(&http, &b.base, &key, bound).await;
    let held_by_ra: Vec<_> = leases(&url)
        .await
        .into_iter()
        .filter(|(name, node, _)| node == "ra" && name.starts_with("store:"))
        .collect();
    assert!(held_by_ra.is_empty(), "{held_by_ra:?}");
    for node in [b, c] {
        assert!(node.stop(Duration::from_secs(20)), "a node did not stop cleanly");
    }
}
