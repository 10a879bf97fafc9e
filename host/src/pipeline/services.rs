//! The runtime's view of the database, for the host functions a plugin
//! imports (`customers`). Host functions are synchronous; they run on the
//! dispatcher's blocking section and wait on the async pool from there.

use tokio::runtime::Handle;

use crate::db::{customers, ledger, Db};
use crate::domain::customer::{Customer, Order};
use crate::runtime::services::HostServices;

pub struct DbServices {
    pub db: Db,
    pub handle: Handle,
}

impl DbServices {
    /// Host services over `db`, for calls made from the current runtime.
    pub fn shared(db: &Db) -> std::sync::Arc<dyn HostServices> {
        std::sync::Arc::new(DbServices {
            db: db.clone(),
            handle: Handle::current(),
        })
    }

    fn run<T: Default>(
        &self,
        what: &str,
        f: impl std::future::Future<Output = crate::db::DbResult<T>>,
    ) -> T {
        match self.handle.block_on(f) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "host function `{what}` failed; the plugin sees an empty answer");
                T::default()
            }
        }
    }
}

impl HostServices for DbServices {
    fn customer(&self, store: &str, customer: &str) -> Option<Customer> {
        self.run("customers.get", async {
            let mut conn = self.db.pool.acquire().await?;
            customers::get(&mut conn, store, customer).await
        })
    }

    fn orders(&self, store: &str, customer: &str, limit: u32) -> Vec<Order> {
        self.run("customers.orders", async {
            let mut conn = self.db.pool.acquire().await?;
            customers::orders(&mut conn, store, customer, limit).await
        })
    }

    fn points_balance(&self, store: &str, customer: &str) -> i64 {
        self.run("customers.points-balance", async {
            let mut conn = self.db.pool.acquire().await?;
            ledger::balance(&mut conn, store, customer).await
        })
    }
}
