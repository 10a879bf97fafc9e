use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::auth::Caller;
use super::{json_body, ApiError, AppState};
use crate::db::installs::{self, Install};
use crate::db::plugins::{self, PluginVersion};
use crate::db::Conn;
use crate::domain::ids::random_id;
use crate::domain::manifest::{check_config, Manifest};
use crate::domain::time::{now_ms, to_rfc3339};
use crate::domain::World;

fn install_json(state: &AppState, i: &Install) -> Value {
    let latency = state.pipeline.metrics.latency(&i.install_id);
    let status = if i.enabled {
        "enabled"
    } else if i.disabled_reason.is_some() {
        "tripped"
    } else {
        "disabled"
    };
    json!({
        "install_id": i.install_id, "plugin": i.plugin, "version": i.version, "world": i.world,
        "config": i.config, "enabled": i.enabled, "state": status,
        "disabled_reason": i.disabled_reason,
        "counters": {"invocations": i.invocations, "failures": i.failures,
                     "consecutive_failures": i.consecutive_failures,
                     "p50_us": latency.p50_us, "p99_us": latency.p99_us},
        "created_at": to_rfc3339(i.created_at), "updated_at": to_rfc3339(i.updated_at),
    })
}

/// The version to install: the one asked for, or the newest published.
async fn find_version(
    conn: &mut Conn,
    plugin: &str,
    version: Option<&str>,
) -> Result<PluginVersion, ApiError> {
    match version {
        Some(v) => plugins::get(conn, plugin, v)
            .await?
            .ok_or_else(|| ApiError::field("version", format!("{plugin}@{v} is not published"))),
        None => plugins::list(conn)
            .await?
            .into_iter()
            .filter(|p| p.name == plugin)
            .max_by_key(|p| semver::Version::parse(&p.version).ok())
            .ok_or_else(|| {
                ApiError::field("plugin", format!("plugin `{plugin}` is not published"))
            }),
    }
}

fn check_install_config(v: &PluginVersion, config: &Value) -> Result<(), ApiError> {
    let manifest = Manifest::parse(&v.manifest).map_err(ApiError::invalid)?;
    check_config(&manifest.config_schema, config).map_err(ApiError::invalid)
}

/// One enabled install per world per store, except segmenters.
async fn check_world_free(
    conn: &mut Conn,
    store: &str,
    world: &str,
    except: Option<&str>,
) -> Result<(), ApiError> {
    if World::parse(world).is_some_and(World::allows_many_installs) {
        return Ok(());
    }
    if let Some(other) = installs::enabled(conn, store)
        .await?
        .into_iter()
        .find(|i| i.world == world && Some(i.install_id.as_str()) != except)
    {
        return Err(ApiError::conflict(format!(
            "install {} ({}@{}) is already the store's enabled {world} plugin; disable it or PATCH its version instead",
            other.install_id, other.plugin, other.version
        )));
    }
    Ok(())
}

fn opt_str<'a>(body: &'a Value, name: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::field(name, "must be a string")),
    }
}

fn opt_bool(body: &Value, name: &str) -> Result<Option<bool>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::field(name, "must be true or false")),
    }
}

