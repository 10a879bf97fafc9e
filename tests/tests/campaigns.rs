//! Campaigns on top of the base rules, through the real server: the
//! bundled `category-bonus` (contract 0.5.0) beside the base `points-basic`
//! (0.2.0) on the same events — its local-day window and the host's
//! window, its budgets in all and per customer cut by the host, its earns
//! labelled in the ledger, refunds taking back each install's own earns for
//! the order (in full and in parts), and the campaign report. A campaign
//! that sets a tier fails; a second base install is refused.

use clientele_e2e::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn basket(id: &str, customer: &str, at: &str, items: &[(&str, i64)]) -> Value {
    let total: i64 = items.iter().map(|(_, p)| p).sum();
    let items: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, (cat, price))| json!({"sku": format!("sku-{i}"), "category": cat, "qty": 1, "price_cents": price}))
        .collect();
    event(
        id,
        "order.placed",
        customer,
        at,
        json!({"order_id": format!("o-{id}"), "total_cents": total, "currency": "CNY", "items": items}),
    )
}

fn balance(p: &Value) -> i64 {
    p["balance"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tea_weekend_on_top_of_the_base_rules() {
    let s = TestServer::start().await;
    s.publish_points_basic("1.0.0").await;
    s.publish_bundled("category-bonus", guests::CATEGORY_BONUS).await;
    let key = s.store("teas").await;
    let base = s.install("teas", &key, "points-basic", "1.0.0", json!({})).await;
    // Saturday and Sunday, March 7-8 2026, in Shanghai; the host stops
    // calling it at Monday 00:00 there.
    let campaign = s
        .install_with("teas", &key, json!({
            "plugin": "category-bonus", "version": "1.0.0",
            "config": {"category": "tea", "multiplier": 2, "from": "2026-03-07", "to": "2026-03-08"},
            "campaign": {"name": "tea-weekend", "active_to": "2026-03-09T00:00:00+08:00",
                         "budget_points": 300, "budget_per_customer": 150}}))
        .await;

    let results = s
        .events_wait(
            "teas",
            &key,
            vec![
                // a: Saturday 00:30 local; 100.00 of tea earns 100 more.
                basket("a1", "a", "2026-03-06T16:30:00Z", &[("tea", 10_000), ("coffee", 5_000)]),
                // b: Friday 23:59 local: the base rules only.
                basket("b1", "b", "2026-03-06T15:59:00Z", &[("tea", 10_000)]),
                // c: Saturday, 120.00 of tea.
                basket("c1", "c", "2026-03-07T04:00:00Z", &[("tea", 12_000)]),
            ],
        )
        .await;
    let effects = |r: &Value, install: &str| -> Vec<Value> {
        let i = r["installs"].as_array().unwrap().iter().find(|i| i["install_id"] == install);
        i.map(|i| i["effects"].as_array().unwrap().clone()).unwrap_or_default()
    };
    assert_eq!(effects(&results[0], &campaign)[0]["points"], 100, "{:?}", results[0]);
    assert!(effects(&results[1], &campaign).is_empty(), "{:?}", results[1]);
    assert_eq!(effects(&results[2], &campaign)[0]["points"], 120);
    let results = s
        .events_wait(
            "teas",
            &key,
            vec![
                // a again on Sunday: 80 more, cut to the 50 left of a's 150.
                basket("a2", "a", "2026-03-08T10:00:00Z", &[("tea", 8_000)]),
                // d on Sunday: 100 more, cut to the 30 left of the 300.
                basket("d1", "d", "2026-03-08T11:00:00Z", &[("tea", 10_000)]),
                // e on Monday 01:00 local: past the host's window, not called.
                basket("e1", "e", "2026-03-08T17:00:00Z", &[("tea", 10_000)]),
            ],
        )
        .await;
    let a2 = effects(&results[0], &campaign);
    assert_eq!(a2[0]["op"], "earn");
    assert_eq!(a2[0]["points"], 50);
    assert_eq!(
        a2[1],
        json!({"op": "campaign_cut", "requested": 80, "points": 50, "why": "campaign budget per customer"})
    );
    let d1 = effects(&results[1], &campaign);
    assert_eq!(d1[0]["points"], 30);
    assert_eq!(d1[1]["why"], "campaign budget");
    let called: Vec<&Value> = results[2]["installs"].as_array().unwrap().iter().collect();
    assert_eq!(called.len(), 1, "{:?}", results[2]);
    assert_eq!(called[0]["install_id"], base.as_str());

    // Base earns 1 point per 1.00: a 150 + 80, plus the campaign's 150.
    assert_eq!(balance(&s.points("teas", &key, "a").await), 150 + 80 + 100 + 50);
    assert_eq!(balance(&s.points("teas", &key, "b").await), 100);
    assert_eq!(balance(&s.points("teas", &key, "c").await), 120 + 120);
    assert_eq!(balance(&s.points("teas", &key, "d").await), 100 + 30);
    assert_eq!(balance(&s.points("teas", &key, "e").await), 100);

    // a's first order refunded in full: each install takes back its own.
    let r = s
        .events_wait("teas", &key, vec![refund("a1-r", "a", "2026-03-10T04:00:00Z", "a1", 15_000)])
        .await;
    assert_eq!(effects(&r[0], &campaign)[0]["points"], 100, "{:?}", r[0]);
    assert_eq!(effects(&r[0], &base)[0]["points"], 150, "{:?}", r[0]);
    assert_eq!(balance(&s.points("teas", &key, "a").await), 80 + 50);
    // c's order refunded in two halves: 60, then the 60 left.
    s.events_wait("teas", &key, vec![refund("c1-r1", "c", "2026-03-10T05:00:00Z", "c1", 6_000)])
        .await;
    assert_eq!(balance(&s.points("teas", &key, "c").await), 240 - 60 - 60);
    s.events_wait("teas", &key, vec![refund("c1-r2", "c", "2026-03-11T05:00:00Z", "c1", 6_000)])
        .await;
    assert_eq!(balance(&s.points("teas", &key, "c").await), 0);
    // A refund of an order it earned nothing on takes nothing.
    let r = s
        .events_wait("teas", &key, vec![refund("b1-r", "b", "2026-03-10T04:00:00Z", "b1", 10_000)])
        .await;
    assert!(effects(&r[0], &campaign).is_empty(), "{:?}", r[0]);

    // The ledger labels the campaign's entries with it and their order.
    let ledger = s.points("teas", &key, "a").await;
    let entries = ledger["entries"].as_array().unwrap();
    let mine: Vec<&Value> = entries.iter().filter(|e| e["campaign"] == "tea-weekend").collect();
    assert_eq!(mine.len(), 3, "{ledger}");
    assert_eq!(mine[0]["order_id"], "o-a1");
    assert_eq!(mine[2]["kind"], "deduct");
    assert!(entries
        .iter()
        .filter(|e| e["install_id"] == base.as_str())
        .all(|e| e["campaign"].is_null()));

    // The report: 100 + 50 + 120 + 30 issued, 100 + 120 taken back.
    let report = s.get("/v1/stores/teas/campaigns", &key).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    let c = &report.body[0];
    assert_eq!(c["name"], "tea-weekend");
    assert_eq!(c["install_id"], campaign.as_str());
    assert_eq!(c["points_issued"], 300);
    assert_eq!(c["points_taken_back"], 220);
    assert_eq!(c["customers_reached"], 3);
    assert_eq!(c["orders_touched"], 4);
    assert_eq!(c["budget_left"], 220);
    assert_eq!(c["active_now"], false);
    assert_eq!(c["terms"]["budget_per_customer"], 150);
    assert_eq!(report.body.as_array().unwrap().len(), 1);

    // A second base install is refused; a campaign that sets a tier fails.
    let a = s
        .post(
            "/v1/stores/teas/installs",
            &key,
            json!({"plugin": "points-basic", "version": "1.0.0"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    let tiers = json!({"tiers": [{"name": "silver", "min_spend_cents": 1, "multiplier": 1}]});
    let greedy = s
        .install_with(
            "teas",
            &key,
            json!({"plugin": "points-basic", "version": "1.0.0",
            "config": tiers, "campaign": {"name": "greedy"}}),
        )
        .await;
    let r = s
        .events_wait(
            "teas",
            &key,
            vec![basket("f1", "f", "2026-03-12T04:00:00Z", &[("tea", 1_000)])],
        )
        .await;
    let failed = r[0]["installs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["install_id"] == greedy.as_str())
        .unwrap();
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(failed["error"].as_str().unwrap_or_default().contains("tier"), "{failed}");
    // Only a point-rules install can be a campaign; terms are checked.
    for (body, field) in [
        (
            json!({"plugin": "category-bonus", "config": {"category": "tea"},
                "campaign": {"active_from": "2026-03-09T00:00:00Z", "active_to": "2026-03-08T00:00:00Z"}}),
            "campaign.active_to",
        ),
        (
            json!({"plugin": "category-bonus", "config": {"category": "tea"},
                "campaign": {"budget_points": 0}}),
            "campaign.budget_points",
        ),
        (
            json!({"plugin": "category-bonus", "config": {"category": "tea"},
                "campaign": {"active_from": "soon"}}),
            "campaign.active_from",
        ),
    ] {
        let a = s.post("/v1/stores/teas/installs", &key, body).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
        // The document's schema names the campaign (its `minimum`s are
        // in a nullable branch); the server's own checks, the field.
        let named = a.body["errors"][0]["field"].as_str().unwrap();
        assert!(named == field || named == "campaign", "{}", a.body);
        assert!(a.body.to_string().contains(field.trim_start_matches("campaign.")), "{}", a.body);
    }
}
