//! Nodes and the leases they hold. A lease is a row naming its holder and
//! when it lapses; taking one is a single upsert that succeeds only when
//! the row is free, lapsed or already ours, so two nodes can never both
//! hold it. The same SQL runs on SQLite and PostgreSQL.

use super::row::{read, ReadRows};
use super::{Conn, DbResult};
use crate::domain::time::Millis;

/// A node as the cluster sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NodeRow {
    pub id: String,
    pub started_at: Millis,
    pub heartbeat_at: Millis,
    pub version: String,
    pub stopped_at: Option<Millis>,
}

/// A held lease.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LeaseRow {
    pub name: String,
    pub node_id: String,
    pub acquired_at: Millis,
    pub expires_at: Millis,
}

/// Records that the node runs (again), as of `now`. Leases left by an
/// earlier run under the same id are dropped: a node holds only what it
/// acquired in this run (an earlier run's work may have been cut short).
pub async fn node_started(conn: &mut Conn, id: &str, version: &str, now: Millis) -> DbResult<()> {
    sqlx::query("DELETE FROM leases WHERE node_id = $1").bind(id).execute(&mut *conn).await?;
    sqlx::query(
        "INSERT INTO nodes (id, started_at, heartbeat_at, version, stopped_at) VALUES ($1, $2, $2, $3, NULL)
         ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at,
           heartbeat_at = excluded.heartbeat_at, version = excluded.version, stopped_at = NULL",
    )
    .bind(id)
    .bind(now)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(())
}

/// The node is alive: its heartbeat and the leases it acquired (`held`)
/// move on. Returns those of `held` it still holds. Rows carrying its id
/// that it did not acquire (an earlier run's) are never renewed here.
pub async fn heartbeat(
    conn: &mut Conn,
    id: &str,
    held: &[String],
    now: Millis,
    expires_at: Millis,
) -> DbResult<Vec<String>> {
    sqlx::query("UPDATE nodes SET heartbeat_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let mut still = Vec::with_capacity(held.len());
    for chunk in held.chunks(super::bulk::CHUNK) {
        let sql = super::bulk::with_list(
            conn,
            // In the order they appear: SQLite binds them by position.
            "UPDATE leases SET expires_at = $1 WHERE node_id = $2 AND name IN ($list) RETURNING name",
            2,
            chunk.len(),
        );
        let mut q = sqlx::query_scalar(&sql).bind(expires_at).bind(id);
        for name in chunk {
            q = q.bind(name.as_str());
        }
        still.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(still)
}

/// The node stops: it holds nothing any more.
pub async fn node_stopped(conn: &mut Conn, id: &str, now: Millis) -> DbResult<()> {
    sqlx::query("DELETE FROM leases WHERE node_id = $1").bind(id).execute(&mut *conn).await?;
    sqlx::query("UPDATE nodes SET stopped_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes the lease `name` for `node` until `expires_at` if it is free,
/// lapsed (`expires_at < now`) or the node's already. True if it holds it.
pub async fn acquire(
    conn: &mut Conn,
    name: &str,
    node: &str,
    now: Millis,
    expires_at: Millis,
) -> DbResult<bool> {
    let done = sqlx::query(
        "INSERT INTO leases (name, node_id, acquired_at, expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE SET node_id = excluded.node_id,
           acquired_at = CASE WHEN leases.node_id = excluded.node_id THEN leases.acquired_at ELSE excluded.acquired_at END,
           expires_at = excluded.expires_at
         WHERE leases.node_id = excluded.node_id OR leases.expires_at < excluded.acquired_at",
    )
    .bind(name)
    .bind(node)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Inside a transaction: true if `node` still holds `name` (and keeps
/// it until `expires_at`). On PostgreSQL this locks the lease row until
/// the transaction ends, so a takeover waits for it and then sees the
/// renewed lease: a node that lost its lease cannot commit work under it.
pub async fn confirm(
    conn: &mut Conn,
    name: &str,
    node: &str,
    expires_at: Millis,
) -> DbResult<bool> {
    let done = sqlx::query("UPDATE leases SET expires_at = $3 WHERE name = $1 AND node_id = $2")
        .bind(name)
        .bind(node)
        .bind(expires_at)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn release(conn: &mut Conn, name: &str, node: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM leases WHERE name = $1 AND node_id = $2")
        .bind(name)
        .bind(node)
        .execute(conn)
        .await?;
    Ok(())
}

/// Names (with a prefix) leased by other nodes and not lapsed at `now`.
pub async fn held_by_others(
    conn: &mut Conn,
    prefix: &str,
    node: &str,
    now: Millis,
) -> DbResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT name FROM leases WHERE node_id <> $1 AND expires_at >= $2 AND name LIKE $3",
    )
    .bind(node)
    .bind(now)
    .bind(format!("{prefix}%"))
    .fetch_all(conn)
    .await?)
}

pub async fn nodes(conn: &mut Conn) -> DbResult<Vec<NodeRow>> {
    sqlx::query("SELECT id, started_at, heartbeat_at, version, stopped_at FROM nodes ORDER BY id")
        .read_all(conn, read)
        .await
}

pub async fn all(conn: &mut Conn) -> DbResult<Vec<LeaseRow>> {
    sqlx::query("SELECT name, node_id, acquired_at, expires_at FROM leases ORDER BY name")
        .read_all(conn, read)
        .await
}
