//! Every rule of points-basic, through the real server and the real
//! component, with hand-computed expected values.

use clientele_e2e::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn setup(config: Value) -> (TestServer, String) {
    let s = TestServer::start().await;
    s.publish_points_basic("1.0.0").await;
    let key = s.store("acme").await;
    // The merchant grants `pii`: the birthday multiplier reads birthdays.
    let body = json!({"plugin": "points-basic", "version": "1.0.0", "config": config,
        "grants": ["pii"]});
    s.install_with("acme", &key, body).await;
    (s, key)
}

fn sum_entries(p: &Value) -> i64 {
    p["entries"].as_array().unwrap().iter().map(|e| e["points"].as_i64().unwrap()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversion_tiers_bonus_birthday_and_refund() {
    let (s, key) = setup(json!({
        "unit_cents": 100,
        "earn": [{"from_units": 0, "rate": 1}, {"from_units": 100, "rate": 2}],
        "tiers": [{"name": "silver", "min_spend_cents": 20000, "multiplier": 1.5}],
        "first_order_bonus": 50,
        "birthday_month_multiplier": 2.0
    }))
    .await;
    let a = s
        .call(
            reqwest::Method::PUT,
            "/v1/stores/acme/customers/c1",
            &key,
            Some(json!({"name": "Li", "birthday": "1990-07-04"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);

    // 150 units: 100 × 1 + 50 × 2 = 200, not July, plus the first-order bonus.
    s.event_wait("acme", &key, order("e1", "c1", "2026-03-05T10:00:00Z", 15_000)).await;
    let p = s.points("acme", &key, "c1").await;
    assert_eq!(p["balance"], 250);
    assert_eq!(p["tier"], Value::Null);

    // July (birthday month): 100 units × 2 = 200; net spend 250.00 → silver
    // (after the order, so this one still earns at 1×).
    s.event_wait("acme", &key, order("e2", "c1", "2026-07-10T10:00:00Z", 10_000)).await;
    let p = s.points("acme", &key, "c1").await;
    assert_eq!(p["balance"], 450);
    assert_eq!(p["tier"], "silver");

    // 33 units × 1.5 (silver) × 2 (July) = 99.
    s.event_wait("acme", &key, order("e3", "c1", "2026-07-11T10:00:00Z", 3_399)).await;
    assert_eq!(s.points("acme", &key, "c1").await["balance"], 549);

    // Full refund of e2's order: it earned 200 (no bonus), all taken back;
    // net spend 183.99 drops below silver.
    let r =
        s.event_wait("acme", &key, refund("e4", "c1", "2026-07-12T10:00:00Z", "e2", 10_000)).await;
    assert_eq!(r[0]["effects"][0]["op"], "deduct");
    assert_eq!(r[0]["effects"][0]["points"], 200);
    assert_eq!(r[0]["effects"][1], json!({"op": "set_tier", "tier": null}));
    let p = s.points("acme", &key, "c1").await;
    assert_eq!(p["balance"], 349);
    assert_eq!(p["tier"], Value::Null);
    assert_eq!(sum_entries(&p), 349);
    let kinds: Vec<&str> =
        p["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["earn", "earn", "earn", "earn", "deduct"]);

    let c = s.get("/v1/stores/acme/customers/c1", &key).await.body;
    assert_eq!(c["stats"]["orders"], 3);
    assert_eq!(c["stats"]["net_spend_cents"], 18_399);
    assert_eq!(c["stats"]["repeat_days"], 2);
    assert_eq!(c["points_balance"], 349);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_refund_floors_and_never_goes_below_zero() {
    let (s, key) = setup(json!({"first_order_bonus": 7})).await;
    // 99.99 → 99 points (+7 bonus).
    s.event_wait("acme", &key, order("e1", "c1", "2026-03-05T10:00:00Z", 9_999)).await;
    // floor(99 × 3333 / 9999) = 33
    let r =
        s.event_wait("acme", &key, refund("e2", "c1", "2026-03-06T10:00:00Z", "e1", 3_333)).await;
    assert_eq!(r[0]["effects"][0]["points"], 33);
    assert_eq!(s.points("acme", &key, "c1").await["balance"], 73);
    // Spend most of it, then refund the rest: the deduction stops at zero.
    let a = redeem(&s, &key, json!({"points": 70, "reason": "coupon"})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["balance"], 3);
    let r =
        s.event_wait("acme", &key, refund("e3", "c1", "2026-03-07T10:00:00Z", "e1", 6_666)).await;
    assert_eq!(r[0]["effects"][0]["requested"], 66);
    assert_eq!(r[0]["effects"][0]["points"], 3);
    let p = s.points("acme", &key, "c1").await;
    assert_eq!(p["balance"], 0);
    assert_eq!(sum_entries(&p), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_checkins_and_referrals() {
    let (s, key) = setup(json!({
        "review": {"base": 10, "photo_bonus": 5},
        "checkin": {"points": 3, "daily_cap": 2},
        "referral": 200
    }))
    .await;
    let review = |id: &str, order: &str, photo: bool| {
        event(
            id,
            "review.submitted",
            "c1",
            "2026-03-05T10:00:00Z",
            json!({"order_id": order, "rating": 5, "has_photo": photo, "text_length": 80}),
        )
    };
    let checkin = |id: &str, at: &str| event(id, "checkin", "c1", at, json!({}));
    s.events_wait(
        "acme",
        &key,
        vec![
            review("r1", "o1", true),  // 15
            review("r2", "o1", false), // same order: nothing
            review("r3", "o2", false), // 10
            // UTC days: 2026-03-05 has three check-ins (one written in +08:00),
            // only two rewarded; 2026-03-06 starts a new day.
            checkin("k1", "2026-03-05T00:00:00Z"),
            checkin("k2", "2026-03-05T23:30:00+08:00"),
            checkin("k3", "2026-03-05T23:59:59Z"),
            checkin("k4", "2026-03-06T00:00:00Z"),
            event(
                "f1",
                "referral.converted",
                "c1",
                "2026-03-06T10:00:00Z",
                json!({"referred_customer_id": "c2"}),
            ),
        ],
    )
    .await;
    let p = s.points("acme", &key, "c1").await;
    let reasons: Vec<(String, i64)> = p["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["reason"].as_str().unwrap().to_string(), e["points"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("review".to_string(), 15),
            ("review".to_string(), 10),
            ("checkin".to_string(), 3),
            ("checkin".to_string(), 3),
            ("checkin".to_string(), 3),
            ("referral".to_string(), 200),
        ]
    );
    assert_eq!(p["balance"], 234);
}

fn days_ago(days: i64) -> String {
    let t = chrono_like_now_ms() - days * 86_400_000;
    clientele::domain::time::to_rfc3339(t)
}

fn chrono_like_now_ms() -> i64 {
    clientele::domain::time::now_ms()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_and_oldest_first_redemption() {
    let (s, key) = setup(json!({"expiry_days": 365})).await;
    s.events_wait(
        "acme",
        &key,
        vec![
            order("a", "c1", &days_ago(400), 1_000), // 10, already past its expiry
            order("c", "c1", &days_ago(300), 500),   // 5, expires in 65 days
            order("b", "c1", &days_ago(10), 2_000),  // 20, expires in 355 days
        ],
    )
    .await;
    let p = s.points("acme", &key, "c1").await;
    assert_eq!(p["balance"], 25);
    // The first lot expired before the next event was applied.
    let kinds: Vec<&str> =
        p["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["earn", "expire", "earn", "earn"]);
    assert_eq!(p["entries"][1]["points"], -10);
    assert!(p["entries"][0]["expires_at"].is_string());

    // Too much: 409, nothing changes.
    let a = redeem(&s, &key, json!({"points": 26})).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(a.content_type, "application/problem+json");

    // 7 points: the 5 of the older lot first, then 2 of the newer.
    let a = redeem(&s, &key, json!({"points": 7, "reason": "coupon"})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["balance"], 18);

    // 70 days on, the older lot would expire, but it was spent: nothing expires.
    let day = 86_400_000;
    let p0 = &s.running.pipeline;
    p0.expire_due(chrono_like_now_ms() + 70 * day).await.unwrap();
    assert_eq!(s.points("acme", &key, "c1").await["balance"], 18);
    // A year on, the newer lot's remaining 18 expire.
    p0.expire_due(chrono_like_now_ms() + 400 * day).await.unwrap();
    let p = s.points("acme", &key, "c1").await;
    assert_eq!(p["balance"], 0);
    assert_eq!(sum_entries(&p), 0);
    let kinds: Vec<&str> =
        p["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["earn", "expire", "earn", "earn", "redeem", "expire"]);
    assert_eq!(p["entries"][5]["points"], -18);
}

/// Redeems points of `c1` in `acme`.
async fn redeem(s: &TestServer, key: &str, body: Value) -> Answer {
    s.post("/v1/stores/acme/customers/c1/points/redeem", key, body).await
}

/// A setting the plugin can apply only with a grant is refused without
/// it, at its field, instead of being accepted and silently ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setting_that_needs_a_grant_is_refused_without_it() {
    let s = TestServer::start().await;
    s.publish_points_basic("1.0.0").await;
    let key = s.store("acme").await;
    let body = |config: Value, grants: Value| json!({"plugin": "points-basic", "version": "1.0.0", "config": config, "grants": grants});
    let a = s
        .post(
            "/v1/stores/acme/installs",
            &key,
            body(json!({"birthday_month_multiplier": 2.0}), json!([])),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert_eq!(a.fields(), ["config.birthday_month_multiplier"], "{}", a.body);
    assert!(a.body["errors"][0]["message"].as_str().unwrap().contains("`pii` grant"), "{}", a.body);
    // The default does nothing either way; with the grant it applies.
    let a = s
        .post(
            "/v1/stores/acme/installs",
            &key,
            body(json!({"birthday_month_multiplier": 1.0}), json!([])),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let id = a.body["install_id"].as_str().unwrap().to_string();
    let path = format!("/v1/stores/acme/installs/{id}");
    let a = s.patch(&path, &key, json!({"config": {"birthday_month_multiplier": 2.0}})).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    s.patch_ok(
        &path,
        &key,
        json!({"config": {"birthday_month_multiplier": 2.0}, "grants": ["pii"]}),
    )
    .await;
    // Taking the grant back while the setting stays is refused too.
    let a = s.patch(&path, &key, json!({"grants": []})).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert_eq!(a.fields(), ["config.birthday_month_multiplier"], "{}", a.body);
    let install = s.get(&path, &key).await.body;
    assert_eq!(install["grants"], json!(["pii"]), "nothing of the refused change was kept");
}

/// A loyal customer's memory does not grow with their orders: points-basic
/// (contract 0.6.0) reads what a refund takes back from the install's own
/// ledger entries for the order, so ten thousand orders leave no state
/// behind, and a refund of the first and of the last is exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_orders_then_refunds_of_the_first_and_the_last() {
    const ORDERS: i64 = 10_000;
    let (s, key) = setup(json!({"first_order_bonus": 50})).await;
    let total = |i: i64| 1_000 + (i * 37) % 5_000;
    let day = |i: i64| format!("2026-{:02}-{:02}T10:00:00Z", 1 + i % 12, 1 + i % 28);
    let mut expected = 50;
    for chunk in (0..ORDERS).collect::<Vec<_>>().chunks(500) {
        let events: Vec<Value> =
            chunk.iter().map(|&i| order(&format!("e{i}"), "c1", &day(i), total(i))).collect();
        expected += chunk.iter().map(|&i| total(i) / 100).sum::<i64>();
        s.events_wait("acme", &key, events).await;
    }
    let p = s.points("acme", &key, "c1").await;
    assert_eq!(p["balance"], expected);
    // 10,000 orders on 84 distinct days (month 1 + i mod 12, day 1 + i mod
    // 28): 83 repeat days, each counted once however many orders it had.
    let c = s.get("/v1/stores/acme/customers/c1", &key).await.body;
    assert_eq!(c["stats"]["orders"], ORDERS);
    assert_eq!(c["stats"]["repeat_days"], 83, "{}", c["stats"]);

    // The first order (1,000 cents: 10 points, its bonus apart), refunded in
    // full; the last (1000 + 9999 × 37 mod 5000 = 5963 cents: 59 points),
    // a third of it: floor(59 × 1988 / 5963) = 19.
    assert_eq!((total(0), total(ORDERS - 1)), (1_000, 5_963));
    let r =
        s.event_wait("acme", &key, refund("r1", "c1", "2026-12-01T10:00:00Z", "e0", 1_000)).await;
    assert_eq!(r[0]["effects"][0]["op"], "deduct", "{r:?}");
    assert_eq!(r[0]["effects"][0]["points"], 10, "{r:?}");
    let last = format!("e{}", ORDERS - 1);
    let r =
        s.event_wait("acme", &key, refund("r2", "c1", "2026-12-01T11:00:00Z", &last, 1_988)).await;
    assert_eq!(r[0]["effects"][0]["points"], 19, "{r:?}");
    assert_eq!(s.points("acme", &key, "c1").await["balance"], expected - 10 - 19);

    // A repeat of an old order under a new event id earns nothing.
    let data = json!({"order_id": "o-e5", "total_cents": total(5), "currency": "CNY"});
    let again = event("again", "order.placed", "c1", "2026-12-02T10:00:00Z", data);
    let r = s.event_wait("acme", &key, again).await;
    assert_eq!(r[0]["effects"], json!([]), "{r:?}");
    assert_eq!(s.points("acme", &key, "c1").await["balance"], expected - 29);

    // Nothing kept per order: the customer's plugin state is empty.
    let export = s.get("/v1/stores/acme/customers/c1/export", &key).await;
    assert_eq!(export.status, StatusCode::OK);
    assert_eq!(export.body["plugin_state"], json!([]), "{}", export.body["plugin_state"]);
}
