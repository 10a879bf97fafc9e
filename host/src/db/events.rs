use sqlx::Row;

use super::bulk::{bind_list, with_list};
use super::row::ReadRows;
use super::{Conn, DbResult};
use crate::domain::event::{from_stored, Event};
use crate::domain::states::EventStatus;
use crate::domain::time::Millis;

/// An event waiting to be processed, as stored.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: i64,
    pub store_id: String,
    pub event: Event,
    pub received_at: Millis,
}

/// Stores events; an id the store already has (or one repeated in the
/// list) is left as it was. Returns the seq of each event that was new.
pub async fn insert_many(
    conn: &mut Conn,
    store: &str,
    list: &[Event],
    now: Millis,
) -> DbResult<std::collections::HashMap<String, i64>> {
    let mut out = std::collections::HashMap::with_capacity(list.len());
    for chunk in list.chunks(super::bulk::CHUNK) {
        let sql = format!(
            "INSERT INTO events (store_id, id, type, customer_id, occurred_at, data, received_at)
             VALUES {} ON CONFLICT (store_id, id) DO NOTHING RETURNING id, seq",
            super::bulk::Style::of(conn).values(chunk.len(), 7, 1)
        );
        let mut q = sqlx::query(&sql);
        for e in chunk {
            q = q
                .bind(store)
                .bind(&e.id)
                .bind(&e.event_type)
                .bind(&e.customer_id)
                .bind(e.occurred_at)
                .bind(&e.data_json)
                .bind(now);
        }
        for r in q.fetch_all(&mut *conn).await? {
            out.insert(r.try_get("id")?, r.try_get("seq")?);
        }
    }
    Ok(out)
}

