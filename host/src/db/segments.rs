//! Segment memberships per (segmenter install, customer).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use super::bulk::Style;
use super::bulk::{bind_list, with_list};
use super::row::ReadRows;
use super::{json_col, Conn, DbResult};
use crate::domain::time::Millis;

/// A customer's memberships from one install: segment → attributes.
pub type Memberships = BTreeMap<String, Value>;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct SegmentCount {
    pub name: String,
    pub members: i64,
}

/// Current memberships of these customers for one install.
pub async fn of_customers(
    conn: &mut Conn,
    install_id: &str,
    customers: &[&str],
) -> DbResult<HashMap<String, Memberships>> {
    let mut out: HashMap<String, Memberships> = HashMap::new();
    for chunk in customers.chunks(super::bulk::CHUNK) {
        let sql = with_list(
            conn,
            "SELECT customer_id, segment, attributes FROM memberships
             WHERE install_id = $1 AND customer_id IN ($list)",
            1,
            chunk.len(),
        );
        let q = bind_list(sqlx::query(&sql).bind(install_id), chunk);
        add_rows(&mut out, &q.fetch_all(&mut *conn).await?)?;
    }
    Ok(out)
}

/// Every membership of one install, by customer.
pub async fn of_install(
    conn: &mut Conn,
    install_id: &str,
) -> DbResult<HashMap<String, Memberships>> {
    let rows = sqlx::query(
        "SELECT customer_id, segment, attributes FROM memberships WHERE install_id = $1",
    )
    .bind(install_id)
    .fetch_all(conn)
    .await?;
    let mut out = HashMap::new();
    add_rows(&mut out, &rows)?;
    Ok(out)
}

/// Adds rows of `(customer_id, segment, attributes)` to memberships by customer.
fn add_rows(out: &mut HashMap<String, Memberships>, rows: &[sqlx::any::AnyRow]) -> DbResult<()> {
    for r in rows {
        out.entry(r.try_get("customer_id")?).or_default().insert(
            r.try_get("segment")?,
            json_col(r.try_get("attributes")?, serde_json::json!({})),
        );
    }
    Ok(())
}

/// Adds or refreshes memberships: (customer, segment, attributes JSON).
pub async fn upsert(
    conn: &mut Conn,
    store: &str,
    install_id: &str,
    rows: &[(String, String, String)],
    now: Millis,
) -> DbResult<()> {
    for chunk in rows.chunks(super::bulk::CHUNK) {
        let sql = format!(
            "INSERT INTO memberships (store_id, install_id, customer_id, segment, attributes, since)
             VALUES {} ON CONFLICT (install_id, customer_id, segment)
             DO UPDATE SET attributes = excluded.attributes",
            Style::of(conn).values(chunk.len(), 6, 1)
        );
        let mut q = sqlx::query(&sql);
        for (customer, segment, attributes) in chunk {
            q = q
                .bind(store)
                .bind(install_id)
                .bind(customer.as_str())
                .bind(segment.as_str())
                .bind(attributes.as_str())
                .bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn remove(
    conn: &mut Conn,
    install_id: &str,
    customer: &str,
    segment: &str,
) -> DbResult<()> {
    sqlx::query(
        "DELETE FROM memberships WHERE install_id = $1 AND customer_id = $2 AND segment = $3",
    )
    .bind(install_id)
    .bind(customer)
    .bind(segment)
    .execute(conn)
    .await?;
    Ok(())
}

/// Segment names of enabled installs with their member counts.
pub async fn counts(conn: &mut Conn, store: &str) -> DbResult<Vec<SegmentCount>> {
    sqlx::query(
        "SELECT m.segment AS name, COUNT(DISTINCT m.customer_id) AS members FROM memberships m
         JOIN installs i ON i.id = m.install_id AND i.enabled = 1
         WHERE m.store_id = $1 GROUP BY m.segment ORDER BY m.segment",
    )
    .bind(store)
    .read_all(conn, super::row::read)
    .await
}

/// Members of a segment in id order, after `after`, at most `limit`.
pub async fn members(
    conn: &mut Conn,
    store: &str,
    segment: &str,
    after: &str,
    limit: u32,
) -> DbResult<Vec<String>> {
    sqlx::query(
        "SELECT DISTINCT m.customer_id FROM memberships m
         JOIN installs i ON i.id = m.install_id AND i.enabled = 1
         WHERE m.store_id = $1 AND m.segment = $2 AND m.customer_id > $3
         ORDER BY m.customer_id LIMIT $4",
    )
    .bind(store)
    .bind(segment)
    .bind(after)
    .bind(i64::from(limit))
    .read_all(conn, |r| Ok(r.try_get("customer_id")?))
    .await
}

/// A customer's memberships (enabled installs) with their attributes
/// (the scores and reasons the segmenter gave), by segment.
pub async fn memberships_of(
    conn: &mut Conn,
    store: &str,
    customer: &str,
) -> DbResult<Vec<(String, serde_json::Value)>> {
    let rows = sqlx::query(
        "SELECT m.segment, m.attributes FROM memberships m
         JOIN installs i ON i.id = m.install_id AND i.enabled = 1
         WHERE m.store_id = $1 AND m.customer_id = $2 ORDER BY m.segment",
    )
    .bind(store)
    .bind(customer)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((r.try_get("segment")?, json_col(r.try_get("attributes")?, serde_json::json!({}))))
        })
        .collect()
}

/// The segments a customer is in (enabled installs), by name.
pub async fn of_customer(conn: &mut Conn, store: &str, customer: &str) -> DbResult<Vec<String>> {
    let mut names = names_of(conn, store, &[customer]).await?;
    Ok(names.remove(customer).unwrap_or_default())
}

/// The segments each of these customers is in (enabled installs), by
/// name; a customer in none is left out.
pub async fn names_of(
    conn: &mut Conn,
    store: &str,
    customers: &[&str],
) -> DbResult<HashMap<String, Vec<String>>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for chunk in customers.chunks(super::bulk::CHUNK) {
        let sql = with_list(
            conn,
            "SELECT DISTINCT m.customer_id, m.segment FROM memberships m
             JOIN installs i ON i.id = m.install_id AND i.enabled = 1
             WHERE m.store_id = $1 AND m.customer_id IN ($list)
             ORDER BY m.customer_id, m.segment",
            1,
            chunk.len(),
        );
        let q = bind_list(sqlx::query(&sql).bind(store), chunk);
        for r in q.fetch_all(&mut *conn).await? {
            out.entry(r.try_get("customer_id")?).or_default().push(r.try_get("segment")?);
        }
    }
    Ok(out)
}
