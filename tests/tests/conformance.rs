//! The server and its document hold each other to the same rules:
//! schemathesis (from PyPI, pinned) generates requests from the served
//! `/openapi.json` — the documented examples, the edges of every rule, and
//! fuzzed values — and checks that each valid one is taken, each invalid
//! one refused with a 4xx, and every answer matches its documented schema.

use clientele_e2e::TestServer;

const SCHEMATHESIS: &str = "4.32.5";

/// Operations left out, each for a rule no schema can state:
/// - `putDelivery`: a webhook's host must resolve to a public address at
///   the time of the call (DNS, not syntax);
/// - `publishPlugin`: the upload must be a wasm component whose exports
///   match its manifest (the bytes, not their shape);
/// - `rotateStoreKey`: it would change the key the run itself uses only
///   for the store's own callers, but it is left out so the run's store
///   stays as set up;
/// - `metrics`: Prometheus text, not JSON.
const LEFT_OUT: &[&str] = &["putDelivery", "publishPlugin", "rotateStoreKey", "metrics"];

/// Every `{store}` is the run's store, so that requests get past the
/// store lookup to the rules under test. An install's `config` is checked
/// against the JSON Schema of the plugin it names, and an ACSI survey's
/// `weights` must name its items (a 422 naming the field), and a retention
/// report's `to` may not come before its `from` nor span more than 400
/// periods: rules that depend on other data than the request's shape, or
/// tie two parameters together, so for those operations a 422 is an
/// expected answer to a well-formed request. Likewise an event for a
/// customer the run erased earlier is refused with 409.
const CONFIG: &str = r#"
[parameters]
"path.store" = "s1"

[[operations]]
include-operation-id = ["createInstall", "updateInstall", "createSurvey", "getRetention", "postEvents"]
[operations.checks.positive_data_acceptance]
expected-statuses = ["2xx", "404", "409", "422"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_takes_what_its_document_allows_and_refuses_the_rest() {
    let s = TestServer::start().await;
    s.store("s1").await;
    s.publish_points_basic("1.0.0").await;
    let tool = clientele_plugin_build::python_tool("schemathesis", SCHEMATHESIS, "schemathesis")
        .expect("schemathesis installs from PyPI");
    let config = s.dir.path().join("schemathesis.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let mut cmd = std::process::Command::new(tool);
    cmd.arg("--config-file")
        .arg(&config)
        .arg("--no-color")
        .arg("run")
        .arg(format!("{}/openapi.json", s.base))
        .args(["--header", &format!("Authorization: Bearer {}", s.admin)])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", &env_or("CLIENTELE_CONFORMANCE_EXAMPLES", "30")])
        .args(["--seed", &env_or("CLIENTELE_CONFORMANCE_SEED", "20261206"), "--workers", "1"])
        .args(["--generation-database", "none", "--suppress-health-check", "all"])
        // Auth is the admin token for every call; a run without it, or with
        // a wrong one, answers 401 by design and is covered in `api.rs`.
        .args(["--exclude-checks", "ignored_auth,missing_required_header"])
        .current_dir(s.dir.path());
    for op in LEFT_OUT {
        cmd.args(["--exclude-operation-id", op]);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output()).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found requests the server and its document disagree on:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("passed"), "{stdout}");
}

/// A run's size and seed: fixed, so that a failure reproduces; set either
/// variable to search further.
fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}
