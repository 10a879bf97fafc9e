//! The event workers and the scout. Each worker takes the next store in
//! turn (see `lanes`), runs that store's due flow steps and one batch of
//! its events, and gives the store back; the scout finds stores with work
//! that nobody announced (due flow steps, events left from before a
//! restart or added by another process).

use std::time::Duration;

use super::cluster::store_lease;
use super::dispatcher::Dispatcher;
use super::registry::{self, plugin_id};
use super::{Pipeline, PipelineError, PipelineResult};
use crate::db::{churn, events, installs};
use crate::domain::time::now_ms;

/// How often the scout looks for stores with work.
const SCOUT_EVERY: Duration = Duration::from_millis(500);

impl Pipeline {
    /// Work was added for `store`: a worker will take it.
    pub fn mark_store(&self, store: &str) {
        self.signals.lanes.mark(store);
    }

    /// Pending events as intake last counted them (without asking the
    /// database).
    pub fn signals_pending(&self) -> i64 {
        self.signals.pending.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The pipeline's gauges for `/metrics`.
    pub fn gauges(&self, pending_events: i64) -> crate::metrics::Gauges {
        let (stores_with_work, stores_held) = self.signals.lanes.counts();
        crate::metrics::Gauges {
            pending_events,
            workers: self.config.workers.max(1),
            stores_with_work,
            stores_held,
            compilations: self.runtime.compilations(),
            leases_held: self.cluster.held_count(),
            database_up: self.db.health.away_since().is_none(),
        }
    }

    /// A receiver of the number of events processed since start; it
    /// changes after every committed batch.
    pub fn processed_updates(&self) -> tokio::sync::watch::Receiver<u64> {
        self.signals.processed.subscribe()
    }

    /// Events processed since start.
    pub fn events_processed(&self) -> u64 {
        *self.signals.processed.borrow()
    }
}

impl Dispatcher {
    pub(super) async fn run_worker(self, n: usize) {
        let services = self.services.clone();
        loop {
            if self.signals.is_stopping() {
                return;
            }
            let lanes = &self.signals.lanes;
            let Some(lease) = lanes.take() else {
                lanes.wait(SCOUT_EVERY).await;
                continue;
            };
            let store = lease.store.clone();
            let claim = store_lease(&store);
            match self.cluster.hold(&claim).await {
                Ok(true) => {}
                Ok(false) => {
                    // Another node serves the store now.
                    lanes.release(lease, true);
                    continue;
                }
                Err(e) => {
                    lanes.release(lease, false);
                    let pause = super::outage_pause(&self.db, &e).unwrap_or_else(|| {
                        tracing::error!(worker = n, store = %store, error = %e,
                            "could not claim the store; retrying in 1 s");
                        Duration::from_secs(1)
                    });
                    tokio::time::sleep(pause).await;
                    continue;
                }
            }
            match self.serve_store(&store, &services).await {
                Ok(0) => {
                    // Idle: give the store up, so any node may take its
                    // next work.
                    if let Err(e) = self.cluster.release(&claim).await {
                        tracing::warn!(store = %store, error = %e, "could not release the store");
                    }
                    lanes.release(lease, true);
                }
                Ok(_) => lanes.release(lease, false),
                Err(PipelineError::Stale(why)) => {
                    lanes.release(lease, false);
                    tracing::info!(worker = n, store = %store, %why, "batch rolled back; doing it again");
                }
                Err(e) => {
                    lanes.release(lease, false);
                    let pause = super::outage_pause(&self.db, &e).unwrap_or_else(|| {
                        tracing::error!(worker = n, store = %store, error = %e,
                            "batch failed and was rolled back; retrying in 1 s");
                        Duration::from_secs(1)
                    });
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// One unit of a store's work: its due flow steps, then one batch of
    /// its events. Returns how much it did (0: the store had nothing).
    async fn serve_store(
        &self,
        store: &str,
        services: &std::sync::Arc<dyn crate::runtime::services::HostServices>,
    ) -> PipelineResult<usize> {
        let steps = self.run_due_timers(store, services).await?;
        if steps > 0 {
            self.signals.outbox.notify_one();
        }
        let events = self.dispatch_batch(store, services).await?;
        Ok(steps + events)
    }

    /// Gives up the lease of every store this node holds with nothing to
    /// do and no worker on it, so that another node may take the store at
    /// once (a fit's update of every customer, its next events). A worker
    /// that finds its store idle gives it up itself; this catches the
    /// rest (a unit of work that failed, a fit that stopped half-way).
    pub(super) async fn give_up_idle_stores(&self) {
        for store in self.cluster.stores_held() {
            let Some(_held) = self.signals.lanes.hold_if_idle(&store) else {
                continue;
            };
            if let Err(e) = self.cluster.release(&store_lease(&store)).await {
                if super::outage_pause(&self.db, &e).is_none() {
                    tracing::warn!(store = %store, error = %e, "could not give up an idle store");
                }
            }
        }
    }

    pub(super) async fn run_scout(self) {
        loop {
            let pause = match self.scout().await {
                Ok(()) => SCOUT_EVERY,
                Err(e) => super::outage_pause(&self.db, &e).unwrap_or_else(|| {
                    tracing::error!(error = %e, "could not look for pending work; retrying");
                    SCOUT_EVERY
                }),
            };
            tokio::time::sleep(pause.max(SCOUT_EVERY)).await;
        }
    }

    async fn scout(&self) -> PipelineResult<()> {
        let mut conn = self.db.pool.acquire().await?;
        let pending = events::pending_by_store(&mut conn).await?;
        // The intake limit's count, refreshed (intake adds to it between).
        self.signals
            .pending
            .store(pending.iter().map(|(_, n)| n).sum(), std::sync::atomic::Ordering::Relaxed);
        let mut stores: Vec<String> = pending.into_iter().map(|(store, _)| store).collect();
        stores.extend(churn::stores_due(&mut conn, now_ms()).await?);
        stores.extend(crate::db::reaction_timers::stores_due(&mut conn, now_ms()).await?);
        let elsewhere = self.cluster.stores_held_elsewhere(&mut conn).await?;
        let versions = installs::enabled_versions(&mut conn).await?;
        drop(conn);
        self.warm(versions);
        for store in stores.iter().filter(|s| !elsewhere.contains(*s)) {
            self.signals.lanes.mark(store);
        }
        Ok(())
    }
}

impl Dispatcher {
    /// Loads, in the background, the installed versions this node has not
    /// tried yet: a version installed through another node is compiled
    /// here within a scout's round, not while the first event that needs
    /// it waits. (One that fails is tried again only by the batches that
    /// need it, which report why.)
    fn warm(&self, versions: Vec<(String, String)>) {
        for (name, version) in versions {
            let id = plugin_id(&name, &version);
            if self.runtime.cached(&id).is_some() || self.runtime.tried(&id) {
                continue;
            }
            let (db, runtime) = (self.db.clone(), self.runtime.clone());
            tokio::spawn(async move {
                if let Err(e) = registry::load(&db, &runtime, &name, &version).await {
                    tracing::warn!(plugin = %name, %version, error = %e, "installed plugin cannot be loaded on this node");
                }
            });
        }
    }
}
