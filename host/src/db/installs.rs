use crate::domain::World;
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use super::row::{read, Flag, JsonArray, JsonObject, JsonOpt, ReadRows};
use super::{Conn, DbResult};
use crate::domain::campaign::Campaign;
use crate::domain::rollout::{Canary, Shadow};
use crate::domain::states::FailurePolicy;
use crate::domain::time::Millis;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Install {
    #[sqlx(rename = "id")]
    pub install_id: String,
    pub store_id: String,
    pub plugin: String,
    pub version: String,
    #[sqlx(try_from = "String")]
    pub world: World,
    #[sqlx(try_from = "JsonObject")]
    pub config: Value,
    #[sqlx(try_from = "Flag")]
    pub enabled: bool,
    /// Why the host disabled it (circuit breaker), if it did.
    pub disabled_reason: Option<String>,
    pub invocations: i64,
    pub failures: i64,
    pub consecutive_failures: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// When a breaker disabled it (until it is enabled again).
    #[serde(skip)]
    pub tripped_at: Option<i64>,
    #[sqlx(try_from = "String")]
    pub failure_policy: FailurePolicy,
    /// Data scopes the merchant granted (`pii`).
    #[sqlx(try_from = "JsonArray")]
    pub grants: Vec<String>,
    #[sqlx(try_from = "JsonOpt<Shadow>")]
    pub shadow: Option<Shadow>,
    #[sqlx(try_from = "JsonOpt<Canary>")]
    pub canary: Option<Canary>,
    /// A point-rules install that is a campaign on top of the base rules.
    #[sqlx(try_from = "JsonOpt<Campaign>")]
    pub campaign: Option<Campaign>,
}

/// What decides an install's calls: a change of any of it while a batch
/// ran makes the batch stale.
#[derive(Debug, PartialEq)]
pub struct DecidesAs<'a> {
    plugin: &'a str,
    version: &'a str,
    config: &'a Value,
    shadow: Option<&'a Shadow>,
    /// A running canary's version, config and share.
    canary: Option<(&'a str, &'a Value, u8)>,
}

impl Install {
    pub fn decides_as(&self) -> DecidesAs<'_> {
        DecidesAs {
            plugin: &self.plugin,
            version: &self.version,
            config: &self.config,
            shadow: self.shadow.as_ref(),
            canary: self
                .canary
                .as_ref()
                .filter(|c| c.state == crate::domain::rollout::CanaryState::Running)
                .map(|c| (c.version.as_str(), &c.config, c.percent)),
        }
    }
}

const COLUMNS: &str = "id, store_id, plugin, version, world, config, enabled, disabled_reason,
    invocations, failures, consecutive_failures, created_at, updated_at, tripped_at,
    failure_policy, grants, shadow, canary, campaign";

fn json_of<T: Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(|v| serde_json::to_string(v).expect("serializes"))
}

pub async fn insert(conn: &mut Conn, i: &Install) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO installs (id, store_id, plugin, version, world, config, enabled, created_at,
           updated_at, failure_policy, grants, campaign)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11)",
    )
    .bind(&i.install_id)
    .bind(&i.store_id)
    .bind(&i.plugin)
    .bind(&i.version)
    .bind(i.world.name())
    .bind(i.config.to_string())
    .bind(i64::from(i.enabled))
    .bind(i.created_at)
    .bind(i.failure_policy.as_str())
    .bind(serde_json::to_string(&i.grants).expect("serializes"))
    .bind(json_of(&i.campaign))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn list(conn: &mut Conn, store: &str) -> DbResult<Vec<Install>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM installs WHERE store_id = $1 ORDER BY created_at, id"
    ))
    .bind(store)
    .read_all(conn, read)
    .await
}

pub async fn get(conn: &mut Conn, store: &str, id: &str) -> DbResult<Option<Install>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM installs WHERE store_id = $1 AND id = $2"))
        .bind(store)
        .bind(id)
        .read_one(conn, read)
        .await
}

