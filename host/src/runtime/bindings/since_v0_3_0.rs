//! Host-side bindings of the frozen `clientele:crm@0.3.0`
//! (`wit/since_v0.3.0`), kept so that plugins built against it run
//! unchanged beside newer ones. Never edit the folder.
//!
//! As `since_v0_2_0`: the host functions forward to the newest contract's
//! (`older::forward_host!`, here with the reads 0.3.0 added) and the
//! export records are converted to and from the newest's
//! (`older::convert_exports!`, `older::older_calls!`); the records of
//! `types` did not change in 0.4.0, so these bindings use the newest ones
//! (`with`). 0.4.0 changed what a segmenter's `fit` returns: a 0.3.0 fit
//! is the newest's without memberships (every customer is classified).

use super::newest as latest;
use crate::runtime::CallCtx;
use latest::host::clientele::crm as now;

/// The contract version these bindings serve.
pub const MIN_VERSION: semver::Version = semver::Version::new(0, 3, 0);

pub mod host {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.3.0",
        world: "plugin-host",
        // Trappable, so that a host failure (or a wait that reached the
        // call's deadline) fails the call instead of answering "nothing".
        imports: { default: trappable },
        with: { "clientele:crm/types": crate::runtime::bindings::newest::types },
    });
}

world!(point_rules, "../wit/since_v0.3.0", "point-rules", types: newest, host: since_v0_3_0, imports: [
    "clientele:crm/log" => log, "clientele:crm/customers" => customers,
    "clientele:crm/state" => state, "clientele:crm/messaging" => messaging,
    "clientele:crm/segments" => segments, "clientele:crm/surveys" => surveys]);
world!(segmenter, "../wit/since_v0.3.0", "segmenter", types: newest, host: since_v0_3_0, imports: [
    "clientele:crm/log" => log, "clientele:crm/customers" => customers,
    "clientele:crm/state" => state, "clientele:crm/population" => population,
    "clientele:crm/segments" => segments, "clientele:crm/surveys" => surveys]);
world!(survey_scorer, "../wit/since_v0.3.0", "survey-scorer", types: newest, host: since_v0_3_0, imports: [
    "clientele:crm/log" => log, "clientele:crm/customers" => customers,
    "clientele:crm/survey-settings" => survey_settings]);
world!(churn_rescue, "../wit/since_v0.3.0", "churn-rescue", types: newest, host: since_v0_3_0, imports: [
    "clientele:crm/log" => log, "clientele:crm/customers" => customers,
    "clientele:crm/state" => state, "clientele:crm/messaging" => messaging,
    "clientele:crm/population" => population, "clientele:crm/segments" => segments,
    "clientele:crm/surveys" => surveys]);

/// This version on the ladder.
pub static RUNG: super::ladder::Rung =
    super::ladder::Rung { version: MIN_VERSION, link: add_to_linker, prepare };

super::ladder::prepare!();

super::older::forward_host!(reads);

super::older::convert_exports!();

super::older::older_calls!();
