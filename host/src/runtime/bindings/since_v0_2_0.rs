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

pub mod point_rules {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.2.0",
        world: "point-rules",
        with: {
            "clientele:crm/types": super::host::clientele::crm::types,
            "clientele:crm/log": super::host::clientele::crm::log,
            "clientele:crm/customers": super::host::clientele::crm::customers,
            "clientele:crm/state": super::host::clientele::crm::state,
            "clientele:crm/messaging": super::host::clientele::crm::messaging,
        },
    });
}

pub mod segmenter {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.2.0",
        world: "segmenter",
        with: {
            "clientele:crm/types": super::host::clientele::crm::types,
            "clientele:crm/log": super::host::clientele::crm::log,
            "clientele:crm/customers": super::host::clientele::crm::customers,
            "clientele:crm/state": super::host::clientele::crm::state,
        },
    });
}

pub mod survey_scorer {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.2.0",
        world: "survey-scorer",
        with: {
            "clientele:crm/types": super::host::clientele::crm::types,
            "clientele:crm/log": super::host::clientele::crm::log,
            "clientele:crm/customers": super::host::clientele::crm::customers,
        },
    });
}

pub mod churn_rescue {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.2.0",
        world: "churn-rescue",
        with: {
            "clientele:crm/types": super::host::clientele::crm::types,
            "clientele:crm/log": super::host::clientele::crm::log,
            "clientele:crm/customers": super::host::clientele::crm::customers,
            "clientele:crm/state": super::host::clientele::crm::state,
            "clientele:crm/messaging": super::host::clientele::crm::messaging,
        },
    });
}

pub use host::clientele::crm::types;
