//! A customer's personal data, and taking it out of the JSON and text the
//! host keeps about them (event data, effects, logs, survey answers) when
//! they are erased. Two nets: fields whose name says they carry personal
//! data (built-in names, and those the store names for its own event
//! types) are removed; and every string that contains one of the
//! customer's known values (e-mail, phone, name, birthday, id) has it
//! replaced, wherever it sits.

use std::collections::HashSet;

use serde_json::{Map, Value};

/// What an erased value is replaced with.
pub const ERASED: &str = "[erased]";

/// Field names that carry personal data in any event (compared without
/// case): removed from the data of an erased customer's events.
pub const PII_FIELDS: &[&str] = &[
    "email",
    "e_mail",
    "phone",
    "mobile",
    "phone_number",
    "name",
    "first_name",
    "last_name",
    "full_name",
    "nickname",
    "birthday",
    "birth_date",
    "date_of_birth",
    "dob",
    "address",
    "street",
    "postal_code",
    "zip",
    "ip",
    "ip_address",
];

/// Values shorter than this are not searched for inside other strings (a
/// customer id `c1` would otherwise cut `abc12` apart); fields that hold
/// them are still removed by name.
const SHORTEST_SEARCHED: usize = 3;

/// One customer's personal data, as found in their profile, and the extra
/// field names the store declared.
#[derive(Debug, Clone, Default)]
pub struct Personal {
    values: Vec<String>,
    fields: HashSet<String>,
}

impl Personal {
    /// The values to search for (the profile's e-mail, phone, name,
    /// birthday, and the customer's id) and the store's extra field names.
    pub fn new<'a>(
        values: impl IntoIterator<Item = &'a str>,
        extra_fields: impl IntoIterator<Item = &'a str>,
    ) -> Personal {
        let mut values: Vec<String> = values
            .into_iter()
            .map(str::trim)
            .filter(|v| v.chars().count() >= SHORTEST_SEARCHED)
            .map(str::to_string)
            .collect();
        // Longest first, so a name inside an e-mail goes with the e-mail.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        let fields = PII_FIELDS
            .iter()
            .copied()
            .chain(extra_fields)
            .map(|f| f.to_ascii_lowercase())
            .collect();
        Personal { values, fields }
    }

    /// `text` with every known value in it replaced (ASCII case ignored).
    pub fn scrub_text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            out = replace_ignoring_case(&out, v);
        }
        out
    }

    /// Whether `bytes` hold one of the known values (ASCII case ignored).
    pub fn appears_in(&self, bytes: &[u8]) -> bool {
        let lower = bytes.to_ascii_lowercase();
        self.values.iter().any(|v| {
            let v = v.to_ascii_lowercase();
            lower.windows(v.len()).any(|w| w == v.as_bytes())
        })
    }

    /// `value` with personal fields removed and known values replaced in
    /// every string, at any depth.
    pub fn scrub(&self, value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(k, _)| !self.fields.contains(&k.to_ascii_lowercase()))
                    .map(|(k, v)| (k.clone(), self.scrub(v)))
                    .collect::<Map<_, _>>(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.scrub(v)).collect()),
            Value::String(s) => Value::String(self.scrub_text(s)),
            other => other.clone(),
        }
    }

    /// An erased customer's event data or survey answers, denied by
    /// default: numbers and booleans stay (totals, scores, ratings), and
    /// so do the strings of [`KEPT_STRINGS`] (with known values replaced)
    /// and the fixed words of a Kano answer; every other string is text
    /// the customer or the shop wrote about them, and becomes [`ERASED`].
    /// Personal fields by name go, as in [`Personal::scrub`].
    pub fn scrub_event(&self, data: &Value) -> Value {
        self.deny_by_default(data, None)
    }

    fn deny_by_default(&self, value: &Value, key: Option<&str>) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(k, _)| !self.fields.contains(&k.to_ascii_lowercase()))
                    .map(|(k, v)| (k.clone(), self.deny_by_default(v, Some(k))))
                    .collect(),
            ),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.deny_by_default(v, key)).collect())
            }
            Value::String(s) if key.is_some_and(|k| KEPT_STRINGS.contains(&k)) => {
                Value::String(self.scrub_text(s))
            }
            Value::String(s) if super::survey::KANO_ANSWERS.contains(&s.as_str()) => value.clone(),
            Value::String(_) => Value::String(ERASED.into()),
            other => other.clone(),
        }
    }
}

