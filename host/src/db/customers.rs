use std::collections::HashMap;

use serde_json::{json, Value};
use sqlx::Row;

use super::bulk::{bind_list, with_list};
use super::row::ReadRows;
use super::{json_col, Conn, DbResult};
use crate::domain::customer::{Customer, CustomerStats, Order};
use crate::domain::time::{utc_day, Millis};

/// Profile fields a merchant may set; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct ProfileUpdate {
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub name: Option<Option<String>>,
    pub birthday: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub attributes: Option<Value>,
}

const COLUMNS: &str = "id, email, phone, name, birthday, tags, attributes, tier, points_balance,
    orders, repeat_days, net_spend_cents, first_order_at, last_order_at";

fn from_row(r: &sqlx::any::AnyRow) -> DbResult<Customer> {
    Ok(Customer {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        phone: r.try_get("phone")?,
        name: r.try_get("name")?,
        birthday: r.try_get("birthday")?,
        tags: serde_json::from_value(json_col(r.try_get("tags")?, json!([]))).unwrap_or_default(),
        attributes: json_col(r.try_get("attributes")?, json!({})),
        tier: r.try_get("tier")?,
        points_balance: r.try_get("points_balance")?,
        stats: CustomerStats {
            orders: r.try_get::<i64, _>("orders")? as u32,
            repeat_days: r.try_get::<i64, _>("repeat_days")? as u32,
            net_spend_cents: r.try_get("net_spend_cents")?,
            first_order_at: r.try_get("first_order_at")?,
            last_order_at: r.try_get("last_order_at")?,
        },
    })
}

pub async fn get(conn: &mut Conn, store: &str, id: &str) -> DbResult<Option<Customer>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM customers WHERE store_id = $1 AND id = $2"))
        .bind(store)
        .bind(id)
        .read_one(conn, from_row)
        .await
}

/// Makes sure the customer exists (events may name customers the merchant
/// never created explicitly).
pub async fn ensure(conn: &mut Conn, store: &str, id: &str, now: Millis) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO customers (store_id, id, created_at, updated_at) VALUES ($1, $2, $3, $3)
         ON CONFLICT (store_id, id) DO NOTHING",
    )
    .bind(store)
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn upsert_profile(
    conn: &mut Conn,
    store: &str,
    id: &str,
    update: &ProfileUpdate,
    now: Millis,
) -> DbResult<Customer> {
    ensure(&mut *conn, store, id, now).await?;
    let current = get(&mut *conn, store, id).await?.unwrap_or_default();
    let pick = |new: &Option<Option<String>>, old: &Option<String>| match new {
        Some(v) => v.clone(),
        None => old.clone(),
    };
    let tags = update.tags.clone().unwrap_or(current.tags.clone());
    let attributes = update.attributes.clone().unwrap_or(current.attributes.clone());
    sqlx::query(
        "UPDATE customers SET email = $3, phone = $4, name = $5, birthday = $6, tags = $7,
         attributes = $8, updated_at = $9 WHERE store_id = $1 AND id = $2",
    )
    .bind(store)
    .bind(id)
    .bind(pick(&update.email, &current.email))
    .bind(pick(&update.phone, &current.phone))
    .bind(pick(&update.name, &current.name))
    .bind(pick(&update.birthday, &current.birthday))
    .bind(serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()))
    .bind(attributes.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(get(conn, store, id).await?.unwrap_or_default())
}

/// An order to record for a customer.
pub struct NewOrder<'a> {
    pub customer: &'a str,
    pub order_id: &'a str,
    pub total_cents: i64,
    pub currency: &'a str,
    pub placed_at: Millis,
}

