//! The RFM method, free of any WIT type so that it is unit-tested natively.
//!
//! - R: whole days (floor) from the last order to `as_of`;
//!   F: orders; M: net spend in cents.
//! - `fit` takes the quintile cut-offs `q_k = sorted[⌈k·n/5⌉ − 1]`,
//!   k = 1..4, over the n customers with an order (nearest rank).
//! - `classify` scores F and M as `1 + #{k : x > q_k}` and R as
//!   `5 − #{k : R > q_k}` (recent is high), names the segment from R and F,
//!   and adds the lifecycle type.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const DAY_MS: i64 = 86_400_000;

/// The install's config.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub loyal_min_orders: u32,
    pub active_days: i64,
    pub lapsed_days: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config { loyal_min_orders: 4, active_days: 90, lapsed_days: 180 }
    }
}

impl Config {
    pub fn parse(json: &str) -> Result<Config, String> {
        serde_json::from_str(json).map_err(|e| format!("invalid config: {e}"))
    }
}

/// A customer with at least one order, as the fit sees it.
pub struct Row {
    pub orders: u32,
    pub last_order: i64,
    pub net_spend_cents: i64,
}

/// A customer's statistics, as `classify` sees them.
pub struct Stats {
    pub orders: u32,
    pub last_order: Option<i64>,
    pub net_spend_cents: i64,
}

/// The fitted cut-offs (`q_1..q_4` per dimension).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub as_of: i64,
    pub customers: usize,
    pub recency_days: [i64; 4],
    pub frequency: [i64; 4],
    pub monetary_cents: [i64; 4],
}

impl Model {
    /// What merchants see of the model.
    pub fn summary(&self) -> Value {
        json!({
            "customers": self.customers,
            "cutoffs": {
                "recency_days": self.recency_days,
                "frequency": self.frequency,
                "monetary_cents": self.monetary_cents,
            }
        })
    }
}

/// One membership: `rfm:<segment>` or `type:<type>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub segment: String,
    pub attributes: Value,
}

/// Whole days from `from` to `to`, rounded down.
pub fn days_between(from: i64, to: i64) -> i64 {
    (to - from).div_euclid(DAY_MS)
}

/// `q_k = sorted[⌈k·n/5⌉ − 1]` for k = 1..4; `values` must not be empty.
pub fn quintile_cutoffs(mut values: Vec<i64>) -> [i64; 4] {
    values.sort_unstable();
    let n = values.len();
    let mut q = [0; 4];
    for (k, slot) in (1..=4).zip(q.iter_mut()) {
        let rank = (k * n).div_ceil(5);
        *slot = values[rank - 1];
    }
    q
}

pub fn fit(rows: &[Row], as_of: i64) -> Model {
    if rows.is_empty() {
        return Model {
            as_of,
            customers: 0,
            recency_days: [0; 4],
            frequency: [0; 4],
            monetary_cents: [0; 4],
        };
    }
    Model {
        as_of,
        customers: rows.len(),
        recency_days: quintile_cutoffs(
            rows.iter().map(|r| days_between(r.last_order, as_of)).collect(),
        ),
        frequency: quintile_cutoffs(rows.iter().map(|r| i64::from(r.orders)).collect()),
        monetary_cents: quintile_cutoffs(rows.iter().map(|r| r.net_spend_cents).collect()),
    }
}

fn above(x: i64, cutoffs: &[i64; 4]) -> i64 {
    cutoffs.iter().filter(|&&q| x > q).count() as i64
}

/// The segment named by the R and F scores (each 1..=5).
pub fn segment(r: i64, f: i64) -> &'static str {
    match (r, f) {
        (1..=2, 1..=2) => "hibernating",
        (1..=2, 3..=4) => "at_risk",
        (1..=2, _) => "cant_lose",
        (3, 1..=2) => "about_to_sleep",
        (3, 3) => "need_attention",
        (3..=4, 4..=5) => "loyal",
        (4, 1) => "promising",
        (5, 1) => "new",
        (4..=5, 2..=3) => "potential_loyalist",
        _ => "champions",
    }
}

