//! The dispatcher: takes one store's pending events in arrival order (at
//! most one per customer per batch; a worker holds the store meanwhile,
//! see `lanes`), runs every enabled install the event concerns in a fresh
//! sandbox, and commits the batch's effects, outcomes (the
//! per-(event, install) done-marks) and processed marks in one
//! transaction. A crash anywhere replays only the batches whose effects
//! were not committed; the outcome's key (event, install) guarantees no
//! pair is applied twice.
//!
//! A batch runs in four phases, so that the database sees few, large
//! statements and the write lock is not held while plugins run:
//! 1. `record_facts`: customers, orders, refunds, due expiry, committed —
//!    each is idempotent, so a replay of the batch records nothing twice;
//! 2. `load_inputs`: the customers with those facts, the installs, their
//!    state and what each world needs (`worlds::load`);
//! 3. `run_calls`: every install the event concerns, in arrival order;
//! 4. `commit_results`: effects (`worlds::apply`), outcomes and processed
//!    marks, committed together.
//!
//! What a world means lives in `worlds`; this file only sequences.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::budget::Budgets;
use super::cluster::Cluster;
use super::effects::Subject;
use super::registry::{self, plugin_id};
use super::worlds::{self, Applying, CallArgs, CallResult, Decision, Loaded, Sinks, Surveys};
use super::{PipelineError, PipelineResult, Signals};
use crate::db::events::StoredEvent;
use crate::db::failures::{self, Failure};
use crate::db::installs::Install;
use crate::db::outcomes::Outcome;
use crate::db::rollouts::{self, Arm as RolloutArm, Counts, Diff};
use crate::db::{
    attempts::{self, Mark},
    churn, customers, events, installs, ledger, plugin_logs, surveys, Db,
};
use crate::domain::customer::{AsOfEvent, Customer};
use crate::domain::event::{Event, EventKind};
use crate::domain::ledger::LedgerOp;
use crate::domain::rollout::{Canary, CanaryState};
use crate::domain::states::{FailurePolicy, FailureState, OutcomeStatus};
use crate::domain::time::{now_ms, Millis};
use crate::domain::World;
use crate::metrics::{CallRecord, Metrics};
use crate::runtime::services::HostServices;
use crate::runtime::{CallInput, LogLine, Plugin, Runtime, RuntimeError, StateBuffer, Trace};

/// The event workers' part of the pipeline: what a batch reads, runs and
/// writes with, and whom it tells (the scout and the workers themselves
/// are in `workers`, the flow timers in `timers`).
#[derive(Clone)]
pub(crate) struct Dispatcher {
    pub db: Db,
    pub runtime: Arc<Runtime>,
    pub metrics: Arc<Metrics>,
    pub cluster: Arc<Cluster>,
    pub signals: Arc<Signals>,
    pub budgets: Arc<Budgets>,
    /// Most events one batch takes.
    pub batch_size: u32,
    /// Consecutive failures after which an install is disabled.
    pub trip_after: i64,
    /// How a failure that may pass is tried again.
    pub retry: super::RetryPolicy,
}

/// A version an install runs: the live one, or a shadow or canary beside it.
struct Arm {
    /// `name@version`.
    pid: String,
    version: String,
    /// The config, serialized once for every call of the batch.
    config: String,
    plugin: Result<Arc<Plugin>, String>,
    /// The install granted the `pii` scope and this version asks for it.
    pii: bool,
}

impl Arm {
    async fn load(
        db: &Db,
        runtime: &Arc<Runtime>,
        install: &Install,
        version: &str,
        config: &serde_json::Value,
    ) -> Arm {
        let plugin = registry::load(db, runtime, &install.plugin, version)
            .await
            .map_err(|e| format!("plugin could not be loaded: {e}"));
        let pii = plugin.as_ref().is_ok_and(|p| registry::sees_pii(install, p));
        Arm {
            pid: plugin_id(&install.plugin, version),
            version: version.to_string(),
            config: config.to_string(),
            plugin,
            pii,
        }
    }
}

/// What a shadow or canary run counted in one batch, and the shadow's
/// differing decisions.
#[derive(Default)]
struct RolloutTally {
    shadow: Counts,
    canary: Counts,
    /// The live version's calls while a canary runs beside it.
    live: Counts,
    diffs: Vec<Diff>,
}

/// An install as one batch sees it.
struct BatchInstall {
    install: Install,
    world: World,
    live: Arm,
    shadow: Option<Arm>,
    canary: Option<(Arm, Canary)>,
    /// Under the `hold` policy: per customer, the first event whose
    /// failure stays unresolved; the customer's later events wait.
    holding: HashMap<String, (i64, String)>,
    tally: RolloutTally,
    /// What its world needs for the batch.
    loaded: Loaded,
    calls: i64,
    failures: i64,
    consecutive: i64,
    /// Why and when a breaker disabled the install (in this batch, or
    /// before it): the events received before then fail for it.
    tripped: Option<(String, Millis)>,
}

