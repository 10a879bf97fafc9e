//! `clientele demo`: a fresh service on the embedded database, the bundled
//! plugins built and published, a tea shop with customers and a few dozen
//! events, and what happened, as tables.

use std::path::PathBuf;

use anyhow::Context;
use clientele::client::ApiClient;
use clientele::domain::effect::Effect;
use clientele::server::{self, ServerConfig};
use clientele_plugin_build as plugin_build;
use serde_json::{json, Value};

/// The demo's calls: every answer must be a success.
struct Client(ApiClient);

impl Client {
    async fn post(&self, path: &str, token: &str, body: Value) -> anyhow::Result<Value> {
        self.0.post(path, token, &body).await?.ok()
    }
    async fn put(&self, path: &str, token: &str, body: Value) -> anyhow::Result<Value> {
        self.0.put(path, token, &body).await?.ok()
    }
    async fn get(&self, path: &str, token: &str) -> anyhow::Result<Value> {
        self.0.get(path, token).await?.ok()
    }
}

const CUSTOMERS: &[(&str, &str, &str)] = &[
    ("c-li", "Li Wei", "1990-05-17"),
    ("c-wang", "Wang Fang", "1985-11-02"),
    ("c-zhang", "Zhang Min", "1992-03-21"),
    ("c-chen", "Chen Jie", "1978-08-30"),
    ("c-liu", "Liu Yang", "2000-12-12"),
    ("c-zhao", "Zhao Lei", "1995-04-05"),
];

/// (customer, day in 2026 as "MM-DD", total in yuan) for each order.
const ORDERS: &[(&str, &str, i64)] = &[
    ("c-li", "03-02", 268),
    ("c-li", "03-20", 1280),
    ("c-li", "04-11", 99),
    ("c-li", "05-17", 1880),
    ("c-wang", "03-05", 59),
    ("c-wang", "04-01", 420),
    ("c-wang", "05-02", 2680),
    ("c-zhang", "03-21", 188),
    ("c-zhang", "03-22", 88),
    ("c-chen", "03-08", 3600),
    ("c-chen", "04-18", 560),
    ("c-chen", "05-30", 45),
    ("c-liu", "04-02", 35),
    ("c-zhao", "04-05", 699),
    ("c-zhao", "04-06", 329),
    ("c-zhao", "05-20", 1288),
];

fn events() -> Vec<Value> {
    let mut out = Vec::new();
    for (i, (c, day, yuan)) in ORDERS.iter().enumerate() {
        out.push(json!({"id": format!("ord-{i}"), "type": "order.placed", "customer_id": c,
            "occurred_at": format!("2026-{day}T10:00:00Z"),
            "data": {"order_id": format!("o-{i}"), "total_cents": yuan * 100, "currency": "CNY",
                     "items": [{"sku": "tea", "category": "oolong", "qty": 1, "price_cents": yuan * 100}]}}));
    }
    let extra = [
        json!({"id": "rev-1", "type": "review.submitted", "customer_id": "c-li", "occurred_at": "2026-03-25T09:00:00Z",
               "data": {"order_id": "o-1", "rating": 5, "has_photo": true, "text_length": 240}}),
        json!({"id": "rev-2", "type": "review.submitted", "customer_id": "c-li", "occurred_at": "2026-03-26T09:00:00Z",
               "data": {"order_id": "o-1", "rating": 4, "has_photo": false, "text_length": 10}}),
        json!({"id": "rev-3", "type": "review.submitted", "customer_id": "c-zhang", "occurred_at": "2026-03-24T09:00:00Z",
               "data": {"order_id": "o-7", "rating": 5, "has_photo": false, "text_length": 60}}),
        json!({"id": "ref-1", "type": "referral.converted", "customer_id": "c-wang", "occurred_at": "2026-04-02T12:00:00Z",
               "data": {"referred_customer_id": "c-liu"}}),
        json!({"id": "refund-1", "type": "order.refunded", "customer_id": "c-chen", "occurred_at": "2026-03-15T12:00:00Z",
               "data": {"order_id": "o-9", "refund_cents": 120000}}),
        json!({"id": "vip-1", "type": "cart.abandoned", "customer_id": "c-liu", "occurred_at": "2026-04-03T12:00:00Z",
               "data": {"items": 2}}),
    ];
    out.extend(extra);
    for (i, day) in ["04-01", "04-01", "04-02", "04-03", "04-05"].iter().enumerate() {
        out.push(json!({"id": format!("chk-{i}"), "type": "checkin", "customer_id": "c-zhao",
                        "occurred_at": format!("2026-{day}T0{i}:00:00Z"), "data": {}}));
    }
    out
}

