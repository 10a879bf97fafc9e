//! A minimal `segmenter` component: used to check that a component built
//! for one world is refused when published as another, and (with config
//! `{"fit":"spin"}`) as a fit that computes until its deadline, and (with
//! `{"fit":"remember"}`) as a model that keeps every customer's id.

wit_bindgen::generate!({
    path: "../../../wit/since_v0.1.0",
    world: "segmenter",
});

use clientele::crm::types::{Customer, Fitted, Population};
use exports::clientele::crm::segmentation::{Guest, Membership};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Everyone;

impl Guest for Everyone {
    fn fit(config: String, population: Population) -> Result<Fitted, String> {
        if config.contains("\"spin\"") {
            let mut x: u64 = 1;
            loop {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        let model = if config.contains("\"remember\"") {
            let ids: Vec<&str> = population.rows.iter().map(|r| r.customer_id.as_str()).collect();
            ids.join("\n").into_bytes()
        } else {
            Vec::new()
        };
        Ok(Fitted { model, summary: format!("{{\"customers\":{}}}", population.rows.len()) })
    }

    fn classify(
        _config: String,
        _model: Vec<u8>,
        _customer: Customer,
        _as_of: i64,
    ) -> Result<Vec<Membership>, String> {
        Ok(vec![Membership { segment: "everyone".into(), attributes: "{}".into() }])
    }
}

#[cfg(target_arch = "wasm32")]
export!(Everyone);
