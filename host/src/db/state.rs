//! The `state` capability's rows: per install, per customer, key → bytes.

use std::collections::HashMap;

use sqlx::Row;

use super::bulk::{bind_list, with_list};
use super::{Conn, DbResult};

/// The install's state for each of these customers.
pub async fn load_many(
    conn: &mut Conn,
    install: &str,
    customers: &[&str],
) -> DbResult<HashMap<String, HashMap<String, Vec<u8>>>> {
    let mut out: HashMap<String, HashMap<String, Vec<u8>>> = HashMap::new();
    for chunk in customers.chunks(super::bulk::CHUNK) {
        let sql = with_list(
            conn,
            "SELECT customer_id, key, value FROM plugin_state WHERE install_id = $1 AND customer_id IN ($list)",
            1,
            chunk.len(),
        );
        let q = bind_list(sqlx::query(&sql).bind(install), chunk);
        for r in q.fetch_all(&mut *conn).await? {
            out.entry(r.try_get("customer_id")?)
                .or_default()
                .insert(r.try_get("key")?, r.try_get("value")?);
        }
    }
    Ok(out)
}

/// One stored key of the install's state for the customer (`None`: not
/// stored), and the bytes of keys and values that customer's state holds
/// in all (kept by triggers in `plugin_state_usage`).
pub async fn key(
    conn: &mut Conn,
    install: &str,
    customer: &str,
    key: &str,
) -> DbResult<(Option<Vec<u8>>, i64)> {
    let row = sqlx::query(
        "SELECT (SELECT value FROM plugin_state WHERE install_id = $1 AND customer_id = $2 AND key = $3) AS value,
                (SELECT bytes FROM plugin_state_usage WHERE install_id = $1 AND customer_id = $2) AS bytes",
    )
    .bind(install)
    .bind(customer)
    .bind(key)
    .fetch_one(&mut *conn)
    .await?;
    let bytes: Option<i64> = row.try_get("bytes")?;
    Ok((row.try_get("value")?, bytes.unwrap_or(0)))
}

/// Applies many calls' writes: `(install, customer, key, value)`, where a
/// `None` value deletes the key.
pub async fn apply_many(
    conn: &mut Conn,
    writes: &[(String, String, String, Option<Vec<u8>>)],
) -> DbResult<()> {
    // In key order, so that two transactions writing the same customers
    // (a batch and a fit) take their rows' locks in the same order.
    let mut writes: Vec<_> = writes.iter().collect();
    writes.sort_unstable_by(|a, b| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2)));
    let (sets, deletes): (Vec<_>, Vec<_>) = writes.into_iter().partition(|w| w.3.is_some());
    for chunk in sets.chunks(super::bulk::CHUNK) {
        let sql = format!(
            "INSERT INTO plugin_state (install_id, customer_id, key, value) VALUES {}
             ON CONFLICT (install_id, customer_id, key) DO UPDATE SET value = excluded.value",
            super::bulk::Style::of(conn).values(chunk.len(), 4, 1)
        );
        let mut q = sqlx::query(&sql);
        for (install, customer, key, value) in chunk {
            q = q.bind(install).bind(customer).bind(key).bind(value.clone().unwrap_or_default());
        }
        q.execute(&mut *conn).await?;
    }
    for (install, customer, key, _) in deletes {
        sqlx::query(
            "DELETE FROM plugin_state WHERE install_id = $1 AND customer_id = $2 AND key = $3",
        )
        .bind(install)
        .bind(customer)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Every key the store's installs keep for the customer: (install, key,
/// value), for their export.
pub async fn of_customer(
    conn: &mut Conn,
    store: &str,
    customer: &str,
) -> DbResult<Vec<(String, String, Vec<u8>)>> {
    let rows = sqlx::query(
        "SELECT install_id, key, value FROM plugin_state
         WHERE customer_id = $2 AND install_id IN (SELECT id FROM installs WHERE store_id = $1)
         ORDER BY install_id, key",
    )
    .bind(store)
    .bind(customer)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("install_id")?, r.try_get("key")?, r.try_get("value")?)))
        .collect()
}
