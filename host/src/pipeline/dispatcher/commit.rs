//! Phase 4: in one transaction — the claims checked, every call settled
//! (its decision applied through its world's unit, or its failure
//! recorded), the units' sinks, the plugins' lines and the installs'
//! counters written, and the batch's events marked.

use std::collections::{HashMap, HashSet};

use super::failures::{tail, Failed};
use super::{
    Attempted, BatchInstall, BatchRef, Dispatcher, Facts, Inputs, Made, Ran, Settled, Settling,
};
use crate::db::events::StoredEvent;
use crate::db::installs::Install;
use crate::db::outcomes::Outcome;
use crate::db::{attempts, events, installs, plugin_logs, Conn, Tx};
use crate::domain::states::OutcomeStatus;
use crate::domain::time::Millis;
use crate::metrics::CallRecord;
use crate::pipeline::effects::{BatchWriter, Subject};
use crate::pipeline::worlds::{Applying, Decision};
use crate::pipeline::{PipelineError, PipelineResult};
use crate::runtime::{CallOutput, LogLine};

/// What a batch's commit did.
pub(super) struct Committed {
    /// Events it queued (segment changes).
    pub emitted: usize,
    /// Events it finished.
    pub processed: usize,
    /// When the first of the others (waiting for a retry) is due.
    pub retry_at: Option<Millis>,
}

impl Dispatcher {
    pub(super) async fn commit_results(
        &self,
        store: &str,
        batch: &[StoredEvent],
        facts: &Facts,
        inputs: &mut Inputs,
        results: Vec<Ran>,
        now: Millis,
    ) -> PipelineResult<Committed> {
        let mut tx = self.db.begin_store(store).await?;
        self.check_claims(&mut tx, store, &inputs.installs).await?;
        let mut s = Settling {
            writer: BatchWriter::new(now),
            made: Vec::with_capacity(results.len()),
            retry_at: vec![None; batch.len()],
            ran: HashSet::new(),
            lines: Vec::new(),
        };
        let b = BatchRef { store, events: batch, now };
        for ran in results {
            self.settle(&mut tx, &mut s, &b, inputs, ran).await?;
        }
        self.dead_again(&mut tx, batch, inputs, &s.ran).await?;
        write_lines(&mut tx, batch, inputs, &s.lines, now).await?;
        let Settling { writer, made, retry_at, .. } = s;
        writer.finish(&mut tx).await?;
        let mut emitted = 0;
        for bi in &mut inputs.installs {
            emitted += bi.unit.finish(&mut tx).await?;
        }
        let rolled_back = self.record_installs(&mut tx, store, &inputs.installs, now).await?;
        let processed = close_batch(&mut tx, store, batch, facts, &retry_at, now).await?;
        tx.commit().await?;
        for (install, why) in &rolled_back {
            tracing::warn!(store, install = %install, reason = %why, "canary rolled back");
        }
        self.record_metrics(store, &inputs.installs, &made);
        Ok(Committed { emitted, processed, retry_at: retry_at.iter().flatten().min().copied() })
    }

    /// One pair's call: its decision applied, or its failure recorded.
    async fn settle(
        &self,
        tx: &mut Tx,
        s: &mut Settling,
        b: &BatchRef<'_>,
        inputs: &mut Inputs,
        ran: Ran,
    ) -> PipelineResult<()> {
        let (i, k) = (ran.event, ran.install);
        s.ran.insert((i, k));
        let Attempted { result, elapsed, fuel, lines } = ran.attempt;
        let pid = inputs.installs[k].arm(ran.canary).pid.clone();
        let last_lines = match &result {
            Ok(Ok(_)) => Vec::new(),
            _ => tail(&lines),
        };
        s.lines.extend(lines.into_iter().map(|l| (k, i, pid.clone(), l)));
        let (canary, prior) = (ran.canary, ran.prior);
        let at = Settled { event: i, install: k, pid, elapsed, fuel, canary, prior };
        let failed = match result {
            Ok(Ok(out)) => {
                let bi = &mut inputs.installs[k];
                return self.apply_decision(tx, s, b, bi, at, out).await;
            }
            Ok(Err(err)) => Failed::of_call(&err, last_lines),
            Err(not_run) => Failed::of_not_run(not_run, last_lines),
        };
        if failed.counts {
            s.made.push(Made { install: k, code: failed.code, elapsed, fuel, canary });
        }
        self.record_failure(tx, s, b, inputs, at, failed).await
    }

    /// Applies a call's decision through its world's unit, with the
    /// messages it queued and the state it wrote; resolves its earlier
    /// failure.
    async fn apply_decision(
        &self,
        tx: &mut Tx,
        s: &mut Settling,
        b: &BatchRef<'_>,
        bi: &mut BatchInstall,
        at: Settled,
        out: CallOutput<Decision>,
    ) -> PipelineResult<()> {
        let (store, now, e) = (b.store, b.now, &b.events[at.event].event);
        let install_id = bi.install.install_id.clone();
        let applying = Applying {
            target: Subject {
                store,
                install_id: Some(&install_id),
                customer: &e.customer_id,
                event_id: Some(&e.id),
                now,
            },
            plugin: &at.pid,
            event: e,
            tier_moved: at.prior.is_some_and(|p| p.tier_moved),
        };
        let CallOutput { value, state, outbox, .. } = out;
        let mut fx = bi.unit.apply(tx, &mut s.writer, &applying, value).await?;
        fx.extend(s.writer.messages(tx, &applying.target, outbox).await?);
        s.writer.state(&applying.target, state.writes);
        if let Some(prior) = at.prior {
            crate::db::failures::resolve(tx, prior.id, now).await?;
        }
        let outcome = Outcome {
            install_id,
            plugin: at.pid.clone(),
            status: OutcomeStatus::Ok,
            error_code: None,
            error: None,
            effects: fx,
            elapsed_us: at.elapsed.as_micros() as i64,
            fuel: at.fuel.map(|f| f as i64),
            logs: Vec::new(),
        };
        s.made.push(Made {
            install: at.install,
            code: "ok",
            elapsed: at.elapsed,
            fuel: at.fuel,
            canary: at.canary,
        });
        s.writer.outcome(store, &e.id, outcome);
        Ok(())
    }

