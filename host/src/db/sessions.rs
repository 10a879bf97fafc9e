//! Console sessions that are live: a cookie is honoured only while its
//! row is here, so signing out, or rotating a store's key, ends sessions
//! on every node at once. Rows are keyed by the sha256 of the session id,
//! so the table alone opens nothing.

use super::{Conn, DbResult};
use crate::domain::time::Millis;

/// A session begins: `store` is None for the admin's.
pub async fn begin(
    conn: &mut Conn,
    id_sha256: &str,
    store: Option<&str>,
    expires_at: Millis,
    now: Millis,
) -> DbResult<()> {
    // Sessions that ended by themselves go as new ones begin.
    sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO console_sessions (id, store_id, expires_at) VALUES ($1, $2, $3)")
        .bind(id_sha256)
        .bind(store)
        .bind(expires_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether the session is live at `now`.
pub async fn is_live(conn: &mut Conn, id_sha256: &str, now: Millis) -> DbResult<bool> {
    let row =
        sqlx::query("SELECT 1 AS one FROM console_sessions WHERE id = $1 AND expires_at > $2")
            .bind(id_sha256)
            .bind(now)
            .fetch_optional(conn)
            .await?;
    Ok(row.is_some())
}

/// Ends one session.
pub async fn end(conn: &mut Conn, id_sha256: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM console_sessions WHERE id = $1").bind(id_sha256).execute(conn).await?;
    Ok(())
}

/// Ends every session of a store (its key changed). Returns how many.
pub async fn end_store(conn: &mut Conn, store: &str) -> DbResult<u64> {
    let done = sqlx::query("DELETE FROM console_sessions WHERE store_id = $1")
        .bind(store)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