impl BatchInstall {
    /// The version that decides: the canary's for a customer it takes.
    fn arm(&self, canary: bool) -> &Arm {
        match &self.canary {
            Some((arm, _)) if canary => arm,
            _ => &self.live,
        }
    }

    fn tripped(install: Install, world: World) -> BatchInstall {
        let why = install.disabled_reason.clone().unwrap_or_else(|| "disabled".into());
        let at = install.tripped_at.unwrap_or(0);
        BatchInstall {
            consecutive: install.consecutive_failures,
            world,
            live: Arm {
                pid: plugin_id(&install.plugin, &install.version),
                version: install.version.clone(),
                config: String::new(),
                plugin: Err(why.clone()),
                pii: false,
            },
            shadow: None,
            canary: None,
            holding: HashMap::new(),
            tally: RolloutTally::default(),
            loaded: Loaded::Nothing,
            calls: 0,
            failures: 0,
            tripped: Some((why, at)),
            install,
        }
    }
}

/// What phase 1 recorded, for the phases after it.
struct Facts {
    /// The batch's customers, once each.
    customers: Vec<String>,
    /// Per event: the refunded order's total, for `order.refunded`.
    order_totals: Vec<Option<i64>>,
    /// The batch left open by an attempt that never committed, if any:
    /// events up to this seq are suspect.
    open_to: Option<i64>,
}

/// What phase 2 read.
struct Inputs {
    customers: HashMap<String, Customer>,
    installs: Vec<BatchInstall>,
    surveys: Surveys,
    /// Per event: the installs that must run on it again (a retry, or a
    /// re-drive); an event listed here runs only those.
    again: HashMap<String, Vec<Failure>>,
}

