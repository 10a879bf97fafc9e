use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::Caller;
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

/// How long readiness waits for the database.
pub const READY_WITHIN: std::time::Duration = std::time::Duration::from_millis(800);

/// Ready: the database answers, its migrations ran and the installed
/// plugins are loaded (503 while stopping, or when the database does not
/// answer within 0.8 s)
#[utoipa::path(get, path = "/readyz", operation_id = "ready", tag = "service", security(()),
    responses((status = 200, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    let p = &state.pipeline;
    if p.is_stopping() {
        return Err(ApiError::unavailable("this node is stopping; use another"));
    }
    // Its own short bound: a probe must hear "not ready" while the
    // database is away, not wait for it to come back.
    match tokio::time::timeout(READY_WITHIN, p.db.ping()).await {
        Ok(Ok(())) => p.db.health.answered(),
        Ok(Err(e)) => {
            p.db.health.away(&e);
            return Err(ApiError::unavailable(format!(
                "the database does not answer ({e}); this node serves again by itself when it does"
            )));
        }
        Err(_) => {
            return Err(ApiError::unavailable(format!(
                "the database did not answer within {} ms; this node serves again by itself \
                 when it does",
                READY_WITHIN.as_millis()
            )));
        }
    }
    Ok(Json(Readiness {
        status: "ready",
        node: p.cluster.node_id.clone(),
        database: p.db.backend.name(),
    }))
}

/// Prometheus metrics (admin)
///
/// They name every store and the plugins each runs, so the public listener
/// serves them to the admin token only; `--metrics-listen` serves them
/// without a token on an address of their own (loopback by default), for
/// a scraper.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "service",
    responses((status = 200, body = String, content_type = "text/plain; version=0.0.4",
        description = "Prometheus text exposition format")))]
pub async fn metrics(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_admin()?;
    metrics_text(State(state)).await
}

/// The metrics, to whoever reaches the address they are served on (the
/// `--metrics-listen` listener).
pub async fn metrics_text(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let p = &state.pipeline;
    // During an outage the metrics still answer (from memory, with
    // `clientele_database_up 0`): they are how ops see it.
    let pending = match from_database(&state).await {
        Ok((pending, depth)) => {
            p.metrics.dead_letters(&depth);
            pending
        }
        Err(e) if p.db.health.away(&e) => p.signals_pending(),
        Err(e) => return Err(e.into()),
    };
    let gauges = p.gauges(pending);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], p.metrics.render(&gauges)))
}

/// Pending events and dead letters per install, as the database says.
async fn from_database(
    state: &AppState,
) -> Result<(i64, Vec<(String, String, i64)>), crate::db::DbError> {
    let mut conn = state.pipeline.db.pool.acquire().await?;
    let pending = events::pending_count(&mut conn).await?;
    let depth = crate::db::failures::depth(&mut conn).await?;
    Ok((pending, depth))
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
