//! `plugin.toml`: what a plugin says about itself.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::event::FieldError;
use super::ids::is_valid_plugin_name;
use super::states::SurveyKind;
use super::{Capability, DataScope, World};
use std::collections::BTreeMap;

/// Resource limits a plugin asks for; the host caps each at its maximum.
///
/// The compute budget is `fuel` (wasm work, about one unit per
/// instruction), so a call succeeds or fails the same way on a busy machine
/// as on an idle one. The wall-clock deadlines are a generous backstop for
/// what fuel does not count: time spent waiting in the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub memory_mib: u32,
    /// Linear memory of one `fit` (or `aggregate`): a whole population
    /// lowered into the guest, and every row's answer lifted out of it.
    pub fit_memory_mib: u32,
    /// Fuel of one call.
    pub fuel: u64,
    /// Fuel of one `fit` (or `aggregate`) over a population.
    pub fit_fuel: u64,
    pub timeout_ms: u32,
    pub fit_timeout_ms: u32,
}

impl Limits {
    /// What a plugin gets when its manifest says nothing.
    pub const DEFAULT: Limits = Limits {
        memory_mib: 64,
        fit_memory_mib: 256,
        fuel: 100_000_000,
        fit_fuel: 200_000_000_000,
        timeout_ms: 1_000,
        fit_timeout_ms: 60_000,
    };

    /// The host's ceiling when it is not configured.
    pub const HOST_MAX: Limits = Limits {
        memory_mib: 256,
        fit_memory_mib: 2048,
        fuel: 2_000_000_000,
        fit_fuel: 2_000_000_000_000,
        timeout_ms: 5_000,
        fit_timeout_ms: 300_000,
    };