impl Dispatcher {
    /// Processes one batch of the store's events; returns how many events
    /// it processed.
    pub async fn dispatch_batch(
        &self,
        store: &str,
        services: &Arc<dyn HostServices>,
    ) -> PipelineResult<usize> {
        let now = now_ms();
        let batch = {
            let mut conn = self.db.pool.acquire().await?;
            events::next_batch(&mut conn, store, self.batch_size, now).await?
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let facts = self.record_facts(store, &batch, now).await?;
        let mut inputs = self.load_inputs(store, &batch, &facts).await?;
        let results = self.run_calls(store, &batch, &facts, &mut inputs, services, now)?;
        let (emitted, processed, retry_at) =
            self.commit_results(store, &batch, &facts, &inputs, results, now).await?;
        if let Some(at) = retry_at {
            self.wake_at(store, at);
        }
        self.metrics.events_processed.increment(processed as u64);
        self.signals.processed.send_modify(|n| *n += processed as u64);
        if emitted > 0 {
            self.signals.lanes.mark(store);
        }
        self.signals.outbox.notify_one();
        Ok(batch.len())
    }

    /// Phase 1: customers exist, orders and refunds counted, due points
    /// expired — all before any plugin sees the customer — and the batch
    /// marked open. Committed at once: the write lock is free while
    /// plugins run.
    async fn record_facts(
        &self,
        store: &str,
        batch: &[StoredEvent],
        now: Millis,
    ) -> PipelineResult<Facts> {
        let mut ids: Vec<&str> = batch.iter().map(|ev| ev.event.customer_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut tx = self.db.begin_store(store).await?;
        customers::ensure_many(&mut tx, store, &ids, now).await?;
        let mut order_totals = vec![None; batch.len()];
        let mut orders = Vec::new();
        for (i, ev) in batch.iter().enumerate() {
            let e = &ev.event;
            match &e.kind {
                EventKind::OrderPlaced { order_id, total_cents, currency, .. } => {
                    orders.push(customers::NewOrder {
                        customer: &e.customer_id,
                        order_id,
                        total_cents: *total_cents,
                        currency,
                        placed_at: e.occurred_at,
                    })
                }
                EventKind::OrderRefunded { order_id, refund_cents } => {
                    order_totals[i] = customers::record_refund(
                        &mut tx,
                        store,
                        &e.id,
                        &e.customer_id,
                        order_id,
                        *refund_cents,
                        e.occurred_at,
                    )
                    .await?;
                }
                _ => {}
            }
        }
        customers::record_orders(&mut tx, store, &orders).await?;
        for customer in ledger::due_among(&mut tx, store, &ids, now).await? {
            ledger::expire_customer(&mut tx, store, &customer, now).await?;
        }
        // A batch left open by the last attempt makes its events suspect;
        // this one leaves its own mark before any plugin runs, removed when
        // it commits.
        let open_to = events::open_batch(&mut tx, store).await?;
        let last = batch.iter().map(|ev| ev.seq).max().unwrap_or(0);
        events::begin_batch(&mut tx, store, last).await?;
        tx.commit().await?;
        Ok(Facts {
            customers: ids.into_iter().map(str::to_string).collect(),
            order_totals,
            open_to,
        })
    }

    /// Phase 2: the customers as they are now, the installs, their state
    /// and what their worlds need; the surveys the responses answer.
    async fn load_inputs(
        &self,
        store: &str,
        batch: &[StoredEvent],
        facts: &Facts,
    ) -> PipelineResult<Inputs> {
        let ids: Vec<&str> = facts.customers.iter().map(String::as_str).collect();
        let mut conn = self.db.pool.acquire().await?;
        let customers = customers::get_many(&mut conn, store, &ids).await?;
        let mut list = Vec::new();
        for install in installs::for_events(&mut conn, store).await? {
            let world = install.world;
            if !install.enabled {
                // Disabled by a breaker: nothing to load, it only answers
                // for the events that were queued before.
                list.push(BatchInstall::tripped(install, world));
                continue;
            }
            let (db, rt) = (&self.db, &self.runtime);
            let live = Arm::load(db, rt, &install, &install.version, &install.config).await;
            let loaded = worlds::load(world, &mut conn, store, &install.install_id, &ids).await?;
            let shadow = match &install.shadow {
                Some(s) => Some(Arm::load(db, rt, &install, &s.version, &s.config).await),
                None => None,
            };
            let canary = match install.canary.as_ref().filter(|c| c.state == CanaryState::Running) {
                Some(c) => {
                    Some((Arm::load(db, rt, &install, &c.version, &c.config).await, c.clone()))
                }
                None => None,
            };
            let holding = if install.failure_policy == FailurePolicy::Hold {
                failures::holding(&mut conn, &install.install_id, &ids).await?
            } else {
                HashMap::new()
            };
            list.push(BatchInstall {
                consecutive: install.consecutive_failures,
                world,
                install,
                live,
                shadow,
                canary,
                holding,
                tally: RolloutTally::default(),
                loaded,
                calls: 0,
                failures: 0,
                tripped: None,
            });
        }
        let mut surveys_of = Surveys::new();
        for ev in batch {
            if let EventKind::SurveySubmitted { survey_id, .. } = &ev.event.kind {
                let key = (store.to_string(), survey_id.clone());
                if let std::collections::hash_map::Entry::Vacant(slot) = surveys_of.entry(key) {
                    if let Some(s) = surveys::get(&mut conn, store, survey_id).await? {
                        slot.insert(s);
                    }
                }
            }
        }
        let event_ids: Vec<&str> = batch.iter().map(|ev| ev.event.id.as_str()).collect();
        let again = failures::to_run_again(&mut conn, store, &event_ids).await?;
        Ok(Inputs { customers, installs: list, surveys: surveys_of, again })
    }

    /// Phase 3: every install on every event it concerns, in arrival
    /// order, on this thread (the calls block it; the journal of suspect
    /// events waits on the database from it). An event that runs again (a
    /// retry, a re-drive) runs only the installs it runs again for.
    fn run_calls(
        &self,
        store: &str,
        batch: &[StoredEvent],
        facts: &Facts,
        inputs: &mut Inputs,
        services: &Arc<dyn HostServices>,
        now: Millis,
    ) -> PipelineResult<Vec<Ran>> {
        let handle = tokio::runtime::Handle::current();
        let Inputs { customers, installs, surveys, again } = inputs;
        tokio::task::block_in_place(|| {
            let mut results: Vec<Ran> = Vec::new();
            for (i, ev) in batch.iter().enumerate() {
                let e = &ev.event;
                let customer = customers.get(&e.customer_id).cloned().unwrap_or_default();
                // A batch with this event began before and never committed:
                // its calls are journalled, and one that never finishes is
                // given up on instead of stopping the store at every start.
                let suspect = facts.open_to.is_some_and(|to| ev.seq <= to);
                let again = again.get(&e.id);
                for (k, bi) in installs.iter_mut().enumerate() {
                    let earlier = match again {
                        Some(list) => {
                            match list.iter().find(|f| f.install_id == bi.install.install_id) {
                                Some(f) => Some(f),
                                None => continue,
                            }
                        }
                        None => None,
                    };
                    // A call that runs again decides the event as it
                    // happened: on the customer as its first attempt saw
                    // them, not as later events left them.
                    let then = earlier.and_then(Failure::as_of_event);
                    let as_then = then.as_ref().map(|t| t.applied_to(&customer));
                    let prior = earlier.map(|f| Prior::of(f, then.as_ref(), &customer));
                    if !worlds::concerns(bi.world, e, store, surveys) {
                        continue;
                    }
                    let not_run = |code, why| Ran {
                        event: i,
                        install: k,
                        result: Err(NotRun { code, why }),
                        elapsed: Duration::ZERO,
                        fuel: None,
                        lines: Vec::new(),
                        canary: false,
                        prior,
                    };
                    if let Some((why, at)) = &bi.tripped {
                        if ev.received_at <= *at {
                            let why =
                                format!("the install was disabled before this event ran: {why}");
                            results.push(not_run("install_disabled", why));
                        }
                        continue;
                    }
                    if let Some((_, first)) =
                        bi.holding.get(&e.customer_id).filter(|(seq, _)| *seq < ev.seq)
                    {
                        let why = format!(
                            "held: the call on the customer's earlier event {first} failed and \
                             the install's failure policy is `hold`; re-drive the failures after \
                             a fix and this event runs after it"
                        );
                        results.push(not_run("held", why));
                        continue;
                    }
                    let call = Call {
                        event: ev,
                        customer: as_then.as_ref().unwrap_or(&customer),
                        order_total: facts.order_totals[i],
                        surveys,
                        suspect,
                    };
                    let canary = bi.canary.as_ref().is_some_and(|(_, c)| c.routes(&e.customer_id));
                    let ran = self.run_install(&handle, bi, &call, services, canary)?;
                    let timed_out = matches!(ran.result, Ok(Err(RuntimeError::Timeout { .. })));
                    let ok = matches!(ran.result, Ok(Ok(_)));
                    self.count_call(bi, ok, timed_out, ran.elapsed, now);
                    if bi.canary.is_some() {
                        let counts = if canary { &mut bi.tally.canary } else { &mut bi.tally.live };
                        counts.add_call(ok, ran.elapsed, ran.fuel);
                    }
                    if let Ok(live) = &ran.result {
                        self.run_shadow(bi, &call, services, live);
                    }
                    results.push(Ran {
                        event: i,
                        install: k,
                        result: ran.result,
                        elapsed: ran.elapsed,
                        fuel: ran.fuel,
                        lines: ran.lines,
                        canary,
                        prior,
                    });
                }
            }
            Ok(results)
        })
    }

    /// Hands the store to a worker again at `at` (a retry is due then).
    fn wake_at(&self, store: &str, at: Millis) {
        let (signals, store) = (self.signals.clone(), store.to_string());
        let wait = Duration::from_millis((at - now_ms()).max(0) as u64);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            signals.lanes.mark(&store);
        });
    }

