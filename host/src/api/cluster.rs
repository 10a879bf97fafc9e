//! `GET /v1/cluster`: the nodes sharing this database, their heartbeats
//! and the leases each holds.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Caller;
use super::{ApiError, AppState};
use crate::db::leases;
use crate::domain::time::{now_ms, to_rfc3339};

#[derive(Serialize, ToSchema)]
pub struct ClusterView {
    /// The node that answered.
    #[schema(example = "node-3f9a12c0")]
    pub node: String,
    #[schema(example = "postgres")]
    pub database: &'static str,
    /// How long a lease lasts without a heartbeat, in milliseconds.
    pub lease_ttl_ms: u64,
    pub nodes: Vec<NodeView>,
}

#[derive(Serialize, ToSchema)]
pub struct NodeView {
    pub id: String,
    pub version: String,
    /// `alive` (heartbeat within the lease time), `silent` (none since:
    /// its leases are being taken over) or `stopped` (a clean stop).
    #[schema(example = "alive")]
    pub state: &'static str,
    #[schema(format = DateTime)]
    pub started_at: String,
    #[schema(format = DateTime)]
    pub heartbeat_at: String,
    /// What it holds: `store:<id>` (a store's events, flow steps and
    /// fit updates) and `job:<name>` (cluster-wide jobs).
    pub leases: Vec<LeaseView>,
}

#[derive(Serialize, ToSchema)]
pub struct LeaseView {
    #[schema(example = "store:acme")]
    pub name: String,
    #[schema(format = DateTime)]
    pub acquired_at: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
}

/// The nodes and their leases, as the database has them.
async fn read(
    db: &crate::db::Db,
) -> Result<(Vec<leases::NodeRow>, Vec<leases::LeaseRow>), crate::db::DbError> {
    let mut conn = db.pool.acquire().await?;
    Ok((leases::nodes(&mut conn).await?, leases::all(&mut conn).await?))
}

/// The cluster (admin)
#[utoipa::path(get, path = "/v1/cluster", operation_id = "getCluster", tag = "cluster",
    responses((status = 200, body = ClusterView)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ClusterView>, ApiError> {
    caller.require_admin()?;
    let p = &state.pipeline;
    let (nodes, mut held) = match read(&p.db).await {
        Ok(read) => read,
        // The view lives in the database: during an outage it says since
        // when this node has not reached it.
        Err(e) if p.db.health.away(&e) => {
            let since = p.db.health.away_since().map_or_else(|| "now".into(), to_rfc3339);
            return Err(ApiError {
                retry_after: Some(2),
                ..ApiError::unavailable(format!(
                    "node {} has not reached the database since {since} ({e}); the nodes and \
                     their leases show again when it answers",
                    p.cluster.node_id
                ))
            });
        }
        Err(e) => return Err(e.into()),
    };
    let now = now_ms();
    let ttl = p.cluster.ttl.as_millis() as i64;
    let nodes = nodes
        .into_iter()
        .map(|n| {
            let state = if n.stopped_at.is_some() {
                "stopped"
            } else if now - n.heartbeat_at <= ttl {
                "alive"
            } else {
                "silent"
            };
            let (mine, rest): (Vec<_>, Vec<_>) =
                std::mem::take(&mut held).into_iter().partition(|l| l.node_id == n.id);
            held = rest;
            NodeView {
                state,
                started_at: to_rfc3339(n.started_at),
                heartbeat_at: to_rfc3339(n.heartbeat_at),
                leases: mine
                    .into_iter()
                    .map(|l| LeaseView {
                        name: l.name,
                        acquired_at: to_rfc3339(l.acquired_at),
                        expires_at: to_rfc3339(l.expires_at),
                    })
                    .collect(),
                id: n.id,
                version: n.version,
            }
        })
        .collect();
    Ok(Json(ClusterView {
        node: p.cluster.node_id.clone(),
        database: p.db.backend.name(),
        lease_ttl_ms: ttl as u64,
        nodes,
    }))
}
