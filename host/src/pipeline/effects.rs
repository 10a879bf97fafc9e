//! Applying a batch's validated decisions inside the dispatcher's
//! transaction. Plain earns, tiers, state writes and outcomes are
//! collected and written with multi-row statements at the end of the
//! batch; anything that spends points (a deduction) is applied at once,
//! in order, after what was collected before it.

use crate::db::ledger::{self, NewEarn};
use crate::db::outcomes::Outcome;
use crate::db::{customers, messages, state, DbResult, Tx};
use crate::domain::effect::Effect;
use crate::domain::ids::random_id;
use crate::domain::ledger::{EntryKind, LedgerOp};
pub use crate::domain::subject::Subject;
use crate::domain::time::{to_rfc3339, Millis};
use crate::runtime::QueuedMessage;

pub struct BatchWriter {
    now: Millis,
    earns: Vec<NewEarn>,
    /// Per store, per customer: the last tier set.
    tiers: std::collections::BTreeMap<String, std::collections::BTreeMap<String, Option<String>>>,
    state: Vec<(String, String, String, Option<Vec<u8>>)>,
    outcomes: Vec<(String, String, Outcome)>,
}

impl BatchWriter {
    pub fn new(now: Millis) -> Self {
        BatchWriter {
            now,
            earns: Vec::new(),
            tiers: Default::default(),
            state: Vec::new(),
            outcomes: Vec::new(),
        }
    }

    /// Applies one call's ledger ops; returns what was done.
    /// `order`: the order the event names, kept with the entries so that
    /// an install can ask what it earned for it (contract 0.5.0).
    pub async fn ops(
        &mut self,
        tx: &mut Tx,
        t: &Subject<'_>,
        ops: &[LedgerOp],
        order: Option<&str>,
    ) -> DbResult<Vec<Effect>> {
        let spends = ops.iter().any(|op| matches!(op, LedgerOp::Deduct { .. }));
        if spends {
            // A deduction consumes lots: everything before it must be in place.
            self.flush(tx).await?;
        }
        let account = Subject { now: self.now, ..*t };
        let mut effects = Vec::with_capacity(ops.len());
        for op in ops {
            match op {
                LedgerOp::Earn { points, reason, expires_at } => {
                    let id = if spends {
                        ledger::earn(&mut *tx, &account, *points, reason, *expires_at, order)
                            .await?
                            .id
                    } else {
                        let id = random_id("pts");
                        self.earns.push(NewEarn {
                            id: id.clone(),
                            store: t.store.to_string(),
                            customer: t.customer.to_string(),
                            points: *points,
                            reason: reason.clone(),
                            event_id: t.event_id.unwrap_or_default().to_string(),
                            install_id: t.install().to_string(),
                            expires_at: *expires_at,
                            order_id: order.map(str::to_string),
                        });
                        id
                    };
                    effects.push(Effect::Earn {
                        points: *points,
                        reason: reason.clone(),
                        entry_id: id,
                        expires_at: expires_at.map(to_rfc3339),
                    });
                }
                LedgerOp::Deduct { points, reason } => {
                    // Expired points must not be spent by a deduction.
                    ledger::expire_customer(&mut *tx, t.store, t.customer, self.now).await?;
                    let e =
                        ledger::take(&mut *tx, &account, *points, EntryKind::Deduct, reason, order)
                            .await?;
                    let applied = e.as_ref().map_or(0, |e| -e.points);
                    effects.push(Effect::Deduct {
                        points: applied,
                        requested: *points,
                        reason: reason.clone(),
                        entry_id: e.map(|e| e.id),
                    });
                }
                LedgerOp::SetTier { tier } => {
                    self.tiers
                        .entry(t.store.to_string())
                        .or_default()
                        .insert(t.customer.to_string(), tier.clone());
                    effects.push(Effect::SetTier { tier: tier.clone() });
                }
            }
        }
        Ok(effects)
    }

    /// Queues the messages a call sent.
    pub async fn messages(
        &mut self,
        tx: &mut Tx,
        t: &Subject<'_>,
        outbox: Vec<QueuedMessage>,
    ) -> DbResult<Vec<Effect>> {
        let mut effects = Vec::with_capacity(outbox.len());
        for m in outbox {
            effects.push(Effect::Message {
                message_id: m.id.clone(),
                channel: m.channel.clone(),
                template: m.template.clone(),
                customer_id: Some(m.customer_id.clone()),
                flow_id: None,
                step: None,
            });
            let mut msg =
                messages::Message::queued(m.id, m.customer_id, t.install().to_string(), self.now);
            msg.event_id = t.event_id.map(str::to_string);
            msg.channel = m.channel;
            msg.template = m.template;
            msg.vars = m.vars;
            messages::insert(&mut *tx, t.store, &msg).await?;
        }
        Ok(effects)
    }

    pub fn state(
        &mut self,
        t: &Subject<'_>,
        writes: std::collections::BTreeMap<String, Option<Vec<u8>>>,
    ) {
        for (key, value) in writes {
            self.state.push((t.install().to_string(), t.customer.to_string(), key, value));
        }
    }

    pub fn outcome(&mut self, store: &str, event_id: &str, outcome: Outcome) {
        self.outcomes.push((store.to_string(), event_id.to_string(), outcome));
    }

    /// Writes the earns and tiers collected so far.
    async fn flush(&mut self, tx: &mut Tx) -> DbResult<()> {
        if !self.earns.is_empty() {
            ledger::earn_many(&mut *tx, &self.earns, self.now).await?;
            self.earns.clear();
        }
        for (store, tiers) in std::mem::take(&mut self.tiers) {
            let tiers: Vec<(String, Option<String>)> = tiers.into_iter().collect();
            customers::set_tiers(&mut *tx, &store, &tiers, self.now).await?;
        }
        Ok(())
    }

    /// Writes everything collected.
    pub async fn finish(mut self, tx: &mut Tx) -> DbResult<()> {
        self.flush(tx).await?;
        state::apply_many(&mut *tx, &self.state).await?;
        crate::db::outcomes::insert_many(&mut *tx, &self.outcomes, self.now).await?;
        Ok(())
    }
}
