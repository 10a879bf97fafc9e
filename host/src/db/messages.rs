//! The outbox: every message a plugin asked to send, and its delivery.

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use super::row::{read, JsonObject, ReadRows};
use super::{Conn, DbResult};
use crate::domain::states::MessageState;
use crate::domain::time::{self, Millis};

/// A message a plugin asked to send, with its delivery state (as the
/// outbox endpoint shows it).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Message {
    pub id: String,
    pub customer_id: String,
    pub install_id: String,
    pub event_id: Option<String>,
    /// The rescue flow and step that sent it, if one did.
    pub flow_id: Option<String>,
    pub step: Option<i64>,
    #[schema(example = "email")]
    pub channel: String,
    pub template: String,
    #[sqlx(try_from = "JsonObject")]
    pub vars: Value,
    #[sqlx(try_from = "String")]
    pub state: MessageState,
    pub attempts: i64,
    pub last_error: Option<String>,
    #[serde(serialize_with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Millis,
    #[serde(serialize_with = "time::rfc3339_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<Millis>,
}

impl Message {
    /// A new queued message.
    pub fn queued(id: String, customer_id: String, install_id: String, now: Millis) -> Message {
        Message {
            id,
            customer_id,
            install_id,
            event_id: None,
            flow_id: None,
            step: None,
            channel: String::new(),
            template: String::new(),
            vars: Value::Object(Default::default()),
            state: MessageState::Queued,
            attempts: 0,
            last_error: None,
            created_at: now,
            delivered_at: None,
        }
    }
}

/// Queues a message. A flow step's message that is already queued is
/// not queued again; returns whether this one was.
pub async fn insert(conn: &mut Conn, store: &str, m: &Message) -> DbResult<bool> {
    let n = sqlx::query(
        "INSERT INTO messages (id, store_id, customer_id, install_id, event_id, flow_id, step, channel,
           template, vars, state, attempts, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
         ON CONFLICT DO NOTHING",
    )
    .bind(&m.id)
    .bind(store)
    .bind(&m.customer_id)
    .bind(&m.install_id)
    .bind(&m.event_id)
    .bind(&m.flow_id)
    .bind(m.step)
    .bind(&m.channel)
    .bind(&m.template)
    .bind(m.vars.to_string())
    .bind(m.state.as_str())
    .bind(m.attempts)
    .bind(m.created_at)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

const COLUMNS: &str =
    "id, store_id, customer_id, install_id, event_id, flow_id, step, channel, template, vars,
    state, attempts, last_error, created_at, delivered_at";

pub async fn list(conn: &mut Conn, store: &str, limit: u32) -> DbResult<Vec<Message>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM messages WHERE store_id = $1 ORDER BY created_at, id LIMIT $2"
    ))
    .bind(store)
    .bind(i64::from(limit))
    .read_all(conn, read)
    .await
}

/// The messages queued for one customer, oldest first.
pub async fn of_customer(conn: &mut Conn, store: &str, customer: &str) -> DbResult<Vec<Message>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM messages WHERE store_id = $1 AND customer_id = $2
         ORDER BY created_at, id LIMIT 1000"
    ))
    .bind(store)
    .bind(customer)
    .read_all(conn, read)
    .await
}

/// Queued messages whose next attempt is due, with their store.
pub async fn due(conn: &mut Conn, now: Millis, limit: u32) -> DbResult<Vec<(String, Message)>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM messages WHERE state = 'queued' AND COALESCE(next_attempt_at, 0) <= $1
         ORDER BY created_at LIMIT $2"
    ))
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("store_id")?, read(r)?))).collect()
}

/// Records one delivery attempt: delivered, failed for good, or to be
/// retried at `retry_at`.
pub async fn record_attempt(
    conn: &mut Conn,
    id: &str,
    state: MessageState,
    error: Option<&str>,
    retry_at: Option<Millis>,
    now: Millis,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE messages SET state = $2, attempts = attempts + 1, last_error = $3, next_attempt_at = $4,
           delivered_at = CASE WHEN $2 = 'delivered' THEN $5 ELSE delivered_at END, updated_at = $5
         WHERE id = $1 AND state = 'queued'",
    )
    .bind(id)
    .bind(state.as_str())
    .bind(error)
    .bind(retry_at)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