/// The tea house's wider clientele: `n` customers with order histories
/// from 2025-09 to 2026-08, made by a fixed pseudo-random sequence so every
/// run is the same. Some buy often, some once, some stop — a population a
/// model can be fitted on (the six above alone are refused).
fn clientele(n: u64) -> Vec<Value> {
    let mut seed: u64 = 0x05ee_d7ea;
    let mut next = move |below: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % below
    };
    let start = chrono::NaiveDate::from_ymd_opt(2025, 9, 1).expect("a date");
    let mut out = Vec::new();
    for g in 0..n {
        let customer = format!("g-{g:03}");
        let mut day = next(300);
        // How often they come back, and for how long before they stop.
        let every = 7 + next(60);
        let stays = next(365);
        let spend = 3_000 + next(30) as i64 * 1_000;
        let mut k = 0;
        loop {
            let date = start + chrono::Days::new(day);
            out.push(json!({"id": format!("gen-{g}-{k}"), "type": "order.placed", "customer_id": customer,
                "occurred_at": format!("{date}T11:00:00Z"),
                "data": {"order_id": format!("go-{g}-{k}"), "total_cents": spend + next(5) as i64 * 500,
                         "currency": "CNY"}}));
            k += 1;
            day += every + next(every);
            if day >= 365 || day >= stays.max(1) + next(30) {
                break;
            }
        }
    }
    out
}

fn yuan(cents: i64) -> String {
    format!("¥{}.{:02}", cents / 100, (cents % 100).abs())
}

