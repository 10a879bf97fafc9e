//! Population models: fit on request, and what each install's model says.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::{ApiError, AppState};
use crate::db::models;
use crate::domain::time::{now_ms, parse_rfc3339, to_rfc3339};

#[derive(Deserialize)]
pub struct WaitQuery {
    #[serde(default)]
    wait: bool,
}

pub async fn fit(
    State(state): State<AppState>,
    caller: Caller,
    Path(store): Path<String>,
    Query(q): Query<WaitQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_store(&state, &store).await?;
    // The body is optional: no body (or `{}`) fits as of now.
    let empty = body.as_ref().map(|b| b.is_empty()).unwrap_or(false);
    let body = if empty {
        json!({})
    } else {
        super::json_body(body)?
    };
    if !body.is_object() {
        return Err(ApiError::bad_json("the body must be a JSON object"));
    }
    let as_of = match body.get("as_of") {
        None | Some(Value::Null) => now_ms(),
        Some(Value::String(s)) => parse_rfc3339(s).ok_or_else(|| {
            ApiError::field(
                "as_of",
                "must be an RFC 3339 time, e.g. 2026-03-01T00:00:00Z",
            )
        })?,
        Some(_) => return Err(ApiError::field("as_of", "must be an RFC 3339 time string")),
    };
    match state.pipeline.request_fit(&store, as_of, q.wait).await {
        Some(reports) => Ok((
            StatusCode::OK,
            Json(json!({"as_of": to_rfc3339(as_of), "status": "done", "fits": reports})),
        )),
        None => Ok((
            StatusCode::ACCEPTED,
            Json(json!({"as_of": to_rfc3339(as_of), "status": "queued"})),
        )),
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(store): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_store(&state, &store).await?;
    let mut conn = state.pipeline.db.pool.acquire().await?;
    let list: Vec<Value> = models::list(&mut conn, &store)
        .await?
        .into_iter()
        .map(|m| {
            let fitted = m.fitted_at > 0;
            json!({
                "install_id": m.install_id,
                "plugin": m.plugin,
                "as_of": fitted.then(|| to_rfc3339(m.as_of)),
                "fitted_at": fitted.then(|| to_rfc3339(m.fitted_at)),
                "customers": m.customers,
                "fit_ms": m.elapsed_ms,
                "summary": m.summary,
                "last_error": m.last_error,
                "last_attempt_at": to_rfc3339(m.last_attempt_at),
            })
        })
        .collect();
    Ok(Json(json!(list)))
}
