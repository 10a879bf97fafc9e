//! Every answer a test receives is held against the server's own OpenAPI
//! document: the route and method must be in it, the status documented,
//! the content type the documented one and the body valid against its
//! schema. A route missing from the document, or an answer that differs
//! from it, fails the test that met it.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use clientele::client::Reply;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn doc() -> &'static Value {
    clientele::api::openapi_json()
}

/// The document's path template that `path` is an instance of.
fn template(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    let mut best: Option<(&str, usize)> = None;
    for key in doc()["paths"].as_object()?.keys() {
        let parts: Vec<&str> = key.split('/').collect();
        if parts.len() != segments.len() {
            continue;
        }
        let mut literal = 0;
        let fits = parts.iter().zip(&segments).all(|(p, s)| {
            if p.starts_with('{') {
                !s.is_empty()
            } else {
                literal += 1;
                p == s
            }
        });
        if fits && best.is_none_or(|(_, l)| literal > l) {
            best = Some((key, literal));
        }
    }
    best.map(|(k, _)| k)
}

fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

fn validator(key: String, schema: &Value) -> Arc<jsonschema::Validator> {
    static CACHE: LazyLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> =
        LazyLock::new(Default::default);
    let mut cache = CACHE.lock().unwrap();
    cache
        .entry(key)
        .or_insert_with(|| {
            Arc::new(
                clientele::api::compile_schema(schema).expect("a schema of the document compiles"),
            )
        })
        .clone()
}

/// Panics, naming what differs, if this answer is not what the document says.
pub fn check(reply: &Reply) {
    let Reply { method, path, status, content_type, body } = reply;
    let (status, path) = (*status, path.as_str());
    let what = format!("{method} {path} answered {status}");
    let problem = json!({"$ref": "#/components/schemas/Problem"});
    let Some(template) = template(path) else {
        assert!(status == StatusCode::NOT_FOUND, "{what}, but the route is not in /openapi.json");
        return validate(&what, "problem".into(), &problem, body);
    };
    let Some(op) = doc()["paths"][template].get(method.as_str().to_ascii_lowercase()) else {
        assert!(
            status == StatusCode::METHOD_NOT_ALLOWED,
            "{what}, but /openapi.json has no {method} {template}"
        );
        return validate(&what, "problem".into(), &problem, body);
    };
    let code = status.as_u16().to_string();
    let range = format!("{}XX", status.as_u16() / 100);
    let (key, response) = [code, range, "default".to_string()]
        .into_iter()
        .find_map(|k| op["responses"].get(&k).map(|r| (k, r)))
        .unwrap_or_else(|| panic!("{what}: that status is not documented for {template}"));
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        return;
    };
    let sent = essence(content_type);
    let Some((_, media)) = content.iter().find(|(k, _)| essence(k) == sent) else {
        panic!(
            "{what} as `{content_type}`; the document says {:?}",
            content.keys().collect::<Vec<_>>()
        );
    };
    if !sent.ends_with("json") {
        return;
    }
    if let Some(schema) = media.get("schema") {
        validate(&what, format!("{} {template} {key}", method.as_str()), schema, body);
    }
}

fn validate(what: &str, key: String, schema: &Value, body: &Value) {
    let v = validator(key, schema);
    let errors: Vec<String> =
        v.iter_errors(body).map(|e| format!("at `{}`: {e}", e.instance_path)).collect();
    assert!(
        errors.is_empty(),
        "{what}, and the body does not match /openapi.json:\n  {}\nbody: {body}",
        errors.join("\n  ")
    );
}
