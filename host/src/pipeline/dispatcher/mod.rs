//! The dispatcher: takes one store's pending events in arrival order (at
//! most one per customer per batch; a worker holds the store meanwhile,
//! see `lanes`), runs every enabled install the event concerns in a fresh
//! sandbox, and commits the batch's effects, outcomes (the
//! per-(event, install) done-marks) and processed marks in one
//! transaction. A crash anywhere replays only the batches whose effects
//! were not committed; the outcome's key (event, install) guarantees no
//! pair is applied twice.
//!
//! A batch runs in four phases, so that the database sees few, large
//! statements and the write lock is not held while plugins run:
//! 1. `record_facts` (`inputs`): what the events themselves say
//!    (`pipeline::facts`), committed — idempotent, so a replay of the batch
//!    records nothing twice;
//! 2. `load_inputs` (`inputs`): the customers, the installs and each
//!    install's world unit (`worlds::Unit::load`);
//! 3. `run_calls` (`run`): every install the event concerns, in arrival
//!    order;
//! 4. `commit_results` (`commit`): effects (`worlds::Unit::apply`), each
//!    unit's sink, outcomes, failures (`failures`), rollouts (`rollouts`)
//!    and processed marks, committed together.
//!
//! What a world means lives in `worlds`; this folder only sequences, and
//! names no world's data.

mod commit;
mod failures;
mod inputs;
mod journal;
mod rollouts;
mod run;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use super::budget::Budgets;
use super::cluster::Cluster;
use super::effects::BatchWriter;
use super::registry::{self, plugin_id};
use super::worlds::{CallResult, Unit};
use super::{PipelineResult, Signals};
use crate::db::events::StoredEvent;
use crate::db::failures::Failure;
use crate::db::installs::Install;
use crate::db::{events, Db};
use crate::domain::customer::{AsOfEvent, Customer};
use crate::domain::rollout::Canary;
use crate::domain::states::FailureState;
use crate::domain::time::{now_ms, Millis};
use crate::metrics::Metrics;
use crate::runtime::services::HostServices;
use crate::runtime::{LogLine, Plugin, Runtime};
use rollouts::RolloutTally;

/// The event workers' part of the pipeline: what a batch reads, runs and
/// writes with, and whom it tells (the scout and the workers themselves
/// are in `workers`, the flow timers in `timers`).
#[derive(Clone)]
pub(crate) struct Dispatcher {
    pub db: Db,
    pub runtime: Arc<Runtime>,
    pub metrics: Arc<Metrics>,
    pub cluster: Arc<Cluster>,
    pub signals: Arc<Signals>,
    pub budgets: Arc<Budgets>,
    /// Most events one batch takes.
    pub batch_size: u32,
    /// Consecutive failures after which an install is disabled.
    pub trip_after: i64,
    /// How a failure that may pass is tried again.
    pub retry: super::RetryPolicy,
    /// What the calls read the store through.
    pub services: Arc<dyn HostServices>,
}

impl Dispatcher {
    /// Processes one batch of the store's events; returns how many events
    /// it processed.
    pub async fn dispatch_batch(
        &self,
        store: &str,
        services: &Arc<dyn HostServices>,
    ) -> PipelineResult<usize> {
        let now = now_ms();
        let batch = {
            let mut conn = self.db.pool.acquire().await?;
            events::next_batch(&mut conn, store, self.batch_size, now).await?
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let facts = self.record_facts(store, &batch, now).await?;
        let mut inputs = self.load_inputs(store, &batch, &facts, now).await?;
        let results = self.run_calls(&batch, &facts, &mut inputs, services, now)?;
        let done = self.commit_results(store, &batch, &facts, &mut inputs, results, now).await?;
        if let Some(at) = done.retry_at {
            self.wake_at(store, at);
        }
        self.metrics.events_processed.increment(done.processed as u64);
        self.signals.processed.send_modify(|n| *n += done.processed as u64);
        if done.emitted > 0 {
            self.signals.lanes.mark(store);
        }
        self.signals.outbox.notify_one();
        Ok(batch.len())
    }

    /// Hands the store to a worker again at `at` (a retry is due then).
    fn wake_at(&self, store: &str, at: Millis) {
        let (signals, store) = (self.signals.clone(), store.to_string());
        let wait = Duration::from_millis((at - now_ms()).max(0) as u64);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            signals.lanes.mark(&store);
        });
    }
}

/// A version an install runs: the live one, or a shadow or canary beside it.
struct Arm {
    /// `name@version`.
    pid: String,
    version: String,
    /// The config, serialized once for every call of the batch.
    config: String,
    plugin: Result<Arc<Plugin>, String>,
    /// The install granted the `pii` scope and this version asks for it.
    pii: bool,
}

impl Arm {
    async fn load(
        db: &Db,
        runtime: &Arc<Runtime>,
        install: &Install,
        version: &str,
        config: &serde_json::Value,
    ) -> Arm {
        let plugin = registry::load(db, runtime, &install.plugin, version)
            .await
            .map_err(|e| format!("plugin could not be loaded: {e}"));
        let pii = plugin.as_ref().is_ok_and(|p| registry::sees_pii(install, p));
        Arm {
            pid: plugin_id(&install.plugin, version),
            version: version.to_string(),
            config: config.to_string(),
            plugin,
            pii,
        }
    }

    /// The live arm of an install a breaker disabled: it runs nothing.
    fn disabled(install: &Install, why: &str) -> Arm {
        Arm {
            pid: plugin_id(&install.plugin, &install.version),
            version: install.version.clone(),
            config: String::new(),
            plugin: Err(why.to_string()),
            pii: false,
        }
    }
}

