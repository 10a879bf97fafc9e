//! The platform's plugin registry: publishing versions and handing the
//! dispatcher a ready plugin for an install.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{Pipeline, PipelineError, PipelineResult};
use crate::db::plugins::{self, NewVersion, PluginVersion};
use crate::db::Db;
use crate::domain::manifest::Manifest;
use crate::domain::time::now_ms;
use crate::runtime::{Plugin, Runtime};

/// Largest component accepted.
pub const MAX_COMPONENT_BYTES: usize = 64 * 1024 * 1024;

pub fn plugin_id(name: &str, version: &str) -> String {
    format!("{name}@{version}")
}

/// Result of a publish: the version, and whether it already existed.
pub struct Published {
    pub version: PluginVersion,
    pub created: bool,
}

impl Pipeline {
    /// Validates, compiles and stores a plugin version. Publishing the same
    /// bytes again is a no-op; other bytes under an existing version are a
    /// conflict (published versions never change).
    pub async fn publish(
        &self,
        manifest_text: &str,
        component: Vec<u8>,
    ) -> PipelineResult<Published> {
        let manifest = Manifest::parse(manifest_text).map_err(PipelineError::Invalid)?;
        let sha256 = hex::encode(Sha256::digest(&component));
        let version = manifest.version.to_string();
        let mut conn = self.db.pool.acquire().await?;
        if let Some(existing) = plugins::get(&mut conn, &manifest.name, &version).await? {
            if existing.sha256 == sha256 {
                return Ok(Published { version: existing, created: false });
            }
            return Err(PipelineError::Conflict(format!(
                "{}@{} is already published with other bytes (sha256 {}); publish a new version instead",
                manifest.name, version, existing.sha256
            )));
        }
        drop(conn);
        let id = plugin_id(&manifest.name, &version);
        let runtime = self.runtime.clone();
        let (manifest, component, contract) = {
            let sha = sha256.clone();
            tokio::task::spawn_blocking(move || {
                runtime
                    .publish(&id, &sha, &component, &manifest)
                    .map(|p| (manifest, component, p.contract))
            })
            .await
            .map_err(|e| PipelineError::Internal(format!("compilation was interrupted: {e}")))??
        };
        let v = PluginVersion {
            name: manifest.name.clone(),
            version,
            world: manifest.world,
            description: manifest.description.clone(),
            capabilities: manifest.capabilities.iter().map(|c| c.name().to_string()).collect(),
            scopes: manifest.scopes.iter().map(|s| s.as_str().to_string()).collect(),
            sha256,
            size_bytes: component.len() as i64,
            published_at: now_ms(),
            contract: contract.version().to_string(),
            manifest: manifest_text.to_string(),
            yanked_at: None,
            yank_reason: None,
        };
        let mut tx = self.db.begin_write().await?;
        plugins::insert(&mut tx, NewVersion { version: v.clone(), component: &component })
            .await
            .map_err(|e| {
                if e.is_unique_violation() {
                    PipelineError::Conflict(format!(
                        "{}@{} was published concurrently",
                        v.name, v.version
                    ))
                } else {
                    e.into()
                }
            })?;
        tx.commit().await?;
        tracing::info!(plugin = %v.name, version = %v.version, world = %v.world, sha256 = %v.sha256, "plugin published");
        Ok(Published { version: v, created: true })
    }

    /// Yanks a version: it can no longer be installed (nor chosen as a
    /// shadow, canary or rollback), and the installs running it go on.
    /// Returns the version and the installs that run it.
    pub async fn yank(
        &self,
        name: &str,
        version: &str,
        reason: &str,
    ) -> PipelineResult<(PluginVersion, Vec<crate::db::installs::Install>)> {
        let mut tx = self.db.begin_write().await?;
        if !plugins::yank(&mut tx, name, version, reason, now_ms()).await? {
            return Err(PipelineError::NotFound(format!(
                "{} is not published",
                plugin_id(name, version)
            )));
        }
        tx.commit().await?;
        tracing::warn!(plugin = %name, version = %version, reason, "plugin version yanked");
        self.version_in_use(name, version).await
    }

    /// A published version and the installs that run it (live, shadow or
    /// canary).
    pub async fn version_in_use(
        &self,
        name: &str,
        version: &str,
    ) -> PipelineResult<(PluginVersion, Vec<crate::db::installs::Install>)> {
        let mut conn = self.db.pool.acquire().await?;
        let v = plugins::get(&mut conn, name, version).await?.ok_or_else(|| {
            PipelineError::NotFound(format!("{} is not published", plugin_id(name, version)))
        })?;
        let users = crate::db::installs::running(&mut conn, name, version).await?;
        Ok((v, users))
    }

    /// The ready plugin for `name@version`, compiled or loaded from the
    /// artifact cache on first use.
    pub async fn plugin(&self, name: &str, version: &str) -> PipelineResult<Arc<Plugin>> {
        load(&self.db, &self.runtime, name, version).await
    }
}

/// The ready plugin for `name@version` (for every worker that runs one),
/// loaded once however many ask at the same time.
pub(super) async fn load(
    db: &Db,
    runtime: &Arc<Runtime>,
    name: &str,
    version: &str,
) -> PipelineResult<Arc<Plugin>> {
    let id = plugin_id(name, version);
    if let Some(p) = runtime.cached(&id) {
        return Ok(p);
    }
    let gate = runtime.loading_gate(&id);
    let _gate = gate.lock().await;
    if let Some(p) = runtime.cached(&id) {
        return Ok(p);
    }
    let mut conn = db.pool.acquire().await?;
    let v = plugins::get(&mut conn, name, version)
        .await?
        .ok_or_else(|| PipelineError::NotFound(format!("plugin {id} is not published")))?;
    let manifest = Manifest::parse(&v.manifest).map_err(PipelineError::Invalid)?;
    let bytes = if runtime.has_artifact(&v.sha256) {
        Vec::new()
    } else {
        plugins::component_bytes(&mut conn, name, version).await?
    };
    drop(conn);
    let runtime = runtime.clone();
    let plugin =
        tokio::task::spawn_blocking(move || runtime.load(&id, &v.sha256, &bytes, &manifest))
            .await
            .map_err(|e| PipelineError::Internal(format!("loading was interrupted: {e}")))??;
    Ok(plugin)
}

/// Whether `plugin`, run by `install`, sees customers' personal data: it
/// asks for the `pii` scope and the merchant granted it.
pub(super) fn sees_pii(install: &crate::db::installs::Install, plugin: &Plugin) -> bool {
    let scope = crate::domain::DataScope::Pii;
    plugin.scopes.contains(&scope) && install.grants.iter().any(|g| g == scope.as_str())
}
