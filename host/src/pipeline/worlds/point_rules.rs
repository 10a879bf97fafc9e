//! `point-rules`: every event may earn, deduct or set a tier.

use super::{Applying, CallArgs, CallResult, Decision};
use crate::db::Tx;
use crate::domain::effect::Effect;
use crate::domain::event::Event;
use crate::domain::ledger::LedgerOp;
use crate::pipeline::effects::BatchWriter;
use crate::pipeline::PipelineResult;
use crate::runtime::{CallInput, Runtime};

/// Point rules see every event.
pub fn concerns(_e: &Event) -> bool {
    true
}

pub fn decide(rt: &Runtime, a: CallArgs<'_>, input: CallInput) -> CallResult {
    rt.on_event(a.plugin, input, a.config, a.customer, a.event, a.order_total)
        .map(|o| o.map(Decision::Ledger))
}

/// Applies the ledger ops in order (a deduction at once, earns collected
/// by the batch's writer). A call run again after a later event set the
/// customer's tier (on statistics that include this event) sets no tier:
/// decided as of before that event, it is out of date.
pub async fn apply(
    tx: &mut Tx,
    writer: &mut BatchWriter,
    at: &Applying<'_>,
    mut ops: Vec<LedgerOp>,
) -> PipelineResult<Vec<Effect>> {
    if at.tier_moved {
        ops.retain(|op| !matches!(op, LedgerOp::SetTier { .. }));
    }
    Ok(writer.ops(tx, &at.target, &ops, at.event.order_id()).await?)
}
