//! This node among the others on one database. Work is claimed, not
//! assigned: a node serves a store (its events, flow steps and the update
//! after a fit) only under the store's lease, and runs a cluster-wide job
//! (point expiry, message delivery, the fit schedule) only under that
//! job's lease. Leases are renewed by the heartbeat; a node that dies stops
//! renewing, and after `ttl` any other node may take what it held. A
//! commit made under a lease first confirms it in the same transaction
//! (`confirm`), so a node that lost a lease while it was busy can never
//! commit work under it.
//!
//! On SQLite there is one node; the same rows then only say what it does.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use super::PipelineResult;
use crate::db::{leases, Conn, Db};
use crate::domain::time::{now_ms, Millis};

/// The lease of a store's work.
pub fn store_lease(store: &str) -> String {
    format!("store:{store}")
}

/// Cluster-wide jobs, each run by one node at a time.
pub const EXPIRY: &str = "job:expiry";
pub const DELIVERY: &str = "job:delivery";
pub const FIT_SCHEDULE: &str = "job:fit-schedule";

pub struct Cluster {
    pub node_id: String,
    db: Db,
    /// How long a lease lasts without a heartbeat.
    pub ttl: Duration,
    /// Leases this node holds, as of its last heartbeat or claim.
    held: Mutex<HashSet<String>>,
}

impl Cluster {
    pub fn new(db: Db, node_id: String, ttl: Duration) -> Cluster {
        Cluster { node_id, db, ttl, held: Mutex::default() }
    }

    fn expires(&self, now: Millis) -> Millis {
        now + self.ttl.as_millis() as Millis
    }

    /// Records this node as running.
    pub async fn join(&self) -> PipelineResult<()> {
        let mut conn = self.db.write_conn().await?;
        leases::node_started(&mut conn, &self.node_id, env!("CARGO_PKG_VERSION"), now_ms()).await?;
        Ok(())
    }

    /// Holds `name` (taking it if it is free or lapsed); false if another
    /// node holds it.
    pub async fn hold(&self, name: &str) -> PipelineResult<bool> {
        if self.holds(name) {
            return Ok(true);
        }
        let now = now_ms();
        let mut conn = self.db.write_conn().await?;
        let got = leases::acquire(&mut conn, name, &self.node_id, now, self.expires(now)).await?;
        if got {
            self.held.lock().expect("held").insert(name.to_string());
        }
        Ok(got)
    }

    /// Whether this node believes it holds `name`.
    pub fn holds(&self, name: &str) -> bool {
        self.held.lock().expect("held").contains(name)
    }

    /// Holds `name`, waiting (polling) while another node does, for at
    /// most `within`; false if it is still held elsewhere then.
    pub async fn hold_within(&self, name: &str, within: Duration) -> PipelineResult<bool> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.hold(name).await? {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Who holds `name` now, if another live node does.
    pub async fn holder(&self, name: &str) -> PipelineResult<Option<String>> {
        let mut conn = self.db.pool.acquire().await?;
        let all = leases::all(&mut conn).await?;
        let now = now_ms();
        Ok(all
            .into_iter()
            .find(|l| l.name == name && l.node_id != self.node_id && l.expires_at >= now)
            .map(|l| l.node_id))
    }

    /// Gives `name` up, so another node may take it at once.
    pub async fn release(&self, name: &str) -> PipelineResult<()> {
        if !self.held.lock().expect("held").remove(name) {
            return Ok(());
        }
        let mut conn = self.db.write_conn().await?;
        leases::release(&mut conn, name, &self.node_id).await?;
        Ok(())
    }

    /// In a write transaction: still ours? (If not, it is forgotten here;
    /// the caller must roll back.)
    pub async fn confirm(&self, conn: &mut Conn, name: &str) -> PipelineResult<bool> {
        let ok = leases::confirm(conn, name, &self.node_id, self.expires(now_ms())).await?;
        if !ok {
            self.held.lock().expect("held").remove(name);
            tracing::warn!(node = %self.node_id, lease = name, "lease was lost; the work under it is rolled back");
        }
        Ok(ok)
    }

    /// In a transaction under the store's lease: this node still holds
    /// it, or the work is stale and must roll back.
    pub async fn confirm_store(&self, conn: &mut Conn, store: &str) -> PipelineResult<()> {
        if self.confirm(conn, &store_lease(store)).await? {
            Ok(())
        } else {
            Err(super::PipelineError::Stale("this node no longer holds the store".into()))
        }
    }

    /// Renews the leases this node acquired in this run and learns which
    /// it still holds.
    pub async fn heartbeat(&self) -> PipelineResult<()> {
        let now = now_ms();
        let names: Vec<String> = self.held.lock().expect("held").iter().cloned().collect();
        let mut conn = self.db.write_conn().await?;
        let still =
            leases::heartbeat(&mut conn, &self.node_id, &names, now, self.expires(now)).await?;
        drop(conn);
        let still: HashSet<String> = still.into_iter().collect();
        let mut held = self.held.lock().expect("held");
        // Only what was asked about can have been lost: a lease taken
        // meanwhile (after `names` was read) stays.
        for lost in names.iter().filter(|n| !still.contains(*n)) {
            if held.remove(lost) {
                tracing::warn!(node = %self.node_id, lease = %lost, "lease was taken over by another node");
            }
        }
        Ok(())
    }

    /// How often the heartbeat runs: a quarter of the lease time.
    pub fn beat(&self) -> Duration {
        (self.ttl / 4).max(Duration::from_millis(100))
    }

    /// The heartbeat, every `beat`, then `after_beat` (which gives up the
    /// stores this node holds with nothing to do).
    pub async fn run_heartbeat<F: std::future::Future<Output = ()>>(
        &self,
        mut after_beat: impl FnMut() -> F,
    ) {
        loop {
            match self.heartbeat().await {
                Ok(()) => self.db.health.answered(),
                Err(e) => {
                    if super::outage_pause(&self.db, &e).is_none() {
                        tracing::warn!(node = %self.node_id, error = %e, "heartbeat failed; retrying");
                    }
                }
            }
            after_beat().await;
            tokio::time::sleep(self.beat()).await;
        }
    }

    /// The stores whose lease this node holds now.
    pub fn stores_held(&self) -> Vec<String> {
        let held = self.held.lock().expect("held");
        held.iter().filter_map(|n| n.strip_prefix("store:").map(str::to_string)).collect()
    }

    /// This node stops: everything it holds is free at once.
    pub async fn leave(&self) -> PipelineResult<()> {
        self.held.lock().expect("held").clear();
        let mut conn = self.db.write_conn().await?;
        leases::node_stopped(&mut conn, &self.node_id, now_ms()).await?;
        Ok(())
    }

    /// Stores whose lease another live node holds now.
    pub async fn stores_held_elsewhere(&self, conn: &mut Conn) -> PipelineResult<HashSet<String>> {
        let names = leases::held_by_others(conn, "store:", &self.node_id, now_ms()).await?;
        Ok(names.into_iter().filter_map(|n| n.strip_prefix("store:").map(str::to_string)).collect())
    }

    /// The leases this node holds now (for `/metrics`).
    pub fn held_count(&self) -> usize {
        self.held.lock().expect("held").len()
    }
}
