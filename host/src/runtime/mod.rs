//! The sandbox: one wasmtime engine, components compiled once and cached
//! on disk, a fresh store per call with a memory cap and a wall deadline.
//!
//! Calls are synchronous and block their thread until they end, at their
//! deadline at the latest: call them from a blocking context
//! (`tokio::task::block_in_place` or `spawn_blocking`) of a Tokio runtime,
//! which the host functions use to wait on the database.

pub mod bindings;
mod clocks;
pub mod convert;
pub mod ctx;
mod error;
pub mod services;
mod validate;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store, Trap};

pub use ctx::{CallCtx, QueuedMessage, Scope, StateBuffer};
pub use error::RuntimeError;

use crate::domain::customer::Customer;
use crate::domain::event::Event;
use crate::domain::ledger::{validate_ops, LedgerOp};
use crate::domain::manifest::{Limits, Manifest};
use crate::domain::World;
use bindings::{churn_rescue, point_rules, segmenter, survey_scorer};
use services::HostServices;

/// How often the deadline clock ticks; deadlines are counted in ticks.
const EPOCH_TICK: Duration = Duration::from_millis(1);

/// A published plugin version, ready to instantiate.
pub struct Plugin {
    pub id: String,
    pub world: World,
    pub limits: Limits,
    pub capabilities: Vec<crate::domain::Capability>,
    pre: WorldPre,
}

enum WorldPre {
    PointRules(point_rules::PointRulesPre<CallCtx>),
    Segmenter(segmenter::SegmenterPre<CallCtx>),
    SurveyScorer(survey_scorer::SurveyScorerPre<CallCtx>),
    ChurnRescue(churn_rescue::ChurnRescuePre<CallCtx>),
}

/// What a call left behind, besides its result.
#[derive(Debug)]
pub struct CallOutput<T> {
    pub value: T,
    pub state: StateBuffer,
    pub outbox: Vec<QueuedMessage>,
    pub elapsed: Duration,
    pub memory_peak_bytes: usize,
}

impl<T> CallOutput<T> {
    /// The same output with its value transformed.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> CallOutput<U> {
        CallOutput {
            value: f(self.value),
            state: self.state,
            outbox: self.outbox,
            elapsed: self.elapsed,
            memory_peak_bytes: self.memory_peak_bytes,
        }
    }
}

/// What the host hands a call.
pub struct CallInput {
    pub scope: Scope,
    pub state: StateBuffer,
    pub services: Arc<dyn HostServices>,
}

pub struct Runtime {
    engine: Engine,
    linker: Linker<CallCtx>,
    artifacts: PathBuf,
    fingerprint: String,
    max: Limits,
    loaded: RwLock<HashMap<String, Arc<Plugin>>>,
    ticker_stop: Arc<AtomicBool>,
    /// Components compiled by this process (publishes, and loads that
    /// found no usable artifact).
    compilations: std::sync::atomic::AtomicU64,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    /// `artifacts` is the directory for precompiled components; `max` the
    /// host's ceiling for every plugin's limits.
    pub fn new(artifacts: &Path, max: Limits) -> anyhow::Result<Runtime> {
        std::fs::create_dir_all(artifacts)?;
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(256)
            .total_core_instances(1024)
            .total_memories(512)
            .total_tables(512)
            .max_memory_size(max.memory_mib as usize * 1024 * 1024)
            // Reset a reused memory slot with memset (only the pages the
            // kernel reports dirty) instead of unmapping it, so the next
            // call does not page-fault its way back in.
            .linear_memory_keep_resident(4 * 1024 * 1024)
            .table_keep_resident(64 * 1024)
            .pagemap_scan(wasmtime::Enabled::Auto);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(|e| anyhow::anyhow!("{e:#}"))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| anyhow::anyhow!("{e:#}"))?;
        bindings::host::PluginHost::add_to_linker::<CallCtx, wasmtime::component::HasSelf<CallCtx>>(
            &mut linker,
            |c| c,
        )
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        clocks::bound_sleeps(&mut linker).map_err(|e| anyhow::anyhow!("{e:#}"))?;

