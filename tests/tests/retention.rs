//! Retention analytics through the real server: a cohort table over six
//! months with customers who skip months, orders sent out of time order
//! (a customer's first order arriving after later ones), a store-local
//! month boundary, complaints, a week table across a year boundary, and a
//! period with no active customers before it — each against values
//! counted by hand here.

use clientele_e2e::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The months Jan..Jun 2026 a pattern marks `X`, as a mid-month time.
fn months(pattern: &str) -> Vec<String> {
    pattern
        .chars()
        .enumerate()
        .filter(|(_, c)| *c == 'X')
        .map(|(m, _)| format!("2026-{:02}-15T04:00:00Z", m + 1))
        .collect()
}

fn complaint(id: &str, customer: &str, at: &str, complaint_id: &str) -> Value {
    event(
        id,
        "complaint.filed",
        customer,
        at,
        json!({"complaint_id": complaint_id, "category": "late-delivery", "severity": 1}),
    )
}

async fn retention(s: &TestServer, store: &str, key: &str, query: &str) -> Value {
    let a = s.get(&format!("/v1/stores/{store}/analytics/retention?{query}"), key).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.body
}

/// One column of the `periods` rows.
fn column(r: &Value, name: &str) -> Vec<Value> {
    r["periods"].as_array().unwrap().iter().map(|p| p[name].clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monthly_cohorts_and_rates_counted_by_hand() {
    let s = TestServer::start().await;
    let key = s.store("months").await;
    // Jan..Jun 2026 (store time, Asia/Shanghai).
    let patterns: &[(&str, &str)] = &[
        ("c01", "XXXXXX"),
        ("c02", "XXXXXX"),
        ("c03", "XXXXXX"),
        ("c04", "X.X.X."),
        ("c05", "X.X.X."),
        ("c06", "X....."),
        ("c07", "X....."),
        ("c08", "X....."),
        ("c09", ".XX..."),
        ("c10", ".XX..."),
        ("c11", ".X..XX"),
        ("c12", "..XXX."),
        ("c13", "..XXX."),
        ("c14", "...X.X"),
        ("c15", ".....X"),
        ("c16", ".....X"),
        ("z", "..X..."),
    ];
    let mut events = Vec::new();
    for (c, p) in patterns {
        for (i, at) in months(p).into_iter().enumerate() {
            events.push(order(&format!("{c}-{i}"), c, &at, 10_000));
        }
    }
    // c14's April order: 01:00 on April 1st in Shanghai, still March in UTC.
    events.retain(|e| e["id"] != "c14-0");
    events.push(order("c14-0", "c14", "2026-03-31T17:00:00Z", 10_000));
    // z's first order is in December 2025; c01 orders twice in January.
    events.push(order("z-dec", "z", "2025-12-10T04:00:00Z", 10_000));
    events.push(order("c01-x", "c01", "2026-01-20T04:00:00Z", 5_000));
    // A refund changes no one's activity and no period's revenue.
    events.push(refund("c02-r", "c02", "2026-03-16T04:00:00Z", "c02-2", 10_000));
    // Complaints: c06 twice in January (one customer), the same complaint
    // id filed twice, and c15 in May — a month c15 ordered nothing in.
    events.push(complaint("k1", "c06", "2026-01-16T04:00:00Z", "cp-1"));
    events.push(complaint("k2", "c06", "2026-01-17T04:00:00Z", "cp-2"));
    events.push(complaint("k3", "c06", "2026-01-18T04:00:00Z", "cp-2"));
    events.push(complaint("k4", "c15", "2026-05-20T04:00:00Z", "cp-3"));
    // Later months first: every first order arrives after the customer's
    // later ones, so cohorts move as they come in.
    events.sort_by(|a, b| b["occurred_at"].as_str().cmp(&a["occurred_at"].as_str()));
    let (late, early): (Vec<Value>, Vec<Value>) =
        events.into_iter().partition(|e| e["occurred_at"].as_str().unwrap() >= "2026-03");
    s.events_wait("months", &key, late).await;
    s.events_wait("months", &key, early).await;

    let r = retention(&s, "months", &key, "period=month&from=2026-01-01&to=2026-06-30").await;
    assert_eq!(r["timezone"], "Asia/Shanghai");
    let labels: Vec<&str> =
        r["periods"].as_array().unwrap().iter().map(|p| p["period"].as_str().unwrap()).collect();
    assert_eq!(labels, ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]);
    assert_eq!(column(&r, "active"), json!([8, 6, 10, 6, 8, 7]).as_array().unwrap().clone());
    assert_eq!(column(&r, "new"), json!([8, 3, 2, 1, 0, 2]).as_array().unwrap().clone());
    assert_eq!(column(&r, "returning"), json!([0, 3, 8, 5, 8, 5]).as_array().unwrap().clone());
    assert_eq!(column(&r, "retained"), json!([0, 3, 5, 5, 5, 4]).as_array().unwrap().clone());
    assert_eq!(column(&r, "active_before"), json!([1, 8, 6, 10, 6, 8]).as_array().unwrap().clone());
    assert_eq!(
        column(&r, "retention_rate"),
        json!([0.0, 0.375, 0.8333, 0.5, 0.8333, 0.5]).as_array().unwrap().clone()
    );
    assert_eq!(
        column(&r, "churn_rate"),
        json!([1.0, 0.625, 0.1667, 0.5, 0.1667, 0.5]).as_array().unwrap().clone()
    );
    assert_eq!(
        column(&r, "repeat_rate"),
        json!([0.0, 0.5, 0.8, 0.8333, 1.0, 0.7143]).as_array().unwrap().clone()
    );
    assert_eq!(column(&r, "complainers"), json!([1, 0, 0, 0, 1, 0]).as_array().unwrap().clone());
    assert_eq!(
        column(&r, "complaint_rate"),
        json!([0.125, 0.0, 0.0, 0.0, 0.125, 0.0]).as_array().unwrap().clone()
    );
    // January: 8 orders of 100.00 and c01's second of 50.00, all new.
    assert_eq!(
        column(&r, "revenue_cents"),
        json!([85_000, 60_000, 100_000, 60_000, 80_000, 70_000]).as_array().unwrap().clone()
    );
    assert_eq!(
        column(&r, "returning_revenue_cents"),
        json!([0, 30_000, 80_000, 50_000, 80_000, 50_000]).as_array().unwrap().clone()
    );
    assert_eq!(
        column(&r, "returning_revenue_share"),
        json!([0.0, 0.5, 0.8, 0.8333, 1.0, 0.7143]).as_array().unwrap().clone()
    );
    let cohorts: Vec<(String, i64, Vec<i64>)> = r["cohorts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let active =
                c["active"].as_array().unwrap().iter().map(|a| a.as_i64().unwrap()).collect();
            (c["period"].as_str().unwrap().to_string(), c["customers"].as_i64().unwrap(), active)
        })
        .collect();
    assert_eq!(
        cohorts,
        vec![
            ("2026-01".to_string(), 8, vec![8, 3, 5, 3, 5, 3]),
            ("2026-02".to_string(), 3, vec![3, 2, 0, 1, 1]),
            ("2026-03".to_string(), 2, vec![2, 2, 2, 0]),
            ("2026-04".to_string(), 1, vec![1, 0, 1]),
            ("2026-06".to_string(), 2, vec![2]),
        ]
    );
    assert_eq!(r["cohorts"][0]["shares"], json!([1.0, 0.375, 0.625, 0.375, 0.625, 0.375]));

    // December's period before (November) had no active customer.
    let r = retention(&s, "months", &key, "from=2025-12-31&to=2026-01-01").await;
    assert_eq!(column(&r, "period"), vec![json!("2025-12"), json!("2026-01")]);
    assert_eq!(column(&r, "active"), vec![json!(1), json!(8)]);
    assert_eq!(column(&r, "retention_rate"), vec![Value::Null, json!(0.0)]);
    assert_eq!(column(&r, "churn_rate"), vec![Value::Null, json!(1.0)]);
    assert_eq!(r["cohorts"][0]["period"], "2025-12");
    assert_eq!(r["cohorts"][0]["active"], json!([1, 0]));

    // A month with no one: every rate over its active customers is null.
    let r = retention(&s, "months", &key, "from=2026-08-01&to=2026-08-01").await;
    assert_eq!(r["periods"][0]["active"], 0);
    assert_eq!(r["periods"][0]["active_before"], 0);
    for rate in
        ["retention_rate", "churn_rate", "repeat_rate", "complaint_rate", "returning_revenue_share"]
    {
        assert_eq!(r["periods"][0][rate], Value::Null, "{rate}");
    }
    assert_eq!(r["cohorts"], json!([]));

    // Bad queries name the parameter.
    for (query, field) in [
        ("from=2026-01-01", "query"),
        ("from=2026-13-01&to=2026-12-01", "from"),
        ("from=2026-02-01&to=2026-01-01", "to"),
        ("period=day&from=2026-01-01&to=2026-01-02", "period"),
        ("period=week&from=2000-01-01&to=2026-01-01", "to"),
    ] {
        let a = s.get(&format!("/v1/stores/months/analytics/retention?{query}"), &key).await;
        assert!(a.status.is_client_error(), "{query}: {}", a.body);
        assert_eq!(a.body["errors"][0]["field"], field, "{query}: {}", a.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weeks_start_on_monday_across_a_year_boundary() {
    let s = TestServer::start().await;
    let key = s.store("weeks").await;
    let events = vec![
        // 2025-W52 (Dec 22-28) and 2026-W01 (Dec 29 - Jan 4).
        order("w1-a", "w1", "2025-12-23T04:00:00Z", 1_000),
        order("w1-b", "w1", "2025-12-30T04:00:00Z", 1_000),
        // 2026-W01 and 2026-W02 (Jan 5-11).
        order("w2-a", "w2", "2025-12-31T04:00:00Z", 2_000),
        order("w2-b", "w2", "2026-01-06T04:00:00Z", 2_000),
        // Sunday 23:30 in Shanghai (W01), then Monday 00:30 (W02).
        order("w3-a", "w3", "2026-01-04T15:30:00Z", 3_000),
        order("w3-b", "w3", "2026-01-04T16:30:00Z", 3_000),
    ];
    s.events_wait("weeks", &key, events).await;
    let r = retention(&s, "weeks", &key, "period=week&from=2025-12-28&to=2026-01-05").await;
    assert_eq!(r["period"], "week");
    assert_eq!(column(&r, "period"), vec![json!("2025-W52"), json!("2026-W01"), json!("2026-W02")]);
    assert_eq!(
        column(&r, "start"),
        vec![json!("2025-12-22"), json!("2025-12-29"), json!("2026-01-05")]
    );
    assert_eq!(
        column(&r, "end"),
        vec![json!("2025-12-28"), json!("2026-01-04"), json!("2026-01-11")]
    );
    assert_eq!(column(&r, "active"), vec![json!(1), json!(3), json!(2)]);
    assert_eq!(column(&r, "new"), vec![json!(1), json!(2), json!(0)]);
    assert_eq!(column(&r, "retained"), vec![json!(0), json!(1), json!(2)]);
    assert_eq!(column(&r, "retention_rate"), vec![Value::Null, json!(1.0), json!(0.6667)]);
    assert_eq!(column(&r, "churn_rate"), vec![Value::Null, json!(0.0), json!(0.3333)]);
    assert_eq!(column(&r, "repeat_rate"), vec![json!(0.0), json!(0.3333), json!(1.0)]);
    assert_eq!(column(&r, "revenue_cents"), vec![json!(1_000), json!(6_000), json!(5_000)]);
    assert_eq!(column(&r, "returning_revenue_cents"), vec![json!(0), json!(1_000), json!(5_000)]);
    let cohorts = r["cohorts"].as_array().unwrap();
    assert_eq!(cohorts.len(), 2);
    assert_eq!(cohorts[0]["period"], "2025-W52");
    assert_eq!(cohorts[0]["active"], json!([1, 1, 0]));
    assert_eq!(cohorts[1]["period"], "2026-W01");
    assert_eq!(cohorts[1]["active"], json!([2, 2]));
}
