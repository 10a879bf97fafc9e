use crate::domain::World;
use serde::Serialize;
use sqlx::Row;

use super::{Conn, DbResult};

/// A published plugin version (without its bytes).
#[derive(Debug, Clone, Serialize)]
pub struct PluginVersion {
    pub name: String,
    pub version: String,
    pub world: World,
    pub description: String,
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

fn from_row(r: &sqlx::any::AnyRow) -> DbResult<PluginVersion> {
    let caps: String = r.try_get("capabilities")?;
    Ok(PluginVersion {
        name: r.try_get("name")?,
        version: r.try_get("version")?,
        world: super::state_col(r, "world", World::parse)?,
        description: r.try_get("description")?,
        capabilities: serde_json::from_str(&caps).unwrap_or_default(),
        manifest: r.try_get("manifest")?,
        sha256: r.try_get("sha256")?,
        size_bytes: r.try_get("size_bytes")?,
        published_at: r.try_get("published_at")?,
    })
}

pub async fn get(conn: &mut Conn, name: &str, version: &str) -> DbResult<Option<PluginVersion>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM plugin_versions WHERE name = $1 AND version = $2"
    ))
    .bind(name)
    .bind(version)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
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
    rows.iter().map(from_row).collect()
}
