//! Phase 3: every install on every event it concerns, in arrival order,
//! on the worker's thread (the calls block it; the journal of suspect
//! events waits on the database from it). An event that runs again (a
//! retry, a re-drive) runs only the installs it runs again for.

use std::sync::Arc;
use std::time::Duration;

use super::{
    Arm, Attempted, BatchInstall, Call, Dispatcher, Facts, Inputs, NotRunCode, Prior, Ran,
};
use crate::db::events::StoredEvent;
use crate::db::failures::Failure;
use crate::domain::customer::Customer;
use crate::domain::time::Millis;
use crate::pipeline::worlds::{CallArgs, CallResult};
use crate::pipeline::PipelineResult;
use crate::runtime::services::HostServices;
use crate::runtime::{CallInput, Plugin, RuntimeError, StateBuffer, Trace};

/// An event of the batch as every install's call meets it.
#[derive(Clone, Copy)]
struct Pair<'a> {
    /// The event's place in the batch.
    index: usize,
    ev: &'a StoredEvent,
    order_total: Option<i64>,
    suspect: bool,
    /// The customer as the batch found them.
    customer: &'a Customer,
    /// The pair's failure, when it runs again.
    earlier: Option<&'a Failure>,
}

impl Dispatcher {
    pub(super) fn run_calls(
        &self,
        batch: &[StoredEvent],
        facts: &Facts,
        inputs: &mut Inputs,
        services: &Arc<dyn HostServices>,
        now: Millis,
    ) -> PipelineResult<Vec<Ran>> {
        let handle = tokio::runtime::Handle::current();
        tokio::task::block_in_place(|| {
            let mut results: Vec<Ran> = Vec::new();
            for (i, ev) in batch.iter().enumerate() {
                let customer =
                    inputs.customers.get(&ev.event.customer_id).cloned().unwrap_or_default();
                // A batch with this event began before and never committed:
                // its calls are journalled, and one that never finishes is
                // given up on instead of stopping the store at every start.
                let suspect = facts.open_to.is_some_and(|to| ev.seq <= to);
                let again = inputs.again.get(&ev.event.id);
                let order_total = facts.order_totals[i];
                for (k, bi) in inputs.installs.iter_mut().enumerate() {
                    let earlier = match again {
                        Some(list) => {
                            match list.iter().find(|f| f.install_id == bi.install.install_id) {
                                Some(f) => Some(f),
                                None => continue,
                            }
                        }
                        None => None,
                    };
                    let pair =
                        Pair { index: i, ev, order_total, suspect, customer: &customer, earlier };
                    results.extend(self.run_pair(&handle, (k, bi), &pair, services, now)?);
                }
            }
            Ok(results)
        })
    }

    /// One install on one event, if the event concerns it: not run when
    /// a breaker disabled the install before the event or the customer's
    /// events are held.
    fn run_pair(
        &self,
        handle: &tokio::runtime::Handle,
        (k, bi): (usize, &mut BatchInstall),
        pair: &Pair<'_>,
        services: &Arc<dyn HostServices>,
        now: Millis,
    ) -> PipelineResult<Option<Ran>> {
        let Pair { index: i, ev, order_total, suspect, customer, earlier } = *pair;
        let e = &ev.event;
        // A call that runs again decides the event as it happened: on the
        // customer as its first attempt saw them, not as later events left
        // them.
        let then = earlier.and_then(Failure::as_of_event);
        let as_then = then.as_ref().map(|t| t.applied_to(customer));
        let prior = earlier.map(|f| Prior::of(f, then.as_ref(), customer));
        if !bi.unit.concerns(e) {
            return Ok(None);
        }
        let ran = |attempt, canary| Some(Ran { event: i, install: k, attempt, canary, prior });
        if let Some((why, at)) = &bi.tripped {
            if ev.received_at > *at {
                return Ok(None);
            }
            let why = format!("the install was disabled before this event ran: {why}");
            return Ok(ran(Attempted::not_run(NotRunCode::InstallDisabled, why), false));
        }
        if let Some((_, first)) = bi.holding.get(&e.customer_id).filter(|(seq, _)| *seq < ev.seq) {
            let why = format!(
                "held: the call on the customer's earlier event {first} failed and the install's \
                 failure policy is `hold`; re-drive the failures after a fix and this event runs \
                 after it"
            );
            return Ok(ran(Attempted::not_run(NotRunCode::Held, why), false));
        }
        let customer = as_then.as_ref().unwrap_or(customer);
        let call = Call { event: ev, customer, order_total, suspect };
        let canary = bi.canary.as_ref().is_some_and(|(_, c)| c.routes(&e.customer_id));
        let attempt = self.run_install(handle, bi, &call, services, canary)?;
        let timed_out = matches!(attempt.result, Ok(Err(RuntimeError::Timeout { .. })));
        let ok = matches!(attempt.result, Ok(Ok(_)));
        self.count_call(bi, ok, timed_out, attempt.elapsed, now);
        if bi.canary.is_some() {
            let counts = if canary { &mut bi.tally.canary } else { &mut bi.tally.live };
            counts.add_call(ok, attempt.elapsed, attempt.fuel);
        }
        if let Ok(live) = &attempt.result {
            self.run_shadow(bi, &call, services, live);
        }
        Ok(ran(attempt, canary))
    }

