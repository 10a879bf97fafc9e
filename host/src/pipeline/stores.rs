//! Stores come into being here, below the HTTP layer like every write;
//! so do their customers' profiles and their delivery settings.

use super::delivery::Delivery;
use super::{Pipeline, PipelineError, PipelineResult};
use crate::db::customers::{self, ProfileUpdate};
use crate::db::stores::{self, Store};
use crate::domain::customer::Customer;
use crate::domain::event::FieldError;
use crate::domain::time::now_ms;

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

    /// Creates or updates a customer's profile; returns the customer.
    pub async fn put_profile(
        &self,
        store: &str,
        customer: &str,
        update: &ProfileUpdate,
    ) -> PipelineResult<Customer> {
        let mut tx = self.db.begin_store(store).await?;
        // A profile written for an erased id makes them the store's
        // customer again: their events are taken from now on.
        let digest = super::privacy::id_digest(store, customer);
        if crate::db::erasures::recreate(&mut tx, store, &digest, now_ms()).await? {
            tracing::info!(store, "an erased customer's id was created again");
        }
        let c = customers::upsert_profile(&mut tx, store, customer, update, now_ms()).await?;
        tx.commit().await?;
        Ok(c)
    }

    /// Sets where the store's messages go; a webhook's address must be
    /// one the host may reach.
    pub async fn set_delivery(&self, store: &str, d: &Delivery) -> PipelineResult<()> {
        if let Delivery::Webhook { url, .. } = d {
            self.destinations
                .check_url(url)
                .map_err(|why| PipelineError::Invalid(vec![FieldError::new("url", why)]))?;
        }
        let stored = serde_json::to_value(d).expect("delivery serializes");
        let mut conn = self.db.write_conn().await?;
        stores::set_delivery(&mut conn, store, &stored).await?;
        tracing::info!(store, kind = d.kind(), "delivery set");
        Ok(())
    }
}

impl Pipeline {
    /// Builds the retention activity of the stores whose orders came
    /// before the activity tables did (once, whichever node gets there
    /// first; each store in its own write turn).
    pub async fn backfill_activity(&self) -> PipelineResult<()> {
        let marked = {
            let mut conn = self.db.pool.acquire().await?;
            crate::db::activity::marked(&mut conn).await?
        };
        for store in marked {
            let mut tx = self.db.begin_store(&store).await?;
            let timezone =
                stores::get(&mut tx, &store).await?.map(|s| s.timezone).unwrap_or_default();
            let started = std::time::Instant::now();
            if let Some(orders) = crate::db::activity::backfill(&mut tx, &store, &timezone).await? {
                tx.commit().await?;
                tracing::info!(store = %store, orders, elapsed_ms = started.elapsed().as_millis() as u64, "retention activity built from the store's orders");
            }
        }
        Ok(())
    }
}
