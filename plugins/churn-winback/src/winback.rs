//! From purchase statistics to BG/NBD histories, assessments, and the
//! win-back flow's steps. Free of WIT types so it is unit-tested natively.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::bgnbd::{History, Params};

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub after_seconds: u64,
    pub channel: String,
    pub template: String,
    #[serde(default)]
    pub coupon_percent: Option<u8>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub threshold: f64,
    pub min_value_cents: i64,
    pub steps: Vec<Step>,
    /// Whole days after a flow ended (rescued or expired) in which no new
    /// flow starts; 0 (the default) starts one at the next assessment.
    pub cooldown_days: u32,
    /// The least customers with an order a fit needs; below it the fit is
    /// refused and the model before it stays.
    pub min_customers: usize,
    /// The least customers with a repeat purchase a fit needs.
    pub min_repeat_buyers: usize,
    /// Whole days ahead that expected purchases and CLV count.
    pub horizon_days: u32,
    /// The share of spend that is profit: CLV = purchases × spend × margin.
    pub margin: f64,
    /// Which customers at risk a flow is started for.
    pub rescue_if: RescueIf,
    /// The share of a customer's CLV a rescue is expected to win back.
    pub expected_uplift: f64,
    /// What one message of a flow costs.
    pub message_cost_cents: f64,
}

/// The rule that says a customer at risk is worth a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RescueIf {
    /// Net spend of at least `min_value_cents`.
    Value,
    /// `clv_cents × expected_uplift` above the flow's cost.
    Clv,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            threshold: 0.5,
            min_value_cents: 0,
            steps: vec![
                Step {
                    after_seconds: 0,
                    channel: "email".into(),
                    template: "miss-you".into(),
                    coupon_percent: None,
                },
                Step {
                    after_seconds: 604_800,
                    channel: "sms".into(),
                    template: "coupon".into(),
                    coupon_percent: Some(10),
                },
            ],
            cooldown_days: 0,
            min_customers: 100,
            min_repeat_buyers: 30,
            horizon_days: 365,
            margin: 1.0,
            rescue_if: RescueIf::Value,
            expected_uplift: 0.1,
            message_cost_cents: 10.0,
        }
    }
}

impl Config {
    pub fn parse(json: &str) -> Result<Config, String> {
        let cfg: Config = serde_json::from_str(json).map_err(|e| format!("invalid config: {e}"))?;
        if cfg.steps.is_empty() {
            return Err("invalid config: `steps` needs at least one step".into());
        }
        Ok(cfg)
    }

    /// What a flow of these steps costs for a customer expected to spend
    /// `expected_value_cents` per purchase: each step's message, plus its
    /// coupon's percent of that spend.
    pub fn flow_cost_cents(&self, expected_value_cents: f64) -> f64 {
        self.steps
            .iter()
            .map(|s| {
                let coupon = f64::from(s.coupon_percent.unwrap_or(0)) / 100.0;
                self.message_cost_cents + coupon * expected_value_cents
            })
            .sum()
    }
}

/// The fitted model as kept by the host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    pub params: Params,
    pub as_of: i64,
    pub customers: usize,
    pub log_likelihood: f64,
    pub iterations: u32,
    /// The Gamma-Gamma spend model (none in models fitted before 1.2.0).
    #[serde(default)]
    pub spend: Option<crate::gamma_gamma::Params>,
    /// The mean repeat-day spend of the customers the spend model was
    /// fitted on: what a customer is expected to spend when the model has
    /// no finite population mean (q ≤ 1).
    #[serde(default)]
    pub mean_spend_cents: f64,
}

/// The UTC day number of a timestamp.
fn day(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// A customer's history in weeks: `t_x` from the first to the last
/// purchase day, `T` from the first purchase day to the day of `as_of`.
/// None without an order.
pub fn history(
    repeat_days: u32,
    first: Option<i64>,
    last: Option<i64>,
    as_of: i64,
) -> Option<History> {
    let first = day(first?);
    let last = day(last?);
    Some(History {
        x: repeat_days,
        t_x: (last - first).max(0) as f64 / 7.0,
        t: (day(as_of) - first).max(0) as f64 / 7.0,
    })
}

/// What `assess` answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub p_alive: f64,
    pub details: Value,
}