/// Records orders of distinct customers and updates their statistics, in
/// a few multi-row statements. A repeated order id changes nothing.
/// Returns the ids of the orders that were new.
pub async fn record_orders(
    conn: &mut Conn,
    store: &str,
    orders: &[NewOrder<'_>],
) -> DbResult<std::collections::HashSet<String>> {
    let mut all_new = std::collections::HashSet::new();
    for chunk in orders.chunks(super::bulk::CHUNK) {
        let sql = format!(
            "INSERT INTO orders (store_id, order_id, customer_id, total_cents, currency, placed_at, placed_day)
             VALUES {} ON CONFLICT (store_id, order_id) DO NOTHING RETURNING order_id",
            super::bulk::Style::of(conn).values(chunk.len(), 7, 1)
        );
        let mut q = sqlx::query(&sql);
        for o in chunk {
            q = q
                .bind(store)
                .bind(o.order_id)
                .bind(o.customer)
                .bind(o.total_cents)
                .bind(o.currency)
                .bind(o.placed_at)
                .bind(utc_day(o.placed_at));
        }
        let inserted: std::collections::HashSet<String> = q
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get("order_id"))
            .collect::<Result<_, _>>()?;
        let new: Vec<&NewOrder> = chunk.iter().filter(|o| inserted.contains(o.order_id)).collect();
        if new.is_empty() {
            continue;
        }
        // A repeat day is a UTC day with an order after the first one: an
        // order adds one unless the customer already ordered that day.
        let same_day = ordered_that_day(conn, store, &new).await?;
        let (known_day, new_day): (Vec<&NewOrder>, Vec<&NewOrder>) =
            new.into_iter().partition(|o| same_day.contains(o.order_id));
        for (orders, step) in [(known_day, 0), (new_day, 1)] {
            if orders.is_empty() {
                continue;
            }
            // An upsert on rows that exist: one primary-key lookup per row.
            let sql = format!(
                "INSERT INTO customers (store_id, id, net_spend_cents, first_order_at, last_order_at, created_at, updated_at)
                 VALUES {}
                 ON CONFLICT (store_id, id) DO UPDATE SET
                   orders = customers.orders + 1,
                   net_spend_cents = customers.net_spend_cents + excluded.net_spend_cents,
                   first_order_at = CASE WHEN customers.first_order_at IS NULL OR customers.first_order_at > excluded.first_order_at
                                         THEN excluded.first_order_at ELSE customers.first_order_at END,
                   last_order_at = CASE WHEN customers.last_order_at IS NULL OR customers.last_order_at < excluded.last_order_at
                                        THEN excluded.last_order_at ELSE customers.last_order_at END,
                   repeat_days = CASE WHEN customers.orders = 0 THEN 0 ELSE customers.repeat_days + {step} END",
                super::bulk::Style::of(conn).values(orders.len(), 7, 1)
            );
            let mut q = sqlx::query(&sql);
            for o in orders {
                q = q.bind(store).bind(o.customer).bind(o.total_cents);
                // The first and last order, and when the row is made and changed.
                for _ in 0..4 {
                    q = q.bind(o.placed_at);
                }
            }
            q.execute(&mut *conn).await?;
        }
        all_new.extend(inserted);
    }
    Ok(all_new)
}

