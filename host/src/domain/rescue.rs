//! Churn assessments and rescue-flow actions as a churn-rescue plugin
//! decides them, checked before the host acts on them.

use serde_json::Value;

/// Most actions one call may return.
pub const MAX_ACTIONS: usize = 50;
/// The furthest a step may be scheduled: ten years.
pub const MAX_AFTER_SECONDS: u64 = 10 * 365 * 86_400;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Assessment {
    pub p_alive: f64,
    pub risk: f64,
    pub value_cents: i64,
    pub details: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowEnd {
    Rescued,
    Expired,
    Skipped,
}

impl FlowEnd {
    pub fn state(self) -> super::states::FlowState {
        use super::states::FlowState;
        match self {
            FlowEnd::Rescued => FlowState::Rescued,
            FlowEnd::Expired => FlowState::Expired,
            FlowEnd::Skipped => FlowState::Skipped,
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowAction {
    Send {
        channel: String,
        template: String,
        vars: Value,
    },
    GrantPoints {
        points: i64,
        reason: String,
    },
    /// A coupon of this many percent off.
    Coupon(u8),
    /// Run step `step` this many seconds after the flow started.
    Schedule {
        after_seconds: u64,
        step: u32,
    },
    End(FlowEnd),
}

pub fn validate_assessment(a: &Assessment) -> Result<(), String> {
    if !(0.0..=1.0).contains(&a.p_alive) {
        return Err(format!("p_alive {} is not a probability", a.p_alive));
    }
    if !a.risk.is_finite() {
        return Err("risk is not a finite number".into());
    }
    if !a.details.is_object() {
        return Err("details must be a JSON object".into());
    }
    Ok(())
}

/// A message a plugin queues: a channel and a template of 1 to 128
/// characters, and vars that are a JSON object.
pub fn check_message(
    channel: &str,
    template: &str,
    vars: &serde_json::Value,
) -> Result<(), String> {
    let ok = |s: &str| !s.is_empty() && s.len() <= 128;
    if !ok(channel) || !ok(template) {
        return Err("a message needs a channel and a template of 1 to 128 characters".into());
    }
    if !vars.is_object() {
        return Err("message vars must be a JSON object".into());
    }
    Ok(())
}

/// Points a plugin grants: 1 to 1e9, with a reason of 1 to 256 characters.
pub fn check_grant(points: i64, reason: &str) -> Result<(), String> {
    if !(1..=1_000_000_000).contains(&points) {
        return Err(format!("grant of {points} points: must be 1 to 1e9"));
    }
    if reason.is_empty() || reason.len() > 256 {
        return Err("a points grant needs a reason of 1 to 256 characters".into());
    }
    Ok(())
}

pub fn validate_actions(list: &[FlowAction]) -> Result<(), String> {
    if list.len() > MAX_ACTIONS {
        return Err(format!("{} actions; at most {MAX_ACTIONS}", list.len()));
    }
    for a in list {
        match a {
            FlowAction::Send { channel, template, vars } => check_message(channel, template, vars)?,
            FlowAction::GrantPoints { points, reason } => check_grant(*points, reason)?,
            FlowAction::Coupon(pct) => {
                if !(1..=100).contains(pct) {
                    return Err(format!("coupon of {pct}%: must be 1 to 100"));
                }
            }
            FlowAction::Schedule { after_seconds, .. } => {
                if *after_seconds > MAX_AFTER_SECONDS {
                    return Err(format!(
                        "step scheduled {after_seconds} s after the start: at most ten years"
                    ));
                }
            }
            FlowAction::End(_) => {}
        }
    }
    Ok(())
}

/// One line of a flow's history (`history` of a flow), in order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FlowNote {
    #[serde(flatten)]
    pub what: FlowEvent,
    /// When it happened (RFC 3339).
    pub at: String,
}

/// What happened to a flow, `what` naming it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum FlowEvent {
    /// The plan started the flow.
    Started { p_alive: f64, value_cents: i64, event_id: Option<String> },
    /// A coupon was made for the step's messages.
    Coupon { step: i64, percent: u32, code: String },
    /// The step queued a message.
    Message { step: i64, message_id: String, channel: String, template: String },
    /// The step granted points.
    Points { step: i64, points: i64 },
    /// An order ended the flow (`event_id`), or the plugin did (`step`).
    Rescued {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<i64>,
    },
    /// The flow's steps ran out, or the plugin ended it so.
    Expired {
        step: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// The plan decided against a flow, or the plugin ended it so.
    Skipped {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// The assessment's details the plan decided on (CLV, the
        /// rescue's worth and cost, …), when the plan skipped the flow.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        decided_on: Option<Value>,
    },
    /// The step's `on-timer` call failed; it is retried.
    StepFailed { step: i64, error: String },
}
