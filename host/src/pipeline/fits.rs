//! Population fits: the host builds the store's population as of an
//! instant, calls each segmenter's and churn model's `fit`, keeps the
//! model, then re-classifies / re-assesses every customer with that same
//! `as_of`. Fits are queued (by the API or the schedule) and run one at a
//! time by a worker of their own, off the event path: the fit call itself
//! holds nothing, and only the update of every customer holds the store
//! (see `lanes`), so no customer is ever worked on by two workers at once
//! and no other store waits for a fit.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::cluster::Cluster;
use super::registry::{self, plugin_id};
use super::services::DbServices;
use super::worlds::{self, Refit, Refitted};
use super::{Pipeline, PipelineError, PipelineResult, Signals};
use crate::db::customers::PopulationRow;
use crate::db::installs::Install;
use crate::db::Db;
use crate::db::{customers, installs, models, state, stores};
use crate::domain::customer::{Customer, CustomerStats};
use crate::domain::states::OutcomeStatus;
use crate::domain::time::{now_ms, to_rfc3339, Millis};
use crate::domain::{Capability, World};
use crate::runtime::services::HostServices;
use crate::runtime::Runtime;
use crate::runtime::{self, CallInput};

/// How long a caller waits for its fit's answer (`?wait=true`): past it
/// the fit goes on, and its result shows in `GET …/models`.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// A queued fit of one store.
pub struct FitRequest {
    pub store: String,
    pub as_of: Millis,
    pub reply: Option<oneshot::Sender<PipelineResult<Vec<FitReport>>>>,
}

/// What one install's fit did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FitReport {
    pub install_id: String,
    pub plugin: String,
    pub world: World,
    pub status: OutcomeStatus,
    pub error: Option<String>,
    pub as_of: String,
    pub customers: usize,
    pub fit_ms: u64,
    /// How long the update of every customer after the fit took (their
    /// memberships or assessments written, in one transaction).
    pub update_ms: u64,
    /// Customers re-classified / re-assessed after the fit.
    pub updated: usize,
    /// Customers whose re-classification / re-assessment failed.
    pub failed: usize,
    pub summary: Value,
}

impl FitReport {
    /// A fit just begun: failed until it is done.
    fn begun(install: &Install, pid: &str, population: &runtime::Population) -> FitReport {
        FitReport {
            install_id: install.install_id.clone(),
            plugin: pid.to_string(),
            world: install.world,
            status: OutcomeStatus::Failed,
            error: None,
            as_of: to_rfc3339(population.as_of),
            customers: population.rows.len(),
            fit_ms: 0,
            update_ms: 0,
            updated: 0,
            failed: 0,
            summary: json!({}),
        }
    }
}

/// Fits waiting for the fit worker, and its wake-up.
#[derive(Default)]
pub struct FitQueue {
    waiting: std::sync::Mutex<std::collections::VecDeque<FitRequest>>,
    queued: tokio::sync::Notify,
}

impl FitQueue {
    fn push(&self, requests: impl IntoIterator<Item = FitRequest>) {
        self.waiting.lock().expect("fit queue").extend(requests);
        self.queued.notify_one();
    }

    fn pop(&self) -> Option<FitRequest> {
        self.waiting.lock().expect("fit queue").pop_front()
    }
}

impl Pipeline {
    /// Queues a fit of `store` as of `as_of`; with `wait`, answers when
    /// it is done, or `Unavailable` when that takes longer than
    /// `ANSWER_WITHIN` or another node kept the store too long.
    pub async fn request_fit(
        &self,
        store: &str,
        as_of: Millis,
        wait: bool,
    ) -> PipelineResult<Option<Vec<FitReport>>> {
        let (tx, rx) = oneshot::channel();
        self.fits.push([FitRequest { store: store.to_string(), as_of, reply: wait.then_some(tx) }]);
        if !wait {
            return Ok(None);
        }
        match tokio::time::timeout(ANSWER_WITHIN, rx).await {
            Ok(Ok(answer)) => answer.map(Some),
            Ok(Err(_)) => Err(PipelineError::Unavailable {
                what: "the node stopped before the fit was done; fit again".into(),
                retry_after: 1,
            }),
            Err(_) => Err(PipelineError::Unavailable {
                what: format!(
                    "the fit is still queued or running after {} s; it goes on, and its \
                     result shows in GET /v1/stores/{store}/models",
                    ANSWER_WITHIN.as_secs()
                ),
                retry_after: 10,
            }),
        }
    }

