//! WASI clocks that never sleep past a call's deadline.
//!
//! Epoch interruption stops a guest that computes, not one that waits in
//! the host. The only WASI waits that can last are on clock pollables:
//! every other pollable a guest can make here is ready at once (stdin is
//! closed, stdout/stderr are memory pipes, there are no sockets or files).
//! So `subscribe-duration` and `subscribe-instant` are replaced by versions
//! that cut the sleep at the call's deadline and mark the call as out of
//! time: a `poll` or `block` then returns by the deadline, and the call
//! ends as a `timeout`. Calls stay synchronous, which keeps a call's cost
//! at that of a plain function call (no fiber per call).

use wasmtime::component::{Linker, Resource};
use wasmtime::StoreContextMut;
use wasmtime_wasi::clocks::WasiClocksView;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock::Host as _;
use wasmtime_wasi::p2::DynPollable;

use super::CallCtx;

/// The `wasi:clocks` version the WASI implementation defines; components
/// importing any 0.2.x version are linked to it.
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// Replaces the sleeping functions of `wasi:clocks/monotonic-clock`
/// (already linked by WASI) with deadline-bounded ones.
pub fn bound_sleeps(linker: &mut Linker<CallCtx>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap(
        "subscribe-duration",
        |mut store: StoreContextMut<'_, CallCtx>, (nanos,): (u64,)| {
            let ctx = store.data_mut();
            let nanos = ctx.sleep_within_deadline(nanos);
            Ok((ctx.clocks().subscribe_duration(nanos)?,))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |mut store: StoreContextMut<'_, CallCtx>, (when,): (u64,)| {
            let ctx = store.data_mut();
            let now = ctx.clocks().now()?;
            let nanos = ctx.sleep_within_deadline(when.saturating_sub(now));
            let pollable: Resource<DynPollable> = ctx.clocks().subscribe_duration(nanos)?;
            Ok((pollable,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}
