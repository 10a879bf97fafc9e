//! Host-side bindings of the newest contract, `clientele:crm@0.6.0`
//! (`wit/since_v0.6.0`), one module per world. The imports are generated
//! once (world `plugin-host`) and shared by every world; the runtime
//! implements them (`runtime::ctx`). Once released the folder is frozen:
//! a later contract is a new folder and a new module, and this one then
//! forwards to it as `since_v0_5_0` does to this.

/// The contract version these bindings serve.
pub const MIN_VERSION: semver::Version = semver::Version::new(0, 6, 0);

pub mod host {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.6.0",
        world: "plugin-host",
        // Trappable, so that a host failure (or a wait that reached the
        // call's deadline) fails the call instead of answering "nothing".
        imports: { default: trappable },
    });
}

world!(point_rules, "../wit/since_v0.6.0", "point-rules", types: since_v0_6_0, host: since_v0_6_0, imports: [
    "clientele:crm/log" => log, "clientele:crm/customers" => customers,
    "clientele:crm/state" => state, "clientele:crm/messaging" => messaging,
    "clientele:crm/segments" => segments, "clientele:crm/surveys" => surveys,
    "clientele:crm/earnings" => earnings, "clientele:crm/complaints" => complaints,
    "clientele:crm/order-ledger" => order_ledger]);
world!(segmenter, "../wit/since_v0.6.0", "segmenter", types: since_v0_6_0, host: since_v0_6_0, imports: [
    "clientele:crm/log" => log, "clientele:crm/customers" => customers,
    "clientele:crm/state" => state, "clientele:crm/population" => population,
    "clientele:crm/segments" => segments, "clientele:crm/surveys" => surveys]);
world!(survey_scorer, "../wit/since_v0.6.0", "survey-scorer", types: since_v0_6_0, host: since_v0_6_0, imports: [
    "clientele:crm/log" => log, "clientele:crm/customers" => customers,
    "clientele:crm/survey-settings" => survey_settings]);
world!(churn_rescue, "../wit/since_v0.6.0", "churn-rescue", types: since_v0_6_0, host: since_v0_6_0, imports: [
    "clientele:crm/log" => log, "clientele:crm/customers" => customers,
    "clientele:crm/state" => state, "clientele:crm/messaging" => messaging,
    "clientele:crm/population" => population, "clientele:crm/segments" => segments,
    "clientele:crm/surveys" => surveys]);

world!(responder, "../wit/since_v0.6.0", "responder", types: since_v0_6_0, host: since_v0_6_0, imports: [
    "clientele:crm/log" => log, "clientele:crm/customers" => customers,
    "clientele:crm/state" => state, "clientele:crm/segments" => segments,
    "clientele:crm/surveys" => surveys, "clientele:crm/complaints" => complaints]);

pub use host::clientele::crm::types;

/// This version on the ladder.
pub static RUNG: super::ladder::Rung =
    super::ladder::Rung { version: MIN_VERSION, link: add_to_linker, prepare };

super::ladder::prepare!(responder);

/// Links this version's host interfaces.
fn add_to_linker(linker: &mut Linker<CallCtx>) -> wasmtime::Result<()> {
    type Own = wasmtime::component::HasSelf<CallCtx>;
    host::PluginHost::add_to_linker::<_, Own>(linker, |c| c)
}

use super::ladder::{self as l, Answer};
use crate::runtime::CallCtx;
use churn_rescue::exports::clientele::crm::rescue;
use point_rules::exports::clientele::crm::loyalty;
use responder::exports::clientele::crm::reactions;
use segmenter::exports::clientele::crm::segmentation;
use survey_scorer::exports::clientele::crm::scoring;
use types::{Customer, Event, Fitted, Population};
use wasmtime::component::Linker;
use wasmtime::Store;

impl l::PointRules for point_rules::PointRulesPre<CallCtx> {
    fn on_event(
        &self,
        store: &mut Store<CallCtx>,
        config: &str,
        c: &Customer,
        e: &Event,
    ) -> Answer<Vec<loyalty::LedgerOp>> {
        let ctx = store.data_mut().store_context(e.occurred_at)?;
        self.instantiate(&mut *store)?.clientele_crm_loyalty().call_on_event(
            store,
            &ctx,
            &config.to_string(),
            c,
            e,
        )
    }
}

