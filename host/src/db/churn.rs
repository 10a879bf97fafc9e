//! Churn assessments and rescue flows.

use crate::domain::rescue::FlowNote;
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use super::bulk::Style;
use super::bulk::{bind_list, with_list};
use super::row::{read, JsonArray, JsonObject, ReadRows};
use super::{Conn, DbResult};
use crate::domain::states::FlowState;
use crate::domain::time::Millis;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Assessment {
    pub install_id: String,
    pub customer_id: String,
    pub p_alive: f64,
    pub risk: f64,
    pub value_cents: i64,
    #[sqlx(try_from = "JsonObject")]
    pub details: Value,
    pub as_of: Millis,
    pub assessed_at: Millis,
}

pub async fn save_assessments(conn: &mut Conn, store: &str, list: &[Assessment]) -> DbResult<()> {
    for chunk in list.chunks(super::bulk::CHUNK) {
        let sql = format!(
            "INSERT INTO assessments (store_id, install_id, customer_id, p_alive, risk, value_cents, details,
               as_of, assessed_at)
             VALUES {} ON CONFLICT (install_id, customer_id) DO UPDATE SET p_alive = excluded.p_alive,
               risk = excluded.risk, value_cents = excluded.value_cents, details = excluded.details,
               as_of = excluded.as_of, assessed_at = excluded.assessed_at",
            Style::of(conn).values(chunk.len(), 9, 1)
        );
        let mut q = sqlx::query(&sql);
        for a in chunk {
            q = q
                .bind(store)
                .bind(&a.install_id)
                .bind(&a.customer_id)
                .bind(a.p_alive)
                .bind(a.risk)
                .bind(a.value_cents)
                .bind(a.details.to_string())
                .bind(a.as_of)
                .bind(a.assessed_at);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The customer's most recent assessment.
pub async fn latest_assessment(
    conn: &mut Conn,
    store: &str,
    customer: &str,
) -> DbResult<Option<Assessment>> {
    sqlx::query(
        "SELECT install_id, customer_id, p_alive, risk, value_cents, details, as_of, assessed_at
         FROM assessments WHERE store_id = $1 AND customer_id = $2
         ORDER BY assessed_at DESC LIMIT 1",
    )
    .bind(store)
    .bind(customer)
    .read_one(conn, read)
    .await
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Flow {
    pub id: String,
    pub store_id: String,
    pub install_id: String,
    pub customer_id: String,
    #[sqlx(try_from = "String")]
    pub state: FlowState,
    /// The step due next (active) or the last one reached.
    pub step: i64,
    pub due_at: Option<Millis>,
    pub started_at: Millis,
    pub ended_at: Option<Millis>,
    pub updated_at: Millis,
    pub p_alive: f64,
    pub value_cents: i64,
    /// What happened, in order.
    #[sqlx(try_from = "JsonArray")]
    pub history: Vec<FlowNote>,
}

const COLUMNS: &str =
    "id, store_id, install_id, customer_id, state, step, due_at, started_at, ended_at,
    updated_at, p_alive, value_cents, history";

/// Inserts a flow or writes back every mutable field of an existing one.
pub async fn save_flow(conn: &mut Conn, f: &Flow) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO flows (id, store_id, install_id, customer_id, state, step, due_at, started_at, ended_at,
           updated_at, p_alive, value_cents, history)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, step = excluded.step,
           due_at = excluded.due_at, ended_at = excluded.ended_at, updated_at = excluded.updated_at,
           p_alive = excluded.p_alive, value_cents = excluded.value_cents, history = excluded.history",
    )
    .bind(&f.id)
    .bind(&f.store_id)
    .bind(&f.install_id)
    .bind(&f.customer_id)
    .bind(f.state.as_str())
    .bind(f.step)
    .bind(f.due_at)
    .bind(f.started_at)
    .bind(f.ended_at)
    .bind(f.updated_at)
    .bind(f.p_alive)
    .bind(f.value_cents)
    .bind(serde_json::to_string(&f.history).expect("a flow's history serializes"))
    .execute(conn)
    .await?;
    Ok(())
}

/// The customer's latest flow (any state).
pub async fn latest_flow(conn: &mut Conn, store: &str, customer: &str) -> DbResult<Option<Flow>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM flows WHERE store_id = $1 AND customer_id = $2
         ORDER BY CASE WHEN state = 'active' THEN 0 ELSE 1 END, updated_at DESC LIMIT 1"
    ))
    .bind(store)
    .bind(customer)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(read)
    .transpose()
}

