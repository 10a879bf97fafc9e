use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{ApiError, AppState};
use crate::db::events;

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Live: the process serves HTTP (say nothing of the database)
#[utoipa::path(get, path = "/healthz", operation_id = "health", tag = "service", security(()),
    responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ready")]
    pub status: &'static str,
    #[schema(example = "node-3f9a12c0")]
    pub node: String,
    #[schema(example = "sqlite")]
    pub database: &'static str,
}

/// Ready: the database answers, its migrations ran and the installed
/// plugins are loaded (503 while stopping or when the database is away)
#[utoipa::path(get, path = "/readyz", operation_id = "ready", tag = "service", security(()),
    responses((status = 200, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    let p = &state.pipeline;
    if p.is_stopping() {
        return Err(ApiError::unavailable("this node is stopping; use another"));
    }
    if let Err(e) = p.db.ping().await {
        tracing::warn!(error = %e, "readiness: the database does not answer");
        return Err(ApiError::unavailable("the database does not answer; see this node's log"));
    }
    Ok(Json(Readiness {
        status: "ready",
        node: p.cluster.node_id.clone(),
        database: p.db.backend.name(),
    }))
}

/// Prometheus metrics
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "service", security(()),
    responses((status = 200, body = String, content_type = "text/plain; version=0.0.4",
        description = "Prometheus text exposition format")))]
pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let mut conn = state.pipeline.db.pool.acquire().await?;
    let pending = events::pending_count(&mut conn).await?;
    let depth = crate::db::failures::depth(&mut conn).await?;
    let p = &state.pipeline;
    p.metrics.dead_letters(&depth);
    let gauges = p.gauges(pending);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], p.metrics.render(&gauges)))
}

/// This document (OpenAPI 3.1), generated from the server's own handlers
#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi", tag = "service", security(()),
    responses((status = 200, body = Object, description = "An OpenAPI 3.1 document")))]
pub async fn openapi() -> Json<&'static Value> {
    Json(super::openapi_json())
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see GET /openapi.json")
}
