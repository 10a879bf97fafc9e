//! The point rules of `points-basic`, free of any wasm glue so they can be
//! unit-tested natively. See the README's "points-basic" section.

use serde::{Deserialize, Serialize};

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub unit_cents: i64,
    pub earn: Vec<Bracket>,
    pub tiers: Vec<Tier>,
    pub first_order_bonus: i64,
    pub birthday_month_multiplier: f64,
    pub review: Review,
    pub checkin: Checkin,
    pub referral: i64,
    pub expiry_days: Option<i64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            unit_cents: 100,
            earn: vec![Bracket { from_units: 0, rate: 1.0 }],
            tiers: Vec::new(),
            first_order_bonus: 0,
            birthday_month_multiplier: 1.0,
            review: Review::default(),
            checkin: Checkin::default(),
            referral: 0,
            expiry_days: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bracket {
    pub from_units: i64,
    pub rate: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub name: String,
    pub min_spend_cents: i64,
    #[serde(default = "one")]
    pub multiplier: f64,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Review {
    pub base: i64,
    pub photo_bonus: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Checkin {
    pub points: i64,
    pub daily_cap: i64,
}

impl Default for Checkin {
    fn default() -> Self {
        Checkin { points: 0, daily_cap: 1 }
    }
}

/// What the rules need to know about the customer. `orders` and
/// `net_spend_cents` already include the event being handled; `tier` is
/// the tier before it.
#[derive(Debug, Clone, Default)]
pub struct Customer {
    pub tier: Option<String>,
    pub birthday: Option<String>,
    pub orders: u32,
    pub net_spend_cents: i64,
}

#[derive(Debug, Clone)]
pub enum Event {
    Order {
        order_id: String,
        total_cents: i64,
    },
    /// `order_total_cents`: the refunded order's total, when the host
    /// knows the order.
    Refund {
        order_id: String,
        refund_cents: i64,
        order_total_cents: Option<i64>,
    },
    Review {
        order_id: String,
        has_photo: bool,
    },
    Checkin,
    Referral,
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Earn { points: i64, reason: &'static str, expires_at: Option<i64> },
    Deduct { points: i64, reason: &'static str },
    SetTier(Option<String>),
}

/// What the rules read and keep through the host: the plugin's memory per
/// customer (the `state` capability) and the install's own ledger entries
/// for an order (`order-ledger`, contract 0.6.0), so that nothing is kept
/// per order.
pub trait Host {
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    fn set(&mut self, key: &str, value: Vec<u8>);
    /// What the install earned on the order, per reason (empty when it
    /// earned nothing on it).
    fn earned_on(&self, order_id: &str) -> Vec<(String, i64)>;
}

/// The reason of an order's own points (what a refund takes a share of).
pub const ORDER: &str = "order";

/// What version 1.0.0 kept per order (`order:{id}`). An install upgraded
/// from it still has these for its older orders, whose ledger entries a
/// host from before the ledger knew their order does not tie to them: a
/// refund of such an order reads it (only when the ledger has nothing for
/// the order, so a new order costs no state read).
#[derive(Debug, Serialize, Deserialize)]
struct LegacyMemo {
    earned: i64,
    total: i64,
}

fn legacy_memo(host: &impl Host, order_id: &str) -> Option<LegacyMemo> {
    host.get(&format!("order:{order_id}")).and_then(|b| serde_json::from_slice(&b).ok())
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CheckinMemo {
    day: i64,
    count: i64,
}

/// `floor` that treats values within 1e-9 of the next integer as that
/// integer, so decimal multipliers act as exact decimals (100 × 1.15 is
/// 115, not 114.99999999999999).
fn floor_exact(x: f64) -> i64 {
    (x + 1e-9).floor() as i64
}

/// Points for `units` under marginal brackets: each unit above a
/// bracket's `from_units` (and up to the next bracket's) earns its rate.
pub fn base_points(units: i64, brackets: &[Bracket]) -> f64 {
    let mut sorted: Vec<&Bracket> = brackets.iter().collect();
    sorted.sort_by_key(|b| b.from_units);
    let mut base = 0.0;
    for (i, b) in sorted.iter().enumerate() {
        let upper = sorted.get(i + 1).map_or(units, |n| n.from_units.min(units));
        let count = upper - b.from_units;
        if count > 0 {
            base += count as f64 * b.rate;
        }
    }
    base
}

/// Month (1–12) of a UTC instant in milliseconds.
pub fn utc_month(ms: i64) -> u32 {
    // Howard Hinnant's civil_from_days.
    let z = ms.div_euclid(DAY_MS) + 719_468;
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    (if mp < 10 { mp + 3 } else { mp - 9 }) as u32
}

fn birthday_month(birthday: &str) -> Option<u32> {
    birthday.get(5..7)?.parse().ok()
}

/// The tier a net spend qualifies for: the highest threshold reached.
pub fn tier_for(tiers: &[Tier], net_spend_cents: i64) -> Option<&Tier> {
    tiers.iter().filter(|t| t.min_spend_cents <= net_spend_cents).max_by_key(|t| t.min_spend_cents)
}

fn tier_change(cfg: &Config, c: &Customer) -> Option<Op> {
    if cfg.tiers.is_empty() {
        return None;
    }
    let new = tier_for(&cfg.tiers, c.net_spend_cents).map(|t| t.name.clone());
    (new != c.tier).then_some(Op::SetTier(new))
}

pub fn on_event(
    cfg: &Config,
    c: &Customer,
    event: &Event,
    occurred_at: i64,
    host: &mut impl Host,
) -> Vec<Op> {
    let expires_at = cfg.expiry_days.map(|d| occurred_at + d * DAY_MS);
    let earn = |points: i64, reason: &'static str| Op::Earn { points, reason, expires_at };
    let mut ops = Vec::new();
    match event {
        Event::Order { order_id, total_cents } => {
            if !host.earned_on(order_id).is_empty() {
                return ops; // the same order again: already rewarded
            }
            let units = if cfg.unit_cents > 0 { total_cents / cfg.unit_cents } else { 0 };
            let m_tier = c
                .tier
                .as_ref()
                .and_then(|name| cfg.tiers.iter().find(|t| &t.name == name))
                .map_or(1.0, |t| t.multiplier);
            let m_birthday = match c.birthday.as_deref().and_then(birthday_month) {
                Some(m) if m == utc_month(occurred_at) => cfg.birthday_month_multiplier,
                _ => 1.0,
            };
            let points = floor_exact(base_points(units, &cfg.earn) * m_tier * m_birthday).max(0);
            if points > 0 {
                ops.push(earn(points, ORDER));
            }
            if c.orders == 1 && cfg.first_order_bonus > 0 {
                ops.push(earn(cfg.first_order_bonus, "first_order_bonus"));
            }
            ops.extend(tier_change(cfg, c));
        }
        Event::Refund { order_id, refund_cents, order_total_cents } => {
            // The order's own points (its bonus apart), as the host's
            // ledger has them, and its total as the host recorded it.
            let entries = host.earned_on(order_id);
            let mut earned: i64 = entries.iter().filter(|(r, _)| r == ORDER).map(|(_, p)| p).sum();
            let mut total = *order_total_cents;
            if entries.is_empty() {
                if let Some(m) = legacy_memo(host, order_id) {
                    (earned, total) = (m.earned, Some(m.total));
                }
            }
            if let Some(total) = total.filter(|t| *t > 0) {
                let points =
                    (i128::from(earned) * i128::from(*refund_cents) / i128::from(total)) as i64;
                if points > 0 {
                    ops.push(Op::Deduct { points, reason: "refund" });
                }
            }
            ops.extend(tier_change(cfg, c));
        }
        Event::Review { order_id, has_photo } => {
            let key = format!("review:{order_id}");
            if host.get(&key).is_none() {
                let points = cfg.review.base + if *has_photo { cfg.review.photo_bonus } else { 0 };
                if points > 0 {
                    ops.push(earn(points, "review"));
                }
                host.set(&key, b"1".to_vec());
            }
        }
        Event::Checkin => {
            let day = occurred_at.div_euclid(DAY_MS);
            let mut memo: CheckinMemo = host
                .get("checkin")
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            if memo.day != day {
                memo = CheckinMemo { day, count: 0 };
            }
            if memo.count < cfg.checkin.daily_cap {
                memo.count += 1;
                if cfg.checkin.points > 0 {
                    ops.push(earn(cfg.checkin.points, "checkin"));
                }
                host.set("checkin", serde_json::to_vec(&memo).unwrap_or_default());
            }
        }
        Event::Referral => {
            if cfg.referral > 0 {
                ops.push(earn(cfg.referral, "referral"));
            }
        }
        Event::Other => {}
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The host, as the tests play it: state, and a ledger that the
    /// earns of each order event are written to (`run`).
    #[derive(Default)]
    struct Mem {
        state: HashMap<String, Vec<u8>>,
        ledger: HashMap<String, Vec<(String, i64)>>,
    }
    impl Host for Mem {
        fn get(&self, key: &str) -> Option<Vec<u8>> {
            self.state.get(key).cloned()
        }
        fn set(&mut self, key: &str, value: Vec<u8>) {
            self.state.insert(key.to_string(), value);
        }
        fn earned_on(&self, order_id: &str) -> Vec<(String, i64)> {
            self.ledger.get(order_id).cloned().unwrap_or_default()
        }
    }

    /// `on_event`, and the host applying its earns on an order.
    fn run(c: &Config, cu: &Customer, e: &Event, at: i64, mem: &mut Mem) -> Vec<Op> {
        let ops = on_event(c, cu, e, at, mem);
        if let Event::Order { order_id, .. } = e {
            for op in &ops {
                if let Op::Earn { points, reason, .. } = op {
                    mem.ledger
                        .entry(order_id.clone())
                        .or_default()
                        .push((reason.to_string(), *points));
                }
            }
        }
        ops
    }

    fn refund(order_id: &str, refund_cents: i64, total: i64) -> Event {
        Event::Refund { order_id: order_id.into(), refund_cents, order_total_cents: Some(total) }
    }

    fn cfg(json: &str) -> Config {
        serde_json::from_str(json).unwrap()
    }

    fn order(id: &str, total: i64) -> Event {
        Event::Order { order_id: id.into(), total_cents: total }
    }

    fn cust(orders: u32, spend: i64) -> Customer {
        Customer { orders, net_spend_cents: spend, ..Default::default() }
    }

    fn earned(ops: &[Op]) -> Vec<(i64, &'static str)> {
        ops.iter()
            .filter_map(|o| match o {
                Op::Earn { points, reason, .. } => Some((*points, *reason)),
                _ => None,
            })
            .collect()
    }

    // 2026-03-05T10:00:00Z
    const MARCH: i64 = 1_772_704_800_000;

    #[test]
    fn fixed_conversion_floors_units() {
        let c = Config::default();
        let ops = on_event(&c, &cust(2, 0), &order("o1", 12_345), MARCH, &mut Mem::default());
        assert_eq!(earned(&ops), [(123, "order")]);
    }

    #[test]
    fn tiered_brackets_are_marginal() {
        // 0-100 units at 1, 100-500 at 2, above 500 at 3: 620 units
        // = 100×1 + 400×2 + 120×3 = 1260
        let c = cfg(
            r#"{"earn":[{"from_units":100,"rate":2},{"from_units":0,"rate":1},{"from_units":500,"rate":3}]}"#,
        );
        assert_eq!(base_points(620, &c.earn), 1260.0);
        assert_eq!(base_points(50, &c.earn), 50.0);
        assert_eq!(base_points(100, &c.earn), 100.0);
        assert_eq!(base_points(101, &c.earn), 102.0);
        // A first bracket above zero: units below it earn nothing.
        let c = cfg(r#"{"earn":[{"from_units":10,"rate":1.5}]}"#);
        assert_eq!(base_points(20, &c.earn), 15.0);
        assert_eq!(base_points(5, &c.earn), 0.0);
    }

    #[test]
    fn tier_and_birthday_multiply_then_floor() {
        let c = cfg(r#"{"tiers":[{"name":"silver","min_spend_cents":100000,"multiplier":1.15}],
                        "birthday_month_multiplier":2.0}"#);
        let mut cu = cust(3, 150_000);
        cu.tier = Some("silver".into());
        // 100 units × 1.15 = 115 exactly (decimal), not 114.
        let ops = on_event(&c, &cu, &order("o1", 10_000), MARCH, &mut Mem::default());
        assert_eq!(earned(&ops), [(115, "order")]);
        cu.birthday = Some("1990-03-17".into());
        // 33 units × 1.15 × 2 = 75.9 → 75
        let ops = on_event(&c, &cu, &order("o2", 3_399), MARCH, &mut Mem::default());
        assert_eq!(earned(&ops), [(75, "order")]);
        cu.birthday = Some("1990-04-17".into());
        let ops = on_event(&c, &cu, &order("o3", 3_399), MARCH, &mut Mem::default());
        assert_eq!(earned(&ops), [(37, "order")]);
    }

    #[test]
    fn tier_multiplier_is_the_tier_before_the_order() {
        let c = cfg(r#"{"tiers":[{"name":"silver","min_spend_cents":10000,"multiplier":2}]}"#);
        // Crossing into silver with this order: earns at 1×, then becomes silver.
        let ops = on_event(&c, &cust(1, 12_000), &order("o1", 12_000), MARCH, &mut Mem::default());
        assert_eq!(
            ops,
            [
                Op::Earn { points: 120, reason: "order", expires_at: None },
                Op::SetTier(Some("silver".into())),
            ]
        );
    }

    #[test]
    fn highest_tier_reached_and_none_below_all() {
        let tiers = cfg(r#"{"tiers":[{"name":"gold","min_spend_cents":500000,"multiplier":1.5},
                                      {"name":"silver","min_spend_cents":100000,"multiplier":1.2}]}"#)
        .tiers;
        assert_eq!(tier_for(&tiers, 600_000).unwrap().name, "gold");
        assert_eq!(tier_for(&tiers, 100_000).unwrap().name, "silver");
        assert!(tier_for(&tiers, 99_999).is_none());
    }

    #[test]
    fn first_order_bonus_is_separate() {
        let c = cfg(r#"{"first_order_bonus":50}"#);
        let ops = on_event(&c, &cust(1, 1000), &order("o1", 1000), MARCH, &mut Mem::default());
        assert_eq!(earned(&ops), [(10, "order"), (50, "first_order_bonus")]);
        let ops = on_event(&c, &cust(2, 2000), &order("o2", 1000), MARCH, &mut Mem::default());
        assert_eq!(earned(&ops), [(10, "order")]);
    }

    #[test]
    fn expiry_is_days_after_occurred_at() {
        let c = cfg(r#"{"expiry_days":30}"#);
        let ops = on_event(&c, &cust(2, 0), &order("o1", 500), MARCH, &mut Mem::default());
        assert_eq!(
            ops,
            [Op::Earn { points: 5, reason: "order", expires_at: Some(MARCH + 30 * DAY_MS) }]
        );
    }

    #[test]
    fn same_order_twice_earns_once() {
        let c = Config::default();
        let mut mem = Mem::default();
        assert_eq!(earned(&run(&c, &cust(1, 0), &order("o1", 500), MARCH, &mut mem)).len(), 1);
        assert!(run(&c, &cust(1, 0), &order("o1", 500), MARCH, &mut mem).is_empty());
        assert_eq!(earned(&run(&c, &cust(2, 0), &order("o2", 500), MARCH, &mut mem)).len(), 1);
    }

    #[test]
    fn refund_deducts_proportionally_without_bonus() {
        let c = cfg(
            r#"{"first_order_bonus":100,"tiers":[{"name":"silver","min_spend_cents":5000,"multiplier":1}]}"#,
        );
        let mut mem = Mem::default();
        // 99 points and the bonus of 100.
        let ops = run(&c, &cust(1, 9_999), &order("o1", 9_999), MARCH, &mut mem);
        assert_eq!(earned(&ops), [(99, "order"), (100, "first_order_bonus")]);
        // refund 3333 of 9999: floor(99 × 3333 / 9999) = 33 (the bonus is
        // not part of it), and the tier stays.
        let mut cu = cust(1, 6_666);
        cu.tier = Some("silver".into());
        let ops = run(&c, &cu, &refund("o1", 3_333, 9_999), MARCH, &mut mem);
        assert_eq!(ops, [Op::Deduct { points: 33, reason: "refund" }]);
        // A second refund of the same order is a share of what the order
        // earned, not of what is left of it.
        let ops = run(&c, &cu, &refund("o1", 3_333, 9_999), MARCH, &mut mem);
        assert_eq!(ops, [Op::Deduct { points: 33, reason: "refund" }]);
        let cu2 = Customer { tier: Some("silver".into()), ..cust(1, 4_000) };
        let ops = run(&c, &cu2, &refund("o1", 100, 9_999), MARCH, &mut mem);
        // floor(99 × 100 / 9999) = 0: nothing deducted, but the tier drops.
        assert_eq!(ops, [Op::SetTier(None)]);
        // Unknown order (the host knows no total, nor any earn): nothing
        // to take back.
        let unknown =
            Event::Refund { order_id: "zz".into(), refund_cents: 5, order_total_cents: None };
        assert!(run(&Config::default(), &cust(0, 0), &unknown, MARCH, &mut mem).is_empty());
        assert!(
            run(&Config::default(), &cust(0, 0), &refund("zz", 5, 10), MARCH, &mut mem).is_empty()
        );
    }

    #[test]
    fn refunds_of_orders_rewarded_by_version_1_0_0_read_its_memo() {
        let c = Config::default();
        let mut mem = Mem::default();
        mem.set("order:o1", br#"{"earned":40,"total":4000}"#.to_vec());
        // floor(40 × 1000 / 4000) = 10
        let ops = run(&c, &cust(3, 0), &refund("o1", 1000, 4000), MARCH, &mut mem);
        assert_eq!(ops, [Op::Deduct { points: 10, reason: "refund" }]);
    }

    #[test]
    fn review_once_per_order() {
        let c = cfg(r#"{"review":{"base":10,"photo_bonus":5}}"#);
        let mut mem = Mem::default();
        let r = |photo| Event::Review { order_id: "o1".into(), has_photo: photo };
        assert_eq!(earned(&on_event(&c, &cust(1, 0), &r(true), MARCH, &mut mem)), [(15, "review")]);
        assert!(on_event(&c, &cust(1, 0), &r(false), MARCH, &mut mem).is_empty());
        let r2 = Event::Review { order_id: "o2".into(), has_photo: false };
        assert_eq!(earned(&on_event(&c, &cust(1, 0), &r2, MARCH, &mut mem)), [(10, "review")]);
    }

    #[test]
    fn checkin_daily_cap_per_utc_day() {
        let c = cfg(r#"{"checkin":{"points":3,"daily_cap":2}}"#);
        let mut mem = Mem::default();
        let day_end = MARCH - MARCH % DAY_MS + DAY_MS - 1; // 23:59:59.999 UTC
        let n =
            |at, mem: &mut Mem| earned(&on_event(&c, &cust(0, 0), &Event::Checkin, at, mem)).len();
        assert_eq!(n(MARCH, &mut mem), 1);
        assert_eq!(n(MARCH + 1000, &mut mem), 1);
        assert_eq!(n(day_end, &mut mem), 0);
        assert_eq!(n(day_end + 1, &mut mem), 1); // next UTC day
    }

    #[test]
    fn referral_rewards_the_referrer() {
        let c = cfg(r#"{"referral":200}"#);
        assert_eq!(
            earned(&on_event(&c, &cust(0, 0), &Event::Referral, MARCH, &mut Mem::default())),
            [(200, "referral")]
        );
        assert!(on_event(
            &Config::default(),
            &cust(0, 0),
            &Event::Referral,
            MARCH,
            &mut Mem::default()
        )
        .is_empty());
    }

    #[test]
    fn months() {
        assert_eq!(utc_month(MARCH), 3);
        assert_eq!(utc_month(0), 1);
        assert_eq!(utc_month(951_782_400_000), 2); // 2000-02-29
        assert_eq!(utc_month(-1), 12);
    }
}
