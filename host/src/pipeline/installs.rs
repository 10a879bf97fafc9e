//! Which plugins a store runs, and the rules for changing it: one enabled
//! install per world (segmenters excepted), the newest version by semver
//! when none is named, no yanked version, a config that fits the plugin's
//! schema, data scopes the plugin asks for, shadow and canary versions of
//! the same plugin, and swaps that the next event sees whole. Every change
//! is kept in the install's history, with who made it.

use serde_json::{json, Value};

use super::{Pipeline, PipelineError, PipelineResult};
use crate::db::history::{self, NewChange};
use crate::db::installs::{self, Install};
use crate::db::plugins::{self, PluginVersion};
use crate::db::rollouts::{self, Arm};
use crate::db::Conn;
use crate::domain::campaign::Campaign;
use crate::domain::event::FieldError;
use crate::domain::ids::random_id;
use crate::domain::manifest::kinds_scored;
use crate::domain::manifest::{check_config, check_grants_for_config, Manifest};
use crate::domain::rollout::{Canary, CanaryState, Shadow};
use crate::domain::states::FailurePolicy;
use crate::domain::time::{now_ms, Millis};
use crate::domain::{DataScope, World};

/// A new install: `version` defaults to the newest published.
pub struct NewInstall {
    pub plugin: String,
    pub version: Option<String>,
    pub config: Value,
    pub enabled: bool,
    pub failure_policy: FailurePolicy,
    /// Data scopes the merchant grants (`pii`).
    pub grants: Vec<String>,
    /// A point-rules install that runs as a campaign on top of the base.
    pub campaign: Option<Campaign>,
}

/// A change to an install; what is `None` stays as it is.
#[derive(Default)]
pub struct InstallChange {
    pub plugin: Option<String>,
    pub version: Option<String>,
    pub config: Option<Value>,
    pub enabled: Option<bool>,
    pub failure_policy: Option<FailurePolicy>,
    pub grants: Option<Vec<String>>,
    /// New terms of a campaign install.
    pub campaign: Option<Campaign>,
    /// `Some(None)` ends the shadow run.
    pub shadow: Option<Option<ShadowSpec>>,
    /// `Some(None)` ends the canary.
    pub canary: Option<Option<CanarySpec>>,
    /// Makes the canary (or else the shadow) the live version.
    pub promote: bool,
}

/// A shadow version: `config` defaults to the live config.
pub struct ShadowSpec {
    pub version: String,
    pub config: Option<Value>,
}

/// A canary version and the share of customers it takes.
pub struct CanarySpec {
    pub version: String,
    pub config: Option<Value>,
    pub percent: u8,
    pub max_failure_margin: Option<f64>,
    pub min_calls: Option<i64>,
}

fn invalid(field: &str, message: String) -> PipelineError {
    PipelineError::Invalid(vec![FieldError::new(field, message)])
}

/// A well-formed request naming a plugin or version that is not there.
fn unknown(field: &str, message: String) -> PipelineError {
    PipelineError::Unknown(vec![FieldError::new(field, message)])
}

fn not_found(id: &str) -> PipelineError {
    PipelineError::NotFound(format!("install `{id}` not found"))
}

/// The install's settings as its history keeps them.
fn snapshot(i: &Install) -> Value {
    json!({
        "plugin": i.plugin, "version": i.version, "config": i.config, "enabled": i.enabled,
        "disabled_reason": i.disabled_reason, "failure_policy": i.failure_policy,
        "grants": i.grants, "shadow": i.shadow, "canary": i.canary, "campaign": i.campaign,
    })
}

impl Pipeline {
    pub async fn install(
        &self,
        store: &str,
        new: NewInstall,
        actor: &str,
    ) -> PipelineResult<Install> {
        let mut tx = self.db.begin_store(store).await?;
        let v = find_version(&mut tx, &new.plugin, new.version.as_deref()).await?;
        check_grants(&v, &new.grants)?;
        check_install_config(&v, &new.config, "config", &new.grants)?;
        if let Some(c) = &new.campaign {
            check_campaign(&v, c)?;
        }
        if new.enabled && new.campaign.is_none() {
            check_world_free(&mut tx, store, &v, None).await?;
        }
        let now = now_ms();
        let install = Install {
            install_id: random_id("ins"),
            store_id: store.to_string(),
            plugin: v.name.clone(),
            version: v.version.clone(),
            world: v.world,
            config: new.config,
            enabled: new.enabled,
            disabled_reason: None,
            invocations: 0,
            failures: 0,
            consecutive_failures: 0,
            created_at: now,
            updated_at: now,
            tripped_at: None,
            failure_policy: new.failure_policy,
            grants: new.grants,
            shadow: None,
            canary: None,
            campaign: new.campaign,
        };
        installs::insert(&mut tx, &install).await?;
        remember(&mut tx, None, &install, actor, "install", None, now).await?;
        tx.commit().await?;
        self.preload(&v.name, &v.version).await;
        tracing::info!(store, install = %install.install_id, plugin = %v.name, version = %v.version, "plugin installed");
        Ok(install)
    }

