//! The points ledger. Every earn entry is a lot with `remaining` points;
//! deductions, redemptions and expiry consume lots oldest first, so the
//! balance is always both the sum of the entries and the sum of the open
//! lots, and never below zero.

use serde::Serialize;
use sqlx::Row;

use super::bulk::{bind_list, with_list};
use super::row::{read, JsonOpt, ReadRows};
use super::{Conn, DbResult};
use crate::domain::ids::random_id;
use crate::domain::ledger::{EntryKind, OrderEntries};
use crate::domain::subject::Subject;
use crate::domain::time::Millis;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Entry {
    pub id: String,
    pub points: i64,
    pub kind: String,
    pub reason: String,
    pub event_id: Option<String>,
    pub install_id: Option<String>,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    /// The order its event named.
    #[sqlx(default)]
    pub order_id: Option<String>,
    /// The terms of the campaign install that wrote it, if it is one.
    #[sqlx(default, try_from = "JsonOpt<crate::domain::campaign::Campaign>")]
    #[serde(skip)]
    pub campaign: Option<crate::domain::campaign::Campaign>,
}

/// The order an entry's event named, if any (see [`of_order`]).
pub type OrderRef<'a> = Option<&'a str>;

async fn insert(
    conn: &mut Conn,
    a: &Subject<'_>,
    points: i64,
    kind: EntryKind,
    reason: &str,
    expires_at: Option<Millis>,
    order: OrderRef<'_>,
) -> DbResult<Entry> {
    let (store, customer, now) = (a.store, a.customer, a.now);
    let id = random_id("pts");
    let remaining = if kind == EntryKind::Earn { points } else { 0 };
    sqlx::query(
        "INSERT INTO ledger_entries (id, store_id, customer_id, points, kind, reason, event_id,
           install_id, created_at, expires_at, remaining, order_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&id)
    .bind(store)
    .bind(customer)
    .bind(points)
    .bind(kind.as_str())
    .bind(reason)
    .bind(a.event_id)
    .bind(a.install_id)
    .bind(now)
    .bind(expires_at)
    .bind(remaining)
    .bind(order)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE customers SET points_balance = points_balance + $3 WHERE store_id = $1 AND id = $2",
    )
    .bind(store)
    .bind(customer)
    .bind(points)
    .execute(conn)
    .await?;
    Ok(Entry {
        id,
        points,
        kind: kind.as_str().to_string(),
        reason: reason.to_string(),
        event_id: a.event_id.map(str::to_string),
        install_id: a.install_id.map(str::to_string),
        created_at: now,
        expires_at,
        order_id: order.map(str::to_string),
        campaign: None,
    })
}

pub async fn earn(
    conn: &mut Conn,
    a: &Subject<'_>,
    points: i64,
    reason: &str,
    expires_at: Option<Millis>,
    order: OrderRef<'_>,
) -> DbResult<Entry> {
    insert(conn, a, points, EntryKind::Earn, reason, expires_at, order).await
}

/// Takes up to `points` from the open lots, oldest first, as one entry of
/// `kind` (deduct or redeem). Returns the entry, or None when the balance
/// is zero. Call [`expire_customer`] first so expired lots are not spent.
pub async fn take(
    conn: &mut Conn,
    a: &Subject<'_>,
    points: i64,
    kind: EntryKind,
    reason: &str,
    order: OrderRef<'_>,
) -> DbResult<Option<Entry>> {
    // Lots a page at a time: a customer with ten thousand open lots pays
    // for the few a deduction uses, not for all of them.
    const PAGE: i64 = 32;
    let mut left = points;
    let mut after = i64::MIN;
    while left > 0 {
        let lots = sqlx::query(
            "SELECT seq, remaining FROM ledger_entries
             WHERE store_id = $1 AND customer_id = $2 AND remaining > 0 AND seq > $3
             ORDER BY seq LIMIT $4",
        )
        .bind(a.store)
        .bind(a.customer)
        .bind(after)
        .bind(PAGE)
        .fetch_all(&mut *conn)
        .await?;
        for lot in &lots {
            if left == 0 {
                break;
            }
            let seq: i64 = lot.try_get("seq")?;
            let remaining: i64 = lot.try_get("remaining")?;
            let used = remaining.min(left);
            sqlx::query("UPDATE ledger_entries SET remaining = remaining - $2 WHERE seq = $1")
                .bind(seq)
                .bind(used)
                .execute(&mut *conn)
                .await?;
            left -= used;
            after = seq;
        }
        if (lots.len() as i64) < PAGE {
            break;
        }
    }
    let taken = points - left;
    if taken == 0 {
        return Ok(None);
    }
    Ok(Some(insert(conn, a, -taken, kind, reason, None, order).await?))
}