        let fingerprint = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            engine.precompile_compatibility_hash().hash(&mut h);
            format!("{:016x}", h.finish())
        };

        let ticker_stop = Arc::new(AtomicBool::new(false));
        {
            let engine = engine.clone();
            let stop = ticker_stop.clone();
            std::thread::Builder::new()
                .name("epoch-ticker".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })?;
        }

        Ok(Runtime {
            engine,
            linker,
            artifacts: artifacts.to_path_buf(),
            fingerprint,
            max,
            loaded: RwLock::new(HashMap::new()),
            ticker_stop,
            compilations: Default::default(),
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

    fn artifact_path(&self, sha256: &str) -> PathBuf {
        self.artifacts
            .join(format!("{sha256}-{}.cwasm", self.fingerprint))
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
        let plugin = self.instantiate_pre(id, &component, manifest)?;
        self.write_artifact(sha256, &component);
        self.loaded
            .write()
            .unwrap()
            .insert(id.to_string(), plugin.clone());
        Ok(plugin)
    }

    /// A plugin already loaded in this process.
    pub fn cached(&self, id: &str) -> Option<Arc<Plugin>> {
        self.loaded.read().unwrap().get(id).cloned()
    }

    /// Whether a precompiled artifact for these bytes exists on disk.
    pub fn has_artifact(&self, sha256: &str) -> bool {
        self.artifact_path(sha256).exists()
    }

    /// The ready plugin for a published version: from memory, else from the
    /// precompiled artifact, else compiled again from `bytes`.
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
        let path = self.artifact_path(sha256);
        // SAFETY: the artifact was written by this host, with this engine
        // configuration (the file name carries its fingerprint), into its
        // own data directory; wasmtime checks compatibility as well.
        let cached = path
            .exists()
            .then(|| unsafe { Component::deserialize_file(&self.engine, &path) }.ok())
            .flatten();
        let component = match cached {
            Some(c) => c,
            None => {
                tracing::info!(plugin = id, "compiling plugin (no cached artifact)");
                let c = self.compile(bytes)?;
                self.write_artifact(sha256, &c);
                c
            }
        };
        let plugin = self.instantiate_pre(id, &component, manifest)?;
        self.loaded
            .write()
            .unwrap()
            .insert(id.to_string(), plugin.clone());
        Ok(plugin)
    }

    fn write_artifact(&self, sha256: &str, component: &Component) {
        let path = self.artifact_path(sha256);
        if path.exists() {
            return;
        }
        let result = component
            .serialize()
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .and_then(|bytes| {
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, bytes)?;
                std::fs::rename(&tmp, &path)?;
                Ok(())
            });
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "could not cache compiled plugin; it will be recompiled at the next start");
        }
    }

    fn instantiate_pre(
        &self,
        id: &str,
        component: &Component,
        manifest: &Manifest,
    ) -> Result<Arc<Plugin>, RuntimeError> {
        validate::world_and_imports(&self.engine, component, manifest)?;
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
        let pre = match manifest.world {
            World::PointRules => {
                WorldPre::PointRules(point_rules::PointRulesPre::new(instance_pre).map_err(typed)?)
            }
            World::Segmenter => {
                WorldPre::Segmenter(segmenter::SegmenterPre::new(instance_pre).map_err(typed)?)
            }
            World::SurveyScorer => WorldPre::SurveyScorer(
                survey_scorer::SurveyScorerPre::new(instance_pre).map_err(typed)?,
            ),
            World::ChurnRescue => WorldPre::ChurnRescue(
                churn_rescue::ChurnRescuePre::new(instance_pre).map_err(typed)?,
            ),
        };
        Ok(Arc::new(Plugin {
            id: id.to_string(),
            world: manifest.world,
            limits: manifest.limits.capped(self.max),
            capabilities: manifest.capabilities.clone(),
            pre,
        }))
    }

    /// Runs one call in a fresh store with the plugin's memory cap and a
    /// deadline `timeout_ms` from now: a guest still computing at the
    /// deadline traps (epoch interruption), and no host function waits past
    /// it (a WASI sleep is cut short, a query given up).
    fn run<T>(
        &self,
        plugin: &Plugin,
        input: CallInput,
        timeout_ms: u32,
        call: impl FnOnce(&mut Store<CallCtx>) -> wasmtime::Result<Result<T, String>>,
    ) -> Result<CallOutput<T>, RuntimeError> {
        let memory_cap = plugin.limits.memory_mib as usize * 1024 * 1024;
        let timeout_ms = timeout_ms.max(1);
        let started = Instant::now();
        let deadline = started + Duration::from_millis(u64::from(timeout_ms));
        let ctx = CallCtx::new(
            input.scope,
            input.services,
            input.state,
            memory_cap,
            deadline,
        );
        let mut store = Store::new(&self.engine, ctx);
        store.limiter(|c| &mut c.limiter);
        store.set_epoch_deadline(u64::from(timeout_ms));
        store.epoch_deadline_trap();
        let result = call(&mut store);
        let elapsed = started.elapsed();
        let ctx = store.data_mut();
        ctx.flush_stdio();
        let state = std::mem::take(&mut ctx.state);
        let outbox = std::mem::take(&mut ctx.outbox);
        let host_error = ctx.host_error.take();
        let out_of_time = ctx.out_of_time;
        let (exceeded, memory_peak_bytes) = (ctx.limiter.exceeded, ctx.limiter.peak_bytes);
        // Dropped here, not elsewhere: the memory slot goes back to the
        // pool warm, ready for the next call of this plugin.
        drop(store);
        if out_of_time && (result.is_err() || elapsed >= Duration::from_millis(timeout_ms.into())) {
            // A host wait reached the deadline; whatever the guest did
            // after that (trap, or even return), its time was up.
            return Err(RuntimeError::Timeout { ms: timeout_ms });
        }
        if let Some(why) = host_error {
            return Err(RuntimeError::Host(why));
        }
        match result {
            Ok(Ok(value)) => Ok(CallOutput {
                value,
                state,
                outbox,
                elapsed,
                memory_peak_bytes,
            }),
            Ok(Err(message)) => Err(RuntimeError::Plugin(truncate(message, 2000))),
            Err(e) => {
                if exceeded {
                    Err(RuntimeError::MemoryLimit {
                        mib: plugin.limits.memory_mib,
                    })
                } else if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
                    Err(RuntimeError::Timeout { ms: timeout_ms })
                } else {
                    Err(RuntimeError::Trap(truncate(format!("{e:#}"), 2000)))
                }
            }
        }
    }

    /// `point-rules`: what one event means for the customer's points.
    pub fn on_event(
        &self,
        plugin: &Plugin,
        input: CallInput,
        config: &str,
        customer: &Customer,
        event: &Event,
        order_total: Option<i64>,
    ) -> Result<CallOutput<Vec<LedgerOp>>, RuntimeError> {
        // The generated async calls take owned strings by reference.
        let config = config.to_string();
        let WorldPre::PointRules(pre) = &plugin.pre else {
            return Err(RuntimeError::WrongWorld(format!(
                "plugin {} is not a point-rules plugin",
                plugin.id
            )));
        };
        let wit_customer = convert::customer(customer);
        let wit_event = convert::event(event, order_total);
        let out = self.run(plugin, input, plugin.limits.timeout_ms, |store| {
            let instance = pre.instantiate(&mut *store)?;
            instance.clientele_crm_loyalty().call_on_event(
                store,
                &config,
                &wit_customer,
                &wit_event,
            )
        })?;
        let ops: Vec<LedgerOp> = out.value.into_iter().map(convert::ledger_op).collect();
        validate_ops(&ops, event.occurred_at).map_err(RuntimeError::InvalidOutput)?;
        Ok(CallOutput {
            value: ops,
            state: out.state,
            outbox: out.outbox,
            elapsed: out.elapsed,
            memory_peak_bytes: out.memory_peak_bytes,
        })
    }
}

