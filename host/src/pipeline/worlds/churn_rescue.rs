//! `churn-rescue`: a population fit makes a model; each event of a
//! customer re-assesses them, and when no flow of theirs is active, `plan`
//! may start one. An order ends an active flow `rescued`. Every fit
//! re-assesses (and plans for) everyone. Flow timers are `timers.rs`.

use super::{Applying, CallArgs, CallResult, Decision, Loaded, Refit, Refitted, Sinks};
use crate::db::{churn, models, state, Conn, DbResult, Tx};
use crate::domain::effect::Effect;
use crate::domain::event::EventKind;
use crate::domain::rescue::{Assessment, FlowAction};
use crate::domain::states::FlowState;
use crate::pipeline::effects::Subject;
use crate::pipeline::fits::Fitter;
use crate::pipeline::rescue;
use crate::pipeline::PipelineResult;
use crate::runtime::{CallInput, CallOutput, Runtime};

pub async fn load(
    conn: &mut Conn,
    store: &str,
    install_id: &str,
    customers: &[&str],
) -> DbResult<Loaded> {
    Ok(Loaded::ChurnRescue {
        model: models::bytes(conn, install_id).await?,
        flows: churn::latest_of(conn, store, customers).await?,
    })
}

/// A customer is re-assessed on the events a segmenter re-classifies on:
/// all but the host's own segment changes.
pub use super::segmenter::concerns;

/// `assess`, then `plan` (in the same scope, seeing the state `assess`
/// left) unless the customer's flow is still active.
pub fn decide(rt: &Runtime, a: CallArgs<'_>, input: CallInput) -> CallResult {
    let Loaded::ChurnRescue { model, flows } = a.loaded else {
        unreachable!("a churn-rescue install loads a model");
    };
    let e = a.event;
    let (scope, services, trace) =
        (input.scope.clone(), input.services.clone(), input.trace.clone());
    let assessed = rt.assess(a.plugin, input, a.config, model, a.customer, e.occurred_at)?;
    let active = flows.get(&e.customer_id).is_some_and(|f| f.state == FlowState::Active);
    let rescue = active && matches!(e.kind, EventKind::OrderPlaced { .. });
    if active && !rescue {
        return Ok(assessed.map(|assessment| Decision::Churn { assessment, rescue, plan: None }));
    }
    let CallOutput { value: assessment, state, mut outbox, elapsed, memory_peak_bytes } = assessed;
    let next = CallInput { scope, state, services, trace };
    let current = flows
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

fn stored(
    at_install: &str,
    customer: &str,
    a: &Assessment,
    as_of: i64,
    now: i64,
) -> churn::Assessment {
    churn::Assessment {
        install_id: at_install.to_string(),
        customer_id: customer.to_string(),
        p_alive: a.p_alive,
        risk: a.risk,
        value_cents: a.value_cents,
        details: a.details.clone(),
        as_of,
        assessed_at: now,
    }
}

/// Keeps the assessment, ends an active flow on an order, applies a plan.
pub async fn apply(
    tx: &mut Tx,
    sinks: &mut Sinks,
    at: &Applying<'_>,
    assessment: &Assessment,
    rescue: bool,
    plan: Option<&[FlowAction]>,
) -> PipelineResult<Vec<Effect>> {
    let Loaded::ChurnRescue { flows, .. } = at.loaded else {
        unreachable!("a churn-rescue install loads flows");
    };
    let (store, install_id, customer) = (at.target.store, at.target.install_id, at.target.customer);
    sinks.assessments.entry(store.to_string()).or_default().push(stored(
        install_id,
        customer,
        assessment,
        at.event.occurred_at,
        at.target.now,
    ));
    let t = &at.target;
    let mut fx = vec![Effect::Assessed { p_alive: assessment.p_alive, risk: assessment.risk }];
    let latest = flows.get(customer).cloned();
    if let (true, Some(mut flow)) = (rescue, latest.clone()) {
        fx.push(rescue::rescue_on_order(tx, t, &mut flow).await?);
    }
    if let Some(actions) = plan {
        let ended = latest.filter(|f| f.state != FlowState::Active);
        fx.extend(rescue::apply_plan(tx, t, assessment, ended.as_ref(), actions).await?);
    }
    Ok(fx)
}

/// Re-assesses everyone with the new model, planning for those without
/// an active flow, in one transaction.
pub async fn refit(p: &Fitter, r: &mut Refit<'_>) -> PipelineResult<Refitted> {
    let ids: Vec<&str> = r.people.iter().map(|c| c.id.as_str()).collect();
    let flows = {
        let mut conn = p.db.pool.acquire().await?;
        churn::latest_of(&mut conn, r.store, &ids).await?
    };
    let (people, plugin, pid, config, model, as_of) =
        (r.people, r.plugin, r.pid, r.config, r.model, r.as_of);
    let results = p.for_everyone(people, pid, |c| {
        let input = r.input(&c.id);
        let assessed = p.runtime.assess(plugin, input, config, model, c, as_of)?;
        if flows.get(&c.id).is_some_and(|f| f.state == FlowState::Active) {
            return Ok(assessed.map(|a| (a, None)));
        }
        let (a, state) = (assessed.value, assessed.state);
        let mut next = r.input(&c.id);
        next.state = state;
        let current = flows.get(&c.id).map(|f| rescue::summary(f, None));
        let planned = p.runtime.plan(plugin, next, config, &a, c, current.as_ref(), as_of)?;
        Ok(planned.map(|actions| (a, Some(actions))))
    });
    let mut tx = p.db.begin_store(r.store).await?;
    p.cluster.confirm_store(&mut tx, r.store).await?;
    let mut assessments = Vec::new();
    let sorted = r.sort(results);
    for (c, (a, plan)) in &sorted.values {
        if let Some(actions) = plan.as_ref().filter(|p| !p.is_empty()) {
            let t = Subject {
                store: r.store,
                install_id: &r.install.install_id,
                customer: &c.id,
                event_id: None,
                now: r.now,
            };
            let latest = flows.get(&c.id).filter(|f| f.state != FlowState::Active);
            rescue::apply_plan(&mut tx, &t, a, latest, actions).await?;
        }
        assessments.push(stored(&r.install.install_id, &c.id, a, as_of, r.now));
    }
    churn::save_assessments(&mut tx, r.store, &assessments).await?;
    state::apply_many(&mut tx, &sorted.state_writes).await?;
    tx.commit().await?;
    Ok(sorted.done)
}