    /// Fits `store` as of `as_of` and answers when it is done, however long
    /// that takes (what `clientele bench` measures; the API answers within
    /// `ANSWER_WITHIN`).
    pub async fn fit_and_wait(&self, store: &str, as_of: Millis) -> PipelineResult<Vec<FitReport>> {
        let (tx, rx) = oneshot::channel();
        self.fits.push([FitRequest { store: store.to_string(), as_of, reply: Some(tx) }]);
        rx.await.map_err(|_| PipelineError::Unavailable {
            what: "the node stopped before the fit was done".into(),
            retry_after: 1,
        })?
    }

    /// Queues a fit of every store as of now (the schedule).
    pub async fn request_all_fits(&self) -> PipelineResult<()> {
        let list = {
            let mut conn = self.db.pool.acquire().await?;
            stores::list(&mut conn).await?
        };
        let now = now_ms();
        self.fits.push(list.into_iter().map(|s| FitRequest {
            store: s.id,
            as_of: now,
            reply: None,
        }));
        Ok(())
    }
}

/// The fit worker's part of the pipeline.
pub(crate) struct Fitter {
    pub db: Db,
    pub runtime: Arc<Runtime>,
    pub cluster: Arc<Cluster>,
    pub signals: Arc<Signals>,
    pub queue: Arc<FitQueue>,
}

impl Fitter {
    /// Runs the queued fits, one at a time.
    pub(super) async fn run(self) {
        let services = DbServices::shared(&self.db);
        loop {
            let Some(req) = self.queue.pop() else {
                let _ = tokio::time::timeout(
                    std::time::Duration::from_secs(1),
                    self.queue.queued.notified(),
                )
                .await;
                continue;
            };
            let done = self.fit_store(&req.store, req.as_of, &services).await;
            if let Err(e) = &done {
                if super::outage_pause(&self.db, e).is_none() {
                    tracing::error!(store = %req.store, error = %e, "fit failed");
                }
            }
            if let Some(reply) = req.reply {
                let _ = reply.send(done);
            }
        }
    }

