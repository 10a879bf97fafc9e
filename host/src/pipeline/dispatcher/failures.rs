//! A call that failed (or did not run): tried again after a back-off while
//! its failure may pass, else a dead letter (or held, under the `hold`
//! policy) with a failed outcome that keeps the call's last lines; a pair
//! due to run again that did not goes back to the dead-letter list.

use std::collections::HashSet;

use super::{BatchRef, Dispatcher, Inputs, NotRun, NotRunCode, Settled, Settling};
use crate::db::events::StoredEvent;
use crate::db::failures::{self, Attempt};
use crate::db::outcomes::Outcome;
use crate::db::Tx;
use crate::domain::customer::{AsOfEvent, Customer};
use crate::domain::states::{FailureState, OutcomeStatus};
use crate::pipeline::PipelineResult;
use crate::runtime::{LogLine, RuntimeError};

/// Lines of what a plugin wrote that a failed outcome keeps.
const OUTCOME_LINES: usize = 20;

/// The last lines a failed outcome keeps.
pub(super) fn tail(lines: &[LogLine]) -> Vec<LogLine> {
    lines[lines.len().saturating_sub(OUTCOME_LINES)..].to_vec()
}

/// Why a pair failed, as its failure and outcome record it.
pub(super) struct Failed {
    pub code: &'static str,
    pub why: String,
    /// It may pass if tried again (a timeout, a host error, a plugin that
    /// could not be loaded).
    pub may_pass: bool,
    /// Held under the `hold` policy, not failed.
    pub held: bool,
    /// It counts in the metrics as a call (made, or owed).
    pub counts: bool,
    /// The call's last lines.
    pub lines: Vec<LogLine>,
}

impl Failed {
    pub fn of_call(err: &RuntimeError, lines: Vec<LogLine>) -> Failed {
        Failed {
            code: err.code(),
            why: err.to_string(),
            may_pass: err.may_pass(),
            held: false,
            counts: true,
            lines,
        }
    }

    pub fn of_not_run(not_run: NotRun, lines: Vec<LogLine>) -> Failed {
        Failed {
            code: not_run.code.as_str(),
            why: not_run.why,
            may_pass: not_run.code == NotRunCode::Unavailable,
            held: not_run.code == NotRunCode::Held,
            counts: not_run.code.counts(),
            lines,
        }
    }
}

impl Dispatcher {
    /// Records a pair's failure: due again after a back-off while it may
    /// pass and attempts are left (the event stays pending for the
    /// install), else held or dead with a failed outcome.
    pub(super) async fn record_failure(
        &self,
        tx: &mut Tx,
        s: &mut Settling,
        b: &BatchRef<'_>,
        inputs: &Inputs,
        at: Settled,
        failed: Failed,
    ) -> PipelineResult<()> {
        let (store, now, ev) = (b.store, b.now, &b.events[at.event]);
        let (e, bi) = (&ev.event, &inputs.installs[at.install]);
        if failed.code == NotRunCode::Abandoned.as_str() {
            tracing::error!(store, install = %bi.install.install_id, plugin = %at.pid,
                event = %e.id, error = %failed.why, "call given up");
        }
        let attempts = at.prior.map_or(0, |p| p.attempts) + 1;
        // An install a breaker disabled in this batch is not tried again:
        // the failure is kept, with its own code, for a re-drive.
        let retry = (failed.may_pass
            && attempts < i64::from(self.retry.attempts)
            && !(bi.install.enabled && bi.tripped.is_some()))
        .then(|| now + self.retry.backoff(attempts));
        let state = match retry {
            Some(_) => FailureState::Retrying,
            None if failed.held => FailureState::Held,
            None => FailureState::Dead,
        };
        if !failed.held {
            tracing::warn!(store, install = %bi.install.install_id, plugin = %at.pid,
                event = %e.id, code = failed.code, attempts, retry = retry.is_some(),
                error = %failed.why, "plugin call failed");
        }
        let seen = inputs.customers.get(&e.customer_id).cloned().unwrap_or_else(Customer::default);
        let attempt = Attempt {
            store,
            install: &bi.install.install_id,
            event: &e.id,
            seq: ev.seq,
            customer: &e.customer_id,
            plugin: &at.pid,
            code: failed.code,
            message: &failed.why,
            attempts,
            state,
            next_retry_at: retry,
            as_of: &AsOfEvent::of(&seen),
        };
        failures::record(tx, &attempt, now).await?;
        if let Some(when) = retry {
            // No outcome yet: the event stays pending for this install.
            let due = &mut s.retry_at[at.event];
            *due = Some(due.map_or(when, |t| t.min(when)));
            return Ok(());
        }
        let why = match attempts {
            1 => failed.why,
            n => format!("{} (after {n} attempts)", failed.why),
        };
        let outcome = Outcome {
            install_id: bi.install.install_id.clone(),
            plugin: at.pid,
            status: OutcomeStatus::Failed,
            error_code: Some(failed.code.to_string()),
            error: Some(why),
            effects: Vec::new(),
            elapsed_us: at.elapsed.as_micros() as i64,
            fuel: at.fuel.map(|f| f as i64),
            logs: failed.lines,
        };
        s.writer.outcome(store, &e.id, outcome);
        Ok(())
    }

    /// A pair due to run again that did not (its install was disabled or
    /// removed meanwhile) goes back to the dead-letter list.
    pub(super) async fn dead_again(
        &self,
        tx: &mut Tx,
        batch: &[StoredEvent],
        inputs: &Inputs,
        ran: &HashSet<(usize, usize)>,
    ) -> PipelineResult<()> {
        let mut not_run_again = Vec::new();
        for (i, ev) in batch.iter().enumerate() {
            for f in inputs.again.get(&ev.event.id).into_iter().flatten() {
                let k = inputs.installs.iter().position(|bi| bi.install.install_id == f.install_id);
                if !k.is_some_and(|k| ran.contains(&(i, k))) {
                    not_run_again.push(f.id);
                }
            }
        }
        failures::set_state(tx, &not_run_again, FailureState::Dead).await?;
        Ok(())
    }
}
