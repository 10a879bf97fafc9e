//! Retention analytics kept at intake: who ordered in which period of the
//! store's local calendar (`activity`), and the counters a retention
//! report reads (`activity_periods`, `activity_cohorts`), so that the
//! report costs the number of periods asked for, not the store's orders.
//!
//! A batch's new orders are applied to the counters with what the batch
//! needs of each customer's activity loaded once (the periods around the
//! batch's and each customer's first); an order that moves a customer's
//! first order earlier (orders may arrive out of time order) moves their
//! whole activity to the new cohort.

use std::collections::HashMap;

use sqlx::Row;

use super::bulk::{self, Style};
use super::{Conn, DbResult};
use crate::domain::period::{local_day, Grain};
use crate::domain::time::Millis;

/// An order as retention counts it.
#[derive(Debug, Clone, Copy)]
pub struct Ordered<'a> {
    pub customer: &'a str,
    pub total_cents: i64,
    pub placed_at: Millis,
}

/// A customer's row for one period.
#[derive(Debug, Clone, Copy, Default)]
struct Row_ {
    orders: i64,
    revenue: i64,
    dirty: bool,
}

/// What a batch adds to one period's counters.
#[derive(Debug, Clone, Copy, Default)]
struct PeriodDelta {
    active: i64,
    new: i64,
    retained: i64,
    revenue: i64,
    returning_revenue: i64,
}

/// Applies `orders` (each new to the store) to the activity of both grains.
pub async fn record(
    conn: &mut Conn,
    store: &str,
    timezone: &str,
    orders: &[Ordered<'_>],
) -> DbResult<()> {
    if orders.is_empty() {
        return Ok(());
    }
    let days: Vec<i64> = orders.iter().map(|o| local_day(timezone, o.placed_at)).collect();
    for grain in Grain::ALL {
        let periods: Vec<i64> = days.iter().map(|d| grain.period_of_day(*d)).collect();
        record_grain(conn, store, grain, orders, &periods).await?;
    }
    Ok(())
}

async fn record_grain(
    conn: &mut Conn,
    store: &str,
    grain: Grain,
    orders: &[Ordered<'_>],
    periods: &[i64],
) -> DbResult<()> {
    let mut customers: Vec<&str> = orders.iter().map(|o| o.customer).collect();
    customers.sort_unstable();
    customers.dedup();
    let lo = periods.iter().min().copied().unwrap_or(0) - 1;
    let hi = periods.iter().max().copied().unwrap_or(0) + 1;
    let mut rows: HashMap<(String, i64), Row_> = HashMap::new();
    let mut cohorts: HashMap<String, i64> = HashMap::new();
    for chunk in customers.chunks(bulk::CHUNK) {
        let sql = bulk::with_list(
            conn,
            "SELECT customer_id, period, orders, revenue_cents FROM activity
             WHERE store_id = $1 AND grain = $2 AND period BETWEEN $3 AND $4
               AND customer_id IN ($list)",
            4,
            chunk.len(),
        );
        let q = sqlx::query(&sql).bind(store).bind(grain.as_str()).bind(lo).bind(hi);
        for r in bulk::bind_list(q, chunk).fetch_all(&mut *conn).await? {
            let key = (r.try_get("customer_id")?, r.try_get("period")?);
            let row = Row_ {
                orders: r.try_get("orders")?,
                revenue: r.try_get("revenue_cents")?,
                dirty: false,
            };
            rows.insert(key, row);
        }
        let sql = bulk::with_list(
            conn,
            "SELECT customer_id, MIN(period) AS cohort FROM activity
             WHERE store_id = $1 AND grain = $2 AND customer_id IN ($list) GROUP BY customer_id",
            2,
            chunk.len(),
        );
        let q = sqlx::query(&sql).bind(store).bind(grain.as_str());
        for r in bulk::bind_list(q, chunk).fetch_all(&mut *conn).await? {
            cohorts.insert(r.try_get("customer_id")?, r.try_get("cohort")?);
        }
    }

    let mut deltas: HashMap<i64, PeriodDelta> = HashMap::new();
    let mut cohort_deltas: HashMap<(i64, i64), i64> = HashMap::new();
    for (o, &p) in orders.iter().zip(periods) {
        let c = o.customer.to_string();
        let r = o.total_cents;
        let first = cohorts.get(&c).copied();
        if let Some(row) = rows.get_mut(&(c.clone(), p)) {
            row.orders += 1;
            row.revenue += r;
            row.dirty = true;
            let d = deltas.entry(p).or_default();
            d.revenue += r;
            if first.is_some_and(|f| f < p) {
                d.returning_revenue += r;
            }
            continue;
        }
        let before = rows.contains_key(&(c.clone(), p - 1));
        let after = rows.contains_key(&(c.clone(), p + 1));
        rows.insert((c.clone(), p), Row_ { orders: 1, revenue: r, dirty: true });
        let d = deltas.entry(p).or_default();
        d.active += 1;
        d.revenue += r;
        if before {
            d.retained += 1;
        }
        if after {
            deltas.entry(p + 1).or_default().retained += 1;
        }
        match first {
            None => {
                deltas.entry(p).or_default().new += 1;
                *cohort_deltas.entry((p, p)).or_default() += 1;
                cohorts.insert(c, p);
            }
            Some(f) if f < p => {
                deltas.entry(p).or_default().returning_revenue += r;
                *cohort_deltas.entry((f, p)).or_default() += 1;
            }
            Some(f) => {
                // An order before the customer's first: their cohort moves
                // from `f` to `p`, and with it each period they were active in.
                let all = all_periods(conn, store, grain, &c).await?;
                for (q, row) in all {
                    rows.entry((c.clone(), q)).or_insert(row);
                }
                let mine: Vec<i64> =
                    rows.keys().filter(|(who, q)| *who == c && *q != p).map(|(_, q)| *q).collect();
                for q in mine {
                    *cohort_deltas.entry((f, q)).or_default() -= 1;
                    *cohort_deltas.entry((p, q)).or_default() += 1;
                }
                *cohort_deltas.entry((p, p)).or_default() += 1;
                let old_first_revenue = rows.get(&(c.clone(), f)).map_or(0, |row| row.revenue);
                deltas.entry(f).or_default().new -= 1;
                deltas.entry(f).or_default().returning_revenue += old_first_revenue;
                deltas.entry(p).or_default().new += 1;
                cohorts.insert(c, p);
            }
        }
    }
    write_rows(conn, store, grain, &rows).await?;
    write_periods(conn, store, grain, &deltas).await?;
    write_cohorts(conn, store, grain, &cohort_deltas).await
}

/// Every period a customer was active in, with their row.
async fn all_periods(
    conn: &mut Conn,
    store: &str,
    grain: Grain,
    customer: &str,
) -> DbResult<Vec<(i64, Row_)>> {
    sqlx::query(
        "SELECT period, orders, revenue_cents FROM activity
         WHERE store_id = $1 AND grain = $2 AND customer_id = $3",
    )
    .bind(store)
    .bind(grain.as_str())
    .bind(customer)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        let row = Row_ {
            orders: r.try_get("orders")?,
            revenue: r.try_get("revenue_cents")?,
            dirty: false,
        };
        Ok((r.try_get("period")?, row))
    })
    .collect()
}

