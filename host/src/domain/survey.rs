//! Surveys: their definition and the answers each kind accepts. The host
//! checks answers at intake (a bad answer is a 422 naming the field): a
//! built-in kind's by its own rules, a kind a scorer declares by the JSON
//! Schema the scorer gives; that scorer then scores what passed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::event::FieldError;
use super::manifest::is_valid_kind;
use super::states::SurveyKind;

/// A customer's scored answer to a survey, as plugins read it (the
/// `surveys` interface of contract 0.3.0).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredAnswer {
    pub survey_id: String,
    pub kind: String,
    pub submitted_at: super::time::Millis,
    pub answers: Value,
    pub score: Value,
}

/// The answers of a Kano question, in the evaluation table's order.
pub const KANO_ANSWERS: [&str; 5] = ["like", "must_be", "neutral", "live_with", "dislike"];

/// A survey: its kind decides how answers are checked and scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Survey {
    #[schema(
        pattern = r"^([A-Za-z0-9_:-][A-Za-z0-9._:-]{0,63}|\.[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,62}|\.\.[A-Za-z0-9._:-]{1,62})$",
        example = "post-purchase"
    )]
    pub id: String,
    /// A built-in kind (`nps`, `csat`, `ces`, `satisfaction7`, `gap`,
    /// `kano`, `acsi`) or one an installed survey-scorer declares.
    #[schema(pattern = r"^[a-z][a-z0-9_-]{0,31}$", example = "nps")]
    pub kind: String,
    /// The questions, in order, each 1-64 characters and named once (kano
    /// and gap surveys name features here, at least one).
    #[serde(default)]
    #[schema(schema_with = questions_schema)]
    pub questions: Vec<String>,
    /// An `acsi` survey's weight per item (positive numbers; 1 for an item
    /// left out). The survey's scorer reads them (`survey-settings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = weights_schema)]
    pub weights: Option<std::collections::BTreeMap<String, f64>>,
    /// The settings of a survey of a kind a scorer declares, checked
    /// against the JSON Schema it gives for them; the scorer reads them
    /// (`survey-settings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
}

/// The items an ACSI survey asks when it names none.
pub const ACSI_ITEMS: [&str; 3] = ["satisfaction", "expectations", "ideal"];

impl Survey {
    /// The built-in kind, when it is one.
    pub fn builtin(&self) -> Option<SurveyKind> {
        SurveyKind::parse(&self.kind)
    }

    /// The items an `acsi` survey's answers give: its questions, else the
    /// three of the American Customer Satisfaction Index.
    pub fn acsi_items(&self) -> Vec<String> {
        if self.questions.is_empty() {
            ACSI_ITEMS.iter().map(|s| s.to_string()).collect()
        } else {
            self.questions.clone()
        }
    }

    /// What the survey's scorer reads as its settings (`{}` when none): an
    /// ACSI survey's weights, or a declared kind's settings.
    pub fn scorer_settings(&self) -> Value {
        match (&self.weights, &self.settings) {
            (Some(w), _) => serde_json::json!({ "weights": w }),
            (None, Some(s)) => s.clone(),
            (None, None) => serde_json::json!({}),
        }
    }
}

/// `weights` as the document states it: positive numbers by item name.
fn weights_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, SchemaType, Type};
    let positive = ObjectBuilder::new().schema_type(Type::Number).exclusive_minimum(Some(0.0));
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .additional_properties(Some(AdditionalProperties::RefOr(positive.into())))
        .examples([serde_json::json!({"satisfaction": 3, "expectations": 1, "ideal": 1})])
        .build()
}

/// `questions` as the document states `check_definition`'s rule.
fn questions_schema() -> utoipa::openapi::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(64)),
        )
        .max_items(Some(100))
        .unique_items(true)
        .build()
}

fn check_id(id: &str) -> Result<(), &'static str> {
    if super::ids::is_valid_id(id) {
        Ok(())
    } else {
        Err("must be 1 to 64 characters of A-Z a-z 0-9 . _ : -")
    }
}