/// Of these just recorded orders, those whose customer has another order
/// on the same UTC day: a seek on the customer's orders by time, whatever
/// their number.
async fn ordered_that_day(
    conn: &mut Conn,
    store: &str,
    new: &[&NewOrder<'_>],
) -> DbResult<std::collections::HashSet<String>> {
    let ids: Vec<&str> = new.iter().map(|o| o.order_id).collect();
    let sql = super::bulk::with_list(
        conn,
        "SELECT n.order_id FROM orders n
         WHERE n.store_id = $1 AND n.order_id IN ($list)
           AND EXISTS (SELECT 1 FROM orders o
                       WHERE o.store_id = n.store_id AND o.customer_id = n.customer_id
                         AND o.placed_at >= n.placed_day * 86400000
                         AND o.placed_at < (n.placed_day + 1) * 86400000
                         AND o.order_id <> n.order_id)",
        1,
        ids.len(),
    );
    let q = super::bulk::bind_list(sqlx::query(&sql).bind(store), &ids);
    q.fetch_all(&mut *conn).await?.iter().map(|r| Ok(r.try_get("order_id")?)).collect()
}

/// Records the refund of event `event_id`: lowers the customer's net spend
/// (once, however often the event is replayed). Returns the refunded
/// order's total when the order is known.
pub async fn record_refund(
    conn: &mut Conn,
    store: &str,
    event_id: &str,
    customer: &str,
    order_id: &str,
    refund_cents: i64,
    occurred_at: Millis,
) -> DbResult<Option<i64>> {
    let total: Option<i64> =
        sqlx::query("SELECT total_cents FROM orders WHERE store_id = $1 AND order_id = $2")
            .bind(store)
            .bind(order_id)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| r.try_get("total_cents"))
            .transpose()?;
    let new = sqlx::query(
        "INSERT INTO refunds (store_id, event_id, order_id, customer_id, refund_cents, occurred_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (store_id, event_id) DO NOTHING",
    )
    .bind(store)
    .bind(event_id)
    .bind(order_id)
    .bind(customer)
    .bind(refund_cents)
    .bind(occurred_at)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if !new {
        return Ok(total);
    }
    sqlx::query(
        "UPDATE orders SET refunded_cents = refunded_cents + $3 WHERE store_id = $1 AND order_id = $2",
    )
    .bind(store)
    .bind(order_id)
    .bind(refund_cents)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE customers SET net_spend_cents = net_spend_cents - $3 WHERE store_id = $1 AND id = $2",
    )
    .bind(store)
    .bind(customer)
    .bind(refund_cents)
    .execute(conn)
    .await?;
    Ok(total)
}

/// Sets many customers' tiers: `(customer, tier)`, at most one entry per
/// customer (an upsert may touch a row once per statement on
/// PostgreSQL). The rows exist (`ensure_many`), so the insert half never
/// runs; an upsert is the multi-row `UPDATE` both engines spell alike.
pub async fn set_tiers(
    conn: &mut Conn,
    store: &str,
    tiers: &[(String, Option<String>)],
    now: Millis,
) -> DbResult<()> {
    for chunk in tiers.chunks(super::bulk::CHUNK) {
        let sql = format!(
            "INSERT INTO customers (store_id, id, tier, created_at, updated_at) VALUES {}
             ON CONFLICT (store_id, id) DO UPDATE SET tier = excluded.tier",
            super::bulk::Style::of(conn).values(chunk.len(), 5, 1)
        );
        let mut q = sqlx::query(&sql);
        for (id, tier) in chunk {
            q = q.bind(store).bind(id.as_str()).bind(tier.as_deref()).bind(now).bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn orders(
    conn: &mut Conn,
    store: &str,
    customer: &str,
    limit: u32,
) -> DbResult<Vec<Order>> {
    let rows = sqlx::query(
        "SELECT order_id, total_cents, currency, placed_at, refunded_cents FROM orders
         WHERE store_id = $1 AND customer_id = $2 ORDER BY placed_at DESC LIMIT $3",
    )
    .bind(store)
    .bind(customer)
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Order {
                order_id: r.try_get("order_id")?,
                total_cents: r.try_get("total_cents")?,
                currency: r.try_get("currency")?,
                placed_at: r.try_get("placed_at")?,
                refunded_cents: r.try_get("refunded_cents")?,
            })
        })
        .collect()
}

