use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::CustomerScope;
use super::params::{CustomerPath, StorePath};
use super::valid::Valid;
use super::ApiError;
use crate::db::ledger::Entry;
use crate::domain::time::to_rfc3339;

/// One line of a customer's points ledger.
#[derive(Serialize, ToSchema)]
pub struct EntryView {
    pub id: String,
    /// Positive for earn, negative for deduct, expire and redeem.
    pub points: i64,
    /// `earn`, `deduct`, `expire` or `redeem`.
    #[schema(example = "earn")]
    pub kind: String,
    pub reason: String,
    pub event_id: Option<String>,
    pub install_id: Option<String>,
    /// The order its event named (`order.placed`, `order.refunded`).
    pub order_id: Option<String>,
    /// The campaign that earned (or took back) it: its name, or its
    /// install's id; none for the base rules and the host.
    pub campaign: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

impl From<&Entry> for EntryView {
    fn from(e: &Entry) -> Self {
        EntryView {
            id: e.id.clone(),
            points: e.points,
            kind: e.kind.clone(),
            reason: e.reason.clone(),
            event_id: e.event_id.clone(),
            install_id: e.install_id.clone(),
            order_id: e.order_id.clone(),
            campaign: e.campaign.as_ref().map(|c| {
                c.name.clone().unwrap_or_else(|| e.install_id.clone().unwrap_or_default())
            }),
            created_at: to_rfc3339(e.created_at),
            expires_at: e.expires_at.map(to_rfc3339),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PointsAnswer {
    pub balance: i64,
    pub tier: Option<String>,
    pub entries: Vec<EntryView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Redeem {
    #[schema(minimum = 1, maximum = 1_000_000_000, example = 500)]
    pub points: i64,
    /// Shown in the ledger; `redeemed` when absent.
    #[schema(min_length = 1, max_length = 200, example = "coupon")]
    pub reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Redeemed {
    /// The balance after the redemption.
    pub balance: i64,
    pub entry: EntryView,
}

/// Balance, tier and ledger entries
#[utoipa::path(get, path = "/v1/stores/{store}/customers/{customer}/points", operation_id = "getPoints", tag = "customers",
    params(StorePath, CustomerPath), responses((status = 200, body = PointsAnswer)))]
pub async fn get(scope: CustomerScope) -> Result<Json<PointsAnswer>, ApiError> {
    let view = scope.pipeline.points(&scope.store, &scope.customer).await?;
    Ok(Json(PointsAnswer {
        balance: view.balance,
        tier: view.tier,
        entries: view.entries.iter().map(EntryView::from).collect(),
    }))
}

/// Redeem points, oldest unexpired first (409 if the balance is too low)
#[utoipa::path(post, path = "/v1/stores/{store}/customers/{customer}/points/redeem", operation_id = "redeemPoints",
    tag = "customers", params(StorePath, CustomerPath), request_body = Redeem,
    responses((status = 200, body = Redeemed)))]
pub async fn redeem(
    scope: CustomerScope,
    Valid(body): Valid<Redeem>,
) -> Result<Json<Redeemed>, ApiError> {
    let reason = body.reason.unwrap_or_else(|| "redeemed".into());
    let (balance, entry) =
        scope.pipeline.redeem(&scope.store, &scope.customer, body.points, &reason).await?;
    Ok(Json(Redeemed { balance, entry: EntryView::from(&entry) }))
}