    /// Swaps plugin, version, config or enabled state, sets the failure
    /// policy and grants, starts or ends a shadow or canary run, or
    /// promotes one; the next event sees the change, and no event is
    /// handled by both versions or neither.
    pub async fn change_install(
        &self,
        store: &str,
        id: &str,
        change: InstallChange,
        actor: &str,
    ) -> PipelineResult<Install> {
        let mut tx = self.db.begin_store(store).await?;
        let mut install = installs::get(&mut tx, store, id).await?.ok_or_else(|| not_found(id))?;
        let before = install.clone();
        let now = now_ms();
        let mut action = "update";
        if change.promote {
            promote(&mut install)?;
            action = "promote";
        }
        let swapping = change.plugin.as_ref().is_some_and(|p| *p != install.plugin);
        let v = if swapping {
            let plugin = change.plugin.as_deref().expect("swapping");
            find_version(&mut tx, plugin, change.version.as_deref()).await?
        } else {
            let version = change.version.as_deref().unwrap_or(&install.version);
            let v = find_any_version(&mut tx, &install.plugin, version).await?;
            if version != install.version {
                refuse_yanked(&v)?;
            }
            v
        };
        if v.world != install.world {
            return Err(invalid(
                if swapping { "plugin" } else { "version" },
                format!("{}@{} implements {}, not {}", v.name, v.version, v.world, install.world),
            ));
        }
        if let Some(grants) = change.grants {
            check_grants(&v, &grants)?;
            install.grants = grants;
        }
        // With the grants as they will be: revoking `pii` while the config
        // still sets a field that needs it is refused too.
        let config = change.config.unwrap_or_else(|| install.config.clone());
        check_install_config(&v, &config, "config", &install.grants)?;
        let enabling = change.enabled == Some(true) && !install.enabled;
        // A scorer that stays enabled but runs another version may score
        // other kinds.
        let rescoring = install.enabled
            && install.world == World::SurveyScorer
            && (v.name != install.plugin || v.version != install.version);
        if let Some(c) = change.campaign {
            if install.campaign.is_none() {
                return Err(invalid(
                    "campaign",
                    "this install is the store's base point rules, not a campaign: install the \
                     campaign as an install of its own"
                        .into(),
                ));
            }
            check_campaign(&v, &c)?;
            install.campaign = Some(c);
        }
        if (enabling || rescoring) && install.campaign.is_none() {
            check_world_free(&mut tx, store, &v, Some(&install.install_id)).await?;
        }
        if enabling {
            install.disabled_reason = None;
            install.consecutive_failures = 0;
        }
        if swapping {
            // Another plugin's versions are not this one's.
            install.shadow = None;
            install.canary = None;
        }
        install.plugin = v.name.clone();
        install.version = v.version.clone();
        install.config = config;
        if let Some(e) = change.enabled {
            install.enabled = e;
        }
        if let Some(p) = change.failure_policy {
            install.failure_policy = p;
        }
        let mut preload = vec![v.version.clone()];
        preload
            .extend(set_rollouts(&mut tx, &mut install, change.shadow, change.canary, now).await?);
        self.save_change(&mut tx, &before, &install, actor, action, None, now).await?;
        tx.commit().await?;
        install.updated_at = now;
        self.show_canary(&before, &install);
        for version in preload {
            self.preload(&install.plugin, &version).await;
        }
        tracing::info!(store, install = %id, version = %install.version, enabled = install.enabled, action, "install updated");
        Ok(install)
    }