/// Makes sure all these customers exist (one statement per chunk).
pub async fn ensure_many(conn: &mut Conn, store: &str, ids: &[&str], now: Millis) -> DbResult<()> {
    for chunk in ids.chunks(super::bulk::CHUNK) {
        let sql = format!(
            "INSERT INTO customers (store_id, id, created_at, updated_at) VALUES {} ON CONFLICT (store_id, id) DO NOTHING",
            super::bulk::Style::of(conn).values(chunk.len(), 4, 1)
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(store).bind(*id).bind(now).bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The store's customers with these ids, by id.
pub async fn get_many(
    conn: &mut Conn,
    store: &str,
    ids: &[&str],
) -> DbResult<std::collections::HashMap<String, Customer>> {
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(super::bulk::CHUNK) {
        let sql = with_list(
            conn,
            &format!("SELECT {COLUMNS} FROM customers WHERE store_id = $1 AND id IN ($list)"),
            1,
            chunk.len(),
        );
        let q = bind_list(sqlx::query(&sql).bind(store), chunk);
        for row in q.fetch_all(&mut *conn).await? {
            let c = from_row(&row)?;
            out.insert(c.id.clone(), c);
        }
    }
    Ok(out)
}

/// A page of the store's customers whose id, name or e-mail contains
/// `query` (any case; all when empty), by id; and how many match in all.
pub async fn search(
    conn: &mut Conn,
    store: &str,
    query: &str,
    offset: u32,
    limit: u32,
) -> DbResult<(Vec<Customer>, i64)> {
    // LIKE's own wildcards in the query are matched as themselves.
    let escaped =
        query.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    let pattern = format!("%{escaped}%");
    let filter = "store_id = $1 AND ($2 = '%%' OR LOWER(id) LIKE $2 ESCAPE '\\'
        OR LOWER(COALESCE(name, '')) LIKE $2 ESCAPE '\\'
        OR LOWER(COALESCE(email, '')) LIKE $2 ESCAPE '\\')";
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM customers WHERE {filter}"))
        .bind(store)
        .bind(&pattern)
        .fetch_one(&mut *conn)
        .await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM customers WHERE {filter} ORDER BY id LIMIT $3 OFFSET $4"
    ))
    .bind(store)
    .bind(&pattern)
    .bind(i64::from(limit))
    .bind(i64::from(offset))
    .fetch_all(conn)
    .await?;
    Ok((rows.iter().map(from_row).collect::<DbResult<_>>()?, total))
}

/// Every customer of the store, by id.
pub async fn all(conn: &mut Conn, store: &str) -> DbResult<Vec<Customer>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM customers WHERE store_id = $1 ORDER BY id"))
        .bind(store)
        .read_all(conn, from_row)
        .await
}

/// One customer's purchases as of an instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PopulationRow {
    pub customer_id: String,
    pub orders: u32,
    pub repeat_days: u32,
    pub first_order: Option<Millis>,
    pub last_order: Option<Millis>,
    pub net_spend_cents: i64,
}

/// Every customer of the store with only the orders placed and refunds
/// made up to `as_of` counted, ordered by id.
/// Each customer's net spend on the orders placed in `(as_of − days,
/// as_of]`, less those orders' refunds that occurred up to `as_of`.
pub async fn spend_within(
    conn: &mut Conn,
    store: &str,
    as_of: Millis,
    days: u32,
) -> DbResult<HashMap<String, i64>> {
    let from = as_of.saturating_sub(i64::from(days) * 86_400_000);
    let placed = sqlx::query(
        "SELECT customer_id, CAST(SUM(total_cents) AS BIGINT) AS spend FROM orders
         WHERE store_id = $1 AND placed_at > $2 AND placed_at <= $3 GROUP BY customer_id",
    )
    .bind(store)
    .bind(from)
    .bind(as_of)
    .fetch_all(&mut *conn)
    .await?;
    let refunded = sqlx::query(
        "SELECT r.customer_id, CAST(SUM(r.refund_cents) AS BIGINT) AS refunded FROM refunds r
         JOIN orders o ON o.store_id = r.store_id AND o.customer_id = r.customer_id
              AND o.order_id = r.order_id
         WHERE r.store_id = $1 AND o.placed_at > $2 AND o.placed_at <= $3
               AND COALESCE(r.occurred_at, 0) <= $3
         GROUP BY r.customer_id",
    )
    .bind(store)
    .bind(from)
    .bind(as_of)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = HashMap::with_capacity(placed.len());
    for r in &placed {
        out.insert(r.try_get::<String, _>("customer_id")?, r.try_get::<i64, _>("spend")?);
    }
    for r in &refunded {
        *out.entry(r.try_get::<String, _>("customer_id")?).or_default() -=
            r.try_get::<i64, _>("refunded")?;
    }
    Ok(out)
}

