//! The scheduler: every tick, lots past `expires_at` become `expire`
//! entries (also done for a customer before their balance is read or
//! spent) and (by the node that holds the expiry job) PostgreSQL's
//! planner statistics are kept fresh, and each store's raw events past
//! its retention are deleted once a day. Beside it, on its own shorter
//! tick, the SQLite write-ahead log is checkpointed.

use std::sync::Arc;
use std::time::Duration;

use super::cluster::{Cluster, EXPIRY};
use super::{Pipeline, PipelineResult};
use crate::db::{ledger, Db};
use crate::domain::time::{now_ms, Millis};

/// The expiry sweeper's part of the pipeline.
pub(crate) struct Expiry {
    pub db: Db,
    pub cluster: Arc<Cluster>,
    pub every: Duration,
}

impl Expiry {
    pub(super) async fn run(self) {
        let mut tick = tokio::time::interval(self.every);
        loop {
            tick.tick().await;
            match self.cluster.hold(EXPIRY).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    if super::outage_pause(&self.db, &e).is_none() {
                        tracing::warn!(error = %e, "could not claim point expiry; will retry");
                    }
                    continue;
                }
            }
            match self.db.refresh_statistics().await {
                Ok(tables) if !tables.is_empty() => {
                    tracing::debug!(?tables, "planner statistics refreshed")
                }
                Ok(_) => {}
                Err(e) if self.db.health.away(&e) => {}
                Err(e) => tracing::warn!(error = %e, "could not refresh planner statistics"),
            }
            match expire_due(&self.db, now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(customers = n, "expired due points"),
                Err(e) if super::outage_pause(&self.db, &e).is_some() => {}
                Err(e) => tracing::error!(error = %e, "point expiry failed; will retry"),
            }
            // Each store's raw events past its retention, once a day.
            match super::privacy::sweep_events(&self.db, now_ms()).await {
                Ok(_) => {}
                Err(e) if super::outage_pause(&self.db, &e).is_some() => {}
                Err(e) => tracing::error!(error = %e, "the retention sweep failed; will retry"),
            }
        }
    }
}

/// Checkpoints the SQLite write-ahead log every `every`: often enough
/// that the part copied while writers wait stays small.
pub(super) async fn checkpoint(db: Db, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = db.checkpoint().await {
            if !db.health.away(&e) {
                tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
            }
        }
    }
}

impl Pipeline {
    /// Expires every lot due at `now`; returns how many customers had some.
    pub async fn expire_due(&self, now: Millis) -> PipelineResult<usize> {
        expire_due(&self.db, now).await
    }
}

async fn expire_due(db: &Db, now: Millis) -> PipelineResult<usize> {
    let mut total = 0;
    loop {
        let due = {
            let mut conn = db.pool.acquire().await?;
            ledger::due_for_expiry(&mut conn, now, 200).await?
        };
        if due.is_empty() {
            return Ok(total);
        }
        total += due.len();
        // One transaction per store: each holds only its store's lock.
        let mut by_store: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for (store, customer) in &due {
            by_store.entry(store).or_default().push(customer);
        }
        for (store, customers) in by_store {
            let mut tx = db.begin_store(store).await?;
            for customer in customers {
                ledger::expire_customer(&mut tx, store, customer, now).await?;
            }
            tx.commit().await?;
        }
    }
}
