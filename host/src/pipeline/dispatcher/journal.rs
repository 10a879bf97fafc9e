//! The journal of suspect events: a batch that began and never committed
//! leaves its events suspect, and each call on one is journalled (started,
//! finished) so that a call that hangs or kills the process every time is
//! given up on instead of stopping the store at every start.

use super::Dispatcher;
use crate::db::attempts::{self, Mark};
use crate::domain::time::now_ms;
use crate::pipeline::PipelineResult;

/// Starts of a call of a suspect event that may not finish before it is
/// given up on: with the batch that first took the event, three attempts.
const MAX_UNFINISHED_STARTS: i64 = 2;

impl Dispatcher {
    /// Journals the start of a suspect event's call; answers why it is
    /// given up on instead, when earlier starts never finished.
    pub(super) async fn journal_start(
        &self,
        store: &str,
        event: &str,
        install: &str,
    ) -> PipelineResult<Option<String>> {
        let mut conn = self.db.write_conn().await?;
        let unfinished = attempts::unfinished(&mut conn, store, event, install).await?;
        if unfinished >= MAX_UNFINISHED_STARTS {
            return Ok(Some(format!(
                "the call on this event was attempted {} times and never finished (it hung, or \
                 the process stopped during it); it was given up on so that the customer's later \
                 events can run",
                unfinished + 1
            )));
        }
        attempts::mark(&mut conn, (store, event, install), Mark::Started, now_ms()).await?;
        Ok(None)
    }

    /// Journals that a suspect event's call returned.
    pub(super) async fn journal_finish(
        &self,
        store: &str,
        event: &str,
        install: &str,
    ) -> PipelineResult<()> {
        let mut conn = self.db.write_conn().await?;
        attempts::mark(&mut conn, (store, event, install), Mark::Finished, now_ms()).await?;
        Ok(())
    }
}
