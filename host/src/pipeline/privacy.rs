//! Customers' data rights: a copy of everything held about a customer,
//! their erasure, and raw events kept no longer than the store says.

use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Pipeline, PipelineError, PipelineResult};
use crate::db::erasures::{self, Erasure};
use crate::db::stores::{self, Privacy};
use crate::db::{customers, events, Db};
use crate::domain::ids::random_id;
use crate::domain::privacy::Personal;
use crate::domain::time::{now_ms, Millis, DAY_MS};

/// How long an erasure waits for the customer's pending events to be
/// processed (their decisions could otherwise be written after it).
const DRAIN_WAIT: Duration = Duration::from_secs(10);

/// Raw events deleted per statement by the retention sweep.
const SWEEP_CHUNK: u32 = 1000;

/// What identifies an erased id without keeping it: the sha256 of the
/// store and the id.
pub fn id_digest(store: &str, customer: &str) -> String {
    let mut h = Sha256::new();
    h.update(store.as_bytes());
    h.update([0]);
    h.update(customer.as_bytes());
    hex::encode(h.finalize())
}

impl Pipeline {
    /// Erases the customer (see `db::erasures::erase`) and records it by
    /// `actor`; an id erased before answers its erasure again. `NotFound`
    /// if the store never had the customer.
    pub async fn erase_customer(
        &self,
        store: &str,
        customer: &str,
        actor: &str,
    ) -> PipelineResult<Erasure> {
        let digest = id_digest(store, customer);
        let started = Instant::now();
        let erasure = loop {
            let mut conn = self.db.pool.acquire().await?;
            if let Some(done) = erasures::of_id(&mut conn, store, &digest).await? {
                return Ok(done);
            }
            // Wait, outside the store's lock, for the customer's events
            // already taken in: their decisions must land before, not after.
            let pending = events::pending_of_customer(&mut conn, store, customer).await?;
            drop(conn);
            if pending > 0 {
                if started.elapsed() > DRAIN_WAIT {
                    return Err(PipelineError::Unavailable {
                        what: format!(
                            "{pending} of the customer's events are still being processed; \
                             the erasure runs once they are: send it again"
                        ),
                        retry_after: 5,
                    });
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            let mut tx = self.db.begin_store(store).await?;
            if events::pending_of_customer(&mut tx, store, customer).await? > 0 {
                tx.rollback().await?;
                continue;
            }
            if let Some(done) = erasures::of_id(&mut tx, store, &digest).await? {
                return Ok(done);
            }
            let Some(profile) = customers::get(&mut tx, store, customer).await? else {
                return Err(PipelineError::NotFound(format!("customer `{customer}` not found")));
            };
            let privacy = stores::privacy(&mut tx, store).await?;
            let attribute_values = string_leaves(&profile.attributes);
            let values = [&profile.email, &profile.phone, &profile.name, &profile.birthday]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .chain([customer])
                .chain(attribute_values.iter().map(String::as_str));
            let who = Personal::new(values, privacy.pii_fields.iter().map(String::as_str));
            let now = now_ms();
            let pseudonym = random_id("erased");
            let (erased, kept) =
                erasures::erase(&mut tx, store, customer, &pseudonym, &who, now).await?;
            let erasure = Erasure {
                pseudonym,
                erased_at: now,
                erased_by: actor.to_string(),
                erased,
                kept,
                recreated_at: None,
            };
            erasures::insert(&mut tx, store, &digest, &erasure).await?;
            tx.commit().await?;
            break erasure;
        };
        // The customer's id is personal data too: it is not logged.
        tracing::info!(store, pseudonym = %erasure.pseudonym, by = actor, events = erasure.erased.events, "customer erased");
        if erasure.erased.models > 0 {
            // The population models it removed are fitted again.
            self.request_fit(store, now_ms(), false).await?;
        }
        self.forget_freed().await;
        Ok(erasure)
    }

    /// After an erasure: the freed bytes made unrecoverable (SQLite: the
    /// log cut, at once; PostgreSQL: a `VACUUM` of the tables, in the
    /// background, one at a time across erasures).
    async fn forget_freed(&self) {
        match self.db.backend {
            crate::db::Backend::Sqlite => {
                if let Err(e) = self.db.forget_freed(&[]).await {
                    tracing::warn!(error = %e, "the write-ahead log could not be cut after an erasure; the next clean stop cuts it");
                }
            }
            crate::db::Backend::Postgres => {
                let (db, lock) = (self.db.clone(), self.vacuums.clone());
                tokio::spawn(async move {
                    let _one = lock.lock().await;
                    if let Err(e) = db.forget_freed(erasures::TABLES).await {
                        tracing::warn!(error = %e, "VACUUM after an erasure failed; autovacuum will clean the tables later");
                    }
                });
            }
        }
    }

    /// The ids of `batch` the store erased and has not re-created.
    pub(super) async fn erased_in(
        &self,
        conn: &mut crate::db::Conn,
        store: &str,
        customers: &[&str],
    ) -> PipelineResult<Vec<String>> {
        if !erasures::any(conn, store).await? {
            return Ok(Vec::new());
        }
        let digests: Vec<String> = customers.iter().map(|c| id_digest(store, c)).collect();
        let refs: Vec<&str> = digests.iter().map(String::as_str).collect();
        let erased = erasures::erased_among(conn, store, &refs).await?;
        Ok(customers
            .iter()
            .zip(&digests)
            .filter(|(_, d)| erased.contains(d))
            .map(|(c, _)| c.to_string())
            .collect())
    }

    /// Sets the store's privacy settings.
    pub async fn set_privacy(&self, store: &str, p: &Privacy) -> PipelineResult<()> {
        let mut conn = self.db.write_conn().await?;
        stores::set_privacy(&mut conn, store, p).await?;
        tracing::info!(
            store,
            retention_days = p.events_retention_days,
            pii_fields = p.pii_fields.len(),
            "privacy settings set"
        );
        Ok(())
    }

    /// Adds `profiles` to what `reader` read of the store's personal data.
    pub async fn count_pii_reads(
        &self,
        store: &str,
        reader: &str,
        profiles: u64,
    ) -> PipelineResult<()> {
        if profiles == 0 {
            return Ok(());
        }
        let mut conn = self.db.write_conn().await?;
        crate::db::pii_reads::count(&mut conn, store, reader, profiles, now_ms()).await?;
        Ok(())
    }

    /// Deletes the raw events past each store's retention (see
    /// [`sweep_events`]); returns how many went.
    pub async fn sweep_events(&self, now: Millis) -> PipelineResult<u64> {
        sweep_events(&self.db, now).await
    }
}

/// Deletes, for every store that keeps events for a limited time and
/// was last swept a day or more ago, the raw events older than that
/// (`db::events::delete_arrived_before`). Returns how many went.
pub(super) async fn sweep_events(db: &Db, now: Millis) -> PipelineResult<u64> {
    let due = {
        let mut conn = db.pool.acquire().await?;
        stores::due_for_sweep(&mut conn, now).await?
    };
    let mut total = 0;
    for (store, days) in due {
        let before = now - days * DAY_MS;
        let started = Instant::now();
        let mut deleted = 0;
        loop {
            // A chunk per transaction: the store's batches go between.
            let mut tx = db.begin_store(&store).await?;
            let n = events::delete_arrived_before(&mut tx, &store, before, SWEEP_CHUNK).await?;
            if n == 0 {
                stores::set_swept(&mut tx, &store, now).await?;
            }
            tx.commit().await?;
            deleted += n;
            if n == 0 {
                break;
            }
            tracing::debug!(store = %store, deleted, "retention sweep under way");
        }
        if deleted > 0 {
            tracing::info!(store = %store, deleted, days, elapsed_ms = started.elapsed().as_millis() as u64, "raw events past the store's retention deleted");
        }
        total += deleted;
    }
    Ok(total)
}

/// The string values inside a JSON value, at any depth.
fn string_leaves(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(string_leaves).collect(),
        Value::Object(m) => m.values().flat_map(string_leaves).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_digest_depends_on_the_store_and_the_id() {
        let a = super::id_digest("s1", "ada");
        assert_eq!(a, super::id_digest("s1", "ada"));
        assert_ne!(a, super::id_digest("s2", "ada"));
        // The separator keeps ("s1", "0ada") apart from ("s10", "ada").
        assert_ne!(super::id_digest("s1", "0ada"), super::id_digest("s10", "ada"));
    }
}
