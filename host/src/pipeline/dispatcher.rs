//! The dispatcher: takes pending events in arrival order (at most one per
//! customer per batch), runs every enabled install the event concerns in
//! a fresh sandbox, and commits each install's effects together with its
//! done-mark and the event's state in one transaction per batch. A crash
//! anywhere replays only what was not committed, and the done-mark
//! (unique per event and install) makes a replay a no-op.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::effects::{self, Target};
use super::registry::plugin_id;
use super::services::DbServices;
use super::{Pipeline, PipelineResult};
use crate::db::events::StoredEvent;
use crate::db::installs::Install;
use crate::db::outcomes::Outcome;
use crate::db::{customers, events, installs, ledger, outcomes, state, Tx};
use crate::domain::event::EventKind;
use crate::domain::time::now_ms;
use crate::domain::{Capability, World};
use crate::runtime::{CallInput, Scope, StateBuffer};

impl Pipeline {
    pub(super) async fn run_dispatcher(self) {
        let services: Arc<dyn crate::runtime::services::HostServices> = Arc::new(DbServices {
            db: self.db.clone(),
            handle: tokio::runtime::Handle::current(),
        });
        loop {
            match self.dispatch_batch(&services).await {
                Ok(0) => {
                    // Nothing pending: sleep until intake wakes us (or a
                    // moment passes, in case another node added work).
                    let _ = tokio::time::timeout(Duration::from_millis(500), self.wake.notified())
                        .await;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "dispatcher batch failed; retrying in 1 s");
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
    pub async fn dispatch_batch(
        &self,
        services: &Arc<dyn crate::runtime::services::HostServices>,
    ) -> PipelineResult<usize> {
        let batch = {
            let mut conn = self.db.pool.acquire().await?;
            events::next_batch(&mut conn, self.config.batch_size).await?
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let mut tx = self.db.begin_write().await?;
        let mut store_installs: HashMap<String, Vec<Install>> = HashMap::new();
        let mut calls = Vec::new();
        for ev in &batch {
            if !store_installs.contains_key(&ev.store_id) {
                let list = installs::enabled(&mut tx, &ev.store_id).await?;
                store_installs.insert(ev.store_id.clone(), list);
            }
            let list = store_installs
                .get_mut(&ev.store_id)
                .expect("inserted above");
            self.process_event(&mut tx, ev, list, services, &mut calls)
                .await?;
        }
        tx.commit().await?;
        for (install, plugin, ok, us) in calls {
            self.metrics.record_call(&install, &plugin, ok, us);
        }
        self.metrics
            .events_processed
            .fetch_add(batch.len() as u64, std::sync::atomic::Ordering::Relaxed);
        self.processed.send_modify(|n| *n += 1);
        Ok(batch.len())
    }

    async fn process_event(
        &self,
        tx: &mut Tx,
        ev: &StoredEvent,
        installs_of_store: &mut [Install],
        services: &Arc<dyn crate::runtime::services::HostServices>,
        calls: &mut Vec<(String, String, bool, u32)>,
    ) -> PipelineResult<()> {
        let store = ev.store_id.as_str();
        let e = &ev.event;
        let now = now_ms();
        customers::ensure(&mut *tx, store, &e.customer_id, now).await?;
        let order_total = match &e.kind {
            EventKind::OrderPlaced {
                order_id,
                total_cents,
                currency,
                ..
            } => {
                customers::record_order(
                    &mut *tx,
                    store,
                    &e.customer_id,
                    order_id,
                    *total_cents,
                    currency,
                    e.occurred_at,
                )
                .await?;
                None
            }
            EventKind::OrderRefunded {
                order_id,
                refund_cents,
            } => {
                customers::record_refund(&mut *tx, store, &e.customer_id, order_id, *refund_cents)
                    .await?
            }
            _ => None,
        };
        ledger::expire_customer(&mut *tx, store, &e.customer_id, now).await?;

        for install in installs_of_store.iter_mut() {
            if !install.enabled || World::parse(&install.world) != Some(World::PointRules) {
                continue;
            }
            if outcomes::exists(&mut *tx, store, &e.id, &install.install_id).await? {
                continue; // already handled before a crash or restart
            }
            let pid = plugin_id(&install.plugin, &install.version);
            let customer = customers::get(&mut *tx, store, &e.customer_id)
                .await?
                .unwrap_or_default();
            let outcome = match self.plugin(&install.plugin, &install.version).await {
                Err(err) => Outcome {
                    install_id: install.install_id.clone(),
                    plugin: pid.clone(),
                    status: "failed".into(),
                    error_code: Some("unavailable".into()),
                    error: Some(format!("plugin could not be loaded: {err}")),
                    effects: json!([]),
                    elapsed_us: 0,
                },
                Ok(plugin) => {
                    let base = if plugin.capabilities.contains(&Capability::State) {
                        state::load(&mut *tx, &install.install_id, &e.customer_id).await?
                    } else {
                        Default::default()
                    };
                    let input = CallInput {
                        scope: Scope {
                            store_id: store.to_string(),
                            install_id: install.install_id.clone(),
                            plugin: pid.clone(),
                            event_id: Some(e.id.clone()),
                            customer_id: Some(e.customer_id.clone()),
                        },
                        state: StateBuffer::new(base),
                        services: services.clone(),
                    };
                    let config = install.config.to_string();
                    let result = tokio::task::block_in_place(|| {
                        self.runtime
                            .on_event(&plugin, input, &config, &customer, e, order_total)
                    });
                    match result {
                        Ok(out) => {
                            let target = Target {
                                store,
                                customer: &e.customer_id,
                                event_id: &e.id,
                                install_id: &install.install_id,
                                now,
                            };
                            let mut fx = effects::apply_ops(&mut *tx, &target, &out.value).await?;
                            fx.extend(
                                effects::queue_messages(&mut *tx, &target, out.outbox).await?,
                            );
                            state::apply(
                                &mut *tx,
                                &install.install_id,
                                &e.customer_id,
                                &out.state.writes,
                            )
                            .await?;
                            Outcome {
                                install_id: install.install_id.clone(),
                                plugin: pid.clone(),
                                status: "ok".into(),
                                error_code: None,
                                error: None,
                                effects: Value::Array(fx),
                                elapsed_us: out.elapsed.as_micros() as i64,
                            }
                        }
                        Err(err) => {
                            tracing::warn!(store, install = %install.install_id, plugin = %pid,
                                event = %e.id, code = err.code(), error = %err, "plugin call failed");
                            Outcome {
                                install_id: install.install_id.clone(),
                                plugin: pid.clone(),
                                status: "failed".into(),
                                error_code: Some(err.code().into()),
                                error: Some(err.to_string()),
                                effects: json!([]),
                                elapsed_us: 0,
                            }
                        }
                    }
                }
            };
            let ok = outcome.status == "ok";
            outcomes::insert(&mut *tx, store, &e.id, &outcome, now).await?;
            if installs::count_call(
                &mut *tx,
                &install.install_id,
                !ok,
                self.config.trip_after,
                now,
            )
            .await?
            {
                install.enabled = false;
                tracing::error!(store, install = %install.install_id, plugin = %pid,
                    "install disabled after {} consecutive failures; fix or swap the plugin, then PATCH {{\"enabled\": true}}",
                    self.config.trip_after);
            }
            calls.push((
                install.install_id.clone(),
                pid,
                ok,
                outcome.elapsed_us as u32,
            ));
        }
        events::mark_processed(&mut *tx, ev.seq, now).await?;
        Ok(())
    }
}
