//! Events: the one way facts enter. Parsing here turns untrusted JSON into
//! a typed event or a list of field errors naming what is wrong.

use serde::Serialize;
use serde_json::{Map, Value};

use super::ids::{is_valid_event_type, is_valid_id, ID_RULE};
use super::time::{parse_rfc3339, Millis};

/// Largest `data` object accepted, serialized.
pub const MAX_DATA_BYTES: usize = 64 * 1024;

/// One thing wrong with a request: the field, as a client writes it
/// (`events[3].data.total_cents`), and what it must be.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    #[schema(example = "events[3].data.total_cents")]
    pub field: String,
    #[schema(example = "must be an integer from 0 to 100000000000")]
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    pub sku: String,
    pub category: Option<String>,
    pub qty: u32,
    pub price_cents: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    CustomerCreated,
    OrderPlaced { order_id: String, total_cents: i64, currency: String, items: Vec<OrderItem> },
    OrderRefunded { order_id: String, refund_cents: i64 },
    ReviewSubmitted { order_id: String, rating: u8, has_photo: bool, text_length: u32 },
    Checkin,
    ReferralConverted { referred_customer_id: String },
    SurveySubmitted { survey_id: String, answers: Value },
    Other,
}

/// A validated event, ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub event_type: String,
    pub customer_id: String,
    pub occurred_at: Millis,
    pub data: Value,
    pub kind: EventKind,
}

struct Fields<'a> {
    prefix: String,
    obj: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    fn field(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn err(&mut self, name: &str, message: &str) {
        let field = self.field(name);
        self.errors.push(FieldError::new(field, message));
    }

    fn id(&mut self, name: &str) -> String {
        match self.obj.get(name) {
            Some(Value::String(s)) if is_valid_id(s) => s.clone(),
            Some(Value::String(_)) => {
                self.err(name, ID_RULE);
                String::new()
            }
            None | Some(Value::Null) => {
                self.err(name, "is required");
                String::new()
            }
            Some(_) => {
                self.err(name, "must be a string");
                String::new()
            }
        }
    }

    fn opt_string(&mut self, name: &str, max: usize) -> Option<String> {
        match self.obj.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.len() <= max => Some(s.clone()),
            Some(Value::String(_)) => {
                self.err(name, &format!("must be at most {max} characters"));
                None
            }
            Some(_) => {
                self.err(name, "must be a string");
                None
            }
        }
    }

    /// An integer in `min..=max`; `default` when absent (None = required).
    fn int(&mut self, name: &str, min: i64, max: i64, default: Option<i64>) -> i64 {
        match self.obj.get(name) {
            None | Some(Value::Null) => match default {
                Some(d) => d,
                None => {
                    self.err(name, "is required");
                    min
                }
            },
            Some(Value::Number(n)) => match n.as_i64() {
                Some(v) if (min..=max).contains(&v) => v,
                _ => {
                    self.err(name, &format!("must be an integer from {min} to {max}"));
                    min
                }
            },
            Some(_) => {
                self.err(name, &format!("must be an integer from {min} to {max}"));
                min
            }
        }
    }

    fn bool(&mut self, name: &str, default: bool) -> bool {
        match self.obj.get(name) {
            None | Some(Value::Null) => default,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.err(name, "must be true or false");
                default
            }
        }
    }
}

const MAX_CENTS: i64 = 1_000_000_000_000;

/// Rebuilds an event that was validated at intake from its stored parts
/// (the typed view of `data` is derived again; nothing is re-checked but
/// the data's shape).
pub fn from_stored(
    id: String,
    event_type: String,
    customer_id: String,
    occurred_at: Millis,
    data: Value,
) -> Result<Event, Vec<FieldError>> {
    typed(id, event_type, customer_id, occurred_at, data, "", Vec::new())
}

/// Derives the typed kind from `data` and assembles the event, unless
/// there are errors (those found so far, plus the data's).
fn typed(
    id: String,
    event_type: String,
    customer_id: String,
    occurred_at: Millis,
    data: Value,
    path: &str,
    mut errors: Vec<FieldError>,
) -> Result<Event, Vec<FieldError>> {
    let kind = parse_kind(&event_type, &data, &format!("{path}data."), &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Event { id, event_type, customer_id, occurred_at, data, kind })
}

/// Parses one event object. `path` prefixes field names (e.g. `events[3].`).
pub fn parse_event(value: &Value, path: &str) -> Result<Event, Vec<FieldError>> {
    let Some(obj) = value.as_object() else {
        let field = if path.is_empty() {
            "body".to_string()
        } else {
            path.trim_end_matches('.').to_string()
        };
        return Err(vec![FieldError::new(field, "must be an event object")]);
    };
    let mut f = Fields { prefix: path.to_string(), obj, errors: Vec::new() };
    let id = f.id("id");
    let customer_id = f.id("customer_id");
    let event_type = match obj.get("type") {
        Some(Value::String(s)) if is_valid_event_type(s) => s.clone(),
        Some(_) => {
            f.err("type", "must be a string of [a-z0-9_.-], at most 64 characters");
            String::new()
        }
        None => {
            f.err("type", "is required");
            String::new()
        }
    };
    let occurred_at = match obj.get("occurred_at") {
        Some(Value::String(s)) => parse_rfc3339(s).unwrap_or_else(|| {
            f.err("occurred_at", "must be an RFC 3339 time such as 2026-03-05T10:00:00Z");
            0
        }),
        None => {
            f.err("occurred_at", "is required");
            0
        }
        Some(_) => {
            f.err("occurred_at", "must be an RFC 3339 time string");
            0
        }
    };
    let data = match obj.get("data") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(Value::Object(m)) => Value::Object(m.clone()),
        Some(_) => {
            f.err("data", "must be an object");
            Value::Object(Map::new())
        }
    };
    let mut errors = std::mem::take(&mut f.errors);
    if serde_json::to_vec(&data).map(|b| b.len()).unwrap_or(0) > MAX_DATA_BYTES {
        errors.push(FieldError::new(
            format!("{path}data"),
            format!("is larger than {MAX_DATA_BYTES} bytes"),
        ));
    }
    typed(id, event_type, customer_id, occurred_at, data, path, errors)
}

