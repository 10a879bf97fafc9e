//! What a responder decides (contract 0.5.0 `reactions`): messages and
//! points now, timers for later, and a complaint's due time.

use serde::Serialize;
use serde_json::Value;

use super::ids::is_valid_id;
use super::rescue::{check_grant, check_message};
use super::time::{Millis, LATEST_MS};

/// Most actions one call may return.
pub const MAX_ACTIONS: usize = 32;
/// Longest timer key.
pub const MAX_TIMER_KEY: usize = 128;
/// Largest timer payload, serialized.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Reaction {
    SendMessage { channel: String, template: String, vars: Value },
    GrantPoints { points: i64, reason: String },
    SetTimer { key: String, at: Millis, payload: Value },
    CancelTimer { key: String },
    SetComplaintDue { complaint_id: String, at: Millis },
}

/// Checks a call's actions; a bad one fails the call.
pub fn validate(list: &[Reaction]) -> Result<(), String> {
    if list.len() > MAX_ACTIONS {
        return Err(format!("{} actions; at most {MAX_ACTIONS}", list.len()));
    }
    let key_ok = |k: &str| !k.is_empty() && k.len() <= MAX_TIMER_KEY;
    let time_ok = |t: Millis| (0..=LATEST_MS).contains(&t);
    for a in list {
        match a {
            Reaction::SendMessage { channel, template, vars } => {
                check_message(channel, template, vars)?
            }
            Reaction::GrantPoints { points, reason } => check_grant(*points, reason)?,
            Reaction::SetTimer { key, at, payload } => {
                if !key_ok(key) {
                    return Err(format!("a timer key must be 1 to {MAX_TIMER_KEY} bytes"));
                }
                if !time_ok(*at) {
                    return Err(format!("timer `{key}` is set for a time out of range"));
                }
                if payload.to_string().len() > MAX_PAYLOAD_BYTES {
                    return Err(format!(
                        "timer `{key}`'s payload is over {MAX_PAYLOAD_BYTES} bytes"
                    ));
                }
            }
            Reaction::CancelTimer { key } => {
                if !key_ok(key) {
                    return Err(format!("a timer key must be 1 to {MAX_TIMER_KEY} bytes"));
                }
            }
            Reaction::SetComplaintDue { complaint_id, at } => {
                if !is_valid_id(complaint_id) {
                    return Err(format!("`{complaint_id}` is not a complaint id"));
                }
                if !time_ok(*at) {
                    return Err(format!(
                        "complaint `{complaint_id}` is due at a time out of range"
                    ));
                }
            }
        }
    }
    Ok(())
}