use crate::domain::rescue::{Assessment, FlowAction};
use crate::domain::segment::Membership;
/// Results of the population-level worlds, as the WIT types.
pub use bindings::churn_rescue::exports::clientele::crm::rescue;
pub use bindings::segmenter::exports::clientele::crm::segmentation;
pub use bindings::survey_scorer::exports::clientele::crm::scoring;
pub use bindings::types::{Fitted, Population, PopulationRow};

impl Runtime {
    fn wrong_world(plugin: &Plugin, wanted: World) -> RuntimeError {
        RuntimeError::WrongWorld(format!(
            "plugin {} implements {}, not {}",
            plugin.id,
            plugin.world.name(),
            wanted.name()
        ))
    }

    /// `segmenter` or `churn-rescue`: fit a model over the population,
    /// within the plugin's `fit_timeout_ms`.
    pub fn fit(
        &self,
        plugin: &Plugin,
        input: CallInput,
        config: &str,
        population: &Population,
    ) -> Result<CallOutput<Fitted>, RuntimeError> {
        // The generated async calls take owned strings by reference.
        let config = config.to_string();
        let timeout = plugin.limits.fit_timeout_ms;
        match &plugin.pre {
            WorldPre::Segmenter(pre) => self.run(plugin, input, timeout, |store| {
                pre.instantiate(&mut *store)?
                    .clientele_crm_segmentation()
                    .call_fit(store, &config, population)
            }),
            WorldPre::ChurnRescue(pre) => self.run(plugin, input, timeout, |store| {
                pre.instantiate(&mut *store)?
                    .clientele_crm_rescue()
                    .call_fit(store, &config, population)
            }),
            _ => Err(Self::wrong_world(plugin, World::Segmenter)),
        }
    }

