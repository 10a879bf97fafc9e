//! Fitted models, one per install (the latest).

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use super::row::{read, JsonObject, ReadRows};
use super::{Conn, DbResult};
use crate::domain::time::Millis;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ModelInfo {
    pub install_id: String,
    pub plugin: String,
    pub as_of: Millis,
    pub customers: i64,
    pub elapsed_ms: i64,
    pub fitted_at: Millis,
    #[sqlx(try_from = "JsonObject")]
    pub summary: Value,
    pub last_error: Option<String>,
    pub last_attempt_at: Millis,
}

/// A successful fit.
pub struct NewModel<'a> {
    pub store: &'a str,
    pub install_id: &'a str,
    pub plugin: &'a str,
    pub as_of: Millis,
    pub model: &'a [u8],
    pub summary: &'a str,
    pub customers: i64,
    pub elapsed_ms: i64,
}

pub async fn save(conn: &mut Conn, m: &NewModel<'_>, now: Millis) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO models (install_id, store_id, plugin, as_of, model, summary, customers, elapsed_ms,
           fitted_at, last_error, last_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $9)
         ON CONFLICT (install_id) DO UPDATE SET plugin = excluded.plugin, as_of = excluded.as_of,
           model = excluded.model, summary = excluded.summary, customers = excluded.customers,
           elapsed_ms = excluded.elapsed_ms, fitted_at = excluded.fitted_at, last_error = NULL,
           last_attempt_at = excluded.last_attempt_at",
    )
    .bind(m.install_id)
    .bind(m.store)
    .bind(m.plugin)
    .bind(m.as_of)
    .bind(m.model)
    .bind(m.summary)
    .bind(m.customers)
    .bind(m.elapsed_ms)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// A failed fit: the previous model (if any) stays in use.
pub async fn save_failure(
    conn: &mut Conn,
    store: &str,
    install_id: &str,
    plugin: &str,
    error: &str,
    now: Millis,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO models (install_id, store_id, plugin, as_of, model, summary, customers, elapsed_ms,
           fitted_at, last_error, last_attempt_at)
         VALUES ($1, $2, $3, 0, $4, '{}', 0, 0, 0, $5, $6)
         ON CONFLICT (install_id) DO UPDATE SET last_error = excluded.last_error,
           last_attempt_at = excluded.last_attempt_at",
    )
    .bind(install_id)
    .bind(store)
    .bind(plugin)
    .bind(Vec::<u8>::new())
    .bind(error)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The model bytes of an install (empty before its first fit).
pub async fn bytes(conn: &mut Conn, install_id: &str) -> DbResult<Vec<u8>> {
    Ok(sqlx::query("SELECT model FROM models WHERE install_id = $1")
        .bind(install_id)
        .fetch_optional(conn)
        .await?
        .map(|r| r.try_get::<Vec<u8>, _>("model"))
        .transpose()?
        .unwrap_or_default())
}

pub async fn list(conn: &mut Conn, store: &str) -> DbResult<Vec<ModelInfo>> {
    sqlx::query(
        "SELECT install_id, plugin, as_of, customers, elapsed_ms, fitted_at, summary, last_error,
                last_attempt_at
         FROM models WHERE store_id = $1 ORDER BY install_id",
    )
    .bind(store)
    .read_all(conn, read)
    .await
}
