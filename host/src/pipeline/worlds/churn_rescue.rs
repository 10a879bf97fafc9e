//! `churn-rescue`: a population fit makes a model; each event of a
//! customer re-assesses them, and when no flow of theirs is active, `plan`
//! may start one. An order ends an active flow `rescued`. Every fit
//! re-assesses (and plans for) everyone. Flow timers are `timers.rs`.

use std::collections::HashMap;

use super::{Applying, BatchScope, CallArgs, CallResult, Decision};
use super::{Changes, Refit, Rewrite};
use crate::db::churn::{self, Flow};
use crate::db::{models, Conn, DbResult, Tx};
use crate::domain::effect::Effect;
use crate::domain::event::EventKind;
use crate::domain::rescue::{Assessment, FlowAction};
use crate::domain::states::FlowState;
use crate::domain::time::Millis;
use crate::pipeline::effects::Subject;
use crate::pipeline::rescue;
use crate::pipeline::PipelineResult;
use crate::runtime::{CallInput, CallOutput, Runtime};

/// A churn model's batch: its model, the customers' latest flows, and the
/// assessments made.
pub struct Unit {
    model: Vec<u8>,
    flows: HashMap<String, Flow>,
    store: String,
    assessments: Vec<churn::Assessment>,
}

/// A customer is re-assessed on the events a segmenter re-classifies on:
/// all but the host's own segment changes.
pub use super::segmenter::concerns;

impl Unit {
    pub async fn load(conn: &mut Conn, scope: &BatchScope<'_>) -> DbResult<Unit> {
        Ok(Unit {
            model: models::bytes(conn, scope.install_id).await?,
            flows: churn::latest_of(conn, scope.store, scope.customers).await?,
            store: scope.store.to_string(),
            assessments: Vec::new(),
        })
    }

    pub fn local(model: Vec<u8>) -> Unit {
        Unit { model, flows: HashMap::new(), store: "local".into(), assessments: Vec::new() }
    }

    fn active(&self, customer: &str) -> bool {
        self.flows.get(customer).is_some_and(|f| f.state == FlowState::Active)
    }

    /// `assess`, then `plan` (in the same scope, seeing the state `assess`
    /// left) unless the customer's flow is still active.
    pub fn decide(&self, rt: &Runtime, a: CallArgs<'_>, input: CallInput) -> CallResult {
        let e = a.event;
        let (scope, services, trace) =
            (input.scope.clone(), input.services.clone(), input.trace.clone());
        let assessed =
            rt.assess(a.plugin, input, a.config, &self.model, a.customer, e.occurred_at)?;
        let active = self.active(&e.customer_id);
        let rescue = active && matches!(e.kind, EventKind::OrderPlaced { .. });
        if active && !rescue {
            return Ok(assessed.map(|assessment| Decision::Churn {
                assessment,
                rescue,
                plan: None,
            }));
        }
        let CallOutput { value: assessment, state, mut outbox, elapsed, memory_peak_bytes } =
            assessed;
        let next = CallInput { scope, state, services, trace };
        let current = self
            .flows
            .get(&e.customer_id)
            .map(|f| rescue::summary(f, rescue.then(crate::domain::time::now_ms)));
        let planned = rt.plan(
            a.plugin,
            next,
            a.config,
            &assessment,
            a.customer,
            current.as_ref(),
            e.occurred_at,
        )?;
        outbox.extend(planned.outbox);
        Ok(CallOutput {
            value: Decision::Churn { assessment, rescue, plan: Some(planned.value) },
            state: planned.state,
            outbox,
            elapsed: elapsed + planned.elapsed,
            memory_peak_bytes: memory_peak_bytes.max(planned.memory_peak_bytes),
        })
    }

