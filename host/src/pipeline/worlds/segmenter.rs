//! `segmenter`: a population fit makes a model; each event of a customer
//! (but the host's own segment changes) re-classifies them, and so does
//! every fit, for everyone. Membership changes become `segment.*` events.

use std::collections::HashMap;

use super::segments::{is_segment_event, Classified, SegmentWriter};
use super::{Applying, BatchScope, CallArgs, CallResult, Decision};
use super::{Changes, Refit, Refitted, Rewrite, Sorted};
use crate::db::segments::Memberships;
use crate::db::{models, segments, Conn, DbResult, Tx};
use crate::domain::effect::Effect;
use crate::domain::event::Event;
use crate::domain::segment::Membership;
use crate::pipeline::PipelineResult;
use crate::runtime::{CallInput, Runtime};

/// A segmenter's batch: its model, the customers' memberships, and the
/// changes decided.
pub struct Unit {
    /// The latest fitted model (empty before the first fit).
    model: Vec<u8>,
    memberships: HashMap<String, Memberships>,
    writer: SegmentWriter,
}

impl Unit {
    pub async fn load(conn: &mut Conn, scope: &BatchScope<'_>) -> DbResult<Unit> {
        Ok(Unit {
            model: models::bytes(conn, scope.install_id).await?,
            memberships: segments::of_customers(conn, scope.install_id, scope.customers).await?,
            writer: SegmentWriter::new(scope.now),
        })
    }

    pub fn local(model: Vec<u8>) -> Unit {
        Unit { model, memberships: HashMap::new(), writer: SegmentWriter::new(0) }
    }

    pub fn decide(&self, rt: &Runtime, a: CallArgs<'_>, input: CallInput) -> CallResult {
        let e = a.event;
        rt.classify(a.plugin, input, a.config, &self.model, a.customer, e.occurred_at)
            .map(|o| o.map(Decision::Segments))
    }

    /// Replaces the customer's memberships by the new ones.
    pub fn apply(&mut self, at: &Applying<'_>, list: &[Membership]) -> Vec<Effect> {
        let who = Classified {
            store: at.target.store,
            install_id: at.target.install(),
            plugin: at.plugin,
            customer: at.target.customer,
            as_of: at.event.occurred_at,
            cause: &at.event.id,
        };
        self.writer.apply(&who, self.memberships.get(at.target.customer), list)
    }

    /// Writes the changes; returns how many segment events they queued.
    pub async fn finish(&mut self, tx: &mut Tx) -> DbResult<usize> {
        let now = self.writer.now();
        std::mem::replace(&mut self.writer, SegmentWriter::new(now)).finish(tx).await
    }
}

/// Every event of the customer but the host's own segment changes.
pub fn concerns(e: &Event) -> bool {
    !is_segment_event(&e.event_type)
}

/// Gives every customer the memberships the fit assigned, or (a fit that
/// assigned none) re-classifies each with the new model.
pub async fn refit(conn: &mut Conn, r: &mut Refit<'_>) -> PipelineResult<Rewrite> {
    let old = segments::of_install(conn, &r.install.install_id).await?;
    let (plugin, config, model, as_of) = (r.plugin, r.config, r.model, r.as_of);
    let sorted = match r.assigned.take() {
        Some(lists) => Sorted {
            done: Refitted { updated: lists.len(), failed: 0 },
            state_writes: Vec::new(),
            values: r.people.iter().zip(lists).collect(),
        },
        None => r.for_everyone(|r, c| {
            let input = r.input(&c.id);
            r.runtime.classify(plugin, input, config, model, c, as_of)
        }),
    };
    let cause = format!("fit:{}:{}", r.install.install_id, r.now);
    let mut writer = SegmentWriter::new(r.now);
    for (c, list) in &sorted.values {
        let who = Classified {
            store: r.store,
            install_id: &r.install.install_id,
            plugin: r.pid,
            customer: &c.id,
            as_of,
            cause: &cause,
        };
        writer.apply(&who, old.get(&c.id), list);
    }
    Ok(Rewrite {
        done: sorted.done,
        state_writes: sorted.state_writes,
        changes: Changes::Segments(writer),
    })
}