/// Expires the customer's lots whose time has come; returns the entries.
pub async fn expire_customer(
    conn: &mut Conn,
    store: &str,
    customer: &str,
    now: Millis,
) -> DbResult<Vec<Entry>> {
    let account = Subject::host(store, customer, now);
    let lots = sqlx::query(
        "SELECT seq, remaining FROM ledger_entries
         WHERE store_id = $1 AND customer_id = $2 AND remaining > 0
           AND expires_at IS NOT NULL AND expires_at <= $3 ORDER BY seq",
    )
    .bind(store)
    .bind(customer)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::new();
    for lot in &lots {
        let seq: i64 = lot.try_get("seq")?;
        let remaining: i64 = lot.try_get("remaining")?;
        sqlx::query("UPDATE ledger_entries SET remaining = 0 WHERE seq = $1")
            .bind(seq)
            .execute(&mut *conn)
            .await?;
        out.push(
            insert(&mut *conn, &account, -remaining, EntryKind::Expire, "expired", None, None)
                .await?,
        );
    }
    Ok(out)
}

/// Customers (store, customer) with lots due to expire at `now`.
pub async fn due_for_expiry(
    conn: &mut Conn,
    now: Millis,
    limit: u32,
) -> DbResult<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT DISTINCT store_id, customer_id FROM ledger_entries
         WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $1 LIMIT $2",
    )
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("store_id")?, r.try_get("customer_id")?))).collect()
}

pub async fn entries(conn: &mut Conn, store: &str, customer: &str) -> DbResult<Vec<Entry>> {
    sqlx::query(
        "SELECT l.id, l.points, l.kind, l.reason, l.event_id, l.install_id, l.created_at,
                l.expires_at, l.order_id, i.campaign
         FROM ledger_entries l LEFT JOIN installs i ON i.id = l.install_id
         WHERE l.store_id = $1 AND l.customer_id = $2 ORDER BY l.seq",
    )
    .bind(store)
    .bind(customer)
    .read_all(conn, read)
    .await
}

pub async fn balance(conn: &mut Conn, store: &str, customer: &str) -> DbResult<i64> {
    let row = sqlx::query("SELECT points_balance FROM customers WHERE store_id = $1 AND id = $2")
        .bind(store)
        .bind(customer)
        .read_one(conn, |r| Ok(r.try_get("points_balance")?))
        .await?;
    Ok(row.unwrap_or(0))
}

/// An earn entry to write in bulk (its id is chosen up front).
#[derive(Debug, Clone)]
pub struct NewEarn {
    pub id: String,
    pub store: String,
    pub customer: String,
    pub points: i64,
    pub reason: String,
    pub event_id: String,
    pub install_id: String,
    pub expires_at: Option<Millis>,
    pub order_id: Option<String>,
}

