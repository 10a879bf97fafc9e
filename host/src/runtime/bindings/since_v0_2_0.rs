//! Host-side bindings of the frozen `clientele:crm@0.2.0`
//! (`wit/since_v0.2.0`), one module per world. The imports are generated
//! once (world `plugin-host`) and shared by every world. Never edit the
//! folder: a new contract is a new folder and a new module.

/// The contract version these bindings serve.
pub const MIN_VERSION: semver::Version = semver::Version::new(0, 2, 0);

pub mod host {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.2.0",
        world: "plugin-host",
        // Trappable, so that a host failure (or a wait that reached the
        // call's deadline) fails the call instead of answering "nothing".
        imports: { default: trappable },
    });
}

worlds!("../wit/since_v0.2.0", types: since_v0_2_0, host: since_v0_2_0);

pub use host::clientele::crm::types;
