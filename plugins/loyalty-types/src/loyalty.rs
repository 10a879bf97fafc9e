//! Loyalty types, free of any WIT type so that they are unit-tested
//! natively. Attitude is the customer's latest scored answer among the
//! configured survey kinds (favourable when its configured answer field is
//! at least the configured value); behaviour is repeat patronage, at least
//! `repeat_orders` orders placed in the `window_days` whole days that end
//! at `as_of` (placed in (as_of − days × 86,400,000 ms, as_of]).
//!
//! | attitude \ behaviour | repeat           | not repeat      |
//! |----------------------|------------------|-----------------|
//! | favourable           | `loyalty:true`   | `loyalty:latent`|
//! | not favourable       | `loyalty:spurious` | `loyalty:none` |
//! | no answer            | `loyalty:unknown` | `loyalty:unknown` |

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

const DAY_MS: i64 = 86_400_000;

/// What makes an answer of one kind favourable.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The answers' field read, e.g. `score`.
    pub answer: String,
    pub at_least: f64,
}

/// The install's config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub window_days: u32,
    pub repeat_orders: u32,
    pub favourable: BTreeMap<String, Rule>,
}

impl Default for Config {
    fn default() -> Self {
        let rule = |answer: &str, at_least: f64| Rule { answer: answer.into(), at_least };
        Config {
            window_days: 365,
            repeat_orders: 2,
            favourable: BTreeMap::from([
                ("nps".into(), rule("score", 9.0)),
                ("csat".into(), rule("score", 4.0)),
                ("satisfaction7".into(), rule("level", 6.0)),
                ("acsi".into(), rule("satisfaction", 8.0)),
            ]),
        }
    }
}

impl Config {
    pub fn parse(json: &str) -> Result<Config, String> {
        let cfg: Config = serde_json::from_str(json).map_err(|e| format!("invalid config: {e}"))?;
        if cfg.window_days == 0 || cfg.repeat_orders == 0 {
            return Err(
                "invalid config: `window_days` and `repeat_orders` must be at least 1".into()
            );
        }
        if cfg.favourable.is_empty() {
            return Err("invalid config: `favourable` needs at least one survey kind".into());
        }
        Ok(cfg)
    }

    /// The survey kinds whose answers say the customer's attitude.
    pub fn kinds(&self) -> Vec<String> {
        self.favourable.keys().cloned().collect()
    }
}

/// A scored answer, as the host hands it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub survey_id: String,
    pub kind: String,
    pub submitted_at: i64,
    pub answers: Value,
}

/// Whether the answer is favourable under the config.
pub fn favourable(cfg: &Config, a: &Answer) -> bool {
    let Some(rule) = cfg.favourable.get(&a.kind) else {
        return false;
    };
    a.answers.get(&rule.answer).and_then(Value::as_f64).is_some_and(|v| v >= rule.at_least)
}

/// How many of the order times fall in the window that ends at `as_of`.
pub fn orders_in_window(cfg: &Config, placed: &[i64], as_of: i64) -> u32 {
    let from = as_of - i64::from(cfg.window_days) * DAY_MS;
    placed.iter().filter(|&&t| t > from && t <= as_of).count() as u32
}

/// The customer's loyalty type and its attributes, from their latest
/// answer (the newest among `latest`) and their orders in the window.
pub fn loyalty_type(cfg: &Config, latest: &[Answer], in_window: u32) -> (String, Value) {
    let repeat = in_window >= cfg.repeat_orders;
    let mut attributes = json!({
        "behaviour": if repeat { "repeat" } else { "not-repeat" },
        "orders_in_window": in_window,
    });
    let newest = latest.iter().fold(None::<&Answer>, |best, a| match best {
        Some(b) if b.submitted_at >= a.submitted_at => Some(b),
        _ => Some(a),
    });
    let Some(answer) = newest else {
        return ("loyalty:unknown".into(), attributes);
    };
    let good = favourable(cfg, answer);
    attributes["attitude"] = json!(if good { "favourable" } else { "unfavourable" });
    attributes["survey_id"] = json!(answer.survey_id);
    attributes["kind"] = json!(answer.kind);
    attributes["answered_at"] = json!(answer.submitted_at);
    let name = match (good, repeat) {
        (true, true) => "loyalty:true",
        (true, false) => "loyalty:latent",
        (false, true) => "loyalty:spurious",
        (false, false) => "loyalty:none",
    };
    (name.into(), attributes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(kind: &str, at: i64, answers: Value) -> Answer {
        Answer { survey_id: format!("s-{kind}"), kind: kind.into(), submitted_at: at, answers }
    }

    #[test]
    fn each_of_the_five_types() {
        let cfg = Config::default();
        let fan = [answer("nps", 5, json!({"score": 9}))];
        let critic = [answer("nps", 5, json!({"score": 8}))];
        assert_eq!(loyalty_type(&cfg, &fan, 2).0, "loyalty:true");
        assert_eq!(loyalty_type(&cfg, &fan, 1).0, "loyalty:latent");
        assert_eq!(loyalty_type(&cfg, &critic, 3).0, "loyalty:spurious");
        assert_eq!(loyalty_type(&cfg, &critic, 0).0, "loyalty:none");
        let (name, attrs) = loyalty_type(&cfg, &[], 4);
        assert_eq!(name, "loyalty:unknown");
        assert_eq!(attrs, json!({"behaviour": "repeat", "orders_in_window": 4}));
    }

    #[test]
    fn the_latest_answer_decides_at_each_kinds_threshold() {
        let cfg = Config::default();
        // A favourable CSAT (4) given after an unfavourable NPS.
        let list = [answer("nps", 1, json!({"score": 3})), answer("csat", 2, json!({"score": 4}))];
        let (name, attrs) = loyalty_type(&cfg, &list, 0);
        assert_eq!(name, "loyalty:latent");
        assert_eq!(attrs["kind"], "csat");
        assert_eq!(attrs["attitude"], "favourable");
        let at = |kind: &str, answers: Value| favourable(&cfg, &answer(kind, 0, answers));
        assert!(at("satisfaction7", json!({"level": 6})));
        assert!(!at("satisfaction7", json!({"level": 5})));
        assert!(at("acsi", json!({"satisfaction": 8, "expectations": 1, "ideal": 1})));
        assert!(!at("acsi", json!({"satisfaction": 7})));
        assert!(!at("acsi", json!({"quality": 10})), "an ACSI over other items");
        assert!(!at("ces", json!({"score": 7})), "a kind not configured");
        assert!(!at("nps", json!({"score": "10"})), "not a number");
    }

    #[test]
    fn the_window_ends_at_as_of_and_excludes_its_start() {
        let cfg = Config { window_days: 10, ..Config::default() };
        let as_of = 100 * DAY_MS;
        let placed = [90 * DAY_MS, 90 * DAY_MS + 1, as_of, as_of + 1];
        assert_eq!(orders_in_window(&cfg, &placed, as_of), 2);
    }

    #[test]
    fn config_is_checked() {
        assert!(Config::parse("{}").is_ok());
        assert!(Config::parse(r#"{"favourable": {}}"#).is_err());
        assert!(Config::parse(r#"{"repeat_orders": 0}"#).is_err());
        let cfg = Config::parse(r#"{"favourable": {"again": {"answer": "yes", "at_least": 1}}}"#)
            .unwrap();
        assert_eq!(cfg.kinds(), ["again"]);
    }
}
