//! Request bodies checked against the schemas of the generated OpenAPI
//! document, so the document is the contract the server enforces: every
//! error names its field (`tags[3]`, `events[2].customer_id`) and says
//! what is expected, before a handler sees the body.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::ToSchema;

use super::{json_body, ApiError};
use crate::domain::event::FieldError;

/// A JSON body of type `T` that matched `T`'s schema in `/openapi.json`.
pub struct Valid<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + ToSchema> FromRequest<S> for Valid<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = json_body(Bytes::from_request(req, state).await)?;
        parse(body).map(Valid)
    }
}

/// Checks `body` against `T`'s schema and reads it as a `T`.
pub fn parse<T: DeserializeOwned + ToSchema>(body: Value) -> Result<T, ApiError> {
    let errors = errors::<T>(&body);
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    read(body)
}

/// Every way `body` breaks `T`'s schema, in the order a reader scans it.
pub fn errors<T: ToSchema>(body: &Value) -> Vec<FieldError> {
    let mut errors = schema_errors(&T::name(), body);
    if !errors.is_empty() {
        in_field_order(&mut errors, "", &T::name());
    }
    errors
}

/// Reads a body that passed its schema as a `T`.
pub fn read<T: DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    // The schema is generated from `T`, so this only fails where serde is
    // stricter than the schema can say; the message still names the field.
    serde_json::from_value(integral(body)).map_err(|e| ApiError::field("body", e.to_string()))
}

/// JSON Schema's integers include `30.0`; serde's do not: a number with
/// no fraction (within i64) becomes the integer it is.
fn integral(v: Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(list) => Value::Array(list.into_iter().map(integral).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, integral(v))).collect())
        }
        other => other,
    }
}

/// Every way `body` breaks the schema named `name`.
#[cfg(test)]
pub fn check(name: &str, body: &Value) -> Result<(), ApiError> {
    let errors = schema_errors(name, body);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(errors))
    }
}

/// Every way `body` breaks the schema named `name`, as field errors.
fn schema_errors(name: &str, body: &Value) -> Vec<FieldError> {
    errors_under(name, body, body, "")
}

/// The errors of `instance` (found at `base` in `root`) against the schema
/// named `name`.
fn errors_under(name: &str, root: &Value, instance: &Value, base: &str) -> Vec<FieldError> {
    let validator = validator(name);
    let errors: Vec<ValidationError> = validator.iter_errors(instance).collect();
    let mut out: Vec<FieldError> =
        errors.iter().flat_map(|e| field_errors(root, name, base, e)).collect();
    // A rule of several keywords (the patterns of an e-mail address) says
    // its words once per field.
    let mut seen = std::collections::HashSet::new();
    out.retain(|e| seen.insert((e.field.clone(), e.message.clone())));
    out
}

/// Errors as a reader scans the request: fields the schema does not know
/// first, then its fields in their declared order (the validator reports
/// them in whatever order its maps keep). `at` is where the schema's
/// instance is in the request (`events[2]`; empty for the whole body).
fn in_field_order(errors: &mut [FieldError], at: &str, schema: &str) {
    let declared = declared_fields(schema);
    let rank = |e: &FieldError| {
        let rest = e.field.strip_prefix(at).unwrap_or(&e.field).trim_start_matches('.');
        let top = rest.split(['.', '[']).next().unwrap_or_default();
        declared.iter().position(|f| f == top).map_or(0, |i| i + 1)
    };
    errors.sort_by_key(rank);
}

