use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::auth::Caller;
use super::{json_body, ApiError, AppState};
use crate::db::customers::{self, ProfileUpdate};
use crate::domain::customer::Customer;
use crate::domain::event::FieldError;
use crate::domain::ids::is_valid_id;
use crate::domain::time::{now_ms, to_rfc3339};

pub fn check_id(what: &str, id: &str) -> Result<(), ApiError> {
    if is_valid_id(id) {
        Ok(())
    } else {
        Err(ApiError::field(
            what,
            "must be 1-64 characters of [A-Za-z0-9._:-]",
        ))
    }
}

pub fn profile_json(c: &Customer) -> Value {
    json!({
        "id": c.id, "email": c.email, "phone": c.phone, "name": c.name,
        "birthday": c.birthday, "tags": c.tags, "attributes": c.attributes,
        "points_balance": c.points_balance, "tier": c.tier,
        "segments": Vec::<String>::new(),
        "stats": {
            "orders": c.stats.orders,
            "repeat_days": c.stats.repeat_days,
            "net_spend_cents": c.stats.net_spend_cents,
            "first_order_at": c.stats.first_order_at.map(to_rfc3339),
            "last_order_at": c.stats.last_order_at.map(to_rfc3339),
        }
    })
}

fn opt_text(
    body: &serde_json::Map<String, Value>,
    name: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<Option<String>> {
    match body.get(name) {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.len() <= max => Some(Some(s.clone())),
        Some(Value::String(_)) => {
            errors.push(FieldError::new(
                name,
                format!("must be at most {max} characters"),
            ));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(name, "must be a string or null"));
            None
        }
    }
}

fn parse_profile(body: &Value) -> Result<ProfileUpdate, ApiError> {
    let Some(obj) = body.as_object() else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    let mut errors = Vec::new();
    for key in obj.keys() {
        if !["email", "phone", "name", "birthday", "tags", "attributes"].contains(&key.as_str()) {
            errors.push(FieldError::new(
                key.clone(),
                "is not a customer field (email, phone, name, birthday, tags, attributes)",
            ));
        }
    }
    let mut update = ProfileUpdate {
        email: opt_text(obj, "email", 254, &mut errors),
        phone: opt_text(obj, "phone", 32, &mut errors),
        name: opt_text(obj, "name", 200, &mut errors),
        birthday: opt_text(obj, "birthday", 10, &mut errors),
        ..Default::default()
    };
    if let Some(Some(b)) = &update.birthday {
        if chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").is_err() {
            errors.push(FieldError::new("birthday", "must be a date YYYY-MM-DD"));
        }
    }
    match obj.get("tags") {
        None => {}
        Some(Value::Array(tags)) if tags.len() <= 100 => {
            let mut out = Vec::new();
            for (i, t) in tags.iter().enumerate() {
                match t.as_str() {
                    Some(s) if !s.is_empty() && s.len() <= 64 => out.push(s.to_string()),
                    _ => errors.push(FieldError::new(
                        format!("tags[{i}]"),
                        "must be a string of 1-64 characters",
                    )),
                }
            }
            update.tags = Some(out);
        }
        Some(_) => errors.push(FieldError::new(
            "tags",
            "must be a list of at most 100 strings",
        )),
    }
    match obj.get("attributes") {
        None => {}
        Some(v @ Value::Object(_)) if v.to_string().len() <= 16 * 1024 => {
            update.attributes = Some(v.clone())
        }
        Some(_) => errors.push(FieldError::new(
            "attributes",
            "must be a JSON object of at most 16 KiB",
        )),
    }
    if errors.is_empty() {
        Ok(update)
    } else {
        Err(ApiError::invalid(errors))
    }
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path((store, customer)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require_store(&state, &store).await?;
    check_id("customer", &customer)?;
    let update = parse_profile(&json_body(body)?)?;
    let mut tx = state.pipeline.db.begin_write().await?;
    let c = customers::upsert_profile(&mut tx, &store, &customer, &update, now_ms()).await?;
    tx.commit().await?;
    Ok(Json(profile_json(&c)))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((store, customer)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require_store(&state, &store).await?;
    check_id("customer", &customer)?;
    let mut conn = state.pipeline.db.pool.acquire().await?;
    let c = customers::get(&mut conn, &store, &customer)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("customer `{customer}` not found")))?;
    let mut body = profile_json(&c);
    body["segments"] = json!(crate::db::segments::of_customer(&mut conn, &store, &customer).await?);
    Ok(Json(body))
}
