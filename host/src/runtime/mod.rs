//! The sandbox: one wasmtime engine (`engine`), components compiled once
//! and cached on disk (`artifacts`), a fresh store per call with a memory
//! cap and a wall deadline (`call`), and the typed calls of every world's
//! exports (`exports`). This file holds the registry of loaded plugins.
//!
//! Calls are synchronous and block their thread until they end, at their
//! deadline at the latest: call them from a blocking context
//! (`tokio::task::block_in_place` or `spawn_blocking`) of a Tokio runtime,
//! which the host functions use to wait on the database.

mod artifacts;
pub mod bindings;
mod call;
mod clocks;
pub mod convert;
pub mod ctx;
mod engine;
mod error;
mod exports;
mod host_data;
pub mod services;
mod validate;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

use wasmtime::component::{Component, Linker};
use wasmtime::Engine;

pub use call::{CallInput, CallOutput, Trace};
pub use ctx::{CallCtx, LogLine, QueuedMessage, Scope, StateBuffer};
pub use error::RuntimeError;

/// Results of the population-level worlds, as the WIT types.
pub use bindings::churn_rescue::exports::clientele::crm::rescue;
pub use bindings::responder::exports::clientele::crm::reactions;
pub use bindings::segmenter::exports::clientele::crm::segmentation;
pub use bindings::survey_scorer::exports::clientele::crm::scoring;
pub use bindings::types::{Fitted, Population, PopulationRow, StoreContext};
pub use bindings::Contract;
pub use exports::Fit;

use crate::domain::manifest::{Limits, Manifest};
use crate::domain::World;
use artifacts::Artifacts;
use bindings::WorldPre;

/// A published plugin version, ready to instantiate.
pub struct Plugin {
    pub id: String,
    pub world: World,
    pub limits: Limits,
    pub capabilities: Vec<crate::domain::Capability>,
    /// The customer data it asks to see (an install must grant it too).
    pub scopes: Vec<crate::domain::DataScope>,
    /// The contract version it was built against.
    pub contract: Contract,
    pre: WorldPre,
}

pub struct Runtime {
    engine: Engine,
    linker: Linker<CallCtx>,
    artifacts: Artifacts,
    max: Limits,
    loaded: RwLock<HashMap<String, Arc<Plugin>>>,
    /// One gate per plugin id, so that the workers which all meet a new
    /// version at once load (and compile) it once between them.
    loading: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Stops the deadline clock when the runtime is dropped.
    _ticker: engine::Ticker,
    /// Components compiled by this process (publishes, and loads that
    /// found no usable artifact).
    compilations: std::sync::atomic::AtomicU64,
    /// Calls are given fuel (always, but in the benchmark that measures
    /// what that costs).
    metered: bool,
}

impl Runtime {
    /// `artifacts` is the directory for precompiled components; `max` the
    /// host's ceiling for every plugin's limits.
    pub fn new(artifacts: &Path, max: Limits) -> anyhow::Result<Runtime> {
        Self::build(artifacts, max, true)
    }

    /// A runtime whose calls are not metered in fuel (only the deadline
    /// stops them): for measuring what metering costs, never for serving.
    pub fn unmetered(artifacts: &Path, max: Limits) -> anyhow::Result<Runtime> {
        Self::build(artifacts, max, false)
    }

    fn build(artifacts: &Path, max: Limits, metered: bool) -> anyhow::Result<Runtime> {
        let engine = engine::engine(max, metered)?;
        let linker = engine::linker(&engine)?;
        Ok(Runtime {
            artifacts: Artifacts::new(artifacts, &engine)?,
            _ticker: engine::Ticker::start(&engine)?,
            engine,
            linker,
            max,
            loaded: RwLock::new(HashMap::new()),
            loading: Default::default(),
            compilations: Default::default(),
            metered,
        })
    }

    pub fn max_limits(&self) -> Limits {
        self.max
    }

