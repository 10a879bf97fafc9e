//! A `point-rules` component that misbehaves on request, for the sandbox
//! tests. The install config's `mode` picks the misbehaviour.

wit_bindgen::generate!({
    path: "../../../wit/since_v0.1.0",
    world: "point-rules",
});

use clientele::crm::types::{Customer, Event, EventKind};
use clientele::crm::{customers, log, messaging, state};
use exports::clientele::crm::loyalty::{Earn, Guest, LedgerOp};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Hostile;

fn mode(config: &str) -> String {
    // Tiny config reader: {"mode":"<word>"}.
    config
        .split("\"mode\"")
        .nth(1)
        .and_then(|rest| rest.split('"').nth(1))
        .unwrap_or("ok")
        .to_string()
}

/// Tiny config reader for a number: {"<key>": <digits>}.
fn number(config: &str, key: &str) -> u64 {
    config
        .split(&format!("\"{key}\""))
        .nth(1)
        .map(|rest| {
            rest.trim_start_matches([':', ' '])
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(0)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn earn(points: i64, reason: &str) -> LedgerOp {
    LedgerOp::Earn(Earn { points, reason: reason.to_string(), expires_at: None })
}

impl Guest for Hostile {
    fn on_event(config: String, customer: Customer, event: Event) -> Result<Vec<LedgerOp>, String> {
        match mode(&config).as_str() {
            "loop" => {
                let mut x: u64 = 1;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "sleep" => {
                // Blocks in the host (WASI clocks + poll), not in wasm:
                // the epoch deadline alone would never stop it.
                std::thread::sleep(std::time::Duration::from_millis(1_000_000_000_000));
                Ok(vec![earn(1, "woke")])
            }
            "forge" => {
                log::write(
                    log::Level::Info,
                    "ok\n2099-01-01T00:00:00.000000Z ERROR clientele::server: FORGED-LOG \u{1b}[31mred\u{1b}[0m",
                );
                println!("out\rFORGED-STDOUT\u{1b}[2K");
                Ok(vec![earn(1, "forged")])
            }
            "expiry" => Ok(vec![LedgerOp::Earn(Earn {
                points: 5,
                reason: "forever".to_string(),
                expires_at: Some(i64::MAX),
            })]),
            "work" => {
                // `n` rounds of arithmetic: the same fuel every time.
                let mut x: u64 = 1;
                for _ in 0..number(&config, "n") {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
                Ok(vec![earn((x % 7) as i64 + 1, "worked")])
            }
            "flaky" => {
                // Fails in a way that may pass until the config's `until`
                // (epoch ms), then earns as `ok` does.
                if now_ms() < number(&config, "until") {
                    Err("retryable: the upstream is busy".to_string())
                } else {
                    Ok(vec![earn(customer.stats.orders as i64 + 1, "ok")])
                }
            }
            "big" => {
                // Decides differently from `ok` for orders of 50.00 and up.
                match &event.kind {
                    EventKind::OrderPlaced(o) if o.total_cents >= 5000 => {
                        Ok(vec![earn(999, "big")])
                    }
                    _ => Ok(vec![earn(customer.stats.orders as i64 + 1, "ok")]),
                }
            }
            "pii" => {
                // What it sees of the customer's personal data, as given and
                // through `customers.get`.
                let again = customers::get(&customer.id);
                let seen = format!(
                    "email={};phone={};name={};birthday={};get-email={}",
                    customer.email.unwrap_or_default(),
                    customer.phone.unwrap_or_default(),
                    customer.name.unwrap_or_default(),
                    customer.birthday.unwrap_or_default(),
                    again.and_then(|c| c.email).unwrap_or_default()
                );
                Ok(vec![earn(1, &seen)])
            }
            "fail-first" => {
                // Refuses a customer's first order, and earns as `ok` does
                // for the rest: what it decides shows the statistics it
                // was handed.
                if customer.stats.orders <= 1 {
                    Err("this plugin refuses first orders".to_string())
                } else {
                    Ok(vec![earn(customer.stats.orders as i64 + 1, "ok")])
                }
            }
            "stall" => {
                // Runs past its deadline (in the host, like `sleep`) until
                // the config's `until` (epoch ms), then earns as `ok` does.
                if now_ms() < number(&config, "until") {
                    std::thread::sleep(std::time::Duration::from_secs(3600));
                }
                Ok(vec![earn(customer.stats.orders as i64 + 1, "ok")])
            }
            "trap" => panic!("deliberate trap for event {}", event.id),
            "error" => Err("this plugin refuses".to_string()),
            "negative" => Ok(vec![earn(-50, "garbage")]),
            "flood" => Ok((0..10_000).map(|_| earn(1, "flood")).collect()),
            "print" => {
                println!("hello from stdout");
                log::write(log::Level::Info, "hello from the log interface");
                Ok(vec![earn(1, "printed")])
            }
            "state" => {
                let n = state::get("n").map(|b| b[0]).unwrap_or(0) + 1;
                state::set("n", &[n])?;
                Ok(vec![earn(i64::from(n), "nth-event")])
            }
            "hoard" => {
                // 80 KiB a call under a new key, beside a pad rewritten on
                // every call: the third key fits the cap on one customer's
                // state only once the first is deleted, the fourth not at all.
                let n = state::get("n").map(|b| b[0]).unwrap_or(0) + 1;
                state::set("n", &[n])?;
                let value = vec![n; 80 * 1024];
                state::set("pad", &value)?;
                let key = format!("k{n}");
                let how = if state::set(&key, &value).is_ok() {
                    "stored"
                } else {
                    state::delete("k1");
                    if state::set(&key, &value).is_ok() {
                        "made-room"
                    } else {
                        "capped"
                    }
                };
                let k1 = state::get("k1").is_some();
                let k2 = state::get("k2").map_or(0, |v| v.len());
                Ok(vec![earn(i64::from(n), &format!("{how} k1={k1} k2={k2}"))])
            }
            "message" => {
                messaging::send("email", &customer.id, "welcome", "{\"name\":\"x\"}")?;
                Ok(vec![])
            }
            "peek" => {
                // Reads through the customers import: same store only.
                let other = customers::get("c-other");
                let balance = customers::points_balance(&customer.id);
                Ok(vec![earn(if other.is_some() { 1000 } else { 1 } + balance, "peek")])
            }
            _ => Ok(vec![earn(customer.stats.orders as i64 + 1, "ok")]),
        }
    }
}

#[cfg(target_arch = "wasm32")]
export!(Hostile);
