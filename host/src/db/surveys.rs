//! Surveys and their scored responses.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use super::row::ReadRows;
use super::{json_col, Conn, DbResult};
use crate::domain::states::SurveyKind;
use crate::domain::survey::Survey;
use crate::domain::time::Millis;

pub async fn insert(conn: &mut Conn, store: &str, s: &Survey, now: Millis) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO surveys (store_id, id, kind, questions, created_at, settings)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(store)
    .bind(&s.id)
    .bind(&s.kind)
    .bind(serde_json::to_string(&s.questions).unwrap_or_else(|_| "[]".into()))
    .bind(now)
    .bind((s.weights.is_some() || s.settings.is_some()).then(|| s.scorer_settings().to_string()))
    .execute(conn)
    .await?;
    Ok(())
}

fn from_row(r: &sqlx::any::AnyRow) -> DbResult<Survey> {
    let kind: String = r.try_get("kind")?;
    let settings = r
        .try_get::<Option<String>, _>("settings")?
        .and_then(|t| serde_json::from_str::<Value>(&t).ok());
    // An ACSI survey keeps its weights in its settings; a declared kind's
    // settings are its own.
    let (weights, settings) = match SurveyKind::parse(&kind) {
        Some(SurveyKind::Acsi) => {
            (settings.and_then(|v| serde_json::from_value(v["weights"].clone()).ok()), None)
        }
        Some(_) => (None, None),
        None => (None, settings),
    };
    Ok(Survey {
        id: r.try_get("id")?,
        kind,
        questions: serde_json::from_str(&r.try_get::<String, _>("questions")?).unwrap_or_default(),
        weights,
        settings,
    })
}

pub async fn get(conn: &mut Conn, store: &str, id: &str) -> DbResult<Option<Survey>> {
    sqlx::query("SELECT id, kind, questions, settings FROM surveys WHERE store_id = $1 AND id = $2")
        .bind(store)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn list(conn: &mut Conn, store: &str) -> DbResult<Vec<Survey>> {
    sqlx::query("SELECT id, kind, questions, settings FROM surveys WHERE store_id = $1 ORDER BY id")
        .bind(store)
        .read_all(conn, from_row)
        .await
}

/// A response as stored, and as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Response {
    pub event_id: String,
    pub survey_id: String,
    pub customer_id: String,
    #[serde(serialize_with = "crate::domain::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub submitted_at: Millis,
    pub answers: Value,
    #[serde(skip)]
    pub install_id: Option<String>,
    /// The scorer's result; none when no scorer was installed.
    pub score: Option<Value>,
}

/// Stores a response with its score (None when no scorer is installed).
#[allow(clippy::too_many_arguments)]
/// A response as the batch that takes its event records it (before any
/// scorer runs); recording it again changes nothing.
pub struct NewResponse<'a> {
    pub survey_id: &'a str,
    pub event_id: &'a str,
    pub customer: &'a str,
    pub submitted_at: Millis,
    pub answers: String,
}

