//! `{{name}}`: a point-rules plugin. An order earns one point per
//! `cents_per_point` cents (config, default 100); other events earn none.

wit_bindgen::generate!({
    path: "wit",
    world: "{{world}}",
});

mod error;

use clientele::crm::types::{Customer, Event, EventKind, PluginError, StoreContext};
use exports::clientele::crm::loyalty::{Earn, Guest, LedgerOp};

/// Points for an order: whole points only, rounded down.
pub fn points_for(total_cents: i64, cents_per_point: i64) -> i64 {
    total_cents.max(0) / cents_per_point.max(1)
}

fn cents_per_point(config: &str) -> Result<i64, PluginError> {
    let config: serde_json::Value =
        serde_json::from_str(config).map_err(|e| format!("the config is not JSON: {e}"))?;
    Ok(config["cents_per_point"].as_i64().unwrap_or(100))
}


#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Plugin;

impl Guest for Plugin {
    fn on_event(
        _ctx: StoreContext,
        config: String,
        _customer: Customer,
        event: Event,
    ) -> Result<Vec<LedgerOp>, PluginError> {
        let EventKind::OrderPlaced(order) = event.kind else {
            return Ok(vec![]);
        };
        let points = points_for(order.total_cents, cents_per_point(&config)?);
        // The host refuses an earn of 0 points as invalid output: an order
        // too small to earn a point earns nothing.
        if points == 0 {
            return Ok(vec![]);
        }
        Ok(vec![LedgerOp::Earn(Earn {
            points,
            reason: format!("order {}", order.order_id),
            expires_at: None,
        })])
    }
}

#[cfg(target_arch = "wasm32")]
export!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_per_hundred_cents_rounded_down() {
        assert_eq!(points_for(12_900, 100), 129);
        assert_eq!(points_for(99, 100), 0);
        assert_eq!(cents_per_point("{}").unwrap(), 100);
        assert_eq!(cents_per_point(r#"{"cents_per_point": 50}"#).unwrap(), 50);
    }
}