    /// `segmenter`: the customer's segments as of `as_of`.
    pub fn classify(
        &self,
        plugin: &Plugin,
        input: CallInput,
        config: &str,
        model: &[u8],
        customer: &Customer,
        as_of: i64,
    ) -> Result<CallOutput<Vec<Membership>>, RuntimeError> {
        // The generated async calls take owned strings by reference.
        let config = config.to_string();
        let WorldPre::Segmenter(pre) = &plugin.pre else {
            return Err(Self::wrong_world(plugin, World::Segmenter));
        };
        let c = convert::customer(customer);
        let out = self.run(plugin, input, plugin.limits.timeout_ms, |store| {
            pre.instantiate(&mut *store)?
                .clientele_crm_segmentation()
                .call_classify(store, &config, model, &c, as_of)
        })?;
        checked(out, |list| {
            let list = convert::memberships(list)?;
            crate::domain::segment::validate(&list)?;
            Ok(list)
        })
    }

    /// `survey-scorer`: check and score one response.
    pub fn score(
        &self,
        plugin: &Plugin,
        input: CallInput,
        config: &str,
        survey: &scoring::Survey,
        response: &scoring::Response,
    ) -> Result<CallOutput<String>, RuntimeError> {
        // The generated async calls take owned strings by reference.
        let config = config.to_string();
        let WorldPre::SurveyScorer(pre) = &plugin.pre else {
            return Err(Self::wrong_world(plugin, World::SurveyScorer));
        };
        self.run(plugin, input, plugin.limits.timeout_ms, |store| {
            pre.instantiate(&mut *store)?
                .clientele_crm_scoring()
                .call_score(store, &config, survey, response)
        })
    }