/// P(alive) and, with a spend model, what the customer is expected to be
/// worth over the horizon: `expected_purchases` (BG/NBD), their
/// `expected_value_cents` per purchase (Gamma-Gamma, from x repeat days of
/// mean `repeat_mean_cents`; the population mean without one) and
/// `clv_cents` = purchases × value × margin; under `rescue_if: clv`, the
/// numbers the rescue decision compares.
pub fn assess(
    cfg: &Config,
    model: Option<&Model>,
    history: Option<History>,
    repeat_mean_cents: Option<f64>,
) -> Assessment {
    let (m, h) = match (model, history) {
        (None, _) => {
            return Assessment { p_alive: 1.0, details: json!({"reason": "no fitted model yet"}) }
        }
        (Some(_), None) => {
            return Assessment { p_alive: 1.0, details: json!({"reason": "no order yet"}) }
        }
        (Some(m), Some(h)) => (m, h),
    };
    let mut details = json!({"x": h.x, "t_x_weeks": h.t_x, "t_weeks": h.t});
    if let Some(spend) = &m.spend {
        let purchases =
            crate::bgnbd::expected_purchases(&m.params, &h, f64::from(cfg.horizon_days) / 7.0);
        let value = match repeat_mean_cents {
            Some(mean) if h.x > 0 && mean > 0.0 => spend.expected_spend(h.x, mean),
            _ => spend.population_mean().unwrap_or(m.mean_spend_cents),
        };
        let clv = purchases * value * cfg.margin;
        details["horizon_days"] = json!(cfg.horizon_days);
        details["expected_purchases"] = json!(purchases);
        details["expected_value_cents"] = json!(value.round());
        details["clv_cents"] = json!(clv.round());
        if cfg.rescue_if == RescueIf::Clv {
            let (worth, cost) = (clv * cfg.expected_uplift, cfg.flow_cost_cents(value));
            details["rescue"] = json!({
                "rule": "clv",
                "worth_cents": (worth * 100.0).round() / 100.0,
                "cost_cents": (cost * 100.0).round() / 100.0,
                "worth_it": worth > cost,
            });
        }
    }
    Assessment { p_alive: crate::bgnbd::p_alive(&m.params, &h), details }
}

/// One thing the flow asks the host to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Send {
        channel: String,
        template: String,
        vars: Value,
    },
    Coupon(u8),
    /// Run step `step` this many seconds after the flow started.
    Schedule {
        after_seconds: u64,
        step: u32,
    },
    EndSkipped,
    EndExpired,
}

/// Starts a flow for a customer at risk and worth it, skips one at risk
/// but not worth it, and leaves everyone else alone. Worth it: under
/// `rescue_if: value`, net spend of at least `min_value_cents`; under
/// `clv`, the decision `assess` put in the details (`rescue.worth_it`),
/// or the value rule for an assessment without a CLV (a model fitted
/// before the spend model).
pub fn plan(cfg: &Config, p_alive: f64, value_cents: i64, details: &Value) -> Vec<Action> {
    if p_alive >= cfg.threshold {
        return Vec::new();
    }
    let by_value = value_cents >= cfg.min_value_cents;
    let worth_it = match cfg.rescue_if {
        RescueIf::Value => by_value,
        RescueIf::Clv => details["rescue"]["worth_it"].as_bool().unwrap_or(by_value),
    };
    if !worth_it {
        return vec![Action::EndSkipped];
    }
    vec![Action::Schedule { after_seconds: cfg.steps[0].after_seconds, step: 0 }]
}