    /// Each limit capped at the host's maximum.
    pub fn capped(self, max: Limits) -> Limits {
        Limits {
            memory_mib: self.memory_mib.min(max.memory_mib),
            fit_memory_mib: self.fit_memory_mib.min(max.fit_memory_mib),
            fuel: self.fuel.min(max.fuel),
            fit_fuel: self.fit_fuel.min(max.fit_fuel),
            timeout_ms: self.timeout_ms.min(max.timeout_ms),
            fit_timeout_ms: self.fit_timeout_ms.min(max.fit_timeout_ms),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Manifest {
    pub name: String,
    pub version: semver::Version,
    pub world: World,
    pub description: String,
    pub capabilities: Vec<Capability>,
    /// The customer data it asks to see (granted per install).
    pub scopes: Vec<DataScope>,
    pub limits: Limits,
    /// The install config's JSON Schema (`{}` accepts anything).
    pub config_schema: Value,
    /// The survey kinds a survey-scorer declares it scores, by name (none:
    /// it scores the built-in kinds).
    pub survey_kinds: BTreeMap<String, DeclaredKind>,
}

/// A survey kind a scorer declares: the JSON Schema its answers must fit
/// (checked at intake) and that of a survey's own settings, if it takes
/// any. The built-in kinds' answers are checked by the host's own rules,
/// which know the survey's questions.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeclaredKind {
    pub answers: Option<Value>,
    pub settings: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    version: String,
    world: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    config: RawConfig,
    #[serde(default)]
    survey_kinds: BTreeMap<String, RawKind>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawKind {
    answers: Option<String>,
    settings: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    memory_mib: Option<u32>,
    fit_memory_mib: Option<u32>,
    fuel: Option<u64>,
    fit_fuel: Option<u64>,
    timeout_ms: Option<u32>,
    fit_timeout_ms: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    schema: Option<String>,
}

impl Manifest {
    /// The config schema of a manifest that was checked when its version
    /// was published: read, not compiled and checked again (`{}` when it
    /// has none).
    pub fn published_config_schema(text: &str) -> Value {
        toml::from_str::<RawManifest>(text)
            .ok()
            .and_then(|raw| raw.config.schema)
            .and_then(|schema| serde_json::from_str(&schema).ok())
            .unwrap_or_else(|| serde_json::json!({}))
    }

    /// The survey kinds of a manifest that was checked when its version was
    /// published (read, not checked again).
    pub fn published_survey_kinds(text: &str) -> BTreeMap<String, DeclaredKind> {
        let Ok(raw) = toml::from_str::<RawManifest>(text) else {
            return BTreeMap::new();
        };
        let json = |t: &Option<String>| t.as_deref().and_then(|t| serde_json::from_str(t).ok());
        raw.survey_kinds
            .iter()
            .map(|(name, k)| {
                (
                    name.clone(),
                    DeclaredKind { answers: json(&k.answers), settings: json(&k.settings) },
                )
            })
            .collect()
    }

    pub fn parse(text: &str) -> Result<Manifest, Vec<FieldError>> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| {
            vec![FieldError::new(
                "manifest",
                format!("is not a valid plugin.toml: {}", e.message()),
            )]
        })?;
        let mut errors = Vec::new();
        if !is_valid_plugin_name(&raw.name) {
            errors.push(FieldError::new("manifest.name", "must match [a-z0-9-]{1,64}"));
        }
        let version = semver::Version::parse(&raw.version).unwrap_or_else(|_| {
            errors.push(FieldError::new(
                "manifest.version",
                "must be a semantic version such as 1.0.0",
            ));
            semver::Version::new(0, 0, 0)
        });
        let world = World::parse(&raw.world).unwrap_or_else(|| {
            errors.push(FieldError::new(
                "manifest.world",
                "must be one of point-rules, segmenter, survey-scorer, churn-rescue",
            ));
            World::PointRules
        });
        let known = "messaging, state";
        let mut capabilities = set_of(
            &raw.capabilities,
            Capability::parse,
            ["capabilities", "capability", known],
            &mut errors,
        );
        capabilities.sort();
        let known = DataScope::list();
        let scopes =
            set_of(&raw.scopes, DataScope::parse, ["scopes", "scope", &known], &mut errors);
        let d = Limits::DEFAULT;
        let limits = Limits {
            memory_mib: raw.limits.memory_mib.unwrap_or(d.memory_mib),
            // A fit gets at least what a call gets.
            fit_memory_mib: raw
                .limits
                .fit_memory_mib
                .unwrap_or(d.fit_memory_mib)
                .max(raw.limits.memory_mib.unwrap_or(d.memory_mib)),
            fuel: raw.limits.fuel.unwrap_or(d.fuel),
            fit_fuel: raw.limits.fit_fuel.unwrap_or(d.fit_fuel),
            timeout_ms: raw.limits.timeout_ms.unwrap_or(d.timeout_ms),
            fit_timeout_ms: raw.limits.fit_timeout_ms.unwrap_or(d.fit_timeout_ms),
        };
        for (field, v) in [
            ("manifest.limits.memory_mib", u64::from(limits.memory_mib)),
            ("manifest.limits.fit_memory_mib", u64::from(limits.fit_memory_mib)),
            ("manifest.limits.fuel", limits.fuel),
            ("manifest.limits.fit_fuel", limits.fit_fuel),
            ("manifest.limits.timeout_ms", u64::from(limits.timeout_ms)),
            ("manifest.limits.fit_timeout_ms", u64::from(limits.fit_timeout_ms)),
        ] {
            if v == 0 {
                errors.push(FieldError::new(field, "must be at least 1"));
            }
        }
        let config_schema =
            raw.config.schema.as_deref().map_or(serde_json::json!({}), |t| {
                schema_of(t, "manifest.config.schema", &mut errors)
            });
        let survey_kinds = survey_kinds(&raw.survey_kinds, world, &mut errors);
        for (field, scope) in fields_needing_grants(&config_schema) {
            let asked = DataScope::parse(&scope).is_some_and(|s| scopes.contains(&s));
            if !asked {
                errors.push(FieldError::new(
                    "manifest.config.schema",
                    format!(
                        "`{field}` says it needs the `{scope}` grant (x-needs-grant), which the \
                         plugin does not ask for in `scopes`"
                    ),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Manifest {
            name: raw.name,
            version,
            world,
            description: raw.description,
            capabilities,
            scopes,
            limits,
            config_schema,
            survey_kinds,
        })
    }
}

/// Whether `kind` is a survey kind's name: 1 to 32 of a-z, 0-9, `_` and `-`,
/// starting with a letter.
pub fn is_valid_kind(kind: &str) -> bool {
    let mut chars = kind.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && kind.len() <= 32
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// The kinds a scorer scores: those it declares, or the built-in ones when
/// it declares none.
pub fn kinds_scored(declared: &BTreeMap<String, DeclaredKind>) -> Vec<String> {
    if declared.is_empty() {
        SurveyKind::ALL.iter().map(|k| k.as_str().to_string()).collect()
    } else {
        declared.keys().cloned().collect()
    }
}

/// A JSON Schema given as text, checked; `Null` (and an error at `field`)
/// when it is not one.
fn schema_of(text: &str, field: &str, errors: &mut Vec<FieldError>) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(schema) => match jsonschema::validator_for(&schema) {
            Ok(_) => schema,
            Err(e) => {
                errors.push(FieldError::new(field, format!("is not a valid JSON Schema: {e}")));
                Value::Null
            }
        },
        Err(e) => {
            errors.push(FieldError::new(field, format!("is not valid JSON: {e}")));
            Value::Null
        }
    }
}

/// The survey kinds a manifest declares, checked: only a survey-scorer
/// declares any; a name is 1–32 of a-z, 0-9, `_`, `-` starting with a
/// letter; a kind of its own (not built in) needs its answers' schema.
fn survey_kinds(
    raw: &BTreeMap<String, RawKind>,
    world: World,
    errors: &mut Vec<FieldError>,
) -> BTreeMap<String, DeclaredKind> {
    if !raw.is_empty() && world != World::SurveyScorer {
        errors.push(FieldError::new(
            "manifest.survey_kinds",
            "only a survey-scorer declares survey kinds",
        ));
        return BTreeMap::new();
    }
    let mut out = BTreeMap::new();
    for (name, k) in raw {
        let at = format!("manifest.survey_kinds.{name}");
        if !is_valid_kind(name) {
            errors.push(FieldError::new(
                &at,
                "a kind's name is 1 to 32 of a-z, 0-9, _ and -, starting with a letter",
            ));
            continue;
        }
        let builtin = SurveyKind::parse(name).is_some();
        if k.answers.is_none() && !builtin {
            errors.push(FieldError::new(
                format!("{at}.answers"),
                "a kind of the plugin's own needs the JSON Schema of its answers",
            ));
        }
        let mut schema = |t: &Option<String>, part: &str| {
            t.as_deref().map(|t| schema_of(t, &format!("{at}.{part}"), errors))
        };
        let kind = DeclaredKind {
            answers: schema(&k.answers, "answers"),
            settings: schema(&k.settings, "settings"),
        };
        out.insert(name.clone(), kind);
    }
    out
}

/// Checks an install config against a plugin's schema; every failure names
/// its JSON path under `config`.
pub fn check_config(schema: &Value, config: &Value) -> Result<(), Vec<FieldError>> {
    check_against(schema, config, "config")
}

/// Checks `value` against a plugin's JSON Schema; every failure names its
/// JSON path under `root` (`data.answers.score`).
pub fn check_against(schema: &Value, value: &Value, root: &str) -> Result<(), Vec<FieldError>> {
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| vec![FieldError::new(root, format!("plugin schema is invalid: {e}"))])?;
    let errors: Vec<FieldError> = validator
        .iter_errors(value)
        .map(|e| {
            let path = e.instance_path.to_string();
            let field = if path.is_empty() {
                root.to_string()
            } else {
                format!("{root}{}", path.replace('/', "."))
            };
            FieldError::new(field, e.to_string())
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A config field the schema marks `"x-needs-grant": "<scope>"`: a field
/// whose value the plugin can act on only when the install grants that
/// scope (a birthday multiplier needs `pii` to see the birthday).
struct NeedsGrant<'a> {
    /// Property names from the config's root.
    names: Vec<&'a str>,
    scope: &'a str,
    /// The property's own schema (for its `default`).
    property: &'a Value,
}

impl NeedsGrant<'_> {
    /// `config.<name>.<name>…`, as errors name fields.
    fn field(&self) -> String {
        std::iter::once("config").chain(self.names.iter().copied()).collect::<Vec<_>>().join(".")
    }
}

/// Every property a schema marks `x-needs-grant`, at any depth of
/// `properties`.
fn needing_grants(schema: &Value) -> Vec<NeedsGrant<'_>> {
    fn walk<'a>(schema: &'a Value, names: &mut Vec<&'a str>, out: &mut Vec<NeedsGrant<'a>>) {
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            return;
        };
        for (name, property) in properties {
            names.push(name);
            if let Some(scope) = property.get("x-needs-grant").and_then(Value::as_str) {
                out.push(NeedsGrant { names: names.clone(), scope, property });
            }
            walk(property, names, out);
            names.pop();
        }
    }
    let mut out = Vec::new();
    walk(schema, &mut Vec::new(), &mut out);
    out
}

