//! Events: the one way facts enter. Each built-in type's `data` is a typed
//! record here, with its JSON Schema; the API checks an arriving event
//! against those schemas (`api::events`) and then reads it with `Event::new`.
//! A type of the shop's own keeps its data as it came.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

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

/// The built-in event types: each line is a type's name and the record its
/// `data` is read as. Adding a kind is adding a record below and a line here.
macro_rules! event_kinds {
    ($($name:literal => $variant:ident),* $(,)?) => {
        /// What an event says, by its `type`: a variant per built-in type,
        /// `Other` for a type of the shop's own.
        #[derive(Debug, Clone, PartialEq)]
        pub enum EventKind {
            $($variant($variant),)*
            Other,
        }

        impl EventKind {
            /// Each built-in type with the name of its data's schema.
            pub const BUILT_IN: &[(&str, &str)] = &[$(($name, stringify!($variant))),*];

            /// Reads `data` as the record `event_type` names (`Other` for a
            /// type of the shop's own).
            pub fn read(event_type: &str, data: &Value) -> Result<EventKind, serde_json::Error> {
                Ok(match event_type {
                    $($name => EventKind::$variant($variant::deserialize(data)?),)*
                    _ => EventKind::Other,
                })
            }

            /// Every built-in type's data schema with the schemas it uses,
            /// for the API document.
            pub fn data_schemas(
                schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::Schema>)>,
            ) {
                $(
                    schemas.push((
                        <$variant as ToSchema>::name().into_owned(),
                        <$variant as utoipa::PartialSchema>::schema(),
                    ));
                    <$variant as ToSchema>::schemas(schemas);
                )*
            }
        }
    };
}

event_kinds! {
    "customer.created" => CustomerCreated,
    "order.placed" => OrderPlaced,
    "order.refunded" => OrderRefunded,
    "review.submitted" => ReviewSubmitted,
    "checkin" => Checkin,
    "referral.converted" => ReferralConverted,
    "survey.submitted" => SurveySubmitted,
    "complaint.filed" => ComplaintFiled,
    "complaint.resolved" => ComplaintResolved,
}

/// `customer.created`: any object (a shop's own fields are kept as sent).
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct CustomerCreated {}

/// `checkin`: any object.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct Checkin {}

/// `order.placed`.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct OrderPlaced {
    #[schema(
        pattern = r"^([A-Za-z0-9_:-][A-Za-z0-9._:-]{0,63}|\.[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,62}|\.\.[A-Za-z0-9._:-]{1,62})$",
        example = "o_1001"
    )]
    pub order_id: String,
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64, example = 1999)]
    pub total_cents: i64,
    /// The order's currency as the shop writes it; the store's when empty.
    #[serde(default, deserialize_with = "or_default")]
    #[schema(nullable, max_length = 8, example = "CNY")]
    pub currency: String,
    #[serde(default, deserialize_with = "or_default")]
    #[schema(nullable, max_items = 1000)]
    pub items: Vec<OrderItem>,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct OrderItem {
    #[schema(max_length = 64, example = "tea-longjing")]
    pub sku: String,
    #[serde(default)]
    #[schema(nullable, max_length = 64, example = "green")]
    pub category: Option<String>,
    #[serde(default = "one", deserialize_with = "or_one")]
    #[schema(nullable, minimum = 1, maximum = 1_000_000, default = 1)]
    pub qty: u32,
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64, example = 999)]
    pub price_cents: i64,
}

/// `order.refunded`.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct OrderRefunded {
    #[schema(
        pattern = r"^([A-Za-z0-9_:-][A-Za-z0-9._:-]{0,63}|\.[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,62}|\.\.[A-Za-z0-9._:-]{1,62})$",
        example = "o_1001"
    )]
    pub order_id: String,
    #[schema(minimum = 1, maximum = 1_000_000_000_000_i64, example = 500)]
    pub refund_cents: i64,
}