/// Each customer's orders placed in `(as_of − days, as_of]`.
pub async fn orders_within(
    conn: &mut Conn,
    store: &str,
    as_of: Millis,
    days: u32,
) -> DbResult<HashMap<String, i64>> {
    let from = as_of.saturating_sub(i64::from(days) * 86_400_000);
    let rows = sqlx::query(
        "SELECT customer_id, COUNT(*) AS n FROM orders
         WHERE store_id = $1 AND placed_at > $2 AND placed_at <= $3 GROUP BY customer_id",
    )
    .bind(store)
    .bind(from)
    .bind(as_of)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("customer_id")?, r.try_get("n")?))).collect()
}

/// Each customer's order totals on the UTC days after their first
/// purchase day, up to `as_of` (before refunds).
pub async fn repeat_day_spend(
    conn: &mut Conn,
    store: &str,
    as_of: Millis,
) -> DbResult<HashMap<String, i64>> {
    let rows = sqlx::query(
        "SELECT o.customer_id, CAST(SUM(o.total_cents) AS BIGINT) AS spend FROM orders o
         JOIN (SELECT customer_id, MIN(placed_day) AS first_day FROM orders
               WHERE store_id = $1 AND placed_at <= $2 GROUP BY customer_id) f
           ON f.customer_id = o.customer_id
         WHERE o.store_id = $1 AND o.placed_at <= $2 AND o.placed_day > f.first_day
         GROUP BY o.customer_id",
    )
    .bind(store)
    .bind(as_of)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("customer_id")?, r.try_get("spend")?))).collect()
}

pub async fn population(
    conn: &mut Conn,
    store: &str,
    as_of: Millis,
) -> DbResult<Vec<PopulationRow>> {
    let rows = sqlx::query(
        "SELECT c.id AS customer_id, COUNT(o.order_id) AS orders,
                COUNT(DISTINCT o.placed_day) AS days, MIN(o.placed_at) AS first_order,
                MAX(o.placed_at) AS last_order, CAST(COALESCE(SUM(o.total_cents), 0) AS BIGINT) AS spend
         FROM customers c
         LEFT JOIN orders o ON o.store_id = c.store_id AND o.customer_id = c.id AND o.placed_at <= $2
         WHERE c.store_id = $1
         GROUP BY c.id ORDER BY c.id",
    )
    .bind(store)
    .bind(as_of)
    .fetch_all(&mut *conn)
    .await?;
    let refunds = sqlx::query(
        "SELECT customer_id, CAST(SUM(refund_cents) AS BIGINT) AS refunded FROM refunds
         WHERE store_id = $1 AND COALESCE(occurred_at, 0) <= $2 GROUP BY customer_id",
    )
    .bind(store)
    .bind(as_of)
    .fetch_all(&mut *conn)
    .await?;
    let mut refunded = std::collections::HashMap::with_capacity(refunds.len());
    for r in &refunds {
        refunded.insert(r.try_get::<String, _>("customer_id")?, r.try_get::<i64, _>("refunded")?);
    }
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("customer_id")?;
            let days: i64 = r.try_get("days")?;
            let spend: i64 = r.try_get("spend")?;
            Ok(PopulationRow {
                orders: r.try_get::<i64, _>("orders")? as u32,
                repeat_days: (days - 1).max(0) as u32,
                first_order: r.try_get("first_order")?,
                last_order: r.try_get("last_order")?,
                net_spend_cents: spend - refunded.get(&id).copied().unwrap_or(0),
                customer_id: id,
            })
        })
        .collect()
}
