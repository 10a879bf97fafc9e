//! Host-side bindings of the frozen `clientele:crm@0.1.0`
//! (`wit/since_v0.1.0`), kept so that plugins built against it run
//! unchanged beside newer ones. Never edit the folder.
//!
//! The way Zed's extension host keeps its `since_v0_x` modules: the host
//! functions forward to the newest contract's, and the export types are
//! converted to and from the newest ones, so the runtime only ever speaks
//! the newest. The records of `types` did not change in 0.2.0, so these
//! bindings use the newest ones (`with`); the component model checks them
//! structurally when a 0.1.0 component is linked, which the frozen test
//! guest (`tests/guests/since-v0-1-0`) exercises.

use super::newest as latest;
use crate::runtime::CallCtx;
use latest::host::clientele::crm as now;
use latest::types::PluginError;

/// The contract version these bindings serve.
pub const MIN_VERSION: semver::Version = semver::Version::new(0, 1, 0);

pub mod host {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
        world: "plugin-host",
        imports: { default: trappable },
        with: { "clientele:crm/types": crate::runtime::bindings::newest::types },
    });
}

worlds!("../wit/since_v0.1.0", types: newest, host: since_v0_1_0);

/// This version on the ladder.
pub static RUNG: super::ladder::Rung =
    super::ladder::Rung { version: MIN_VERSION, link: add_to_linker, prepare };

super::ladder::prepare!();

super::older::forward_host!();

/// A plugin marked an error of 0.1.0 (a bare string) as one that may pass
/// by starting it with this.
pub const RETRYABLE_PREFIX: &str = "retryable:";

/// A 0.1.0 error as the newest contract has it: no code of its own, and
/// retryable when it starts with `retryable:`.
pub fn error(message: String) -> PluginError {
    let retryable = message
        .trim_start()
        .get(..RETRYABLE_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(RETRYABLE_PREFIX));
    PluginError { code: String::new(), message, retryable }
}

/// A 0.1.0 export's answer as the newest contract has it.
pub fn answer<T, U>(
    result: wasmtime::Result<Result<T, String>>,
    convert: impl FnOnce(T) -> U,
) -> wasmtime::Result<Result<U, PluginError>> {
    result.map(|r| r.map(convert).map_err(error))
}

super::older::convert_exports!();

mod calls {
    //! The newest contract's calls on a 0.1.0 component: no store context
    //! (0.1.0 has none), arguments and answers converted.

    use super::convert as old;
    use super::latest::churn_rescue::exports::clientele::crm::rescue;
    use super::latest::point_rules::exports::clientele::crm::loyalty;
    use super::latest::segmenter::exports::clientele::crm::segmentation;
    use super::latest::survey_scorer::exports::clientele::crm::scoring;
    use super::latest::types::{Customer, Event, Fitted, Population};
    use super::{answer, churn_rescue, point_rules, segmenter, survey_scorer};
    use crate::runtime::bindings::ladder::{self as l, Answer};
    use crate::runtime::CallCtx;
    use wasmtime::Store;

    impl l::PointRules for point_rules::PointRulesPre<CallCtx> {
        fn on_event(
            &self,
            store: &mut Store<CallCtx>,
            config: &str,
            c: &Customer,
            e: &Event,
        ) -> Answer<Vec<loyalty::LedgerOp>> {
            let p = self.instantiate(&mut *store)?;
            answer(
                p.clientele_crm_loyalty().call_on_event(store, &config.to_string(), c, e),
                old::ledger_ops,
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
            let s = self.instantiate(&mut *store)?;
            let got = s.clientele_crm_segmentation().call_fit(store, &config.to_string(), p);
            answer(got, old::segmented)
        }

        fn classify(
            &self,
            store: &mut Store<CallCtx>,
            config: &str,
            model: &[u8],
            c: &Customer,
            as_of: i64,
        ) -> Answer<Vec<segmentation::Membership>> {
            let s = self.instantiate(&mut *store)?;
            let got = s.clientele_crm_segmentation().call_classify(
                store,
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
            let (survey, response) = (old::survey(survey), old::response(response));
            let s = self.instantiate(&mut *store)?;
            answer(
                s.clientele_crm_scoring().call_score(
                    store,
                    &config.to_string(),
                    &survey,
                    &response,
                ),
                |s| s,
            )
        }

        fn aggregate(
            &self,
            store: &mut Store<CallCtx>,
            _now: i64,
            config: &str,
            survey: &scoring::Survey,
            scored: &[String],
        ) -> Answer<String> {
            let survey = old::survey(survey);
            let s = self.instantiate(&mut *store)?;
            answer(
                s.clientele_crm_scoring().call_aggregate(
                    store,
                    &config.to_string(),
                    &survey,
                    scored,
                ),
                |s| s,
            )
        }
    }

    impl l::ChurnRescue for churn_rescue::ChurnRescuePre<CallCtx> {
        fn fit(&self, store: &mut Store<CallCtx>, config: &str, p: &Population) -> Answer<Fitted> {
            let r = self.instantiate(&mut *store)?;
            answer(r.clientele_crm_rescue().call_fit(store, &config.to_string(), p), |f| f)
        }

        fn assess(
            &self,
            store: &mut Store<CallCtx>,
            config: &str,
            model: &[u8],
            c: &Customer,
            as_of: i64,
        ) -> Answer<rescue::Assessment> {
            let r = self.instantiate(&mut *store)?;
            let got =
                r.clientele_crm_rescue().call_assess(store, &config.to_string(), model, c, as_of);
            answer(got, old::assessment_from)
        }

        fn plan(
            &self,
            store: &mut Store<CallCtx>,
            config: &str,
            a: &rescue::Assessment,
            c: &Customer,
            _current: Option<&rescue::FlowSummary>,
            _as_of: i64,
        ) -> Answer<Vec<rescue::Action>> {
            let a = old::assessment_to(a);
            let r = self.instantiate(&mut *store)?;
            answer(
                r.clientele_crm_rescue().call_plan(store, &config.to_string(), &a, c),
                old::actions,
            )
        }

        fn on_timer(
            &self,
            store: &mut Store<CallCtx>,
            config: &str,
            c: &Customer,
            flow: &rescue::FlowState,
        ) -> Answer<Vec<rescue::Action>> {
            let flow = old::flow_state(flow);
            let r = self.instantiate(&mut *store)?;
            answer(
                r.clientele_crm_rescue().call_on_timer(store, &config.to_string(), c, &flow),
                old::actions,
            )
        }
    }
}
