//! `clientele plugin new NAME --world W --lang L`: a plugin folder that
//! builds, passes its own unit test and runs locally out of the box — a
//! manifest with a config schema, the source, a sample event and config,
//! and the contract (`wit/`) it is built against.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::domain::ids::is_valid_plugin_name;
use crate::domain::World;

/// A plugin's language, as `--lang` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

/// The toolchain the host is built with: a Rust plugin pins the same one,
/// with the wasm32-wasip2 target.
const RUST_TOOLCHAIN: &str = include_str!("../../../rust-toolchain.toml");

/// A sample order, for `plugin run --event events/order.json`.
const SAMPLE_ORDER: &str = r#"{
  "id": "evt-1",
  "type": "order.placed",
  "customer_id": "c-1",
  "occurred_at": "2026-03-05T10:00:00Z",
  "data": {
    "order_id": "o-1",
    "total_cents": 12900,
    "currency": "CNY",
    "items": [{"sku": "longjing-50g", "category": "green", "qty": 1, "price_cents": 12900}]
  }
}
"#;

const SAMPLE_SURVEY_RESPONSE: &str = r#"{
  "id": "evt-1",
  "type": "survey.submitted",
  "customer_id": "c-1",
  "occurred_at": "2026-03-05T10:00:00Z",
  "data": {"survey_id": "nps-1", "answers": {"score": 9}}
}
"#;

/// What a new scorer's manifest says of the kinds it scores.
const SCORER_KINDS: &str = "\n# The survey kinds this plugin scores: a store sends it the responses to\n\
# surveys of these kinds (one scorer per kind in a store). A kind of your own\n\
# (say `buy-again`) also gives the JSON Schema of its answers, checked at\n\
# intake, and may give one of a survey's own settings:\n\
#   [survey_kinds.buy-again]\n\
#   answers = '{\"type\": \"object\", \"required\": [\"answer\"], \"properties\": {\"answer\": {\"enum\": [\"yes\", \"no\"]}}}'\n\
[survey_kinds.nps]\n";

const SAMPLE_SURVEY: &str = r#"{"id": "nps-1", "kind": "nps", "questions": []}
"#;

const SAMPLE_POPULATION: &str = r#"{
  "as_of": "2026-03-31T00:00:00Z",
  "rows": [
    {"customer_id": "c-1", "orders": 3, "repeat_days": 2, "first_order": "2025-06-01T10:00:00Z",
     "last_order": "2026-03-05T10:00:00Z", "net_spend_cents": 38700},
    {"customer_id": "c-2", "orders": 1, "repeat_days": 0, "first_order": "2025-01-10T10:00:00Z",
     "last_order": "2025-01-10T10:00:00Z", "net_spend_cents": 4900}
  ]
}
"#;

/// What one world's scaffold needs: the sample files and the manifest's
/// config schema.
struct WorldFiles {
    events: &'static [(&'static str, &'static str)],
    extra: &'static [(&'static str, &'static str)],
    schema: &'static str,
    config: &'static str,
}

fn world_files(world: World) -> WorldFiles {
    match world {
        World::PointRules => WorldFiles {
            events: &[("events/order.json", SAMPLE_ORDER)],
            extra: &[],
            schema: r#"{"type": "object", "properties": {"cents_per_point": {"type": "integer", "minimum": 1}}, "additionalProperties": false}"#,
            config: "{\"cents_per_point\": 100}\n",
        },
        World::Segmenter => WorldFiles {
            events: &[("events/order.json", SAMPLE_ORDER)],
            extra: &[("population.json", SAMPLE_POPULATION)],
            schema: r#"{"type": "object", "properties": {"vip_cents": {"type": "integer", "minimum": 0}}, "additionalProperties": false}"#,
            config: "{\"vip_cents\": 30000}\n",
        },
        World::SurveyScorer => WorldFiles {
            events: &[("events/response.json", SAMPLE_SURVEY_RESPONSE)],
            extra: &[("survey.json", SAMPLE_SURVEY)],
            schema: r#"{"type": "object", "additionalProperties": false}"#,
            config: "{}\n",
        },
        World::ChurnRescue => WorldFiles {
            events: &[("events/order.json", SAMPLE_ORDER)],
            extra: &[("population.json", SAMPLE_POPULATION)],
            schema: r#"{"type": "object", "properties": {"lapsed_days": {"type": "integer", "minimum": 1}}, "additionalProperties": false}"#,
            config: "{\"lapsed_days\": 90}\n",
        },
        World::Responder => WorldFiles {
            events: &[("events/order.json", SAMPLE_ORDER)],
            extra: &[],
            schema: r#"{"type": "object", "properties": {"follow_up_days": {"type": "integer", "minimum": 0}}, "additionalProperties": false}"#,
            config: "{\"follow_up_days\": 7}\n",
        },
    }
}

