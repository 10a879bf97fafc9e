use serde::Serialize;
use sqlx::Row;

use super::row::{read, ReadRows};
use super::{Conn, DbResult};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Store {
    pub id: String,
    pub name: String,
    pub currency: String,
    pub timezone: String,
    pub created_at: i64,
}

pub async fn insert(conn: &mut Conn, store: &Store, api_key_sha256: &str) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO stores (id, name, currency, timezone, api_key_sha256, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&store.id)
    .bind(&store.name)
    .bind(&store.currency)
    .bind(&store.timezone)
    .bind(api_key_sha256)
    .bind(store.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, id: &str) -> DbResult<Option<Store>> {
    sqlx::query("SELECT id, name, currency, timezone, created_at FROM stores WHERE id = $1")
        .bind(id)
        .read_one(conn, read)
        .await
}

pub async fn list(conn: &mut Conn) -> DbResult<Vec<Store>> {
    sqlx::query("SELECT id, name, currency, timezone, created_at FROM stores ORDER BY id")
        .read_all(conn, read)
        .await
}

/// Gives the store a new API key (its sha256); the old one stops working.
pub async fn set_api_key(conn: &mut Conn, id: &str, api_key_sha256: &str) -> DbResult<()> {
    sqlx::query("UPDATE stores SET api_key_sha256 = $2 WHERE id = $1")
        .bind(id)
        .bind(api_key_sha256)
        .execute(conn)
        .await?;
    Ok(())
}

/// The store an API key belongs to.
pub async fn by_api_key(conn: &mut Conn, api_key_sha256: &str) -> DbResult<Option<String>> {
    let row = sqlx::query("SELECT id FROM stores WHERE api_key_sha256 = $1")
        .bind(api_key_sha256)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.try_get("id")).transpose()?)
}

/// The store's delivery settings (JSON), if set.
pub async fn delivery(conn: &mut Conn, id: &str) -> DbResult<Option<serde_json::Value>> {
    let row = sqlx::query("SELECT delivery FROM stores WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row
        .and_then(|r| r.try_get::<Option<String>, _>("delivery").ok().flatten())
        .and_then(|t| serde_json::from_str(&t).ok()))
}

pub async fn set_delivery(conn: &mut Conn, id: &str, delivery: &serde_json::Value) -> DbResult<()> {
    sqlx::query("UPDATE stores SET delivery = $2 WHERE id = $1")
        .bind(id)
        .bind(delivery.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// A store's privacy settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Privacy {
    /// Days a raw event is kept after it arrived; none: for ever.
    pub events_retention_days: Option<i64>,
    /// Fields of the store's own event types that carry personal data:
    /// removed (at any depth, by name) from an erased customer's events,
    /// beside the built-in names (`email`, `phone`, `name`, …).
    pub pii_fields: Vec<String>,
}

pub async fn privacy(conn: &mut Conn, id: &str) -> DbResult<Privacy> {
    let row = sqlx::query("SELECT events_retention_days, pii_fields FROM stores WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else { return Ok(Privacy::default()) };
    let fields: Option<String> = row.try_get("pii_fields")?;
    Ok(Privacy {
        events_retention_days: row.try_get("events_retention_days")?,
        pii_fields: fields.and_then(|f| serde_json::from_str(&f).ok()).unwrap_or_default(),
    })
}

pub async fn set_privacy(conn: &mut Conn, id: &str, p: &Privacy) -> DbResult<()> {
    sqlx::query("UPDATE stores SET events_retention_days = $2, pii_fields = $3 WHERE id = $1")
        .bind(id)
        .bind(p.events_retention_days)
        .bind(serde_json::to_string(&p.pii_fields).expect("names serialize"))
        .execute(conn)
        .await?;
    Ok(())
}

/// Stores that keep events for a limited time and whose last sweep was
/// a day or more before `now`, with their days.
pub async fn due_for_sweep(conn: &mut Conn, now: i64) -> DbResult<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT id, events_retention_days FROM stores
         WHERE events_retention_days IS NOT NULL
           AND (events_swept_at IS NULL OR events_swept_at <= $1) ORDER BY id",
    )
    .bind(now - crate::domain::time::DAY_MS)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("events_retention_days")?))).collect()
}

pub async fn set_swept(conn: &mut Conn, id: &str, now: i64) -> DbResult<()> {
    sqlx::query("UPDATE stores SET events_swept_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}
