//! Counters of shadow and canary runs, and examples of where a shadow
//! decided differently from the live version.

use serde::Serialize;
use serde_json::Value;

use super::row::{read, JsonObject, ReadRows};
use super::{Conn, DbResult};
pub use crate::domain::rollout::Counts;
use crate::domain::time::Millis;

/// Which run a counter is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arm {
    Shadow,
    Canary,
    /// The live version, counted beside a canary.
    Live,
}

impl Arm {
    pub fn as_str(self) -> &'static str {
        match self {
            Arm::Shadow => "shadow",
            Arm::Canary => "canary",
            Arm::Live => "live",
        }
    }
}

/// Adds a batch's counts to the run's.
pub async fn add(
    conn: &mut Conn,
    install: &str,
    arm: Arm,
    version: &str,
    c: &Counts,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO rollout_stats (install_id, arm, version, calls, failures, agreements,
           disagreements, elapsed_us, fuel) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (install_id, arm) DO UPDATE SET calls = rollout_stats.calls + $4,
           failures = rollout_stats.failures + $5, agreements = rollout_stats.agreements + $6,
           disagreements = rollout_stats.disagreements + $7,
           elapsed_us = rollout_stats.elapsed_us + $8, fuel = rollout_stats.fuel + $9",
    )
    .bind(install)
    .bind(arm.as_str())
    .bind(version)
    .bind(c.calls)
    .bind(c.failures)
    .bind(c.agreements)
    .bind(c.disagreements)
    .bind(c.elapsed_us)
    .bind(c.fuel)
    .execute(conn)
    .await?;
    Ok(())
}

/// The run's counts since it began (zero before its first call).
pub async fn counts(conn: &mut Conn, install: &str, arm: Arm) -> DbResult<Counts> {
    let row = sqlx::query(
        "SELECT calls, failures, agreements, disagreements, elapsed_us, fuel
         FROM rollout_stats WHERE install_id = $1 AND arm = $2",
    )
    .bind(install)
    .bind(arm.as_str())
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(Counts::default()) };
    use sqlx::Row;
    Ok(Counts {
        calls: r.try_get("calls")?,
        failures: r.try_get("failures")?,
        agreements: r.try_get("agreements")?,
        disagreements: r.try_get("disagreements")?,
        elapsed_us: r.try_get("elapsed_us")?,
        fuel: r.try_get("fuel")?,
    })
}

/// A new run begins: its counters (and a shadow's examples) start over.
pub async fn reset(conn: &mut Conn, install: &str, arms: &[Arm]) -> DbResult<()> {
    for arm in arms {
        sqlx::query("DELETE FROM rollout_stats WHERE install_id = $1 AND arm = $2")
            .bind(install)
            .bind(arm.as_str())
            .execute(&mut *conn)
            .await?;
        if *arm == Arm::Shadow {
            sqlx::query("DELETE FROM shadow_diffs WHERE install_id = $1")
                .bind(install)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// Where a shadow decided differently.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Diff {
    pub event_id: String,
    pub customer_id: String,
    /// What the live version decided (or how it failed).
    #[sqlx(try_from = "JsonObject")]
    #[schema(value_type = Object)]
    pub live: Value,
    /// What the shadow decided.
    #[sqlx(try_from = "JsonObject")]
    #[schema(value_type = Object)]
    pub shadow: Value,
    #[serde(skip)]
    pub at: Millis,
}

/// Examples kept per install (the newest).
pub const MAX_DIFFS: i64 = 100;

pub async fn add_diffs(conn: &mut Conn, install: &str, diffs: &[Diff]) -> DbResult<()> {
    if diffs.is_empty() {
        return Ok(());
    }
    for d in diffs {
        sqlx::query(
            "INSERT INTO shadow_diffs (install_id, event_id, customer_id, live, shadow, at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(install)
        .bind(&d.event_id)
        .bind(&d.customer_id)
        .bind(d.live.to_string())
        .bind(d.shadow.to_string())
        .bind(d.at)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "DELETE FROM shadow_diffs WHERE install_id = $1 AND id <= (SELECT id FROM shadow_diffs
           WHERE install_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
    )
    .bind(install)
    .bind(MAX_DIFFS)
    .execute(conn)
    .await?;
    Ok(())
}

/// The shadow's examples, oldest first.
pub async fn diffs(conn: &mut Conn, install: &str) -> DbResult<Vec<Diff>> {
    sqlx::query(
        "SELECT event_id, customer_id, live, shadow, at FROM shadow_diffs
         WHERE install_id = $1 ORDER BY id",
    )
    .bind(install)
    .read_all(conn, read)
    .await
}
