//! `survey-scorer`: each response to a known survey of a kind the install
//! scores is scored, and the score stored with the response (which the
//! batch's facts recorded).

use std::collections::HashMap;

use serde_json::Value;

use super::{Applying, BatchScope, CallArgs, CallResult, Decision};
use crate::db::{installs, surveys, Conn, DbResult, Tx};
use crate::domain::effect::Effect;
use crate::domain::event::{self, Event, EventKind};
use crate::domain::manifest::kinds_scored;
use crate::domain::survey::Survey;
use crate::pipeline::surveys::declared_kinds;
use crate::runtime::{scoring, CallInput, Runtime, RuntimeError};

/// A scorer's batch: the surveys its responses answer and the scores
/// decided, written when the batch commits.
pub struct Unit {
    surveys: HashMap<String, Survey>,
    /// The kinds the install scores (none: `plugin run`'s, every kind).
    kinds: Option<Vec<String>>,
    /// (event id, install, score as JSON).
    scored: Vec<(String, String, String)>,
    store: String,
}

impl Unit {
    pub async fn load(conn: &mut Conn, scope: &BatchScope<'_>) -> DbResult<Unit> {
        let mut list = HashMap::new();
        for ev in scope.events {
            if let EventKind::SurveySubmitted(event::SurveySubmitted { survey_id, .. }) =
                &ev.event.kind
            {
                if !list.contains_key(survey_id) {
                    if let Some(s) = surveys::get(conn, scope.store, survey_id).await? {
                        list.insert(survey_id.clone(), s);
                    }
                }
            }
        }
        // Which kinds the install scores, read only for a batch with responses.
        let mut kinds = Vec::new();
        if !list.is_empty() {
            if let Some(i) = installs::get(conn, scope.store, scope.install_id).await? {
                kinds = kinds_scored(&declared_kinds(conn, &i.plugin, &i.version).await?);
            }
        }
        Ok(Unit {
            surveys: list,
            kinds: Some(kinds),
            scored: Vec::new(),
            store: scope.store.to_string(),
        })
    }

    pub fn local(surveys: HashMap<String, Survey>) -> Unit {
        Unit { surveys, kinds: None, scored: Vec::new(), store: "local".into() }
    }

    /// Responses to a survey the store has, of a kind the install scores.
    pub fn concerns(&self, e: &Event) -> bool {
        let EventKind::SurveySubmitted(event::SurveySubmitted { survey_id, .. }) = &e.kind else {
            return false;
        };
        self.surveys
            .get(survey_id)
            .is_some_and(|s| self.kinds.as_ref().is_none_or(|kinds| kinds.contains(&s.kind)))
    }

    pub fn decide(&self, rt: &Runtime, a: CallArgs<'_>, input: CallInput) -> CallResult {
        let e = a.event;
        // `concerns` let only responses to a known survey through.
        let EventKind::SurveySubmitted(event::SurveySubmitted { survey_id, answers }) = &e.kind
        else {
            unreachable!("a survey-scorer runs on survey.submitted only");
        };
        let survey = &self.surveys[survey_id];
        let wit_survey = scoring::Survey {
            id: survey.id.clone(),
            kind: survey.kind.clone(),
            questions: survey.questions.clone(),
        };
        let response = scoring::Response {
            customer_id: e.customer_id.clone(),
            submitted_at: e.occurred_at,
            answers: answers.to_string(),
        };
        rt.score(a.plugin, input, a.config, &wit_survey, &response).and_then(|o| {
            match serde_json::from_str::<Value>(&o.value) {
                Ok(v) if v.is_object() => Ok(o.map(|_| Decision::Score(v))),
                _ => Err(RuntimeError::InvalidOutput("a score must be a JSON object".into())),
            }
        })
    }

    /// Keeps the score for the response, written when the batch commits.
    pub fn apply(&mut self, at: &Applying<'_>, score: Value) -> Vec<Effect> {
        let install = at.target.install().to_string();
        self.scored.push((at.event.id.clone(), install, score.to_string()));
        vec![Effect::SurveyScored { score }]
    }

    pub async fn finish(&mut self, tx: &mut Tx) -> DbResult<()> {
        let scored = std::mem::take(&mut self.scored);
        surveys::set_scores(tx, &self.store, &scored).await
    }
}
