//! A `segmenter` of contract 0.3.0 that reads every import 0.3.0 added and
//! shows what it read: its fit's summary lists each row's `spend-within`
//! (config `window_days`, default 30) and `repeat-day-spend`; each
//! customer's segments say which survey kinds they answered
//! (`answered:<kind>`, from `surveys.latest`) and how many segments they
//! were in before (`was-in:<n>`, from `segments.of`).

wit_bindgen::generate!({
    path: "../../../wit/since_v0.3.0",
    world: "segmenter",
});

use clientele::crm::types::{Customer, Fitted, PluginError, Population, StoreContext};
use clientele::crm::{population, segments, surveys};
use exports::clientele::crm::segmentation::{Guest, Membership};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Reads;

fn window_days(config: &str) -> u32 {
    let key = "\"window_days\":";
    config
        .replace(' ', "")
        .split_once(key)
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .unwrap_or(30)
}

impl Guest for Reads {
    fn fit(
        _ctx: StoreContext,
        config: String,
        population: Population,
    ) -> Result<Fitted, PluginError> {
        let within = population::spend_within(window_days(&config));
        let repeat = population::repeat_day_spend();
        let rows: Vec<String> = population
            .rows
            .iter()
            .zip(within.iter().zip(&repeat))
            .map(|(r, (w, d))| {
                format!("{{\"customer_id\":\"{}\",\"within\":{w},\"repeat\":{d}}}", r.customer_id)
            })
            .collect();
        Ok(Fitted { model: Vec::new(), summary: format!("{{\"rows\":[{}]}}", rows.join(",")) })
    }

    fn classify(
        _ctx: StoreContext,
        _config: String,
        _model: Vec<u8>,
        customer: Customer,
        _as_of: i64,
    ) -> Result<Vec<Membership>, PluginError> {
        let before = segments::of(&customer.id);
        let mut out = vec![Membership {
            segment: format!("was-in:{}", before.len()),
            attributes: "{}".into(),
        }];
        for answer in surveys::latest(&customer.id, &[]) {
            out.push(Membership {
                segment: format!("answered:{}", answer.kind),
                attributes: answer.score,
            });
        }
        Ok(out)
    }
}

#[cfg(target_arch = "wasm32")]
export!(Reads);
