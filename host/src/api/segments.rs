//! Segments: counts and members, from every enabled segmenter.

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::{ApiError, AppState};
use crate::db::segments;

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(store): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_store(&state, &store).await?;
    let mut conn = state.pipeline.db.pool.acquire().await?;
    Ok(Json(json!(segments::counts(&mut conn, &store).await?)))
}

#[derive(Deserialize)]
pub struct Page {
    #[serde(default)]
    after: String,
    limit: Option<u32>,
}

/// Customer ids in id order; the next page starts `after` the last one.
pub async fn members(
    State(state): State<AppState>,
    caller: Caller,
    Path((store, segment)): Path<(String, String)>,
    Query(page): Query<Page>,
) -> Result<Json<Value>, ApiError> {
    caller.require_store(&state, &store).await?;
    let limit = page.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field("limit", "must be 1 to 1000"));
    }
    let mut conn = state.pipeline.db.pool.acquire().await?;
    let ids = segments::members(&mut conn, &store, &segment, &page.after, limit).await?;
    Ok(Json(json!(ids)))
}