/// The properties of the document's schema `name`, in the order its type
/// declares them (the JSON document's maps are sorted; the generated
/// document keeps them as declared).
fn declared_fields(name: &str) -> Vec<String> {
    use utoipa::openapi::{RefOr, Schema};
    let components = super::doc::document().components.as_ref();
    match components.and_then(|c| c.schemas.get(name)) {
        Some(RefOr::T(Schema::Object(o))) => o.properties.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// One compiled validator per schema, built on first use from the
/// document's components (so `$ref`s between schemas resolve).
fn validator(name: &str) -> Arc<Validator> {
    static CACHE: LazyLock<Mutex<HashMap<String, Arc<Validator>>>> =
        LazyLock::new(Default::default);
    let mut cache = CACHE.lock().expect("validator cache");
    if let Some(v) = cache.get(name) {
        return v.clone();
    }
    let schema = serde_json::json!({"$ref": format!("#/components/schemas/{name}")});
    let validator = Arc::new(
        super::doc::compile_schema(&schema)
            .unwrap_or_else(|e| panic!("the generated schema `{name}` does not compile: {e}")),
    );
    cache.insert(name.to_string(), validator.clone());
    validator
}

/// The field a JSON pointer names, as clients write it: `events[2].data`.
/// A segment is an index where the instance holds an array at that level.
pub fn field_name(root: &Value, pointer: &str) -> String {
    let mut out = String::new();
    let mut at = Some(root);
    for raw in pointer.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        match at {
            Some(Value::Array(items)) => {
                out.push_str(&format!("[{seg}]"));
                at = seg.parse::<usize>().ok().and_then(|i| items.get(i));
            }
            other => {
                if !out.is_empty() {
                    out.push('.');
                }
                at = other.and_then(|v| v.get(&seg));
                out.push_str(&seg);
            }
        }
    }
    out
}

fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}.{child}")
    }
}

fn field_errors(root: &Value, schema: &str, base: &str, e: &ValidationError) -> Vec<FieldError> {
    let pointer = format!("{base}{}", e.instance_path);
    let at = field_name(root, &pointer);
    let here = |message: String| {
        let field = if at.is_empty() { "body".to_string() } else { at.clone() };
        vec![FieldError::new(field, message)]
    };
    match &e.kind {
        ValidationErrorKind::Required { property } => {
            vec![FieldError::new(join(&at, property.as_str().unwrap_or_default()), "is required")]
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|name| {
                FieldError::new(
                    join(&at, name),
                    "is not a field of this request; see GET /openapi.json",
                )
            })
            .collect(),
        ValidationErrorKind::Type { kind } => here(format!("must be {}", type_words(kind))),
        ValidationErrorKind::MinLength { limit } => {
            here(format!("must be at least {limit} characters"))
        }
        ValidationErrorKind::MaxLength { limit } => {
            here(format!("must be at most {limit} characters"))
        }
        ValidationErrorKind::Pattern { pattern } => here(
            rule_words(schema, &e.schema_path.to_string())
                .unwrap_or_else(|| format!("must match `{pattern}`")),
        ),
        ValidationErrorKind::Minimum { limit } => here(format!("must be at least {limit}")),
        ValidationErrorKind::Maximum { limit } => here(format!("must be at most {limit}")),
        ValidationErrorKind::MinItems { limit } => {
            here(format!("must hold at least {limit} items"))
        }
        ValidationErrorKind::MaxItems { limit } => here(format!("must hold at most {limit} items")),
        ValidationErrorKind::Enum { options } => here(format!(
            "must be one of {}",
            options
                .as_array()
                .map(|o| o.iter().map(Value::to_string).collect::<Vec<_>>().join(", "))
                .unwrap_or_default()
        )),
        ValidationErrorKind::OneOfNotValid => {
            match discriminated(schema, &e.schema_path.to_string()) {
                Some(branches) => {
                    let instance = root.pointer(&pointer).unwrap_or(&Value::Null);
                    let mut errors = Vec::new();
                    for branch in branches.choose(instance) {
                        let mut found = errors_under(&branch, root, instance, &pointer);
                        in_field_order(&mut found, &at, &branch);
                        errors.append(&mut found);
                    }
                    errors
                }
                None => here(e.to_string()),
            }
        }
        ValidationErrorKind::Format { format } if format == "date-time" => {
            here("must be an RFC 3339 time such as 2026-03-01T00:00:00Z".into())
        }
        _ => here(e.to_string()),
    }
}

/// The branches of a `oneOf` that has a discriminator.
struct Branches {
    property: String,
    mapping: Vec<(String, String)>,
    all: Vec<String>,
}

impl Branches {
    /// The branch the instance's discriminator names; else every branch
    /// the mapping does not name (a type of the shop's own).
    fn choose(&self, instance: &Value) -> Vec<String> {
        let value = instance.get(&self.property).and_then(Value::as_str);
        if let Some((_, name)) = self.mapping.iter().find(|(v, _)| Some(v.as_str()) == value) {
            return vec![name.clone()];
        }
        let mapped: Vec<&String> = self.mapping.iter().map(|(_, n)| n).collect();
        self.all.iter().filter(|n| !mapped.contains(n)).cloned().collect()
    }
}

