use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::auth::Caller;
use super::customers::check_id;
use super::{json_body, ApiError, AppState};
use crate::db::ledger::Entry;
use crate::domain::time::to_rfc3339;

fn entry_json(e: &Entry) -> Value {
    json!({"id": e.id, "points": e.points, "kind": e.kind, "reason": e.reason,
           "event_id": e.event_id, "install_id": e.install_id,
           "created_at": to_rfc3339(e.created_at), "expires_at": e.expires_at.map(to_rfc3339)})
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((store, customer)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require_store(&state, &store).await?;
    check_id("customer", &customer)?;
    let view = state.pipeline.points(&store, &customer).await?;
    Ok(Json(json!({
        "balance": view.balance,
        "tier": view.tier,
        "entries": view.entries.iter().map(entry_json).collect::<Vec<_>>(),
    })))
}

pub async fn redeem(
    State(state): State<AppState>,
    caller: Caller,
    Path((store, customer)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require_store(&state, &store).await?;
    check_id("customer", &customer)?;
    let body = json_body(body)?;
    let points = match body.get("points") {
        Some(Value::Number(n)) => match n.as_i64() {
            Some(p) if (1..=1_000_000_000).contains(&p) => p,
            _ => {
                return Err(ApiError::field(
                    "points",
                    "must be an integer from 1 to 1000000000",
                ))
            }
        },
        None => return Err(ApiError::field("points", "is required")),
        Some(_) => {
            return Err(ApiError::field(
                "points",
                "must be an integer from 1 to 1000000000",
            ))
        }
    };
    let reason = match body.get("reason") {
        None | Some(Value::Null) => "redeemed".to_string(),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 200 => s.clone(),
        Some(_) => {
            return Err(ApiError::field(
                "reason",
                "must be a string of 1-200 characters",
            ))
        }
    };
    let (balance, entry) = state
        .pipeline
        .redeem(&store, &customer, points, &reason)
        .await?;
    Ok(Json(
        json!({"balance": balance, "entry": entry_json(&entry)}),
    ))
}
