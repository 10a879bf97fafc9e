//! `service-recovery`: what a store does after a complaint, as a
//! `responder` component of contract 0.5.0.
//!
//! - `complaint.filed` (the first filing of an id; a second is a different
//!   event and files nothing): an `apology` message, compensation points by
//!   severity × the customer's value grade multiplier, the complaint's due
//!   time (its SLA) and a timer for it;
//! - the SLA's timer, when the complaint is still open: an `escalation`
//!   message (once: the timer is gone after it ran);
//! - `complaint.resolved` (its first resolution): the SLA timer cancelled;
//!   satisfied, a `recovery-survey` message `follow_up_seconds` later;
//!   not satisfied, the compensation again and an `escalation`.

pub mod recovery;

wit_bindgen::generate!({
    path: "../../wit/since_v0.5.0",
    world: "responder",
});

use clientele::crm::complaints::{self, Complaint};
use clientele::crm::segments;
use clientele::crm::types::{Customer, Event, PluginError, StoreContext};
use exports::clientele::crm::reactions::{Action, Guest, Message, Timer, TimerRequest};
use recovery::{overdue_seconds, Config};
use serde_json::json;

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct ServiceRecovery;

fn failed(message: String) -> PluginError {
    PluginError { code: "config".into(), message, retryable: false }
}

fn message(channel: &str, template: &str, vars: serde_json::Value) -> Action {
    Action::SendMessage(Message {
        channel: channel.into(),
        template: template.into(),
        vars: vars.to_string(),
    })
}

/// The complaint an event's data names, if the store has it for this
/// customer.
fn complaint_of(event: &Event) -> Option<Complaint> {
    let data: serde_json::Value = serde_json::from_str(&event.data).ok()?;
    let c = complaints::get(data["complaint_id"].as_str()?)?;
    (c.customer_id == event.customer_id).then_some(c)
}

/// The customer's compensation for `c` now.
fn compensation(config: &Config, customer_id: &str, c: &Complaint) -> i64 {
    let memberships = segments::of(customer_id);
    let grade = config.grade_of(memberships.iter().map(|m| m.segment.as_str()));
    config.compensation(c.severity, grade.as_deref())
}

fn escalation(config: &Config, c: &Complaint, now: i64, reason: &str) -> Action {
    let overdue = c.due_at.map_or(0, |due| overdue_seconds(due, now));
    message(
        &config.escalation_channel,
        "escalation",
        json!({"complaint_id": c.id, "severity": c.severity, "overdue_seconds": overdue, "reason": reason}),
    )
}

fn grant(points: i64, why: String) -> Option<Action> {
    (points > 0).then_some(Action::GrantPoints((points, why)))
}

fn filed(config: &Config, event: &Event, c: &Complaint) -> Vec<Action> {
    if c.filed_event != event.id {
        return vec![];
    }
    let points = compensation(config, &event.customer_id, c);
    let mut actions = vec![message(
        &config.apology_channel,
        "apology",
        json!({"complaint_id": c.id, "points": points}),
    )];
    actions.extend(grant(points, format!("compensation for complaint {}", c.id)));
    if let (Some(due), None) = (config.due_at(c.severity, c.filed_at), c.resolved_at) {
        actions.push(Action::SetComplaintDue((c.id.clone(), due)));
        actions.push(Action::SetTimer(TimerRequest {
            key: format!("sla:{}", c.id),
            at: due,
            payload: json!({"complaint_id": c.id}).to_string(),
        }));
    }
    actions
}

fn resolved(config: &Config, event: &Event, c: &Complaint) -> Vec<Action> {
    if c.resolved_event.as_deref() != Some(event.id.as_str()) {
        return vec![];
    }
    let mut actions = vec![Action::CancelTimer(format!("sla:{}", c.id))];
    let at = c.resolved_at.unwrap_or(event.occurred_at);
    if c.satisfied == Some(true) {
        actions.push(Action::SetTimer(TimerRequest {
            key: format!("follow-up:{}", c.id),
            at: at + config.follow_up_seconds * 1000,
            payload: json!({"complaint_id": c.id}).to_string(),
        }));
    } else {
        let points = compensation(config, &event.customer_id, c);
        actions.extend(grant(points, format!("compensation again for complaint {}", c.id)));
        actions.push(escalation(config, c, at, "unsatisfied"));
    }
    actions
}

impl Guest for ServiceRecovery {
    fn on_event(
        _ctx: StoreContext,
        config: String,
        _customer: Customer,
        event: Event,
    ) -> Result<Vec<Action>, PluginError> {
        let config = Config::parse(&config).map_err(failed)?;
        let Some(c) = (match event.type_.as_str() {
            "complaint.filed" | "complaint.resolved" => complaint_of(&event),
            _ => None,
        }) else {
            return Ok(vec![]);
        };
        Ok(match event.type_.as_str() {
            "complaint.filed" => filed(&config, &event, &c),
            _ => resolved(&config, &event, &c),
        })
    }

    fn on_timer(
        _ctx: StoreContext,
        config: String,
        _customer: Customer,
        timer: Timer,
    ) -> Result<Vec<Action>, PluginError> {
        let config = Config::parse(&config).map_err(failed)?;
        let payload: serde_json::Value = serde_json::from_str(&timer.payload).unwrap_or_default();
        let Some(c) = payload["complaint_id"].as_str().and_then(complaints::get) else {
            return Ok(vec![]);
        };
        Ok(if timer.key.starts_with("sla:") {
            // Resolved since (the resolution cancels the timer; this is a
            // guard, not the rule).
            if c.resolved_at.is_some() {
                vec![]
            } else {
                vec![escalation(&config, &c, timer.now, "sla")]
            }
        } else {
            vec![message(
                &config.apology_channel,
                "recovery-survey",
                json!({"complaint_id": c.id, "survey_id": config.survey_id}),
            )]
        })
    }
}

#[cfg(target_arch = "wasm32")]
export!(ServiceRecovery);
