//! Erasing a customer: their personal data out of every table, what the
//! store keeps for its books moved to a pseudonym, and the record of the
//! erasure (which holds no personal data).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;

use super::bulk::{bind_list, with_list};
use super::row::ReadRows;
use super::{Conn, DbResult};
use crate::domain::privacy::Personal;
use crate::domain::time::Millis;

/// What one erasure took out, by kind, in rows.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Erased {
    /// The profile's e-mail, phone, name, birthday, tags and attributes.
    pub profile: bool,
    /// Events whose data lost its personal fields and free text.
    pub events: u64,
    /// Install outcomes of those events whose effects, errors or logs
    /// named the customer.
    pub outcomes: u64,
    /// Messages whose variables were removed.
    pub messages: u64,
    /// Of them, queued messages that will not be sent.
    pub messages_cancelled: u64,
    /// Survey responses whose free-text answers were removed.
    pub survey_responses: u64,
    /// Plugin state keys, over every install.
    pub plugin_state_keys: u64,
    pub segment_memberships: u64,
    pub churn_assessments: u64,
    pub churn_flows: u64,
    /// A responder's timers for the customer.
    pub timers: u64,
    /// Complaints, ledger entries, failures, shadow differences and
    /// plugin log lines whose text named the customer.
    pub texts: u64,
    /// Population models a plugin fitted that named the customer: removed,
    /// and the store fitted again.
    #[serde(default)]
    pub models: u64,
}

/// What the store keeps, under the pseudonym, in rows.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Kept {
    /// Order totals and refunds: the store's books.
    pub orders: u64,
    pub refunds: u64,
    /// The points ledger's amounts (and the balance and tier on the
    /// pseudonymous record): the store owes or took these points.
    pub ledger_entries: u64,
    /// Events, without their personal data: what happened when, for the
    /// store's analytics and for dedup of a resent event id.
    pub events: u64,
    /// Complaints (category, severity, times): service statistics.
    pub complaints: u64,
    /// Survey responses' scores: the store's NPS, CSAT and other results.
    pub survey_responses: u64,
    /// Retention analytics: the customer's active periods, so the counts
    /// of every cohort stay as they were.
    pub activity_periods: u64,
}

/// Every table [`erase`] changes (vacuumed after it on PostgreSQL): kept
/// here, beside the statements, so the two cannot drift apart.
pub const TABLES: &[&str] = &[
    "customers",
    "events",
    "outcomes",
    "orders",
    "refunds",
    "activity",
    "ledger_entries",
    "complaints",
    "failures",
    "plugin_logs",
    "shadow_diffs",
    "survey_responses",
    "messages",
    "plugin_state",
    "plugin_state_usage",
    "memberships",
    "assessments",
    "flows",
    "reaction_timers",
    "models",
];

