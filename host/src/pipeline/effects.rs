//! Applying a plugin's validated decisions inside the dispatcher's
//! transaction. Returns what was done, as shown in event outcomes.

use serde_json::{json, Value};

use crate::db::{customers, ledger, messages, Conn, DbResult};
use crate::domain::ledger::{EntryKind, LedgerOp};
use crate::domain::time::Millis;
use crate::runtime::QueuedMessage;

pub struct Target<'a> {
    pub store: &'a str,
    pub customer: &'a str,
    pub event_id: &'a str,
    pub install_id: &'a str,
    pub now: Millis,
}

pub async fn apply_ops(conn: &mut Conn, t: &Target<'_>, ops: &[LedgerOp]) -> DbResult<Vec<Value>> {
    let account = ledger::Account {
        store: t.store,
        customer: t.customer,
        now: t.now,
        event_id: Some(t.event_id),
        install_id: Some(t.install_id),
    };
    let mut effects = Vec::with_capacity(ops.len());
    for op in ops {
        match op {
            LedgerOp::Earn {
                points,
                reason,
                expires_at,
            } => {
                let e = ledger::earn(&mut *conn, &account, *points, reason, *expires_at).await?;
                effects.push(json!({"op": "earn", "points": points, "reason": reason,
                    "entry_id": e.id, "expires_at": expires_at.map(crate::domain::time::to_rfc3339)}));
            }
            LedgerOp::Deduct { points, reason } => {
                // Expired lots must not be spent by a deduction.
                ledger::expire_customer(&mut *conn, t.store, t.customer, t.now).await?;
                let e =
                    ledger::take(&mut *conn, &account, *points, EntryKind::Deduct, reason).await?;
                let applied = e.as_ref().map_or(0, |e| -e.points);
                effects.push(
                    json!({"op": "deduct", "points": applied, "requested": points,
                    "reason": reason, "entry_id": e.map(|e| e.id)}),
                );
            }
            LedgerOp::SetTier { tier } => {
                customers::set_tier(&mut *conn, t.store, t.customer, tier.as_deref()).await?;
                effects.push(json!({"op": "set_tier", "tier": tier}));
            }
        }
    }
    Ok(effects)
}

pub async fn queue_messages(
    conn: &mut Conn,
    t: &Target<'_>,
    outbox: Vec<QueuedMessage>,
) -> DbResult<Vec<Value>> {
    let mut effects = Vec::with_capacity(outbox.len());
    for m in outbox {
        effects.push(
            json!({"op": "message", "message_id": m.id, "channel": m.channel,
            "template": m.template, "customer_id": m.customer_id}),
        );
        messages::insert(
            &mut *conn,
            t.store,
            &messages::Message {
                id: m.id,
                customer_id: m.customer_id,
                install_id: t.install_id.to_string(),
                event_id: Some(t.event_id.to_string()),
                channel: m.channel,
                template: m.template,
                vars: m.vars,
                state: "queued".into(),
                attempts: 0,
                created_at: t.now,
            },
        )
        .await?;
    }
    Ok(effects)
}
