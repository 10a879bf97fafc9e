//! rfm-segments (Rust) and survey-scoring (Python) through the real server,
//! with hand-computed expected values.

use clientele_e2e::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn segment_counts(body: &Value) -> Vec<(String, i64)> {
    body.as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_string(), s["members"].as_i64().unwrap()))
        .collect()
}

fn orders(customer: &str, days: &[&str], cents: i64) -> Vec<Value> {
    days.iter()
        .enumerate()
        .map(|(i, d)| {
            order(&format!("{customer}-o{i}"), customer, &format!("{d}T10:00:00Z"), cents)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfm_fit_classify_and_reclassify_after_an_event() {
    let s = TestServer::start().await;
    s.publish_bundled("rfm-segments", guests::RFM_SEGMENTS).await;
    let key = s.store("acme").await;
    let install = s.install("acme", &key, "rfm-segments", "1.0.0", json!({})).await;

    // Five customers with 5..1 orders; c6 only checks in.
    let mut events = Vec::new();
    events.extend(orders(
        "c1",
        &["2026-05-27", "2026-05-28", "2026-05-29", "2026-05-30", "2026-05-31"],
        10_000,
    ));
    events.extend(orders("c2", &["2026-05-17", "2026-05-18", "2026-05-19", "2026-05-20"], 5_000));
    events.extend(orders("c3", &["2026-03-01", "2026-03-15", "2026-04-01"], 3_000));
    events.extend(orders("c4", &["2025-12-01", "2026-01-01"], 1_000));
    events.extend(orders("c5", &["2025-06-01"], 500));
    events.push(event("c6-in", "checkin", "c6", "2026-05-01T09:00:00Z", json!({})));
    s.events_wait("acme", &key, events).await;

    let fit = s
        .post(
            "/v1/stores/acme/models/fit?wait=true",
            &key,
            json!({"as_of": "2026-06-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(fit.status, StatusCode::OK, "{}", fit.body);
    assert_eq!(fit.body["fits"][0]["status"], "ok", "{}", fit.body);
    assert_eq!(fit.body["fits"][0]["updated"], 6);

    // R days: 0, 11, 60, 150, 364 → q = [0, 11, 60, 150]; F q = [1, 2, 3, 4];
    // M q = [500, 2000, 9000, 20000] (n = 5: q_k = sorted[k − 1]).
    let models = s.get("/v1/stores/acme/models", &key).await;
    let cut = &models.body[0]["summary"]["cutoffs"];
    assert_eq!(cut["recency_days"], json!([0, 11, 60, 150]), "{}", models.body);
    assert_eq!(cut["frequency"], json!([1, 2, 3, 4]));
    assert_eq!(cut["monetary_cents"], json!([500, 2000, 9000, 20000]));
    assert_eq!(models.body[0]["install_id"], install.as_str());
    assert_eq!(models.body[0]["as_of"], "2026-06-01T00:00:00.000Z");

    // c1 R5 F5 champions · c2 R4 F4 loyal · c3 R3 F3 need_attention ·
    // c4 R2 F2 and c5 R1 F1 hibernating. Types: c1, c2 loyal; c3, c4
    // repeat; c5 lapsed (364 > 180 days); c6 potential.
    let segs = s
        .until("/v1/stores/acme/segments", &key, |b| b.as_array().is_some_and(|l| l.len() == 8))
        .await;
    assert_eq!(
        segment_counts(&segs),
        vec![
            ("rfm:champions".into(), 1),
            ("rfm:hibernating".into(), 2),
            ("rfm:loyal".into(), 1),
            ("rfm:need_attention".into(), 1),
            ("type:lapsed".into(), 1),
            ("type:loyal".into(), 2),
            ("type:potential".into(), 1),
            ("type:repeat".into(), 2),
        ]
    );
    let members = s.get("/v1/stores/acme/segments/rfm:hibernating/members", &key).await;
    assert_eq!(members.body, json!(["c4", "c5"]));
    let page =
        s.get("/v1/stores/acme/segments/rfm:hibernating/members?after=c4&limit=1", &key).await;
    assert_eq!(page.body, json!(["c5"]));
    let c3 = s.get("/v1/stores/acme/customers/c3", &key).await;
    assert_eq!(c3.body["segments"], json!(["rfm:need_attention", "type:repeat"]));

    // c5 orders again on 2026-06-02: as of then R = 0 → 5, F = 2 → 2:
    // potential_loyalist; two orders, 0 days ago: repeat.
    s.event_wait("acme", &key, order("c5-again", "c5", "2026-06-02T08:00:00Z", 700)).await;
    let c5 = s
        .until("/v1/stores/acme/customers/c5", &key, |b| {
            b["segments"] == json!(["rfm:potential_loyalist", "type:repeat"])
        })
        .await;
    assert_eq!(c5["stats"]["orders"], 2);
    // The segment changes became events of c5 that were processed too.
    let metrics = s.raw(reqwest::Method::GET, "/metrics", &s.admin, Vec::new()).await;
    let processed: u64 = metrics
        .body
        .as_str()
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("clientele_events_processed_total{"))
        .and_then(|l| l.split("} ").nth(1))
        .unwrap()
        .parse()
        .unwrap();
    assert!(processed > 17, "segment events were processed: {processed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survey_scoring_in_python_nps_and_kano() {
    let s = TestServer::start().await;
    s.publish_bundled("survey-scoring", guests::SURVEY_SCORING).await;
    let key = s.store("acme").await;
    let a = s
        .post(
            "/v1/stores/acme/surveys",
            &key,
            json!({"id": "nps-q2", "kind": "nps", "questions": []}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let again =
        s.post("/v1/stores/acme/surveys", &key, json!({"id": "nps-q2", "kind": "nps"})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let bad = s
        .post("/v1/stores/acme/surveys", &key, json!({"id": "k", "kind": "kano", "questions": []}))
        .await;
    assert_eq!(bad.fields(), vec!["questions"]);

    // No scorer yet: a report says what to do.
    let none = s.get("/v1/stores/acme/surveys/nps-q2/report", &key).await;
    assert_eq!(none.status, StatusCode::CONFLICT, "{}", none.body);
    s.install("acme", &key, "survey-scoring", "1.2.0", json!({})).await;

    let submit = |id: &str, survey: &str, answers: Value| {
        event(
            id,
            "survey.submitted",
            "c1",
            "2026-03-05T10:00:00Z",
            json!({"survey_id": survey, "answers": answers}),
        )
    };
    // Out of range, wrong type, unknown survey: 422 naming the field.
    let a = s
        .post("/v1/stores/acme/events", &key, submit("bad1", "nps-q2", json!({"score": 11})))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.fields(), vec!["data.answers.score"]);
    let a = s
        .post(
            "/v1/stores/acme/events",
            &key,
            json!({"events": [submit("ok0", "nps-q2", json!({"score": 5})),
                                submit("bad2", "nope", json!({"score": 5}))]}),
        )
        .await;
    assert_eq!(a.fields(), vec!["events[1].data.survey_id"]);

    // 10, 9 promoters; 8, 7 passives; 6, 0, 3 detractors: 100·(2 − 3)/7 = −14.3.
    let events: Vec<Value> = [10, 9, 8, 7, 6, 0, 3]
        .iter()
        .enumerate()
        .map(|(i, v)| submit(&format!("n{i}"), "nps-q2", json!({"score": v})))
        .collect();
    let results = s.events_wait("acme", &key, events).await;
    assert_eq!(results[0]["installs"][0]["status"], "ok", "{}", results[0]);
    assert_eq!(results[0]["effects"][0]["score"]["category"], "promoter");
    let r = s.get("/v1/stores/acme/surveys/nps-q2/report", &key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["responses"], 7);
    assert_eq!(r.body["promoters"], 2);
    assert_eq!(r.body["passives"], 2);
    assert_eq!(r.body["detractors"], 3);
    assert_eq!(r.body["nps"], -14.3);

    // Kano: wrap A, O, I → tie, O wins; better 2/3, worse −1/3.
    s.post(
        "/v1/stores/acme/surveys",
        &key,
        json!({"id": "kano-1", "kind": "kano", "questions": ["wrap", "fast"]}),
    )
    .await;
    let f = |fun: &str, dys: &str| json!({"functional": fun, "dysfunctional": dys});
    s.events_wait("acme", &key, vec![
        submit("k1", "kano-1", json!({"features": {"wrap": f("like", "neutral"), "fast": f("like", "dislike")}})),
        submit("k2", "kano-1", json!({"features": {"wrap": f("like", "dislike"), "fast": f("neutral", "dislike")}})),
        submit("k3", "kano-1", json!({"features": {"wrap": f("neutral", "neutral")}})),
    ]).await;
    let bad = s
        .post(
            "/v1/stores/acme/events",
            &key,
            submit("k4", "kano-1", json!({"features": {"gift": f("like", "like")}})),
        )
        .await;
    assert_eq!(bad.fields(), vec!["data.answers.features.gift"]);
    let r = s.get("/v1/stores/acme/surveys/kano-1/report", &key).await;
    let wrap = &r.body["features"]["wrap"];
    assert_eq!(wrap["counts"], json!({"A": 1, "O": 1, "M": 0, "I": 1, "R": 0, "Q": 0}));
    assert_eq!(wrap["category"], "O");
    assert_eq!(wrap["better"], 0.667);
    assert_eq!(wrap["worse"], -0.333);
    assert_eq!(r.body["features"]["fast"]["category"], "M");
    assert_eq!(r.body["responses"], 3);

    // ACSI with unequal weights, read by the scorer from the survey's own
    // settings: means 9, 20/3, 16/3; 100 × (3·8 + 17/3 + 2·13/3) / (9·6)
    // = 70.98… → 71.0.
    let weights = json!({"satisfaction": 3, "expectations": 1, "ideal": 2});
    let created = s
        .post(
            "/v1/stores/acme/surveys",
            &key,
            json!({"id": "acsi-1", "kind": "acsi", "weights": weights}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let bad = s
        .post(
            "/v1/stores/acme/surveys",
            &key,
            json!({"id": "acsi-2", "kind": "acsi", "weights": {"taste": 2}}),
        )
        .await;
    assert_eq!(bad.fields(), vec!["weights.taste"], "{}", bad.body);
    let acsi = |sat: i64, exp: i64, ideal: i64| json!({"satisfaction": sat, "expectations": exp, "ideal": ideal});
    s.events_wait(
        "acme",
        &key,
        vec![
            submit("a1", "acsi-1", acsi(8, 6, 5)),
            submit("a2", "acsi-1", acsi(9, 7, 5)),
            submit("a3", "acsi-1", acsi(10, 7, 6)),
        ],
    )
    .await;
    let bad = s.post("/v1/stores/acme/events", &key, submit("a4", "acsi-1", acsi(11, 7, 6))).await;
    assert_eq!(bad.fields(), vec!["data.answers.satisfaction"]);
    let r = s.get("/v1/stores/acme/surveys/acsi-1/report", &key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["responses"], 3);
    assert_eq!(r.body["items"], json!({"satisfaction": 9.0, "expectations": 6.67, "ideal": 5.33}));
    assert_eq!(r.body["acsi"], 71.0, "{}", r.body);
}

/// The plugins' own unit tests, in their own languages.
#[test]
fn python_and_javascript_unit_tests_pass() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let py = std::process::Command::new("python3")
        .args(["-m", "unittest", "-q"])
        .current_dir(root.join("plugins/survey-scoring"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3");
    assert!(py.status.success(), "{}", String::from_utf8_lossy(&py.stderr));
    let js = std::process::Command::new("node")
        .args(["--test"])
        .current_dir(root.join("plugins/points-campaign"))
        .output()
        .expect("node");
    assert!(js.status.success(), "{}", String::from_utf8_lossy(&js.stdout));
}

/// A kind of a third-party scorer's own beside the bundled scorer's: each
/// kind has one scorer in a store, answers are checked against the schema
/// its scorer declares, and responses and reports go to that scorer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survey_kinds_belong_to_the_scorer_that_declares_them() {
    let s = TestServer::start().await;
    s.publish_bundled("survey-scoring", guests::SURVEY_SCORING).await;
    let manifest = repo_file("tests/guests/buy-again/plugin.toml");
    assert!(s.publish_file(&manifest, guests::BUY_AGAIN).await.status.is_success());
    let key = s.store("kinds").await;

    // No scorer declares the kind yet: the store cannot have the survey.
    let again = json!({"id": "again-1", "kind": "buy-again", "settings": {"target": 0.5}});
    let a = s.post("/v1/stores/kinds/surveys", &key, again.clone()).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert_eq!(a.fields(), vec!["kind"]);

    let bundled = s.install("kinds", &key, "survey-scoring", "1.2.0", json!({})).await;
    s.install("kinds", &key, "buy-again", "1.0.0", json!({})).await;
    // A third scorer claiming `nps` is refused, naming the install that has it.
    let rival = manifest
        .replace("name = \"buy-again\"", "name = \"nps-rival\"")
        .replace("[survey_kinds.buy-again]", "[survey_kinds.nps]");
    assert!(s.publish_file(&rival, guests::BUY_AGAIN).await.status.is_success());
    let a = s.post("/v1/stores/kinds/installs", &key, json!({"plugin": "nps-rival"})).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    let why = a.body["detail"].as_str().unwrap_or_default();
    assert!(why.contains(&bundled) && why.contains("nps"), "{why}");
    // Disabled, it may stay installed.
    let body = json!({"plugin": "nps-rival", "enabled": false});
    assert_eq!(s.post("/v1/stores/kinds/installs", &key, body).await.status, StatusCode::CREATED);

    // The survey's settings are checked against the scorer's schema.
    let mut bad = again.clone();
    bad["settings"]["target"] = json!(2);
    let a = s.post("/v1/stores/kinds/surveys", &key, bad).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert_eq!(a.fields(), vec!["settings.target"]);
    let a = s.post("/v1/stores/kinds/surveys", &key, again).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let nps = json!({"id": "nps-1", "kind": "nps", "settings": {"x": 1}});
    let a = s.post("/v1/stores/kinds/surveys", &key, nps).await;
    assert_eq!(a.fields(), vec!["settings"], "{}", a.body);
    let a = s.post("/v1/stores/kinds/surveys", &key, json!({"id": "nps-1", "kind": "nps"})).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);

    let reply = |id: &str, who: &str, survey: &str, answers: Value| {
        event(
            id,
            "survey.submitted",
            who,
            "2026-06-01T10:00:00Z",
            json!({"survey_id": survey, "answers": answers}),
        )
    };
    // An answer outside the declared schema is refused at its field.
    let a = s
        .post(
            "/v1/stores/kinds/events",
            &key,
            json!({"events": [reply("x", "c1", "again-1", json!({"answer": "perhaps"}))]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert_eq!(a.fields(), vec!["events[0].data.answers.answer"]);
    s.events_wait(
        "kinds",
        &key,
        vec![
            reply("r1", "c1", "again-1", json!({"answer": "yes"})),
            reply("r2", "c2", "again-1", json!({"answer": "yes"})),
            reply("r3", "c3", "again-1", json!({"answer": "no"})),
            reply("r4", "c1", "nps-1", json!({"score": 9})),
        ],
    )
    .await;
    let r = s.get("/v1/stores/kinds/surveys/again-1/report", &key).await.body;
    assert_eq!(r["plugin"], "buy-again@1.0.0", "{r}");
    assert_eq!((r["responses"].clone(), r["yes"].clone()), (json!(3), json!(2)), "{r}");
    assert_eq!((r["share"].clone(), r["met"].clone()), (json!(0.667), json!(true)), "{r}");
    let r = s.get("/v1/stores/kinds/surveys/nps-1/report", &key).await.body;
    assert_eq!(
        (r["plugin"].clone(), r["nps"].clone()),
        (json!("survey-scoring@1.2.0"), json!(100.0))
    );
    let scored = s.get("/v1/stores/kinds/surveys/again-1/responses", &key).await.body;
    assert!(
        scored.as_array().unwrap().iter().all(|x| x["score"]["answer"].is_string()),
        "{scored}"
    );
}
