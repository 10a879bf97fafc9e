//! The dead-letter list: one row per (install, event) whose call failed,
//! with its attempts and where it is (`FailureState`).

use std::collections::HashMap;

use serde::Serialize;

use super::bulk::{bind_list, with_list};
use super::row::read;
use super::{Conn, DbResult};
use crate::domain::customer::AsOfEvent;
use crate::domain::states::FailureState;
use crate::domain::time::{self, Millis};

/// One (event, install) failure, as the API shows it too.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Failure {
    /// Re-drive by this id.
    pub id: i64,
    #[serde(skip)]
    pub store_id: String,
    #[serde(skip)]
    pub install_id: String,
    pub event_id: String,
    #[serde(skip)]
    pub event_seq: i64,
    pub customer_id: String,
    /// `name@version` of the last attempt.
    pub plugin: String,
    #[schema(example = "trap")]
    pub code: String,
    pub message: String,
    /// Attempts since it was last re-driven.
    pub attempts: i64,
    #[sqlx(try_from = "String")]
    pub state: FailureState,
    #[serde(serialize_with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub first_failed_at: Millis,
    #[serde(serialize_with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_failed_at: Millis,
    /// When a `retrying` failure is tried again.
    #[serde(serialize_with = "time::rfc3339_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_retry_at: Option<Millis>,
    #[serde(serialize_with = "time::rfc3339_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<Millis>,
    /// The customer as the first attempt saw them (JSON `AsOfEvent`).
    #[serde(skip)]
    pub customer_as_of: Option<String>,
}

impl Failure {
    /// The customer as the first attempt saw them, if it was kept.
    pub fn as_of_event(&self) -> Option<AsOfEvent> {
        serde_json::from_str(self.customer_as_of.as_deref()?).ok()
    }
}

const COLUMNS: &str = "id, store_id, install_id, event_id, event_seq, customer_id, plugin, code,
    message, attempts, state, first_failed_at, last_failed_at, next_retry_at, resolved_at,
    customer_as_of";

/// One attempt's failure of `install` on `event`.
pub struct Attempt<'a> {
    pub store: &'a str,
    pub install: &'a str,
    pub event: &'a str,
    pub seq: i64,
    pub customer: &'a str,
    pub plugin: &'a str,
    pub code: &'a str,
    pub message: &'a str,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub state: FailureState,
    pub next_retry_at: Option<Millis>,
    /// The customer as this attempt saw them; the first attempt's is kept.
    pub as_of: &'a AsOfEvent,
}

/// Records an attempt that failed (the pair's row, made or updated).
pub async fn record(conn: &mut Conn, a: &Attempt<'_>, now: Millis) -> DbResult<()> {
    let as_of = serde_json::to_string(a.as_of).expect("a customer's state serializes");
    sqlx::query(
        "INSERT INTO failures (store_id, install_id, event_id, event_seq, customer_id, plugin, code,
           message, attempts, state, first_failed_at, last_failed_at, next_retry_at, customer_as_of)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13)
         ON CONFLICT (install_id, event_id) DO UPDATE SET plugin = $6, code = $7, message = $8,
           attempts = $9, state = $10, last_failed_at = $11, next_retry_at = $12, resolved_at = NULL,
           customer_as_of = COALESCE(failures.customer_as_of, $13)",
    )
    .bind(a.store)
    .bind(a.install)
    .bind(a.event)
    .bind(a.seq)
    .bind(a.customer)
    .bind(a.plugin)
    .bind(a.code)
    .bind(a.message)
    .bind(a.attempts)
    .bind(a.state.as_str())
    .bind(now)
    .bind(a.next_retry_at)
    .bind(as_of)
    .execute(conn)
    .await?;
    Ok(())
}

