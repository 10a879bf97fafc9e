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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
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
