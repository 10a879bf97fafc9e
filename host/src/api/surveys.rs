//! Surveys: create, list, and the scorer's report.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::auth::StoreScope;
use super::params::StorePath;
use super::valid::Valid;
use super::ApiError;
use crate::db::surveys::Response;
use crate::domain::survey::Survey;

/// Create a survey {id, kind, questions}
#[utoipa::path(post, path = "/v1/stores/{store}/surveys", operation_id = "createSurvey", tag = "surveys",
    params(StorePath), request_body = Survey, responses((status = 201, body = Survey)))]
pub async fn create(
    scope: StoreScope,
    Valid(survey): Valid<Survey>,
) -> Result<(StatusCode, Json<Survey>), ApiError> {
    scope.pipeline.create_survey(&scope.store, &survey).await?;
    Ok((StatusCode::CREATED, Json(survey)))
}

/// Surveys
#[utoipa::path(get, path = "/v1/stores/{store}/surveys", operation_id = "listSurveys", tag = "surveys",
    params(StorePath), responses((status = 200, body = Vec<Survey>)))]
pub async fn list(scope: StoreScope) -> Result<Json<Vec<Survey>>, ApiError> {
    Ok(Json(scope.pipeline.surveys(&scope.store).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SurveyPath {
    /// The survey's id.
    pub survey: String,
}

/// The survey-scorer's report: what it computed over every response
#[utoipa::path(get, path = "/v1/stores/{store}/surveys/{survey}/report", operation_id = "getSurveyReport", tag = "surveys",
    params(StorePath, SurveyPath), responses((status = 200, body = Object,
        description = "The report of the store's survey-scorer plugin")))]
pub async fn report(
    scope: StoreScope,
    Path(path): Path<SurveyPath>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(scope.pipeline.survey_report(&scope.store, &path.survey).await?))
}

/// Every response to the survey with its score, oldest first
#[utoipa::path(get, path = "/v1/stores/{store}/surveys/{survey}/responses", operation_id = "listSurveyResponses", tag = "surveys",
    params(StorePath, SurveyPath), responses((status = 200, body = Vec<Response>)))]
pub async fn responses(
    scope: StoreScope,
    Path(path): Path<SurveyPath>,
) -> Result<Json<Vec<Response>>, ApiError> {
    let mut conn = scope.conn().await?;
    if crate::db::surveys::get(&mut conn, &scope.store, &path.survey).await?.is_none() {
        return Err(ApiError::not_found(format!("survey `{}` not found", path.survey)));
    }
    Ok(Json(crate::db::surveys::responses(&mut conn, &scope.store, &path.survey).await?))
}
