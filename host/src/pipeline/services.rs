//! The runtime's view of the database, for the host functions a plugin
//! imports (`customers`, `state`). A database error is handed back to the runtime,
//! which fails the call with `host_error`: a plugin never decides on an
//! answer the host could not give.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};

use crate::db::{customers, ledger, segments, state, stores, surveys, Db, DbError, DbResult};
use crate::domain::customer::{Customer, Order};
use crate::domain::time::Millis;
use crate::runtime::services::{HostFuture, HostServices, ScoredAnswer, StoreInfo, StoredKey};

pub struct DbServices {
    db: Db,
    /// A store's currency and time zone never change once it is created,
    /// so each is read once.
    stores: RwLock<HashMap<String, StoreInfo>>,
}

impl DbServices {
    /// Host services over `db`.
    pub fn shared(db: &Db) -> Arc<dyn HostServices> {
        Arc::new(DbServices { db: db.clone(), stores: RwLock::default() })
    }
}

fn answer<'a, T>(
    what: &'static str,
    f: impl Future<Output = DbResult<T>> + Send + 'a,
) -> HostFuture<'a, T> {
    Box::pin(async move {
        f.await.map_err(|e| {
            tracing::error!(error = %e, "host function `{what}` failed; the call fails with host_error");
            format!("the host could not answer `{what}`: {e}")
        })
    })
}

impl HostServices for DbServices {
    fn store<'a>(&'a self, store: &'a str) -> HostFuture<'a, StoreInfo> {
        if let Some(known) = self.stores.read().unwrap().get(store) {
            let known = known.clone();
            return Box::pin(async move { Ok(known) });
        }
        answer("store context", async move {
            let mut conn = self.db.pool.acquire().await?;
            let s = stores::get(&mut conn, store)
                .await?
                .ok_or(DbError::Sqlx(sqlx::Error::RowNotFound))?;
            let info = StoreInfo { id: s.id, currency: s.currency, timezone: s.timezone };
            self.stores.write().unwrap().insert(store.to_string(), info.clone());
            Ok(info)
        })
    }

    fn customer<'a>(
        &'a self,
        store: &'a str,
        customer: &'a str,
    ) -> HostFuture<'a, Option<Customer>> {
        answer("customers.get", async move {
            let mut conn = self.db.pool.acquire().await?;
            customers::get(&mut conn, store, customer).await
        })
    }

    fn orders<'a>(
        &'a self,
        store: &'a str,
        customer: &'a str,
        limit: u32,
    ) -> HostFuture<'a, Vec<Order>> {
        answer("customers.orders", async move {
            let mut conn = self.db.pool.acquire().await?;
            customers::orders(&mut conn, store, customer, limit).await
        })
    }

    fn points_balance<'a>(&'a self, store: &'a str, customer: &'a str) -> HostFuture<'a, i64> {
        answer("customers.points-balance", async move {
            let mut conn = self.db.pool.acquire().await?;
            ledger::balance(&mut conn, store, customer).await
        })
    }

    fn state_key<'a>(
        &'a self,
        install: &'a str,
        customer: &'a str,
        key: &'a str,
    ) -> HostFuture<'a, StoredKey> {
        answer("state", async move {
            let mut conn = self.db.pool.acquire().await?;
            let (value, bytes) = state::key(&mut conn, install, customer, key).await?;
            Ok(StoredKey { value, bytes: usize::try_from(bytes).unwrap_or(0) })
        })
    }

    fn spend_within<'a>(
        &'a self,
        store: &'a str,
        as_of: Millis,
        days: u32,
    ) -> HostFuture<'a, HashMap<String, i64>> {
        answer("population.spend-within", async move {
            let mut conn = self.db.pool.acquire().await?;
            customers::spend_within(&mut conn, store, as_of, days).await
        })
    }

    fn repeat_day_spend<'a>(
        &'a self,
        store: &'a str,
        as_of: Millis,
    ) -> HostFuture<'a, HashMap<String, i64>> {
        answer("population.repeat-day-spend", async move {
            let mut conn = self.db.pool.acquire().await?;
            customers::repeat_day_spend(&mut conn, store, as_of).await
        })
    }

    fn complaint<'a>(
        &'a self,
        store: &'a str,
        id: &'a str,
    ) -> HostFuture<'a, Option<crate::db::complaints::Complaint>> {
        answer("complaints.get", async move {
            let mut conn = self.db.pool.acquire().await?;
            crate::db::complaints::get(&mut conn, store, id).await
        })
    }

    fn order_entries<'a>(
        &'a self,
        store: &'a str,
        install: &'a str,
        order: &'a str,
    ) -> HostFuture<'a, crate::domain::ledger::OrderEntries> {
        answer("order-ledger.of-order", async move {
            let mut conn = self.db.pool.acquire().await?;
            ledger::of_order(&mut conn, store, install, order).await
        })
    }

    fn segments_of<'a>(
        &'a self,
        store: &'a str,
        customer: &'a str,
    ) -> HostFuture<'a, Vec<(String, serde_json::Value)>> {
        answer("segments.of", async move {
            let mut conn = self.db.pool.acquire().await?;
            segments::memberships_of(&mut conn, store, customer).await
        })
    }

    fn orders_within<'a>(
        &'a self,
        store: &'a str,
        as_of: Millis,
        days: u32,
    ) -> HostFuture<'a, HashMap<String, i64>> {
        answer("population.orders-within", async move {
            let mut conn = self.db.pool.acquire().await?;
            customers::orders_within(&mut conn, store, as_of, days).await
        })
    }

    fn latest_answer_of_each<'a>(
        &'a self,
        store: &'a str,
        as_of: Millis,
        kinds: &'a [String],
    ) -> HostFuture<'a, HashMap<String, ScoredAnswer>> {
        answer("surveys.latest-of-population", async move {
            let mut conn = self.db.pool.acquire().await?;
            surveys::latest_scored_of_store(&mut conn, store, as_of, kinds).await
        })
    }

    fn latest_answers<'a>(
        &'a self,
        store: &'a str,
        customer: &'a str,
        kinds: &'a [String],
    ) -> HostFuture<'a, Vec<ScoredAnswer>> {
        answer("surveys.latest", async move {
            let mut conn = self.db.pool.acquire().await?;
            surveys::latest_scored(&mut conn, store, customer, kinds).await
        })
    }

    fn survey_settings<'a>(
        &'a self,
        store: &'a str,
        survey: &'a str,
    ) -> HostFuture<'a, Option<serde_json::Value>> {
        answer("survey-settings.get", async move {
            let mut conn = self.db.pool.acquire().await?;
            let found = surveys::get(&mut conn, store, survey).await?;
            Ok(found.map(|s| s.scorer_settings()))
        })
    }
}
