//! The campaign's rule, free of the host's types.

use serde::Deserialize;

/// The install's config.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub category: String,
    /// n: the category's items earn n× — the base rules' 1× plus this
    /// campaign's (n − 1)×.
    #[serde(default = "two")]
    pub multiplier: f64,
    /// What 1× is: `floor(qty × price_cents / unit_cents) × rate` per item.
    #[serde(default = "hundred")]
    pub unit_cents: i64,
    #[serde(default = "one")]
    pub rate: f64,
    /// The first and last local day (`YYYY-MM-DD`, the store's calendar)
    /// of the campaign; open-ended when left out.
    pub from: Option<String>,
    pub to: Option<String>,
}

fn two() -> f64 {
    2.0
}
fn hundred() -> i64 {
    100
}
fn one() -> f64 {
    1.0
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (Howard Hinnant's
/// `days_from_civil`).
pub fn day_of(date: &str) -> Option<i64> {
    let mut parts = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// The store-local day of an instant, from the store's offset then.
pub fn local_day(at_ms: i64, utc_offset_minutes: i32) -> i64 {
    (at_ms + i64::from(utc_offset_minutes) * 60_000).div_euclid(86_400_000)
}

impl Config {
    /// Whether local day `day` is one of the campaign's.
    pub fn runs_on(&self, day: i64) -> bool {
        let from = self.from.as_deref().and_then(day_of);
        let to = self.to.as_deref().and_then(day_of);
        from.is_none_or(|f| day >= f) && to.is_none_or(|t| day <= t)
    }

    /// The extra points of the category's items (qty, price in cents,
    /// category), floored per item.
    pub fn bonus<'a>(&self, items: impl IntoIterator<Item = (u32, i64, Option<&'a str>)>) -> i64 {
        let extra = self.multiplier - 1.0;
        items
            .into_iter()
            .filter(|(_, _, c)| *c == Some(self.category.as_str()))
            .map(|(qty, price, _)| {
                let units = (i64::from(qty) * price) / self.unit_cents.max(1);
                (units as f64 * self.rate * extra + 1e-9).floor() as i64
            })
            .sum()
    }
}

/// What a refund of `refund_cents` takes back of `earned_left` (what the
/// order's earns from this campaign still come to), when `left_cents` of
/// the order was not refunded before it: all of it when the refund takes
/// the rest, else its share, rounded down.
pub fn taken_back(earned_left: i64, refund_cents: i64, left_cents: i64) -> i64 {
    if earned_left <= 0 {
        return 0;
    }
    if refund_cents >= left_cents {
        return earned_left;
    }
    ((earned_left as i128 * refund_cents as i128) / left_cents.max(1) as i128) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Config {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn days_of_dates() {
        assert_eq!(day_of("1970-01-01"), Some(0));
        assert_eq!(day_of("2026-03-07"), Some(20_519));
        assert_eq!(day_of("2000-02-29"), Some(11_016));
        assert_eq!(day_of("2026-13-01"), None);
        // 2026-03-06T16:30Z is 00:30 on the 7th in Shanghai (UTC+8).
        assert_eq!(local_day(1_772_814_600_000, 480), 20_519);
        assert_eq!(local_day(1_772_814_600_000, 0), 20_518);
    }

    #[test]
    fn a_window_of_local_days() {
        let c = config(r#"{"category": "tea", "from": "2026-03-07", "to": "2026-03-08"}"#);
        assert!(!c.runs_on(20_518));
        assert!(c.runs_on(20_519) && c.runs_on(20_520));
        assert!(!c.runs_on(20_521));
        assert!(config(r#"{"category": "tea"}"#).runs_on(0));
    }

    #[test]
    fn the_category_earns_the_extra_per_item() {
        let c = config(r#"{"category": "tea", "multiplier": 3}"#);
        // 2 × 12.50 → 25 units → 50 extra; 0.99 → 0; coffee nothing.
        let items = [(2, 1_250, Some("tea")), (1, 99, Some("tea")), (1, 5_000, Some("coffee"))];
        assert_eq!(c.bonus(items), 50);
        let c = config(r#"{"category": "tea", "multiplier": 1.5, "rate": 1}"#);
        assert_eq!(c.bonus([(1, 1_050, Some("tea"))]), 5); // 10 × 0.5
    }

    #[test]
    fn refunds_take_back_their_share() {
        assert_eq!(taken_back(50, 10_000, 10_000), 50);
        assert_eq!(taken_back(50, 2_500, 10_000), 12);
        assert_eq!(taken_back(38, 7_500, 7_500), 38); // the rest
        assert_eq!(taken_back(0, 100, 100), 0);
    }
}
