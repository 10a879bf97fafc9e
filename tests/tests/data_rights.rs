//! A customer's data rights through the real server, on either database:
//! the export holds every piece of their personal data; after an erasure
//! and a clean stop none of it is left in any file of the SQLite data
//! directory (or in any table on PostgreSQL), the store's totals and
//! ledger sums are unchanged, a later event for the id is refused until
//! the store creates the customer again; raw events go after the store's
//! retention; and reads of personal data are counted per key.

use base64::Engine;
use clientele_e2e::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ID: &str = "cust-ada-7731";
const EMAIL: &str = "ada.quillfeather.7731@example.org";
const PHONE: &str = "+442079460958";
const NAME: &str = "Ada Quillfeather";
const BIRTHDAY: &str = "1815-12-10";
/// In a custom event's data only, under a field the store declares.
const WECHAT: &str = "adaqf_wx_5531";
/// In a survey answer only.
const COMMENT: &str = "Zephyrine tea saved my winter";
/// In a custom event's free text only.
const NOTE: &str = "leave it with Mrs Brambleworth";

/// Every string that must be gone after the erasure.
const SECRETS: &[&str] = &[ID, EMAIL, PHONE, NAME, "Quillfeather", BIRTHDAY, WECHAT, COMMENT, NOTE];

struct Shop {
    s: TestServer,
    key: String,
}

/// A store with points-basic (state per order) and the greeter guest (a
/// log line, a state key, messages and a timer carrying the customer's
/// personal data); webhooks to a closed port, so messages stay queued.
async fn shop() -> Shop {
    let s = TestServer::start_with(|c| {
        c.pipeline.webhook_allow_hosts = vec!["127.0.0.1".into()];
        c.pipeline.delivery_first_retry = std::time::Duration::from_secs(3600);
    })
    .await;
    let key = s.store("tea").await;
    s.publish_points_basic("1.0.0").await;
    let greeter = repo_file("tests/guests/greeter/plugin.toml");
    assert!(s.publish_file(&greeter, guests::GREETER).await.status.is_success());
    s.install("tea", &key, "points-basic", "1.0.0", json!({"unit_cents": 100})).await;
    s.install_with(
        "tea",
        &key,
        json!({"plugin": "greeter", "version": "1.0.0", "config": {}, "grants": ["pii"]}),
    )
    .await;
    // A segmenter whose model keeps every customer's id.
    let segmenter = repo_file("tests/guests/segmenter/plugin.toml");
    assert!(s.publish_file(&segmenter, guests::SEGMENTER).await.status.is_success());
    s.install("tea", &key, "segmenter", "1.0.0", json!({"fit": "remember"})).await;
    s.call(
        Method::PUT,
        "/v1/stores/tea/delivery",
        &key,
        Some(json!({"kind": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "0123456789abcdef"})),
    )
    .await;
    let p = s
        .call(Method::PUT, "/v1/stores/tea/privacy", &key, Some(json!({"pii_fields": ["wechat"]})))
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let nps = json!({"id": "nps1", "kind": "nps"});
    assert_eq!(s.post("/v1/stores/tea/surveys", &key, nps).await.status, StatusCode::CREATED);
    Shop { s, key }
}

/// Ada with her profile, two orders, a custom event, a survey answer and a
/// complaint; Bob beside her, whom nothing must touch.
async fn customers(shop: &Shop) {
    let (s, key) = (&shop.s, &shop.key);
    s.put_ok(
        &format!("/v1/stores/tea/customers/{ID}"),
        key,
        json!({"email": EMAIL, "phone": PHONE, "name": NAME, "birthday": BIRTHDAY,
               "tags": ["vip"], "attributes": {"wechat": WECHAT}}),
    )
    .await;
    s.put_ok(
        "/v1/stores/tea/customers/bob",
        key,
        json!({"email": "bob@example.net", "name": "Bob"}),
    )
    .await;
    let events = vec![
        order("a1", ID, "2026-11-02T10:00:00Z", 12_000),
        order("a2", ID, "2026-11-20T10:00:00Z", 8_000),
        event(
            "a3",
            "gift.sent",
            ID,
            "2026-11-21T10:00:00Z",
            json!({"wechat": WECHAT, "note": NOTE, "box": 2}),
        ),
        event(
            "a4",
            "survey.submitted",
            ID,
            "2026-11-22T10:00:00Z",
            json!({"survey_id": "nps1", "answers": {"score": 9, "comment": COMMENT}}),
        ),
        event(
            "a5",
            "complaint.filed",
            ID,
            "2026-11-23T10:00:00Z",
            json!({"complaint_id": "k1", "category": "late-delivery", "severity": 2}),
        ),
        order("b1", "bob", "2026-11-05T10:00:00Z", 5_000),
    ];
    for r in s.events_wait("tea", key, events).await {
        assert_eq!(r["status"], "processed", "{r}");
    }
    let fit = s.post("/v1/stores/tea/models/fit?wait=true", key, json!({})).await;
    assert_eq!(fit.status, StatusCode::OK, "{}", fit.body);
}

