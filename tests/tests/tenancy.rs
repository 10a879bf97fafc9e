//! Nothing about one tenant for anyone else: `/metrics` only for the admin
//! (or on an address of its own), failed sign-ins throttled per address,
//! console sessions that end on the server (sign-out, key rotation) on
//! every node, and contact fields checked at the edge.

use clientele_e2e::*;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_name_the_tenants_so_only_the_admin_sees_them() {
    let s =
        TestServer::start_with(|c| c.metrics_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let key = s.store("acme").await;
    assert_eq!(s.get("/metrics", "").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(s.get("/metrics", &key).await.status, StatusCode::FORBIDDEN);
    let m = s.get("/metrics", &s.admin).await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(m.body.as_str().unwrap().contains("clientele_events_processed_total"));
    // The scraper's own address answers without a token, and nothing else.
    let at = s.running.metrics_addr.expect("metrics address");
    let r = reqwest::get(format!("http://{at}/metrics")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("clientele_events_processed_total"));
    let r = reqwest::get(format!("http://{at}/v1/stores")).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_throttled_per_address() {
    let s = TestServer::start().await;
    for n in 0..10 {
        let a = s.get("/v1/stores", &format!("guess-{n}")).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "guess {n}: {}", a.body);
    }
    let r = s
        .api
        .http
        .get(format!("{}/v1/stores", s.base))
        .bearer_auth("guess-11")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], "https://clientele.dev/problems/throttled", "{body}");
    // The address waits, whatever it sends; sending nothing is no attempt.
    assert_eq!(s.get("/v1/stores", &s.admin).await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(s.get("/healthz", "").await.status, StatusCode::OK);
}

/// A client that keeps cookies by hand and follows no redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn cookie_of(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers().get_all(SET_COOKIE).iter().find_map(|v| {
        let v = v.to_str().ok()?;
        let (pair, _) = v.split_once(';').unwrap_or((v, ""));
        let (k, value) = pair.split_once('=')?;
        (k == name && !value.is_empty()).then(|| value.to_string())
    })
}

/// Signs in on `base` with `token` through the form; the session cookie.
async fn sign_in(base: &str, token: &str) -> String {
    let http = browser();
    let page = http.get(format!("{base}/sign-in")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let nonce = cookie_of(&page, "clientele_sign_in").expect("the form's nonce");
    let html = page.text().await.unwrap();
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    let r = http
        .post(format!("{base}/sign-in"))
        .header(COOKIE, format!("clientele_sign_in={nonce}"))
        .form(&[("token", token), ("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.headers());
    assert!(r.headers()[LOCATION].to_str().unwrap().starts_with('/'));
    cookie_of(&r, "clientele_session").expect("a session cookie")
}

/// What `path` answers on `base` to the session cookie.
async fn with_session(base: &str, session: &str, path: &str) -> StatusCode {
    let r = browser()
        .get(format!("{base}{path}"))
        .header(COOKIE, format!("clientele_session={session}"))
        .send()
        .await
        .unwrap();
    r.status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sessions_end_on_every_node_at_sign_out_and_key_rotation() {
    let shared = tempfile::tempdir().unwrap();
    let url = match pg::database_for(shared.path()).await {
        Some(url) => url,
        None => clientele::db::Db::sqlite_url(shared.path()),
    };
    let u = url.clone();
    let a = TestServer::start_with(move |c| c.database_url = Some(u)).await;
    let admin = a.admin.clone();
    let b = TestServer::start_with(move |c| {
        c.database_url = Some(url);
        c.admin_token = Some(admin);
    })
    .await;
    let key = a.store("tea").await;
    let path = "/v1/stores/tea/customers";

    // A session opened on a works on b too; signing out on a ends it on b.
    let session = sign_in(&a.base, &key).await;
    assert_eq!(with_session(&a.base, &session, path).await, StatusCode::OK);
    assert_eq!(with_session(&b.base, &session, path).await, StatusCode::OK);
    let info: Value = browser()
        .get(format!("{}/console/session", a.base))
        .header(COOKIE, format!("clientele_session={session}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = browser()
        .post(format!("{}/sign-out", a.base))
        .header(COOKIE, format!("clientele_session={session}"))
        .form(&[("csrf", info["csrf"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    for base in [&a.base, &b.base] {
        assert_eq!(with_session(base, &session, path).await, StatusCode::UNAUTHORIZED);
        assert_eq!(with_session(base, &session, "/stores/tea").await, StatusCode::SEE_OTHER);
    }

    // Rotating the store's key ends its sessions everywhere, and the old
    // key stops working; the admin's session stays.
    let session = sign_in(&b.base, &key).await;
    let ops = sign_in(&b.base, &a.admin).await;
    let rotated = a.post("/v1/stores/tea/key", &key, json!({})).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    assert_eq!(rotated.body["sessions_ended"], 1, "{}", rotated.body);
    let new_key = rotated.body["api_key"].as_str().unwrap().to_string();
    for base in [&a.base, &b.base] {
        assert_eq!(with_session(base, &session, path).await, StatusCode::UNAUTHORIZED);
        assert_eq!(with_session(base, &ops, path).await, StatusCode::OK);
    }
    assert_eq!(a.get(path, &key).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.get(path, &new_key).await.status, StatusCode::OK);
    // Node b trusted the old key for a few seconds at most.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while b.get(path, &key).await.status != StatusCode::UNAUTHORIZED {
        assert!(std::time::Instant::now() < deadline, "node b still takes the old key");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_fields_are_checked_at_the_edge() {
    let s = TestServer::start().await;
    let key = s.store("acme").await;
    let put = |body: Value| s.call(Method::PUT, "/v1/stores/acme/customers/c1", &key, Some(body));
    let ok = put(json!({"email": "li@example.cn", "phone": "+86 138 0013 8000"})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    for (field, value) in [
        ("email", "x\"><svg/onload=alert(1)>@example.com"),
        ("email", "not an address"),
        ("phone", "<script>alert(1)</script>"),
        ("phone", "12"),
    ] {
        let a = put(json!({ field: value })).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}={value}: {}", a.body);
        assert_eq!(a.fields(), [field], "{}", a.body);
    }
    // Nothing of the refused requests was stored.
    let c = s.get("/v1/stores/acme/customers/c1", &key).await.body;
    assert_eq!(c["email"], "li@example.cn");
    assert_eq!(c["phone"], "+86 138 0013 8000");
}
