//! The dispatcher: takes one store's pending events in arrival order (at
//! most one per customer per batch; a worker holds the store meanwhile,
//! see `lanes`), runs every enabled install the event concerns in a fresh
//! sandbox, and commits the batch's effects, outcomes (the
//! per-(event, install) done-marks) and processed marks in one
//! transaction. A crash anywhere replays only the batches whose effects
//! were not committed; the outcome's key (event, install) guarantees no
//! pair is applied twice.
//!
//! A batch runs in phases so that the database sees few, large statements
//! and the write lock is not held while plugins run:
//! 1. host facts (customers, orders, refunds, due expiry), committed — each
//!    is idempotent, so a replay of the batch records nothing twice;
//! 2. inputs (customers with those facts, installs, plugin state), read;
//! 3. plugin calls;
//! 4. effects, outcomes and processed marks, committed together.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::effects::{BatchWriter, Target};
use super::registry::plugin_id;
use super::rescue::{self, FlowTarget};
use super::segments::{is_segment_event, Classified, SegmentWriter};
use super::{Pipeline, PipelineResult};
use crate::db::churn::{self, Flow};
use crate::db::installs::Install;
use crate::db::outcomes::Outcome;
use crate::db::segments::Memberships;
use crate::db::{attempts, customers, events, installs, ledger, models, segments, state, surveys};
use crate::domain::customer::Customer;
use crate::domain::event::{Event, EventKind};
use crate::domain::ledger::LedgerOp;
use crate::domain::rescue::{Assessment, FlowAction};
use crate::domain::segment::Membership;
use crate::domain::survey::Survey;
use crate::domain::time::{now_ms, Millis};
use crate::domain::{Capability, World};
use crate::metrics::CallRecord;
use crate::runtime::services::HostServices;
use crate::runtime::{scoring, CallInput, CallOutput, Plugin, RuntimeError, Scope, StateBuffer};

/// An install as one batch sees it.
struct BatchInstall {
    install: Install,
    world: World,
    /// The install's config, serialized once for every call of the batch.
    config: String,
    plugin: Result<Arc<Plugin>, String>,
    /// Plugin state per customer of the batch (if it has the capability).
    state: HashMap<String, HashMap<String, Vec<u8>>>,
    /// The latest fitted model (segmenter, churn-rescue).
    model: Vec<u8>,
    /// Current memberships of the batch's customers (segmenter).
    memberships: HashMap<String, Memberships>,
    /// Latest flow of the batch's customers (churn-rescue).
    flows: HashMap<String, Flow>,
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
            model: Vec::new(),
            memberships: HashMap::new(),
            flows: HashMap::new(),
            calls: 0,
            failures: 0,
            tripped: Some((why, at)),
            install,
        }
    }
}

/// What one install decided about one event.
enum Decision {
    Ledger(Vec<LedgerOp>),
    Segments(Vec<Membership>),
    Churn {
        assessment: Assessment,
        /// The customer's active flow ends `rescued` (an order arrived).
        rescue: bool,
        /// `plan`'s actions, when it ran (no active flow was left).
        plan: Option<Vec<FlowAction>>,
    },
    Score(serde_json::Value),
}

type CallResult = Result<CallOutput<Decision>, RuntimeError>;