/// The source files of a world in a language.
fn sources(world: World, lang: Lang) -> Vec<(&'static str, &'static str)> {
    match (lang, world) {
        (Lang::Rust, _) => vec![
            ("Cargo.toml", include_str!("templates/rust/Cargo.toml")),
            (
                "src/lib.rs",
                match world {
                    World::PointRules => include_str!("templates/rust/point_rules.rs"),
                    World::Segmenter => include_str!("templates/rust/segmenter.rs"),
                    World::SurveyScorer => include_str!("templates/rust/survey_scorer.rs"),
                    World::ChurnRescue => include_str!("templates/rust/churn_rescue.rs"),
                    World::Responder => include_str!("templates/rust/responder.rs"),
                },
            ),
            ("src/error.rs", include_str!("templates/rust/error.rs")),
            (".gitignore", "/target\n"),
        ],
        (Lang::Python, world) => {
            let (app, rules, test) = match world {
                World::PointRules => (
                    include_str!("templates/python/point_rules_app.py"),
                    include_str!("templates/python/point_rules_rules.py"),
                    include_str!("templates/python/point_rules_test.py"),
                ),
                World::Segmenter => (
                    include_str!("templates/python/segmenter_app.py"),
                    include_str!("templates/python/segmenter_rules.py"),
                    include_str!("templates/python/segmenter_test.py"),
                ),
                World::SurveyScorer => (
                    include_str!("templates/python/survey_scorer_app.py"),
                    include_str!("templates/python/survey_scorer_rules.py"),
                    include_str!("templates/python/survey_scorer_test.py"),
                ),
                World::ChurnRescue => (
                    include_str!("templates/python/churn_rescue_app.py"),
                    include_str!("templates/python/churn_rescue_rules.py"),
                    include_str!("templates/python/churn_rescue_test.py"),
                ),
                World::Responder => (
                    include_str!("templates/python/responder_app.py"),
                    include_str!("templates/python/responder_rules.py"),
                    include_str!("templates/python/responder_test.py"),
                ),
            };
            vec![
                ("app.py", app),
                ("rules.py", rules),
                ("test_rules.py", test),
                (".gitignore", "/build\n__pycache__/\n"),
            ]
        }
        (Lang::Js, world) => {
            let (app, rules, test) = match world {
                World::PointRules => (
                    include_str!("templates/js/point_rules_app.js"),
                    include_str!("templates/js/point_rules_rules.js"),
                    include_str!("templates/js/point_rules_test.js"),
                ),
                World::Segmenter => (
                    include_str!("templates/js/segmenter_app.js"),
                    include_str!("templates/js/segmenter_rules.js"),
                    include_str!("templates/js/segmenter_test.js"),
                ),
                World::SurveyScorer => (
                    include_str!("templates/js/survey_scorer_app.js"),
                    include_str!("templates/js/survey_scorer_rules.js"),
                    include_str!("templates/js/survey_scorer_test.js"),
                ),
                World::ChurnRescue => (
                    include_str!("templates/js/churn_rescue_app.js"),
                    include_str!("templates/js/churn_rescue_rules.js"),
                    include_str!("templates/js/churn_rescue_test.js"),
                ),
                World::Responder => (
                    include_str!("templates/js/responder_app.js"),
                    include_str!("templates/js/responder_rules.js"),
                    include_str!("templates/js/responder_test.js"),
                ),
            };
            vec![
                ("app.js", app),
                ("rules.js", rules),
                ("rules.test.js", test),
                ("package.json", include_str!("templates/js/package.json")),
                (".gitignore", "/build\n"),
            ]
        }
    }
}

/// Writes the plugin folder `parent/NAME`; returns its path.
pub fn new_plugin(name: &str, world: World, lang: Lang, parent: &Path) -> anyhow::Result<PathBuf> {
    if !is_valid_plugin_name(name) {
        bail!("`{name}` is not a plugin name: use 1-64 of [a-z0-9-]");
    }
    let dir = parent.join(name);
    if dir.exists() {
        bail!("{} exists already; choose another name or folder", dir.display());
    }
    let w = world_files(world);
    let crate_name = name.replace('-', "_");
    let world_name = world.name();
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{crate}}", &crate_name)
            .replace("{{world}}", world_name)
    };
    let mut files: Vec<(String, String)> = vec![(
        "plugin.toml".into(),
        format!(
            "name = \"{name}\"\nversion = \"0.1.0\"\nworld = \"{world_name}\"\n\
             description = \"A {world_name} plugin.\"\ncapabilities = []\n\n\
             [limits]\nfuel = 10000000\n\n[config]\nschema = '''{}'''\n",
            w.schema
        ) + if world == World::SurveyScorer { SCORER_KINDS } else { "" },
    )];
    files.push(("config.json".into(), w.config.into()));
    for (path, text) in w.events.iter().chain(w.extra) {
        files.push((path.to_string(), text.to_string()));
    }
    for (path, text) in sources(world, lang) {
        files.push((path.to_string(), fill(text)));
    }
    if lang == Lang::Rust {
        files.push(("rust-toolchain.toml".into(), RUST_TOOLCHAIN.into()));
    }
    for (file, text) in clientele_plugin_build::WIT_FILES {
        files.push((format!("wit/{file}"), text.to_string()));
    }
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(dir)
}

/// What to do next, for the person who ran `plugin new`.
pub fn next_steps(dir: &Path, world: World, lang: Lang) -> String {
    let d = dir.display();
    let test = match lang {
        Lang::Rust => format!("cd {d} && cargo test"),
        Lang::Python => format!("cd {d} && python3 -m unittest"),
        Lang::Js => format!("cd {d} && node --test"),
    };
    let extra = match world {
        World::Segmenter | World::ChurnRescue => format!(" --fit --population {d}/population.json"),
        World::SurveyScorer => format!(" --survey {d}/survey.json"),
        World::PointRules | World::Responder => String::new(),
    };
    format!(
        "created {d}\n  its unit test:  {test}\n  run it:         clientele plugin run {d} --event {d}/events --config {d}/config.json{extra}\n  publish it:     clientele plugin publish {d} --server http://127.0.0.1:8080   (token in CLIENTELE_ADMIN_TOKEN)"
    )
}
