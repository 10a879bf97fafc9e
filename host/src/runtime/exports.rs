//! The typed calls of every world's exports: inputs converted to the WIT
//! types, outputs converted back and checked (a bad value fails the call).
//! A component of any contract is called through its rung of the ladder
//! (`bindings::ladder`), in the newest contract's types, so everything
//! past this file sees one contract.

use super::bindings::churn_rescue::exports::clientele::crm::rescue;
use super::bindings::segmenter::exports::clientele::crm::segmentation;
use super::bindings::survey_scorer::exports::clientele::crm::scoring;
use super::bindings::types::{Fitted, Population};
use super::bindings::WorldPre;
use super::call::Kind;
use super::{convert, CallInput, CallOutput, Plugin, Runtime, RuntimeError};
use crate::domain::customer::Customer;
use crate::domain::event::Event;
use crate::domain::ledger::{validate_ops, LedgerOp};
use crate::domain::reaction::Reaction;
use crate::domain::rescue::{Assessment, FlowAction};
use crate::domain::segment::Membership;
use crate::domain::World;

/// What a fit returned: the model, and (from a segmenter of contract
/// 0.4.0 on, when it assigns them itself) every population row's
/// memberships, in the rows' order.
pub struct Fit {
    pub fitted: Fitted,
    pub memberships: Option<Vec<Vec<Membership>>>,
}

/// A segmenter's fit in the host's types.
fn assigned(s: segmentation::Segmented) -> Result<Fit, String> {
    let memberships = match s.memberships {
        Some(lists) => Some(lists.into_iter().map(convert::memberships).collect::<Result<_, _>>()?),
        None => None,
    };
    Ok(Fit { fitted: s.fitted, memberships })
}

/// The plugin's prepared component, if it implements `$world`.
macro_rules! pre_of {
    ($plugin:expr, $world:ident) => {
        match &$plugin.pre {
            WorldPre::$world(pre) => pre,
            _ => return Err(Runtime::wrong_world($plugin, World::$world)),
        }
    };
}

impl Runtime {
    fn wrong_world(plugin: &Plugin, wanted: World) -> RuntimeError {
        RuntimeError::WrongWorld(format!(
            "plugin {} implements {}, not {}",
            plugin.id,
            plugin.world.name(),
            wanted.name()
        ))
    }

    /// `point-rules`: what one event means for the customer's points.
    pub fn on_event(
        &self,
        plugin: &Plugin,
        input: CallInput,
        config: &str,
        customer: &Customer,
        event: &Event,
        order_total: Option<i64>,
    ) -> Result<CallOutput<Vec<LedgerOp>>, RuntimeError> {
        let pre = pre_of!(plugin, PointRules);
        let (c, e) =
            (convert::customer(customer, input.scope.pii), convert::event(event, order_total));
        let out =
            self.run(plugin, input, Kind::Call, |store| pre.on_event(store, config, &c, &e))?;
        let ops = |ops: Vec<_>| Ok(ops.into_iter().map(convert::ledger_op).collect());
        checked(out, ops, |ops: &Vec<LedgerOp>| validate_ops(ops, event.occurred_at))
    }

    /// `segmenter` or `churn-rescue`: fit a model over the population,
    /// within the plugin's `fit_timeout_ms`.
    pub fn fit(
        &self,
        plugin: &Plugin,
        input: CallInput,
        config: &str,
        population: &Population,
    ) -> Result<CallOutput<Fit>, RuntimeError> {
        let scope = super::ctx::PopulationScope {
            as_of: population.as_of,
            customers: population.rows.iter().map(|r| r.customer_id.clone()).collect(),
        };
        let with_scope = |store: &mut wasmtime::Store<super::CallCtx>| {
            store.data_mut().population = Some(scope.clone());
        };
        match &plugin.pre {
            WorldPre::Segmenter(pre) => {
                let out = self.run(plugin, input, Kind::Fit, |store| {
                    with_scope(store);
                    pre.fit(store, config, population)
                })?;
                let rows = population.rows.len();
                checked(out, assigned, |fit: &Fit| match &fit.memberships {
                    Some(lists) if lists.len() != rows => Err(format!(
                        "the fit assigned memberships to {} rows of a population of {rows}",
                        lists.len()
                    )),
                    Some(lists) => {
                        lists.iter().try_for_each(|l| crate::domain::segment::validate(l))
                    }
                    None => Ok(()),
                })
            }
            WorldPre::ChurnRescue(pre) => Ok(self
                .run(plugin, input, Kind::Fit, |store| {
                    with_scope(store);
                    pre.fit(store, config, population)
                })?
                .map(|fitted| Fit { fitted, memberships: None })),
            _ => Err(Self::wrong_world(plugin, World::Segmenter)),
        }
    }

    /// `segmenter`: the customer's segments as of `as_of`.
    pub fn classify(
        &self,
        plugin: &Plugin,
        input: CallInput,
        config: &str,
        model: &[u8],
        customer: &Customer,
        as_of: i64,
    ) -> Result<CallOutput<Vec<Membership>>, RuntimeError> {
        let pre = pre_of!(plugin, Segmenter);
        let c = convert::customer(customer, input.scope.pii);
        let out = self.run(plugin, input, Kind::Call, |store| {
            pre.classify(store, config, model, &c, as_of)
        })?;
        checked(out, convert::memberships, |l| crate::domain::segment::validate(l))
    }

