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
    let install = s.install(store, &key, name, "1.0.0", json!({"mode": mode})).await;
    (key, install)
}

/// Reconfigures the install to misbehave in `mode`.
async fn set_mode(s: &TestServer, store: &str, key: &str, install: &str, mode: &str) {
    let path = format!("/v1/stores/{store}/installs/{install}");
    s.patch_ok(&path, key, json!({"config": {"mode": mode}})).await;
}

async fn one_order(s: &TestServer, store: &str, key: &str, id: &str) -> Value {
    let r = s.event_wait(store, key, order(id, "c1", "2026-03-05T10:00:00Z", 1000)).await;
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
    s.publish_hostile("1.0.0", "[limits]\nmemory_mib = 32\n").await;
    let key = s.store("panics").await;
    s.install("panics", &key, "hostile", "1.0.0", json!({"mode": "trap"})).await;
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
    assert!(error.contains("rate_for"), "the traceback names the function: {error}");
    // An error it returns on purpose is its message, as written.
    set_mode(&s, "py", &key, &install, "err").await;
    let o = one_order(&s, "py", &key, "e2").await;
    assert_eq!(o["error_code"], "plugin_error", "{o}");
    let error = o["error"].as_str().unwrap();
    assert!(error.contains("no campaign covers this order"), "{o}");
    assert!(error.contains("`no-campaign`"), "its own code: {o}");
    // What it logs and prints is kept for the install, by level.
    set_mode(&s, "py", &key, &install, "log").await;
    let o = one_order(&s, "py", &key, "e3").await;
    assert_eq!(o["status"], "ok", "{o}");
    let a = s.get(&format!("/v1/stores/py/installs/{install}/logs"), &key).await;
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
            lines.iter().any(|(s, l, m)| (s.as_str(), l.as_str(), m.as_str()) == want),
            "{want:?} in {lines:?}"
        );
    }
    let warn = s.get(&format!("/v1/stores/py/installs/{install}/logs?level=warn"), &key).await;
    assert!(warn.body.as_array().unwrap().iter().all(|l| l["level"] != "info"), "{}", warn.body);
    let bad = s.get(&format!("/v1/stores/py/installs/{install}/logs?level=loud"), &key).await;
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
    assert!(error.contains("rateFor"), "the stack names the function: {error}");
    set_mode(&s, "js", &key, &install, "string").await;
    let o = one_order(&s, "js", &key, "e2").await;
    assert!(o["error"].as_str().unwrap().contains("no campaign covers this order"), "{o}");
    // A plugin-error object keeps its code, and the store context came in.
    set_mode(&s, "js", &key, &install, "error").await;
    let o = one_order(&s, "js", &key, "e4").await;
    let error = o["error"].as_str().unwrap();
    assert!(error.contains("`no-campaign`"), "{error}");
    assert!(error.contains("nothing runs in Asia/Shanghai"), "{error}");
    set_mode(&s, "js", &key, &install, "log").await;
    one_order(&s, "js", &key, "e3").await;
    let a = s.get(&format!("/v1/stores/js/installs/{install}/logs"), &key).await;
    assert!(a.body.as_array().unwrap().iter().any(|l| l["message"] == "saw e3"), "{}", a.body);
}

/// Runs `cmd` in `dir`; panics with its output if it fails.
fn must(dir: &std::path::Path, cmd: &str, args: &[&str]) {
    let out = std::process::Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} in {}:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The loop a new author follows, in each language: `plugin new` →