/// `review.submitted`.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct ReviewSubmitted {
    #[schema(
        pattern = r"^([A-Za-z0-9_:-][A-Za-z0-9._:-]{0,63}|\.[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,62}|\.\.[A-Za-z0-9._:-]{1,62})$",
        example = "o_1001"
    )]
    pub order_id: String,
    #[schema(minimum = 1, maximum = 5, example = 5)]
    pub rating: u8,
    #[serde(default, deserialize_with = "or_default")]
    #[schema(nullable, default = false)]
    pub has_photo: bool,
    #[serde(default, deserialize_with = "or_default")]
    #[schema(nullable, minimum = 0, maximum = 1_000_000, default = 0)]
    pub text_length: u32,
}

/// `referral.converted`.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct ReferralConverted {
    #[schema(
        pattern = r"^([A-Za-z0-9_:-][A-Za-z0-9._:-]{0,63}|\.[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,62}|\.\.[A-Za-z0-9._:-]{1,62})$",
        example = "c_43"
    )]
    pub referred_customer_id: String,
}

/// `survey.submitted`: the answers are checked against the survey's kind
/// when the event arrives (`domain::survey`).
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct SurveySubmitted {
    #[schema(
        pattern = r"^([A-Za-z0-9_:-][A-Za-z0-9._:-]{0,63}|\.[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,62}|\.\.[A-Za-z0-9._:-]{1,62})$",
        example = "nps-q1"
    )]
    pub survey_id: String,
    #[schema(value_type = Object, example = json!({"score": 9}))]
    pub answers: Value,
}

/// `complaint.filed`: a complaint, counted once per `complaint_id` in the
/// store however often it is filed.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct ComplaintFiled {
    #[schema(
        pattern = r"^([A-Za-z0-9_:-][A-Za-z0-9._:-]{0,63}|\.[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,62}|\.\.[A-Za-z0-9._:-]{1,62})$",
        example = "cp_17"
    )]
    pub complaint_id: String,
    /// The order complained about, if any.
    #[serde(default)]
    #[schema(
        nullable,
        pattern = r"^([A-Za-z0-9_:-][A-Za-z0-9._:-]{0,63}|\.[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,62}|\.\.[A-Za-z0-9._:-]{1,62})$",
        example = "o_1001"
    )]
    pub order_id: Option<String>,
    #[schema(min_length = 1, max_length = 64, example = "late-delivery")]
    pub category: String,
    /// 1 (minor) to 3 (serious).
    #[schema(minimum = 1, maximum = 3, example = 2)]
    pub severity: u8,
}

/// `complaint.resolved`: how a filed complaint ended, and whether the
/// customer was satisfied with it.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
pub struct ComplaintResolved {
    #[schema(
        pattern = r"^([A-Za-z0-9_:-][A-Za-z0-9._:-]{0,63}|\.[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,62}|\.\.[A-Za-z0-9._:-]{1,62})$",
        example = "cp_17"
    )]
    pub complaint_id: String,
    #[schema(min_length = 1, max_length = 500, example = "replacement shipped")]
    pub resolution: String,
    pub satisfied: bool,
}

/// An absent or `null` field is its type's default.
fn or_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn one() -> u32 {
    1
}

fn or_one<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(Option::<u32>::deserialize(d)?.unwrap_or(1))
}

/// An event as it arrives, once its schema has been checked.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub customer_id: String,
    pub occurred_at: String,
    #[serde(default)]
    pub data: Option<Map<String, Value>>,
}

/// A validated event, ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub event_type: String,
    pub customer_id: String,
    pub occurred_at: Millis,
    pub data: Value,
    /// `data` as JSON text, as plugins receive it: written once per event
    /// (and read back as stored), not once per call.
    pub data_json: String,
    pub kind: EventKind,
}