/// Checks a survey definition (fields named as in the request body).
pub fn check_definition(s: &Survey) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Err(msg) = check_id(&s.id) {
        errors.push(FieldError::new("id", msg));
    }
    if !is_valid_kind(&s.kind) {
        errors.push(FieldError::new(
            "kind",
            "must be 1 to 32 of a-z, 0-9, _ and -, starting with a letter",
        ));
    }
    let builtin = s.builtin();
    if builtin.is_some() && s.settings.is_some() {
        errors.push(FieldError::new(
            "settings",
            format!(
                "a {} survey takes no settings (an acsi survey's weights go in `weights`)",
                s.kind
            ),
        ));
    } else if s.settings.as_ref().is_some_and(|v| !v.is_object()) {
        errors.push(FieldError::new("settings", "must be a JSON object"));
    }
    let needs_questions = matches!(builtin, Some(SurveyKind::Gap | SurveyKind::Kano));
    if needs_questions && s.questions.is_empty() {
        errors.push(FieldError::new(
            "questions",
            format!("a {} survey needs at least one question", s.kind),
        ));
    }
    if s.questions.len() > 100 {
        errors.push(FieldError::new("questions", "at most 100 questions"));
    }
    if let Some(weights) = &s.weights {
        let items = s.acsi_items();
        for (name, w) in weights {
            let field = format!("weights.{name}");
            if builtin != Some(SurveyKind::Acsi) {
                errors.push(FieldError::new("weights", "only an acsi survey has weights"));
                break;
            } else if !items.contains(name) {
                errors.push(FieldError::new(
                    field,
                    format!("is not an item of this survey ({})", items.join(", ")),
                ));
            } else if !(w.is_finite() && *w > 0.0) {
                errors.push(FieldError::new(field, "must be a positive number"));
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (i, q) in s.questions.iter().enumerate() {
        if q.is_empty() || q.chars().count() > 64 {
            errors.push(FieldError::new(format!("questions[{i}]"), "must be 1 to 64 characters"));
        } else if !seen.insert(q) {
            errors.push(FieldError::new(format!("questions[{i}]"), "is repeated"));
        }
    }
    errors
}

fn int_in(v: &Value, field: &str, low: i64, high: i64, errors: &mut Vec<FieldError>) {
    match v.get(field.rsplit('.').next().unwrap_or(field)) {
        Some(Value::Number(n)) if n.as_i64().is_some_and(|x| (low..=high).contains(&x)) => {}
        Some(Value::Number(n)) if n.as_i64().is_some() => {
            errors.push(FieldError::new(field, format!("must be from {low} to {high}, not {n}")))
        }
        _ => {
            errors.push(FieldError::new(field, format!("must be an integer from {low} to {high}")))
        }
    }
}

/// Checks the answers' named parts (`items`, `features`): a non-empty
/// object whose names are the survey's questions, each part of a known
/// name checked by `check` at its field.
fn named(
    survey: &Survey,
    answers: &Value,
    (part, noun): (&str, &str),
    field: &dyn Fn(&str) -> String,
    errors: &mut Vec<FieldError>,
    mut check: impl FnMut(String, &Value, &mut Vec<FieldError>),
) {
    match answers.get(part) {
        Some(Value::Object(parts)) if !parts.is_empty() => {
            for (name, answer) in parts {
                let at = field(&format!("{part}.{name}"));
                if survey.questions.contains(name) {
                    check(at, answer, errors);
                } else {
                    errors.push(FieldError::new(
                        at,
                        format!("is not {noun} of survey {}", survey.id),
                    ));
                }
            }
        }
        _ => errors
            .push(FieldError::new(field(part), format!("must be a non-empty object of {part}"))),
    }
}

/// Checks the `answers` of a `survey.submitted` event for `survey`;
/// `prefix` is where the answers are in the request (`data.answers`). A
/// built-in kind's by the host's rules; another kind's against `declared`,
/// the JSON Schema its scorer gives for them.
pub fn check_answers(
    survey: &Survey,
    answers: &Value,
    prefix: &str,
    declared: Option<&Value>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if !answers.is_object() {
        errors.push(FieldError::new(prefix, "must be an object"));
        return errors;
    }
    let field = |name: &str| format!("{prefix}.{name}");
    let Some(kind) = survey.builtin() else {
        if let Some(schema) = declared {
            if let Err(e) = super::manifest::check_against(schema, answers, prefix) {
                errors.extend(e);
            }
        }
        return errors;
    };
    match kind {
        SurveyKind::Nps => int_in(answers, &field("score"), 0, 10, &mut errors),
        SurveyKind::Csat => int_in(answers, &field("score"), 1, 5, &mut errors),
        SurveyKind::Ces => int_in(answers, &field("score"), 1, 7, &mut errors),
        SurveyKind::Satisfaction7 => int_in(answers, &field("level"), 1, 7, &mut errors),
        SurveyKind::Gap => {
            named(survey, answers, ("items", "an item"), &field, &mut errors, |at, item, errors| {
                if !item.is_object() {
                    errors.push(FieldError::new(at, "must be an object"));
                } else {
                    int_in(item, &format!("{at}.expectation"), 1, 7, errors);
                    int_in(item, &format!("{at}.experience"), 1, 7, errors);
                }
            })
        }
        SurveyKind::Kano => named(
            survey,
            answers,
            ("features", "a feature"),
            &field,
            &mut errors,
            |at, pair, errors| {
                for side in ["functional", "dysfunctional"] {
                    let ok = pair
                        .get(side)
                        .and_then(Value::as_str)
                        .is_some_and(|a| KANO_ANSWERS.contains(&a));
                    if !ok {
                        errors.push(FieldError::new(
                            format!("{at}.{side}"),
                            format!("must be one of {}", KANO_ANSWERS.join(", ")),
                        ));
                    }
                }
            },
        ),
        SurveyKind::Acsi => {
            for item in survey.acsi_items() {
                int_in(answers, &field(&item), 1, 10, &mut errors);
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn survey(kind: &str, questions: &[&str]) -> Survey {
        Survey {
            id: "s1".into(),
            kind: kind.into(),
            questions: questions.iter().map(|q| q.to_string()).collect(),
            weights: None,
            settings: None,
        }
    }

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn scores_in_range() {
        let nps = survey("nps", &[]);
        assert!(check_answers(&nps, &json!({"score": 0}), "data.answers", None).is_empty());
        assert!(check_answers(&nps, &json!({"score": 10}), "data.answers", None).is_empty());
        for bad in [json!({"score": 11}), json!({"score": "9"}), json!({"score": 9.5}), json!({})] {
            assert_eq!(
                fields(check_answers(&nps, &bad, "data.answers", None)),
                ["data.answers.score"]
            );
        }
        let csat = survey("csat", &[]);
        assert!(!check_answers(&csat, &json!({"score": 0}), "a", None).is_empty());
        let s7 = survey("satisfaction7", &[]);
        assert_eq!(fields(check_answers(&s7, &json!({"level": 8}), "a", None)), ["a.level"]);
        assert!(!check_answers(&nps, &json!([1]), "a", None).is_empty());
    }

    #[test]
    fn gap_and_kano_name_the_bad_part() {
        let gap = survey("gap", &["delivery"]);
        let bad = json!({"items": {"delivery": {"expectation": 0, "experience": 3}, "price": {}}});
        let mut f = fields(check_answers(&gap, &bad, "a", None));
        f.sort();
        assert_eq!(f, ["a.items.delivery.expectation", "a.items.price"]);
        let kano = survey("kano", &["wrap"]);
        let ok = json!({"features": {"wrap": {"functional": "like", "dysfunctional": "must_be"}}});
        assert!(check_answers(&kano, &ok, "a", None).is_empty());
        let bad = json!({"features": {"wrap": {"functional": "love", "dysfunctional": "like"}, "gift": {}}});
        let mut f = fields(check_answers(&kano, &bad, "a", None));
        f.sort();
        assert_eq!(f, ["a.features.gift", "a.features.wrap.functional"]);
    }

    #[test]
    fn definitions() {
        assert!(check_definition(&survey("nps", &[])).is_empty());
        assert_eq!(fields(check_definition(&survey("kano", &[]))), ["questions"]);
        assert!(SurveyKind::parse("vibes").is_none());
        // Any kind's name is a definition; whether a scorer scores it is
        // the store's to say.
        assert!(check_definition(&survey("buy-again", &[])).is_empty());
        assert_eq!(fields(check_definition(&survey("Vibes!", &[]))), ["kind"]);
        let mut nps = survey("nps", &[]);
        nps.settings = Some(json!({"x": 1}));
        assert_eq!(fields(check_definition(&nps)), ["settings"]);
        assert_eq!(fields(check_definition(&survey("gap", &["a", "a"]))), ["questions[1]"]);
    }

    #[test]
    fn a_declared_kind_is_checked_against_its_scorers_schema() {
        let s = survey("buy-again", &[]);
        let schema = json!({"type": "object", "required": ["answer"],
            "properties": {"answer": {"enum": ["yes", "no", "maybe"]}}});
        assert!(check_answers(&s, &json!({"answer": "yes"}), "a", Some(&schema)).is_empty());
        assert_eq!(
            fields(check_answers(&s, &json!({"answer": "perhaps"}), "a", Some(&schema))),
            ["a.answer"]
        );
        assert_eq!(fields(check_answers(&s, &json!({}), "a", Some(&schema))), ["a"]);
        assert!(is_valid_kind("satisfaction7") && is_valid_kind("buy-again"));
        assert!(!is_valid_kind("7up") && !is_valid_kind("") && !is_valid_kind(&"a".repeat(33)));
    }
}
