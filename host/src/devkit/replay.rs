//! `clientele plugin replay`: a plugin version over a store's recorded
//! events, read from a running server over the API (read-only), run
//! locally into a scratch ledger as the host would run it; reports, per
//! customer, where it decides differently from what is live.
//!
//! Customers start from their profile with no history at the first event
//! replayed: replay from the store's first event (no `--since`) for exact
//! stats, points and tiers.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use anyhow::Context;
use serde_json::{json, Value};

use super::run::{component, read_json, Session};
use crate::client::ApiClient;
use crate::domain::customer::Customer;
use crate::domain::effect::Effect;
use crate::domain::event::Event;
use crate::domain::ledger::LedgerOp;
use crate::domain::reaction::Reaction;
use crate::domain::states::OutcomeStatus;
use crate::domain::World;
use crate::pipeline::worlds::Decision;
use crate::runtime::services::StoreInfo;

/// What `plugin replay` was asked to do.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// A plugin folder (checked and built first) or a .wasm component.
    pub target: PathBuf,
    /// The plugin.toml of a .wasm (default: the one beside it).
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    #[arg(long, env = "CLIENTELE_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// The store's API key (or the admin token).
    #[arg(long = "key", value_name = "KEY", env = "CLIENTELE_API_KEY", hide_env_values = true)]
    pub token: String,
    #[arg(long)]
    pub store: String,
    /// The live install to compare with (default: the store's enabled
    /// install of the plugin's world).
    #[arg(long)]
    pub install: Option<String>,
    /// Only events that occurred at or after this time (RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// At most this many events.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: u64,
    /// The config to replay with (default: the live install's).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// A JSON report instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What the replay found.
pub struct Replayed {
    pub events: usize,
    /// Per customer: the events decided differently, `(event, live,
    /// replay)` summaries.
    pub differences: BTreeMap<String, Vec<(String, Value, Value)>>,
    pub report: Value,
}

