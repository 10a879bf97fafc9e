//! One call: a fresh store with the plugin's memory cap and a deadline,
//! and what the call left behind.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap};

use super::services::HostServices;
use super::{CallCtx, Plugin, QueuedMessage, Runtime, RuntimeError, Scope, StateBuffer};

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

impl CallInput {
    /// A call of install `install_id` of `store`, running `plugin`
    /// (`name@version`), caused by `event_id` if an event caused it; it
    /// starts with no plugin state.
    pub fn new(
        store: &str,
        install_id: &str,
        plugin: &str,
        event_id: Option<&str>,
        services: &Arc<dyn HostServices>,
    ) -> Self {
        CallInput {
            scope: Scope {
                store_id: store.to_string(),
                install_id: install_id.to_string(),
                plugin: plugin.to_string(),
                event_id: event_id.map(str::to_string),
            },
            state: StateBuffer::default(),
            services: services.clone(),
        }
    }

    /// The same call, starting from the customer's plugin `state`.
    pub fn with_state(self, state: StateBuffer) -> Self {
        CallInput { state, ..self }
    }
}

impl Runtime {
    /// Runs one call in a fresh store with the plugin's memory cap and a
    /// deadline `timeout_ms` from now: a guest still computing at the
    /// deadline traps (epoch interruption), and no host function waits past
    /// it (a WASI sleep is cut short, a query given up).
    pub(super) fn run<T>(
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
}

pub(super) fn truncate(mut s: String, max: usize) -> String {
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
