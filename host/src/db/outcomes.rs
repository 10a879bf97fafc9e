use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use super::{json_col, Conn, DbResult};
use crate::domain::time::Millis;

/// What one install did with one event.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub install_id: String,
    pub plugin: String,
    /// `ok` or `failed`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub effects: Value,
    pub elapsed_us: i64,
}

/// Whether the install already handled the event (the done-mark exists).
pub async fn exists(conn: &mut Conn, store: &str, event: &str, install: &str) -> DbResult<bool> {
    let row = sqlx::query(
        "SELECT 1 AS one FROM outcomes WHERE store_id = $1 AND event_id = $2 AND install_id = $3",
    )
    .bind(store)
    .bind(event)
    .bind(install)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

pub async fn insert(
    conn: &mut Conn,
    store: &str,
    event: &str,
    o: &Outcome,
    now: Millis,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO outcomes (store_id, event_id, install_id, plugin, status, error_code, error,
           effects, elapsed_us, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(store)
    .bind(event)
    .bind(&o.install_id)
    .bind(&o.plugin)
    .bind(&o.status)
    .bind(&o.error_code)
    .bind(&o.error)
    .bind(o.effects.to_string())
    .bind(o.elapsed_us)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn for_event(conn: &mut Conn, store: &str, event: &str) -> DbResult<Vec<Outcome>> {
    let rows = sqlx::query(
        "SELECT install_id, plugin, status, error_code, error, effects, elapsed_us
         FROM outcomes WHERE store_id = $1 AND event_id = $2 ORDER BY created_at, install_id",
    )
    .bind(store)
    .bind(event)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Outcome {
                install_id: r.try_get("install_id")?,
                plugin: r.try_get("plugin")?,
                status: r.try_get("status")?,
                error_code: r.try_get("error_code")?,
                error: r.try_get("error")?,
                effects: json_col(r.try_get("effects")?, serde_json::json!([])),
                elapsed_us: r.try_get("elapsed_us")?,
            })
        })
        .collect()
}
