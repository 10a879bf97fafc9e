//! What a plugin's author sees through the API: a failed call's own
//! message in every language (a Rust panic's text, a Python traceback, a
//! JavaScript `Error`'s message and stack), the call's last lines, and the
//! install's log of what its plugin wrote.

use clientele_e2e::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A store running the guest `name` (published with its own manifest) in
/// `mode`; returns its key and install id.
async fn running(
    s: &TestServer,
    store: &str,
    name: &str,
    wasm: &str,
    mode: &str,
) -> (String, String) {
    let m = repo_file(&format!("tests/guests/{name}/plugin.toml"));
    let a = s.publish_file(&m, wasm).await;
    assert!(a.status.is_success(), "{}", a.body);
    let key = s.store(store).await;
    let install = s
        .install(store, &key, name, "1.0.0", json!({"mode": mode}))
        .await;
    (key, install)
}

async fn one_order(s: &TestServer, store: &str, key: &str, id: &str) -> Value {
    let r = s
        .events_wait(
            store,
            key,
            vec![order(id, "c1", "2026-03-05T10:00:00Z", 1000)],
        )
        .await;
    r[0]["installs"][0].clone()
}

fn logged(o: &Value) -> String {
    o["logs"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|l| l["message"].as_str().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_panic_reaches_the_author_with_its_message() {
    let s = TestServer::start().await;
    s.publish_hostile("1.0.0", "[limits]\nmemory_mib = 32\n")
        .await;
    let key = s.store("panics").await;
    s.install("panics", &key, "hostile", "1.0.0", json!({"mode": "trap"}))
        .await;
    let o = one_order(&s, "panics", &key, "e1").await;
    assert_eq!(o["error_code"], "trap", "{o}");
    let error = o["error"].as_str().unwrap();
    assert!(error.contains("panicked at"), "{error}");
    assert!(error.contains("deliberate trap for event e1"), "{error}");
    assert!(logged(&o).contains("deliberate trap for event e1"), "{o}");
    // The event's page says the same.
    let e = s.get("/v1/stores/panics/events/e1", &key).await;
    assert_eq!(e.body["installs"][0]["error"], o["error"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_traceback_reaches_the_author() {
    let s = TestServer::start().await;
    let (key, install) = running(&s, "py", "mistakes-py", guests::MISTAKES_PY, "raise").await;
    let o = one_order(&s, "py", &key, "e1").await;
    assert_eq!(o["status"], "failed", "{o}");
    let error = o["error"].as_str().unwrap();
    assert!(error.contains("KeyError"), "{error}");
    assert!(
        error.contains("rate_for"),
        "the traceback names the function: {error}"
    );
    // An error it returns on purpose is its message, as written.
    s.patch_ok(
        &format!("/v1/stores/py/installs/{install}"),
        &key,
        json!({"config": {"mode": "err"}}),
    )
    .await;
    let o = one_order(&s, "py", &key, "e2").await;
    assert_eq!(o["error_code"], "plugin_error", "{o}");
    assert!(
        o["error"]
            .as_str()
            .unwrap()
            .contains("no campaign covers this order"),
        "{o}"
    );
    // What it logs and prints is kept for the install, by level.
    s.patch_ok(
        &format!("/v1/stores/py/installs/{install}"),
        &key,
        json!({"config": {"mode": "log"}}),
    )
    .await;
    let o = one_order(&s, "py", &key, "e3").await;
    assert_eq!(o["status"], "ok", "{o}");
    let a = s
        .get(&format!("/v1/stores/py/installs/{install}/logs"), &key)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let lines: Vec<(String, String, String)> = a
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["event_id"] == "e3")
        .map(|l| {
            (
                l["stream"].as_str().unwrap().to_string(),
                l["level"].as_str().unwrap().to_string(),
                l["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in [
        ("log", "info", "saw e3"),
        ("stdout", "info", "printed for e3"),
        ("stderr", "warn", "complained about e3"),
    ] {
        assert!(
            lines
                .iter()
                .any(|(s, l, m)| (s.as_str(), l.as_str(), m.as_str()) == want),
            "{want:?} in {lines:?}"
        );
    }
    let warn = s
        .get(
            &format!("/v1/stores/py/installs/{install}/logs?level=warn"),
            &key,
        )
        .await;
    assert!(
        warn.body
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["level"] != "info"),
        "{}",
        warn.body
    );
    let bad = s
        .get(
            &format!("/v1/stores/py/installs/{install}/logs?level=loud"),
            &key,
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_javascript_error_reaches_the_author_with_its_message_and_stack() {
    let s = TestServer::start().await;
    let (key, install) = running(&s, "js", "mistakes-js", guests::MISTAKES_JS, "throw").await;
    let o = one_order(&s, "js", &key, "e1").await;
    assert_eq!(o["error_code"], "plugin_error", "{o}");
    let error = o["error"].as_str().unwrap();
    assert!(error.contains("Error: no rate for tier gold"), "{error}");
    assert!(
        error.contains("rateFor"),
        "the stack names the function: {error}"
    );
    s.patch_ok(
        &format!("/v1/stores/js/installs/{install}"),
        &key,
        json!({"config": {"mode": "string"}}),
    )
    .await;
    let o = one_order(&s, "js", &key, "e2").await;
    assert!(
        o["error"]
            .as_str()
            .unwrap()
            .contains("no campaign covers this order"),
        "{o}"
    );
    s.patch_ok(
        &format!("/v1/stores/js/installs/{install}"),
        &key,
        json!({"config": {"mode": "log"}}),
    )
    .await;
    one_order(&s, "js", &key, "e3").await;
    let a = s
        .get(&format!("/v1/stores/js/installs/{install}/logs"), &key)
        .await;
    assert!(
        a.body
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["message"] == "saw e3"),
        "{}",
        a.body
    );
}