fn parse_kind(
    event_type: &str,
    data: &Value,
    prefix: &str,
    errors: &mut Vec<FieldError>,
) -> EventKind {
    let empty = Map::new();
    let obj = data.as_object().unwrap_or(&empty);
    let mut f = Fields { prefix: prefix.to_string(), obj, errors: Vec::new() };
    let kind = match event_type {
        "customer.created" => EventKind::CustomerCreated,
        "checkin" => EventKind::Checkin,
        "order.placed" => {
            let order_id = f.id("order_id");
            let total_cents = f.int("total_cents", 0, MAX_CENTS, None);
            let currency = f.opt_string("currency", 8).unwrap_or_default();
            let mut items = Vec::new();
            match obj.get("items") {
                None | Some(Value::Null) => {}
                Some(Value::Array(list)) if list.len() <= 1000 => {
                    for (i, item) in list.iter().enumerate() {
                        let Some(io) = item.as_object() else {
                            f.err(&format!("items[{i}]"), "must be an object");
                            continue;
                        };
                        let mut fi = Fields {
                            prefix: format!("{prefix}items[{i}]."),
                            obj: io,
                            errors: Vec::new(),
                        };
                        let sku = fi.opt_string("sku", 64);
                        if sku.is_none() {
                            fi.err("sku", "is required");
                        }
                        let category = fi.opt_string("category", 64);
                        let qty = fi.int("qty", 1, 1_000_000, Some(1)) as u32;
                        let price_cents = fi.int("price_cents", 0, MAX_CENTS, None);
                        f.errors.append(&mut fi.errors);
                        items.push(OrderItem {
                            sku: sku.unwrap_or_default(),
                            category,
                            qty,
                            price_cents,
                        });
                    }
                }
                Some(_) => f.err("items", "must be a list of at most 1000 items"),
            }
            EventKind::OrderPlaced { order_id, total_cents, currency, items }
        }
        "order.refunded" => EventKind::OrderRefunded {
            order_id: f.id("order_id"),
            refund_cents: f.int("refund_cents", 1, MAX_CENTS, None),
        },
        "review.submitted" => EventKind::ReviewSubmitted {
            order_id: f.id("order_id"),
            rating: f.int("rating", 1, 5, None) as u8,
            has_photo: f.bool("has_photo", false),
            text_length: f.int("text_length", 0, 1_000_000, Some(0)) as u32,
        },
        "referral.converted" => {
            EventKind::ReferralConverted { referred_customer_id: f.id("referred_customer_id") }
        }
        "survey.submitted" => {
            let survey_id = f.id("survey_id");
            let answers = match obj.get("answers") {
                Some(v @ Value::Object(_)) => v.clone(),
                None => {
                    f.err("answers", "is required");
                    Value::Null
                }
                Some(_) => {
                    f.err("answers", "must be an object");
                    Value::Null
                }
            };
            EventKind::SurveySubmitted { survey_id, answers }
        }
        _ => EventKind::Other,
    };
    errors.append(&mut f.errors);
    kind
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_an_order() {
        let e = parse_event(
            &json!({"id":"e1","type":"order.placed","customer_id":"c1",
                    "occurred_at":"2026-03-05T10:00:00Z",
                    "data":{"order_id":"o1","total_cents":1999,"currency":"CNY",
                            "items":[{"sku":"tea","category":"green","qty":2,"price_cents":999}]}}),
            "",
        )
        .unwrap();
        assert_eq!(e.occurred_at, 1_772_704_800_000);
        match e.kind {
            EventKind::OrderPlaced { total_cents, items, .. } => {
                assert_eq!(total_cents, 1999);
                assert_eq!(items[0].qty, 2);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names_the_bad_fields() {
        let errs = parse_event(
            &json!({"id":"e 1","type":"order.placed","customer_id":"c1",
                    "occurred_at":"yesterday","data":{"order_id":"o1","total_cents":"12"}}),
            "events[2].",
        )
        .unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["events[2].id", "events[2].occurred_at", "events[2].data.total_cents"]);
    }

    #[test]
    fn review_rating_range() {
        let errs = parse_event(
            &json!({"id":"e1","type":"review.submitted","customer_id":"c1",
                    "occurred_at":"2026-03-05T10:00:00Z","data":{"order_id":"o1","rating":6}}),
            "",
        )
        .unwrap_err();
        assert_eq!(errs[0].field, "data.rating");
    }

    #[test]
    fn custom_types_pass_through() {
        let e = parse_event(
            &json!({"id":"e1","type":"cart.abandoned","customer_id":"c1",
                    "occurred_at":"2026-03-05T10:00:00+08:00","data":{"x":1}}),
            "",
        )
        .unwrap();
        assert_eq!(e.kind, EventKind::Other);
        assert_eq!(e.occurred_at, 1_772_676_000_000);
    }
}
