//! The engine every call runs on: component model, epoch interruption
//! with a ticker thread (deadlines are counted in ticks), a pooling
//! allocator sized by the host's memory ceiling, and the linker with WASI
//! (nothing behind it), the host interfaces and bounded sleeps.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine};

use super::{bindings, clocks, CallCtx};
use crate::domain::manifest::Limits;

/// How often the deadline clock ticks; deadlines are counted in ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// `fuel`: meter calls in fuel (always, except to measure what metering
/// costs).
pub fn engine(max: Limits, fuel: bool) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // The compute budget: counted in wasm work, not time (`call`).
    config.consume_fuel(fuel);
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_component_instances(256)
        .total_core_instances(1024)
        .total_memories(512)
        .total_tables(512)
        .max_memory_size(max.memory_mib.max(max.fit_memory_mib) as usize * 1024 * 1024)
        // Reset a reused memory slot with memset (only the pages the
        // kernel reports dirty) instead of unmapping it, so the next
        // call does not page-fault its way back in.
        .linear_memory_keep_resident(4 * 1024 * 1024)
        .table_keep_resident(64 * 1024)
        .pagemap_scan(wasmtime::Enabled::Auto);
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(|e| anyhow::anyhow!("{e:#}"))
}

pub fn linker(engine: &Engine) -> anyhow::Result<Linker<CallCtx>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    bindings::add_to_linker(&mut linker).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    clocks::bound_sleeps(&mut linker).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    Ok(linker)
}

/// Advances the engine's epoch every tick until dropped.
pub struct Ticker(Arc<AtomicBool>);

impl Ticker {
    pub fn start(engine: &Engine) -> std::io::Result<Ticker> {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (engine.clone(), stop.clone());
        std::thread::Builder::new().name("epoch-ticker".into()).spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })?;
        Ok(Ticker(stop))
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