    /// Returns the install to the plugin, version and config it ran
    /// before its last change of version.
    pub async fn roll_back(&self, store: &str, id: &str, actor: &str) -> PipelineResult<Install> {
        let mut tx = self.db.begin_store(store).await?;
        let mut install = installs::get(&mut tx, store, id).await?.ok_or_else(|| not_found(id))?;
        let changes = history::of_install(&mut tx, id).await?;
        let earlier = changes.iter().rev().find_map(|c| {
            let (b, a) = (&c.before, &c.after);
            let moved = b.get("version") != a.get("version") || b.get("plugin") != a.get("plugin");
            (b.is_object() && b.get("version").is_some() && moved).then_some(b)
        });
        let Some(earlier) = earlier else {
            return Err(PipelineError::Conflict(format!(
                "install `{id}` has run only {}@{}; there is no earlier version to return to",
                install.plugin, install.version
            )));
        };
        let field = |k: &str| earlier.get(k).and_then(Value::as_str).unwrap_or_default();
        let (plugin, version) = (field("plugin").to_string(), field("version").to_string());
        let v = find_any_version(&mut tx, &plugin, &version).await?;
        refuse_yanked(&v)?;
        let before = install.clone();
        install.plugin = plugin;
        install.version = version;
        install.config = earlier.get("config").cloned().unwrap_or(json!({}));
        if before.plugin != install.plugin {
            install.shadow = None;
            install.canary = None;
        }
        let now = now_ms();
        self.save_change(&mut tx, &before, &install, actor, "rollback", None, now).await?;
        tx.commit().await?;
        install.updated_at = now;
        self.preload(&install.plugin, &install.version).await;
        tracing::info!(store, install = %id, version = %install.version, "install rolled back");
        Ok(install)
    }

    #[allow(clippy::too_many_arguments)]
    async fn save_change(
        &self,
        tx: &mut Conn,
        before: &Install,
        after: &Install,
        actor: &str,
        action: &str,
        reason: Option<&str>,
        now: Millis,
    ) -> PipelineResult<()> {
        installs::update(tx, after, now).await?;
        remember(tx, Some(before), after, actor, action, reason, now).await
    }

    /// The canary gauge follows a change of the install's canary.
    fn show_canary(&self, before: &Install, after: &Install) {
        let m = &self.metrics;
        if let Some(c) = &before.canary {
            m.canary_percent(&after.store_id, &before.plugin, &c.version, 0);
        }
        if let Some(c) = after.canary.as_ref().filter(|c| c.state == CanaryState::Running) {
            m.canary_percent(&after.store_id, &after.plugin, &c.version, c.percent);
        }
    }

    /// Loads (or compiles) a version now so its first event does not pay.
    async fn preload(&self, name: &str, version: &str) {
        if let Err(e) = self.plugin(name, version).await {
            tracing::warn!(plugin = %name, version = %version, error = %e, "could not preload plugin");
        }
    }
}

/// Makes the running canary, or else the shadow, the live version.
fn promote(install: &mut Install) -> PipelineResult<()> {
    let canary = install.canary.take().filter(|c| c.state == CanaryState::Running);
    match (canary, install.shadow.take()) {
        (Some(_), Some(_)) => Err(PipelineError::Conflict(
            "both a canary and a shadow run; end one (`null`) before promoting the other".into(),
        )),
        (Some(c), None) => {
            install.version = c.version;
            install.config = c.config;
            Ok(())
        }
        (None, Some(s)) => {
            install.version = s.version;
            install.config = s.config;
            Ok(())
        }
        (None, None) => Err(PipelineError::Conflict(
            "nothing to promote: the install runs no canary or shadow version".into(),
        )),
    }
}

/// A shadow or canary version: of the install's plugin, not yanked, and
/// its config (the install's own when left out) fits its schema. Gives the
/// version and the config.
async fn candidate(
    conn: &mut Conn,
    install: &Install,
    version: &str,
    config: Option<Value>,
    field: &str,
) -> PipelineResult<(String, Value)> {
    let config = config.unwrap_or_else(|| install.config.clone());
    let v = plugins::get(conn, &install.plugin, version).await?.ok_or_else(|| {
        unknown(
            &format!("{field}.version"),
            format!("{}@{version} is not published", install.plugin),
        )
    })?;
    refuse_yanked(&v)?;
    check_install_config(&v, &config, &format!("{field}.config"), &install.grants)?;
    Ok((v.version, config))
}

