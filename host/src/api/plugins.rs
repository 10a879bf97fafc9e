use std::collections::BTreeMap;

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Caller;
use super::valid::Valid;
use super::{ApiError, AppState};
use crate::db::plugins::{self, PluginVersion};
use crate::pipeline::registry::MAX_COMPONENT_BYTES;

/// The two parts of a publish.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the multipart body
pub struct PublishForm {
    /// The plugin's `plugin.toml`.
    manifest: String,
    /// The `.wasm` component.
    #[schema(format = Binary, content_media_type = "application/wasm")]
    component: Vec<u8>,
}

/// A published version, with what it asks of an install.
#[derive(Serialize, ToSchema)]
pub struct PluginVersionView {
    #[serde(flatten)]
    pub version: PluginVersion,
    /// The JSON Schema an install's config must match.
    #[schema(value_type = Object)]
    pub config_schema: serde_json::Value,
    /// Whether it is yanked (`yanked_at`).
    pub yanked: bool,
}

impl From<PluginVersion> for PluginVersionView {
    fn from(v: PluginVersion) -> Self {
        PluginVersionView {
            config_schema: crate::domain::manifest::Manifest::published_config_schema(&v.manifest),
            yanked: v.yanked_at.is_some(),
            version: v,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PluginView {
    pub name: String,
    pub versions: Vec<PluginVersionView>,
}

/// Publish a plugin version (admin): multipart manifest + component
///
/// Versions are immutable: the same bytes again answer 200, other bytes
/// under a published version 409.
#[utoipa::path(post, path = "/v1/plugins", operation_id = "publishPlugin", tag = "plugins",
    request_body(content = PublishForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = PluginVersionView, description = "Published"),
        (status = 200, body = PluginVersionView, description = "Already published with these bytes"),
    ))]
pub async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<PluginVersionView>), ApiError> {
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
                ApiError::too_large(format!("components are at most {MAX_COMPONENT_BYTES} bytes"))
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
    let status = if published.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(v.into())))
}

/// Every plugin with its versions
#[utoipa::path(get, path = "/v1/plugins", operation_id = "listPlugins", tag = "plugins",
    responses((status = 200, body = Vec<PluginView>)))]
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<PluginView>>, ApiError> {
    let mut conn = state.pipeline.db.pool.acquire().await?;
    let mut by_name: BTreeMap<String, Vec<PluginVersionView>> = BTreeMap::new();
    for v in plugins::list(&mut conn).await? {
        by_name.entry(v.name.clone()).or_default().push(PluginVersionView::from(v));
    }
    Ok(Json(by_name.into_iter().map(|(name, versions)| PluginView { name, versions }).collect()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VersionPath {
    /// The plugin's name.
    pub name: String,
    /// The version (semver).
    pub version: String,
}

/// An install that runs a version.
#[derive(Serialize, ToSchema)]
pub struct VersionUser {
    pub store_id: String,
    pub install_id: String,
    pub enabled: bool,
    /// How it runs the version: `live`, `shadow` or `canary`.
    #[schema(example = "live")]
    pub runs_as: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct VersionDetail {
    #[serde(flatten)]
    pub version: PluginVersionView,
    /// The installs running it (a store's key sees its own only): those a
    /// yank affects.
    pub installs: Vec<VersionUser>,
}

fn detail(
    caller: &Caller,
    v: PluginVersion,
    users: Vec<crate::db::installs::Install>,
) -> VersionDetail {
    let version = v.version.clone();
    VersionDetail {
        version: v.into(),
        installs: users
            .into_iter()
            .filter(|i| match caller {
                Caller::Admin => true,
                Caller::Store(own) => *own == i.store_id,
            })
            .map(|i| VersionUser {
                runs_as: if i.version == version {
                    "live"
                } else if i.shadow.as_ref().is_some_and(|s| s.version == version) {
                    "shadow"
                } else {
                    "canary"
                },
                store_id: i.store_id,
                install_id: i.install_id,
                enabled: i.enabled,
            })
            .collect(),
    }
}

/// One plugin version, with the installs that run it
#[utoipa::path(get, path = "/v1/plugins/{name}/versions/{version}", operation_id = "getPluginVersion", tag = "plugins",
    params(VersionPath), responses((status = 200, body = VersionDetail)))]
pub async fn version(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<VersionPath>,
) -> Result<Json<VersionDetail>, ApiError> {
    let (v, users) = state.pipeline.version_in_use(&path.name, &path.version).await?;
    Ok(Json(detail(&caller, v, users)))
}

/// Why a version is yanked.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct YankRequest {
    #[schema(min_length = 1, max_length = 500, example = "awards double points on refunds")]
    pub reason: String,
}

/// Yank a version (admin): it can no longer be installed; installs running it go on
#[utoipa::path(post, path = "/v1/plugins/{name}/versions/{version}/yank", operation_id = "yankPluginVersion", tag = "plugins",
    params(VersionPath), request_body = YankRequest, responses((status = 200, body = VersionDetail)))]
pub async fn yank(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<VersionPath>,
    Valid(body): Valid<YankRequest>,
) -> Result<Json<VersionDetail>, ApiError> {
    caller.require_admin()?;
    let (v, users) = state.pipeline.yank(&path.name, &path.version, body.reason.trim()).await?;
    Ok(Json(detail(&caller, v, users)))
}
