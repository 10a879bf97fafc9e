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

    /// Holds `name`, waiting (polling) while another node does.
    pub async fn hold_waiting(&self, name: &str) -> PipelineResult<()> {
        while !self.hold(name).await? {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
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

    /// Renews every lease of this node and learns which it still holds.
    pub async fn heartbeat(&self) -> PipelineResult<()> {
        let now = now_ms();
        let mut conn = self.db.write_conn().await?;
        let still = leases::heartbeat(&mut conn, &self.node_id, now, self.expires(now)).await?;
        let still: HashSet<String> = still.into_iter().collect();
        let mut held = self.held.lock().expect("held");
        for lost in held.difference(&still) {
            tracing::warn!(node = %self.node_id, lease = %lost, "lease was taken over by another node");
        }
        *held = still;
        Ok(())
    }

    /// The heartbeat, every quarter of the lease time.
    pub async fn run_heartbeat(&self) {
        let every = (self.ttl / 4).max(Duration::from_millis(100));
        loop {
            if let Err(e) = self.heartbeat().await {
                tracing::warn!(node = %self.node_id, error = %e, "heartbeat failed; retrying");
            }
            tokio::time::sleep(every).await;
        }
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
