//! Churn: a customer's latest assessment and rescue flows.

use super::params::ValidQuery;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::{CustomerScope, StoreScope};
use super::params::{CustomerPath, StorePath};
use super::ApiError;
use crate::db::churn::{self, Flow};
use crate::domain::states::FlowState;
use crate::domain::time::to_rfc3339;

/// A rescue flow: the steps a churn-rescue plugin planned for a customer.
#[derive(Serialize, ToSchema)]
pub struct FlowView {
    pub id: String,
    pub customer_id: String,
    pub install_id: String,
    pub state: FlowState,
    /// The step due next (active) or the last one reached.
    pub step: i64,
    #[schema(format = DateTime)]
    pub due_at: Option<String>,
    #[schema(format = DateTime)]
    pub started_at: String,
    #[schema(format = DateTime)]
    pub ended_at: Option<String>,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub p_alive: f64,
    pub value_cents: i64,
    /// What happened, in order: `[{"at", "what", …}]`.
    pub history: Vec<crate::domain::rescue::FlowNote>,
}

impl From<&Flow> for FlowView {
    fn from(f: &Flow) -> Self {
        FlowView {
            id: f.id.clone(),
            customer_id: f.customer_id.clone(),
            install_id: f.install_id.clone(),
            state: f.state,
            step: f.step,
            due_at: f.due_at.map(to_rfc3339),
            started_at: to_rfc3339(f.started_at),
            ended_at: f.ended_at.map(to_rfc3339),
            updated_at: to_rfc3339(f.updated_at),
            p_alive: f.p_alive,
            value_cents: f.value_cents,
            history: f.history.clone(),
        }
    }
}

/// A customer's latest churn assessment, and their rescue flow if any.
#[derive(Serialize, ToSchema)]
pub struct ChurnView {
    pub customer_id: String,
    pub install_id: String,
    /// Probability the customer is still active (BG/NBD).
    pub p_alive: f64,
    pub risk: f64,
    pub value_cents: i64,
    pub details: Value,
    #[schema(format = DateTime)]
    pub as_of: String,
    #[schema(format = DateTime)]
    pub assessed_at: String,
    pub flow: Option<FlowView>,
}

/// Latest churn assessment and flow
#[utoipa::path(get, path = "/v1/stores/{store}/customers/{customer}/churn", operation_id = "getChurn", tag = "customers",
    params(StorePath, CustomerPath), responses((status = 200, body = ChurnView)))]
pub async fn churn(scope: CustomerScope) -> Result<Json<ChurnView>, ApiError> {
    let (store, customer) = (&scope.store, &scope.customer);
    let mut conn = scope.conn().await?;
    let a = churn::latest_assessment(&mut conn, store, customer)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "customer `{customer}` has no churn assessment yet; install a churn-rescue plugin and send events or run a fit"
            ))
        })?;
    let flow = churn::latest_flow(&mut conn, store, customer).await?;
    Ok(Json(ChurnView {
        customer_id: customer.clone(),
        install_id: a.install_id,
        p_alive: a.p_alive,
        risk: a.risk,
        value_cents: a.value_cents,
        details: a.details,
        as_of: to_rfc3339(a.as_of),
        assessed_at: to_rfc3339(a.assessed_at),
        flow: flow.as_ref().map(FlowView::from),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlowQuery {
    /// Only flows in this state.
    #[param(value_type = Option<FlowState>)]
    state: Option<String>,
}

/// Rescue flows
#[utoipa::path(get, path = "/v1/stores/{store}/flows", operation_id = "listFlows", tag = "customers",
    params(StorePath, FlowQuery), responses((status = 200, body = Vec<FlowView>)))]
pub async fn list(
    scope: StoreScope,
    ValidQuery(q): ValidQuery<FlowQuery>,
) -> Result<Json<Vec<FlowView>>, ApiError> {
    let wanted = match q.state.as_deref() {
        None => None,
        Some(s) => Some(FlowState::parse(s).ok_or_else(|| {
            ApiError::field("state", format!("must be one of {}", FlowState::list()))
        })?),
    };
    let mut conn = scope.conn().await?;
    let flows = churn::list(&mut conn, &scope.store, wanted, 10_000).await?;
    Ok(Json(flows.iter().map(FlowView::from).collect()))
}
