//! `{{name}}`: a churn-rescue plugin. A customer whose last order is more
//! than `lapsed_days` (config) old is at risk; one at risk gets a win-back
//! message at once and the flow ends after a week.

wit_bindgen::generate!({
    path: "wit",
    world: "{{world}}",
});

mod error;

use clientele::crm::types::{Customer, Fitted, PluginError, Population, StoreContext};
use exports::clientele::crm::rescue::{
    Action, Assessment, FlowEnd, FlowState, FlowStatus, FlowSummary, Guest, Message,
};

const DAY_MS: i64 = 86_400_000;

fn lapsed_days(config: &str) -> Result<i64, PluginError> {
    let config: serde_json::Value =
        serde_json::from_str(config).map_err(|e| format!("the config is not JSON: {e}"))?;
    Ok(config["lapsed_days"].as_i64().unwrap_or(90))
}

/// The risk of a customer whose last order was `days` ago: 0 until the
/// threshold, then rising to 1 at twice it.
pub fn risk(days: i64, lapsed_days: i64) -> f64 {
    let t = lapsed_days.max(1) as f64;
    ((days as f64 - t) / t).clamp(0.0, 1.0)
}


#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Plugin;

impl Guest for Plugin {
    fn fit(
        _ctx: StoreContext,
        _config: String,
        population: Population,
    ) -> Result<Fitted, PluginError> {
        Ok(Fitted {
            model: Vec::new(),
            summary: serde_json::json!({"customers": population.rows.len()}).to_string(),
        })
    }

    fn assess(
        _ctx: StoreContext,
        config: String,
        _model: Vec<u8>,
        customer: Customer,
        as_of: i64,
    ) -> Result<Assessment, PluginError> {
        let days = customer
            .stats
            .last_order_at
            .map_or(0, |t| (as_of - t).max(0) / DAY_MS);
        let risk = risk(days, lapsed_days(&config)?);
        Ok(Assessment {
            p_alive: 1.0 - risk,
            risk,
            value_cents: customer.stats.net_spend_cents,
            details: serde_json::json!({"days_since_last_order": days}).to_string(),
        })
    }

    fn plan(
        ctx: StoreContext,
        _config: String,
        assessment: Assessment,
        _customer: Customer,
        current: Option<FlowSummary>,
    ) -> Result<Vec<Action>, PluginError> {
        // Leave a customer alone for 30 days after a flow of theirs ended.
        let ended = current
            .filter(|f| matches!(f.status, FlowStatus::Rescued | FlowStatus::Expired))
            .and_then(|f| f.ended_at);
        if ended.is_some_and(|at| ctx.at - at < 30 * DAY_MS) {
            return Ok(vec![]);
        }
        if assessment.risk < 0.5 {
            return Ok(vec![Action::EndFlow(FlowEnd::Skipped)]);
        }
        Ok(vec![
            Action::SendMessage(Message {
                channel: "email".into(),
                template: "we-miss-you".into(),
                vars: "{}".into(),
            }),
            Action::Schedule((7 * 86_400, 1)),
        ])
    }

    fn on_timer(
        _ctx: StoreContext,
        _config: String,
        _customer: Customer,
        _flow: FlowState,
    ) -> Result<Vec<Action>, PluginError> {
        Ok(vec![Action::EndFlow(FlowEnd::Expired)])
    }
}

#[cfg(target_arch = "wasm32")]
export!(Plugin);

#[cfg(test)]
mod tests {
    #[test]
    fn risk_rises_after_the_threshold() {
        assert_eq!(super::risk(30, 90), 0.0);
        assert_eq!(super::risk(135, 90), 0.5);
        assert_eq!(super::risk(400, 90), 1.0);
    }
}
