//! Population models: fit on request, and what each install's model says.

use super::params::ValidQuery;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::StoreScope;
use super::params::{StorePath, WaitQuery};
use super::{valid, ApiError};
use crate::db::models;
use crate::domain::time::{now_ms, parse_rfc3339, to_rfc3339};
use crate::pipeline::fits::FitReport;

/// Fit as of a time; the body is optional (no body fits as of now).
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FitRequest {
    /// Only events that occurred up to this time count.
    #[schema(format = DateTime, example = "2026-03-01T00:00:00Z")]
    pub as_of: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FitAnswer {
    #[schema(format = DateTime)]
    pub as_of: String,
    /// `done` (with `?wait=true`) or `queued`.
    #[schema(example = "done")]
    pub status: &'static str,
    /// One report per install that fitted (with `?wait=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fits: Option<Vec<FitReport>>,
}

/// Fit every population model as of as_of (default now)
///
/// With `?wait=true` the answer comes when the fit is done, or as a `503`
/// with `Retry-After` when it is not done within 30 s (it goes on; its
/// result shows in `GET …/models`) or another node kept the store for
/// twice the lease time (the model is saved, the customers not updated:
/// fit again).
#[utoipa::path(post, path = "/v1/stores/{store}/models/fit", operation_id = "fitModels", tag = "segments",
    params(StorePath, WaitQuery), request_body(content = Option<FitRequest>),
    responses(
        (status = 200, body = FitAnswer, description = "With `?wait=true`: done"),
        (status = 202, body = FitAnswer, description = "Queued"),
    ))]
pub async fn fit(
    scope: StoreScope,
    ValidQuery(q): ValidQuery<WaitQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<FitAnswer>), ApiError> {
    // No body, or `null`, fits as of now.
    let empty = body.as_ref().map(|b| b.is_empty() || b.trim_ascii() == b"null").unwrap_or(false);
    let body: FitRequest =
        if empty { FitRequest::default() } else { valid::parse(super::json_body(body)?)? };
    let as_of = match &body.as_of {
        None => now_ms(),
        Some(s) => parse_rfc3339(s).ok_or_else(|| {
            ApiError::field("as_of", "must be an RFC 3339 time, e.g. 2026-03-01T00:00:00Z")
        })?,
    };
    let (status, answer, fits) =
        match scope.pipeline.request_fit(&scope.store, as_of, q.wait).await? {
            Some(reports) => (StatusCode::OK, "done", Some(reports)),
            None => (StatusCode::ACCEPTED, "queued", None),
        };
    Ok((status, Json(FitAnswer { as_of: to_rfc3339(as_of), status: answer, fits })))
}

/// What one install's population model says.
#[derive(Serialize, ToSchema)]
pub struct ModelView {
    pub install_id: String,
    pub plugin: String,
    /// Null until a fit succeeded.
    #[schema(format = DateTime)]
    pub as_of: Option<String>,
    #[schema(format = DateTime)]
    pub fitted_at: Option<String>,
    pub customers: i64,
    pub fit_ms: i64,
    /// The model's public summary (RFM cut-offs, BG/NBD parameters, …).
    pub summary: Value,
    pub last_error: Option<String>,
    #[schema(format = DateTime)]
    pub last_attempt_at: String,
}

/// Each install's fitted model summary
#[utoipa::path(get, path = "/v1/stores/{store}/models", operation_id = "listModels", tag = "segments",
    params(StorePath), responses((status = 200, body = Vec<ModelView>)))]
pub async fn list(scope: StoreScope) -> Result<Json<Vec<ModelView>>, ApiError> {
    let mut conn = scope.conn().await?;
    let list = models::list(&mut conn, &scope.store)
        .await?
        .into_iter()
        .map(|m| {
            let fitted = m.fitted_at > 0;
            ModelView {
                install_id: m.install_id,
                plugin: m.plugin,
                as_of: fitted.then(|| to_rfc3339(m.as_of)),
                fitted_at: fitted.then(|| to_rfc3339(m.fitted_at)),
                customers: m.customers,
                fit_ms: m.elapsed_ms,
                summary: m.summary,
                last_error: m.last_error,
                last_attempt_at: to_rfc3339(m.last_attempt_at),
            }
        })
        .collect();
    Ok(Json(list))
}
