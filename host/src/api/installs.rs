use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::{InstallScope, StoreScope};
use super::params::StorePath;
use super::valid::Valid;
use super::ApiError;
use crate::db::installs::{self, Install};
use crate::domain::campaign::Campaign;
use crate::domain::rollout::{Canary, CanaryState};
use crate::domain::states::FailurePolicy;
use crate::domain::time::{parse_rfc3339, to_rfc3339};
use crate::domain::World;
use crate::pipeline::installs::{CanarySpec, InstallChange, NewInstall, ShadowSpec};

/// Install a plugin: `version` defaults to the newest published, `config`
/// is checked against the plugin's schema.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallRequest {
    #[schema(example = "points-basic")]
    pub plugin: String,
    #[schema(example = "1.0.0")]
    pub version: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// `false` installs it disabled. Default `true`.
    pub enabled: Option<bool>,
    /// What a customer's later events do after a call on one of theirs
    /// failed for good: `skip` (default) runs them, `hold` keeps them.
    pub failure_policy: Option<FailurePolicy>,
    /// Data scopes granted to the plugin, among those it asks for:
    /// `pii` lets it see customers' e-mail, phone, name and birthday.
    #[schema(example = json!(["pii"]), value_type = Option<Vec<crate::domain::DataScope>>)]
    pub grants: Option<Vec<String>>,
    /// Makes a point-rules install a campaign on top of the store's base
    /// rules: it may only earn, within its window and budgets.
    pub campaign: Option<CampaignTerms>,
}

/// A campaign's terms, as a request and an install show them.
#[derive(Deserialize, Serialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct CampaignTerms {
    /// How the campaign is shown in the ledger and its report (default:
    /// the install's id).
    #[schema(example = "tea-weekend")]
    pub name: Option<String>,
    /// Events that occurred from then on …
    #[schema(format = DateTime, example = "2026-03-07T00:00:00+08:00")]
    pub active_from: Option<String>,
    /// … and before then are the campaign's (refunds always are).
    #[schema(format = DateTime, example = "2026-03-09T00:00:00+08:00")]
    pub active_to: Option<String>,
    /// Points it may issue in all, net of refunds.
    #[schema(minimum = 1)]
    pub budget_points: Option<i64>,
    /// Points it may issue to one customer, net of refunds.
    #[schema(minimum = 1)]
    pub budget_per_customer: Option<i64>,
}

impl CampaignTerms {
    fn read(self) -> Result<Campaign, ApiError> {
        let time = |field: &str, v: Option<String>| -> Result<Option<i64>, ApiError> {
            v.map(|t| {
                parse_rfc3339(&t).ok_or_else(|| {
                    ApiError::field(
                        field,
                        "must be an RFC 3339 time such as 2026-03-07T00:00:00+08:00",
                    )
                })
            })
            .transpose()
        };
        Ok(Campaign {
            name: self.name,
            active_from: time("campaign.active_from", self.active_from)?,
            active_to: time("campaign.active_to", self.active_to)?,
            budget_points: self.budget_points,
            budget_per_customer: self.budget_per_customer,
        })
    }

    pub(super) fn of(c: &Campaign) -> CampaignTerms {
        CampaignTerms {
            name: c.name.clone(),
            active_from: c.active_from.map(to_rfc3339),
            active_to: c.active_to.map(to_rfc3339),
            budget_points: c.budget_points,
            budget_per_customer: c.budget_per_customer,
        }
    }
}

/// A change: swap the plugin (same world) or version, replace the config,
/// enable or disable, set the failure policy or grants, start (or end,
/// with `null`) a shadow or canary version, or promote one. What is left
/// out stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallPatch {
    pub plugin: Option<String>,
    pub version: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    pub enabled: Option<bool>,
    pub failure_policy: Option<FailurePolicy>,
    #[schema(value_type = Option<Vec<crate::domain::DataScope>>)]
    pub grants: Option<Vec<String>>,
    /// Runs this version on the same events after the live one, with
    /// nothing applied, and compares their decisions; `null` ends it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<ShadowRequest>, nullable)]
    pub shadow: Option<Option<ShadowRequest>>,
    /// Gives this version a share of the customers; `null` ends it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<CanaryRequest>, nullable)]
    pub canary: Option<Option<CanaryRequest>>,
    /// `true` makes the running canary (or else the shadow) the live
    /// version, with its config.
    pub promote: Option<bool>,
    /// New terms for a campaign install (all of them: what is left out
    /// is removed).
    pub campaign: Option<CampaignTerms>,
}