    /// Phase 4: effects, outcomes, failures, counters and marks in one
    /// transaction; returns how many segment events it emitted, how many
    /// events it finished and when the first of the others (waiting for
    /// a retry) is due.
    async fn commit_results(
        &self,
        store: &str,
        batch: &[StoredEvent],
        facts: &Facts,
        inputs: &Inputs,
        results: Vec<Ran>,
        now: Millis,
    ) -> PipelineResult<(usize, usize, Option<Millis>)> {
        let mut tx = self.db.begin_store(store).await?;
        self.check_claims(&mut tx, store, &inputs.installs).await?;
        let mut sinks = Sinks::new(now, batch.len());
        let mut calls = Vec::with_capacity(results.len());
        // Per event: when it runs again, if one of its calls is retried.
        let mut retry_at: Vec<Option<Millis>> = vec![None; batch.len()];
        let mut ran_again: HashSet<(usize, usize)> = HashSet::new();
        // What the plugins wrote: (install, event, plugin, line).
        let mut written: Vec<(usize, usize, &str, LogLine)> = Vec::new();
        for ran in results {
            let (i, k) = (ran.event, ran.install);
            ran_again.insert((i, k));
            let ev = &batch[i];
            let e = &ev.event;
            let bi = &inputs.installs[k];
            let arm = bi.arm(ran.canary);
            let pid = arm.pid.as_str();
            let fuel = ran.fuel.map(|f| f as i64);
            // A failed outcome keeps the call's last lines.
            let last_lines = match &ran.result {
                Ok(Ok(_)) => Vec::new(),
                _ => tail(&ran.lines, OUTCOME_LINES),
            };
            written.extend(ran.lines.into_iter().map(|l| (k, i, pid, l)));
            let (code, why, may_pass) = match ran.result {
                Ok(Ok(mut out)) => {
                    if ran.prior.is_some_and(|p| p.tier_moved) {
                        // A later event set the customer's tier since, on
                        // statistics that include this event: this call's
                        // tier, decided as of before it, is out of date.
                        if let Decision::Ledger(ops) = &mut out.value {
                            ops.retain(|op| !matches!(op, LedgerOp::SetTier { .. }));
                        }
                    }
                    let at = Applying {
                        target: Subject {
                            store,
                            install_id: &bi.install.install_id,
                            customer: &e.customer_id,
                            event_id: Some(&e.id),
                            now,
                        },
                        plugin: pid,
                        event: e,
                        index: i,
                        loaded: &bi.loaded,
                    };
                    let mut fx = worlds::apply(&mut tx, &mut sinks, &at, &out.value).await?;
                    fx.extend(sinks.writer.messages(&mut tx, &at.target, out.outbox).await?);
                    sinks.writer.state(&at.target, out.state.writes);
                    if let Some(prior) = ran.prior {
                        failures::resolve(&mut tx, prior.id, now).await?;
                    }
                    let outcome = Outcome {
                        install_id: bi.install.install_id.clone(),
                        plugin: pid.to_string(),
                        status: OutcomeStatus::Ok,
                        error_code: None,
                        error: None,
                        effects: serde_json::to_value(&fx).expect("effects serialize"),
                        elapsed_us: ran.elapsed.as_micros() as i64,
                        fuel,
                        logs: Vec::new(),
                    };
                    calls.push((k, "ok".to_string(), ran.elapsed, ran.fuel, ran.canary));
                    sinks.writer.outcome(store, &e.id, outcome);
                    continue;
                }
                Ok(Err(err)) => {
                    calls.push((k, err.code().to_string(), ran.elapsed, ran.fuel, ran.canary));
                    (err.code(), err.to_string(), err.may_pass())
                }
                Err(not_run) => {
                    if not_run.code == "abandoned" {
                        tracing::error!(store, install = %bi.install.install_id, plugin = %pid,
                            event = %e.id, error = %not_run.why, "call given up");
                    }
                    // A call the install owed but did not make counts in the
                    // metrics (`unavailable`, `abandoned`); an install that
                    // was off for the event does not.
                    if !matches!(not_run.code, "install_disabled" | "held") {
                        calls.push((k, not_run.code.to_string(), ran.elapsed, None, ran.canary));
                    }
                    // A plugin that could not be loaded (the database, the
                    // artifact cache) may load next time.
                    let may_pass = not_run.code == "unavailable";
                    (not_run.code, not_run.why, may_pass)
                }
            };
            let attempts = ran.prior.map_or(0, |p| p.attempts) + 1;
            // An install a breaker disabled in this batch is not tried
            // again: the failure is kept, with its own code, for a re-drive.
            let retry = (may_pass
                && attempts < i64::from(self.retry.attempts)
                && !(bi.install.enabled && bi.tripped.is_some()))
            .then(|| now + self.retry.backoff(attempts));
            let state = match (retry, code) {
                (Some(_), _) => FailureState::Retrying,
                (None, "held") => FailureState::Held,
                (None, _) => FailureState::Dead,
            };
            if code != "held" {
                tracing::warn!(store, install = %bi.install.install_id, plugin = %pid,
                    event = %e.id, code, attempts, retry = retry.is_some(), error = %why,
                    "plugin call failed");
            }
            failures::record(
                &mut tx,
                &failures::Attempt {
                    store,
                    install: &bi.install.install_id,
                    event: &e.id,
                    seq: ev.seq,
                    customer: &e.customer_id,
                    plugin: pid,
                    code,
                    message: &why,
                    attempts,
                    state,
                    next_retry_at: retry,
                    as_of: &AsOfEvent::of(
                        inputs.customers.get(&e.customer_id).unwrap_or(&Customer::default()),
                    ),
                },
                now,
            )
            .await?;
            if let Some(at) = retry {
                // No outcome yet: the event stays pending for this install.
                retry_at[i] = Some(retry_at[i].map_or(at, |t: Millis| t.min(at)));
                continue;
            }
            let why = if attempts > 1 { format!("{why} (after {attempts} attempts)") } else { why };
            let mut outcome = failed(bi, pid, code, why, ran.elapsed, fuel);
            outcome.logs = last_lines;
            sinks.writer.outcome(store, &e.id, outcome);
        }
        // A pair due to run again that did not (its install was disabled or
        // removed meanwhile) goes back to the dead-letter list.
        let mut not_run_again = Vec::new();
        for (i, ev) in batch.iter().enumerate() {
            for f in inputs.again.get(&ev.event.id).into_iter().flatten() {
                let k = inputs.installs.iter().position(|bi| bi.install.install_id == f.install_id);
                if !k.is_some_and(|k| ran_again.contains(&(i, k))) {
                    not_run_again.push(f.id);
                }
            }
        }
        failures::set_state(&mut tx, &not_run_again, FailureState::Dead).await?;
        let lines: Vec<plugin_logs::NewLine> = written
            .iter()
            .map(|(k, i, pid, l)| {
                (
                    inputs.installs[*k].install.install_id.as_str(),
                    Some(batch[*i].event.id.as_str()),
                    *pid,
                    l.level.as_str(),
                    l.stream.as_str(),
                    l.message.as_str(),
                )
            })
            .collect();
        plugin_logs::append(&mut tx, &lines, now).await?;
        let Sinks { writer, segments, assessments, scored } = sinks;
        writer.finish(&mut tx).await?;
        let emitted = segments.finish(&mut tx).await?;
        for (store, list) in &assessments {
            churn::save_assessments(&mut tx, store, list).await?;
        }
        for (i, ev) in batch.iter().enumerate() {
            if let EventKind::SurveySubmitted { survey_id, answers } = &ev.event.kind {
                if inputs.again.contains_key(&ev.event.id) && scored[i].is_none() {
                    // Run again for another install: the response is kept.
                    continue;
                }
                let e = &ev.event;
                surveys::save_response(
                    &mut tx,
                    store,
                    survey_id,
                    &e.id,
                    &e.customer_id,
                    e.occurred_at,
                    &answers.to_string(),
                    scored[i].as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
                )
                .await?;
            }
        }
        let mut rolled_back = Vec::new();
        for bi in inputs.installs.iter().filter(|bi| bi.calls > 0) {
            installs::record_calls(
                &mut tx,
                &bi.install.install_id,
                bi.calls,
                bi.failures,
                bi.consecutive,
                bi.tripped.as_ref().map(|(why, _)| why.as_str()),
                now,
            )
            .await?;
            if let Some((why, _)) = bi.tripped.as_ref().filter(|_| bi.install.enabled) {
                tracing::error!(store = %bi.install.store_id, install = %bi.install.install_id,
                    plugin = %bi.live.pid, "install {why}");
                super::installs::record_host_change(
                    &mut tx,
                    &bi.install,
                    "breaker",
                    "trip",
                    why,
                    now,
                )
                .await?;
                self.metrics.breaker_tripped(store, &bi.install.plugin, &bi.install.version);
            }
            if let Some(why) = self.tally_rollouts(&mut tx, bi, now).await? {
                rolled_back.push((bi.install.install_id.clone(), why));
            }
        }
        let done: Vec<i64> = batch
            .iter()
            .zip(&retry_at)
            .filter(|(_, r)| r.is_none())
            .map(|(ev, _)| ev.seq)
            .collect();
        events::mark_processed_many(&mut tx, &done, now).await?;
        for (ev, at) in batch.iter().zip(&retry_at) {
            if let Some(at) = at {
                events::retry_at(&mut tx, ev.seq, *at).await?;
            }
        }
        events::end_batch(&mut tx, store).await?;
        if let Some(to) = facts.open_to {
            // The suspect events are done: their journal is no longer needed.
            let done: Vec<&str> =
                batch.iter().filter(|ev| ev.seq <= to).map(|ev| ev.event.id.as_str()).collect();
            attempts::forget(&mut tx, store, &done).await?;
        }
        tx.commit().await?;
        for (install, why) in &rolled_back {
            tracing::warn!(store, install = %install, reason = %why, "canary rolled back");
        }
        for (k, code, elapsed, fuel, canary) in &calls {
            let bi = &inputs.installs[*k];
            let version = &bi.arm(*canary).version;
            self.metrics.record_call(&CallRecord {
                store,
                install: &bi.install.install_id,
                plugin: &bi.install.plugin,
                version,
                code,
                elapsed_us: elapsed.as_micros().min(u128::from(u32::MAX)) as u32,
                fuel: *fuel,
            });
        }
        Ok((emitted, done.len(), retry_at.iter().flatten().min().copied()))
    }

