//! What every request and answer goes through at the edge:
//! - a body sent to a JSON endpoint must say it is JSON (`415` otherwise),
//!   so a browser form or a `text/plain` post from another site is refused
//!   before any handler reads it;
//! - every client error is `application/problem+json`, including the ones
//!   axum answers itself (an undecodable path, a bad query string, a
//!   method the route does not have).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// Longest body of axum's own rejections that is kept as the detail.
const MAX_DETAIL: usize = 4 * 1024;

pub async fn problems_only(req: Request, next: Next) -> Response {
    if let Some(refused) = refuse_non_json(&req) {
        return refused.into_response();
    }
    let response = next.run(req).await;
    let status = response.status();
    // The console's own pages answer in HTML, 404 included.
    if !status.is_client_error()
        || content_type_is(&response, "application/problem+json")
        || content_type_is(&response, "text/html")
    {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let text = axum::body::to_bytes(response.into_body(), MAX_DETAIL)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let mut problem = ApiError::from_status(status, text).into_response();
    if let Some(allow) = allow {
        problem.headers_mut().insert(header::ALLOW, allow);
    }
    problem
}

/// Whether the response's content type starts with `essence`.
fn content_type_is(response: &Response, essence: &str) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with(essence))
}

/// A write with a body that does not say it is JSON. Publishing a plugin
/// (multipart) is the one write that takes another type.
fn refuse_non_json(req: &Request<Body>) -> Option<ApiError> {
    // The console's own forms (`/sign-in`, `/sign-out`) are not the API's.
    let path = req.uri().path();
    if !matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH)
        || path == "/v1/plugins"
        || !path.starts_with("/v1/")
    {
        return None;
    }
    let headers = req.headers();
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > 0);
    if !has_body {
        return None;
    }
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        return None;
    }
    let sent = if content_type.is_empty() {
        "no Content-Type".to_string()
    } else {
        format!("Content-Type `{content_type}`")
    };
    Some(ApiError::from_status(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("the body must be JSON, sent with `Content-Type: application/json` (this request has {sent})"),
    ))
}
