//! Rescue flows: the host's side of the churn-rescue world. Assessments
//! are stored; a plan may start a flow (at most one active per customer)
//! or record it `skipped`; an order ends an active flow `rescued`; a
//! flow's timers are durable rows (`due_at`) that the dispatcher runs, and
//! each step's messages are queued once (the outbox refuses a second
//! message for the same flow step).

use serde_json::{json, Value};

use super::effects::Subject;
use crate::db::churn::{self, Flow};
use crate::db::ledger;
use crate::db::{messages, DbResult, Tx};
use crate::domain::effect::Effect;
use crate::domain::ids::random_id;
use crate::domain::rescue::{Assessment, FlowAction, FlowEnd, FlowEvent, FlowNote};
use crate::domain::states::FlowState;
use crate::domain::time::Millis;
use crate::runtime::rescue as wit;

/// Adds a line to the flow's history.
pub fn note(flow: &mut Flow, now: Millis, what: FlowEvent) {
    flow.history.push(FlowNote { what, at: crate::domain::time::to_rfc3339(now) });
}

fn end(flow: &mut Flow, how: FlowEnd, now: Millis) {
    flow.state = how.state();
    flow.due_at = None;
    flow.ended_at = Some(now);
    flow.updated_at = now;
}

/// An order arrived: an active flow ends `rescued`. Returns the effect.
pub async fn rescue_on_order(tx: &mut Tx, t: &Subject<'_>, flow: &mut Flow) -> DbResult<Effect> {
    end(flow, FlowEnd::Rescued, t.now);
    note(flow, t.now, FlowEvent::Rescued { event_id: t.event_id.map(str::to_string), step: None });
    churn::save_flow(&mut *tx, flow).await?;
    Ok(Effect::FlowRescued { flow_id: flow.id.clone() })
}

/// A flow as `plan` is shown it; `rescued_at` when the event being
/// handled ends it `rescued`.
pub fn summary(flow: &Flow, rescued_at: Option<i64>) -> wit::FlowSummary {
    use wit::FlowStatus as S;
    let (status, ended_at) = match (rescued_at, flow.state) {
        (Some(at), FlowState::Active) => (S::Rescued, Some(at)),
        (_, FlowState::Active) => (S::Active, None),
        (_, FlowState::Rescued) => (S::Rescued, flow.ended_at),
        (_, FlowState::Expired) => (S::Expired, flow.ended_at),
        (_, FlowState::Skipped) => (S::Skipped, flow.ended_at),
    };
    wit::FlowSummary {
        flow_id: flow.id.clone(),
        status,
        step: u32::try_from(flow.step).unwrap_or(0),
        started_at: flow.started_at,
        ended_at,
    }
}

/// A flow of the target's customer, starting now at step 0.
fn new_flow(t: &Subject<'_>, assessment: &Assessment, state: FlowState) -> Flow {
    Flow {
        id: random_id("flow"),
        store_id: t.store.to_string(),
        install_id: t.install().to_string(),
        customer_id: t.customer.to_string(),
        state,
        step: 0,
        due_at: None,
        started_at: t.now,
        ended_at: None,
        updated_at: t.now,
        p_alive: assessment.p_alive,
        value_cents: assessment.value_cents,
        history: Vec::new(),
    }
}

/// Applies what `plan` decided for a customer without an active flow.
/// `latest` is the customer's latest (ended) flow, if any.
pub async fn apply_plan(
    tx: &mut Tx,
    t: &Subject<'_>,
    assessment: &Assessment,
    latest: Option<&Flow>,
    actions: &[FlowAction],
) -> DbResult<Vec<Effect>> {
    let mut effects = Vec::new();
    let mut started: Option<Flow> = None;
    let mut loose = Vec::new();
    for a in actions {
        match a {
            FlowAction::Schedule { after_seconds, step } if started.is_none() => {
                let mut f = new_flow(t, assessment, FlowState::Active);
                f.step = i64::from(*step);
                f.due_at = Some(t.now + (*after_seconds as i64) * 1000);
                note(
                    &mut f,
                    t.now,
                    FlowEvent::Started {
                        p_alive: assessment.p_alive,
                        value_cents: assessment.value_cents,
                        event_id: t.event_id.map(str::to_string),
                    },
                );
                effects.push(Effect::FlowStarted {
                    flow_id: f.id.clone(),
                    step: i64::from(*step),
                    due_in_seconds: *after_seconds,
                });
                started = Some(f);
            }
            FlowAction::End(FlowEnd::Skipped) if started.is_none() => {
                // One skipped record per customer until something changes.
                let mut f = match latest {
                    Some(f) if f.state == FlowState::Skipped && f.install_id == t.install() => {
                        f.clone()
                    }
                    _ => {
                        let mut f = new_flow(t, assessment, FlowState::Skipped);
                        f.ended_at = Some(t.now);
                        note(
                            &mut f,
                            t.now,
                            FlowEvent::Skipped {
                                step: None,
                                note: Some("not worth a rescue".into()),
                                decided_on: Some(assessment.details.clone()),
                            },
                        );
                        f
                    }
                };
                f.updated_at = t.now;
                f.p_alive = assessment.p_alive;
                f.value_cents = assessment.value_cents;
                churn::save_flow(&mut *tx, &f).await?;
                effects.push(Effect::FlowSkipped { flow_id: f.id.clone() });
            }
            other => loose.push(other.clone()),
        }
    }
    if let Some(mut f) = started {
        // Messages, points and coupons that came with the start belong to it.
        effects.extend(apply_step_actions(tx, t, &mut f, &loose, false).await?);
        churn::save_flow(&mut *tx, &f).await?;
    } else {
        effects.extend(apply_loose(tx, t, &loose).await?);
    }
    Ok(effects)
}

