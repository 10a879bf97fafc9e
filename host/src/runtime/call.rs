//! One call: a fresh store with the plugin's memory cap and a deadline,
//! and what the call left behind.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap};

use super::bindings::types::PluginError;
use super::services::HostServices;
use super::{CallCtx, LogLine, Plugin, QueuedMessage, Runtime, RuntimeError, Scope, StateBuffer};

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
    /// What the calls made with this input used and wrote, whether they
    /// succeeded or not.
    pub trace: Trace,
}

/// What one or more calls (a churn-rescue decision is two) used and
/// wrote: fuel, peak memory, and the plugin's log lines and output.
#[derive(Debug, Clone, Default)]
pub struct Trace(Arc<TraceInner>);

#[derive(Debug, Default)]
struct TraceInner {
    fuel: std::sync::atomic::AtomicU64,
    memory_peak: std::sync::atomic::AtomicUsize,
    lines: std::sync::Mutex<Vec<LogLine>>,
}

impl Trace {
    pub fn fuel(&self) -> u64 {
        self.0.fuel.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The largest linear memory of any of the calls, in bytes.
    pub fn memory_peak_bytes(&self) -> usize {
        self.0.memory_peak.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The plugin's log lines and output, in the order written.
    pub fn lines(&self) -> Vec<LogLine> {
        self.0.lines.lock().unwrap().clone()
    }

    fn add(&self, fuel: u64, memory_peak: usize, lines: Vec<LogLine>) {
        use std::sync::atomic::Ordering::Relaxed;
        self.0.fuel.fetch_add(fuel, Relaxed);
        self.0.memory_peak.fetch_max(memory_peak, Relaxed);
        self.0.lines.lock().unwrap().extend(lines);
    }
}

/// Which of the plugin's budgets a call runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A call about one customer or one response.
    Call,
    /// A fit or aggregate over a population.
    Fit,
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
                pii: false,
            },
            state: StateBuffer::default(),
            services: services.clone(),
            trace: Trace::default(),
        }
    }

    /// The same call, starting from the customer's plugin `state`.
    pub fn with_state(self, state: StateBuffer) -> Self {
        CallInput { state, ..self }
    }

    /// The same call, seeing customers' personal data (e-mail, phone,
    /// name, birthday) when `pii` (the install was granted the scope).
    pub fn with_pii(mut self, pii: bool) -> Self {
        self.scope.pii = pii;
        self
    }
}

impl Runtime {
    /// Runs one call in a fresh store with the plugin's memory cap, its
    /// fuel and a backstop deadline: a guest that uses up its fuel traps
    /// (the same way on any machine); one still running at the deadline
    /// traps too (epoch interruption), and no host function waits past it
    /// (a WASI sleep is cut short, a query given up).
    pub(super) fn run<T>(
        &self,
        plugin: &Plugin,
        input: CallInput,
        kind: Kind,
        call: impl FnOnce(&mut Store<CallCtx>) -> wasmtime::Result<Result<T, PluginError>>,
    ) -> Result<CallOutput<T>, RuntimeError> {
        let l = &plugin.limits;
        let (fuel, timeout_ms, memory_mib) = match kind {
            Kind::Call => (l.fuel, l.timeout_ms, l.memory_mib),
            Kind::Fit => (l.fit_fuel, l.fit_timeout_ms, l.fit_memory_mib),
        };
        let memory_cap = memory_mib as usize * 1024 * 1024;
        let timeout_ms = timeout_ms.max(1);
        let trace = input.trace;
        let started = Instant::now();
        let deadline = started + Duration::from_millis(u64::from(timeout_ms));
        let ctx = CallCtx::new(input.scope, input.services, input.state, memory_cap, deadline);
        let mut store = Store::new(&self.engine, ctx);
        store.limiter(|c| &mut c.limiter);
        if self.metered {
            store.set_fuel(fuel).expect("the engine consumes fuel (engine::engine)");
        }
        if kind == Kind::Fit {
            // A fit's answer (a million rows' memberships) may be larger
            // than the 128 MiB the guest may hand the host by default;
            // it is bounded by the fit's own memory.
            store.set_hostcall_fuel(memory_cap.max(store.hostcall_fuel()));
        }
        store.set_epoch_deadline(u64::from(timeout_ms));
        store.epoch_deadline_trap();
        let result = call(&mut store);
        let elapsed = started.elapsed();
        let used =
            if self.metered { fuel.saturating_sub(store.get_fuel().unwrap_or(0)) } else { 0 };
        let ctx = store.data_mut();
        ctx.flush_stdio();
        // A trap's message leads with what the plugin wrote to stderr.
        let stderr = if result.is_err() { ctx.stderr_text() } else { String::new() };
        trace.add(used, ctx.limiter.peak_bytes, std::mem::take(&mut ctx.lines));
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
            Ok(Ok(value)) => Ok(CallOutput { value, state, outbox, elapsed, memory_peak_bytes }),
            Ok(Err(e)) => Err(RuntimeError::Plugin {
                code: truncate(e.code, 64),
                message: truncate(e.message, 2000),
                retryable: e.retryable,
            }),
            Err(e) => {
                if exceeded {
                    Err(RuntimeError::MemoryLimit { mib: memory_mib })
                } else if e.downcast_ref::<Trap>() == Some(&Trap::OutOfFuel) {
                    Err(RuntimeError::FuelExhausted { fuel })
                } else if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
                    Err(RuntimeError::Timeout { ms: timeout_ms })
                } else {
                    Err(RuntimeError::Trap(truncate(own_message(&stderr, &e), 4000)))
                }
            }
        }
    }
}

/// A trap as its author would want to read it: what the plugin wrote to
/// stderr on the way down (a Rust panic's message, a Python traceback)
/// first, then the trap itself.
fn own_message(stderr: &str, e: &wasmtime::Error) -> String {
    let trap = format!("{e:#}");
    let trap = trap.lines().next().unwrap_or_default();
    let said: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
        .collect();
    if said.is_empty() {
        return trap.to_string();
    }
    // The end of what it wrote holds the message.
    let tail = said[said.len().saturating_sub(40)..].join("\n");
    format!("{tail}\n({trap})")
}

pub(super) fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        s.truncate(s.floor_char_boundary(max));
        s.push('…');
    }
    s
}
