use serde::Serialize;

use super::row::{read, JsonArray, ReadRows};
use super::{Conn, DbResult};
use crate::domain::effect::Effect;
use crate::domain::states::OutcomeStatus;
use crate::domain::time::Millis;

/// What one install did with one event.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Outcome {
    pub install_id: String,
    pub plugin: String,
    #[sqlx(try_from = "String")]
    pub status: OutcomeStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The effects applied for this install.
    #[sqlx(try_from = "JsonArray")]
    pub effects: Vec<Effect>,
    /// The call's real time, failed calls too.
    pub elapsed_us: i64,
    /// Fuel the call used (none where no call ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fuel: Option<i64>,
    /// A failed call's last lines: what the plugin logged and printed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[sqlx(try_from = "JsonArray")]
    pub logs: Vec<crate::domain::log::LogLine>,
}

pub async fn for_event(conn: &mut Conn, store: &str, event: &str) -> DbResult<Vec<Outcome>> {
    sqlx::query(
        "SELECT install_id, plugin, status, error_code, error, effects, elapsed_us, fuel, logs
         FROM outcomes WHERE store_id = $1 AND event_id = $2 ORDER BY created_at, install_id",
    )
    .bind(store)
    .bind(event)
    .read_all(conn, read)
    .await
}

/// The outcomes of these events of the store, by event id.
pub async fn for_events(
    conn: &mut Conn,
    store: &str,
    events: &[&str],
) -> DbResult<std::collections::HashMap<String, Vec<Outcome>>> {
    use sqlx::Row;
    let mut out: std::collections::HashMap<String, Vec<Outcome>> = Default::default();
    for chunk in events.chunks(super::bulk::CHUNK) {
        let sql = super::bulk::with_list(
            conn,
            "SELECT event_id, install_id, plugin, status, error_code, error, effects, elapsed_us,
               fuel, logs FROM outcomes WHERE store_id = $1 AND event_id IN ($list)
             ORDER BY created_at, install_id",
            1,
            chunk.len(),
        );
        let rows = super::bulk::bind_list(sqlx::query(&sql).bind(store), chunk)
            .fetch_all(&mut *conn)
            .await?;
        for r in &rows {
            out.entry(r.try_get("event_id")?).or_default().push(read(r)?);
        }
    }
    Ok(out)
}

/// Stores the outcomes of a batch: `(store, event, outcome)`. A row that
/// exists already is an error: the batch must then not commit.
pub async fn insert_many(
    conn: &mut Conn,
    rows: &[(String, String, Outcome)],
    now: Millis,
) -> DbResult<()> {
    for chunk in rows.chunks(super::bulk::CHUNK) {
        let sql = format!(
            "INSERT INTO outcomes (store_id, event_id, install_id, plugin, status, error_code, error,
               effects, elapsed_us, fuel, logs, created_at) VALUES {}",
            super::bulk::Style::of(conn).values(chunk.len(), 12, 1)
        );
        let mut q = sqlx::query(&sql);
        for (store, event, o) in chunk {
            q = q
                .bind(store)
                .bind(event)
                .bind(&o.install_id)
                .bind(&o.plugin)
                .bind(o.status.as_str())
                .bind(&o.error_code)
                .bind(&o.error)
                .bind(serde_json::to_string(&o.effects).expect("effects serialize"))
                .bind(o.elapsed_us)
                .bind(o.fuel)
                .bind(if o.logs.is_empty() {
                    None
                } else {
                    Some(serde_json::to_string(&o.logs).expect("serializes"))
                })
                .bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Forgets the outcomes of these (event, install) pairs of the store, so
/// that a re-drive records them again.
pub async fn forget(conn: &mut Conn, store: &str, pairs: &[(&str, &str)]) -> DbResult<()> {
    for (event, install) in pairs {
        sqlx::query(
            "DELETE FROM outcomes WHERE store_id = $1 AND event_id = $2 AND install_id = $3",
        )
        .bind(store)
        .bind(*event)
        .bind(*install)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
