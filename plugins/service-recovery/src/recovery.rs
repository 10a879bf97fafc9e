//! The method, free of the host's types: what a complaint earns, when it
//! is due, how overdue it is.

use serde::Deserialize;
use std::collections::BTreeMap;

/// The install's config, with the defaults of the method.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Compensation points by severity (`"1"`, `"2"`, `"3"`).
    pub base_points: BTreeMap<String, i64>,
    /// Multiplier of the compensation by the customer's value grade (the
    /// segment `grade_prefix` + grade); 1 for any other.
    pub grade_multipliers: BTreeMap<String, f64>,
    pub grade_prefix: String,
    /// How long a complaint of each severity may stay open.
    pub sla_seconds: BTreeMap<String, i64>,
    /// How long after a satisfied resolution the recovery survey goes out.
    pub follow_up_seconds: i64,
    pub survey_id: String,
    pub apology_channel: String,
    pub escalation_channel: String,
}

impl Default for Config {
    fn default() -> Self {
        let by_severity = |a: i64, b: i64, c: i64| {
            BTreeMap::from([("1".into(), a), ("2".into(), b), ("3".into(), c)])
        };
        Config {
            base_points: by_severity(50, 200, 500),
            grade_multipliers: BTreeMap::from([("A".into(), 2.0), ("B".into(), 1.5)]),
            grade_prefix: "grade:".into(),
            sla_seconds: by_severity(259_200, 86_400, 14_400),
            follow_up_seconds: 86_400,
            survey_id: "recovery".into(),
            apology_channel: "email".into(),
            escalation_channel: "ops".into(),
        }
    }
}

impl Config {
    /// Keys a config leaves out keep their defaults (a `base_points` of
    /// `{"3": 800}` keeps 50 and 200 for the others).
    pub fn parse(json: &str) -> Result<Config, String> {
        let given: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("the config is not JSON: {e}"))?;
        let mut c = Config::default();
        let over = |map: &mut BTreeMap<String, i64>, v: &serde_json::Value| {
            for (k, n) in v.as_object().into_iter().flatten() {
                if let Some(n) = n.as_i64() {
                    map.insert(k.clone(), n);
                }
            }
        };
        over(&mut c.base_points, &given["base_points"]);
        over(&mut c.sla_seconds, &given["sla_seconds"]);
        if let Some(m) = given["grade_multipliers"].as_object() {
            c.grade_multipliers =
                m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_f64()?))).collect();
        }
        let text = |v: &serde_json::Value, into: &mut String| {
            if let Some(s) = v.as_str() {
                *into = s.to_string();
            }
        };
        text(&given["grade_prefix"], &mut c.grade_prefix);
        text(&given["survey_id"], &mut c.survey_id);
        text(&given["apology_channel"], &mut c.apology_channel);
        text(&given["escalation_channel"], &mut c.escalation_channel);
        if let Some(n) = given["follow_up_seconds"].as_i64() {
            c.follow_up_seconds = n;
        }
        Ok(c)
    }

    /// The compensation for a complaint of `severity` from a customer of
    /// `grade`: base × multiplier, rounded down.
    pub fn compensation(&self, severity: u8, grade: Option<&str>) -> i64 {
        let base = self.base_points.get(&severity.to_string()).copied().unwrap_or(0);
        let m = grade.and_then(|g| self.grade_multipliers.get(g)).copied().unwrap_or(1.0);
        // A product such as 0.29 × 100 is 28.999…: a hair of slack keeps
        // an exact product whole before it is rounded down.
        (base as f64 * m + 1e-9).floor() as i64
    }

    /// When a complaint of `severity` filed at `filed_at` is due (ms).
    pub fn due_at(&self, severity: u8, filed_at: i64) -> Option<i64> {
        let s = self.sla_seconds.get(&severity.to_string())?;
        Some(filed_at + s * 1000)
    }

    /// The grade in a list of segment names, if one is the grade's.
    pub fn grade_of<'a>(&self, segments: impl IntoIterator<Item = &'a str>) -> Option<String> {
        segments
            .into_iter()
            .find_map(|s| s.strip_prefix(self.grade_prefix.as_str()).map(String::from))
    }
}

/// Whole seconds from `due` to `now`, never below zero.
pub fn overdue_seconds(due: i64, now: i64) -> i64 {
    ((now - due) / 1000).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compensation_by_severity_and_grade_rounds_down() {
        let c = Config::default();
        assert_eq!(c.compensation(1, None), 50);
        assert_eq!(c.compensation(2, Some("A")), 400);
        assert_eq!(c.compensation(3, Some("B")), 750);
        assert_eq!(c.compensation(1, Some("B")), 75);
        assert_eq!(c.compensation(3, Some("C")), 500);
        let c = Config::parse(r#"{"base_points": {"1": 33}, "grade_multipliers": {"A": 1.5}}"#)
            .unwrap();
        assert_eq!(c.compensation(1, Some("A")), 49); // 49.5 rounded down
        assert_eq!(c.compensation(2, Some("A")), 300); // the default base kept
        assert_eq!(c.compensation(2, Some("B")), 200); // B's multiplier replaced
        let c = Config::parse(r#"{"base_points": {"1": 100}, "grade_multipliers": {"A": 0.29}}"#)
            .unwrap();
        assert_eq!(c.compensation(1, Some("A")), 29);
    }

    #[test]
    fn due_times_and_overdue_seconds() {
        let c = Config::default();
        assert_eq!(c.due_at(3, 1_000), Some(1_000 + 14_400_000));
        assert_eq!(c.due_at(1, 0), Some(259_200_000));
        assert_eq!(overdue_seconds(10_000, 12_999), 2);
        assert_eq!(overdue_seconds(10_000, 9_000), 0);
    }

    #[test]
    fn grades_come_from_the_segment_prefix() {
        let c = Config::default();
        assert_eq!(c.grade_of(["rfm:champions", "grade:A"]), Some("A".into()));
        assert_eq!(c.grade_of(["rfm:champions"]), None);
    }
}