/// A change the host makes itself (a breaker trip), in the history.
pub(super) async fn record_host_change(
    tx: &mut Conn,
    install: &Install,
    actor: &str,
    action: &str,
    reason: &str,
    now: Millis,
) -> PipelineResult<()> {
    let mut after = install.clone();
    after.enabled = false;
    after.disabled_reason = Some(reason.to_string());
    remember(tx, Some(install), &after, actor, action, Some(reason), now).await
}

/// The canary failed more than the live version by its margin: it stops
/// taking customers, says why, and the history keeps it.
pub(super) async fn roll_back_canary(
    tx: &mut Conn,
    install: &Install,
    why: &str,
    now: Millis,
) -> PipelineResult<()> {
    let mut after = install.clone();
    if let Some(c) = after.canary.as_mut() {
        c.state = CanaryState::RolledBack;
        c.reason = Some(why.to_string());
    }
    installs::set_canary(tx, &install.install_id, &after.canary, now).await?;
    remember(tx, Some(install), &after, "canary", "canary_rollback", Some(why), now).await
}

/// Keeps a change of an install in its history: the install before (none
/// when it is new) and after, who made it and why.
async fn remember(
    tx: &mut Conn,
    before: Option<&Install>,
    after: &Install,
    actor: &str,
    action: &str,
    reason: Option<&str>,
    now: Millis,
) -> PipelineResult<()> {
    let (b, a) = (before.map(snapshot), snapshot(after));
    let change = NewChange {
        store: &after.store_id,
        install: &after.install_id,
        actor,
        action,
        reason,
        before: b.as_ref(),
        after: &a,
    };
    history::record(tx, &change, now).await?;
    Ok(())
}

/// The version to install: the one asked for (not yanked), or the newest
/// published that is not yanked.
async fn find_version(
    conn: &mut Conn,
    plugin: &str,
    version: Option<&str>,
) -> PipelineResult<PluginVersion> {
    match version {
        Some(v) => {
            let found = find_any_version(conn, plugin, v).await?;
            refuse_yanked(&found)?;
            Ok(found)
        }
        None => plugins::list(conn)
            .await?
            .into_iter()
            .filter(|p| p.name == plugin && p.yanked_at.is_none())
            .max_by_key(|p| semver::Version::parse(&p.version).ok())
            .ok_or_else(|| {
                unknown(
                    "plugin",
                    format!("plugin `{plugin}` is not published (or every version is yanked)"),
                )
            }),
    }
}

async fn find_any_version(
    conn: &mut Conn,
    plugin: &str,
    version: &str,
) -> PipelineResult<PluginVersion> {
    plugins::get(conn, plugin, version)
        .await?
        .ok_or_else(|| unknown("version", format!("{plugin}@{version} is not published")))
}

fn refuse_yanked(v: &PluginVersion) -> PipelineResult<()> {
    match &v.yanked_at {
        None => Ok(()),
        Some(_) => Err(PipelineError::Conflict(format!(
            "{}@{} was yanked ({}); it can no longer be installed, choose another version",
            v.name,
            v.version,
            v.yank_reason.as_deref().unwrap_or("no reason given")
        ))),
    }
}

/// The config fits the version's schema, and sets no field that needs a
/// grant the install does not give (`grants`).
fn check_install_config(
    v: &PluginVersion,
    config: &Value,
    field: &str,
    grants: &[String],
) -> PipelineResult<()> {
    let manifest = Manifest::parse(&v.manifest).map_err(PipelineError::Invalid)?;
    check_config(&manifest.config_schema, config)
        .and_then(|()| check_grants_for_config(&manifest.config_schema, config, grants))
        .map_err(|errors| {
            PipelineError::Invalid(
                errors
                    .into_iter()
                    .map(|mut e| {
                        if field != "config" {
                            e.field = e.field.replacen("config", field, 1);
                        }
                        e
                    })
                    .collect(),
            )
        })
}

/// Every grant names a scope, and one the plugin asks for.
fn check_grants(v: &PluginVersion, grants: &[String]) -> PipelineResult<()> {
    for (n, g) in grants.iter().enumerate() {
        if DataScope::parse(g).is_none() {
            return Err(invalid(
                &format!("grants[{n}]"),
                format!("unknown scope `{g}` (known: {})", DataScope::list()),
            ));
        }
        if !v.scopes.iter().any(|s| s == g) {
            return Err(invalid(
                &format!("grants[{n}]"),
                format!(
                    "{}@{} does not ask for the `{g}` scope (it asks for: {})",
                    v.name,
                    v.version,
                    if v.scopes.is_empty() { "none".to_string() } else { v.scopes.join(", ") }
                ),
            ));
        }
    }
    Ok(())
}