/// Messages and points decided outside any flow.
async fn apply_loose(
    tx: &mut Tx,
    t: &Subject<'_>,
    actions: &[FlowAction],
) -> DbResult<Vec<Effect>> {
    let mut effects = Vec::new();
    let mut coupon = None;
    for a in actions {
        match a {
            FlowAction::Coupon(pct) => coupon = Some(*pct),
            FlowAction::Send { channel, template, vars } => {
                let mut m = message(t, channel, template);
                m.vars = with_coupon(vars, coupon, None);
                messages::insert(&mut *tx, t.store, &m).await?;
                effects.push(Effect::Message {
                    message_id: m.id.clone(),
                    channel: channel.clone(),
                    template: template.clone(),
                    customer_id: None,
                    flow_id: None,
                    step: None,
                });
            }
            FlowAction::GrantPoints { points, reason } => {
                effects.push(grant(tx, t, *points, reason).await?);
            }
            _ => {}
        }
    }
    Ok(effects)
}

/// A queued message to the target's customer.
pub(super) fn message(t: &Subject<'_>, channel: &str, template: &str) -> messages::Message {
    let mut m = messages::Message::queued(
        random_id("msg"),
        t.customer.to_string(),
        t.install().to_string(),
        t.now,
    );
    m.event_id = t.event_id.map(str::to_string);
    m.channel = channel.to_string();
    m.template = template.to_string();
    m
}

fn with_coupon(vars: &Value, pct: Option<u8>, code: Option<&str>) -> Value {
    let mut vars = vars.clone();
    if let (Some(pct), Value::Object(map)) = (pct, &mut vars) {
        map.entry("coupon_percent").or_insert(json!(pct));
        if let Some(code) = code {
            map.insert("coupon_code".into(), json!(code));
        }
    }
    vars
}

pub(super) async fn grant(
    tx: &mut Tx,
    t: &Subject<'_>,
    points: i64,
    reason: &str,
) -> DbResult<Effect> {
    let e = ledger::earn(&mut *tx, t, points, reason, None, None).await?;
    Ok(Effect::Earn { points, reason: reason.to_string(), entry_id: e.id, expires_at: None })
}

/// Queues a step's message (with the step's coupon, if one was made);
/// returns the effect when it was new.
async fn send(
    tx: &mut Tx,
    t: &Subject<'_>,
    flow: &mut Flow,
    step: i64,
    (channel, template, vars): (&String, &String, &Value),
    coupon: Option<&(u8, String)>,
) -> DbResult<Option<Effect>> {
    let mut m = message(t, channel, template);
    m.flow_id = Some(flow.id.clone());
    m.step = Some(step);
    m.vars = with_coupon(vars, coupon.map(|c| c.0), coupon.map(|c| c.1.as_str()));
    if !messages::insert(&mut *tx, t.store, &m).await? {
        return Ok(None);
    }
    let (channel, template) = (channel.clone(), template.clone());
    let message_id = m.id.clone();
    let what = FlowEvent::Message {
        step,
        message_id,
        channel: channel.clone(),
        template: template.clone(),
    };
    note(flow, t.now, what);
    Ok(Some(Effect::Message {
        message_id: m.id,
        channel,
        template,
        customer_id: None,
        flow_id: Some(flow.id.clone()),
        step: Some(step),
    }))
}

