//! Segments: counts and members, from every enabled segmenter.

use super::params::ValidQuery;
use axum::extract::Path;
use axum::Json;
use serde::Deserialize;

use super::auth::StoreScope;
use super::params::StorePath;
use super::ApiError;
use crate::db::segments::{self, SegmentCount};

/// Segments with their member counts
#[utoipa::path(get, path = "/v1/stores/{store}/segments", operation_id = "listSegments", tag = "segments",
    params(StorePath), responses((status = 200, body = Vec<SegmentCount>)))]
pub async fn list(scope: StoreScope) -> Result<Json<Vec<SegmentCount>>, ApiError> {
    let mut conn = scope.conn().await?;
    Ok(Json(segments::counts(&mut conn, &scope.store).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SegmentPath {
    /// The segment's name.
    pub segment: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Start after this customer id (the last one of the previous page).
    #[serde(default)]
    after: String,
    /// Ids per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// Customer ids of a segment in id order, paged
#[utoipa::path(get, path = "/v1/stores/{store}/segments/{segment}/members", operation_id = "listSegmentMembers", tag = "segments",
    params(StorePath, SegmentPath, Page), responses((status = 200, body = Vec<String>)))]
pub async fn members(
    scope: StoreScope,
    Path(path): Path<SegmentPath>,
    ValidQuery(page): ValidQuery<Page>,
) -> Result<Json<Vec<String>>, ApiError> {
    let limit = super::params::page_limit(page.limit)?;
    let mut conn = scope.conn().await?;
    let ids = segments::members(&mut conn, &scope.store, &path.segment, &page.after, limit).await?;
    Ok(Json(ids))
}
