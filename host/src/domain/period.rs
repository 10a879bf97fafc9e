//! Calendar periods of a store's local days, for retention analytics:
//! months, and weeks that start on Monday. A period is numbered so that the
//! one before is always `p - 1`: months as `year * 12 + month0`, weeks as
//! the number of Mondays since the one before 1970-01-01 (a Thursday).

use chrono::{Datelike, Duration, NaiveDate};

use super::time::{utc_offset_ms, Millis};

/// How long a period is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Grain {
    Month,
    Week,
}

impl Grain {
    pub const ALL: [Grain; 2] = [Grain::Month, Grain::Week];

    /// The name stored beside a period's rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Month => "month",
            Grain::Week => "week",
        }
    }

    /// The period holding local day `day` (days since 1970-01-01).
    pub fn period_of_day(self, day: i64) -> i64 {
        match self {
            Grain::Month => {
                let d = date_of(day);
                i64::from(d.year()) * 12 + i64::from(d.month0())
            }
            // Day 0 was a Thursday: day + 3 counts from the Monday before.
            Grain::Week => (day + 3).div_euclid(7),
        }
    }

    /// The period holding `date`.
    pub fn period_of(self, date: NaiveDate) -> i64 {
        self.period_of_day(day_of(date))
    }

    /// The first day of period `p`.
    pub fn start(self, p: i64) -> NaiveDate {
        match self {
            Grain::Month => {
                let (year, month0) = (p.div_euclid(12), p.rem_euclid(12));
                NaiveDate::from_ymd_opt(year as i32, month0 as u32 + 1, 1).unwrap_or_default()
            }
            Grain::Week => date_of(p * 7 - 3),
        }
    }

    /// The last day of period `p`.
    pub fn end(self, p: i64) -> NaiveDate {
        self.start(p + 1) - Duration::days(1)
    }

    /// How a period is written: `2026-03` for a month, the ISO week
    /// `2026-W01` for a week (the year that week's Thursday is in).
    pub fn label(self, p: i64) -> String {
        match self {
            Grain::Month => self.start(p).format("%Y-%m").to_string(),
            Grain::Week => {
                let w = self.start(p).iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
        }
    }
}

/// The local day (days since 1970-01-01 in the store's time zone) of an
/// instant.
pub fn local_day(timezone: &str, at: Millis) -> i64 {
    (at + utc_offset_ms(timezone, at)).div_euclid(86_400_000)
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

fn date_of(day: i64) -> NaiveDate {
    epoch() + Duration::days(day)
}

fn day_of(date: NaiveDate) -> i64 {
    (date - epoch()).num_days()
}

/// `num / den` rounded half away from zero to 4 decimals, computed on
/// integers so that a half is a half (none when `den` is 0).
pub fn rate(num: i64, den: i64) -> Option<f64> {
    if den == 0 {
        return None;
    }
    let (n, d) = (i128::from(num) * 10_000, i128::from(den));
    let sign = if (n < 0) != (d < 0) { -1 } else { 1 };
    let (n, d) = (n.abs(), d.abs());
    let units = (2 * n + d) / (2 * d) * sign;
    Some(units as f64 / 10_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn months_follow_one_another() {
        let p = Grain::Month.period_of(date("2026-01-31"));
        assert_eq!(Grain::Month.label(p), "2026-01");
        assert_eq!(Grain::Month.label(p - 1), "2025-12");
        assert_eq!(Grain::Month.start(p - 1), date("2025-12-01"));
        assert_eq!(Grain::Month.end(p + 1), date("2026-02-28"));
        assert_eq!(Grain::Month.period_of(date("2026-02-01")), p + 1);
    }

    #[test]
    fn weeks_start_on_monday_and_take_the_iso_year() {
        let p = Grain::Week.period_of(date("2026-01-01")); // a Thursday
        assert_eq!(Grain::Week.start(p), date("2025-12-29"));
        assert_eq!(Grain::Week.end(p), date("2026-01-04"));
        assert_eq!(Grain::Week.label(p), "2026-W01");
        assert_eq!(Grain::Week.label(p - 1), "2025-W52");
        assert_eq!(Grain::Week.period_of(date("2026-01-04")), p); // Sunday
        assert_eq!(Grain::Week.period_of(date("2026-01-05")), p + 1); // Monday
        assert_eq!(Grain::Week.period_of(date("1969-12-29")), 0);
        assert_eq!(Grain::Week.period_of(date("1969-12-28")), -1);
    }

    #[test]
    fn local_days_take_the_zone() {
        // 2026-03-31T17:00Z is 01:00 on April 1st in Shanghai.
        let at = crate::domain::time::parse_rfc3339("2026-03-31T17:00:00Z").unwrap();
        let day = local_day("Asia/Shanghai", at);
        assert_eq!(date_of(day), date("2026-04-01"));
        assert_eq!(date_of(local_day("UTC", at)), date("2026-03-31"));
    }

    #[test]
    fn rates_round_half_away_from_zero() {
        assert_eq!(rate(1, 3), Some(0.3333));
        assert_eq!(rate(2, 3), Some(0.6667));
        assert_eq!(rate(1, 20_000), Some(0.0001)); // 0.00005 exactly
        assert_eq!(rate(1, 20_001), Some(0.0));
        assert_eq!(rate(0, 5), Some(0.0));
        assert_eq!(rate(5, 0), None);
    }
}