/// Runs the demo; with `serve`, keeps serving on `listen` afterwards (the
/// console then shows the demo's store) until Ctrl-C.
pub async fn run(
    data_dir: Option<PathBuf>,
    serve: bool,
    listen: Option<std::net::SocketAddr>,
) -> anyhow::Result<()> {
    let tmp;
    let data_dir = match data_dir {
        Some(d) => d,
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let bundled = [
        "points-basic",
        "rfm-segments",
        "value-grades",
        "loyalty-types",
        "churn-winback",
        "survey-scoring",
        "service-recovery",
    ];
    let mut built = Vec::new();
    for name in bundled {
        let dir = root.join("plugins").join(name);
        println!("== Building the bundled plugin {name}");
        let wasm = plugin_build::build(&dir, None).with_context(|| format!("building {name}"))?;
        built.push((dir, wasm));
    }

    let mut config = ServerConfig::new(&data_dir);
    config.admin_token = Some("demo-admin".into());
    if let Some(addr) = listen.or(serve.then(|| ([127, 0, 0, 1], 8080).into())) {
        config.listen = addr;
    }
    let running = server::start(config).await?;
    let admin = running.admin_token.clone();
    let c = Client(ApiClient::new(format!("http://{}", running.addr)));
    println!("== Clientele is serving on {} (data in {})", c.0.base, data_dir.display());

    for (dir, wasm) in &built {
        let manifest = std::fs::read_to_string(dir.join("plugin.toml"))?;
        let published = c.0.publish(&admin, &manifest, std::fs::read(wasm)?).await?.ok()?;
        println!(
            "== Published {}@{} (world {}, {} KiB, sha256 {}…)",
            published["name"].as_str().unwrap_or("?"),
            published["version"].as_str().unwrap_or("?"),
            published["world"].as_str().unwrap_or("?"),
            published["size_bytes"].as_i64().unwrap_or(0) / 1024,
            &published["sha256"].as_str().unwrap_or("")[..12]
        );
    }

    let store = c
        .post("/v1/stores", &admin, json!({"id": "tea-house", "name": "West Lake Tea House", "currency": "CNY", "timezone": "Asia/Shanghai"}))
        .await?;
    let key = store["api_key"].as_str().unwrap_or_default().to_string();
    let points_config = json!({
        "unit_cents": 100,
        "earn": [{"from_units": 0, "rate": 1}, {"from_units": 1000, "rate": 1.5}],
        "tiers": [{"name": "silver", "min_spend_cents": 200000, "multiplier": 1.2},
                  {"name": "gold", "min_spend_cents": 400000, "multiplier": 1.5}],
        "first_order_bonus": 100,
        "birthday_month_multiplier": 2.0,
        "review": {"base": 20, "photo_bonus": 30},
        "checkin": {"points": 5, "daily_cap": 1},
        "referral": 300,
        "expiry_days": 730
    });
    c.post(
        "/v1/stores/tea-house/installs",
        &key,
        // The birthday-month multiplier reads birthdays: the merchant
        // grants the plugin the `pii` scope it asks for.
        json!({"plugin": "points-basic", "config": points_config, "grants": ["pii"]}),
    )
    .await?;
    println!("== Store tea-house created; points-basic installed with tiers silver (¥2,000) and gold (¥4,000), granted `pii` for birthdays");

    for (id, name, birthday) in CUSTOMERS {
        c.put(
            &format!("/v1/stores/tea-house/customers/{id}"),
            &key,
            json!({"name": name, "birthday": birthday}),
        )
        .await?;
    }
    let events = events();
    let started = std::time::Instant::now();
    let result =
        c.post("/v1/stores/tea-house/events?wait=true", &key, json!({"events": events})).await?;
    let results = result["results"].as_array().cloned().unwrap_or_default();
    println!(
        "== {} events ingested and processed in {:.1} ms",
        results.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );

    println!("\n{:<10} {:<10} {:<18} {:>7}  what happened", "event", "customer", "type", "points");
    for (e, r) in events.iter().zip(&results) {
        let effects: Vec<Effect> = serde_json::from_value(r["effects"].clone()).unwrap_or_default();
        let pts: i64 = effects
            .iter()
            .map(|f| match f {
                Effect::Earn { points, .. } => *points,
                Effect::Deduct { points, .. } => -points,
                _ => 0,
            })
            .sum();
        let what: Vec<String> = effects
            .iter()
            .filter_map(|f| match f {
                Effect::SetTier { tier } => {
                    Some(format!("tier → {}", tier.as_deref().unwrap_or("none")))
                }
                Effect::Earn { points, reason, .. } => Some(format!("earn {points} ({reason})")),
                Effect::Deduct { points, reason, .. } => {
                    Some(format!("deduct {points} ({reason})"))
                }
                _ => None,
            })
            .collect();
        println!(
            "{:<10} {:<10} {:<18} {:>7}  {}",
            e["id"].as_str().unwrap_or(""),
            e["customer_id"].as_str().unwrap_or(""),
            e["type"].as_str().unwrap_or(""),
            pts,
            if what.is_empty() { "—".to_string() } else { what.join(", ") }
        );
    }

    let redeemed = c
        .post(
            "/v1/stores/tea-house/customers/c-li/points/redeem",
            &key,
            json!({"points": 500, "reason": "¥50 coupon"}),
        )
        .await?;
    println!("\n== c-li redeemed 500 points for a ¥50 coupon; balance now {}", redeemed["balance"]);

    println!(
        "\n{:<9} {:<10} {:>6} {:>12} {:<7} {:>7} {:>8}",
        "customer", "name", "orders", "net spend", "tier", "points", "entries"
    );
    for (id, name, _) in CUSTOMERS {
        let cust = c.get(&format!("/v1/stores/tea-house/customers/{id}"), &key).await?;
        let pts = c.get(&format!("/v1/stores/tea-house/customers/{id}/points"), &key).await?;
        println!(
            "{:<9} {:<10} {:>6} {:>12} {:<7} {:>7} {:>8}",
            id,
            name,
            cust["stats"]["orders"].as_i64().unwrap_or(0),
            yuan(cust["stats"]["net_spend_cents"].as_i64().unwrap_or(0)),
            cust["tier"].as_str().unwrap_or("—"),
            pts["balance"].as_i64().unwrap_or(0),
            pts["entries"].as_array().map_or(0, Vec::len)
        );
    }
    let installs = c.get("/v1/stores/tea-house/installs", &key).await?;
    println!(
        "\n{:<28} {:<20} {:>11} {:>8} {:>8} {:>8}",
        "install", "plugin", "invocations", "failures", "p50 µs", "p99 µs"
    );
    for i in installs.as_array().cloned().unwrap_or_default() {
        println!(
            "{:<28} {:<20} {:>11} {:>8} {:>8} {:>8}",
            i["install_id"].as_str().unwrap_or(""),
            format!(
                "{}@{}",
                i["plugin"].as_str().unwrap_or(""),
                i["version"].as_str().unwrap_or("")
            ),
            i["counters"]["invocations"].as_i64().unwrap_or(0),
            i["counters"]["failures"].as_i64().unwrap_or(0),
            i["counters"]["p50_us"].as_i64().unwrap_or(0),
            i["counters"]["p99_us"].as_i64().unwrap_or(0)
        );
    }
    crm(&c, &key).await?;
    println!(
        "\n== The console: {}/ — sign in with the store key {key} (the merchant's view of tea-house) or the admin token demo-admin (ops)",
        c.0.base
    );
    if serve {
        println!("== Serving until Ctrl-C (data in {})", data_dir.display());
        tokio::signal::ctrl_c().await?;
        running.shutdown().await;
    } else {
        println!(
            "\nDone. `clientele demo --serve` keeps this server running for the console; `clientele serve` runs one on an embedded database of its own; the API is described at /openapi.json."
        );
        running.task.abort();
    }
    Ok(())
}

/// Segmentation, a survey and a churn fit with rescue flows.
async fn crm(c: &Client, key: &str) -> anyhow::Result<()> {
    let base = "/v1/stores/tea-house";
    c.post(&format!("{base}/installs"), key, json!({"plugin": "rfm-segments"})).await?;
    c.post(
        &format!("{base}/installs"),
        key,
        json!({"plugin": "churn-winback", "config": {
            "threshold": 0.5, "min_value_cents": 100000,
            "steps": [{"after_seconds": 0, "channel": "email", "template": "miss-you"},
                      {"after_seconds": 2, "channel": "sms", "template": "coupon", "coupon_percent": 10}]}}),
    )
    .await?;
    c.post(&format!("{base}/installs"), key, json!({"plugin": "survey-scoring"})).await?;
    for plugin in ["value-grades", "loyalty-types"] {
        c.post(&format!("{base}/installs"), key, json!({"plugin": plugin})).await?;
    }
    println!("\n== Installed rfm-segments, value-grades (ABC), loyalty-types, churn-winback (rescue above ¥1,000 when P(alive) < 0.5) and survey-scoring");

    c.post(&format!("{base}/surveys"), key, json!({"id": "nps-spring", "kind": "nps"})).await?;
    let scores =
        [("c-li", 10), ("c-wang", 9), ("c-zhang", 7), ("c-chen", 3), ("c-liu", 8), ("c-zhao", 6)];
    let answers: Vec<Value> = scores
        .iter()
        .map(|(cust, score)| json!({"id": format!("nps-{cust}"), "type": "survey.submitted", "customer_id": cust,
            "occurred_at": "2026-06-01T12:00:00Z", "data": {"survey_id": "nps-spring", "answers": {"score": score}}}))
        .collect();
    c.post(&format!("{base}/events?wait=true"), key, json!({"events": answers})).await?;
    let report = c.get(&format!("{base}/surveys/nps-spring/report"), key).await?;
    println!(
        "\n== Survey nps-spring: {} responses, {} promoters, {} passives, {} detractors → NPS {}",
        report["responses"],
        report["promoters"],
        report["passives"],
        report["detractors"],
        report["nps"]
    );

    let as_of = json!({"as_of": "2026-09-01T00:00:00Z"});
    let fit = c.post(&format!("{base}/models/fit?wait=true"), key, as_of.clone()).await?;
    println!("\n== Population fit as of 2026-09-01, on the six customers alone");
    print_fits(&fit);
    let more = clientele(400);
    for chunk in more.chunks(1000) {
        c.post(&format!("{base}/events?wait=true"), key, json!({"events": chunk})).await?;
    }
    let fit = c.post(&format!("{base}/models/fit?wait=true"), key, as_of).await?;
    println!("\n== The same fit with the shop's 400 other customers ({} orders)", more.len());
    print_fits(&fit);
    // Step 0 runs at once, step 1 two seconds later.
    tokio::time::sleep(std::time::Duration::from_millis(3000)).await;

    println!(
        "\n{:<9} {:<62} {:>8} {:>6}  {:<8} {:<8} flow",
        "customer", "segments", "P(alive)", "risk", "value", "CLV"
    );
    for (id, _, _) in CUSTOMERS {
        let cust = c.get(&format!("{base}/customers/{id}"), key).await?;
        let churn =
            c.get(&format!("{base}/customers/{id}/churn"), key).await.unwrap_or(Value::Null);
        let segs: Vec<String> = cust["segments"]
            .as_array()
            .map(|l| l.iter().filter_map(|s| s.as_str().map(String::from)).collect())
            .unwrap_or_default();
        let flow = &churn["flow"];
        let clv = churn["details"]["clv_cents"].as_f64().map_or("—".into(), |v| yuan(v as i64));
        println!(
            "{:<9} {:<62} {:>8.3} {:>6.3}  {:<8} {:<8} {}",
            id,
            segs.join(" "),
            churn["p_alive"].as_f64().unwrap_or(1.0),
            churn["risk"].as_f64().unwrap_or(0.0),
            yuan(churn["value_cents"].as_i64().unwrap_or(0)),
            clv,
            if flow.is_null() {
                "—".to_string()
            } else {
                format!("{} (step {})", flow["state"].as_str().unwrap_or(""), flow["step"])
            }
        );
    }
    let messages = c.get(&format!("{base}/messages"), key).await?;
    println!("\n{:<9} {:<6} {:<9} {:<10} vars", "customer", "step", "channel", "state");
    for m in messages.as_array().cloned().unwrap_or_default() {
        println!(
            "{:<9} {:<6} {:<9} {:<10} {}",
            m["customer_id"].as_str().unwrap_or(""),
            m["step"].to_string(),
            m["channel"].as_str().unwrap_or(""),
            m["state"].as_str().unwrap_or(""),
            m["vars"]
        );
    }
    service_recovery(c, key).await?;
    retention(c, key).await
}

/// Two complaints through `service-recovery`: one resolved in time by a
/// satisfied customer, one left to pass its (demo-short) SLA.
async fn service_recovery(c: &Client, key: &str) -> anyhow::Result<()> {
    let base = "/v1/stores/tea-house";
    let config = json!({"sla_seconds": {"1": 2, "2": 2, "3": 2}, "follow_up_seconds": 1,
                        "survey_id": "nps-spring"});
    let install = json!({"plugin": "service-recovery", "config": config});
    c.post(&format!("{base}/installs"), key, install).await?;
    let now = || clientele::domain::time::to_rfc3339(clientele::domain::time::now_ms());
    let at = now();
    let filed = |id: &str, who: &str, complaint: &str, severity: u8| {
        json!({"id": id, "type": "complaint.filed", "customer_id": who, "occurred_at": at,
               "data": {"complaint_id": complaint, "category": "late-delivery", "severity": severity}})
    };
    let both =
        json!({"events": [filed("cmp-1", "c-li", "cp-1", 2), filed("cmp-2", "c-chen", "cp-2", 1)]});
    c.post(&format!("{base}/events?wait=true"), key, both).await?;
    let resolved = json!({"id": "cmp-1-ok", "type": "complaint.resolved", "customer_id": "c-li",
        "occurred_at": now(),
        "data": {"complaint_id": "cp-1", "resolution": "replacement sent", "satisfied": true}});
    c.post(&format!("{base}/events?wait=true"), key, json!({"events": [resolved]})).await?;
    println!(
        "\n== service-recovery installed (SLA 2 s for the demo); c-li's complaint resolved at once, c-chen's left open"
    );
    // The SLA passes, and the follow-up comes due.
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let complaints = c.get(&format!("{base}/complaints"), key).await?;
    println!(
        "\n{:<6} {:<9} {:>8}  {:<9} {:<8} {:<7}",
        "id", "customer", "severity", "state", "SLA met", "overdue"
    );
    for x in complaints.as_array().cloned().unwrap_or_default() {
        println!(
            "{:<6} {:<9} {:>8}  {:<9} {:<8} {:<7}",
            x["id"].as_str().unwrap_or(""),
            x["customer_id"].as_str().unwrap_or(""),
            x["severity"].as_i64().unwrap_or(0),
            x["state"].as_str().unwrap_or(""),
            x["sla_met"].to_string(),
            x["overdue_seconds"].as_i64().map_or("—".into(), |s| format!("{s} s")),
        );
    }
    let messages = c.get(&format!("{base}/messages"), key).await?;
    println!("\n{:<9} {:<16} {:<8} vars", "customer", "template", "channel");
    for m in messages.as_array().cloned().unwrap_or_default() {
        let template = m["template"].as_str().unwrap_or("");
        if ["apology", "escalation", "recovery-survey"].contains(&template) {
            println!(
                "{:<9} {:<16} {:<8} {}",
                m["customer_id"].as_str().unwrap_or(""),
                template,
                m["channel"].as_str().unwrap_or(""),
                m["vars"]
            );
        }
    }
    Ok(())
}

/// The store's retention by month, from the demo's first orders to this
/// month (the complaints above are this month's).
async fn retention(c: &Client, key: &str) -> anyhow::Result<()> {
    let today = chrono::Utc::now().date_naive();
    let path =
        format!("/v1/stores/tea-house/analytics/retention?period=month&from=2025-09-01&to={today}");
    let r = c.get(&path, key).await?;
    let pct = |v: &Value| v.as_f64().map_or("—".to_string(), |x| format!("{:.1}%", x * 100.0));
    let n = |v: &Value| v.as_i64().unwrap_or(0);
    println!("\n== Retention by month (the store's time zone)");
    println!(
        "{:<8} {:>6} {:>5} {:>9} {:>8} {:>9} {:>7} {:>7} {:>11} {:>10} {:>12}",
        "month",
        "active",
        "new",
        "returning",
        "retained",
        "retention",
        "churn",
        "repeat",
        "complainers",
        "complaints",
        "revenue"
    );
    for p in r["periods"].as_array().cloned().unwrap_or_default() {
        println!(
            "{:<8} {:>6} {:>5} {:>9} {:>8} {:>9} {:>7} {:>7} {:>11} {:>10} {:>12}",
            p["period"].as_str().unwrap_or(""),
            n(&p["active"]),
            n(&p["new"]),
            n(&p["returning"]),
            n(&p["retained"]),
            pct(&p["retention_rate"]),
            pct(&p["churn_rate"]),
            pct(&p["repeat_rate"]),
            n(&p["complainers"]),
            pct(&p["complaint_rate"]),
            yuan(p["revenue_cents"].as_i64().unwrap_or(0)),
        );
    }
    println!("\ncohort   customers  share active in each month after");
    for k in r["cohorts"].as_array().cloned().unwrap_or_default() {
        let shares: Vec<String> = k["shares"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|v| format!("{:>4.0}", v.as_f64().unwrap_or(0.0) * 100.0))
            .collect();
        let (period, customers) = (k["period"].as_str().unwrap_or(""), n(&k["customers"]));
        println!("{period:<8} {customers:>9}  {}", shares.join(" "));
    }
    Ok(())
}

fn print_fits(fit: &Value) {
    for f in fit["fits"].as_array().cloned().unwrap_or_default() {
        println!(
            "   {:<22} {:<7} {} customers in {} ms: {}",
            f["plugin"].as_str().unwrap_or(""),
            f["status"].as_str().unwrap_or(""),
            f["customers"],
            f["fit_ms"],
            if f["status"] == "ok" { f["summary"].to_string() } else { f["error"].to_string() }
        );
    }
}
