//! The schema of one event in the API document: `oneOf` a branch per
//! built-in type, each naming its `type` and the record its `data` is
//! (`domain::event`), and `OtherEvent` for any other type, with a
//! discriminator on `type`. A generated client types each built-in event;
//! the validator (`valid.rs`) follows the discriminator to name the wrong
//! field inside the branch the event chose.

use utoipa::openapi::schema::{
    AnyOfBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type,
};
use utoipa::openapi::{Discriminator, Ref, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use super::events::EventIn;
use crate::domain::event::EventKind;
use crate::domain::ids::ID_PATTERN;

/// The component name of the branch for a built-in type's data record.
fn branch_name(data: &str) -> String {
    format!("{data}Event")
}

const OTHER: &str = "OtherEvent";

impl PartialSchema for EventIn {
    fn schema() -> RefOr<Schema> {
        let mut one_of = OneOfBuilder::new().description(Some(
            "One event, by `type`: a built-in type with its `data`, or a type of the \
             shop's own (`OtherEvent`) whose `data` is any object. At most 64 KiB of `data`.",
        ));
        for (_, data) in EventKind::BUILT_IN {
            one_of = one_of.item(Ref::from_schema_name(branch_name(data)));
        }
        let mut schema = one_of.item(Ref::from_schema_name(OTHER)).build();
        schema.discriminator = Some(Discriminator::with_mapping(
            "type",
            EventKind::BUILT_IN
                .iter()
                .map(|(name, data)| (*name, format!("#/components/schemas/{}", branch_name(data)))),
        ));
        RefOr::T(Schema::OneOf(schema))
    }
}

impl ToSchema for EventIn {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        let start = schemas.len();
        EventKind::data_schemas(schemas);
        let data: Vec<(String, RefOr<Schema>)> = schemas[start..].to_vec();
        for (name, data_name) in EventKind::BUILT_IN {
            let needs_data = data.iter().any(|(n, s)| {
                n == data_name && matches!(s, RefOr::T(Schema::Object(o)) if !o.required.is_empty())
            });
            let event_type =
                ObjectBuilder::new().schema_type(Type::String).enum_values(Some([*name])).build();
            schemas.push((
                branch_name(data_name),
                branch(event_type, data_property(data_name, needs_data), needs_data).into(),
            ));
        }
        schemas.push((OTHER.into(), other().into()));
    }
}

/// `data` as a branch declares it: the record, or the record or `null`
/// where nothing in it is required.
fn data_property(data_name: &str, required: bool) -> RefOr<Schema> {
    let record = Ref::from_schema_name(data_name);
    if required {
        return record.into();
    }
    let any_of =
        AnyOfBuilder::new().item(record).item(ObjectBuilder::new().schema_type(Type::Null));
    RefOr::T(Schema::AnyOf(any_of.build()))
}

/// A type of the shop's own: any name of the type rule but a built-in one,
/// any object as `data`.
fn other() -> Schema {
    let mut event_type = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[a-z0-9_.-]{1,64}$"))
        .description(Some("A type of the shop's own (not a built-in one)"))
        .examples([serde_json::json!("cart.abandoned")])
        .build();
    let built_in: Vec<&str> = EventKind::BUILT_IN.iter().map(|(name, _)| *name).collect();
    // utoipa has no builder for `not`; the document is JSON Schema 2020-12,
    // where it is an ordinary keyword.
    event_type.extensions =
        Some([("not", serde_json::json!({"enum": built_in}))].into_iter().collect());
    let data = ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::Object, Type::Null]))
        .build();
    branch(event_type, data.into(), false)
}

/// The envelope every event shares, with its `type` and `data`.
fn branch(
    event_type: impl Into<RefOr<Schema>>,
    data: RefOr<Schema>,
    data_required: bool,
) -> Schema {
    let id = |example: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(ID_PATTERN))
            .examples([serde_json::json!(example)])
    };
    let mut object = ObjectBuilder::new()
        .property("id", id("evt_0001"))
        .required("id")
        .property("type", event_type)
        .required("type")
        .property("customer_id", id("c_42"))
        .required("customer_id")
        .property(
            "occurred_at",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                .examples([serde_json::json!("2026-03-05T10:00:00Z")]),
        )
        .required("occurred_at")
        .property("data", data);
    if data_required {
        object = object.required("data");
    }
    object.build().into()
}