    async fn fit_store(
        &self,
        store: &str,
        as_of: Millis,
        services: &Arc<dyn HostServices>,
    ) -> PipelineResult<Vec<FitReport>> {
        let mut conn = self.db.pool.acquire().await?;
        let targets: Vec<Install> = installs::enabled(&mut conn, store)
            .await?
            .into_iter()
            .filter(|i| worlds::fits(i.world))
            .collect();
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let started = Instant::now();
        let rows = customers::population(&mut conn, store, as_of).await?;
        // Every customer, with the statistics as of `as_of`.
        let mut by_id: HashMap<String, Customer> = customers::all(&mut conn, store)
            .await?
            .into_iter()
            .map(|c| (c.id.clone(), c))
            .collect();
        let mut people = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut c = by_id.remove(&r.customer_id).unwrap_or_default();
            c.id = r.customer_id.clone();
            c.stats = stats_of(r);
            people.push(c);
        }
        drop(conn);
        tracing::info!(store, customers = rows.len(), as_of = %to_rfc3339(as_of),
            ms = started.elapsed().as_millis() as u64, "population built");
        let population = runtime::Population {
            as_of,
            rows: rows
                .iter()
                .map(|r| runtime::PopulationRow {
                    customer_id: r.customer_id.clone(),
                    orders: r.orders,
                    repeat_days: r.repeat_days,
                    first_order: r.first_order,
                    last_order: r.last_order,
                    net_spend_cents: r.net_spend_cents,
                })
                .collect(),
        };
        let mut reports = Vec::new();
        for install in targets {
            reports.push(self.fit_install(store, &install, &population, &people, services).await?);
        }
        Ok(reports)
    }

    async fn fit_install(
        &self,
        store: &str,
        install: &Install,
        population: &runtime::Population,
        people: &[Customer],
        services: &Arc<dyn HostServices>,
    ) -> PipelineResult<FitReport> {
        let pid = plugin_id(&install.plugin, &install.version);
        let as_of = population.as_of;
        let mut report = FitReport::begun(install, &pid, population);
        let now = now_ms();
        let (db, rt) = (&self.db, &self.runtime);
        let plugin = match registry::load(db, rt, &install.plugin, &install.version).await {
            Ok(p) => p,
            Err(e) => {
                report.error = Some(format!("plugin could not be loaded: {e}"));
                return Ok(report);
            }
        };
        let config = install.config.to_string();
        tracing::info!(store, install = %install.install_id, plugin = %pid,
            customers = population.rows.len(), "fit started");
        let fitted = tokio::task::block_in_place(|| {
            let input = CallInput::new(store, &install.install_id, &pid, None, services);
            self.runtime.fit(&plugin, input, &config, population)
        });
        let fitted = match fitted {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(store, install = %install.install_id, plugin = %pid,
                    code = e.code(), error = %e, "fit failed; the previous model stays in use");
                self.note_failure(store, install, &pid, &e.to_string()).await?;
                report.error = Some(e.to_string());
                return Ok(report);
            }
        };
        report.fit_ms = fitted.elapsed.as_millis() as u64;
        let runtime::Fit { fitted, memberships } = fitted.value;
        report.summary = serde_json::from_str(&fitted.summary).unwrap_or(json!({}));
        let model = fitted.model;
        let saved = models::NewModel {
            store,
            install_id: &install.install_id,
            plugin: &pid,
            as_of,
            model: &model,
            summary: &fitted.summary,
            customers: population.rows.len() as i64,
            elapsed_ms: report.fit_ms as i64,
        };
        let mut tx = self.db.begin_store(store).await?;
        models::save(&mut tx, &saved, now).await?;
        tx.commit().await?;
        tracing::info!(store, install = %install.install_id, plugin = %pid, ms = report.fit_ms,
            "fit done; updating every customer");
        let mut refit = Refit {
            runtime: &self.runtime,
            store,
            install,
            plugin: &plugin,
            pid: &pid,
            config: &config,
            model: &model,
            as_of,
            now,
            people,
            assigned: memberships,
            states: HashMap::new(),
            services,
        };
        let updating = Instant::now();
        let done = self.update_everyone(&mut refit).await?;
        report.update_ms = updating.elapsed().as_millis() as u64;
        report.updated = done.updated;
        report.failed = done.failed;
        report.status = OutcomeStatus::Ok;
        Ok(report)
    }

    /// Keeps why a fit (or the update after it) failed, for `GET …/models`.
    async fn note_failure(
        &self,
        store: &str,
        install: &Install,
        pid: &str,
        why: &str,
    ) -> PipelineResult<()> {
        let mut conn = self.db.write_conn().await?;
        models::save_failure(&mut conn, store, &install.install_id, pid, why, now_ms()).await?;
        Ok(())
    }

    /// Every customer updated with the new model, holding the store (no
    /// batch of its events runs meanwhile) for at most `store_wait` while
    /// another node has it.
    async fn update_everyone(&self, r: &mut Refit<'_>) -> PipelineResult<Refitted> {
        let (store, install, pid, now) = (r.store, r.install, r.pid, r.now);
        let _held = self.signals.lanes.hold(store).await;
        let claim = super::cluster::store_lease(store);
        let within = self.store_wait();
        if !self.cluster.hold_within(&claim, within).await? {
            let holder =
                self.cluster.holder(&claim).await?.unwrap_or_else(|| "another node".into());
            let why = format!(
                "the model is saved, but node {holder} kept the store for {} s, so its customers \
                 were not updated: fit again",
                within.as_secs()
            );
            tracing::warn!(store, install = %install.install_id, %holder, "{why}");
            self.note_failure(store, install, pid, &why).await?;
            return Err(PipelineError::Unavailable { what: why, retry_after: 5 });
        }
        let ids: Vec<&str> = r.people.iter().map(|c| c.id.as_str()).collect();
        let mut conn = self.db.pool.acquire().await?;
        if r.assigned.is_none() && r.plugin.capabilities.contains(&Capability::State) {
            r.states = state::load_many(&mut conn, &install.install_id, &ids).await?;
        }
        let rewrite = worlds::refit(install.world, &mut conn, r).await?;
        drop(conn);
        let done = rewrite.done;
        let mut tx = self.db.begin_store(store).await?;
        self.cluster.confirm_store(&mut tx, store).await?;
        rewrite.write(&mut tx).await?;
        tx.commit().await?;
        tracing::info!(store, install = %install.install_id, plugin = %pid,
            updated = done.updated, failed = done.failed,
            ms = now_ms() - now, "every customer updated after the fit");
        self.cluster.release(&claim).await?;
        // Segment changes were queued as events of the store.
        self.signals.lanes.mark(store);
        Ok(done)
    }

    /// How long a fit's update waits for the store while another node
    /// holds it: twice the lease time (a dead node's lease lapses within
    /// one, an idle one is given up within a heartbeat).
    pub fn store_wait(&self) -> Duration {
        self.cluster.ttl * 2
    }
}

fn stats_of(r: &PopulationRow) -> CustomerStats {
    CustomerStats {
        orders: r.orders,
        repeat_days: r.repeat_days,
        net_spend_cents: r.net_spend_cents,
        first_order_at: r.first_order,
        last_order_at: r.last_order,
    }
}