/// Config fields a schema marks `x-needs-grant`, as (`config.<path>`,
/// scope).
pub fn fields_needing_grants(schema: &Value) -> Vec<(String, String)> {
    needing_grants(schema).iter().map(|n| (n.field(), n.scope.to_string())).collect()
}

/// The config sets a field the install cannot use: one the schema marks
/// `x-needs-grant` with a scope not in `grants`, set to anything but its
/// `default` (or null). A 422 at that field, naming the grant, instead of
/// a setting accepted and then silently never applied.
pub fn check_grants_for_config(
    schema: &Value,
    config: &Value,
    grants: &[String],
) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    for need in needing_grants(schema) {
        if grants.iter().any(|g| g == need.scope) {
            continue;
        }
        let value = need.names.iter().fold(config, |v, name| v.get(name).unwrap_or(&Value::Null));
        let default = need.property.get("default").unwrap_or(&Value::Null);
        let same_as_default =
            value == default || (value.as_f64().is_some() && value.as_f64() == default.as_f64());
        if !value.is_null() && !same_as_default {
            let scope = need.scope;
            errors.push(FieldError::new(
                need.field(),
                format!(
                    "needs the `{scope}` grant: without it the plugin cannot apply this setting; \
                     add \"{scope}\" to the install's `grants`, or leave the field out"
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The distinct known names of a manifest list, in their order; an
/// unknown one is an error at `manifest.{field}` naming the known ones.
fn set_of<T: PartialEq>(
    names: &[String],
    parse: impl Fn(&str) -> Option<T>,
    [field, noun, known]: [&str; 3],
    errors: &mut Vec<FieldError>,
) -> Vec<T> {
    let mut set = Vec::new();
    for name in names {
        match parse(name) {
            Some(t) if !set.contains(&t) => set.push(t),
            Some(_) => {}
            None => errors.push(FieldError::new(
                format!("manifest.{field}"),
                format!("unknown {noun} `{name}` (known: {known})"),
            )),
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survey_kinds_are_a_scorers_and_its_own_need_an_answer_schema() {
        let scorer = |kinds: &str| {
            format!("name = \"s\"\nversion = \"1.0.0\"\nworld = \"survey-scorer\"\n{kinds}")
        };
        let ok = scorer(
            "[survey_kinds.buy-again]\nanswers = '{\"type\": \"object\"}'\n[survey_kinds.nps]\n",
        );
        let m = Manifest::parse(&ok).unwrap();
        assert_eq!(m.survey_kinds.keys().collect::<Vec<_>>(), ["buy-again", "nps"]);
        assert_eq!(Manifest::published_survey_kinds(&ok), m.survey_kinds);
        let fields = |text: &str| -> Vec<String> {
            Manifest::parse(text).unwrap_err().into_iter().map(|e| e.field).collect()
        };
        assert_eq!(
            fields(&scorer("[survey_kinds.mine]\n")),
            ["manifest.survey_kinds.mine.answers"]
        );
        assert_eq!(fields(&scorer("[survey_kinds.Mine]\n")), ["manifest.survey_kinds.Mine"]);
        let bad_schema = scorer("[survey_kinds.mine]\nanswers = '{\"type\": 7}'\n");
        assert_eq!(fields(&bad_schema), ["manifest.survey_kinds.mine.answers"]);
        let rules =
            "name = \"p\"\nversion = \"1.0.0\"\nworld = \"point-rules\"\n[survey_kinds.nps]\n";
        assert_eq!(fields(rules), ["manifest.survey_kinds"]);
    }

    const GOOD: &str = r#"
name = "points-basic"
version = "1.0.0"
world = "point-rules"
capabilities = ["state"]
[limits]
memory_mib = 32
[config]
schema = '''{"type":"object","properties":{"unit_cents":{"type":"integer","minimum":1}}}'''
"#;

    #[test]
    fn parses_and_checks_config() {
        let m = Manifest::parse(GOOD).unwrap();
        assert_eq!(m.world, World::PointRules);
        assert_eq!(m.capabilities, [Capability::State]);
        assert_eq!(m.limits.memory_mib, 32);
        // A fit gets its own memory, never less than a call.
        assert_eq!(m.limits.fit_memory_mib, Limits::DEFAULT.fit_memory_mib);
        let big = GOOD.replace("memory_mib = 32", "memory_mib = 300");
        assert_eq!(Manifest::parse(&big).unwrap().limits.fit_memory_mib, 300);
        assert_eq!(m.limits.timeout_ms, 1_000);
        assert_eq!(m.limits.fuel, Limits::DEFAULT.fuel);
        assert!(check_config(&m.config_schema, &serde_json::json!({"unit_cents": 5})).is_ok());
        let errs =
            check_config(&m.config_schema, &serde_json::json!({"unit_cents": 0})).unwrap_err();
        assert_eq!(errs[0].field, "config.unit_cents");
    }

    #[test]
    fn a_published_manifest_gives_its_schema_as_parsing_would() {
        let parsed = Manifest::parse(GOOD).unwrap().config_schema;
        assert_eq!(Manifest::published_config_schema(GOOD), parsed);
        let bare = "name = \"p\"\nversion = \"1.0.0\"\nworld = \"segmenter\"\n";
        assert_eq!(
            Manifest::published_config_schema(bare),
            Manifest::parse(bare).unwrap().config_schema
        );
    }

    #[test]
    fn names_manifest_errors() {
        let errs = Manifest::parse(
            "name = \"Bad Name\"\nversion = \"one\"\nworld = \"nope\"\ncapabilities = [\"net\"]",
        )
        .unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["manifest.name", "manifest.version", "manifest.world", "manifest.capabilities"]
        );
        assert!(Manifest::parse("not toml [").is_err());
    }

    #[test]
    fn a_field_may_need_only_a_grant_the_plugin_asks_for() {
        let with = |scopes: &str| {
            GOOD.replace(
                "capabilities = [\"state\"]",
                &format!("capabilities = [\"state\"]\nscopes = [{scopes}]"),
            )
            .replace(
                r#"{"type":"integer","minimum":1}"#,
                r#"{"type":"integer","minimum":1,"x-needs-grant":"pii"}"#,
            )
        };
        assert!(Manifest::parse(&with("\"pii\"")).is_ok());
        let errs = Manifest::parse(&with("")).unwrap_err();
        assert_eq!(errs[0].field, "manifest.config.schema");
        assert!(errs[0].message.contains("config.unit_cents"), "{}", errs[0].message);
    }

    #[test]
    fn a_field_that_needs_a_grant_is_refused_without_it() {
        let schema = serde_json::json!({"type": "object", "properties": {
            "m": {"type": "number", "default": 1.0, "x-needs-grant": "pii"},
            "nested": {"type": "object", "properties": {"n": {"type": "string", "x-needs-grant": "pii"}}},
            "free": {"type": "number"}}});
        assert_eq!(
            super::fields_needing_grants(&schema),
            [
                ("config.m".to_string(), "pii".to_string()),
                ("config.nested.n".to_string(), "pii".to_string())
            ]
        );
        let check = |config: serde_json::Value, grants: &[&str]| {
            let grants: Vec<String> = grants.iter().map(|g| g.to_string()).collect();
            super::check_grants_for_config(&schema, &config, &grants)
                .err()
                .map(|e| e.into_iter().map(|e| e.field).collect::<Vec<_>>())
        };
        assert_eq!(check(serde_json::json!({"m": 2.0}), &[]), Some(vec!["config.m".to_string()]));
        assert_eq!(check(serde_json::json!({"m": 2.0}), &["pii"]), None);
        assert_eq!(check(serde_json::json!({"m": 1}), &[]), None, "the default does nothing");
        assert_eq!(check(serde_json::json!({"m": null, "free": 3}), &[]), None);
        assert_eq!(
            check(serde_json::json!({"nested": {"n": "x"}}), &[]),
            Some(vec!["config.nested.n".to_string()])
        );
    }
}
