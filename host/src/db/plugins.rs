use crate::domain::World;
use serde::Serialize;
use sqlx::Row;

use super::row::{read, JsonArray};
use super::{Conn, DbResult};

/// A published plugin version (without its bytes).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PluginVersion {
    pub name: String,
    pub version: String,
    #[sqlx(try_from = "String")]
    pub world: World,
    pub description: String,
    #[sqlx(try_from = "JsonArray")]
    pub capabilities: Vec<String>,
    pub sha256: String,
    pub size_bytes: i64,
    pub published_at: i64,
    #[serde(skip)]
    pub manifest: String,
}

pub struct NewVersion<'a> {
    pub version: PluginVersion,
    pub component: &'a [u8],
}

pub async fn insert(conn: &mut Conn, new: NewVersion<'_>) -> DbResult<()> {
    let v = &new.version;
    sqlx::query(
        "INSERT INTO plugin_versions (name, version, world, description, capabilities, manifest,
           sha256, size_bytes, component, published_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
    .execute(conn)
    .await?;
    Ok(())
}

const COLUMNS: &str =
    "name, version, world, description, capabilities, manifest, sha256, size_bytes, published_at";

pub async fn get(conn: &mut Conn, name: &str, version: &str) -> DbResult<Option<PluginVersion>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM plugin_versions WHERE name = $1 AND version = $2"
    ))
    .bind(name)
    .bind(version)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(read).transpose()
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
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM plugin_versions ORDER BY name, published_at"
    ))
    .fetch_all(conn)
    .await?;
    rows.iter().map(read).collect()
}
