//! A responder's timers: durable rows, one per install, customer and key,
//! run by the worker that holds the store (so once across the cluster and
//! never beside an event of the customer), removed in the transaction that
//! applies what they decided.

use sqlx::Row;

use super::{Conn, DbResult};
use crate::domain::time::Millis;

/// A pending timer.
#[derive(Debug, Clone)]
pub struct Timer {
    pub store_id: String,
    pub install_id: String,
    pub customer_id: String,
    pub key: String,
    pub due_at: Millis,
    pub payload: String,
    /// How often running it failed before.
    pub failures: i64,
}

/// Sets (or moves) a timer, at `now`.
pub async fn set(conn: &mut Conn, t: &Timer, now: Millis) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO reaction_timers (store_id, install_id, customer_id, key, due_at, payload, set_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (install_id, customer_id, key) DO UPDATE SET
           due_at = excluded.due_at, payload = excluded.payload, set_at = excluded.set_at,
           failures = 0, last_error = NULL",
    )
    .bind(&t.store_id)
    .bind(&t.install_id)
    .bind(&t.customer_id)
    .bind(&t.key)
    .bind(t.due_at)
    .bind(&t.payload)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes a timer; whether there was one.
pub async fn cancel(conn: &mut Conn, install: &str, customer: &str, key: &str) -> DbResult<bool> {
    let done = sqlx::query(
        "DELETE FROM reaction_timers WHERE install_id = $1 AND customer_id = $2 AND key = $3",
    )
    .bind(install)
    .bind(customer)
    .bind(key)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The store's timers due at `now`, earliest first, at most `limit`.
pub async fn due(conn: &mut Conn, store: &str, now: Millis, limit: u32) -> DbResult<Vec<Timer>> {
    sqlx::query(
        "SELECT store_id, install_id, customer_id, key, due_at, payload, failures
         FROM reaction_timers WHERE store_id = $1 AND due_at <= $2 ORDER BY due_at LIMIT $3",
    )
    .bind(store)
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(Timer {
            store_id: r.try_get("store_id")?,
            install_id: r.try_get("install_id")?,
            customer_id: r.try_get("customer_id")?,
            key: r.try_get("key")?,
            due_at: r.try_get("due_at")?,
            payload: r.try_get("payload")?,
            failures: r.try_get("failures")?,
        })
    })
    .collect()
}

/// The stores with a timer due at `now`.
pub async fn stores_due(conn: &mut Conn, now: Millis) -> DbResult<Vec<String>> {
    sqlx::query("SELECT DISTINCT store_id FROM reaction_timers WHERE due_at <= $1")
        .bind(now)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok(r.try_get("store_id")?))
        .collect()
}

/// A failed run: tried again at `retry_at`.
pub async fn failed(conn: &mut Conn, t: &Timer, retry_at: Millis, error: &str) -> DbResult<()> {
    sqlx::query(
        "UPDATE reaction_timers SET failures = failures + 1, last_error = $4, due_at = $5
         WHERE install_id = $1 AND customer_id = $2 AND key = $3",
    )
    .bind(&t.install_id)
    .bind(&t.customer_id)
    .bind(&t.key)
    .bind(error)
    .bind(retry_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
