//! `{{name}}`: a survey scorer for NPS surveys: a 9 or 10 is a promoter,
//! 7-8 passive, 0-6 a detractor; the report is the NPS.

wit_bindgen::generate!({
    path: "wit",
    world: "{{world}}",
});

mod error;

use clientele::crm::types::{PluginError, StoreContext};
use exports::clientele::crm::scoring::{Guest, Response, Survey};

/// The group of an NPS answer.
pub fn group(score: i64) -> &'static str {
    match score {
        9..=10 => "promoter",
        7..=8 => "passive",
        _ => "detractor",
    }
}


#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Plugin;

impl Guest for Plugin {
    fn score(
        _ctx: StoreContext,
        _config: String,
        survey: Survey,
        response: Response,
    ) -> Result<String, PluginError> {
        if survey.kind != "nps" {
            return Err(format!("this scorer knows nps surveys, not {}", survey.kind).into());
        }
        let answers: serde_json::Value = serde_json::from_str(&response.answers)
            .map_err(|e| format!("the answers are not JSON: {e}"))?;
        let score = answers["score"]
            .as_i64()
            .filter(|s| (0..=10).contains(s))
            .ok_or("an NPS answer is {\"score\": 0..10}")?;
        Ok(serde_json::json!({"score": score, "group": group(score)}).to_string())
    }

    fn aggregate(
        _ctx: StoreContext,
        _config: String,
        _survey: Survey,
        scored: Vec<String>,
    ) -> Result<String, PluginError> {
        let (mut promoters, mut detractors) = (0i64, 0i64);
        for s in &scored {
            let v: serde_json::Value = serde_json::from_str(s).map_err(|e| e.to_string())?;
            match v["group"].as_str() {
                Some("promoter") => promoters += 1,
                Some("detractor") => detractors += 1,
                _ => {}
            }
        }
        let n = scored.len().max(1) as f64;
        let nps = 100.0 * (promoters - detractors) as f64 / n;
        Ok(serde_json::json!({"responses": scored.len(), "nps": nps}).to_string())
    }
}

#[cfg(target_arch = "wasm32")]
export!(Plugin);

#[cfg(test)]
mod tests {
    #[test]
    fn groups() {
        assert_eq!(super::group(10), "promoter");
        assert_eq!(super::group(7), "passive");
        assert_eq!(super::group(0), "detractor");
    }
}