    /// `survey-scorer`: check and score one response.
    pub fn score(
        &self,
        plugin: &Plugin,
        input: CallInput,
        config: &str,
        survey: &scoring::Survey,
        response: &scoring::Response,
    ) -> Result<CallOutput<String>, RuntimeError> {
        let pre = pre_of!(plugin, SurveyScorer);
        self.run(plugin, input, Kind::Call, |store| pre.score(store, config, survey, response))
    }

    /// `survey-scorer`: the report over every stored score.
    pub fn aggregate(
        &self,
        plugin: &Plugin,
        input: CallInput,
        config: &str,
        survey: &scoring::Survey,
        scored: &[String],
    ) -> Result<CallOutput<String>, RuntimeError> {
        let pre = pre_of!(plugin, SurveyScorer);
        let now = chrono::Utc::now().timestamp_millis();
        self.run(plugin, input, Kind::Fit, |store| {
            pre.aggregate(store, now, config, survey, scored)
        })
    }

    /// `churn-rescue`: assess one customer as of `as_of`.
    pub fn assess(
        &self,
        plugin: &Plugin,
        input: CallInput,
        config: &str,
        model: &[u8],
        customer: &Customer,
        as_of: i64,
    ) -> Result<CallOutput<Assessment>, RuntimeError> {
        let pre = pre_of!(plugin, ChurnRescue);
        let c = convert::customer(customer, input.scope.pii);
        let out = self
            .run(plugin, input, Kind::Call, |store| pre.assess(store, config, model, &c, as_of))?;
        checked(out, convert::assessment, crate::domain::rescue::validate_assessment)
    }

    /// `churn-rescue`: what to do about an assessment made as of `as_of`,
    /// given the customer's `current` flow (a 0.1.0 plugin is not told).
    #[allow(clippy::too_many_arguments)]
    pub fn plan(
        &self,
        plugin: &Plugin,
        input: CallInput,
        config: &str,
        assessment: &Assessment,
        customer: &Customer,
        current: Option<&rescue::FlowSummary>,
        as_of: i64,
    ) -> Result<CallOutput<Vec<FlowAction>>, RuntimeError> {
        let pre = pre_of!(plugin, ChurnRescue);
        let c = convert::customer(customer, input.scope.pii);
        let a = convert::wit_assessment(assessment);
        let out = self.run(plugin, input, Kind::Call, |store| {
            pre.plan(store, config, &a, &c, current, as_of)
        })?;
        checked(out, convert::actions, |l| crate::domain::rescue::validate_actions(l))
    }

    /// `churn-rescue`: a flow's timer is due.
    pub fn on_timer(
        &self,
        plugin: &Plugin,
        input: CallInput,
        config: &str,
        customer: &Customer,
        flow: &rescue::FlowState,
    ) -> Result<CallOutput<Vec<FlowAction>>, RuntimeError> {
        let pre = pre_of!(plugin, ChurnRescue);
        let c = convert::customer(customer, input.scope.pii);
        let out =
            self.run(plugin, input, Kind::Call, |store| pre.on_timer(store, config, &c, flow))?;
        checked(out, convert::actions, |l| crate::domain::rescue::validate_actions(l))
    }
}

impl Runtime {
    /// `responder`: what to do about an event.
    pub fn react(
        &self,
        plugin: &Plugin,
        input: CallInput,
        config: &str,
        customer: &Customer,
        event: &Event,
        order_total: Option<i64>,
    ) -> Result<CallOutput<Vec<Reaction>>, RuntimeError> {
        let pre = pre_of!(plugin, Responder);
        let (c, e) =
            (convert::customer(customer, input.scope.pii), convert::event(event, order_total));
        let out =
            self.run(plugin, input, Kind::Call, |store| pre.on_event(store, config, &c, &e))?;
        checked(out, convert::reactions, |l| crate::domain::reaction::validate(l))
    }

    /// `responder`: one of the customer's timers is due.
    pub fn react_to_timer(
        &self,
        plugin: &Plugin,
        input: CallInput,
        config: &str,
        customer: &Customer,
        timer: &super::reactions::Timer,
    ) -> Result<CallOutput<Vec<Reaction>>, RuntimeError> {
        let pre = pre_of!(plugin, Responder);
        let c = convert::customer(customer, input.scope.pii);
        let out =
            self.run(plugin, input, Kind::Call, |store| pre.on_timer(store, config, &c, timer))?;
        checked(out, convert::reactions, |l| crate::domain::reaction::validate(l))
    }
}

/// Converts a call's value and checks it; a bad value fails the call.
fn checked<T, U>(
    out: CallOutput<T>,
    convert: impl FnOnce(T) -> Result<U, String>,
    check: impl FnOnce(&U) -> Result<(), String>,
) -> Result<CallOutput<U>, RuntimeError> {
    let CallOutput { value, state, outbox, elapsed, memory_peak_bytes } = out;
    let value = convert(value).and_then(|v| check(&v).map(|()| v));
    Ok(CallOutput {
        value: value.map_err(RuntimeError::InvalidOutput)?,
        state,
        outbox,
        elapsed,
        memory_peak_bytes,
    })
}
