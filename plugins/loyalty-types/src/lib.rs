//! `loyalty-types`: attitude × behaviour loyalty types, as a `segmenter`
//! component of contract 0.3.0 (capability `surveys`). The type needs no
//! model: `classify` reads the customer's latest scored answers
//! (`surveys.latest`) and recent orders (`customers.orders`), on each of
//! their events and for everyone after each fit.

pub mod loyalty;

wit_bindgen::generate!({
    path: "../../wit/since_v0.3.0",
    world: "segmenter",
});

use clientele::crm::types::{Customer, Fitted, PluginError, Population, StoreContext};
use clientele::crm::{customers, surveys};
use exports::clientele::crm::segmentation::{Guest, Membership};

/// The most orders `customers.orders` answers; a window with more orders
/// than this counts this many, which is repeat patronage under any
/// allowed `repeat_orders`.
const ORDERS_READ: u32 = 100;

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct LoyaltyTypes;

impl Guest for LoyaltyTypes {
    fn fit(
        _ctx: StoreContext,
        config: String,
        population: Population,
    ) -> Result<Fitted, PluginError> {
        let cfg = loyalty::Config::parse(&config).map_err(invalid_config)?;
        let summary = serde_json::json!({
            "customers": population.rows.len(),
            "window_days": cfg.window_days,
            "repeat_orders": cfg.repeat_orders,
            "kinds": cfg.kinds(),
        });
        Ok(Fitted { model: Vec::new(), summary: summary.to_string() })
    }

    fn classify(
        _ctx: StoreContext,
        config: String,
        _model: Vec<u8>,
        customer: Customer,
        as_of: i64,
    ) -> Result<Vec<Membership>, PluginError> {
        let cfg = loyalty::Config::parse(&config).map_err(invalid_config)?;
        let placed: Vec<i64> =
            customers::orders(&customer.id, ORDERS_READ).iter().map(|o| o.placed_at).collect();
        let in_window = loyalty::orders_in_window(&cfg, &placed, as_of);
        let latest: Vec<loyalty::Answer> = surveys::latest(&customer.id, &cfg.kinds())
            .into_iter()
            .filter(|a| a.submitted_at <= as_of)
            .map(|a| loyalty::Answer {
                survey_id: a.survey_id,
                kind: a.kind,
                submitted_at: a.submitted_at,
                answers: serde_json::from_str(&a.answers).unwrap_or_default(),
            })
            .collect();
        let (segment, attributes) = loyalty::loyalty_type(&cfg, &latest, in_window);
        Ok(vec![Membership { segment, attributes: attributes.to_string() }])
    }
}

fn invalid_config(message: String) -> PluginError {
    PluginError { code: "invalid-config".into(), message, retryable: false }
}

#[cfg(target_arch = "wasm32")]
export!(LoyaltyTypes);
