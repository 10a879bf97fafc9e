//! One module per world, each with the same small lifecycle, so that what
//! a world means to the host lives in one place:
//! - `load`: what a batch needs for an install of it (a model, current
//!   memberships, flows);
//! - `concerns`: whether an event is one of its installs' business;
//! - `decide`: the call (or calls) into the component;
//! - `apply`: the decision's effects, inside the batch's transaction;
//! - for worlds with a population model, the update of every customer
//!   after a fit (`segmenter`, `churn_rescue`).
//!
//! The dispatcher and the fit worker only sequence these; a new kind of
//! run (a shadow or canary version) meets every world here.

pub mod churn_rescue;
pub mod point_rules;
pub mod segmenter;
pub mod survey_scorer;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::effects::{BatchWriter, Subject};
use super::segments::SegmentWriter;
use super::PipelineResult;
use crate::db::churn::{self, Flow};
use crate::db::installs::Install;
use crate::db::segments::Memberships;
use crate::db::{Conn, DbResult, Tx};
use crate::domain::customer::Customer;
use crate::domain::effect::Effect;
use crate::domain::event::Event;
use crate::domain::ledger::LedgerOp;
use crate::domain::rescue::{Assessment, FlowAction};
use crate::domain::segment::Membership;
use crate::domain::survey::Survey;
use crate::domain::time::Millis;
use crate::domain::World;
use crate::runtime::services::HostServices;
use crate::runtime::{CallInput, CallOutput, Plugin, Runtime, RuntimeError, StateBuffer};

/// The surveys a batch's responses answer, by (store, survey id).
pub type Surveys = HashMap<(String, String), Survey>;

/// What a batch loaded for one install, by world.
pub enum Loaded {
    Nothing,
    Segmenter {
        /// The latest fitted model (empty before the first fit).
        model: Vec<u8>,
        /// Current memberships of the batch's customers.
        memberships: HashMap<String, Memberships>,
    },
    ChurnRescue {
        model: Vec<u8>,
        /// Latest flow of the batch's customers.
        flows: HashMap<String, Flow>,
    },
}

/// What one install decided about one event.
#[derive(serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Ledger(Vec<LedgerOp>),
    Segments(Vec<Membership>),
    Churn {
        assessment: Assessment,
        /// The customer's active flow ends `rescued` (an order arrived).
        rescue: bool,
        /// `plan`'s actions, when it ran (no active flow was left).
        plan: Option<Vec<FlowAction>>,
    },
    Score(Value),
}

pub type CallResult = Result<CallOutput<Decision>, RuntimeError>;

/// A call's decision as two versions' decisions are compared: what it
/// decided and the messages it queued (without their ids, which differ).
pub fn compared(out: &CallOutput<Decision>) -> Value {
    let messages: Vec<Value> = out
        .outbox
        .iter()
        .map(|m| {
            serde_json::json!({"channel": m.channel, "customer_id": m.customer_id,
                "template": m.template, "vars": m.vars})
        })
        .collect();
    let mut v = serde_json::json!({ "decision": out.value });
    if !messages.is_empty() {
        v["messages"] = Value::Array(messages);
    }
    v
}

/// One call: the install, the event and what the batch knows around it.
pub struct CallArgs<'a> {
    pub plugin: &'a Plugin,
    /// The install's config, serialized once per batch.
    pub config: &'a str,
    pub loaded: &'a Loaded,
    pub customer: &'a Customer,
    pub event: &'a Event,
    /// The refunded order's total, for `order.refunded`.
    pub order_total: Option<i64>,
    pub surveys: &'a Surveys,
    pub store: &'a str,
}

/// Where a batch's decisions are written, collected for its one commit.
pub struct Sinks {
    pub writer: BatchWriter,
    pub segments: SegmentWriter,
    pub assessments: BTreeMap<String, Vec<churn::Assessment>>,
    /// Per event of the batch: (install, score) of a scored response.
    pub scored: Vec<Option<(String, String)>>,
}

impl Sinks {
    pub fn new(now: Millis, events: usize) -> Self {
        Sinks {
            writer: BatchWriter::new(now),
            segments: SegmentWriter::new(now),
            assessments: BTreeMap::new(),
            scored: vec![None; events],
        }
    }
}

