//! One module per world, each a unit with the same small lifecycle, so
//! that what a world means to the host lives in one place:
//! - `load`: what a batch needs for an install of it (a model, current
//!   memberships, flows, the surveys its responses answer);
//! - `concerns`: whether an event is one of its installs' business;
//! - `decide`: the call (or calls) into the component;
//! - `apply`: the decision's effects, into the unit's own sink (or the
//!   batch's common writer), inside the batch's transaction;
//! - `finish`: the sink written, before the batch commits;
//! - for worlds with a population model, `refit`: every customer updated
//!   after a fit, returned as what to write (`refit::Rewrite`).
//!
//! The dispatcher and the fitter only sequence these; a new world is a new
//! module and a new variant of `Unit`.

pub mod churn_rescue;
pub mod point_rules;
pub mod refit;
pub mod responder;
pub mod segmenter;
pub mod segments;
pub mod survey_scorer;

use std::collections::HashMap;

use serde_json::Value;

use super::effects::{BatchWriter, Subject};
use super::PipelineResult;
use crate::db::events::StoredEvent;
use crate::db::{Conn, DbResult, Tx};
use crate::domain::customer::Customer;
use crate::domain::effect::Effect;
use crate::domain::event::Event;
use crate::domain::ledger::LedgerOp;
use crate::domain::reaction::Reaction;
use crate::domain::rescue::{Assessment, FlowAction};
use crate::domain::segment::Membership;
use crate::domain::survey::Survey;
use crate::domain::time::Millis;
use crate::domain::World;
use crate::runtime::{CallInput, CallOutput, Plugin, Runtime, RuntimeError};

pub use refit::{Refit, Refitted, Sorted};

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
    Reactions(Vec<Reaction>),
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

/// What an install's unit loads for: its batch of events and customers.
pub struct BatchScope<'a> {
    pub store: &'a str,
    pub install_id: &'a str,
    /// The batch's customers, once each.
    pub customers: &'a [&'a str],
    pub events: &'a [StoredEvent],
    pub now: Millis,
    /// The install's campaign terms, when it is one.
    pub campaign: Option<&'a crate::domain::campaign::Campaign>,
}

/// One call: the install, the event and what the batch knows around it.
pub struct CallArgs<'a> {
    pub plugin: &'a Plugin,
    /// The install's config, serialized once per batch.
    pub config: &'a str,
    pub customer: &'a Customer,
    pub event: &'a Event,
    /// The refunded order's total, for `order.refunded`.
    pub order_total: Option<i64>,
}

/// Who a decision is applied for.
pub struct Applying<'a> {
    pub target: Subject<'a>,
    /// `name@version` of the plugin that decided.
    pub plugin: &'a str,
    pub event: &'a Event,
    /// A call run again whose customer's tier a later event set since:
    /// a tier it decided, as of before that event, is out of date.
    pub tier_moved: bool,
}

/// An install's world for one batch: what it loaded and what it will write.
pub enum Unit {
    PointRules(point_rules::Unit),
    Segmenter(segmenter::Unit),
    ChurnRescue(churn_rescue::Unit),
    SurveyScorer(survey_scorer::Unit),
    Responder,
}

impl Unit {
    /// Loads what an install of `world` needs for the batch.
    pub async fn load(world: World, conn: &mut Conn, scope: &BatchScope<'_>) -> DbResult<Unit> {
        Ok(match world {
            World::PointRules => Unit::PointRules(point_rules::Unit::load(conn, scope).await?),
            World::Segmenter => Unit::Segmenter(segmenter::Unit::load(conn, scope).await?),
            World::ChurnRescue => Unit::ChurnRescue(churn_rescue::Unit::load(conn, scope).await?),
            World::SurveyScorer => {
                Unit::SurveyScorer(survey_scorer::Unit::load(conn, scope).await?)
            }
            World::Responder => Unit::Responder,
        })
    }

    /// A unit with nothing loaded from a store: `plugin run`'s, with the
    /// model it fitted and the surveys it was given.
    pub fn local(world: World, model: Vec<u8>, surveys: HashMap<String, Survey>) -> Unit {
        match world {
            World::PointRules => Unit::PointRules(point_rules::Unit::local()),
            World::Segmenter => Unit::Segmenter(segmenter::Unit::local(model)),
            World::ChurnRescue => Unit::ChurnRescue(churn_rescue::Unit::local(model)),
            World::SurveyScorer => Unit::SurveyScorer(survey_scorer::Unit::local(surveys)),
            World::Responder => Unit::Responder,
        }
    }