/// The lifecycle type: the first that applies of lapsed, loyal, repeat,
/// new, potential.
pub fn customer_type(cfg: &Config, stats: &Stats, as_of: i64) -> &'static str {
    let days = stats.last_order.map(|t| days_between(t, as_of));
    match days {
        Some(d) if stats.orders > 0 && d > cfg.lapsed_days => "lapsed",
        Some(d) if stats.orders >= cfg.loyal_min_orders && d <= cfg.active_days => "loyal",
        _ if stats.orders >= 2 => "repeat",
        _ if stats.orders == 1 => "new",
        _ => "potential",
    }
}

pub fn classify(cfg: &Config, model: Option<&Model>, stats: &Stats, as_of: i64) -> Vec<Member> {
    let mut out = Vec::with_capacity(2);
    if let (Some(model), Some(last)) = (model.filter(|m| m.customers > 0), stats.last_order) {
        if stats.orders > 0 {
            let days = days_between(last, as_of);
            let r = 5 - above(days, &model.recency_days);
            let f = 1 + above(i64::from(stats.orders), &model.frequency);
            let m = 1 + above(stats.net_spend_cents, &model.monetary_cents);
            out.push(Member {
                segment: format!("rfm:{}", segment(r, f)),
                attributes: json!({
                    "r": r, "f": f, "m": m,
                    "score": format!("{r}{f}{m}"),
                    "recency_days": days,
                    "orders": stats.orders,
                    "net_spend_cents": stats.net_spend_cents,
                }),
            });
        }
    }
    let t = customer_type(cfg, stats, as_of);
    out.push(Member {
        segment: format!("type:{t}"),
        attributes: json!({
            "orders": stats.orders,
            "days_since_last_order": stats.last_order.map(|l| days_between(l, as_of)),
        }),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const AS_OF: i64 = 1_780_000_000_000;

    fn row(days_ago: i64, orders: u32, spend: i64) -> Row {
        Row { orders, last_order: AS_OF - days_ago * DAY_MS, net_spend_cents: spend }
    }

    #[test]
    fn nearest_rank_cutoffs() {
        // n = 10: ranks ⌈2⌉,⌈4⌉,⌈6⌉,⌈8⌉ → sorted[1], [3], [5], [7].
        assert_eq!(quintile_cutoffs((1..=10).rev().collect()), [2, 4, 6, 8]);
        // n = 7: ranks ⌈1.4⌉=2, ⌈2.8⌉=3, ⌈4.2⌉=5, ⌈5.6⌉=6.
        assert_eq!(quintile_cutoffs(vec![70, 10, 20, 30, 40, 50, 60]), [20, 30, 50, 60]);
        // n = 1: every cut-off is the one value.
        assert_eq!(quintile_cutoffs(vec![5]), [5, 5, 5, 5]);
        // n = 3: ranks 1, 2, 2, 3.
        assert_eq!(quintile_cutoffs(vec![9, 3, 6]), [3, 6, 6, 9]);
    }

    #[test]
    fn recency_is_whole_days_rounded_down() {
        assert_eq!(days_between(AS_OF - DAY_MS + 1, AS_OF), 0);
        assert_eq!(days_between(AS_OF - DAY_MS, AS_OF), 1);
        assert_eq!(days_between(AS_OF - 2 * DAY_MS - 5, AS_OF), 2);
    }

    #[test]
    fn every_rf_pair_names_one_segment() {
        // Rows are R = 1..5, columns F = 1..5 (the spec's table).
        let table = "
            hibernating    hibernating        at_risk            at_risk        cant_lose
            hibernating    hibernating        at_risk            at_risk        cant_lose
            about_to_sleep about_to_sleep     need_attention     loyal          loyal
            promising      potential_loyalist potential_loyalist loyal          loyal
            new            potential_loyalist potential_loyalist champions      champions";
        let expected: Vec<Vec<&str>> =
            table.trim().lines().map(|row| row.split_whitespace().collect()).collect();
        let grid: Vec<Vec<&str>> =
            (1..=5).map(|r| (1..=5).map(|f| segment(r, f)).collect()).collect();
        assert_eq!(grid, expected);
    }

    #[test]
    fn scores_against_hand_computed_cutoffs() {
        // Ten customers: i days ago, i orders, 1000·i cents (i = 1..10).
        let rows: Vec<Row> = (1..=10).map(|i| row(i, i as u32, 1000 * i)).collect();
        let model = fit(&rows, AS_OF);
        assert_eq!(model.recency_days, [2, 4, 6, 8]);
        assert_eq!(model.frequency, [2, 4, 6, 8]);
        assert_eq!(model.monetary_cents, [2000, 4000, 6000, 8000]);
        let cfg = Config::default();
        let classify_one = |days: i64, orders: u32, spend: i64| {
            let stats =
                Stats { orders, last_order: Some(AS_OF - days * DAY_MS), net_spend_cents: spend };
            classify(&cfg, Some(&model), &stats, AS_OF)
        };
        // 1 day ago, 10 orders, 10 000 cents: R = 5 − 0, F = 1 + 4, M = 5.
        let m = classify_one(1, 10, 10_000);
        assert_eq!(m[0].segment, "rfm:champions");
        assert_eq!(m[0].attributes["score"], "555");
        assert_eq!(m[1].segment, "type:loyal");
        // 9 days ago, 2 orders (= q_1, not above), 2000 cents: R = 5 − 4 = 1, F = 1, M = 1.
        let m = classify_one(9, 2, 2000);
        assert_eq!(m[0].segment, "rfm:hibernating");
        assert_eq!(m[0].attributes["score"], "111");
        assert_eq!(m[1].segment, "type:repeat");
        // 5 days ago (> 2, > 4): R = 3; 5 orders (> 2, > 4): F = 3 → need_attention.
        let m = classify_one(5, 5, 4000);
        assert_eq!(m[0].segment, "rfm:need_attention");
        assert_eq!(m[0].attributes["m"], 2);
        // 3 days ago: R = 4; 1 order: F = 1 → promising, type new.
        let m = classify_one(3, 1, 500);
        assert_eq!(m[0].segment, "rfm:promising");
        assert_eq!(m[1].segment, "type:new");
        // 0 days ago, 1 order → R 5, F 1: new.
        assert_eq!(classify_one(0, 1, 100)[0].segment, "rfm:new");
        // 7 days ago (R = 5 − 3 = 2), 10 orders → cant_lose.
        assert_eq!(classify_one(7, 10, 100)[0].segment, "rfm:cant_lose");
    }

    #[test]
    fn customer_types_in_order_of_precedence() {
        let cfg = Config::default();
        let t = |orders: u32, days: Option<i64>| {
            customer_type(
                &cfg,
                &Stats { orders, last_order: days.map(|d| AS_OF - d * DAY_MS), net_spend_cents: 0 },
                AS_OF,
            )
        };
        assert_eq!(t(0, None), "potential");
        assert_eq!(t(1, Some(10)), "new");
        assert_eq!(t(2, Some(10)), "repeat");
        assert_eq!(t(4, Some(90)), "loyal");
        assert_eq!(t(4, Some(91)), "repeat");
        assert_eq!(t(3, Some(5)), "repeat");
        assert_eq!(t(9, Some(180)), "repeat");
        assert_eq!(t(9, Some(181)), "lapsed");
        assert_eq!(t(1, Some(181)), "lapsed");
        assert_eq!(t(1, Some(180)), "new");
    }

    #[test]
    fn no_model_or_no_order_gives_only_the_type() {
        let cfg = Config::default();
        let stats = Stats { orders: 0, last_order: None, net_spend_cents: 0 };
        let m = fit(&[row(1, 1, 100)], AS_OF);
        let out = classify(&cfg, Some(&m), &stats, AS_OF);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].segment, "type:potential");
        let stats = Stats { orders: 1, last_order: Some(AS_OF), net_spend_cents: 100 };
        let out = classify(&cfg, None, &stats, AS_OF);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].segment, "type:new");
    }

    #[test]
    fn config_defaults_and_unknown_fields() {
        let c = Config::parse("{}").unwrap();
        assert_eq!((c.loyal_min_orders, c.active_days, c.lapsed_days), (4, 90, 180));
        assert!(Config::parse(r#"{"nope":1}"#).is_err());
    }
}
