//! Intake: events are committed before any plugin runs.

use std::time::{Duration, Instant};

use serde::Serialize;

use std::sync::atomic::Ordering;

use super::{Pipeline, PipelineError, PipelineResult};

/// How often a waiting request looks whether its events were processed
/// (by any node) when this node did not say so first.
const WAIT_POLL: Duration = Duration::from_millis(50);
use crate::db::outcomes::Outcome;
use crate::db::{events, outcomes};
use crate::domain::event::Event;
use crate::domain::states::EventStatus;
use crate::domain::time::now_ms;

#[derive(Debug, Clone)]
pub struct Accepted {
    pub event_id: String,
    pub seq: i64,
    pub duplicate: bool,
}

/// One event's result, as `?wait=true` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventResult {
    pub event_id: String,
    pub status: EventStatus,
    pub duplicate: bool,
    /// Every effect the installs' decisions had, in the order applied.
    #[schema(value_type = Vec<crate::domain::effect::Effect>)]
    pub effects: Vec<crate::domain::effect::Effect>,
    pub installs: Vec<Outcome>,
}

/// Why a batch naming erased customers is refused, event by event.
fn erased_refusal(store: &str, batch: &[Event], erased: &[String]) -> String {
    let named: Vec<String> = batch
        .iter()
        .enumerate()
        .filter(|(_, e)| erased.contains(&e.customer_id))
        .take(10)
        .map(|(i, e)| format!("events[{i}] (customer `{}`)", e.customer_id))
        .collect();
    format!(
        "the customer was erased at the store's request, and no event of theirs is taken: {}; \
         nothing of this batch was stored. To take a customer of that id again, create them \
         explicitly first (PUT /v1/stores/{store}/customers/<id>)",
        named.join(", ")
    )
}

impl Pipeline {
    /// Commits the events (a repeated `(store, id)` is kept as it was) and
    /// hands the store to a worker.
    pub async fn ingest(&self, store: &str, batch: &[Event]) -> PipelineResult<Vec<Accepted>> {
        let pending = self.signals.pending.load(Ordering::Relaxed);
        if pending + batch.len() as i64 > self.config.max_pending {
            self.metrics.intake_refused.increment(1);
            return Err(PipelineError::Busy { pending, max: self.config.max_pending });
        }
        let now = now_ms();
        // Not the store's lock: intake does not read-then-write the
        // store's data (a repeated id is left to the unique key), so it
        // need not wait for a batch's commit. A customer's events sent one
        // request after another are numbered, and so applied, in order.
        let mut tx = self.db.begin_intake().await?;
        let mut customers: Vec<&str> = batch.iter().map(|e| e.customer_id.as_str()).collect();
        customers.sort_unstable();
        customers.dedup();
        let erased = self.erased_in(&mut tx, store, &customers).await?;
        if !erased.is_empty() {
            tx.rollback().await?;
            return Err(PipelineError::Conflict(erased_refusal(store, batch, &erased)));
        }
        let mut new = events::insert_many(&mut tx, store, batch, now).await?;
        let mut accepted = Vec::with_capacity(batch.len());
        for e in batch {
            let accepted_event = match new.remove(&e.id) {
                Some(seq) => Accepted { event_id: e.id.clone(), seq, duplicate: false },
                None => Accepted {
                    event_id: e.id.clone(),
                    seq: events::status_of(&mut tx, store, &e.id).await?.map_or(0, |(seq, _)| seq),
                    duplicate: true,
                },
            };
            accepted.push(accepted_event);
        }
        tx.commit().await?;
        let dups = accepted.iter().filter(|a| a.duplicate).count() as u64;
        self.signals.pending.fetch_add(accepted.len() as i64 - dups as i64, Ordering::Relaxed);
        self.metrics.events_ingested.increment(accepted.len() as u64 - dups);
        self.metrics.events_duplicate.increment(dups);
        self.mark_store(store);
        Ok(accepted)
    }

    /// Waits until every accepted event is processed (or `timeout` passes).
    pub async fn wait_processed(
        &self,
        accepted: &[Accepted],
        timeout: Duration,
    ) -> PipelineResult<()> {
        let (Some(from), Some(to)) =
            (accepted.iter().map(|a| a.seq).min(), accepted.iter().map(|a| a.seq).max())
        else {
            return Ok(());
        };
        let deadline = Instant::now() + timeout;
        let mut updates = self.processed_updates();
        loop {
            let pending = {
                let mut conn = self.db.pool.acquire().await?;
                events::pending_between(&mut conn, from, to).await?
            };
            if pending == 0 {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            // Another node may process them: look again now and then.
            let _ = tokio::time::timeout(left.min(WAIT_POLL), updates.changed()).await;
        }
    }

    /// One event's result, if the store has the event.
    pub async fn event_result(&self, store: &str, id: &str) -> PipelineResult<Option<EventResult>> {
        let seq = {
            let mut conn = self.db.pool.acquire().await?;
            events::status_of(&mut conn, store, id).await?
        };
        let Some((seq, _)) = seq else {
            return Ok(None);
        };
        let accepted = Accepted { event_id: id.to_string(), seq, duplicate: false };
        Ok(self.results(store, &[accepted]).await?.pop())
    }

    pub async fn results(
        &self,
        store: &str,
        accepted: &[Accepted],
    ) -> PipelineResult<Vec<EventResult>> {
        let mut conn = self.db.pool.acquire().await?;
        let mut out = Vec::with_capacity(accepted.len());
        for a in accepted {
            let status = events::status_of(&mut conn, store, &a.event_id)
                .await?
                .map(|(_, s)| s)
                .unwrap_or(EventStatus::Pending);
            let installs = outcomes::for_event(&mut conn, store, &a.event_id).await?;
            let effects = installs.iter().flat_map(|o| o.effects.iter().cloned()).collect();
            out.push(EventResult {
                event_id: a.event_id.clone(),
                status,
                duplicate: a.duplicate,
                effects,
                installs,
            });
        }
        Ok(out)
    }
}