/// Ends an active flow as the plugin's step said.
fn end_by_plugin(flow: &mut Flow, step: i64, how: FlowEnd, now: Millis) -> Option<Effect> {
    if flow.state != FlowState::Active {
        return None;
    }
    end(flow, how, now);
    let what = match how {
        FlowEnd::Rescued => FlowEvent::Rescued { event_id: None, step: Some(step) },
        FlowEnd::Expired => FlowEvent::Expired { step, note: None },
        FlowEnd::Skipped => FlowEvent::Skipped { step: Some(step), note: None, decided_on: None },
    };
    note(flow, now, what);
    Some(Effect::FlowEnded { flow_id: flow.id.clone(), state: how.state() })
}

/// Applies the actions of a flow's step (`on-timer`, or those that came
/// with the start): messages once per step, coupons, points, the next
/// step or the end. With `timer` set, a step that neither schedules nor
/// ends the flow ends it `expired`, so no flow is left without a timer.
pub async fn apply_step_actions(
    tx: &mut Tx,
    t: &Subject<'_>,
    flow: &mut Flow,
    actions: &[FlowAction],
    timer: bool,
) -> DbResult<Vec<Effect>> {
    let mut effects = Vec::new();
    let step = flow.step;
    let mut coupon: Option<(u8, String)> = None;
    let mut next = false;
    for a in actions {
        match a {
            FlowAction::Coupon(pct) => {
                let code = format!("WB-{}", &random_id("c")[2..12].to_uppercase());
                note(
                    flow,
                    t.now,
                    FlowEvent::Coupon { step, percent: u32::from(*pct), code: code.clone() },
                );
                effects.push(Effect::Coupon { percent: u32::from(*pct), code: code.clone() });
                coupon = Some((*pct, code));
            }
            FlowAction::Send { channel, template, vars } => {
                let msg = (channel, template, vars);
                effects.extend(send(tx, t, flow, step, msg, coupon.as_ref()).await?);
            }
            FlowAction::GrantPoints { points, reason } => {
                note(flow, t.now, FlowEvent::Points { step, points: *points });
                effects.push(grant(tx, t, *points, reason).await?);
            }
            FlowAction::Schedule { after_seconds, step: next_step } => {
                if flow.state == FlowState::Active {
                    flow.step = i64::from(*next_step);
                    flow.due_at = Some(flow.started_at + (*after_seconds as i64) * 1000);
                    next = true;
                    effects.push(Effect::FlowScheduled {
                        flow_id: flow.id.clone(),
                        step: i64::from(*next_step),
                        after_seconds: *after_seconds,
                    });
                }
            }
            FlowAction::End(how) => effects.extend(end_by_plugin(flow, step, *how, t.now)),
        }
    }
    if timer && !next && flow.state == FlowState::Active {
        end(flow, FlowEnd::Expired, t.now);
        note(
            flow,
            t.now,
            FlowEvent::Expired { step, note: Some("the step scheduled nothing further".into()) },
        );
        effects.push(Effect::FlowEnded { flow_id: flow.id.clone(), state: FlowState::Expired });
    }
    flow.updated_at = t.now;
    Ok(effects)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(state: FlowState, ended_at: Option<Millis>) -> Flow {
        let t = Subject {
            store: "s",
            install_id: Some("i"),
            customer: "c",
            event_id: None,
            now: 1_000,
        };
        let a = Assessment { p_alive: 0.2, risk: 0.8, value_cents: 5_000, details: json!({}) };
        let mut f = new_flow(&t, &a, state);
        f.step = 2;
        f.ended_at = ended_at;
        f
    }

    #[test]
    fn plan_sees_the_flow_as_it_stands_once_the_event_is_applied() {
        let active = summary(&flow(FlowState::Active, None), None);
        assert_eq!(active.status, wit::FlowStatus::Active);
        assert_eq!((active.step, active.started_at, active.ended_at), (2, 1_000, None));
        // The order that rescues it: rescued, ended now.
        let rescued = summary(&flow(FlowState::Active, None), Some(9_000));
        assert_eq!(rescued.status, wit::FlowStatus::Rescued);
        assert_eq!(rescued.ended_at, Some(9_000));
        // An ended flow stays as it ended, whatever the event.
        let expired = summary(&flow(FlowState::Expired, Some(5_000)), Some(9_000));
        assert_eq!(expired.status, wit::FlowStatus::Expired);
        assert_eq!(expired.ended_at, Some(5_000));
        let skipped = summary(&flow(FlowState::Skipped, Some(4_000)), None);
        assert_eq!(skipped.status, wit::FlowStatus::Skipped);
    }
}
