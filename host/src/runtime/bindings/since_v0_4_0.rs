//! Host-side bindings of the frozen `clientele:crm@0.4.0`
//! (`wit/since_v0.4.0`), kept so that plugins built against it run
//! unchanged beside newer ones. Never edit the folder.
//!
//! As `since_v0_3_0`: the host functions forward to the newest contract's
//! (`older::forward_host!`, here with the reads 0.3.0 and 0.4.0 added)
//! and the export records are converted to and from the newest's
//! (`older::convert_exports!`, `older::older_calls!`, here with 0.4.0's
//! `segmented`); the records of `types` did not change in 0.5.0 or 0.6.0,
//! so these bindings use the newest ones (`with`). 0.5.0 added host
//! interfaces and a world, 0.6.0 a host interface, which a 0.4.0
//! component never imports.

use super::newest as latest;
use crate::runtime::CallCtx;
use latest::host::clientele::crm as now;

/// The contract version these bindings serve.
pub const MIN_VERSION: semver::Version = semver::Version::new(0, 4, 0);

pub mod host {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.4.0",
        world: "plugin-host",
        // Trappable, so that a host failure (or a wait that reached the
        // call's deadline) fails the call instead of answering "nothing".
        imports: { default: trappable },
        with: { "clientele:crm/types": crate::runtime::bindings::newest::types },
    });
}

world!(point_rules, "../wit/since_v0.4.0", "point-rules", types: newest, host: since_v0_4_0, imports: [
    "clientele:crm/log" => log, "clientele:crm/customers" => customers,
    "clientele:crm/state" => state, "clientele:crm/messaging" => messaging,
    "clientele:crm/segments" => segments, "clientele:crm/surveys" => surveys]);
world!(segmenter, "../wit/since_v0.4.0", "segmenter", types: newest, host: since_v0_4_0, imports: [
    "clientele:crm/log" => log, "clientele:crm/customers" => customers,
    "clientele:crm/state" => state, "clientele:crm/population" => population,
    "clientele:crm/segments" => segments, "clientele:crm/surveys" => surveys]);
world!(survey_scorer, "../wit/since_v0.4.0", "survey-scorer", types: newest, host: since_v0_4_0, imports: [
    "clientele:crm/log" => log, "clientele:crm/customers" => customers,
    "clientele:crm/survey-settings" => survey_settings]);
world!(churn_rescue, "../wit/since_v0.4.0", "churn-rescue", types: newest, host: since_v0_4_0, imports: [
    "clientele:crm/log" => log, "clientele:crm/customers" => customers,
    "clientele:crm/state" => state, "clientele:crm/messaging" => messaging,
    "clientele:crm/population" => population, "clientele:crm/segments" => segments,
    "clientele:crm/surveys" => surveys]);

/// This version on the ladder.
pub static RUNG: super::ladder::Rung =
    super::ladder::Rung { version: MIN_VERSION, link: add_to_linker, prepare };

super::ladder::prepare!();

super::older::forward_host!(reads_0_4_0);

super::older::convert_exports!(segmented);

super::older::older_calls!(fit: segmented_of_0_4_0);
