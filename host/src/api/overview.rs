use super::params::ValidQuery;
use axum::Json;
use serde::Deserialize;

use super::auth::StoreScope;
use super::params::StorePath;
use super::ApiError;
use crate::db::overview::{self, Overview};
use crate::db::stores;
use crate::domain::time::now_ms;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverviewQuery {
    /// Days up to today (the store's), 1 to 366; 30 when left out.
    #[param(minimum = 1, maximum = 366)]
    days: Option<u32>,
}

/// The store at a glance: activity and points by day, tiers, flows, risk, NPS and CSAT
#[utoipa::path(get, path = "/v1/stores/{store}/overview", operation_id = "getOverview", tag = "stores",
    params(StorePath, OverviewQuery), responses((status = 200, body = Overview)))]
pub async fn get(
    scope: StoreScope,
    ValidQuery(q): ValidQuery<OverviewQuery>,
) -> Result<Json<Overview>, ApiError> {
    let days = q.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(ApiError::field("days", "must be 1 to 366"));
    }
    let mut conn = scope.conn().await?;
    let store = stores::get(&mut conn, &scope.store)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("store `{}` not found", scope.store)))?;
    let now = now_ms();
    let offset_ms = crate::domain::time::utc_offset_ms(&store.timezone, now);
    Ok(Json(overview::of_store(&mut conn, &scope.store, now, days, offset_ms).await?))
}
