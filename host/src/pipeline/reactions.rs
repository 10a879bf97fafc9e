//! What a responder decided, applied in the caller's transaction: on an
//! event (with the batch) or when one of its timers ran.

use super::effects::Subject;
use super::rescue;
use crate::db::{complaints, messages, reaction_timers, DbResult, Tx};
use crate::domain::effect::Effect;
use crate::domain::reaction::Reaction;
use crate::domain::time::to_rfc3339;

/// Applies the actions in order; returns their effects.
pub async fn apply(tx: &mut Tx, t: &Subject<'_>, list: &[Reaction]) -> DbResult<Vec<Effect>> {
    let mut effects = Vec::with_capacity(list.len());
    for action in list {
        match action {
            Reaction::SendMessage { channel, template, vars } => {
                let mut m = rescue::message(t, channel, template);
                m.vars = vars.clone();
                if messages::insert(&mut *tx, t.store, &m).await? {
                    effects.push(Effect::Message {
                        message_id: m.id,
                        channel: channel.clone(),
                        template: template.clone(),
                        customer_id: None,
                        flow_id: None,
                        step: None,
                    });
                }
            }
            Reaction::GrantPoints { points, reason } => {
                effects.push(rescue::grant(tx, t, *points, reason).await?);
            }
            Reaction::SetTimer { key, at, payload } => {
                let timer = reaction_timers::Timer {
                    store_id: t.store.to_string(),
                    install_id: t.install().to_string(),
                    customer_id: t.customer.to_string(),
                    key: key.clone(),
                    due_at: *at,
                    payload: payload.to_string(),
                    failures: 0,
                };
                reaction_timers::set(tx, &timer, t.now).await?;
                effects.push(Effect::TimerSet { key: key.clone(), due_at: to_rfc3339(*at) });
            }
            Reaction::CancelTimer { key } => {
                if reaction_timers::cancel(tx, t.install(), t.customer, key).await? {
                    effects.push(Effect::TimerCancelled { key: key.clone() });
                }
            }
            Reaction::SetComplaintDue { complaint_id, at } => {
                // Only a complaint of the customer the call is about.
                if complaints::set_due(tx, t.store, t.customer, complaint_id, *at).await? {
                    effects.push(Effect::ComplaintDue {
                        complaint_id: complaint_id.clone(),
                        due_at: to_rfc3339(*at),
                    });
                }
            }
        }
    }
    Ok(effects)
}
