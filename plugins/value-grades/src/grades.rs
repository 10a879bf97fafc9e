//! Value grades, free of any WIT type so that they are unit-tested natively.
//!
//! Every customer with an order is graded by their value (net spend over
//! the window). With g the number of graded customers whose value is
//! strictly greater than one's own (equal values share a grade, the
//! higher one):
//! - `abc`: with T the sum of the positive values, `A` when the values of
//!   the customers strictly above sum to less than a·T, else `B` when less
//!   than b·T, else `C`; a value ≤ 0 (or T = 0) is `C`.
//! - `pyramid`: the first level whose cumulative share s of the n graded
//!   customers has g < s·n, else `rest`; a value ≤ 0 is `rest`.
//!
//! The comparisons are the binary floating-point products a·T and s·n of
//! the configured numbers, as any implementation reading them from JSON
//! computes them.

use serde::Deserialize;
use serde_json::{json, Value};

/// The install's config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub window_days: u32,
    pub method: Method,
    pub cutoffs: Cutoffs,
    pub levels: Vec<(String, f64)>,
    pub rest: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Abc,
    Pyramid,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cutoffs {
    pub a: f64,
    pub b: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            window_days: 365,
            method: Method::Abc,
            cutoffs: Cutoffs { a: 0.8, b: 0.95 },
            levels: vec![("platinum".into(), 0.01), ("gold".into(), 0.05), ("iron".into(), 0.20)],
            rest: "lead".into(),
        }
    }
}

impl Config {
    pub fn parse(json: &str) -> Result<Config, String> {
        let cfg: Config = serde_json::from_str(json).map_err(|e| format!("invalid config: {e}"))?;
        if cfg.window_days == 0 {
            return Err("invalid config: `window_days` must be at least 1".into());
        }
        let Cutoffs { a, b } = cfg.cutoffs;
        if !(a > 0.0 && a <= b && b <= 1.0) {
            return Err(format!("invalid config: `cutoffs` need 0 < a ≤ b ≤ 1 (a = {a}, b = {b})"));
        }
        let mut before = 0.0;
        for (name, share) in &cfg.levels {
            if !(*share > before && *share <= 1.0) {
                return Err(format!(
                    "invalid config: the levels' cumulative shares must increase within (0, 1]; \
                     `{name}` has {share} after {before}"
                ));
            }
            before = *share;
        }
        let mut names: Vec<&str> = cfg.levels.iter().map(|(n, _)| n.as_str()).collect();
        names.push(&cfg.rest);
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err("invalid config: every level and `rest` needs a name of its own".into());
        }
        Ok(cfg)
    }

    /// The grade names, best first.
    pub fn names(&self) -> Vec<String> {
        match self.method {
            Method::Abc => vec!["A".into(), "B".into(), "C".into()],
            Method::Pyramid => {
                let mut names: Vec<String> = self.levels.iter().map(|(n, _)| n.clone()).collect();
                names.push(self.rest.clone());
                names
            }
        }
    }
}

/// One graded customer's grade (an index into [`Config::names`]) and rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grade {
    pub grade: u8,
    /// g + 1: one more than the customers of strictly greater value.
    pub rank: u32,
}

/// The grades of the graded customers' `values`, in their order, and T.
pub fn grade(cfg: &Config, values: &[i64]) -> (Vec<Grade>, i64) {
    let total: i64 = values.iter().filter(|v| **v > 0).sum();
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&i, &j| values[j].cmp(&values[i]));
    let last = (cfg.names().len() - 1) as u8;
    let mut out = vec![Grade { grade: last, rank: 0 }; n];
    // Walk the ranking a run of equal values at a time: `above` customers,
    // whose values sum to `above_sum`, are strictly greater than the run.
    let (mut above, mut above_sum) = (0usize, 0i64);
    let mut run = 0;
    while run < n {
        let value = values[order[run]];
        let end = run + order[run..].iter().take_while(|&&i| values[i] == value).count();
        let g = Grade {
            grade: grade_of(cfg, value, above, above_sum, total, n),
            rank: above as u32 + 1,
        };
        for &i in &order[run..end] {
            out[i] = g;
        }
        above = end;
        above_sum += value * (end - run) as i64;
        run = end;
    }
    (out, total)
}

fn grade_of(cfg: &Config, value: i64, above: usize, above_sum: i64, total: i64, n: usize) -> u8 {
    match cfg.method {
        Method::Abc => {
            let t = total as f64;
            if value <= 0 || total == 0 {
                2
            } else if (above_sum as f64) < cfg.cutoffs.a * t {
                0
            } else if (above_sum as f64) < cfg.cutoffs.b * t {
                1
            } else {
                2
            }
        }
        Method::Pyramid => {
            let rest = cfg.levels.len() as u8;
            if value <= 0 {
                return rest;
            }
            cfg.levels
                .iter()
                .position(|(_, s)| (above as f64) < s * n as f64)
                .map_or(rest, |i| i as u8)
        }
    }
}

