//! `point-rules`: every event may earn, deduct or set a tier. A campaign
//! install (`domain::campaign`) decides on the events of its window, may
//! only earn (and take back on a refund what it earned for that order),
//! and its earns are cut to what its budgets have left.

use std::collections::HashMap;

use super::{Applying, BatchScope, CallArgs, CallResult, Decision};
use crate::db::{ledger, Conn, DbResult, Tx};
use crate::domain::campaign::Campaign;
use crate::domain::effect::Effect;
use crate::domain::event::Event;
use crate::domain::ledger::LedgerOp;
use crate::pipeline::effects::BatchWriter;
use crate::pipeline::PipelineResult;
use crate::runtime::{CallInput, Runtime, RuntimeError};

/// A point-rules install's batch: nothing for the base rules; a
/// campaign's terms and what it has issued so far.
pub struct Unit {
    campaign: Option<CampaignBudget>,
}

struct CampaignBudget {
    terms: Campaign,
    /// Net points issued, in all and per customer (the batch's).
    issued: i64,
    issued_to: HashMap<String, i64>,
}

impl Unit {
    pub async fn load(conn: &mut Conn, scope: &BatchScope<'_>) -> DbResult<Unit> {
        let Some(terms) = scope.campaign else {
            return Ok(Unit { campaign: None });
        };
        let (issued, issued_to) =
            ledger::issued_by(conn, scope.store, scope.install_id, scope.customers).await?;
        Ok(Unit { campaign: Some(CampaignBudget { terms: terms.clone(), issued, issued_to }) })
    }

    /// The base rules, as `plugin run` runs them.
    pub fn local() -> Unit {
        Unit { campaign: None }
    }

    /// Point rules see every event; a campaign, those of its window.
    pub fn concerns(&self, e: &Event) -> bool {
        self.campaign.as_ref().is_none_or(|c| c.terms.covers(e))
    }

    pub fn decide(&self, rt: &Runtime, a: CallArgs<'_>, input: CallInput) -> CallResult {
        let out = rt.on_event(a.plugin, input, a.config, a.customer, a.event, a.order_total)?;
        if self.campaign.is_some() {
            Campaign::check_ops(&out.value, a.event).map_err(RuntimeError::InvalidOutput)?;
        }
        Ok(out.map(Decision::Ledger))
    }

    /// Applies the ledger ops in order (a deduction at once, earns
    /// collected by the batch's writer). A call run again after a later
    /// event set the customer's tier (on statistics that include this
    /// event) sets no tier: decided as of before that event, it is out of
    /// date.
    pub async fn apply(
        &mut self,
        tx: &mut Tx,
        writer: &mut BatchWriter,
        at: &Applying<'_>,
        mut ops: Vec<LedgerOp>,
    ) -> PipelineResult<Vec<Effect>> {
        if at.tier_moved {
            ops.retain(|op| !matches!(op, LedgerOp::SetTier { .. }));
        }
        let order = at.event.order_id();
        let Some(c) = &mut self.campaign else {
            return Ok(writer.ops(tx, &at.target, &ops, order).await?);
        };
        let t = &at.target;
        let mut cuts = Vec::new();
        let mut granted = Vec::with_capacity(ops.len());
        let mut issued_to = c.issued_to.get(t.customer).copied().unwrap_or(0);
        for op in ops {
            match op {
                LedgerOp::Earn { points, reason, expires_at } => {
                    let left_total = c.terms.budget_points.map_or(i64::MAX, |b| b - c.issued);
                    let left_mine = c.terms.budget_per_customer.map_or(i64::MAX, |b| b - issued_to);
                    let allowed = points.min(left_total).min(left_mine).max(0);
                    if allowed < points {
                        cuts.push(Effect::CampaignCut {
                            requested: points,
                            points: allowed,
                            why: if left_total <= left_mine {
                                "campaign budget".into()
                            } else {
                                "campaign budget per customer".into()
                            },
                        });
                    }
                    if allowed > 0 {
                        c.issued += allowed;
                        issued_to += allowed;
                        granted.push(LedgerOp::Earn { points: allowed, reason, expires_at });
                    }
                }
                LedgerOp::Deduct { points, reason } => {
                    // At most what it earned for the refunded order.
                    let earned = match order {
                        Some(o) => {
                            ledger::of_order(tx, t.store, t.install(), o).await?.left_to_take_back()
                        }
                        None => 0,
                    };
                    let allowed = points.min(earned);
                    if allowed < points {
                        cuts.push(Effect::CampaignCut {
                            requested: -points,
                            points: -allowed,
                            why: format!("a campaign takes back at most what it earned for the order ({earned})"),
                        });
                    }
                    if allowed > 0 {
                        c.issued -= allowed;
                        issued_to -= allowed;
                        granted.push(LedgerOp::Deduct { points: allowed, reason });
                    }
                }
                LedgerOp::SetTier { .. } => unreachable!("refused when decided"),
            }
        }
        c.issued_to.insert(t.customer.to_string(), issued_to);
        let mut effects = writer.ops(tx, t, &granted, order).await?;
        effects.extend(cuts);
        Ok(effects)
    }
}