    /// How many components this process has compiled.
    pub fn compilations(&self) -> u64 {
        self.compilations.load(Ordering::Relaxed)
    }

    fn compile(&self, bytes: &[u8]) -> Result<Component, RuntimeError> {
        validate::header(bytes)?;
        self.compilations.fetch_add(1, Ordering::Relaxed);
        Component::new(&self.engine, bytes).map_err(|e| RuntimeError::Invalid(format!("{e:#}")))
    }

    /// Checks an uploaded component against its manifest, compiles it and
    /// keeps the precompiled artifact. Fails with a reason a developer can
    /// act on.
    pub fn publish(
        &self,
        id: &str,
        sha256: &str,
        bytes: &[u8],
        manifest: &Manifest,
    ) -> Result<Arc<Plugin>, RuntimeError> {
        let component = self.compile(bytes)?;
        let plugin = self.keep(id, &component, manifest)?;
        self.artifacts.write(sha256, &component);
        Ok(plugin)
    }

    /// A plugin already loaded in this process.
    pub fn cached(&self, id: &str) -> Option<Arc<Plugin>> {
        self.loaded.read().unwrap().get(id).cloned()
    }

    /// The gate to hold while loading `id`: the first holder loads it, the
    /// others find it `cached` once they get through.
    pub fn loading_gate(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.loading.lock().unwrap().entry(id.to_string()).or_default().clone()
    }

    /// Whether this process has loaded `id` or begun to.
    pub fn tried(&self, id: &str) -> bool {
        self.loading.lock().unwrap().contains_key(id)
    }

    /// Whether a precompiled artifact for these bytes exists on disk.
    pub fn has_artifact(&self, sha256: &str) -> bool {
        self.artifacts.has(sha256)
    }

    /// The ready plugin for a published version (`id`, and then the same
    /// as `publish`): from memory, else from the precompiled artifact, else
    /// compiled again from `bytes`.
    pub fn load(
        &self,
        id: &str,
        sha256: &str,
        bytes: &[u8],
        manifest: &Manifest,
    ) -> Result<Arc<Plugin>, RuntimeError> {
        if let Some(p) = self.cached(id) {
            return Ok(p);
        }
        match self.artifacts.read(&self.engine, sha256) {
            Some(component) => self.keep(id, &component, manifest),
            None => {
                tracing::info!(plugin = id, "compiling plugin (no cached artifact)");
                self.publish(id, sha256, bytes, manifest)
            }
        }
    }

    /// Prepares a compiled component and keeps it in memory under `id`.
    fn keep(
        &self,
        id: &str,
        component: &Component,
        manifest: &Manifest,
    ) -> Result<Arc<Plugin>, RuntimeError> {
        let plugin = self.instantiate_pre(id, component, manifest)?;
        self.loaded.write().unwrap().insert(id.to_string(), plugin.clone());
        Ok(plugin)
    }

    fn instantiate_pre(
        &self,
        id: &str,
        component: &Component,
        manifest: &Manifest,
    ) -> Result<Arc<Plugin>, RuntimeError> {
        let contract = validate::world_and_imports(&self.engine, component, manifest)?;
        let instance_pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|e| RuntimeError::UndeclaredImport(format!("cannot be linked: {e:#}")))?;
        let typed = |e: wasmtime::Error| {
            RuntimeError::WrongWorld(format!(
                "its exports do not match world `{}`: {e:#}",
                manifest.world.name()
            ))
        };
        // The world's typed pre-instance, in the contract it was built for.
        let pre = contract.prepare(manifest.world, instance_pre).map_err(typed)?;
        Ok(Arc::new(Plugin {
            id: id.to_string(),
            world: manifest.world,
            limits: manifest.limits.capped(self.max),
            capabilities: manifest.capabilities.clone(),
            scopes: manifest.scopes.clone(),
            contract,
            pre,
        }))
    }
}
