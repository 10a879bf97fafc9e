//! Every change of an install: who made it, when, and the install before
//! and after.

use serde::Serialize;
use serde_json::Value;

use super::row::{read, JsonObject, ReadRows};
use super::{Conn, DbResult};
use crate::domain::time::Millis;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Change {
    pub id: i64,
    pub install_id: String,
    pub at: Millis,
    /// `admin`, `store` (the store's API key), or the host itself:
    /// `breaker`, `canary`.
    pub actor: String,
    /// `install`, `update`, `rollback`, `promote`, `trip`, `canary_rollback`.
    pub action: String,
    pub reason: Option<String>,
    /// The install's settings before (none for `install`) and after.
    #[sqlx(try_from = "JsonObject")]
    pub before: Value,
    #[sqlx(try_from = "JsonObject")]
    pub after: Value,
}

pub struct NewChange<'a> {
    pub store: &'a str,
    pub install: &'a str,
    pub actor: &'a str,
    pub action: &'a str,
    pub reason: Option<&'a str>,
    pub before: Option<&'a Value>,
    pub after: &'a Value,
}

pub async fn record(conn: &mut Conn, c: &NewChange<'_>, now: Millis) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO install_history (store_id, install_id, at, actor, action, reason, before, after)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(c.store)
    .bind(c.install)
    .bind(now)
    .bind(c.actor)
    .bind(c.action)
    .bind(c.reason)
    .bind(c.before.map(Value::to_string))
    .bind(c.after.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// The install's changes, oldest first.
pub async fn of_install(conn: &mut Conn, install: &str) -> DbResult<Vec<Change>> {
    sqlx::query(
        "SELECT id, install_id, at, actor, action, reason, before, after FROM install_history
         WHERE install_id = $1 ORDER BY id",
    )
    .bind(install)
    .read_all(conn, read)
    .await
}
