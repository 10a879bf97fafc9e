use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use super::{ApiError, AppState};
use crate::db::events;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let mut conn = state.pipeline.db.pool.acquire().await?;
    let pending = events::pending_count(&mut conn).await?;
    let p = &state.pipeline;
    let gauges = p.gauges(pending);
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        p.metrics.render(&gauges),
    ))
}

pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see GET /openapi.json")
}
