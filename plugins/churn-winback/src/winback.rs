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
}

/// The fitted model as kept by the host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    pub params: Params,
    pub as_of: i64,
    pub customers: usize,
    pub log_likelihood: f64,
    pub iterations: u32,
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

pub fn assess(model: Option<&Model>, history: Option<History>) -> Assessment {
    match (model, history) {
        (None, _) => Assessment { p_alive: 1.0, details: json!({"reason": "no fitted model yet"}) },
        (Some(_), None) => Assessment { p_alive: 1.0, details: json!({"reason": "no order yet"}) },
        (Some(m), Some(h)) => Assessment {
            p_alive: crate::bgnbd::p_alive(&m.params, &h),
            details: json!({"x": h.x, "t_x_weeks": h.t_x, "t_weeks": h.t}),
        },
    }
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
/// but not worth it, and leaves everyone else alone.
pub fn plan(cfg: &Config, p_alive: f64, value_cents: i64) -> Vec<Action> {
    if p_alive >= cfg.threshold {
        return Vec::new();
    }
    if value_cents < cfg.min_value_cents {
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
        assert_eq!(plan(&cfg, 0.5, 10_000), vec![]);
        assert_eq!(plan(&cfg, 0.49, 4_999), vec![Action::EndSkipped]);
        assert_eq!(plan(&cfg, 0.2, 5_000), vec![Action::Schedule { after_seconds: 0, step: 0 }]);
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
        assert_eq!(assess(None, None).p_alive, 1.0);
        let m = Model {
            params: Params { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 },
            as_of: 0,
            customers: 10,
            log_likelihood: 0.0,
            iterations: 0,
        };
        assert_eq!(assess(Some(&m), None).p_alive, 1.0);
        let h = History { x: 4, t_x: 2.0, t: 52.0 };
        let a = assess(Some(&m), Some(h));
        assert!(a.p_alive < 0.1, "{}", a.p_alive);
    }

    #[test]
    fn config_needs_steps() {
        assert!(Config::parse(r#"{"steps": []}"#).is_err());
        assert!(Config::parse(r#"{"bogus": 1}"#).is_err());
    }
}