    /// Adds a batch's shadow and canary counts to their runs', and rolls a
    /// canary back when it fails more than the live version by its margin;
    /// returns why it rolled back.
    async fn tally_rollouts(
        &self,
        tx: &mut crate::db::Conn,
        bi: &BatchInstall,
        now: Millis,
    ) -> PipelineResult<Option<String>> {
        let (install, t) = (&bi.install, &bi.tally);
        let id = install.install_id.as_str();
        if let Some(arm) = bi.shadow.as_ref().filter(|_| !t.shadow.is_empty()) {
            rollouts::add(tx, id, RolloutArm::Shadow, &arm.version, &t.shadow).await?;
            rollouts::add_diffs(tx, id, &t.diffs).await?;
            self.metrics.shadow_calls(&install.store_id, &install.plugin, &arm.version, &t.shadow);
        }
        let Some((arm, canary)) = &bi.canary else {
            return Ok(None);
        };
        if t.canary.is_empty() && t.live.is_empty() {
            return Ok(None);
        }
        rollouts::add(tx, id, RolloutArm::Canary, &arm.version, &t.canary).await?;
        rollouts::add(tx, id, RolloutArm::Live, &bi.live.version, &t.live).await?;
        let c = rollouts::counts(tx, id, RolloutArm::Canary).await?;
        let l = rollouts::counts(tx, id, RolloutArm::Live).await?;
        let Some(why) = canary.verdict((c.calls, c.failures), (l.calls, l.failures)) else {
            return Ok(None);
        };
        super::installs::roll_back_canary(tx, install, &why, now).await?;
        self.metrics.canary_rolled_back(&install.store_id, &install.plugin, &arm.version);
        Ok(Some(why))
    }
}

