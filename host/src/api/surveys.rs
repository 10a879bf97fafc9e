//! Surveys: create, list, and the scorer's report.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::auth::Caller;
use super::{json_body, ApiError, AppState};
use crate::domain::event::FieldError;
use crate::domain::survey::Survey;

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(store): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_store(&state, &store).await?;
    let body = json_body(body)?;
    let mut errors = Vec::new();
    let text = |name: &str, errors: &mut Vec<FieldError>| match body.get(name) {
        Some(Value::String(s)) => s.clone(),
        _ => {
            errors.push(FieldError::new(name, "is required and must be a string"));
            String::new()
        }
    };
    let id = text("id", &mut errors);
    let kind = text("kind", &mut errors);
    let questions = match body.get("questions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .filter_map(|(i, q)| match q {
                Value::String(s) => Some(s.clone()),
                _ => {
                    errors.push(FieldError::new(
                        format!("questions[{i}]"),
                        "must be a string",
                    ));
                    None
                }
            })
            .collect(),
        Some(_) => {
            errors.push(FieldError::new("questions", "must be a list of strings"));
            Vec::new()
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let survey = Survey {
        id,
        kind,
        questions,
    };
    state.pipeline.create_survey(&store, &survey).await?;
    Ok((StatusCode::CREATED, Json(json!(survey))))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(store): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_store(&state, &store).await?;
    Ok(Json(json!(state.pipeline.surveys(&store).await?)))
}

pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Path((store, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require_store(&state, &store).await?;
    Ok(Json(state.pipeline.survey_report(&store, &id).await?))
}
