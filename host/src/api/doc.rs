//! The OpenAPI document, generated from the handlers and their types
//! (utoipa): what `GET /openapi.json` serves and what request bodies are
//! checked against (`valid.rs`). A route exists only with its document
//! entry, because both are registered by one `routes!` call.

use std::sync::LazyLock;

use serde_json::Value;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, RefOr};
use utoipa::{Modify, OpenApi};

use super::error::Problem;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Clientele",
        description = "WebAssembly plugin runtime for the customer side of online shops. \
            Send `Authorization: Bearer <token>`: the platform admin token, or a store's API key \
            (a key sees only its own store; another store answers 404). Every error is \
            `application/problem+json` and names the field it is about.",
    ),
    components(schemas(Problem)),
    modifiers(&BearerAuth),
    tags(
        (name = "service", description = "Health, metrics and this document"),
        (name = "cluster", description = "The nodes on one database and what each holds"),
        (name = "stores", description = "Stores and their API keys"),
        (name = "plugins", description = "Published plugin versions"),
        (name = "installs", description = "Which plugins a store runs"),
        (name = "customers", description = "Profiles, points and churn"),
        (name = "events", description = "The one way facts enter"),
        (name = "messages", description = "Outbox and delivery"),
        (name = "segments", description = "Segments and population models"),
        (name = "surveys", description = "Surveys and their reports"),
        (name = "privacy", description = "Customers' data rights: export, erasure, retention, reads of personal data"),
    )
)]
pub struct ApiDoc;

/// Every operation needs a bearer token unless it says `security(())`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut Document) {
        doc.components.get_or_insert_with(Default::default).add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        doc.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
    }
}

/// Every operation can answer a problem: 4XX for the client's mistakes,
/// 5XX for the server's. Said once here rather than on every handler, and
/// applied once the routes have added their operations.
struct Problems;

impl Modify for Problems {
    fn modify(&self, doc: &mut Document) {
        let problem = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/problem+json",
                        Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                            "Problem",
                        )))),
                    )
                    .build(),
            )
        };
        for item in doc.paths.paths.values_mut() {
            for op in operations(item) {
                let responses = &mut op.responses.responses;
                responses
                    .entry("4XX".into())
                    .or_insert_with(|| problem("The request is wrong; `errors` names each field"));
                responses
                    .entry("5XX".into())
                    .or_insert_with(|| problem("The server failed; retrying is safe"));
            }
        }
    }
}

fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.patch.as_mut(),
        item.delete.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Compiles `schema`, a schema written against this document: its `$ref`s
/// into `#/components/schemas` resolve, and formats (`date-time`, `date`)
/// are checked, not only annotated. Used for request bodies here and for
/// every answer the tests receive.
pub fn compile_schema(schema: &Value) -> Result<jsonschema::Validator, String> {
    let mut root = serde_json::json!({"components": openapi_json()["components"]});
    for (k, v) in schema.as_object().into_iter().flatten() {
        root[k] = v.clone();
    }
    jsonschema::options().should_validate_formats(true).build(&root).map_err(|e| e.to_string())
}

/// The document, generated once.
pub fn document() -> &'static Document {
    static DOC: LazyLock<Document> = LazyLock::new(|| {
        let (_, mut doc) = super::routes().split_for_parts();
        Problems.modify(&mut doc);
        super::schemas::CrossFieldRules.modify(&mut doc);
        doc
    });
    &DOC
}

/// The whole document as JSON, generated once.
pub fn openapi_json() -> &'static Value {
    static DOC: LazyLock<Value> = LazyLock::new(|| {
        serde_json::to_value(document()).expect("the OpenAPI document serializes")
    });
    &DOC
}