/// The store's oldest pending events, at most one per customer so that a
/// batch never holds two events of the same customer (they are applied in
/// order, one batch after the other). A customer whose event waits for a
/// retry (`retry_at` after `now`) is left out whole: their later events
/// wait behind it.
///
/// The customers waiting for a retry are one uncorrelated subquery, read
/// once per batch (few rows, on `events_waiting`), not a lookup per
/// candidate: a correlated `NOT EXISTS` let PostgreSQL, with a young
/// table's statistics, plan a nested loop over the store's pending events
/// for each of them (0.6 s for a batch of 1000 behind 17,000 pending).
/// The lower bound on `seq` (the store's oldest pending event, the first
/// entry of `events_pending_by_store`) bounds the other plan PostgreSQL
/// may pick when its statistics say most events are pending: a walk of
/// the primary key in seq order, which without it starts at the table's
/// first event, however many were processed since.
pub async fn next_batch(
    conn: &mut Conn,
    store: &str,
    limit: u32,
    now: Millis,
) -> DbResult<Vec<StoredEvent>> {
    let rows = sqlx::query(
        "SELECT seq, store_id, id, type, customer_id, occurred_at, data, received_at
         FROM events WHERE store_id = $1 AND status = 'pending'
           AND seq >= (SELECT MIN(seq) FROM events WHERE store_id = $1 AND status = 'pending')
           AND customer_id NOT IN (SELECT customer_id FROM events WHERE store_id = $1
             AND retry_at IS NOT NULL AND retry_at > $3 AND status = 'pending')
         ORDER BY seq LIMIT $2",
    )
    .bind(store)
    .bind(i64::from(limit))
    .bind(now)
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
        let seq: i64 = r.try_get("seq")?;
        let parsed = from_stored(
            r.try_get("id")?,
            r.try_get("type")?,
            customer_id,
            r.try_get("occurred_at")?,
            r.try_get("data")?,
        );
        match parsed {
            Ok(event) => {
                out.push(StoredEvent {
                    seq,
                    store_id,
                    event,
                    received_at: r.try_get("received_at")?,
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

/// Status and seq of the store's events with these ids.
pub async fn status_of(
    conn: &mut Conn,
    store: &str,
    id: &str,
) -> DbResult<Option<(i64, EventStatus)>> {
    sqlx::query("SELECT seq, status FROM events WHERE store_id = $1 AND id = $2")
        .bind(store)
        .bind(id)
        .read_one(conn, |r| {
            Ok((r.try_get("seq")?, super::state_col(r, "status", EventStatus::parse)?))
        })
        .await
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

/// The stores that have pending events, with how many each.
pub async fn pending_by_store(conn: &mut Conn) -> DbResult<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT store_id, COUNT(*) AS n FROM events WHERE status = 'pending' GROUP BY store_id",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("store_id")?, r.try_get("n")?))).collect()
}

/// The last seq of the store's batch that began and never committed, if
/// one did: its pending events up to there may have met a call that never
/// came back.
pub async fn open_batch(conn: &mut Conn, store: &str) -> DbResult<Option<i64>> {
    sqlx::query("SELECT to_seq FROM open_batches WHERE store_id = $1")
        .bind(store)
        .read_one(conn, |r| Ok(r.try_get("to_seq")?))
        .await
}

/// Marks a batch of the store's events up to `to_seq` as begun (committed
/// before any plugin runs); keeps the larger mark if one is left.
pub async fn begin_batch(conn: &mut Conn, store: &str, to_seq: i64) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO open_batches (store_id, to_seq) VALUES ($1, $2)
         ON CONFLICT (store_id) DO UPDATE SET to_seq = CASE WHEN open_batches.to_seq > $2 THEN open_batches.to_seq ELSE $2 END",
    )
    .bind(store)
    .bind(to_seq)
    .execute(conn)
    .await?;
    Ok(())
}

/// The store's batch committed: nothing of it is left open.
pub async fn end_batch(conn: &mut Conn, store: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM open_batches WHERE store_id = $1").bind(store).execute(conn).await?;
    Ok(())
}

pub async fn mark_processed_many(conn: &mut Conn, seqs: &[i64], now: Millis) -> DbResult<()> {
    for chunk in seqs.chunks(super::bulk::CHUNK) {
        let sql = with_list(
            conn,
            "UPDATE events SET status = 'processed', processed_at = $1, retry_at = NULL
             WHERE seq IN ($list)",
            1,
            chunk.len(),
        );
        let q = bind_list(sqlx::query(&sql).bind(now), chunk);
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Leaves an event pending until `at`: one of its calls is retried then.
pub async fn retry_at(conn: &mut Conn, seq: i64, at: Millis) -> DbResult<()> {
    sqlx::query("UPDATE events SET retry_at = $2 WHERE seq = $1")
        .bind(seq)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Makes processed events of the store pending again (a re-drive).
pub async fn requeue(conn: &mut Conn, store: &str, ids: &[&str]) -> DbResult<()> {
    for chunk in ids.chunks(super::bulk::CHUNK) {
        let sql = with_list(
            conn,
            "UPDATE events SET status = 'pending', processed_at = NULL
             WHERE store_id = $1 AND status = 'processed' AND id IN ($list)",
            1,
            chunk.len(),
        );
        bind_list(sqlx::query(&sql).bind(store), chunk).execute(&mut *conn).await?;
    }
    Ok(())
}

/// An event as recorded, with where it is.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub seq: i64,
    pub event: Event,
    pub received_at: Millis,
    pub status: EventStatus,
}

/// The store's events in arrival order: after `after` (a seq), occurred
/// at or after `since`, at most `limit`.
pub async fn recorded(
    conn: &mut Conn,
    store: &str,
    after: i64,
    since: Millis,
    limit: u32,
) -> DbResult<Vec<Recorded>> {
    let rows = sqlx::query(&format!(
        "SELECT seq, id, type, customer_id, occurred_at, data, received_at, status
         FROM events WHERE store_id = $1 AND seq > $2 AND occurred_at >= $3
         ORDER BY seq LIMIT {limit}"
    ))
    .bind(store)
    .bind(after)
    .bind(since)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(recorded_row)
        .collect::<DbResult<Vec<_>>>()
        .map(|v| v.into_iter().flatten().collect())
}

/// A stored event as read back (none if it no longer parses).
fn recorded_row(r: &sqlx::any::AnyRow) -> DbResult<Option<Recorded>> {
    let parsed = from_stored(
        r.try_get("id")?,
        r.try_get("type")?,
        r.try_get("customer_id")?,
        r.try_get("occurred_at")?,
        r.try_get("data")?,
    );
    let Ok(event) = parsed else { return Ok(None) };
    Ok(Some(Recorded {
        seq: r.try_get("seq")?,
        event,
        received_at: r.try_get("received_at")?,
        status: super::state_col(r, "status", EventStatus::parse)?,
    }))
}

/// Deletes up to `limit` of the store's raw events that arrived before
/// `before`, with their outcomes and call records: processed ones only,
/// and none a failure still waits on (retrying, dead, held). What their
/// effects wrote (ledger, orders, segments, flows) stays. Returns how
/// many went.
pub async fn delete_arrived_before(
    conn: &mut Conn,
    store: &str,
    before: Millis,
    limit: u32,
) -> DbResult<u64> {
    let rows = sqlx::query(&format!(
        "SELECT e.id FROM events e
         WHERE e.store_id = $1 AND e.received_at < $2 AND e.status <> 'pending'
           AND NOT EXISTS (SELECT 1 FROM failures f WHERE f.store_id = e.store_id
                           AND f.event_id = e.id AND f.state <> 'resolved')
         ORDER BY e.seq LIMIT {limit}"
    ))
    .bind(store)
    .bind(before)
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?;
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut deleted = 0;
    for chunk in ids.chunks(super::bulk::CHUNK) {
        for table in ["outcomes", "call_attempts", "failures"] {
            let sql = with_list(
                conn,
                &format!("DELETE FROM {table} WHERE store_id = $1 AND event_id IN ($list)"),
                1,
                chunk.len(),
            );
            bind_list(sqlx::query(&sql).bind(store), chunk).execute(&mut *conn).await?;
        }
        let sql = with_list(
            conn,
            "DELETE FROM events WHERE store_id = $1 AND id IN ($list)",
            1,
            chunk.len(),
        );
        deleted += bind_list(sqlx::query(&sql).bind(store), chunk)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(deleted)
}

/// The customer's events, oldest first, as stored (their data as sent).
pub async fn of_customer(conn: &mut Conn, store: &str, customer: &str) -> DbResult<Vec<Recorded>> {
    let rows = sqlx::query(
        "SELECT seq, id, type, customer_id, occurred_at, data, received_at, status
         FROM events WHERE store_id = $1 AND customer_id = $2 ORDER BY seq",
    )
    .bind(store)
    .bind(customer)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(recorded_row)
        .collect::<DbResult<Vec<_>>>()
        .map(|v| v.into_iter().flatten().collect())
}

/// How many of the customer's events wait to be processed.
pub async fn pending_of_customer(conn: &mut Conn, store: &str, customer: &str) -> DbResult<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM events WHERE store_id = $1 AND customer_id = $2 AND status = 'pending'",
    )
    .bind(store)
    .bind(customer)
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("n")?)
}