impl Pipeline {
    /// Processes one batch of the store's events; returns how many events
    /// it processed.
    pub async fn dispatch_batch(
        &self,
        store: &str,
        services: &Arc<dyn HostServices>,
    ) -> PipelineResult<usize> {
        let batch = {
            let mut conn = self.db.pool.acquire().await?;
            events::next_batch(&mut conn, store, self.config.batch_size).await?
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;

        // Host facts: customers exist, orders and refunds counted, due
        // points expired — all before any plugin sees the customer.
        let mut by_store: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for ev in &batch {
            by_store
                .entry(&ev.store_id)
                .or_default()
                .push(&ev.event.customer_id);
        }
        let mut order_totals = vec![None; batch.len()];
        for (store, ids) in &by_store {
            customers::ensure_many(&mut tx, store, ids, now).await?;
        }
        let mut orders: BTreeMap<&str, Vec<customers::NewOrder>> = BTreeMap::new();
        for (i, ev) in batch.iter().enumerate() {
            let (store, e) = (ev.store_id.as_str(), &ev.event);
            match &e.kind {
                EventKind::OrderPlaced {
                    order_id,
                    total_cents,
                    currency,
                    ..
                } => {
                    orders.entry(store).or_default().push(customers::NewOrder {
                        customer: &e.customer_id,
                        order_id,
                        total_cents: *total_cents,
                        currency,
                        placed_at: e.occurred_at,
                    });
                }
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
        for (store, list) in &orders {
            customers::record_orders(&mut tx, store, list).await?;
        }
        for (store, ids) in &by_store {
            for customer in ledger::due_among(&mut tx, store, ids, now).await? {
                ledger::expire_customer(&mut tx, store, &customer, now).await?;
            }
        }
        // A batch left open by the last attempt makes its events suspect;
        // this one leaves its own mark before any plugin runs, removed when
        // it commits.
        let seqs: Vec<i64> = batch.iter().map(|ev| ev.seq).collect();
        let open_to = events::open_batch(&mut tx, store).await?;
        events::begin_batch(&mut tx, store, seqs.iter().copied().max().unwrap_or(0)).await?;
        // The facts are idempotent (orders by id, refunds by event), so
        // they commit now: the write lock is free while plugins run.
        tx.commit().await?;

        // Inputs: the customers as they are now, the installs, their state.
        let mut conn = self.db.pool.acquire().await?;
        let mut customers_of: HashMap<&str, HashMap<String, Customer>> = HashMap::new();
        let mut installs_of: HashMap<&str, Vec<BatchInstall>> = HashMap::new();
        for (store, ids) in &by_store {
            customers_of.insert(store, customers::get_many(&mut conn, store, ids).await?);
            let mut list = Vec::new();
            for install in installs::for_events(&mut conn, store).await? {
                let Some(world) = World::parse(&install.world) else {
                    continue;
                };
                if !install.enabled {
                    // Disabled by a breaker: nothing to load, it only
                    // answers for the events that were queued before.
                    list.push(BatchInstall::tripped(install, world));
                    continue;
                }
                let plugin = self
                    .plugin(&install.plugin, &install.version)
                    .await
                    .map_err(|e| format!("plugin could not be loaded: {e}"));
                let state = match &plugin {
                    Ok(p) if p.capabilities.contains(&Capability::State) => {
                        state::load_many(&mut conn, &install.install_id, ids).await?
                    }
                    _ => HashMap::new(),
                };
                let model = match world {
                    World::Segmenter | World::ChurnRescue => {
                        models::bytes(&mut conn, &install.install_id).await?
                    }
                    _ => Vec::new(),
                };
                let memberships = match world {
                    World::Segmenter => {
                        segments::of_customers(&mut conn, &install.install_id, ids).await?
                    }
                    _ => HashMap::new(),
                };
                let flows = match world {
                    World::ChurnRescue => churn::latest_of(&mut conn, store, ids).await?,
                    _ => HashMap::new(),
                };
                list.push(BatchInstall {
                    consecutive: install.consecutive_failures,
                    config: install.config.to_string(),
                    world,
                    install,
                    plugin,
                    state,
                    model,
                    memberships,
                    flows,
                    calls: 0,
                    failures: 0,
                    tripped: None,
                });
            }
            installs_of.insert(store, list);
        }
        let mut surveys_of: HashMap<(String, String), Survey> = HashMap::new();
        for ev in &batch {
            if let EventKind::SurveySubmitted { survey_id, .. } = &ev.event.kind {
                let key = (ev.store_id.clone(), survey_id.clone());
                if let std::collections::hash_map::Entry::Vacant(slot) = surveys_of.entry(key) {
                    if let Some(s) = surveys::get(&mut conn, &ev.store_id, survey_id).await? {
                        slot.insert(s);
                    }
                }
            }
        }
        drop(conn);

        // Plugin calls, in arrival order, on this thread (the calls block
        // it; the journal of suspect events waits on the database from it).
        let handle = tokio::runtime::Handle::current();
        let results = tokio::task::block_in_place(|| -> PipelineResult<Vec<Ran>> {
            let mut results: Vec<Ran> = Vec::new();
            for (i, ev) in batch.iter().enumerate() {
                let (store, e) = (ev.store_id.as_str(), &ev.event);
                let customer = customers_of[store]
                    .get(&e.customer_id)
                    .cloned()
                    .unwrap_or_default();
                // A batch with this event began before and never committed:
                // its calls are journalled, and one that never finishes is
                // given up on instead of stopping the store at every start.
                let suspect = open_to.is_some_and(|to| ev.seq <= to);
                for (k, bi) in installs_of.get_mut(store).into_iter().flatten().enumerate() {
                    if !concerns(bi.world, e, store, &surveys_of) {
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
                        order_total: order_totals[i],
                        surveys: &surveys_of,
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
        })?;
        // Effects, outcomes, marks: one transaction.
        let mut tx = self.db.begin_write().await?;
        let mut writer = BatchWriter::new(now);
        let mut seg_writer = SegmentWriter::new(now);
        let mut assessments: BTreeMap<&str, Vec<churn::Assessment>> = BTreeMap::new();
        let mut scored = vec![None; batch.len()];
        let mut latencies = Vec::with_capacity(results.len());
        for Ran {
            event: i,
            install: k,
            result,
            elapsed,
        } in results
        {
            let ev = &batch[i];
            let (store, e) = (ev.store_id.as_str(), &ev.event);
            let bi = &installs_of[store][k];
            let pid = plugin_id(&bi.install.plugin, &bi.install.version);
            let target = Target {
                store,
                customer: &e.customer_id,
                event_id: &e.id,
                install_id: &bi.install.install_id,
            };
            let outcome = match result {
                Ok(Ok(out)) => {
                    let mut fx = match &out.value {
                        Decision::Ledger(ops) => writer.ops(&mut tx, &target, ops).await?,
                        Decision::Segments(list) => {
                            let c = Classified {
                                store,
                                install_id: &bi.install.install_id,
                                plugin: &pid,
                                customer: &e.customer_id,
                                as_of: e.occurred_at,
                                cause: &e.id,
                            };
                            seg_writer.apply(&c, bi.memberships.get(&e.customer_id), list)
                        }
                        Decision::Churn {
                            assessment,
                            rescue,
                            plan,
                        } => {
                            assessments
                                .entry(store)
                                .or_default()
                                .push(churn::Assessment {
                                    install_id: bi.install.install_id.clone(),
                                    customer_id: e.customer_id.clone(),
                                    p_alive: assessment.p_alive,
                                    risk: assessment.risk,
                                    value_cents: assessment.value_cents,
                                    details: assessment.details.clone(),
                                    as_of: e.occurred_at,
                                    assessed_at: now,
                                });
                            let t = FlowTarget {
                                store,
                                install_id: &bi.install.install_id,
                                customer: &e.customer_id,
                                event_id: Some(&e.id),
                                now,
                            };
                            let mut fx = vec![json!({"op": "assessed",
                                "p_alive": assessment.p_alive, "risk": assessment.risk})];
                            let latest = bi.flows.get(&e.customer_id).cloned();
                            if let (true, Some(mut flow)) = (*rescue, latest.clone()) {
                                fx.push(rescue::rescue_on_order(&mut tx, &t, &mut flow).await?);
                            }
                            if let Some(actions) = plan {
                                let ended = latest.filter(|f| f.state != "active");
                                fx.extend(
                                    rescue::apply_plan(
                                        &mut tx,
                                        &t,
                                        assessment,
                                        ended.as_ref(),
                                        actions,
                                    )
                                    .await?,
                                );
                            }
                            fx
                        }
                        Decision::Score(score) => {
                            scored[i] = Some((bi.install.install_id.clone(), score.to_string()));
                            vec![json!({"op": "survey_scored", "score": score})]
                        }
                    };
                    fx.extend(writer.messages(&mut tx, &target, out.outbox).await?);
                    writer.state(&target, out.state.writes);
                    Outcome {
                        install_id: bi.install.install_id.clone(),
                        plugin: pid.clone(),
                        status: "ok".into(),
                        error_code: None,
                        error: None,
                        effects: Value::Array(fx),
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
                latencies.push((
                    bi.install.clone(),
                    outcome.error_code.clone().unwrap_or_else(|| "ok".into()),
                    outcome.elapsed_us as u32,
                ));
            }
            writer.outcome(store, &e.id, outcome);
        }
        writer.finish(&mut tx).await?;
        let emitted = seg_writer.finish(&mut tx).await?;
        for (store, list) in &assessments {
            churn::save_assessments(&mut tx, store, list).await?;
        }
        for (i, ev) in batch.iter().enumerate() {
            if let EventKind::SurveySubmitted { survey_id, answers } = &ev.event.kind {
                let e = &ev.event;
                surveys::save_response(
                    &mut tx,
                    &ev.store_id,
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
        for list in installs_of.values() {
            for bi in list.iter().filter(|bi| bi.calls > 0) {
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
        }
        events::mark_processed_many(&mut tx, &seqs, now).await?;
        events::end_batch(&mut tx, store).await?;
        if let Some(to) = open_to {
            // The suspect events are done: their journal is no longer needed.
            let done: Vec<&str> = batch
                .iter()
                .filter(|ev| ev.seq <= to)
                .map(|ev| ev.event.id.as_str())
                .collect();
            attempts::forget(&mut tx, store, &done).await?;
        }
        tx.commit().await?;

        for (install, code, elapsed_us) in &latencies {
            self.metrics.record_call(&CallRecord {
                store,
                install: &install.install_id,
                plugin: &install.plugin,
                version: &install.version,
                code,
                elapsed_us: *elapsed_us,
            });
        }
        self.metrics.events_processed.increment(batch.len() as u64);
        self.processed.send_modify(|n| *n += batch.len() as u64);
        if emitted > 0 {
            self.mark_store(store);
        }
        self.wake_outbox();
        Ok(batch.len())
    }

    /// Runs the calls an install makes for an event that concerns it.
    fn decide(&self, a: CallArgs<'_>, input: CallInput) -> CallResult {
        let (rt, p, cfg, e) = (&self.runtime, a.plugin, a.bi.config.as_str(), a.event);
        match a.bi.world {
            World::PointRules => rt
                .on_event(p, input, cfg, a.customer, e, a.order_total)
                .map(|o| o.map(Decision::Ledger)),
            World::Segmenter => rt
                .classify(p, input, cfg, &a.bi.model, a.customer, e.occurred_at)
                .map(|o| o.map(Decision::Segments)),
            World::ChurnRescue => (|| {
                let (scope, services) = (input.scope.clone(), input.services.clone());
                let assessed = rt.assess(p, input, cfg, &a.bi.model, a.customer, e.occurred_at)?;
                let active =
                    a.bi.flows
                        .get(&e.customer_id)
                        .is_some_and(|f| f.state == "active");
                let rescue = active && matches!(e.kind, EventKind::OrderPlaced { .. });
                if active && !rescue {
                    return Ok(assessed.map(|assessment| Decision::Churn {
                        assessment,
                        rescue,
                        plan: None,
                    }));
                }
                let CallOutput {
                    value: assessment,
                    state,
                    mut outbox,
                    elapsed,
                    memory_peak_bytes,
                } = assessed;
                // `plan` sees the state `assess` left, in the same scope.
                let next = CallInput {
                    scope,
                    state,
                    services,
                };
                let planned = rt.plan(p, next, cfg, &assessment, a.customer)?;
                outbox.extend(planned.outbox);
                Ok(CallOutput {
                    value: Decision::Churn {
                        assessment,
                        rescue,
                        plan: Some(planned.value),
                    },
                    state: planned.state,
                    outbox,
                    elapsed: elapsed + planned.elapsed,
                    memory_peak_bytes: memory_peak_bytes.max(planned.memory_peak_bytes),
                })
            })(),
            World::SurveyScorer => {
                // `concerns` let only responses to a known survey through.
                let EventKind::SurveySubmitted { survey_id, answers } = &e.kind else {
                    unreachable!("a survey-scorer runs on survey.submitted only");
                };
                let survey = &a.surveys[&(a.store.to_string(), survey_id.clone())];
                let wit_survey = scoring::Survey {
                    id: survey.id.clone(),
                    kind: survey.kind.clone(),
                    questions: survey.questions.clone(),
                };
                let response = scoring::Response {
                    customer_id: e.customer_id.clone(),
                    submitted_at: e.occurred_at,
                    answers: answers.to_string(),
                };
                rt.score(p, input, cfg, &wit_survey, &response)
                    .and_then(|o| {
                        let parsed: Result<serde_json::Value, _> = serde_json::from_str(&o.value);
                        match parsed {
                            Ok(v) if v.is_object() => Ok(o.map(|_| Decision::Score(v))),
                            _ => Err(RuntimeError::InvalidOutput(
                                "a score must be a JSON object".into(),
                            )),
                        }
                    })
            }
        }
    }
}

/// One event as one install's call meets it.
struct Call<'a> {
    event: &'a events::StoredEvent,
    customer: &'a Customer,
    order_total: Option<i64>,
    surveys: &'a HashMap<(String, String), Survey>,
    /// A batch with the event began before and never committed.
    suspect: bool,
}

/// What `decide` needs to know about one call.
struct CallArgs<'a> {
    plugin: &'a Plugin,
    bi: &'a BatchInstall,
    customer: &'a Customer,
    event: &'a Event,
    order_total: Option<i64>,
    surveys: &'a HashMap<(String, String), Survey>,
    store: &'a str,
}

/// Whether an install of `world` runs on this event: point rules on every
/// event; segmenters and churn models on every event of the customer but
/// the host's own segment changes; survey scorers on responses to a known
/// survey.
fn concerns(
    world: World,
    e: &Event,
    store: &str,
    surveys: &HashMap<(String, String), Survey>,
) -> bool {
    match world {
        World::PointRules => true,
        World::Segmenter | World::ChurnRescue => !is_segment_event(&e.event_type),
        World::SurveyScorer => matches!(&e.kind, EventKind::SurveySubmitted { survey_id, .. }
            if surveys.contains_key(&(store.to_string(), survey_id.clone()))),
    }
}

fn failed(bi: &BatchInstall, pid: &str, code: &str, error: String, elapsed: Duration) -> Outcome {
    Outcome {
        install_id: bi.install.install_id.clone(),
        plugin: pid.to_string(),
        status: "failed".into(),
        error_code: Some(code.to_string()),
        error: Some(error),
        effects: json!([]),
        elapsed_us: elapsed.as_micros() as i64,
    }
}

/// Starts of a call of a suspect event that may not finish before it is
/// given up on: with the batch that first took the event, three attempts.
const MAX_UNFINISHED_STARTS: i64 = 2;

impl Pipeline {
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
        let input = CallInput {
            scope: Scope {
                store_id: store.to_string(),
                install_id: install_id.clone(),
                plugin: plugin.id.clone(),
                event_id: Some(e.id.clone()),
            },
            state: StateBuffer::new(bi.state.remove(&e.customer_id).unwrap_or_default()),
            services: services.clone(),
        };
        let args = CallArgs {
            plugin: &plugin,
            bi,
            customer: call.customer,
            event: e,
            order_total: call.order_total,
            surveys: call.surveys,
            store,
        };
        let started = std::time::Instant::now();
        let result = self.decide(args, input);
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
            if bi.consecutive >= self.config.trip_after {
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
