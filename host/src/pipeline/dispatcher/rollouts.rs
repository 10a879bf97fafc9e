//! Shadow and canary versions beside the live one: a shadow runs on the
//! same event and customer and applies nothing, its decisions compared
//! with the live ones; a canary decides for the customers it takes, and is
//! rolled back when it fails more than the live version by its margin.

use std::sync::Arc;
use std::time::Duration;

use super::{BatchInstall, Call, Dispatcher};
use crate::db::rollouts::Diff;
use crate::db::rollouts::{self, Arm as RolloutArm};
use crate::db::Conn;
use crate::domain::event::Event;
use crate::domain::rollout::Counts;
use crate::domain::time::{now_ms, Millis};
use crate::pipeline::worlds::{self, CallResult};
use crate::pipeline::PipelineResult;
use crate::runtime::services::HostServices;

/// What a shadow or canary run counted in one batch, and the shadow's
/// differing decisions.
#[derive(Default)]
pub(super) struct RolloutTally {
    pub shadow: Counts,
    pub canary: Counts,
    /// The live version's calls while a canary runs beside it.
    pub live: Counts,
    pub diffs: Vec<Diff>,
}

impl Dispatcher {
    /// Runs the install's shadow version on the same event and customer,
    /// from the same committed state, after the live call; applies
    /// nothing, and counts whether it decided as `live` did.
    pub(super) fn run_shadow(
        &self,
        bi: &mut BatchInstall,
        call: &Call<'_>,
        services: &Arc<dyn HostServices>,
        live: &CallResult,
    ) {
        let Some(arm) = &bi.shadow else { return };
        let e = &call.event.event;
        let plugin = match &arm.plugin {
            Ok(p) => p.clone(),
            Err(why) => {
                let tally = &mut bi.tally;
                tally.shadow.add_call(false, Duration::ZERO, None);
                tally.note(e, live, failed_view("unavailable", why));
                return;
            }
        };
        let (result, elapsed, trace) = self.decide(bi, arm, &plugin, call, services);
        let tally = &mut bi.tally;
        let fuel = Some(trace.fuel());
        match result {
            Ok(out) => {
                tally.shadow.add_call(true, elapsed, fuel);
                tally.compare(e, live, worlds::compared(&out));
            }
            Err(err) => {
                tally.shadow.add_call(false, elapsed, fuel);
                tally.note(e, live, failed_view(err.code(), &err.to_string()));
            }
        }
    }

    /// Adds a batch's shadow and canary counts to their runs', and rolls a
    /// canary back when it fails more than the live version by its margin;
    /// returns why it rolled back.
    pub(super) async fn tally_rollouts(
        &self,
        tx: &mut Conn,
        bi: &BatchInstall,
        now: Millis,
    ) -> PipelineResult<Option<String>> {
        let (install, t) = (&bi.install, &bi.tally);
        let id = install.install_id.as_str();
        if let Some(arm) = bi.shadow.as_ref().filter(|_| !t.shadow.is_empty()) {
            rollouts::add(tx, id, RolloutArm::Shadow, &arm.version, &t.shadow).await?;
            rollouts::add_diffs(tx, id, &t.diffs).await?;
            self.metrics.shadow_calls(&install.store_id, &install.plugin, &arm.version, &t.shadow);
        }
        let Some((arm, canary)) = &bi.canary else {
            return Ok(None);
        };
        if t.canary.is_empty() && t.live.is_empty() {
            return Ok(None);
        }
        rollouts::add(tx, id, RolloutArm::Canary, &arm.version, &t.canary).await?;
        rollouts::add(tx, id, RolloutArm::Live, &bi.live.version, &t.live).await?;
        let c = rollouts::counts(tx, id, RolloutArm::Canary).await?;
        let l = rollouts::counts(tx, id, RolloutArm::Live).await?;
        let Some(why) = canary.verdict((c.calls, c.failures), (l.calls, l.failures)) else {
            return Ok(None);
        };
        crate::pipeline::installs::roll_back_canary(tx, install, &why, now).await?;
        self.metrics.canary_rolled_back(&install.store_id, &install.plugin, &arm.version);
        Ok(Some(why))
    }
}

/// A failed call, as a shadow comparison shows it.
fn failed_view(code: &str, error: &str) -> serde_json::Value {
    serde_json::json!({"failed": {"code": code, "error": error}})
}

impl RolloutTally {
    /// The live decision (or failure) as it is compared.
    fn live_view(live: &CallResult) -> serde_json::Value {
        match live {
            Ok(out) => worlds::compared(out),
            Err(err) => failed_view(err.code(), &err.to_string()),
        }
    }

    /// Counts a shadow decision against the live one.
    fn compare(&mut self, e: &Event, live: &CallResult, shadow: serde_json::Value) {
        let live = Self::live_view(live);
        if live == shadow {
            self.shadow.agreements += 1;
        } else {
            self.shadow.disagreements += 1;
            self.keep(e, live, shadow);
        }
    }

    /// Keeps a shadow failure as an example.
    fn note(&mut self, e: &Event, live: &CallResult, shadow: serde_json::Value) {
        self.keep(e, Self::live_view(live), shadow);
    }

    fn keep(&mut self, e: &Event, live: serde_json::Value, shadow: serde_json::Value) {
        if (self.diffs.len() as i64) < rollouts::MAX_DIFFS {
            self.diffs.push(Diff {
                event_id: e.id.clone(),
                customer_id: e.customer_id.clone(),
                live,
                shadow,
                at: now_ms(),
            });
        }
    }
}