/// Moves every row that names `customer` to `pseudonym`, with the
/// personal data `who` describes taken out (see [`Erased`] and [`Kept`]).
/// Runs in the store's write transaction.
pub async fn erase(
    conn: &mut Conn,
    store: &str,
    customer: &str,
    pseudonym: &str,
    who: &Personal,
    now: Millis,
) -> DbResult<(Erased, Kept)> {
    let mut erased = Erased::default();
    let mut kept = Kept::default();

    // Events: their data denied by default; the ids stay (ledger entries,
    // outcomes and messages name them).
    let rows =
        sqlx::query("SELECT seq, id, data FROM events WHERE store_id = $1 AND customer_id = $2")
            .bind(store)
            .bind(customer)
            .fetch_all(&mut *conn)
            .await?;
    let mut event_ids = Vec::with_capacity(rows.len());
    for r in &rows {
        let seq: i64 = r.try_get("seq")?;
        let data = super::json_col(r.try_get("data")?, Value::Object(Default::default()));
        sqlx::query("UPDATE events SET customer_id = $2, data = $3 WHERE seq = $1")
            .bind(seq)
            .bind(pseudonym)
            .bind(who.scrub_event(&data).to_string())
            .execute(&mut *conn)
            .await?;
        event_ids.push(r.try_get::<String, _>("id")?);
    }
    erased.events = event_ids.len() as u64;
    kept.events = erased.events;

    // What the installs did with those events.
    for chunk in event_ids.chunks(super::bulk::CHUNK) {
        let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let sql = with_list(
            conn,
            "SELECT event_id, install_id, effects, error, logs FROM outcomes
             WHERE store_id = $1 AND event_id IN ($list)",
            1,
            ids.len(),
        );
        let rows = bind_list(sqlx::query(&sql).bind(store), &ids).fetch_all(&mut *conn).await?;
        for r in &rows {
            let effects: String = r.try_get("effects")?;
            let error: Option<String> = r.try_get("error")?;
            let logs: Option<String> = r.try_get("logs")?;
            let (new_effects, new_error, new_logs) = (
                scrub_json_text(who, &effects),
                error.as_deref().map(|e| who.scrub_text(e)),
                logs.as_deref().map(|l| scrub_json_text(who, l)),
            );
            if new_effects != effects || new_error != error || new_logs != logs {
                sqlx::query(
                    "UPDATE outcomes SET effects = $4, error = $5, logs = $6
                     WHERE store_id = $1 AND event_id = $2 AND install_id = $3",
                )
                .bind(store)
                .bind(r.try_get::<String, _>("event_id")?)
                .bind(r.try_get::<String, _>("install_id")?)
                .bind(new_effects)
                .bind(new_error)
                .bind(new_logs)
                .execute(&mut *conn)
                .await?;
                erased.outcomes += 1;
            }
        }
    }

    // The profile: only what the books need stays.
    let profile = sqlx::query(
        "UPDATE customers SET id = $3, email = NULL, phone = NULL, name = NULL, birthday = NULL,
           tags = '[]', attributes = '{}', updated_at = $4
         WHERE store_id = $1 AND id = $2",
    )
    .bind(store)
    .bind(customer)
    .bind(pseudonym)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    erased.profile = profile.rows_affected() > 0;

    // The books and the counts, under the pseudonym.
    let moved = |table: &'static str| {
        format!("UPDATE {table} SET customer_id = $3 WHERE store_id = $1 AND customer_id = $2")
    };
    kept.orders = run(conn, &moved("orders"), store, customer, pseudonym).await?;
    kept.refunds = run(conn, &moved("refunds"), store, customer, pseudonym).await?;
    kept.activity_periods = run(conn, &moved("activity"), store, customer, pseudonym).await?;
    kept.ledger_entries = run(conn, &moved("ledger_entries"), store, customer, pseudonym).await?;
    kept.complaints = run(conn, &moved("complaints"), store, customer, pseudonym).await?;
    run(
        conn,
        "UPDATE failures SET customer_id = $3, customer_as_of = NULL
         WHERE store_id = $1 AND customer_id = $2",
        store,
        customer,
        pseudonym,
    )
    .await?;

    // Texts the customer's records hold, searched for their values.
    for (select, update) in TEXTS {
        erased.texts += rescrub(conn, select, update, store, pseudonym, who).await?;
    }
    // Shadow differences, kept per install, hold whole decisions.
    let diffs = sqlx::query(
        "SELECT id, live, shadow FROM shadow_diffs
         WHERE customer_id = $2 AND install_id IN (SELECT id FROM installs WHERE store_id = $1)",
    )
    .bind(store)
    .bind(customer)
    .fetch_all(&mut *conn)
    .await?;
    for r in &diffs {
        sqlx::query(
            "UPDATE shadow_diffs SET customer_id = $2, live = $3, shadow = $4 WHERE id = $1",
        )
        .bind(r.try_get::<i64, _>("id")?)
        .bind(pseudonym)
        .bind(scrub_json_text(who, &r.try_get::<String, _>("live")?))
        .bind(scrub_json_text(who, &r.try_get::<String, _>("shadow")?))
        .execute(&mut *conn)
        .await?;
        erased.texts += 1;
    }

    // Survey responses: scores stay, free text goes.
    let responses = sqlx::query(
        "SELECT event_id, answers, score FROM survey_responses WHERE store_id = $1 AND customer_id = $2",
    )
    .bind(store)
    .bind(customer)
    .fetch_all(&mut *conn)
    .await?;
    for r in &responses {
        let answers = super::json_col(r.try_get("answers")?, Value::Object(Default::default()));
        let score: Option<String> = r.try_get("score")?;
        sqlx::query(
            "UPDATE survey_responses SET customer_id = $3, answers = $4, score = $5
             WHERE store_id = $1 AND event_id = $2",
        )
        .bind(store)
        .bind(r.try_get::<String, _>("event_id")?)
        .bind(pseudonym)
        .bind(who.scrub_event(&answers).to_string())
        .bind(score.as_deref().map(|s| scrub_json_text(who, s)))
        .execute(&mut *conn)
        .await?;
    }
    erased.survey_responses = responses.len() as u64;
    kept.survey_responses = erased.survey_responses;

    // Messages: their variables go; one not sent yet never will be.
    erased.messages_cancelled = sqlx::query(
        "SELECT COUNT(*) AS n FROM messages WHERE store_id = $1 AND customer_id = $2 AND state = 'queued'",
    )
    .bind(store)
    .bind(customer)
    .fetch_one(&mut *conn)
    .await?
    .try_get::<i64, _>("n")? as u64;
    erased.messages = run(
        conn,
        "UPDATE messages SET customer_id = $3, vars = '{}',
           last_error = CASE WHEN state = 'queued' THEN 'cancelled: the customer was erased' ELSE last_error END,
           next_attempt_at = NULL,
           state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END
         WHERE store_id = $1 AND customer_id = $2",
        store,
        customer,
        pseudonym,
    )
    .await?;

    // What plugins keep or decided about the customer goes.
    erased.plugin_state_keys = gone(
        conn,
        "DELETE FROM plugin_state
         WHERE customer_id = $2 AND install_id IN (SELECT id FROM installs WHERE store_id = $1)",
        store,
        customer,
    )
    .await?;
    // The cap's bookkeeping follows the state (its trigger removes a row
    // that reaches zero; this makes sure none is left naming them).
    gone(
        conn,
        "DELETE FROM plugin_state_usage
         WHERE customer_id = $2 AND install_id IN (SELECT id FROM installs WHERE store_id = $1)",
        store,
        customer,
    )
    .await?;
    let of_customer =
        |table: &str| format!("DELETE FROM {table} WHERE store_id = $1 AND customer_id = $2");
    erased.segment_memberships = gone(conn, &of_customer("memberships"), store, customer).await?;
    erased.churn_assessments = gone(conn, &of_customer("assessments"), store, customer).await?;
    erased.churn_flows = gone(conn, &of_customer("flows"), store, customer).await?;
    erased.timers = gone(conn, &of_customer("reaction_timers"), store, customer).await?;

    // A fit sees every customer's id: a model that kept one of theirs goes.
    let models = sqlx::query("SELECT install_id, model, summary FROM models WHERE store_id = $1")
        .bind(store)
        .fetch_all(&mut *conn)
        .await?;
    for r in &models {
        let model: Vec<u8> = r.try_get("model")?;
        let summary: String = r.try_get("summary")?;
        if who.appears_in(&model) || who.appears_in(summary.as_bytes()) {
            sqlx::query("DELETE FROM models WHERE install_id = $1")
                .bind(r.try_get::<String, _>("install_id")?)
                .execute(&mut *conn)
                .await?;
            erased.models += 1;
        }
    }
    Ok((erased, kept))
}