/// Whether a flow that ended at `ended_at` still holds off a new one at
/// `now`: for `cooldown_days` × 24 h after it ended.
pub fn cooling_down(cfg: &Config, ended_at: Option<i64>, now: i64) -> bool {
    ended_at.is_some_and(|end| now < end + i64::from(cfg.cooldown_days) * DAY_MS)
}

/// Step `step` is due: send its message (with its coupon), then schedule
/// the next step or, after the last, end the flow `expired`.
pub fn on_timer(cfg: &Config, step: u32) -> Vec<Action> {
    let Some(s) = cfg.steps.get(step as usize) else {
        return vec![Action::EndExpired];
    };
    let mut actions = Vec::new();
    let mut vars = json!({"step": step});
    if let Some(pct) = s.coupon_percent {
        vars["coupon_percent"] = json!(pct);
        actions.push(Action::Coupon(pct));
    }
    actions.push(Action::Send { channel: s.channel.clone(), template: s.template.clone(), vars });
    match cfg.steps.get(step as usize + 1) {
        Some(next) => {
            actions.push(Action::Schedule { after_seconds: next.after_seconds, step: step + 1 })
        }
        None => actions.push(Action::EndExpired),
    }
    actions
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cooldown_holds_off_a_new_flow_for_whole_days_after_the_end() {
        let mut cfg = super::Config::default();
        let end = 1_700_000_000_000;
        assert!(!super::cooling_down(&cfg, Some(end), end), "none by default");
        cfg.cooldown_days = 30;
        assert!(super::cooling_down(&cfg, Some(end), end + 29 * super::DAY_MS));
        assert!(super::cooling_down(&cfg, Some(end), end + 30 * super::DAY_MS - 1));
        assert!(!super::cooling_down(&cfg, Some(end), end + 30 * super::DAY_MS));
        assert!(!super::cooling_down(&cfg, None, end));
    }

    use super::*;

    #[test]
    fn history_counts_whole_days_in_weeks() {
        // First order day 0 at 23:00, last on day 14 at 01:00, as-of day 21 at 12:00.
        let first = 23 * 3_600_000;
        let last = 14 * DAY_MS + 3_600_000;
        let as_of = 21 * DAY_MS + 12 * 3_600_000;
        let h = history(3, Some(first), Some(last), as_of).unwrap();
        assert_eq!(h.x, 3);
        assert_eq!(h.t_x, 2.0);
        assert_eq!(h.t, 3.0);
        assert!(history(0, None, None, as_of).is_none());
    }

    #[test]
    fn plan_starts_skips_or_leaves_alone() {
        let cfg = Config { min_value_cents: 5000, ..Config::default() };
        let none = json!({});
        assert_eq!(plan(&cfg, 0.5, 10_000, &none), vec![]);
        assert_eq!(plan(&cfg, 0.49, 4_999, &none), vec![Action::EndSkipped]);
        let start = vec![Action::Schedule { after_seconds: 0, step: 0 }];
        assert_eq!(plan(&cfg, 0.2, 5_000, &none), start);
    }

    #[test]
    fn default_steps_send_then_coupon_then_expire() {
        let cfg = Config::parse("{}").unwrap();
        assert_eq!(
            on_timer(&cfg, 0),
            vec![
                Action::Send {
                    channel: "email".into(),
                    template: "miss-you".into(),
                    vars: json!({"step": 0})
                },
                Action::Schedule { after_seconds: 604_800, step: 1 }
            ]
        );
        assert_eq!(
            on_timer(&cfg, 1),
            vec![
                Action::Coupon(10),
                Action::Send {
                    channel: "sms".into(),
                    template: "coupon".into(),
                    vars: json!({"step": 1, "coupon_percent": 10})
                },
                Action::EndExpired
            ]
        );
        assert_eq!(on_timer(&cfg, 7), vec![Action::EndExpired]);
    }

    #[test]
    fn assess_without_model_or_orders_is_alive() {
        let cfg = Config::default();
        assert_eq!(assess(&cfg, None, None, None).p_alive, 1.0);
        let m = Model {
            params: Params { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 },
            as_of: 0,
            customers: 10,
            log_likelihood: 0.0,
            iterations: 0,
            spend: None,
            mean_spend_cents: 0.0,
        };
        assert_eq!(assess(&cfg, Some(&m), None, None).p_alive, 1.0);
        let h = History { x: 4, t_x: 2.0, t: 52.0 };
        let a = assess(&cfg, Some(&m), Some(h), None);
        assert!(a.p_alive < 0.1, "{}", a.p_alive);
    }

    /// CLV by hand under the paper's CDNOW parameters (spend in dollars as
    /// if cents): x = 2, m = 20 → E(M) = 6.25 · 55.44 / 15.24; purchases
    /// over 52 weeks as lifetimes computes them (1.5587208064320972).
    #[test]
    fn clv_and_the_rescue_budget_by_hand() {
        let m = Model {
            params: Params { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 },
            as_of: 0,
            customers: 2357,
            log_likelihood: 0.0,
            iterations: 0,
            spend: Some(crate::gamma_gamma::Params { p: 6.25, q: 3.74, v: 15.44 }),
            mean_spend_cents: 0.0,
        };
        let cfg = Config { horizon_days: 364, margin: 0.5, ..Config::default() };
        let h = History { x: 2, t_x: 30.43, t: 38.86 };
        let a = assess(&cfg, Some(&m), Some(h), Some(20.0));
        let purchases = 1.558_720_806_432_097_2;
        let value: f64 = 6.25 * 55.44 / 15.24;
        let got = a.details["expected_purchases"].as_f64().unwrap();
        assert!((got - purchases).abs() < 1e-9, "{got}");
        assert_eq!(a.details["expected_value_cents"], json!(value.round()));
        assert_eq!(a.details["clv_cents"], json!((purchases * value * 0.5).round()));
        assert!(a.details.get("rescue").is_none(), "the value rule needs no budget");
        // No repeat day: the population mean pv/(q−1).
        let first = History { x: 0, t_x: 0.0, t: 38.86 };
        let a = assess(&cfg, Some(&m), Some(first), None);
        assert_eq!(a.details["expected_value_cents"], json!((96.5f64 / 2.74).round()));

        // The default flow: two messages (10 each) and a 10 % coupon of
        // the expected spend: cost = 20 + 0.1 · value.
        let clv = Config { rescue_if: RescueIf::Clv, ..cfg.clone() };
        assert!((clv.flow_cost_cents(value) - (20.0 + 0.1 * value)).abs() < 1e-12);
        // Worth = clv · 0.1 = 1.5587 · 22.736 · 0.5 · 0.1 = 1.77 < 22.27: skipped.
        let a = assess(&clv, Some(&m), Some(h), Some(20.0));
        assert_eq!(a.details["rescue"]["worth_it"], false);
        assert_eq!(plan(&clv, 0.3, 1_000_000, &a.details), vec![Action::EndSkipped]);
        // At 2,000 a repeat day and a whole margin: value = 6.25 · 4015.44 /
        // 15.24 = 1646.75, worth = 1.5587 · 1646.75 · 0.1 = 256.7 > cost
        // 20 + 164.7: a flow, whatever the net spend.
        let clv = Config { margin: 1.0, ..clv };
        let a = assess(&clv, Some(&m), Some(h), Some(2_000.0));
        assert_eq!(a.details["rescue"]["worth_it"], true);
        assert_eq!(
            plan(&clv, 0.3, 0, &a.details),
            vec![Action::Schedule { after_seconds: 0, step: 0 }]
        );
        assert_eq!(plan(&clv, 0.6, 0, &a.details), vec![], "not at risk");
    }

    #[test]
    fn config_needs_steps() {
        assert!(Config::parse(r#"{"steps": []}"#).is_err());
        assert!(Config::parse(r#"{"bogus": 1}"#).is_err());
    }
}
