//! Timers: rescue flows' steps (`flows.due_at`) and responders' timers
//! (`reaction_timers`), durable rows run by the worker that holds the
//! store, before its next batch, so they survive restarts, run once across
//! the cluster and never beside an event of the same customer.

use std::sync::Arc;

use super::dispatcher::Dispatcher;
use super::effects::Subject;
use super::reactions;
use super::registry::{self, plugin_id};
use super::rescue;
use super::PipelineResult;
use crate::db::churn::{self, Flow};
use crate::db::customers;
use crate::db::installs::{self, Install};
use crate::db::reaction_timers::{self, Timer};
use crate::domain::customer::Customer;
use crate::domain::reaction::Reaction;
use crate::domain::rescue::{FlowAction, FlowEvent};
use crate::domain::time::{now_ms, Millis};
use crate::runtime::services::HostServices;
use crate::runtime::{
    reactions as reactions_wit, rescue as wit, CallInput, CallOutput, StateBuffer,
};

/// Most timers of a store run before one batch.
const TIMERS_PER_ROUND: u32 = 200;
/// When a step's call fails, it is tried again this much later.
const RETRY_MS: i64 = 60_000;
/// A step that failed this many times ends the flow `expired`.
const MAX_STEP_FAILURES: usize = 5;

impl Dispatcher {
    /// Runs the store's flow steps and responder timers that are due;
    /// returns how many ran.
    pub(super) async fn run_due_timers(
        &self,
        store: &str,
        services: &Arc<dyn HostServices>,
    ) -> PipelineResult<usize> {
        let now = now_ms();
        let (due, timers) = {
            let mut conn = self.db.pool.acquire().await?;
            let flows = churn::due(&mut conn, store, now, TIMERS_PER_ROUND).await?;
            let timers = reaction_timers::due(&mut conn, store, now, TIMERS_PER_ROUND).await?;
            (flows, timers)
        };
        for flow in due.iter().cloned() {
            self.run_step(flow, services, now).await?;
        }
        for timer in &timers {
            self.run_reaction_timer(timer, services, now).await?;
        }
        Ok(due.len() + timers.len())
    }

    /// Runs one responder timer and applies what it decided, removing it
    /// in the same transaction (its call may set the key again). A failed
    /// call is tried again a minute later, up to `MAX_STEP_FAILURES`
    /// times; a timer whose install was removed or disabled is dropped.
    async fn run_reaction_timer(
        &self,
        timer: &Timer,
        services: &Arc<dyn HostServices>,
        now: Millis,
    ) -> PipelineResult<()> {
        let (store, install_id, customer_id) =
            (&timer.store_id, &timer.install_id, &timer.customer_id);
        let mut conn = self.db.pool.acquire().await?;
        let install = installs::get(&mut conn, store, install_id).await?.filter(|i| i.enabled);
        let customer = customers::get(&mut conn, store, customer_id).await?.unwrap_or_default();
        drop(conn);
        let result = match &install {
            Some(install) => Some(self.call_timer(timer, install, &customer, services, now).await),
            None => None,
        };
        let t = Subject {
            store,
            install_id: Some(install_id),
            customer: customer_id,
            event_id: None,
            now,
        };
        let mut tx = self.db.begin_store(store).await?;
        self.cluster.confirm_store(&mut tx, store).await?;
        match result {
            None => {
                reaction_timers::cancel(&mut tx, install_id, customer_id, &timer.key).await?;
                tracing::info!(store = %store, install = %install_id, customer = %customer_id,
                    key = %timer.key, "timer dropped: its install is gone or disabled");
            }
            Some(Ok(out)) => {
                reaction_timers::cancel(&mut tx, install_id, customer_id, &timer.key).await?;
                let effects = reactions::apply(&mut tx, &t, &out.value).await?;
                let writes: Vec<_> = (out.state.writes.into_iter())
                    .map(|(k, v)| (install_id.clone(), customer_id.clone(), k, v))
                    .collect();
                crate::db::state::apply_many(&mut tx, &writes).await?;
                tracing::info!(store = %store, install = %install_id, customer = %customer_id,
                    key = %timer.key, effects = effects.len(), "timer ran");
            }
            Some(Err(error)) if timer.failures + 1 >= MAX_STEP_FAILURES as i64 => {
                reaction_timers::cancel(&mut tx, install_id, customer_id, &timer.key).await?;
                tracing::error!(store = %store, install = %install_id, customer = %customer_id,
                    key = %timer.key, %error, failures = timer.failures + 1,
                    "timer failed too often; dropped");
            }
            Some(Err(error)) => {
                reaction_timers::failed(&mut tx, timer, now + RETRY_MS, &error).await?;
                tracing::warn!(store = %store, install = %install_id, customer = %customer_id,
                    key = %timer.key, %error, "timer failed; retrying in a minute");
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The install's `on-timer` call for a responder timer.
    async fn call_timer(
        &self,
        timer: &Timer,
        install: &Install,
        customer: &Customer,
        services: &Arc<dyn HostServices>,
        now: Millis,
    ) -> Result<CallOutput<Vec<Reaction>>, String> {
        let pid = plugin_id(&install.plugin, &install.version);
        let plugin = registry::load(&self.db, &self.runtime, &install.plugin, &install.version)
            .await
            .map_err(|e| format!("plugin could not be loaded: {e}"))?;
        let input = CallInput::new(&timer.store_id, &install.install_id, &pid, None, services)
            .with_pii(registry::sees_pii(install, &plugin))
            .with_state(StateBuffer::stored(&timer.customer_id));
        let t = reactions_wit::Timer {
            key: timer.key.clone(),
            payload: timer.payload.clone(),
            due_at: timer.due_at,
            now,
        };
        let config = install.config.to_string();
        tokio::task::block_in_place(|| {
            self.runtime.react_to_timer(&plugin, input, &config, customer, &t)
        })
        .map_err(|e| e.to_string())
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
