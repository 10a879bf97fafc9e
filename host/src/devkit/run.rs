//! `clientele plugin run`: a plugin on events, locally, with no server, as
//! the host runs it: the same sandbox and limits (the host's default
//! ceiling), the same output checks, the same world code deciding which
//! calls an event makes (`pipeline::worlds`). The customer's stats follow
//! the events as the host keeps them (orders, net spend, purchase days),
//! the plugin's state carries from one event to the next, and point-rules
//! decisions move a local balance.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Context};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::domain::customer::{Customer, CustomerStats, Order};
use crate::domain::event::{Event, EventKind, OrderPlaced, OrderRefunded};
use crate::domain::ledger::{LedgerOp, OrderEntries};
use crate::domain::manifest::{check_config, Limits, Manifest};
use crate::domain::survey::Survey;
use crate::domain::time::{parse_rfc3339, to_rfc3339, utc_day, Millis};
use crate::domain::World;
use crate::pipeline::worlds::{self, CallArgs, Decision, Unit};
use crate::runtime::services::{HostFuture, HostServices, StoreInfo, StoredKey};
use crate::runtime::{self as rt, CallInput, Plugin, Runtime, StateBuffer};

/// What `plugin run` was asked to do.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// A plugin folder (checked and built first) or a .wasm component.
    pub target: PathBuf,
    /// The plugin.toml of a .wasm (default: the one beside it).
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// An event file (one event, a list, or {"events": [...]}), a folder
    /// of them, or - for stdin; repeatable.
    #[arg(long = "event", short, required = true)]
    pub events: Vec<PathBuf>,
    /// The customer (the API's profile, plus tier, points_balance and
    /// stats for a customer with a history).
    #[arg(long)]
    pub customer: Option<PathBuf>,
    /// The install config (default {}), checked against the schema.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The plugin's state for the customer: {"key": "text" | [bytes]}.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// A population ({"as_of", "rows": [...]}) for --fit.
    #[arg(long)]
    pub population: Option<PathBuf>,
    /// Fit a segmenter's or churn model's population first.
    #[arg(long)]
    pub fit: bool,
    /// The survey ({"id", "kind", "questions"}) responses answer.
    #[arg(long)]
    pub survey: Option<PathBuf>,
    /// Run as an install granted the `pii` scope.
    #[arg(long)]
    pub pii: bool,
    /// The store's currency (ISO 4217), as a plugin's store context has it.
    #[arg(long, default_value = "USD")]
    pub currency: String,
    /// The store's IANA time zone, as a plugin's store context has it.
    #[arg(long, default_value = "UTC")]
    pub timezone: String,
    /// One JSON object per call instead of text.
    #[arg(long)]
    pub json: bool,
}

impl RunArgs {
    /// A run of `target` on `events` with nothing else given.
    pub fn new(target: PathBuf, events: Vec<PathBuf>) -> RunArgs {
        RunArgs {
            target,
            manifest: None,
            events,
            customer: None,
            config: None,
            state: None,
            population: None,
            fit: false,
            survey: None,
            pii: false,
            currency: "USD".into(),
            timezone: "UTC".into(),
            json: true,
        }
    }
}

/// The customer as a file gives it: the API's profile, plus the host's
/// own fields for a customer with a history.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CustomerFile {
    id: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    name: Option<String>,
    birthday: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    attributes: Value,
    tier: Option<String>,
    #[serde(default)]
    points_balance: i64,
    #[serde(default)]
    stats: StatsFile,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StatsFile {
    #[serde(default)]
    orders: u32,
    #[serde(default)]
    repeat_days: u32,
    #[serde(default)]
    net_spend_cents: i64,
    first_order_at: Option<String>,
    last_order_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PopulationFile {
    as_of: String,
    rows: Vec<RowFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RowFile {
    customer_id: String,
    orders: u32,
    #[serde(default)]
    repeat_days: u32,
    first_order: Option<String>,
    last_order: Option<String>,
    net_spend_cents: i64,
}

pub(super) fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

fn time_of(field: &str, text: &Option<String>) -> anyhow::Result<Option<Millis>> {
    match text {
        None => Ok(None),
        Some(t) => parse_rfc3339(t)
            .map(Some)
            .with_context(|| format!("{field} `{t}` is not an RFC 3339 time")),
    }
}

/// The events of every `--event`: a file (one event, a list, or
/// `{"events": [...]}`), a folder of `.json` files in name order, or `-`.
fn read_events(paths: &[PathBuf]) -> anyhow::Result<Vec<Event>> {
    let mut values = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
            values.push(("stdin".to_string(), serde_json::from_str(&text)?));
        } else if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "json"))
                .collect();
            files.sort();
            for f in files {
                values.push((f.display().to_string(), read_json(&f)?));
            }
        } else {
            values.push((p.display().to_string(), read_json(p)?));
        }
    }
    let mut events = Vec::new();
    for (from, v) in values {
        let list = match v {
            Value::Array(list) => list,
            Value::Object(ref o) if o.contains_key("events") => {
                o["events"].as_array().cloned().unwrap_or_default()
            }
            other => vec![other],
        };
        for (i, v) in list.iter().enumerate() {
            let e = crate::api::parse_event(v.clone()).map_err(|problem| {
                let why: Vec<String> =
                    problem.errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
                anyhow::anyhow!("{from}, event {i}: {}", why.join("; "))
            })?;
            events.push(e);
        }
    }
    Ok(events)
}

