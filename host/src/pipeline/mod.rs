//! The path of an event: intake commits it, the dispatcher runs every
//! install it concerns and applies their effects, the scheduler expires
//! points. Also the plugin registry (publish, load) and points redemption.

mod budget;
pub mod cluster;
pub mod delivery;
pub mod destinations;
pub mod dispatcher;
mod effects;
pub mod expiry;
mod facts;
mod failures;
pub mod fits;
pub mod installs;
pub mod intake;
mod lanes;
pub mod points;
pub mod privacy;
mod reactions;
pub mod registry;
mod rescue;
mod services;
mod stores;
mod surveys;
mod timers;
mod workers;
pub(crate) mod worlds;

use std::sync::Arc;

use thiserror::Error;
use tokio::sync::{watch, Notify};

use crate::db::{Db, DbError};
use crate::domain::time::Millis;
use crate::metrics::Metrics;
use crate::runtime::services::HostServices;
use crate::runtime::{Runtime, RuntimeError};

#[derive(Debug, Error)]
pub enum PipelineError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("invalid: {0:?}")]
    Invalid(Vec<crate::domain::event::FieldError>),
    /// A well-formed request names what the store does not have (an event
    /// answering a survey the store has not created): each field named.
    #[error("unknown: {0:?}")]
    Unknown(Vec<crate::domain::event::FieldError>),
    /// What a unit of work read changed before it could commit (its lease
    /// was lost, or an install was changed meanwhile): it was rolled back
    /// and is done again.
    #[error("rolled back to be done again: {0}")]
    Stale(String),
    /// Something this work needs is not there now (the store is held by
    /// another node too long, the database is away): try again after
    /// `retry_after` seconds.
    #[error("unavailable: {what}")]
    Unavailable { what: String, retry_after: u64 },
    /// The host failed at its own work (a compilation thread panicked):
    /// nothing of the request was kept.
    #[error("{0}")]
    Internal(String),
    /// Intake is full: more events wait than the node takes.
    #[error("{pending} events pending (limit {max})")]
    Busy { pending: i64, max: i64 },
}

impl From<sqlx::Error> for PipelineError {
    fn from(e: sqlx::Error) -> Self {
        PipelineError::Db(DbError::Sqlx(e))
    }
}

pub type PipelineResult<T> = Result<T, PipelineError>;

/// Background work met `e`: during a database outage (which `db.health`
/// logs once) how long to wait before trying again; None for any other
/// error, which the caller logs.
pub(crate) fn outage_pause(db: &Db, e: &PipelineError) -> Option<std::time::Duration> {
    match e {
        PipelineError::Db(d) if db.health.away(d) => Some(db.health.pause()),
        _ => None,
    }
}

/// Settings of the pipeline's background work.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Workers that process events, each serving one store at a time.
    pub workers: usize,
    /// Most events one dispatcher transaction takes.
    pub batch_size: u32,
    /// Consecutive failures after which an install is disabled.
    pub trip_after: i64,
    /// Consecutive calls that ran to their deadline after which an install
    /// is disabled (it holds a worker for its whole deadline each time).
    pub trip_after_timeouts: u32,
    /// Worker time an install's failed calls may take in a minute before
    /// it is disabled.
    pub time_budget_per_minute: std::time::Duration,
    /// How often due points are expired.
    pub expiry_every: std::time::Duration,
    /// How often the SQLite write-ahead log is checkpointed.
    pub checkpoint_every: std::time::Duration,
    /// How often every store's population models are refitted (None:
    /// only on request).
    pub fit_every: Option<std::time::Duration>,
    /// Hosts a webhook may point at although they are not public.
    pub webhook_allow_hosts: Vec<String>,
    /// CAs trusted for `https://` webhooks beside the platform's roots
    /// (`--webhook-ca-file`), for receivers with a private CA.
    pub webhook_roots: Vec<reqwest::Certificate>,
    /// The wait after a message's first failed delivery; it doubles after
    /// each, up to 5 minutes.
    pub delivery_first_retry: std::time::Duration,
    /// This node's name among the nodes on one database.
    pub node_id: String,
    /// How long a node's leases last without its heartbeat: after this,
    /// another node takes over the work a dead node held.
    pub lease_ttl: std::time::Duration,
    /// Pending events (across the database) past which intake refuses
    /// more, with 429 and Retry-After, until the workers catch up.
    pub max_pending: i64,
    /// How a failed call that may pass is tried again.
    pub retry: RetryPolicy,
    /// Wraps the services the event workers' calls read the store through
    /// (a test's failing one; a cache, a tracer).
    pub services_layer: Option<ServicesLayer>,
}

/// A wrapper of the host's services: given the database's, it returns
/// what the calls use.
#[derive(Clone)]
pub struct ServicesLayer(pub Arc<WrapServices>);

