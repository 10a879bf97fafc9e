//! Host bindings, one module per frozen version of the `clientele:crm`
//! contract (`wit/since_vX.Y.Z/`, the way Zed's extension host keeps its
//! `since_v0.x` folders). A plugin built against any version the host
//! serves keeps running when a newer one is added; adding a version is
//! adding a folder, a module, and its entry in [`SERVED`].

pub mod since_v0_1_0;

// The newest contract: what the runtime calls through.
pub use since_v0_1_0::*;

/// Every contract version this host runs plugins of, oldest first.
pub const SERVED: &[semver::Version] = &[since_v0_1_0::MIN_VERSION];

/// Whether a component built against `version` (as it appears in its
/// imports and exports, `0.1.0`) can run here.
pub fn serves(version: &str) -> bool {
    semver::Version::parse(version).is_ok_and(|v| SERVED.contains(&v))
}

/// The served versions, for messages: `0.1.0`.
pub fn served_list() -> String {
    SERVED
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