/// the folder's own unit test → `plugin run` on its sample event →
/// `plugin publish` → the same event through the server decides the same.
/// Whether this run should do the slow language builds: once per run of
/// the suite, on the SQLite half (they do not touch the database).
fn builds_languages() -> bool {
    if pg::enabled() {
        println!("skipped on the PostgreSQL half: the language builds run once, on SQLite");
        return false;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_run_publish_in_every_language_decides_as_the_server_does() {
    use clientele::devkit::{run, scaffold};
    if !builds_languages() {
        return;
    }
    let s = TestServer::start().await;
    let parent = tempfile::tempdir().unwrap();
    // Rust plugins share one target folder across runs of the suite.
    std::env::set_var(
        "CARGO_TARGET_DIR",
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffolds"),
    );
    for (lang, test) in [
        (scaffold::Lang::Rust, ("cargo", &["test", "--quiet"][..])),
        (scaffold::Lang::Python, ("python3", &["-m", "unittest"][..])),
        (scaffold::Lang::Js, ("node", &["--test"][..])),
    ] {
        let name = format!("new-{lang:?}").to_lowercase();
        let dir =
            scaffold::new_plugin(&name, clientele::domain::World::PointRules, lang, parent.path())
                .unwrap();
        must(&dir, test.0, test.1);
        let args = run::RunArgs {
            config: Some(dir.join("config.json")),
            ..run::RunArgs::new(dir.clone(), vec![dir.join("events")])
        };
        let ran = tokio::task::spawn_blocking(move || run::run(args)).await.unwrap().unwrap();
        assert!(ran.ok, "{:?}", ran.records);
        let local = &ran.records[0];
        assert_eq!(local["status"], "ok", "{local}");
        let points = local["decision"]["ledger"][0]["points"].as_i64().unwrap();
        assert_eq!(points, 129, "{lang:?}: {local}");
        assert!(local["fuel"].as_u64().unwrap() > 0, "{local}");

        let published = clientele::devkit::publish(&dir, &s.base, &s.admin).await.unwrap();
        assert_eq!(published["name"], name.as_str(), "{published}");
        let store = format!("store-{name}");
        let key = s.store(&store).await;
        let config: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        s.install(&store, &key, &name, "0.1.0", config).await;
        let event: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("events/order.json")).unwrap())
                .unwrap();
        let r = s.event_wait(&store, &key, event).await;
        assert_eq!(r[0]["installs"][0]["status"], "ok", "{lang:?}: {}", r[0]);
        assert_eq!(
            s.points(&store, &key, "c-1").await["balance"],
            points,
            "{lang:?}: the server decided as `plugin run` did"
        );
        println!(
            "{lang:?}: local run {} fuel, server {} fuel",
            local["fuel"], r[0]["installs"][0]["fuel"]
        );
        if lang == scaffold::Lang::Rust {
            // The same bytes (a Rust build is reproducible): the same work.
            // A Python build bakes in a string-hash seed of its own, so two
            // builds of one source differ by a little.
            assert_eq!(local["fuel"], r[0]["installs"][0]["fuel"], "same work");
        }
    }
}