/// What the store's books say: every customer's balance and net spend
/// (Ada's under whatever id she has), the ledger's sum, and the retention
/// report.
async fn books(s: &TestServer, key: &str) -> Value {
    let page = s.get("/v1/stores/tea/customers?limit=1000", &s.admin).await.body;
    let mut balances: Vec<(i64, i64, u64)> = page["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["points_balance"].as_i64().unwrap(),
                c["stats"]["net_spend_cents"].as_i64().unwrap(),
                c["stats"]["orders"].as_u64().unwrap(),
            )
        })
        .collect();
    balances.sort();
    let retention = s
        .get("/v1/stores/tea/analytics/retention?period=month&from=2026-11-01&to=2026-12-31", key)
        .await;
    assert_eq!(retention.status, StatusCode::OK, "{}", retention.body);
    json!({"customers": page["total"], "balances": balances, "retention": retention.body})
}

/// Every secret (as text, and hex-encoded as PostgreSQL shows bytes) that
/// `haystack` holds.
fn found_in(haystack: &[u8]) -> Vec<&'static str> {
    let lower = haystack.to_ascii_lowercase();
    SECRETS
        .iter()
        .filter(|secret| {
            let s = secret.to_ascii_lowercase();
            let hexed = hex::encode(secret.as_bytes());
            contains(&lower, s.as_bytes()) || contains(&lower, hexed.as_bytes())
        })
        .copied()
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_everything_and_the_erasure_leaves_nothing() {
    let shop = shop().await;
    customers(&shop).await;
    let (s, key) = (&shop.s, &shop.key);

    // The export: every piece, from every place.
    let export = s.get(&format!("/v1/stores/tea/customers/{ID}/export"), key).await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.body);
    let doc = &export.body;
    assert_eq!(doc["customer"]["email"], EMAIL);
    assert_eq!(doc["customer"]["birthday"], BIRTHDAY);
    let text = doc.to_string();
    for secret in SECRETS {
        assert!(text.contains(secret), "the export lacks {secret}");
    }
    // Her five, and the host's own segment change the fit caused.
    let event_count = doc["events"].as_array().unwrap().len();
    assert!(event_count >= 5, "{}", doc["events"]);
    assert!(doc["events"][0]["outcomes"].as_array().unwrap().len() >= 2, "{}", doc["events"][0]);
    assert!(doc["points_ledger"].as_array().unwrap().iter().any(|e| e["points"] == 120));
    assert!(doc["messages"].as_array().unwrap().iter().any(|m| m["vars"]["email"] == EMAIL));
    assert_eq!(doc["survey_responses"][0]["answers"]["comment"], COMMENT);
    assert_eq!(doc["complaints"][0]["id"], "k1");
    let greeted = doc["plugin_state"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == "last-greeted")
        .expect("the greeter's state is exported");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(greeted["value_base64"].as_str().unwrap())
        .unwrap();
    assert!(String::from_utf8(bytes).unwrap().contains(EMAIL));

    let before = books(s, key).await;
    let queued_before = s.get("/v1/stores/tea/messages", key).await.body;
    assert!(queued_before.as_array().unwrap().iter().any(|m| m["state"] == "queued"));

    // The erasure.
    let erased = s.call(Method::DELETE, &format!("/v1/stores/tea/customers/{ID}"), key, None).await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
    let report = erased.body.clone();
    let pseudonym = report["pseudonym"].as_str().unwrap().to_string();
    assert!(pseudonym.starts_with("erased_"), "{report}");
    assert_eq!(report["erased"]["profile"], true);
    assert_eq!(report["erased"]["events"], event_count);
    // Every key the export showed (the greeter's; points-basic keeps none
    // per order).
    let keys = doc["plugin_state"].as_array().unwrap().len() as u64;
    assert!(keys >= 1);
    assert_eq!(report["erased"]["plugin_state_keys"].as_u64().unwrap(), keys, "{report}");
    assert!(report["erased"]["messages_cancelled"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(report["erased"]["timers"], 1);
    assert_eq!(report["kept"]["orders"], 2);
    // The model that kept her id went, and the store is fitted again.
    assert_eq!(report["erased"]["models"], 1);
    s.until("/v1/stores/tea/models", key, |m| m.as_array().is_some_and(|l| l.len() == 1)).await;
    assert!(found_in(report.to_string().as_bytes()).is_empty());

    // Again: the same answer; the list names the pseudonym, not the id.
    let again = s.call(Method::DELETE, &format!("/v1/stores/tea/customers/{ID}"), key, None).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, report);
    let list = s.get("/v1/stores/tea/erasures", key).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(list.body[0]["pseudonym"], pseudonym);
    assert!(found_in(list.body.to_string().as_bytes()).is_empty());

    // Gone from the API; the books are as they were.
    let gone = s.get(&format!("/v1/stores/tea/customers/{ID}"), key).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(books(s, key).await, before);
    let messages = s.get("/v1/stores/tea/messages", key).await.body;
    assert!(found_in(messages.to_string().as_bytes()).is_empty(), "{messages}");
    assert!(messages
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["state"] != "queued" || m["customer_id"] == "bob"));
    let events = s.get("/v1/stores/tea/events?limit=100", key).await.body;
    assert!(found_in(events.to_string().as_bytes()).is_empty(), "{events}");

    // A later event for the id is refused, and nothing of its batch kept.
    let later = s
        .post("/v1/stores/tea/events", key, json!({"events": [order("b2", "bob", "2026-12-01T10:00:00Z", 100), order("a6", ID, "2026-12-01T10:00:00Z", 100)]}))
        .await;
    assert_eq!(later.status, StatusCode::CONFLICT, "{}", later.body);
    assert!(later.body["detail"].as_str().unwrap().contains("events[1]"), "{}", later.body);
    assert_eq!(s.get("/v1/stores/tea/events/b2", key).await.status, StatusCode::NOT_FOUND);

    // Bob is untouched.
    let bob = s.get("/v1/stores/tea/customers/bob", key).await;
    assert_eq!(bob.body["email"], "bob@example.net");

    // Nothing left: in any table (PostgreSQL) or in any file after a
    // clean stop (SQLite).
    if pg::enabled() {
        let mut conn = s.running.pipeline.db.pool.acquire().await.unwrap();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::TEXT FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        for table in tables {
            let rows: Vec<String> =
                sqlx::query_scalar(&format!("SELECT CAST(t AS TEXT) FROM \"{table}\" t"))
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap();
            let found = found_in(rows.join("\n").as_bytes());
            assert!(found.is_empty(), "table {table} still holds {found:?}");
        }
    }
    let Shop { s, key } = shop;
    let dir = s.dir;
    s.running.shutdown().await;
    if !pg::enabled() {
        let mut files = 0;
        for entry in walk(dir.path()) {
            let bytes = std::fs::read(&entry).unwrap();
            let found = found_in(&bytes);
            assert!(found.is_empty(), "{} still holds {found:?}", entry.display());
            files += 1;
        }
        assert!(files >= 1);
    }

    // After a restart the id is still refused; the store re-creates it.
    let s = TestServer::start_with(|c| c.data_dir = dir.path().to_path_buf()).await;
    let refused = s
        .post(
            "/v1/stores/tea/events",
            &key,
            json!({"events": [order("a7", ID, "2026-12-02T10:00:00Z", 100)]}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    s.put_ok(&format!("/v1/stores/tea/customers/{ID}"), &key, json!({"name": "Ada again"})).await;
    let taken =
        s.events_wait("tea", &key, vec![order("a7", ID, "2026-12-02T10:00:00Z", 100)]).await;
    assert_eq!(taken[0]["status"], "processed", "{taken:?}");
    let list = s.get("/v1/stores/tea/erasures", &key).await;
    assert!(list.body[0]["recreated_at"].is_string(), "{}", list.body);
    drop(dir);
}

/// Every file under `dir`, at any depth.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_customer_the_store_never_had_is_404() {
    let s = TestServer::start().await;
    let key = s.store("tea").await;
    let a = s.call(Method::DELETE, "/v1/stores/tea/customers/nobody", &key, None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    assert_eq!(
        s.get("/v1/stores/tea/customers/nobody/export", &key).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(s.get("/v1/stores/tea/erasures", &key).await.body.as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_events_go_after_the_stores_retention_and_their_effects_stay() {
    use clientele::domain::time::{now_ms, DAY_MS};
    let s = TestServer::start().await;
    let key = s.store("tea").await;
    s.publish_points_basic("1.0.0").await;
    s.install("tea", &key, "points-basic", "1.0.0", json!({"unit_cents": 100})).await;
    s.events_wait(
        "tea",
        &key,
        vec![
            order("o1", "c1", "2026-11-02T10:00:00Z", 12_000),
            order("o2", "c1", "2026-11-03T10:00:00Z", 3_000),
        ],
    )
    .await;
    let balance = s.points("tea", &key, "c1").await["balance"].clone();
    assert_eq!(balance, 150);

    // Kept for ever by default: a sweep far ahead deletes nothing.
    let pipeline = &s.running.pipeline;
    assert_eq!(pipeline.sweep_events(now_ms() + 3650 * DAY_MS).await.unwrap(), 0);

    let bad = s
        .call(
            Method::PUT,
            "/v1/stores/tea/privacy",
            &key,
            Some(json!({"events_retention_days": 0})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    let set = s
        .call(
            Method::PUT,
            "/v1/stores/tea/privacy",
            &key,
            Some(json!({"events_retention_days": 30})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body, json!({"events_retention_days": 30, "pii_fields": []}));

    // Not yet 30 days old: kept (the sweep runs, and marks the day).
    assert_eq!(pipeline.sweep_events(now_ms() + 29 * DAY_MS).await.unwrap(), 0);
    // Swept once a day: the next day's sweep finds them past 30 days.
    assert_eq!(pipeline.sweep_events(now_ms() + 31 * DAY_MS).await.unwrap(), 2);
    assert_eq!(s.get("/v1/stores/tea/events/o1", &key).await.status, StatusCode::NOT_FOUND);
    let events = s.get("/v1/stores/tea/events", &key).await.body;
    assert!(events.as_array().unwrap().is_empty(), "{events}");
    // What they caused stays: points, orders, the ledger.
    assert_eq!(s.points("tea", &key, "c1").await["balance"], 150);
    let c = s.get("/v1/stores/tea/customers/c1", &key).await.body;
    assert_eq!(c["stats"]["orders"], 2);
    // A second sweep the same day does nothing more.
    assert_eq!(pipeline.sweep_events(now_ms() + 31 * DAY_MS).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_of_personal_data_are_counted_per_key() {
    let s = TestServer::start().await;
    let key = s.store("tea").await;
    s.put_ok("/v1/stores/tea/customers/ada", &key, json!({"email": EMAIL})).await;
    s.put_ok("/v1/stores/tea/customers/bob", &key, json!({"name": "Bob"})).await;
    s.put_ok("/v1/stores/tea/customers/cid", &key, json!({"tags": ["no-pii"]})).await;
    assert_eq!(s.get("/v1/stores/tea/customers/ada", &key).await.status, StatusCode::OK);
    assert_eq!(s.get("/v1/stores/tea/customers/cid", &key).await.status, StatusCode::OK);
    assert_eq!(s.get("/v1/stores/tea/customers", &key).await.status, StatusCode::OK);
    assert_eq!(s.get("/v1/stores/tea/customers/ada/export", &s.admin).await.status, StatusCode::OK);

    let reads = s.get("/v1/stores/tea/pii-reads", &key).await;
    assert_eq!(reads.status, StatusCode::OK, "{}", reads.body);
    let readers = reads.body.as_array().unwrap();
    assert_eq!(readers.len(), 2, "{}", reads.body);
    // The store's key: ada once, then ada and bob in the page (cid has
    // no personal data).
    use sha2::Digest;
    let fingerprint = &hex::encode(sha2::Sha256::digest(key.as_bytes()))[..8];
    assert_eq!(readers[0]["reader"], format!("store key {fingerprint}"));
    assert_eq!(readers[0]["profiles_30d"], 3);
    assert_eq!(readers[0]["profiles_total"], 3);
    assert_eq!(readers[1]["reader"], "admin token");
    assert_eq!(readers[1]["profiles_total"], 1);
}
