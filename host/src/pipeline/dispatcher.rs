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

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::budget::Budgets;
use super::cluster::Cluster;
use super::effects::Subject;
use super::registry::{self, plugin_id};
use super::worlds::{self, Applying, CallArgs, CallResult, Loaded, Sinks, Surveys};
use super::{PipelineError, PipelineResult, Signals};
use crate::db::events::StoredEvent;
use crate::db::installs::Install;
use crate::db::outcomes::Outcome;
use crate::db::{attempts, churn, customers, events, installs, ledger, state, surveys, Db};
use crate::domain::customer::Customer;
use crate::domain::event::EventKind;
use crate::domain::states::OutcomeStatus;
use crate::domain::time::{now_ms, Millis};
use crate::domain::{Capability, World};
use crate::metrics::{CallRecord, Metrics};
use crate::runtime::services::HostServices;
use crate::runtime::{CallInput, Plugin, Runtime, RuntimeError, StateBuffer};

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
}

/// An install as one batch sees it.
struct BatchInstall {
    install: Install,
    world: World,
    /// The install's config, serialized once for every call of the batch.
    config: String,
    plugin: Result<Arc<Plugin>, String>,
    /// Plugin state per customer of the batch (if it has the capability).
    state: HashMap<String, HashMap<String, Vec<u8>>>,
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
    fn tripped(install: Install, world: World) -> BatchInstall {
        let why = install
            .disabled_reason
            .clone()
            .unwrap_or_else(|| "disabled".into());
        let at = install.tripped_at.unwrap_or(0);
        BatchInstall {
            consecutive: install.consecutive_failures,
            config: String::new(),
            world,
            plugin: Err(why.clone()),
            state: HashMap::new(),
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
}

impl Dispatcher {
    /// Processes one batch of the store's events; returns how many events
    /// it processed.
    pub async fn dispatch_batch(
        &self,
        store: &str,
        services: &Arc<dyn HostServices>,
    ) -> PipelineResult<usize> {
        let batch = {
            let mut conn = self.db.pool.acquire().await?;
            events::next_batch(&mut conn, store, self.batch_size).await?
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let now = now_ms();
        let facts = self.record_facts(store, &batch, now).await?;
        let mut inputs = self.load_inputs(store, &batch, &facts).await?;
        let results = self.run_calls(store, &batch, &facts, &mut inputs, services, now)?;
        let emitted = self
            .commit_results(store, &batch, &facts, &inputs, results, now)
            .await?;
        self.metrics.events_processed.increment(batch.len() as u64);
        self.signals
            .processed
            .send_modify(|n| *n += batch.len() as u64);
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
        let mut ids: Vec<&str> = batch
            .iter()
            .map(|ev| ev.event.customer_id.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut tx = self.db.begin_store(store).await?;
        customers::ensure_many(&mut tx, store, &ids, now).await?;
        let mut order_totals = vec![None; batch.len()];
        let mut orders = Vec::new();
        for (i, ev) in batch.iter().enumerate() {
            let e = &ev.event;
            match &e.kind {
                EventKind::OrderPlaced {
                    order_id,
                    total_cents,
                    currency,
                    ..
                } => orders.push(customers::NewOrder {
                    customer: &e.customer_id,
                    order_id,
                    total_cents: *total_cents,
                    currency,
                    placed_at: e.occurred_at,
                }),
                EventKind::OrderRefunded {
                    order_id,
                    refund_cents,
                } => {
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
            let plugin = registry::load(&self.db, &self.runtime, &install.plugin, &install.version)
                .await
                .map_err(|e| format!("plugin could not be loaded: {e}"));
            let state = match &plugin {
                Ok(p) if p.capabilities.contains(&Capability::State) => {
                    state::load_many(&mut conn, &install.install_id, &ids).await?
                }
                _ => HashMap::new(),
            };
            let loaded = worlds::load(world, &mut conn, store, &install.install_id, &ids).await?;
            list.push(BatchInstall {
                consecutive: install.consecutive_failures,
                config: install.config.to_string(),
                world,
                install,
                plugin,
                state,
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
        Ok(Inputs {
            customers,
            installs: list,
            surveys: surveys_of,
        })
    }

    /// Phase 3: every install on every event it concerns, in arrival
    /// order, on this thread (the calls block it; the journal of suspect
    /// events waits on the database from it).
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
        let Inputs {
            customers,
            installs,
            surveys,
        } = inputs;
        tokio::task::block_in_place(|| {
            let mut results: Vec<Ran> = Vec::new();
            for (i, ev) in batch.iter().enumerate() {
                let e = &ev.event;
                let customer = customers.get(&e.customer_id).cloned().unwrap_or_default();
                // A batch with this event began before and never committed:
                // its calls are journalled, and one that never finishes is
                // given up on instead of stopping the store at every start.
                let suspect = facts.open_to.is_some_and(|to| ev.seq <= to);
                for (k, bi) in installs.iter_mut().enumerate() {
                    if !worlds::concerns(bi.world, e, store, surveys) {
                        continue;
                    }
                    if let Some((why, at)) = &bi.tripped {
                        if ev.received_at <= *at {
                            let why =
                                format!("the install was disabled before this event ran: {why}");
                            results.push(Ran {
                                event: i,
                                install: k,
                                result: Err(NotRun {
                                    code: "install_disabled",
                                    why,
                                }),
                                elapsed: Duration::ZERO,
                            });
                        }
                        continue;
                    }
                    let call = Call {
                        event: ev,
                        customer: &customer,
                        order_total: facts.order_totals[i],
                        surveys,
                        suspect,
                    };
                    let (result, elapsed) = self.run_install(&handle, bi, call, services)?;
                    let timed_out = matches!(result, Ok(Err(RuntimeError::Timeout { .. })));
                    self.count_call(bi, matches!(result, Ok(Ok(_))), timed_out, elapsed, now);
                    results.push(Ran {
                        event: i,
                        install: k,
                        result,
                        elapsed,
                    });
                }
            }
            Ok(results)
        })
    }

    /// Phase 4: effects, outcomes, counters and marks in one transaction;
    /// returns how many segment events it emitted.
    async fn commit_results(
        &self,
        store: &str,
        batch: &[StoredEvent],
        facts: &Facts,
        inputs: &Inputs,
        results: Vec<Ran>,
        now: Millis,
    ) -> PipelineResult<usize> {
        let mut tx = self.db.begin_store(store).await?;
        self.check_claims(&mut tx, store, &inputs.installs).await?;
        let mut sinks = Sinks::new(now, batch.len());
        let mut calls = Vec::with_capacity(results.len());
        for Ran {
            event: i,
            install: k,
            result,
            elapsed,
        } in results
        {
            let e = &batch[i].event;
            let bi = &inputs.installs[k];
            let pid = plugin_id(&bi.install.plugin, &bi.install.version);
            let outcome = match result {
                Ok(Ok(out)) => {
                    let at = Applying {
                        target: Subject {
                            store,
                            install_id: &bi.install.install_id,
                            customer: &e.customer_id,
                            event_id: Some(&e.id),
                            now,
                        },
                        plugin: &pid,
                        event: e,
                        index: i,
                        loaded: &bi.loaded,
                    };
                    let mut fx = worlds::apply(&mut tx, &mut sinks, &at, &out.value).await?;
                    fx.extend(
                        sinks
                            .writer
                            .messages(&mut tx, &at.target, out.outbox)
                            .await?,
                    );
                    sinks.writer.state(&at.target, out.state.writes);
                    Outcome {
                        install_id: bi.install.install_id.clone(),
                        plugin: pid.clone(),
                        status: OutcomeStatus::Ok,
                        error_code: None,
                        error: None,
                        effects: serde_json::to_value(&fx).expect("effects serialize"),
                        elapsed_us: out.elapsed.as_micros() as i64,
                    }
                }
                Ok(Err(err)) => {
                    tracing::warn!(store, install = %bi.install.install_id, plugin = %pid,
                        event = %e.id, code = err.code(), error = %err, "plugin call failed");
                    failed(bi, &pid, err.code(), err.to_string(), elapsed)
                }
                Err(not_run) => {
                    if not_run.code == "abandoned" {
                        tracing::error!(store, install = %bi.install.install_id, plugin = %pid,
                            event = %e.id, error = %not_run.why, "call given up");
                    }
                    failed(bi, &pid, not_run.code, not_run.why, elapsed)
                }
            };
            if outcome.error_code.as_deref() != Some("install_disabled") {
                let code = outcome.error_code.clone().unwrap_or_else(|| "ok".into());
                calls.push((k, code, outcome.elapsed_us as u32));
            }
            sinks.writer.outcome(store, &e.id, outcome);
        }
        let Sinks {
            writer,
            segments,
            assessments,
            scored,
        } = sinks;
        writer.finish(&mut tx).await?;
        let emitted = segments.finish(&mut tx).await?;
        for (store, list) in &assessments {
            churn::save_assessments(&mut tx, store, list).await?;
        }
        for (i, ev) in batch.iter().enumerate() {
            if let EventKind::SurveySubmitted { survey_id, answers } = &ev.event.kind {
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
            if let Some((why, _)) = &bi.tripped {
                tracing::error!(store = %bi.install.store_id, install = %bi.install.install_id,
                    plugin = %plugin_id(&bi.install.plugin, &bi.install.version), "install {why}");
            }
        }
        let seqs: Vec<i64> = batch.iter().map(|ev| ev.seq).collect();
        events::mark_processed_many(&mut tx, &seqs, now).await?;
        events::end_batch(&mut tx, store).await?;
        if let Some(to) = facts.open_to {
            // The suspect events are done: their journal is no longer needed.
            let done: Vec<&str> = batch
                .iter()
                .filter(|ev| ev.seq <= to)
                .map(|ev| ev.event.id.as_str())
                .collect();
            attempts::forget(&mut tx, store, &done).await?;
        }
        tx.commit().await?;
        for (k, code, elapsed_us) in &calls {
            let install = &inputs.installs[*k].install;
            self.metrics.record_call(&CallRecord {
                store,
                install: &install.install_id,
                plugin: &install.plugin,
                version: &install.version,
                code,
                elapsed_us: *elapsed_us,
            });
        }
        Ok(emitted)
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
            now.get(&b.install_id).is_none_or(|a| {
                (&a.plugin, &a.version, &a.config) != (&b.plugin, &b.version, &b.config)
            })
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

fn failed(bi: &BatchInstall, pid: &str, code: &str, error: String, elapsed: Duration) -> Outcome {
    Outcome {
        install_id: bi.install.install_id.clone(),
        plugin: pid.to_string(),
        status: OutcomeStatus::Failed,
        error_code: Some(code.to_string()),
        error: Some(error),
        effects: json!([]),
        elapsed_us: elapsed.as_micros() as i64,
    }
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
        let mut conn = self.db.pool.acquire().await?;
        let unfinished = attempts::unfinished(&mut conn, store, event, install).await?;
        if unfinished >= MAX_UNFINISHED_STARTS {
            return Ok(Some(format!(
                "the call on this event was attempted {} times and never finished (it hung, or \
                 the process stopped during it); it was given up on so that the customer's later \
                 events can run",
                unfinished + 1
            )));
        }
        attempts::started(&mut conn, store, event, install, now_ms()).await?;
        Ok(None)
    }

    /// Runs one install on one event (on a blocking thread): journalled
    /// when the event is suspect, and given up on when its earlier starts
    /// never finished. Returns what it decided and the call's time.
    fn run_install(
        &self,
        handle: &tokio::runtime::Handle,
        bi: &mut BatchInstall,
        call: Call<'_>,
        services: &Arc<dyn HostServices>,
    ) -> PipelineResult<(Result<CallResult, NotRun>, Duration)> {
        let (store, e) = (call.event.store_id.as_str(), &call.event.event);
        let plugin = match &bi.plugin {
            Ok(plugin) => plugin.clone(),
            Err(why) => {
                let not_run = NotRun {
                    code: "unavailable",
                    why: why.clone(),
                };
                return Ok((Err(not_run), Duration::ZERO));
            }
        };
        let install_id = bi.install.install_id.clone();
        if call.suspect {
            if let Some(why) = handle.block_on(self.journal_start(store, &e.id, &install_id))? {
                let not_run = NotRun {
                    code: "abandoned",
                    why,
                };
                return Ok((Err(not_run), Duration::ZERO));
            }
        }
        let state = StateBuffer::new(bi.state.remove(&e.customer_id).unwrap_or_default());
        let input =
            CallInput::new(store, &install_id, &plugin.id, Some(&e.id), services).with_state(state);
        let args = CallArgs {
            plugin: &plugin,
            config: &bi.config,
            loaded: &bi.loaded,
            customer: call.customer,
            event: e,
            order_total: call.order_total,
            surveys: call.surveys,
            store,
        };
        let started = std::time::Instant::now();
        let result = worlds::decide(bi.world, &self.runtime, args, input);
        let elapsed = started.elapsed();
        if call.suspect {
            handle.block_on(self.journal_finish(store, &e.id, &install_id))?;
        }
        Ok((Ok(result), elapsed))
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
                trip = Some(format!(
                    "disabled after {} consecutive failures",
                    bi.consecutive
                ));
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
        let mut conn = self.db.pool.acquire().await?;
        attempts::finished(&mut conn, store, event, install, now_ms()).await?;
        Ok(())
    }
}

/// What one install did with (or why it did not run on) one event.
struct Ran {
    event: usize,
    install: usize,
    result: Result<CallResult, NotRun>,
    /// Time the call took (failed calls too).
    elapsed: Duration,
}

/// Why an install did not decide on an event.
struct NotRun {
    code: &'static str,
    why: String,
}
