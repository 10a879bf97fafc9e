//! `{{name}}`: a responder plugin. Thanks a customer for each order at
//! once, and asks how it went `follow_up_days` (config) later — unless
//! they order again before then, which moves the question on.

wit_bindgen::generate!({
    path: "wit",
    world: "{{world}}",
});

mod error;

use clientele::crm::types::{Customer, Event, EventKind, PluginError, StoreContext};
use exports::clientele::crm::reactions::{Action, Guest, Message, Timer, TimerRequest};

const DAY_MS: i64 = 86_400_000;

fn follow_up_days(config: &str) -> Result<i64, PluginError> {
    let config: serde_json::Value =
        serde_json::from_str(config).map_err(|e| format!("the config is not JSON: {e}"))?;
    Ok(config["follow_up_days"].as_i64().unwrap_or(7))
}

/// When to ask about an order placed at `at`.
pub fn follow_up_at(at: i64, days: i64) -> i64 {
    at + days.max(0) * DAY_MS
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Plugin;

impl Guest for Plugin {
    fn on_event(
        _ctx: StoreContext,
        config: String,
        _customer: Customer,
        event: Event,
    ) -> Result<Vec<Action>, PluginError> {
        let EventKind::OrderPlaced(order) = event.kind else {
            return Ok(vec![]);
        };
        let vars = serde_json::json!({"order_id": order.order_id}).to_string();
        Ok(vec![
            Action::SendMessage(Message {
                channel: "email".into(),
                template: "thank-you".into(),
                vars: vars.clone(),
            }),
            // Setting the same key again moves the one pending.
            Action::SetTimer(TimerRequest {
                key: "follow-up".into(),
                at: follow_up_at(event.occurred_at, follow_up_days(&config)?),
                payload: vars,
            }),
        ])
    }

    fn on_timer(
        _ctx: StoreContext,
        _config: String,
        _customer: Customer,
        timer: Timer,
    ) -> Result<Vec<Action>, PluginError> {
        Ok(vec![Action::SendMessage(Message {
            channel: "email".into(),
            template: "how-was-it".into(),
            vars: timer.payload,
        })])
    }
}

#[cfg(target_arch = "wasm32")]
export!(Plugin);

#[cfg(test)]
mod tests {
    #[test]
    fn asks_days_later() {
        assert_eq!(super::follow_up_at(1_000, 7), 1_000 + 7 * 86_400_000);
        assert_eq!(super::follow_up_at(1_000, -1), 1_000);
    }
}
