use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::StoreScope;
use super::params::StorePath;
use super::valid::Valid;
use super::{ApiError, AppState};
use crate::db::installs::{self, Install};
use crate::domain::time::to_rfc3339;
use crate::domain::World;
use crate::pipeline::installs::{InstallChange, NewInstall};

/// Install a plugin: `version` defaults to the newest published, `config`
/// is checked against the plugin's schema.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallRequest {
    #[schema(example = "points-basic")]
    pub plugin: String,
    #[schema(example = "1.0.0")]
    pub version: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// `false` installs it disabled. Default `true`.
    pub enabled: Option<bool>,
}

/// A change: swap the plugin (same world) or version, replace the config,
/// enable or disable. What is left out stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallPatch {
    pub plugin: Option<String>,
    pub version: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    pub enabled: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct InstallView {
    pub install_id: String,
    pub plugin: String,
    pub version: String,
    pub world: World,
    pub config: Value,
    pub enabled: bool,
    /// `enabled`, `disabled`, or `tripped` (disabled by a breaker).
    #[schema(example = "enabled")]
    pub state: &'static str,
    /// Why a breaker disabled it, and how to enable it again.
    pub disabled_reason: Option<String>,
    pub counters: InstallCounters,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct InstallCounters {
    pub invocations: i64,
    pub failures: i64,
    pub consecutive_failures: i64,
    /// Call latency since this server started.
    pub p50_us: u32,
    pub p99_us: u32,
}

impl InstallView {
    fn new(state: &AppState, i: Install) -> Self {
        let latency = state.pipeline.metrics.latency(&i.install_id);
        InstallView {
            state: if i.enabled {
                "enabled"
            } else if i.disabled_reason.is_some() {
                "tripped"
            } else {
                "disabled"
            },
            counters: InstallCounters {
                invocations: i.invocations,
                failures: i.failures,
                consecutive_failures: i.consecutive_failures,
                p50_us: latency.p50_us,
                p99_us: latency.p99_us,
            },
            created_at: to_rfc3339(i.created_at),
            updated_at: to_rfc3339(i.updated_at),
            install_id: i.install_id,
            plugin: i.plugin,
            version: i.version,
            world: i.world,
            config: i.config,
            enabled: i.enabled,
            disabled_reason: i.disabled_reason,
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct InstallPath {
    /// The install's id (`ins_…`).
    pub install: String,
}

/// Install a plugin version with a config
#[utoipa::path(post, path = "/v1/stores/{store}/installs", operation_id = "createInstall", tag = "installs",
    params(StorePath), request_body = InstallRequest,
    responses((status = 201, body = InstallView)))]
pub async fn create(
    State(state): State<AppState>,
    scope: StoreScope,
    Valid(body): Valid<InstallRequest>,
) -> Result<(StatusCode, Json<InstallView>), ApiError> {
    // The schema admits only an object (or null) as `config`.
    let config = body.config.unwrap_or_else(|| serde_json::json!({}));
    let new = NewInstall {
        plugin: body.plugin,
        version: body.version,
        config,
        enabled: body.enabled.unwrap_or(true),
    };
    let install = state.pipeline.install(&scope.store, new).await?;
    Ok((StatusCode::CREATED, Json(InstallView::new(&state, install))))
}

/// Installs with state and counters
#[utoipa::path(get, path = "/v1/stores/{store}/installs", operation_id = "listInstalls", tag = "installs",
    params(StorePath), responses((status = 200, body = Vec<InstallView>)))]
pub async fn list(
    State(state): State<AppState>,
    scope: StoreScope,
) -> Result<Json<Vec<InstallView>>, ApiError> {
    let mut conn = scope.conn().await?;
    let list = installs::list(&mut conn, &scope.store).await?;
    Ok(Json(
        list.into_iter()
            .map(|i| InstallView::new(&state, i))
            .collect(),
    ))
}

/// One install
#[utoipa::path(get, path = "/v1/stores/{store}/installs/{install}", operation_id = "getInstall", tag = "installs",
    params(StorePath, InstallPath), responses((status = 200, body = InstallView)))]
pub async fn get_one(
    State(state): State<AppState>,
    scope: StoreScope,
    Path(path): Path<InstallPath>,
) -> Result<Json<InstallView>, ApiError> {
    let mut conn = scope.conn().await?;
    let i = installs::get(&mut conn, &scope.store, &path.install)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("install `{}` not found", path.install)))?;
    Ok(Json(InstallView::new(&state, i)))
}

/// Swap plugin, version, config or enabled state without a restart
#[utoipa::path(patch, path = "/v1/stores/{store}/installs/{install}", operation_id = "updateInstall", tag = "installs",
    params(StorePath, InstallPath), request_body = InstallPatch,
    responses((status = 200, body = InstallView)))]
pub async fn update(
    State(state): State<AppState>,
    scope: StoreScope,
    Path(path): Path<InstallPath>,
    Valid(body): Valid<InstallPatch>,
) -> Result<Json<InstallView>, ApiError> {
    let change = InstallChange {
        plugin: body.plugin,
        version: body.version,
        config: body.config,
        enabled: body.enabled,
    };
    let install = state
        .pipeline
        .change_install(&scope.store, &path.install, change)
        .await?;
    Ok(Json(InstallView::new(&state, install)))
}
