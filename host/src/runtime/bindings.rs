//! Host-side bindings generated from `wit/`, one module per world. The
//! imports are generated once (world `host`) and shared by every world.
//! Every export is called async, within a deadline (`Runtime::run`).

pub mod host {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "plugin-host",
        // Host functions are async so that a call waiting on the host is
        // abandoned at its deadline too; trappable so that a host failure
        // fails the call (`host_error`) instead of answering "nothing".
        imports: { default: async | trappable },
    });
}

pub mod point_rules {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "point-rules",
        exports: { default: async },
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
        path: "../wit",
        world: "segmenter",
        exports: { default: async },
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
        path: "../wit",
        world: "survey-scorer",
        exports: { default: async },
        with: {
            "clientele:crm/types": super::host::clientele::crm::types,
            "clientele:crm/log": super::host::clientele::crm::log,
            "clientele:crm/customers": super::host::clientele::crm::customers,
        },
    });
}

pub mod churn_rescue {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "churn-rescue",
        exports: { default: async },
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