/// The installs a batch of the store's events meets, oldest first (the
/// order they run in): the enabled ones, and those a breaker disabled
/// (events received before the trip are recorded as failed for them).
pub async fn for_events(conn: &mut Conn, store: &str) -> DbResult<Vec<Install>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM installs
         WHERE store_id = $1 AND (enabled = 1 OR tripped_at IS NOT NULL) ORDER BY created_at, id"
    ))
    .bind(store)
    .read_all(conn, read)
    .await
}

/// The store's enabled installs, oldest first (the order they run in).
pub async fn enabled(conn: &mut Conn, store: &str) -> DbResult<Vec<Install>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM installs WHERE store_id = $1 AND enabled = 1 ORDER BY created_at, id"
    ))
    .bind(store)
    .read_all(conn, read)
    .await
}

pub async fn update(conn: &mut Conn, i: &Install, now: Millis) -> DbResult<()> {
    sqlx::query(
        "UPDATE installs SET version = $3, config = $4, enabled = $5, disabled_reason = $6,
           consecutive_failures = $7, updated_at = $8, plugin = $9,
           tripped_at = CASE WHEN $5 = 1 THEN NULL ELSE tripped_at END,
           failure_policy = $10, grants = $11, shadow = $12, canary = $13, campaign = $14
         WHERE store_id = $1 AND id = $2",
    )
    .bind(&i.store_id)
    .bind(&i.install_id)
    .bind(&i.version)
    .bind(i.config.to_string())
    .bind(i64::from(i.enabled))
    .bind(&i.disabled_reason)
    .bind(i.consecutive_failures)
    .bind(now)
    .bind(&i.plugin)
    .bind(i.failure_policy.as_str())
    .bind(serde_json::to_string(&i.grants).expect("serializes"))
    .bind(json_of(&i.shadow))
    .bind(json_of(&i.canary))
    .bind(json_of(&i.campaign))
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets only the install's canary (the host rolling one back, in a batch
/// that also updates the install's counters).
pub async fn set_canary(
    conn: &mut Conn,
    id: &str,
    canary: &Option<Canary>,
    now: Millis,
) -> DbResult<()> {
    sqlx::query("UPDATE installs SET canary = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(json_of(canary))
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Adds a batch's calls to an install's counters; `tripped` disables it
/// with that reason (the circuit breaker).
pub async fn record_calls(
    conn: &mut Conn,
    id: &str,
    calls: i64,
    failures: i64,
    consecutive_failures: i64,
    tripped: Option<&str>,
    now: Millis,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE installs SET invocations = invocations + $2, failures = failures + $3,
           consecutive_failures = $4,
           enabled = CASE WHEN $5 IS NULL THEN enabled ELSE 0 END,
           disabled_reason = COALESCE($5, disabled_reason),
           updated_at = CASE WHEN $5 IS NULL THEN updated_at ELSE $6 END,
           tripped_at = CASE WHEN $5 IS NULL THEN tripped_at ELSE $6 END
         WHERE id = $1",
    )
    .bind(id)
    .bind(calls)
    .bind(failures)
    .bind(consecutive_failures)
    .bind(tripped)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Every `(plugin, version)` some store has enabled.
pub async fn enabled_versions(conn: &mut Conn) -> DbResult<Vec<(String, String)>> {
    let rows = sqlx::query("SELECT DISTINCT plugin, version FROM installs WHERE enabled = 1")
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| Ok((r.try_get("plugin")?, r.try_get("version")?))).collect()
}

/// Every install of any store that runs `plugin@version`: live, as a
/// shadow or as a canary.
pub async fn running(conn: &mut Conn, plugin: &str, version: &str) -> DbResult<Vec<Install>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM installs WHERE plugin = $1 ORDER BY store_id, created_at, id"
    ))
    .bind(plugin)
    .fetch_all(conn)
    .await?;
    let all: Vec<Install> = rows.iter().map(read).collect::<DbResult<_>>()?;
    Ok(all
        .into_iter()
        .filter(|i| {
            i.version == version
                || i.shadow.as_ref().is_some_and(|s| s.version == version)
                || i.canary.as_ref().is_some_and(|c| c.version == version)
        })
        .collect())
}