/// Texts kept with the customer's records that may hold one of their
/// values, as `(select, update)` for [`rescrub`]: ledger reasons,
/// complaint resolutions, failure messages, and (kept per install) plugin
/// log lines.
const TEXTS: &[(&str, &str)] = &[
    (
        "SELECT seq AS k, reason AS t FROM ledger_entries WHERE store_id = $1 AND customer_id = $2",
        "UPDATE ledger_entries SET reason = $2 WHERE seq = $1 AND store_id = $3",
    ),
    (
        "SELECT complaint_id AS k, resolution AS t FROM complaints
         WHERE store_id = $1 AND customer_id = $2 AND resolution IS NOT NULL",
        "UPDATE complaints SET resolution = $2 WHERE complaint_id = $1 AND store_id = $3",
    ),
    (
        "SELECT id AS k, message AS t FROM failures WHERE store_id = $1 AND customer_id = $2",
        "UPDATE failures SET message = $2 WHERE id = $1 AND store_id = $3",
    ),
    (
        "SELECT id AS k, message AS t FROM plugin_logs
         WHERE install_id IN (SELECT id FROM installs WHERE store_id = $1) AND $2 <> ''",
        "UPDATE plugin_logs SET message = $2
         WHERE id = $1 AND install_id IN (SELECT id FROM installs WHERE store_id = $3)",
    ),
];

/// Runs a `DELETE` of the customer's rows; how many went.
async fn gone(conn: &mut Conn, sql: &str, store: &str, customer: &str) -> DbResult<u64> {
    Ok(sqlx::query(sql).bind(store).bind(customer).execute(conn).await?.rows_affected())
}

/// Runs `sql` with the store, the customer and the pseudonym; rows changed.
async fn run(
    conn: &mut Conn,
    sql: &str,
    store: &str,
    customer: &str,
    pseudonym: &str,
) -> DbResult<u64> {
    let done = sqlx::query(sql).bind(store).bind(customer).bind(pseudonym).execute(conn).await?;
    Ok(done.rows_affected())
}

/// Reads `(k, t)` rows with `select` (bound to the store and the
/// pseudonym) and writes back, with `update` (`$1` = k, `$2` = text, `$3`
/// = the store), each
/// text that named the customer. Returns how many changed.
async fn rescrub(
    conn: &mut Conn,
    select: &str,
    update: &str,
    store: &str,
    pseudonym: &str,
    who: &Personal,
) -> DbResult<u64> {
    let rows = sqlx::query(select).bind(store).bind(pseudonym).fetch_all(&mut *conn).await?;
    let mut changed = 0;
    for r in &rows {
        let text: Option<String> = r.try_get("t")?;
        let Some(text) = text else { continue };
        let scrubbed = who.scrub_text(&text);
        if scrubbed == text {
            continue;
        }
        let q = sqlx::query(update);
        let q = match r.try_get::<i64, _>("k") {
            Ok(k) => q.bind(k),
            Err(_) => q.bind(r.try_get::<String, _>("k")?),
        };
        q.bind(scrubbed).bind(store).execute(&mut *conn).await?;
        changed += 1;
    }
    Ok(changed)
}

