//! How a store's messages leave: the log (default) or a signed webhook;
//! and the outbox itself.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::auth::Caller;
use super::{json_body, ApiError, AppState};
use crate::db::{messages, stores};
use crate::domain::time::to_rfc3339;
use crate::pipeline::delivery::Delivery;

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(store): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_store(&state, &store).await?;
    let mut conn = state.pipeline.db.pool.acquire().await?;
    let d = stores::delivery(&mut conn, &store)
        .await?
        .and_then(|v| serde_json::from_value::<Delivery>(v).ok())
        .unwrap_or(Delivery::Log);
    Ok(Json(d.public()))
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(store): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require_store(&state, &store).await?;
    let body = json_body(body)?;
    let d: Delivery = serde_json::from_value(body.clone()).map_err(|e| {
        ApiError::field(
            "kind",
            format!("{e}; send {{\"kind\":\"log\"}} or {{\"kind\":\"webhook\",\"url\":\"https://…\",\"secret\":\"…\"}}"),
        )
    })?;
    if let Delivery::Webhook { url, secret } = &d {
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 2000 {
            return Err(ApiError::field("url", "must be an http:// or https:// URL"));
        }
        state
            .pipeline
            .destinations
            .check_url(url)
            .map_err(|why| ApiError::field("url", why))?;
        if secret.len() < 16 {
            return Err(ApiError::field("secret", "must be at least 16 characters"));
        }
    }
    let mut conn = state.pipeline.db.pool.acquire().await?;
    stores::set_delivery(&mut conn, &store, &body).await?;
    Ok(Json(d.public()))
}

pub async fn outbox(
    State(state): State<AppState>,
    caller: Caller,
    Path(store): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_store(&state, &store).await?;
    let mut conn = state.pipeline.db.pool.acquire().await?;
    let list: Vec<Value> = messages::list(&mut conn, &store, 10_000)
        .await?
        .into_iter()
        .map(|m| {
            json!({
                "id": m.id, "customer_id": m.customer_id, "install_id": m.install_id,
                "event_id": m.event_id, "flow_id": m.flow_id, "step": m.step,
                "channel": m.channel, "template": m.template, "vars": m.vars,
                "state": m.state, "attempts": m.attempts, "last_error": m.last_error,
                "created_at": to_rfc3339(m.created_at),
                "delivered_at": m.delivered_at.map(to_rfc3339),
            })
        })
        .collect();
    Ok(Json(json!(list)))
}