impl l::Segmenter for segmenter::SegmenterPre<CallCtx> {
    fn fit(
        &self,
        store: &mut Store<CallCtx>,
        config: &str,
        p: &Population,
    ) -> Answer<segmentation::Segmented> {
        let ctx = store.data_mut().store_context(p.as_of)?;
        self.instantiate(&mut *store)?.clientele_crm_segmentation().call_fit(
            store,
            &ctx,
            &config.to_string(),
            p,
        )
    }

    fn classify(
        &self,
        store: &mut Store<CallCtx>,
        config: &str,
        model: &[u8],
        c: &Customer,
        as_of: i64,
    ) -> Answer<Vec<segmentation::Membership>> {
        let ctx = store.data_mut().store_context(as_of)?;
        let seg = self.instantiate(&mut *store)?;
        seg.clientele_crm_segmentation().call_classify(
            store,
            &ctx,
            &config.to_string(),
            model,
            c,
            as_of,
        )
    }
}

impl l::SurveyScorer for survey_scorer::SurveyScorerPre<CallCtx> {
    fn score(
        &self,
        store: &mut Store<CallCtx>,
        config: &str,
        survey: &scoring::Survey,
        response: &scoring::Response,
    ) -> Answer<String> {
        let ctx = store.data_mut().store_context(response.submitted_at)?;
        let s = self.instantiate(&mut *store)?;
        s.clientele_crm_scoring().call_score(store, &ctx, &config.to_string(), survey, response)
    }

    fn aggregate(
        &self,
        store: &mut Store<CallCtx>,
        now: i64,
        config: &str,
        survey: &scoring::Survey,
        scored: &[String],
    ) -> Answer<String> {
        let ctx = store.data_mut().store_context(now)?;
        let s = self.instantiate(&mut *store)?;
        s.clientele_crm_scoring().call_aggregate(store, &ctx, &config.to_string(), survey, scored)
    }
}

impl l::ChurnRescue for churn_rescue::ChurnRescuePre<CallCtx> {
    fn fit(&self, store: &mut Store<CallCtx>, config: &str, p: &Population) -> Answer<Fitted> {
        let ctx = store.data_mut().store_context(p.as_of)?;
        self.instantiate(&mut *store)?.clientele_crm_rescue().call_fit(
            store,
            &ctx,
            &config.to_string(),
            p,
        )
    }

    fn assess(
        &self,
        store: &mut Store<CallCtx>,
        config: &str,
        model: &[u8],
        c: &Customer,
        as_of: i64,
    ) -> Answer<rescue::Assessment> {
        let ctx = store.data_mut().store_context(as_of)?;
        let r = self.instantiate(&mut *store)?;
        r.clientele_crm_rescue().call_assess(store, &ctx, &config.to_string(), model, c, as_of)
    }

    fn plan(
        &self,
        store: &mut Store<CallCtx>,
        config: &str,
        a: &rescue::Assessment,
        c: &Customer,
        current: Option<&rescue::FlowSummary>,
        as_of: i64,
    ) -> Answer<Vec<rescue::Action>> {
        let ctx = store.data_mut().store_context(as_of)?;
        let r = self.instantiate(&mut *store)?;
        r.clientele_crm_rescue().call_plan(store, &ctx, &config.to_string(), a, c, current)
    }

    fn on_timer(
        &self,
        store: &mut Store<CallCtx>,
        config: &str,
        c: &Customer,
        flow: &rescue::FlowState,
    ) -> Answer<Vec<rescue::Action>> {
        let ctx = store.data_mut().store_context(flow.now)?;
        let r = self.instantiate(&mut *store)?;
        r.clientele_crm_rescue().call_on_timer(store, &ctx, &config.to_string(), c, flow)
    }
}

impl l::Responder for responder::ResponderPre<CallCtx> {
    fn on_event(
        &self,
        store: &mut Store<CallCtx>,
        config: &str,
        c: &Customer,
        e: &Event,
    ) -> Answer<Vec<reactions::Action>> {
        let ctx = store.data_mut().store_context(e.occurred_at)?;
        let r = self.instantiate(&mut *store)?;
        r.clientele_crm_reactions().call_on_event(store, &ctx, &config.to_string(), c, e)
    }

    fn on_timer(
        &self,
        store: &mut Store<CallCtx>,
        config: &str,
        c: &Customer,
        timer: &reactions::Timer,
    ) -> Answer<Vec<reactions::Action>> {
        let ctx = store.data_mut().store_context(timer.now)?;
        let r = self.instantiate(&mut *store)?;
        r.clientele_crm_reactions().call_on_timer(store, &ctx, &config.to_string(), c, timer)
    }
}
