//! Where SQLite and PostgreSQL must be asked differently. Most queries
//! are one text for both (the `Any` driver, `$n` parameters); a query
//! that needs what only one of them has gets one function here, with the
//! backend's way inside it, and the same answer from both.
//!
//! Time zones: PostgreSQL has the IANA zone database and converts in SQL
//! (`AT TIME ZONE`). SQLite has none, so on SQLite the host reads the
//! instants and converts them itself with the same database (chrono-tz):
//! the answer is identical, and the rows read are those of the range asked
//! for, as on PostgreSQL. The zone comes parsed (`chrono_tz::Tz`): one that
//! is not an IANA name never reaches a query.

use std::collections::{BTreeMap, HashSet};

use chrono::TimeZone;
use sqlx::Row;

use super::{Backend, Conn, DbResult};
use crate::domain::time::Millis;

/// One calendar month of a store's orders, in the store's time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthOrders {
    /// `YYYY-MM`.
    pub month: String,
    pub orders: i64,
    /// Placed customers (distinct).
    pub customers: i64,
    pub total_cents: i64,
}

/// The store's orders placed in `[from, to)`, by calendar month in
/// `timezone`, oldest month first.
pub async fn orders_by_month(
    conn: &mut Conn,
    backend: Backend,
    store: &str,
    tz: chrono_tz::Tz,
    (from, to): (Millis, Millis),
) -> DbResult<Vec<MonthOrders>> {
    match backend {
        Backend::Postgres => {
            let rows = sqlx::query(
                "SELECT to_char(to_timestamp(placed_at / 1000.0) AT TIME ZONE $2, 'YYYY-MM') AS month,
                   COUNT(*) AS orders, COUNT(DISTINCT customer_id) AS customers,
                   SUM(total_cents)::BIGINT AS total_cents
                 FROM orders WHERE store_id = $1 AND placed_at >= $3 AND placed_at < $4
                 GROUP BY 1 ORDER BY 1",
            )
            .bind(store)
            .bind(tz.name())
            .bind(from)
            .bind(to)
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(MonthOrders {
                        month: r.try_get("month")?,
                        orders: r.try_get("orders")?,
                        customers: r.try_get("customers")?,
                        total_cents: r.try_get("total_cents")?,
                    })
                })
                .collect()
        }
        Backend::Sqlite => {
            let rows = sqlx::query(
                "SELECT placed_at, customer_id, total_cents FROM orders
                 WHERE store_id = $1 AND placed_at >= $2 AND placed_at < $3",
            )
            .bind(store)
            .bind(from)
            .bind(to)
            .fetch_all(&mut *conn)
            .await?;
            let mut months: BTreeMap<String, (i64, HashSet<String>, i64)> = BTreeMap::new();
            for r in &rows {
                let at: i64 = r.try_get("placed_at")?;
                let local = tz.timestamp_millis_opt(at).single().expect("an instant is one time");
                let m = months.entry(local.format("%Y-%m").to_string()).or_default();
                m.0 += 1;
                m.1.insert(r.try_get("customer_id")?);
                m.2 += r.try_get::<i64, _>("total_cents")?;
            }
            Ok(months
                .into_iter()
                .map(|(month, (orders, customers, total_cents))| MonthOrders {
                    month,
                    orders,
                    customers: customers.len() as i64,
                    total_cents,
                })
                .collect())
        }
    }
}