/// The customers of a local run, their orders and balances, as
/// `customers.*` answers them, and what the run's decisions earned and
/// took back per order, as `earnings` and `order-ledger` answer them.
struct Local {
    store: StoreInfo,
    customers: Mutex<HashMap<String, Customer>>,
    orders: Mutex<HashMap<String, Vec<Order>>>,
    books: Mutex<HashMap<String, OrderEntries>>,
}

impl Local {
    /// Each customer's order totals (net of refunds when `net`) over the
    /// orders `keep` takes, told the customer's first purchase day.
    fn sum_orders(&self, keep: impl Fn(&Order, i64) -> bool, net: bool) -> HashMap<String, i64> {
        let all = self.orders.lock().unwrap();
        all.iter()
            .map(|(customer, orders)| {
                let first_day = orders.iter().map(|o| utc_day(o.placed_at)).min().unwrap_or(0);
                let sum = orders
                    .iter()
                    .filter(|o| keep(o, first_day))
                    .map(|o| o.total_cents - if net { o.refunded_cents } else { 0 })
                    .sum();
                (customer.clone(), sum)
            })
            .collect()
    }
}

impl HostServices for Local {
    fn store<'a>(&'a self, _: &'a str) -> HostFuture<'a, StoreInfo> {
        let store = self.store.clone();
        Box::pin(async move { Ok(store) })
    }
    fn customer<'a>(&'a self, _: &'a str, id: &'a str) -> HostFuture<'a, Option<Customer>> {
        let c = self.customers.lock().unwrap().get(id).cloned();
        Box::pin(async move { Ok(c) })
    }
    fn orders<'a>(&'a self, _: &'a str, id: &'a str, limit: u32) -> HostFuture<'a, Vec<Order>> {
        let mut list = self.orders.lock().unwrap().get(id).cloned().unwrap_or_default();
        list.reverse();
        list.truncate(limit as usize);
        Box::pin(async move { Ok(list) })
    }
    fn points_balance<'a>(&'a self, _: &'a str, id: &'a str) -> HostFuture<'a, i64> {
        let balance = self.customers.lock().unwrap().get(id).map_or(0, |c| c.points_balance);
        Box::pin(async move { Ok(balance) })
    }
    fn order_entries<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        order: &'a str,
    ) -> HostFuture<'a, OrderEntries> {
        let mut books = self.books.lock().unwrap().get(order).cloned().unwrap_or_default();
        books.earned.sort();
        Box::pin(async move { Ok(books) })
    }
    /// Never asked: a local run hands each call its customer's whole state.
    fn state_key<'a>(&'a self, _: &'a str, _: &'a str, _: &'a str) -> HostFuture<'a, StoredKey> {
        Box::pin(async { Ok(StoredKey::default()) })
    }

    fn spend_within<'a>(
        &'a self,
        _: &'a str,
        as_of: Millis,
        days: u32,
    ) -> HostFuture<'a, HashMap<String, i64>> {
        let from = as_of.saturating_sub(i64::from(days) * 86_400_000);
        let sums = self.sum_orders(|o, _| o.placed_at > from && o.placed_at <= as_of, true);
        Box::pin(async move { Ok(sums) })
    }

    fn repeat_day_spend<'a>(
        &'a self,
        _: &'a str,
        as_of: Millis,
    ) -> HostFuture<'a, HashMap<String, i64>> {
        let sums = self.sum_orders(
            |o, first_day| o.placed_at <= as_of && utc_day(o.placed_at) > first_day,
            false,
        );
        Box::pin(async move { Ok(sums) })
    }
}