/// Writes earn entries in bulk and adds them to the balances. Entries of
/// one customer keep their order.
pub async fn earn_many(conn: &mut Conn, earns: &[NewEarn], now: Millis) -> DbResult<()> {
    for chunk in earns.chunks(super::bulk::CHUNK) {
        let sql = format!(
            "INSERT INTO ledger_entries (id, store_id, customer_id, points, kind, reason, event_id,
               install_id, created_at, expires_at, remaining, order_id) VALUES {}",
            super::bulk::Style::of(conn).values(chunk.len(), 12, 1)
        );
        let mut q = sqlx::query(&sql);
        for e in chunk {
            q = q
                .bind(&e.id)
                .bind(&e.store)
                .bind(&e.customer)
                .bind(e.points)
                .bind(EntryKind::Earn.as_str())
                .bind(&e.reason)
                .bind(&e.event_id)
                .bind(&e.install_id)
                .bind(now)
                .bind(e.expires_at)
                .bind(e.points)
                .bind(e.order_id.as_deref());
        }
        q.execute(&mut *conn).await?;
    }
    let mut totals: Vec<(&str, &str, i64)> = Vec::new();
    for e in earns {
        match totals.iter_mut().rev().find(|(s, c, _)| *s == e.store && *c == e.customer) {
            Some((_, _, t)) => *t += e.points,
            None => totals.push((&e.store, &e.customer, e.points)),
        }
    }
    for chunk in totals.chunks(super::bulk::CHUNK) {
        // An upsert on rows that exist: one primary-key lookup per row.
        let sql = format!(
            "INSERT INTO customers (store_id, id, points_balance, created_at, updated_at) VALUES {}
             ON CONFLICT (store_id, id) DO UPDATE
             SET points_balance = customers.points_balance + excluded.points_balance",
            super::bulk::Style::of(conn).values(chunk.len(), 5, 1)
        );
        let mut q = sqlx::query(&sql);
        for (store, customer, points) in chunk {
            q = q.bind(*store).bind(*customer).bind(*points).bind(now).bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Which of these customers have points due to expire at `now`.
pub async fn due_among(
    conn: &mut Conn,
    store: &str,
    customers: &[&str],
    now: Millis,
) -> DbResult<Vec<String>> {
    let mut out = Vec::new();
    for chunk in customers.chunks(super::bulk::CHUNK) {
        let sql = with_list(
            conn,
            "SELECT DISTINCT customer_id FROM ledger_entries
             WHERE store_id = $1 AND remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $2
               AND customer_id IN ($list)",
            2,
            chunk.len(),
        );
        let q = bind_list(sqlx::query(&sql).bind(store).bind(now), chunk);
        for r in q.fetch_all(&mut *conn).await? {
            out.push(r.try_get("customer_id")?);
        }
    }
    Ok(out)
}

/// What `install`'s entries for `order` come to: earned per reason (each
/// earn as written) and what its deductions on the order took back.
pub async fn of_order(
    conn: &mut Conn,
    store: &str,
    install: &str,
    order: &str,
) -> DbResult<OrderEntries> {
    let rows = sqlx::query(
        "SELECT kind, reason, CAST(SUM(points) AS BIGINT) AS points FROM ledger_entries
         WHERE store_id = $1 AND install_id = $2 AND order_id = $3 AND kind IN ('earn', 'deduct')
         GROUP BY kind, reason ORDER BY kind, reason",
    )
    .bind(store)
    .bind(install)
    .bind(order)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = OrderEntries::default();
    for r in rows {
        let (kind, points): (String, i64) = (r.try_get("kind")?, r.try_get("points")?);
        if kind == EntryKind::Earn.as_str() {
            out.earned.push((r.try_get("reason")?, points));
        } else {
            out.deducted -= points;
        }
    }
    Ok(out)
}

/// What `install` issued, net of what it took back: in all, and to each of
/// `customers`.
pub async fn issued_by(
    conn: &mut Conn,
    store: &str,
    install: &str,
    customers: &[&str],
) -> DbResult<(i64, std::collections::HashMap<String, i64>)> {
    let r = sqlx::query(
        "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) AS net FROM ledger_entries
         WHERE store_id = $1 AND install_id = $2 AND kind IN ('earn', 'deduct')",
    )
    .bind(store)
    .bind(install)
    .fetch_one(&mut *conn)
    .await?;
    let total = r.try_get("net")?;
    let mut each = std::collections::HashMap::new();
    for chunk in customers.chunks(super::bulk::CHUNK) {
        let sql = with_list(
            conn,
            "SELECT customer_id, CAST(COALESCE(SUM(points), 0) AS BIGINT) AS net FROM ledger_entries
             WHERE store_id = $1 AND install_id = $2 AND kind IN ('earn', 'deduct')
               AND customer_id IN ($list) GROUP BY customer_id",
            2,
            chunk.len(),
        );
        let q = bind_list(sqlx::query(&sql).bind(store).bind(install), chunk);
        for r in q.fetch_all(&mut *conn).await? {
            each.insert(r.try_get("customer_id")?, r.try_get("net")?);
        }
    }
    Ok((total, each))
}

/// What one install issued: points earned, points taken back, customers
/// who earned, and orders earned on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IssuedStats {
    pub issued: i64,
    pub taken_back: i64,
    pub customers: i64,
    pub orders: i64,
}

/// [`IssuedStats`] of one install of the store.
pub async fn issued_stats(conn: &mut Conn, store: &str, install: &str) -> DbResult<IssuedStats> {
    let r = sqlx::query(
        "SELECT CAST(COALESCE(SUM(CASE WHEN kind = 'earn' THEN points ELSE 0 END), 0) AS BIGINT) AS issued,
                CAST(COALESCE(SUM(CASE WHEN kind = 'deduct' THEN -points ELSE 0 END), 0) AS BIGINT) AS taken_back,
                COUNT(DISTINCT CASE WHEN kind = 'earn' THEN customer_id END) AS customers,
                COUNT(DISTINCT CASE WHEN kind = 'earn' THEN order_id END) AS orders
         FROM ledger_entries WHERE store_id = $1 AND install_id = $2",
    )
    .bind(store)
    .bind(install)
    .fetch_one(&mut *conn)
    .await?;
    Ok(IssuedStats {
        issued: r.try_get("issued")?,
        taken_back: r.try_get("taken_back")?,
        customers: r.try_get("customers")?,
        orders: r.try_get("orders")?,
    })
}
