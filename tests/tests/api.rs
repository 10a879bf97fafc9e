//! The HTTP contract: auth, validation, idempotency, batches, swaps.

use clientele_e2e::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn problem(a: &Answer, status: StatusCode) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.content_type, "application/problem+json", "{}", a.body);
    assert_eq!(a.body["status"], status.as_u16());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_endpoints_and_auth() {
    let s = TestServer::start().await;
    assert_eq!(s.get("/healthz", "").await.body, json!({"status": "ok"}));
    let m = s.get("/metrics", &s.admin).await;
    let text = m.body.as_str().unwrap();
    assert!(text.contains("clientele_events_processed_total"));
    let workers = clientele::pipeline::default_workers();
    assert!(
        text.contains(&format!(
            "clientele_workers{{node=\"{}\"}} {workers}\n",
            s.running.pipeline.cluster.node_id
        )),
        "{text}"
    );
    assert!(text.contains("clientele_stores_with_work{"), "{text}");
    let o = s.get("/openapi.json", "").await;
    assert_eq!(o.body["openapi"], "3.1.0");
    assert!(o.body["paths"]["/v1/stores/{store}/events"].is_object());

    problem(&s.get("/v1/stores", "").await, StatusCode::UNAUTHORIZED);
    problem(&s.get("/v1/stores", "wrong").await, StatusCode::UNAUTHORIZED);
    let a_key = s.store("a").await;
    let b_key = s.store("b").await;
    // A store key may only touch its own store; others look absent.
    problem(&s.get("/v1/stores/b/installs", &a_key).await, StatusCode::NOT_FOUND);
    assert_eq!(s.get("/v1/stores/b/installs", &b_key).await.status, StatusCode::OK);
    problem(&s.post("/v1/stores", &a_key, json!({"id": "c"})).await, StatusCode::FORBIDDEN);
    problem(&s.publish("", vec![]).await, StatusCode::UNPROCESSABLE_ENTITY);
    let form = reqwest::multipart::Form::new().text("manifest", "x");
    let r = s
        .api
        .http
        .post(format!("{}/v1/plugins", s.base))
        .bearer_auth(&a_key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Admin may touch any store; unknown stores are 404.
    assert_eq!(s.get("/v1/stores/a/installs", &s.admin).await.status, StatusCode::OK);
    problem(&s.get("/v1/stores/nope/installs", &s.admin).await, StatusCode::NOT_FOUND);
    problem(&s.get("/v1/nothing-here", &s.admin).await, StatusCode::NOT_FOUND);

    // Stores: duplicates and bad ids.
    problem(&s.post("/v1/stores", &s.admin, json!({"id": "a"})).await, StatusCode::CONFLICT);
    let a = s.post("/v1/stores", &s.admin, json!({"id": "bad id!", "currency": "yuan"})).await;
    problem(&a, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.fields(), ["id", "currency"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_and_bad_input() {
    let s = TestServer::start().await;
    let key = s.store("acme").await;
    let put = |body: Value| s.call(Method::PUT, "/v1/stores/acme/customers/c-42", &key, Some(body));
    let a = put(
        json!({"email": "a@x.cn", "phone": "+8613800000000", "name": "Li", "birthday": "1990-05-17",
                      "tags": ["vip"], "attributes": {"city": "Hangzhou"}}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let c = s.get("/v1/stores/acme/customers/c-42", &key).await.body;
    assert_eq!(c["name"], "Li");
    assert_eq!(c["tags"], json!(["vip"]));
    assert_eq!(c["points_balance"], 0);
    assert_eq!(c["tier"], Value::Null);
    assert_eq!(c["segments"], json!([]));
    assert_eq!(c["stats"]["orders"], 0);
    // A partial update keeps the other fields.
    let a = put(json!({"phone": null})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let c = s.get("/v1/stores/acme/customers/c-42", &key).await.body;
    assert_eq!(c["phone"], Value::Null);
    assert_eq!(c["email"], "a@x.cn");

    let a = put(json!({"birthday": "17/05/1990", "tags": "vip", "colour": 1})).await;
    problem(&a, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.fields(), ["colour", "birthday", "tags"]);
    problem(&s.get("/v1/stores/acme/customers/nobody", &key).await, StatusCode::NOT_FOUND);
    problem(
        &s.get("/v1/stores/acme/customers/bad%20id", &key).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    );

    // Events: malformed JSON, wrong types, too many, too large.
    let path = "/v1/stores/acme/events";
    problem(&s.raw(Method::POST, path, &key, b"{\"id\": ".to_vec()).await, StatusCode::BAD_REQUEST);
    problem(&s.raw(Method::POST, path, &key, Vec::new()).await, StatusCode::BAD_REQUEST);
    let a = s.post(path, &key, json!({"events": [
        order("e1", "c1", "2026-03-05T10:00:00Z", 100),
        {"id": "e2", "type": "order.placed", "customer_id": "c1", "occurred_at": "2026-03-05T10:00:00Z",
         "data": {"order_id": "o2", "total_cents": "12"}},
        {"id": "e3", "type": "review.submitted", "customer_id": "c1", "occurred_at": "2026-03-05T10:00:00Z",
         "data": {"order_id": "o2", "rating": 9}},
        {"id": "e4", "type": "Weird Type", "customer_id": "c1", "occurred_at": "2026-03-05"},
    ]})).await;
    problem(&a, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        a.fields(),
        [
            "events[1].data.total_cents",
            "events[2].data.rating",
            "events[3].type",
            "events[3].occurred_at"
        ]
    );
    // Nothing of the rejected batch was stored.
    let a = s
        .post(&format!("{path}?wait=true"), &key, order("e1", "c1", "2026-03-05T10:00:00Z", 100))
        .await;
    assert_eq!(a.body["results"][0]["duplicate"], false);

    let many: Vec<Value> =
        (0..1001).map(|i| order(&format!("m{i}"), "c1", "2026-03-05T10:00:00Z", 100)).collect();
    let a = s.post(path, &key, json!({"events": many})).await;
    problem(&a, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.body["errors"][0]["field"], "events");
    let huge = vec![b' '; 17 * 1024 * 1024];
    problem(&s.raw(Method::POST, path, &key, huge).await, StatusCode::PAYLOAD_TOO_LARGE);
    problem(
        &s.post("/v1/stores/nope/events", &s.admin, order("x", "c1", "2026-03-05T10:00:00Z", 1))
            .await,
        StatusCode::NOT_FOUND,
    );
    // Redeem: bad amounts and an unknown customer.
    problem(
        &s.post("/v1/stores/acme/customers/c1/points/redeem", &key, json!({"points": -5})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    );
    problem(
        &s.post("/v1/stores/acme/customers/zz/points/redeem", &key, json!({"points": 5})).await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installs_are_validated_and_unique_per_world() {
    let s = TestServer::start().await;
    s.publish_points_basic("1.0.0").await;
    let key = s.store("acme").await;
    let path = "/v1/stores/acme/installs";
    let a =
        s.post(path, &key, json!({"plugin": "points-basic", "config": {"unit_cents": 0}})).await;
    problem(&a, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.body["errors"][0]["field"], "config.unit_cents");
    let a = s
        .post(
            path,
            &key,
            json!({"plugin": "points-basic", "config": {"earn": [{"from_units": 0}]}}),
        )
        .await;
    assert_eq!(a.body["errors"][0]["field"], "config.earn.0");
    // A plugin or version that is not published: well formed, but names
    // what is not there (409, the field named).
    let a = s.post(path, &key, json!({"plugin": "nope"})).await;
    problem(&a, StatusCode::CONFLICT);
    assert_eq!(a.fields(), ["plugin"]);
    let a = s.post(path, &key, json!({"plugin": "points-basic", "version": "9.9.9"})).await;
    problem(&a, StatusCode::CONFLICT);
    assert_eq!(a.fields(), ["version"]);
    // Version defaults to the newest.
    let a = s.post(path, &key, json!({"plugin": "points-basic"})).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body["version"], "1.0.0");
    assert_eq!(a.body["state"], "enabled");
    // One enabled point-rules install per store.
    problem(&s.post(path, &key, json!({"plugin": "points-basic"})).await, StatusCode::CONFLICT);
    let id = a.body["install_id"].as_str().unwrap();
    let install_path = format!("{path}/{id}");
    let patch = |body: Value| s.patch(&install_path, &key, body);
    // A version that is not published: 409 naming it, as for a new install.
    problem(&patch(json!({"version": "2.0.0"})).await, StatusCode::CONFLICT);
    problem(&patch(json!({"plugin": "other"})).await, StatusCode::CONFLICT);
    problem(&patch(json!({"config": {"referral": -1}})).await, StatusCode::UNPROCESSABLE_ENTITY);
    let a = patch(json!({"enabled": false})).await;
    assert_eq!(a.body["state"], "disabled");
    // Disabled: events are processed but no plugin runs.
    let r = s.event_wait("acme", &key, order("e1", "c1", "2026-03-05T10:00:00Z", 500)).await;
    assert_eq!(r[0]["installs"], json!([]));
    patch(json!({"enabled": true, "config": {"unit_cents": 50}})).await;
    let r = s.event_wait("acme", &key, order("e2", "c1", "2026-03-05T10:00:00Z", 500)).await;
    assert_eq!(r[0]["effects"][0]["points"], 10);
    let list = s.get(path, &key).await.body;
    assert_eq!(list[0]["counters"]["invocations"], 1);
    assert!(list[0]["counters"]["p50_us"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_reposts_and_batches() {
    let s = TestServer::start().await;
    s.publish_points_basic("1.0.0").await;
    let key = s.store("acme").await;
    s.install("acme", &key, "points-basic", "1.0.0", json!({})).await;
    let e = order("e1", "c1", "2026-03-05T10:00:00Z", 12_345);
    let first = s.event_wait("acme", &key, e.clone()).await;
    // The same id again, even with other data: the first outcome, no change.
    let mut changed = e.clone();
    changed["data"]["total_cents"] = json!(99_999);
    let again = s.event_wait("acme", &key, changed).await;
    assert_eq!(again[0]["duplicate"], true);
    assert_eq!(again[0]["effects"], first[0]["effects"]);
    assert_eq!(s.points("acme", &key, "c1").await["balance"], 123);
    let a = s.post("/v1/stores/acme/events", &key, e).await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert_eq!(a.body["duplicates"], 1);

    // A batch of 1000 over 50 customers, without waiting; then all of it
    // is applied, in order per customer.
    let batch: Vec<Value> = (0..1000)
        .map(|i| {
            order(
                &format!("b{i}"),
                &format!("k{}", i % 50),
                "2026-03-05T10:00:00Z",
                100 * (1 + i as i64 % 7),
            )
        })
        .collect();
    let a = s.post("/v1/stores/acme/events", &key, json!({"events": batch})).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    assert_eq!(a.body["accepted"], 1000);
    // Waiting on any one event of the batch waits for the ones before it.
    let r = s.event_wait("acme", &key, order("b999", "k49", "2026-03-05T10:00:00Z", 100)).await;
    assert_eq!(r[0]["status"], "processed");
    for c in 0..50 {
        let p = s.points("acme", &key, &format!("k{c}")).await;
        let expected: i64 = (0..1000).filter(|i| i % 50 == c).map(|i| 1 + i as i64 % 7).sum();
        assert_eq!(p["balance"], expected, "customer k{c}");
        let orders: Vec<String> = p["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_id"].as_str().unwrap().to_string())
            .collect();
        let want: Vec<String> =
            (0..1000).filter(|i| i % 50 == c).map(|i| format!("b{i}")).collect();
        assert_eq!(orders, want, "applied in arrival order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_versions_mid_stream_loses_and_doubles_nothing() {
    let s = TestServer::start().await;
    s.publish_points_basic("1.0.0").await;
    s.publish_points_basic("1.1.0").await;
    let key = s.store("acme").await;
    let id = s.install("acme", &key, "points-basic", "1.0.0", json!({})).await;
    let (api, k) = (s.api.clone(), key.clone());
    let sender = tokio::spawn(async move {
        for b in 0..20 {
            let events: Vec<Value> = (0..100)
                .map(|i| {
                    order(
                        &format!("s{b}-{i}"),
                        &format!("c{}", i % 10),
                        "2026-03-05T10:00:00Z",
                        100,
                    )
                })
                .collect();
            send_events(&api, "acme", &k, events).await;
        }
    });
    for round in 0..10 {
        let v = if round % 2 == 0 { "1.1.0" } else { "1.0.0" };
        let a =
            s.patch(&format!("/v1/stores/acme/installs/{id}"), &key, json!({"version": v})).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    sender.await.unwrap();
    let r = s.event_wait("acme", &key, order("s19-99", "c9", "2026-03-05T10:00:00Z", 100)).await;
    assert_eq!(r[0]["status"], "processed");
    let mut total = 0;
    for c in 0..10 {
        let p = s.points("acme", &key, &format!("c{c}")).await;
        assert_eq!(p["balance"], 200, "each of c{c}'s 200 events earned exactly once");
        total += p["entries"].as_array().unwrap().len();
    }
    assert_eq!(total, 2000);
    let list = s.get("/v1/stores/acme/installs", &key).await.body;
    assert_eq!(list[0]["counters"]["invocations"], 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_everything_and_does_not_recompile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let key;
    {
        let s = TestServer::start_with(|c| c.data_dir = path.clone()).await;
        s.publish_points_basic("1.0.0").await;
        key = s.store("acme").await;
        s.install("acme", &key, "points-basic", "1.0.0", json!({})).await;
        s.event_wait("acme", &key, order("e1", "c1", "2026-03-05T10:00:00Z", 1000)).await;
        assert_eq!(s.running.pipeline.runtime.compilations(), 1, "compiled once, when published");
        s.running.task.abort();
    }
    let s = TestServer::start_with(|c| c.data_dir = path.clone()).await;
    s.event_wait("acme", &key, order("e2", "c1", "2026-03-05T11:00:00Z", 1000)).await;
    assert_eq!(s.points("acme", &key, "c1").await["balance"], 20);
    assert_eq!(
        s.running.pipeline.runtime.compilations(),
        0,
        "the restarted server ran the plugin from its cached artifact"
    );
}

/// Every answer of the edge is problem+json, bodies must say they are
/// JSON, and a store's webhook cannot aim at the server's own network.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_answers_problems_and_refuses_what_it_cannot_serve() {
    let s = TestServer::start().await;
    let key = s.store("edge").await;
    let is_problem = |a: &Answer, status: u16, what: &str| {
        assert_eq!(a.status.as_u16(), status, "{what}: {}", a.body);
        assert_eq!(a.content_type, "application/problem+json", "{what}");
        assert_eq!(a.body["status"], status, "{what}: {}", a.body);
        assert!(a.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{what}: {}", a.body);
    };
    // axum's own rejections and a method the route lacks.
    is_problem(&s.get("/v1/stores/edge/customers/%FF%FE", &key).await, 400, "undecodable path");
    is_problem(
        &s.get("/v1/stores/edge/segments/x/members?limit=abc", &key).await,
        400,
        "bad query",
    );
    let a = s
        .post(
            "/v1/stores/edge/events?wait=maybe",
            &key,
            order("e1", "c1", "2026-03-05T10:00:00Z", 100),
        )
        .await;
    is_problem(&a, 400, "bad flag");
    let a = s.call(Method::DELETE, "/v1/stores/edge/events", &key, None).await;
    is_problem(&a, 405, "method");
    // A body that does not say it is JSON.
    for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
        let mut req = s
            .api
            .http
            .post(format!("{}/v1/stores/edge/events", s.base))
            .bearer_auth(&key)
            .body(order("e2", "c1", "2026-03-05T10:00:00Z", 100).to_string());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 415, "{content_type:?}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }
    assert_eq!(
        s.get("/v1/stores/edge/events/e2", &key).await.status,
        StatusCode::NOT_FOUND,
        "nothing was taken in"
    );
    // Ids clients cannot reach, and time zones that do not exist.
    for id in [".", ".."] {
        let a =
            s.post("/v1/stores", &s.admin, json!({"id": id, "name": "x", "currency": "CNY"})).await;
        assert_eq!(a.fields(), vec!["id"], "{id}: {}", a.body);
    }
    let a = s
        .post(
            "/v1/stores",
            &s.admin,
            json!({"id": "tz", "currency": "CNY", "timezone": "Mars/Olympus"}),
        )
        .await;
    assert_eq!(a.fields(), vec!["timezone"], "{}", a.body);
    let list = s.get("/v1/stores", &s.admin).await.body;
    let created = list[0]["created_at"].as_str().expect("RFC 3339 text");
    assert!(created.ends_with('Z') && created.contains('T'), "{created}");
    // Webhooks go to public addresses only.
    for url in [
        "http://127.0.0.1:9/hook",
        "http://[::1]/hook",
        "http://localhost:8080/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.8/hook",
    ] {
        let a = s
            .call(
                Method::PUT,
                "/v1/stores/edge/delivery",
                &key,
                Some(json!({"kind": "webhook", "url": url, "secret": "a-very-secret-key"})),
            )
            .await;
        assert_eq!(a.fields(), vec!["url"], "{url}: {}", a.body);
        assert!(a.body["detail"].as_str().unwrap().contains("public"), "{url}: {}", a.body);
    }
    let a = s
        .call(Method::PUT, "/v1/stores/edge/delivery", &key, Some(json!({"kind": "webhook", "url": "https://hooks.example.com/x", "secret": "a-very-secret-key"})))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

/// The served document is valid OpenAPI 3.1 by an independent validator
/// (every answer of every test is also checked against it, in `contract`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_passes_a_validator() {
    let s = TestServer::start().await;
    let a = s.get("/openapi.json", "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["openapi"], "3.1.0");
    let file = s.dir.path().join("openapi.json");
    std::fs::write(&file, a.body.to_string()).unwrap();
    let validator = clientele_plugin_build::python_tool(
        "openapi-spec-validator",
        "0.9.0",
        "openapi-spec-validator",
    )
    .unwrap();
    let out = std::process::Command::new(validator).arg(&file).output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Every route the server has is in it, with its methods.
    let paths = a.body["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/v1/stores", &["get", "post"][..]),
        ("/v1/stores/{store}/events", &["post"]),
        ("/v1/stores/{store}/installs/{install}", &["get", "patch"]),
        ("/v1/stores/{store}/delivery", &["get", "put"]),
        ("/v1/plugins", &["get", "post"]),
        ("/v1/stores/{store}/installs/{install}/failures", &["get"]),
        ("/v1/stores/{store}/installs/{install}/failures/retry", &["post"]),
        ("/v1/stores/{store}/installs/{install}/rollback", &["post"]),
        ("/v1/stores/{store}/installs/{install}/history", &["get"]),
        ("/v1/stores/{store}/installs/{install}/shadow", &["get"]),
        ("/v1/stores/{store}/installs/{install}/canary", &["get"]),
        ("/v1/stores/{store}/installs/{install}/logs", &["get"]),
        ("/v1/plugins/{name}/versions/{version}", &["get"]),
        ("/v1/plugins/{name}/versions/{version}/yank", &["post"]),
        ("/v1/stores/{store}", &["get"]),
        ("/v1/stores/{store}/key", &["post"]),
        ("/v1/stores/{store}/overview", &["get"]),
        ("/v1/stores/{store}/customers", &["get"]),
        ("/v1/stores/{store}/customers/{customer}/activity", &["get"]),
        ("/v1/stores/{store}/surveys/{survey}/responses", &["get"]),
        ("/v1/stores/{store}/analytics/retention", &["get"]),
        ("/v1/stores/{store}/complaints", &["get"]),
        ("/v1/stores/{store}/customers/{customer}/complaints", &["get"]),
        ("/v1/stores/{store}/campaigns", &["get"]),
        ("/v1/stores/{store}/customers/{customer}", &["get", "put", "delete"]),
        ("/v1/stores/{store}/customers/{customer}/export", &["get"]),
        ("/v1/stores/{store}/erasures", &["get"]),
        ("/v1/stores/{store}/privacy", &["get", "put"]),
        ("/v1/stores/{store}/pii-reads", &["get"]),
    ] {
        for m in methods {
            assert!(paths[path].get(*m).is_some(), "{m} {path}");
        }
    }
    assert_eq!(paths.len(), 47, "{:?}", paths.keys().collect::<Vec<_>>());
}

/// What the console's pages read, on either database: a store at a glance
/// by the store's days, customers searched and paged, a customer's
/// activity, and a survey's responses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_at_a_glance_customers_found_and_their_activity() {
    use clientele::domain::time::{now_ms, to_rfc3339};
    let s = TestServer::start().await;
    s.publish_points_basic("1.0.0").await;
    s.publish_bundled("survey-scoring", guests::SURVEY_SCORING).await;
    let key = s.store("glance").await;
    s.install("glance", &key, "points-basic", "1.0.0", json!({})).await;
    s.install("glance", &key, "survey-scoring", "1.2.0", json!({})).await;
    s.put_ok(
        "/v1/stores/glance/customers/li",
        &key,
        json!({"name": "Li Wei", "email": "li@example.cn"}),
    )
    .await;
    let a = s
        .post(
            "/v1/stores/glance/surveys",
            &key,
            json!({"id": "n1", "kind": "nps", "questions": []}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let yesterday = to_rfc3339(now_ms() - 86_400_000);
    let answer = |id: &str, who: &str, score: i64| {
        event(
            id,
            "survey.submitted",
            who,
            &yesterday,
            json!({"survey_id": "n1", "answers": {"score": score}}),
        )
    };
    s.events_wait(
        "glance",
        &key,
        vec![
            order("g1", "li", &yesterday, 12_345),
            order("g2", "wang", &yesterday, 5_000),
            answer("g3", "li", 10),
            answer("g4", "wang", 3),
        ],
    )
    .await;

    let o = s.get("/v1/stores/glance/overview?days=7", &key).await.body;
    let days = o["days"].as_array().unwrap();
    assert_eq!(days.len(), 7, "{o}");
    let total = |k: &str| days.iter().map(|d| d[k].as_i64().unwrap()).sum::<i64>();
    assert_eq!((total("events"), total("orders")), (4, 2), "{o}");
    let balances = s.points("glance", &key, "li").await["balance"].as_i64().unwrap()
        + s.points("glance", &key, "wang").await["balance"].as_i64().unwrap();
    assert_eq!(total("points_issued"), balances, "{o}");
    assert_eq!(o["points"]["issued"], balances, "{o}");
    assert_eq!(o["customers"], 2);
    // One promoter and one detractor that day: an NPS of 0.
    assert!(days.iter().any(|d| d["nps"] == 0.0), "{o}");
    let bad = s.get("/v1/stores/glance/overview?days=0", &key).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let found = s.get("/v1/stores/glance/customers?q=WEI", &key).await.body;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["customers"][0]["id"], "li");
    let all = s.get("/v1/stores/glance/customers", &key).await.body;
    assert_eq!(all["total"], 2, "{all}");
    let second = s.get("/v1/stores/glance/customers?offset=1&limit=1", &key).await.body;
    assert_eq!(second["customers"].as_array().unwrap().len(), 1);
    assert_eq!(second["customers"][0]["id"], "wang");
    let wild = s.get("/v1/stores/glance/customers?q=%25", &key).await.body;
    assert_eq!(wild["total"], 0, "a % is matched as itself: {wild}");

    let act = s.get("/v1/stores/glance/customers/li/activity", &key).await.body;
    assert_eq!(act["answers"][0]["survey_id"], "n1", "{act}");
    assert_eq!(act["answers"][0]["score"]["category"], "promoter", "{act}");
    let missing = s.get("/v1/stores/glance/customers/nobody/activity", &key).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let responses = s.get("/v1/stores/glance/surveys/n1/responses", &key).await.body;
    assert_eq!(responses.as_array().unwrap().len(), 2, "{responses}");
    let store = s.get("/v1/stores/glance", &key).await.body;
    assert_eq!(store["currency"], "CNY", "{store}");
}

/// What the document allows, the server takes; what it refuses, it names:
/// a query parameter that cannot be read, an offset past the documented
/// maximum, an integer written `419.0`, an empty `since`, a `null` fit body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_holds_to_the_documents_rules() {
    let s = TestServer::start().await;
    let key = s.store("rules").await;
    for (path, field, status) in [
        ("/v1/stores/rules/customers?limit=abc", "limit", StatusCode::BAD_REQUEST),
        ("/v1/stores/rules/customers?offset=10000001", "offset", StatusCode::UNPROCESSABLE_ENTITY),
        ("/v1/stores/rules/events?after=x", "after", StatusCode::BAD_REQUEST),
    ] {
        let a = s.get(path, &key).await;
        assert_eq!(a.status, status, "{path}: {}", a.body);
        assert_eq!(a.fields(), vec![field], "{path}: {}", a.body);
    }
    let a = s.call(Method::POST, "/v1/stores/rules/models/fit?wait=maybe", &key, None).await;
    assert_eq!(a.fields(), vec!["wait"], "{}", a.body);
    let a = s.get("/v1/stores/rules/events?since=", &key).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    s.put_ok("/v1/stores/rules/customers/c1", &key, json!({"name": "C"})).await;
    let a =
        s.post("/v1/stores/rules/customers/c1/points/redeem", &key, json!({"points": 5.0})).await;
    assert_ne!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    let a = s.raw(Method::POST, "/v1/stores/rules/models/fit", &key, b"null".to_vec()).await;
    assert!(a.status.is_success(), "{}", a.body);
}