impl Dispatcher {
    /// In the batch's commit: this node still holds the store, and every
    /// install the batch ran is still the plugin, version and config it
    /// ran. Otherwise the batch is stale and rolls back: another node took
    /// the store over, or an install was swapped or reconfigured while the
    /// batch ran; its events then run again, on what is installed now, so
    /// no event is decided by a version after the change that replaced it
    /// was answered. (An install disabled meanwhile keeps the decisions of
    /// the calls it had begun, like a breaker trip.)
    async fn check_claims(
        &self,
        tx: &mut crate::db::Conn,
        store: &str,
        ran: &[BatchInstall],
    ) -> PipelineResult<()> {
        self.cluster.confirm_store(tx, store).await?;
        let now: HashMap<String, Install> = installs::list(tx, store)
            .await?
            .into_iter()
            .map(|i| (i.install_id.clone(), i))
            .collect();
        let changed = ran.iter().filter(|bi| bi.calls > 0).find(|bi| {
            let b = &bi.install;
            now.get(&b.install_id).is_none_or(|a| a.decides_as() != b.decides_as())
        });
        if let Some(bi) = changed {
            return Err(PipelineError::Stale(format!(
                "install {} changed while the batch ran",
                bi.install.install_id
            )));
        }
        Ok(())
    }
}

