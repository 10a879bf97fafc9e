//! The HTTP API (axum): one file per resource, problem+json errors.

mod analytics;
pub(crate) mod auth;
mod campaigns;
mod cluster;
mod complaints;
mod customers;
mod delivery;
mod doc;
mod edge;
mod error;
mod event_doc;
mod events;
mod flows;
mod installs;
mod models;
mod overview;
mod params;
mod plugins;
mod points;
mod privacy;
mod rollouts;
mod schemas;
mod segments;
mod service;
pub mod session;
mod stores;
mod surveys;
mod throttle;
mod valid;

pub use events::parse_event;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::DefaultBodyLimit;
use axum::Router;
use serde_json::Value;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::AdminToken;
pub use doc::{compile_schema, openapi_json};
pub use error::{ApiError, Problem};

use crate::pipeline::Pipeline;

/// Largest JSON body (a batch of 1000 events).
pub const MAX_JSON_BODY: usize = 16 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub pipeline: Pipeline,
    pub admin: AdminToken,
    /// Signs the console's session cookies (derived from the admin token).
    pub sessions: session::SessionKey,
    /// Store keys already found valid.
    pub keys: std::sync::Arc<auth::KnownKeys>,
    /// Failed sign-ins per source address.
    pub attempts: std::sync::Arc<throttle::FailedAttempts>,
    /// The console signs in over plain HTTP from any address (else only
    /// behind HTTPS, or from this machine).
    pub insecure_http: bool,
}

impl AppState {
    pub fn new(pipeline: Pipeline, admin_token: &str) -> AppState {
        let admin = AdminToken::new(admin_token);
        let sessions = session::SessionKey::new(&admin);
        AppState {
            pipeline,
            sessions,
            admin,
            keys: Default::default(),
            attempts: Default::default(),
            insecure_http: false,
        }
    }
}

/// The whole API, with `pages` (the console's) beside it.
pub fn app(pages: Router<AppState>, state: AppState) -> Router {
    let (router, _) = routes().split_for_parts();
    router
        .merge(pages)
        .fallback(service::not_found)
        .layer(axum::middleware::from_fn(edge::problems_only))
        .with_state(state)
}

/// `GET /metrics` alone, without a token: for the `--metrics-listen`
/// address, which ops keep off the public network.
pub fn metrics_app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(service::metrics_text))
        .fallback(service::not_found)
        .layer(axum::middleware::from_fn(edge::problems_only))
        .with_state(state)
}

/// Every route with its document entry. JSON endpoints take bodies up to
/// [`MAX_JSON_BODY`]; publishing takes a component.
fn routes() -> OpenApiRouter<AppState> {
    let json = OpenApiRouter::with_openapi(doc::ApiDoc::openapi())
        .routes(routes!(service::healthz))
        .routes(routes!(service::readyz))
        .routes(routes!(cluster::get))
        .routes(routes!(service::metrics))
        .routes(routes!(service::openapi))
        .routes(routes!(stores::create, stores::list))
        .routes(routes!(stores::get))
        .routes(routes!(stores::rotate_key))
        .routes(routes!(overview::get))
        .routes(routes!(analytics::retention))
        .routes(routes!(complaints::list))
        .routes(routes!(complaints::of_customer))
        .routes(routes!(customers::get, customers::put, privacy::erase))
        .routes(routes!(privacy::export))
        .routes(routes!(privacy::erasures))
        .routes(routes!(privacy::get, privacy::put))
        .routes(routes!(privacy::reads))
        .routes(routes!(customers::list))
        .routes(routes!(customers::activity))
        .routes(routes!(events::post, events::list))
        .routes(routes!(events::get_one))
        .routes(routes!(installs::create, installs::list))
        .routes(routes!(installs::update, installs::get_one))
        .routes(routes!(campaigns::list))
        .routes(routes!(rollouts::failures))
        .routes(routes!(rollouts::retry))
        .routes(routes!(rollouts::rollback))
        .routes(routes!(rollouts::history))
        .routes(routes!(rollouts::shadow))
        .routes(routes!(rollouts::canary))
        .routes(routes!(rollouts::logs))
        .routes(routes!(plugins::version))
        .routes(routes!(plugins::yank))
        .routes(routes!(points::get))
        .routes(routes!(points::redeem))
        .routes(routes!(delivery::outbox))
        .routes(routes!(delivery::get, delivery::put))
        .routes(routes!(segments::list))
        .routes(routes!(segments::members))
        .routes(routes!(models::list))
        .routes(routes!(models::fit))
        .routes(routes!(surveys::create, surveys::list))
        .routes(routes!(surveys::report))
        .routes(routes!(surveys::responses))
        .routes(routes!(flows::churn))
        .routes(routes!(flows::list))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY));
    let publish = OpenApiRouter::default()
        .routes(routes!(plugins::publish, plugins::list))
        .layer(DefaultBodyLimit::max(crate::pipeline::registry::MAX_COMPONENT_BYTES + 1024 * 1024));
    json.merge(publish)
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
