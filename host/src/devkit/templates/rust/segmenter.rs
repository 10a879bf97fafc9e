//! `{{name}}`: a segmenter. A customer whose net spend reaches
//! `vip_cents` (config) is in `vip`; the fit counts how many are.

wit_bindgen::generate!({
    path: "wit",
    world: "{{world}}",
});

mod error;

use clientele::crm::types::{Customer, Fitted, PluginError, Population, StoreContext};
use exports::clientele::crm::segmentation::{Guest, Membership, Segmented};

fn vip_cents(config: &str) -> Result<i64, PluginError> {
    let config: serde_json::Value =
        serde_json::from_str(config).map_err(|e| format!("the config is not JSON: {e}"))?;
    Ok(config["vip_cents"].as_i64().unwrap_or(30_000))
}

/// Whether a customer with this net spend is a VIP.
pub fn is_vip(net_spend_cents: i64, vip_cents: i64) -> bool {
    net_spend_cents >= vip_cents
}


#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Plugin;

impl Guest for Plugin {
    fn fit(
        _ctx: StoreContext,
        config: String,
        population: Population,
    ) -> Result<Segmented, PluginError> {
        let vip = vip_cents(&config)?;
        let count = population
            .rows
            .iter()
            .filter(|r| is_vip(r.net_spend_cents, vip))
            .count();
        Ok(Segmented {
            fitted: Fitted {
                model: Vec::new(),
                summary: serde_json::json!({"vip_customers": count}).to_string(),
            },
            // `None`: the host classifies every customer with `classify`.
            // A segment that ranks the population can give every row's
            // memberships here instead (one list per row, in order).
            memberships: None,
        })
    }

    fn classify(
        _ctx: StoreContext,
        config: String,
        _model: Vec<u8>,
        customer: Customer,
        _as_of: i64,
    ) -> Result<Vec<Membership>, PluginError> {
        let vip = vip_cents(&config)?;
        if !is_vip(customer.stats.net_spend_cents, vip) {
            return Ok(vec![]);
        }
        Ok(vec![Membership {
            segment: "vip".into(),
            attributes: serde_json::json!({"net_spend_cents": customer.stats.net_spend_cents})
                .to_string(),
        }])
    }
}

#[cfg(target_arch = "wasm32")]
export!(Plugin);

#[cfg(test)]
mod tests {
    #[test]
    fn vip_from_the_threshold_up() {
        assert!(super::is_vip(30_000, 30_000));
        assert!(!super::is_vip(29_999, 30_000));
    }
}