/// The latest flow of each of these customers.
pub async fn latest_of(
    conn: &mut Conn,
    store: &str,
    customers: &[&str],
) -> DbResult<std::collections::HashMap<String, Flow>> {
    let mut out = std::collections::HashMap::new();
    for chunk in customers.chunks(super::bulk::CHUNK) {
        let sql = with_list(
            conn,
            &format!(
                "SELECT {COLUMNS} FROM flows WHERE store_id = $1 AND customer_id IN ($list)
                 ORDER BY updated_at"
            ),
            1,
            chunk.len(),
        );
        let q = bind_list(sqlx::query(&sql).bind(store), chunk);
        for r in q.fetch_all(&mut *conn).await? {
            let f: Flow = read(&r)?;
            // An active flow wins; otherwise the most recently updated.
            let keep_old = out.get(&f.customer_id).is_some_and(|old: &Flow| {
                old.state == FlowState::Active && f.state != FlowState::Active
            });
            if !keep_old {
                out.insert(f.customer_id.clone(), f);
            }
        }
    }
    Ok(out)
}

/// Active flows whose step is due, oldest first.
pub async fn due(conn: &mut Conn, store: &str, now: Millis, limit: u32) -> DbResult<Vec<Flow>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM flows WHERE store_id = $1 AND state = 'active' AND due_at <= $2
         ORDER BY due_at LIMIT $3"
    ))
    .bind(store)
    .bind(now)
    .bind(i64::from(limit))
    .read_all(conn, read)
    .await
}

/// The stores with flow steps due by `now`.
pub async fn stores_due(conn: &mut Conn, now: Millis) -> DbResult<Vec<String>> {
    sqlx::query("SELECT DISTINCT store_id FROM flows WHERE state = 'active' AND due_at <= $1")
        .bind(now)
        .read_all(conn, |r| Ok(r.try_get("store_id")?))
        .await
}

pub async fn list(
    conn: &mut Conn,
    store: &str,
    state: Option<FlowState>,
    limit: u32,
) -> DbResult<Vec<Flow>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM flows WHERE store_id = $1 AND ($2 = '' OR state = $2)
         ORDER BY started_at, id LIMIT $3"
    ))
    .bind(store)
    .bind(state.map_or("", FlowState::as_str))
    .bind(i64::from(limit))
    .read_all(conn, read)
    .await
}

/// Every assessment of the customer (one per install), for their export.
pub async fn assessments_of(
    conn: &mut Conn,
    store: &str,
    customer: &str,
) -> DbResult<Vec<Assessment>> {
    sqlx::query(
        "SELECT install_id, customer_id, p_alive, risk, value_cents, details, as_of, assessed_at
         FROM assessments WHERE store_id = $1 AND customer_id = $2 ORDER BY install_id",
    )
    .bind(store)
    .bind(customer)
    .read_all(conn, read)
    .await
}

/// Every flow of the customer, oldest first, for their export.
pub async fn flows_of(conn: &mut Conn, store: &str, customer: &str) -> DbResult<Vec<Flow>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM flows WHERE store_id = $1 AND customer_id = $2 ORDER BY started_at, id"
    ))
    .bind(store)
    .bind(customer)
    .read_all(conn, read)
    .await
}