/// The string fields of the built-in event types that name things of the
/// shop, not of the customer: kept in an erased customer's events.
pub const KEPT_STRINGS: &[&str] =
    &["order_id", "currency", "sku", "category", "survey_id", "complaint_id"];

/// `haystack` with every ASCII-case-insensitive occurrence of `needle`
/// replaced by [`ERASED`].
fn replace_ignoring_case(haystack: &str, needle: &str) -> String {
    let lower = haystack.to_ascii_lowercase();
    let target = needle.to_ascii_lowercase();
    if !lower.contains(&target) {
        return haystack.to_string();
    }
    // ASCII lowering keeps every byte offset, so `lower`'s matches are
    // `haystack`'s.
    let mut out = String::with_capacity(haystack.len());
    let mut at = 0;
    while let Some(found) = lower[at..].find(&target) {
        out.push_str(&haystack[at..at + found]);
        out.push_str(ERASED);
        at += found + target.len();
    }
    out.push_str(&haystack[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ada() -> Personal {
        Personal::new(
            ["ada@example.com", "+44 20 7946 0958", "Ada Lovelace", "1815-12-10", "c1"],
            ["loyalty_card"],
        )
    }

    #[test]
    fn fields_by_name_go_and_values_are_replaced_anywhere() {
        let data = json!({
            "order_id": "o1",
            "Email": "someone@else.org",
            "note": "ship to Ada Lovelace, call +44 20 7946 0958",
            "contact": {"mail": "ADA@example.com", "first_name": "Ada"},
            "items": [{"sku": "tea", "gift_for": "ada lovelace"}],
            "loyalty_card": "LC-991",
            "total_cents": 1999,
        });
        assert_eq!(
            ada().scrub(&data),
            json!({
                "order_id": "o1",
                "note": "ship to [erased], call [erased]",
                "contact": {"mail": "[erased]"},
                "items": [{"sku": "tea", "gift_for": "[erased]"}],
                "total_cents": 1999,
            })
        );
    }

    #[test]
    fn values_are_found_in_bytes() {
        assert!(ada().appears_in(b"{\"ids\":[\"x\",\"ADA@EXAMPLE.COM\"]}"));
        assert!(!ada().appears_in(b"{\"ids\":[\"c12\"]}"));
    }

    #[test]
    fn short_values_are_not_searched_for() {
        // The id `c1` is too short to search for: `abc12` stays whole.
        assert_eq!(ada().scrub_text("abc12 and 1815-12-10"), "abc12 and [erased]");
    }

    #[test]
    fn survey_answers_keep_scores_and_kano_words() {
        let answers = json!({"score": 9, "comment": "love it", "features": {"gift": {"functional": "like", "dysfunctional": "neutral"}}});
        assert_eq!(
            ada().scrub_event(&answers),
            json!({"score": 9, "comment": "[erased]", "features": {"gift": {"functional": "like", "dysfunctional": "neutral"}}})
        );
    }

    #[test]
    fn event_data_keeps_only_what_names_the_shop() {
        let data = json!({
            "order_id": "o-ada@example.com", "total_cents": 1999, "currency": "CNY",
            "items": [{"sku": "tea", "category": "green", "qty": 2, "engraving": "For Ada"}],
            "gift_message": "happy birthday", "tags": ["x", "y"], "has_photo": true,
            "loyalty_card": "LC-991",
        });
        assert_eq!(
            ada().scrub_event(&data),
            json!({
                "order_id": "o-[erased]", "total_cents": 1999, "currency": "CNY",
                "items": [{"sku": "tea", "category": "green", "qty": 2, "engraving": "[erased]"}],
                "gift_message": "[erased]", "tags": ["[erased]", "[erased]"], "has_photo": true,
            })
        );
    }

    #[test]
    fn non_ascii_text_is_kept_around_a_match() {
        let p = Personal::new(["王小明"], []);
        assert_eq!(p.scrub_text("收件人：王小明，谢谢"), "收件人：[erased]，谢谢");
    }
}
