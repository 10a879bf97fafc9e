//! Stores come into being here, below the HTTP layer like every write.

use super::{Pipeline, PipelineError, PipelineResult};
use crate::db::stores::{self, Store};

impl Pipeline {
    /// Creates `store` with the key whose sha256 is `key_sha256`;
    /// `Conflict` if the id is taken.
    pub async fn create_store(&self, store: &Store, key_sha256: &str) -> PipelineResult<()> {
        let mut tx = self.db.begin_write().await?;
        stores::insert(&mut tx, store, key_sha256).await.map_err(|e| {
            if e.is_unique_violation() {
                PipelineError::Conflict(format!("store `{}` already exists", store.id))
            } else {
                e.into()
            }
        })?;
        tx.commit().await?;
        tracing::info!(store = %store.id, "store created");
        Ok(())
    }
}