fn opt_config(body: &Value) -> Result<Option<Value>, ApiError> {
    match body.get("config") {
        None => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
        Some(_) => Err(ApiError::field("config", "must be a JSON object")),
    }
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(store): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_store(&state, &store).await?;
    let body = json_body(body)?;
    let plugin =
        opt_str(&body, "plugin")?.ok_or_else(|| ApiError::field("plugin", "is required"))?;
    let version = opt_str(&body, "version")?;
    let config = opt_config(&body)?.unwrap_or_else(|| json!({}));
    let enabled = opt_bool(&body, "enabled")?.unwrap_or(true);
    let mut tx = state.pipeline.db.begin_write().await?;
    let v = find_version(&mut tx, plugin, version).await?;
    check_install_config(&v, &config)?;
    if enabled {
        check_world_free(&mut tx, &store, &v.world, None).await?;
    }
    let now = now_ms();
    let install = Install {
        install_id: random_id("ins"),
        store_id: store.clone(),
        plugin: v.name.clone(),
        version: v.version.clone(),
        world: v.world.clone(),
        config,
        enabled,
        disabled_reason: None,
        invocations: 0,
        failures: 0,
        consecutive_failures: 0,
        created_at: now,
        updated_at: now,
        tripped_at: None,
    };
    installs::insert(&mut tx, &install).await?;
    tx.commit().await?;
    // Load (or compile) now so the first event does not pay for it.
    if let Err(e) = state.pipeline.plugin(&v.name, &v.version).await {
        tracing::warn!(plugin = %v.name, version = %v.version, error = %e, "could not preload plugin");
    }
    tracing::info!(store = %store, install = %install.install_id, plugin = %v.name, version = %v.version, "plugin installed");
    Ok((StatusCode::CREATED, Json(install_json(&state, &install))))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(store): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_store(&state, &store).await?;
    let mut conn = state.pipeline.db.pool.acquire().await?;
    let list = installs::list(&mut conn, &store).await?;
    Ok(Json(Value::Array(
        list.iter().map(|i| install_json(&state, i)).collect(),
    )))
}

pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((store, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require_store(&state, &store).await?;
    let mut conn = state.pipeline.db.pool.acquire().await?;
    let i = installs::get(&mut conn, &store, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("install `{id}` not found")))?;
    Ok(Json(install_json(&state, &i)))
}

/// Swaps version, config or enabled state; the next event sees the change.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((store, id)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require_store(&state, &store).await?;
    let body = json_body(body)?;
    if let Some(obj) = body.as_object() {
        if let Some(k) = obj
            .keys()
            .find(|k| !["plugin", "version", "config", "enabled"].contains(&k.as_str()))
        {
            return Err(ApiError::field(
                k,
                "cannot be changed (plugin, version, config, enabled can)",
            ));
        }
    } else {
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    let plugin = opt_str(&body, "plugin")?;
    let version = opt_str(&body, "version")?;
    let config = opt_config(&body)?;
    let enabled = opt_bool(&body, "enabled")?;
    let mut tx = state.pipeline.db.begin_write().await?;
    let mut install = installs::get(&mut tx, &store, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("install `{id}` not found")))?;
    // Another plugin of the same world swaps in atomically: the next
    // event sees it, and no event is handled by both or neither.
    let swapping = plugin.is_some_and(|p| p != install.plugin);
    let v = match (plugin.filter(|_| swapping), version) {
        (Some(p), v) => find_version(&mut tx, p, v).await?,
        (None, v) => {
            find_version(
                &mut tx,
                &install.plugin,
                Some(v.unwrap_or(&install.version)),
            )
            .await?
        }
    };
    if v.world != install.world {
        return Err(ApiError::field(
            if swapping { "plugin" } else { "version" },
            format!(
                "{}@{} implements {}, not {}",
                v.name, v.version, v.world, install.world
            ),
        ));
    }
    let config = config.unwrap_or_else(|| install.config.clone());
    check_install_config(&v, &config)?;
    if enabled == Some(true) && !install.enabled {
        check_world_free(&mut tx, &store, &install.world, Some(&install.install_id)).await?;
        install.disabled_reason = None;
        install.consecutive_failures = 0;
    }
    install.plugin = v.name.clone();
    install.version = v.version.clone();
    install.config = config;
    if let Some(e) = enabled {
        install.enabled = e;
    }
    let now = now_ms();
    installs::update(&mut tx, &install, now).await?;
    tx.commit().await?;
    install.updated_at = now;
    if let Err(e) = state.pipeline.plugin(&v.name, &v.version).await {
        tracing::warn!(plugin = %v.name, version = %v.version, error = %e, "could not preload plugin");
    }
    tracing::info!(store = %store, install = %id, version = %install.version, enabled = install.enabled, "install updated");
    Ok(Json(install_json(&state, &install)))
}
