//! Rescue-flow timers: durable rows (`flows.due_at`) run by the worker
//! that holds the store, before its next batch, so they survive restarts
//! and never run beside an event of the same customer.

use std::sync::Arc;

use super::dispatcher::Dispatcher;
use super::effects::Subject;
use super::registry::{self, plugin_id};
use super::rescue;
use super::PipelineResult;
use crate::db::churn::{self, Flow};
use crate::db::customers;
use crate::db::installs::{self, Install};
use crate::domain::customer::Customer;
use crate::domain::rescue::{FlowAction, FlowEvent};
use crate::domain::time::{now_ms, Millis};
use crate::runtime::services::HostServices;
use crate::runtime::{rescue as wit, CallInput, CallOutput};

/// Most timers of a store run before one batch.
const TIMERS_PER_ROUND: u32 = 200;
/// When a step's call fails, it is tried again this much later.
const RETRY_MS: i64 = 60_000;
/// A step that failed this many times ends the flow `expired`.
const MAX_STEP_FAILURES: usize = 5;

impl Dispatcher {
    /// Runs the store's flow steps that are due; returns how many ran.
    pub(super) async fn run_due_timers(
        &self,
        store: &str,
        services: &Arc<dyn HostServices>,
    ) -> PipelineResult<usize> {
        let now = now_ms();
        let due = {
            let mut conn = self.db.pool.acquire().await?;
            churn::due(&mut conn, store, now, TIMERS_PER_ROUND).await?
        };
        for flow in due.iter().cloned() {
            self.run_step(flow, services, now).await?;
        }
        Ok(due.len())
    }

    /// Runs one flow's due step and saves the flow: its actions applied,
    /// or its failure noted (and the flow ended after too many). A flow
    /// whose install was removed or disabled cannot go on: it ends.
    async fn run_step(
        &self,
        mut flow: Flow,
        services: &Arc<dyn HostServices>,
        now: Millis,
    ) -> PipelineResult<()> {
        let mut conn = self.db.pool.acquire().await?;
        let install =
            installs::get(&mut conn, &flow.store_id, &flow.install_id).await?.filter(|i| i.enabled);
        let customer =
            customers::get(&mut conn, &flow.store_id, &flow.customer_id).await?.unwrap_or_default();
        drop(conn);
        let (store, install_id, customer_id) =
            (flow.store_id.clone(), flow.install_id.clone(), flow.customer_id.clone());
        let t = Subject {
            store: &store,
            install_id: Some(&install_id),
            customer: &customer_id,
            event_id: None,
            now,
        };
        let result = match &install {
            Some(install) => Some(self.call_step(&flow, install, &customer, services, now).await),
            None => None,
        };
        let mut tx = self.db.begin_store(&store).await?;
        self.cluster.confirm_store(&mut tx, &store).await?;
        match result {
            None => {
                rescue::apply_step_actions(&mut tx, &t, &mut flow, &[], true).await?;
            }
            Some(Ok(out)) => {
                let effects =
                    rescue::apply_step_actions(&mut tx, &t, &mut flow, &out.value, true).await?;
                tracing::info!(store = %flow.store_id, flow = %flow.id, customer = %flow.customer_id,
                    install = %install_id, step = flow.step, state = %flow.state,
                    effects = effects.len(), "flow step ran");
            }
            Some(Err(error)) => {
                let failures = flow
                    .history
                    .iter()
                    .filter(|n| matches!(n.what, FlowEvent::StepFailed { .. }))
                    .count();
                tracing::warn!(store = %flow.store_id, flow = %flow.id, install = %install_id,
                    %error, "flow step failed; retrying in a minute");
                let step = flow.step;
                rescue::note(&mut flow, now, FlowEvent::StepFailed { step, error });
                flow.due_at = Some(now + RETRY_MS);
                flow.updated_at = now;
                if failures + 1 >= MAX_STEP_FAILURES {
                    rescue::apply_step_actions(&mut tx, &t, &mut flow, &[], true).await?;
                }
            }
        }
        churn::save_flow(&mut tx, &flow).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The install's `on-timer` call for the flow's step.
    async fn call_step(
        &self,
        flow: &Flow,
        install: &Install,
        customer: &Customer,
        services: &Arc<dyn HostServices>,
        now: Millis,
    ) -> Result<CallOutput<Vec<FlowAction>>, String> {
        let pid = plugin_id(&install.plugin, &install.version);
        let plugin = registry::load(&self.db, &self.runtime, &install.plugin, &install.version)
            .await
            .map_err(|e| format!("plugin could not be loaded: {e}"))?;
        let input = CallInput::new(&flow.store_id, &install.install_id, &pid, None, services)
            .with_pii(registry::sees_pii(install, &plugin));
        let state = wit::FlowState {
            flow_id: flow.id.clone(),
            step: flow.step as u32,
            started_at: flow.started_at,
            now,
        };
        let config = install.config.to_string();
        tokio::task::block_in_place(|| {
            self.runtime.on_timer(&plugin, input, &config, customer, &state)
        })
        .map_err(|e| e.to_string())
    }
}
