//! The dispatcher: takes pending events in arrival order (at most one per
//! customer per batch), runs every enabled install the event concerns in
//! a fresh sandbox, and commits the batch's effects, outcomes (the
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
use super::services::DbServices;
use super::{Pipeline, PipelineResult};
use crate::db::installs::Install;
use crate::db::outcomes::Outcome;
use crate::db::{customers, events, installs, ledger, state};
use crate::domain::customer::Customer;
use crate::domain::event::EventKind;
use crate::domain::time::now_ms;
use crate::domain::{Capability, World};
use crate::runtime::services::HostServices;
use crate::runtime::{CallInput, CallOutput, Plugin, RuntimeError, Scope, StateBuffer};

/// An install as one batch sees it.
struct BatchInstall {
    install: Install,
    /// The install's config, serialized once for every call of the batch.
    config: String,
    plugin: Result<Arc<Plugin>, String>,
    /// Plugin state per customer of the batch (if it has the capability).
    state: HashMap<String, HashMap<String, Vec<u8>>>,
    calls: i64,
    failures: i64,
    consecutive: i64,
    tripped: Option<String>,
}

type CallResult = Result<CallOutput<Vec<crate::domain::ledger::LedgerOp>>, RuntimeError>;

impl Pipeline {
    pub(super) async fn run_dispatcher(self) {
        let services: Arc<dyn HostServices> = Arc::new(DbServices {
            db: self.db.clone(),
            handle: tokio::runtime::Handle::current(),
        });
        loop {
            match self.dispatch_batch(&services).await {
                Ok(0) => {
                    // Nothing pending: sleep until intake wakes us (or a
                    // moment passes, in case another process added work).
                    let _ = tokio::time::timeout(Duration::from_millis(500), self.wake.notified())
                        .await;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "dispatcher batch failed and was rolled back; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Wakes the dispatcher (after intake committed events).
    pub fn wake_dispatcher(&self) {
        self.wake.notify_one();
    }

    /// A receiver that changes after every committed batch.
    pub fn processed_updates(&self) -> tokio::sync::watch::Receiver<u64> {
        self.processed.subscribe()
    }

    /// Processes one batch; returns how many events it processed.
    pub async fn dispatch_batch(&self, services: &Arc<dyn HostServices>) -> PipelineResult<usize> {
        let batch = {
            let mut conn = self.db.pool.acquire().await?;
            events::next_batch(&mut conn, self.config.batch_size).await?
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
            for install in installs::enabled(&mut conn, store).await? {
                if World::parse(&install.world) != Some(World::PointRules) {
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
                list.push(BatchInstall {
                    consecutive: install.consecutive_failures,
                    config: install.config.to_string(),
                    install,
                    plugin,
                    state,
                    calls: 0,
                    failures: 0,
                    tripped: None,
                });
            }
            installs_of.insert(store, list);
        }
        drop(conn);

        // Plugin calls, in arrival order, on this thread.
        let mut results: Vec<(usize, usize, Result<CallResult, String>)> = Vec::new();
        tokio::task::block_in_place(|| {
            for (i, ev) in batch.iter().enumerate() {
                let (store, e) = (ev.store_id.as_str(), &ev.event);
                let customer = customers_of[store]
                    .get(&e.customer_id)
                    .cloned()
                    .unwrap_or_default();
                for (k, bi) in installs_of.get_mut(store).into_iter().flatten().enumerate() {
                    if bi.tripped.is_some() {
                        continue;
                    }
                    let result = match &bi.plugin {
                        Err(why) => Err(why.clone()),
                        Ok(plugin) => {
                            let input = CallInput {
                                scope: Scope {
                                    store_id: store.to_string(),
                                    install_id: bi.install.install_id.clone(),
                                    plugin: plugin.id.clone(),
                                    event_id: Some(e.id.clone()),
                                },
                                state: StateBuffer::new(
                                    bi.state.remove(&e.customer_id).unwrap_or_default(),
                                ),
                                services: services.clone(),
                            };
                            Ok(self.runtime.on_event(
                                plugin,
                                input,
                                &bi.config,
                                &customer,
                                e,
                                order_totals[i],
                            ))
                        }
                    };
                    let ok = matches!(result, Ok(Ok(_)));
                    bi.calls += 1;
                    if ok {
                        bi.consecutive = 0;
                    } else {
                        bi.failures += 1;
                        bi.consecutive += 1;
                        if bi.consecutive >= self.config.trip_after {
                            bi.tripped = Some(format!(
                                "disabled after {} consecutive failures; fix or swap the plugin, then PATCH {{\"enabled\": true}}",
                                bi.consecutive
                            ));
                        }
                    }
                    results.push((i, k, result));
                }
            }
        });
        // Effects, outcomes, marks: one transaction.
        let mut tx = self.db.begin_write().await?;
        let mut writer = BatchWriter::new(now);
        let mut latencies = Vec::with_capacity(results.len());
        for (i, k, result) in results {
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
                    let mut fx = writer.ops(&mut tx, &target, &out.value).await?;
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
                    failed(bi, &pid, err.code(), err.to_string())
                }
                Err(why) => failed(bi, &pid, "unavailable", why),
            };
            latencies.push((
                bi.install.install_id.clone(),
                pid,
                outcome.status == "ok",
                outcome.elapsed_us as u32,
            ));
            writer.outcome(store, &e.id, outcome);
        }
        writer.finish(&mut tx).await?;
        for list in installs_of.values() {
            for bi in list.iter().filter(|bi| bi.calls > 0) {
                installs::record_calls(
                    &mut tx,
                    &bi.install.install_id,
                    bi.calls,
                    bi.failures,
                    bi.consecutive,
                    bi.tripped.as_deref(),
                    now,
                )
                .await?;
                if let Some(why) = &bi.tripped {
                    tracing::error!(store = %bi.install.store_id, install = %bi.install.install_id,
                        plugin = %plugin_id(&bi.install.plugin, &bi.install.version), "install {why}");
                }
            }
        }
        let seqs: Vec<i64> = batch.iter().map(|ev| ev.seq).collect();
        events::mark_processed_many(&mut tx, &seqs, now).await?;
        tx.commit().await?;

        for (install, plugin, ok, us) in latencies {
            self.metrics.record_call(&install, &plugin, ok, us);
        }
        self.metrics
            .events_processed
            .fetch_add(batch.len() as u64, std::sync::atomic::Ordering::Relaxed);
        self.processed.send_modify(|n| *n += 1);
        Ok(batch.len())
    }
}

fn failed(bi: &BatchInstall, pid: &str, code: &str, error: String) -> Outcome {
    Outcome {
        install_id: bi.install.install_id.clone(),
        plugin: pid.to_string(),
        status: "failed".into(),
        error_code: Some(code.to_string()),
        error: Some(error),
        effects: json!([]),
        elapsed_us: 0,
    }
}
