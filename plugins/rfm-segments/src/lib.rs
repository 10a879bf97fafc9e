//! `rfm-segments`: quintile RFM scores, the ten classic RFM segments and
//! the customer's lifecycle type, as a `segmenter` component.

pub mod rfm;

wit_bindgen::generate!({
    path: "../../wit/since_v0.2.0",
    world: "segmenter",
});

use clientele::crm::types::{Customer, Fitted, PluginError, Population, StoreContext};
use exports::clientele::crm::segmentation::{Guest, Membership};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct RfmSegments;

impl Guest for RfmSegments {
    fn fit(
        _ctx: StoreContext,
        config: String,
        population: Population,
    ) -> Result<Fitted, PluginError> {
        rfm::Config::parse(&config).map_err(invalid_config)?;
        let rows: Vec<rfm::Row> = population
            .rows
            .iter()
            .filter_map(|r| {
                Some(rfm::Row {
                    orders: r.orders,
                    last_order: r.last_order?,
                    net_spend_cents: r.net_spend_cents,
                })
            })
            .filter(|r| r.orders > 0)
            .collect();
        let model = rfm::fit(&rows, population.as_of);
        Ok(Fitted {
            model: serde_json::to_vec(&model).map_err(|e| failed("model", e.to_string()))?,
            summary: model.summary().to_string(),
        })
    }

    fn classify(
        _ctx: StoreContext,
        config: String,
        model: Vec<u8>,
        customer: Customer,
        as_of: i64,
    ) -> Result<Vec<Membership>, PluginError> {
        let cfg = rfm::Config::parse(&config).map_err(invalid_config)?;
        let model: Option<rfm::Model> = if model.is_empty() {
            None
        } else {
            Some(
                serde_json::from_slice(&model)
                    .map_err(|e| failed("model", format!("unreadable model: {e}")))?,
            )
        };
        let stats = rfm::Stats {
            orders: customer.stats.orders,
            last_order: customer.stats.last_order_at,
            net_spend_cents: customer.stats.net_spend_cents,
        };
        Ok(rfm::classify(&cfg, model.as_ref(), &stats, as_of)
            .into_iter()
            .map(|m| Membership { segment: m.segment, attributes: m.attributes.to_string() })
            .collect())
    }
}

fn failed(code: &str, message: String) -> PluginError {
    PluginError { code: code.into(), message, retryable: false }
}

fn invalid_config(message: String) -> PluginError {
    failed("invalid-config", message)
}

#[cfg(target_arch = "wasm32")]
export!(RfmSegments);
