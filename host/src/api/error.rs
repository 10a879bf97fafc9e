//! Every error is `application/problem+json` (RFC 9457), naming the field.

use std::borrow::Cow;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbError;
use crate::domain::event::FieldError;
use crate::pipeline::PipelineError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: Cow<'static, str>,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// Seconds after which a retry may succeed (429 and 503 answers).
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            kind: kind.into(),
            title,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// Too much work is waiting: try again after `seconds`.
    pub fn busy(detail: impl Into<String>, seconds: u64) -> Self {
        ApiError {
            retry_after: Some(seconds),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "busy", "Too much pending work", detail)
        }
    }

    /// The caller's address failed to sign in too often: wait `seconds`.
    pub fn throttled(seconds: u64) -> Self {
        ApiError {
            retry_after: Some(seconds),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                "Too many failed sign-ins",
                format!(
                    "this address sent too many tokens that did not match; try again after \
                     {seconds} s"
                ),
            )
        }
    }

    /// The service cannot serve now (not ready, stopping).
    pub fn unavailable(detail: impl Into<String>) -> Self {
        ApiError {
            retry_after: Some(1),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Unavailable for now",
                detail,
            )
        }
    }

    pub fn invalid(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{} {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        ApiError {
            errors,
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", "Invalid request", detail)
        }
    }

    /// 409: the request is well formed, but names what the store does not
    /// have; `errors` says where.
    pub fn unknown(errors: Vec<FieldError>) -> Self {
        ApiError {
            status: StatusCode::CONFLICT,
            kind: "unknown-reference".into(),
            title: "Unknown reference",
            ..Self::invalid(errors)
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::invalid(vec![FieldError::new(field, message)])
    }

    pub fn bad_json(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed", "Malformed request body", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            "send `Authorization: Bearer <token>` with the admin token or the store's API key",
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", "Request too large", detail)
    }

    /// A problem for a client error the handlers did not answer themselves
    /// (axum's rejections, a method the route lacks, a body not JSON).
    pub fn from_status(status: StatusCode, detail: impl Into<String>) -> Self {
        let (kind, title) = match status {
            StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "Method not allowed"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("unsupported-media-type", "Unsupported media type")
            }
            StatusCode::PAYLOAD_TOO_LARGE => ("too-large", "Request too large"),
            StatusCode::NOT_FOUND => ("not-found", "Not found"),
            StatusCode::UNAUTHORIZED => ("unauthorized", "Unauthorized"),
            StatusCode::FORBIDDEN => ("forbidden", "Forbidden"),
            StatusCode::UNPROCESSABLE_ENTITY => ("validation", "Invalid request"),
            _ => ("bad-request", "Bad request"),
        };
        let mut detail = detail.into();
        if detail.is_empty() {
            detail = match status {
                StatusCode::METHOD_NOT_ALLOWED => {
                    "this endpoint does not take that method; see GET /openapi.json".into()
                }
                _ => title.to_string(),
            };
        }
        Self::new(status, kind, title, detail)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server failed; the error is in its log. Retrying is safe: events are idempotent",
        )
    }
}

/// The body of every error answer (RFC 9457).
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// What kind of problem: `https://clientele.dev/problems/<kind>`.
    #[serde(rename = "type")]
    #[schema(example = "https://clientele.dev/problems/validation")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What went wrong and what to do about it.
    pub detail: String,
    /// One entry per field that is wrong; empty when no field is.
    pub errors: Vec<FieldError>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!("https://clientele.dev/problems/{}", self.kind),
            title: self.title.to_string(),
            status: self.status.as_u16(),
            detail: self.detail,
            errors: self.errors,
        };
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            serde_json::to_string(&body).expect("a problem serializes"),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        if e.is_unique_violation() {
            return ApiError::conflict("it already exists");
        }
        if e.is_transient() {
            // The node logs the outage once (its heartbeat meets it too);
            // each request's answer says it.
            tracing::debug!(error = %e, "request answered 503: the database is unreachable");
            return ApiError {
                retry_after: Some(2),
                ..ApiError::unavailable(format!(
                    "the database is unreachable for now ({e}); send the request again after \
                     Retry-After: events are idempotent, and nothing this request was answered \
                     for is lost"
                ))
            };
        }
        tracing::error!(error = %e, "database error");
        ApiError::internal()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        DbError::from(e).into()
    }
}

impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Db(e) => e.into(),
            PipelineError::Runtime(e) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                kind: e.code().replace('_', "-").into(),
                title: "Component rejected",
                detail: e.to_string(),
                errors: vec![FieldError::new("component", e.to_string())],
                retry_after: None,
            },
            PipelineError::Conflict(d) | PipelineError::Stale(d) => ApiError::conflict(d),
            PipelineError::Busy { pending, max } => ApiError::busy(
                format!(
                    "{pending} events are waiting to be processed (the limit is {max}); \
                     nothing of this request was taken: send it again after Retry-After"
                ),
                1,
            ),
            PipelineError::NotFound(d) => ApiError::not_found(d),
            PipelineError::Internal(d) => {
                tracing::error!(error = %d, "the host failed at its own work");
                ApiError::internal()
            }
            PipelineError::Unavailable { what, retry_after } => {
                ApiError { retry_after: Some(retry_after), ..ApiError::unavailable(what) }
            }
            PipelineError::Invalid(errors) => ApiError::invalid(errors),
            PipelineError::Unknown(errors) => ApiError::unknown(errors),
        }
    }
}
