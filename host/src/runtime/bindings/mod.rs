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

pub mod since_v0_1_0;
pub mod since_v0_2_0;

// The newest contract: what the runtime calls through. Older versions
// forward to it.
pub use since_v0_2_0::*;

/// The contract a component was built against, among those served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    V0_1_0,
    V0_2_0,
}

impl Contract {
    /// Every contract version this host runs plugins of, oldest first.
    pub const SERVED: [Contract; 2] = [Contract::V0_1_0, Contract::V0_2_0];

    /// The newest: what `clientele wit` writes and new plugins build on.
    pub const NEWEST: Contract = Contract::V0_2_0;

    /// The served contract of this version (`0.1.0`), if any.
    pub fn parse(version: &str) -> Option<Contract> {
        let version = semver::Version::parse(version).ok()?;
        Contract::SERVED.into_iter().find(|c| c.version() == version)
    }

    pub fn version(self) -> semver::Version {
        match self {
            Contract::V0_1_0 => since_v0_1_0::MIN_VERSION,
            Contract::V0_2_0 => since_v0_2_0::MIN_VERSION,
        }
    }
}

/// Links the host interfaces of every served version.
pub fn add_to_linker(
    linker: &mut wasmtime::component::Linker<crate::runtime::CallCtx>,
) -> wasmtime::Result<()> {
    type Own = wasmtime::component::HasSelf<crate::runtime::CallCtx>;
    since_v0_2_0::host::PluginHost::add_to_linker::<_, Own>(linker, |c| c)?;
    since_v0_1_0::add_to_linker(linker)
}

/// Whether a component built against `version` (as it appears in its
/// imports and exports, `0.1.0`) can run here.
pub fn serves(version: &str) -> bool {
    Contract::parse(version).is_some()
}

/// The served versions, for messages: `0.1.0`.
pub fn served_list() -> String {
    Contract::SERVED.iter().map(|c| c.version().to_string()).collect::<Vec<_>>().join(", ")
}