/// The words of the rule a keyword belongs to: the `description` of the
/// nearest schema around it that states one (`must be …`), such as the
/// e-mail rule whose patterns are many and unreadable.
fn rule_words(name: &str, schema_path: &str) -> Option<String> {
    let mut path = schema_path.to_string();
    for _ in 0..4 {
        path.truncate(path.rfind('/')?);
        if let Some(words) = schema_at(name, &path)
            .and_then(|n| n.get("description"))
            .and_then(Value::as_str)
            .filter(|d| d.starts_with("must "))
        {
            return Some(words.to_string());
        }
    }
    None
}

/// The schema node at `path` (a validation error's schema path, or a
/// prefix of one), walked from the schema named `name` through the
/// document (following each `$ref`).
fn schema_at(name: &str, path: &str) -> Option<&'static Value> {
    let doc = super::doc::openapi_json();
    let resolve = |r: &Value| doc.pointer(r.as_str()?.strip_prefix('#')?);
    // The validator's root is `{"$ref": "#/components/schemas/<name>"}`.
    let mut node = doc.pointer(&format!("/components/schemas/{name}"))?;
    let path = path.strip_prefix("/$ref")?;
    for seg in path.split('/').skip(1) {
        node = match (seg, node) {
            ("$ref", _) => resolve(node.get("$ref")?)?,
            (_, Value::Array(items)) => items.get(seg.parse::<usize>().ok()?)?,
            (_, other) => other.get(seg)?,
        };
    }
    Some(node)
}

/// The discriminated `oneOf` a schema path ends at, walked from the schema
/// named `name` through the document (following each `$ref`).
fn discriminated(name: &str, schema_path: &str) -> Option<Branches> {
    let node = schema_at(name, schema_path.strip_suffix("/oneOf")?)?;
    let discriminator = node.get("discriminator")?;
    let short = |r: &str| r.rsplit('/').next().unwrap_or_default().to_string();
    Some(Branches {
        property: discriminator.get("propertyName")?.as_str()?.to_string(),
        mapping: discriminator
            .get("mapping")?
            .as_object()?
            .iter()
            .map(|(k, v)| (k.clone(), short(v.as_str().unwrap_or_default())))
            .collect(),
        all: node
            .get("oneOf")?
            .as_array()?
            .iter()
            .filter_map(|b| Some(short(b.get("$ref")?.as_str()?)))
            .collect(),
    })
}

fn type_words(kind: &TypeKind) -> String {
    let word = |t: &jsonschema::primitive_type::PrimitiveType| match t.to_string().as_str() {
        "integer" => "an integer".to_string(),
        "object" => "a JSON object".to_string(),
        "array" => "a list".to_string(),
        "null" => "null".to_string(),
        other => format!("a {other}"),
    };
    match kind {
        TypeKind::Single(t) => word(t),
        TypeKind::Multiple(set) => {
            set.into_iter().map(|t| word(&t)).collect::<Vec<_>>().join(" or ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every request body schema compiles (a schema that did not would
    /// fail its first request), and names the fields it refuses.
    #[test]
    fn every_request_schema_compiles_and_names_fields() {
        for name in [
            "NewStore",
            "ProfilePut",
            "InstallRequest",
            "InstallPatch",
            "Redeem",
            "Survey",
            "FitRequest",
            "EventsRequest",
            "Delivery",
        ] {
            validator(name);
        }
        let e = parse::<crate::api::stores::NewStore>(json!({"id": "a", "colour": 1, "name": 7}))
            .err()
            .unwrap();
        let fields: Vec<&str> = e.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["colour", "name"]);
        let e = parse::<crate::api::points::Redeem>(json!([1])).err().unwrap();
        assert_eq!(e.errors[0].field, "body");
    }

    #[test]
    fn pointers_become_field_names() {
        let body = json!({"events": [{"data": {"0": 1}}, {"tags": ["a"]}]});
        assert_eq!(field_name(&body, ""), "");
        assert_eq!(field_name(&body, "/events/1/tags/0"), "events[1].tags[0]");
        assert_eq!(field_name(&body, "/events/0/data/0"), "events[0].data.0");
    }
}