/// What a `ServicesLayer` does.
pub type WrapServices = dyn Fn(Arc<dyn HostServices>) -> Arc<dyn HostServices> + Send + Sync;

impl std::fmt::Debug for ServicesLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServicesLayer")
    }
}

/// Retries of a call that failed in a way that may pass (the backstop
/// deadline, a host error, a plugin error marked retryable): `attempts`
/// in all, the n-th retry `backoff × 4ⁿ⁻¹` after the failure. The
/// customer's later events wait meanwhile, so the wait is bounded by
/// `backoff × (4^(attempts−1) − 1) / 3`: 10.5 s by default.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub backoff: std::time::Duration,
}

impl RetryPolicy {
    /// How long after the `attempts`-th failure the next attempt runs.
    pub fn backoff(&self, attempts: i64) -> Millis {
        let factor = 4i64.saturating_pow(attempts.clamp(1, 16) as u32 - 1);
        (self.backoff.as_millis() as i64).saturating_mul(factor)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 4, backoff: std::time::Duration::from_millis(500) }
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            workers: default_workers(),
            batch_size: 1000,
            trip_after: 25,
            trip_after_timeouts: 3,
            time_budget_per_minute: std::time::Duration::from_secs(30),
            expiry_every: std::time::Duration::from_secs(1),
            checkpoint_every: std::time::Duration::from_millis(250),
            fit_every: Some(std::time::Duration::from_secs(24 * 3600)),
            webhook_allow_hosts: Vec::new(),
            webhook_roots: Vec::new(),
            delivery_first_retry: std::time::Duration::from_secs(1),
            node_id: "node-1".into(),
            lease_ttl: std::time::Duration::from_secs(5),
            max_pending: 500_000,
            retry: RetryPolicy::default(),
            services_layer: None,
        }
    }
}

/// Spawns a worker whose log lines name the node it runs on.
fn spawn_on_node(
    node: &str,
    work: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    use tracing::Instrument;
    tokio::spawn(work.instrument(tracing::info_span!("node", id = %node)))
}

/// Two workers per core, at least four: a worker whose plugin sleeps or
/// waits on the database uses no core, and a computing guest yields its
/// thread at every epoch tick, so more workers than cores is cheap.
pub fn default_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (2 * cores).max(4)
}

/// How the parts of the pipeline tell one another about work.
pub(crate) struct Signals {
    /// Stores with work, and which worker holds which.
    pub lanes: lanes::Lanes,
    /// Wakes the outbox delivery worker.
    pub outbox: Notify,
    /// Bumped after every committed dispatcher batch.
    pub processed: watch::Sender<u64>,
    /// Set on a clean stop: workers take no new work.
    pub stopping: std::sync::atomic::AtomicBool,
    /// Pending events as last counted, plus those taken since.
    pub pending: std::sync::atomic::AtomicI64,
}

impl Default for Signals {
    fn default() -> Self {
        Signals {
            lanes: lanes::Lanes::default(),
            outbox: Notify::new(),
            processed: watch::channel(0).0,
            stopping: Default::default(),
            pending: Default::default(),
        }
    }
}

impl Signals {
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The pipeline as requests see it: what they may write and read. The
/// background workers (`dispatcher::Dispatcher`, `fits::Fitter`,
/// `delivery::Outbox`, `expiry::Expiry`) are each given the parts they use
/// when they start, and no more.
#[derive(Clone)]
pub struct Pipeline {
    pub db: Db,
    pub runtime: Arc<Runtime>,
    pub metrics: Arc<Metrics>,
    pub config: PipelineConfig,
    /// This node's leases.
    pub cluster: Arc<cluster::Cluster>,
    /// Where webhooks may go.
    pub destinations: Arc<destinations::Destinations>,
    signals: Arc<Signals>,
    /// Worker time used by each install's calls (the time budget).
    budgets: Arc<budget::Budgets>,
    /// Population fits waiting for the fit worker.
    fits: Arc<fits::FitQueue>,
    /// The background workers, so that `stop_workers` can end them.
    workers: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    /// The event workers among them, which finish their unit of work on
    /// a clean stop.
    event_workers: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    /// One `VACUUM` after an erasure at a time (PostgreSQL).
    vacuums: Arc<tokio::sync::Mutex<()>>,
}

impl Pipeline {
    pub fn new(db: Db, runtime: Arc<Runtime>, config: PipelineConfig) -> Pipeline {
        Pipeline {
            cluster: Arc::new(cluster::Cluster::new(
                db.clone(),
                config.node_id.clone(),
                config.lease_ttl,
            )),
            db,
            runtime,
            metrics: Arc::new(Metrics::new(&config.node_id)),
            signals: Arc::default(),
            budgets: Arc::new(budget::Budgets::new(
                config.trip_after_timeouts,
                config.time_budget_per_minute,
            )),
            destinations: Arc::new(destinations::Destinations::new(
                config.webhook_allow_hosts.clone(),
            )),
            fits: Arc::default(),
            workers: Arc::default(),
            event_workers: Arc::default(),
            vacuums: Arc::default(),
            config,
        }
    }

