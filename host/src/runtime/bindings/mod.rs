//! Host bindings, one module per frozen version of the `clientele:crm`
//! contract (`wit/since_vX.Y.Z/`, the way Zed's extension host keeps its
//! `since_v0.x` folders). A plugin built against any version the host
//! serves keeps running when a newer one is added; adding a version is
//! adding a folder, a module, and its entry in [`Contract`].

/// One world's bindings in a contract folder: its exports generated, its
/// imports those of the version's `host` module (`$host`), its shared
/// records the `types` of `$types` (a version's own, or a newer one's
/// whose records did not change).
macro_rules! world {
    ($module:ident, $path:tt, $world:tt, types: $types:ident, host: $host:ident, imports: [$($iface:tt => $import:ident),*]) => {
        pub mod $module {
            wasmtime::component::bindgen!({
                path: $path,
                world: $world,
                with: {
                    "clientele:crm/types": crate::runtime::bindings::$types::host::clientele::crm::types,
                    $($iface: crate::runtime::bindings::$host::host::clientele::crm::$import,)*
                },
            });
        }
    };
}

/// The four worlds of a contract folder.
macro_rules! worlds {
    ($path:tt, types: $types:ident, host: $host:ident) => {
        world!(point_rules, $path, "point-rules", types: $types, host: $host, imports: [
            "clientele:crm/log" => log, "clientele:crm/customers" => customers,
            "clientele:crm/state" => state, "clientele:crm/messaging" => messaging]);
        world!(segmenter, $path, "segmenter", types: $types, host: $host, imports: [
            "clientele:crm/log" => log, "clientele:crm/customers" => customers,
            "clientele:crm/state" => state]);
        world!(survey_scorer, $path, "survey-scorer", types: $types, host: $host, imports: [
            "clientele:crm/log" => log, "clientele:crm/customers" => customers]);
        world!(churn_rescue, $path, "churn-rescue", types: $types, host: $host, imports: [
            "clientele:crm/log" => log, "clientele:crm/customers" => customers,
            "clientele:crm/state" => state, "clientele:crm/messaging" => messaging]);
    };
}

mod ladder;
mod older;
pub mod since_v0_1_0;
pub mod since_v0_2_0;
pub mod since_v0_3_0;
pub mod since_v0_4_0;
pub mod since_v0_5_0;
pub mod since_v0_6_0;

pub use ladder::{
    Answer, ChurnRescue, PointRules, Responder, Rung, Segmenter, SurveyScorer, WorldPre,
};

/// The ladder: every contract version this host runs plugins of, oldest
/// first. A new version is its folder (`wit/since_vX.Y.Z/`), its module
/// (`since_vX_Y_Z`, with its `RUNG`), and its entry here; the newest's
/// bindings are what the runtime calls through (`newest` below), and every
/// older rung converts to and from them.
pub static LADDER: [&Rung; 6] = [
    &since_v0_1_0::RUNG,
    &since_v0_2_0::RUNG,
    &since_v0_3_0::RUNG,
    &since_v0_4_0::RUNG,
    &since_v0_5_0::RUNG,
    &since_v0_6_0::RUNG,
];

pub use newest::*;
/// The newest contract: its types are the ones the runtime speaks.
pub use since_v0_6_0 as newest;

/// The contract a component was built against: a rung of the ladder.
#[derive(Clone, Copy)]
pub struct Contract(&'static Rung);

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Contract({})", self.0.version)
    }
}

impl PartialEq for Contract {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Contract {}

impl Contract {
    /// The newest: what `clientele wit` writes and new plugins build on.
    pub fn newest() -> Contract {
        Contract(LADDER[LADDER.len() - 1])
    }

    /// The served contract of this version (`0.1.0`), if any.
    pub fn parse(version: &str) -> Option<Contract> {
        let version = semver::Version::parse(version).ok()?;
        LADDER.iter().find(|r| r.version == version).map(|r| Contract(r))
    }

    pub fn version(self) -> semver::Version {
        self.0.version.clone()
    }

    /// A component of this contract, typed for its world.
    pub fn prepare(
        self,
        world: crate::domain::World,
        pre: wasmtime::component::InstancePre<crate::runtime::CallCtx>,
    ) -> wasmtime::Result<WorldPre> {
        (self.0.prepare)(world, pre)
    }
}

/// Links the host interfaces of every served version.
pub fn add_to_linker(
    linker: &mut wasmtime::component::Linker<crate::runtime::CallCtx>,
) -> wasmtime::Result<()> {
    LADDER.iter().try_for_each(|rung| (rung.link)(linker))
}

/// Whether a component built against `version` (as it appears in its
/// imports and exports, `0.1.0`) can run here.
pub fn serves(version: &str) -> bool {
    Contract::parse(version).is_some()
}

/// The served versions, for messages: `0.1.0, 0.2.0`.
pub fn served_list() -> String {
    LADDER.iter().map(|r| r.version.to_string()).collect::<Vec<_>>().join(", ")
}
