//! What ops need around an install's versions and failures: the
//! dead-letter list and its re-drive, the shadow and canary reports,
//! rollback and the history of every change.

use super::params::ValidQuery;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::{InstallScope, StoreScope};
use super::installs::{InstallPath, InstallView};
use super::params::StorePath;
use super::valid::Valid;
use super::ApiError;
use crate::db::failures::{self, Failure};
use crate::db::history;
use crate::db::rollouts::{self, Arm, Counts, Diff};
use crate::domain::states::FailureState;
use crate::domain::time::to_rfc3339;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FailureQuery {
    /// Only failures in these states, comma-separated (default: `retrying,dead,held,redriving`;
    /// `all` for every state, `resolved` included).
    state: Option<String>,
    /// Failures per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Only failures with a smaller id (the last one of the previous page).
    before: Option<i64>,
}

/// The install's dead-letter list, newest first
#[utoipa::path(get, path = "/v1/stores/{store}/installs/{install}/failures", operation_id = "listInstallFailures", tag = "installs",
    params(StorePath, InstallPath, FailureQuery), responses((status = 200, body = Vec<Failure>)))]
pub async fn failures(
    scope: InstallScope,
    ValidQuery(q): ValidQuery<FailureQuery>,
) -> Result<Json<Vec<Failure>>, ApiError> {
    let limit = super::params::page_limit(q.limit)?;
    let states: Vec<FailureState> = match q.state.as_deref() {
        None => vec![
            FailureState::Retrying,
            FailureState::Dead,
            FailureState::Held,
            FailureState::Redriving,
        ],
        Some("all") => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|s| {
                FailureState::parse(s.trim()).ok_or_else(|| {
                    ApiError::field(
                        "state",
                        format!("`{s}` is not a state ({}, or all)", FailureState::list()),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let mut conn = scope.conn().await?;
    let id = &scope.install.install_id;
    let list = failures::list(&mut conn, id, &states, limit, q.before).await?;
    Ok(Json(list))
}

/// Which failures to re-drive: `ids`, or every dead and held one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryRequest {
    /// Failure ids; leave out for all.
    pub ids: Option<Vec<i64>>,
}

#[derive(Serialize, ToSchema)]
pub struct Redriven {
    /// How many failures were queued again.
    pub redriving: usize,
    pub failures: Vec<Failure>,
}

/// Re-drive failures after a fix: each runs again once, in the customer's order
#[utoipa::path(post, path = "/v1/stores/{store}/installs/{install}/failures/retry", operation_id = "retryInstallFailures", tag = "installs",
    params(StorePath, InstallPath), request_body = RetryRequest,
    responses((status = 202, body = Redriven)))]
pub async fn retry(
    scope: StoreScope,
    Path(path): Path<InstallPath>,
    Valid(body): Valid<RetryRequest>,
) -> Result<(StatusCode, Json<Redriven>), ApiError> {
    let list = scope.pipeline.redrive(&scope.store, &path.install, body.ids.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, Json(Redriven { redriving: list.len(), failures: list })))
}

/// Return the install to the version it ran before its last version change
#[utoipa::path(post, path = "/v1/stores/{store}/installs/{install}/rollback", operation_id = "rollbackInstall", tag = "installs",
    params(StorePath, InstallPath), responses((status = 200, body = InstallView)))]
pub async fn rollback(
    scope: StoreScope,
    Path(path): Path<InstallPath>,
) -> Result<Json<InstallView>, ApiError> {
    let install = scope.pipeline.roll_back(&scope.store, &path.install, scope.actor).await?;
    Ok(Json(InstallView::new(&scope.pipeline, install)))
}

/// One change of an install.
#[derive(Serialize, ToSchema)]
pub struct ChangeView {
    pub id: i64,
    #[schema(format = DateTime)]
    pub at: String,
    /// `admin`, `store` (the store's key), or the host: `breaker`, `canary`.
    pub actor: String,
    /// `install`, `update`, `promote`, `rollback`, `trip`, `canary_rollback`.
    pub action: String,
    pub reason: Option<String>,
    /// The settings that changed, before and after.
    #[schema(value_type = Object)]
    pub changed: Value,
    /// The install's settings after the change.
    #[schema(value_type = Object)]
    pub after: Value,
}

/// Every change of the install, oldest first: who, when, what
#[utoipa::path(get, path = "/v1/stores/{store}/installs/{install}/history", operation_id = "installHistory", tag = "installs",
    params(StorePath, InstallPath), responses((status = 200, body = Vec<ChangeView>)))]
pub async fn history(scope: InstallScope) -> Result<Json<Vec<ChangeView>>, ApiError> {
    let mut conn = scope.conn().await?;
    let list = history::of_install(&mut conn, &scope.install.install_id).await?;
    Ok(Json(
        list.into_iter()
            .map(|c| {
                let mut changed = serde_json::Map::new();
                if let Some(after) = c.after.as_object() {
                    for (k, v) in after {
                        let was = c.before.get(k);
                        if was != Some(v) {
                            changed.insert(k.clone(), serde_json::json!({"from": was, "to": v}));
                        }
                    }
                }
                ChangeView {
                    id: c.id,
                    at: to_rfc3339(c.at),
                    actor: c.actor,
                    action: c.action,
                    reason: c.reason,
                    changed: Value::Object(changed),
                    after: c.after,
                }
            })
            .collect(),
    ))
}