/// The component and manifest to run: a folder is checked and built; a
/// `.wasm`'s manifest is `manifest` or the one beside it.
pub(super) fn component(
    target: &Path,
    manifest: Option<&Path>,
) -> anyhow::Result<(Vec<u8>, Manifest)> {
    let (wasm, manifest_path) = if target.is_dir() {
        let manifest = target.join("plugin.toml");
        super::check_manifest(&manifest)?;
        let wasm = clientele_plugin_build::build(target, None)?;
        (wasm, manifest)
    } else {
        let beside = target.parent().unwrap_or(Path::new(".")).join("plugin.toml");
        (target.to_path_buf(), manifest.map_or(beside, Path::to_path_buf))
    };
    let manifest = super::check_manifest(&manifest_path)?;
    let bytes = std::fs::read(&wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    Ok((bytes, manifest))
}

/// What a run did: one JSON record per call (what `--json` prints).
pub struct Ran {
    /// Every call succeeded.
    pub ok: bool,
    pub records: Vec<Value>,
}

/// A plugin loaded for local calls, with the customers, their state and
/// the model the calls see, kept from one call to the next.
pub(super) struct Session {
    runtime: Runtime,
    _scratch: tempfile::TempDir,
    pub plugin: Arc<Plugin>,
    id: String,
    config: String,
    local: Arc<Local>,
    services: Arc<dyn HostServices>,
    states: HashMap<String, HashMap<String, Vec<u8>>>,
    days: HashMap<String, BTreeSet<i64>>,
    model: Vec<u8>,
    pub surveys: HashMap<String, Survey>,
    pii: bool,
}

/// One call of a session.
pub(super) struct Called {
    /// What it decided, or its failure's code and message.
    pub result: Result<Decided, (String, String)>,
    pub report: Report,
}

/// A call's decision, typed, and as it is shown (`worlds::compared`).
pub(super) struct Decided {
    pub decision: Decision,
    pub view: Value,
}

impl Session {
    /// Checks the component as publishing would and the config as an
    /// install would.
    pub fn new(
        bytes: &[u8],
        manifest: &Manifest,
        config: &Value,
        pii: bool,
        store: StoreInfo,
    ) -> anyhow::Result<Session> {
        if store.timezone.parse::<chrono_tz::Tz>().is_err() {
            bail!("`{}` is not an IANA time zone (such as Asia/Shanghai or UTC)", store.timezone);
        }
        if let Err(errors) = check_config(&manifest.config_schema, config) {
            let why: Vec<String> =
                errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
            bail!("the config does not fit the plugin's schema: {}", why.join("; "));
        }
        let scratch = tempfile::tempdir()?;
        let runtime = Runtime::new(scratch.path(), Limits::HOST_MAX)?;
        let id = format!("{}@{}", manifest.name, manifest.version);
        let plugin = runtime
            .publish(&id, "local", bytes, manifest)
            .map_err(|e| anyhow::anyhow!("the host would refuse this component: {e}"))?;
        let local = Arc::new(Local {
            store,
            customers: Mutex::default(),
            orders: Mutex::default(),
            books: Mutex::default(),
        });
        Ok(Session {
            runtime,
            _scratch: scratch,
            plugin,
            id,
            config: config.to_string(),
            services: local.clone(),
            local,
            states: HashMap::new(),
            days: HashMap::new(),
            model: Vec::new(),
            surveys: HashMap::new(),
            pii,
        })
    }

    /// Starts a customer from what is known of them.
    pub fn seed(&mut self, customer: Customer, state: HashMap<String, Vec<u8>>) {
        self.states.insert(customer.id.clone(), state);
        self.local.customers.lock().unwrap().insert(customer.id.clone(), customer);
    }

    pub fn state_of(&self, customer: &str) -> HashMap<String, Vec<u8>> {
        self.states.get(customer).cloned().unwrap_or_default()
    }

    /// Fits the population model; keeps it for the calls after.
    pub fn fit(
        &mut self,
        population: &rt::Population,
    ) -> (Result<Value, (String, String)>, Report) {
        let input =
            CallInput::new("local", "local", &self.id, None, &self.services).with_pii(self.pii);
        let trace = input.trace.clone();
        let started = Instant::now();
        let fitted = self.runtime.fit(&self.plugin, input, &self.config, population);
        let report = Report::new(started, &trace, &self.plugin.limits, true);
        match fitted {
            Ok(f) => {
                self.model = f.value.fitted.model.clone();
                let summary: Value =
                    serde_json::from_str(&f.value.fitted.summary).unwrap_or(Value::Null);
                let v = json!({"customers": population.rows.len(),
                    "model_bytes": self.model.len(), "summary": summary});
                (Ok(v), report)
            }
            Err(e) => (Err((e.code().to_string(), e.to_string())), report),
        }
    }

    /// The report of a survey over the scores the run gave it, as the
    /// host asks for it (`GET …/surveys/{id}/report`).
    pub fn aggregate(
        &self,
        survey: &Survey,
        scored: &[String],
    ) -> (Result<Value, (String, String)>, Report) {
        let input =
            CallInput::new("local", "local", &self.id, None, &self.services).with_pii(self.pii);
        let trace = input.trace.clone();
        let started = Instant::now();
        let wit = crate::runtime::scoring::Survey {
            id: survey.id.clone(),
            kind: survey.kind.clone(),
            questions: survey.questions.clone(),
        };
        let out = self.runtime.aggregate(&self.plugin, input, &self.config, &wit, scored);
        let report = Report::new(started, &trace, &self.plugin.limits, true);
        let result = out.map_err(|e| (e.code().to_string(), e.to_string())).and_then(|o| {
            serde_json::from_str::<Value>(&o.value)
                .map_err(|e| ("invalid-output".to_string(), format!("the report is not JSON: {e}")))
        });
        (result, report)
    }

    /// Runs the plugin on one event as the host would: the host's facts
    /// first, then the world's call(s); `None` when the event is not the
    /// world's business.
    pub fn call(&mut self, e: &Event) -> Option<Called> {
        let order_total = self.record_facts(e);
        let unit = Unit::local(self.plugin.world, self.model.clone(), self.surveys.clone());
        if !unit.concerns(e) {
            return None;
        }
        let customer =
            self.local.customers.lock().unwrap().get(&e.customer_id).cloned().unwrap_or_default();
        let state = self.state_of(&e.customer_id);
        let input = CallInput::new("local", "local", &self.id, Some(&e.id), &self.services)
            .with_state(StateBuffer::whole(state.clone()))
            .with_pii(self.pii);
        let trace = input.trace.clone();
        let call = CallArgs {
            plugin: &self.plugin,
            config: &self.config,
            customer: &customer,
            event: e,
            order_total,
        };
        let started = Instant::now();
        let result = unit.decide(&self.runtime, call, input);
        let report = Report::new(started, &trace, &self.plugin.limits, false);
        let result = match result {
            Ok(done) => {
                let mut state = state;
                for (k, v) in &done.state.writes {
                    match v {
                        Some(v) => state.insert(k.clone(), v.clone()),
                        None => state.remove(k),
                    };
                }
                self.states.insert(e.customer_id.clone(), state);
                if let Decision::Ledger(ops) = &done.value {
                    self.apply_ledger(&e.customer_id, e.order_id(), ops);
                }
                Ok(Decided { view: worlds::compared(&done), decision: done.value })
            }
            Err(err) => Err((err.code().to_string(), err.to_string())),
        };
        Some(Called { result, report })
    }

    /// What the host records before a plugin sees an event: the customer's
    /// order stats. Returns the refunded order's total for a refund.
    fn record_facts(&mut self, e: &Event) -> Option<i64> {
        let mut customers = self.local.customers.lock().unwrap();
        let c = customers.entry(e.customer_id.clone()).or_insert_with(|| Customer {
            id: e.customer_id.clone(),
            attributes: json!({}),
            ..Default::default()
        });
        let mut all = self.local.orders.lock().unwrap();
        let orders = all.entry(e.customer_id.clone()).or_default();
        match &e.kind {
            EventKind::OrderPlaced(OrderPlaced { order_id, total_cents, currency, .. }) => {
                if orders.iter().any(|o| o.order_id == *order_id) {
                    return None;
                }
                orders.push(Order {
                    order_id: order_id.clone(),
                    total_cents: *total_cents,
                    currency: currency.clone(),
                    placed_at: e.occurred_at,
                    refunded_cents: 0,
                });
                let s = &mut c.stats;
                s.orders += 1;
                s.net_spend_cents += total_cents;
                s.first_order_at =
                    Some(s.first_order_at.map_or(e.occurred_at, |t| t.min(e.occurred_at)));
                s.last_order_at =
                    Some(s.last_order_at.map_or(e.occurred_at, |t| t.max(e.occurred_at)));
                let days = self.days.entry(e.customer_id.clone()).or_default();
                days.insert(utc_day(e.occurred_at));
                s.repeat_days = s.repeat_days.max(days.len().saturating_sub(1) as u32);
                None
            }
            EventKind::OrderRefunded(OrderRefunded { order_id, refund_cents }) => {
                let order = orders.iter_mut().find(|o| o.order_id == *order_id)?;
                let refund = (*refund_cents).min(order.total_cents - order.refunded_cents);
                order.refunded_cents += refund;
                c.stats.net_spend_cents -= refund;
                Some(order.total_cents)
            }
            _ => None,
        }
    }

    /// A point-rules decision on the local balance, as the ledger applies
    /// it, and on the books of the event's order.
    fn apply_ledger(&self, customer: &str, order: Option<&str>, ops: &[LedgerOp]) {
        let mut customers = self.local.customers.lock().unwrap();
        let Some(c) = customers.get_mut(customer) else {
            return;
        };
        let mut all_books = self.local.books.lock().unwrap();
        let mut books = order.map(|o| all_books.entry(o.to_string()).or_default());
        for op in ops {
            match op {
                LedgerOp::Earn { points, reason, .. } => {
                    c.points_balance += points;
                    if let Some(b) = books.as_deref_mut() {
                        match b.earned.iter_mut().find(|(r, _)| r == reason) {
                            Some((_, p)) => *p += points,
                            None => b.earned.push((reason.clone(), *points)),
                        }
                    }
                }
                LedgerOp::Deduct { points, .. } => {
                    let taken = (*points).min(c.points_balance.max(0));
                    c.points_balance -= taken;
                    if let Some(b) = books.as_deref_mut() {
                        b.deducted += taken;
                    }
                }
                LedgerOp::SetTier { tier } => c.tier = tier.clone(),
            }
        }
    }
}

/// Runs the plugin, printing as it goes (`--json`: the records).
pub fn run(args: RunArgs) -> anyhow::Result<Ran> {
    let (bytes, manifest) = component(&args.target, args.manifest.as_deref())?;
    let config = match &args.config {
        Some(p) => read_json(p)?,
        None => json!({}),
    };
    let store = StoreInfo {
        id: "local".into(),
        currency: args.currency.clone(),
        timezone: args.timezone.clone(),
    };
    let mut session = Session::new(&bytes, &manifest, &config, args.pii, store)?;
    let events = read_events(&args.events)?;
    if events.is_empty() {
        bail!("no events to run: pass --event FILE (or a folder of them, or - for stdin)");
    }
    let mut customer = customer_of(args.customer.as_deref())?;
    if customer.id.is_empty() {
        customer.id = events[0].customer_id.clone();
    }
    let state = match &args.state {
        Some(p) => state_of(&read_json(p)?)?,
        None => HashMap::new(),
    };
    session.seed(customer, state);
    if let Some(p) = &args.survey {
        let s: Survey = serde_json::from_value(read_json(p)?)
            .with_context(|| format!("{} is not a survey", p.display()))?;
        session.surveys = HashMap::from([(s.id.clone(), s)]);
    }
    let mut out = Printer { json: args.json, records: Vec::new() };
    out.plugin(&session.plugin, &manifest);
    let mut all_ok = true;
    // A population model first, where the world has one.
    if matches!(session.plugin.world, World::Segmenter | World::ChurnRescue) && args.fit {
        let path = args
            .population
            .as_deref()
            .context("--fit needs --population FILE ({\"as_of\", \"rows\": [...]})")?;
        let population = population_of(&read_json(path)?)?;
        match session.fit(&population) {
            (Ok(v), report) => out.fitted(&v, &report),
            (Err((code, message)), report) => {
                out.failed("fit", &code, &message, &report);
                all_ok = false;
            }
        }
    }
    let mut scores: Vec<String> = Vec::new();
    for e in &events {
        match session.call(e) {
            None => out.skipped(e),
            Some(Called { result: Ok(decided), report }) => {
                let state = session.state_of(&e.customer_id);
                out.decided(e, &decided.view, &state, &report);
                if let Decision::Score(score) = &decided.decision {
                    scores.push(score.to_string());
                }
            }
            Some(Called { result: Err((code, message)), report }) => {
                all_ok = false;
                out.failed(&e.id, &code, &message, &report);
            }
        }
    }
    // A scorer's report over what it scored, as the host would ask for it.
    if let Some(survey) = session.surveys.values().next().cloned() {
        match session.aggregate(&survey, &scores) {
            (Ok(v), report) => out.aggregated(&survey.id, scores.len(), &v, &report),
            (Err((code, message)), report) => {
                all_ok = false;
                out.failed("aggregate", &code, &message, &report);
            }
        }
    }
    Ok(Ran { ok: all_ok, records: out.records })
}

fn customer_of(path: Option<&Path>) -> anyhow::Result<Customer> {
    let f: CustomerFile = match path {
        Some(p) => serde_json::from_value(read_json(p)?)
            .with_context(|| format!("{} is not a customer", p.display()))?,
        None => CustomerFile::default(),
    };
    Ok(Customer {
        id: f.id.unwrap_or_default(),
        email: f.email,
        phone: f.phone,
        name: f.name,
        birthday: f.birthday,
        tags: f.tags,
        attributes: if f.attributes.is_null() { json!({}) } else { f.attributes },
        tier: f.tier,
        points_balance: f.points_balance,
        stats: CustomerStats {
            orders: f.stats.orders,
            repeat_days: f.stats.repeat_days,
            net_spend_cents: f.stats.net_spend_cents,
            first_order_at: time_of("stats.first_order_at", &f.stats.first_order_at)?,
            last_order_at: time_of("stats.last_order_at", &f.stats.last_order_at)?,
        },
    })
}

/// `{"key": "text"}` or `{"key": [bytes]}`.
fn state_of(v: &Value) -> anyhow::Result<HashMap<String, Vec<u8>>> {
    let obj = v.as_object().context("--state must be a JSON object of key → text or byte array")?;
    obj.iter()
        .map(|(k, v)| {
            let bytes = match v {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Array(list) => list
                    .iter()
                    .map(|b| b.as_u64().filter(|b| *b < 256).map(|b| b as u8))
                    .collect::<Option<Vec<u8>>>()
                    .with_context(|| format!("state `{k}`: bytes must be 0-255"))?,
                _ => bail!("state `{k}` must be a string or a byte array"),
            };
            Ok((k.clone(), bytes))
        })
        .collect()
}

fn population_of(v: &Value) -> anyhow::Result<rt::Population> {
    let f: PopulationFile =
        serde_json::from_value(v.clone()).context("the population is not {\"as_of\", \"rows\"}")?;
    let as_of = parse_rfc3339(&f.as_of).context("population as_of is not an RFC 3339 time")?;
    let mut rows = Vec::new();
    for (i, r) in f.rows.into_iter().enumerate() {
        rows.push(rt::PopulationRow {
            customer_id: r.customer_id,
            orders: r.orders,
            repeat_days: r.repeat_days,
            first_order: time_of(&format!("rows[{i}].first_order"), &r.first_order)?,
            last_order: time_of(&format!("rows[{i}].last_order"), &r.last_order)?,
            net_spend_cents: r.net_spend_cents,
        });
    }
    Ok(rt::Population { as_of, rows })
}

/// What a call used, against its limits.
pub(super) struct Report {
    elapsed_us: u128,
    fuel: u64,
    fuel_limit: u64,
    memory_peak_bytes: usize,
    memory_limit_bytes: usize,
    lines: Vec<rt::LogLine>,
}

impl Report {
    fn new(started: Instant, trace: &rt::Trace, limits: &Limits, fit: bool) -> Report {
        Report {
            elapsed_us: started.elapsed().as_micros(),
            fuel: trace.fuel(),
            fuel_limit: if fit { limits.fit_fuel } else { limits.fuel },
            memory_peak_bytes: trace.memory_peak_bytes(),
            memory_limit_bytes: limits.memory_mib as usize * 1024 * 1024,
            lines: trace.lines(),
        }
    }

    pub fn json(&self) -> Value {
        json!({"elapsed_us": self.elapsed_us, "fuel": self.fuel, "fuel_limit": self.fuel_limit,
            "memory_peak_bytes": self.memory_peak_bytes,
            "memory_limit_bytes": self.memory_limit_bytes, "logs": self.lines})
    }

    pub fn human(&self) -> String {
        format!(
            "{} µs, {} of {} fuel, memory {:.1} of {} MiB",
            self.elapsed_us,
            self.fuel,
            self.fuel_limit,
            self.memory_peak_bytes as f64 / 1048576.0,
            self.memory_limit_bytes / 1048576
        )
    }
}

/// Writes what happened: for a person, or one JSON object per line; and
/// keeps the JSON records.
struct Printer {
    json: bool,
    records: Vec<Value>,
}

impl Printer {
    /// Keeps a record (printing it for `--json`); answers whether to write
    /// it for a person too.
    fn keep(&mut self, record: Value) -> bool {
        if self.json {
            println!("{record}");
        }
        self.records.push(record);
        !self.json
    }

    fn plugin(&mut self, p: &Plugin, m: &Manifest) {
        if !self.json {
            println!(
                "{}@{} ({}, clientele:crm@{}), limits: {} fuel per call, {} MiB, {} ms backstop",
                m.name,
                m.version,
                p.world,
                p.contract.version(),
                p.limits.fuel,
                p.limits.memory_mib,
                p.limits.timeout_ms
            );
        }
    }

    fn lines(&self, r: &Report) {
        for l in &r.lines {
            let prefix = if l.stream == "log" { l.level.clone() } else { l.stream.clone() };
            for line in l.message.lines() {
                println!("  {prefix:>6} │ {line}");
            }
        }
    }

    fn fitted(&mut self, fit: &Value, r: &Report) {
        let mut v = json!({"call": "fit", "status": "ok"});
        merge(&mut v, fit.clone());
        merge(&mut v, r.json());
        if self.keep(v) {
            println!("fit over {} customers: ok, {}", fit["customers"], r.human());
            self.lines(r);
            println!("  model: {} bytes; summary: {}", fit["model_bytes"], fit["summary"]);
        }
    }

    fn aggregated(&mut self, survey: &str, responses: usize, value: &Value, r: &Report) {
        let mut v = json!({"call": "aggregate", "status": "ok", "survey": survey,
            "responses": responses, "report": value});
        merge(&mut v, r.json());
        if self.keep(v) {
            println!("report of {survey} over {responses} scored responses: ok, {}", r.human());
            self.lines(r);
            println!("  report: {value}");
        }
    }

    fn skipped(&mut self, e: &Event) {
        if self.keep(json!({"event": e.id, "status": "not_concerned"})) {
            println!("event {} ({}): not this world's business; no call", e.id, e.event_type);
        }
    }

    fn decided(
        &mut self,
        e: &Event,
        decision: &Value,
        state: &HashMap<String, Vec<u8>>,
        r: &Report,
    ) {
        let state: BTreeMap<&String, String> =
            state.iter().map(|(k, v)| (k, String::from_utf8_lossy(v).into_owned())).collect();
        let mut v = json!({"event": e.id, "status": "ok", "decision": decision["decision"],
            "state": state});
        if let Some(messages) = decision.get("messages") {
            v["messages"] = messages.clone();
        }
        merge(&mut v, r.json());
        if self.keep(v) {
            println!(
                "event {} ({}, customer {}, {}): ok, {}",
                e.id,
                e.event_type,
                e.customer_id,
                to_rfc3339(e.occurred_at),
                r.human()
            );
            self.lines(r);
            let pretty = serde_json::to_string_pretty(decision).unwrap_or_default();
            for line in pretty.lines() {
                println!("  {line}");
            }
            if !state.is_empty() {
                println!("  state: {state:?}");
            }
        }
    }

    fn failed(&mut self, what: &str, code: &str, message: &str, r: &Report) {
        let mut v = json!({"event": what, "status": "failed",
            "error": {"code": code, "message": message}});
        merge(&mut v, r.json());
        if self.keep(v) {
            println!("{what}: FAILED ({code}), {}", r.human());
            self.lines(r);
            for line in message.lines() {
                println!("  {line}");
            }
        }
    }
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(a), Value::Object(b)) = (into.as_object_mut(), from) {
        a.extend(b);
    }
}
