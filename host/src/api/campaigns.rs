//! Campaigns: the store's point-rules installs that run on top of its base
//! rules, with what each has issued.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::StoreScope;
use super::installs::CampaignTerms;
use super::params::StorePath;
use super::ApiError;
use crate::db::{installs, ledger};
use crate::domain::time::now_ms;

/// One campaign and what it has issued.
#[derive(Serialize, ToSchema)]
pub struct CampaignReport {
    pub install_id: String,
    /// The campaign's name (its install's id when it has none).
    pub name: String,
    pub plugin: String,
    pub version: String,
    pub enabled: bool,
    /// Whether its window holds the present moment.
    pub active_now: bool,
    pub terms: CampaignTerms,
    /// Points it earned customers.
    pub points_issued: i64,
    /// Points it took back on refunds.
    pub points_taken_back: i64,
    /// Customers who earned from it.
    pub customers_reached: i64,
    /// Orders it earned on.
    pub orders_touched: i64,
    /// What its total budget has left (none without one).
    pub budget_left: Option<i64>,
}

/// The store's campaigns
#[utoipa::path(get, path = "/v1/stores/{store}/campaigns", operation_id = "listCampaigns", tag = "installs",
    params(StorePath), responses((status = 200, body = Vec<CampaignReport>)))]
pub async fn list(scope: StoreScope) -> Result<Json<Vec<CampaignReport>>, ApiError> {
    let mut conn = scope.conn().await?;
    let now = now_ms();
    let mut out = Vec::new();
    for i in installs::list(&mut conn, &scope.store).await? {
        let Some(c) = &i.campaign else { continue };
        let s = ledger::issued_stats(&mut conn, &scope.store, &i.install_id).await?;
        out.push(CampaignReport {
            name: c.name.clone().unwrap_or_else(|| i.install_id.clone()),
            active_now: c.active_at(now),
            terms: CampaignTerms::of(c),
            budget_left: c.budget_points.map(|b| (b - (s.issued - s.taken_back)).max(0)),
            points_issued: s.issued,
            points_taken_back: s.taken_back,
            customers_reached: s.customers,
            orders_touched: s.orders,
            install_id: i.install_id,
            plugin: i.plugin,
            version: i.version,
            enabled: i.enabled,
        });
    }
    Ok(Json(out))
}
