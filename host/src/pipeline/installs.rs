//! Which plugins a store runs, and the rules for changing it: one enabled
//! install per world (segmenters excepted), the newest version by semver
//! when none is named, a config that fits the plugin's schema, and swaps
//! that the next event sees whole.

use serde_json::Value;

use super::{Pipeline, PipelineError, PipelineResult};
use crate::db::installs::{self, Install};
use crate::db::plugins::{self, PluginVersion};
use crate::db::Conn;
use crate::domain::event::FieldError;
use crate::domain::ids::random_id;
use crate::domain::manifest::{check_config, Manifest};
use crate::domain::time::now_ms;
use crate::domain::World;

/// A new install: `version` defaults to the newest published.
pub struct NewInstall {
    pub plugin: String,
    pub version: Option<String>,
    pub config: Value,
    pub enabled: bool,
}

/// A change to an install; what is `None` stays as it is.
#[derive(Default)]
pub struct InstallChange {
    pub plugin: Option<String>,
    pub version: Option<String>,
    pub config: Option<Value>,
    pub enabled: Option<bool>,
}

fn invalid(field: &str, message: String) -> PipelineError {
    PipelineError::Invalid(vec![FieldError::new(field, message)])
}

impl Pipeline {
    pub async fn install(&self, store: &str, new: NewInstall) -> PipelineResult<Install> {
        let mut tx = self.db.begin_store(store).await?;
        let v = find_version(&mut tx, &new.plugin, new.version.as_deref()).await?;
        check_install_config(&v, &new.config)?;
        if new.enabled {
            check_world_free(&mut tx, store, v.world, None).await?;
        }
        let now = now_ms();
        let install = Install {
            install_id: random_id("ins"),
            store_id: store.to_string(),
            plugin: v.name.clone(),
            version: v.version.clone(),
            world: v.world,
            config: new.config,
            enabled: new.enabled,
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
        self.preload(&v).await;
        tracing::info!(store, install = %install.install_id, plugin = %v.name, version = %v.version, "plugin installed");
        Ok(install)
    }

    /// Swaps plugin, version, config or enabled state; the next event sees
    /// the change, and no event is handled by both versions or neither.
    pub async fn change_install(
        &self,
        store: &str,
        id: &str,
        change: InstallChange,
    ) -> PipelineResult<Install> {
        let mut tx = self.db.begin_store(store).await?;
        let mut install = installs::get(&mut tx, store, id)
            .await?
            .ok_or_else(|| PipelineError::NotFound(format!("install `{id}` not found")))?;
        let swapping = change.plugin.as_ref().is_some_and(|p| *p != install.plugin);
        let v = if swapping {
            let plugin = change.plugin.as_deref().expect("swapping");
            find_version(&mut tx, plugin, change.version.as_deref()).await?
        } else {
            let version = change.version.as_deref().unwrap_or(&install.version);
            find_version(&mut tx, &install.plugin, Some(version)).await?
        };
        if v.world != install.world {
            return Err(invalid(
                if swapping { "plugin" } else { "version" },
                format!(
                    "{}@{} implements {}, not {}",
                    v.name, v.version, v.world, install.world
                ),
            ));
        }
        let config = change.config.unwrap_or_else(|| install.config.clone());
        check_install_config(&v, &config)?;
        if change.enabled == Some(true) && !install.enabled {
            check_world_free(&mut tx, store, install.world, Some(&install.install_id)).await?;
            install.disabled_reason = None;
            install.consecutive_failures = 0;
        }
        install.plugin = v.name.clone();
        install.version = v.version.clone();
        install.config = config;
        if let Some(e) = change.enabled {
            install.enabled = e;
        }
        let now = now_ms();
        installs::update(&mut tx, &install, now).await?;
        tx.commit().await?;
        install.updated_at = now;
        self.preload(&v).await;
        tracing::info!(store, install = %id, version = %install.version, enabled = install.enabled, "install updated");
        Ok(install)
    }

    /// Loads (or compiles) a version now so its first event does not pay.
    async fn preload(&self, v: &PluginVersion) {
        if let Err(e) = self.plugin(&v.name, &v.version).await {
            tracing::warn!(plugin = %v.name, version = %v.version, error = %e, "could not preload plugin");
        }
    }
}

/// The version to install: the one asked for, or the newest published.
async fn find_version(
    conn: &mut Conn,
    plugin: &str,
    version: Option<&str>,
) -> PipelineResult<PluginVersion> {
    match version {
        Some(v) => plugins::get(conn, plugin, v)
            .await?
            .ok_or_else(|| invalid("version", format!("{plugin}@{v} is not published"))),
        None => plugins::list(conn)
            .await?
            .into_iter()
            .filter(|p| p.name == plugin)
            .max_by_key(|p| semver::Version::parse(&p.version).ok())
            .ok_or_else(|| invalid("plugin", format!("plugin `{plugin}` is not published"))),
    }
}

fn check_install_config(v: &PluginVersion, config: &Value) -> PipelineResult<()> {
    let manifest = Manifest::parse(&v.manifest).map_err(PipelineError::Invalid)?;
    check_config(&manifest.config_schema, config).map_err(PipelineError::Invalid)
}

/// One enabled install per world per store, except segmenters.
async fn check_world_free(
    conn: &mut Conn,
    store: &str,
    world: World,
    except: Option<&str>,
) -> PipelineResult<()> {
    if world.allows_many_installs() {
        return Ok(());
    }
    if let Some(other) = installs::enabled(conn, store)
        .await?
        .into_iter()
        .find(|i| i.world == world && Some(i.install_id.as_str()) != except)
    {
        return Err(PipelineError::Conflict(format!(
            "install {} ({}@{}) is already the store's enabled {world} plugin; disable it or PATCH its version instead",
            other.install_id, other.plugin, other.version
        )));
    }
    Ok(())
}
