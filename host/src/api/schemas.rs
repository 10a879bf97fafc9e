//! Schemas the derive cannot say, for `#[schema(schema_with = …)]` and
//! `#[param(schema_with = …)]`: each states a rule the server enforces
//! (the functions it runs are named beside each), so that the document
//! allows exactly what the server takes.

use serde_json::json;
use utoipa::openapi::schema::{
    AllOfBuilder, AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, SchemaType,
    Type,
};
use utoipa::openapi::{RefOr, Schema};

use crate::domain::contact;

/// A string (or `null`) within `max` characters matching every pattern;
/// `rule` says it in words (an error quotes it rather than the patterns).
fn patterned(
    patterns: &[String],
    max: usize,
    example: &str,
    nullable: bool,
    rule: &str,
) -> RefOr<Schema> {
    let kind = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    let mut all = AllOfBuilder::new().description(Some(rule)).item(
        ObjectBuilder::new().schema_type(kind).max_length(Some(max)).examples([json!(example)]),
    );
    for p in patterns {
        all = all.item(ObjectBuilder::new().schema_type(SchemaType::AnyValue).pattern(Some(p)));
    }
    RefOr::T(Schema::AllOf(all.build()))
}

/// `contact::is_valid_email`, or `null`.
pub fn email() -> RefOr<Schema> {
    patterned(&contact::email_patterns(), 254, "li@example.cn", true, contact::EMAIL_RULE)
}

/// `contact::is_valid_phone`, or `null`.
pub fn phone() -> RefOr<Schema> {
    let patterns = contact::PHONE_PATTERNS.map(str::to_string);
    patterned(&patterns, 32, "+86 138 0013 8000", true, contact::PHONE_RULE)
}

/// A profile's tags: at most 100 of 1-64 characters.
pub fn tags() -> RefOr<Schema> {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(
            ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(64)),
        )
        .max_items(Some(100))
        .build()
        .into()
}

/// An IANA time zone name, as `chrono_tz` knows them, or `null` (UTC).
pub fn timezone() -> RefOr<Schema> {
    let mut names: Vec<serde_json::Value> =
        chrono_tz::TZ_VARIANTS.iter().map(|tz| json!(tz.name())).collect();
    names.push(serde_json::Value::Null);
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(names))
        .examples([json!("Asia/Shanghai")])
        .build()
        .into()
}

/// A `since` query parameter: an RFC 3339 time, or empty for none.
pub fn since() -> RefOr<Schema> {
    let any_of = AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        )
        .item(ObjectBuilder::new().schema_type(Type::String).max_length(Some(0)));
    RefOr::T(Schema::AnyOf(any_of.build()))
}

/// Rules that tie two fields together, which no field's schema can say,
/// added to their components once the document is assembled.
pub struct CrossFieldRules;

impl utoipa::Modify for CrossFieldRules {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let Some(components) = doc.components.as_mut() else { return };
        // `domain::survey::check_definition`: kano and gap surveys name
        // their features as questions, at least one.
        if let Some(RefOr::T(Schema::Object(survey))) = components.schemas.get_mut("Survey") {
            let rule = [
                ("if", json!({"properties": {"kind": {"enum": ["kano", "gap"]}}})),
                (
                    "then",
                    json!({"required": ["questions"], "properties": {"questions": {"minItems": 1}}}),
                ),
            ];
            // utoipa has no builder for `if`/`then`; in JSON Schema 2020-12
            // they are ordinary keywords.
            survey
                .extensions
                .get_or_insert_with(Default::default)
                .extend(rule.map(|(k, v)| (k.to_string(), v)));
        }
    }
}
