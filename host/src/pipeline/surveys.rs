//! Surveys: definitions, the intake check of answers, reports, and which
//! of the store's survey-scorers scores which kind.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use super::registry::plugin_id;
use super::services::DbServices;
use super::{Pipeline, PipelineError, PipelineResult};
use crate::db::installs::Install;
use crate::db::{installs, plugins, surveys, Conn, DbResult};
use crate::domain::event::{self, Event, EventKind, FieldError};
use crate::domain::manifest::{check_against, kinds_scored, DeclaredKind, Manifest};
use crate::domain::survey::{check_answers, check_definition, Survey};
use crate::domain::time::now_ms;
use crate::domain::World;
use crate::runtime::{scoring, CallInput};

/// An enabled survey-scorer of a store and the kinds it scores.
pub(super) struct Scorer {
    pub install: Install,
    /// What it declares of each kind (empty: it scores the built-in ones).
    pub declared: BTreeMap<String, DeclaredKind>,
}

impl Scorer {
    pub fn kinds(&self) -> Vec<String> {
        kinds_scored(&self.declared)
    }

    pub fn scores(&self, kind: &str) -> bool {
        self.kinds().iter().any(|k| k == kind)
    }
}

/// The kinds a published plugin version declares.
pub(super) async fn declared_kinds(
    conn: &mut Conn,
    plugin: &str,
    version: &str,
) -> DbResult<BTreeMap<String, DeclaredKind>> {
    Ok(plugins::get(conn, plugin, version)
        .await?
        .map(|v| Manifest::published_survey_kinds(&v.manifest))
        .unwrap_or_default())
}

/// The store's enabled survey-scorers.
pub(super) async fn scorers(conn: &mut Conn, store: &str) -> DbResult<Vec<Scorer>> {
    let mut out = Vec::new();
    for install in installs::enabled(conn, store).await? {
        if install.world == World::SurveyScorer {
            let declared = declared_kinds(conn, &install.plugin, &install.version).await?;
            out.push(Scorer { install, declared });
        }
    }
    Ok(out)
}

/// The store's scorer of `kind`, if one is installed.
pub(super) async fn scorer_of(
    conn: &mut Conn,
    store: &str,
    kind: &str,
) -> DbResult<Option<Scorer>> {
    Ok(scorers(conn, store).await?.into_iter().find(|s| s.scores(kind)))
}

fn no_scorer(field: String, kind: &str, store: &str) -> FieldError {
    FieldError::new(
        field,
        format!(
            "no survey-scorer installed in this store scores the kind `{kind}`; install one that \
             declares it (GET /v1/stores/{store}/installs lists the store's)"
        ),
    )
}

impl Pipeline {
    pub async fn create_survey(&self, store: &str, s: &Survey) -> PipelineResult<()> {
        let errors = check_definition(s);
        if !errors.is_empty() {
            return Err(PipelineError::Invalid(errors));
        }
        let mut conn = self.db.write_conn().await?;
        if s.builtin().is_none() {
            // A kind of a scorer's own exists while a scorer declares it;
            // its settings are checked against the schema it gives.
            let scorer = scorer_of(&mut conn, store, &s.kind).await?;
            let Some(declared) = scorer.as_ref().and_then(|sc| sc.declared.get(&s.kind)) else {
                return Err(PipelineError::Unknown(vec![no_scorer("kind".into(), &s.kind, store)]));
            };
            match (&declared.settings, &s.settings) {
                (Some(schema), settings) => {
                    let empty = json!({});
                    check_against(schema, settings.as_ref().unwrap_or(&empty), "settings")
                        .map_err(PipelineError::Invalid)?;
                }
                (None, Some(_)) => {
                    return Err(PipelineError::Invalid(vec![FieldError::new(
                        "settings",
                        format!("a {} survey takes no settings", s.kind),
                    )]))
                }
                (None, None) => {}
            }
        }
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
        let mut known = HashMap::new();
        let mut conn = self.db.pool.acquire().await?;
        // Each declared kind's answer schema, from its scorer (None: no
        // scorer declares it).
        let mut schemas: HashMap<String, Option<Option<Value>>> = HashMap::new();
        for (i, e) in events.iter().enumerate() {
            let EventKind::SurveySubmitted(event::SurveySubmitted { survey_id, answers }) = &e.kind
            else {
                continue;
            };
            if !known.contains_key(survey_id) {
                let s = surveys::get(&mut conn, store, survey_id).await?;
                known.insert(survey_id.clone(), s);
            }
            let Some(s) = &known[survey_id] else {
                unknown.push(FieldError::new(
                    format!("{}data.survey_id", prefix(i)),
                    format!("no survey `{survey_id}` in this store; create it with POST /v1/stores/{store}/surveys"),
                ));
                continue;
            };
            let at = format!("{}data.answers", prefix(i));
            if s.builtin().is_some() {
                errors.extend(check_answers(s, answers, &at, None));
                continue;
            }
            if !schemas.contains_key(&s.kind) {
                let scorer = scorer_of(&mut conn, store, &s.kind).await?;
                let schema =
                    scorer.map(|sc| sc.declared.get(&s.kind).and_then(|d| d.answers.clone()));
                schemas.insert(s.kind.clone(), schema);
            }
            match &schemas[&s.kind] {
                None => unknown.push(no_scorer(at, &s.kind, store)),
                Some(schema) => errors.extend(check_answers(s, answers, &at, schema.as_ref())),
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
        let install = scorer_of(&mut conn, store, &survey.kind)
            .await?
            .ok_or_else(|| {
                PipelineError::Conflict(format!(
                    "no survey-scorer installed in this store scores the kind `{}`; install one (e.g. survey-scoring) to get reports",
                    survey.kind
                ))
            })?
            .install;
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