/// A run's counts as the reports show them.
#[derive(Serialize, ToSchema)]
pub struct RunCounts {
    pub calls: i64,
    pub failures: i64,
    /// Mean time of a call.
    pub mean_us: i64,
    /// Mean fuel of a call.
    pub mean_fuel: i64,
}

impl From<&Counts> for RunCounts {
    fn from(c: &Counts) -> Self {
        let mean = |sum: i64| if c.calls > 0 { sum / c.calls } else { 0 };
        RunCounts {
            calls: c.calls,
            failures: c.failures,
            mean_us: mean(c.elapsed_us),
            mean_fuel: mean(c.fuel),
        }
    }
}

/// Where a shadow decided differently (or failed), with both decisions.
#[derive(Serialize, ToSchema)]
pub struct ShadowReport {
    pub version: String,
    #[schema(format = DateTime)]
    pub since: String,
    #[serde(flatten)]
    pub counts: RunCounts,
    /// Calls that decided as the live version did …
    pub agreements: i64,
    /// … and that did not.
    pub disagreements: i64,
    /// The newest differing decisions (at most 100, shadow failures
    /// among them).
    pub examples: Vec<Diff>,
}

/// How the shadow version compares with the live one on real traffic
#[utoipa::path(get, path = "/v1/stores/{store}/installs/{install}/shadow", operation_id = "installShadow", tag = "installs",
    params(StorePath, InstallPath), responses((status = 200, body = ShadowReport)))]
pub async fn shadow(scope: InstallScope) -> Result<Json<ShadowReport>, ApiError> {
    let id = &scope.install.install_id;
    let s = scope.install.shadow.clone().ok_or_else(|| {
        ApiError::not_found(format!(
            "install `{}` runs no shadow version; PATCH {{\"shadow\": {{\"version\": …}}}} to start one",
            id
        ))
    })?;
    let mut conn = scope.conn().await?;
    let c = rollouts::counts(&mut conn, id, Arm::Shadow).await?;
    let examples = rollouts::diffs(&mut conn, id).await?;
    Ok(Json(ShadowReport {
        version: s.version,
        since: to_rfc3339(s.since),
        counts: RunCounts::from(&c),
        agreements: c.agreements,
        disagreements: c.disagreements,
        examples,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct CanaryReport {
    #[serde(flatten)]
    pub canary: super::installs::CanaryView,
    /// The canary's calls since it began …
    pub calls: RunCounts,
    /// … and the live version's beside it.
    pub live: RunCounts,
}

/// How the canary fares against the live version
#[utoipa::path(get, path = "/v1/stores/{store}/installs/{install}/canary", operation_id = "installCanary", tag = "installs",
    params(StorePath, InstallPath), responses((status = 200, body = CanaryReport)))]
pub async fn canary(scope: InstallScope) -> Result<Json<CanaryReport>, ApiError> {
    let id = &scope.install.install_id;
    let c = scope.install.canary.clone().ok_or_else(|| {
        ApiError::not_found(format!(
            "install `{}` runs no canary; PATCH {{\"canary\": {{\"version\": …, \"percent\": …}}}} to start one",
            id
        ))
    })?;
    let mut conn = scope.conn().await?;
    let run = rollouts::counts(&mut conn, id, Arm::Canary).await?;
    let live = rollouts::counts(&mut conn, id, Arm::Live).await?;
    Ok(Json(CanaryReport {
        canary: c.into(),
        calls: RunCounts::from(&run),
        live: RunCounts::from(&live),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Only lines written at or after this time (RFC 3339; empty: none).
    #[param(schema_with = super::schemas::since)]
    since: Option<String>,
    /// Only lines at this level or above: `trace`, `debug`, `info`
    /// (default), `warn`, `error`.
    level: Option<String>,
    /// Lines, 1 to 1000 (default 100): the newest of those that match.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

/// What the install's plugin logged and printed, oldest first (the newest 1000 lines are kept)
#[utoipa::path(get, path = "/v1/stores/{store}/installs/{install}/logs", operation_id = "installLogs", tag = "installs",
    params(StorePath, InstallPath, LogQuery), responses((status = 200, body = Vec<crate::db::plugin_logs::Line>)))]
pub async fn logs(
    scope: InstallScope,
    ValidQuery(q): ValidQuery<LogQuery>,
) -> Result<Json<Vec<crate::db::plugin_logs::Line>>, ApiError> {
    let id = &scope.install.install_id;
    let limit = super::params::page_limit(q.limit)?;
    let level = q.level.as_deref().unwrap_or("info");
    let from = LEVELS
        .iter()
        .position(|l| *l == level)
        .ok_or_else(|| ApiError::field("level", format!("must be one of {}", LEVELS.join(", "))))?;
    let since = super::params::since(q.since.as_deref())?.unwrap_or(0);
    let mut conn = scope.conn().await?;
    let list = crate::db::plugin_logs::list(&mut conn, id, since, &LEVELS[from..], limit).await?;
    Ok(Json(list))
}