/// One enabled install per world per store, except segmenters and
/// survey-scorers; a survey kind has one scorer: `v`, about to be enabled
/// (or to replace `except`'s version), may not score a kind another
/// enabled scorer scores.
/// A campaign is a point-rules install with consistent terms.
fn check_campaign(v: &PluginVersion, c: &Campaign) -> PipelineResult<()> {
    if v.world != World::PointRules {
        return Err(invalid(
            "campaign",
            format!(
                "{}@{} implements {}: only a point-rules install runs as a campaign",
                v.name, v.version, v.world
            ),
        ));
    }
    c.validate().map_err(|(field, why)| invalid(field, why))
}

async fn check_world_free(
    conn: &mut Conn,
    store: &str,
    v: &PluginVersion,
    except: Option<&str>,
) -> PipelineResult<()> {
    let world = v.world;
    if world == World::SurveyScorer {
        let mine = kinds_scored(&Manifest::published_survey_kinds(&v.manifest));
        for other in super::surveys::scorers(conn, store).await? {
            if Some(other.install.install_id.as_str()) == except {
                continue;
            }
            let shared: Vec<String> =
                other.kinds().into_iter().filter(|k| mine.contains(k)).collect();
            if !shared.is_empty() {
                let i = &other.install;
                return Err(PipelineError::Conflict(format!(
                    "install {} ({}@{}) already scores the survey kind(s) {}: a kind has one \
                     scorer in a store; disable that install, or PATCH it to this plugin",
                    i.install_id,
                    i.plugin,
                    i.version,
                    shared.join(", ")
                )));
            }
        }
        return Ok(());
    }
    if world.allows_many_installs() {
        return Ok(());
    }
    // Campaigns run beside the base point rules: only the base is one.
    if let Some(other) = installs::enabled(conn, store)
        .await?
        .into_iter()
        .find(|i| i.world == world && i.campaign.is_none() && Some(i.install_id.as_str()) != except)
    {
        return Err(PipelineError::Conflict(format!(
            "install {} ({}@{}) is already the store's enabled {world} plugin; disable it or PATCH its version instead",
            other.install_id, other.plugin, other.version
        )));
    }
    Ok(())
}

/// Sets or ends the install's shadow and canary runs as the change asks
/// (their counters start over); returns the versions they will run.
async fn set_rollouts(
    tx: &mut Conn,
    install: &mut Install,
    shadow: Option<Option<ShadowSpec>>,
    canary: Option<Option<CanarySpec>>,
    now: Millis,
) -> PipelineResult<Vec<String>> {
    let id = install.install_id.clone();
    let mut preload = Vec::new();
    if let Some(shadow) = shadow {
        install.shadow = match shadow {
            None => None,
            Some(spec) => {
                let (version, config) =
                    candidate(&mut *tx, install, &spec.version, spec.config, "shadow").await?;
                preload.push(version.clone());
                Some(Shadow { version, config, since: now })
            }
        };
        rollouts::reset(&mut *tx, &id, &[Arm::Shadow]).await?;
    }
    if let Some(canary) = canary {
        install.canary = match canary {
            None => None,
            Some(spec) => {
                let (version, config) =
                    candidate(&mut *tx, install, &spec.version, spec.config, "canary").await?;
                if !(1..=100).contains(&spec.percent) {
                    return Err(invalid("canary.percent", "must be 1 to 100".into()));
                }
                preload.push(version.clone());
                Some(Canary {
                    version,
                    config,
                    percent: spec.percent,
                    max_failure_margin: spec.max_failure_margin.unwrap_or(Canary::DEFAULT_MARGIN),
                    min_calls: spec.min_calls.unwrap_or(Canary::DEFAULT_MIN_CALLS),
                    since: now,
                    state: CanaryState::Running,
                    reason: None,
                })
            }
        };
        rollouts::reset(&mut *tx, &id, &[Arm::Canary, Arm::Live]).await?;
    }
    Ok(preload)
}