    /// Starts the heartbeat, the event workers, the scout that finds
    /// stores with work, the fit worker, the expiry sweeper, the outbox
    /// delivery and the fit schedule on the current runtime.
    pub fn spawn_workers(&self) {
        let node = self.cluster.node_id.clone();
        let dispatcher = dispatcher::Dispatcher {
            db: self.db.clone(),
            runtime: self.runtime.clone(),
            metrics: self.metrics.clone(),
            cluster: self.cluster.clone(),
            signals: self.signals.clone(),
            budgets: self.budgets.clone(),
            batch_size: self.config.batch_size,
            trip_after: self.config.trip_after,
            retry: self.config.retry,
            services: match &self.config.services_layer {
                Some(layer) => (layer.0)(services::DbServices::shared(&self.db)),
                None => services::DbServices::shared(&self.db),
            },
        };
        let fitter = fits::Fitter {
            db: self.db.clone(),
            runtime: self.runtime.clone(),
            cluster: self.cluster.clone(),
            signals: self.signals.clone(),
            queue: self.fits.clone(),
        };
        let outbox = delivery::Outbox {
            db: self.db.clone(),
            destinations: self.destinations.clone(),
            roots: Arc::new(self.config.webhook_roots.clone()),
            first_retry: self.config.delivery_first_retry,
            metrics: self.metrics.clone(),
            cluster: self.cluster.clone(),
            signals: self.signals.clone(),
        };
        let expiry = expiry::Expiry {
            db: self.db.clone(),
            cluster: self.cluster.clone(),
            every: self.config.expiry_every,
        };
        let mut workers = self.workers.lock().expect("workers");
        let (cluster, d) = (self.cluster.clone(), dispatcher.clone());
        workers.push(spawn_on_node(&node, async move {
            cluster
                .run_heartbeat(|| {
                    let d = d.clone();
                    async move { d.give_up_idle_stores().await }
                })
                .await
        }));
        let mut event_workers = self.event_workers.lock().expect("workers");
        for n in 0..self.config.workers.max(1) {
            let d = dispatcher.clone();
            event_workers.push(spawn_on_node(&node, async move { d.run_worker(n).await }));
        }
        drop(event_workers);
        workers.push(spawn_on_node(&node, async move { dispatcher.run_scout().await }));
        workers.push(spawn_on_node(&node, async move { fitter.run().await }));
        workers.push(spawn_on_node(&node, async move { expiry.run().await }));
        if self.db.backend == crate::db::Backend::Sqlite {
            let (db, every) = (self.db.clone(), self.config.checkpoint_every);
            workers.push(spawn_on_node(&node, async move { expiry::checkpoint(db, every).await }));
        }
        workers.push(spawn_on_node(&node, async move { outbox.run().await }));
        if let Some(every) = self.config.fit_every {
            let p = self.clone();
            workers.push(spawn_on_node(&node, async move { p.run_fit_schedule(every).await }));
        }
    }

    /// Queues a fit of every store every `every`, on the one node that
    /// holds the schedule's lease.
    async fn run_fit_schedule(&self, every: std::time::Duration) {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            match self.cluster.hold(cluster::FIT_SCHEDULE).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    if outage_pause(&self.db, &e).is_none() {
                        tracing::warn!(error = %e, "could not claim the fit schedule");
                    }
                    continue;
                }
            }
            tracing::info!("scheduled fit of every store");
            if let Err(e) = self.request_all_fits().await {
                if outage_pause(&self.db, &e).is_none() {
                    tracing::error!(error = %e, "could not queue the scheduled fits");
                }
            }
        }
    }

    /// Ends the background workers at their next await point, as a crash
    /// would: an open transaction rolls back, and everything durable is
    /// picked up again by the next start.
    pub fn stop_workers(&self) {
        for w in self.workers.lock().expect("workers").drain(..) {
            w.abort();
        }
        for w in self.event_workers.lock().expect("workers").drain(..) {
            w.abort();
        }
    }

    /// A clean stop: the event workers take no new work and finish the
    /// unit they are in (for at most `grace`, after which it rolls back),
    /// then every worker ends.
    pub async fn stop_gracefully(&self, grace: std::time::Duration) {
        self.signals.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        self.signals.lanes.wake_all();
        let event_workers: Vec<_> = self.event_workers.lock().expect("workers").drain(..).collect();
        let deadline = tokio::time::Instant::now() + grace;
        for mut w in event_workers {
            if tokio::time::timeout_at(deadline, &mut w).await.is_err() {
                tracing::warn!("a worker did not finish in time; its batch rolls back");
                w.abort();
            }
        }
        self.stop_workers();
    }

    pub fn is_stopping(&self) -> bool {
        self.signals.is_stopping()
    }
}
