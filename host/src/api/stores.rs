use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::auth::{key_hash, Caller};
use super::{json_body, ApiError, AppState};
use crate::db::stores::{self, Store};
use crate::domain::event::FieldError;
use crate::domain::ids::{is_valid_id, random_token};
use crate::domain::time::{now_ms, to_rfc3339};

fn text_field(
    body: &Value,
    name: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match body.get(name) {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= max => Some(s.clone()),
        Some(Value::String(_)) => {
            errors.push(FieldError::new(name, format!("must be 1-{max} characters")));
            None
        }
        None | Some(Value::Null) => None,
        Some(_) => {
            errors.push(FieldError::new(name, "must be a string"));
            None
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_admin()?;
    let body = json_body(body)?;
    if !body.is_object() {
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    let mut errors = Vec::new();
    let id = text_field(&body, "id", 64, &mut errors);
    match &id {
        Some(id) if !is_valid_id(id) => errors.push(FieldError::new(
            "id",
            "must be 1-64 characters of [A-Za-z0-9._:-]",
        )),
        None if errors.is_empty() => errors.push(FieldError::new("id", "is required")),
        _ => {}
    }
    let name = text_field(&body, "name", 200, &mut errors);
    let currency = text_field(&body, "currency", 3, &mut errors).unwrap_or_else(|| "USD".into());
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        errors.push(FieldError::new(
            "currency",
            "must be an ISO 4217 code such as CNY",
        ));
    }
    let timezone = text_field(&body, "timezone", 64, &mut errors).unwrap_or_else(|| "UTC".into());
    if timezone.parse::<chrono_tz::Tz>().is_err() {
        errors.push(FieldError::new(
            "timezone",
            "must be an IANA time zone such as Asia/Shanghai or UTC",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let id = id.expect("checked");
    let store = Store {
        name: name.unwrap_or_else(|| id.clone()),
        id,
        currency,
        timezone,
        created_at: now_ms(),
    };
    let api_key = format!("ck_{}", random_token());
    let mut tx = state.pipeline.db.begin_write().await?;
    stores::insert(&mut tx, &store, &key_hash(&api_key))
        .await
        .map_err(|e| {
            if e.is_unique_violation() {
                ApiError::conflict(format!("store `{}` already exists", store.id))
            } else {
                e.into()
            }
        })?;
    tx.commit().await?;
    tracing::info!(store = %store.id, "store created");
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"id": store.id, "name": store.name, "currency": store.currency,
                    "timezone": store.timezone, "api_key": api_key}),
        ),
    ))
}

pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_admin()?;
    let mut conn = state.pipeline.db.pool.acquire().await?;
    let list: Vec<Value> = stores::list(&mut conn)
        .await?
        .into_iter()
        .map(|s| {
            json!({"id": s.id, "name": s.name, "currency": s.currency, "timezone": s.timezone,
                   "created_at": to_rfc3339(s.created_at)})
        })
        .collect();
    Ok(Json(json!(list)))
}
