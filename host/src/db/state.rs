//! The `state` capability's rows: per install, per customer, key → bytes.

use std::collections::{BTreeMap, HashMap};

use sqlx::Row;

use super::{Conn, DbResult};

pub async fn load(
    conn: &mut Conn,
    install: &str,
    customer: &str,
) -> DbResult<HashMap<String, Vec<u8>>> {
    let rows = sqlx::query(
        "SELECT key, value FROM plugin_state WHERE install_id = $1 AND customer_id = $2",
    )
    .bind(install)
    .bind(customer)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("key")?, r.try_get("value")?)))
        .collect()
}

pub async fn apply(
    conn: &mut Conn,
    install: &str,
    customer: &str,
    writes: &BTreeMap<String, Option<Vec<u8>>>,
) -> DbResult<()> {
    for (key, value) in writes {
        match value {
            Some(v) => {
                sqlx::query(
                    "INSERT INTO plugin_state (install_id, customer_id, key, value) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (install_id, customer_id, key) DO UPDATE SET value = excluded.value",
                )
                .bind(install)
                .bind(customer)
                .bind(key)
                .bind(v.clone())
                .execute(&mut *conn)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM plugin_state WHERE install_id = $1 AND customer_id = $2 AND key = $3")
                    .bind(install)
                    .bind(customer)
                    .bind(key)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    Ok(())
}
