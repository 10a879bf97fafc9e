//! `segmenter`: a population fit makes a model; each event of a customer
//! (but the host's own segment changes) re-classifies them, and so does
//! every fit, for everyone. Membership changes become `segment.*` events.

use super::{Applying, CallArgs, CallResult, Decision, Loaded, Refit, Refitted, Sinks};
use crate::db::{models, segments, state, Conn, DbResult};
use crate::domain::effect::Effect;
use crate::domain::event::Event;
use crate::domain::segment::Membership;
use crate::pipeline::fits::Fitter;
use crate::pipeline::segments::{is_segment_event, Classified, SegmentWriter};
use crate::pipeline::PipelineResult;
use crate::runtime::{CallInput, Runtime};

pub async fn load(conn: &mut Conn, install_id: &str, customers: &[&str]) -> DbResult<Loaded> {
    Ok(Loaded::Segmenter {
        model: models::bytes(conn, install_id).await?,
        memberships: segments::of_customers(conn, install_id, customers).await?,
    })
}

/// Every event of the customer but the host's own segment changes.
pub fn concerns(e: &Event) -> bool {
    !is_segment_event(&e.event_type)
}

pub fn decide(rt: &Runtime, a: CallArgs<'_>, input: CallInput) -> CallResult {
    let Loaded::Segmenter { model, .. } = a.loaded else {
        unreachable!("a segmenter's install loads a model");
    };
    let e = a.event;
    rt.classify(a.plugin, input, a.config, model, a.customer, e.occurred_at)
        .map(|o| o.map(Decision::Segments))
}

/// Replaces the customer's memberships by the new ones.
pub fn apply(sinks: &mut Sinks, at: &Applying<'_>, list: &[Membership]) -> Vec<Effect> {
    let Loaded::Segmenter { memberships, .. } = at.loaded else {
        unreachable!("a segmenter's install loads memberships");
    };
    let who = Classified {
        store: at.target.store,
        install_id: at.target.install_id,
        plugin: at.plugin,
        customer: at.target.customer,
        as_of: at.event.occurred_at,
        cause: &at.event.id,
    };
    sinks.segments.apply(&who, memberships.get(at.target.customer), list)
}

/// Re-classifies every customer with the new model, in one transaction.
pub async fn refit(p: &Fitter, r: &mut Refit<'_>) -> PipelineResult<Refitted> {
    let old = {
        let mut conn = p.db.pool.acquire().await?;
        segments::of_install(&mut conn, &r.install.install_id).await?
    };
    let (people, plugin, pid, config, model, as_of) =
        (r.people, r.plugin, r.pid, r.config, r.model, r.as_of);
    let results = p.for_everyone(people, pid, |c| {
        let input = r.input(&c.id);
        p.runtime.classify(plugin, input, config, model, c, as_of)
    });
    let cause = format!("fit:{}:{}", r.install.install_id, r.now);
    let mut writer = SegmentWriter::new(r.now);
    let sorted = r.sort(results);
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
    let mut tx = p.db.begin_store(r.store).await?;
    p.cluster.confirm_store(&mut tx, r.store).await?;
    writer.finish(&mut tx).await?;
    state::apply_many(&mut tx, &sorted.state_writes).await?;
    tx.commit().await?;
    Ok(sorted.done)
}