/// An install as one batch sees it.
struct BatchInstall {
    install: Install,
    live: Arm,
    shadow: Option<Arm>,
    canary: Option<(Arm, Canary)>,
    /// Under the `hold` policy: per customer, the first event whose
    /// failure stays unresolved; the customer's later events wait.
    holding: HashMap<String, (i64, String)>,
    tally: RolloutTally,
    /// What its world loaded for the batch, and will write.
    unit: Unit,
    calls: i64,
    failures: i64,
    consecutive: i64,
    /// Why and when a breaker disabled the install (in this batch, or
    /// before it): the events received before then fail for it.
    tripped: Option<(String, Millis)>,
}

impl BatchInstall {
    /// The version that decides: the canary's for a customer it takes.
    fn arm(&self, canary: bool) -> &Arm {
        match &self.canary {
            Some((arm, _)) if canary => arm,
            _ => &self.live,
        }
    }
}

/// The batch as its commit settles it.
struct BatchRef<'a> {
    store: &'a str,
    events: &'a [StoredEvent],
    now: Millis,
}

/// What phase 1 recorded, for the phases after it.
struct Facts {
    /// The batch's customers, once each.
    customers: Vec<String>,
    /// Per event: the refunded order's total, for `order.refunded`.
    order_totals: Vec<Option<i64>>,
    /// The batch left open by an attempt that never committed, if any:
    /// events up to this seq are suspect.
    open_to: Option<i64>,
}

/// What phase 2 read.
struct Inputs {
    customers: HashMap<String, Customer>,
    installs: Vec<BatchInstall>,
    /// Per event: the installs that must run on it again (a retry, or a
    /// re-drive); an event listed here runs only those.
    again: HashMap<String, Vec<Failure>>,
}

/// One event as one install's call meets it.
struct Call<'a> {
    event: &'a StoredEvent,
    customer: &'a Customer,
    order_total: Option<i64>,
    /// A batch with the event began before and never committed.
    suspect: bool,
}

/// Why an install did not decide on an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NotRunCode {
    /// A breaker disabled the install before the event ran.
    InstallDisabled,
    /// An earlier event of the customer failed under the `hold` policy.
    Held,
    /// The plugin could not be loaded (the database, the artifact cache).
    Unavailable,
    /// The call was started too often and never finished.
    Abandoned,
}

impl NotRunCode {
    fn as_str(self) -> &'static str {
        match self {
            NotRunCode::InstallDisabled => "install_disabled",
            NotRunCode::Held => "held",
            NotRunCode::Unavailable => "unavailable",
            NotRunCode::Abandoned => "abandoned",
        }
    }

    /// A call the install owed but did not make counts in the metrics
    /// (`unavailable`, `abandoned`); an install that was off for the
    /// event does not.
    fn counts(self) -> bool {
        matches!(self, NotRunCode::Unavailable | NotRunCode::Abandoned)
    }
}

/// Why an install did not decide on an event.
struct NotRun {
    code: NotRunCode,
    why: String,
}

/// One install's attempt on one event.
struct Attempted {
    result: Result<CallResult, NotRun>,
    /// Time the call took (failed calls too).
    elapsed: Duration,
    /// Fuel it used, where a call ran.
    fuel: Option<u64>,
    /// What the plugin wrote.
    lines: Vec<LogLine>,
}

impl Attempted {
    fn not_run(code: NotRunCode, why: String) -> Attempted {
        Attempted {
            result: Err(NotRun { code, why }),
            elapsed: Duration::ZERO,
            fuel: None,
            lines: Vec::new(),
        }
    }
}

/// What one install did with (or why it did not run on) one event.
struct Ran {
    event: usize,
    install: usize,
    attempt: Attempted,
    /// The install's canary version decided.
    canary: bool,
    /// The pair's failure, when this is a retry or a re-drive.
    prior: Option<Prior>,
}

/// A pair's earlier failure.
#[derive(Debug, Clone, Copy)]
struct Prior {
    id: i64,
    /// Attempts so far (since the last re-drive).
    attempts: i64,
    /// The customer's tier is no longer the one the first attempt saw
    /// (`then`): a later event set it.
    tier_moved: bool,
}

impl Prior {
    fn of(f: &Failure, then: Option<&AsOfEvent>, now: &Customer) -> Prior {
        Prior {
            id: f.id,
            attempts: if f.state == FailureState::Redriving { 0 } else { f.attempts },
            tier_moved: then.is_some_and(|t| t.tier != now.tier),
        }
    }
}

/// What the commit collects as it settles each call.
struct Settling {
    writer: BatchWriter,
    /// The calls made, for the metrics once committed.
    made: Vec<Made>,
    /// Per event: when it runs again, if one of its calls is retried.
    retry_at: Vec<Option<Millis>>,
    /// (event, install) pairs that ran.
    ran: HashSet<(usize, usize)>,
    /// What the plugins wrote: (install, event, plugin, line).
    lines: Vec<(usize, usize, String, LogLine)>,
}

/// A call made (or owed), as the metrics count it.
struct Made {
    install: usize,
    code: &'static str,
    elapsed: Duration,
    fuel: Option<u64>,
    canary: bool,
}

/// One settled pair: which, by which version, and what the call used.
struct Settled {
    event: usize,
    install: usize,
    /// `name@version` of the version that ran.
    pid: String,
    elapsed: Duration,
    fuel: Option<u64>,
    canary: bool,
    prior: Option<Prior>,
}