async fn write_rows(
    conn: &mut Conn,
    store: &str,
    grain: Grain,
    rows: &HashMap<(String, i64), Row_>,
) -> DbResult<()> {
    let dirty: Vec<(&(String, i64), &Row_)> = rows.iter().filter(|(_, r)| r.dirty).collect();
    for chunk in dirty.chunks(bulk::CHUNK) {
        let sql = format!(
            "INSERT INTO activity (store_id, grain, customer_id, period, orders, revenue_cents)
             VALUES {} ON CONFLICT (store_id, grain, customer_id, period) DO UPDATE SET
               orders = excluded.orders, revenue_cents = excluded.revenue_cents",
            Style::of(conn).values(chunk.len(), 6, 1)
        );
        let mut q = sqlx::query(&sql);
        for ((customer, period), row) in chunk {
            q = q
                .bind(store)
                .bind(grain.as_str())
                .bind(customer.as_str())
                .bind(*period)
                .bind(row.orders)
                .bind(row.revenue);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

async fn write_periods(
    conn: &mut Conn,
    store: &str,
    grain: Grain,
    deltas: &HashMap<i64, PeriodDelta>,
) -> DbResult<()> {
    let list: Vec<(&i64, &PeriodDelta)> = deltas.iter().collect();
    for chunk in list.chunks(bulk::CHUNK) {
        let sql = format!(
            "INSERT INTO activity_periods (store_id, grain, period, active, new_customers, retained,
                                           revenue_cents, returning_revenue_cents)
             VALUES {} ON CONFLICT (store_id, grain, period) DO UPDATE SET
               active = activity_periods.active + excluded.active,
               new_customers = activity_periods.new_customers + excluded.new_customers,
               retained = activity_periods.retained + excluded.retained,
               revenue_cents = activity_periods.revenue_cents + excluded.revenue_cents,
               returning_revenue_cents = activity_periods.returning_revenue_cents + excluded.returning_revenue_cents",
            Style::of(conn).values(chunk.len(), 8, 1)
        );
        let mut q = sqlx::query(&sql);
        for (period, d) in chunk {
            q = q
                .bind(store)
                .bind(grain.as_str())
                .bind(**period)
                .bind(d.active)
                .bind(d.new)
                .bind(d.retained)
                .bind(d.revenue)
                .bind(d.returning_revenue);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

async fn write_cohorts(
    conn: &mut Conn,
    store: &str,
    grain: Grain,
    deltas: &HashMap<(i64, i64), i64>,
) -> DbResult<()> {
    let list: Vec<(&(i64, i64), &i64)> = deltas.iter().filter(|(_, n)| **n != 0).collect();
    for chunk in list.chunks(bulk::CHUNK) {
        let sql = format!(
            "INSERT INTO activity_cohorts (store_id, grain, cohort, period, active)
             VALUES {} ON CONFLICT (store_id, grain, cohort, period) DO UPDATE SET
               active = activity_cohorts.active + excluded.active",
            Style::of(conn).values(chunk.len(), 5, 1)
        );
        let mut q = sqlx::query(&sql);
        for ((cohort, period), n) in chunk {
            q = q.bind(store).bind(grain.as_str()).bind(*cohort).bind(*period).bind(**n);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Rows per step of a backfill.
const BACKFILL_CHUNK: i64 = 5_000;

/// Builds the activity of a store whose orders came before the activity
/// tables did, from its orders, if it is marked for it; claims the mark
/// first so that it is built once however many nodes start. Returns the
/// orders it counted (none when the store was not marked).
pub async fn backfill(conn: &mut Conn, store: &str, timezone: &str) -> DbResult<Option<u64>> {
    let claimed = sqlx::query("DELETE FROM activity_backfill WHERE store_id = $1")
        .bind(store)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if claimed == 0 {
        return Ok(None);
    }
    for table in ["activity", "activity_periods", "activity_cohorts"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE store_id = $1"))
            .bind(store)
            .execute(&mut *conn)
            .await?;
    }
    // Pages in the orders' key order: the counters come out the same in
    // any order of the orders.
    let (mut after, mut counted) = (String::new(), 0u64);
    loop {
        let page: Vec<(String, String, i64, Millis)> = sqlx::query(
            "SELECT customer_id, order_id, total_cents, placed_at FROM orders
             WHERE store_id = $1 AND order_id > $2 ORDER BY order_id LIMIT $3",
        )
        .bind(store)
        .bind(&after)
        .bind(BACKFILL_CHUNK)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("customer_id")?,
                r.try_get("order_id")?,
                r.try_get("total_cents")?,
                r.try_get("placed_at")?,
            ))
        })
        .collect::<DbResult<_>>()?;
        let Some(last) = page.last() else { break };
        after = last.1.clone();
        let orders: Vec<Ordered> = page
            .iter()
            .map(|(customer, _, total_cents, placed_at)| Ordered {
                customer,
                total_cents: *total_cents,
                placed_at: *placed_at,
            })
            .collect();
        record(conn, store, timezone, &orders).await?;
        counted += orders.len() as u64;
    }
    Ok(Some(counted))
}

/// Stores marked for a backfill.
pub async fn marked(conn: &mut Conn) -> DbResult<Vec<String>> {
    sqlx::query("SELECT store_id FROM activity_backfill ORDER BY store_id")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok(r.try_get("store_id")?))
        .collect()
}

/// One period's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PeriodCounts {
    pub active: i64,
    pub new: i64,
    pub retained: i64,
    pub revenue_cents: i64,
    pub returning_revenue_cents: i64,
    /// Customers who filed a complaint in the period.
    pub complainers: i64,
}

/// The counters of periods `from..=to` (missing ones are zero), in order.
pub async fn periods(
    conn: &mut Conn,
    store: &str,
    grain: Grain,
    from: i64,
    to: i64,
) -> DbResult<Vec<PeriodCounts>> {
    let mut out = vec![PeriodCounts::default(); (to - from + 1).max(0) as usize];
    let rows = sqlx::query(
        "SELECT period, active, new_customers, retained, revenue_cents, returning_revenue_cents
         FROM activity_periods WHERE store_id = $1 AND grain = $2 AND period BETWEEN $3 AND $4",
    )
    .bind(store)
    .bind(grain.as_str())
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let p: i64 = r.try_get("period")?;
        let slot = &mut out[(p - from) as usize];
        slot.active = r.try_get("active")?;
        slot.new = r.try_get("new_customers")?;
        slot.retained = r.try_get("retained")?;
        slot.revenue_cents = r.try_get("revenue_cents")?;
        slot.returning_revenue_cents = r.try_get("returning_revenue_cents")?;
    }
    let column = match grain {
        Grain::Month => "filed_month",
        Grain::Week => "filed_week",
    };
    let sql = format!(
        "SELECT {column} AS period, COUNT(DISTINCT customer_id) AS n FROM complaints
         WHERE store_id = $1 AND {column} BETWEEN $2 AND $3 GROUP BY {column}"
    );
    for r in sqlx::query(&sql).bind(store).bind(from).bind(to).fetch_all(&mut *conn).await? {
        let p: i64 = r.try_get("period")?;
        out[(p - from) as usize].complainers = r.try_get("n")?;
    }
    Ok(out)
}

/// Per cohort in `from..=to`: how many of its customers were active in
/// each period from the cohort's own up to `to` (cohort, period, active).
pub async fn cohorts(
    conn: &mut Conn,
    store: &str,
    grain: Grain,
    from: i64,
    to: i64,
) -> DbResult<Vec<(i64, i64, i64)>> {
    sqlx::query(
        "SELECT cohort, period, active FROM activity_cohorts
         WHERE store_id = $1 AND grain = $2 AND cohort BETWEEN $3 AND $4 AND period <= $4
         ORDER BY cohort, period",
    )
    .bind(store)
    .bind(grain.as_str())
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("cohort")?, r.try_get("period")?, r.try_get("active")?)))
    .collect()
}
