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

super::older::older_calls!();
