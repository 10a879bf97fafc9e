//! The call journal for events that were attempted before: a call is
//! counted as started before it runs and as finished when it returns, each
//! committed on its own. A call that keeps being started without finishing
//! hung or took the process down with it, and is given up on.

use sqlx::Row;

use super::bulk::{bind_list, with_list};
use super::row::ReadRows;
use super::{Conn, DbResult};
use crate::domain::time::Millis;

/// Starts of the call of `install` on `event` that never finished.
pub async fn unfinished(conn: &mut Conn, store: &str, event: &str, install: &str) -> DbResult<i64> {
    let row = sqlx::query(
        "SELECT started - finished AS n FROM call_attempts
         WHERE store_id = $1 AND event_id = $2 AND install_id = $3",
    )
    .bind(store)
    .bind(event)
    .bind(install)
    .read_one(conn, |r| Ok(r.try_get("n")?))
    .await?;
    Ok(row.unwrap_or(0))
}

/// What the journal counts of a call.
#[derive(Debug, Clone, Copy)]
pub enum Mark {
    /// A start, counted before the call runs.
    Started,
    /// The call returned, whatever it returned.
    Finished,
}

/// Counts a start or an end of the install's call on the event.
pub async fn mark(
    conn: &mut Conn,
    (store, event, install): (&str, &str, &str),
    mark: Mark,
    now: Millis,
) -> DbResult<()> {
    let sql = match mark {
        Mark::Started => {
            "INSERT INTO call_attempts (store_id, event_id, install_id, started, finished, updated_at)
             VALUES ($1, $2, $3, 1, 0, $4)
             ON CONFLICT (store_id, event_id, install_id)
             DO UPDATE SET started = call_attempts.started + 1, updated_at = $4"
        }
        Mark::Finished => {
            "UPDATE call_attempts SET finished = finished + 1, updated_at = $4
             WHERE store_id = $1 AND event_id = $2 AND install_id = $3"
        }
    };
    sqlx::query(sql).bind(store).bind(event).bind(install).bind(now).execute(conn).await?;
    Ok(())
}

/// Forgets the journal of events whose outcomes are committed.
pub async fn forget(conn: &mut Conn, store: &str, events: &[&str]) -> DbResult<()> {
    for chunk in events.chunks(super::bulk::CHUNK) {
        let sql = with_list(
            conn,
            "DELETE FROM call_attempts WHERE store_id = $1 AND event_id IN ($list)",
            1,
            chunk.len(),
        );
        let q = bind_list(sqlx::query(&sql).bind(store), chunk);
        q.execute(&mut *conn).await?;
    }
    Ok(())
}
