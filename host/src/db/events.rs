use sqlx::Row;

use super::{json_col, Conn, DbResult};
use crate::domain::event::{parse_event, Event};
use crate::domain::time::Millis;

/// An event waiting to be processed, as stored.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: i64,
    pub store_id: String,
    pub event: Event,
}

/// Stores an event unless `(store, id)` exists. Returns whether it was new.
pub async fn insert(conn: &mut Conn, store: &str, e: &Event, now: Millis) -> DbResult<bool> {
    let done = sqlx::query(
        "INSERT INTO events (store_id, id, type, customer_id, occurred_at, data, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (store_id, id) DO NOTHING",
    )
    .bind(store)
    .bind(&e.id)
    .bind(&e.event_type)
    .bind(&e.customer_id)
    .bind(e.occurred_at)
    .bind(e.data.to_string())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The oldest pending events, at most one per customer so that a batch
/// never holds two events of the same customer (they are applied in
/// order, one batch after the other).
pub async fn next_batch(conn: &mut Conn, limit: u32) -> DbResult<Vec<StoredEvent>> {
    let rows = sqlx::query(
        "SELECT seq, store_id, id, type, customer_id, occurred_at, data FROM events
         WHERE status = 'pending' ORDER BY seq LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let store_id: String = r.try_get("store_id")?;
        let customer_id: String = r.try_get("customer_id")?;
        if !seen.insert((store_id.clone(), customer_id.clone())) {
            continue;
        }
        let value = serde_json::json!({
            "id": r.try_get::<String, _>("id")?,
            "type": r.try_get::<String, _>("type")?,
            "customer_id": customer_id,
            "occurred_at": crate::domain::time::to_rfc3339(r.try_get("occurred_at")?),
            "data": json_col(r.try_get("data")?, serde_json::json!({})),
        });
        let seq: i64 = r.try_get("seq")?;
        match parse_event(&value, "") {
            Ok(mut event) => {
                event.occurred_at = r.try_get("occurred_at")?;
                out.push(StoredEvent {
                    seq,
                    store_id,
                    event,
                });
            }
            Err(errors) => {
                // Validated at intake; only a schema change could get here.
                tracing::error!(seq, ?errors, "stored event no longer parses; skipping it");
            }
        }
    }
    Ok(out)
}

pub async fn mark_processed(conn: &mut Conn, seq: i64, now: Millis) -> DbResult<()> {
    sqlx::query("UPDATE events SET status = 'processed', processed_at = $2 WHERE seq = $1")
        .bind(seq)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Status and seq of the store's events with these ids.
pub async fn status_of(conn: &mut Conn, store: &str, id: &str) -> DbResult<Option<(i64, String)>> {
    let row = sqlx::query("SELECT seq, status FROM events WHERE store_id = $1 AND id = $2")
        .bind(store)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(r) => Some((r.try_get("seq")?, r.try_get("status")?)),
        None => None,
    })
}

/// How many events with seq in `[from, to]` are still pending.
pub async fn pending_between(conn: &mut Conn, from: i64, to: i64) -> DbResult<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM events WHERE status = 'pending' AND seq >= $1 AND seq <= $2",
    )
    .bind(from)
    .bind(to)
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("n")?)
}

pub async fn pending_count(conn: &mut Conn) -> DbResult<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM events WHERE status = 'pending'")
        .fetch_one(conn)
        .await?;
    Ok(row.try_get("n")?)
}
