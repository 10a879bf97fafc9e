//! A third-party survey-scorer of contract 0.3.0 with a kind of its own,
//! `buy-again`: each answer is scored `{"answer", "yes"}`; the report is
//! the share of yes (three decimals) against the survey's own `target`
//! setting, read through `survey-settings`.

wit_bindgen::generate!({
    path: "../../../wit/since_v0.3.0",
    world: "survey-scorer",
});

use clientele::crm::survey_settings;
use clientele::crm::types::{PluginError, StoreContext};
use exports::clientele::crm::scoring::{Guest, Response, Survey};
use serde_json::{json, Value};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct BuyAgain;

impl Guest for BuyAgain {
    fn score(
        _ctx: StoreContext,
        _config: String,
        _survey: Survey,
        response: Response,
    ) -> Result<String, PluginError> {
        let answers: Value = serde_json::from_str(&response.answers).unwrap_or_default();
        let answer = answers["answer"].as_str().unwrap_or_default();
        Ok(json!({"answer": answer, "yes": answer == "yes"}).to_string())
    }

    fn aggregate(
        _ctx: StoreContext,
        _config: String,
        survey: Survey,
        scored: Vec<String>,
    ) -> Result<String, PluginError> {
        let yes = scored
            .iter()
            .filter(|s| serde_json::from_str::<Value>(s).is_ok_and(|v| v["yes"] == json!(true)))
            .count();
        let n = scored.len();
        let share = (n > 0).then(|| (yes as f64 / n as f64 * 1000.0).round() / 1000.0);
        let settings: Value = survey_settings::get(&survey.id)
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        let target = settings["target"].as_f64();
        let met = share.zip(target).map(|(s, t)| s >= t);
        Ok(json!({"responses": n, "yes": yes, "share": share, "target": target, "met": met})
            .to_string())
    }
}

#[cfg(target_arch = "wasm32")]
export!(BuyAgain);