    /// In the batch's commit: this node still holds the store, and every
    /// install the batch ran is still the plugin, version and config it
    /// ran. Otherwise the batch is stale and rolls back: another node took
    /// the store over, or an install was swapped or reconfigured while the
    /// batch ran; its events then run again, on what is installed now, so
    /// no event is decided by a version after the change that replaced it
    /// was answered. (An install disabled meanwhile keeps the decisions of
    /// the calls it had begun, like a breaker trip.)
    async fn check_claims(
        &self,
        tx: &mut Conn,
        store: &str,
        ran: &[BatchInstall],
    ) -> PipelineResult<()> {
        self.cluster.confirm_store(tx, store).await?;
        let now: HashMap<String, Install> = installs::list(tx, store)
            .await?
            .into_iter()
            .map(|i| (i.install_id.clone(), i))
            .collect();
        let changed = ran.iter().filter(|bi| bi.calls > 0).find(|bi| {
            let b = &bi.install;
            now.get(&b.install_id).is_none_or(|a| a.decides_as() != b.decides_as())
        });
        if let Some(bi) = changed {
            return Err(PipelineError::Stale(format!(
                "install {} changed while the batch ran",
                bi.install.install_id
            )));
        }
        Ok(())
    }

    /// Each install's calls counted, a breaker's trip recorded, shadow
    /// and canary counts added; returns the canaries rolled back, and why.
    async fn record_installs(
        &self,
        tx: &mut Tx,
        store: &str,
        list: &[BatchInstall],
        now: Millis,
    ) -> PipelineResult<Vec<(String, String)>> {
        let mut rolled_back = Vec::new();
        for bi in list.iter().filter(|bi| bi.calls > 0) {
            let install = &bi.install;
            let tripped = bi.tripped.as_ref().map(|(why, _)| why.as_str());
            let id = &install.install_id;
            installs::record_calls(tx, id, bi.calls, bi.failures, bi.consecutive, tripped, now)
                .await?;
            if let Some(why) = tripped.filter(|_| install.enabled) {
                tracing::error!(store, install = %id, plugin = %bi.live.pid, "install {why}");
                crate::pipeline::installs::record_host_change(
                    tx, install, "breaker", "trip", why, now,
                )
                .await?;
                self.metrics.breaker_tripped(store, &install.plugin, &install.version);
            }
            if let Some(why) = self.tally_rollouts(tx, bi, now).await? {
                rolled_back.push((id.clone(), why));
            }
        }
        Ok(rolled_back)
    }

    fn record_metrics(&self, store: &str, list: &[BatchInstall], made: &[Made]) {
        for m in made {
            let bi = &list[m.install];
            self.metrics.record_call(&CallRecord {
                store,
                install: &bi.install.install_id,
                plugin: &bi.install.plugin,
                version: &bi.arm(m.canary).version,
                code: m.code,
                elapsed_us: m.elapsed.as_micros().min(u128::from(u32::MAX)) as u32,
                fuel: m.fuel,
            });
        }
    }
}

/// The plugins' lines of the batch, kept.
async fn write_lines(
    tx: &mut Tx,
    batch: &[StoredEvent],
    inputs: &Inputs,
    lines: &[(usize, usize, String, LogLine)],
    now: Millis,
) -> PipelineResult<()> {
    let rows: Vec<plugin_logs::NewLine> = lines
        .iter()
        .map(|(k, i, pid, l)| {
            (
                inputs.installs[*k].install.install_id.as_str(),
                Some(batch[*i].event.id.as_str()),
                pid.as_str(),
                l.level.as_str(),
                l.stream.as_str(),
                l.message.as_str(),
            )
        })
        .collect();
    plugin_logs::append(tx, &rows, now).await?;
    Ok(())
}

/// The batch's events marked: processed, or due again at their retry; the
/// batch's open mark removed, and the journal of its suspect events with
/// it. Returns how many were processed.
async fn close_batch(
    tx: &mut Tx,
    store: &str,
    batch: &[StoredEvent],
    facts: &Facts,
    retry_at: &[Option<Millis>],
    now: Millis,
) -> PipelineResult<usize> {
    let done: Vec<i64> =
        batch.iter().zip(retry_at).filter(|(_, r)| r.is_none()).map(|(ev, _)| ev.seq).collect();
    events::mark_processed_many(tx, &done, now).await?;
    for (ev, at) in batch.iter().zip(retry_at) {
        if let Some(at) = at {
            events::retry_at(tx, ev.seq, *at).await?;
        }
    }
    events::end_batch(tx, store).await?;
    if let Some(to) = facts.open_to {
        // The suspect events are done: their journal is no longer needed.
        let done: Vec<&str> =
            batch.iter().filter(|ev| ev.seq <= to).map(|ev| ev.event.id.as_str()).collect();
        attempts::forget(tx, store, &done).await?;
    }
    Ok(done.len())
}
