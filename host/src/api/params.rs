//! Path and query parameters shared by several endpoints.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use utoipa::IntoParams;

use super::ApiError;

/// A query string read into `T`; one that cannot be is a 400 naming the
/// parameter in `errors` (`?limit=abc`: `limit`), like a body's.
pub struct ValidQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ValidQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(ValidQuery).map_err(|e| {
            let param = e.path().to_string();
            let param = if param == "." { "query".to_string() } else { param };
            let named = ApiError::field(&param, format!("cannot be read: {}", e.inner()));
            ApiError {
                status: axum::http::StatusCode::BAD_REQUEST,
                title: "Malformed query string",
                ..named
            }
        })
    }
}

/// Documents `{store}`; the value itself is read by `StoreScope`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct StorePath {
    /// The store's id.
    // `domain::ids::ID_PATTERN` (a test holds the two together).
    #[param(
        pattern = r"^([A-Za-z0-9_:-][A-Za-z0-9._:-]{0,63}|\.[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,62}|\.\.[A-Za-z0-9._:-]{1,62})$"
    )]
    pub store: String,
}

/// Documents `{customer}`; the value itself is read by `CustomerScope`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct CustomerPath {
    /// The customer's id in the shop (1-64 characters of `[A-Za-z0-9._:-]`).
    // `domain::ids::ID_PATTERN` (a test holds the two together).
    #[param(
        pattern = r"^([A-Za-z0-9_:-][A-Za-z0-9._:-]{0,63}|\.[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,62}|\.\.[A-Za-z0-9._:-]{1,62})$"
    )]
    pub customer: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Answer when the work is done (at most 30 s) instead of at once.
    #[serde(default)]
    pub wait: bool,
}

/// A page's `limit`: 1 to 1000, 100 when left out.
pub fn page_limit(limit: Option<u32>) -> Result<u32, super::ApiError> {
    let limit = limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(super::ApiError::field("limit", "must be 1 to 1000"));
    }
    Ok(limit)
}

/// A `since` query parameter: an RFC 3339 time, `None` when left out (or
/// left empty).
pub fn since(since: Option<&str>) -> Result<Option<i64>, super::ApiError> {
    since
        .filter(|t| !t.is_empty())
        .map(|t| {
            crate::domain::time::parse_rfc3339(t)
                .ok_or_else(|| super::ApiError::field("since", "must be an RFC 3339 time"))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    /// Every id a request body carries (`id`, `*_id`) is held to the id
    /// rule's pattern, wherever a schema states one.
    #[test]
    fn body_ids_are_documented_by_the_id_rule() {
        fn walk(v: &serde_json::Value, seen: &mut usize) {
            match v {
                serde_json::Value::Object(map) => {
                    if let Some(serde_json::Value::Object(props)) = map.get("properties") {
                        for (name, p) in props {
                            let is_id = name == "id" || name.ends_with("_id");
                            if let (true, Some(pattern)) = (is_id, p.get("pattern")) {
                                assert_eq!(pattern, crate::domain::ids::ID_PATTERN, "{name}");
                                *seen += 1;
                            }
                        }
                    }
                    map.values().for_each(|v| walk(v, seen));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, seen)),
                _ => {}
            }
        }
        let mut seen = 0;
        walk(&crate::api::openapi_json()["components"], &mut seen);
        assert!(seen >= 10, "{seen} ids with a pattern");
    }

    #[test]
    fn path_ids_are_documented_by_the_id_rule() {
        let doc = crate::api::openapi_json();
        let params = &doc["paths"]["/v1/stores/{store}/customers/{customer}"]["get"]["parameters"];
        let list = params.as_array().expect("parameters");
        assert_eq!(list.len(), 2);
        for p in list {
            assert_eq!(p["schema"]["pattern"], crate::domain::ids::ID_PATTERN, "{p}");
        }
    }
}