/// A field that may be sent as `null` (to end something) and left out
/// (to leave it): `Some(None)` is the `null`.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShadowRequest {
    #[schema(example = "1.1.0")]
    pub version: String,
    /// Defaults to the live config.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CanaryRequest {
    #[schema(example = "1.1.0")]
    pub version: String,
    /// Share of the store's customers, by a stable hash of their id.
    #[schema(minimum = 1, maximum = 100, example = 10)]
    pub percent: u8,
    /// Defaults to the live config.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// Rolls back when its failure rate exceeds the live version's by
    /// more than this many percentage points (default 10) …
    #[schema(minimum = 0, maximum = 100)]
    pub max_failure_margin: Option<f64>,
    /// … over at least this many of its calls (default 20).
    #[schema(minimum = 1)]
    pub min_calls: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct InstallView {
    pub install_id: String,
    pub plugin: String,
    pub version: String,
    pub world: World,
    pub config: Value,
    pub enabled: bool,
    /// `enabled`, `disabled`, or `tripped` (disabled by a breaker).
    #[schema(example = "enabled")]
    pub state: &'static str,
    /// Why a breaker disabled it, and how to enable it again.
    pub disabled_reason: Option<String>,
    pub failure_policy: FailurePolicy,
    /// Data scopes granted (`pii`).
    pub grants: Vec<String>,
    /// A version run beside the live one with nothing applied.
    pub shadow: Option<ShadowView>,
    /// A version deciding for a share of the customers (or one that
    /// rolled itself back, with why).
    pub canary: Option<CanaryView>,
    /// Set when the install is a campaign on top of the base point rules.
    pub campaign: Option<CampaignTerms>,
    pub counters: InstallCounters,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ShadowView {
    pub version: String,
    #[schema(value_type = Object)]
    pub config: Value,
    #[schema(format = DateTime)]
    pub since: String,
}

#[derive(Serialize, ToSchema)]
pub struct CanaryView {
    pub version: String,
    #[schema(value_type = Object)]
    pub config: Value,
    pub percent: u8,
    pub max_failure_margin: f64,
    pub min_calls: i64,
    #[schema(format = DateTime)]
    pub since: String,
    pub state: CanaryState,
    /// Why it rolled back.
    pub reason: Option<String>,
}

impl From<Canary> for CanaryView {
    fn from(c: Canary) -> Self {
        CanaryView {
            version: c.version,
            config: c.config,
            percent: c.percent,
            max_failure_margin: c.max_failure_margin,
            min_calls: c.min_calls,
            since: to_rfc3339(c.since),
            state: c.state,
            reason: c.reason,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct InstallCounters {
    pub invocations: i64,
    pub failures: i64,
    pub consecutive_failures: i64,
    /// Call latency since this server started.
    pub p50_us: u32,
    pub p99_us: u32,
}

impl InstallView {
    pub(super) fn new(pipeline: &crate::pipeline::Pipeline, i: Install) -> Self {
        let latency = pipeline.metrics.latency(&i.install_id);
        InstallView {
            state: if i.enabled {
                "enabled"
            } else if i.disabled_reason.is_some() {
                "tripped"
            } else {
                "disabled"
            },
            counters: InstallCounters {
                invocations: i.invocations,
                failures: i.failures,
                consecutive_failures: i.consecutive_failures,
                p50_us: latency.p50_us,
                p99_us: latency.p99_us,
            },
            created_at: to_rfc3339(i.created_at),
            updated_at: to_rfc3339(i.updated_at),
            install_id: i.install_id,
            plugin: i.plugin,
            version: i.version,
            world: i.world,
            config: i.config,
            enabled: i.enabled,
            disabled_reason: i.disabled_reason,
            failure_policy: i.failure_policy,
            grants: i.grants,
            shadow: i.shadow.map(|s| ShadowView {
                version: s.version,
                config: s.config,
                since: to_rfc3339(s.since),
            }),
            canary: i.canary.map(CanaryView::from),
            campaign: i.campaign.as_ref().map(CampaignTerms::of),
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct InstallPath {
    /// The install's id (`ins_…`).
    pub install: String,
}

/// Install a plugin version with a config
#[utoipa::path(post, path = "/v1/stores/{store}/installs", operation_id = "createInstall", tag = "installs",
    params(StorePath), request_body = InstallRequest,
    responses((status = 201, body = InstallView)))]
pub async fn create(
    scope: StoreScope,
    Valid(body): Valid<InstallRequest>,
) -> Result<(StatusCode, Json<InstallView>), ApiError> {
    // The schema admits only an object (or null) as `config`.
    let config = body.config.unwrap_or_else(|| serde_json::json!({}));
    let new = NewInstall {
        plugin: body.plugin,
        version: body.version,
        config,
        enabled: body.enabled.unwrap_or(true),
        failure_policy: body.failure_policy.unwrap_or(FailurePolicy::Skip),
        grants: body.grants.unwrap_or_default(),
        campaign: body.campaign.map(CampaignTerms::read).transpose()?,
    };
    let install = scope.pipeline.install(&scope.store, new, scope.actor).await?;
    Ok((StatusCode::CREATED, Json(InstallView::new(&scope.pipeline, install))))
}

/// Installs with state and counters
#[utoipa::path(get, path = "/v1/stores/{store}/installs", operation_id = "listInstalls", tag = "installs",
    params(StorePath), responses((status = 200, body = Vec<InstallView>)))]
pub async fn list(scope: StoreScope) -> Result<Json<Vec<InstallView>>, ApiError> {
    let mut conn = scope.conn().await?;
    let list = installs::list(&mut conn, &scope.store).await?;
    Ok(Json(list.into_iter().map(|i| InstallView::new(&scope.pipeline, i)).collect()))
}

/// One install
#[utoipa::path(get, path = "/v1/stores/{store}/installs/{install}", operation_id = "getInstall", tag = "installs",
    params(StorePath, InstallPath), responses((status = 200, body = InstallView)))]
pub async fn get_one(scope: InstallScope) -> Result<Json<InstallView>, ApiError> {
    let InstallScope { scope, install } = scope;
    Ok(Json(InstallView::new(&scope.pipeline, install)))
}

/// Swap plugin, version, config or enabled state without a restart
#[utoipa::path(patch, path = "/v1/stores/{store}/installs/{install}", operation_id = "updateInstall", tag = "installs",
    params(StorePath, InstallPath), request_body = InstallPatch,
    responses((status = 200, body = InstallView)))]
pub async fn update(
    scope: StoreScope,
    Path(path): Path<InstallPath>,
    Valid(body): Valid<InstallPatch>,
) -> Result<Json<InstallView>, ApiError> {
    let change = InstallChange {
        plugin: body.plugin,
        version: body.version,
        config: body.config,
        enabled: body.enabled,
        failure_policy: body.failure_policy,
        grants: body.grants,
        shadow: body.shadow.map(|s| s.map(|s| ShadowSpec { version: s.version, config: s.config })),
        canary: body.canary.map(|c| {
            c.map(|c| CanarySpec {
                version: c.version,
                config: c.config,
                percent: c.percent,
                max_failure_margin: c.max_failure_margin,
                min_calls: c.min_calls,
            })
        }),
        promote: body.promote.unwrap_or(false),
        campaign: body.campaign.map(CampaignTerms::read).transpose()?,
    };
    let install =
        scope.pipeline.change_install(&scope.store, &path.install, change, scope.actor).await?;
    Ok(Json(InstallView::new(&scope.pipeline, install)))
}