/// One event as one install's call meets it.
struct Call<'a> {
    event: &'a StoredEvent,
    customer: &'a Customer,
    order_total: Option<i64>,
    surveys: &'a Surveys,
    /// A batch with the event began before and never committed.
    suspect: bool,
}

fn failed(
    bi: &BatchInstall,
    pid: &str,
    code: &str,
    error: String,
    elapsed: Duration,
    fuel: Option<i64>,
) -> Outcome {
    Outcome {
        install_id: bi.install.install_id.clone(),
        plugin: pid.to_string(),
        status: OutcomeStatus::Failed,
        error_code: Some(code.to_string()),
        error: Some(error),
        effects: json!([]),
        elapsed_us: elapsed.as_micros() as i64,
        fuel,
        logs: Vec::new(),
    }
}

/// Lines of what a plugin wrote that a failed outcome keeps.
const OUTCOME_LINES: usize = 20;

/// The last `n` lines.
fn tail(lines: &[LogLine], n: usize) -> Vec<LogLine> {
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// Starts of a call of a suspect event that may not finish before it is
/// given up on: with the batch that first took the event, three attempts.
const MAX_UNFINISHED_STARTS: i64 = 2;

impl Dispatcher {
    /// Journals the start of a suspect event's call; answers why it is
    /// given up on instead, when earlier starts never finished.
    async fn journal_start(
        &self,
        store: &str,
        event: &str,
        install: &str,
    ) -> PipelineResult<Option<String>> {
        let mut conn = self.db.write_conn().await?;
        let unfinished = attempts::unfinished(&mut conn, store, event, install).await?;
        if unfinished >= MAX_UNFINISHED_STARTS {
            return Ok(Some(format!(
                "the call on this event was attempted {} times and never finished (it hung, or \
                 the process stopped during it); it was given up on so that the customer's later \
                 events can run",
                unfinished + 1
            )));
        }
        attempts::mark(&mut conn, (store, event, install), Mark::Started, now_ms()).await?;
        Ok(None)
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
        let not_run = |code, why| Attempted {
            result: Err(NotRun { code, why }),
            elapsed: Duration::ZERO,
            fuel: None,
            lines: Vec::new(),
        };
        let arm = bi.arm(canary);
        let plugin = match &arm.plugin {
            Ok(plugin) => plugin.clone(),
            Err(why) => return Ok(not_run("unavailable", why.clone())),
        };
        let install_id = bi.install.install_id.clone();
        if call.suspect {
            if let Some(why) = handle.block_on(self.journal_start(store, &e.id, &install_id))? {
                return Ok(not_run("abandoned", why));
            }
        }
        let arm = bi.arm(canary);
        let (result, elapsed, trace) = self.decide(bi, arm, &plugin, call, services);
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
    fn decide(
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
            loaded: &bi.loaded,
            customer: call.customer,
            event: e,
            order_total: call.order_total,
            surveys: call.surveys,
            store,
        };
        let started = std::time::Instant::now();
        let result = worlds::decide(bi.world, &self.runtime, args, input);
        (result, started.elapsed(), trace)
    }

    /// Runs the install's shadow version on the same event and customer,
    /// from the same committed state, after the live call; applies nothing, and
    /// counts whether it decided as `live` did.
    fn run_shadow(
        &self,
        bi: &mut BatchInstall,
        call: &Call<'_>,
        services: &Arc<dyn HostServices>,
        live: &CallResult,
    ) {
        let Some(arm) = &bi.shadow else { return };
        let e = &call.event.event;
        let plugin = match &arm.plugin {
            Ok(p) => p.clone(),
            Err(why) => {
                let tally = &mut bi.tally;
                tally.shadow.add_call(false, Duration::ZERO, None);
                tally.note(e, live, failed_view("unavailable", why));
                return;
            }
        };
        let (result, elapsed, trace) = self.decide(bi, arm, &plugin, call, services);
        let tally = &mut bi.tally;
        let fuel = Some(trace.fuel());
        match result {
            Ok(out) => {
                tally.shadow.add_call(true, elapsed, fuel);
                tally.compare(e, live, worlds::compared(&out));
            }
            Err(err) => {
                tally.shadow.add_call(false, elapsed, fuel);
                tally.note(e, live, failed_view(err.code(), &err.to_string()));
            }
        }
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

    /// Journals that a suspect event's call returned.
    async fn journal_finish(&self, store: &str, event: &str, install: &str) -> PipelineResult<()> {
        let mut conn = self.db.write_conn().await?;
        attempts::mark(&mut conn, (store, event, install), Mark::Finished, now_ms()).await?;
        Ok(())
    }
}

/// One install's attempt on one event.
struct Attempted {
    result: Result<CallResult, NotRun>,
    /// Time the call took (failed calls too).
    elapsed: Duration,
    /// Fuel it used, where a call ran.
    fuel: Option<u64>,
    /// What the plugin wrote.
    lines: Vec<LogLine>,
}

/// What one install did with (or why it did not run on) one event.
struct Ran {
    event: usize,
    install: usize,
    result: Result<CallResult, NotRun>,
    /// Time the call took (failed calls too).
    elapsed: Duration,
    fuel: Option<u64>,
    lines: Vec<LogLine>,
    /// The install's canary version decided.
    canary: bool,
    /// The pair's failure, when this is a retry or a re-drive.
    prior: Option<Prior>,
}

/// A pair's earlier failure.
#[derive(Debug, Clone, Copy)]
struct Prior {
    id: i64,
    /// Attempts so far (since the last re-drive).
    attempts: i64,
    /// The customer's tier is no longer the one the first attempt saw
    /// (`then`): a later event set it.
    tier_moved: bool,
}

impl Prior {
    fn of(f: &Failure, then: Option<&AsOfEvent>, now: &Customer) -> Prior {
        Prior {
            id: f.id,
            attempts: if f.state == FailureState::Redriving { 0 } else { f.attempts },
            tier_moved: then.is_some_and(|t| t.tier != now.tier),
        }
    }
}

/// A failed call, as a shadow comparison shows it.
fn failed_view(code: &str, error: &str) -> serde_json::Value {
    json!({"failed": {"code": code, "error": error}})
}

impl RolloutTally {
    /// The live decision (or failure) as it is compared.
    fn live_view(live: &CallResult) -> serde_json::Value {
        match live {
            Ok(out) => worlds::compared(out),
            Err(err) => failed_view(err.code(), &err.to_string()),
        }
    }

    /// Counts a shadow decision against the live one.
    fn compare(&mut self, e: &Event, live: &CallResult, shadow: serde_json::Value) {
        let live = Self::live_view(live);
        if live == shadow {
            self.shadow.agreements += 1;
        } else {
            self.shadow.disagreements += 1;
            self.keep(e, live, shadow);
        }
    }

    /// Keeps a shadow failure as an example.
    fn note(&mut self, e: &Event, live: &CallResult, shadow: serde_json::Value) {
        self.keep(e, Self::live_view(live), shadow);
    }

    fn keep(&mut self, e: &Event, live: serde_json::Value, shadow: serde_json::Value) {
        if (self.diffs.len() as i64) < rollouts::MAX_DIFFS {
            self.diffs.push(Diff {
                event_id: e.id.clone(),
                customer_id: e.customer_id.clone(),
                live,
                shadow,
                at: now_ms(),
            });
        }
    }
}

/// Why an install did not decide on an event.
struct NotRun {
    code: &'static str,
    why: String,
}