impl Event {
    /// Reads an event whose shape its schema has passed; what a schema
    /// cannot say (the time's calendar, the data's size) is checked here,
    /// each error named under `path` (`events[3].`).
    pub fn new(envelope: Envelope, path: &str) -> Result<Event, Vec<FieldError>> {
        let mut errors = Vec::new();
        let occurred_at = parse_rfc3339(&envelope.occurred_at).unwrap_or_else(|| {
            errors.push(FieldError::new(
                format!("{path}occurred_at"),
                "must be an RFC 3339 time such as 2026-03-05T10:00:00Z",
            ));
            0
        });
        let data = Value::Object(envelope.data.unwrap_or_default());
        let data_json = data.to_string();
        if data_json.len() > MAX_DATA_BYTES {
            errors.push(FieldError::new(
                format!("{path}data"),
                format!("is larger than {MAX_DATA_BYTES} bytes"),
            ));
        }
        let kind = EventKind::read(&envelope.event_type, &data).unwrap_or_else(|e| {
            errors.push(FieldError::new(format!("{path}data"), e.to_string()));
            EventKind::Other
        });
        if !errors.is_empty() {
            return Err(errors);
        }
        let Envelope { id, event_type, customer_id, .. } = envelope;
        Ok(Event { id, event_type, customer_id, occurred_at, data, data_json, kind })
    }
}

impl Event {
    /// The order the event is about: an order's placing or refund.
    pub fn order_id(&self) -> Option<&str> {
        match &self.kind {
            EventKind::OrderPlaced(o) => Some(&o.order_id),
            EventKind::OrderRefunded(r) => Some(&r.order_id),
            _ => None,
        }
    }
}

/// Rebuilds an event that was validated at intake from its stored parts:
/// `data_json` as written at intake (`{}` if missing or no longer JSON),
/// its typed view read again.
pub fn from_stored(
    id: String,
    event_type: String,
    customer_id: String,
    occurred_at: Millis,
    data_json: Option<String>,
) -> Result<Event, serde_json::Error> {
    let (data, data_json) = match data_json.map(|t| (serde_json::from_str(&t), t)) {
        Some((Ok(data), text)) => (data, text),
        _ => (Value::Object(Default::default()), "{}".to_string()),
    };
    let kind = EventKind::read(&event_type, &data)?;
    Ok(Event { id, event_type, customer_id, occurred_at, data, data_json, kind })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(v: Value) -> Envelope {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn reads_an_order() {
        let e = Event::new(
            envelope(json!({"id":"e1","type":"order.placed","customer_id":"c1",
                    "occurred_at":"2026-03-05T10:00:00Z",
                    "data":{"order_id":"o1","total_cents":1999,"currency":null,
                            "items":[{"sku":"tea","category":"green","price_cents":999}]}})),
            "",
        )
        .unwrap();
        assert_eq!(e.occurred_at, 1_772_704_800_000);
        let EventKind::OrderPlaced(order) = e.kind else { panic!("{:?}", e.kind) };
        assert_eq!((order.total_cents, order.currency.as_str()), (1999, ""));
        assert_eq!(order.items[0].qty, 1, "an absent qty is one");
    }

    #[test]
    fn absent_data_is_an_empty_object_and_own_types_pass_through() {
        let e = Event::new(
            envelope(json!({"id":"e1","type":"cart.abandoned","customer_id":"c1",
                    "occurred_at":"2026-03-05T10:00:00+08:00"})),
            "",
        )
        .unwrap();
        assert_eq!((e.kind, e.data), (EventKind::Other, json!({})));
        assert_eq!(e.occurred_at, 1_772_676_000_000);
    }

    #[test]
    fn names_what_a_schema_cannot_say() {
        let big = "x".repeat(MAX_DATA_BYTES);
        let errs = Event::new(
            envelope(json!({"id":"e1","type":"checkin","customer_id":"c1",
                    "occurred_at":"2026-02-30T10:00:00Z","data":{"note": big}})),
            "events[2].",
        )
        .unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["events[2].occurred_at", "events[2].data"]);
    }

    #[test]
    fn every_built_in_type_reads_as_its_own_variant() {
        let data = json!({"order_id":"o1","total_cents":1,"refund_cents":1,"rating":1,
                          "referred_customer_id":"c2","survey_id":"s1","answers":{},
                          "complaint_id":"cp1","category":"late","severity":2,
                          "resolution":"refunded","satisfied":true});
        for (name, _) in EventKind::BUILT_IN {
            assert_ne!(EventKind::read(name, &data).unwrap(), EventKind::Other, "{name}");
        }
        assert_eq!(EventKind::read("cart.abandoned", &data).unwrap(), EventKind::Other);
    }
}
