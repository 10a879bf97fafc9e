//! `survey-scorer`: each response to a known survey is scored, and the
//! score stored with the response.

use serde_json::Value;

use super::{Applying, CallArgs, CallResult, Decision, Sinks, Surveys};
use crate::domain::effect::Effect;
use crate::domain::event::{Event, EventKind};
use crate::runtime::{scoring, CallInput, Runtime, RuntimeError};

/// Responses to a survey the store has.
pub fn concerns(e: &Event, store: &str, surveys: &Surveys) -> bool {
    matches!(&e.kind, EventKind::SurveySubmitted { survey_id, .. }
        if surveys.contains_key(&(store.to_string(), survey_id.clone())))
}

pub fn decide(rt: &Runtime, a: CallArgs<'_>, input: CallInput) -> CallResult {
    let e = a.event;
    // `concerns` let only responses to a known survey through.
    let EventKind::SurveySubmitted { survey_id, answers } = &e.kind else {
        unreachable!("a survey-scorer runs on survey.submitted only");
    };
    let survey = &a.surveys[&(a.store.to_string(), survey_id.clone())];
    let wit_survey = scoring::Survey {
        id: survey.id.clone(),
        kind: survey.kind.to_string(),
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
pub fn apply(sinks: &mut Sinks, at: &Applying<'_>, score: &Value) -> Vec<Effect> {
    sinks.scored[at.index] = Some((at.target.install_id.to_string(), score.to_string()));
    vec![Effect::SurveyScored { score: score.clone() }]
}