pub async fn replay(args: ReplayArgs) -> anyhow::Result<Replayed> {
    let api = ApiClient::new(args.server.trim_end_matches('/').to_string());
    let store = &args.store;
    let (target, manifest_path) = (args.target.clone(), args.manifest.clone());
    let (bytes, manifest) =
        tokio::task::spawn_blocking(move || component(&target, manifest_path.as_deref())).await??;

    let installs = api
        .get(&format!("/v1/stores/{store}/installs"), &args.token)
        .await?
        .ok()
        .context("reading the store's installs")?;
    let world = manifest.world;
    let live = installs
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| match &args.install {
            Some(id) => i["install_id"] == id.as_str(),
            None => i["world"] == world.name() && i["enabled"] == true,
        })
        .cloned()
        .with_context(|| match &args.install {
            Some(id) => format!("store `{store}` has no install `{id}`"),
            None => format!("store `{store}` has no enabled {world} install to compare with"),
        })?;
    let install_id = live["install_id"].as_str().unwrap_or_default().to_string();
    let config = match &args.config {
        Some(p) => read_json(p)?,
        None => live["config"].clone(),
    };
    let about = api
        .get(&format!("/v1/stores/{store}"), &args.token)
        .await?
        .ok()
        .context("reading the store")?;
    let text = |k: &str, default: &str| about[k].as_str().unwrap_or(default).to_string();
    let store_info = StoreInfo {
        id: store.to_string(),
        currency: text("currency", "USD"),
        timezone: text("timezone", "UTC"),
    };
    let pii = live["grants"].as_array().is_some_and(|g| g.iter().any(|s| s == "pii"));

    // The recorded events, in arrival order, with their outcomes.
    let mut recorded: Vec<Value> = Vec::new();
    let mut after = 0i64;
    while (recorded.len() as u64) < args.limit {
        let page = (args.limit - recorded.len() as u64).min(1000);
        let mut path = format!("/v1/stores/{store}/events?after={after}&limit={page}");
        if let Some(since) = &args.since {
            path.push_str(&format!("&since={since}"));
        }
        let list = api.get(&path, &args.token).await?.ok()?;
        let list = list.as_array().cloned().unwrap_or_default();
        if list.is_empty() {
            break;
        }
        after = list.last().and_then(|e| e["seq"].as_i64()).unwrap_or(after);
        recorded.extend(list);
    }
    let mut customers: BTreeSet<String> = BTreeSet::new();
    for e in &recorded {
        customers.insert(e["customer_id"].as_str().unwrap_or_default().to_string());
    }
    let mut profiles = Vec::new();
    for id in &customers {
        let p = api.get(&format!("/v1/stores/{store}/customers/{id}"), &args.token).await?;
        profiles.push(profile_of(id, &p.body));
    }
    let surveys = if world == World::SurveyScorer {
        api.get(&format!("/v1/stores/{store}/surveys"), &args.token).await?.ok()?
    } else {
        json!([])
    };

    let json_out = args.json;
    tokio::task::spawn_blocking(move || {
        let mut session = Session::new(&bytes, &manifest, &config, pii, store_info)?;
        for c in profiles {
            session.seed(c, HashMap::new());
        }
        for s in surveys.as_array().into_iter().flatten() {
            if let Ok(survey) = serde_json::from_value::<crate::domain::survey::Survey>(s.clone()) {
                session
                    .surveys
                    .insert(survey.id.clone(), survey);
            }
        }
        let mut differences: BTreeMap<String, Vec<(String, Value, Value)>> = BTreeMap::new();
        let mut memberships: HashMap<String, BTreeSet<String>> = HashMap::new();
        let mut replayed = 0;
        for r in &recorded {
            let event = event_of(r)?;
            let live_outcome = r["installs"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|o| o["install_id"] == install_id.as_str())
                .and_then(|o| serde_json::from_value::<LiveOutcome>(o.clone()).ok());
            let Some(called) = session.call(&event) else {
                continue;
            };
            replayed += 1;
            let live = live_outcome.map_or(json!("not run"), |o| live_summary(world, &o));
            let replay = match &called.result {
                Ok(decided) => {
                    let prev = memberships.entry(event.customer_id.clone()).or_default();
                    replay_summary(&decided.decision, prev)
                }
                Err((code, _)) => json!({"failed": code}),
            };
            if live != replay {
                differences
                    .entry(event.customer_id.clone())
                    .or_default()
                    .push((event.id.clone(), live, replay));
            }
        }
        let report = json!({
            "store": args.store, "install": install_id, "plugin": format!("{}@{}", manifest.name, manifest.version),
            "events": replayed,
            "customers_differing": differences.len(),
            "events_differing": differences.values().map(Vec::len).sum::<usize>(),
            "differences": differences.iter().map(|(c, list)| json!({
                "customer_id": c,
                "events": list.iter().map(|(e, l, r)| json!({"event_id": e, "live": l, "replay": r})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        if json_out {
            println!("{report}");
        } else {
            println!(
                "replayed {replayed} events of store {} with {} against install {}: {} customers, {} events decided differently",
                report["store"], report["plugin"], report["install"],
                report["customers_differing"], report["events_differing"]
            );
            for (c, list) in &differences {
                println!("customer {c}:");
                for (e, l, r) in list {
                    println!("  {e}: live {l} → replay {r}");
                }
            }
        }
        Ok(Replayed {
            events: replayed,
            differences,
            report,
        })
    })
    .await?
}

fn event_of(r: &Value) -> anyhow::Result<Event> {
    let v = json!({"id": r["id"], "type": r["type"], "customer_id": r["customer_id"],
        "occurred_at": r["occurred_at"], "data": r["data"]});
    crate::api::parse_event(v)
        .map_err(|e| anyhow::anyhow!("a recorded event does not parse: {:?}", e.errors))
}

/// A customer as the replay starts them: their profile, no history.
fn profile_of(id: &str, p: &Value) -> Customer {
    let text = |k: &str| p[k].as_str().map(str::to_string);
    Customer {
        id: id.to_string(),
        email: text("email"),
        phone: text("phone"),
        name: text("name"),
        birthday: text("birthday"),
        tags: p["tags"]
            .as_array()
            .map(|t| t.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
        attributes: if p["attributes"].is_object() { p["attributes"].clone() } else { json!({}) },
        ..Default::default()
    }
}

/// An install's outcome as the API lists it, read back typed.
#[derive(serde::Deserialize)]
struct LiveOutcome {
    status: OutcomeStatus,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    effects: Vec<Effect>,
}

/// What a live outcome decided, in the terms a replay is compared in.
fn live_summary(world: World, o: &LiveOutcome) -> Value {
    if o.status != OutcomeStatus::Ok {
        return json!({"failed": o.error_code});
    }
    let fx = &o.effects;
    match world {
        World::PointRules => Value::Array(
            fx.iter()
                .filter_map(|e| match e {
                    Effect::Earn { points, .. } => Some(json!({"earn": points})),
                    Effect::Deduct { requested, .. } => Some(json!({"deduct": requested})),
                    Effect::SetTier { tier } => Some(json!({"tier": tier})),
                    _ => None,
                })
                .collect(),
        ),
        World::Segmenter => {
            let (mut entered, mut exited) = (BTreeSet::new(), BTreeSet::new());
            for e in fx {
                match e {
                    Effect::SegmentEntered { segment } => entered.insert(segment),
                    Effect::SegmentExited { segment } => exited.insert(segment),
                    _ => false,
                };
            }
            json!({"entered": entered, "exited": exited})
        }
        World::SurveyScorer => fx
            .iter()
            .find_map(|e| match e {
                Effect::SurveyScored { score } => Some(score.clone()),
                _ => None,
            })
            .unwrap_or(Value::Null),
        World::ChurnRescue => fx
            .iter()
            .find_map(|e| match e {
                Effect::Assessed { risk, .. } => Some(json!({"risk": round(*risk)})),
                _ => None,
            })
            .unwrap_or(Value::Null),
        // A cancel shows only when a timer was pending: left out of both.
        World::Responder => Value::Array(
            fx.iter()
                .filter_map(|e| match e {
                    Effect::Message { template, .. } => Some(json!({"message": template})),
                    Effect::Earn { points, .. } => Some(json!({"earn": points})),
                    Effect::TimerSet { key, .. } => Some(json!({"timer": key})),
                    Effect::ComplaintDue { complaint_id, .. } => Some(json!({"due": complaint_id})),
                    _ => None,
                })
                .collect(),
        ),
    }
}

/// A replayed decision in the same terms; a segmenter's memberships
/// become what entered and exited since the customer's last call.
fn replay_summary(decision: &Decision, prev: &mut BTreeSet<String>) -> Value {
    match decision {
        Decision::Ledger(ops) => Value::Array(
            ops.iter()
                .map(|op| match op {
                    LedgerOp::Earn { points, .. } => json!({"earn": points}),
                    LedgerOp::Deduct { points, .. } => json!({"deduct": points}),
                    LedgerOp::SetTier { tier } => json!({"tier": tier}),
                })
                .collect(),
        ),
        Decision::Segments(memberships) => {
            let now: BTreeSet<String> = memberships.iter().map(|m| m.segment.clone()).collect();
            let entered: BTreeSet<&String> = now.difference(prev).collect();
            let exited: BTreeSet<&String> = prev.difference(&now).collect();
            let v = json!({"entered": entered, "exited": exited});
            *prev = now;
            v
        }
        Decision::Score(score) => score.clone(),
        Decision::Churn { assessment, .. } => json!({"risk": round(assessment.risk)}),
        Decision::Reactions(list) => Value::Array(
            list.iter()
                .filter_map(|r| match r {
                    Reaction::SendMessage { template, .. } => Some(json!({"message": template})),
                    Reaction::GrantPoints { points, .. } => Some(json!({"earn": points})),
                    Reaction::SetTimer { key, .. } => Some(json!({"timer": key})),
                    Reaction::SetComplaintDue { complaint_id, .. } => {
                        Some(json!({"due": complaint_id}))
                    }
                    Reaction::CancelTimer { .. } => None,
                })
                .collect(),
        ),
    }
}

fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