    /// Keeps the assessment, ends an active flow on an order, applies a plan.
    pub async fn apply(
        &mut self,
        tx: &mut Tx,
        at: &Applying<'_>,
        assessment: Assessment,
        rescue: bool,
        plan: Option<&[FlowAction]>,
    ) -> PipelineResult<Vec<Effect>> {
        let t = &at.target;
        let mut fx = vec![Effect::Assessed { p_alive: assessment.p_alive, risk: assessment.risk }];
        let latest = self.flows.get(t.customer).cloned();
        if let (true, Some(mut flow)) = (rescue, latest.clone()) {
            fx.push(rescue::rescue_on_order(tx, t, &mut flow).await?);
        }
        if let Some(actions) = plan {
            let ended = latest.filter(|f| f.state != FlowState::Active);
            fx.extend(rescue::apply_plan(tx, t, &assessment, ended.as_ref(), actions).await?);
        }
        self.assessments.push(stored(t, &assessment, at.event.occurred_at));
        Ok(fx)
    }

    pub async fn finish(&mut self, tx: &mut Tx) -> DbResult<()> {
        churn::save_assessments(tx, &self.store, &std::mem::take(&mut self.assessments)).await
    }
}

fn stored(t: &Subject<'_>, a: &Assessment, as_of: Millis) -> churn::Assessment {
    churn::Assessment {
        install_id: t.install().to_string(),
        customer_id: t.customer.to_string(),
        p_alive: a.p_alive,
        risk: a.risk,
        value_cents: a.value_cents,
        details: a.details.clone(),
        as_of,
        assessed_at: t.now,
    }
}

/// Everyone re-assessed after a fit: the plans to apply and the
/// assessments to keep.
pub struct Reassessed {
    store: String,
    install_id: String,
    now: Millis,
    /// (customer, assessment, their latest ended flow, actions).
    plans: Vec<(String, Assessment, Option<Flow>, Vec<FlowAction>)>,
    assessments: Vec<churn::Assessment>,
}

impl Reassessed {
    pub async fn write(self, tx: &mut Tx) -> PipelineResult<()> {
        for (customer, a, latest, actions) in &self.plans {
            let t = Subject {
                store: &self.store,
                install_id: Some(&self.install_id),
                customer,
                event_id: None,
                now: self.now,
            };
            rescue::apply_plan(tx, &t, a, latest.as_ref(), actions).await?;
        }
        churn::save_assessments(tx, &self.store, &self.assessments).await?;
        Ok(())
    }
}

/// Re-assesses everyone with the new model, planning for those without
/// an active flow.
pub async fn refit(conn: &mut Conn, r: &mut Refit<'_>) -> PipelineResult<Rewrite> {
    let ids: Vec<&str> = r.people.iter().map(|c| c.id.as_str()).collect();
    let flows = churn::latest_of(conn, r.store, &ids).await?;
    let (plugin, config, model, as_of) = (r.plugin, r.config, r.model, r.as_of);
    let sorted = r.for_everyone(|r, c| {
        let input = r.input(&c.id);
        let assessed = r.runtime.assess(plugin, input, config, model, c, as_of)?;
        if flows.get(&c.id).is_some_and(|f| f.state == FlowState::Active) {
            return Ok(assessed.map(|a| (a, None)));
        }
        let (a, state) = (assessed.value, assessed.state);
        let mut next = r.input(&c.id);
        next.state = state;
        let current = flows.get(&c.id).map(|f| rescue::summary(f, None));
        let planned = r.runtime.plan(plugin, next, config, &a, c, current.as_ref(), as_of)?;
        Ok(planned.map(|actions| (a, Some(actions))))
    });
    let mut out = Reassessed {
        store: r.store.to_string(),
        install_id: r.install.install_id.clone(),
        now: r.now,
        plans: Vec::new(),
        assessments: Vec::new(),
    };
    for (c, (a, plan)) in sorted.values {
        let t = Subject {
            store: r.store,
            install_id: Some(&r.install.install_id),
            customer: &c.id,
            event_id: None,
            now: r.now,
        };
        out.assessments.push(stored(&t, &a, as_of));
        if let Some(actions) = plan.filter(|p| !p.is_empty()) {
            let latest = flows.get(&c.id).filter(|f| f.state != FlowState::Active).cloned();
            out.plans.push((c.id.clone(), a, latest, actions));
        }
    }
    Ok(Rewrite {
        done: sorted.done,
        state_writes: sorted.state_writes,
        changes: Changes::Assessments(out),
    })
}
