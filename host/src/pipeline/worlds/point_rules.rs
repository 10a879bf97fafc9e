//! `point-rules`: every event may earn, deduct or set a tier.

use super::{Applying, CallArgs, CallResult, Decision, Sinks};
use crate::db::Tx;
use crate::domain::effect::Effect;
use crate::domain::event::Event;
use crate::domain::ledger::LedgerOp;
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

/// Applies the ledger ops in order (a deduction at once, earns collected).
pub async fn apply(
    tx: &mut Tx,
    sinks: &mut Sinks,
    at: &Applying<'_>,
    ops: &[LedgerOp],
) -> PipelineResult<Vec<Effect>> {
    Ok(sinks.writer.ops(tx, &at.target, ops).await?)
}
