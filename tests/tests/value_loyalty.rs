//! Who is worth what, through the real server: value grades (ABC and the
//! customer pyramid), loyalty types from survey answers and orders, and
//! customer-lifetime value with a rescue budget on the paper's CDNOW data
//! — each against values computed by hand here.

use std::collections::{BTreeMap, HashMap};

use clientele_e2e::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const AS_OF: &str = "2026-12-01T00:00:00Z";

/// Each customer's memberships of one prefix: segment → attributes.
async fn memberships(s: &TestServer, store: &str, key: &str, id: &str) -> BTreeMap<String, Value> {
    let a = s.get(&format!("/v1/stores/{store}/customers/{id}/activity"), key).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.body["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["segment"].as_str().unwrap().to_string(), m["attributes"].clone()))
        .collect()
}

async fn fit(s: &TestServer, store: &str, key: &str, as_of: &str) -> Vec<Value> {
    let path = format!("/v1/stores/{store}/models/fit?wait=true");
    let a = s.post(&path, key, json!({"as_of": as_of})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.body["fits"].as_array().unwrap().clone()
}

/// The one `prefix:` membership of a customer, with its attributes.
async fn one(s: &TestServer, store: &str, key: &str, id: &str, prefix: &str) -> (String, Value) {
    let all = memberships(s, store, key, id).await;
    let mine: Vec<_> = all.into_iter().filter(|(k, _)| k.starts_with(prefix)).collect();
    assert_eq!(mine.len(), 1, "{id}: {mine:?}");
    mine.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn value_grades_abc_with_ties_at_a_cut_off_beside_a_0_2_0_segmenter() {
    // value-grades (0.4.0) assigns every row its grade in the fit; the
    // 0.2.0 rfm-segments beside it is classified customer by customer.
    let s = TestServer::start().await;
    s.publish_bundled("value-grades", guests::VALUE_GRADES).await;
    s.publish_bundled("rfm-segments", guests::RFM_SEGMENTS).await;
    let key = s.store("abc").await;
    s.install("abc", &key, "value-grades", "1.0.0", json!({})).await;
    // A 0.2.0 segmenter keeps running beside the 0.3.0 one.
    s.install("abc", &key, "rfm-segments", "1.0.0", json!({})).await;

    // The window is (2025-12-01T00:00Z, 2026-12-01T00:00Z].
    let events = vec![
        order("a1", "a", "2026-06-01T10:00:00Z", 40_000),
        order("b1", "b", "2026-06-01T10:00:00Z", 20_000),
        order("c1", "c", "2026-03-01T10:00:00Z", 15_000),
        order("c2", "c", "2026-11-30T23:59:59Z", 5_000),
        order("d1", "d", "2026-07-01T10:00:00Z", 10_000),
        order("e1", "e", "2026-08-01T10:00:00Z", 5_000),
        // h: one order exactly at the window's start (outside), one inside.
        order("h0", "h", "2025-12-01T00:00:00Z", 4_000),
        order("h1", "h", "2026-09-01T10:00:00Z", 5_000),
        // f: an order refunded in full; g: an order before the window.
        order("f1", "f", "2026-05-01T10:00:00Z", 5_000),
        refund("f1-r", "f", "2026-05-02T10:00:00Z", "f1", 5_000),
        order("g1", "g", "2025-06-01T10:00:00Z", 8_000),
        // i ordered only after as-of: not graded.
        order("i1", "i", "2026-12-02T10:00:00Z", 99_000),
    ];
    s.events_wait("abc", &key, events).await;
    let fits = fit(&s, "abc", &key, AS_OF).await;
    let grades = fits.iter().find(|f| f["plugin"] == "value-grades@1.0.0").unwrap();
    assert_eq!(grades["status"], "ok", "{grades}");
    assert!(fits.iter().all(|f| f["status"] == "ok"), "{fits:?}");

    // T = 40,000 + 20,000·2 + 10,000 + 5,000·2 = 100,000: a·T = 80,000,
    // b·T = 95,000. Above d: 80,000 = a·T exactly, not less → B.
    let summary = &grades["summary"];
    assert_eq!(summary["graded"], 8, "{summary}");
    assert_eq!(summary["total_cents"], 100_000);
    assert_eq!(summary["grades"]["A"]["customers"], 3);
    let want = [
        ("a", "grade:A", 40_000, 1, 0.4),
        ("b", "grade:A", 20_000, 2, 0.2),
        ("c", "grade:A", 20_000, 2, 0.2),
        ("d", "grade:B", 10_000, 4, 0.1),
        ("e", "grade:B", 5_000, 5, 0.05),
        ("h", "grade:B", 5_000, 5, 0.05),
        ("f", "grade:C", 0, 7, 0.0),
        ("g", "grade:C", 0, 7, 0.0),
    ];
    for (id, grade, value, rank, share) in want {
        let (name, attrs) = one(&s, "abc", &key, id, "grade:").await;
        assert_eq!(name, grade, "{id}");
        assert_eq!(attrs["value_cents"], value, "{id}");
        assert_eq!(attrs["rank"], rank, "{id}");
        assert!((attrs["share"].as_f64().unwrap() - share).abs() < 1e-12, "{id}: {attrs}");
    }
    assert!(memberships(&s, "abc", &key, "i").await.keys().all(|k| !k.starts_with("grade:")));
    // The 0.2.0 segmenter classified the same customers.
    assert!(memberships(&s, "abc", &key, "a").await.keys().any(|k| k.starts_with("rfm:")));
    let catalogue = s.get("/v1/plugins", &s.admin).await.body;
    let contract = |name: &str| {
        let p = catalogue.as_array().unwrap().iter().find(|p| p["name"] == name);
        p.map(|p| p["versions"][0]["contract"].clone())
    };
    assert_eq!(contract("value-grades"), Some(json!("0.4.0")), "{catalogue}");
    assert_eq!(contract("rfm-segments"), Some(json!("0.2.0")), "{catalogue}");

    // An event between fits keeps the fitted grade.
    s.event_wait("abc", &key, order("e2", "e", "2026-12-01T10:00:00Z", 90_000)).await;
    assert_eq!(one(&s, "abc", &key, "e", "grade:").await.0, "grade:B");
    let bad = s
        .post(
            "/v1/stores/abc/installs",
            &key,
            json!({"plugin": "value-grades", "config": {"method": "median"}}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn value_grades_pyramid_with_fractional_shares_of_the_count() {
    let s = TestServer::start().await;
    s.publish_bundled("value-grades", guests::VALUE_GRADES).await;
    let key = s.store("pyr").await;
    s.install("pyr", &key, "value-grades", "1.0.0", json!({"method": "pyramid"})).await;
    // 29 customers of value 100·(30 − i) and one whose order was refunded:
    // n = 30, s·n = 0.3, 1.5, 6 → platinum g = 0, gold g = 1, iron
    // g = 2..5, lead the rest and the customer of value 0.
    let mut events = Vec::new();
    for i in 0..29 {
        events.push(order(
            &format!("p{i}"),
            &format!("p{i:02}"),
            "2026-10-01T10:00:00Z",
            100 * (30 - i),
        ));
    }
    events.push(order("z1", "z", "2026-10-01T10:00:00Z", 700));
    events.push(refund("z1-r", "z", "2026-10-02T10:00:00Z", "z1", 700));
    s.events_wait("pyr", &key, events).await;
    let fits = fit(&s, "pyr", &key, AS_OF).await;
    assert_eq!(fits[0]["status"], "ok", "{fits:?}");
    assert_eq!(fits[0]["summary"]["grades"]["iron"]["customers"], 4, "{}", fits[0]);
    for i in 0..29 {
        let want = match i {
            0 => "grade:platinum",
            1 => "grade:gold",
            2..=5 => "grade:iron",
            _ => "grade:lead",
        };
        let (name, attrs) = one(&s, "pyr", &key, &format!("p{i:02}"), "grade:").await;
        assert_eq!(name, want, "p{i:02}");
        assert_eq!(attrs["rank"], i + 1);
    }
    let (name, attrs) = one(&s, "pyr", &key, "z", "grade:").await;
    assert_eq!((name.as_str(), attrs["rank"].clone()), ("grade:lead", json!(30)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loyalty_types_each_of_the_five() {
    let s = TestServer::start().await;
    s.publish_bundled("survey-scoring", guests::SURVEY_SCORING).await;
    s.publish_bundled("loyalty-types", guests::LOYALTY_TYPES).await;
    let key = s.store("loyal").await;
    s.install("loyal", &key, "survey-scoring", "1.2.0", json!({})).await;
    s.install("loyal", &key, "loyalty-types", "1.0.0", json!({})).await;
    for (id, kind) in [("nps-1", "nps"), ("csat-1", "csat")] {
        let a = s.post("/v1/stores/loyal/surveys", &key, json!({"id": id, "kind": kind})).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    }
    let answer = |id: &str, who: &str, at: &str, survey: &str, score: i64| {
        event(
            id,
            "survey.submitted",
            who,
            at,
            json!({"survey_id": survey, "answers": {"score": score}}),
        )
    };
    let events = vec![
        // t1: two orders in the window, NPS 9 → true.
        order("t1a", "t1", "2026-03-01T10:00:00Z", 1000),
        order("t1b", "t1", "2026-04-01T10:00:00Z", 1000),
        answer("t1s", "t1", "2026-05-01T10:00:00Z", "nps-1", 9),
        // t2: one order, CSAT 5 → latent.
        order("t2a", "t2", "2026-03-01T10:00:00Z", 1000),
        answer("t2s", "t2", "2026-05-01T10:00:00Z", "csat-1", 5),
        // t3: three orders, NPS 6 → spurious.
        order("t3a", "t3", "2026-03-01T10:00:00Z", 1000),
        order("t3b", "t3", "2026-03-02T10:00:00Z", 1000),
        order("t3c", "t3", "2026-03-03T10:00:00Z", 1000),
        answer("t3s", "t3", "2026-05-01T10:00:00Z", "nps-1", 6),
        // t4: no order, NPS 3 → none.
        answer("t4s", "t4", "2026-05-01T10:00:00Z", "nps-1", 3),
        // t5: two orders and no answer → unknown (repeat).
        order("t5a", "t5", "2026-03-01T10:00:00Z", 1000),
        order("t5b", "t5", "2026-04-01T10:00:00Z", 1000),
        // t6: a favourable NPS, then an unfavourable CSAT: the latest
        // decides → spurious.
        order("t6a", "t6", "2026-03-01T10:00:00Z", 1000),
        order("t6b", "t6", "2026-04-01T10:00:00Z", 1000),
        answer("t6s", "t6", "2026-05-01T10:00:00Z", "nps-1", 10),
        answer("t6t", "t6", "2026-06-01T10:00:00Z", "csat-1", 3),
        // t7: NPS 9, but one of its two orders is before the window → latent.
        order("t7a", "t7", "2025-11-01T10:00:00Z", 1000),
        order("t7b", "t7", "2026-04-01T10:00:00Z", 1000),
        answer("t7s", "t7", "2026-05-01T10:00:00Z", "nps-1", 9),
    ];
    s.events_wait("loyal", &key, events).await;
    let fits = fit(&s, "loyal", &key, AS_OF).await;
    let fitted = fits.iter().find(|f| f["plugin"] == "loyalty-types@1.0.0").unwrap();
    assert_eq!(fitted["status"], "ok", "{fitted}");
    assert_eq!(fitted["updated"], 7, "every customer is typed: {fitted}");
    // The fit typed every row at once (contract 0.4.0) and counted them.
    let types = &fitted["summary"]["types"];
    let want = json!({"loyalty:true": 1, "loyalty:latent": 2, "loyalty:spurious": 2,
                      "loyalty:none": 1, "loyalty:unknown": 1});
    assert_eq!(types, &want, "{fitted}");
    let want = [
        ("t1", "loyalty:true", "repeat"),
        ("t2", "loyalty:latent", "not-repeat"),
        ("t3", "loyalty:spurious", "repeat"),
        ("t4", "loyalty:none", "not-repeat"),
        ("t5", "loyalty:unknown", "repeat"),
        ("t6", "loyalty:spurious", "repeat"),
        ("t7", "loyalty:latent", "not-repeat"),
    ];
    for (id, kind, behaviour) in want {
        let (name, attrs) = one(&s, "loyal", &key, id, "loyalty:").await;
        assert_eq!(name, kind, "{id}: {attrs}");
        assert_eq!(attrs["behaviour"], behaviour, "{id}");
    }
    assert_eq!(one(&s, "loyal", &key, "t6", "loyalty:").await.1["kind"], "csat");
    // A favourable answer is scored beside the segmenter's call on the same
    // event; the customer's next event types them by it.
    s.event_wait("loyal", &key, answer("t5s", "t5", "2026-12-01T12:00:00Z", "nps-1", 10)).await;
    let next = event("t5-in", "checkin", "t5", "2026-12-01T13:00:00Z", json!({}));
    s.event_wait("loyal", &key, next).await;
    let (name, attrs) = one(&s, "loyal", &key, "t5", "loyalty:").await;
    assert_eq!(name, "loyalty:true", "{attrs}");
}

// ---- CLV on the paper's CDNOW sample ------------------------------------

/// ₂F₁ by its series, as the model's own.
fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let (mut term, mut sum) = (1.0f64, 1.0f64);
    for k in 0..200_000 {
        let k = f64::from(k);
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        sum += term;
        if term.abs() <= 1e-16 * sum.abs() {
            break;
        }
    }
    sum
}

struct Cdnow {
    /// Per customer: their purchase days (day number) and each day's spend.
    days: BTreeMap<String, BTreeMap<i64, i64>>,
}

fn day_of(date: &str) -> i64 {
    let (y, rest) = date.split_at(4);
    let (m, d) = (&rest[1..3], &rest[4..6]);
    let (y, m, d): (i64, i64, i64) = (y.parse().unwrap(), m.parse().unwrap(), d.parse().unwrap());
    // Days from 1997-01-01 (every date here is in 1997).
    let months = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    assert_eq!(y, 1997);
    months[..(m - 1) as usize].iter().sum::<i64>() + d - 1
}

fn cdnow() -> (Vec<Value>, Cdnow) {
    let csv = repo_file("plugins/churn-winback/tests/data/cdnow_calibration.csv");
    let mut events = Vec::new();
    let mut days: BTreeMap<String, BTreeMap<i64, i64>> = BTreeMap::new();
    for (n, line) in csv.lines().skip(1).enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        let (who, date, cents) = (format!("cd{}", f[0]), f[1], f[2].parse::<i64>().unwrap());
        events.push(order(&format!("cd-{n}"), &who, &format!("{date}T12:00:00Z"), cents));
        *days.entry(who).or_default().entry(day_of(date)).or_default() += cents;
    }
    (events, Cdnow { days })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clv_on_cdnow_matches_the_paper_and_budgets_the_rescue() {
    let s = TestServer::start().await;
    s.publish_bundled("churn-winback", guests::CHURN_WINBACK).await;
    let key = s.store("cd").await;
    let config = json!({"rescue_if": "clv", "threshold": 0.3, "expected_uplift": 0.5,
                        "message_cost_cents": 50, "horizon_days": 364});
    s.install("cd", &key, "churn-winback", "1.2.0", config).await;
    let (events, data) = cdnow();
    assert_eq!(events.len(), 4960);
    assert_eq!(data.days.len(), 2357);
    for chunk in events.chunks(1000) {
        s.events_wait("cd", &key, chunk.to_vec()).await;
    }
    let fits = fit(&s, "cd", &key, "1997-09-30T23:00:00Z").await;
    assert_eq!(fits[0]["status"], "ok", "{}", fits[0]);
    let m = &fits[0]["summary"];
    let within = |name: &str, want: f64| {
        let got = m[name].as_f64().unwrap();
        assert!((got - want).abs() / want < 0.01, "{name} = {got}, the paper's {want}");
        got
    };
    // The paper's estimates: BG/NBD and Gamma-Gamma (v in yuan: the store
    // is in CNY, and CDNOW's dollars were posted as cents).
    let (r, alpha, a, b) =
        (within("r", 0.243), within("alpha", 4.414), within("a", 0.793), within("b", 2.426));
    let (p, q) = (within("p", 6.25), within("q", 3.74));
    within("v", 15.44);
    let v = m["v_cents"].as_f64().unwrap();
    assert_eq!(m["spend_customers"], 946);
    for e in ["p", "q", "v"] {
        assert!(m["spend_standard_errors"][e].as_f64().unwrap() > 0.0, "{m}");
    }

    // Every customer's CLV and rescue decision, by hand from the fitted
    // parameters: T to the fit's day (272: 1997-09-30).
    let flows = s.get("/v1/stores/cd/flows", &key).await.body;
    let state: HashMap<String, String> = flows
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["customer_id"].as_str().unwrap().into(), f["state"].as_str().unwrap().into()))
        .collect();
    let (mut started, mut skipped, mut checked) = (0, 0, 0);
    for (who, days) in &data.days {
        let first = *days.keys().next().unwrap();
        let last = *days.keys().last().unwrap();
        let x = (days.len() - 1) as f64;
        let (t_x, t) = ((last - first) as f64 / 7.0, (272 - first) as f64 / 7.0);
        let p_alive = if x == 0.0 {
            1.0
        } else {
            1.0 / (1.0 + a / (b + x - 1.0) * ((alpha + t) / (alpha + t_x)).powf(r + x))
        };
        let h = 52.0;
        let purchases = (a + b + x - 1.0) / (a - 1.0)
            * (1.0
                - ((alpha + t) / (alpha + t + h)).powf(r + x)
                    * hyp2f1(r + x, b + x, a + b + x - 1.0, h / (alpha + t + h)))
            / if x > 0.0 {
                1.0 + a / (b + x - 1.0) * ((alpha + t) / (alpha + t_x)).powf(r + x)
            } else {
                1.0
            };
        let value = if x > 0.0 {
            let mean = days.values().skip(1).sum::<i64>() as f64 / x;
            p * (v + x * mean) / (p * x + q - 1.0)
        } else {
            p * v / (q - 1.0)
        };
        let clv = purchases * value;
        // Two messages of 50 and a 10 % coupon of the expected spend.
        let (worth, cost) = (clv * 0.5, 100.0 + 0.1 * value);
        let near = |u: f64, w: f64| (u - w).abs() < 1e-6 * w.abs().max(1.0);
        if near(p_alive, 0.3) || near(worth, cost) {
            continue;
        }
        let got = state.get(who).map(String::as_str);
        let want = match (p_alive < 0.3, worth > cost) {
            (false, _) => None,
            (true, true) => Some("active"),
            (true, false) => Some("skipped"),
        };
        assert_eq!(got, want, "{who}: p_alive {p_alive}, worth {worth}, cost {cost}");
        started += usize::from(want == Some("active"));
        skipped += usize::from(want == Some("skipped"));
        // A sample of the assessments' numbers, exactly.
        if checked < 25 && want.is_some() {
            checked += 1;
            let churn = s.get(&format!("/v1/stores/cd/customers/{who}/churn"), &key).await.body;
            let d = &churn["details"];
            let got = d["expected_purchases"].as_f64().unwrap();
            assert!((got - purchases).abs() < 1e-6 * purchases.max(1e-3), "{who}: {d}");
            assert_eq!(d["expected_value_cents"], json!(value.round()), "{who}: {d}");
            assert_eq!(d["clv_cents"], json!(clv.round()), "{who}: {d}");
            assert_eq!(d["rescue"]["worth_it"], json!(worth > cost), "{who}");
        }
    }
    assert!(started >= 1 && skipped >= 1, "{started} started, {skipped} skipped");
    // A skipped flow keeps the numbers that decided it.
    let skipped_flow = flows.as_array().unwrap().iter().find(|f| f["state"] == "skipped").unwrap();
    let decided = &skipped_flow["history"][0]["decided_on"];
    assert!(decided["rescue"]["cost_cents"].as_f64().unwrap() > 0.0, "{skipped_flow}");
}
