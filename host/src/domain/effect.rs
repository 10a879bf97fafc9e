//! What applying a decision did, as every outcome lists it (`effects`):
//! one tagged record per change, `op` naming it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Effect {
    /// Points added to the ledger.
    Earn {
        points: i64,
        reason: String,
        entry_id: String,
        /// When the points expire, if they do (RFC 3339).
        #[serde(default)]
        expires_at: Option<String>,
    },
    /// Points taken away: `points` is what was taken, at most the
    /// balance; `requested` what the plugin asked for.
    Deduct {
        points: i64,
        requested: i64,
        reason: String,
        /// None when nothing was left to take.
        entry_id: Option<String>,
    },
    /// The member tier set (`null`: removed).
    SetTier { tier: Option<String> },
    /// A message queued in the outbox.
    Message {
        message_id: String,
        channel: String,
        template: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        customer_id: Option<String>,
        /// The rescue flow and step that sent it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        flow_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<i64>,
    },
    /// A churn assessment stored.
    Assessed { p_alive: f64, risk: f64 },
    /// A rescue flow started; its first step is due in `due_in_seconds`.
    FlowStarted { flow_id: String, step: i64, due_in_seconds: u64 },
    /// The plan decided against a flow.
    FlowSkipped { flow_id: String },
    /// An order ended the customer's active flow.
    FlowRescued { flow_id: String },
    /// The flow's next step is scheduled.
    FlowScheduled { flow_id: String, step: i64, after_seconds: u64 },
    /// The flow ended (`rescued`, `expired` or `skipped`).
    FlowEnded { flow_id: String, state: super::states::FlowState },
    /// A coupon made for a message.
    Coupon { percent: u32, code: String },
    /// The customer entered a segment.
    SegmentEntered { segment: String },
    /// The customer left a segment.
    SegmentExited { segment: String },
    /// A survey response scored; the score as the scorer computed it.
    SurveyScored { score: Value },
    /// A responder's timer set (or moved) to `due_at` (RFC 3339).
    TimerSet { key: String, due_at: String },
    /// A responder's pending timer cancelled.
    TimerCancelled { key: String },
    /// A complaint given its due time (its SLA), RFC 3339.
    ComplaintDue { complaint_id: String, due_at: String },
    /// A campaign's earn (or take-back, negative) cut by the host: what it
    /// asked for, what was applied, and why.
    CampaignCut { requested: i64, points: i64, why: String },
}