/// Who a decision is applied for.
pub struct Applying<'a> {
    pub target: Subject<'a>,
    /// `name@version` of the plugin that decided.
    pub plugin: &'a str,
    pub event: &'a Event,
    /// The event's place in the batch.
    pub index: usize,
    pub loaded: &'a Loaded,
}

pub async fn load(
    world: World,
    conn: &mut Conn,
    store: &str,
    install_id: &str,
    customers: &[&str],
) -> DbResult<Loaded> {
    match world {
        World::Segmenter => segmenter::load(conn, install_id, customers).await,
        World::ChurnRescue => churn_rescue::load(conn, store, install_id, customers).await,
        World::PointRules | World::SurveyScorer => Ok(Loaded::Nothing),
    }
}

pub fn concerns(world: World, e: &Event, store: &str, surveys: &Surveys) -> bool {
    match world {
        World::PointRules => point_rules::concerns(e),
        World::Segmenter => segmenter::concerns(e),
        World::ChurnRescue => churn_rescue::concerns(e),
        World::SurveyScorer => survey_scorer::concerns(e, store, surveys),
    }
}

pub fn decide(world: World, rt: &Runtime, args: CallArgs<'_>, input: CallInput) -> CallResult {
    match world {
        World::PointRules => point_rules::decide(rt, args, input),
        World::Segmenter => segmenter::decide(rt, args, input),
        World::ChurnRescue => churn_rescue::decide(rt, args, input),
        World::SurveyScorer => survey_scorer::decide(rt, args, input),
    }
}

/// Applies one decision; returns its effects as the outcome shows them.
pub async fn apply(
    tx: &mut Tx,
    sinks: &mut Sinks,
    at: &Applying<'_>,
    decision: &Decision,
) -> PipelineResult<Vec<Effect>> {
    Ok(match decision {
        Decision::Ledger(ops) => point_rules::apply(tx, sinks, at, ops).await?,
        Decision::Segments(list) => segmenter::apply(sinks, at, list),
        Decision::Churn { assessment, rescue, plan } => {
            churn_rescue::apply(tx, sinks, at, assessment, *rescue, plan.as_deref()).await?
        }
        Decision::Score(score) => survey_scorer::apply(sinks, at, score),
    })
}

/// The update of every customer after a fit: what both model worlds need.
pub struct Refit<'a> {
    pub store: &'a str,
    pub install: &'a Install,
    pub plugin: &'a Plugin,
    /// `name@version`.
    pub pid: &'a str,
    pub config: &'a str,
    pub model: &'a [u8],
    pub as_of: Millis,
    pub now: Millis,
    pub people: &'a [Customer],
    /// Plugin state per customer (empty without the capability).
    pub states: HashMap<String, HashMap<String, Vec<u8>>>,
    pub services: &'a Arc<dyn HostServices>,
}

/// A refit's calls, sorted: how many failed, the plugin state the others
/// wrote, and what each of those customers got.
pub struct Sorted<'a, T> {
    pub done: Refitted,
    pub state_writes: Vec<(String, String, String, Option<Vec<u8>>)>,
    pub values: Vec<(&'a Customer, T)>,
}

impl<'a> Refit<'a> {
    /// Sorts the calls `for_everyone` made, one per customer in `people`.
    pub fn sort<T>(&self, results: Vec<Option<CallOutput<T>>>) -> Sorted<'a, T> {
        let mut sorted =
            Sorted { done: Refitted::default(), state_writes: Vec::new(), values: Vec::new() };
        for (c, result) in self.people.iter().zip(results) {
            let Some(out) = result else {
                sorted.done.failed += 1;
                continue;
            };
            for (k, v) in out.state.writes {
                let install = self.install.install_id.clone();
                sorted.state_writes.push((install, c.id.clone(), k, v));
            }
            sorted.values.push((c, out.value));
            sorted.done.updated += 1;
        }
        sorted
    }

    /// A call's input for `customer`, with that customer's state.
    pub fn input(&mut self, customer: &str) -> CallInput {
        let state = StateBuffer::whole(self.states.remove(customer).unwrap_or_default());
        CallInput::new(self.store, &self.install.install_id, self.pid, None, self.services)
            .with_state(state)
            .with_pii(crate::pipeline::registry::sees_pii(self.install, self.plugin))
    }
}

/// How many customers a refit updated, and how many calls failed.
#[derive(Default)]
pub struct Refitted {
    pub updated: usize,
    pub failed: usize,
}
