//! Churn: a customer's latest assessment and rescue flows.

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::customers::check_id;
use super::{ApiError, AppState};
use crate::db::churn::{self, Flow};
use crate::domain::time::to_rfc3339;

pub fn flow_json(f: &Flow) -> Value {
    json!({
        "id": f.id, "customer_id": f.customer_id, "install_id": f.install_id,
        "state": f.state, "step": f.step,
        "due_at": f.due_at.map(to_rfc3339),
        "started_at": to_rfc3339(f.started_at),
        "ended_at": f.ended_at.map(to_rfc3339),
        "updated_at": to_rfc3339(f.updated_at),
        "p_alive": f.p_alive, "value_cents": f.value_cents,
        "history": f.history,
    })
}

pub async fn churn(
    State(state): State<AppState>,
    caller: Caller,
    Path((store, customer)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require_store(&state, &store).await?;
    check_id("customer", &customer)?;
    let mut conn = state.pipeline.db.pool.acquire().await?;
    let a = churn::latest_assessment(&mut conn, &store, &customer)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "customer `{customer}` has no churn assessment yet; install a churn-rescue plugin and send events or run a fit"
            ))
        })?;
    let flow = churn::latest_flow(&mut conn, &store, &customer).await?;
    Ok(Json(json!({
        "customer_id": customer,
        "install_id": a.install_id,
        "p_alive": a.p_alive,
        "risk": a.risk,
        "value_cents": a.value_cents,
        "details": a.details,
        "as_of": to_rfc3339(a.as_of),
        "assessed_at": to_rfc3339(a.assessed_at),
        "flow": flow.as_ref().map(flow_json),
    })))
}

#[derive(Deserialize)]
pub struct FlowQuery {
    state: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(store): Path<String>,
    Query(q): Query<FlowQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require_store(&state, &store).await?;
    if let Some(s) = &q.state {
        if !["active", "rescued", "expired", "skipped"].contains(&s.as_str()) {
            return Err(ApiError::field(
                "state",
                "must be one of active, rescued, expired, skipped",
            ));
        }
    }
    let mut conn = state.pipeline.db.pool.acquire().await?;
    let flows = churn::list(&mut conn, &store, q.state.as_deref(), 10_000).await?;
    Ok(Json(json!(flows.iter().map(flow_json).collect::<Vec<_>>())))
}
