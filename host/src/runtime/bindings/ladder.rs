//! What the runtime calls on a linked component, whatever contract it was
//! built against: one trait per world, in the newest contract's types.
//! Every rung (`since_vX_Y_Z`) implements them for its own generated
//! bindings, converting to and from the newest where its records differ,
//! and says how to link and prepare its components (`Rung`). The runtime
//! then names no version: adding one is its folder, its module and its
//! entry in `LADDER` (`bindings/mod.rs`).

use wasmtime::component::{InstancePre, Linker};
use wasmtime::Store;

use super::churn_rescue::exports::clientele::crm::rescue;
use super::point_rules::exports::clientele::crm::loyalty;
use super::responder::exports::clientele::crm::reactions;
use super::segmenter::exports::clientele::crm::segmentation;
use super::survey_scorer::exports::clientele::crm::scoring;
use super::types::{Customer, Event, Fitted, PluginError, Population};
use crate::domain::World;
use crate::runtime::CallCtx;

/// An export's answer: the host's failure (a trap), or the plugin's.
pub type Answer<T> = wasmtime::Result<Result<T, PluginError>>;

pub trait PointRules: Send + Sync {
    fn on_event(
        &self,
        store: &mut Store<CallCtx>,
        config: &str,
        customer: &Customer,
        event: &Event,
    ) -> Answer<Vec<loyalty::LedgerOp>>;
}

pub trait Segmenter: Send + Sync {
    fn fit(
        &self,
        store: &mut Store<CallCtx>,
        config: &str,
        population: &Population,
    ) -> Answer<segmentation::Segmented>;
    fn classify(
        &self,
        store: &mut Store<CallCtx>,
        config: &str,
        model: &[u8],
        customer: &Customer,
        as_of: i64,
    ) -> Answer<Vec<segmentation::Membership>>;
}

pub trait SurveyScorer: Send + Sync {
    fn score(
        &self,
        store: &mut Store<CallCtx>,
        config: &str,
        survey: &scoring::Survey,
        response: &scoring::Response,
    ) -> Answer<String>;
    fn aggregate(
        &self,
        store: &mut Store<CallCtx>,
        now: i64,
        config: &str,
        survey: &scoring::Survey,
        scored: &[String],
    ) -> Answer<String>;
}

pub trait ChurnRescue: Send + Sync {
    fn fit(
        &self,
        store: &mut Store<CallCtx>,
        config: &str,
        population: &Population,
    ) -> Answer<Fitted>;
    fn assess(
        &self,
        store: &mut Store<CallCtx>,
        config: &str,
        model: &[u8],
        customer: &Customer,
        as_of: i64,
    ) -> Answer<rescue::Assessment>;
    /// `current` is the customer's latest flow (a 0.1.0 plugin is not told).
    fn plan(
        &self,
        store: &mut Store<CallCtx>,
        config: &str,
        assessment: &rescue::Assessment,
        customer: &Customer,
        current: Option<&rescue::FlowSummary>,
        as_of: i64,
    ) -> Answer<Vec<rescue::Action>>;
    fn on_timer(
        &self,
        store: &mut Store<CallCtx>,
        config: &str,
        customer: &Customer,
        flow: &rescue::FlowState,
    ) -> Answer<Vec<rescue::Action>>;
}

/// New in 0.5.0: no older rung has the world.
pub trait Responder: Send + Sync {
    fn on_event(
        &self,
        store: &mut Store<CallCtx>,
        config: &str,
        customer: &Customer,
        event: &Event,
    ) -> Answer<Vec<reactions::Action>>;
    fn on_timer(
        &self,
        store: &mut Store<CallCtx>,
        config: &str,
        customer: &Customer,
        timer: &reactions::Timer,
    ) -> Answer<Vec<reactions::Action>>;
}

/// A world's linked component, in whichever contract it speaks.
pub enum WorldPre {
    PointRules(Box<dyn PointRules>),
    Segmenter(Box<dyn Segmenter>),
    SurveyScorer(Box<dyn SurveyScorer>),
    ChurnRescue(Box<dyn ChurnRescue>),
    Responder(Box<dyn Responder>),
}

/// One contract version the host serves.
pub struct Rung {
    pub version: semver::Version,
    /// Links the version's host interfaces (an older one's forward to
    /// the newest's).
    pub link: fn(&mut Linker<CallCtx>) -> wasmtime::Result<()>,
    /// A component of the version, typed for its world.
    pub prepare: fn(World, InstancePre<CallCtx>) -> wasmtime::Result<WorldPre>,
}

/// The `prepare` of a rung module whose world modules are named as every
/// rung's are (`point_rules`, `segmenter`, `survey_scorer`,
/// `churn_rescue`, and from 0.5.0 `responder`). A rung before a world
/// existed refuses a component that claims it.
macro_rules! prepare {
    () => {
        super::ladder::prepare!(@with |pre| World::Responder => {
            wasmtime::bail!(
                "world `responder` is new in contract 0.5.0; this component speaks {}",
                MIN_VERSION
            )
        });
    };
    (responder) => {
        super::ladder::prepare!(@with |pre| World::Responder => {
            WorldPre::Responder(Box::new(responder::ResponderPre::new(pre)?))
        });
    };
    (@with |$pre:ident| $($newer:pat => $arm:block)*) => {
        fn prepare(
            world: crate::domain::World,
            $pre: wasmtime::component::InstancePre<crate::runtime::CallCtx>,
        ) -> wasmtime::Result<super::ladder::WorldPre> {
            use super::ladder::WorldPre;
            use crate::domain::World;
            Ok(match world {
                World::PointRules => {
                    WorldPre::PointRules(Box::new(point_rules::PointRulesPre::new($pre)?))
                }
                World::Segmenter => {
                    WorldPre::Segmenter(Box::new(segmenter::SegmenterPre::new($pre)?))
                }
                World::SurveyScorer => {
                    WorldPre::SurveyScorer(Box::new(survey_scorer::SurveyScorerPre::new($pre)?))
                }
                World::ChurnRescue => {
                    WorldPre::ChurnRescue(Box::new(churn_rescue::ChurnRescuePre::new($pre)?))
                }
                $($newer => $arm)*
            })
        }
    };
}
pub(super) use prepare;
