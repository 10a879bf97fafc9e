//! Path and query parameters shared by several endpoints.

use serde::Deserialize;
use utoipa::IntoParams;

/// Documents `{store}`; the value itself is read by `StoreScope`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct StorePath {
    /// The store's id.
    pub store: String,
}

/// Documents `{customer}`; the value itself is read by `CustomerScope`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct CustomerPath {
    /// The customer's id in the shop (1-64 characters of `[A-Za-z0-9._:-]`).
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

/// A `since` query parameter: an RFC 3339 time, `None` when left out.
pub fn since(since: Option<&str>) -> Result<Option<i64>, super::ApiError> {
    since
        .map(|t| {
            crate::domain::time::parse_rfc3339(t)
                .ok_or_else(|| super::ApiError::field("since", "must be an RFC 3339 time"))
        })
        .transpose()
}
