//! The outbox: every message a plugin asked to send.

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use super::{json_col, Conn, DbResult};
use crate::domain::time::Millis;

#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub id: String,
    pub customer_id: String,
    pub install_id: String,
    pub event_id: Option<String>,
    pub channel: String,
    pub template: String,
    pub vars: Value,
    /// `queued`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub created_at: Millis,
}

pub async fn insert(conn: &mut Conn, store: &str, m: &Message) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO messages (id, store_id, customer_id, install_id, event_id, channel, template,
           vars, state, attempts, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
    )
    .bind(&m.id)
    .bind(store)
    .bind(&m.customer_id)
    .bind(&m.install_id)
    .bind(&m.event_id)
    .bind(&m.channel)
    .bind(&m.template)
    .bind(m.vars.to_string())
    .bind(&m.state)
    .bind(m.attempts)
    .bind(m.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn list(conn: &mut Conn, store: &str, limit: u32) -> DbResult<Vec<Message>> {
    let rows = sqlx::query(
        "SELECT id, customer_id, install_id, event_id, channel, template, vars, state, attempts, created_at
         FROM messages WHERE store_id = $1 ORDER BY created_at, id LIMIT $2",
    )
    .bind(store)
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Message {
                id: r.try_get("id")?,
                customer_id: r.try_get("customer_id")?,
                install_id: r.try_get("install_id")?,
                event_id: r.try_get("event_id")?,
                channel: r.try_get("channel")?,
                template: r.try_get("template")?,
                vars: json_col(r.try_get("vars")?, serde_json::json!({})),
                state: r.try_get("state")?,
                attempts: r.try_get("attempts")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}