/// A JSON text with personal fields removed and known values replaced
/// (left as it was when it does not parse, but searched as text).
fn scrub_json_text(who: &Personal, text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => who.scrub(&v).to_string(),
        Err(_) => who.scrub_text(text),
    }
}

/// An erasure as recorded and listed.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Erasure {
    /// The id the customer's kept records now carry.
    pub pseudonym: String,
    #[serde(serialize_with = "crate::domain::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub erased_at: Millis,
    /// Who asked: `admin`, or the store's key, or a console session.
    pub erased_by: String,
    pub erased: Erased,
    pub kept: Kept,
    /// When the store created a customer of the same id again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub recreated_at: Option<String>,
}

/// The erasure of the id whose sha256 is `id_sha256`, while the id stays
/// erased (not re-created).
pub async fn of_id(conn: &mut Conn, store: &str, id_sha256: &str) -> DbResult<Option<Erasure>> {
    sqlx::query(
        "SELECT pseudonym, erased_at, actor, report, recreated_at FROM erasures
         WHERE store_id = $1 AND id_sha256 = $2",
    )
    .bind(store)
    .bind(id_sha256)
    .read_one(conn, read)
    .await
}

fn read(r: &sqlx::any::AnyRow) -> DbResult<Erasure> {
    let report: String = r.try_get("report")?;
    let (erased, kept): (Erased, Kept) = serde_json::from_str(&report).unwrap_or_default();
    Ok(Erasure {
        pseudonym: r.try_get("pseudonym")?,
        erased_at: r.try_get("erased_at")?,
        erased_by: r.try_get("actor")?,
        erased,
        kept,
        recreated_at: r
            .try_get::<Option<i64>, _>("recreated_at")?
            .map(crate::domain::time::to_rfc3339),
    })
}

pub async fn insert(conn: &mut Conn, store: &str, id_sha256: &str, e: &Erasure) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO erasures (store_id, pseudonym, id_sha256, erased_at, actor, report)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(store)
    .bind(&e.pseudonym)
    .bind(id_sha256)
    .bind(e.erased_at)
    .bind(&e.erased_by)
    .bind(serde_json::to_string(&(&e.erased, &e.kept)).expect("a report serializes"))
    .execute(conn)
    .await?;
    Ok(())
}

/// The store's erasures, newest first.
pub async fn list(conn: &mut Conn, store: &str, limit: u32) -> DbResult<Vec<Erasure>> {
    sqlx::query(
        "SELECT pseudonym, erased_at, actor, report, recreated_at FROM erasures
         WHERE store_id = $1 ORDER BY erased_at DESC, pseudonym LIMIT $2",
    )
    .bind(store)
    .bind(i64::from(limit))
    .read_all(conn, read)
    .await
}

/// The id is the store's customer again: its events are taken from now
/// on. Returns whether it had been erased.
pub async fn recreate(
    conn: &mut Conn,
    store: &str,
    id_sha256: &str,
    now: Millis,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE erasures SET id_sha256 = NULL, recreated_at = $3 WHERE store_id = $1 AND id_sha256 = $2",
    )
    .bind(store)
    .bind(id_sha256)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Of these id hashes, the ones erased (and not re-created).
pub async fn erased_among(conn: &mut Conn, store: &str, hashes: &[&str]) -> DbResult<Vec<String>> {
    let mut out = Vec::new();
    for chunk in hashes.chunks(super::bulk::CHUNK) {
        let sql = with_list(
            conn,
            "SELECT id_sha256 FROM erasures WHERE store_id = $1 AND id_sha256 IN ($list)",
            1,
            chunk.len(),
        );
        let rows = bind_list(sqlx::query(&sql).bind(store), chunk).fetch_all(&mut *conn).await?;
        for r in &rows {
            out.push(r.try_get("id_sha256")?);
        }
    }
    Ok(out)
}

/// Whether the store has erased anyone (intake looks further only then).
pub async fn any(conn: &mut Conn, store: &str) -> DbResult<bool> {
    let row = sqlx::query(
        "SELECT 1 AS one FROM erasures WHERE store_id = $1 AND id_sha256 IS NOT NULL LIMIT 1",
    )
    .bind(store)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}
