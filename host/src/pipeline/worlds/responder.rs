//! `responder` (contract 0.5.0): each event of a customer may queue
//! messages, grant points, set or cancel the customer's timers and give a
//! complaint its due time. Its timers run in `timers.rs`.

use super::{Applying, CallArgs, CallResult, Decision};
use crate::db::Tx;
use crate::domain::effect::Effect;
use crate::domain::reaction::Reaction;
use crate::pipeline::reactions;
use crate::pipeline::PipelineResult;
use crate::runtime::{CallInput, Runtime};

/// A responder hears what a segmenter re-classifies on: every event but
/// the host's own segment changes.
pub use super::segmenter::concerns;

pub fn decide(rt: &Runtime, a: CallArgs<'_>, input: CallInput) -> CallResult {
    rt.react(a.plugin, input, a.config, a.customer, a.event, a.order_total)
        .map(|o| o.map(Decision::Reactions))
}

pub async fn apply(
    tx: &mut Tx,
    at: &Applying<'_>,
    list: Vec<Reaction>,
) -> PipelineResult<Vec<Effect>> {
    Ok(reactions::apply(tx, &at.target, &list).await?)
}
