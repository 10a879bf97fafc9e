//! The typed calls of every world's exports: inputs converted to the WIT
//! types, outputs converted back and checked (a bad value fails the call).
//! A component of an older contract is called through its own bindings,
//! its inputs and outputs converted to and from the newest
//! (`bindings::since_v0_1_0`), so everything past this file sees one
//! contract.

use super::bindings::churn_rescue::exports::clientele::crm::rescue;
use super::bindings::since_v0_1_0::{answer, convert as old};
use super::bindings::survey_scorer::exports::clientele::crm::scoring;
use super::bindings::types::{Fitted, Population};
use super::call::Kind;
use super::{convert, CallInput, CallOutput, Plugin, Runtime, RuntimeError, Versioned, WorldPre};
use crate::domain::customer::Customer;
use crate::domain::event::Event;
use crate::domain::ledger::{validate_ops, LedgerOp};
use crate::domain::rescue::{Assessment, FlowAction};
use crate::domain::segment::Membership;
use crate::domain::World;

/// Calls one export on whichever contract the component speaks. Every
/// export takes the install's config first (the generated calls take
/// strings as `&String`); the newest takes the store's context as of `$at`
/// before it, and 0.1.0 its own arguments after, its answer converted to
/// the newest by `$up`.
macro_rules! call_either {
    ($store:ident, $pre:expr, $iface:ident . $export:ident, $at:expr, $config:expr,
     newest($($arg:expr),*), v0_1_0($($old:expr),*) => $up:expr) => {{
        let config = &$config.to_string();
        match $pre {
            Versioned::Newest(pre) => {
                let ctx = $store.data_mut().store_context($at)?;
                pre.instantiate(&mut *$store)?.$iface().$export($store, &ctx, config, $($arg),*)
            }
            Versioned::V0_1_0(pre) => answer(
                pre.instantiate(&mut *$store)?.$iface().$export($store, config, $($old),*),
                $up,
            ),
        }
    }};
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
        let out = self.run(plugin, input, Kind::Call, |store| {
            call_either!(store, pre, clientele_crm_loyalty.call_on_event, event.occurred_at, config,
                newest(&c, &e), v0_1_0(&c, &e) => old::ledger_ops)
        })?;
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
    ) -> Result<CallOutput<Fitted>, RuntimeError> {
        let (at, same) = (population.as_of, |f: Fitted| f);
        match &plugin.pre {
            WorldPre::Segmenter(pre) => self.run(plugin, input, Kind::Fit, |store| {
                call_either!(store, pre, clientele_crm_segmentation.call_fit, at, config,
                    newest(population), v0_1_0(population) => same)
            }),
            WorldPre::ChurnRescue(pre) => self.run(plugin, input, Kind::Fit, |store| {
                call_either!(store, pre, clientele_crm_rescue.call_fit, at, config,
                    newest(population), v0_1_0(population) => same)
            }),
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
            call_either!(store, pre, clientele_crm_segmentation.call_classify, as_of, config,
                newest(model, &c, as_of), v0_1_0(model, &c, as_of) => old::memberships)
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
        self.run(plugin, input, Kind::Call, |store| {
            call_either!(store, pre, clientele_crm_scoring.call_score, response.submitted_at, config,
                newest(survey, response), v0_1_0(&old::survey(survey), &old::response(response)) => |s| s)
        })
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
            call_either!(store, pre, clientele_crm_scoring.call_aggregate, now, config,
                newest(survey, scored), v0_1_0(&old::survey(survey), scored) => |s| s)
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
        let out = self.run(plugin, input, Kind::Call, |store| {
            call_either!(store, pre, clientele_crm_rescue.call_assess, as_of, config,
                newest(model, &c, as_of), v0_1_0(model, &c, as_of) => old::assessment_from)
        })?;
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
            call_either!(store, pre, clientele_crm_rescue.call_plan, as_of, config,
                newest(&a, &c, current), v0_1_0(&old::assessment_to(&a), &c) => old::actions)
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
        let out = self.run(plugin, input, Kind::Call, |store| {
            call_either!(store, pre, clientele_crm_rescue.call_on_timer, flow.now, config,
                newest(&c, flow), v0_1_0(&c, &old::flow_state(flow)) => old::actions)
        })?;
        checked(out, convert::actions, |l| crate::domain::rescue::validate_actions(l))
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
