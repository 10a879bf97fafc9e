//! The HTTP API (axum): one file per resource, problem+json errors.

mod auth;
mod customers;
mod delivery;
mod edge;
mod error;
mod events;
mod flows;
mod installs;
mod models;
mod plugins;
mod points;
mod segments;
mod service;
mod stores;
mod surveys;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post};
use axum::Router;
use serde_json::Value;

pub use auth::AdminToken;
pub use error::ApiError;

use crate::pipeline::Pipeline;

/// Largest JSON body (a batch of 1000 events).
pub const MAX_JSON_BODY: usize = 16 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub pipeline: Pipeline,
    pub admin: AdminToken,
}

/// The whole API; shared by `serve`, the tests and the benchmarks.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(service::healthz))
        .route("/metrics", get(service::metrics))
        .route("/openapi.json", get(service::openapi))
        .route("/v1/stores", post(stores::create).get(stores::list))
        .route(
            "/v1/plugins",
            post(plugins::publish)
                .get(plugins::list)
                .layer(DefaultBodyLimit::max(
                    crate::pipeline::registry::MAX_COMPONENT_BYTES + 1024 * 1024,
                )),
        )
        .route(
            "/v1/stores/{store}/customers/{customer}",
            get(customers::get).put(customers::put),
        )
        .route("/v1/stores/{store}/events", post(events::post))
        .route("/v1/stores/{store}/events/{event}", get(events::get_one))
        .route(
            "/v1/stores/{store}/installs",
            post(installs::create).get(installs::list),
        )
        .route(
            "/v1/stores/{store}/installs/{install}",
            patch(installs::update).get(installs::get_one),
        )
        .route(
            "/v1/stores/{store}/customers/{customer}/points",
            get(points::get),
        )
        .route(
            "/v1/stores/{store}/customers/{customer}/points/redeem",
            post(points::redeem),
        )
        .route("/v1/stores/{store}/messages", get(delivery::outbox))
        .route(
            "/v1/stores/{store}/delivery",
            get(delivery::get).put(delivery::put),
        )
        .route("/v1/stores/{store}/segments", get(segments::list))
        .route(
            "/v1/stores/{store}/segments/{segment}/members",
            get(segments::members),
        )
        .route("/v1/stores/{store}/models", get(models::list))
        .route("/v1/stores/{store}/models/fit", post(models::fit))
        .route(
            "/v1/stores/{store}/surveys",
            post(surveys::create).get(surveys::list),
        )
        .route(
            "/v1/stores/{store}/surveys/{survey}/report",
            get(surveys::report),
        )
        .route(
            "/v1/stores/{store}/customers/{customer}/churn",
            get(flows::churn),
        )
        .route("/v1/stores/{store}/flows", get(flows::list))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .fallback(service::not_found)
        .layer(axum::middleware::from_fn(edge::problems_only))
        .with_state(state)
}

/// Parses a JSON body into a value, with problem+json errors for a body
/// that is too large or not JSON.
pub fn json_body(body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let bytes = body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!(
                "the body is larger than {MAX_JSON_BODY} bytes; split the batch"
            ))
        } else {
            ApiError::bad_json(e.body_text())
        }
    })?;
    if bytes.is_empty() {
        return Err(ApiError::bad_json("the body is empty; send a JSON object"));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_json(format!("the body is not valid JSON: {e}")))
}