/// `plugin run` shows a failing call's own message and exits unsuccessful;
/// a manifest the server would refuse is refused before any build.
#[test]
fn run_shows_failures_and_checks_the_manifest_first() {
    use clientele::devkit::run;
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("hostile.wasm");
    std::fs::copy(guests::HOSTILE, &wasm).unwrap();
    std::fs::write(
        dir.path().join("plugin.toml"),
        manifest(
            "hostile",
            "1.0.0",
            "point-rules",
            &["state", "messaging"],
            "[limits]\nfuel = 1000000\n",
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("config.json"), r#"{"mode": "trap"}"#).unwrap();
    let event = dir.path().join("order.json");
    std::fs::write(&event, order("e1", "c1", "2026-03-05T10:00:00Z", 1000).to_string()).unwrap();
    let args = |config: &str| run::RunArgs {
        config: Some(dir.path().join(config)),
        ..run::RunArgs::new(wasm.clone(), vec![event.clone()])
    };
    let ran = run::run(args("config.json")).unwrap();
    assert!(!ran.ok);
    let r = &ran.records[0];
    assert_eq!(r["error"]["code"], "trap", "{r}");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("deliberate trap for event e1"),
        "{r}"
    );
    std::fs::write(dir.path().join("spin.json"), r#"{"mode": "loop"}"#).unwrap();
    let ran = run::run(args("spin.json")).unwrap();
    assert_eq!(ran.records[0]["error"]["code"], "fuel_exhausted", "{:?}", ran.records);
    assert_eq!(ran.records[0]["fuel"], 1_000_000);

    // A manifest with an unknown key and a bad version: the same messages
    // as a publish, before anything is built.
    std::fs::write(
        dir.path().join("plugin.toml"),
        "name = \"hostile\"\nversion = \"one\"\nworld = \"point-rules\"\ncolour = \"red\"\n",
    )
    .unwrap();
    let err =
        clientele::devkit::check_manifest(&dir.path().join("plugin.toml")).unwrap_err().to_string();
    assert!(err.contains("would be refused when published"), "{err}");
    assert!(err.contains("colour"), "{err}");
}

/// `plugin replay` runs a version over a store's recorded events, read
/// over the API, and names exactly the events it would decide otherwise;
/// the store is not touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_names_exactly_the_events_a_version_would_decide_otherwise() {
    use clientele::devkit::replay::{replay, ReplayArgs};
    let s = TestServer::start().await;
    s.publish_points_basic("1.0.0").await;
    let key = s.store("live").await;
    s.install("live", &key, "points-basic", "1.0.0", json!({})).await;
    s.events_wait(
        "live",
        &key,
        vec![
            order("o1", "c1", "2026-03-05T10:00:00Z", 15_000),
            order("o2", "c2", "2026-03-05T11:00:00Z", 2_000),
            order("o3", "c1", "2026-03-06T10:00:00Z", 3_000),
            event("k1", "checkin", "c3", "2026-03-06T10:00:00Z", json!({})),
        ],
    )
    .await;
    let before = s.points("live", &key, "c1").await;

    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("points_basic.wasm");
    std::fs::copy(guests::POINTS_BASIC, &wasm).unwrap();
    std::fs::write(dir.path().join("plugin.toml"), repo_file("plugins/points-basic/plugin.toml"))
        .unwrap();
    let bonus = dir.path().join("bonus.json");
    std::fs::write(&bonus, r#"{"first_order_bonus": 50}"#).unwrap();
    let args = |config: Option<std::path::PathBuf>| ReplayArgs {
        target: wasm.clone(),
        manifest: None,
        server: s.base.clone(),
        token: key.clone(),
        store: "live".into(),
        install: None,
        since: None,
        limit: 1000,
        config,
        json: true,
    };
    // The live config again: nothing differs.
    let same = replay(args(None)).await.unwrap();
    assert_eq!(same.events, 4);
    assert!(same.differences.is_empty(), "{}", same.report);
    // A first-order bonus: each customer's first order, and nothing else.
    let r = replay(args(Some(bonus))).await.unwrap();
    let differing: Vec<(&str, Vec<&str>)> = r
        .differences
        .iter()
        .map(|(c, list)| (c.as_str(), list.iter().map(|(e, _, _)| e.as_str()).collect()))
        .collect();
    assert_eq!(differing, [("c1", vec!["o1"]), ("c2", vec!["o2"])], "{}", r.report);
    let (_, live, replayed) = &r.differences["c1"][0];
    assert_eq!(live, &json!([{"earn": 150}]), "{}", r.report);
    assert_eq!(replayed, &json!([{"earn": 150}, {"earn": 50}]), "{}", r.report);
    // Read-only.
    assert_eq!(s.points("live", &key, "c1").await, before);
}

/// Every world in every language: `plugin new` makes a folder whose own
/// unit test passes and whose sample runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_template_builds_passes_its_test_and_runs() {
    use clientele::devkit::{run, scaffold};
    use clientele::domain::World;
    if !builds_languages() {
        return;
    }
    let parent = tempfile::tempdir().unwrap();
    std::env::set_var(
        "CARGO_TARGET_DIR",
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffolds"),
    );
    for lang in [scaffold::Lang::Rust, scaffold::Lang::Python, scaffold::Lang::Js] {
        for &world in World::ALL {
            let name = format!("t-{}-{lang:?}", world.name()).to_lowercase();
            let dir = scaffold::new_plugin(&name, world, lang, parent.path()).unwrap();
            match lang {
                scaffold::Lang::Rust => must(&dir, "cargo", &["test", "--quiet"]),
                scaffold::Lang::Python => must(&dir, "python3", &["-m", "unittest"]),
                scaffold::Lang::Js => must(&dir, "node", &["--test"]),
            }
            let fits = matches!(world, World::Segmenter | World::ChurnRescue);
            let args = run::RunArgs {
                config: Some(dir.join("config.json")),
                population: fits.then(|| dir.join("population.json")),
                fit: fits,
                survey: (world == World::SurveyScorer).then(|| dir.join("survey.json")),
                ..run::RunArgs::new(dir.clone(), vec![dir.join("events")])
            };
            let ran = tokio::task::spawn_blocking(move || run::run(args)).await.unwrap().unwrap();
            assert!(ran.ok, "{name}: {:?}", ran.records);
            let last = ran.records.iter().rev().find(|r| r.get("decision").is_some()).unwrap();
            assert!(last["decision"].is_object(), "{name}: {last}");
            if world == World::SurveyScorer {
                assert_eq!(last["decision"]["score"]["group"], "promoter", "{name}: {last}");
                // `plugin run` asks a scorer for its report too.
                let report = ran.records.last().unwrap();
                assert_eq!(report["call"], "aggregate", "{name}: {report}");
                assert_eq!(report["responses"], 1, "{name}: {report}");
                assert!(report["report"].is_object(), "{name}: {report}");
            }
        }
    }
}
