//! Test harness: starts the real server on a temp SQLite file (or, with
//! `CLIENTELE_TEST_DATABASE=postgres`, on a PostgreSQL database of its
//! own) and talks to it over HTTP.

use std::time::Duration;

use clientele::client::{ApiClient, Reply};
use clientele::server::{self, Running, ServerConfig};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub mod contract;
pub mod pg;

/// Paths of the guest components, built from source by `build.rs`.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

pub fn repo_file(path: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::fs::read_to_string(root.join(path)).unwrap()
}

pub struct TestServer {
    pub base: String,
    pub admin: String,
    /// The client every call goes through (`api.http` for hand-made ones).
    pub api: ApiClient,
    pub running: Running,
    pub dir: tempfile::TempDir,
}

/// An answer, already checked against the OpenAPI document.
pub type Answer = Reply;

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::new(dir.path());
        config.admin_token = Some("test-admin".into());
        config.pipeline.expiry_every = Duration::from_millis(200);
        // Retries as in production, only sooner: 50 ms, 200 ms, 800 ms.
        config.pipeline.retry.backoff = Duration::from_millis(50);
        tweak(&mut config);
        if config.database_url.is_none() {
            config.database_url = pg::database_for(&config.data_dir).await;
        }
        let running = server::start(config).await.unwrap();
        let base = format!("http://{}", running.addr);
        TestServer {
            api: ApiClient::new(base.clone()),
            base,
            admin: running.admin_token.clone(),
            running,
            dir,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Answer {
        let reply = self.api.call(method, path, token, body.as_ref()).await;
        checked(reply.unwrap())
    }

    /// Sends `body` as is, on a connection of its own: a server may close
    /// a connection it refused a body on (413) before reading all of it,
    /// and a pooled connection must not be the next request's.
    pub async fn raw(&self, method: Method, path: &str, token: &str, body: Vec<u8>) -> Answer {
        let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        let resp = client
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        checked(ApiClient::reply(method, resp).await.unwrap())
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, token, Some(body)).await
    }

    /// PATCHes `body`; the answer must be 200. Returns its body.
    pub async fn patch_ok(&self, path: &str, token: &str, body: Value) -> Value {
        let a = self.patch(path, token, body).await;
        assert_eq!(a.status, StatusCode::OK, "PATCH {path}: {}", a.body);
        a.body
    }

    /// PUTs `body`; the answer must be 200. Returns its body.
    pub async fn put_ok(&self, path: &str, token: &str, body: Value) -> Value {
        let a = self.call(Method::PUT, path, token, Some(body)).await;
        assert_eq!(a.status, StatusCode::OK, "PUT {path}: {}", a.body);
        a.body
    }

    pub async fn publish(&self, manifest: &str, component: Vec<u8>) -> Answer {
        let reply = self.api.publish(&self.admin, manifest, component).await;
        checked(reply.unwrap())
    }

    /// Publishes a guest from `guests` with a manifest.
    pub async fn publish_file(&self, manifest: &str, path: &str) -> Answer {
        self.publish(manifest, std::fs::read(path).unwrap()).await
    }

    /// Publishes the real points-basic component at `version`.
    pub async fn publish_points_basic(&self, version: &str) {
        let manifest = points_basic_manifest(version);
        let a = self.publish_file(&manifest, guests::POINTS_BASIC).await;
        assert!(a.status.is_success(), "publish failed: {} {}", a.status, a.body);
    }

    /// Publishes the misbehaving guest as `hostile@version` with `limits`
    /// (a `[limits]` table), with the capabilities it may abuse.
    pub async fn publish_hostile(&self, version: &str, limits: &str) {
        let m = manifest(
            "hostile",
            version,
            "point-rules",
            &["state", "messaging"],
            &format!("scopes = [\"pii\"]\n{limits}"),
        );
        let a = self.publish_file(&m, guests::HOSTILE).await;
        assert!(a.status.is_success(), "{}", a.body);
    }

    /// Publishes a bundled plugin (its folder's plugin.toml) from `path`.
    pub async fn publish_bundled(&self, name: &str, path: &str) {
        let manifest = repo_file(&format!("plugins/{name}/plugin.toml"));
        let a = self.publish_file(&manifest, path).await;
        assert!(a.status.is_success(), "publish of {name} failed: {} {}", a.status, a.body);
    }

    /// Polls `GET path` until `done` holds for the body (at most 20 s).
    pub async fn until(&self, path: &str, token: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let a = self.get(path, token).await;
            if a.status == StatusCode::OK && done(&a.body) {
                return a.body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting on {path}: {} {}",
                a.status,
                a.body
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Creates a store; returns its API key.
    pub async fn store(&self, id: &str) -> String {
        let a = self
            .post(
                "/v1/stores",
                &self.admin,
                json!({"id": id, "name": id, "currency": "CNY", "timezone": "Asia/Shanghai"}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        a.body["api_key"].as_str().unwrap().to_string()
    }

    /// Installs a plugin; returns the install id.
    pub async fn install(
        &self,
        store: &str,
        key: &str,
        plugin: &str,
        version: &str,
        config: Value,
    ) -> String {
        let body = json!({"plugin": plugin, "version": version, "config": config});
        self.install_with(store, key, body).await
    }

    /// Installs with a whole request body (grants, failure policy, …);
    /// returns the install id.
    pub async fn install_with(&self, store: &str, key: &str, body: Value) -> String {
        let a = self.post(&format!("/v1/stores/{store}/installs"), key, body).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        a.body["install_id"].as_str().unwrap().to_string()
    }

    /// Posts events with `?wait=true`; returns the results.
    pub async fn events_wait(&self, store: &str, key: &str, events: Vec<Value>) -> Vec<Value> {
        let a = self
            .post(&format!("/v1/stores/{store}/events?wait=true"), key, json!({"events": events}))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        a.body["results"].as_array().unwrap().clone()
    }

    /// Posts one event with `?wait=true`; returns the results (of the one).
    pub async fn event_wait(&self, store: &str, key: &str, event: Value) -> Vec<Value> {
        self.events_wait(store, key, vec![event]).await
    }

    pub async fn points(&self, store: &str, key: &str, customer: &str) -> Value {
        let a = self.get(&format!("/v1/stores/{store}/customers/{customer}/points"), key).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        a.body
    }
}

/// The answer, after checking it against the OpenAPI document.
/// Posts events without waiting for them, from a task running beside the
/// test (with a clone of the server's `api`); asserts 202.
pub async fn send_events(api: &ApiClient, store: &str, key: &str, events: Vec<Value>) {
    let path = format!("/v1/stores/{store}/events");
    let r = api.post(&path, key, &json!({"events": events})).await.unwrap();
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
}

pub fn checked(reply: Reply) -> Answer {
    contract::check(&reply);
    reply
}

/// The first install's error code of every result of `?wait=true`
/// (`-` where it succeeded or nothing ran).
pub fn error_codes(results: &[Value]) -> Vec<String> {
    results
        .iter()
        .map(|e| e["installs"][0]["error_code"].as_str().unwrap_or("-").to_string())
        .collect()
}

/// An event object.
pub fn event(id: &str, kind: &str, customer: &str, at: &str, data: Value) -> Value {
    json!({"id": id, "type": kind, "customer_id": customer, "occurred_at": at, "data": data})
}

pub fn order(id: &str, customer: &str, at: &str, total_cents: i64) -> Value {
    event(
        id,
        "order.placed",
        customer,
        at,
        json!({"order_id": format!("o-{id}"), "total_cents": total_cents, "currency": "CNY",
               "items": [{"sku": "tea", "category": "tea", "qty": 1, "price_cents": total_cents}]}),
    )
}

/// A refund of `cents` of the order event `order_event` placed.
pub fn refund(id: &str, customer: &str, at: &str, order_event: &str, cents: i64) -> Value {
    let data = json!({"order_id": format!("o-{order_event}"), "refund_cents": cents});
    event(id, "order.refunded", customer, at, data)
}

/// The bundled `points-basic` manifest, published as `version`.
pub fn points_basic_manifest(version: &str) -> String {
    repo_file("plugins/points-basic/plugin.toml")
        .lines()
        .map(|l| {
            if l.starts_with("version = ") {
                format!("version = \"{version}\"")
            } else {
                l.into()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Manifest for a test guest.
pub fn manifest(
    name: &str,
    version: &str,
    world: &str,
    capabilities: &[&str],
    extra: &str,
) -> String {
    let caps: Vec<String> = capabilities.iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        "name = \"{name}\"\nversion = \"{version}\"\nworld = \"{world}\"\ncapabilities = [{}]\n{extra}\n",
        caps.join(", ")
    )
}