    /// Whether the event is the install's business.
    pub fn concerns(&self, e: &Event) -> bool {
        match self {
            Unit::PointRules(u) => u.concerns(e),
            Unit::Segmenter(_) => segmenter::concerns(e),
            Unit::ChurnRescue(_) => churn_rescue::concerns(e),
            Unit::SurveyScorer(u) => u.concerns(e),
            Unit::Responder => responder::concerns(e),
        }
    }

    pub fn decide(&self, rt: &Runtime, args: CallArgs<'_>, input: CallInput) -> CallResult {
        match self {
            Unit::PointRules(u) => u.decide(rt, args, input),
            Unit::Segmenter(u) => u.decide(rt, args, input),
            Unit::ChurnRescue(u) => u.decide(rt, args, input),
            Unit::SurveyScorer(u) => u.decide(rt, args, input),
            Unit::Responder => responder::decide(rt, args, input),
        }
    }

    /// Applies one decision; returns its effects as the outcome shows them.
    pub async fn apply(
        &mut self,
        tx: &mut Tx,
        writer: &mut BatchWriter,
        at: &Applying<'_>,
        decision: Decision,
    ) -> PipelineResult<Vec<Effect>> {
        Ok(match (self, decision) {
            (Unit::PointRules(u), Decision::Ledger(ops)) => u.apply(tx, writer, at, ops).await?,
            (Unit::Segmenter(u), Decision::Segments(list)) => u.apply(at, &list),
            (Unit::ChurnRescue(u), Decision::Churn { assessment, rescue, plan }) => {
                u.apply(tx, at, assessment, rescue, plan.as_deref()).await?
            }
            (Unit::SurveyScorer(u), Decision::Score(score)) => u.apply(at, score),
            (Unit::Responder, Decision::Reactions(list)) => responder::apply(tx, at, list).await?,
            _ => unreachable!("a unit applies only what its own world decides"),
        })
    }

    /// Writes what the batch's decisions left in the unit's sink; returns
    /// how many events it queued (segment changes).
    pub async fn finish(&mut self, tx: &mut Tx) -> PipelineResult<usize> {
        Ok(match self {
            Unit::PointRules(_) | Unit::Responder => 0,
            Unit::Segmenter(u) => u.finish(tx).await?,
            Unit::ChurnRescue(u) => {
                u.finish(tx).await?;
                0
            }
            Unit::SurveyScorer(u) => {
                u.finish(tx).await?;
                0
            }
        })
    }
}

/// What a refit writes: the plugin state its calls left and its world's
/// own changes.
pub struct Rewrite {
    pub done: Refitted,
    pub state_writes: Vec<(String, String, String, Option<Vec<u8>>)>,
    pub changes: Changes,
}

/// A model world's changes after a fit.
pub enum Changes {
    Segments(segments::SegmentWriter),
    Assessments(churn_rescue::Reassessed),
}

impl Rewrite {
    /// Writes everything in the fitter's transaction.
    pub async fn write(self, tx: &mut Tx) -> PipelineResult<()> {
        match self.changes {
            Changes::Segments(writer) => {
                writer.finish(tx).await?;
            }
            Changes::Assessments(reassessed) => reassessed.write(tx).await?,
        }
        crate::db::state::apply_many(tx, &self.state_writes).await?;
        Ok(())
    }
}

/// Whether installs of `world` fit a model of the store's population.
pub fn fits(world: World) -> bool {
    matches!(world, World::Segmenter | World::ChurnRescue)
}

/// Updates every customer after a fit of an install of `world` (one that
/// `fits`): returns what to write.
pub async fn refit(world: World, conn: &mut Conn, r: &mut Refit<'_>) -> PipelineResult<Rewrite> {
    match world {
        World::Segmenter => segmenter::refit(conn, r).await,
        World::ChurnRescue => churn_rescue::refit(conn, r).await,
        World::PointRules | World::SurveyScorer | World::Responder => {
            unreachable!("only a world that fits is refitted")
        }
    }
}