    /// `survey-scorer`: the report over every stored score.
    pub fn aggregate(
        &self,
        plugin: &Plugin,
        input: CallInput,
        config: &str,
        survey: &scoring::Survey,
        scored: &[String],
    ) -> Result<CallOutput<String>, RuntimeError> {
        // The generated async calls take owned strings by reference.
        let config = config.to_string();
        let WorldPre::SurveyScorer(pre) = &plugin.pre else {
            return Err(Self::wrong_world(plugin, World::SurveyScorer));
        };
        self.run(plugin, input, plugin.limits.fit_timeout_ms, |store| {
            pre.instantiate(&mut *store)?
                .clientele_crm_scoring()
                .call_aggregate(store, &config, survey, scored)
        })
    }

    /// `churn-rescue`: assess one customer as of `as_of`.
    pub fn assess(
        &self,
        plugin: &Plugin,
        input: CallInput,
        config: &str,
        model: &[u8],
        customer: &Customer,
        as_of: i64,
    ) -> Result<CallOutput<Assessment>, RuntimeError> {
        // The generated async calls take owned strings by reference.
        let config = config.to_string();
        let WorldPre::ChurnRescue(pre) = &plugin.pre else {
            return Err(Self::wrong_world(plugin, World::ChurnRescue));
        };
        let c = convert::customer(customer);
        let out = self.run(plugin, input, plugin.limits.timeout_ms, |store| {
            pre.instantiate(&mut *store)?
                .clientele_crm_rescue()
                .call_assess(store, &config, model, &c, as_of)
        })?;
        checked(out, |a| {
            let a = convert::assessment(a)?;
            crate::domain::rescue::validate_assessment(&a)?;
            Ok(a)
        })
    }

    /// `churn-rescue`: what to do about an assessment.
    pub fn plan(
        &self,
        plugin: &Plugin,
        input: CallInput,
        config: &str,
        assessment: &Assessment,
        customer: &Customer,
    ) -> Result<CallOutput<Vec<FlowAction>>, RuntimeError> {
        // The generated async calls take owned strings by reference.
        let config = config.to_string();
        let WorldPre::ChurnRescue(pre) = &plugin.pre else {
            return Err(Self::wrong_world(plugin, World::ChurnRescue));
        };
        let c = convert::customer(customer);
        let a = convert::wit_assessment(assessment);
        let out = self.run(plugin, input, plugin.limits.timeout_ms, |store| {
            pre.instantiate(&mut *store)?
                .clientele_crm_rescue()
                .call_plan(store, &config, &a, &c)
        })?;
        checked(out, checked_actions)
    }

    /// `churn-rescue`: a flow's timer is due.
    pub fn on_timer(
        &self,
        plugin: &Plugin,
        input: CallInput,
        config: &str,
        customer: &Customer,
        flow: &rescue::FlowState,
    ) -> Result<CallOutput<Vec<FlowAction>>, RuntimeError> {
        // The generated async calls take owned strings by reference.
        let config = config.to_string();
        let WorldPre::ChurnRescue(pre) = &plugin.pre else {
            return Err(Self::wrong_world(plugin, World::ChurnRescue));
        };
        let c = convert::customer(customer);
        let out = self.run(plugin, input, plugin.limits.timeout_ms, |store| {
            pre.instantiate(&mut *store)?
                .clientele_crm_rescue()
                .call_on_timer(store, &config, &c, flow)
        })?;
        checked(out, checked_actions)
    }
}

/// Converts and checks a call's value; a bad value fails the call.
fn checked<T, U>(
    out: CallOutput<T>,
    check: impl FnOnce(T) -> Result<U, String>,
) -> Result<CallOutput<U>, RuntimeError> {
    let CallOutput {
        value,
        state,
        outbox,
        elapsed,
        memory_peak_bytes,
    } = out;
    Ok(CallOutput {
        value: check(value).map_err(RuntimeError::InvalidOutput)?,
        state,
        outbox,
        elapsed,
        memory_peak_bytes,
    })
}

fn checked_actions(list: Vec<rescue::Action>) -> Result<Vec<FlowAction>, String> {
    let list = convert::actions(list)?;
    crate::domain::rescue::validate_actions(&list)?;
    Ok(list)
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}
