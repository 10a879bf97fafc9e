use crate::domain::World;
use serde::Serialize;
use sqlx::Row;

use super::row::{read, JsonArray, ReadRows};
use super::{Conn, DbResult};

/// A published plugin version (without its bytes), as stored and as the
/// API shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PluginVersion {
    #[schema(example = "points-basic")]
    pub name: String,
    #[schema(example = "1.0.0")]
    pub version: String,
    #[sqlx(try_from = "String")]
    pub world: World,
    pub description: String,
    #[sqlx(try_from = "JsonArray")]
    pub capabilities: Vec<String>,
    /// The customer data it asks to see (`pii`); an install must grant it.
    #[sqlx(try_from = "JsonArray")]
    pub scopes: Vec<String>,
    /// Of the component's bytes.
    pub sha256: String,
    pub size_bytes: i64,
    #[serde(serialize_with = "crate::domain::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub published_at: i64,
    /// The `clientele:crm` contract version it was built against.
    #[schema(example = "0.2.0")]
    pub contract: String,
    #[serde(skip)]
    #[schema(ignore)]
    pub manifest: String,
    /// A yanked version cannot be installed; installs running it go on.
    #[serde(serialize_with = "crate::domain::time::rfc3339_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub yanked_at: Option<i64>,
    pub yank_reason: Option<String>,
}

pub struct NewVersion<'a> {
    pub version: PluginVersion,
    pub component: &'a [u8],
}

pub async fn insert(conn: &mut Conn, new: NewVersion<'_>) -> DbResult<()> {
    let v = &new.version;
    sqlx::query(
        "INSERT INTO plugin_versions (name, version, world, description, capabilities, manifest,
           sha256, size_bytes, component, published_at, scopes, contract)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&v.name)
    .bind(&v.version)
    .bind(v.world.name())
    .bind(&v.description)
    .bind(serde_json::to_string(&v.capabilities).unwrap_or_else(|_| "[]".into()))
    .bind(&v.manifest)
    .bind(&v.sha256)
    .bind(v.size_bytes)
    .bind(new.component.to_vec())
    .bind(v.published_at)
    .bind(serde_json::to_string(&v.scopes).unwrap_or_else(|_| "[]".into()))
    .bind(&v.contract)
    .execute(conn)
    .await?;
    Ok(())
}

const COLUMNS: &str = "name, version, world, description, capabilities, scopes, manifest, sha256,
    size_bytes, published_at, contract, yanked_at, yank_reason";

pub async fn get(conn: &mut Conn, name: &str, version: &str) -> DbResult<Option<PluginVersion>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM plugin_versions WHERE name = $1 AND version = $2"))
        .bind(name)
        .bind(version)
        .read_one(conn, read)
        .await
}

pub async fn component_bytes(conn: &mut Conn, name: &str, version: &str) -> DbResult<Vec<u8>> {
    let row = sqlx::query("SELECT component FROM plugin_versions WHERE name = $1 AND version = $2")
        .bind(name)
        .bind(version)
        .fetch_one(conn)
        .await?;
    Ok(row.try_get("component")?)
}

pub async fn list(conn: &mut Conn) -> DbResult<Vec<PluginVersion>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM plugin_versions ORDER BY name, published_at"))
        .read_all(conn, read)
        .await
}

/// Yanks a version: it can no longer be installed. Returns whether the
/// version exists.
pub async fn yank(
    conn: &mut Conn,
    name: &str,
    version: &str,
    reason: &str,
    now: i64,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE plugin_versions SET yanked_at = COALESCE(yanked_at, $3), yank_reason = $4
         WHERE name = $1 AND version = $2",
    )
    .bind(name)
    .bind(version)
    .bind(now)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}
