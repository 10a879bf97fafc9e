//! Surveys: definitions, the intake check of answers, and reports.

use serde_json::{json, Value};

use super::registry::plugin_id;
use super::services::DbServices;
use super::{Pipeline, PipelineError, PipelineResult};
use crate::db::{installs, surveys};
use crate::domain::event::{self, Event, EventKind, FieldError};
use crate::domain::survey::{check_answers, check_definition, Survey};
use crate::domain::time::now_ms;
use crate::domain::World;
use crate::runtime::{scoring, CallInput};

impl Pipeline {
    pub async fn create_survey(&self, store: &str, s: &Survey) -> PipelineResult<()> {
        let errors = check_definition(s);
        if !errors.is_empty() {
            return Err(PipelineError::Invalid(errors));
        }
        let mut conn = self.db.write_conn().await?;
        match surveys::insert(&mut conn, store, s, now_ms()).await {
            Err(e) if e.is_unique_violation() => Err(PipelineError::Conflict(format!(
                "survey `{}` already exists; surveys are immutable, create one with a new id",
                s.id
            ))),
            other => Ok(other?),
        }
    }

    pub async fn surveys(&self, store: &str) -> PipelineResult<Vec<Survey>> {
        let mut conn = self.db.pool.acquire().await?;
        Ok(surveys::list(&mut conn, store).await?)
    }

    /// Checks every `survey.submitted` of a request: the survey exists and
    /// the answers fit its kind. `prefix(i)` names event `i` in the body.
    pub async fn check_survey_answers(
        &self,
        store: &str,
        events: &[Event],
        prefix: impl Fn(usize) -> String,
    ) -> PipelineResult<()> {
        let responses = |e: &Event| matches!(e.kind, EventKind::SurveySubmitted(_));
        if !events.iter().any(responses) {
            // The common case: no database round trip on the intake path.
            return Ok(());
        }
        let mut errors: Vec<FieldError> = Vec::new();
        let mut unknown: Vec<FieldError> = Vec::new();
        let mut known = std::collections::HashMap::new();
        let mut conn = self.db.pool.acquire().await?;
        for (i, e) in events.iter().enumerate() {
            let EventKind::SurveySubmitted(event::SurveySubmitted { survey_id, answers }) = &e.kind
            else {
                continue;
            };
            if !known.contains_key(survey_id) {
                let s = surveys::get(&mut conn, store, survey_id).await?;
                known.insert(survey_id.clone(), s);
            }
            match &known[survey_id] {
                None => unknown.push(FieldError::new(
                    format!("{}data.survey_id", prefix(i)),
                    format!("no survey `{survey_id}` in this store; create it with POST /v1/stores/{store}/surveys"),
                )),
                Some(s) => errors.extend(check_answers(s, answers, &format!("{}data.answers", prefix(i)))),
            }
        }
        // Answers that break their survey's rules are the request's fault
        // (422); a survey the store lacks, the store's state (409).
        if !errors.is_empty() {
            Err(PipelineError::Invalid(errors))
        } else if !unknown.is_empty() {
            Err(PipelineError::Unknown(unknown))
        } else {
            Ok(())
        }
    }

    /// The survey's report from the store's survey-scorer.
    pub async fn survey_report(&self, store: &str, id: &str) -> PipelineResult<Value> {
        let mut conn = self.db.pool.acquire().await?;
        let survey = surveys::get(&mut conn, store, id)
            .await?
            .ok_or_else(|| PipelineError::NotFound(format!("survey `{id}` not found")))?;
        let install = installs::enabled(&mut conn, store)
            .await?
            .into_iter()
            .find(|i| i.world == World::SurveyScorer)
            .ok_or_else(|| {
                PipelineError::Conflict(
                    "no survey-scorer is installed in this store; install one (e.g. survey-scoring) to get reports".into(),
                )
            })?;
        let responses = surveys::responses(&mut conn, store, id).await?;
        drop(conn);
        let unscored = responses.iter().filter(|r| r.score.is_none()).count();
        let scored: Vec<String> =
            responses.iter().filter_map(|r| r.score.as_ref().map(Value::to_string)).collect();
        let plugin = self.plugin(&install.plugin, &install.version).await?;
        let pid = plugin_id(&install.plugin, &install.version);
        let services = DbServices::shared(&self.db);
        let input = CallInput::new(store, &install.install_id, &pid, None, &services);
        let wit_survey = scoring::Survey {
            id: survey.id.clone(),
            kind: survey.kind.to_string(),
            questions: survey.questions.clone(),
        };
        let config = install.config.to_string();
        let out = tokio::task::block_in_place(|| {
            self.runtime.aggregate(&plugin, input, &config, &wit_survey, &scored)
        })?;
        let mut report: Value = serde_json::from_str(&out.value).map_err(|e| {
            PipelineError::Runtime(crate::runtime::RuntimeError::InvalidOutput(format!(
                "the report is not JSON: {e}"
            )))
        })?;
        if let Value::Object(map) = &mut report {
            map.insert("survey_id".into(), json!(survey.id));
            map.insert("kind".into(), json!(survey.kind));
            map.insert("plugin".into(), json!(pid));
            if unscored > 0 {
                map.insert("unscored".into(), json!(unscored));
            }
        }
        Ok(report)
    }
}
