//! Re-driving an install's dead-letter list after a fix: each failed (or
//! held) event becomes pending again for that install alone, its old
//! outcome is forgotten, and the dispatcher runs it in the customer's
//! order; its new outcome is recorded once.

use super::{Pipeline, PipelineError, PipelineResult};
use crate::db::failures::{self, Failure};
use crate::db::{events, installs, outcomes};
use crate::domain::states::FailureState;

impl Pipeline {
    /// Queues the install's dead and held failures again (all, or those
    /// with `ids`); returns the ones queued.
    pub async fn redrive(
        &self,
        store: &str,
        install_id: &str,
        ids: Option<&[i64]>,
    ) -> PipelineResult<Vec<Failure>> {
        let mut tx = self.db.begin_store(store).await?;
        let install = installs::get(&mut tx, store, install_id)
            .await?
            .ok_or_else(|| PipelineError::NotFound(format!("install `{install_id}` not found")))?;
        if !install.enabled {
            return Err(PipelineError::Conflict(format!(
                "install `{install_id}` is disabled; fix it, PATCH {{\"enabled\": true}}, then re-drive"
            )));
        }
        let list = failures::redrivable(&mut tx, install_id, ids).await?;
        if let Some(ids) = ids {
            if let Some(missing) = ids.iter().find(|id| !list.iter().any(|f| f.id == **id)) {
                return Err(PipelineError::NotFound(format!(
                    "failure {missing} of install `{install_id}` is not dead or held (see GET …/failures)"
                )));
            }
        }
        let queued: Vec<i64> = list.iter().map(|f| f.id).collect();
        failures::set_state(&mut tx, &queued, FailureState::Redriving).await?;
        let pairs: Vec<(&str, &str)> =
            list.iter().map(|f| (f.event_id.as_str(), install_id)).collect();
        outcomes::forget(&mut tx, store, &pairs).await?;
        let event_ids: Vec<&str> = list.iter().map(|f| f.event_id.as_str()).collect();
        events::requeue(&mut tx, store, &event_ids).await?;
        tx.commit().await?;
        if !list.is_empty() {
            self.signals.lanes.mark(store);
        }
        tracing::info!(store, install = %install_id, failures = list.len(), "failures re-driven");
        Ok(list.into_iter().map(|f| Failure { state: FailureState::Redriving, ..f }).collect())
    }
}