pub async fn record_responses(
    conn: &mut Conn,
    store: &str,
    list: &[NewResponse<'_>],
) -> DbResult<()> {
    for r in list {
        sqlx::query(
            "INSERT INTO survey_responses (store_id, event_id, survey_id, customer_id, submitted_at, answers)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (store_id, event_id) DO NOTHING",
        )
        .bind(store)
        .bind(r.event_id)
        .bind(r.survey_id)
        .bind(r.customer)
        .bind(r.submitted_at)
        .bind(&r.answers)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Sets the scores of responses: (event id, install that scored, score).
pub async fn set_scores(
    conn: &mut Conn,
    store: &str,
    scored: &[(String, String, String)],
) -> DbResult<()> {
    for (event_id, install, score) in scored {
        sqlx::query(
            "UPDATE survey_responses SET install_id = $1, score = $2 WHERE store_id = $3 AND event_id = $4",
        )
        .bind(install)
        .bind(score)
        .bind(store)
        .bind(event_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A scored response row (`survey_id`, `submitted_at`, `answers`, `score`)
/// of a survey of `kind`, as plugins read it.
fn scored_answer(
    r: &sqlx::any::AnyRow,
    kind: String,
) -> DbResult<crate::domain::survey::ScoredAnswer> {
    let score: String = r.try_get("score")?;
    Ok(crate::domain::survey::ScoredAnswer {
        survey_id: r.try_get("survey_id")?,
        kind,
        submitted_at: r.try_get("submitted_at")?,
        answers: json_col(r.try_get("answers")?, serde_json::json!({})),
        score: serde_json::from_str(&score).unwrap_or(serde_json::Value::Null),
    })
}

/// The customer's latest scored answer of each survey kind in `kinds`
/// (every kind when empty), newest first.
pub async fn latest_scored(
    conn: &mut Conn,
    store: &str,
    customer: &str,
    kinds: &[String],
) -> DbResult<Vec<crate::domain::survey::ScoredAnswer>> {
    let rows = sqlx::query(
        "SELECT r.survey_id, s.kind, r.submitted_at, r.answers, r.score
         FROM survey_responses r JOIN surveys s ON s.store_id = r.store_id AND s.id = r.survey_id
         WHERE r.store_id = $1 AND r.customer_id = $2 AND r.score IS NOT NULL
         ORDER BY r.submitted_at DESC, r.event_id DESC",
    )
    .bind(store)
    .bind(customer)
    .fetch_all(conn)
    .await?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for r in &rows {
        let kind: String = r.try_get("kind")?;
        if (!kinds.is_empty() && !kinds.contains(&kind)) || !seen.insert(kind.clone()) {
            continue;
        }
        out.push(scored_answer(r, kind)?);
    }
    Ok(out)
}

/// Each customer's latest scored answer among `kinds` (every kind when
/// empty) submitted up to `as_of`.
pub async fn latest_scored_of_store(
    conn: &mut Conn,
    store: &str,
    as_of: Millis,
    kinds: &[String],
) -> DbResult<HashMap<String, crate::domain::survey::ScoredAnswer>> {
    let rows = sqlx::query(
        "SELECT r.customer_id, r.survey_id, s.kind, r.submitted_at, r.answers, r.score
         FROM survey_responses r JOIN surveys s ON s.store_id = r.store_id AND s.id = r.survey_id
         WHERE r.store_id = $1 AND r.score IS NOT NULL AND r.submitted_at <= $2
         ORDER BY r.customer_id, r.submitted_at DESC, r.event_id DESC",
    )
    .bind(store)
    .bind(as_of)
    .fetch_all(conn)
    .await?;
    let mut out = HashMap::new();
    for r in &rows {
        let (customer, kind): (String, String) = (r.try_get("customer_id")?, r.try_get("kind")?);
        if (!kinds.is_empty() && !kinds.contains(&kind)) || out.contains_key(&customer) {
            continue;
        }
        out.insert(customer, scored_answer(r, kind)?);
    }
    Ok(out)
}

pub async fn responses(conn: &mut Conn, store: &str, survey_id: &str) -> DbResult<Vec<Response>> {
    responses_where(conn, "survey_id", store, survey_id).await
}

/// Every response a customer gave, to any survey, oldest first.
pub async fn responses_of(conn: &mut Conn, store: &str, customer: &str) -> DbResult<Vec<Response>> {
    responses_where(conn, "customer_id", store, customer).await
}

async fn responses_where(
    conn: &mut Conn,
    column: &'static str,
    store: &str,
    value: &str,
) -> DbResult<Vec<Response>> {
    let rows = sqlx::query(&format!(
        "SELECT event_id, survey_id, customer_id, submitted_at, answers, install_id, score
         FROM survey_responses WHERE store_id = $1 AND {column} = $2 ORDER BY submitted_at, event_id"
    ))
    .bind(store)
    .bind(value)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let score: Option<String> = r.try_get("score")?;
            Ok(Response {
                event_id: r.try_get("event_id")?,
                survey_id: r.try_get("survey_id")?,
                customer_id: r.try_get("customer_id")?,
                submitted_at: r.try_get("submitted_at")?,
                answers: json_col(r.try_get("answers")?, serde_json::json!({})),
                install_id: r.try_get("install_id")?,
                score: score.and_then(|s| serde_json::from_str(&s).ok()),
            })
        })
        .collect()
}