    /// Runs one install on one event (on a blocking thread), on its
    /// canary version when `canary`: journalled when the event is suspect,
    /// and given up on when its earlier starts never finished.
    fn run_install(
        &self,
        handle: &tokio::runtime::Handle,
        bi: &mut BatchInstall,
        call: &Call<'_>,
        services: &Arc<dyn HostServices>,
        canary: bool,
    ) -> PipelineResult<Attempted> {
        let (store, e) = (call.event.store_id.as_str(), &call.event.event);
        let arm = bi.arm(canary);
        let plugin = match &arm.plugin {
            Ok(plugin) => plugin.clone(),
            Err(why) => return Ok(Attempted::not_run(NotRunCode::Unavailable, why.clone())),
        };
        let install_id = bi.install.install_id.clone();
        if call.suspect {
            if let Some(why) = handle.block_on(self.journal_start(store, &e.id, &install_id))? {
                return Ok(Attempted::not_run(NotRunCode::Abandoned, why));
            }
        }
        let (result, elapsed, trace) = self.decide(bi, bi.arm(canary), &plugin, call, services);
        if call.suspect {
            handle.block_on(self.journal_finish(store, &e.id, &install_id))?;
        }
        Ok(Attempted {
            result: Ok(result),
            elapsed,
            fuel: Some(trace.fuel()),
            lines: trace.lines(),
        })
    }

    /// One call of an arm of the install on the event: what it decided,
    /// its time and what it used and wrote. Its plugin state is read key
    /// by key as the call asks (`StateBuffer::stored`): the committed
    /// state, since a batch holds at most one event per customer.
    pub(super) fn decide(
        &self,
        bi: &BatchInstall,
        arm: &Arm,
        plugin: &Arc<Plugin>,
        call: &Call<'_>,
        services: &Arc<dyn HostServices>,
    ) -> (CallResult, Duration, Trace) {
        let (store, e) = (call.event.store_id.as_str(), &call.event.event);
        let install = &bi.install.install_id;
        let input = CallInput::new(store, install, &plugin.id, Some(&e.id), services)
            .with_state(StateBuffer::stored(&e.customer_id))
            .with_pii(arm.pii);
        let trace = input.trace.clone();
        let args = CallArgs {
            plugin,
            config: &arm.config,
            customer: call.customer,
            event: e,
            order_total: call.order_total,
        };
        let started = std::time::Instant::now();
        let result = bi.unit.decide(&self.runtime, args, input);
        (result, started.elapsed(), trace)
    }

    /// Counts a call of the install, and trips its breakers: failures in
    /// a row, calls in a row that ran to their deadline, worker time.
    fn count_call(
        &self,
        bi: &mut BatchInstall,
        ok: bool,
        timed_out: bool,
        elapsed: Duration,
        now: Millis,
    ) {
        bi.calls += 1;
        let mut trip = None;
        if ok {
            bi.consecutive = 0;
        } else {
            bi.failures += 1;
            bi.consecutive += 1;
            if bi.consecutive >= self.trip_after {
                trip = Some(format!("disabled after {} consecutive failures", bi.consecutive));
            }
        }
        let install_id = &bi.install.install_id;
        if let Some(why) = self.budgets.charge(install_id, elapsed, !ok, timed_out) {
            trip.get_or_insert(why);
        }
        if let Some(why) = trip {
            bi.tripped = Some((
                format!("{why}; fix or swap the plugin, then PATCH {{\"enabled\": true}}"),
                now,
            ));
        }
    }
}
