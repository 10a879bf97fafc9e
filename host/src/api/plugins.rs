use std::collections::BTreeMap;

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::auth::Caller;
use super::{ApiError, AppState};
use crate::db::plugins;
use crate::pipeline::registry::MAX_COMPONENT_BYTES;

pub async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_admin()?;
    let mut multipart = multipart.map_err(|e| {
        ApiError::bad_json(format!(
            "expected multipart/form-data with parts `manifest` and `component`: {}",
            e.body_text()
        ))
    })?;
    let mut manifest = None;
    let mut component = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::too_large(format!(
                    "components are at most {MAX_COMPONENT_BYTES} bytes"
                )))
            }
            Err(e) => {
                return Err(ApiError::bad_json(format!(
                    "malformed multipart body: {}",
                    e.body_text()
                )))
            }
        };
        let name = field.name().unwrap_or_default().to_string();
        let bytes = field.bytes().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large(format!(
                    "components are at most {MAX_COMPONENT_BYTES} bytes"
                ))
            } else {
                ApiError::bad_json(format!("malformed multipart body: {}", e.body_text()))
            }
        })?;
        match name.as_str() {
            "manifest" => {
                manifest = Some(
                    String::from_utf8(bytes.to_vec())
                        .map_err(|_| ApiError::field("manifest", "must be UTF-8 TOML"))?,
                )
            }
            "component" => component = Some(bytes.to_vec()),
            other => {
                return Err(ApiError::field(
                    other,
                    "unexpected part; send `manifest` and `component`",
                ))
            }
        }
    }
    let manifest = manifest
        .ok_or_else(|| ApiError::field("manifest", "part is missing (the plugin.toml text)"))?;
    let component = component
        .ok_or_else(|| ApiError::field("component", "part is missing (the .wasm component)"))?;
    if component.len() > MAX_COMPONENT_BYTES {
        return Err(ApiError::too_large(format!(
            "components are at most {MAX_COMPONENT_BYTES} bytes"
        )));
    }
    let published = state.pipeline.publish(&manifest, component).await?;
    let v = published.version;
    let status = if published.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(
            json!({"name": v.name, "version": v.version, "world": v.world, "sha256": v.sha256,
                    "capabilities": v.capabilities, "size_bytes": v.size_bytes,
                    "description": v.description}),
        ),
    ))
}

pub async fn list(State(state): State<AppState>, _caller: Caller) -> Result<Json<Value>, ApiError> {
    let mut conn = state.pipeline.db.pool.acquire().await?;
    let mut by_name: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for v in plugins::list(&mut conn).await? {
        by_name.entry(v.name.clone()).or_default().push(json!({
            "version": v.version, "world": v.world, "description": v.description,
            "capabilities": v.capabilities, "sha256": v.sha256, "size_bytes": v.size_bytes,
            "published_at": crate::domain::time::to_rfc3339(v.published_at),
        }));
    }
    Ok(Json(Value::Array(
        by_name
            .into_iter()
            .map(|(name, versions)| json!({"name": name, "versions": versions}))
            .collect(),
    )))
}