/// A later attempt of the pair succeeded.
pub async fn resolve(conn: &mut Conn, id: i64, now: Millis) -> DbResult<()> {
    sqlx::query(
        "UPDATE failures SET state = 'resolved', resolved_at = $2, next_retry_at = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Puts failures back in a state (a re-drive that could not run).
pub async fn set_state(conn: &mut Conn, ids: &[i64], state: FailureState) -> DbResult<()> {
    for chunk in ids.chunks(super::bulk::CHUNK) {
        let sql = with_list(
            conn,
            "UPDATE failures SET state = $1, next_retry_at = NULL WHERE id IN ($list)",
            1,
            chunk.len(),
        );
        bind_list(sqlx::query(&sql).bind(state.as_str()), chunk).execute(&mut *conn).await?;
    }
    Ok(())
}

/// The pairs of these events that must run again: being retried, or
/// re-driven. By event id.
pub async fn to_run_again(
    conn: &mut Conn,
    store: &str,
    events: &[&str],
) -> DbResult<HashMap<String, Vec<Failure>>> {
    let mut out: HashMap<String, Vec<Failure>> = HashMap::new();
    // Nearly always none: one index probe spares the lookup by event.
    let any = sqlx::query(
        "SELECT 1 AS one FROM failures WHERE store_id = $1
           AND state IN ('retrying', 'redriving') LIMIT 1",
    )
    .bind(store)
    .fetch_optional(&mut *conn)
    .await?;
    if any.is_none() {
        return Ok(out);
    }
    for chunk in events.chunks(super::bulk::CHUNK) {
        let sql = with_list(
            conn,
            &format!(
                "SELECT {COLUMNS} FROM failures WHERE store_id = $1
                   AND state IN ('retrying', 'redriving') AND event_id IN ($list)"
            ),
            1,
            chunk.len(),
        );
        let rows = bind_list(sqlx::query(&sql).bind(store), chunk).fetch_all(&mut *conn).await?;
        for r in &rows {
            let f: Failure = read(r)?;
            out.entry(f.event_id.clone()).or_default().push(f);
        }
    }
    Ok(out)
}

/// Per customer, the earliest event an install's failure for them stays
/// unresolved at (dead, or held behind one): under `hold`, that
/// customer's later events wait.
pub async fn holding(
    conn: &mut Conn,
    install: &str,
    customers: &[&str],
) -> DbResult<HashMap<String, (i64, String)>> {
    let mut out: HashMap<String, (i64, String)> = HashMap::new();
    for chunk in customers.chunks(super::bulk::CHUNK) {
        let sql = with_list(
            conn,
            "SELECT customer_id, event_seq, event_id FROM failures WHERE install_id = $1
               AND state IN ('dead', 'held') AND customer_id IN ($list)",
            1,
            chunk.len(),
        );
        let rows = bind_list(sqlx::query(&sql).bind(install), chunk).fetch_all(&mut *conn).await?;
        for r in &rows {
            use sqlx::Row;
            let (c, seq, event): (String, i64, String) =
                (r.try_get("customer_id")?, r.try_get("event_seq")?, r.try_get("event_id")?);
            let slot = out.entry(c).or_insert((seq, event.clone()));
            if seq < slot.0 {
                *slot = (seq, event);
            }
        }
    }
    Ok(out)
}

/// An install's failures, newest first: in `states` (every state when
/// empty), at most `limit`, with ids below `before` when given.
pub async fn list(
    conn: &mut Conn,
    install: &str,
    states: &[FailureState],
    limit: u32,
    before: Option<i64>,
) -> DbResult<Vec<Failure>> {
    let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    let filter = if names.is_empty() { String::new() } else { "AND state IN ($list)".to_string() };
    let sql = with_list(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM failures WHERE install_id = $1 AND id < $2 {filter}
             ORDER BY id DESC LIMIT {limit}"
        ),
        2,
        names.len(),
    );
    let q = sqlx::query(&sql).bind(install).bind(before.unwrap_or(i64::MAX));
    let rows = bind_list(q, &names).fetch_all(conn).await?;
    rows.iter().map(read).collect()
}

/// The install's failures a re-drive takes: dead or held, all of them or
/// those with these ids; oldest event first.
pub async fn redrivable(
    conn: &mut Conn,
    install: &str,
    ids: Option<&[i64]>,
) -> DbResult<Vec<Failure>> {
    let rows = match ids {
        None => {
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM failures WHERE install_id = $1 AND state IN ('dead', 'held')
                 ORDER BY event_seq"
            ))
            .bind(install)
            .fetch_all(conn)
            .await?
        }
        Some(ids) => {
            let mut rows = Vec::new();
            for chunk in ids.chunks(super::bulk::CHUNK) {
                let sql = with_list(
                    conn,
                    &format!(
                        "SELECT {COLUMNS} FROM failures WHERE install_id = $1
                           AND state IN ('dead', 'held') AND id IN ($list) ORDER BY event_seq"
                    ),
                    1,
                    chunk.len(),
                );
                rows.extend(
                    bind_list(sqlx::query(&sql).bind(install), chunk).fetch_all(&mut *conn).await?,
                );
            }
            rows
        }
    };
    rows.iter().map(read).collect()
}

/// How many failures each install keeps unresolved (dead or held):
/// `(store, install, count)`.
pub async fn depth(conn: &mut Conn) -> DbResult<Vec<(String, String, i64)>> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT store_id, install_id, COUNT(*) AS n FROM failures
         WHERE state IN ('dead', 'held') GROUP BY store_id, install_id",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("store_id")?, r.try_get("install_id")?, r.try_get("n")?)))
        .collect()
}