/// What merchants see of a fit: per grade, its customers, their value and
/// the least value in it.
pub fn summary(cfg: &Config, values: &[i64], grades: &[Grade], total: i64) -> Value {
    let names = cfg.names();
    let mut per = vec![(0u64, 0i64, None::<i64>); names.len()];
    for (v, g) in values.iter().zip(grades) {
        let p = &mut per[g.grade as usize];
        p.0 += 1;
        p.1 += v;
        p.2 = Some(p.2.map_or(*v, |m: i64| m.min(*v)));
    }
    let grades: serde_json::Map<String, Value> = names
        .iter()
        .zip(&per)
        .map(|(name, (customers, value, least))| {
            (
                name.clone(),
                json!({"customers": customers, "value_cents": value, "min_value_cents": least}),
            )
        })
        .collect();
    json!({
        "method": match cfg.method { Method::Abc => "abc", Method::Pyramid => "pyramid" },
        "window_days": cfg.window_days,
        "graded": values.len(),
        "total_cents": total,
        "grades": grades,
    })
}

/// A membership's attributes.
pub fn attributes(value_cents: i64, rank: u32, total: i64) -> Value {
    let share = if total > 0 { value_cents as f64 / total as f64 } else { 0.0 };
    json!({"value_cents": value_cents, "rank": rank, "share": share})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(cfg: &Config, values: &[i64]) -> Vec<String> {
        let all = cfg.names();
        grade(cfg, values).0.iter().map(|g| all[g.grade as usize].clone()).collect()
    }

    #[test]
    fn abc_by_hand_with_ties_at_a_cut_off_and_a_zero() {
        // T = 1200, a·T = 960, b·T = 1140. Above the 500: 0 → A; above
        // each 300: 500 → A; above the 100: 1100 < 1140 → B; 0 → C.
        let cfg = Config::default();
        assert_eq!(names(&cfg, &[500, 300, 300, 100, 0]), ["A", "A", "A", "B", "C"]);
        // Equal values share the higher grade: above the 200s is 800 < 960.
        assert_eq!(names(&cfg, &[400, 400, 200, 200]), ["A", "A", "A", "A"]);
        // 800 + 200: above the 200 is exactly 800 = 0.8·1000 → B.
        assert_eq!(names(&cfg, &[800, 200]), ["A", "B"]);
        // 950 + 50: above the 50 is 950 = 0.95·1000 → C.
        assert_eq!(names(&cfg, &[950, 50]), ["A", "C"]);
        // Negative and zero values are C; T counts positives only.
        assert_eq!(names(&cfg, &[-100, 0, 100]), ["C", "C", "A"]);
        assert_eq!(names(&cfg, &[0, 0]), ["C", "C"], "T = 0");
    }

    #[test]
    fn ranks_share_the_higher_one() {
        let (g, total) = grade(&Config::default(), &[300, 500, 300, 100]);
        assert_eq!(total, 1200);
        assert_eq!(g.iter().map(|g| g.rank).collect::<Vec<_>>(), [2, 1, 2, 4]);
    }

    #[test]
    fn pyramid_with_fractional_shares_of_the_count() {
        // n = 30: s·n = 0.3, 1.5, 6. g < 0.3 → only g = 0 is platinum;
        // g < 1.5 → g = 1 gold; g < 6 → g = 2..5 iron; the rest lead.
        let cfg = Config { method: Method::Pyramid, ..Config::default() };
        let values: Vec<i64> = (1..=30).rev().map(|v| v * 100).collect();
        let got = names(&cfg, &values);
        assert_eq!(got[0], "platinum");
        assert_eq!(got[1], "gold");
        assert_eq!(&got[2..6], ["iron", "iron", "iron", "iron"]);
        assert!(got[6..].iter().all(|n| n == "lead"));
        // A tie across a boundary: the two best tie, so g = 0 for both.
        let mut tied = values.clone();
        tied[1] = tied[0];
        assert_eq!(&names(&cfg, &tied)[..3], ["platinum", "platinum", "iron"]);
        // A value ≤ 0 is the rest, whatever its rank.
        assert_eq!(names(&cfg, &[0]), ["lead"]);
    }

    #[test]
    fn config_is_checked() {
        assert!(Config::parse("{}").is_ok());
        assert!(Config::parse(r#"{"cutoffs": {"a": 0.9, "b": 0.8}}"#).is_err());
        assert!(Config::parse(r#"{"levels": [["x", 0.5], ["y", 0.4]]}"#).is_err());
        assert!(Config::parse(r#"{"levels": [["x", 0.5]], "rest": "x"}"#).is_err());
        assert!(Config::parse(r#"{"method": "median"}"#).is_err());
        let cfg = Config::parse(r#"{"method": "pyramid", "levels": [["vip", 0.1]]}"#).unwrap();
        assert_eq!(cfg.names(), ["vip", "lead"]);
    }

    #[test]
    fn summary_counts_each_grade() {
        let cfg = Config::default();
        let values = [500, 300, 300, 100, 0];
        let (g, total) = grade(&cfg, &values);
        let s = summary(&cfg, &values, &g, total);
        assert_eq!(s["grades"]["A"]["customers"], 3);
        assert_eq!(s["grades"]["A"]["value_cents"], 1100);
        assert_eq!(s["grades"]["A"]["min_value_cents"], 300);
        assert_eq!(s["grades"]["C"]["customers"], 1);
        assert_eq!(s["total_cents"], 1200);
        assert_eq!(attributes(300, 2, 1200)["share"], 0.25);
    }
}
