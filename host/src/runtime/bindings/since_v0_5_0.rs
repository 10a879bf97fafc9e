//! Host-side bindings of the frozen `clientele:crm@0.5.0`
//! (`wit/since_v0.5.0`), kept so that plugins built against it run
//! unchanged beside newer ones. Never edit the folder.
//!
//! As `since_v0_4_0`: the host functions forward to the newest contract's
//! (`older::forward_host!`, here with the reads of 0.3.0 and 0.4.0 and the
//! `complaints` and `earnings` of 0.5.0) and the export records are
//! converted to and from the newest's (`older::convert_exports!`,
//! `older::older_calls!`, here with 0.4.0's `segmented` and 0.5.0's
//! `responder`); the records of `types` did not change in 0.6.0, so these
//! bindings use the newest ones (`with`). 0.6.0 added a host interface
//! only (`order-ledger`), which a 0.5.0 component never imports.

use super::newest as latest;
use crate::runtime::CallCtx;
use latest::host::clientele::crm as now;

/// The contract version these bindings serve.
pub const MIN_VERSION: semver::Version = semver::Version::new(0, 5, 0);

pub mod host {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.5.0",
        world: "plugin-host",
        // Trappable, so that a host failure (or a wait that reached the
        // call's deadline) fails the call instead of answering "nothing".
        imports: { default: trappable },
        with: { "clientele:crm/types": crate::runtime::bindings::newest::types },
    });
}

world!(point_rules, "../wit/since_v0.5.0", "point-rules", types: newest, host: since_v0_5_0, imports: [
    "clientele:crm/log" => log, "clientele:crm/customers" => customers,
    "clientele:crm/state" => state, "clientele:crm/messaging" => messaging,
    "clientele:crm/segments" => segments, "clientele:crm/surveys" => surveys,
    "clientele:crm/earnings" => earnings, "clientele:crm/complaints" => complaints]);
world!(segmenter, "../wit/since_v0.5.0", "segmenter", types: newest, host: since_v0_5_0, imports: [
    "clientele:crm/log" => log, "clientele:crm/customers" => customers,
    "clientele:crm/state" => state, "clientele:crm/population" => population,
    "clientele:crm/segments" => segments, "clientele:crm/surveys" => surveys]);
world!(survey_scorer, "../wit/since_v0.5.0", "survey-scorer", types: newest, host: since_v0_5_0, imports: [
    "clientele:crm/log" => log, "clientele:crm/customers" => customers,
    "clientele:crm/survey-settings" => survey_settings]);
world!(churn_rescue, "../wit/since_v0.5.0", "churn-rescue", types: newest, host: since_v0_5_0, imports: [
    "clientele:crm/log" => log, "clientele:crm/customers" => customers,
    "clientele:crm/state" => state, "clientele:crm/messaging" => messaging,
    "clientele:crm/population" => population, "clientele:crm/segments" => segments,
    "clientele:crm/surveys" => surveys]);
world!(responder, "../wit/since_v0.5.0", "responder", types: newest, host: since_v0_5_0, imports: [
    "clientele:crm/log" => log, "clientele:crm/customers" => customers,
    "clientele:crm/state" => state, "clientele:crm/segments" => segments,
    "clientele:crm/surveys" => surveys, "clientele:crm/complaints" => complaints]);

/// This version on the ladder.
pub static RUNG: super::ladder::Rung =
    super::ladder::Rung { version: MIN_VERSION, link: add_to_linker, prepare };

super::ladder::prepare!(responder);

super::older::forward_host!(reads_0_5_0);

super::older::convert_exports!(segmented, reactions);

super::older::older_calls!(fit: segmented_of_0_4_0, responder);
