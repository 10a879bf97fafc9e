//! Host-side bindings of the frozen `clientele:crm@0.2.0`
//! (`wit/since_v0.2.0`), kept so that plugins built against it run
//! unchanged beside newer ones. Never edit the folder.
//!
//! As `since_v0_1_0`: the host functions forward to the newest contract's
//! (`older::forward_host!`) and the export records are converted to and
//! from the newest's (`older::convert_exports!`); the records of `types`
//! did not change in 0.3.0, so these bindings use the newest ones (`with`).
//! 0.3.0 added host interfaces only, which a 0.2.0 component never imports.

use super::newest as latest;
use crate::runtime::CallCtx;
use latest::host::clientele::crm as now;

/// The contract version these bindings serve.
pub const MIN_VERSION: semver::Version = semver::Version::new(0, 2, 0);

pub mod host {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.2.0",
        world: "plugin-host",
        // Trappable, so that a host failure (or a wait that reached the
        // call's deadline) fails the call instead of answering "nothing".
        imports: { default: trappable },
        with: { "clientele:crm/types": crate::runtime::bindings::newest::types },
    });
}

worlds!("../wit/since_v0.2.0", types: newest, host: since_v0_2_0);

/// This version on the ladder.
pub static RUNG: super::ladder::Rung =
    super::ladder::Rung { version: MIN_VERSION, link: add_to_linker, prepare };

super::ladder::prepare!();

super::older::forward_host!();

super::older::convert_exports!();

/// The customer's flow, as a 0.2.0 `plan` sees it.
fn flow_summary(
    f: &latest::churn_rescue::exports::clientele::crm::rescue::FlowSummary,
) -> churn_rescue::exports::clientele::crm::rescue::FlowSummary {
    use churn_rescue::exports::clientele::crm::rescue::{FlowStatus as Then, FlowSummary};
    use latest::churn_rescue::exports::clientele::crm::rescue::FlowStatus as Now;
    FlowSummary {
        flow_id: f.flow_id.clone(),
        status: match f.status {
            Now::Active => Then::Active,
            Now::Rescued => Then::Rescued,
            Now::Expired => Then::Expired,
            Now::Skipped => Then::Skipped,
        },
        step: f.step,
        started_at: f.started_at,
        ended_at: f.ended_at,
    }
}

mod calls {
    //! The newest contract's calls on a 0.2.0 component: the same store
    //! context, arguments and answers converted.

    use super::convert as old;
    use super::latest::churn_rescue::exports::clientele::crm::rescue;
    use super::latest::point_rules::exports::clientele::crm::loyalty;
    use super::latest::segmenter::exports::clientele::crm::segmentation;
    use super::latest::survey_scorer::exports::clientele::crm::scoring;
    use super::latest::types::{Customer, Event, Fitted, Population};
    use super::{churn_rescue, point_rules, segmenter, survey_scorer};
    use crate::runtime::bindings::ladder::{self as l, Answer};
    use crate::runtime::CallCtx;
    use wasmtime::Store;

    /// An answer of this rung's export, converted.
    fn answer<T, U>(result: Answer<T>, convert: impl FnOnce(T) -> U) -> Answer<U> {
        result.map(|r| r.map(convert))
    }

    impl l::PointRules for point_rules::PointRulesPre<CallCtx> {
        fn on_event(
            &self,
            store: &mut Store<CallCtx>,
            config: &str,
            c: &Customer,
            e: &Event,
        ) -> Answer<Vec<loyalty::LedgerOp>> {
            let ctx = store.data_mut().store_context(e.occurred_at)?;
            let p = self.instantiate(&mut *store)?;
            let got =
                p.clientele_crm_loyalty().call_on_event(store, &ctx, &config.to_string(), c, e);
            answer(got, old::ledger_ops)
        }
    }

    impl l::Segmenter for segmenter::SegmenterPre<CallCtx> {
        fn fit(&self, store: &mut Store<CallCtx>, config: &str, p: &Population) -> Answer<Fitted> {
            let ctx = store.data_mut().store_context(p.as_of)?;
            let s = self.instantiate(&mut *store)?;
            s.clientele_crm_segmentation().call_fit(store, &ctx, &config.to_string(), p)
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
            let s = self.instantiate(&mut *store)?;
            let got = s.clientele_crm_segmentation().call_classify(
                store,
                &ctx,
                &config.to_string(),
                model,
                c,
                as_of,
            );
            answer(got, old::memberships)
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
            let (survey, response) = (old::survey(survey), old::response(response));
            let s = self.instantiate(&mut *store)?;
            s.clientele_crm_scoring().call_score(
                store,
                &ctx,
                &config.to_string(),
                &survey,
                &response,
            )
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
            let survey = old::survey(survey);
            let s = self.instantiate(&mut *store)?;
            s.clientele_crm_scoring().call_aggregate(
                store,
                &ctx,
                &config.to_string(),
                &survey,
                scored,
            )
        }
    }

    impl l::ChurnRescue for churn_rescue::ChurnRescuePre<CallCtx> {
        fn fit(&self, store: &mut Store<CallCtx>, config: &str, p: &Population) -> Answer<Fitted> {
            let ctx = store.data_mut().store_context(p.as_of)?;
            let r = self.instantiate(&mut *store)?;
            r.clientele_crm_rescue().call_fit(store, &ctx, &config.to_string(), p)
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
            let got = r.clientele_crm_rescue().call_assess(
                store,
                &ctx,
                &config.to_string(),
                model,
                c,
                as_of,
            );
            answer(got, old::assessment_from)
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
            let (a, current) = (old::assessment_to(a), current.map(super::flow_summary));
            let r = self.instantiate(&mut *store)?;
            let got = r.clientele_crm_rescue().call_plan(
                store,
                &ctx,
                &config.to_string(),
                &a,
                c,
                current.as_ref(),
            );
            answer(got, old::actions)
        }

        fn on_timer(
            &self,
            store: &mut Store<CallCtx>,
            config: &str,
            c: &Customer,
            flow: &rescue::FlowState,
        ) -> Answer<Vec<rescue::Action>> {
            let ctx = store.data_mut().store_context(flow.now)?;
            let flow = old::flow_state(flow);
            let r = self.instantiate(&mut *store)?;
            let got =
                r.clientele_crm_rescue().call_on_timer(store, &ctx, &config.to_string(), c, &flow);
            answer(got, old::actions)
        }
    }
}
